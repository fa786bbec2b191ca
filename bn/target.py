"""The question a reasoning tool is asked about: one state of one variable.

A target is written ``VAR=STATE``, ``VAR`` (its on-state, :attr:`bn.model.Variable.on_state`), or a knee-pain source key
(``l4l5_spine``, ``knee``, ``hip``, ``other``). Without one, networks with knee-pain sources ask about
``l4l5_spine`` and other networks about their first diagnosis.

>>> import bn
>>> net = bn.load("l4l5_knee")
>>> resolve_target(net.network, "l4l5_spine")
Target(variable='knee_pain_from_l4l5', state='present')
>>> resolve_target(net.network, "straight_leg_raise")
Target(variable='straight_leg_raise', state='positive')
"""

from __future__ import annotations

from dataclasses import dataclass

from bn.errors import EvidenceError
from bn.evidence import lookup_variable
from bn.model import Network


@dataclass(frozen=True)
class Target:
    variable: str
    state: str

    def label(self, network: Network) -> str:
        v = network[self.variable]
        for key, var in network.knee_pain_sources.items():
            if var == self.variable and self.state == v.on_state:
                return SOURCE_LABELS.get(key, key)
        if len(v.states) == 2 and self.state == v.on_state:
            return v.display_label
        return f"{v.display_label} = {v.state_label(self.state)}"

    def to_dict(self) -> dict[str, str]:
        return {"variable": self.variable, "state": self.state}


# Short enough for a metric's label in the app (a metric cuts what does not fit its column).
SOURCE_SHORT = {"l4l5_spine": "L4-L5 spine", "other_lumbar_level": "L3-4/L5-S1 spine", "knee": "Knee",
                "hip": "Hip", "other": "Other causes"}
SOURCE_LABELS = {"l4l5_spine": "knee pain from the L4-L5 spine",
                 "other_lumbar_level": "knee pain from another lumbar level", "knee": "knee pain from the knee",
                 "hip": "knee pain from the hip", "other": "knee pain from other causes"}


def resolve_target(network: Network, text: str | None = None) -> Target:
    """Parse a target; raises EvidenceError with the valid choices when it names nothing."""
    if text is None or not str(text).strip():
        if "l4l5_spine" in network.knee_pain_sources:
            return resolve_target(network, "l4l5_spine")
        diagnoses = network.by_role("diagnosis")
        if not diagnoses:
            raise EvidenceError(f"network {network.id} has no diagnoses; choose a target with --target VAR=STATE")
        return resolve_target(network, diagnoses[0])
    text = str(text).strip()
    if text in network.knee_pain_sources:
        var = network.knee_pain_sources[text]
        return Target(var, network[var].on_state)
    name, sep, state = text.partition("=")
    if name not in network and not sep and network.knee_pain_sources:
        sources = ", ".join(network.knee_pain_sources)
        try:
            lookup_variable(network, name)
        except EvidenceError as exc:
            raise EvidenceError(f"{exc} (or a knee-pain source: {sources})") from None
    v = lookup_variable(network, name.strip())
    if not sep:
        return Target(v.id, v.on_state)
    state = state.strip()
    if state not in v.state_ids:
        raise EvidenceError(f"'{state}' is not a state of {v.id}; valid states: {', '.join(v.state_ids)}")
    return Target(v.id, state)

"""Which finding to look for next: value of information.

Every unobserved finding is ranked by what observing it is expected to tell about the target:

- ``mi``: mutual information ``I(T; F | e)`` in bits, the expected reduction of the entropy of the target
  variable ``T`` (or of the joint of all diagnoses with ``target="diagnoses"``);
- ``change``: the expected absolute change of ``P(target state)`` (GeNIe's measure), summed over the
  diagnoses for ``target="diagnoses"``.

With costs (from the network file's ``cost`` of each finding, overridable), the score is GeNIe's
``value = information - cost_weight * cost``.

>>> import bn
>>> net = bn.load("l4l5_knee")
>>> ranking = next_best(net, {"knee_pain": "present"}, target="disc_herniation", top=3)
>>> len(ranking.ranking), ranking.measure
(3, 'mi')
>>> round(sum(o.probability for o in ranking.ranking[0].outcomes.values()), 12)
1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bn.errors import EvidenceError
from bn.evidence import Evidence
from bn.inference import BayesNet
from bn.model import NetworkInfo
from bn.target import Target, resolve_target

MEASURES = ("mi", "change")
DIAGNOSES = "diagnoses"


@dataclass(frozen=True)
class Outcome:
    probability: float
    target_posterior: float | dict[str, float] | None  # None when the outcome is impossible

    def to_dict(self) -> dict[str, Any]:
        return {"probability": self.probability, "target_posterior": self.target_posterior}


@dataclass(frozen=True)
class Candidate:
    finding: str
    label: str
    group: str | None
    information: float
    cost: float
    score: float
    outcomes: dict[str, Outcome]
    state_labels: dict[str, str] = field(default_factory=dict, repr=False)  # what a reader sees per state

    def to_dict(self) -> dict[str, Any]:
        return {"finding": self.finding, "label": self.label, "group": self.group, "score": self.score,
                "information": self.information, "cost": self.cost,
                "outcomes": {s: o.to_dict() for s, o in self.outcomes.items()}}

    def summary(self) -> str:
        """E.g. ``Straight leg raise: positive (p=0.38) -> 61%; negative (p=0.62) -> 9%``."""
        parts = []
        for state, o in sorted(self.outcomes.items(), key=lambda kv: -kv[1].probability):
            name = self.state_labels.get(state, state)
            if isinstance(o.target_posterior, float):
                parts.append(f"{name} (p={o.probability:.2f}) -> {o.target_posterior:.0%}")
            else:
                parts.append(f"{name} (p={o.probability:.2f})")
        return f"{self.label}: " + "; ".join(parts)


@dataclass(frozen=True)
class Ranking:
    network: NetworkInfo
    target: Target | str
    target_label: str
    current: float | dict[str, float]
    measure: str
    cost_weight: float
    ranking: list[Candidate]

    def to_dict(self) -> dict[str, Any]:
        target = self.target.to_dict() if isinstance(self.target, Target) else self.target
        return {"network": self.network.to_dict(), "target": target, "target_label": self.target_label,
                "current": self.current, "measure": self.measure, "cost_weight": self.cost_weight,
                "ranking": [c.to_dict() for c in self.ranking]}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in c.to_dict().items() if k != "outcomes"} for c in self.ranking])


def default_candidates(net: BayesNet, ev: Evidence, exclude: Sequence[str] = ()) -> list[str]:
    """Unobserved findings and risk factors (every unobserved variable for networks without roles)."""
    network = net.network
    observed = set(ev.variables) | set(exclude)
    pool = network.by_role("risk_factor", "finding") if network.has_roles else list(network.variables)
    return [v for v in pool if v not in observed]


def next_best(net: BayesNet, findings: Mapping[str, str] | Evidence | None = None,
              *, target: str | Target | None = None, measure: str = "mi", cost_weight: float = 0.0,
              costs: Mapping[str, float] | None = None, candidates: Sequence[str] | None = None,
              top: int | None = None, soft=None) -> Ranking:
    """Rank unobserved findings by expected information about ``target`` (see the module docstring)."""
    if measure not in MEASURES:
        raise EvidenceError(f"unknown measure '{measure}'; choose from {', '.join(MEASURES)}")
    if cost_weight < 0:
        raise EvidenceError("the cost weight must be >= 0")
    network = net.network
    ev = net.evidence(findings, soft=soft)
    if target == DIAGNOSES:
        outputs = [v for v in net.default_map_variables() if v not in ev.variables]
        if not outputs:
            raise EvidenceError("every diagnosis is observed; nothing left to learn about")
        tgt: Target | str = DIAGNOSES
        label = "the diagnoses"
        current: float | dict[str, float] = {v: net.posterior(v, findings=ev)[network[v].on_state] for v in outputs}
    else:
        tgt = target if isinstance(target, Target) else resolve_target(network, target)
        outputs = [tgt.variable]
        label = tgt.label(network)
        current = net.posterior(tgt.variable, findings=ev)[tgt.state]
    for name, value in (costs or {}).items():
        if name not in network:
            raise EvidenceError(f"cost given for unknown variable '{name}'")
        if value < 0:
            raise EvidenceError(f"cost of {name} must be >= 0")
    exclude = outputs if tgt != DIAGNOSES else ()
    pool = list(candidates) if candidates is not None else default_candidates(net, ev, exclude)
    for c in pool:
        if c not in network:
            raise EvidenceError(f"unknown candidate finding '{c}'")
        if c in ev.variables:
            raise EvidenceError(f"{c} is already observed")
        if c in outputs:
            raise EvidenceError(f"{c} is the target itself")
    if isinstance(tgt, Target):
        # All candidates' outcomes in one vectorised pass; the joint P(T, F | e) is P(f | e) P(T | e, f).
        outcomes = net.outcome_posteriors(tgt.variable, candidates=pool, findings=ev) if pool else {}
        card = network[tgt.variable].card
        joints = {}
        for c in pool:
            states = network[c].state_ids
            joint = np.zeros((card, len(states)))
            for j, s in enumerate(states):
                o = outcomes[c][s]
                if o.posterior is not None:
                    joint[:, j] = o.probability * np.array(
                        [o.posterior[tgt.variable][t] for t in network[tgt.variable].state_ids])
            joints[c] = joint
    else:
        joints = {c: net.joint([*outputs, c], findings=ev) for c in pool}  # P(diagnoses..., F | e), F last
    ranked = [_candidate(net, tgt, outputs, c, joints[c], measure, cost_weight, costs or {}) for c in pool]
    ranked.sort(key=lambda c: (-c.score, c.finding))
    return Ranking(net.info, tgt, label, current, measure, cost_weight,
                   ranked[:top] if top else ranked)


def _candidate(net: BayesNet, tgt, outputs: list[str], finding: str, joint: np.ndarray, measure: str,
               cost_weight: float, costs: Mapping[str, float]) -> Candidate:
    """Score one candidate from the normalised joint ``P(T..., F | e)`` (F on the last axis)."""
    network = net.network
    p_f = joint.reshape(-1, joint.shape[-1]).sum(axis=0)
    p_t = joint.sum(axis=-1)
    states = network[finding].state_ids
    outcomes = {}
    per_state_targets = []
    for j, state in enumerate(states):
        if p_f[j] <= 0.0:
            outcomes[state] = Outcome(0.0, None)
            per_state_targets.append(None)
            continue
        cond = joint[..., j] / p_f[j]
        per_state_targets.append(cond)
        if isinstance(tgt, Target):
            value: float | dict[str, float] = float(cond[network[tgt.variable].state_index(tgt.state)])
        else:
            value = {v: float(_marginal(cond, i)[-1]) for i, v in enumerate(outputs)}
        outcomes[state] = Outcome(float(p_f[j]), value)
    if measure == "mi":
        information = _mutual_information(joint)
    else:
        information = 0.0
        for j, cond in enumerate(per_state_targets):
            if cond is None:
                continue
            if isinstance(tgt, Target):
                k = network[tgt.variable].state_index(tgt.state)
                information += p_f[j] * abs(cond[k] - p_t[k])
            else:
                information += p_f[j] * sum(abs(_marginal(cond, i)[-1] - _marginal(p_t, i)[-1])
                                            for i in range(len(outputs)))
    cost = float(costs.get(finding, network[finding].cost or 0.0))
    return Candidate(finding, network[finding].display_label, network[finding].group, float(information), cost,
                     float(information) - cost_weight * cost, outcomes,
                     {s.id: s.display_label.lower() for s in network[finding].states})


def _marginal(table: np.ndarray, axis: int) -> np.ndarray:
    return table.sum(axis=tuple(a for a in range(table.ndim) if a != axis))


def _mutual_information(joint: np.ndarray) -> float:
    """I(T; F) in bits from the normalised joint table P(T..., F)."""
    flat = joint.reshape(-1, joint.shape[-1])
    p_t = flat.sum(axis=1, keepdims=True)
    p_f = flat.sum(axis=0, keepdims=True)
    mask = flat > 0
    return float(np.sum(flat[mask] * np.log2(flat[mask] / (p_t @ p_f)[mask])))

"""What would change the conclusion: every single-parameter change that achieves a constraint, solved
exactly (SamIam's parameter query)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bn.inference import BayesNet, Findings
from bn.model import Network, NetworkInfo
from bn.sensitivity.base import FLIP_NUDGE, SensitivityError
from bn.sensitivity.functions import _Coefficients, _group, _Linear, _prepare, _progress
from bn.sensitivity.oneway import _finite
from bn.sensitivity.tables import SensitivityParameter, find_parameters, logit, parameters
from bn.target import SOURCE_SHORT, Target, resolve_target


@dataclass(frozen=True)
class _Form:
    """``sum_i w_i P(event_i | e) - delta >= 0`` (``> 0`` when strict); ``outcome`` names what it means."""

    weights: tuple[tuple[Target, float], ...]
    delta: float
    strict: bool = False
    outcome: str = ""

    def line(self, pe: _Linear, events: Mapping[Target, _Linear]) -> tuple[float, float]:
        """``(alpha, beta)`` with ``P(e)(t) * (constraint's left side)(t) = alpha t + beta`` (sign-exact)."""
        alpha = sum(w * events[t].a for t, w in self.weights) - self.delta * pe.a
        beta = sum(w * events[t].b for t, w in self.weights) - self.delta * pe.b
        return alpha, beta

    def satisfied(self, probabilities: Mapping[Target, float]) -> bool:
        g = sum(w * probabilities[t] for t, w in self.weights) - self.delta
        return g > 0.0 if self.strict else g >= 0.0


@dataclass(frozen=True)
class Threshold:
    """``P(target | e) >= p`` (or ``<= p`` with ``above=False``)."""

    target: Target
    p: float
    above: bool = True

    @property
    def events(self) -> list[Target]:
        return [self.target]

    def forms(self, probabilities: Mapping[Target, float]) -> list[_Form]:
        sign = 1.0 if self.above else -1.0
        return [_Form(((self.target, sign),), sign * self.p)]

    def describe(self, network: Network | None = None) -> str:
        """The constraint as text; with ``network``, in its labels (for people), else in ids."""
        return f"P({_described(self.target, network)} | e) {'>=' if self.above else '<='} {self.p:g}"


@dataclass(frozen=True)
class Difference:
    """``P(a | e) - P(b | e) >= delta``."""

    a: Target
    b: Target
    delta: float = 0.0

    @property
    def events(self) -> list[Target]:
        return [self.a, self.b]

    def forms(self, probabilities: Mapping[Target, float]) -> list[_Form]:
        return [_Form(((self.a, 1.0), (self.b, -1.0)), self.delta)]

    def describe(self, network: Network | None = None) -> str:
        """The constraint as text; with ``network``, in its labels (for people), else in ids."""
        return f"P({_described(self.a, network)} | e) - P({_described(self.b, network)} | e) >= {self.delta:g}"


@dataclass(frozen=True)
class LeaderChanges:
    """The leading candidate (by default the knee-pain source with the highest probability) changes."""

    candidates: tuple[tuple[str, Target], ...]

    @property
    def events(self) -> list[Target]:
        return [t for _, t in self.candidates]

    def leader(self, probabilities: Mapping[Target, float]) -> str:
        return max(self.candidates, key=lambda c: probabilities[c[1]])[0]

    def forms(self, probabilities: Mapping[Target, float]) -> list[_Form]:
        now = self.leader(probabilities)
        lead = dict(self.candidates)[now]
        return [_Form(((t, 1.0), (lead, -1.0)), 0.0, strict=True, outcome=name)
                for name, t in self.candidates if name != now]

    def describe(self, network: Network | None = None) -> str:
        """The constraint as text; with ``network``, in its labels (for people), else in ids."""
        names = [SOURCE_SHORT.get(name, name) if network is not None else name for name, _ in self.candidates]
        return "the leading one of " + ", ".join(names) + " changes"


def _described(target: Target, network: Network | None) -> str:
    return target.label(network) if network is not None else _name(target)


Constraint = Threshold | Difference | LeaderChanges


def leader_changes(network: Network) -> LeaderChanges:
    """The constraint "the leading knee-pain source changes" (needs a network with knee-pain sources)."""
    if not network.knee_pain_sources:
        raise SensitivityError(f"network {network.id} has no knee-pain sources; give a constraint such as "
                               "'VAR=STATE>=0.5'")
    return LeaderChanges(tuple((k, Target(v, network[v].on_state)) for k, v in network.knee_pain_sources.items()))


_CONSTRAINT = re.compile(r"^\s*(?P<lhs>.+?)\s*(?P<op>>=|<=|>|<)\s*(?P<value>[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*$")


def parse_constraint(network: Network, text: str) -> Constraint:
    """A constraint from text.

    ``leader`` (the leading knee-pain source changes), ``TARGET >= p`` / ``TARGET <= p`` or
    ``A - B >= delta``, where a target is ``VAR=STATE``, ``VAR`` or a knee-pain source key, optionally
    written ``P(...)``.

    >>> import bn
    >>> n = bn.load("l4l5_knee@1.0.0").network
    >>> parse_constraint(n, "P(disc_herniation) >= 0.5").describe()
    'P(disc_herniation=present | e) >= 0.5'
    >>> parse_constraint(n, "knee - l4l5_spine >= 0.1").describe()
    'P(knee_pain_from_knee=present | e) - P(knee_pain_from_l4l5=present | e) >= 0.1'
    """
    if text.strip().lower() in ("leader", "leading", "leading-source", "leading_source", "source"):
        return leader_changes(network)
    m = _CONSTRAINT.match(text)
    if not m:
        raise SensitivityError(f"cannot read the constraint '{text}'; write e.g. 'disc_herniation>=0.5', "
                               "'P(knee) - P(l4l5_spine) >= 0.1' or 'leader'")
    lhs = re.sub(r"P\(\s*([^()|]+?)\s*(\|\s*e\s*)?\)", r"\1", m["lhs"]).strip()
    value, op = float(m["value"]), m["op"]
    if "-" in lhs:
        left, _, right = lhs.partition("-")
        a, b = resolve_target(network, left.strip()), resolve_target(network, right.strip())
        return Difference(a, b, value) if op.startswith(">") else Difference(b, a, -value)
    if not 0.0 <= value <= 1.0:
        raise SensitivityError(f"a probability threshold must lie in [0, 1]; got {value:g} in '{text}'")
    return Threshold(resolve_target(network, lhs), value, above=op.startswith(">"))


@dataclass(frozen=True)
class FlipChange:
    """One single-parameter change that achieves the constraint."""

    parameter: SensitivityParameter
    direction: str  # "increase" | "decrease"
    boundary: float  # the exact value where the constraint starts to hold
    new_value: float  # the boundary moved FLIP_NUDGE into the region where it holds
    within_range: bool
    outcome: str  # for LeaderChanges: the new leader
    probabilities: dict[str, float]  # the constraint's probabilities with the new value

    @property
    def change(self) -> float:
        return self.new_value - self.parameter.value

    @property
    def log_odds_change(self) -> float:
        return logit(self.new_value) - logit(self.parameter.value)

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter.id, "label": self.parameter.label, "value": self.parameter.value,
                "direction": self.direction, "new_value": self.new_value, "boundary": self.boundary,
                "change": self.change, "log_odds_change": _finite(self.log_odds_change),
                "range": list(self.parameter.range), "range_from": self.parameter.range_from,
                "within_range": self.within_range, "outcome": self.outcome, "probabilities": self.probabilities,
                "source": self.parameter.citation}


@dataclass(frozen=True)
class FlipResult:
    """Every single-parameter change that achieves a constraint, smallest change in log-odds first."""

    network: NetworkInfo
    evidence: dict[str, Any]
    constraint: str
    holds_now: bool
    current: dict[str, float]  # the constraint's probabilities now
    leader_now: str | None
    changes: list[FlipChange]
    parameters_checked: int
    constraint_label: str = ""  # the constraint in the network's labels (``constraint`` is in ids)

    @property
    def within_range(self) -> list[FlipChange]:
        return [c for c in self.changes if c.within_range]

    @property
    def headline(self) -> str:
        """The one-sentence answer; "no single parameter within its range can ..." is itself a result."""
        said = self.constraint_label or self.constraint
        if self.holds_now:
            return f"The constraint already holds ({said}); no change is needed."
        inside = self.within_range
        if not self.changes:
            return (f"No single-parameter change of any size achieves it ({said}; "
                    f"{self.parameters_checked} parameters checked).")
        best = (inside or self.changes)[0]
        how = (f"smallest: {best.parameter.label or best.parameter.id} {best.parameter.value:g} -> "
               f"{best.new_value:.4g}" + (f" (new leader {SOURCE_SHORT.get(best.outcome, best.outcome)})"
                                          if best.outcome else ""))
        if not inside:
            return (f"No single parameter within its plausible range can achieve it ({said}); "
                    f"{len(self.changes)} change{'s' if len(self.changes) != 1 else ''} outside the ranges "
                    f"would; {how}.")
        return (f"{len(inside)} single-parameter change{'s' if len(inside) != 1 else ''} within the plausible "
                f"ranges achieve{'s' if len(inside) == 1 else ''} it ({said}); {how}.")

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "evidence": self.evidence, "constraint": self.constraint,
                "constraint_label": self.constraint_label,
                "holds_now": self.holds_now, "current": self.current, "leader_now": self.leader_now,
                "headline": self.headline, "parameters_checked": self.parameters_checked,
                "changes": [c.to_dict() for c in self.changes]}

    def to_frame(self):
        """One row per change (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in c.to_dict().items() if k not in ("probabilities", "range")}
                             | {"range_low": c.parameter.range[0], "range_high": c.parameter.range[1]}
                             for c in self.changes])


def _name(t: Target) -> str:
    return f"{t.variable}={t.state}"


def flip(net: BayesNet, findings: Findings = None, *, constraint: Constraint | str | None = None,
         only: Iterable[str] | None = None, progress: bool = False, soft=None) -> FlipResult:
    """Every single-parameter change that makes ``constraint`` hold (SamIam's sensitivity query).

    ``constraint`` defaults to "the leading knee-pain source changes". Solved exactly from the sensitivity
    functions: each constraint is one or more linear inequalities in the parameter.

    >>> import bn
    >>> r = flip(bn.load("l4l5_knee@1.0.0"), {"knee_pain": "present"}, constraint="disc_herniation >= 0.5")
    >>> r.holds_now, all(c.new_value != c.parameter.value for c in r.changes)
    (False, True)
    """
    network = net.network
    if constraint is None:
        constraint = leader_changes(network)
    elif isinstance(constraint, str):
        constraint = parse_constraint(network, constraint)
    ev, events = _prepare(net, findings, constraint.events, soft)
    coefficients = _Coefficients(net, ev, events)
    now = {t: coefficients.posterior(t) for t in events}
    forms = constraint.forms(now)
    holds_now = any(f.satisfied(now) for f in forms)
    leader_now = constraint.leader(now) if isinstance(constraint, LeaderChanges) else None
    names = {t: name for name, t in constraint.candidates} if isinstance(constraint, LeaderChanges) else {}
    params = find_parameters(network, only) if only is not None else parameters(network)
    if isinstance(constraint, LeaderChanges):
        def achieved(probs: dict) -> bool:
            return constraint.leader(probs) != leader_now
    else:
        def achieved(probs: dict) -> bool:
            return any(f.satisfied(probs) for f in forms)
    changes: list[FlipChange] = []
    if not holds_now:
        groups = _group(params)
        for variable, group in _progress(groups.items(), len(groups), "what would change it", progress):
            lines = coefficients.for_variable(variable, group)
            for p in group:
                pe, per_event = lines[p.id]
                changes += _solve(p, pe, dict(zip(coefficients.events, per_event)), forms, constraint, names,
                                  achieved)
    changes.sort(key=lambda c: (abs(c.log_odds_change), abs(c.change), c.parameter.id))
    current = {names.get(t, _name(t)): v for t, v in now.items()}
    return FlipResult(network.info, ev.to_dict(), constraint.describe(), holds_now, current, leader_now,
                      changes, len(params), constraint.describe(network))


def _solve(p: SensitivityParameter, pe: _Linear, events: dict[Target, _Linear], forms: list[_Form],
           constraint: Constraint, names: dict[Target, str], achieved: Callable[[dict], bool]) -> list[FlipChange]:
    t0 = p.value
    best: dict[str, tuple[float, _Form]] = {}  # direction -> (nearest boundary, form)
    for form in forms:
        alpha, beta = form.line(pe, events)
        if alpha == 0.0:
            continue  # this parameter cannot move this side of the constraint
        tb = -beta / alpha
        if alpha > 0.0 and t0 < tb <= 1.0 and ("increase" not in best or tb < best["increase"][0]):
            best["increase"] = (tb, form)
        elif alpha < 0.0 and 0.0 <= tb < t0 and ("decrease" not in best or tb > best["decrease"][0]):
            best["decrease"] = (tb, form)
    out = []
    for direction, (tb, form) in best.items():
        # Move just past the boundary so that applying the value does change the conclusion.
        new = min(tb + FLIP_NUDGE, 1.0) if direction == "increase" else max(tb - FLIP_NUDGE, 0.0)
        if not pe(new) > 0.0:
            continue  # the findings would become impossible: no posterior to speak of
        after = {t: line(new) / pe(new) for t, line in events.items()}
        if not achieved(after):
            continue  # rounding at a boundary that touches 0 or 1: no change achieves it
        outcome = constraint.leader(after) if isinstance(constraint, LeaderChanges) else form.outcome
        lo, hi = p.range
        out.append(FlipChange(p, direction, tb, new, lo - 1e-12 <= new <= hi + 1e-12, outcome,
                              {names.get(t, _name(t)): v for t, v in after.items()}))
    return out

"""Why the answer is what it is: the weight of each finding and whether the findings fit together.

For a target hypothesis ``h`` (a state of a variable) and findings ``e = e_1..e_n``:

- the **weight of evidence** of ``e_i`` given the other findings is the log likelihood ratio
  ``log10 P(e_i | h, e_-i) / P(e_i | not h, e_-i)``, reported in decibans (dB, ten times log10); by Bayes it
  equals the change in log posterior odds when ``e_i`` is retracted, which is how it is computed;
- the **retraction table** gives ``P(h | e_-i)``, the posterior if that finding alone were withdrawn
  (SamIam's retraction, Hugin's fast retract);
- the **conflict** of the case is Jensen's ``conf(e) = log2 (prod_i P(e_i)) / P(e)`` (bits): positive values
  mean the findings are less likely together than apart, a sign of a data-entry error or a rare
  presentation. The drivers are the findings whose retraction lowers the conflict most.

>>> import bn
>>> net = bn.load("l4l5_knee")
>>> ex = explain(net, {"knee_pain": "present", "straight_leg_raise": "positive"}, target="disc_herniation")
>>> [f.finding for f in ex.findings]
['knee_pain', 'straight_leg_raise']
>>> ex.findings[1].weight_db > 0
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bn.evidence import Evidence
from bn.inference import BayesNet
from bn.model import NetworkInfo
from bn.present import percent
from bn.target import Target, resolve_target


@dataclass(frozen=True)
class FindingWeight:
    finding: str
    state: str | None  # None for a soft finding
    likelihood: dict[str, float] | None  # the soft finding's likelihoods
    weight_db: float | None  # None when the finding is decisive (the posterior without it is 0 or 1)
    posterior_without: float
    posterior_with: float
    sentence: str

    @property
    def direction(self) -> str:
        if self.weight_db is None:
            return "towards" if self.posterior_with > self.posterior_without else "away"
        return "towards" if self.weight_db > 0 else "away" if self.weight_db < 0 else "neutral"

    def to_dict(self) -> dict[str, Any]:
        return {"finding": self.finding, "state": self.state, "likelihood": self.likelihood,
                "weight_db": self.weight_db, "direction": self.direction,
                "posterior_without": self.posterior_without, "posterior_with": self.posterior_with,
                "sentence": self.sentence}


@dataclass(frozen=True)
class Conflict:
    score: float  # bits; > 0 means the findings are less likely together than apart
    flagged: bool
    drivers: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "flagged": self.flagged, "drivers": list(self.drivers)}


@dataclass(frozen=True)
class Explanation:
    network: NetworkInfo
    target: Target
    target_label: str
    prior: float
    posterior: float
    findings: list[FindingWeight]
    conflict: Conflict

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "target": self.target.to_dict(), "target_label": self.target_label,
                "prior": self.prior, "posterior": self.posterior,
                "findings": [f.to_dict() for f in self.findings], "conflict": self.conflict.to_dict()}

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([f.to_dict() for f in self.findings])


def _odds_db(p: float) -> float | None:
    if p <= 0.0 or p >= 1.0:
        return None
    return 10.0 * math.log10(p / (1.0 - p))


def explain(net: BayesNet, findings: Mapping[str, str] | Evidence | None = None,
            *, target: str | Target | None = None, soft=None, conflict_threshold: float = 0.0) -> Explanation:
    """Weight of evidence, retraction posterior and a sentence for each finding, and the case's conflict."""
    network = net.network
    ev = net.evidence(findings, soft=soft)
    tgt = target if isinstance(target, Target) else resolve_target(network, target)
    label = tgt.label(network)
    prior = net.priors([tgt.variable])[tgt.variable][tgt.state]
    names = ev.variables
    # One batched pass answers every question: the case itself, the case without each finding (the
    # retraction), and each finding alone (for the conflict measure).
    cases = [ev, *(_without(ev, var) for var in names), *(_only(ev, var) for var in names)]
    batch = net.batch_marginals(cases, variables=[tgt.variable])
    k = network[tgt.variable].state_index(tgt.state)
    post = batch.marginals[tgt.variable][:, k]
    log2 = batch.log_probability_of_evidence / math.log(2)
    if log2[0] == -math.inf:
        net._raise_impossible(ev)
    n = len(names)
    posterior = float(post[0])
    weights = []
    conflict_without: dict[str, float] = {}
    singles = {var: float(log2[1 + n + i]) for i, var in enumerate(names)}
    for i, var in enumerate(names):
        without = float(post[1 + i])
        a, b = _odds_db(posterior), _odds_db(without)
        weight = a - b if a is not None and b is not None else None
        state = ev.findings.get(var)
        weights.append(FindingWeight(
            finding=var, state=state, likelihood=dict(ev.soft_findings[var]) if state is None else None,
            weight_db=weight, posterior_without=without, posterior_with=posterior,
            sentence=_sentence(network, var, state, label, without, posterior, weight)))
        conflict_without[var] = sum(s for key, s in singles.items() if key != var) - float(log2[1 + i])
    score = sum(singles.values()) - float(log2[0]) if n else 0.0
    flagged = score > conflict_threshold
    # Drivers: the findings whose retraction lowers the conflict most.
    drivers = sorted((v for v in names if conflict_without[v] < score - 1e-12), key=conflict_without.get)
    conflict = Conflict(score=score, flagged=flagged, drivers=drivers[:3] if flagged else [])
    return Explanation(net.info, tgt, label, prior, posterior, weights, conflict)


def _only(ev: Evidence, var: str) -> Evidence:
    return Evidence({k: v for k, v in ev.findings.items() if k == var},
                    {k: v for k, v in ev.soft_findings.items() if k == var})


def _without(ev: Evidence, var: str) -> Evidence:
    return Evidence({k: v for k, v in ev.findings.items() if k != var},
                    {k: v for k, v in ev.soft_findings.items() if k != var})


def _sentence(network, var: str, state: str | None, target_label: str, without: float, with_: float,
              weight: float | None) -> str:
    v = network[var]
    if state is None:
        what = f"{v.display_label} (uncertain)"
    elif len(v.states) == 2:
        what = f"{v.display_label} {v.state_label(state).lower()}"
    else:
        what = f"{v.display_label} = {v.state_label(state)}"
    if weight is None:
        effect = "settles" if abs(with_ - without) > 1e-12 else "leaves"
        return f"{what}: {effect} {target_label} at {percent(with_)} (from {percent(without)}; decisive)"
    if abs(weight) < 0.05:
        return f"{what}: leaves {target_label} at {percent(with_)} (weight {weight:+.1f} dB)"
    verb = "raises" if weight > 0 else "lowers"
    return f"{what}: {verb} {target_label} from {percent(without)} to {percent(with_)} (weight {weight:+.1f} dB)"


__all__ = ["Conflict", "Explanation", "FindingWeight", "explain"]

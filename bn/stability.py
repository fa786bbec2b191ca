"""How stable is the call?

- The **most probable explanation** (the jointly most likely set of diagnoses) beside the per-diagnosis
  marginals, with a note for every diagnosis where the two disagree (present in the joint explanation but
  below 50% on its own, or the reverse).
- The **same-decision probability** (SDP; Darwiche & Choi): the probability that observing a set of still
  unobserved findings ``U`` (default: every unobserved history and examination finding) would leave the
  decision unchanged, ``SDP = sum_u P(u | e) [decision(e, u) = decision(e)]``. The decision is the leading
  knee-pain source (or, with a threshold, whether ``P(target | e) >= threshold``).

  Exact when ``U`` has at most ``EXACT_LIMIT`` joint configurations: one contraction gives
  ``P(U, decision variables | e)``. Otherwise a seeded Monte Carlo estimate: ``u`` is drawn from
  ``P(U | e)`` (exactly, from the compiled engine's calibrated junction tree; by likelihood-weighted forward
  sampling with the other engines: :func:`bn.sampling.posterior_sample`), each distinct ``u`` is decided
  exactly, and the standard error is ``sqrt(p (1 - p) / ESS)`` with the effective sample size
  ``ESS = (sum w)^2 / sum w^2`` (the number of samples when they are exact).

>>> import bn
>>> net = bn.load("l4l5_knee")
>>> sdp = same_decision_probability(net, {"knee_pain": "present"}, observe=["straight_leg_raise", "back_pain"])
>>> sdp.method, 0 <= sdp.probability <= 1
('exact', True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bn.errors import EvidenceError
from bn.evidence import Evidence
from bn.inference import BayesNet
from bn.model import NetworkInfo
from bn.sampling import posterior_sample
from bn.target import Target, resolve_target

EXACT_LIMIT = 1 << 14
DEFAULT_SAMPLES = 2000


@dataclass(frozen=True)
class Disagreement:
    diagnosis: str
    in_explanation: str
    marginal: float
    label: str = ""  # what a reader sees; ``diagnosis`` is the id

    def to_dict(self) -> dict[str, Any]:
        return {"diagnosis": self.diagnosis, "in_explanation": self.in_explanation, "marginal": self.marginal}


@dataclass(frozen=True)
class SameDecision:
    decision: str  # the current decision: a source key, or "above"/"below" the threshold
    probability: float
    method: str  # "exact" | "monte_carlo"
    standard_error: float
    observe: list[str]
    samples: int = 0
    seed: int | None = None
    outcomes: dict[str, float] | None = None  # P(each decision after observing U)

    def sentence(self) -> str:
        """The result in words, with how it was computed.

        >>> text = SameDecision("l4l5_spine", 0.83, "exact", 0.0, ["straight_leg_raise", "back_pain"],
        ...                     outcomes={"l4l5_spine": 0.83, "knee": 0.17}).sentence()
        >>> text[:79]
        'If the 2 remaining findings were all observed, the leading source (L4-L5 spine)'
        >>> text[79:]
        ' would stay the leader with probability 83% (exact); otherwise Knee 17%.'
        """
        from bn.present import percent
        from bn.target import SOURCE_SHORT

        if not self.observe:
            return "No history or examination finding is left to observe: the decision cannot change."
        name = (f"the leading source ({SOURCE_SHORT.get(self.decision, self.decision)})"
                if self.decision not in ("above", "below") else f"the decision ({self.decision} the threshold)")
        how = ("exact" if self.method == "exact" else
               f"Monte Carlo, {self.samples:,} seeded samples, standard error {percent(self.standard_error)}")
        others = sorted(((d, p) for d, p in (self.outcomes or {}).items() if d != self.decision and p > 0),
                        key=lambda dp: -dp[1])
        listed = ", ".join(f"{SOURCE_SHORT.get(d, d)} {percent(p)}" for d, p in others)
        rest = f"; otherwise {listed}" if others else ""
        count = len(self.observe)
        return (f"If the {count} remaining finding{'s' if count != 1 else ''} were all observed, {name} would stay "
                f"{'the leader' if self.decision not in ('above', 'below') else 'the same'} with probability "
                f"{percent(self.probability)} ({how}){rest}.")

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision, "probability": self.probability, "method": self.method,
                "standard_error": self.standard_error, "observe": list(self.observe), "samples": self.samples,
                "seed": self.seed, "outcomes": self.outcomes}


@dataclass(frozen=True)
class Stability:
    network: NetworkInfo
    explanation: dict[str, str]
    explanation_probability: float
    marginals: dict[str, float]
    disagreements: list[Disagreement]
    same_decision: SameDecision

    @property
    def notes(self) -> list[str]:
        out = []
        for d in self.disagreements:
            if d.in_explanation == "present":
                out.append(f"{d.label or d.diagnosis} is in the most probable combination but only "
                           f"{d.marginal:.0%} likely on its own")
            else:
                out.append(f"{d.label or d.diagnosis} is {d.marginal:.0%} likely on its own but absent from the most "
                           "probable combination")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "most_probable_explanation": {
                    "states": self.explanation, "probability": self.explanation_probability},
                "marginals": self.marginals, "disagreements": [d.to_dict() for d in self.disagreements],
                "notes": self.notes, "same_decision": self.same_decision.to_dict()}

    def to_frame(self):
        """One row per diagnosis: its state in the most probable combination, its marginal probability, and
        whether the two disagree."""
        import pandas as pd

        disagree = {d.diagnosis for d in self.disagreements}
        return pd.DataFrame([{"diagnosis": v, "in_explanation": self.explanation.get(v), "marginal": p,
                              "disagrees": v in disagree} for v, p in self.marginals.items()])


def default_observation_set(net: BayesNet, ev: Evidence) -> list[str]:
    """Every unobserved history and examination finding (every unobserved variable without roles)."""
    network = net.network
    if not network.has_roles:
        return [v for v in network.variables if v not in ev.variables]
    return [v for v in network.by_role("finding") if network[v].group in ("history", "exam")
            and v not in ev.variables]


class _Decider:
    """decision(e) as a function of the posterior marginals of the decision variables."""

    def __init__(self, net: BayesNet, target: Target | None, threshold: float | None):
        network = net.network
        self.threshold = threshold
        if threshold is not None:
            if target is None:
                raise EvidenceError("a threshold decision needs a target")
            self.variables = [target.variable]
            self.index = network[target.variable].state_index(target.state)
        else:
            if not network.knee_pain_sources:
                raise EvidenceError(f"network {network.id} has no knee-pain sources; give --target and --threshold")
            self.keys = list(network.knee_pain_sources)
            self.variables = [network.knee_pain_sources[k] for k in self.keys]

    def decide(self, marginals: Sequence[np.ndarray]) -> str:
        """``marginals[i]`` is the normalised posterior of ``self.variables[i]``."""
        if self.threshold is not None:
            return "above" if marginals[0][self.index] >= self.threshold else "below"
        return self.keys[int(np.argmax([float(m[-1]) for m in marginals]))]

    def decide_all(self, net: BayesNet, cases: Sequence[Evidence]) -> list[str]:
        """The decision for each case, from one batched pass."""
        batch = net.batch_marginals(cases, variables=self.variables)
        return [self.decide([batch.marginals[v][k] for v in self.variables]) for k in range(len(cases))]


def _axis_marginals(table: np.ndarray) -> list[np.ndarray]:
    return [table.sum(axis=tuple(a for a in range(table.ndim) if a != i)) for i in range(table.ndim)]


def same_decision_probability(net: BayesNet, findings: Mapping[str, str] | Evidence | None = None,
                              *, observe: Sequence[str] | None = None, target: str | Target | None = None,
                              threshold: float | None = None, samples: int = DEFAULT_SAMPLES, seed: int = 0,
                              soft=None) -> SameDecision:
    """P(the decision is unchanged after observing ``observe``); exact or a seeded estimate (module docstring)."""
    network = net.network
    ev = net.evidence(findings, soft=soft)
    tgt = None
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise EvidenceError("the threshold must lie in [0, 1]")
        tgt = target if isinstance(target, Target) else resolve_target(network, target)
    decider = _Decider(net, tgt, threshold)
    observe = list(observe) if observe is not None else default_observation_set(net, ev)
    for v in observe:
        if v not in network:
            raise EvidenceError(f"unknown finding '{v}' in the observation set")
        if v in ev.variables:
            raise EvidenceError(f"{v} is already observed")
        if v in decider.variables:
            raise EvidenceError(f"{v} is a decision variable and cannot be in the observation set")
    current = decider.decide(_axis_marginals(net.joint(decider.variables, findings=ev)))
    if not observe:
        return SameDecision(current, 1.0, "exact", 0.0, [], outcomes={current: 1.0})
    size = math.prod(network[v].card for v in observe)
    if size <= EXACT_LIMIT:
        table = net.joint([*observe, *decider.variables], findings=ev)
        k = len(observe)
        flat = table.reshape(size, *table.shape[k:])
        outcomes: dict[str, float] = {}
        for row in flat:
            p_u = float(row.sum())
            if p_u > 0.0:
                d = decider.decide(_axis_marginals(row / p_u))
                outcomes[d] = outcomes.get(d, 0.0) + p_u
        # The rows add up to 1 only to rounding (1 + 2e-16 happens): a probability is shown as one, never above.
        total = sum(outcomes.values())
        outcomes = {d: min(1.0, p / total) for d, p in outcomes.items()}
        return SameDecision(current, outcomes.get(current, 0.0), "exact", 0.0, observe, outcomes=outcomes)
    rng = np.random.default_rng(seed)
    states, weights = posterior_sample(net, ev, samples, rng)
    columns = [list(network.variables).index(v) for v in observe]
    patterns, inverse = np.unique(states[:, columns], axis=0, return_inverse=True)
    cases = [ev.merged(Evidence({v: network[v].state_ids[int(i)] for v, i in zip(observe, pattern, strict=True)}))
             for pattern in patterns]
    decided = decider.decide_all(net, cases)
    w = weights / weights.sum()
    outcomes = {}
    for idx, d in enumerate(decided):
        outcomes[d] = outcomes.get(d, 0.0) + float(w[inverse.ravel() == idx].sum())
    p = outcomes.get(current, 0.0)
    ess = weights.sum() ** 2 / float(np.sum(weights**2))
    return SameDecision(current, p, "monte_carlo", math.sqrt(max(p * (1 - p), 0.0) / ess), observe,
                        samples=samples, seed=seed, outcomes=outcomes)


def stability(net: BayesNet, findings: Mapping[str, str] | Evidence | None = None,
              *, observe: Sequence[str] | None = None, target: str | Target | None = None,
              threshold: float | None = None, samples: int = DEFAULT_SAMPLES, seed: int = 0,
              soft=None) -> Stability:
    """Most probable explanation vs marginals, and the same-decision probability."""
    ev = net.evidence(findings, soft=soft)
    variables = net.default_map_variables()
    mpe = net.most_probable_explanation(variables, findings=ev)
    network = net.network
    marginals = {v: net.posterior(v, findings=ev)[network[v].on_state] for v in variables}
    disagreements = []
    for v in variables:
        positive = network[v].on_state
        in_mpe = mpe.states[v] == positive
        if in_mpe != (marginals[v] >= 0.5):
            disagreements.append(Disagreement(v, mpe.states[v], marginals[v], net.network[v].display_label))
    sdp = same_decision_probability(net, ev, observe=observe, target=target, threshold=threshold, samples=samples,
                                    seed=seed)
    return Stability(net.info, mpe.states, mpe.probability, marginals, disagreements, sdp)

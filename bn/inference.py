"""The inference layer: load a network once, ask many questions.

>>> import bn
>>> net = bn.load("l4l5_knee")
>>> result = net.query({"knee_pain": "present", "straight_leg_raise": "positive"})
>>> result.network.id, result.network.version == bn.published()["l4l5_knee"][-1]
('l4l5_knee', True)
>>> result.posteriors["disc_herniation"]["present"] > result.priors["disc_herniation"]["present"]
True
>>> sorted(result.knee_pain_source)
['hip', 'knee', 'l4l5_spine', 'other', 'other_lumbar_level']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np

from bn import limits
from bn.errors import EvidenceError, ImpossibleEvidenceError
from bn.evidence import Evidence, lookup_variable
from bn.model import KNEE_PAIN_SOURCE, Network, NetworkInfo

Findings = Mapping[str, str] | Evidence | None


@dataclass(frozen=True)
class Alert:
    id: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "message": self.message}


@dataclass(frozen=True)
class MostProbableExplanation:
    """The jointly most probable states of a set of variables given the evidence (the MAP assignment).

    Not to be confused with :class:`bn.explain.Explanation`, the weight of evidence of each finding.
    """

    states: dict[str, str]
    probability: float  # P(these states | evidence)

    def to_dict(self) -> dict[str, Any]:
        return {"states": dict(self.states), "probability": self.probability}

    def to_frame(self):
        """One row per variable: its state in the explanation (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([{"variable": v, "state": s, "joint_probability": self.probability}
                             for v, s in self.states.items()])


@dataclass(frozen=True)
class Outcome:
    """One possible result of a finding not yet observed: its probability and the target's posterior after it."""

    probability: float  # P(finding = this state | evidence)
    posterior: dict[str, dict[str, float]] | None  # {target: {state: P(target = state | evidence, this)}}


@dataclass(frozen=True)
class BatchMarginals:
    """Marginals of many cases: ``marginals[variable]`` has shape (cases, states); log P(evidence) per case."""

    marginals: dict[str, np.ndarray]
    log_probability_of_evidence: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {"marginals": {v: m.tolist() for v, m in self.marginals.items()},
                "log_probability_of_evidence": self.log_probability_of_evidence.tolist()}

    def to_frame(self):
        """One row per case: ``P(variable=state)`` columns (NaN for an impossible case) and log P(evidence)."""
        import pandas as pd

        columns: dict[str, Any] = {}
        for v, m in self.marginals.items():
            for i in range(m.shape[1]):
                columns[f"P({v}={i})"] = m[:, i]
        columns["log_probability_of_evidence"] = self.log_probability_of_evidence
        return pd.DataFrame(columns)


@dataclass(frozen=True)
class QueryResult:
    """Posteriors for a case, with priors beside them, and everything needed to reproduce it."""

    network: NetworkInfo
    evidence: Evidence
    posteriors: dict[str, dict[str, float]]
    priors: dict[str, dict[str, float]]
    probability_of_evidence: float
    log_probability_of_evidence: float
    alerts: list[Alert] = field(default_factory=list)
    most_probable_explanation: MostProbableExplanation | None = None
    engine: str = "einsum"
    # The network's declared summary (Network.summary): its name, each member's probability now and before.
    summary_name: str | None = None
    summary: dict[str, float] | None = None
    summary_prior: dict[str, float] | None = None

    @property
    def knee_pain_source(self) -> dict[str, float] | None:
        """The knee-pain-source summary ({source: probability}); None for networks without it."""
        return self.summary if self.summary_name == KNEE_PAIN_SOURCE[0] else None

    @property
    def knee_pain_source_prior(self) -> dict[str, float] | None:
        return self.summary_prior if self.summary_name == KNEE_PAIN_SOURCE[0] else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "network": self.network.to_dict(),
            "engine": self.engine,
            "evidence": self.evidence.to_dict(),
            "probability_of_evidence": self.probability_of_evidence,
            "log_probability_of_evidence": self.log_probability_of_evidence,
            "posteriors": self.posteriors,
            "priors": self.priors,
            "alerts": [a.to_dict() for a in self.alerts],
        }
        if self.summary is not None:  # under the summary's own name (knee_pain_source for l4l5_knee)
            out[self.summary_name] = self.summary
            out[f"{self.summary_name}_prior"] = self.summary_prior
        if self.most_probable_explanation is not None:
            out["most_probable_explanation"] = self.most_probable_explanation.to_dict()
        return out

    def to_frame(self):
        """One row per (variable, state): prior, posterior and the change (a pandas DataFrame)."""
        import pandas as pd

        rows = [
            {"variable": var, "state": state, "prior": self.priors[var][state], "posterior": p,
             "change": p - self.priors[var][state]}
            for var, dist in self.posteriors.items() for state, p in dist.items()
        ]
        return pd.DataFrame(rows, columns=["variable", "state", "prior", "posterior", "change"])


class BayesNet:
    """A validated network compiled for inference. Create with :func:`bn.load`.

    All query methods take findings as a ``{variable: state}`` mapping or an
    :class:`~bn.evidence.Evidence` (which also carries soft findings).
    """

    def __init__(self, network: Network, engine: str = "einsum", plan=None, extra_plans=None, priors=None):
        from bn.engines import LRU, make_engine

        self.network = network
        # ``plan``, ``extra_plans``: precompiled junction trees (from bn.cache) for the default engine; ``priors``:
        # every variable's marginal without findings, computed when the plans were. Every question below goes
        # through the bn.engines.Engine protocol, whichever engine answers it.
        self.engine = make_engine(network, engine, plan, extra_plans)
        self._parts = LRU(self.PARTS_CACHE)
        if priors is not None:
            self.__dict__["_priors"] = priors  # the cached_property's value

    PARTS_CACHE = 8  # compiled relevant parts kept per network (an app session reruns with the same findings)

    def relevant_part(self, variables: Sequence[str]) -> BayesNet:
        """The network restricted to ``variables`` and their ancestors, compiled; this network itself when that
        is all of it. Every other variable is barren for a question about ``variables``: it sums out to 1, so
        the part answers such questions exactly, on a smaller junction tree. Cached (the last
        :attr:`PARTS_CACHE` parts), so a repeated question compiles nothing.

        >>> import bn
        >>> net = bn.load("l4l5_knee")
        >>> part = net.relevant_part(["knee_pain"])
        >>> len(part.network.variables) < len(net.network.variables), part is net.relevant_part(["knee_pain"])
        (True, True)
        """
        keep = frozenset(self.network.ancestors(list(variables)))
        if len(keep) == len(self.network.variables):
            return self
        return self._parts.get_or(keep, lambda: BayesNet(
            replace(self.network, variables={v: x for v, x in self.network.variables.items() if v in keep}),
            self.engine.name))

    def __repr__(self) -> str:
        info = self.network.info
        return f"<BayesNet {info.id}@{info.version} sha256={info.sha256[:12]} engine={self.engine.name}>"

    @property
    def info(self) -> NetworkInfo:
        return self.network.info

    def to_pgmpy(self):
        """The network as a pgmpy ``DiscreteBayesianNetwork`` (see :mod:`bn.converters`)."""
        from bn.converters import to_pgmpy

        return to_pgmpy(self.network)

    def to_pyagrum(self):
        """The network as a pyAgrum ``BayesNet`` (pyAgrum is optional; see :mod:`bn.converters`)."""
        from bn.converters import to_pyagrum

        return to_pyagrum(self.network)

    # -- evidence ---------------------------------------------------------------------------------
    def evidence(self, findings: Findings = None, *, soft: Mapping[str, Mapping[str, float]] | None = None) -> Evidence:
        """Validated evidence from findings (and soft findings); raises EvidenceError naming the problem."""
        if isinstance(findings, Evidence):
            ev = findings if not soft else findings.merged(Evidence({}, soft))
        else:
            ev = Evidence(dict(findings or {}), dict(soft or {}))
        return ev.validate(self.network)

    def _likelihoods(self, evidence: Evidence) -> dict[str, np.ndarray]:
        return evidence.likelihoods(self.network)

    # -- core questions ---------------------------------------------------------------------------
    def probability_of_evidence(self, findings: Findings = None, *, soft=None) -> float:
        """P(findings): the probability the model gives to the findings (with soft findings as likelihoods)."""
        ev = self.evidence(findings, soft=soft)
        return math.exp(self._log_evidence(self._likelihoods(ev)))

    def log_probability_of_evidence(self, findings: Findings = None, *, soft=None) -> float:
        """log P(findings), exact even where P(findings) underflows to 0.0; ``-inf`` for impossible findings.

        >>> import bn
        >>> net = bn.load("l4l5_knee")
        >>> net.log_probability_of_evidence({"knee_pain": "present"}) < 0
        True
        """
        return self._log_evidence(self._likelihoods(self.evidence(findings, soft=soft)))

    def _log_evidence(self, likelihoods: Mapping[str, np.ndarray]) -> float:
        return float(self.engine.log_probability_of_evidence(likelihoods)[0])

    def joint(self, variables: Sequence[str], *, findings: Findings = None, soft=None) -> np.ndarray:
        """P(variables | findings) as an array with one axis per variable (in the order given)."""
        variables = self._names(variables)
        ev = self.evidence(findings, soft=soft)
        table = self._joint(tuple(variables), ev)
        return table / table.sum()

    def _joint(self, outputs: tuple[str, ...], ev: Evidence) -> np.ndarray:
        """P(outputs | e) (P(e) itself when ``outputs`` is empty): normalised, so a tiny P(e) cannot underflow."""
        lik = self._likelihoods(ev)
        if not outputs:
            log_p = self._log_evidence(lik)
            if log_p == -math.inf:
                self._raise_impossible(ev)
            return np.asarray(math.exp(log_p))
        table = np.asarray(self.engine.conditional(outputs, lik)[0])
        if not np.isfinite(table).all():  # NaN: findings of probability zero
            self._raise_impossible(ev)
        return table

    def posterior(self, variable: str, *, findings: Findings = None, soft=None) -> dict[str, float]:
        """P(variable | findings) as ``{state: probability}``."""
        if not isinstance(variable, str):
            raise EvidenceError(f"expected one variable name, got {type(variable).__name__}; pass findings as "
                                "findings=... (for example net.posterior('disc_herniation', findings=case))")
        self._check_variables([variable])
        ev = self.evidence(findings, soft=soft)
        return self._marginal(variable, ev)

    def _marginal(self, variable: str, ev: Evidence) -> dict[str, float]:
        table = self._joint((variable,), ev)
        table = table / table.sum()
        return {s: float(p) for s, p in zip(self.network[variable].state_ids, table)}

    def marginals(self, variables: Sequence[str] | None = None, *, findings: Findings = None, soft=None
                  ) -> dict[str, dict[str, float]]:
        """Posterior marginals of ``variables`` (default: all) given the findings."""
        variables = list(self.network.variables) if variables is None else self._names(variables)
        ev = self.evidence(findings, soft=soft)
        return self._all_marginals(variables, ev)[0]

    def _all_marginals(self, variables: Sequence[str], ev: Evidence) -> tuple[dict[str, dict[str, float]], float]:
        """Marginals of ``variables`` and log P(e) in one engine call (one junction-tree pass)."""
        post, log_z = self.engine.marginals(self._likelihoods(ev), list(variables))
        if log_z[0] == -math.inf:
            self._raise_impossible(ev)
        return ({v: dict(zip(self.network[v].state_ids, post[v][0].tolist())) for v in variables},
                float(log_z[0]))

    @cached_property
    def _priors(self) -> dict[str, dict[str, float]]:
        return self._all_marginals(list(self.network.variables), Evidence())[0]

    def batch_marginals(self, cases: Sequence[Findings], *, variables: Sequence[str] | None = None
                        ) -> BatchMarginals:
        """Marginals of ``variables`` (default: all) for many cases in one vectorised pass.

        ``cases`` are findings mappings or :class:`~bn.evidence.Evidence`. Impossible cases get NaN
        marginals and ``-inf`` log probability instead of an error, so one bad case does not stop a batch.

        >>> import bn
        >>> net = bn.load("l4l5_knee")
        >>> out = net.batch_marginals([{}, {"knee_pain": "present"}], variables=["knee_pain"])
        >>> out.marginals["knee_pain"].shape, round(float(out.marginals["knee_pain"][1, 1]), 6)
        ((2, 2), 1.0)
        """
        variables = list(self.network.variables) if variables is None else self._names(variables)
        evs = [self.evidence(c) for c in cases]
        if not evs:
            return BatchMarginals({v: np.zeros((0, self.network[v].card)) for v in variables}, np.zeros(0))
        lik: dict[str, np.ndarray] = {}
        for k, ev in enumerate(evs):
            for var, vec in self._likelihoods(ev).items():
                if var not in lik:
                    lik[var] = np.ones((len(evs), self.network[var].card))
                lik[var][k] = vec
        post, log_z = self.engine.marginals(lik, variables)
        return BatchMarginals({v: np.asarray(post[v]) for v in variables}, np.asarray(log_z))

    def priors(self, variables: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
        """Marginals with no findings."""
        variables = list(self.network.variables) if variables is None else self._names(variables)
        return {v: self._priors[v] for v in variables}

    def most_probable_explanation(self, variables: Sequence[str] | None = None, *, findings: Findings = None,
                                  soft=None) -> MostProbableExplanation:
        """The jointly most probable states of ``variables`` (default: the diagnoses) given the findings.

        This is the MAP assignment of the set, summing out every other variable.
        """
        variables = self._names(variables) if variables is not None else self.default_map_variables()
        size = math.prod(self.network[v].card for v in variables)
        most = limits.current().map_configurations
        if size > most:
            raise EvidenceError(f"a joint explanation over {len(variables)} variables has {size:,} "
                                f"configurations (limit {most:,}, map_configurations); choose fewer variables")
        ev = self.evidence(findings, soft=soft)
        table = self._joint(tuple(variables), ev)
        table = table / table.sum()
        best = np.unravel_index(int(np.argmax(table)), table.shape)
        states = {v: self.network[v].state_ids[i] for v, i in zip(variables, best)}
        return MostProbableExplanation(states, float(table[best]))

    def default_map_variables(self) -> list[str]:
        diagnoses = [v for v in self.network.by_role("diagnosis") if self.network[v].form != "deterministic_or"]
        return diagnoses or list(self.network.variables)[: min(12, len(self.network.variables))]

    def default_query_variables(self) -> list[str]:
        """The variables a query reports by default: diagnoses and mechanisms, or all without roles."""
        chosen = self.network.by_role("diagnosis", "mechanism")
        return chosen or list(self.network.variables)

    # -- the whole answer -----------------------------------------------------------------------
    def query(self, findings: Findings = None, *, soft=None, variables: Sequence[str] | None = None,
              mpe: bool = True) -> QueryResult:
        """Posteriors (and priors) of ``variables``, knee-pain sources, P(evidence), alerts, the MPE.

        ``variables`` defaults to the diagnoses and mechanisms (every variable for networks without
        roles). ``mpe=False`` skips the most probable explanation (the joint MAP of the diagnoses), the one
        costly part. Raises ImpossibleEvidenceError when the findings have probability zero.
        """
        ev = self.evidence(findings, soft=soft)
        variables = self.default_query_variables() if variables is None else self._names(variables)
        summary = self.network.summary
        members = summary.members if summary else {}
        wanted = list(dict.fromkeys([*variables, *members.values()]))
        computed, log_p = self._all_marginals(wanted, ev)
        log_p = log_p if ev else 0.0
        p_e = math.exp(log_p)
        posteriors = {v: computed[v] for v in variables}
        priors = {v: self._priors[v] for v in variables}
        now = before = None
        if summary:
            now = {key: computed[var][self.network[var].on_state] for key, var in members.items()}
            before = {key: self._priors[var][self.network[var].on_state] for key, var in members.items()}
        best = None
        if mpe and self.network.has_roles and self.network.by_role("diagnosis"):
            best = self.most_probable_explanation(findings=ev)
        return QueryResult(
            network=self.info, evidence=ev, posteriors=posteriors, priors=priors,
            probability_of_evidence=p_e, log_probability_of_evidence=log_p,
            alerts=self.alerts(ev), most_probable_explanation=best, engine=self.engine.name,
            summary_name=summary.name if summary else None, summary=now, summary_prior=before,
        )

    def alerts(self, findings: Findings = None, *, soft=None) -> list[Alert]:
        """Red-flag alerts for the findings, whatever the posteriors say."""
        ev = self.evidence(findings, soft=soft)
        out = []
        for vid in self.network.by_role("red_flag"):
            v = self.network[vid]
            message = v.alert or f"Red flag: {v.display_label} present. Seek urgent assessment."
            if ev.findings.get(vid) == v.on_state:
                out.append(Alert(vid, message))
            elif vid in ev.soft_findings:
                lik = ev.soft_findings[vid]
                if lik[v.on_state] > max(lik[s] for s in v.state_ids if s != v.on_state):
                    out.append(Alert(vid, f"Possible (uncertain finding): {message}"))
        return out

    # -- helpers ----------------------------------------------------------------------------------
    def _check_variables(self, variables: Sequence[str]) -> None:
        for v in variables:
            lookup_variable(self.network, v)

    def _names(self, variables: Sequence[str]) -> list[str]:
        """Variable names, checked: findings (a mapping) or one bare string where a list of names belongs is
        the classic positional slip (``net.marginals(case)``), refused rather than read as its keys."""
        if isinstance(variables, (Mapping, Evidence)):
            raise EvidenceError("expected a list of variable names, got findings (a mapping); pass findings as "
                                "findings=... (for example net.marginals(findings={'knee_pain': 'present'}))")
        if isinstance(variables, str):
            raise EvidenceError(f"expected a list of variable names, got the string '{variables}'; "
                                f"write ['{variables}']")
        names = list(variables)
        self._check_variables(names)
        return names

    def _raise_impossible(self, ev: Evidence) -> None:
        conflict = self.conflicting_findings(ev)
        described = ", ".join(_describe(ev, v) for v in conflict)
        if len(conflict) == 1:
            message = f"the finding {described} is impossible under network {self.network.id}"
        else:
            message = (f"these findings cannot all hold under network {self.network.id} "
                       f"(probability 0): {described}")
        raise ImpossibleEvidenceError(message, tuple(conflict))

    def conflicting_findings(self, findings: Findings = None, *, soft=None) -> list[str]:
        """A smallest-by-deletion set of findings that is impossible together (empty if P(e) > 0)."""
        ev = self.evidence(findings, soft=soft)
        likelihoods = self._likelihoods(ev)
        if self._log_evidence(likelihoods) > -math.inf:
            return []
        kept = list(likelihoods)
        for var in list(kept):
            trial = [v for v in kept if v != var]
            if self._log_evidence({v: likelihoods[v] for v in trial}) == -math.inf:
                kept = trial
        return kept

    # -- what would the next finding tell? ---------------------------------------------------------------
    # -- the analyses, as methods (each module's function does the work; imported on first use) ------
    def explain(self, findings: Findings = None, *, target: str | None = None, soft=None, **options: Any):
        """Weight of evidence of each finding for ``target`` (:func:`bn.explain.explain`)."""
        from bn.explain import explain

        return explain(self, findings, target=target, soft=soft, **options)

    def next_best(self, findings: Findings = None, *, target: str | None = None, soft=None, **options: Any):
        """The unobserved findings ranked by value of information (:func:`bn.voi.next_best`)."""
        from bn.voi import next_best

        return next_best(self, findings, target=target, soft=soft, **options)

    def stability(self, findings: Findings = None, *, soft=None, **options: Any):
        """How likely the leading answer survives the findings not yet observed (:func:`bn.stability.stability`)."""
        from bn.stability import stability

        return stability(self, findings, soft=soft, **options)

    def one_way(self, findings: Findings = None, *, target: str | None = None, soft=None, **options: Any):
        """Exact one-way sensitivity of ``P(target | findings)`` to each parameter (:func:`bn.sensitivity.one_way`)."""
        from bn.sensitivity import one_way

        return one_way(self, findings, target=target, soft=soft, **options)

    def flip(self, findings: Findings = None, *, constraint: str | None = None, soft=None, **options: Any):
        """Every single-parameter change that makes ``constraint`` hold (:func:`bn.sensitivity.flip`)."""
        from bn.sensitivity import flip

        return flip(self, findings, constraint=constraint, soft=soft, **options)

    def uncertainty(self, findings: Findings = None, *, targets: Sequence[str] | str | None = None, soft=None,
                    **options: Any):
        """The posteriors under joint parameter uncertainty (:func:`bn.sensitivity.uncertainty`)."""
        from bn.sensitivity import uncertainty

        return uncertainty(self, findings, targets=targets, soft=soft, **options)

    def outcome_posteriors(self, target: str | Sequence[str], *, candidates: Sequence[str] | None = None,
                           findings: Findings = None, soft=None) -> dict[str, dict[str, Outcome]]:
        """For each unobserved finding and each of its states: P(finding = state | e) and P(target | e, it).

        ``target`` is a variable or a list of variables; ``candidates`` default to every unobserved
        finding and red flag (every unobserved non-target variable in networks without roles). All
        outcomes are answered in one vectorised pass, which is what next-best-test ranking needs.
        An outcome with probability 0 has ``posterior`` None.

        >>> import bn
        >>> net = bn.load("l4l5_knee")
        >>> out = net.outcome_posteriors("disc_herniation", candidates=["straight_leg_raise"],
        ...                              findings={"knee_pain": "present"})
        >>> slr = out["straight_leg_raise"]
        >>> round(sum(o.probability for o in slr.values()), 12)
        1.0
        >>> after = {s: o.posterior["disc_herniation"]["present"] for s, o in slr.items()}
        >>> after["positive"] > after["negative"]
        True
        """
        targets = [target] if isinstance(target, str) else self._names(target)
        ev = self.evidence(findings, soft=soft)
        if candidates is None:
            network = self.network
            pool = network.by_role("finding", "red_flag") if network.has_roles else list(network.variables)
            candidates = [v for v in pool if v not in ev.findings and v not in ev.soft_findings and v not in targets]
        candidates = self._names(candidates)
        self._check_variables(candidates)
        lik = self._likelihoods(ev)
        if self._log_evidence(lik) == -math.inf:
            self._raise_impossible(ev)
        out: dict[str, dict[str, Outcome]] = {}
        p_outcome, posteriors = self.engine.outcome_posteriors(targets, candidates, lik)
        for f in candidates:
            states = self.network[f].state_ids
            out[f] = {}
            for i, s in enumerate(states):
                p = float(p_outcome[f][i])
                post = None
                if p > 0.0:
                    post = {t: dict(zip(self.network[t].state_ids, posteriors[f][t][i].tolist())) for t in targets}
                out[f][s] = Outcome(p, post)
        return out


def _describe(ev: Evidence, var: str) -> str:
    if var in ev.findings:
        return f"{var}={ev.findings[var]}"
    return f"{var} (soft)"


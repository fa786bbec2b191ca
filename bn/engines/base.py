"""What an inference engine is: the :class:`Engine` protocol, and :class:`QueryEngine`, which derives it from one
method.

Evidence reaches every engine the same way: ``{variable: likelihood}``, with arrays of shape ``(card,)`` for one
case or ``(N, card)`` for N cases (an indicator vector for a hard finding). Batched results carry a leading axis
of N (1 when every vector is one case). ``log P(evidence)`` is ``-inf`` for impossible evidence, never NaN, and
the marginals of an impossible case are NaN.

An engine that can only answer ``joint(outputs, likelihoods)`` (the unnormalised ``P(outputs, evidence)`` for
one case) subclasses :class:`QueryEngine` and gets the rest, one case and one query at a time, in linear space
(so ``P(evidence)`` may underflow to 0 on long evidence, where the junction tree's log space does not).
:class:`~bn.engines.junction_tree.CompiledEngine` answers the same methods natively, with a batch axis.

>>> import numpy as np
>>> from bn.model import Network, NetworkInfo, State, Variable
>>> class Enumeration(QueryEngine):   # the whole joint, by brute force: fine for a toy
...     name = "enumeration"
...     def joint(self, outputs, likelihoods):
...         rain, wet = self.network["rain"].cpt, self.network["wet"].cpt
...         lik = {v: likelihoods.get(v, np.ones(2)) for v in ("rain", "wet")}
...         table = rain[:, None] * wet * lik["rain"][:, None] * lik["wet"]
...         axes = {"rain": 0, "wet": 1}
...         return np.einsum(table, [0, 1], [axes[v] for v in outputs])
>>> rain = Variable("rain", (State("no", ""), State("yes", "")), (), np.array([0.8, 0.2]))
>>> wet = Variable("wet", (State("no", ""), State("yes", "")), ("rain",), np.array([[0.9, 0.1], [0.2, 0.8]]))
>>> engine = Enumeration(Network(NetworkInfo("toy", "1", "0"), {"rain": rain, "wet": wet}))
>>> post, log_z = engine.marginals({"wet": np.array([0.0, 1.0])}, ["rain"])
>>> np.round(post["rain"], 4), round(float(np.exp(log_z[0])), 4)
(array([[0.3333, 0.6667]]), 0.24)
>>> isinstance(engine, Engine)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from bn.model import Network

Likelihoods = Mapping[str, np.ndarray]


@runtime_checkable
class Engine(Protocol):
    """Exact inference over one network. ``bn.BayesNet`` and every analysis use only these methods."""

    name: str
    network: Network
    #: True when :meth:`sample_posterior` draws exactly from the posterior; otherwise callers weight forward
    #: samples by the evidence (:func:`bn.sampling.posterior_sample`).
    exact_sampling: bool

    def joint(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
        """Unnormalised ``P(outputs, evidence)`` for one case, one axis per output (may underflow to 0)."""

    def marginals(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None
                  ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Normalised marginals ``{variable: (N, card)}`` (default: every variable) and ``log P(e)`` ``(N,)``."""

    def posterior(self, outputs: Sequence[str], likelihoods: Likelihoods) -> tuple[np.ndarray, np.ndarray]:
        """Normalised ``P(outputs | evidence)`` with shape ``(N, *cards)``, and ``log P(evidence)`` ``(N,)``."""

    def conditional(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
        """:meth:`posterior`'s table alone, NaN for impossible evidence: an engine may skip P(evidence)."""

    def log_probability_of_evidence(self, likelihoods: Likelihoods) -> np.ndarray:
        """``log P(evidence)`` per case, shape ``(N,)``."""

    def family_joints(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None
                      ) -> dict[str, np.ndarray]:
        """``P(family, evidence)`` per variable (axes: its parents, then itself), for one case."""

    def family_posteriors(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None
                          ) -> tuple[dict[str, np.ndarray], float]:
        """``P(family | evidence)`` per variable and ``log P(evidence)``, for one case."""

    def family_expectations(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None, *,
                            weights: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``sum_k weights[k] * P(family | e_k)`` over a batch of cases (EM's E-step; weights default to 1),
        and ``log P(e_k)``."""

    def outcome_posteriors(self, targets: Sequence[str], candidates: Sequence[str], likelihoods: Likelihoods
                           ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """For each candidate F and state f: ``P(F=f | e)`` ``(card_F,)`` and ``P(target | e, F=f)``
        ``(card_F, card_target)`` (NaN rows where ``P(F=f | e) = 0``), for one case."""

    def sample_posterior(self, likelihoods: Likelihoods, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """``n`` draws of every variable (state indices, network order) from ``P(X | e)``; None when the
        evidence is impossible. Engines without :attr:`exact_sampling` raise NotImplementedError."""


class QueryEngine:
    """An :class:`Engine` from ``joint`` alone: subclasses set :attr:`name` and implement :meth:`joint`.

    Every other method loops over the cases of a batch and asks one ``joint`` query per variable: simple and
    slow, which is what a reference engine should be.
    """

    name = "query"
    exact_sampling = False

    def __init__(self, network: Network):
        self.network = network

    def joint(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
        raise NotImplementedError

    def _cases(self, likelihoods: Likelihoods) -> list[dict[str, np.ndarray]]:
        arrays = {v: np.asarray(a, dtype=float) for v, a in likelihoods.items()}
        size = max([a.shape[0] for a in arrays.values() if a.ndim == 2] or [1])
        return [{v: (a[k] if a.ndim == 2 and a.shape[0] > 1 else a.reshape(-1)) for v, a in arrays.items()}
                for k in range(size)]

    def _log_evidence(self, case: Likelihoods) -> float:
        p = float(self.joint((), case))
        return math.log(p) if p > 0.0 else -math.inf

    def log_probability_of_evidence(self, likelihoods: Likelihoods) -> np.ndarray:
        return np.array([self._log_evidence(case) for case in self._cases(likelihoods)])

    def posterior(self, outputs: Sequence[str], likelihoods: Likelihoods) -> tuple[np.ndarray, np.ndarray]:
        cards = [self.network[v].card for v in outputs]
        cases = self._cases(likelihoods)
        tables = np.full((len(cases), *cards), np.nan)
        log_z = np.full(len(cases), -np.inf)
        for k, case in enumerate(cases):
            table = np.asarray(self.joint(tuple(outputs), case), dtype=float)
            total = float(table.sum())
            if total > 0.0:
                tables[k], log_z[k] = table / total, math.log(total)
        return tables, log_z

    def conditional(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
        table, log_z = self.posterior(outputs, likelihoods)
        table[log_z == -math.inf] = np.nan
        return table

    def marginals(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None
                  ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        variables = list(self.network.variables) if variables is None else list(variables)
        cases = self._cases(likelihoods)
        out = {v: np.full((len(cases), self.network[v].card), np.nan) for v in variables}
        log_z = np.full(len(cases), -np.inf)
        for k, case in enumerate(cases):
            log_z[k] = self._log_evidence(case)
            if log_z[k] > -math.inf:
                for v in variables:
                    table = np.asarray(self.joint((v,), case), dtype=float)
                    out[v][k] = table / table.sum()
        return out, log_z

    def family_joints(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None
                      ) -> dict[str, np.ndarray]:
        network = self.network
        return {v: np.asarray(self.joint((*network[v].parents, v), likelihoods), dtype=float)
                for v in (network.variables if variables is None else variables)}

    def family_posteriors(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None
                          ) -> tuple[dict[str, np.ndarray], float]:
        p_e = float(self.joint((), likelihoods))
        joints = self.family_joints(likelihoods, variables)
        if p_e <= 0.0:
            return {v: np.zeros_like(t) for v, t in joints.items()}, -math.inf
        return {v: t / p_e for v, t in joints.items()}, math.log(p_e)

    def family_expectations(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None, *,
                            weights: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
        variables = list(self.network.variables) if variables is None else list(variables)
        counts = {v: np.zeros(self.network[v].cpt.shape) for v in variables}
        cases = self._cases(likelihoods)
        weights = np.ones(len(cases)) if weights is None else np.asarray(weights, dtype=float)
        log_z = np.empty(len(cases))
        for k, case in enumerate(cases):
            posts, log_z[k] = self.family_posteriors(case, variables)
            for v in variables:
                counts[v] += weights[k] * posts[v]
        return counts, log_z

    def outcome_posteriors(self, targets: Sequence[str], candidates: Sequence[str], likelihoods: Likelihoods
                           ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        lik = {v: np.asarray(a, dtype=float).reshape(-1) for v, a in likelihoods.items()}
        log_e = self._log_evidence(lik)
        p_outcome, posteriors = {}, {}
        for f in candidates:
            card = self.network[f].card
            p_outcome[f] = np.zeros(card)
            posteriors[f] = {t: np.full((card, self.network[t].card), np.nan) for t in targets}
            for i in range(card):
                trial = {**lik, f: np.eye(card)[i] * lik.get(f, 1.0)}
                log_f = self._log_evidence(trial)
                if log_f > -math.inf:
                    p_outcome[f][i] = math.exp(log_f - log_e)
                    for t in targets:
                        table = np.asarray(self.joint((t,), trial), dtype=float)
                        posteriors[f][t][i] = table / table.sum()
        return p_outcome, posteriors

    def sample_posterior(self, likelihoods: Likelihoods, n: int, rng: np.random.Generator) -> np.ndarray | None:
        raise NotImplementedError(f"the {self.name} engine cannot draw exactly from the posterior")

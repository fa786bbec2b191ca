"""Exact inference engines.

:class:`EinsumEngine` (the default) compiles the network once into tensor contractions (numpy + opt_einsum):
every table is one operand, every variable has one evidence operand (a vector of ones when it is not
observed, an indicator for hard evidence, a likelihood for soft evidence), and a query is a contraction
to the queried variables. The contraction plan depends only on the network and the output, so it is
computed once and cached.

:class:`PgmpyEngine` answers the same questions with pgmpy's VariableElimination; it is the reference
the fast engine is tested against and stays selectable (``engine="pgmpy"``).

Both return *unnormalised* tables ``P(outputs, evidence)``; :mod:`bn.inference` normalises them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from bn.model import Network

ENGINES = ("einsum", "pgmpy")


class EinsumEngine:
    """Exact inference by tensor contraction.

    >>> import bn
    >>> eng = EinsumEngine(bn.load("l4l5_knee").network)
    >>> float(eng.joint((), {}))                      # P(no evidence) = 1
    1.0
    """

    name = "einsum"

    def __init__(self, network: Network):
        import opt_einsum

        self.network = network
        self.order = list(network.variables)
        self.position = {v: i for i, v in enumerate(self.order)}
        self.cards = [network[v].card for v in self.order]
        symbols = [opt_einsum.get_symbol(i) for i in range(len(self.order))]
        self._symbols = symbols
        self._tables = [np.ascontiguousarray(network[v].cpt, dtype=float) for v in self.order]
        self._table_terms = [
            "".join(symbols[self.position[p]] for p in network[v].parents) + symbols[self.position[v]]
            for v in self.order
        ]
        self._ones = [np.ones(c) for c in self.cards]
        self._expression = lru_cache(maxsize=4096)(self._compile)

    def _compile(self, outputs: tuple[str, ...]):
        import opt_einsum

        terms = self._table_terms + self._symbols
        out = "".join(self._symbols[self.position[v]] for v in outputs)
        shapes = [t.shape for t in self._tables] + [(c,) for c in self.cards]
        return opt_einsum.contract_expression(f"{','.join(terms)}->{out}", *shapes, optimize="greedy")

    def joint(self, outputs: Sequence[str], likelihoods: Mapping[str, np.ndarray]) -> np.ndarray:
        """Unnormalised ``P(outputs, evidence)`` as an array with one axis per output variable."""
        vectors = list(self._ones)
        for var, vec in likelihoods.items():
            vectors[self.position[var]] = vec
        return np.asarray(self._expression(tuple(outputs))(*self._tables, *vectors))


class PgmpyEngine:
    """The reference: pgmpy's VariableElimination (slow, independent of the einsum engine)."""

    name = "pgmpy"

    def __init__(self, network: Network):
        from pgmpy.inference import VariableElimination

        from bn.compile import to_pgmpy

        self.network = network
        self.model = to_pgmpy(network)
        self._ve = VariableElimination(self.model)

    def joint(self, outputs: Sequence[str], likelihoods: Mapping[str, np.ndarray]) -> np.ndarray:
        """Unnormalised ``P(outputs, evidence)``: the normalised VE posterior times P(evidence)."""
        p_e = self._probability_of_evidence(likelihoods)
        if not outputs:
            return np.asarray(p_e)
        if p_e == 0.0:
            return np.zeros([self.network[v].card for v in outputs])
        factor = self._ve.query(list(outputs), virtual_evidence=self._virtual(likelihoods) or None,
                                joint=True, show_progress=False)
        table = factor.values
        return np.transpose(table, [factor.variables.index(v) for v in outputs]) * p_e

    def _virtual(self, likelihoods: Mapping[str, np.ndarray]):
        from pgmpy.factors.discrete import TabularCPD

        cpds = []
        for var, vec in likelihoods.items():
            v = self.network[var]
            cpds.append(TabularCPD(var, v.card, np.asarray(vec, dtype=float).reshape(-1, 1),
                                   state_names={var: list(v.state_ids)}))
        return cpds

    def _probability_of_evidence(self, likelihoods: Mapping[str, np.ndarray]) -> float:
        # Chain rule: P(e1..en) = prod_i sum_x P(X_i = x | e_<i) * lambda_i(x).
        p = 1.0
        seen: dict[str, np.ndarray] = {}
        for var, vec in likelihoods.items():
            factor = self._ve.query([var], virtual_evidence=self._virtual(seen) or None, show_progress=False)
            p *= float(np.dot(factor.values, vec))
            if p == 0.0:
                return 0.0
            seen[var] = vec
        return p


def make_engine(network: Network, name: str = "einsum"):
    """An engine by name: ``"einsum"`` (default, fast) or ``"pgmpy"`` (reference)."""
    if name == "einsum":
        return EinsumEngine(network)
    if name == "pgmpy":
        return PgmpyEngine(network)
    raise ValueError(f"unknown engine '{name}' (choose from {', '.join(ENGINES)})")

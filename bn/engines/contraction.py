"""The contraction engine (``"contract"``): one opt_einsum contraction per query over every table.

The engine before the junction tree. It answers ``joint`` and derives the rest from it
(:class:`~bn.engines.base.QueryEngine`); kept because it shares no code with the junction tree, which makes it a
second, independent reference.

>>> import bn
>>> eng = ContractionEngine(bn.load("l4l5_knee").network)
>>> round(float(eng.joint((), {})), 12)
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from bn.engines.base import Likelihoods, QueryEngine
from bn.model import Network


class ContractionEngine(QueryEngine):
    """Exact inference by one opt_einsum contraction per query over every table."""

    name = "contract"

    def __init__(self, network: Network):
        import opt_einsum

        super().__init__(network)
        self.order = list(network.variables)
        self.position = {v: i for i, v in enumerate(self.order)}
        self.cards = [network[v].card for v in self.order]
        self._symbols = [opt_einsum.get_symbol(i) for i in range(len(self.order))]
        self._tables = [np.ascontiguousarray(network[v].cpt, dtype=float) for v in self.order]
        self._table_terms = [
            "".join(self._symbols[self.position[p]] for p in network[v].parents) + self._symbols[self.position[v]]
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

    def joint(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
        """Unnormalised ``P(outputs, evidence)`` as an array with one axis per output variable."""
        vectors = list(self._ones)
        for var, vec in likelihoods.items():
            vectors[self.position[var]] = vec
        return np.asarray(self._expression(tuple(outputs))(*self._tables, *vectors))

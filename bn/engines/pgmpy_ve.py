"""The reference engine (``"pgmpy"``): pgmpy's VariableElimination, slow and independent of the junction tree.

Soft findings enter as pgmpy virtual evidence. It answers ``joint`` and derives the rest from it
(:class:`~bn.engines.base.QueryEngine`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bn.engines.base import Likelihoods, QueryEngine
from bn.model import Network


class PgmpyEngine(QueryEngine):
    """pgmpy's VariableElimination behind the :class:`~bn.engines.base.Engine` protocol."""

    name = "pgmpy"

    def __init__(self, network: Network):
        from pgmpy.inference import VariableElimination

        from bn.converters import to_pgmpy

        super().__init__(network)
        self.model = to_pgmpy(network)
        self._ve = VariableElimination(self.model)

    def joint(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
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

    def _virtual(self, likelihoods: Likelihoods):
        from pgmpy.factors.discrete import TabularCPD

        cpds = []
        for var, vec in likelihoods.items():
            v = self.network[var]
            cpds.append(TabularCPD(var, v.card, np.asarray(vec, dtype=float).reshape(-1, 1),
                                   state_names={var: list(v.state_ids)}))
        return cpds

    def _probability_of_evidence(self, likelihoods: Likelihoods) -> float:
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

"""One case's marginals on a junction tree of its own, planned, built and calibrated in compiled code.

The full tree of a large network is built for every pattern of findings at once: l4l5_knee 2.0.0's has 221,112
clique states, because each of its 34 findings whose parents no core clique holds widens it. One case observes a
handful of findings, and the part of the network relevant to it (the observed and queried variables and their
ancestors, with each observed leaf summed into a factor over its parents) has a tree of a few thousand states.
Planning that tree in Python costs more than the full tree's query (4 ms against 3), so the planning, the tables
and both passes run here as compiled loops (numba), for each case afresh: greedy elimination (min-fill and
min-weight, the smaller kept), the elimination tree, Hugin messages rescaled to a largest entry of 1.

numba is imported on the first query that takes this path (about 0.2 s, plus loading the compiled loops from
numba's cache, or compiling them once per machine): a process that asks one question of a large network, such as
``bn query``, skips it (``CompiledEngine(..., case_tree=False)``).

>>> import bn, numpy as np
>>> net = bn.load("l4l5_knee").network
>>> kernel = CaseTree(net)
>>> marg, log_z = kernel.marginals({"knee_pain": np.array([0.0, 1.0])}, ["knee_pain_from_l4l5"])
>>> marg["knee_pain_from_l4l5"].shape, bool(log_z < 0)
((2,), True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from bn.model import Network, NetworkInfo, State, Variable
from bn.netfile import rows_sum_to_one

# Clique states past which a case's own tree is not built (the caller's full tree answers instead): its tables
# are made for each case, the full tree's once.
CASE_TREE_LIMIT = 200_000
# Relevant variables past which a case's tree is not planned here: greedy elimination over bitsets grows with
# their square (times their number over 64).
CASE_TREE_MAX_VARIABLES = 256


def warm() -> None:
    """Compile the loops into numba's cache, or load them from it (about 7 s the first time on a machine, then
    0.2-0.4 s a process). ``make setup`` runs it (``python -m bn.engines.case_tree``), so that the first clinician
    of a new install does not wait for it."""
    a = Variable("a", (State("x", "x"), State("y", "y")), (), np.array([0.5, 0.5]))
    b = Variable("b", (State("x", "x"), State("y", "y")), ("a",), np.array([[0.9, 0.1], [0.2, 0.8]]))
    CaseTree(Network(NetworkInfo("warm", "warm", "0"), {"a": a, "b": b})).marginals({"b": np.array([0.0, 1.0])},
                                                                                   ["a"])


def available() -> bool:
    """Whether the compiled loops can be loaded: numba installed, and a cache directory it can write (numba
    refuses to define cached functions without one, e.g. a read-only install with no writable home)."""
    try:
        from bn.engines import _case_kernel  # noqa: F401
    except Exception:  # ImportError, or numba's RuntimeError ("cannot cache function")
        return False
    return True


class CaseTree:
    """A network's tables laid out flat for :func:`bn.engines._case_kernel.case_marginals`.

    ``marginals`` answers one case; ``None`` means "not here" (a tree over :data:`CASE_TREE_LIMIT` states), and
    the caller uses its own tree.
    """

    def __init__(self, network: Network, *, limit: int = CASE_TREE_LIMIT, max_variables: int = CASE_TREE_MAX_VARIABLES):
        self.network = network
        self.limit = limit
        self.max_variables = max_variables
        order = list(network.variables)
        self.position = {v: i for i, v in enumerate(order)}
        self.cards = np.array([network[v].card for v in order], dtype=np.int64)
        families, tables = [], []
        for v in order:
            var = network[v]
            families.append([self.position[p] for p in var.parents] + [self.position[v]])
            tables.append(np.ascontiguousarray(var.cpt, dtype=float).ravel())
        self.fam_ptr = np.cumsum([0, *map(len, families)]).astype(np.int64)
        self.fam_vars = np.array([u for f in families for u in f], dtype=np.int64)
        self.cpt_ptr = np.cumsum([0, *(t.size for t in tables)]).astype(np.int64)
        self.cpt_vals = np.concatenate(tables)
        # Dropping barren variables assumes every row sums to 1 (a network built in code or imported from BIF
        # need not): otherwise every case goes to the caller's tree.
        self.normalised = rows_sum_to_one(network)

    def marginals(self, likelihoods: Mapping[str, np.ndarray], variables: Sequence[str]
                  ) -> tuple[dict[str, np.ndarray], float] | None:
        """Normalised marginals ``{variable: (card,)}`` and log P(evidence) for one case given as one likelihood
        vector per variable; NaN marginals and ``-inf`` when a table or message came out all zero (probability
        zero, or an underflow: the engine then asks its full tree); None when the case's tree would be too large,
        a product underflowed (the answer could have lost digits) or the network's rows do not sum to 1.

        Each vector must have the variable's number of entries, finite and non-negative (the engine checks).
        """
        if not self.normalised:
            return None
        from bn.engines import _case_kernel as kernel

        ev_vars = np.array([self.position[v] for v in likelihoods], dtype=np.int64)
        vecs = [np.asarray(a, dtype=float).ravel() for a in likelihoods.values()]
        ev_ptr = np.cumsum([0, *(a.size for a in vecs)]).astype(np.int64)
        ev_vals = np.concatenate(vecs) if vecs else np.zeros(0)
        targets = np.array([self.position[v] for v in variables], dtype=np.int64)
        out = np.empty(int(self.cards[targets].sum()) if targets.size else 0)
        status, log_z = kernel.case_marginals(self.cards, self.fam_ptr, self.fam_vars, self.cpt_ptr, self.cpt_vals,
                                              ev_vars, ev_ptr, ev_vals, targets, float(self.limit),
                                              self.max_variables, out)
        # (an answer that is not finite where it should be is the full tree's to give: never passed on)
        if status in (kernel.TOO_LARGE, kernel.UNDERFLOW) or (
                status == kernel.OK and not (math.isfinite(log_z) and np.isfinite(out).all())):
            return None
        ends = np.cumsum(self.cards[targets]).tolist()
        return ({v: out[b - self.cards[t]:b] for v, t, b in zip(variables, targets.tolist(), ends, strict=True)},
                -math.inf if status == kernel.IMPOSSIBLE else float(log_z))


if __name__ == "__main__":
    warm()

"""OR chains: an equivalent network in which each many-parent noisy-OR is a chain of two-parent steps.

A noisy-OR (or deterministic OR) with parents X1..Xn has the table
``P(off | x) = c * g1(x1) * ... * gn(xn)``. Moralising its family joins every pair of parents, and on a
network where one finding has many causes (quadriceps weakness: a root deficit, an L3 lesion, four knee
conditions, the hip and age) those cliques dominate the junction tree: the l4l5_knee 2.0.0 network's best tree
had a clique of 36,864 states and 230,000 in all. Written as a chain, ``A1 = f(X1)``, ``Ak = f(A(k-1), Xk)``,
``An = Y``, with ``P(Ak off | A(k-1) off, xk) = gk(xk)`` and "on" absorbing, the same distribution needs only
families of three variables (Heckerman and Breese's temporal transformation of causal independence). The
hidden chain steps are appended after the network's own variables, so every variable keeps its index.

The factors are read from the table itself and the chain is kept only when it reproduces the table to 1e-12,
so the rewrite is exact for any table of this form, whatever the file called it.

>>> import bn
>>> net = bn.load("l4l5_knee@1.1.0").network
>>> chained = or_chains(net)
>>> len(chained.variables) > len(net.variables), list(chained.variables)[:len(net.variables)] == list(net.variables)
(True, True)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from bn.model import Network, Variable

MIN_PARENTS = 3  # two parents make a family of three variables already
TOLERANCE = 1e-12
SEPARATOR = "~"  # not allowed in a network file's ids, so a chain step never collides with a variable


def _factors(var: Variable) -> tuple[float, list[np.ndarray]] | None:
    """``(c, [g1..gn])`` with ``P(off | x) = c * prod gk(xk)`` and every ``gk <= 1``, or None when the table
    is not of that form (state 0 is "off", as in noisy-OR tables)."""
    if var.card != 2 or len(var.parents) < MIN_PARENTS:
        return None
    table = np.asarray(var.cpt, dtype=float)
    off = table[..., 0]
    if not _close(table[..., 1], 1.0 - off):
        return None  # not a distribution per row (sensitivity analysis compiles a table of ones)
    base = (0,) * off.ndim
    c = float(off[base])
    if not c > 0.0:
        return None
    factors = []
    for axis in range(off.ndim):
        index = [0] * off.ndim
        index[axis] = slice(None)
        g = off[tuple(index)] / c
        if not (g.max() <= 1.0 + TOLERANCE and g.min() >= 0.0):
            return None
        factors.append(np.minimum(g, 1.0))
    rebuilt = np.full(off.shape, c)
    for axis, g in enumerate(factors):
        rebuilt = rebuilt * g.reshape([-1 if a == axis else 1 for a in range(off.ndim)])
    if not _close(rebuilt, off):
        return None
    return c, factors


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal to :data:`TOLERANCE` everywhere (False for NaN); np.allclose's generality cost most of compiling
    l4l5_knee from its cached plan."""
    return bool(np.abs(a - b).max() <= TOLERANCE)


def _step(vid: str, k: int, states, parents: tuple[str, ...], off: np.ndarray) -> Variable:
    """A chain step: ``off`` is P(off) for each configuration of ``parents``."""
    return Variable(id=vid, states=states, parents=parents, cpt=np.stack([off, 1.0 - off], axis=-1),
                    label=f"{vid} (OR chain step {k})")


def or_chains(network: Network) -> Network | None:
    """The network with every OR-factorisable binary variable of :data:`MIN_PARENTS` or more parents written
    as a chain of two-parent steps (hidden variables ``{id}~{k}`` appended after the network's own); None when
    no variable qualifies. Marginals, P(evidence) and joints of the network's own variables are unchanged."""
    chained: dict[str, Variable] = {}
    hidden: dict[str, Variable] = {}
    for vid, var in network.variables.items():
        found = _factors(var)
        if found is None:
            chained[vid] = var
            continue
        c, factors = found
        parents = var.parents
        previous = f"{vid}{SEPARATOR}1"
        hidden[previous] = _step(previous, 1, var.states, (parents[0],), c * factors[0])
        for k in range(1, len(parents)):
            g = factors[k]
            # rows: previous step off / on; columns: this parent's states. "On" stays on.
            off = np.stack([g, np.zeros_like(g)])
            if k == len(parents) - 1:
                chained[vid] = replace(var, parents=(previous, parents[k]), cpt=np.stack([off, 1.0 - off], axis=-1))
            else:
                name = f"{vid}{SEPARATOR}{k + 1}"
                hidden[name] = _step(name, k + 1, var.states, (previous, parents[k]), off)
                previous = name
    if not hidden:
        return None
    return replace(network, variables={**chained, **hidden})


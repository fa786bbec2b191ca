"""Exact inference engines.

:class:`CompiledEngine` (the default, named ``"einsum"`` for the command line's ``--engine`` choice) compiles
the network once into a junction tree: a greedy triangulation of the moral graph, cliques, and a fixed
message-passing plan over numpy arrays whose first axis is a *batch* of cases. Hard and soft evidence
enter the same way, as one likelihood vector per variable (an indicator for a hard finding), with shape
``(card,)`` for one case or ``(N, card)`` for N cases. One collect pass gives the posterior of any set of
variables that share a clique; a collect and a distribute pass (Hugin) give every single-variable marginal.
Messages are rescaled as they are passed and the scales summed in log space, so ``log P(evidence)`` is exact
even where ``P(evidence)`` underflows a float64.

The plan (:class:`TreePlan`) is plain data (lists of integers) so that :mod:`bn.cache` can store it as JSON;
importing this module costs only numpy.

:class:`ContractionEngine` (``"contract"``) is the previous engine: one opt_einsum contraction per query over
every table. :class:`PgmpyEngine` (``"pgmpy"``) answers with pgmpy's VariableElimination; it is the reference
the fast engine is tested against.

Every engine has ``joint(outputs, likelihoods)`` returning the *unnormalised* table ``P(outputs, evidence)``.

>>> import numpy as np
>>> from bn.model import Network, NetworkInfo, State, Variable
>>> rain = Variable("rain", (State("no", ""), State("yes", "")), (), np.array([0.8, 0.2]))
>>> wet = Variable("wet", (State("no", ""), State("yes", "")), ("rain",), np.array([[0.9, 0.1], [0.2, 0.8]]))
>>> net = Network(NetworkInfo("toy", "1", "0"), {"rain": rain, "wet": wet})
>>> eng = CompiledEngine(net)
>>> post, log_z = eng.marginals({"wet": np.array([0.0, 1.0])})
>>> np.round(post["rain"], 4)            # P(rain | wet = yes), a batch of one case
array([[0.3333, 0.6667]])
>>> round(float(np.exp(log_z[0])), 4)    # P(wet = yes) = 0.8 * 0.1 + 0.2 * 0.8
0.24
>>> batch = {"wet": np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])}   # three cases at once
>>> np.round(eng.marginals(batch, ["rain"])[0]["rain"][:, 1], 4)
array([0.0526, 0.6667, 0.2   ])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Any

import numpy as np

from bn.errors import BNError
from bn.model import Network

ENGINES = ("einsum", "contract", "pgmpy")

# A clique table of 2**26 float64 entries is 512 MB for a single case; beyond that a network is out of reach
# for exact inference on the machines this tool targets.
MAX_CLIQUE_ENTRIES = 1 << 26
MAX_TOTAL_ENTRIES = 1 << 27

Likelihoods = Mapping[str, np.ndarray]


class NetworkTooLargeError(BNError):
    """The network's junction tree does not fit in memory (its treewidth is too large)."""


# -- the plan: triangulation and junction tree (plain data) ----------------------------------------------------

@dataclass(frozen=True)
class TreePlan:
    """A junction tree over variable indices: everything the engine needs, as JSON-able integers.

    ``cliques[c]`` is sorted; ``parent[c]`` is ``-1`` for the root of each connected component;
    ``assign[v]`` holds variable v's table and evidence; ``home[v]`` is the smallest clique containing v;
    ``target`` is the clique that contains the extra variable set the plan was built for (``-1``: none).
    """

    cliques: tuple[tuple[int, ...], ...]
    parent: tuple[int, ...]
    assign: tuple[int, ...]
    home: tuple[int, ...]
    target: int = -1

    def to_json(self) -> dict[str, Any]:
        return {"cliques": [list(c) for c in self.cliques], "parent": list(self.parent),
                "assign": list(self.assign), "home": list(self.home), "target": self.target}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TreePlan:
        return cls(tuple(tuple(int(x) for x in c) for c in data["cliques"]), tuple(int(x) for x in data["parent"]),
                   tuple(int(x) for x in data["assign"]), tuple(int(x) for x in data["home"]), int(data["target"]))

    def sizes(self, cards: Sequence[int]) -> list[int]:
        return [math.prod(cards[v] for v in c) for c in self.cliques]


def _eliminate(adjacency: list[set[int]], log_cards: list[float], rule: str) -> list[tuple[int, frozenset[int]]]:
    """A greedy elimination order: ``rule`` is "fill" (fewest fill-in edges, then lightest) or "weight"."""
    adj = [set(a) for a in adjacency]

    def fill(v: int) -> int:
        nb = adj[v]
        return sum(1 for a, b in combinations(nb, 2) if b not in adj[a])

    def score(v: int) -> tuple[float, float]:
        weight = log_cards[v] + sum(log_cards[u] for u in adj[v])
        return (fill(v), weight) if rule == "fill" else (weight, fill(v))

    scores = {v: score(v) for v in range(len(adj))}
    out = []
    while scores:
        v = min(scores, key=scores.__getitem__)
        nb = frozenset(adj[v])
        out.append((v, nb))
        del scores[v]
        for a in nb:
            adj[a] |= nb
            adj[a].discard(a)
            adj[a].discard(v)
        # Fill-in changes the fill count of every vertex next to a new edge, i.e. neighbours of neighbours.
        touched = set(nb)
        if rule == "fill":
            for a in nb:
                touched |= adj[a]
        for u in touched:
            if u in scores:
                scores[u] = score(u)
    return out


def plan_junction_tree(cards: Sequence[int], families: Iterable[Iterable[int]], extra: Iterable[int] = (),
                       name: str = "network") -> TreePlan:
    """Triangulate the moral graph (best of min-fill and min-weight) and build a junction tree.

    ``families`` lists, per variable, the variable and its parents (as indices); ``extra`` is a set of
    variables that must share one clique (for joint queries over them). Raises NetworkTooLargeError when
    the largest clique or the whole tree would not fit in memory.

    >>> plan = plan_junction_tree([2, 2, 2], [[0], [0, 1], [1, 2]])
    >>> sorted(plan.cliques)
    [(0, 1), (1, 2)]
    """
    n = len(cards)
    families = [list(f) for f in families]
    extra = sorted(set(extra))
    adjacency: list[set[int]] = [set() for _ in range(n)]
    for group in [*families, extra]:
        for a in group:
            adjacency[a].update(group)
    for v in range(n):
        adjacency[v].discard(v)
    log_cards = [math.log(c) for c in cards]
    best = None
    for rule in ("fill", "weight"):
        order = _eliminate(adjacency, log_cards, rule)
        total = sum(math.prod(cards[u] for u in nb) * cards[v] for v, nb in order)
        if best is None or total < best[0]:
            best = (total, order)
    total, order = best
    largest = max((len(nb) + 1, math.prod(cards[u] for u in nb) * cards[v]) for v, nb in order) if order else (0, 0)
    if largest[1] > MAX_CLIQUE_ENTRIES or total > MAX_TOTAL_ENTRIES:
        raise NetworkTooLargeError(
            f"{name} is out of reach for exact inference: its best junction tree found has a clique of "
            f"{largest[0]} variables ({largest[1]:,} states; treewidth {largest[0] - 1}) and {total:,} states in "
            f"all (limits {MAX_CLIQUE_ENTRIES:,} per clique, {MAX_TOTAL_ENTRIES:,} in all)")
    return _tree_from_elimination(order, families, extra, cards)


def _tree_from_elimination(order, families, extra, cards) -> TreePlan:
    n = len(cards)
    pos = {v: i for i, (v, _) in enumerate(order)}
    cliques = [frozenset(nb | {v}) for v, nb in order]
    parent = [min((pos[u] for u in nb), default=-1) for _, nb in order]
    children: list[set[int]] = [set() for _ in order]
    for i, p in enumerate(parent):
        if p >= 0:
            children[p].add(i)
    alive = [True] * len(order)
    alias = list(range(len(order)))
    # An elimination clique can be a subset of its child's (never the reverse): the child absorbs it.
    for i in range(len(order)):
        while parent[i] >= 0 and cliques[parent[i]] <= cliques[i]:
            p = parent[i]
            alive[p] = False
            alias[p] = i
            parent[i] = parent[p]
            if parent[p] >= 0:
                children[parent[p]].discard(p)
                children[parent[p]].add(i)
            for c in children[p]:
                if c != i:
                    parent[c] = i
                    children[i].add(c)
            children[p] = set()

    def resolve(i: int) -> int:
        while not alive[i]:
            i = alias[i]
        return i

    kept = [i for i in range(len(order)) if alive[i]]
    new_id = {old: k for k, old in enumerate(kept)}
    out_cliques = tuple(tuple(sorted(cliques[i])) for i in kept)
    out_parent = tuple(new_id[parent[i]] if parent[i] >= 0 else -1 for i in kept)
    assign = tuple(new_id[resolve(min(pos[u] for u in family))] for family in families)
    home = []
    for v in range(n):
        containing = [k for k, c in enumerate(out_cliques) if v in c]
        home.append(min(containing, key=lambda k: (math.prod(cards[u] for u in out_cliques[k]), k)))
    target = new_id[resolve(min(pos[u] for u in extra))] if extra else -1
    return TreePlan(out_cliques, out_parent, assign, tuple(home), target)


def network_plan(network: Network, extra: Iterable[str] = ()) -> TreePlan:
    """The junction-tree plan of a network (optionally with ``extra`` variables forced into one clique)."""
    index = {v: i for i, v in enumerate(network.variables)}
    cards = [network[v].card for v in network.variables]
    families = [[index[p] for p in var.parents] + [index[vid]] for vid, var in network.variables.items()]
    return plan_junction_tree(cards, families, [index[v] for v in extra], name=network.id)


# -- the runtime tree --------------------------------------------------------------------------------------------

class _Tree:
    """A plan turned into arrays and precomputed axis bookkeeping; evaluation is a fixed list of numpy ops."""

    def __init__(self, plan: TreePlan, network: Network):
        self.plan = plan
        order = list(network.variables)
        cards = [network[v].card for v in order]
        index = {v: i for i, v in enumerate(order)}
        self.cliques = plan.cliques
        self.shapes = [tuple(cards[v] for v in c) for c in plan.cliques]
        self.sizes = [math.prod(s) for s in self.shapes]
        # Cases per pass for large batches: all clique tables of a chunk in about 4 MB (256 cases on l4l5_knee).
        self.chunk = max(64, min(4096, (1 << 19) // max(sum(self.sizes), 1)))
        self._marginal_P: dict[int, np.ndarray | None] = {}
        base = [np.ones(s) for s in self.shapes]
        for vid, var in network.variables.items():
            c = plan.assign[index[vid]]
            family = [index[p] for p in var.parents] + [index[vid]]
            base[c] = base[c] * _broadcast(np.asarray(var.cpt, dtype=float), family, plan.cliques[c], cards)
        # The batch axis is last: every operation then runs over contiguous vectors of N cases, where a leading
        # batch axis would make numpy reduce runs of 2 or 3 numbers at a time (ten times slower at N = 10,000).
        self.base = [b[..., None] for b in base]
        self.evidence_shape = []
        for v in range(len(order)):
            c = plan.home[v]  # evidence goes to the smallest clique holding v: fewer numbers to multiply
            self.evidence_shape.append(tuple(cards[u] if u == v else 1 for u in plan.cliques[c]))
        neighbours: list[list[int]] = [[] for _ in plan.cliques]
        for c, p in enumerate(plan.parent):
            if p >= 0:
                neighbours[c].append(p)
                neighbours[p].append(c)
        self.neighbours = neighbours
        self.roots = [c for c, p in enumerate(plan.parent) if p < 0]
        self._edges: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._schedules: dict[int, tuple[list[tuple[int, int]], list[int]]] = {}
        self._components: list[int] | None = None
        self._prior_messages: dict[tuple[int, int], np.ndarray] = {}
        self.marginal_axes = []
        for v in range(len(order)):
            c = plan.home[v]
            self.marginal_axes.append(tuple(k for k, u in enumerate(plan.cliques[c]) if u != v))

    def edge(self, a: int, b: int):
        """How a message a -> b is made: ``(P, idx, axes, shape, sep)``.

        Messages are ``(separator states, N)`` arrays. Between small cliques (all of l4l5_knee) the message is
        one matrix product ``P @ clique a`` and is laid over clique b by one gather ``message[idx]``: numpy's
        ``sum(axis=...)`` over a tuple of axes costs several microseconds of Python-side dispatch per call, which
        across ~50 cliques and two passes was most of a single case's time. Large cliques (andes, pathfinder)
        would need huge dense ``P`` and keep the axis sum (``P`` is None) and a broadcast multiply.
        """
        key = (a, b)
        if key not in self._edges:
            sep = set(self.cliques[a]) & set(self.cliques[b])
            axes = tuple(k for k, u in enumerate(self.cliques[a]) if u not in sep)
            shape = tuple(s if u in sep else 1 for u, s in zip(self.cliques[b], self.shapes[b]))
            sep_size = math.prod(shape)
            P = idx = None
            if self.sizes[a] * sep_size <= _DENSE_LIMIT:
                P = _projection(self.shapes[a], [u in sep for u in self.cliques[a]])
                idx = _gather_index(self.shapes[b], [u in sep for u in self.cliques[b]])
            self._edges[key] = (P, idx, axes, shape, sep_size)
        return self._edges[key]

    def schedule(self, root: int) -> tuple[list[tuple[int, int]], list[int]]:
        """Collect order (child, parent) with ``root`` as the root of its component, and the roots."""
        if root not in self._schedules:
            roots = [root] + [r for r in self.roots if self._component(r) != self._component(root)]
            edges: list[tuple[int, int]] = []
            for r in roots:
                stack, seen, visit = [(r, -1)], {r}, []
                while stack:
                    node, up = stack.pop()
                    visit.append((node, up))
                    for nb in self.neighbours[node]:
                        if nb not in seen:
                            seen.add(nb)
                            stack.append((nb, node))
                edges += [(node, up) for node, up in reversed(visit) if up >= 0]
            self._schedules[root] = (edges, roots)
        return self._schedules[root]

    def _component(self, c: int) -> int:
        if self._components is None:
            self._components = [-1] * len(self.cliques)
            for r in self.roots:
                stack = [r]
                self._components[r] = r
                while stack:
                    node = stack.pop()
                    for nb in self.neighbours[node]:
                        if self._components[nb] < 0:
                            self._components[nb] = r
                            stack.append(nb)
        return self._components[c]

    def collect(self, lik: Mapping[int, np.ndarray], root: int, scaled: bool = False):
        """Absorb evidence and pass messages to ``root``: (potentials, messages, log scale, roots).

        Messages out of subtrees without evidence do not depend on the case: they are computed once and
        reused. With ``scaled`` every message is divided by its largest entry and the log scales summed.
        """
        pots = list(self.base)
        owned: set[int] = set()
        touched = set()
        for v, vec in lik.items():
            c = self.plan.home[v]
            touched.add(c)
            _multiply(pots, owned, c, np.ascontiguousarray(vec.T).reshape((*self.evidence_shape[v], vec.shape[0])))
        edges, roots = self.schedule(root)
        log_scale = np.zeros(1)
        messages = {}
        sizes = self.sizes
        for child, up in edges:
            P, idx, axes, shape, sep = self.edge(child, up)
            if child in touched:
                touched.add(up)
                m = _message(pots[child], P, axes, sizes[child], sep)
                if scaled:
                    m, log_scale = _rescaled(m, log_scale)
            else:
                m = self._prior_messages.get((child, up))
                if m is None:
                    m = self._prior_messages[child, up] = _message(pots[child], P, axes, sizes[child], sep)
            messages[child, up] = m
            n = m.shape[-1]
            _multiply(pots, owned, up, m[idx].reshape((*self.shapes[up], n)) if idx is not None and n <= _FEW
                      else m.reshape((*shape, n)))
        messages[_OWNED] = owned  # which potentials distribute() may update in place
        return pots, messages, log_scale, roots

    def distribute(self, pots: list[np.ndarray], messages, root: int, needed: Iterable[int] | None = None,
                   scaled: bool = False) -> None:
        """Hugin's distribute pass, in place: clique potentials become proportional to P(clique, e).

        Only the paths from the root to the ``needed`` cliques are updated (all cliques when None).
        """
        edges, _ = self.schedule(root)
        if needed is not None:
            wanted = set(needed)
            up_of = {child: up for child, up in edges}
            for c in list(wanted):
                while c in up_of and up_of[c] not in wanted:
                    c = up_of[c]
                    wanted.add(c)
        sizes, owned = self.sizes, messages[_OWNED]
        for child, up in reversed(edges):
            if needed is not None and child not in wanted:
                continue
            P, idx, axes, shape, sep = self.edge(up, child)
            new = _message(pots[up], P, axes, sizes[up], sep)
            # Where the upward message is 0 so is the new one (it is a factor of it): 0/0 must give 0, and
            # flooring the divisor gives that with one operation.
            ratio = new / np.maximum(messages[child, up], 1e-300)
            if scaled:
                ratio, _ = _rescaled(ratio, None)
            n = ratio.shape[-1]
            _multiply(pots, owned, child, ratio[idx].reshape((*self.shapes[child], n))
                      if idx is not None and n <= _FEW else ratio.reshape((*shape, n)))

    def marginal(self, pots: list[np.ndarray], v: int) -> np.ndarray:
        """Unnormalised ``(card, N)`` marginal of variable v from its home clique."""
        c = self.plan.home[v]
        P = self._marginal_P.get(v)
        if P is None and v not in self._marginal_P:
            members = self.cliques[c]
            P = self._marginal_P[v] = (_projection(self.shapes[c], [u == v for u in members])
                                       if self.sizes[c] * self.shapes[c][members.index(v)] <= _DENSE_LIMIT
                                       else None)
        pot = pots[c]
        if P is not None and pot.shape[-1] <= _FEW:
            return P @ pot.reshape(self.sizes[c], pot.shape[-1])
        axes = self.marginal_axes[v]
        return np.add.reduce(pot, axis=axes) if axes else pot

    @staticmethod
    def log_evidence(pots: list[np.ndarray], log_scale: np.ndarray, roots: list[int]) -> np.ndarray:
        out = log_scale
        with np.errstate(divide="ignore"):
            for r in roots:
                out = out + np.log(pots[r].reshape(-1, pots[r].shape[-1]).sum(axis=0))
        return out


_LOG_SAFE = math.log(1e-280)
_OWNED = (-1, -1)
# A dense 0/1 projection (a matrix product) beats numpy's axis sum for one case or a few while it is small;
# for larger matrices or batches it does separator-times more work than the sum (and wakes BLAS threads).
_DENSE_LIMIT = 1 << 12
_FEW = 8


def _projection(shape: Sequence[int], keep: Sequence[bool]) -> np.ndarray:
    """0/1 matrix (kept states, all states): ``P @ table.reshape(size, N)`` sums out the axes not kept."""
    index = _gather_index(shape, keep)
    out = np.zeros((math.prod(s for s, k in zip(shape, keep) if k), index.size))
    out[index, np.arange(index.size)] = 1.0
    return out


def _gather_index(shape: Sequence[int], keep: Sequence[bool]) -> np.ndarray:
    """For each state of a table of ``shape`` (C order), the index of its kept-axes sub-state (C order)."""
    grids = np.indices(tuple(shape)).reshape(len(shape), -1)
    out = np.zeros(grids.shape[1], dtype=np.intp)
    for k, s in enumerate(shape):
        if keep[k]:
            out = out * s + grids[k]
    return out


def _message(pot: np.ndarray, P: np.ndarray | None, axes: tuple[int, ...], size: int, sep: int) -> np.ndarray:
    """A clique table summed onto a separator, as ``(separator states, N)``."""
    n = pot.shape[-1]
    if P is not None and n <= _FEW:
        return P @ pot.reshape(size, n)
    # np.add.reduce: ndarray.sum goes through a Python wrapper that costs as much as the sum on small cliques.
    return (np.add.reduce(pot, axis=axes) if axes else pot.copy()).reshape(sep, n)


def _multiply(pots: list[np.ndarray], owned: set[int], c: int, factor: np.ndarray) -> None:
    """``pots[c] *= factor``, in place once the array is ours and already batch-sized.

    Allocating a fresh clique-by-batch array for every factor costs more than the multiplication (page faults
    on tens of megabytes); the compiled base tables are shared and must never be written to.
    """
    p = pots[c]
    if c in owned and (p.shape[-1] == factor.shape[-1] or factor.shape[-1] == 1):
        p *= factor
    else:
        pots[c] = p * factor
        owned.add(c)


def _batched(arr: np.ndarray, size: int) -> np.ndarray:
    return arr if arr.shape[0] == size else np.broadcast_to(arr, (size, *arr.shape[1:]))


def _rescaled(m: np.ndarray, log_scale: np.ndarray | None):
    """``m`` divided by its largest entry per case (kept at 1 where all zero) and the log scale updated."""
    top = m.reshape(-1, m.shape[-1]).max(axis=0)
    top = np.where(top > 0, top, 1.0)
    m = m / top
    if log_scale is not None:
        log_scale = log_scale + np.log(top)
    return m, log_scale


def _broadcast(table: np.ndarray, variables: Sequence[int], clique: Sequence[int], cards: Sequence[int]):
    """``table`` (axes ``variables``) transposed and reshaped to broadcast over a clique's (sorted) axes."""
    perm = sorted(range(len(variables)), key=lambda k: variables[k])
    shape = tuple(cards[u] if u in variables else 1 for u in clique)
    return np.transpose(table, perm).reshape(shape)


# -- the engine ----------------------------------------------------------------------------------------------

class CompiledEngine:
    """Junction-tree inference compiled once per network, with a batch axis. The default engine.

    Evidence is ``{variable: likelihood}`` with arrays of shape ``(card,)`` (one case) or ``(N, card)``
    (N cases). Results carry a leading batch axis of N (1 when every vector is one case).

    >>> import bn
    >>> eng = CompiledEngine(bn.load("l4l5_knee").network)
    >>> round(float(eng.joint((), {})), 12)           # P(no evidence) = 1
    1.0
    >>> post, log_z = eng.marginals({"knee_pain": np.array([0.0, 1.0])}, ["knee_pain_from_l4l5"])
    >>> post["knee_pain_from_l4l5"].shape, log_z.shape
    ((1, 2), (1,))
    """

    name = "einsum"
    compiled = True

    def __init__(self, network: Network, plan: TreePlan | None = None,
                 extra_plans: Mapping[frozenset[str], TreePlan] | None = None):
        self.network = network
        self.order = list(network.variables)
        self.position = {v: i for i, v in enumerate(self.order)}
        self.cards = [network[v].card for v in self.order]
        self.plan = plan if plan is not None else network_plan(network)
        self._tree = _Tree(self.plan, network)
        self._extra_plans = dict(extra_plans or {})
        self._extra_trees: dict[frozenset[str], _Tree] = {}

    def extra_plan(self, outputs: Iterable[str]) -> TreePlan:
        """The plan answering a joint query over ``outputs`` (built now unless given to the constructor)."""
        key = frozenset(outputs)
        if key not in self._extra_plans:
            self._extra_plans[key] = network_plan(self.network, sorted(key, key=self.position.get))
        return self._extra_plans[key]

    # -- evidence -------------------------------------------------------------------------------------------
    def _indexed(self, likelihoods: Likelihoods) -> tuple[dict[int, np.ndarray], int]:
        out, size = {}, 1
        for var, vec in likelihoods.items():
            arr = np.asarray(vec, dtype=float)
            if arr.ndim == 1:
                arr = arr[None]
            if arr.shape[0] != 1:
                if size not in (1, arr.shape[0]):
                    raise ValueError(f"evidence for {var} has {arr.shape[0]} cases, others have {size}")
                size = arr.shape[0]
            out[self.position[var]] = arr
        return out, size

    # -- queries ---------------------------------------------------------------------------------------------
    def _solve(self, lik: dict[int, np.ndarray], size: int, run) -> tuple[dict[Any, np.ndarray], np.ndarray]:
        """``run(lik, scaled)`` without rescaling, then again with it for the cases whose P(e) is tiny or 0.

        Unscaled numbers are exact while P(e) stays far above the smallest float64 (1e-308); cases below
        1e-280 (or impossible ones, to confirm the zero) are recomputed with every message rescaled.
        """
        out, log_z = run(lik, False)
        bad = ~(log_z > _LOG_SAFE)
        if not bad.any():
            return out, log_z
        rows = np.flatnonzero(np.broadcast_to(bad, (size,)))
        sub = {v: (a[rows] if a.shape[0] > 1 else a) for v, a in lik.items()}
        again, log_again = run(sub, True)
        merged = {}
        for key, arr in out.items():
            full = np.array(np.broadcast_to(arr, (size, *arr.shape[1:])))
            full[rows] = again[key]
            merged[key] = full
        log_full = np.array(np.broadcast_to(log_z, (size,)))
        log_full[rows] = log_again
        return merged, log_full

    def marginals(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None
                  ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Normalised marginals ``{variable: (N, card)}`` and ``log P(evidence)`` ``(N,)``, in one pass.

        Cases with probability zero get NaN marginals and ``-inf`` log probability.
        """
        variables = self.order if variables is None else list(variables)
        lik, size = self._indexed(likelihoods)
        tree = self._tree
        chunk = tree.chunk
        if size > chunk:
            # Clique-by-batch arrays of a few MB stay in the CPU cache; at 10,000 cases they do not, and every
            # pass then runs at memory speed (half the throughput measured at 100 cases on l4l5_knee).
            parts = [self.marginals({self.order[v]: (a[s:s + chunk] if a.shape[0] > 1 else a) for v, a in lik.items()},
                                    variables) for s in range(0, size, chunk)]
            return ({v: np.concatenate([p[0][v] for p in parts]) for v in variables},
                    np.concatenate([p[1] for p in parts]))
        idx = [self.position[v] for v in variables]
        homes = {tree.plan.home[i] for i in idx}
        root = next(iter(homes)) if len(homes) == 1 else (tree.roots[0] if tree.roots else 0)

        def run(lik, scaled):
            pots, messages, log_scale, roots = tree.collect(lik, root, scaled)
            log_z = tree.log_evidence(pots, log_scale, roots)
            if len(homes) > 1:
                tree.distribute(pots, messages, root, None if len(variables) == len(self.order) else homes, scaled)
            out = {}
            with np.errstate(invalid="ignore", divide="ignore"):
                for v, i in zip(variables, idx):
                    m = tree.marginal(pots, i)
                    m = m.reshape(m.shape[0], -1)
                    out[v] = (m / m.sum(axis=0)).T
            return out, log_z

        out, log_z = self._solve(lik, size, run)
        return ({v: _batched(m, size) for v, m in out.items()}, _batched(log_z, size))

    def posterior(self, outputs: Sequence[str], likelihoods: Likelihoods) -> tuple[np.ndarray, np.ndarray]:
        """Normalised ``P(outputs | evidence)`` with shape ``(N, *cards)`` and ``log P(evidence)`` ``(N,)``."""
        lik, size = self._indexed(likelihoods)
        idx = [self.position[v] for v in outputs]
        tree, clique = self._tree_for(outputs)
        members = tree.cliques[clique]
        axes = tuple(k for k, u in enumerate(members) if u not in idx)
        kept = [u for u in members if u in idx]
        perm = [len(kept)] + [kept.index(u) for u in idx]

        def run(lik, scaled):
            pots, _, log_scale, roots = tree.collect(lik, clique, scaled)
            log_z = tree.log_evidence(pots, log_scale, roots)
            table = pots[clique].sum(axis=axes) if axes else pots[clique]
            table = np.transpose(table, perm)
            with np.errstate(invalid="ignore", divide="ignore"):
                total = table.reshape(table.shape[0], -1).sum(axis=1)
                table = table / total.reshape((-1,) + (1,) * len(idx))
            return {"table": table}, log_z

        out, log_z = self._solve(lik, size, run)
        return _batched(out["table"], size), _batched(log_z, size)

    def log_probability_of_evidence(self, likelihoods: Likelihoods) -> np.ndarray:
        """``log P(evidence)`` per case, shape ``(N,)``; ``-inf`` for impossible evidence, never NaN."""
        lik, size = self._indexed(likelihoods)
        tree = self._tree
        root = tree.roots[0] if tree.roots else 0

        def run(lik, scaled):
            pots, _, log_scale, roots = tree.collect(lik, root, scaled)
            return {}, tree.log_evidence(pots, log_scale, roots)

        return _batched(self._solve(lik, size, run)[1], size)

    def joint(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
        """Unnormalised ``P(outputs, evidence)`` for one case, one axis per output (may underflow to 0)."""
        if not outputs:
            return np.asarray(math.exp(float(self.log_probability_of_evidence(likelihoods)[0])))
        table, log_z = self.posterior(outputs, likelihoods)
        if not np.isfinite(log_z[0]):
            return np.zeros([self.cards[self.position[v]] for v in outputs])
        return np.asarray(table[0]) * math.exp(float(log_z[0]))

    def _tree_for(self, outputs: Sequence[str]) -> tuple[_Tree, int]:
        idx = {self.position[v] for v in outputs}
        if len(idx) == 1:
            i = next(iter(idx))
            return self._tree, self._tree.plan.home[i]
        for c, members in enumerate(self._tree.cliques):
            if idx <= set(members):
                return self._tree, c
        key = frozenset(outputs)
        if key not in self._extra_trees:
            if len(self._extra_trees) > 64:
                self._extra_trees.clear()
            self._extra_trees[key] = _Tree(self.extra_plan(key), self.network)
        tree = self._extra_trees[key]
        return tree, tree.plan.target

    def outcome_posteriors(self, targets: Sequence[str], candidates: Sequence[str], likelihoods: Likelihoods
                           ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """For each candidate finding F and state f: P(F=f | e) and P(target | e, F=f), in one batch.

        Returns ``(p_outcome, posteriors)``: ``p_outcome[F]`` has shape ``(card_F,)``;
        ``posteriors[F][target]`` has shape ``(card_F, card_target)`` (NaN rows where P(F=f | e) = 0).
        ``likelihoods`` describe one case.
        """
        rows = sum(self.cards[self.position[f]] for f in candidates)
        batch: dict[str, np.ndarray] = {k: np.asarray(v, dtype=float).reshape(1, -1) for k, v in likelihoods.items()}
        start = 1
        for f in candidates:
            card = self.cards[self.position[f]]
            vec = np.ones((1 + rows, card))
            vec[start:start + card] = 0.0
            vec[np.arange(start, start + card), np.arange(card)] = 1.0
            if f in batch:
                vec = vec * batch[f]
            batch[f] = vec
            start += card
        post, log_z = self.marginals(batch, list(targets))
        with np.errstate(invalid="ignore", over="ignore"):
            p_all = np.exp(log_z[1:] - log_z[0])
        p_outcome, posteriors, start = {}, {}, 1
        for f in candidates:
            card = self.cards[self.position[f]]
            p_outcome[f] = np.nan_to_num(p_all[start - 1:start - 1 + card])
            posteriors[f] = {t: np.asarray(post[t][start:start + card]) for t in targets}
            start += card
        return p_outcome, posteriors


class ContractionEngine:
    """Exact inference by one opt_einsum contraction per query over every table (the previous engine).

    >>> import bn
    >>> eng = ContractionEngine(bn.load("l4l5_knee").network)
    >>> float(eng.joint((), {}))
    1.0
    """

    name = "contract"
    compiled = False

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

    def joint(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
        """Unnormalised ``P(outputs, evidence)`` as an array with one axis per output variable."""
        vectors = list(self._ones)
        for var, vec in likelihoods.items():
            vectors[self.position[var]] = vec
        return np.asarray(self._expression(tuple(outputs))(*self._tables, *vectors))


# Kept for code that imported the old name.
EinsumEngine = ContractionEngine


class PgmpyEngine:
    """The reference: pgmpy's VariableElimination (slow, independent of the compiled engine)."""

    name = "pgmpy"
    compiled = False

    def __init__(self, network: Network):
        from pgmpy.inference import VariableElimination

        from bn.compile import to_pgmpy

        self.network = network
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


def make_engine(network: Network, name: str = "einsum", plan: TreePlan | None = None,
                extra_plans: Mapping[frozenset[str], TreePlan] | None = None):
    """An engine by name: ``"einsum"`` (default: the compiled junction tree), ``"contract"`` or ``"pgmpy"``.

    ``plan`` and ``extra_plans`` are precompiled junction trees for the compiled engine (from :mod:`bn.cache`).
    """
    if name == "einsum":
        return CompiledEngine(network, plan, extra_plans)
    if name == "contract":
        return ContractionEngine(network)
    if name == "pgmpy":
        return PgmpyEngine(network)
    raise ValueError(f"unknown engine '{name}' (choose from {', '.join(ENGINES)})")

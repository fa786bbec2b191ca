"""The junction-tree engine, the default: exact inference compiled once per network, with a batch axis.

:class:`CompiledEngine` (registered as ``"einsum"``, the command line's ``--engine`` choice) compiles
the network once into a junction tree: a greedy triangulation of the moral graph, cliques, and a fixed
message-passing plan over one flat table of every clique's states, ordered level by level from the tree's
centre, with a last axis for a *batch* of cases. Hard and soft evidence enter the same way, as one likelihood
vector per variable (an indicator for a hard finding), with shape ``(card,)`` for one case or ``(N, card)``
for N cases. A collect pass to the centre and a distribute pass (Hugin) back to the cliques a query needs give
the posterior of any set of variables that share a clique, or every single-variable marginal. One case on a
small network passes each level's messages with a few whole-level numpy calls; batches and large networks work
clique by clique, by broadcasting. Messages are rescaled where needed and the scales summed in log space, so
``log P(evidence)`` is exact even where ``P(evidence)`` underflows a float64.

The plan (:class:`TreePlan`) is plain data (lists of integers) so that :mod:`bn.cache` can store it as JSON;
importing this module costs only numpy.

It implements the :class:`~bn.engines.base.Engine` protocol natively; the other engines
(:mod:`bn.engines.contraction`, :mod:`bn.engines.pgmpy_ve`) derive it from one ``joint`` query.

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

import contextlib
import math
import random
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np

from bn import limits
from bn.engines.base import Likelihoods
from bn.errors import BNError
from bn.model import Network
from bn.netfile import rows_sum_to_one

if TYPE_CHECKING:
    from bn.engines.case_tree import CaseTree
    from bn.engines.requisite import Requisite

# A clique table of 2**26 float64 entries is 512 MB for a single case; beyond that a network is out of reach
# for exact inference on the machines this tool targets.
TIE_BREAK_RETRIES = 8


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


def _eliminate(adjacency: list[set[int]], log_cards: list[float], rule: str, rank: Sequence[int] | None = None
               ) -> list[tuple[int, frozenset[int]]]:
    """A greedy elimination order: ``rule`` is "fill" (fewest fill-in edges, then lightest) or "weight";
    remaining ties go to the lowest ``rank`` (default: the variable's index)."""
    adj = [set(a) for a in adjacency]

    def fill(v: int) -> int:
        nb = adj[v]
        if len(nb) <= 8:
            return sum(1 for a, b in combinations(nb, 2) if b not in adj[a])
        # A wide neighbourhood (a joint query's forced clique) by set differences, which run in C: each neighbour
        # counts those it is not joined to, itself included, so every missing edge twice plus one per neighbour.
        return (sum(len(nb - adj[a]) for a in nb) - len(nb)) // 2

    def score(v: int) -> tuple[float, float, int]:
        weight = log_cards[v] + sum(log_cards[u] for u in adj[v])
        tie = v if rank is None else rank[v]
        return (fill(v), weight, tie) if rule == "fill" else (weight, fill(v), tie)

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
    most = limits.current()
    families = [list(f) for f in families]
    extra = sorted(set(extra))
    adjacency: list[set[int]] = [set() for _ in range(n)]
    for group in [*families, extra]:
        for a in group:
            adjacency[a].update(group)
    for v in range(n):
        adjacency[v].discard(v)
    log_cards = [math.log(c) for c in cards]

    def triangulated(rank: Sequence[int] | None):
        out = None
        for rule in ("fill", "weight"):
            order = _eliminate(adjacency, log_cards, rule, rank)
            total = sum(math.prod(cards[u] for u in nb) * cards[v] for v, nb in order)
            largest = max(((len(nb) + 1, math.prod(cards[u] for u in nb) * cards[v]) for v, nb in order),
                          default=(0, 0))
            if out is None or total < out[0]:
                out = (total, largest, order)
        return out

    def too_large(plan) -> bool:
        return plan[1][1] > most.clique_entries or plan[0] > most.tree_entries

    best = triangulated(None)
    # Greedy triangulation depends on how ties are broken, so on the order the variables are listed in (link
    # in one order needs a clique of 2^27 states, in another 2^24). Before refusing a network, try seeded
    # random tie-breaks: the same file always compiles to the same tree.
    rng = random.Random(0)
    for _ in range(TIE_BREAK_RETRIES if too_large(best) else 0):
        rank = list(range(n))
        rng.shuffle(rank)
        candidate = triangulated(rank)
        if candidate[0] < best[0]:
            best = candidate
        if not too_large(best):
            break
    total, largest, order = best
    if too_large(best):
        raise NetworkTooLargeError(
            f"{name} is out of reach for exact inference: its best junction tree found has a clique of "
            f"{largest[0]} variables ({largest[1]:,} states; treewidth {largest[0] - 1}) and {total:,} states in "
            f"all (limits clique_entries {most.clique_entries:,} and tree_entries {most.tree_entries:,})")
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


def engine_plan(network: Network) -> TreePlan:
    """The plan the compiled engine runs: over the network itself, or over its OR chains
    (:func:`bn.decompose.or_chains`) when their junction tree has fewer clique states in all.

    A plan over the chains covers more variables than the network has; :class:`CompiledEngine` tells the two
    apart by that, so a plan from the cache needs nothing else.
    """
    from bn.decompose import or_chains

    plan = network_plan(network)
    chained = or_chains(network)
    if chained is None:
        return plan
    try:
        other = network_plan(chained)
    except NetworkTooLargeError:
        return plan
    cost = sum(plan.sizes([network[v].card for v in network.variables]))
    return other if sum(other.sizes([chained[v].card for v in chained.variables])) < cost else plan


def _inner_network(network: Network, plan: TreePlan) -> Network:
    """The network a plan was made for: ``network`` or its OR chains."""
    if len(plan.assign) == len(network.variables):
        return network
    from bn.decompose import or_chains

    chained = or_chains(network)
    if chained is None or len(chained.variables) != len(plan.assign):
        raise ValueError(f"this plan covers {len(plan.assign)} variables; {network.id} has "
                         f"{len(network.variables)}")
    return chained


# -- the runtime tree --------------------------------------------------------------------------------------------

class LRU(OrderedDict):
    """A bounded cache that evicts the least recently used entry, one at a time (an engine is shared by every
    session of the app, so nothing on it may grow without bound, and clearing all at once would make every
    session pay again).

    >>> cache = LRU(2)
    >>> _ = cache.get_or("a", lambda: 1), cache.get_or("b", lambda: 2), cache.get_or("a", lambda: 0)
    >>> _ = cache.get_or("c", lambda: 3)          # evicts "b", the least recently used
    >>> list(cache)
    ['a', 'c']
    """

    def __init__(self, maxsize: int):
        super().__init__()
        self.maxsize = maxsize

    def get_or(self, key: Any, make: Callable[[], Any]) -> Any:
        # App sessions share an engine from their own threads: another thread may evict a key between any two of
        # these steps, so each step tolerates it (at worst an entry is made twice), and none takes a lock.
        try:
            value = self[key]
        except KeyError:
            value = make()
            self[key] = value
            while len(self) > self.maxsize:
                try:
                    self.popitem(last=False)
                except KeyError:
                    break
            return value
        with contextlib.suppress(KeyError):
            self.move_to_end(key)
        return value


@dataclass
class _Level:
    """One level of the tree (depth d >= 1): its cliques, and for one case its messages as index arrays.

    The level's separator states, over all its cliques, are its message *entries*: ``key`` gives each clique
    state's entry, so summing the level onto its messages is ``bincount(key, table[rows])``.
    ``into_gather``/``into_starts`` list, for every state of the level above, the entries it is multiplied by
    (the extra entry ``entries``, always 1, where there are none): one ``np.multiply.reduceat``. ``owner``
    and ``owner_starts`` group entries by message, for rescaling. Index arrays exist only on small tables.
    """

    cliques: list[int]
    rows: slice
    parent_rows: slice
    spans: list[tuple[int, int]]   # each clique's entries
    entries: int
    key: np.ndarray | None = None
    into_gather: np.ndarray | None = None
    into_starts: np.ndarray | None = None
    owner: np.ndarray | None = None
    owner_starts: np.ndarray | None = None


@dataclass
class _Down:
    """The distribute step of one case into (some of) the cliques of one level, as index arrays."""

    gather: np.ndarray             # parent clique states...
    keys: np.ndarray               # ...and the message entry each sums into
    size: int
    old: np.ndarray | None         # which upward message entries these are (None: all of them, in order)
    owner: np.ndarray
    owner_starts: np.ndarray
    rows: slice | np.ndarray       # the child clique states multiplied...
    key: np.ndarray                # ...and the message entry each one takes


class _Tree:
    """A plan laid out as one flat ``(clique states, N)`` table and evaluated one tree level at a time.

    Every clique table lives in one array, ordered by depth from the centre of the tree, so that each level
    is a contiguous block. On a small table one case passes all of a level's messages with a few whole-level
    numpy calls (``bincount``, ``multiply.reduceat``): the cost is per level (5 on l4l5_knee), not per clique
    (50), which is what a case costs when tables are small. Batches, and large tables, work clique by clique
    on views of the table, summing with ``np.add.reduce`` over axes and multiplying by broadcasting; the batch
    axis is last, so every row is a contiguous vector of N cases. Messages out of subtrees without evidence
    do not depend on the case: the batch path computes them once and reuses them.
    """

    def __init__(self, plan: TreePlan, network: Network, fused: bool = True, tables: bool = True,
                 cards: Sequence[int] | None = None):
        self.plan = plan
        order = list(network.variables)
        cards = [network[v].card for v in order] if cards is None else list(cards)
        index = {v: i for i, v in enumerate(order)}
        self.cliques = plan.cliques
        self.shapes = [tuple(cards[v] for v in c) for c in plan.cliques]
        self.sizes = [math.prod(s) for s in self.shapes]
        self.cards = cards
        n = len(plan.cliques)
        neighbours: list[list[int]] = [[] for _ in range(n)]
        for c, p in enumerate(plan.parent):
            if p >= 0:
                neighbours[c].append(p)
                neighbours[p].append(c)
        self.neighbours = neighbours
        self._links: dict[tuple[int, int], tuple[tuple[int, ...], tuple[int, ...]]] = {}
        self.up = [-1] * n
        levels = [_centres(neighbours)]
        self.component = [-1] * n  # the centre of each clique's tree
        for r in levels[0]:
            self.component[r] = r
        while True:
            nxt = []
            for c in levels[-1]:
                for nb in neighbours[c]:
                    if self.component[nb] < 0:
                        self.component[nb], self.up[nb] = self.component[c], c
                        nxt.append(nb)
            if not nxt:
                break
            levels.append(nxt)
        self.offset = [0] * n
        pos, bounds = 0, []
        for lvl in levels:
            bounds.append(pos)
            for c in lvl:
                self.offset[c] = pos
                pos += self.sizes[c]
        bounds.append(pos)
        self.total = pos
        self.roots = levels[0]
        self.root_rows = slice(0, bounds[1])
        self.root_starts = [self.offset[r] for r in self.roots]
        # Cases per pass for large batches: the whole table of a chunk in about 4 MB (256 cases on l4l5_knee).
        self.chunk = max(64, min(4096, (1 << 19) // max(self.total, 1)))
        # Without ``tables`` the tree is a layout only, over ``cards`` if given: every calibration brings its own
        # per-case tables (evidence slicing, :mod:`bn.engines.slicing`).
        if tables:
            base = [np.ones(s) for s in self.shapes]
            for vid, var in network.variables.items():
                c = plan.assign[index[vid]]
                family = [index[p] for p in var.parents] + [index[vid]]
                base[c] = base[c] * _broadcast(np.asarray(var.cpt, dtype=float), family, plan.cliques[c], cards)
            self.base = np.concatenate([base[c].ravel() for lvl in levels for c in lvl])
        else:
            self.base = None
        self.evidence_shape = [tuple(cards[u] if u == v else 1 for u in plan.cliques[plan.home[v]])
                               for v in range(len(order))]
        self.marginal_axes = [tuple(k for k, u in enumerate(plan.cliques[plan.home[v]]) if u != v)
                              for v in range(len(order))]
        self.levels = []
        for d, lvl in enumerate(levels[1:], start=1):
            spans, start = [], 0
            for c in lvl:
                sep = math.prod(self._link(c, self.up[c])[1])
                spans.append((start, start + sep))
                start += sep
            self.levels.append(_Level(lvl, slice(bounds[d], bounds[d + 1]), slice(bounds[d - 1], bounds[d]),
                                      spans, start))
        # One case on a small table goes level by level; on a large one the arithmetic on big cliques dominates,
        # and broadcasting does that best. (Always, so that a query's digits never depend on what ran before.)
        # A tree built for one joint query (``fused=False``) is used for a posterior or two: building its index
        # arrays would cost more than they save.
        self.fused = fused and self.total <= _FUSED_LIMIT
        self.n_variables = len(order)
        if self.fused:
            self._index_levels()
        self._downs: LRU = LRU(256)
        self._readers: LRU = LRU(256)
        self._prior: dict[tuple[int, int], np.ndarray] = {}
        self._collected: np.ndarray | None = None  # see _collected_prior
        self._schedules: dict[int, tuple[list[tuple[int, int]], list[int]]] = {}

    def _separator(self, a: int, b: int) -> np.ndarray:
        """For each state of clique a, the index of its state on the separator with clique b."""
        sep = set(self.cliques[a]) & set(self.cliques[b])
        return _gather_index(self.shapes[a], tuple(u in sep for u in self.cliques[a]))

    def _index_levels(self) -> None:
        # Evidence for one case: one likelihood entry per variable state (1 = unobserved) and a last entry 1;
        # each table row is multiplied by the entries of the variables whose home is its clique.
        self.lik_offset = np.cumsum([0, *self.cards]).tolist()
        rows, entries = [], []
        for v in range(self.n_variables):
            h = self.plan.home[v]
            rows.append(self.offset[h] + np.arange(self.sizes[h]))
            entries.append(self.lik_offset[v] + _gather_index(self.shapes[h], tuple(u == v for u in self.cliques[h])))
        self.evidence_gather, self.evidence_starts = _grouped(np.concatenate(rows), np.concatenate(entries),
                                                              range(self.total), self.lik_offset[-1])
        for level in self.levels:
            keys, into_rows, into_entries = [], [], []
            for c, (start, _) in zip(level.cliques, level.spans):
                p = self.up[c]
                keys.append(start + self._separator(c, p))
                into_rows.append(self.offset[p] + np.arange(self.sizes[p]))
                into_entries.append(start + self._separator(p, c))
            level.key = np.concatenate(keys)
            level.into_gather, level.into_starts = _grouped(
                np.concatenate(into_rows), np.concatenate(into_entries),
                range(level.parent_rows.start, level.parent_rows.stop), level.entries)
            level.owner = np.repeat(np.arange(len(level.spans)), [b - a for a, b in level.spans])
            level.owner_starts = np.array([a for a, _ in level.spans], dtype=np.intp)

    def _wanted(self, needed: Iterable[int] | None) -> frozenset[int] | None:
        """The cliques on the paths from the centre to the ``needed`` ones (None: all)."""
        if needed is None:
            return None
        wanted: set[int] = set()
        for c in needed:
            while c >= 0 and c not in wanted:
                wanted.add(c)
                c = self.up[c]
        return None if len(wanted) == len(self.cliques) else frozenset(wanted)

    def _down(self, level: _Level, wanted: frozenset[int] | None) -> _Down | None:
        chosen = [i for i, c in enumerate(level.cliques) if wanted is None or c in wanted]
        if not chosen:
            return None
        gather, keys, rows, key, sizes, start = [], [], [], [], [], 0
        for i in chosen:
            c = level.cliques[i]
            p = self.up[c]
            gather.append(self.offset[p] + np.arange(self.sizes[p]))
            keys.append(start + self._separator(p, c))
            rows.append(self.offset[c] + np.arange(self.sizes[c]))
            key.append(start + self._separator(c, p))
            sizes.append(level.spans[i][1] - level.spans[i][0])
            start += sizes[-1]
        full = len(chosen) == len(level.cliques)
        old = None if full else np.concatenate([np.arange(*level.spans[i]) for i in chosen])
        return _Down(np.concatenate(gather), np.concatenate(keys), start, old,
                     np.repeat(np.arange(len(chosen)), sizes), np.cumsum([0, *sizes[:-1]]).astype(np.intp),
                     level.rows if full else np.concatenate(rows), np.concatenate(key))

    def _downs_for(self, wanted: frozenset[int] | None) -> list[_Down | None]:
        return self._downs.get_or(wanted, lambda: [self._down(level, wanted) for level in self.levels])

    def calibrate(self, lik: Mapping[int, np.ndarray], scaled: bool = False, needed: Iterable[int] | None = (),
                  base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Enter evidence, collect to the centre and distribute to the ``needed`` cliques (all when None).

        ``lik`` maps variable index to a ``(n, card)`` likelihood with n = 1 or N. Returns the table, shape
        ``(states, N)``, in which every needed clique is proportional to P(clique, evidence), and
        ``log P(evidence)`` per case. With ``scaled`` every message is divided by its largest entry (per
        case) and the log scales summed, so that tiny probabilities never underflow. ``base``, shape
        ``(states, N)``, gives each case its own clique tables (overwritten) instead of the network's.
        """
        size = max((a.shape[0] for a in lik.values()), default=1)
        if base is not None:
            return self._calibrate_views(lik, base.shape[1], scaled, needed, base)
        if self.base is None:
            raise ValueError("this tree is a layout only: give each case's tables (base=)")
        if size == 1 and self.fused:
            wanted = () if needed == () else self._wanted(needed)
            pot, log_z = self._calibrate_one({v: a[0] for v, a in lik.items()}, scaled, wanted)
            return pot[:, None], log_z
        return self._calibrate_views(lik, size, scaled, needed)

    def _calibrate_one(self, lik: Mapping[int, np.ndarray], scaled: bool, wanted) -> tuple[np.ndarray, np.ndarray]:
        stacked = np.ones(self.lik_offset[-1] + 1)
        log_scale, messages = 0.0, []
        for v, a in lik.items():
            if scaled:  # see _calibrate_views
                top = float(a.max())
                top = top if top > 0 else 1.0
                a = a / top
                log_scale += math.log(top)
            stacked[self.lik_offset[v]:self.lik_offset[v + 1]] = a
        pot = self.base * np.multiply.reduceat(stacked[self.evidence_gather], self.evidence_starts)
        for level in reversed(self.levels):
            m = np.bincount(level.key, pot[level.rows], minlength=level.entries + 1)
            m[-1] = 1.0
            if scaled:
                log_scale += float(np.log(_rescale(m[:-1], level.owner, level.owner_starts)).sum())
            messages.append(m)
            pot[level.parent_rows] *= np.multiply.reduceat(m[level.into_gather], level.into_starts)
        with np.errstate(divide="ignore"):
            log_z = log_scale + np.log(np.add.reduceat(pot[self.root_rows], self.root_starts)).sum(keepdims=True)
        if wanted != ():
            for down, old in zip(self._downs_for(wanted), reversed(messages)):
                if down is not None:
                    ratio = np.bincount(down.keys, pot[down.gather], minlength=down.size)
                    # Where the upward message is 0 so is the new one (it is a factor of it): 0/0 must give 0,
                    # and flooring the divisor gives that with one operation.
                    ratio /= np.maximum(old[:-1] if down.old is None else old[down.old], 1e-300)
                    if scaled:
                        _rescale(ratio, down.owner, down.owner_starts)
                    pot[down.rows] *= ratio[down.key]
        return pot, log_z

    def _link(self, a: int, b: int) -> tuple[tuple[int, ...], tuple[int, ...], np.ndarray | None]:
        """A message from clique a to clique b: the axes of a summed out, its shape laid over b, and (while
        small) the 0/1 matrix that sums a onto it."""
        if (a, b) not in self._links:
            sep = set(self.cliques[a]) & set(self.cliques[b])
            keep = tuple(u in sep for u in self.cliques[a])
            over = tuple(s if u in sep else 1 for u, s in zip(self.cliques[b], self.shapes[b]))
            dense = None
            if self.sizes[a] * math.prod(over) <= _DENSE_LIMIT:
                dense = np.zeros((math.prod(over), self.sizes[a]))
                dense[_gather_index(self.shapes[a], keep), np.arange(self.sizes[a])] = 1.0
            self._links[a, b] = (tuple(k for k, k_kept in enumerate(keep) if not k_kept), over, dense)
        return self._links[a, b]

    def _message(self, pot: np.ndarray, views: list[np.ndarray], a: int, b: int) -> np.ndarray:
        """Clique a summed onto its separator with b, as ``(separator states, N)``.

        For a few cases a small clique is summed by one matrix product: ``np.add.reduce`` over a tuple of
        axes costs several microseconds of dispatch, which is most of the work on tables this size.
        """
        axes, _, dense = self._link(a, b)
        if dense is not None and pot.shape[1] <= _FEW:
            return dense @ pot[self.offset[a]:self.offset[a] + self.sizes[a]]
        return np.add.reduce(views[a], axis=axes).reshape(-1, pot.shape[1])

    def _schedule(self, root: int) -> tuple[list[tuple[int, int]], list[int]]:
        """Collect order, as (clique, the clique it sends to), with ``root`` as the root of its tree, and the
        roots of every tree."""
        if root not in self._schedules:
            roots = [root] + [r for r in self.roots if r != self.component[root]]
            edges: list[tuple[int, int]] = []
            for r in roots:
                stack, seen, visit = [(r, -1)], {r}, []
                while stack:
                    node, towards = stack.pop()
                    visit.append((node, towards))
                    for nb in self.neighbours[node]:
                        if nb not in seen:
                            seen.add(nb)
                            stack.append((nb, node))
                edges += [(node, towards) for node, towards in reversed(visit) if towards >= 0]
            self._schedules[root] = (edges, roots)
        return self._schedules[root]

    def _collected_prior(self) -> np.ndarray:
        """Every clique's table times the messages of its subtrees without evidence, towards the first centre:
        the collect phase of a query without findings, kept (one table of the tree's size)."""
        if self._collected is None:
            edges, _ = self._schedule(self.roots[0])
            pot = self.base.copy()[:, None]
            views = [pot[o:o + s].reshape((*shape, 1)) for o, s, shape in zip(self.offset, self.sizes, self.shapes)]
            for c, p in edges:
                m = self._prior.get((c, p))
                if m is None:
                    m = self._prior[c, p] = self._message(pot, views, c, p)[:, :1].copy()
                views[p] *= m.reshape((*self._link(c, p)[1], 1))
            self._collected = pot[:, 0]
        return self._collected

    def _calibrate_views(self, lik: Mapping[int, np.ndarray], size: int, scaled: bool, needed,
                         base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        # One clique wanted (a posterior): collect straight to it and nothing need be distributed.
        single = needed not in ((), None) and len(set(needed)) == 1
        root = next(iter(needed)) if single else self.roots[0]
        wanted = () if single or needed == () else self._wanted(needed)
        edges, roots = self._schedule(root)
        towards = dict(edges)
        # Tables of the cases' own make every message depend on the case: none is a prior to reuse.
        touched = set() if base is None else set(range(len(self.cliques)))
        for v in lik:  # the cliques with evidence below them, towards the root
            h = self.plan.home[v]
            while h >= 0 and h not in touched:
                touched.add(h)
                h = towards.get(h, -1)
        # Towards the first centre, a query whose evidence leaves most of the tree untouched starts from the
        # collected prior: a subtree without evidence then costs nothing, and one with evidence replaces its
        # prior message by a ratio (on l4l5_knee 2.0.0 a case touches 30-40 of 212 cliques, and the largest ones
        # took five to eight messages each). A batch whose cases touch most of it (andes's) would only pay the
        # ratios. Not when rescaling: the prior's messages are not rescaled, so an entry under 1e-300 there would
        # be lost (or floored) where the evidence makes it count (the rescaled run is for P(e) under 1e-280).
        collected = (base is None and not scaled and root == self.roots[0] and self.total <= _COLLECTED_LIMIT
                     and 2 * len(touched) <= len(self.cliques))
        if collected:
            pot = np.empty((self.total, size))
            pot[...] = self._collected_prior()[:, None]
        elif base is None:
            pot = np.empty((self.total, size))
            pot[...] = self.base[:, None]
        else:
            pot = base
        views = [pot[o:o + s].reshape((*shape, size)) for o, s, shape in zip(self.offset, self.sizes, self.shapes)]
        log_scale, messages = np.zeros(size), {}
        for v, a in lik.items():
            if scaled:
                # Likelihoods are defined up to a factor, and several tiny ones entered into one clique would
                # underflow before any message is rescaled: each enters divided by its largest entry.
                a, top = _rescaled(a.T)
                a = a.T
                log_scale += np.log(top)
            views[self.plan.home[v]] *= a.T.reshape((*self.evidence_shape[v], a.shape[0]))
        for c, p in edges:
            over = self._link(c, p)[1]
            if collected and c not in touched:
                messages[c] = self._prior[c, p]
                continue
            if c in touched:
                m = self._message(pot, views, c, p)
                if scaled:
                    m, top = _rescaled(m)
                    log_scale += np.log(top)
            else:
                m = self._prior.get((c, p))
                if m is None:
                    m = self._prior[c, p] = self._message(pot, views, c, p)[:, :1].copy()
            messages[c] = m
            if collected:
                # Where the prior message is 0 so is this one (the same sum with likelihoods): 0/0 must give 0.
                views[p] *= (m / np.maximum(self._prior[c, p], 1e-300)).reshape((*over, m.shape[-1]))
                continue
            # A clique whose own message is known (no evidence beyond it) and that no query reads needs no
            # table: skipping it is the pruning that one posterior gains from.
            if p in touched or (p, towards.get(p, -1)) not in self._prior or (
                    wanted != () and (wanted is None or p in wanted)):
                views[p] *= m.reshape((*over, m.shape[-1]))
        with np.errstate(divide="ignore"):
            log_z = log_scale + sum(np.log(np.add.reduce(views[r].reshape(-1, size), axis=0)) for r in roots)
        if wanted != ():
            for c, p in reversed(edges):
                if wanted is None or c in wanted:
                    ratio = self._message(pot, views, p, c)
                    # Where the upward message is 0 so is the new one (it is a factor of it): 0/0 must give 0,
                    # and flooring the divisor gives that with one operation.
                    ratio /= np.maximum(messages[c], 1e-300)
                    if scaled:
                        ratio, _ = _rescaled(ratio)
                    views[c] *= ratio.reshape((*self._link(p, c)[1], size))
        return pot, log_z

    def marginals(self, pot: np.ndarray, variables: tuple[int, ...]) -> list[np.ndarray]:
        """Normalised ``(card, N)`` marginals of ``variables`` from their home cliques (NaN where P(e) = 0)."""
        if not variables:  # a query for log P(e) alone
            return []
        size = pot.shape[1]
        if size == 1 and self.fused:
            gather, keys, per, bounds = self._readers.get_or(variables, lambda: self._reader(variables))
            m = np.bincount(keys, pot[gather, 0], minlength=per.size)
            with np.errstate(invalid="ignore", divide="ignore"):
                m /= np.bincount(per, m)[per]
            m = m[:, None]
            return [m[a:b] for a, b in bounds]
        out = []
        for v in variables:
            h = self.plan.home[v]
            view = pot[self.offset[h]:self.offset[h] + self.sizes[h]].reshape((*self.shapes[h], size))
            m = np.add.reduce(view, axis=self.marginal_axes[v]) if self.marginal_axes[v] else view
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(m / m.sum(axis=0))
        return out

    def _reader(self, variables: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        """Where each variable's marginal is read from the calibrated table of one case."""
        gather, keys, start = [], [], 0
        for v in variables:
            h = self.plan.home[v]
            gather.append(self.offset[h] + np.arange(self.sizes[h]))
            keys.append(start + _gather_index(self.shapes[h], tuple(u == v for u in self.cliques[h])))
            start += self.cards[v]
        per = np.repeat(np.arange(len(variables)), [self.cards[v] for v in variables])
        ends = np.cumsum([self.cards[v] for v in variables]).tolist()
        return np.concatenate(gather), np.concatenate(keys), per, list(zip([0, *ends[:-1]], ends))

    def clique_table(self, pot: np.ndarray, c: int) -> np.ndarray:
        return pot[self.offset[c]:self.offset[c] + self.sizes[c]].reshape((*self.shapes[c], pot.shape[1]))


def _centres(neighbours: list[list[int]]) -> list[int]:
    """A centre (a vertex of least height) of each tree of a forest: the middle of a longest path."""
    n = len(neighbours)

    def farthest(s: int) -> tuple[int, list[int]]:
        back, frontier, last = {s: -1}, [s], s
        while frontier:
            nxt = []
            for v in frontier:
                for nb in neighbours[v]:
                    if nb not in back:
                        back[nb] = v
                        nxt.append(nb)
            if nxt:
                last = nxt[0]
            frontier = nxt
        path = [last]
        while back[path[-1]] >= 0:
            path.append(back[path[-1]])
        return last, path

    seen, out = [False] * n, []
    for s in range(n):
        if not seen[s]:
            end, _ = farthest(s)
            _, path = farthest(end)
            stack = [s]
            seen[s] = True
            while stack:
                for nb in neighbours[stack.pop()]:
                    if not seen[nb]:
                        seen[nb] = True
                        stack.append(nb)
            out.append(path[len(path) // 2])
    return out


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts in a sorted array (the ``indices`` of ``np.add.reduceat``)."""
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


_LOG_SAFE = math.log(1e-280)
# Tables up to this many states (in all cliques) take the level-by-level path for one case.
_FUSED_LIMIT = 1 << 15
# A batch of up to _FEW cases sums a clique of up to _DENSE_LIMIT (clique x separator) states by a 0/1 matrix
# product; beyond, the matrix does separator-times more arithmetic than the sum.
_FEW = 8
_DENSE_LIMIT = 1 << 12
# A tree of up to this many clique states keeps its collected prior (one more table of its size, 32 MB at most).
_COLLECTED_LIMIT = 1 << 22


@lru_cache(maxsize=4096)
def _gather_index(shape: tuple[int, ...], keep: tuple[bool, ...]) -> np.ndarray:
    """For each state of a table of ``shape`` (C order), the index of its kept-axes sub-state (C order).

    Cached (cliques repeat shapes), so the result is read-only.
    """
    grids = np.indices(shape).reshape(len(shape), -1)
    out = np.zeros(grids.shape[1], dtype=np.intp)
    for k, s in enumerate(shape):
        if keep[k]:
            out = out * s + grids[k]
    out.flags.writeable = False
    return out


_ROW_WEIGHTS = np.random.default_rng(0).integers(1, 2 ** 63, size=4096, dtype=np.uint64) | np.uint64(1)


def distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a 2-D array: the index of the first row of each distinct row, and for every row the number of its
    distinct row; the grouping of ``np.unique(matrix, axis=0, return_index=True, return_inverse=True)``, about
    10x faster (a float matrix: rows equal bit for bit, so 0.0 and -0.0 are two values). Each row is hashed to one
    64-bit number (an integer matrix's values, a float matrix's bits with their top bits folded down, weighted and
    summed, wrapping); the grouping is then checked exactly, and a collision falls back to ``np.unique``.

    >>> first, inverse = distinct_rows(np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
    >>> sorted(first.tolist()), bool(inverse[0] == inverse[2] != inverse[1])
    ([0, 1], True)
    """
    integer = np.issubdtype(np.asarray(matrix).dtype, np.integer)
    matrix = np.ascontiguousarray(matrix, dtype=np.int64 if integer else np.float64)
    if matrix.shape[1] > _ROW_WEIGHTS.size:
        _, first, inverse = np.unique(matrix, axis=0, return_index=True, return_inverse=True)
        return first, inverse.ravel()
    bits = matrix.view(np.uint64)
    if not integer:
        # A small whole number or a simple fraction has only its top 12-20 bits set, and multiplying by an odd
        # weight keeps zeros low: the top bits are folded down first, or 0/1 rows would share a few thousand keys.
        bits = bits ^ (bits >> np.uint64(52)) ^ (bits >> np.uint64(29))
    with np.errstate(over="ignore"):
        keys = (bits * _ROW_WEIGHTS[:matrix.shape[1]]).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    # Checked a block of rows at a time: a million records' codes would otherwise be copied whole.
    for start in range(0, len(matrix), 1 << 16):
        block = slice(start, start + (1 << 16))
        if not np.array_equal(matrix[first[inverse[block]]], matrix[block]):
            _, first, inverse = np.unique(matrix, axis=0, return_index=True, return_inverse=True)
            return first, inverse.ravel()
    return first, inverse


def _rescale(m: np.ndarray, owner: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Divide each message of a level (one case) by its largest entry, 1 where all are 0, in place; the maxima."""
    top = np.maximum.reduceat(m, starts)
    top[top <= 0] = 1.0
    m /= top[owner]
    return top


def _rescaled(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A ``(..., N)`` message divided by its largest entry per case (1 where all are 0), and those maxima."""
    top = m.reshape(-1, m.shape[-1]).max(axis=0)
    top = np.where(top > 0, top, 1.0)
    return m / top, top


def _grouped(rows: np.ndarray, entries: np.ndarray, span: range, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """``entries`` ordered by ``rows`` and where each row's run starts, for a ``ufunc.reduceat`` per row.

    Every row of ``span`` gets a run: rows with no entry get the single entry ``pad``.
    """
    present = np.zeros(span.stop - span.start, dtype=bool)
    present[rows - span.start] = True
    missing = np.flatnonzero(~present) + span.start
    rows = np.concatenate([rows, missing])
    entries = np.concatenate([entries, np.full(missing.size, pad)])
    order = np.argsort(rows, kind="stable")
    return entries[order].astype(np.intp), _run_starts(rows[order])


def _batched(arr: np.ndarray, size: int) -> np.ndarray:
    return arr if arr.shape[0] == size else np.broadcast_to(arr, (size, *arr.shape[1:]))


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

    Relevance pruning: a marginal, posterior or P(evidence) query keeps only the queried and observed variables
    and their ancestors (the rest is barren and sums out to 1), compiles that part (cached per relevant set,
    least recently used dropped after :attr:`PRUNED_CACHE`; for one case, from the third time the set is seen)
    and uses it when its junction tree costs less than half the full one. Trees under :attr:`PRUNE_MIN_STATES`
    clique states are never pruned: their full-tree query is cheaper than planning. ``prune=False`` turns this off (the
    property tests compare the two to 1e-12), and so does a table whose rows do not sum to 1 (a network built in
    code): a barren variable then does not sum out to 1, and every path must compute the same model.

    One case's marginals, one posterior with P(evidence), or P(evidence) alone, from the engine's third such query
    on, run on the case's own tree in compiled code (:mod:`bn.engines.case_tree`; ``case_tree=False`` turns it
    off).

    One posterior without P(evidence) (:meth:`conditional`, what ``net.posterior`` asks) needs only the tables
    not d-separated from it by the evidence: when those leave few variables to sum out and the findings are
    proven possible, one case is answered on them by variable elimination (:mod:`bn.engines.requisite`).

    Repeated cases: a batch of marginals answers each distinct case once and copies its answer to the cases
    identical to it (records with a few discrete findings repeat often: 10,000 cases in 25 patterns of 8 findings
    hold about 1,800 distinct ones). ``merge_duplicates=False`` turns this off; the answers are the same numbers.

    >>> import bn
    >>> eng = CompiledEngine(bn.load("l4l5_knee").network)
    >>> round(float(eng.joint((), {})), 12)           # P(no evidence) = 1
    1.0
    >>> post, log_z = eng.marginals({"knee_pain": np.array([0.0, 1.0])}, ["knee_pain_from_l4l5"])
    >>> post["knee_pain_from_l4l5"].shape, log_z.shape
    ((1, 2), (1,))
    """

    name = "einsum"
    exact_sampling = True

    def __init__(self, network: Network, plan: TreePlan | None = None,
                 extra_plans: Mapping[frozenset[str], TreePlan] | None = None, *, prune: bool = True,
                 merge_duplicates: bool = True, case_tree: bool = True):
        self.network = network
        self.prune = prune and rows_sum_to_one(network)
        self.merge_duplicates = merge_duplicates
        self.case_tree = case_tree
        self._case_tree: CaseTree | None = None
        self._single_cases = 0  # one-case marginals, posteriors and P(e) queries so far (see _case_tree_case)
        self.plan = plan if plan is not None else engine_plan(network)
        # What the tree is built on: the network, or its OR chains (hidden steps after its own variables, so
        # positions of the network's variables are the same in both).
        self._inner = _inner_network(network, self.plan)
        self.order = list(network.variables)
        self._inner_order = list(self._inner.variables)
        self.position = {v: i for i, v in enumerate(self._inner_order)}
        self.cards = [self._inner[v].card for v in self._inner_order]
        self._tree = _Tree(self.plan, self._inner)
        self._extra_plans = dict(extra_plans or {})
        self._extra_trees: LRU = LRU(64)
        self._joint_parts: LRU = LRU(16)
        self._parents = [[self.position[p] for p in self._inner[v].parents] for v in self._inner_order]
        self._cost = sum(self.plan.sizes(self.cards))
        self._pruned: OrderedDict[frozenset[int], CompiledEngine | None] = OrderedDict()
        self._seen: OrderedDict[frozenset[int], int] = OrderedDict()  # times each relevant set was queried
        self._conditioned: LRU = LRU(self.PRUNED_CACHE)  # per (relevant set, observed set): see _conditioned_case
        self._relevant_sets: LRU = LRU(4 * self.PRUNED_CACHE)  # per (evidence variables, outputs): _relevant_to
        # What conditional's fast path reads (each table's possible states: 18 ms on munin) is part of compiling a
        # network that takes that path, not of its first query.
        self._requisite: Requisite | None = None
        if prune and self._cost >= self.PRUNE_MIN_STATES:
            self._requisite_tables()

    # -- relevance pruning ------------------------------------------------------------------------------------
    PRUNED_CACHE = 64  # pruned engines kept per network, least recently used dropped first
    # Below this many clique states a full-tree query takes well under a millisecond, less than planning a pruned
    # tree (4-5 ms on l4l5_knee 1.1.0): pruning only pays on bigger trees (the 2.0.0 draft has 230,000).
    PRUNE_MIN_STATES = 20_000
    # For one case a relevant set is compiled once it has been queried this many times before (an app rerun, a
    # pattern an analyst returns to); a pattern asked once or twice stays on the full tree.
    PRUNE_AFTER_SIGHTINGS = 2

    # One case whose relevant part leaves at most this many unobserved variables once its observed ones are
    # conditioned on is answered on that part's own tree, planned at once: on pathfinder a query's part has 14-23
    # of 109 variables, 4-13 of them unobserved, and planning it takes 0.1-0.4 ms, less than the full tree's query.
    CONDITION_MAX_FREE = 24
    # ... and when that tree has at most this share of the full tree's clique states (its tables are built for
    # each case, the full tree's once).
    CONDITION_MAX_SHARE = 0.25
    # conditional's variable elimination is abandoned past this share of the full tree's clique states, counted
    # as requisite.STEP_COST says (its per-query cost against the tree's, which its fallback pays).
    REQUISITE_SHARE = 0.5

    def _conditioned_case(self, likelihoods: Likelihoods, outputs: Sequence[str]
                          ) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
        """One case's marginals of ``outputs`` and ``log P(evidence)`` on the tree of its relevant part conditioned
        on its observed variables (:class:`bn.engines.slicing.ConditionedTree`: they leave the triangulation and
        every table is read at their values), or None when the case is not one for it: a tree under
        :attr:`PRUNE_MIN_STATES`, OR chains, several cases or a malformed likelihood, no hard finding, no output or
        an observed one, more than :attr:`CONDITION_MAX_FREE` variables left to sum over, or a conditioned tree
        over :attr:`CONDITION_MAX_SHARE` of the full one. Exact, P(evidence) included: only barren variables are
        dropped. Layouts are kept per (relevant set, observed set), so a pattern asked again with other values
        plans nothing."""
        if not self.prune or self._cost < self.PRUNE_MIN_STATES or self._inner is not self.network:
            return None
        keep = self._relevant_to(likelihoods, outputs)
        if len(keep) - len(likelihoods) > self.CONDITION_MAX_FREE:
            return None
        split = self._one_case(likelihoods)
        if split is None:
            return None
        observed, free = split
        targets = [self.position[v] for v in outputs]
        if not targets or not observed or any(t in observed for t in targets) or \
                len(keep) - len(observed) > self.CONDITION_MAX_FREE:
            return None

        def layout():
            from dataclasses import replace

            from bn.engines.slicing import ConditionedTree

            members = sorted(keep)
            at = {u: k for k, u in enumerate(members)}
            sub = replace(self.network, variables={self.order[u]: self.network[self.order[u]] for u in members})
            families = [[at[self.position[p]] for p in sub[v].parents] + [at[self.position[v]]] for v in sub.variables]
            known = sorted(observed)
            try:
                tree = ConditionedTree(sub, families, [self.cards[u] for u in members], [at[u] for u in known])
            except NetworkTooLargeError:  # the full tree's path says so, or copes
                return None
            if tree.tree.total > self.CONDITION_MAX_SHARE * self._cost:
                return None
            return tree, at, known, [np.asarray(sub[v].cpt, dtype=float) for v in sub.variables]

        made = self._conditioned.get_or((keep, frozenset(observed)), layout)
        if made is None:
            return None
        tree, at, known, cpts = made
        values = np.array([[observed[u][0] for u in known]], dtype=np.int64)
        weight = float(sum(math.log(observed[u][1]) for u in known))
        lik = {at[u]: a[None] for u, a in free.items()}
        idx = tuple(at[t] for t in targets)
        needed = {tree.tree.plan.home[i] for i in idx}

        def run(lik, scaled):
            base, log_scale = tree.tables(cpts, values, scaled=scaled)
            pot, log_z = tree.tree.calibrate(lik, scaled, needed, base)
            return {v: m.T for v, m in zip(outputs, tree.tree.marginals(pot, idx))}, log_z + log_scale

        out, log_z = self._solve(lik, 1, run)
        log_z = log_z + weight
        if log_z[0] == -math.inf:
            # Conditioning splits the tree into a forest: an impossible factor elsewhere leaves these marginals
            # normalised, where the full tree gives NaN for a case of probability zero.
            out = {v: np.full_like(m, np.nan) for v, m in out.items()}
        return out, log_z

    def _relevant(self, seeds: Iterable[int]) -> frozenset[int]:
        """The seeds and all their ancestors: everything else is barren (unobserved, with no queried or observed
        descendant) and sums out to 1, so it can be dropped without changing any answer."""
        seen: set[int] = set()
        stack = list(seeds)
        while stack:
            v = stack.pop()
            if v not in seen:
                seen.add(v)
                stack.extend(self._parents[v])
        return frozenset(seen)

    def _relevant_to(self, likelihoods: Likelihoods, outputs: Iterable[str]) -> frozenset[int]:
        """What a query over ``outputs`` given evidence on ``likelihoods``'s variables depends on. It depends only
        on which variables have evidence, so it is kept per pattern: a case that leaves too much to sum over on a
        conditioned part (most of l4l5_knee's) then costs a lookup, not a walk of its ancestors."""
        outputs = frozenset(outputs)
        return self._relevant_sets.get_or((frozenset(likelihoods), outputs), lambda: self._relevant(
            [*(self.position[v] for v in likelihoods), *(self.position[v] for v in outputs)]))

    def _pruned_engine(self, likelihoods: Likelihoods, outputs: Iterable[str], *, batch: bool | None = None
                       ) -> CompiledEngine | None:
        """An engine over the relevant part of the network when its junction tree is cheaper than the full one
        (cost: the sum of clique sizes); None to use the full tree. Cached per relevant set.

        Planning a pruned tree costs a few to tens of milliseconds, more than one query on the full tree of a
        small network, so for one case a relevant set is compiled after :attr:`PRUNE_AFTER_SIGHTINGS` queries
        (an app rerun, a repeated pattern), and at once for a batch, where it is paid back over the cases
        (``batch``: whether the query stands for many cases, even when their duplicates were merged into one).
        """
        if not self.prune or self._cost < self.PRUNE_MIN_STATES:
            return None
        if batch is None:
            batch = any(np.ndim(v) == 2 and np.shape(v)[0] > 1 for v in likelihoods.values())
        keep = self._relevant_to(likelihoods, outputs)
        if not keep or len(keep) == len(self._inner_order):
            return None
        if keep in self._pruned:
            self._pruned.move_to_end(keep)
            return self._pruned[keep]
        if not batch and self._seen.get(keep, 0) < self.PRUNE_AFTER_SIGHTINGS:
            self._seen[keep] = self._seen.get(keep, 0) + 1
            self._seen.move_to_end(keep)
            if len(self._seen) > 4 * self.PRUNED_CACHE:
                self._seen.popitem(last=False)
            return None
        from dataclasses import replace

        # The relevant part of the network's own variables (a kept variable keeps its OR-chain steps, its
        # ancestors): whether chains pay is decided again for the part, as for a whole network.
        sub = replace(self.network, variables={v: self.network[v] for v in self.order if self.position[v] in keep})
        plan = engine_plan(sub)
        cards = [len(sub[v].states) for v in sub.variables]
        cards += [2] * (len(plan.assign) - len(cards))  # OR-chain steps are binary
        engine = CompiledEngine(sub, plan, prune=False) if sum(plan.sizes(cards)) < 0.5 * self._cost else None
        self._pruned[keep] = engine
        if len(self._pruned) > self.PRUNED_CACHE:
            self._pruned.popitem(last=False)
        return engine

    def _joint_engine(self, likelihoods: Likelihoods, outputs: Sequence[str]) -> CompiledEngine | None:
        """For outputs that share no clique (an explanation's joint of the diagnoses): an engine over the relevant
        part whose one tree holds them in one clique; None to use the full network's tree for them.

        Such outputs need a tree of their own, planned and built whatever the query, so the relevant part's is
        planned at once, with no second tree: on l4l5_knee 2.0.0 the joint of the diagnoses given knee pain took
        100 ms on the full network's, most of a ``bn query``. Cached per (relevant set, outputs).
        """
        if not self.prune or self._cost < self.PRUNE_MIN_STATES:
            return None
        keep = self._relevant_to(likelihoods, outputs)
        if len(keep) == len(self._inner_order):
            return None

        def build() -> CompiledEngine | None:
            from dataclasses import replace

            # The part of the tree's own network (OR-chain steps included: they are ancestors of what they build).
            sub = replace(self._inner, variables={v: self._inner[v] for v in self._inner_order
                                                  if self.position[v] in keep})
            try:
                plan = network_plan(sub, outputs)
            except NetworkTooLargeError:
                return None
            known = self._extra_plans.get(frozenset(outputs))
            cards = [sub[v].card for v in sub.variables]
            if known is not None and sum(plan.sizes(cards)) >= sum(known.sizes(self.cards)):
                return None
            return CompiledEngine(sub, plan, prune=False)

        return self._joint_parts.get_or((keep, frozenset(outputs)), build)

    # A batch is split by which variables each case observes when a pattern is shared by at least this many cases
    # (each pattern then runs on its own pruned tree); rarer patterns go together on the tree of their union.
    PATTERN_MIN_CASES = 32

    @staticmethod
    def _columns(likelihoods: Likelihoods) -> tuple[dict[str, np.ndarray], int, list[str]]:
        """A batch's likelihoods as arrays, its number of cases, and the variables with a row per case (the
        others are shared by every case)."""
        arrays = {v: np.asarray(a, dtype=float) for v, a in likelihoods.items()}
        size = max((a.shape[0] for a in arrays.values() if a.ndim == 2), default=1)
        return arrays, size, [v for v, a in arrays.items() if a.ndim == 2 and a.shape[0] == size]

    def _by_pattern(self, likelihoods: Likelihoods) -> list[tuple[np.ndarray, dict[str, np.ndarray]]] | None:
        """The cases of a batch grouped by the variables they observe (a likelihood other than all ones), as
        ``(rows, likelihoods)``; None when grouping would not change the tree (one pattern, or none common)."""
        arrays, size, names = self._columns(likelihoods)
        if size < 2 * self.PATTERN_MIN_CASES:
            return None
        shared = {v: a for v, a in arrays.items() if v not in names}
        if not names:
            return None
        observed = np.stack([~np.all(arrays[v] == 1.0, axis=1) for v in names], axis=1)
        first, inverse = distinct_rows(observed)
        patterns = observed[first]
        if len(patterns) == 1:
            return None
        counts = np.bincount(inverse)
        common = [g for g in np.argsort(-counts, kind="stable")[:self.PRUNED_CACHE]
                  if counts[g] >= self.PATTERN_MIN_CASES]
        if not common:
            return None
        groups, rest = [], np.ones(size, dtype=bool)
        for g in common:
            rows = np.flatnonzero(inverse == g)
            rest[rows] = False
            groups.append((rows, {**shared, **{v: arrays[v][rows] for v, seen in zip(names, patterns[g]) if seen}}))
        if rest.any():
            rows = np.flatnonzero(rest)
            groups.append((rows, {**shared, **{v: arrays[v][rows] for k, v in enumerate(names)
                                               if observed[rows, k].any()}}))
        return groups

    # A batch this small, or with more than this share of distinct cases, is answered as it is: finding the
    # duplicates would cost more than it saves.
    DISTINCT_MIN_CASES = 32
    DISTINCT_MAX_SHARE = 0.7

    def _distinct(self, likelihoods: Likelihoods) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
        """The batch's distinct cases, and for each case the row of its distinct case; None when merging does
        not pay (see :attr:`DISTINCT_MIN_CASES`)."""
        if not self.merge_duplicates:
            return None
        arrays, size, names = self._columns(likelihoods)
        if size < self.DISTINCT_MIN_CASES:
            return None
        first, back = distinct_rows(np.concatenate([arrays[v] for v in names], axis=1))
        if first.size > self.DISTINCT_MAX_SHARE * size:
            return None
        return {v: (a[first] if v in names else a) for v, a in arrays.items()}, back

    def extra_plan(self, outputs: Iterable[str]) -> TreePlan:
        """The plan answering a joint query over ``outputs`` (built now unless given to the constructor)."""
        key = frozenset(outputs)
        if key not in self._extra_plans:
            self._extra_plans[key] = network_plan(self._inner, sorted(key, key=self.position.get))
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
        if len(variables) < len(self.order) and self.prune and self._cost >= self.PRUNE_MIN_STATES:
            case = self._case_tree_case(likelihoods, variables)
            if case is not None:
                return case
            groups = self._by_pattern(likelihoods)
            if groups:
                size = sum(rows.size for rows, _ in groups)
                out = {v: np.empty((size, self.cards[self.position[v]])) for v in variables}
                log_z = np.empty(size)
                for rows, part in groups:
                    m, z = self._merged(part, variables)
                    for v in variables:
                        out[v][rows] = m[v]
                    log_z[rows] = z
                return out, log_z
        return self._merged(likelihoods, variables)

    def _merged(self, likelihoods: Likelihoods, variables: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The cases' marginals, each distinct case answered once (see the class's documentation)."""
        merged = self._distinct(likelihoods)
        if merged is None:
            return self._marginals(likelihoods, variables)
        distinct, back = merged
        out, log_z = self._marginals(distinct, variables, batch=True)
        return {v: m[back] for v, m in out.items()}, log_z[back]

    def _marginals(self, likelihoods: Likelihoods, variables: list[str], *, batch: bool | None = None
                   ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The marginals of the cases as given, on one tree: the full one, or a pruned one for them all."""
        if len(variables) < len(self.order):
            case = None if batch else self._conditioned_case(likelihoods, variables)
            if case is not None:
                return case
            pruned = self._pruned_engine(likelihoods, variables, batch=batch)
            if pruned is not None:
                return pruned._marginals(likelihoods, list(variables))
        lik, size = self._indexed(likelihoods)
        tree = self._tree
        chunk = tree.chunk
        if size > chunk:
            # Clique-by-batch arrays of a few MB stay in the CPU cache; at 10,000 cases they do not, and every
            # pass then runs at memory speed (half the throughput measured at 100 cases on l4l5_knee).
            parts = []
            for s in range(0, size, chunk):
                limits.check_time()  # a long batch inside a time budget stops between chunks
                parts.append(self._marginals({self.order[v]: (a[s:s + chunk] if a.shape[0] > 1 else a)
                                             for v, a in lik.items()}, variables))
            return ({v: np.concatenate([p[0][v] for p in parts]) for v in variables},
                    np.concatenate([p[1] for p in parts]))
        idx = tuple(self.position[v] for v in variables)
        needed = None if len(set(idx)) == len(self.order) else {tree.plan.home[i] for i in idx}

        def run(lik, scaled):
            pot, log_z = tree.calibrate(lik, scaled, needed)
            return {v: m.T for v, m in zip(variables, tree.marginals(pot, idx))}, log_z

        out, log_z = self._solve(lik, size, run)
        return ({v: _batched(m, size) for v, m in out.items()}, _batched(log_z, size))

    def posterior(self, outputs: Sequence[str], likelihoods: Likelihoods) -> tuple[np.ndarray, np.ndarray]:
        """Normalised ``P(outputs | evidence)`` with shape ``(N, *cards)`` and ``log P(evidence)`` ``(N,)``."""
        if len(outputs) == 1:
            case = self._case_tree_case(likelihoods, outputs) or self._conditioned_case(likelihoods, outputs)
            if case is not None:
                return case[0][outputs[0]], case[1]
        own_tree = len(set(outputs)) > 1 and self._home_clique(outputs) is None
        pruned = (self._joint_engine(likelihoods, outputs) if own_tree else None) or self._pruned_engine(
            likelihoods, outputs)
        if pruned is not None:
            return pruned.posterior(outputs, likelihoods)
        lik, size = self._indexed(likelihoods)
        idx = [self.position[v] for v in outputs]
        tree, clique = self._tree_for(outputs)
        members = tree.cliques[clique]
        axes = tuple(k for k, u in enumerate(members) if u not in idx)
        kept = [u for u in members if u in idx]
        perm = [len(kept)] + [kept.index(u) for u in idx]

        def run(lik, scaled):
            pot, log_z = tree.calibrate(lik, scaled, [clique])
            table = tree.clique_table(pot, clique)
            table = np.add.reduce(table, axis=axes) if axes else table
            table = np.transpose(table, perm)
            with np.errstate(invalid="ignore", divide="ignore"):
                total = table.reshape(table.shape[0], -1).sum(axis=1)
                table = table / total.reshape((-1,) + (1,) * len(idx))
            return {"table": table}, log_z

        out, log_z = self._solve(lik, size, run)
        return _batched(out["table"], size), _batched(log_z, size)

    def conditional(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
        """Normalised ``P(outputs | evidence)`` with shape ``(N, *cards)``, NaN for impossible evidence: what
        :meth:`posterior` gives without ``log P(evidence)``.

        Without P(evidence) to compute, one case needs only the tables that are not d-separated from the
        outputs by the evidence (:class:`bn.engines.requisite.Requisite`, Bayes-ball), summed out by variable
        elimination when that part is small and every finding is proven possible; otherwise this is
        :meth:`posterior`'s table.

        >>> import bn
        >>> eng = CompiledEngine(bn.load("l4l5_knee").network)
        >>> lik = {"knee_pain": np.array([0.0, 1.0])}
        >>> bool(np.allclose(eng.conditional(["disc_herniation"], lik), eng.posterior(["disc_herniation"], lik)[0]))
        True
        """
        if self.prune and self._cost >= self.PRUNE_MIN_STATES:
            case = self._requisite_case(likelihoods, outputs)
            if case is not None:
                return case[None]
        table, log_z = self.posterior(outputs, likelihoods)
        # A target in another part of the tree than the impossible findings gets a normalised table: P(e) decides.
        table[log_z == -math.inf] = np.nan
        return table

    def _one_case(self, likelihoods: Likelihoods
                  ) -> tuple[dict[int, tuple[int, float]], dict[int, np.ndarray]] | None:
        """One case's findings by position: hard ones as (state, weight), the others as likelihood vectors; None
        for anything but one case's well-formed vectors, which takes the full tree's path and is reported there
        as it always has been."""
        hard: dict[int, tuple[int, float]] = {}
        soft: dict[int, np.ndarray] = {}
        for var, vec in likelihoods.items():
            at = self.position[var]
            arr = np.asarray(vec, dtype=float)
            if arr.shape != (self.cards[at],) and arr.shape != (1, self.cards[at]):
                return None
            values = arr.ravel().tolist()  # a few states: cheaper checked in Python than by numpy calls
            if not all(0.0 <= x < math.inf for x in values):
                return None
            nonzero = [k for k, x in enumerate(values) if x]
            if len(nonzero) == 1:
                hard[at] = (nonzero[0], values[nonzero[0]])
            else:
                soft[at] = arr.reshape(-1)
        return hard, soft

    # One case's marginals, one posterior with P(evidence), or P(evidence) alone go to the case's own tree in
    # compiled code (:mod:`bn.engines.case_tree`) from the engine's third such query on: importing numba (0.2 s,
    # plus its cached loops) costs a hundred full-tree queries, so a process that asks one or two questions
    # (``bn query``) does not pay it.
    CASE_TREE_AFTER = 2

    def _case_tree_case(self, likelihoods: Likelihoods, variables: Sequence[str]
                        ) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
        """One case's marginals of ``variables`` and log P(evidence) on the case's own tree, or None: a tree under
        :attr:`PRUNE_MIN_STATES` or pruning off, not one well-formed case, turned off (``case_tree=False``), too
        early (:attr:`CASE_TREE_AFTER`), numba missing, a tree for the case no cheaper than the full one, or a
        case the kernel finds impossible (the full tree confirms it)."""
        if not self.case_tree or not self.prune or self._cost < self.PRUNE_MIN_STATES or \
                self._one_case(likelihoods) is None:
            return None
        self._single_cases += 1
        if self._single_cases <= self.CASE_TREE_AFTER:
            return None
        if self._case_tree is None:
            from bn.engines.case_tree import CASE_TREE_LIMIT, CaseTree, available

            if not available():
                self.case_tree = False
                return None
            self._case_tree = CaseTree(self.network, limit=min(CASE_TREE_LIMIT, self._cost))
        answer = self._case_tree.marginals(likelihoods, variables)
        # -inf: zero, or an underflow the kernel's rescaling missed; the full tree's rescaled rerun tells them apart
        if answer is None or answer[1] == -math.inf:
            return None
        marginals, log_z = answer
        return {v: m[None] for v, m in marginals.items()}, np.array([log_z])

    def _requisite_case(self, likelihoods: Likelihoods, outputs: Sequence[str]) -> np.ndarray | None:
        """One case's ``P(outputs | evidence)`` on its requisite tables, or None (see :meth:`conditional`)."""
        split = self._one_case(likelihoods)
        if split is None:
            return None
        hard = {at: state for at, (state, _) in split[0].items()}
        soft = split[1]
        return self._requisite_tables().conditional([self.position[v] for v in outputs], hard, soft,
                                                    budget=self.REQUISITE_SHARE * self._cost)

    def _requisite_tables(self) -> Requisite:
        """What conditional's fast path reads (made once: with the engine when it will take that path)."""
        if self._requisite is None:
            from bn.engines.requisite import Requisite

            self._requisite = Requisite(self.network)
        return self._requisite

    def log_probability_of_evidence(self, likelihoods: Likelihoods) -> np.ndarray:
        """``log P(evidence)`` per case, shape ``(N,)``; ``-inf`` for impossible evidence, never NaN."""
        case = self._case_tree_case(likelihoods, ())
        if case is not None:
            return case[1]
        pruned = self._pruned_engine(likelihoods, ())
        if pruned is not None:
            return pruned.log_probability_of_evidence(likelihoods)
        lik, size = self._indexed(likelihoods)
        tree = self._tree

        def run(lik, scaled):
            return {}, tree.calibrate(lik, scaled)[1]

        return _batched(self._solve(lik, size, run)[1], size)

    def joint(self, outputs: Sequence[str], likelihoods: Likelihoods) -> np.ndarray:
        """Unnormalised ``P(outputs, evidence)`` for one case, one axis per output (may underflow to 0)."""
        if not outputs:
            return np.asarray(math.exp(float(self.log_probability_of_evidence(likelihoods)[0])))
        table, log_z = self.posterior(outputs, likelihoods)
        if not np.isfinite(log_z[0]):
            return np.zeros([self.cards[self.position[v]] for v in outputs])
        return np.asarray(table[0]) * math.exp(float(log_z[0]))

    def _calibrated_case(self, likelihoods: Likelihoods, needed: Iterable[int] | None) -> tuple[np.ndarray, float]:
        """One case's flat table, calibrated on the ``needed`` cliques (all when None), and log P(evidence)."""
        lik, size = self._indexed(likelihoods)
        if size != 1:
            raise ValueError("this query answers one case at a time")
        tree = self._tree

        def run(lik, scaled):
            pot, log_z = tree.calibrate(lik, scaled, needed)
            return {"pot": pot.T}, log_z

        solved, log_z = self._solve(lik, 1, run)
        return solved["pot"][0], float(log_z[0])

    def family_joints(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None
                      ) -> dict[str, np.ndarray]:
        """``P(family, evidence)`` for each variable's family (axes: its parents, then itself), one case.

        May underflow to 0 where ``P(evidence)`` does; :meth:`family_posteriors` never does.
        """
        tables, log_z = self.family_posteriors(likelihoods, variables)
        p_e = math.exp(log_z) if np.isfinite(log_z) else 0.0
        return {v: t * p_e for v, t in tables.items()}

    def family_posteriors(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None
                          ) -> tuple[dict[str, np.ndarray], float]:
        """``P(family | evidence)`` for each variable's family (axes: its parents, then itself), and
        ``log P(evidence)``, for one case (zeros and ``-inf`` for impossible evidence).

        One calibration answers every family: each family lies in the clique its table was assigned to. This
        is what sensitivity analysis (the derivative of P(e) by every table entry) and EM need, normalised so
        that it holds where P(e) underflows. A family the OR chains split (its table is spread over chain
        steps) is one posterior query instead.
        """
        variables = self.order if variables is None else list(variables)
        out = {}
        if self._inner is not self.network:
            for v in [v for v in variables if self._inner[v].parents != self.network[v].parents]:
                table, _ = self.posterior([*self.network[v].parents, v], likelihoods)
                out[v] = np.nan_to_num(table[0])
            variables = [v for v in variables if v not in out]
        tree = self._tree
        pot, log_z = self._calibrated_case(likelihoods, {tree.plan.assign[self.position[v]] for v in variables})
        for v in variables:
            var = self._inner[v]
            c = tree.plan.assign[self.position[v]]
            family = [self.position[u] for u in (*var.parents, v)]
            members = tree.cliques[c]
            table = pot[tree.offset[c]:tree.offset[c] + tree.sizes[c]].reshape(tree.shapes[c])
            table = np.add.reduce(table, axis=tuple(k for k, u in enumerate(members) if u not in family))
            kept = [u for u in members if u in family]
            table = np.transpose(table, [kept.index(u) for u in family])
            total = table.sum()
            out[v] = table / total if total > 0 else np.zeros_like(table)
        if not out:  # every family was an OR chain's: log P(e) still comes from the tree
            log_z = float(self.log_probability_of_evidence(likelihoods)[0])
        return out, log_z

    def family_expectations(self, likelihoods: Likelihoods, variables: Sequence[str] | None = None, *,
                            weights: np.ndarray | None = None, chunk: int = 32
                            ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """``sum_n weights[n] * P(family | evidence_n)`` for each variable's family (axes: its parents, then
        itself) over a batch of cases, and ``log P(evidence_n)`` per case (``-inf`` for an impossible case,
        which adds nothing): EM's expected counts, ``chunk`` cases per calibration.
        """
        variables = self.order if variables is None else list(variables)
        lik, size = self._indexed(likelihoods)
        weights = np.ones(size) if weights is None else np.asarray(weights, dtype=float)
        out = {v: np.zeros([self.cards[self.position[u]] for u in (*self.network[v].parents, v)])
               for v in variables}
        log_z_all = np.empty(size)
        chained = [v for v in variables if self._inner[v].parents != self.network[v].parents]
        direct = [v for v in variables if v not in chained]
        tree = self._tree
        needed = {tree.plan.assign[self.position[v]] for v in direct} or ()
        layout = []
        for v in direct:
            var = self._inner[v]
            c = tree.plan.assign[self.position[v]]
            family = [self.position[u] for u in (*var.parents, v)]
            members = tree.cliques[c]
            kept = [u for u in members if u in family]
            layout.append((v, c, tuple(k + 1 for k, u in enumerate(members) if u not in family),
                           [0] + [kept.index(u) + 1 for u in family]))

        def run(part, scaled):
            pot, log_z = tree.calibrate(part, scaled, needed)
            return {"pot": pot.T}, log_z

        for start in range(0, size, chunk):
            limits.check_time()
            stop = min(size, start + chunk)
            part = {u: (a[start:stop] if a.shape[0] > 1 else a) for u, a in lik.items()}
            solved, log_z = self._solve(part, stop - start, run)
            log_z_all[start:stop] = log_z
            w = np.where(np.isfinite(log_z), weights[start:stop], 0.0)
            pot = solved["pot"]
            for v, c, axes, perm in layout:
                table = pot[:, tree.offset[c]:tree.offset[c] + tree.sizes[c]].reshape((stop - start, *tree.shapes[c]))
                table = np.add.reduce(table, axis=axes) if axes else table
                table = np.transpose(table, perm)
                total = table.reshape(stop - start, -1).sum(axis=1)
                scale = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
                out[v] += np.tensordot(scale, table, axes=1)
            named = {u: (np.asarray(a)[start:stop] if np.ndim(a) > 1 and len(a) > 1 else a)
                     for u, a in likelihoods.items()} if chained else {}
            for v in chained:  # a family the OR chains split: one posterior query (slower; see bn.em)
                table, _ = self.posterior([*self.network[v].parents, v], named)
                out[v] += np.tensordot(w, np.nan_to_num(table), axes=1)
        return out, log_z_all

    def sample_posterior(self, likelihoods: Likelihoods, n: int, rng: np.random.Generator) -> np.ndarray | None:
        """``n`` independent draws of every variable from ``P(X | evidence)``, as state indices ``(n, variables)``
        in network order; None when the evidence is impossible.

        Exact, with no weights: the tree is calibrated once, then each clique, from the centre outwards, draws
        its remaining variables given those already drawn on its separator, from its calibrated table (which is
        proportional to ``P(clique, e)``).
        """
        tree = self._tree
        pot, log_z = self._calibrated_case(likelihoods, None)
        if not np.isfinite(log_z):
            return None
        out = np.full((n, len(self._inner_order)), -1, dtype=np.int64)
        if n == 0:
            return out[:, :len(self.order)]
        for level in [tree.roots, *(lvl.cliques for lvl in tree.levels)]:
            for c in level:
                members = tree.cliques[c]
                known = [k for k, v in enumerate(members) if out[0, v] >= 0]
                rest = [k for k in range(len(members)) if k not in known]
                table = pot[tree.offset[c]:tree.offset[c] + tree.sizes[c]].reshape(tree.shapes[c])
                table = np.transpose(table, known + rest).reshape(
                    math.prod(tree.shapes[c][k] for k in known), -1)
                rows = (np.ravel_multi_index([out[:, members[k]] for k in known], [tree.shapes[c][k] for k in known])
                        if known else np.zeros(n, dtype=np.intp))
                cumulative = np.cumsum(table[rows], axis=1)
                u = rng.random(n) * cumulative[:, -1]
                pick = np.minimum((cumulative <= u[:, None]).sum(axis=1), cumulative.shape[1] - 1)
                for k, states in zip(rest, np.unravel_index(pick, [tree.shapes[c][k] for k in rest]), strict=True):
                    out[:, members[k]] = states
        return out[:, :len(self.order)]

    def _home_clique(self, outputs: Sequence[str]) -> int | None:
        """A clique of the tree holding every one of ``outputs`` (None: there is none)."""
        idx = {self.position[v] for v in outputs}
        if len(idx) == 1:
            return self._tree.plan.home[next(iter(idx))]
        return next((c for c, members in enumerate(self._tree.cliques) if idx <= set(members)), None)

    def _tree_for(self, outputs: Sequence[str]) -> tuple[_Tree, int]:
        clique = self._home_clique(outputs)
        if clique is not None:
            return self._tree, clique
        key = frozenset(outputs)
        tree = self._extra_trees.get_or(key, lambda: _Tree(self.extra_plan(key), self._inner, fused=False))
        return tree, tree.plan.target

    def _state_rows(self, likelihoods: Likelihoods, variables: Sequence[str]
                    ) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, int]]]:
        """A batch of the case as given (row 0), then a row per state of each of ``variables`` with that state
        added to the case; and each variable's rows ``(first, end)``."""
        spans, start = {}, 1
        for v in variables:
            spans[v] = (start, start + self.cards[self.position[v]])
            start = spans[v][1]
        batch: dict[str, np.ndarray] = {k: np.asarray(x, dtype=float).reshape(1, -1) for k, x in likelihoods.items()}
        for v, (lo, hi) in spans.items():
            vec = np.ones((start, hi - lo))
            vec[lo:hi] = np.eye(hi - lo)
            batch[v] = vec * batch[v] if v in batch else vec
        return batch, spans

    def _outcomes_by_target(self, targets: Sequence[str], candidates: Sequence[str], likelihoods: Likelihoods
                            ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """:meth:`outcome_posteriors` with a row per target state (see there)."""
        batch, spans = self._state_rows(likelihoods, targets)
        post, log_z = self.marginals(batch, list(candidates))
        with np.errstate(invalid="ignore", over="ignore"):
            p_state = np.exp(log_z - log_z[0])  # P(T=t | e) on each target row
        p_outcome, posteriors = {}, {}
        for f in candidates:
            p_f = np.nan_to_num(post[f][0])
            p_outcome[f] = p_f
            posteriors[f] = {}
            for t, (lo, hi) in spans.items():
                # P(T=t, F=f | e); a target state impossible given e contributes nothing
                joint = np.where(p_state[lo:hi, None] > 0, np.nan_to_num(post[f][lo:hi]) * p_state[lo:hi, None], 0.0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    posteriors[f][t] = np.where(p_f[:, None] > 0, joint.T / p_f[:, None], np.nan)
        return p_outcome, posteriors

    def outcome_posteriors(self, targets: Sequence[str], candidates: Sequence[str], likelihoods: Likelihoods
                           ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
        """For each candidate finding F and state f: P(F=f | e) and P(target | e, F=f), in one batch.

        Returns ``(p_outcome, posteriors)``: ``p_outcome[F]`` has shape ``(card_F,)``;
        ``posteriors[F][target]`` has shape ``(card_F, card_target)`` (NaN rows where P(F=f | e) = 0).
        ``likelihoods`` describe one case.

        Two exact ways, the one with fewer rows chosen: a row per candidate state (the case with F=f added), or
        a row per target state (the case with T=t added), each giving every candidate's marginal, and then
        P(T=t | e, F=f) = P(F=f | e, T=t) P(T=t | e) / P(F=f | e). The second needs 1 + 2 rows for one binary
        target where the first needs one per state of 30 to 90 candidates.
        """
        rows = sum(self.cards[self.position[f]] for f in candidates)
        if sum(self.cards[self.position[t]] for t in targets) < rows and not set(targets) & set(candidates):
            return self._outcomes_by_target(targets, candidates, likelihoods)
        batch, spans = self._state_rows(likelihoods, candidates)
        post, log_z = self.marginals(batch, list(targets))
        with np.errstate(invalid="ignore", over="ignore"):
            p_all = np.exp(log_z - log_z[0])
        p_outcome = {f: np.nan_to_num(p_all[lo:hi]) for f, (lo, hi) in spans.items()}
        posteriors = {f: {t: np.asarray(post[t][lo:hi]) for t in targets} for f, (lo, hi) in spans.items()}
        return p_outcome, posteriors

"""What one posterior needs, and variable elimination over just that.

``P(targets | evidence)`` depends only on the *requisite* tables (Shachter 1998, "Bayes-Ball: The Rational
Pastime", UAI, the algorithm of its figure 3): those of variables not d-separated from the targets by the
evidence, and not barren. A query whose evidence is d-separated from its target (andes's bench target GRAV78
against 14 of its 15 evidence sets) needs the target's own table and nothing else; pathfinder's sets need
16-22 tables of 109. Such a part is small enough that eliminating its few unobserved variables one at a time
(numpy's ``einsum``) costs less than planning a junction tree for it.

What is lost is P(evidence): the dropped findings are never multiplied in. The answer must still say when the
findings are impossible, so the fast path is taken only with a proof that they are not (:meth:`Requisite.possible`):
a finding whose observed state (or soft likelihood) has positive probability under every configuration of its
parents cannot make P(evidence) zero, and the others are checked on their own tables and their ancestors' up to
the first variables that cannot either. Without a proof the query goes to the junction tree, which computes
P(evidence).

Soft evidence is a virtual observed child of its variable (Pearl 1988, section 2.2.2), and Bayes-ball treats
it as one.

>>> import bn
>>> network = bn.load("l4l5_knee").network
>>> req = Requisite(network)
>>> names = list(network.variables)
>>> tables = req.requisite([names.index("disc_herniation")], hard=(), soft=())
>>> [names[i] for i in tables]            # no evidence: its own table and its ancestors'
['age_group', 'disc_herniation']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from bn.engines.junction_tree import LRU
from bn.model import Network

# What an elimination costs, counted as the entries of the tables it builds plus STEP_COST per variable summed
# out (numpy's per-call overhead, about 12 µs a step, is what a junction tree spends on some 1,000 clique
# states: 5-16 ns a state on pathfinder, andes, pigs and l4l5_knee). A caller passes its own tree's cost as
# the budget; an elimination that would exceed it is abandoned before any table is read.
STEP_COST = 1_000
# No table of more entries is built, whatever the budget (memory: 0.5 MB).
MAX_TABLE = 1 << 16
# numpy's einsum takes fewer than 64 operands (numpy 2) or 32 (numpy 1.x); a step with more factors than this
# (after those over the same variables are multiplied together) is left to the tree.
MAX_OPERANDS = 60 if int(np.__version__.split(".")[0]) >= 2 else 30
# An answer whose unscaled total (P of the requisite evidence) falls below this may have lost digits to
# underflow: every factor is at most 1, so each partial product of a term is at least the term, and with the
# total above this bound any term lost was negligible. The tree, which rescales, answers instead.
SMALLEST = 1e-280


class Requisite:
    """Bayes-ball and variable elimination on one network (indices in the network's variable order).

    >>> import bn, numpy as np
    >>> network = bn.load("l4l5_knee").network
    >>> req = Requisite(network)
    >>> at = {v: i for i, v in enumerate(network.variables)}
    >>> p = req.conditional([at["disc_herniation"]], {at["age_group"]: 2})   # reads one table
    >>> p.shape, bool(abs(p.sum() - 1) < 1e-12)
    ((2,), True)
    >>> knee_pain = {at["knee_pain"]: 1}
    >>> req.conditional([at["disc_herniation"]], knee_pain, budget=100_000).round(3)
    array([0.956, 0.044])
    >>> print(req.conditional([at["disc_herniation"]], knee_pain, budget=10_000))   # over budget: the tree's job
    None
    """

    def __init__(self, network: Network):
        order = list(network.variables)
        at = {v: i for i, v in enumerate(order)}
        self.cards = [network[v].card for v in order]
        self.parents = [tuple(at[p] for p in network[v].parents) for v in order]
        children: list[list[int]] = [[] for _ in order]
        for i, ps in enumerate(self.parents):
            for p in ps:
                children[p].append(i)
        self.children = [tuple(c) for c in children]
        self.cpts = [np.asarray(network[v].cpt, dtype=float) for v in order]
        # Per variable and state: positive under every configuration of the parents (the proof above).
        self._safe = [(t.reshape(-1, t.shape[-1]) > 0).all(axis=0) for t in self.cpts]
        # The proof needs every row to have a positive entry (a file's rows sum to 1; a network built in code
        # is not checked): without it nothing is proven.
        self._rows_positive = all(bool((t.reshape(-1, t.shape[-1]).sum(axis=1) > 0).all()) for t in self.cpts)
        self._positive = [bool(safe.all()) for safe in self._safe]
        self._balls: LRU = LRU(256)

    def requisite(self, targets: Iterable[int], *, hard: Iterable[int], soft: Iterable[int]) -> tuple[int, ...]:
        """The variables whose tables ``P(targets | evidence)`` needs (Bayes-ball's top-marked variables).

        ``hard``: variables observed at one state; ``soft``: variables with a likelihood. Kept per pattern.
        """
        key = (frozenset(targets), frozenset(hard), frozenset(soft))
        if key[0] & (key[1] | key[2]):
            raise ValueError("a target has evidence: its posterior is the evidence itself")
        return self._balls.get_or(key, lambda: self._bayes_ball(*key))

    def _bayes_ball(self, targets: frozenset[int], hard: frozenset[int], soft: frozenset[int]) -> tuple[int, ...]:
        parents, children = self.parents, self.children
        top: set[int] = set()
        bottom: set[int] = set()
        up = list(targets)  # visited from a child
        down: list[int] = []  # visited from a parent
        while up or down:
            from_child = bool(up)
            j = up.pop() if from_child else down.pop()
            if j in hard:
                # An observed variable passes a ball from a parent back up, and blocks one from a child.
                if not from_child and j not in top:
                    top.add(j)
                    up.extend(parents[j])
                continue
            if from_child and j not in top:
                top.add(j)
                up.extend(parents[j])
            if j not in bottom:
                bottom.add(j)
                down.extend(children[j])
                if j in soft:  # its virtual observed child bounces the ball back up to it
                    up.append(j)
        return tuple(sorted(top))

    def possible(self, hard: Mapping[int, int], soft: Mapping[int, np.ndarray]) -> bool:
        """Whether P(evidence) > 0 is proven (False: not proven; the caller's junction tree decides).

        P(evidence) > 0 exactly when some assignment of every variable gives each table (read at the hard
        findings, times the soft ones' likelihoods) a positive entry. A variable is *free-standing* when its
        entry is positive under every configuration of its parents, for each state it may take: a hard
        finding's observed state, a soft finding's states of positive likelihood, any state of an unobserved
        variable. A finding whose entries, summed against its likelihood, can be zero is *unsafe*. Starting
        from the unsafe findings, walk up through the parents, stopping at free-standing variables (kept, but
        not their tables). If the tables walked have a positive assignment, it extends to the whole network:
        every other variable, taken in topological order, has a state with a positive entry whatever its
        parents' values. So P(evidence) > 0 exactly when the product of the walked tables has a positive sum,
        computed on them alone.
        """
        return self._proven(hard, soft, (), math.inf)

    def _proven(self, hard: Mapping[int, int], soft: Mapping[int, np.ndarray], covered: Iterable[int],
                budget: float) -> bool:
        """:meth:`possible`, given that the tables ``covered`` were shown to have a positive assignment (by a
        positive answer on them): when the walked tables are among them, so is a positive assignment of those."""
        if not self._rows_positive:
            return False
        walk = self._walk(hard, soft)
        if walk is None:
            return True
        walked, cut = walk
        # A cut soft finding is a parent of a walked table, so it is requisite whenever that table is: covered
        # walked tables cover the likelihoods too.
        if set(covered).issuperset(walked):
            return True
        proof = self._eliminate(walked, cut, (), hard, soft, budget)
        return proof is not None and proof[0].item() > 0

    def _walk(self, hard: Mapping[int, int], soft: Mapping[int, np.ndarray]
              ) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
        """:meth:`possible`'s tables, and the free-standing soft findings among their variables (their
        likelihoods count); None when no finding is unsafe."""
        unsafe = [v for v, s in hard.items() if not self._safe[v][s]]
        standing: set[int] = set()
        for v, lik in soft.items():
            table = self.cpts[v].reshape(-1, self.cpts[v].shape[-1])
            if not (table @ lik > 0).all():
                unsafe.append(v)
            elif (table[:, lik > 0] > 0).all():
                standing.add(v)
        if not unsafe:
            return None
        tables: set[int] = set()
        cut: set[int] = set()
        stack = list(unsafe)
        while stack:
            v = stack.pop()
            if v in tables:
                continue
            tables.add(v)
            for p in self.parents[v]:
                if p in hard:
                    continue  # safe, or unsafe and walked from already
                if p in soft:
                    if p in standing:
                        cut.add(p)
                    else:
                        stack.append(p)
                elif not self._positive[p]:
                    stack.append(p)
        return tuple(sorted(tables)), tuple(sorted(cut - tables))

    def conditional(self, targets: Sequence[int], hard: Mapping[int, int],
                    soft: Mapping[int, np.ndarray] | None = None, *, budget: float = math.inf
                    ) -> np.ndarray | None:
        """``P(targets | evidence)``, one axis per target, by variable elimination over the requisite tables;
        None when it cannot be answered this way: a target observed, evidence not proven possible
        (:meth:`possible`), eliminations costing more than ``budget`` (see :data:`STEP_COST`) or a table over
        :data:`MAX_TABLE` entries, or an answer that underflowed. The caller then asks its junction tree.

        When :meth:`possible`'s tables and likelihoods are among the requisite ones, a positive answer here
        already proves P(evidence) > 0 (an assignment positive on every requisite table is positive on those),
        so no second elimination is run: on pathfinder they always are.
        """
        soft = soft or {}
        targets = tuple(targets)
        if len(set(targets)) != len(targets) or any(t in hard or t in soft for t in targets):
            return None
        tables = self.requisite(targets, hard=hard, soft=soft)
        answer = self._eliminate(tables, (), targets, hard, soft, budget)
        if answer is None:
            return None
        result, spent, log_scale = answer
        total = float(result.sum())
        if not total > 0 or not math.isfinite(total) or math.log(total) + log_scale < math.log(SMALLEST):
            return None
        if not self._proven(hard, soft, tables, budget - spent):
            return None
        return result / total

    def _eliminate(self, tables: Sequence[int], extra: Sequence[int], keep: tuple[int, ...],
                   hard: Mapping[int, int], soft: Mapping[int, np.ndarray], budget: float = math.inf
                   ) -> tuple[np.ndarray, float, float] | None:
        """The product of ``tables`` (read at the hard findings, times the likelihoods of the soft findings
        among them and in ``extra``) summed down to ``keep``, divided by a positive constant, with its cost and
        the log of that constant; None past ``budget`` or :data:`MAX_TABLE`, or when a step underflows to
        zero."""
        free = {u for v in tables for u in (*self.parents[v], v) if u not in hard}.union(extra).difference(keep)
        if STEP_COST * len(free) > budget:  # before any table is read
            return None
        scopes = [tuple(u for u in (*self.parents[v], v) if u not in hard) for v in tables]
        scopes += [(v,) for v in {*tables, *extra} if v in soft]
        planned = self._order(scopes, free, budget)
        if planned is None:
            return None
        order, spent = planned
        factors: list[tuple[np.ndarray, tuple[int, ...]]] = []
        for v, scope in zip(tables, scopes):
            index = tuple(hard[u] if u in hard else slice(None) for u in (*self.parents[v], v))
            factors.append((self.cpts[v][index], scope))
        # likelihoods above 1 (the engine takes them as given) scaled down: every factor at most 1, as SMALLEST needs
        factors += [(soft[v] / max(float(soft[v].max()), 1.0), scope) for scope in scopes[len(tables):] for v in scope]
        log_scale = 0.0  # log of what the rescaling divided out: the unscaled product is result * exp(log_scale)
        # The factors by id, and the ids of those over each variable: a step finds its factors without a scan
        # (a possibility proof on munin sums out about 90 variables from as many tables).
        alive = dict(enumerate(factors))
        holding: dict[int, set[int]] = {}
        for k, (_, scope) in alive.items():
            for u in scope:
                holding.setdefault(u, set()).add(k)
        for v in order:
            ids = holding.pop(v)
            with_v = [alive.pop(k) for k in ids]
            for k, (_, s) in zip(ids, with_v, strict=True):
                for u in s:
                    if u != v:
                        holding[u].discard(k)
            if len(with_v) == 1:  # a sum over one axis: no einsum to set up
                table, s = with_v[0]
                table, scope, log_merged = np.add.reduce(table, axis=s.index(v)), tuple(u for u in s if u != v), 0.0
            else:
                scope = tuple(sorted({u for _, s in with_v for u in s} - {v}))
                contracted = _contract(with_v, scope)
                if contracted is None:
                    return None
                table, log_merged = contracted
            peak = float(table.max(initial=0.0))
            if not peak > 0 or not math.isfinite(peak):
                return None
            log_scale += log_merged + math.log(peak)
            k = len(factors)
            factors.append((table / peak, scope))
            alive[k] = factors[k]
            for u in scope:
                holding.setdefault(u, set()).add(k)
        contracted = _contract(list(alive.values()), keep)
        if contracted is None:
            return None
        result, log_merged = contracted
        return result, spent, log_scale + log_merged

    def _order(self, scopes: list[tuple[int, ...]], eliminate: Iterable[int], budget: float
               ) -> tuple[list[int], float] | None:
        """A greedy elimination order (smallest table first) and its cost, or None when the cost would exceed
        ``budget`` or a table :data:`MAX_TABLE` entries."""
        cards = self.cards
        neighbours: dict[int, set[int]] = {}
        for scope in scopes:
            for u in scope:
                neighbours.setdefault(u, set()).update(scope)
        left = set(eliminate)
        spent = float(STEP_COST * len(left))
        size = {u: math.prod([cards[w] for w in neighbours[u]]) for u in left}
        order: list[int] = []
        while left:
            v = min(left, key=size.__getitem__)
            spent += size[v]
            if size[v] > MAX_TABLE * cards[v] or spent > budget:
                return None
            near = neighbours.pop(v)
            near.discard(v)
            for u in near:
                linked = neighbours[u]
                linked.discard(v)
                linked |= near
                if u in left:
                    size[u] = math.prod([cards[w] for w in linked])
            left.discard(v)
            order.append(v)
        return order, spent


def _contract(factors: list[tuple[np.ndarray, tuple[int, ...]]], scope: tuple[int, ...]
              ) -> tuple[np.ndarray, float] | None:
    """The product of ``factors`` summed down to ``scope`` (in that order); None past :data:`MAX_OPERANDS`."""
    if not factors:
        return np.ones(()), 0.0
    log_scale = 0.0
    # Factors over the same variables (a root's observed children) are multiplied first, each product rescaled
    # to a largest entry of 1: one einsum operand each, and no underflow from many small ones.
    merged: dict[tuple[int, ...], np.ndarray] = {}
    for table, s in factors:
        if s in merged:
            product = merged[s] * table
            peak = product.max(initial=0.0)
            if peak > 0:
                merged[s] = product / peak
                log_scale += math.log(peak)
            else:
                merged[s] = product
        else:
            merged[s] = table
    if len(merged) > MAX_OPERANDS:
        return None
    labels: dict[int, int] = {}
    operands: list[np.ndarray | list[int]] = []
    for s, table in merged.items():
        operands += [table, [labels.setdefault(u, len(labels)) for u in s]]
    return np.einsum(*operands, [labels[u] for u in scope]), log_scale

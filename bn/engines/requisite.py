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
parents that can occur cannot make P(evidence) zero, and the others are checked on their own tables and their
ancestors' up to the first variables that cannot either, with boolean tables (where a product is positive, not
its value). Without a proof the query goes to the junction tree, which computes P(evidence).

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

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from graphlib import TopologicalSorter

import numpy as np

from bn.engines.junction_tree import LRU
from bn.model import Network
from bn.netfile import rows_sum_to_one

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
        self._nonzero = [t > 0 for t in self.cpts]  # the tables a possibility proof reads
        # A network built in code is not checked as a file is. The proof needs every row to have a positive entry
        # (without one nothing is proven), and dropping barren and d-separated tables needs each row to sum to 1
        # (without that every answer goes to the tree).
        sums = [t.reshape(-1, t.shape[-1]).sum(axis=1) for t in self.cpts]
        self._rows_positive = all(bool(row.min() > 0) for row in sums)
        self._normalised = rows_sum_to_one(network)
        # What :meth:`possible` reads, per variable: the states it can take (a superset of its prior support:
        # those positive under some configuration of its parents' such states, taken parents first); per state,
        # whether it is positive under every such configuration (safe); and whether every such state is
        # (standing). Only configurations that can occur count: a table's zeros under impossible ones (munin's
        # deterministic nodes) prove nothing wrong.
        self._support: list[np.ndarray] = [np.ones(c, dtype=bool) for c in self.cards]
        self._safe: list[np.ndarray] = [np.zeros(c, dtype=bool) for c in self.cards]
        self._standing = [False] * len(order)
        if self._rows_positive:
            for v in TopologicalSorter(dict(enumerate(self.parents))).static_order():
                table = self.cpts[v]
                if self.parents[v]:
                    table = table[np.ix_(*[np.flatnonzero(self._support[p]) for p in self.parents[v]],
                                         np.arange(self.cards[v]))]
                rows = table.reshape(-1, self.cards[v]) > 0
                self._support[v] = rows.any(axis=0)
                self._safe[v] = rows.all(axis=0)
                self._standing[v] = bool(rows[:, self._support[v]].all())
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
        findings, times the soft ones' likelihoods) a positive entry. Call S(v) the states of v that are positive
        under some configuration of its parents' S states (parents first from the roots): every state of positive
        prior probability is in S.
        - A hard finding is *safe* when its state is positive under every configuration of its parents' S states;
          a soft finding when its table, summed against its likelihood, is positive under every configuration.
        - An unobserved variable is *standing* when each of its S states is positive under every configuration of
          its parents' S states; a soft finding when each of its states of positive likelihood is positive under
          every configuration (those states are then in S whenever its parents' are).

        Starting from the findings that are not safe, walk up through the parents, stopping at standing variables:
        kept, but not their tables; an unobserved one held to its S states, a soft one kept with its likelihood.
        If the tables walked have a positive assignment with every stopped variable so held, it extends to the
        whole network: every other variable, taken in topological order, gets a state positive under its parents'
        values (and, if soft, of positive likelihood). By induction every variable's state is then in S, so the
        tables not walked, whose variables are safe or standing, are positive too. So P(evidence) > 0 exactly when
        the product of the walked tables, the stopped soft findings' likelihoods and the other stopped variables'
        S has a positive sum, computed on them alone.
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
        walked, cut, held = walk
        # A cut soft finding is a parent of a walked table, so it is requisite whenever that table is: covered
        # walked tables cover the likelihoods too. A positive assignment of them need not hold a stopped variable
        # to its S states, though: with one of those, the proof is computed.
        if not held and set(covered).issuperset(walked):
            return True
        # Holding a stopped variable to its S states is a likelihood of 0 or 1 on it.
        within = {**soft, **{v: self._support[v] for v in held}}
        proof = self._eliminate(walked, (*cut, *held), (), hard, within, budget, support=True)
        return proof is not None and proof[0].item() > 0

    def _walk(self, hard: Mapping[int, int], soft: Mapping[int, np.ndarray]
              ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
        """:meth:`possible`'s tables, the standing soft findings among their variables (their likelihoods
        count) and the stopped variables with states outside S (held to S); None when every finding is safe."""
        unsafe = [v for v, s in hard.items() if not self._safe[v][s]]
        standing_soft: set[int] = set()
        for v, lik in soft.items():
            table = self.cpts[v].reshape(-1, self.cpts[v].shape[-1])
            if not (table @ lik > 0).all():
                unsafe.append(v)
            elif (table[:, lik > 0] > 0).all():
                standing_soft.add(v)
        if not unsafe:
            return None
        tables: set[int] = set()
        cut: set[int] = set()
        held: set[int] = set()
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
                    if p in standing_soft:
                        cut.add(p)
                    else:
                        stack.append(p)
                elif not self._standing[p]:
                    stack.append(p)
                elif not self._support[p].all():
                    held.add(p)
        return tuple(sorted(tables)), tuple(sorted(cut - tables)), tuple(sorted(held))

    def conditional(self, targets: Sequence[int], hard: Mapping[int, int],
                    soft: Mapping[int, np.ndarray] | None = None, *, budget: float = math.inf
                    ) -> np.ndarray | None:
        """``P(targets | evidence)``, one axis per target, by variable elimination over the requisite tables;
        None when it cannot be answered this way: a table whose rows do not sum to 1, a target observed, evidence
        not proven possible (:meth:`possible`), eliminations costing more than ``budget`` (see :data:`STEP_COST`)
        or a table over :data:`MAX_TABLE` entries, or an answer that underflowed. The caller then asks its
        junction tree.

        When :meth:`possible`'s tables and likelihoods are among the requisite ones, a positive answer here
        already proves P(evidence) > 0 (an assignment positive on every requisite table is positive on those),
        so no second elimination is run: on pathfinder they always are.
        """
        soft = soft or {}
        targets = tuple(targets)
        if not self._normalised or len(set(targets)) != len(targets) or any(t in hard or t in soft for t in targets):
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
                   hard: Mapping[int, int], soft: Mapping[int, np.ndarray], budget: float = math.inf, *,
                   support: bool = False) -> tuple[np.ndarray, float, float] | None:
        """The product of ``tables`` (read at the hard findings, times the likelihoods of the soft findings
        among them and in ``extra``) summed down to ``keep``, divided by a positive constant, with its cost and
        the log of that constant; None past ``budget`` or :data:`MAX_TABLE`, or when a step underflows to
        zero.

        With ``support``, only where that sum is positive (boolean tables: a product is an "and", a sum an
        "or"), all a possibility proof needs: nothing to rescale and nothing to underflow, and a cheaper step.
        """
        free = {u for v in tables for u in (*self.parents[v], v) if u not in hard}.union(extra).difference(keep)
        if STEP_COST * len(free) > budget:  # before any table is read
            return None
        scopes = [tuple(u for u in (*self.parents[v], v) if u not in hard) for v in tables]
        softened = [v for v in {*tables, *extra} if v in soft]
        scopes += [(v,) for v in softened]
        planned = self._plan(scopes, free, budget)
        if planned is None:
            return None
        steps, left, spent = planned
        factors: list[np.ndarray] = []
        source = self._nonzero if support else self.cpts
        for v, scope in zip(tables, scopes):
            table = source[v]
            if len(scope) <= len(self.parents[v]):  # some of its family observed: read at their states
                table = table[tuple(hard[u] if u in hard else slice(None) for u in (*self.parents[v], v))]
            factors.append(table)
        if support:
            factors += [soft[v] > 0 for v in softened]
        else:
            # likelihoods above 1 (the engine takes them as given) scaled down: every factor at most 1, as
            # SMALLEST needs
            factors += [soft[v] / max(float(soft[v].max()), 1.0) for v in softened]
        total = np.logical_or if support else np.add
        log_scale = 0.0  # log of what the rescaling divided out: the unscaled product is result * exp(log_scale)
        for ids, axis, scope in steps:
            if axis >= 0:  # a sum over one axis of one factor: no einsum to set up
                table, log_merged = total.reduce(factors[ids[0]], axis=axis), 0.0
            else:
                contracted = _contract([(factors[k], scopes[k]) for k in ids], scope, rescale=not support)
                if contracted is None:
                    return None
                table, log_merged = contracted
            if not support:
                peak = float(table.max(initial=0.0))
                if not peak > 0 or not math.isfinite(peak):
                    return None
                log_scale += log_merged + math.log(peak)
                table = table / peak
            factors.append(table)
        contracted = _contract([(factors[k], scopes[k]) for k in left], keep, rescale=not support)
        if contracted is None:
            return None
        result, log_merged = contracted
        return result, spent, log_scale + log_merged

    def _plan(self, scopes: list[tuple[int, ...]], eliminate: Iterable[int], budget: float
              ) -> tuple[list[tuple[list[int], int, tuple[int, ...]]], list[int], float] | None:
        """A greedy elimination (smallest table first) of ``eliminate`` from factors over ``scopes``, as steps
        (the factors it takes, by index; the axis summed when it takes one, else -1; the scope of the factor it
        makes, appended to ``scopes``), the factors left at the end and the cost; None when the cost would
        exceed ``budget`` or a table :data:`MAX_TABLE` entries. Planned whole before any table is read, so that
        an elimination over budget costs no arithmetic, and the arithmetic no bookkeeping.
        """
        cards = self.cards
        neighbours: dict[int, set[int]] = {}
        holding: dict[int, set[int]] = {}
        for k, scope in enumerate(scopes):
            for u in scope:
                neighbours.setdefault(u, set()).update(scope)
                holding.setdefault(u, set()).add(k)
        left = set(eliminate)
        spent = float(STEP_COST * len(left))
        size = {u: math.prod([cards[w] for w in neighbours[u]]) for u in left}
        # A heap with stale entries skipped (a variable's size only changes when a neighbour is eliminated):
        # a scan of what is left at every step made planning munin's possibility proofs quadratic.
        heap = [(n, u) for u, n in size.items()]
        heapq.heapify(heap)
        alive = set(range(len(scopes)))
        steps: list[tuple[list[int], int, tuple[int, ...]]] = []
        pop, push, prod = heapq.heappop, heapq.heappush, math.prod
        while heap:
            n, v = pop(heap)
            if v not in left or size[v] != n:
                continue
            spent += n
            if n > MAX_TABLE * cards[v] or spent > budget:
                return None
            near = neighbours.pop(v)
            near.discard(v)
            left.discard(v)
            ids = sorted(holding.pop(v))
            if len(ids) == 1:  # summed along its axis: the others keep their order
                old = scopes[ids[0]]
                scope, axis = tuple(u for u in old if u != v), old.index(v)
            else:
                scope, axis = tuple(sorted(near)), -1
            made = len(scopes)
            scopes.append(scope)
            alive.difference_update(ids)
            alive.add(made)
            steps.append((ids, axis, scope))
            card = cards[v]
            for u in near:
                held = holding[u]
                held.difference_update(ids)
                held.add(made)
                linked = neighbours[u]
                before = len(linked)
                linked.discard(v)
                linked |= near
                if u in left:
                    # v gone and nothing new (a chain's step): the table shrinks by v's states, no product to take
                    grown = size[u] // card if len(linked) == before - 1 else prod([cards[w] for w in linked])
                    if grown != size[u]:
                        size[u] = grown
                        push(heap, (grown, u))
        return steps, sorted(alive), spent


def _contract(factors: list[tuple[np.ndarray, tuple[int, ...]]], scope: tuple[int, ...], *, rescale: bool = True
              ) -> tuple[np.ndarray, float] | None:
    """The product of ``factors`` summed down to ``scope`` (in that order); None past :data:`MAX_OPERANDS`.
    Boolean factors (``rescale=False``) give where it is positive: numpy's einsum on booleans is an or of ands."""
    if not factors:
        return np.ones(()), 0.0
    log_scale = 0.0
    # Factors over the same variables (a root's observed children) are multiplied first, each product rescaled
    # to a largest entry of 1: one einsum operand each, and no underflow from many small ones.
    merged: dict[tuple[int, ...], np.ndarray] = {}
    for table, s in factors:
        if s in merged:
            product = merged[s] * table
            peak = product.max(initial=0.0) if rescale else 0.0
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

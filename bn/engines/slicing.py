"""Evidence slicing: EM's expected counts on junction trees conditioned on what a group of records all know.

A registry records some variables for (nearly) everyone: on a knee clinic's records, the age group, the sex
and the established diagnoses. Those need not be summed over. Conditioned on a set S of known variables, the
network's moral graph loses every edge through S, so it is triangulated again without them (a junction tree of
its own, planned once per S), and each record's clique tables are the network's tables read at the record's
own values of S. On l4l5_knee 2.0.0 (EM's tree without OR chains: 229,544 clique states), the tree of a
registry's records, which know the diagnoses and the risk factors, has under 1,000.

The records are split into groups by which variables they know, as long as a split pays (a cost model in clique
states times records, :func:`groups`). A group is conditioned on what all its records know, and on the
variables most of them know (:func:`expansion`): a record that does not know one of those stands for one case
per value of it, each case weighed by its share of the record's probability. The other known values are
entered as likelihoods. The numbers are those of the full tree: tests compare the two to 1e-9 and against
enumeration (``tests/test_slicing.py``).

>>> import bn
>>> from bn.engines import CompiledEngine, network_plan
>>> network = bn.load("l4l5_knee").network
>>> eng = CompiledEngine(network, network_plan(network))     # EM's tree: no OR chains
>>> codes = {"age_group": np.array([0, 2, 2]), "disc_herniation": np.array([1, 0, -1]),
...          "knee_pain": np.array([1, 1, -1])}
>>> counts, log_z = expected_counts(eng, codes, ["disc_herniation", "straight_leg_raise"])
>>> full, full_log_z = eng.family_expectations(indicators(eng, codes), ["disc_herniation", "straight_leg_raise"])
>>> all(np.allclose(counts[v], full[v], atol=1e-12) for v in full), np.allclose(log_z, full_log_z)
(True, True)
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from bn import limits
from bn.engines.junction_tree import _LOG_SAFE, LRU, TreePlan, _Tree, plan_junction_tree

if TYPE_CHECKING:
    from bn.engines.junction_tree import CompiledEngine
    from bn.model import Network

# Planning and laying out a conditioned tree costs about what this many clique states times records cost to
# calibrate (10 ms); a split of the records (two trees instead of one) must save more than that.
SETUP_COST = 2_000_000
# At most this many groups: with 64, 250,000 registry records (each diagnosis unrecorded in 10%) filled them all,
# and an E-step cost 69 s a million; 50,000 of the same records, in 57 groups, 48 s. The splits that pay (132
# groups there) now all run: 39 s a million.
MAX_GROUPS = 256
# Clique states times records per calibration: about 32 MB of table.
CHUNK_STATES = 1 << 22

# Conditioned layouts, per (families, cards, known variables); they hold no tables. An E-step visits up to
# MAX_GROUPS trees in turn and each EM iteration visits them again in the same order: a cache smaller than that
# evicts every tree just before its next use (a cyclic scan defeats an LRU), so each iteration planned them all.
# Twice that: a Dask worker runs two partitions of the records (bn.em's PER_WORKER), each with its own groups.
_TREES: LRU = LRU(2 * MAX_GROUPS)


class ConditionedTree:
    """The junction tree of a network conditioned on the variables ``known`` (indices), and where each
    variable's table goes in it. ``families[v]`` lists v's parents, then v (indices)."""

    def __init__(self, network: Network, families: Sequence[Sequence[int]], cards: Sequence[int],
                 known: Sequence[int]):
        self.known = list(known)
        drop = set(self.known)
        column = {u: k for k, u in enumerate(self.known)}
        # A known variable keeps a clique of one state of its own (card 1), where the factors with nothing
        # else left to range over land.
        self.cards = [1 if u in drop else c for u, c in enumerate(cards)]
        plan = plan_junction_tree(self.cards, [[u for u in f if u not in drop] or [f[-1]] for f in families])
        self.tree = _Tree(plan, network, fused=False, tables=False, cards=self.cards)
        # One integer per combination of known values, while they fit in one.
        known_cards = [cards[u] for u in self.known]
        self.radix = (np.array([math.prod(known_cards[k + 1:]) for k in range(len(known_cards))], dtype=np.int64)
                      if self.known and math.prod(known_cards) < 2 ** 62 else None)
        # Per variable: its clique, the columns and strides of its known members, the axes order (known
        # members first), its shape over the clique's axes, and its numbers of known and other states.
        self.factors = []
        for v, family in enumerate(families):
            c = plan.assign[v]
            cut = [u for u in family if u in drop]
            kept = sorted(u for u in family if u not in drop)  # the clique's own (sorted) order
            strides = [math.prod(cards[w] for w in cut[k + 1:]) for k in range(len(cut))]
            shape = tuple(cards[u] if u in kept else 1 for u in plan.cliques[c])
            self.factors.append((c, [column[u] for u in cut], np.array(strides, dtype=np.intp),
                                 [family.index(u) for u in cut] + [family.index(u) for u in kept], shape,
                                 math.prod(cards[u] for u in cut), math.prod(cards[u] for u in kept)))

    def tables(self, cpts: Sequence[np.ndarray], values: np.ndarray, *, scaled: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
        """Each case's clique tables, ``(states, N)``, from ``cpts`` (one table per variable, in the engine's
        order, each with its axes in family order) read at the cases' values of the known variables ``(N,
        len(known))``, and the log of what they were divided by per case (0 unless ``scaled``: each clique's
        table divided by its largest entry, so that many small factors in one clique never underflow)."""
        tree = self.tree
        size = values.shape[0]
        if size > 1 and self.radix is not None:
            # Records share few combinations of known values (most diagnoses absent): each combination's
            # tables are built once and copied to its records.
            _, first, inverse = np.unique(values @ self.radix, return_index=True, return_inverse=True)
            if 2 * len(first) <= size:
                pot, log_scale = self.tables(cpts, values[first], scaled=scaled)
                return np.take(pot, inverse, axis=1), log_scale[inverse]
        pot = np.ones((tree.total, size))
        views = [pot[o:o + n].reshape((*shape, size)) for o, n, shape in zip(tree.offset, tree.sizes, tree.shapes)]
        log_scale = np.zeros(size)
        for cpt, (c, columns, strides, perm, shape, n_cut, n_kept) in zip(cpts, self.factors):
            table = np.transpose(cpt, perm).reshape(n_cut, n_kept)
            rows = values[:, columns] @ strides if columns else np.zeros(size, dtype=np.intp)
            views[c] *= table[rows].T.reshape((*shape, size))
            if scaled:
                top = views[c].reshape(-1, size).max(axis=0)
                top = np.where(top > 0, top, 1.0)
                views[c] /= top
                log_scale += np.log(top)
        return pot, log_scale


def _conditioned(engine: CompiledEngine, known: Sequence[int]) -> ConditionedTree:
    network = engine.network
    families = tuple(tuple(engine.position[u] for u in (*network[v].parents, v)) for v in engine.order)
    key = (families, tuple(engine.cards), tuple(known))
    return _TREES.get_or(key, lambda: ConditionedTree(network, families, engine.cards, known))


def _estimator(plan: TreePlan, cards: Sequence[int], positions: Sequence[int]) -> Callable[[set[int]], float]:
    """The clique states of the network's tree conditioned on a set of columns, estimated on ``plan``'s cliques
    less those variables (that layout is a valid junction tree of the conditioned network; the one planned for it
    is usually smaller), so that no triangulation is run to decide."""
    log_cards = np.zeros((len(plan.cliques), len(cards)))  # clique x variable: log(card) of its members
    for c, members in enumerate(plan.cliques):
        log_cards[c, list(members)] = np.log([cards[u] for u in members])
    position = np.asarray(positions, dtype=np.intp)

    def cost(columns: set[int]) -> float:
        keep = np.ones(len(cards))
        keep[position[list(columns)]] = 0.0
        return float(np.exp(log_cards @ keep).sum())

    return cost


def expansion(known: np.ndarray, always: Sequence[int], cost: Callable[[set[int]], float], card_of: Sequence[int],
              *, limit: int = CHUNK_STATES) -> tuple[list[int], np.ndarray]:
    """Columns to condition on beyond ``always`` (known by every record), and how many cases each record then
    stands for: a record that does not know some of them stands for one case per combination of their values
    (a record missing one yes/no diagnosis counts twice), on a smaller tree. Added greedily, most often known
    first, while the estimated clique states times cases fall and no record's cases times the tree exceed
    ``limit`` states (one calibration's table)."""
    chosen = set(always)
    copies = np.ones(known.shape[0], dtype=np.int64)
    best = known.shape[0] * cost(chosen)
    for j in np.argsort(-known.sum(axis=0), kind="stable").tolist():
        if j in chosen or not known[:, j].any():
            continue
        more = np.where(known[:, j], copies, copies * card_of[j])
        tree = cost(chosen | {j})
        if more.max() * tree > limit:
            continue
        if more.sum() * tree < best:
            chosen.add(j)
            copies, best = more, more.sum() * tree
    return sorted(chosen - set(always)), copies


def indicators(engine: CompiledEngine, codes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """State codes (-1: unknown) as the engine's likelihoods: an indicator of the known state, ones where
    unknown."""
    return {v: np.where((c >= 0)[:, None], np.eye(engine.network[v].card)[np.maximum(c, 0)], 1.0)
            for v, c in ((v, np.asarray(c)) for v, c in codes.items())}


def groups(known: np.ndarray, positions: Sequence[int], plan: TreePlan, cards: Sequence[int], *,
           cost: Callable[[set[int]], float] | None = None) -> list[tuple[np.ndarray, list[int]]]:
    """Records split by which variables they know, with the columns each group slices on (known by all of it).

    ``known`` is ``(records, columns)``; column j is variable ``positions[j]``. A group is split on the column
    known by some of it whose slicing saves the most clique states times records, while the saving exceeds
    :data:`SETUP_COST` and there are fewer than :data:`MAX_GROUPS` groups (cost: :func:`_estimator`).
    """
    cost = cost or _estimator(plan, cards, positions)
    out: list[tuple[np.ndarray, list[int]]] = []
    pending = [np.arange(known.shape[0])]
    while pending:
        rows = pending.pop()
        sub = known[rows]
        always = set(np.flatnonzero(sub.all(axis=0)).tolist())
        here = cost(always)
        best, best_gain = -1, SETUP_COST
        if len(out) + len(pending) + 1 < MAX_GROUPS:
            counts = sub.sum(axis=0)
            for j in np.flatnonzero((counts > 0) & (counts < len(rows))).tolist():
                gain = int(counts[j]) * (here - cost(always | {j}))
                if gain > best_gain:
                    best, best_gain = j, gain
        if best < 0:
            out.append((rows, sorted(always)))
        else:
            pending += [rows[sub[:, best]], rows[~sub[:, best]]]
    return out


def expected_counts(engine: CompiledEngine, codes: Mapping[str, np.ndarray], variables: Sequence[str], *,
                    weights: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``sum_n weights[n] * P(family | record_n)`` for each variable's family (axes: its parents, then itself)
    and ``log P(record_n)`` per record (``-inf`` for an impossible one, which adds nothing): EM's E-step, from
    state codes (one array per variable, -1 where a record does not know it).

    The same numbers as :meth:`CompiledEngine.family_expectations` on the records' likelihoods, computed on
    conditioned trees (see the module docstring). An engine whose tree holds OR chains goes through
    ``family_expectations``.
    """
    names = list(codes)
    size = len(np.asarray(codes[names[0]])) if names else 0
    matrix = (np.stack([np.asarray(codes[v], dtype=np.int64) for v in names], axis=1) if names
              else np.zeros((size, 0), dtype=np.int64))
    for j, v in enumerate(names):
        if matrix.size and (matrix[:, j].max() >= engine.network[v].card or matrix[:, j].min() < -1):
            raise ValueError(f"{v}: state codes must lie in -1..{engine.network[v].card - 1}")
    weights = np.ones(size) if weights is None else np.asarray(weights, dtype=float)
    position, cards = engine.position, engine.cards
    positions = [position[v] for v in names]
    acc: dict[str, dict[tuple[int, ...], np.ndarray]] = {v: {} for v in variables}  # per known family members
    log_z_all = np.full(size, -np.inf)

    def on_full_tree(rows: np.ndarray) -> None:
        """The network's own tree, whose tables all records share, a few thousand records at a time."""
        for start in range(0, len(rows), 4096):
            part = rows[start:start + 4096]
            counts, log_z_all[part] = engine.family_expectations(
                indicators(engine, {v: matrix[part, j] for j, v in enumerate(names)}), variables,
                weights=weights[part])
            for v, table in counts.items():
                acc[v][()] = acc[v].get((), 0.0) + table.ravel()

    cost = _estimator(engine.plan, cards, positions)
    # An engine with OR chains: a family split into chain steps has no clique of its own to read.
    parts = [(np.arange(size), [])] if engine._inner is not engine.network or not names else \
        groups(matrix >= 0, positions, engine.plan, cards, cost=cost)
    cpts = [np.asarray(engine.network[v].cpt, dtype=float) for v in engine.order]
    families = {v: [position[u] for u in (*engine.network[v].parents, v)] for v in variables}
    for rows, columns in parts:
        if not columns:
            on_full_tree(rows)
            continue
        group_known = matrix[rows] >= 0
        extra, copies = expansion(group_known, columns, cost, [cards[u] for u in positions])
        columns = sorted([*columns, *extra], key=lambda j: positions[j])
        conditioned = _conditioned(engine, [positions[j] for j in columns])
        tree = conditioned.tree
        needed = {tree.plan.assign[position[v]] for v in variables}
        at_column = {positions[j]: k for k, j in enumerate(columns)}
        rest = [j for j in range(len(names)) if positions[j] not in at_column]
        layout = []
        for v, family in families.items():
            c = tree.plan.assign[position[v]]
            members = tree.cliques[c]
            kept = [u for u in family if u not in at_column]
            cut = [u for u in family if u in at_column]
            layout.append((v, c, tuple(k + 1 for k, u in enumerate(members) if u not in kept),
                           [0] + [sorted(kept).index(u) + 1 for u in kept], cut))
        ends = np.cumsum(copies)  # each record's cases: one per combination of its unknown expanded values
        chunk = max(1, min(8192, CHUNK_STATES // max(tree.total, 1)))
        a = 0
        while a < len(rows):
            limits.check_time()
            b = max(a + 1, int(np.searchsorted(ends, (ends[a - 1] if a else 0) + chunk, side="right")))
            part = rows[a:b]
            n_cases = copies[a:b]
            a = b
            rep = np.repeat(np.arange(len(part)), n_cases)
            first = np.cumsum(n_cases) - n_cases  # where each record's cases start
            known = matrix[part][rep]
            values = known[:, columns]
            step, radix = np.arange(len(rep)) - first[rep], np.ones(len(rep), dtype=np.int64)
            for k, j in enumerate(columns):
                if j in extra:
                    unknown = values[:, k] < 0
                    card = cards[positions[j]]
                    values[unknown, k] = (step[unknown] // radix[unknown]) % card
                    radix[unknown] *= card
            lik = {position[v]: x for v, x in indicators(
                engine, {names[j]: known[:, j] for j in rest if (known[:, j] >= 0).any()}).items()}
            pot, log_z = tree.calibrate(lik, False, needed, conditioned.tables(cpts, values)[0])
            bad = ~(log_z > _LOG_SAFE)
            if extra and bad.any():
                # A case of a record with another case 1e20 times likelier weighs under 1e-20 of it: its
                # unscaled number (0 where it underflowed) is exact enough, and its rerun is spared.
                best = np.maximum.reduceat(log_z, first)
                bad &= ~(best[rep] > _LOG_SAFE + 46.0)
            if bad.any():  # tiny or zero P(case): again with every table and message rescaled
                again = np.flatnonzero(bad)
                tables, log_scale = conditioned.tables(cpts, values[again], scaled=True)
                pot_b, log_b = tree.calibrate({u: x[again] for u, x in lik.items()}, True, needed, tables)
                pot[:, again] = pot_b
                log_z[again] = log_b + log_scale
            if extra:  # a record's P is the sum over its cases; each case weighs its share of it
                top = np.maximum.reduceat(log_z, first)
                top = np.where(np.isfinite(top), top, 0.0)
                with np.errstate(divide="ignore"):
                    record_log_z = top + np.log(np.add.reduceat(np.exp(log_z - top[rep]), first))
                share = np.exp(log_z - np.where(np.isfinite(record_log_z), record_log_z, 0.0)[rep])
            else:
                record_log_z, share = log_z, 1.0
            log_z_all[part] = record_log_z
            w = np.where(np.isfinite(record_log_z), weights[part], 0.0)[rep] * share
            for v, c, axes, perm, cut in layout:
                table = pot[tree.offset[c]:tree.offset[c] + tree.sizes[c]].reshape((*tree.shapes[c], len(rep)))
                table = np.moveaxis(table, -1, 0)
                table = np.add.reduce(table, axis=axes) if axes else table
                table = np.transpose(table, perm).reshape(len(rep), -1)
                total = table.sum(axis=1, keepdims=True)
                # Divided first: a rescaled case's total may be tiny, and w / total would overflow.
                table = np.divide(table, total, out=np.zeros_like(table), where=total > 0) * w[:, None]
                into = acc[v]
                if not cut:
                    into[()] = into.get((), 0.0) + table.sum(axis=0)
                    continue
                width = table.shape[1]
                key = np.ravel_multi_index([values[:, at_column[u]] for u in cut], [cards[u] for u in cut])
                summed = np.bincount((key[:, None] * width + np.arange(width)).ravel(), table.ravel(),
                                     minlength=math.prod(cards[u] for u in cut) * width).reshape(-1, width)
                into[tuple(cut)] = into.get(tuple(cut), 0.0) + summed
    out = {}
    for v, family in families.items():
        total = np.zeros([cards[u] for u in family])
        for cut, summed in acc[v].items():
            kept = [u for u in family if u not in cut]
            arranged = np.reshape(summed, [cards[u] for u in (*cut, *kept)])
            total += np.transpose(arranged, [[*cut, *kept].index(u) for u in family])
        out[v] = total
    return out, log_z_all

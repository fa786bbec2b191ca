"""Evidence slicing: EM's expected counts on junction trees conditioned on what a group of records all know.

A registry records some variables for (nearly) everyone: on a knee clinic's records, the age group, the sex
and the established diagnoses. Those need not be summed over. Conditioned on a set S of known variables, the
network's moral graph loses every edge through S, so it is triangulated again without them (a junction tree of
its own, planned once per S), and each record's clique tables are the network's tables read at the record's
own values of S. On l4l5_knee 2.0.0 (EM's tree without OR chains: 229,544 clique states), the tree of a
registry's records, which know the diagnoses and the risk factors, has under 1,000.

The records are split into groups by which variables they know, as long as a split pays (a cost model in clique
states times records, :func:`groups`); each group runs on the tree conditioned on what all its records know,
its other known values entered as likelihoods. The numbers are those of the full tree: a test compares the two
to 1e-10 (``tests/test_slicing.py``).

>>> import bn
>>> from bn.engines import CompiledEngine
>>> eng = CompiledEngine(bn.load("l4l5_knee").network)
>>> codes = {"age_group": np.array([0, 2, 2]), "knee_pain": np.array([1, 1, -1])}
>>> counts, log_z = expected_counts(eng, codes, ["disc_herniation"])
>>> round(float(counts["disc_herniation"].sum()), 12)        # one expected count per record
3.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from bn import limits
from bn.engines.junction_tree import _LOG_SAFE, LRU, TreePlan, _Tree, plan_junction_tree

# Planning and laying out a conditioned tree costs about what this many clique states times records cost to
# calibrate (10 ms); a split of the records (two trees instead of one) must save more than that.
SETUP_COST = 2_000_000
MAX_GROUPS = 64
# Clique states times records per calibration: about 32 MB of table.
CHUNK_STATES = 1 << 22

_TREES: LRU = LRU(32)  # conditioned layouts, per (families, cards, known variables): they hold no tables


class ConditionedTree:
    """The junction tree of a network conditioned on the variables ``known`` (indices), and where each
    variable's table goes in it. ``families[v]`` lists v's parents, then v (indices)."""

    def __init__(self, network, families: Sequence[Sequence[int]], cards: Sequence[int], known: Sequence[int]):
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
        self.factors = []  # per variable: clique, known members (columns, strides), kept members, axes order
        for v, family in enumerate(families):
            c = plan.assign[v]
            cut = [u for u in family if u in drop]
            kept = sorted(u for u in family if u not in drop)  # the clique's own (sorted) order
            strides = [math.prod(cards[w] for w in cut[k + 1:]) for k in range(len(cut))]
            shape = tuple(cards[u] if u in kept else 1 for u in plan.cliques[c])
            self.factors.append((c, [column[u] for u in cut], np.array(strides, dtype=np.intp),
                                 [family.index(u) for u in cut] + [family.index(u) for u in kept], shape,
                                 math.prod(cards[u] for u in cut), math.prod(cards[u] for u in kept)))

    def tables(self, cpts: Sequence[np.ndarray], values: np.ndarray) -> np.ndarray:
        """Each case's clique tables, ``(states, N)``: the product of the tables ``cpts`` (one per variable, in
        family order) read at the cases' values of the known variables ``(N, len(known))``."""
        tree = self.tree
        size = values.shape[0]
        if size > 1 and self.radix is not None:
            # Records share few combinations of known values (most diagnoses absent): each combination's
            # tables are built once and copied to its records.
            _, first, inverse = np.unique(values @ self.radix, return_index=True, return_inverse=True)
            if 2 * len(first) <= size:
                return np.take(self.tables(cpts, values[first]), inverse, axis=1)
        pot = np.ones((tree.total, size))
        views = [pot[o:o + n].reshape((*shape, size)) for o, n, shape in zip(tree.offset, tree.sizes, tree.shapes)]
        for cpt, (c, columns, strides, perm, shape, n_cut, n_kept) in zip(cpts, self.factors):
            table = np.transpose(cpt, perm).reshape(n_cut, n_kept)
            rows = values[:, columns] @ strides if columns else np.zeros(size, dtype=np.intp)
            views[c] *= table[rows].T.reshape((*shape, size))
        return pot


def _conditioned(engine, known: Sequence[int]) -> ConditionedTree:
    network = engine.network
    families = tuple(tuple(engine.position[u] for u in (*network[v].parents, v)) for v in engine.order)
    key = (families, tuple(engine.cards), tuple(known))
    return _TREES.get_or(key, lambda: ConditionedTree(network, families, engine.cards, known))


def _estimator(plan: TreePlan, cards: Sequence[int], positions: Sequence[int]):
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


def expansion(known: np.ndarray, always: Sequence[int], cost, card_of: Sequence[int], *, most: int = 4096
              ) -> list[int]:
    """Columns to condition on beyond ``always`` (known by every record): a record that does not know some of
    them stands for one case per combination of their values (a record missing one yes/no diagnosis counts
    twice), on a smaller tree. Added greedily, most often known first, while the estimated clique states times
    cases fall and no record stands for more than ``most`` cases."""
    chosen = set(always)
    copies = np.ones(known.shape[0])
    best = known.shape[0] * cost(chosen)
    for j in np.argsort(-known.sum(axis=0), kind="stable").tolist():
        if j in chosen or not known[:, j].any():
            continue
        more = np.where(known[:, j], copies, copies * card_of[j])
        if more.max() > most:
            continue
        total = more.sum() * cost(chosen | {j})
        if total < best:
            chosen.add(j)
            copies, best = more, total
    return sorted(chosen - set(always))


def groups(known: np.ndarray, positions: Sequence[int], plan: TreePlan, cards: Sequence[int]
           ) -> list[tuple[np.ndarray, list[int]]]:
    """Records split by which variables they know, with the columns each group slices on (known by all of it).

    ``known`` is ``(records, columns)``; column j is variable ``positions[j]``. A group is split on the column
    known by some of it whose slicing saves the most clique states times records, while the saving exceeds
    :data:`SETUP_COST` and there are fewer than :data:`MAX_GROUPS` groups (cost: :func:`_estimator`).
    """
    cost = _estimator(plan, cards, positions)
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


def expected_counts(engine, codes: Mapping[str, np.ndarray], variables: Sequence[str], *,
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
    weights = np.ones(size) if weights is None else np.asarray(weights, dtype=float)
    if engine._inner is not engine.network or not names:
        eye = {v: np.eye(engine.network[v].card) for v in names}
        lik = {v: np.where((matrix[:, j] >= 0)[:, None], eye[v][np.maximum(matrix[:, j], 0)], 1.0)
               for j, v in enumerate(names)}
        return engine.family_expectations(lik, variables, weights=weights)
    position, cards = engine.position, engine.cards
    positions = [position[v] for v in names]
    cpts = [np.asarray(engine.network[v].cpt, dtype=float) for v in engine.order]
    families = {v: [position[u] for u in (*engine.network[v].parents, v)] for v in variables}
    acc: dict[str, dict[tuple[int, ...], np.ndarray]] = {v: {} for v in variables}  # per known family members
    log_z_all = np.full(size, -np.inf)
    eye = [np.eye(c) for c in cards]
    cost = _estimator(engine.plan, cards, positions)
    for rows, columns in groups(matrix >= 0, positions, engine.plan, cards):
        if not columns:  # nothing to condition on: the network's own tree, whose tables all records share
            for start in range(0, len(rows), 4096):
                part = rows[start:start + 4096]
                known = matrix[part]
                counts, log_z_all[part] = engine.family_expectations(
                    {v: np.where((known[:, j] >= 0)[:, None], eye[positions[j]][np.maximum(known[:, j], 0)], 1.0)
                     for j, v in enumerate(names)}, variables, weights=weights[part])
                for v, table in counts.items():
                    acc[v][()] = acc[v].get((), 0.0) + table.ravel()
            continue
        group_known = matrix[rows] >= 0
        extra = expansion(group_known, columns, cost, [cards[u] for u in positions])
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
        # Each record's cases: one per combination of the values it does not know of the expanded columns.
        copies = np.ones(len(rows), dtype=np.int64)
        for j in extra:
            copies = np.where(group_known[:, j], copies, copies * cards[positions[j]])
        ends = np.cumsum(copies)
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
            lik = {positions[j]: np.where((known[:, j] >= 0)[:, None], eye[positions[j]][np.maximum(known[:, j], 0)],
                                          1.0)
                   for j in rest if (known[:, j] >= 0).any()}
            pot, log_z = tree.calibrate(lik, False, needed, conditioned.tables(cpts, values))
            bad = ~(log_z > _LOG_SAFE)
            if extra and bad.any():
                # A case of a record with another case 1e20 times likelier weighs under 1e-20 of it: its
                # unscaled number (0 where it underflowed) is exact enough, and its rerun is spared.
                best = np.maximum.reduceat(log_z, first)
                bad &= ~(best[rep] > _LOG_SAFE + 46.0)
            if bad.any():  # tiny or zero P(case): again with every message rescaled
                again = np.flatnonzero(bad)
                pot_b, log_b = tree.calibrate({u: x[again] for u, x in lik.items()}, True, needed,
                                              conditioned.tables(cpts, values[again]))
                pot[:, again] = pot_b
                log_z[again] = log_b
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
                total = table.sum(axis=1)
                table = table * np.divide(w, total, out=np.zeros_like(w), where=total > 0)[:, None]
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

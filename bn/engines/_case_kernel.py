"""The compiled loops of :mod:`bn.engines.case_tree` (numba, imported on first use: see there).

Variables are numbered globally (the network's order) and locally (the relevant part's order). A table is a flat
C-order array over its variables, the last varying fastest. Every clique of the elimination tree keeps the
variable it eliminates as its last axis, so its message to its parent (the sum over that variable) is a
reshape away, and the message coming back multiplies whole rows.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OK, TOO_LARGE, IMPOSSIBLE, UNDERFLOW = 0, 1, 2, 3
# A product of two positive numbers under this has lost digits (float64's normal range ends at 2.2e-308): the
# answer could be wrong with no table coming out all zero, so the kernel gives up (UNDERFLOW) instead.
_TINY = 1e-290
_SIGN = np.int64(-(2**63))


@njit(cache=True)
def _lost(x, y):
    """Whether x * y, both positive, fell under ``_TINY`` (digits lost; exactly 0 included)."""
    return x * y < _TINY and x > 0.0 and y > 0.0


@njit(cache=True)
def _scale_to_one(vals, start, stop):
    """Divide ``vals[start:stop]`` by its largest entry and return that entry (0: all zero, left as it is)."""
    top = 0.0
    for r in range(start, stop):
        if vals[r] > top:
            top = vals[r]
    if top > 0.0:
        for r in range(start, stop):
            vals[r] /= top
    return top


@njit(cache=True)
def _index_map(vars_c, cards, stride_of, out):
    """``out[i]``: for state i of a table over ``vars_c``, the index in the table whose strides are ``stride_of``
    (0 for a variable the other table lacks)."""
    m = vars_c.size
    digits = np.zeros(m, np.int64)
    idx = 0
    for i in range(out.size):
        out[i] = idx
        k = m - 1
        while k >= 0:
            u = vars_c[k]
            digits[k] += 1
            idx += stride_of[u]
            if digits[k] < cards[u]:
                break
            idx -= digits[k] * stride_of[u]
            digits[k] = 0
            k -= 1


@njit(cache=True)
def _set_strides(vars_s, cards, stride_of):
    """C-order strides of a table over ``vars_s`` into ``stride_of`` (which is zero elsewhere)."""
    s = 1
    for k in range(vars_s.size - 1, -1, -1):
        stride_of[vars_s[k]] = s
        s *= cards[vars_s[k]]


@njit(cache=True)
def _popcount(x):
    """Set bits of an int64 (SWAR; the sign bit counts as one)."""
    x = x - ((x >> 1) & 0x5555555555555555)
    x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333)
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0F
    return ((x * 0x0101010101010101) >> 56) & 0xFF


@njit(cache=True)
def _members(bits, out):
    """The indices of the set bits of a bitset (words of 64), into ``out``; returns how many."""
    d = 0
    for w in range(bits.size):
        x = bits[w]
        while x != 0:
            low = x & -x
            # the sign bit: low - 1 wraps to the largest int64, whose 63 bits count right, but say so plainly
            out[d] = w * 64 + (63 if low == _SIGN else _popcount(low - 1))
            d += 1
            x ^= low
    return d


@njit(cache=True)
def _score(adj, alive, v, logc, nbs):
    """Fill-in edges and log clique size of eliminating v (``nbs`` is scratch)."""
    words = alive.size
    mine = adj[v] & alive
    d = _members(mine, nbs)
    missing = 0
    weight = logc[v]
    for i in range(d):
        a = nbs[i]
        weight += logc[a]
        for w in range(words):
            missing += _popcount(mine[w] & ~adj[a, w])
    return (missing - d) // 2, weight  # each missing edge counted from both ends, and each a against itself


@njit(cache=True)
def _eliminate(adj0, in_graph, cards, logc, by_fill, limit):
    """Greedy elimination over bitset adjacency (``by_fill``: fewest fill-in edges, then lightest clique; else
    lightest, then fewest), ties to the lowest index. Returns the order, the elimination cliques (each variable's
    remaining neighbours, then the variable itself, as ``c_ptr``/``c_vars``) and their states in all, or stops
    with an infinite total once that passes ``limit``."""
    n, words = adj0.shape
    adj = adj0.copy()
    alive = np.zeros(words, np.int64)
    m = 0
    for v in range(n):
        if in_graph[v]:
            alive[v >> 6] |= np.int64(1) << (v & 63)
            m += 1
    fill = np.zeros(n, np.int64)
    weight = np.zeros(n)
    nbs = np.empty(n, np.int64)
    for v in range(n):
        if in_graph[v]:
            fill[v], weight[v] = _score(adj, alive, v, logc, nbs)
    order = np.empty(m, np.int64)
    c_ptr = np.zeros(m + 1, np.int64)
    c_vars = np.empty(m * (m + 1) // 2 + m, np.int64)
    members = np.empty(n, np.int64)
    total = 0.0
    for step in range(m):
        best = -1
        d_alive = _members(alive, members)
        for i in range(d_alive):
            v = members[i]
            if best < 0:
                best = v
            elif by_fill:
                if fill[v] < fill[best] or (fill[v] == fill[best] and weight[v] < weight[best]):
                    best = v
            elif weight[v] < weight[best] or (weight[v] == weight[best] and fill[v] < fill[best]):
                best = v
        order[step] = best
        alive[best >> 6] &= ~(np.int64(1) << (best & 63))
        mine = adj[best] & alive
        d = _members(mine, nbs)
        size = float(cards[best])
        at = c_ptr[step]
        for i in range(d):
            a = nbs[i]
            c_vars[at + i] = a
            size *= cards[a]
            for w in range(words):
                adj[a, w] |= mine[w]
            adj[a, a >> 6] &= ~(np.int64(1) << (a & 63))
        c_vars[at + d] = best
        c_ptr[step + 1] = at + d + 1
        total += size
        if total > limit:
            return order, c_ptr, c_vars[:c_ptr[step + 1]], np.inf
        # The new edges join v's neighbours: their scores change, and so does that of any vertex next to two of
        # them (a missing edge among its neighbours may now be there).
        d_alive = _members(alive, members)
        for i in range(d_alive):
            u = members[i]
            near = 0
            for w in range(words):
                near += _popcount(adj[u, w] & mine[w])
            if near >= 2 or (mine[u >> 6] >> (u & 63)) & 1:
                fill[u], weight[u] = _score(adj, alive, u, logc, nbs)
    return order, c_ptr, c_vars[:c_ptr[m]], total


@njit(cache=True)
def case_marginals(cards_g, fam_ptr, fam_vars, cpt_ptr, cpt_vals, ev_vars, ev_ptr, ev_vals, targets, limit, max_vars,
                   out):
    """Normalised marginals of ``targets`` (concatenated into ``out``) and log P(evidence) for one case.

    ``fam_vars[fam_ptr[v]:fam_ptr[v + 1]]`` is variable v's parents then v, ``cpt_vals[cpt_ptr[v]:...]`` its
    table over them; ``ev_vals[ev_ptr[k]:ev_ptr[k + 1]]`` is the likelihood of variable ``ev_vars[k]``. Returns
    (status, log P(evidence)): ``TOO_LARGE`` when the relevant part has over ``max_vars`` variables (planning
    grows with their square) or its tree would pass ``limit`` clique states, ``IMPOSSIBLE`` when a table or a
    message came out all zero (``out`` is then NaN): the evidence has probability zero, or so small a one that
    it underflowed despite the rescaling, which the caller tells apart; ``UNDERFLOW`` when a product of positive
    numbers fell under ``_TINY`` (hundreds of strong findings pulling one variable both ways can push an entry
    1e308 below its table's largest, where no rescaling keeps it).
    """
    n_all = cards_g.size
    # The relevant part: the targets, the observed variables and their ancestors (the rest is barren).
    local = np.full(n_all, -1, np.int64)
    rel = np.empty(n_all, np.int64)  # also the stack: a variable enters it once, when first seen
    seen = np.zeros(n_all, np.bool_)
    n = 0
    for k in range(targets.size + ev_vars.size):
        g = targets[k] if k < targets.size else ev_vars[k - targets.size]
        if not seen[g]:
            seen[g] = True
            rel[n] = g
            n += 1
    done = 0
    while done < n:
        g = rel[done]
        done += 1
        for j in range(fam_ptr[g], fam_ptr[g + 1] - 1):
            p = fam_vars[j]
            if not seen[p]:
                seen[p] = True
                rel[n] = p
                n += 1
    if n > max_vars:
        return TOO_LARGE, 0.0
    rel = np.sort(rel[:n])
    for i in range(n):
        local[rel[i]] = i
    cards = np.empty(n, np.int64)
    logc = np.empty(n)
    for i in range(n):
        cards[i] = cards_g[rel[i]]
        logc[i] = np.log(cards[i])
    ev_at = np.full(n, -1, np.int64)
    for k in range(ev_vars.size):
        ev_at[local[ev_vars[k]]] = k
    is_target = np.zeros(n, np.bool_)
    for k in range(targets.size):
        is_target[local[targets[k]]] = True
    has_child = np.zeros(n, np.bool_)
    for i in range(n):
        g = rel[i]
        for j in range(fam_ptr[g], fam_ptr[g + 1] - 1):
            has_child[local[fam_vars[j]]] = True

    # One factor per relevant variable: its table times its likelihood; an observed leaf that is no target is
    # summed out at once into a factor over its parents, so it never enters the graph.
    f_ptr = np.zeros(n + 1, np.int64)
    f_vptr = np.zeros(n + 1, np.int64)
    absorbed = np.zeros(n, np.bool_)
    for i in range(n):
        g = rel[i]
        width = fam_ptr[g + 1] - fam_ptr[g]
        span = cpt_ptr[g + 1] - cpt_ptr[g]
        absorbed[i] = ev_at[i] >= 0 and not is_target[i] and not has_child[i]
        if absorbed[i]:
            width -= 1
            span //= cards[i]
        f_ptr[i + 1] = f_ptr[i] + width
        f_vptr[i + 1] = f_vptr[i] + span
    f_vars = np.empty(f_ptr[n], np.int64)
    f_vals = np.empty(f_vptr[n])
    log_const = 0.0
    # Likelihoods are defined up to a factor: each is scaled to a largest entry of 1 (its log kept), so that a
    # finding entered with a tiny weight loses no digits.
    lik = ev_vals.copy()
    for k in range(ev_vars.size):
        top = _scale_to_one(lik, ev_ptr[k], ev_ptr[k + 1])
        if top <= 0.0:
            out[:] = np.nan
            return IMPOSSIBLE, -np.inf
        log_const += np.log(top)
    for i in range(n):
        g = rel[i]
        c = cards[i]
        base = cpt_ptr[g]
        w = 0
        for j in range(fam_ptr[g], fam_ptr[g + 1]):
            u = local[fam_vars[j]]
            if absorbed[i] and u == i:
                continue
            f_vars[f_ptr[i] + w] = u
            w += 1
        rows = (cpt_ptr[g + 1] - base) // c
        if absorbed[i]:
            e = ev_ptr[ev_at[i]]
            for r in range(rows):
                acc = 0.0
                for s in range(c):
                    x = cpt_vals[base + r * c + s]
                    y = lik[e + s]
                    if _lost(x, y):
                        return UNDERFLOW, 0.0
                    acc += x * y
                f_vals[f_vptr[i] + r] = acc
        else:
            for r in range(rows * c):
                f_vals[f_vptr[i] + r] = cpt_vals[base + r]
            if ev_at[i] >= 0:
                e = ev_ptr[ev_at[i]]
                for r in range(rows):
                    for s in range(c):
                        x = f_vals[f_vptr[i] + r * c + s]
                        y = lik[e + s]
                        if _lost(x, y):
                            return UNDERFLOW, 0.0
                        f_vals[f_vptr[i] + r * c + s] = x * y
        # Every factor scaled to a largest entry of 1 (its log kept), so that tiny likelihoods or many findings
        # on one parent cannot underflow a clique's table; an observed root is a constant factor, all scale.
        top = _scale_to_one(f_vals, f_vptr[i], f_vptr[i + 1])
        if top <= 0.0:
            out[:] = np.nan
            return IMPOSSIBLE, -np.inf
        log_const += np.log(top)

    in_graph = ~absorbed
    words = (n + 63) >> 6
    adj = np.zeros((n, words), np.int64)
    for i in range(n):
        for a in range(f_ptr[i], f_ptr[i + 1]):
            for b in range(f_ptr[i], f_ptr[i + 1]):
                u = f_vars[b]
                if a != b:
                    adj[f_vars[a], u >> 6] |= np.int64(1) << (u & 63)
    order, c_ptr, c_vars, total = _eliminate(adj, in_graph, cards, logc, True, limit)
    other = _eliminate(adj, in_graph, cards, logc, False, min(limit, total))
    if other[3] < total:
        order, c_ptr, c_vars, total = other
    if total > limit:
        return TOO_LARGE, 0.0
    m = order.size
    pos = np.full(n, -1, np.int64)
    for k in range(m):
        pos[order[k]] = k

    # The elimination tree: clique k holds order[k]'s neighbours when it is eliminated, then order[k] itself;
    # its parent is the clique of the first of those neighbours to go.
    parent = np.full(m, -1, np.int64)
    sizes = np.empty(m, np.int64)
    for k in range(m):
        first = m
        size = 1
        for j in range(c_ptr[k], c_ptr[k + 1]):
            size *= cards[c_vars[j]]
            if j < c_ptr[k + 1] - 1 and pos[c_vars[j]] < first:
                first = pos[c_vars[j]]
        sizes[k] = size
        if first < m:
            parent[k] = first
    offset = np.zeros(m + 1, np.int64)
    for k in range(m):
        offset[k + 1] = offset[k] + sizes[k]
    pot = np.ones(offset[m])
    stride_of = np.zeros(n, np.int64)
    index = np.empty(offset[m], np.int64)  # scratch for index maps

    # Each factor goes to the clique of its first variable eliminated, which holds all of its variables.
    for i in range(n):
        width = f_ptr[i + 1] - f_ptr[i]
        if width == 0:
            continue
        home = m
        for a in range(f_ptr[i], f_ptr[i + 1]):
            if pos[f_vars[a]] < home:
                home = pos[f_vars[a]]
        stride_of[:] = 0
        _set_strides(f_vars[f_ptr[i]:f_ptr[i + 1]], cards, stride_of)
        view = index[:sizes[home]]
        _index_map(c_vars[c_ptr[home]:c_ptr[home + 1]], cards, stride_of, view)
        o = offset[home]
        fv = f_vptr[i]
        top = 0.0
        for s in range(sizes[home]):
            x = pot[o + s]
            y = f_vals[fv + view[s]]
            if _lost(x, y):
                return UNDERFLOW, 0.0
            pot[o + s] = x * y
            if pot[o + s] > top:
                top = pot[o + s]
        if top <= 0.0:
            out[:] = np.nan
            return IMPOSSIBLE, -np.inf
        if top < 1e-100:  # factors whose largest entries fall on different states: keep the table in range
            for s in range(sizes[home]):
                pot[o + s] /= top
            log_const += np.log(top)

    # Collect, leaves first (elimination order), every message rescaled to a largest entry of 1.
    msg_off = np.zeros(m + 1, np.int64)
    for k in range(m):
        msg_off[k + 1] = msg_off[k] + sizes[k] // cards[order[k]]
    msgs = np.empty(msg_off[m])
    log_z = log_const
    for k in range(m):
        o = offset[k]
        c = cards[order[k]]
        rows = sizes[k] // c
        if parent[k] < 0:
            z = 0.0
            for s in range(sizes[k]):
                z += pot[o + s]
            if z <= 0.0:
                out[:] = np.nan
                return IMPOSSIBLE, -np.inf
            log_z += np.log(z)
            continue
        mo = msg_off[k]
        top_m = 0.0
        for r in range(rows):
            acc = 0.0
            for s in range(c):
                acc += pot[o + r * c + s]
            msgs[mo + r] = acc
            if acc > top_m:
                top_m = acc
        if top_m <= 0.0:
            out[:] = np.nan
            return IMPOSSIBLE, -np.inf
        for r in range(rows):
            msgs[mo + r] /= top_m
        log_z += np.log(top_m)
        p = parent[k]
        stride_of[:] = 0
        _set_strides(c_vars[c_ptr[k]:c_ptr[k + 1] - 1], cards, stride_of)
        view = index[:sizes[p]]
        _index_map(c_vars[c_ptr[p]:c_ptr[p + 1]], cards, stride_of, view)
        op = offset[p]
        for s in range(sizes[p]):
            x = pot[op + s]
            y = msgs[mo + view[s]]
            if _lost(x, y):
                return UNDERFLOW, 0.0
            pot[op + s] = x * y

    # Distribute, root first, only down the paths to the targets' cliques.
    needed = np.zeros(m, np.bool_)
    for k in range(targets.size):
        j = pos[local[targets[k]]]
        while j >= 0 and not needed[j]:
            needed[j] = True
            j = parent[j]
    fresh = np.empty(msgs.size)
    for k in range(m - 1, -1, -1):
        p = parent[k]
        if p < 0 or not needed[k]:
            continue
        c = cards[order[k]]
        rows = sizes[k] // c
        mo = msg_off[k]
        stride_of[:] = 0
        _set_strides(c_vars[c_ptr[k]:c_ptr[k + 1] - 1], cards, stride_of)
        view = index[:sizes[p]]
        _index_map(c_vars[c_ptr[p]:c_ptr[p + 1]], cards, stride_of, view)
        for r in range(rows):
            fresh[mo + r] = 0.0
        op = offset[p]
        for s in range(sizes[p]):
            fresh[mo + view[s]] += pot[op + s]
        o = offset[k]
        # Where the upward message is 0 so is the new one (it is a factor of it): 0/0 gives 0. The ratios are
        # scaled to a largest of 1: each level could otherwise grow a table by its variable's states, and a long
        # chain of them overflow (the marginals are normalised, and P(evidence) comes from the collection).
        top = 0.0
        for r in range(rows):
            fresh[mo + r] = fresh[mo + r] / msgs[mo + r] if msgs[mo + r] > 0.0 else 0.0
            if fresh[mo + r] > top:
                top = fresh[mo + r]
        if top <= 0.0:
            out[:] = np.nan
            return IMPOSSIBLE, -np.inf
        for r in range(rows):
            ratio = fresh[mo + r] / top
            for s in range(c):
                x = pot[o + r * c + s]
                if _lost(x, ratio):
                    return UNDERFLOW, 0.0
                pot[o + r * c + s] = x * ratio

    # Each target's marginal from its own clique, where it is the last axis.
    w = 0
    for k in range(targets.size):
        t = local[targets[k]]
        j = pos[t]
        c = cards[t]
        o = offset[j]
        rows = sizes[j] // c
        z = 0.0
        for s in range(c):
            acc = 0.0
            for r in range(rows):
                acc += pot[o + r * c + s]
            out[w + s] = acc
            z += acc
        for s in range(c):
            out[w + s] = out[w + s] / z if z > 0.0 else np.nan
        w += c
    return OK, log_z

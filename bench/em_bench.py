"""EM's E-step on l4l5_knee: a registry's million records, and sparse records per distinct pattern.

    python -m bench.em_bench --registry 1000000 --records 2000 --repeats 3 [--dask local]

**Registry** (issue 16's target: one EM iteration over 1,000,000 records in under 30 s): records drawn by
``bench.cohort`` (a clinic's registry: age, sex, diabetes and the diagnoses always recorded, history 95%,
examination 70%, tests ordered conditionally, the nerve-root mechanisms never), as drawn and again with each
diagnosis unrecorded at the ``--registry-missing`` rates. Every record is distinct. Timed:
one E-step on trees conditioned on what groups of records know (``bn.engines.slicing``, what ``bn.em`` runs)
and a whole ``bn.em.em`` fit stopped after one iteration (finding the distinct records, two E-steps, one M-step);
the baseline, in the same run, is the full tree's batched path (``family_expectations``) on a sample of the
records, per record.

**Sparse records**: drawn from the shipped network with the diagnoses and mechanisms unrecorded and 70% of the
other findings missing; seconds per distinct pattern on the conditioned trees, the full tree batched, and one
case at a time.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import numpy as np

import bn
from bench.run import median_time
from bn.batch import record_codes
from bn.em import _as_tables, _patterns, em
from bn.engines import CompiledEngine, network_plan
from bn.engines.slicing import _conditioned, _estimator, expansion, expected_counts, groups, indicators
from bn.model import Network
from bn.sampling import sample


def _engine(network: Network) -> tuple[CompiledEngine, list[str]]:
    update = [v for v in network.variables if network[v].form not in ("deterministic_or", "mixture")]
    start = _as_tables(network, {v: network[v].cpt for v in update})
    return CompiledEngine(start, network_plan(start)), update


def registry(net: bn.BayesNet, n: int, repeats: int, baseline: int, missing: Sequence[float],
             dask: str | None = None) -> None:
    from bench.cohort import clinic_records, perturbed_truth

    network = net.network
    t = time.perf_counter()
    records = clinic_records(perturbed_truth(network), n, seed=1)
    complete = record_codes(net, records)
    drawn = time.perf_counter() - t
    for rate in missing:
        codes = dict(complete)
        rng = np.random.default_rng(2)
        for v in network.by_role("diagnosis"):  # a registry that does not record every diagnosis of everyone
            if v in codes and rate:
                codes[v] = np.where(rng.random(n) < rate, -1, codes[v])
        print(f"\nregistry, each diagnosis unrecorded in {rate:.0%} of the records:")
        _registry_run(net, codes, n, drawn, repeats, baseline, dask)


def _registry_run(net: bn.BayesNet, codes: dict[str, np.ndarray], n: int, drawn: float, repeats: int,
                  baseline: int, dask: str | None) -> None:
    network = net.network
    t = time.perf_counter()
    names, patterns, weights, _ = _patterns(network, codes)
    distinct = time.perf_counter() - t
    engine, update = _engine(network)
    columns = {v: patterns[:, j] for j, v in enumerate(names)}
    positions = [engine.position[v] for v in names]
    known = patterns >= 0
    parts = groups(known, positions, engine.plan, engine.cards)
    cost = _estimator(engine.plan, engine.cards, positions)
    sizes, cases = [], 0
    for rows, cols in parts:  # each group's tree, and its cases (records expanded over unknown conditioned values)
        if not cols:  # as expected_counts: the network's own tree
            sizes.append(engine._tree.total)
            cases += len(rows)
            continue
        extra, copies = expansion(known[rows], cols, cost, [engine.cards[u] for u in positions])
        sizes.append(_conditioned(engine, sorted(positions[j] for j in [*cols, *extra])).tree.total)
        cases += int(copies.sum())
    step = median_time(lambda: expected_counts(engine, columns, update, weights=weights), repeats)
    spread = None
    if dask:
        from bn.em import _Partitions

        t = time.perf_counter()
        cluster = _Partitions(dask, columns, len(patterns))
        setup = time.perf_counter() - t
        try:
            t = time.perf_counter()
            cluster.expectations(engine.network, engine.plan, update, weights.astype(float))
            first = time.perf_counter() - t
            spread = (setup, first, median_time(
                lambda: cluster.expectations(engine.network, engine.plan, update, weights.astype(float)), repeats))
        finally:
            cluster.close()
    t = time.perf_counter()
    fit = em(net, codes, max_iter=1)
    whole = time.perf_counter() - t
    k = min(baseline, len(patterns))
    sample_rows = np.random.default_rng(0).choice(len(patterns), size=k, replace=False)
    lik = indicators(engine, {v: c[sample_rows] for v, c in columns.items()})
    full = median_time(lambda: engine.family_expectations(lik, update, weights=weights[sample_rows]), 1) / k
    print(f"{n:,} records drawn by bench.cohort in {drawn:.0f} s, {len(patterns):,} distinct, "
          f"{len(update)} tables learnt; {len(parts)} groups of records, {cases:,} cases once expanded, "
          f"conditioned trees of {min(sizes):,}-{max(sizes):,} clique states (the full tree: {engine._tree.total:,})")
    print("| E-step path | seconds for all the records |\n|---|---:|")
    print(f"| conditioned trees (`bn.engines.slicing`; median of {repeats}) | {step:.1f} |")
    if spread is not None:
        print(f"| the same through `--dask {dask}` (`bn.em._Partitions`; median of the {repeats} E-steps after the "
              f"first, which plans each worker's trees: {spread[1]:.1f} s; cluster and records sent: "
              f"{spread[0]:.1f} s) | {spread[2]:.1f} |")
    print(f"| the full tree batched (`family_expectations`), {k} records timed | {full * len(patterns):.0f} "
          f"(extrapolated: {1000 * full:.2f} ms a record) |")
    print(f"whole fit, one iteration (`bn.em.em(max_iter=1)`: distinct records, 2 E-steps, 1 M-step): "
          f"{whole:.1f} s ({fit.iterations} iteration; of which finding the distinct records, `bn.em._patterns`: "
          f"{distinct:.1f} s)")


def sparse(net: bn.BayesNet, n: int, repeats: int, baseline: int) -> None:
    network = net.network
    rng = np.random.default_rng(0)
    states, _ = sample(network, n, rng)
    order = list(network.variables)
    codes = {}
    for v in network.by_role("finding", "risk_factor", "red_flag"):
        col = states[:, order.index(v)].astype(np.int64)
        col[rng.random(n) < 0.7] = -1
        codes[v] = col
    names, patterns, weights, _ = _patterns(network, codes)
    engine, update = _engine(network)
    columns = {v: patterns[:, j] for j, v in enumerate(names)}
    lik = indicators(engine, columns)
    sliced = median_time(lambda: expected_counts(engine, columns, update, weights=weights), repeats) / len(patterns)
    batched = median_time(lambda: engine.family_expectations(lik, update, weights=weights), repeats) / len(patterns)
    k = min(baseline, len(patterns))

    def one_at_a_time():
        for i in range(k):
            engine.family_posteriors({v: a[i] for v, a in lik.items()}, update)

    single = median_time(one_at_a_time, repeats) / k
    print(f"sparse: {n} records, {len(patterns)} distinct patterns, {len(update)} tables learnt")
    print(f"| E-step path | ms per distinct pattern (median of {repeats}) |\n|---|---:|")
    print(f"| conditioned trees (`bn.engines.slicing`) | {1000 * sliced:.2f} |")
    print(f"| the full tree batched (`family_expectations`, 32 per calibration) | {1000 * batched:.2f} |")
    print(f"| one pattern at a time (`family_posteriors`) | {1000 * single:.2f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.em_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--registry", type=int, default=1_000_000, help="registry records (0: skip)")
    parser.add_argument("--registry-missing", type=float, nargs="+", default=[0.0, 0.1],
                        help="rates at which each diagnosis goes unrecorded in the registry")
    parser.add_argument("--records", type=int, default=2000, help="sparse records (0: skip)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-cases", type=int, default=100, help="records timed on the slower paths")
    parser.add_argument("--dask", metavar="ADDRESS", help="also time the registry's E-step on a Dask cluster "
                        "('local': two worker processes on this machine), as `bn learn --dask` runs it")
    args = parser.parse_args(argv)
    net = bn.load("l4l5_knee")
    info = net.info
    print(f"{info.id} {info.version} (sha256 {info.sha256[:12]}...)")
    if args.registry:
        registry(net, args.registry, args.repeats, args.baseline_cases, args.registry_missing, args.dask)
    if args.records:
        sparse(net, args.records, args.repeats, args.baseline_cases)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

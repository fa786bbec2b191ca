"""Benchmark: the compiled engine against pgmpy's VariableElimination and pyAgrum, in one run.

Usage::

    .venv/bin/python -m bench.run            # the full run recorded in docs/benchmarks.md
    .venv/bin/python -m bench.run --quick    # a small, fast run (also what the smoke test runs)
    .venv/bin/python -m bench.run --networks alarm,hepar2 --repeats 30 --json results.json

For each network, over the same random evidence sets (hard findings with positive probability): compile
time, one target posterior, all single-variable marginals, the next-best-finding loop (for each candidate
finding and each of its states, the target's posterior), batch throughput at batch sizes 1, 100 and 10,000
(all marginals per case; the baselines have no batch axis, so their throughput is one case at a time), and
peak memory (tracemalloc: numpy and Python allocations; pyAgrum's C++ heap is not visible to it).
Times are medians; ratios are baseline time / our time from the same run, so >1 means we are faster.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import math
import re
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bn.model import Network

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = ["l4l5_knee", "asia", "alarm", "child", "insurance", "hepar2", "win95pts", "pathfinder", "andes", "pigs"]
QUICK = ["l4l5_knee", "asia", "alarm"]
# Beyond one case, keep one clique-by-batch array under about 32 MB.
BATCH_BUDGET = 4_000_000


def thread_time(fn: Callable[[], Any], repeats: int = 10) -> float:
    """This thread's CPU time per call (a load-independent check of the wall-clock medians)."""
    t = time.thread_time()
    for _ in range(repeats):
        fn()
    return (time.thread_time() - t) / repeats


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def pyagrum_identifiers(network: Network) -> Network:
    """``network`` with every state renamed to an identifier: pyAgrum's BIF reader rejects child's "<5" and
    "Asy/Patch"."""
    from bn.model import Network, State, Variable

    def clean(s: str) -> str:
        s = re.sub(r"[^A-Za-z0-9_]", "_", s)
        return f"s{s}" if s[0].isdigit() else s

    variables = {vid: Variable(**{**v.__dict__, "states": tuple(State(clean(s.id), s.label) for s in v.states),
                                  "on_state": clean(v.on_state)})
                 for vid, v in network.variables.items()}
    for vid, v in variables.items():
        if len(set(v.state_ids)) < v.card:
            raise ValueError(f"{vid}: its states {network[vid].state_ids} collide once renamed for pyAgrum")
    return Network(**{**network.__dict__, "variables": variables})


def load(name: str):
    """(our Network, pyAgrum BayesNet) with identical float64 tables."""
    import pyagrum as gum

    import bn
    from bn.interop import export
    from bn.model import Network, NetworkInfo, State, Variable

    tmp = Path(tempfile.mkdtemp(prefix="bnbench"))
    if name == "l4l5_knee":
        network = bn.load("l4l5_knee").network
        path = tmp / "l4l5_knee.bif"
        path.write_text(export(network, "bif"))
        model = gum.loadBN(str(path))
    else:
        src = next(p for p in (ROOT / "bench" / "networks" / f"{name}.bif",
                               ROOT / "bench" / "networks" / f"{name}.bif.gz") if p.exists())
        path = tmp / f"{name}.bif"
        path.write_bytes(gzip.decompress(src.read_bytes()) if src.suffix == ".gz" else src.read_bytes())
        # pyAgrum's C++ reader: pgmpy's takes 5-15 s on the larger files and parsing is not what is measured.
        try:
            model = gum.loadBN(str(path))
        except gum.FatalError:
            # child's state names ("<5", "Asy/Patch") are not identifiers to pyAgrum: read by bn, renamed
            renamed = tmp / f"{name}_ids.bif"
            renamed.write_text(export(pyagrum_identifiers(bn.read_network(src)), "bif"))
            model = gum.loadBN(str(renamed))
        variables = {}
        for node in model.topologicalOrder():
            var, cpt = model.variable(node), model.cpt(node)
            axes = list(reversed(cpt.names))
            parents = tuple(n for n in axes if n != var.name())
            table = np.transpose(np.asarray(cpt.toarray(), dtype=float),
                                 [axes.index(n) for n in (*parents, var.name())])
            table = table / table.sum(axis=-1, keepdims=True)
            variables[var.name()] = Variable(var.name(), tuple(State(s, s) for s in var.labels()), parents, table)
        network = Network(NetworkInfo(name, "bench", "0"), variables, source_format="bif")
    for vid, v in network.variables.items():
        cpt = model.cpt(vid)
        axes = list(reversed(cpt.names))
        order = [*v.parents, vid]
        cpt.fillWith(np.transpose(v.cpt, [order.index(n) for n in axes]).ravel().tolist())
    return network, model


def evidence_sets(network, engine, rng, count: int, n_hard: int, target: str) -> list[dict[str, str]]:
    roles = [v for v in network.variables if network[v].role in ("finding", "red_flag", "risk_factor")]
    pool = [v for v in roles or network.variables if v != target]
    out = []
    for _ in range(count * 20):
        picked = rng.choice(len(pool), size=min(n_hard, len(pool)), replace=False)
        ev = {pool[i]: network[pool[i]].state_ids[int(rng.integers(network[pool[i]].card))] for i in picked}
        if network.has_roles:
            ev["knee_pain"] = "present"
        if engine.log_probability_of_evidence(likelihoods(network, ev))[0] > -math.inf:
            out.append(ev)
        if len(out) == count:
            break
    return out


def sampled_cases(network, sets: list[dict[str, str]], size: int, *, seed: int) -> list[dict[str, str]]:
    """``size`` cases observing the variables of ``sets`` in turn, with values drawn from the network (for the
    knee-pain network, from its patients with knee pain: exact posterior draws)."""
    import bn
    from bn.evidence import Evidence
    from bn.sampling import posterior_sample

    evidence = Evidence({"knee_pain": "present"} if network.has_roles else {})
    draws = posterior_sample(bn.load(network), evidence, size, np.random.default_rng(seed))[0]
    column = {v: i for i, v in enumerate(network.variables)}
    return [{v: network[v].state_ids[int(draws[k, column[v]])] for v in sets[k % len(sets)]} for k in range(size)]


def likelihoods(network, ev: dict[str, str]) -> dict[str, np.ndarray]:
    out = {}
    for var, state in ev.items():
        vec = np.zeros(network[var].card)
        vec[network[var].state_index(state)] = 1.0
        out[var] = vec
    return out


def pick_target(network) -> str:
    diagnoses = network.by_role("diagnosis")
    if diagnoses:
        return "disc_herniation" if "disc_herniation" in network else diagnoses[0]
    parents = {p for v in network.variables.values() for p in v.parents}
    roots = [v for v in network.variables if not network[v].parents and v in parents]
    return roots[0] if roots else next(iter(network.variables))


def bearing_targets(network, sets: list[dict[str, str]], rng) -> list[str]:
    """Per evidence set, a variable drawn at random among those whose posterior the findings bear on (d-connected
    to one of them given the others, by networkx): unlike ``pick_target``'s root, which the findings of a large
    network often cannot reach (andes's GRAV78)."""
    import networkx as nx

    graph = nx.DiGraph([(p, v) for v in network.variables for p in network[v].parents])
    graph.add_nodes_from(network.variables)
    out = []
    for ev in sets:
        observed = set(ev)
        for v in rng.permutation([v for v in network.variables if v not in observed]).tolist():
            if any(not nx.is_d_separator(graph, {v}, {e}, observed - {e}) for e in observed):
                out.append(v)
                break
    return out


def candidates_for(network, ev: dict[str, str], target: str, limit: int) -> list[str]:
    if network.has_roles:
        pool = network.by_role("finding", "red_flag")
    else:
        parents = {p for v in network.variables.values() for p in v.parents}
        pool = [v for v in network.variables if v not in parents]  # leaves: the observable end of a network
    return [v for v in pool if v not in ev and v != target][:limit]


def bench_network(name: str, repeats: int, batch_sizes: list[int], candidates_limit: int,
                  baseline_repeats: int, log: Callable[[str], None]) -> dict[str, Any]:
    import pyagrum as gum
    from pgmpy.inference import VariableElimination

    from bn.converters import to_pgmpy
    from bn.engines import CompiledEngine

    network, model = load(name)
    variables = list(network.variables)
    res: dict[str, Any] = {"network": name, "variables": len(variables)}

    res["compile_ours"] = median_time(lambda: CompiledEngine(network), max(1, min(repeats, 5)))
    ours = CompiledEngine(network)
    sizes = ours.plan.sizes(ours.cards)
    res["largest_clique"], res["total_clique_states"] = max(sizes), sum(sizes)
    res["compile_pgmpy"] = median_time(lambda: VariableElimination(to_pgmpy(network)), max(1, min(repeats, 3)))
    ve = VariableElimination(to_pgmpy(network))

    def agrum_compile():
        ie = gum.LazyPropagation(model)
        ie.makeInference()
    res["compile_pyagrum"] = median_time(agrum_compile, max(1, min(repeats, 5)))

    rng = np.random.default_rng(2024)
    n_hard = 8 if network.has_roles else max(2, len(variables) // 10)
    target = pick_target(network)
    sets = evidence_sets(network, ours, rng, repeats, n_hard, target)
    res["target"], res["evidence_sets"], res["findings_per_set"] = target, len(sets), n_hard
    lazy, shafer = gum.LazyPropagation(model), gum.ShaferShenoyInference(model)

    def agrum(ie, ev, wanted):
        ie.eraseAllEvidence()
        ie.setEvidence(ev)
        ie.makeInference()
        return [ie.posterior(v) for v in wanted]

    def timed(fn, evs):
        times = []
        for ev in evs:
            t = time.perf_counter()
            fn(ev)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    few = sets[:baseline_repeats]
    # One target posterior.
    # `conditional` is what `net.posterior` asks: P(target | e) without P(e), which neither baseline computes
    # either. `posterior` also returns log P(e): timed on an engine of its own, so that no cache is shared.
    res["one_ours"] = timed(lambda ev: ours.conditional((target,), likelihoods(network, ev)), sets)
    with_z = CompiledEngine(network)
    res["one_z_ours"] = timed(lambda ev: with_z.posterior((target,), likelihoods(network, ev)), sets)
    res["one_pgmpy"] = timed(lambda ev: ve.query([target], evidence=ev, show_progress=False), few)
    res["one_pyagrum"] = timed(lambda ev: agrum(lazy, ev, [target]), sets)
    res["one_shafer"] = timed(lambda ev: agrum(shafer, ev, [target]), sets)
    # The same, for a target the findings bear on (one per set, drawn), on engines of their own.
    bearing = dict(zip(map(id, sets), bearing_targets(network, sets, np.random.default_rng(7)), strict=True))
    fresh, lazy2 = CompiledEngine(network), gum.LazyPropagation(model)
    res["bear_ours"] = timed(lambda ev: fresh.conditional((bearing[id(ev)],), likelihoods(network, ev)), sets)
    res["bear_pgmpy"] = timed(lambda ev: ve.query([bearing[id(ev)]], evidence=ev, show_progress=False), few)
    res["bear_pyagrum"] = timed(lambda ev: agrum(lazy2, ev, [bearing[id(ev)]]), sets)
    # All single-variable marginals.
    res["all_ours"] = timed(lambda ev: ours.marginals(likelihoods(network, ev)), sets)
    res["all_pgmpy"] = timed(lambda ev: [ve.query([v], evidence=ev, show_progress=False)
                                         for v in variables if v not in ev], few[:max(1, len(few) // 2)])
    res["all_pyagrum"] = timed(lambda ev: agrum(lazy, ev, variables), sets)
    res["all_shafer"] = timed(lambda ev: agrum(shafer, ev, variables), sets)
    if network.has_roles:
        # The issue's headline query: every diagnosis and every knee-pain source, one case and batched.
        wanted = [*network.by_role("diagnosis"), *network.knee_pain_sources.values()]
        res["dxsrc_ours"] = timed(lambda ev: ours.marginals(likelihoods(network, ev), wanted), sets)
        # The baseline in the same run: the engine without one case's own tree (bn.engines.case_tree), so on the
        # full tree, each set once (a set asked once or twice is never pruned).
        no_case_tree = CompiledEngine(network, case_tree=False)
        res["dxsrc_full_ours"] = timed(lambda ev: no_case_tree.marginals(likelihoods(network, ev), wanted), sets)
        res["dxsrc_cpu_ours"] = statistics.median(thread_time(lambda ev=ev: ours.marginals(likelihoods(network, ev),
                                                                                           wanted)) for ev in sets)
        res["dxsrc_pyagrum"] = timed(lambda ev: agrum(lazy, ev, wanted), sets)
        # A pattern asked again (an app rerun, an analyst's scenario): from the third query it has its own tree.
        res["dxsrc_warm_ours"] = statistics.median(
            median_time(lambda ev=ev: ours.marginals(likelihoods(network, ev), wanted), 20) for ev in sets)
        size = max(batch_sizes)
        lik = batch_likelihoods(network, [sets[k % len(sets)] for k in range(size)])
        res["dxsrc_batch_ours"] = size / median_time(lambda: ours.marginals(lik, wanted), max(1, min(repeats, 5)))
        # The same batch as records look: each case observes one of the sets' variables, with values drawn from
        # the network (so cases repeat as often as such records do), beside the engine answering every case
        # without merging the repeats (the baseline, in the same run).
        sampled = sampled_cases(network, sets, size, seed=2025)
        res["dxsrc_distinct"] = len({tuple(sorted(c.items())) for c in sampled})
        lik = batch_likelihoods(network, sampled)
        every = CompiledEngine(network, merge_duplicates=False)
        reps = max(1, min(repeats, 5))
        res["dxsrc_sampled_ours"] = size / median_time(lambda: ours.marginals(lik, wanted), reps)
        res["dxsrc_sampled_unmerged"] = size / median_time(lambda: every.marginals(lik, wanted), reps)
    log(f"  {name}: one/all marginals done")
    # Next-best-finding loop: P(target | e, F = f) for every candidate F and state f.
    cands = {id(ev): candidates_for(network, ev, target, candidates_limit) for ev in sets}
    res["candidates"] = len(cands[id(sets[0])])

    def nbf_ours(ev):
        ours.outcome_posteriors([target], cands[id(ev)], likelihoods(network, ev))

    def nbf_pgmpy(ev):
        for f in cands[id(ev)]:
            for s in network[f].state_ids:
                with contextlib.suppress(ValueError, ZeroDivisionError, IndexError):  # an impossible outcome
                    ve.query([target], evidence={**ev, f: s}, show_progress=False)

    def nbf_agrum(ev):
        for f in cands[id(ev)]:
            for s in network[f].state_ids:
                with contextlib.suppress(gum.IncompatibleEvidence):
                    agrum(lazy, {**ev, f: s}, [target])

    res["nbf_ours"] = timed(nbf_ours, sets)
    res["nbf_pgmpy"] = timed(nbf_pgmpy, few[:max(1, len(few) // 2)])
    res["nbf_pyagrum"] = timed(nbf_agrum, sets[:max(3, len(sets) // 3)])
    log(f"  {name}: next-best-finding loop done")
    # Batch throughput, all marginals per case.
    for size in batch_sizes:
        lik = batch_likelihoods(network, [sets[k % len(sets)] for k in range(size)])
        chunk = max(1, min(size, BATCH_BUDGET // max(res["largest_clique"], 1)))

        def run(lik=lik, size=size, chunk=chunk):
            for s in range(0, size, chunk):
                ours.marginals({v: a[s:s + chunk] for v, a in lik.items()})
        reps = max(1, min(repeats, 10 if size <= 100 else 2))
        res[f"batch{size}_ours"] = size / median_time(run, reps)
        if size == max(batch_sizes):
            tracemalloc.start()
            run()
            res["peak_mb_ours"] = tracemalloc.get_traced_memory()[1] / 1e6
            tracemalloc.stop()
    res["batch_pyagrum"] = 1.0 / res["all_pyagrum"]
    res["batch_pgmpy"] = 1.0 / res["all_pgmpy"]
    tracemalloc.start()
    for v in [v for v in variables if v not in sets[0]][:50]:
        ve.query([v], evidence=sets[0], show_progress=False)
    res["peak_mb_pgmpy"] = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    log(f"  {name}: batch done")
    return res


def batch_likelihoods(network, cases: list[dict[str, str]]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for k, ev in enumerate(cases):
        for var, state in ev.items():
            vec = out.setdefault(var, np.ones((len(cases), network[var].card)))
            vec[k] = 0.0
            vec[k, network[var].state_index(state)] = 1.0
    return out


def warm_query_seconds(repeats: int) -> dict[str, float]:
    """Whole-process times of a warm `bn query` through the compiled-network cache, of `import bn, bn.cli` and of
    `import numpy` (the floor), each the median of ``repeats``."""
    import os
    import subprocess

    script = ("import sys, bn, bn.cache\nbn.load = bn.cache.load\nfrom bn.cli import main\n"
              "sys.exit(main(['query', 'l4l5_knee', '-e', 'knee_pain=present']))\n")
    # As a user runs it: with Python's bytecode cache (some shells set PYTHONDONTWRITEBYTECODE, which makes every
    # run recompile bn's modules, about 90 ms here); the first run below fills both caches.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["BN_CACHE_DIR"] = tempfile.mkdtemp(prefix="bncache")

    def run(code):
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env, cwd=ROOT)
    run(script)  # fills the cache
    # Interleaved, so that a busy spell of the machine falls on all three alike; `import numpy` is the floor.
    codes = {"warm_query": script, "import_only": "import bn, bn.cli", "numpy_floor": "import numpy"}
    times: dict[str, list[float]] = {what: [] for what in codes}
    for _ in range(repeats):
        for what, code in codes.items():
            start = time.perf_counter()
            run(code)
            times[what].append(time.perf_counter() - start)
    return {what: statistics.median(t) for what, t in times.items()}


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def table(results: list[dict[str, Any]], batch_sizes: list[int]) -> str:
    lines = ["| network | vars | largest clique | compile: ours / pgmpy / pyAgrum | one posterior: ours / pgmpy / "
             "pyAgrum LP (ratios) | all marginals: ours / pgmpy / LP / SS (ratios) | next-best loop: ours / pgmpy "
             "/ LP (ratios) |",
             "|---|---|---|---|---|---|---|"]
    def trio(r: dict[str, Any], key: str, extra: tuple[str, ...] = ()) -> str:
        ours = r[f"{key}_ours"]
        parts = [fmt_time(ours)] + [fmt_time(r[f"{key}_{b}"]) for b in ("pgmpy", "pyagrum", *extra)]
        ratios = [f"{r[f'{key}_{b}'] / ours:.1f}x" for b in ("pgmpy", "pyagrum", *extra)]
        return f"{' / '.join(parts)} ({' / '.join(ratios)})"

    for r in results:
        lines.append(f"| {r['network']} | {r['variables']} | {r['largest_clique']:,} | "
                     f"{fmt_time(r['compile_ours'])} / {fmt_time(r['compile_pgmpy'])} / "
                     f"{fmt_time(r['compile_pyagrum'])} | {trio(r, 'one')} | {trio(r, 'all', ('shafer',))} | "
                     f"{trio(r, 'nbf')} ({r['candidates']} candidates) |")
    lines += ["", "| network | " + " | ".join(f"ours, batch {b:,} (cases/s)" for b in batch_sizes)
              + " | pyAgrum LP (cases/s) | pgmpy VE (cases/s) | ours at largest batch vs LP | peak MB: ours "
                "(largest batch) / pgmpy |",
              "|---|" + "---|" * (len(batch_sizes) + 4)]
    for r in results:
        cells = " | ".join(f"{r[f'batch{b}_ours']:,.0f}" for b in batch_sizes)
        top = r[f"batch{max(batch_sizes)}_ours"]
        lines.append(f"| {r['network']} | {cells} | {r['batch_pyagrum']:,.0f} | {r['batch_pgmpy']:,.1f} | "
                     f"{top / r['batch_pyagrum']:.0f}x | {r['peak_mb_ours']:.1f} / {r['peak_mb_pgmpy']:.1f} |")
    # The one-posterior target is the first diagnosis, or the first root in pyAgrum's topological order: name it,
    # since whether the findings bear on it decides what the baselines compute (andes's is d-separated from them).
    lines += ["", "One-posterior targets: " + "; ".join(f"{r['network']} {r['target']} ({r['evidence_sets']} sets of "
                                                     f"{r['findings_per_set']} findings)" for r in results) + "."]
    lines += ["", "| network | one posterior, a target the findings bear on (drawn per set): ours / pgmpy / pyAgrum LP "
              "(ratios) |", "|---|---|"]
    lines += [f"| {r['network']} | {trio(r, 'bear')} |" for r in results]
    lines += ["", "One posterior with log P(evidence) as well (`posterior`; the row above times `conditional`): "
              + "; ".join(f"{r['network']} {fmt_time(r['one_z_ours'])}" for r in results) + "."]
    for r in results:
        if "dxsrc_ours" in r:
            lines += ["", f"{r['network']}, all diagnoses + knee-pain sources ({r['evidence_sets']} evidence sets): "
                      f"one case {fmt_time(r['dxsrc_ours'])} wall, {fmt_time(r['dxsrc_cpu_ours'])} CPU "
                      f"(a pattern asked before: {fmt_time(r['dxsrc_warm_ours'])}; on the full tree, without the "
                      f"case's own: {fmt_time(r['dxsrc_full_ours'])}, {r['dxsrc_full_ours'] / r['dxsrc_ours']:.1f}x) "
                      f"(pyAgrum LP {fmt_time(r['dxsrc_pyagrum'])}, {r['dxsrc_pyagrum'] / r['dxsrc_ours']:.1f}x); "
                      f"batch of {max(batch_sizes):,}: {r['dxsrc_batch_ours']:,.0f} cases/s "
                      f"({r['evidence_sets']} evidence sets repeated); the same patterns with values drawn from the "
                      f"network ({r['dxsrc_distinct']:,} distinct cases): {r['dxsrc_sampled_ours']:,.0f} cases/s, "
                      f"{r['dxsrc_sampled_unmerged']:,.0f} answering every case "
                      f"({r['dxsrc_sampled_ours'] / r['dxsrc_sampled_unmerged']:.1f}x)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="three small networks, few repeats, batches up to 100")
    p.add_argument("--networks", help=f"comma-separated (default: {','.join(NETWORKS)})")
    p.add_argument("--repeats", type=int, help="random evidence sets per network (default 25; quick 4)")
    p.add_argument("--json", metavar="FILE", help="also write the raw results as JSON")
    args = p.parse_args(argv)
    names = args.networks.split(",") if args.networks else (QUICK if args.quick else NETWORKS)
    repeats = args.repeats or (4 if args.quick else 25)
    batch_sizes = [1, 100] if args.quick else [1, 100, 10_000]
    baseline_repeats = 2 if args.quick else 8

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results = []
    for name in names:
        log(f"benchmarking {name} ...")
        results.append(bench_network(name, repeats, batch_sizes, 8 if args.quick else 30, baseline_repeats, log))
    warm = warm_query_seconds(2 if args.quick else 10)
    print(table(results, batch_sizes))
    print(f"\nwarm `bn query l4l5_knee -e knee_pain=present` through the cache, whole process: "
          f"{fmt_time(warm['warm_query'])} (of which `import bn, bn.cli` alone: {fmt_time(warm['import_only'])}; "
          f"a bare `import numpy` process: {fmt_time(warm['numpy_floor'])}; medians of "
          f"{2 if args.quick else 10}, interleaved)")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "warm": warm, "batch_sizes": batch_sizes},
                                              indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

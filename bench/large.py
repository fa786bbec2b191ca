"""One posterior on the largest bench networks (munin, link), ours against pyAgrum's LazyPropagation, with a
time limit per baseline call (issue 17's munin and link rows), and pgmpy's variable elimination the same way.

    python -m bench.large [--networks munin,link] [--sets 5] [--limit 60]

For each network: our compile time; for a few random evidence sets (``--findings`` variables observed, each set
possible), the target's posterior (a root, as in ``bench.run``) on the first query of the pattern and on a
pattern asked before (the third query: a pruned tree from then on, where it pays); and pyAgrum's, each call in a
child process stopped after ``--limit`` seconds (a C++ call cannot be interrupted in-process), timed inside the
child so that the process round trip is not counted. The child loads the model and compiles one
LazyPropagation (a first inference) before any call is timed, as ``bench.run`` keeps one per network. pgmpy's
variable elimination runs the same way in a child of its own, which also stops at 8 GB of memory. Ours is also
timed without P(e) (``conditional``, what ``net.posterior`` asks), on an engine of its own.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import numpy as np

from bench.run import evidence_sets, likelihoods, load, pick_target

_ENGINE = _VE = None
# A pgmpy child may build tables far past this machine's memory: it stops with a MemoryError instead.
CHILD_MEMORY = 8 << 30
# A child gets this many times the per-call limit to load and compile before its calls count as over the limit.
READY_LIMITS = 5


def _start(name: str, baseline: str) -> None:
    """The child's baseline: one LazyPropagation compiled by a first inference (as bench.run keeps one), or
    pgmpy's VariableElimination on the same tables."""
    global _ENGINE, _VE
    if baseline == "pyagrum":
        import pyagrum as gum

        _ENGINE = gum.LazyPropagation(load(name)[1])
        _ENGINE.makeInference()
    else:
        import resource

        from pgmpy.inference import VariableElimination

        from bn.converters import to_pgmpy

        resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))
        _VE = VariableElimination(to_pgmpy(load(name)[0]))


def _agrum(ev: dict[str, str], target: str) -> float:
    start = time.perf_counter()
    _ENGINE.eraseAllEvidence()
    _ENGINE.setEvidence(ev)
    _ENGINE.makeInference()
    _ENGINE.posterior(target)
    return time.perf_counter() - start


def _ready() -> None:
    """Nothing: run once the child is initialised, so that its start is not timed."""


def _pgmpy(ev: dict[str, str], target: str) -> float:
    start = time.perf_counter()
    _VE.query([target], evidence=ev, show_progress=False)
    return time.perf_counter() - start


def _in_child(name: str, baseline: str, chosen: list[dict[str, str]], target: str, limit: float) -> list[float]:
    """Each call timed inside a child process; inf for a call over ``limit`` seconds or out of memory."""
    call = _agrum if baseline == "pyagrum" else _pgmpy
    context = multiprocessing.get_context("spawn")

    def ready_pool():
        # Loading and compiling are not what the limit is for, but they are bounded too (READY_LIMITS of it).
        pool = context.Pool(1, initializer=_start, initargs=(name, baseline))
        try:
            pool.apply_async(_ready).get(timeout=READY_LIMITS * limit)
        except (multiprocessing.TimeoutError, MemoryError):
            pool.terminate()
            return None
        return pool

    pool = ready_pool()
    out = []
    try:
        for ev in chosen:
            if pool is None:
                out.append(float("inf"))
                continue
            try:
                out.append(pool.apply_async(call, (ev, target)).get(timeout=limit))
            except (multiprocessing.TimeoutError, MemoryError):
                out.append(float("inf"))
                pool.terminate()
                pool = ready_pool()
    finally:
        if pool is not None:
            pool.terminate()
    return out


def measure(name: str, sets: int, findings: int, limit: float) -> dict[str, object]:
    from bn.engines import CompiledEngine

    network, _ = load(name)
    start = time.perf_counter()
    ours = CompiledEngine(network)
    compile_s = time.perf_counter() - start
    sizes = ours.plan.sizes(ours.cards)
    target = pick_target(network)
    chosen = evidence_sets(network, ours, np.random.default_rng(2024), sets, findings, target)
    # `conditional` (what net.posterior asks: no P(evidence)) on an engine of its own, so that no cache is shared
    alone = CompiledEngine(network)
    bare = []
    for ev in chosen:
        lik = likelihoods(network, ev)
        t = time.perf_counter()
        alone.conditional((target,), lik)
        bare.append(time.perf_counter() - t)
    first, warm = [], []
    for ev in chosen:
        lik = likelihoods(network, ev)
        times = []
        for _ in range(ours.PRUNE_AFTER_SIGHTINGS + 2):
            t = time.perf_counter()
            ours.posterior((target,), lik)
            times.append(time.perf_counter() - t)
        first.append(times[0])
        warm.append(times[-1])
    agrum = _in_child(name, "pyagrum", chosen, target, limit)
    pgmpy = _in_child(name, "pgmpy", chosen, target, limit)
    return {"network": name, "variables": len(network.variables), "clique_states": sum(sizes),
            "largest_clique": max(sizes), "compile": compile_s, "target": target, "sets": len(chosen),
            "first": statistics.median(first), "bare": statistics.median(bare),
            "warm": statistics.median(warm), "agrum": statistics.median(agrum),
            "agrum_over_limit": sum(t == float("inf") for t in agrum), "pgmpy": statistics.median(pgmpy),
            "pgmpy_over_limit": sum(t == float("inf") for t in pgmpy), "limit": limit}


def fmt(seconds: float, limit: float) -> str:
    if seconds == float("inf"):
        return f"> {limit:.0f} s"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.large", description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="munin,link")
    parser.add_argument("--sets", type=int, default=5, help="random evidence sets per network")
    parser.add_argument("--findings", type=int, default=10,
                        help="hard findings per set (a tenth of munin's variables, drawn at random, is never possible)")
    parser.add_argument("--limit", type=float, default=60.0, help="seconds allowed per baseline call")
    args = parser.parse_args(argv)
    print("| network | variables | all clique states (largest) | compile (ours) | one posterior, ours: first query "
          "of a pattern / a pattern asked before | the first without P(e) (conditional) | pyAgrum LP | pgmpy VE | "
          "ratios to conditional: LP, VE |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.networks.split(","):
        r = measure(name, args.sets, args.findings, args.limit)
        cells = []
        for baseline in ("agrum", "pgmpy"):
            failed = r[f"{baseline}_over_limit"]
            over = f" ({failed} of {r['sets']} over the limit or memory)" if failed else ""
            cells.append(f"{fmt(r[baseline], args.limit)}{over}")
        ratios = " / ".join("-" if r[b] == float("inf") else f"{r[b] / r['bare']:.1f}x" for b in ("agrum", "pgmpy"))
        print(f"| {name} | {r['variables']} | {r['clique_states']:,} ({r['largest_clique']:,}) | "
              f"{fmt(r['compile'], args.limit)} | {fmt(r['first'], args.limit)} / {fmt(r['warm'], args.limit)} | "
              f"{fmt(r['bare'], args.limit)} | {cells[0]} | {cells[1]} | {ratios} |", flush=True)
    print(f"\nmedians over {args.sets} evidence sets of {args.findings} hard findings; target a root "
          "(bench.run's pick_target); each baseline timed inside its own process, each call stopped after "
          f"{args.limit:.0f} s (pgmpy's also at {CHILD_MEMORY >> 30} GB of memory), after loading and compiling "
          f"within {READY_LIMITS * args.limit:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One posterior on the largest bench networks (munin, link), ours against pyAgrum's LazyPropagation, with a
time limit per baseline call (issue 17's munin and link rows).

    python -m bench.large [--networks munin,link] [--sets 5] [--limit 60]

For each network: our compile time; for a few random evidence sets (``--findings`` variables observed, each set
possible), the target's posterior (a root, as in ``bench.run``) on the first query of the pattern and on a
pattern asked before (the third query: a pruned tree from then on, where it pays); and pyAgrum's, each call in a
child process stopped after ``--limit`` seconds (a C++ call cannot be interrupted in-process), timed inside the
child so that the process round trip is not counted. The child loads the model and compiles one
LazyPropagation (a first inference) before any call is timed, as ``bench.run`` keeps one per network. pgmpy's
variable elimination is not run here.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import numpy as np

from bench.run import evidence_sets, likelihoods, load, pick_target

_MODEL = _ENGINE = None


def _start(name: str) -> None:
    """The child's model and one LazyPropagation, compiled by a first inference (as bench.run keeps one)."""
    import pyagrum as gum

    global _MODEL, _ENGINE
    _MODEL = load(name)[1]
    _ENGINE = gum.LazyPropagation(_MODEL)
    _ENGINE.makeInference()


def _agrum(ev: dict[str, str], target: str) -> float:
    start = time.perf_counter()
    _ENGINE.eraseAllEvidence()
    _ENGINE.setEvidence(ev)
    _ENGINE.makeInference()
    _ENGINE.posterior(target)
    return time.perf_counter() - start


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
    first, warm, agrum = [], [], []
    for ev in chosen:
        lik = likelihoods(network, ev)
        times = []
        for _ in range(ours.PRUNE_AFTER_SIGHTINGS + 2):
            t = time.perf_counter()
            ours.posterior((target,), lik)
            times.append(time.perf_counter() - t)
        first.append(times[0])
        warm.append(times[-1])
    pool = multiprocessing.get_context("spawn").Pool(1, initializer=_start, initargs=(name,))
    try:
        for ev in chosen:
            try:
                agrum.append(pool.apply_async(_agrum, (ev, target)).get(timeout=limit))
            except multiprocessing.TimeoutError:
                agrum.append(float("inf"))
                pool.terminate()
                pool = multiprocessing.get_context("spawn").Pool(1, initializer=_start, initargs=(name,))
    finally:
        pool.terminate()
    return {"network": name, "variables": len(network.variables), "clique_states": sum(sizes),
            "largest_clique": max(sizes), "compile": compile_s, "target": target, "sets": len(chosen),
            "first": statistics.median(first), "bare": statistics.median(bare),
            "warm": statistics.median(warm), "agrum": statistics.median(agrum),
            "agrum_over_limit": sum(t == float("inf") for t in agrum), "limit": limit}


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
    parser.add_argument("--limit", type=float, default=60.0, help="seconds allowed per pyAgrum call")
    args = parser.parse_args(argv)
    print("| network | variables | all clique states (largest) | compile (ours) | one posterior, ours: first query "
          "of a pattern / a pattern asked before | the first without P(e) (conditional) | pyAgrum LP | ratio LP / ours "
          "(first, before, conditional) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.networks.split(","):
        r = measure(name, args.sets, args.findings, args.limit)
        over = f" ({r['agrum_over_limit']} of {r['sets']} over the limit)" if r["agrum_over_limit"] else ""
        ratios = ("-" if r["agrum"] == float("inf") else
                  f"{r['agrum'] / r['first']:.1f}x / {r['agrum'] / r['warm']:.1f}x / {r['agrum'] / r['bare']:.1f}x")
        print(f"| {name} | {r['variables']} | {r['clique_states']:,} ({r['largest_clique']:,}) | "
              f"{fmt(r['compile'], args.limit)} | {fmt(r['first'], args.limit)} / {fmt(r['warm'], args.limit)} | "
              f"{fmt(r['bare'], args.limit)} | "
              f"{fmt(r['agrum'], args.limit)}{over} | {ratios} |", flush=True)
    print(f"\nmedians over {args.sets} evidence sets of {args.findings} hard findings; target a root "
          "(bench.run's pick_target); pyAgrum timed inside "
          f"its own process, each call stopped after {args.limit:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

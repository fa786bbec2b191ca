"""Interactive reasoning on l4l5_knee: a full explanation and a full next-best-finding ranking per case.

Run: ``.venv/bin/python -m bench.reasoning [--cases N] [--baseline-cases M]``. Medians over random cases
(3-8 random findings each, seeded), with pgmpy's VariableElimination answering the same per-query loop in
the same run as the baseline (on fewer cases: it is slow). Targets (issue 4): ranking < 20 ms, explanation
< 10 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import bn
from bn.explain import explain
from bn.voi import next_best


def random_cases(net: bn.BayesNet, n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = np.random.default_rng(seed)
    network = net.network
    pool = network.by_role("risk_factor", "finding")
    cases = []
    while len(cases) < n:
        k = int(rng.integers(3, 9))
        picked = rng.choice(len(pool), size=k, replace=False)
        case = {"knee_pain": "present"}
        for i in picked:
            v = network[pool[i]]
            case[v.id] = v.state_ids[int(rng.integers(v.card))]
        if net.probability_of_evidence(case) > 0:
            cases.append(case)
    return cases


def timed(fn, cases) -> list[float]:
    out = []
    for case in cases:
        start = time.perf_counter()
        fn(case)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=50)
    parser.add_argument("--baseline-cases", type=int, default=3)
    args = parser.parse_args()
    fast = bn.load("l4l5_knee")
    slow = bn.load("l4l5_knee", engine="pgmpy")
    cases = random_cases(fast, args.cases)
    for case in cases[:3]:  # warm caches (compiled contraction plans) before timing
        explain(fast, case)
        next_best(fast, case)
    info = fast.info
    print(f"network {info.id} {info.version} sha256 {info.sha256[:16]}; {args.cases} cases "
          f"({args.baseline_cases} for the pgmpy baseline)")
    print("| task | bn (median ms) | pgmpy VE loop (median ms) | speed-up |")
    print("|---|---|---|---|")
    for name, fn in (("explanation (l4l5_spine)", lambda net, c: explain(net, c)),
                     ("next-best ranking, MI (l4l5_spine)", lambda net, c: next_best(net, c)),
                     ("next-best ranking, all diagnoses", lambda net, c: next_best(net, c, target="diagnoses"))):
        ours = statistics.median(timed(lambda c, fn=fn: fn(fast, c), cases))
        base = statistics.median(timed(lambda c, fn=fn: fn(slow, c), cases[: args.baseline_cases]))
        print(f"| {name} | {1000 * ours:.1f} | {1000 * base:.0f} | {base / ours:.0f}x |")


if __name__ == "__main__":
    main()

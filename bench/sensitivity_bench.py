"""Benchmark of sensitivity analysis on l4l5_knee (not a timed test; results go in docs/sensitivity.md).

    .venv/bin/python bench/sensitivity_bench.py [--network l4l5_knee@1.0.0] [--repeats 7] [--json]

Measures, as medians over repeats:

- one-way: the exact sensitivity function of P(l4l5_spine | case) for every parameter of the network
  (cold: a freshly compiled engine each time; warm: the same engine again);
- flip: every single-parameter change that would change the leading knee-pain source;
- uncertainty: 1,000 joint parameter draws, the four knee-pain sources;
- sweep: one-way and flip analysis of every case in validation/cases (one run: it is long).

Targets from issue 6: one-way < 1 s, 1,000-draw uncertainty < 5 s, on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import bn  # noqa: E402
from bn.sensitivity import flip, one_way, parameters, sweep, uncertainty  # noqa: E402

CASE = {"knee_pain": "present", "age_group": "65_plus", "sex": "female", "neurogenic_claudication": "present",
        "back_pain": "present", "straight_leg_raise": "negative", "knee_pain_on_knee_examination": "absent"}


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="l4l5_knee", help="network reference (default: the latest l4l5_knee)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    network = bn.read_network(args.network)
    net = bn.load(network)
    n_params = len(parameters(network))
    one_way(net, CASE)  # warm imports and the engine's first-use caches

    results: dict[str, list[float]] = {
        "one_way_cold": timed(lambda: one_way(bn.load(network), CASE), args.repeats),
        "one_way_warm": timed(lambda: one_way(net, CASE), args.repeats),
        "flip_leader": timed(lambda: flip(net, CASE), args.repeats),
        "uncertainty": timed(lambda: uncertainty(net, CASE, draws=args.draws, seed=0), max(3, args.repeats // 2)),
    }
    cases = ROOT / "validation" / "cases"
    n_cases = 0
    if not args.no_sweep and cases.is_dir():
        holder: list = []
        results["sweep"] = timed(lambda: holder.append(sweep(net, cases)), 1)
        n_cases = len(holder[0].cases)
    report = {
        "network": network.info.to_dict(), "parameters": n_params, "case": CASE, "draws": args.draws,
        "sweep_cases": n_cases, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                            "load_average_1min": os.getloadavg()[0]},
        "median_seconds": {k: statistics.median(v) for k, v in results.items()},
        "all_seconds": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{network.id} {network.version} sha256 {network.info.sha256[:16]}..., {n_params} parameters, "
          f"{os.cpu_count()} CPUs, load average {report['machine']['load_average_1min']:.1f}")
    labels = {"one_way_cold": f"one-way, all {n_params} parameters (fresh engine)",
              "one_way_warm": f"one-way, all {n_params} parameters (same engine)",
              "flip_leader": "flip: leading knee-pain source changes",
              "uncertainty": f"uncertainty: {args.draws} draws, 4 targets",
              "sweep": f"sweep: {n_cases} validation cases with flips"}
    for key, values in results.items():
        print(f"  {labels[key]:<48} median {statistics.median(values):7.3f} s  (n={len(values)}, "
              f"min {min(values):.3f}, max {max(values):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

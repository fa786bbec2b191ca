"""Benchmark: `bn batch` on a generated registry of l4l5_knee cases, as a whole process.

Usage::

    .venv/bin/python -m bench.batch_million                  # 1,000,000 rows, parquet out (about a minute)
    .venv/bin/python -m bench.batch_million --rows 20000 --repeats 1 --out-format csv

The CSV is generated with a fixed seed: 12 finding columns of l4l5_knee, each cell filled with a random state
with probability 1/3 (blank = not known), plus ``knee_pain=present``. `bn batch` then scores it with its
defaults (diagnoses, mechanisms and the knee-pain sources) through the compiled-network cache, warmed by one
small run first. Reported: the wall time of each run (median), the peak resident memory of the `bn`
process, and the rows per second. The input file and the output are written to a temporary folder and deleted.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FINDINGS = 12


def write_cases(path: Path, rows: int, seed: int = 7) -> list[str]:
    """The generated CSV; returns its finding columns."""
    import bn

    net = bn.load("l4l5_knee").network
    rng = np.random.default_rng(seed)
    pool = [v for v in net.by_role("finding") if v != "knee_pain"] or [v for v in net.variables if v != "knee_pain"]
    columns = [str(v) for v in rng.choice(pool, size=FINDINGS, replace=False)]
    cells = []
    for v in columns:
        states = np.array(["", *net[v].state_ids], dtype=object)
        pick = rng.integers(1, len(states), size=rows)
        pick[rng.random(rows) >= 1 / 3] = 0
        cells.append(states[pick])
    with path.open("w") as fh:
        fh.write(",".join(["knee_pain", *columns]) + "\n")
        block = 100_000
        for start in range(0, rows, block):
            part = zip(*(c[start:start + block] for c in cells), strict=True)
            fh.write("".join("present," + ",".join(r) + "\n" for r in part))
    return columns


def run_batch(cases: Path, out: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one `bn batch` process."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cmd = [sys.executable, "-m", "bn", "batch", "l4l5_knee", str(cases), "--out", str(out), "--no-progress"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, capture_output=True)
    wall = time.perf_counter() - t
    # ru_maxrss of the children is the largest of them so far (KB on Linux): report it only if this run set it.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, (peak / 1024 if peak > before else float("nan"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.batch_million", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out-format", choices=["parquet", "csv"], default="parquet")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bnbatch") as tmp:
        folder = Path(tmp)
        cases = folder / "cases.csv"
        t = time.perf_counter()
        write_cases(cases, args.rows)
        generated = time.perf_counter() - t
        small = folder / "small.csv"
        write_cases(small, 1000)
        run_batch(small, folder / f"small.{args.out_format}")  # warms the compiled-network cache
        runs = [run_batch(cases, folder / f"scored.{args.out_format}") for _ in range(args.repeats)]
        walls = [w for w, _ in runs]
        peaks = [m for _, m in runs if m == m]
        median = statistics.median(walls)
        peak = f", peak RSS {max(peaks):,.0f} MB" if peaks else ""
        print(f"`bn batch l4l5_knee` on {args.rows:,} generated rows ({cases.stat().st_size / 1e6:.0f} MB CSV, "
              f"{FINDINGS} finding columns a third filled, plus knee_pain; generated in {generated:.1f} s), "
              f"--out {args.out_format}: median {median:.1f} s over {len(walls)} runs "
              f"({', '.join(f'{w:.1f}' for w in walls)} s), {args.rows / median:,.0f} rows/s{peak}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

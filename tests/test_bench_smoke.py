"""A tiny run of the benchmark, to keep it working. It asserts that every figure is produced, never a timing."""

from __future__ import annotations

import json
import math

from bench import run


def test_benchmark_smoke(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert run.main(["--quick", "--networks", "asia", "--repeats", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| asia | 8 |" in printed and "warm `bn query" in printed
    data = json.loads(out.read_text())
    (result,) = data["results"]
    timings = [k for k in result if k.startswith(("compile_", "one_", "all_", "nbf_", "batch"))]
    assert len(timings) >= 16
    for key in timings:
        assert math.isfinite(result[key]) and result[key] > 0, key
    assert data["warm"]["warm_query"] > 0

"""A tiny run of the benchmark, to keep it working. It asserts that every figure is produced, never a timing."""

from __future__ import annotations

import json
import math

from bench import batch_million, run


def test_benchmark_smoke(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert run.main(["--quick", "--networks", "asia,l4l5_knee", "--repeats", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| asia | 8 |" in printed and "warm `bn query" in printed
    assert "l4l5_knee, all diagnoses + knee-pain sources" in printed
    data = json.loads(out.read_text())
    asia, knee = data["results"]
    for result, least in ((asia, 16), (knee, 20)):
        timings = [k for k in result if k.startswith(("compile_", "one_", "all_", "nbf_", "batch", "dxsrc_"))]
        assert len(timings) >= least
        for key in timings:
            assert math.isfinite(result[key]) and result[key] > 0, key
    assert data["warm"]["warm_query"] > 0


def test_batch_benchmark_smoke(capsys):
    assert batch_million.main(["--rows", "300", "--repeats", "1", "--out-format", "csv"]) == 0
    printed = capsys.readouterr().out
    assert "on 300 generated rows" in printed and "rows/s" in printed

"""Configurable limits (bn.limits), time budgets, and reading uploads in a child process (bn.isolate)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

import bn
from bench.fuzz import heavy_tables_network, wide_network
from bn import limits
from bn.cli import main
from bn.evidence import parse_case
from bn.isolate import UploadRefusedError, check_upload


def bn_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "bn", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


# -- reading and setting limits ------------------------------------------------------------------------------

def test_values_take_units_and_refuse_nonsense():
    assert limits.parse("network_bytes=2MB, csv_rows=1_000, parse_seconds=2.5") == {
        "network_bytes": 2 * 1024 ** 2, "csv_rows": 1000, "parse_seconds": 2.5}
    for bad, says in (("csv_rows=1MB", "not a positive number"), ("csv_rows=-3", "not a positive number"),
                      ("csv_rows=0", "above zero"), ("rows=3", "unknown limit 'rows'"), ("csv_rows", "name=value")):
        with pytest.raises(limits.LimitsError, match=says):
            limits.parse(bad)


def test_override_is_for_the_block_and_the_thread_only():
    seen = {}
    inside = threading.Event()
    done = threading.Event()

    def other_thread():
        inside.wait(5)
        seen["other"] = limits.current().csv_rows
        done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    default = limits.current().csv_rows
    with limits.override(csv_rows=7):
        assert limits.current().csv_rows == 7
        inside.set()
        done.wait(5)
    worker.join()
    assert seen["other"] == default
    assert limits.current().csv_rows == default


def test_the_command_line_and_the_environment_move_a_limit(tmp_path):
    network = tmp_path / "knee.yaml"
    network.write_bytes(bn.registry.resolve("l4l5_knee").read_bytes())
    assert bn_cli("query", str(network)).returncode == 0
    small = bn_cli("--limit", "network_bytes=10KB", "query", str(network))
    assert small.returncode == 2 and "network_bytes" in small.stderr and len(small.stderr.splitlines()) == 1
    assert bn_cli("query", str(network), env={"BN_LIMITS": "network_bytes=10KB"}).returncode == 2
    checked = bn_cli("--limit", "network_bytes=10KB", "check", str(network))
    assert checked.returncode == 1 and "network_bytes" in checked.stdout
    bad = bn_cli("limits", env={"BN_LIMITS": "network_bytez=1"})
    assert bad.returncode == 2 and bad.stderr.startswith("bn: error: BN_LIMITS: unknown limit 'network_bytez'")
    shown = json.loads(bn_cli("--limit", "csv_rows=12", "limits", "--json").stdout)
    assert shown["csv_rows"] == 12 and shown["network_bytes"] == 5 * 1024 ** 2


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rows_and_columns_of_a_cases_file_are_limited(tmp_path, capsys, suffix):
    frame = pd.DataFrame({"knee_pain": ["present"] * 5, "age_group": ["65_plus"] * 5})
    path = tmp_path / f"cases{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path, index=False)
    assert main(["batch", "l4l5_knee", str(path)]) == 0
    capsys.readouterr()
    assert main(["--limit", "csv_rows=4", "batch", "l4l5_knee", str(path)]) == 2
    assert "csv_rows" in capsys.readouterr().err
    assert main(["--limit", "csv_columns=1", "batch", "l4l5_knee", str(path)]) == 2
    assert "csv_columns" in capsys.readouterr().err
    limits.configure(csv_rows=limits.Limits().csv_rows, csv_columns=limits.Limits().csv_columns)


def test_json_nesting_is_limited_like_yaml():
    nested = '{"findings": {}, "note": ' + "[" * 70 + "]" * 70 + "}"
    with pytest.raises(bn.CaseFileError, match="nested deeper than 64 levels"):
        parse_case(nested, "deep.json")
    with limits.override(yaml_depth=100):
        assert parse_case(nested, "deep.json").evidence.findings == {}
    with pytest.raises(bn.CaseFileError, match="nested deeper"):  # past Python's own recursion limit too
        parse_case('{"findings": ' + "[" * 5000 + "]" * 5000 + "}", "deeper.json")


# -- time budgets ------------------------------------------------------------------------------------------

def test_a_time_budget_stops_long_analyses_and_nothing_else(knee):
    from bn.sensitivity import one_way

    limits.check_time()  # outside a budget: nothing happens
    with pytest.raises(limits.TimeBudgetError, match=r"stopped after 0\.01 s"), limits.time_budget(0.01, "The sweep"):
        time.sleep(0.02)
        one_way(knee, {"knee_pain": "present"})
    with limits.time_budget(60, "The sweep"):
        assert one_way(knee, {"knee_pain": "present"}).rows


def test_a_time_budget_stops_em_between_chunks(shipped):
    from bn.learn import learn

    records = pd.read_csv("examples/clinic.csv", dtype=str, keep_default_na=False, na_values=[""])
    started = time.perf_counter()
    with pytest.raises(limits.TimeBudgetError), limits.time_budget(0.5, "Learning"):
        learn(shipped, records, version="9.9.9", method="em", ignore=["patient_id"])
    assert time.perf_counter() - started < 5  # one EM iteration alone takes several seconds


# -- uploads read in a child process ---------------------------------------------------------------------

def test_an_upload_that_reads_in_time_passes_and_a_bad_one_is_left_to_the_reader():
    text = bn.registry.resolve("l4l5_knee").read_bytes()
    check_upload("network", "knee.yaml", text)
    check_upload("network", "broken.yaml", b"format: bn-network/1\nvariables: 3\n")  # a clean error: bounded
    with pytest.raises(bn.NetworkFileError):
        bn.interop.parse_upload("broken.yaml", b"format: bn-network/1\nvariables: 3\n")


def test_a_slow_upload_is_stopped_at_its_time_limit():
    data = wide_network(22)  # about 18 s to read and compile on this machine
    started = time.perf_counter()
    with pytest.raises(UploadRefusedError, match=r"took longer than 2 s, the limit \(parse_seconds\)"):
        check_upload("network", "wide.yaml", data, seconds=2)
    assert time.perf_counter() - started < 4


def test_an_upload_that_needs_too_much_memory_is_stopped():
    with limits.override(parse_memory_bytes="600MB"):
        check_upload("network", "knee.yaml", bn.registry.resolve("l4l5_knee").read_bytes())  # fits
        with pytest.raises(UploadRefusedError, match=r"more than 600 MB of memory.*parse_memory_bytes"):
            check_upload("network", "heavy.yaml", heavy_tables_network(100))

"""Outputs are written whole or not at all, and never into the published networks by accident."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

import bn
from bn.cli import main
from bn.errors import BNError
from bn.files import atomic_path, refuse_registry
from bn.resources import networks_dir

NETWORKS = ROOT / "networks"


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def _cases(path, n):
    rng = np.random.default_rng(0)
    pd.DataFrame({"knee_pain": rng.choice(["present", "absent"], n),
                  "straight_leg_raise": rng.choice(["positive", "negative", ""], n),
                  "age_group": rng.choice(["under_40", "40_to_64", "65_plus"], n)}).to_csv(path, index=False)


def test_a_killed_batch_leaves_nothing_or_the_whole_result(tmp_path):
    """SIGTERM and SIGKILL at several moments of a large batch: the output name holds the old file or the
    complete result, never part of one."""
    cases, out = tmp_path / "cases.csv", tmp_path / "scored.csv"
    n = 40_000
    _cases(cases, n)
    command = [sys.executable, "-m", "bn", "batch", "l4l5_knee", str(cases), "--out", str(out)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True, timeout=600)
    full = time.perf_counter() - start
    complete = pd.read_csv(out)
    assert len(complete) == n
    for fraction, sig in ((0.3, signal.SIGTERM), (0.6, signal.SIGKILL), (0.85, signal.SIGTERM),
                          (0.95, signal.SIGKILL)):
        out.write_text("old\n")
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(full * fraction)
        proc.send_signal(sig)
        proc.wait(timeout=60)
        text = out.read_text()
        assert text == "old\n" or len(pd.read_csv(out)) == n, (fraction, sig, len(text))
        if sig == signal.SIGTERM:  # a clean exit removes its temporary file
            assert not list(tmp_path.glob(".scored.csv.*")), list(tmp_path.iterdir())
        for debris in tmp_path.glob(".scored.csv.*"):
            debris.unlink()


def test_learn_publishes_only_with_publish_and_a_greater_version(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "networks" / "tiny"
    folder.mkdir(parents=True)
    import yaml
    from conftest import small_network_doc

    (folder / "1.0.0.yaml").write_text(yaml.safe_dump(small_network_doc(), sort_keys=False))
    monkeypatch.setenv("BN_NETWORKS_DIR", str(tmp_path / "networks"))
    records = tmp_path / "records.csv"
    pd.DataFrame({"age": ["old", "young"] * 20, "disease": ["present", "absent"] * 20}).to_csv(records, index=False)
    args = ["learn", "tiny", str(records), "--version", "1.1.0"]
    assert main(args) == 2  # where to write is not optional
    assert "say what to write: --out FILE (a new network file), --publish, or --report DIR" in capsys.readouterr().err
    assert main([*args, "--out", str(folder / "1.1.0.yaml")]) == 2
    assert "would publish it" in capsys.readouterr().err and not (folder / "1.1.0.yaml").exists()
    assert main([*args, "--publish", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["network"]["version"] == "1.1.0" and data["file"] == str(folder / "1.1.0.yaml")
    from bn.registry import pinned, published

    assert published()["tiny"] == ["1.0.0", "1.1.0"] and pinned("tiny")["1.1.0"] == data["network"]["sha256"]
    assert bn.load("tiny").info.published is True and bn.load("tiny@1.0.0").info.published is True
    assert main(["learn", "tiny@1.1.0", str(records), "--version", "1.1.0", "--publish"]) == 2
    assert "the latest published version is 1.1.0, and a new one must be greater" in capsys.readouterr().err
    assert main(["learn", "tiny@1.1.0", str(records), "--version", "1.0.5", "--publish"]) == 2
    assert main(["learn", "tiny@1.1.0", str(records), "--version", "01.2.0", "--publish"]) == 2
    assert "not a version" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["1.0.0.yaml", "1.1.0.yaml", "published.yaml"]


def test_a_file_dropped_beside_the_pinned_versions_is_not_published(tmp_path, monkeypatch):
    folder = tmp_path / "networks"
    shutil.copytree(NETWORKS / "l4l5_knee", folder / "l4l5_knee")
    shutil.copy(folder / "l4l5_knee" / "2.0.0.yaml", folder / "l4l5_knee" / "9.0.0.yaml")
    monkeypatch.setenv("BN_NETWORKS_DIR", str(folder))
    assert "9.0.0" not in bn.published()["l4l5_knee"] and bn.load("l4l5_knee").info.version == "2.0.0"
    with pytest.raises(BNError, match=r"no version 9\.0\.0; published versions: 1\.0\.0, 1\.1\.0, 2\.0\.0"):
        bn.load("l4l5_knee@9.0.0")


@pytest.fixture
def tiny(write_network):
    from conftest import small_network_doc

    import bn

    return bn.load(str(write_network(small_network_doc(), "tiny/1.0.0.yaml")))


def test_learn_writes_nothing_when_the_written_file_fails_its_check(tmp_path, capsys, tiny):
    records = tmp_path / "records.csv"
    pd.DataFrame({"age": ["old", "young"] * 5}).to_csv(records, index=False)
    out = tmp_path / "elsewhere" / "2.0.0.yaml"  # the file name says 2.0.0, the version says 1.5.0
    out.parent.mkdir()
    assert main(["learn", str(tiny.network.info.path), str(records), "--version", "1.5.0", "--out", str(out)]) == 2
    assert "network.version is 1.5.0 but the file is named 2.0.0.yaml" in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []


def test_the_registry_guard_names_the_way_out(tmp_path):
    with pytest.raises(BNError, match="--publish"):
        refuse_registry(networks_dir() / "l4l5_knee" / "9.9.9.yaml", what="a test")
    refuse_registry(tmp_path / "9.9.9.yaml", what="a test")

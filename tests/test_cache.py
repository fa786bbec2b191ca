"""The compiled-network cache: same answers as a fresh load, keyed by content, safe format, fast warm path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from conftest import BENCH, ROOT

import bn
import bn.cache


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("BN_CACHE_DIR", str(folder))
    return folder


def entries(folder):
    return sorted(folder.glob("*.npz")) if folder.exists() else []


def test_cached_load_matches_fresh_load_and_is_keyed_by_content(cache, knee):
    cold = bn.cache.load("l4l5_knee@1.1.0")
    assert len(entries(cache)) == 1
    assert entries(cache)[0].name.startswith(knee.info.sha256)  # the file's sha256 is the key
    warm = bn.cache.load("l4l5_knee@1.1.0")
    assert len(entries(cache)) == 1
    case = {"knee_pain": "present", "straight_leg_raise": "positive", "age_group": "65_plus"}
    expected = knee.query(case).to_dict()  # the fresh, uncached load
    for net in (cold, warm):
        assert net.query(case).to_dict() == expected
    # Everything the other commands read survives the round trip.
    assert warm.network.meta == knee.network.meta and warm.network.references == knee.network.references
    for vid, v in knee.network.variables.items():
        w = warm.network[vid]
        assert (w.parameters, w.states, w.parents, w.role, w.label) == (v.parameters, v.states, v.parents, v.role,
                                                                          v.label)
        np.testing.assert_array_equal(w.cpt, v.cpt)


def test_entries_are_npz_with_json_and_no_pickled_objects(cache):
    bn.cache.load("l4l5_knee@1.1.0")
    (entry,) = entries(cache)
    with zipfile.ZipFile(entry) as zf:
        for name in zf.namelist():
            with zf.open(name) as fh:
                header = fh.read(128)
            assert header.startswith(b"\x93NUMPY") and b"'O'" not in header and b"|O" not in header
    with np.load(entry, allow_pickle=False) as npz:
        doc = json.loads(npz["document"].tobytes())
    assert doc["network"]["info"]["id"] == "l4l5_knee"


def test_a_changed_file_is_a_new_entry_and_a_damaged_entry_is_rebuilt(cache, tmp_path):
    path = tmp_path / "asia.bif"
    path.write_text((BENCH / "asia.bif").read_text())
    # The change is to P(smoke), so P(lung | xray) moves (P(lung | smoke) would not).
    first = bn.cache.load(str(path)).posterior("lung", {"xray": "yes"})
    path.write_text((BENCH / "asia.bif").read_text().replace("0.5, 0.5", "0.4, 0.6", 1))
    second = bn.cache.load(str(path)).posterior("lung", {"xray": "yes"})
    assert len(entries(cache)) == 2 and abs(first["yes"] - second["yes"]) > 1e-3
    assert second == bn.load(str(path)).posterior("lung", {"xray": "yes"})
    for entry in entries(cache):
        entry.write_bytes(b"not a zip file")
    assert bn.cache.load(str(path)).posterior("lung", {"xray": "yes"}) == second


def test_warm_query_imports_no_pgmpy_jsonschema_or_pandas(cache, tmp_path):
    """A warm `bn query` (through the cache) must not pay for the heavy imports."""
    script = (
        "import sys, bn, bn.cache\n"
        "bn.load = bn.cache.load\n"
        "from bn.cli import main\n"
        "code = main(['query', sys.argv[1], '-e', 'knee_pain=present', '--json'])\n"
        "heavy = [m for m in ('pgmpy', 'jsonschema', 'pandas', 'networkx', 'opt_einsum') if m in sys.modules]\n"
        "print('HEAVY', ','.join(heavy), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "BN_CACHE_DIR": str(cache)}
    for _ in range(2):  # cold, then warm
        done = subprocess.run([sys.executable, "-c", script, "l4l5_knee"], capture_output=True, text=True, env=env,
                              cwd=ROOT, timeout=120)
        assert done.returncode == 0, done.stderr
    heavy = next(line for line in done.stderr.splitlines() if line.startswith("HEAVY"))
    assert heavy == "HEAVY ", heavy
    assert json.loads(done.stdout)["network"]["id"] == "l4l5_knee"


def test_an_entry_written_by_other_code_is_never_read(cache, monkeypatch):
    """The key holds a digest of the reading and compiling code: after an edit to, say, the noisy-OR formula
    at the same package version, the old entry is not used (issue 13 found 0.08788 served where a fresh read
    answered 0.10384)."""
    monkeypatch.setattr(bn.cache, "_code_digest", lambda: "0123456789abcdef")
    bn.cache.load("l4l5_knee@1.1.0")
    (old,) = entries(cache)
    assert old.name.endswith("-0123456789abcdef.npz")
    monkeypatch.undo()
    monkeypatch.setenv("BN_CACHE_DIR", str(cache))
    bn.cache.load("l4l5_knee@1.1.0")
    assert len(entries(cache)) == 2 and old in entries(cache)

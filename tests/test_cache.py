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
    # The priors come with the entry (no junction-tree pass on a warm load), the fresh load's to the last digit.
    assert "_priors" in bn.cache.load("l4l5_knee@1.1.0").__dict__
    assert warm.priors() == knee.priors()
    # Every field of the network and of every variable survives the round trip.
    assert_same_network(warm.network, knee.network)


def assert_same_network(a, b):
    import dataclasses

    for f in dataclasses.fields(b):
        if f.name != "variables":
            assert getattr(a, f.name) == getattr(b, f.name), f.name
    assert list(a.variables) == list(b.variables)
    for vid, v in b.variables.items():
        w = a.variables[vid]
        assert type(w) is type(v)
        for f in dataclasses.fields(v):
            if f.name == "cpt":
                np.testing.assert_array_equal(w.cpt, v.cpt)
                assert w.cpt.dtype == v.cpt.dtype
            else:
                assert getattr(w, f.name) == getattr(v, f.name), (vid, f.name)


def test_the_encoding_is_generic_a_new_field_round_trips(monkeypatch):
    """The serializer lists no fields: a Variable with an extra field keeps it."""
    import dataclasses

    from bn.model import Variable

    Extended = dataclasses.make_dataclass("Variable", [("display_order", int, dataclasses.field(default=0))],
                                          bases=(Variable,), frozen=True)
    monkeypatch.setitem(bn.cache._TYPES, "Variable", Extended)
    network = bn.load("l4l5_knee@1.1.0").network
    variables = {vid: Extended(**{**{f.name: getattr(v, f.name) for f in dataclasses.fields(v)},
                                  "display_order": k + 7})
                 for k, (vid, v) in enumerate(network.variables.items())}
    extended = dataclasses.replace(network, variables=variables)
    arrays = []
    document = json.loads(json.dumps(bn.cache.encode(extended, arrays)))
    back = bn.cache.decode(document, arrays)
    assert_same_network(back, extended)
    assert [v.display_order for v in back.variables.values()] == list(range(7, 7 + len(variables)))


def _rewrite(entry, change):
    """Rewrite an entry's arrays through ``change(dict)``, keeping it a valid npz file."""
    with np.load(entry, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    with open(entry, "wb") as fh:
        np.savez(fh, **arrays)


def test_a_tampered_or_truncated_entry_is_never_trusted(cache, knee):
    case = {"knee_pain": "present", "straight_leg_raise": "positive"}
    expected = knee.query(case).to_dict()
    bn.cache.load("l4l5_knee@1.1.0")
    (entry,) = entries(cache)

    def tamper(arrays):  # every table entry changed; the document and its digest kept
        for k in arrays:
            if k.startswith("a"):
                arrays[k] = np.full_like(arrays[k], 0.5)

    _rewrite(entry, tamper)
    assert bn.cache.load("l4l5_knee@1.1.0").query(case).to_dict() == expected
    with np.load(entry, allow_pickle=False) as npz:  # rebuilt: the tables are the real ones again
        assert not all(np.all(npz[k] == 0.5) for k in npz.files if k.startswith("a"))
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2])
    assert bn.cache.load("l4l5_knee@1.1.0").query(case).to_dict() == expected
    assert entry.read_bytes() == data  # rewritten whole


def test_an_entry_for_another_file_is_not_served(cache, knee):
    """An entry copied under another file's key (same format, valid digest) is refused."""
    bn.cache.load("l4l5_knee@1.0.0")
    (old,) = entries(cache)
    key = old.name.replace(bn.load("l4l5_knee@1.0.0").info.sha256, knee.info.sha256)
    (cache / key).write_bytes(old.read_bytes())
    net = bn.cache.load("l4l5_knee@1.1.0")
    assert net.info.version == "1.1.0" and net.info.sha256 == knee.info.sha256
    assert net.query({"knee_pain": "present"}).to_dict() == knee.query({"knee_pain": "present"}).to_dict()


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
    first = bn.cache.load(str(path)).posterior("lung", findings={"xray": "yes"})
    path.write_text((BENCH / "asia.bif").read_text().replace("0.5, 0.5", "0.4, 0.6", 1))
    second = bn.cache.load(str(path)).posterior("lung", findings={"xray": "yes"})
    assert len(entries(cache)) == 2 and abs(first["yes"] - second["yes"]) > 1e-3
    assert second == bn.load(str(path)).posterior("lung", findings={"xray": "yes"})
    for entry in entries(cache):
        entry.write_bytes(b"not a zip file")
    assert bn.cache.load(str(path)).posterior("lung", findings={"xray": "yes"}) == second


def test_warm_query_imports_no_pgmpy_jsonschema_or_pandas(cache, tmp_path):
    """A warm `bn query` (through the cache) must not pay for the heavy imports, nor for a YAML reader (the
    published hashes are kept as JSON)."""
    script = (
        "import sys, bn, bn.cache\n"
        "bn.load = bn.cache.load\n"
        "from bn.cli import main\n"
        "code = main(['query', sys.argv[1], '-e', 'knee_pain=present', '--json'])\n"
        "heavy = [m for m in ('pgmpy', 'jsonschema', 'pandas', 'networkx', 'opt_einsum', 'yaml') if m in sys.modules]\n"
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

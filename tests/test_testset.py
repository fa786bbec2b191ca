"""The locked test set (bn/validation/testset.py), blinding in the report, and where `bn validate` writes.

Each rule of the lock is exercised on a small folder of case files: a changed byte, an added or removed test
case, a hand-edited lock and a lock newer than the version scored must each make the test-set figures invalid;
the CI gate must fail on the first three and not on the last.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

import bn
from bn import validation as V
from bn.cli.validate import add_parser
from bn.teaching import example_cases
from bn.validation import testset
from bn.validation.report import write_report

ROOT = Path(__file__).resolve().parent.parent


def _cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bn")
    add_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(argv)
    return args.func(args)


def _case(split: str, source: str = "knee", finding: str = "present") -> str:
    return yaml.safe_dump({
        "title": f"a {split} case", "source": "Author A. A case of knee pain. J Test 2020;1:1-2.",
        "link": "https://doi.org/10.0/test", "kind": "published", "split": split, "network": "l4l5_knee",
        "vocabulary": 2, "findings": {"knee_pain": "present", "knee_effusion": finding},
        "expected": {"diagnoses": [], "knee_pain_source": source, "confirmed_by": "arthroscopy"}})


@pytest.fixture()
def folder(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "t1.yaml").write_text(_case("test"))
    (cases / "t2.yaml").write_text(_case("test", "hip"))
    (cases / "d1.yaml").write_text(_case("development"))
    return tmp_path


def _digests(cases: Path) -> dict[str, str]:
    out = {}
    for p in sorted(cases.glob("*.yaml")):
        if yaml.safe_load(p.read_text())["split"] == "test":
            out[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_lock_round_trip_and_every_invalidating_change(folder):
    cases, path = folder / "cases", folder / "test_set.lock"
    lock = testset.make_lock(_digests(cases), network_id="l4l5_knee", network_version="1.1.0", why="first lock",
                             date="2026-11-30")
    testset.write_lock(lock, path)
    back = testset.read_lock(path)
    assert back == lock and back.changelog[-1]["added"] == ["t1.yaml", "t2.yaml"]
    assert testset.check_lock(back, _digests(cases), "l4l5_knee", "1.1.0").valid
    assert testset.check_lock(back, _digests(cases), "l4l5_knee", "2.0.0").valid
    # a version older than the lock: invalid, but not a regression
    old = testset.check_lock(back, _digests(cases), "l4l5_knee", "1.0.0")
    assert not old.valid and not old.problems and "newer than version 1.0.0" in old.version_problem
    # one changed byte
    (cases / "t1.yaml").write_text(_case("test", finding="absent"))
    changed = testset.check_lock(back, _digests(cases), "l4l5_knee", "1.1.0")
    assert changed.problems == ["test case t1.yaml differs from the locked file"]
    # a test case added, and one moved out of the test split
    (cases / "t3.yaml").write_text(_case("test"))
    (cases / "t2.yaml").write_text(_case("development", "hip"))
    problems = testset.check_lock(back, _digests(cases), "l4l5_knee", "1.1.0").problems
    assert "test case t3.yaml is not in the lock" in problems
    assert "locked test case t2.yaml is missing or no longer in the test split" in problems
    # a new lock needs a reason and records what changed
    with pytest.raises(testset.TestSetError, match="say why"):
        testset.make_lock(_digests(cases), network_id="l4l5_knee", network_version="1.1.0", why=" ", previous=back)
    relock = testset.make_lock(_digests(cases), network_id="l4l5_knee", network_version="1.1.0",
                               why="t3 added after review", previous=back)
    entry = relock.changelog[-1]
    assert (entry["added"], entry["removed"], entry["changed"]) == (["t3.yaml"], ["t2.yaml"], ["t1.yaml"])
    assert len(relock.changelog) == 2 and testset.check_lock(relock, _digests(cases), "l4l5_knee", "1.1.0").valid
    with pytest.raises(testset.TestSetError, match="already locked"):
        testset.make_lock(_digests(cases), network_id="l4l5_knee", network_version="1.1.0", why="again",
                          previous=relock)
    # a lock edited by hand (a digest swapped without a changelog entry) is not a lock
    testset.write_lock(relock, path)
    text = path.read_text().replace(relock.cases["t1.yaml"], "f" * 64)
    path.write_text(text)
    edited = testset.check_lock(testset.read_lock(path), {**_digests(cases), "t1.yaml": "f" * 64}, "l4l5_knee",
                                "1.1.0")
    assert any("no changelog entry vouching" in p for p in edited.problems)


@pytest.mark.parametrize("text, message", [
    ("format: nope\n", "not a test-set lock"),
    ("format: bn-test-set-lock/1\nnetwork: {id: x, version: one}\ncases: {}\nchangelog: []\n", "MAJOR.MINOR.PATCH"),
    ("format: bn-test-set-lock/1\nnetwork: {id: x, version: 1.0.0}\ncases: {a.yaml: short}\nchangelog: []\n",
     "sha256"),
    ("[unclosed", "cannot read"),
])
def test_malformed_lock_is_one_clear_line(tmp_path, text, message):
    path = tmp_path / "bad.lock"
    path.write_text(text)
    with pytest.raises(testset.TestSetError, match=message) as exc:
        testset.read_lock(path)
    assert "\n" not in str(exc.value)


def test_cli_lock_then_gate_fails_on_a_changed_test_case(folder, tmp_path, capsys):
    cases, lock = folder / "cases", folder / "test_set.lock"
    # Three concordance rows: the gate's arithmetic is what is tested here, not the whole table.
    table = yaml.safe_load(V.CONCORDANCE_FILE.read_text())
    concordance = tmp_path / "concordance.yaml"
    concordance.write_text(yaml.safe_dump({"items": table["items"][:3]}))
    common = ["--cases", str(cases), "--lock-file", str(lock), "--concordance", str(concordance)]
    with pytest.raises(bn.BNError, match="needs a changelog entry"):
        _cli(["validate", "lock", *common])
    assert _cli(["validate", "lock", "--why", "first lock", *common]) == 0
    assert "locked 2 test cases" in capsys.readouterr().out
    base = tmp_path / "baseline.json"
    out = ["--out", str(tmp_path / "r"), "--baseline", str(base)]
    assert _cli(["validate", "--fast", *common, *out, "--write-baseline"]) == 0
    assert "test set: valid" in capsys.readouterr().out
    assert _cli(["validate", "--fast", *common, *out, "--check-baseline"]) == 0
    (cases / "t2.yaml").write_text(_case("test", "hip", finding="absent"))
    assert _cli(["validate", "--fast", *common, *out, "--check-baseline"]) == 1
    err = capsys.readouterr().err
    assert "test set: test case t2.yaml differs from the locked file" in err
    report = (tmp_path / "r" / "report.md").read_text()
    assert "**INVALID test-set figures:** test case t2.yaml differs" in report


def test_report_blinds_test_cases_unless_unblinded(folder, tmp_path):
    cases, lock, views = folder / "cases", folder / "test_set.lock", folder / "views.yaml"
    testset.write_lock(testset.make_lock(_digests(cases), network_id="l4l5_knee", network_version="1.1.0",
                                         why="first"), lock)
    net = bn.load("l4l5_knee@1.1.0")
    blind = V.run_all(net, cases, fast=True, lock_file=lock, views_file=views)
    assert blind.lock.valid and not views.exists()
    text = write_report(blind, tmp_path / "blind").read_text()
    results = json.loads((tmp_path / "blind" / "results.json").read_text())
    test_rows = [c for c in results["cases"]["cases"] if c["split"] == "test"]
    assert len(test_rows) == 2 and all(set(c) == {"id", "split", "kind", "sha256"} for c in test_rows)
    assert "| t1 | published | knee |" in text and "| t1 | (none modelled)" not in text
    assert "| d1 | (none modelled)" in text  # development cases are shown in full
    # the headline figures are there, with intervals, whatever the blinding
    g = blind.suite.groups["test"]
    assert f"{g['source_top1']['k']}/{g['source_top1']['n']}" in text and g["source_top1"]["n"] == 2
    with pytest.raises(bn.BNError, match="reason"):
        V.run_all(net, cases, fast=True, lock_file=lock, views_file=views, unblind="  ")
    seen = V.run_all(net, cases, fast=True, lock_file=lock, views_file=views, unblind="reviewing the cases")
    assert seen.unblinded and seen.seen == {"t1.yaml": 1, "t2.yaml": 1}
    assert testset.read_views(views)[0]["why"] == "reviewing the cases"
    text = write_report(seen, tmp_path / "seen").read_text()
    assert "| t1 | (none modelled)" in text and "Unblinded run" in text
    again = V.run_all(net, cases, fast=True, lock_file=lock, views_file=views)
    assert again.seen == {"t1.yaml": 1, "t2.yaml": 1} and not again.unblinded


def test_validate_writes_nothing_in_the_working_tree_without_update_report(tmp_path, monkeypatch):
    committed = {p: p.read_bytes() for p in V.REPORT_DIR.rglob("*") if p.is_file()}
    out = tmp_path / "build"
    monkeypatch.setattr(V, "OUT_DIR", out)
    assert _cli(["validate", "l4l5_knee@1.1.0", "--fast"]) == 0
    assert (out / "report.md").exists()
    assert {p: p.read_bytes() for p in V.REPORT_DIR.rglob("*") if p.is_file()} == committed


def test_educator_never_shows_a_test_case(tmp_path):
    shutil.copy(V.CASES_DIR / "a13_knee_oa_classic.yaml", tmp_path)
    (tmp_path / "t1.yaml").write_text(_case("test"))
    shown = example_cases(tmp_path)
    assert "a13_knee_oa_classic" in shown and "t1" not in shown
    tests_in_repo = {p.stem for p in V.CASES_DIR.glob("*.yaml") if yaml.safe_load(p.read_text())["split"] == "test"}
    assert not tests_in_repo & set(example_cases(V.CASES_DIR))

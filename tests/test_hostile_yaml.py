"""Hostile YAML (issue 14): a few hundred bytes must not freeze the reader, the CLI or the app's upload path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from conftest import ROOT

from bn import safeyaml
from bn.errors import CaseFileError
from bn.evidence import parse_case
from bn.netfile import check_network_file

BOMB = ("network: l4l5_knee\nfindings: {knee_pain: present}\n"
        "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nnote: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n")


@pytest.mark.parametrize("text, message", [
    (BOMB, "anchors and aliases are not accepted"),
    ("a: &self [*self]", "anchors and aliases are not accepted"),
    ("[" * 500 + "]" * 500, "nests deeper than 64"),
    ("x: " + "9" * 5000, "cannot be read"),
])
def test_refused_before_it_is_built(text, message):
    start = time.perf_counter()
    with pytest.raises(safeyaml.YAMLError, match=message) as exc:
        safeyaml.load(text)
    assert time.perf_counter() - start < 1.0 and "\n" not in str(exc.value)


def test_node_limit():
    with pytest.raises(safeyaml.YAMLLimitError, match="more than 100 values"):
        safeyaml.load("[" + ", ".join(["1"] * 200) + "]", max_nodes=100)
    assert safeyaml.load("[1, 2]", max_nodes=100) == [1, 2]


def test_case_file_and_network_file_get_one_line(tmp_path):
    with pytest.raises(CaseFileError, match=r"bomb\.yaml: not valid JSON or YAML .*aliases"):
        parse_case(BOMB, "bomb.yaml")
    path = tmp_path / "net.yaml"
    path.write_text("format: bn-network/1\nnetwork: &n {id: x, title: x, version: 1.0.0}\nvariables: []\n")
    problems = check_network_file(path)
    assert len(problems) == 1 and "aliases are not accepted" in str(problems[0])


def test_cli_case_bomb_exits_2_at_once(tmp_path):
    case = tmp_path / "bomb.yaml"
    case.write_text(BOMB)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bn", "query", "l4l5_knee", "--case", str(case)],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2 and "aliases are not accepted" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and time.perf_counter() - start < 30


@pytest.mark.parametrize("text, key, line", [
    ("network: l4l5_knee\nfindings:\n  knee_pain: present\n  knee_pain: absent\n", "knee_pain", 4),
    ('{"findings": {"straight_leg_raise": "positive"}, "findings": {}}', "findings", 1),
    ("findings: {}\nsoft_findings:\n  mcmurray_test: {positive: 0.7, positive: 0.2}\n", "positive", 3),
])
def test_duplicate_keys_are_errors_naming_key_and_line(text, key, line):
    """YAML and JSON readers keep the last of two equal keys without a word; this one refuses the file."""
    with pytest.raises(CaseFileError, match=rf"duplicate key '{key}' \(line {line}\)"):
        parse_case(text, "dup.yaml")
    assert safeyaml.load("a: 1\nb: {a: 2}\nc: [{a: 3}, {a: 4}]") == {"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}


def test_duplicate_key_in_a_network_file(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("format: bn-network/1\nnetwork: {id: x, title: x, version: 1.0.0, title: y}\nvariables: []\n")
    problems = check_network_file(path)
    assert len(problems) == 1 and "duplicate key 'title' (line 2)" in str(problems[0])


# -- numerical safety of soft evidence and JSON output (issue 14) -------------------------------------------------


def _strict(text: str):
    def refuse(name):
        raise ValueError(f"non-JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_soft_likelihoods_are_ratios(knee):
    """A soft finding's likelihoods count only by their ratios: P(findings) stays at most P(the hard findings),
    posteriors do not move when all likelihoods are scaled, and extreme values stay finite."""
    hard = {"knee_pain": "present"}
    p_hard = knee.probability_of_evidence(hard)
    base = knee.query(hard, soft={"straight_leg_raise": {"positive": 5.0, "negative": 2.0}})
    scaled = knee.query(hard, soft={"straight_leg_raise": {"positive": 0.5, "negative": 0.2}})
    assert base.probability_of_evidence <= p_hard + 1e-15
    assert base.probability_of_evidence == pytest.approx(scaled.probability_of_evidence, rel=1e-12)
    for key, p in base.knee_pain_source.items():
        assert p == pytest.approx(scaled.knee_pain_source[key], abs=1e-12)
    extreme = knee.query(hard, soft={"straight_leg_raise": {"positive": 1e300, "negative": 1e-300}})
    certain = knee.query({**hard, "straight_leg_raise": "positive"})
    assert 0 < extreme.probability_of_evidence <= p_hard
    for key, p in extreme.knee_pain_source.items():
        assert p == pytest.approx(certain.knee_pain_source[key], abs=1e-12)


def test_json_outputs_are_strict_json(capsys, tmp_path):
    from bn.cli import main

    for argv in (["query", "l4l5_knee", "-e", "knee_pain=present", "--soft", "straight_leg_raise=positive:0.9",
                  "--json", "--interval-draws", "40"],
                 ["explain", "l4l5_knee", "-e", "knee_pain=present", "--json"],
                 ["next", "l4l5_knee", "-e", "knee_pain=present", "--top", "3", "--json"]):
        assert main(argv) == 0
        _strict(capsys.readouterr().out)
    # an empty group's accuracy is NaN in Python: null in results.json and in --json
    cases = tmp_path / "cases"
    cases.mkdir()
    shutil.copy(ROOT / "validation" / "cases" / "a13_knee_oa_classic.yaml", cases)
    assert main(["validate", "--fast", "--cases", str(cases), "--out", str(tmp_path / "r"), "--json"]) == 0
    printed = _strict(capsys.readouterr().out)
    assert printed["summary"]["cases"] == 1
    results = _strict((tmp_path / "r" / "results.json").read_text())
    assert results["cases"]["groups"]["test"]["top1"]["value"] is None

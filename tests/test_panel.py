"""The blinded clinician-panel protocol (bn/validation/panel.py): the booklet shows findings only, and the scoring is
checked against independent computations on synthetic respondents (no clinician is available to the project).
"""

from __future__ import annotations

import argparse
import csv
import itertools
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.metrics import cohen_kappa_score

from bn.cli.validate import add_parser
from bn.validation import panel

ROOT = Path(__file__).resolve().parent.parent
VOCAB = ROOT / "networks" / "l4l5_knee" / "vocabulary.yaml"
SOURCES = ["l4l5_spine", "other_lumbar_level", "knee", "hip", "other"]


def _case(title: str, findings: dict, source: str, split: str = "test") -> str:
    return yaml.safe_dump({"title": title, "source": f"Secret Author. {title}. J Test 2020;1:1.",
                           "link": "https://doi.org/10.0/x", "kind": "published", "split": split,
                           "network": "l4l5_knee", "findings": findings, "note": f"NOTE {title}",
                           "expected": {"diagnoses": [], "knee_pain_source": source}})


@pytest.fixture()
def cases(tmp_path):
    d = tmp_path / "cases"
    d.mkdir()
    (d / "a.yaml").write_text(_case("Hip arthritis as knee pain", {"knee_pain": "present", "groin_pain": "present",
                                                                    "age_group": "65_plus"}, "hip"))
    (d / "b.yaml").write_text(_case("Meniscal tear", {"knee_pain": "present", "mcmurray_test": "positive"}, "knee"))
    (d / "c.yaml").write_text(_case("Far lateral L4-5 disc", {"knee_pain": "present",
                                                               "femoral_nerve_stretch": "positive"}, "l4l5_spine"))
    (d / "dev.yaml").write_text(_case("Development only", {"knee_pain": "present"}, "knee", split="development"))
    return d


def test_booklet_has_findings_only_in_a_seeded_order(cases, tmp_path):
    booklet = panel.write_booklet(cases, tmp_path / "b", vocabulary_file=VOCAB, seed=4)
    assert sorted(c.file for c in booklet) == ["a.yaml", "b.yaml", "c.yaml"]  # test cases only
    assert [c.code for c in booklet] == ["C01", "C02", "C03"]
    html = (tmp_path / "b" / "booklet.html").read_text()
    for secret in ("Secret Author", "NOTE", "Hip arthritis", "Meniscal tear", "knee_pain_source", "Development"):
        assert secret not in html
    assert "Groin pain: present" in html and "Mcmurray test: positive" in html and "65 or over" in html
    assert html.index("Case C01") < html.index("Case C02") < html.index("Case C03")
    again = panel.write_booklet(cases, tmp_path / "b2", vocabulary_file=VOCAB, seed=4)
    assert [c.file for c in again] == [c.file for c in booklet]
    other = [panel.write_booklet(cases, tmp_path / f"s{s}", vocabulary_file=VOCAB, seed=s) for s in range(6)]
    assert len({tuple(c.file for c in b) for b in other}) > 1
    sheet = list(csv.reader((tmp_path / "b" / "responses.csv").open()))
    assert sheet[0] == ["respondent", "case", *(f"p_{s}" for s in SOURCES), "leading_diagnosis", "comment"]
    assert [row[1] for row in sheet[1:]] == ["C01", "C02", "C03"]
    assert panel.read_key(tmp_path / "b" / "key.csv") == {c.code: c.file for c in booklet}


def test_kappa_matches_sklearn_and_the_weighted_definition():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = list(rng.choice(SOURCES, 30))
        b = list(rng.choice(SOURCES, 30))
        assert panel.cohen_kappa(a, b, SOURCES) == pytest.approx(cohen_kappa_score(a, b, labels=SOURCES))
        # the weighted kappa from its definition, pair by pair
        n = len(a)
        w = {(x, y): 1.0 if x == y else (0.5 if {x, y} == {"l4l5_spine", "other_lumbar_level"} else 0.0)
             for x, y in itertools.product(SOURCES, SOURCES)}
        po = sum(w[x, y] for x, y in zip(a, b)) / n
        pe = sum(w[x, y] * a.count(x) / n * b.count(y) / n for x, y in itertools.product(SOURCES, SOURCES))
        assert panel.cohen_kappa(a, b, SOURCES, panel.KAPPA_WEIGHTS) == pytest.approx((po - pe) / (1 - pe))


def _sheet(path: Path, rows) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["respondent", "case", *(f"p_{s}" for s in SOURCES), "leading_diagnosis", "comment"])
        w.writerows(rows)
    return path


def test_scoring_synthetic_respondents(tmp_path):
    rng = np.random.default_rng(1)
    key = {f"C{i:02d}": f"case{i}.yaml" for i in range(1, 21)}
    net = {f: dict(zip(SOURCES, rng.dirichlet(np.ones(5)))) for f in key.values()}
    established = {f: [max(SOURCES, key=net[f].get)] for f in key.values()}
    mirror = [["mirror", c, *(net[f][s] for s in SOURCES), "none", ""] for c, f in key.items()]
    noisy = [["noisy", c, *(float(np.clip(net[f][s] + rng.normal(0, 0.05), 0, 1)) for s in SOURCES), "none", ""]
             for c, f in key.items()]
    rand = [["random", c, *rng.uniform(0, 1, 5), "none", ""] for c in key]
    responses = panel.read_responses([_sheet(tmp_path / "r.csv", mirror + noisy + rand)], SOURCES)
    result = panel.score_panel(responses, key, net, established, SOURCES, top=3)
    m = result["respondents"]["mirror"]
    assert m["agreement"] == 1.0 and m["kappa"] == pytest.approx(1.0) and m["mean_abs_difference"] == 0.0
    assert result["respondents"]["noisy"]["kappa"] > result["respondents"]["random"]["kappa"]
    # the consensus is the mean of the three sheets; its agreement is recomputed here independently
    cons = {c: {s: np.mean([r[2 + i] for r in (mirror + noisy + rand) if r[1] == c]) for i, s in enumerate(SOURCES)}
            for c in key}
    lead_net = [max(SOURCES, key=net[key[c]].get) for c in sorted(key)]
    lead_cons = [max(SOURCES, key=cons[c].get) for c in sorted(key)]
    assert result["consensus"]["kappa"] == pytest.approx(cohen_kappa_score(lead_net, lead_cons, labels=SOURCES))
    mad = np.mean([abs(net[key[c]][s] - cons[c][s]) for c in key for s in SOURCES])
    assert result["consensus"]["mean_abs_difference"] == pytest.approx(mad)
    diffs = [d["difference"] for d in result["largest_differences"]]
    assert len(diffs) == 3 and diffs == sorted(diffs, reverse=True)
    assert result["established_source_top1"]["network"]["top1"] == 1.0
    assert result["established_source_top1"]["respondent mirror"]["k"] == 20
    assert result["between_respondents"]["pairs"] == 3
    text = panel.panel_markdown(result, {"id": "l4l5_knee", "version": "9.9.9", "sha256": "ab" * 32})
    assert "network vs mirror | 20 | 1.00 | 1.00" in text and "ab" * 32 in text


@pytest.mark.parametrize("rows, message", [
    ([["x", "C01", "0.5", "0.2", "oops", "0", "0", "none", ""]], "line 2, p_knee: 'oops' is not a probability"),
    ([["x", "C01", "1.5", "0", "0", "0", "0", "none", ""]], "not between 0 and 1"),
    ([["", "C01", "0.5", "0", "0", "0", "0", "none", ""]], "respondent is empty"),
    ([["x", "C01", "0.5"]], "3 fields where the header has 9"),
    ([["x", "C01", "", "", "", "", "", "", ""]], "no answered case"),
])
def test_bad_response_sheet_names_file_line_and_column(tmp_path, rows, message):
    with pytest.raises(panel.PanelError, match=message):
        panel.read_responses([_sheet(tmp_path / "bad.csv", rows)], SOURCES)


def test_duplicate_and_unknown_cases_are_refused(tmp_path):
    key = {"C01": "a.yaml"}
    net = {"a.yaml": dict.fromkeys(SOURCES, 0.2)}
    row = ["x", "C01", "0.5", "0", "0", "0", "0", "none", ""]
    twice = panel.read_responses([_sheet(tmp_path / "t.csv", [row, row])], SOURCES)
    with pytest.raises(panel.PanelError, match="twice"):
        panel.score_panel(twice, key, net, {}, SOURCES)
    unknown = panel.read_responses([_sheet(tmp_path / "u.csv", [["x", "C09", *row[2:]]])], SOURCES)
    with pytest.raises(panel.PanelError, match="not in the booklet key"):
        panel.score_panel(unknown, key, net, {}, SOURCES)


def test_cli_panel_round_trip(cases, tmp_path, capsys):
    def cli(argv):
        p = argparse.ArgumentParser(prog="bn")
        add_parser(p.add_subparsers(dest="command"))
        args = p.parse_args(argv)
        return args.func(args)

    out = tmp_path / "booklet"
    assert cli(["validate", "panel", "--booklet", str(out), "--cases", str(cases), "--seed", "2"]) == 0
    key = panel.read_key(out / "key.csv")
    rows = [["dr_a", code, "0.1", "0", "0.8" if "b" in f else "0.1", "0.7" if "a" in f else "0.1", "0", "none", ""]
            for code, f in key.items()]
    sheet = _sheet(tmp_path / "dr_a.csv", rows)
    assert cli(["validate", "panel", "--responses", str(sheet), "--key", str(out / "key.csv"),
                "--cases", str(cases), "--out", str(tmp_path / "scored")]) == 0
    text = capsys.readouterr().out
    assert "network vs dr_a | 3 |" in text and (tmp_path / "scored" / "panel.json").exists()

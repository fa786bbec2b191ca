"""The printable case summary (issue 15): ``bn.case_report`` and ``bn report`` show what bn computes."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

from bn.case_report import TOP_NEXT, case_report
from bn.cli import main
from bn.explain import explain
from bn.headline import source_headline
from bn.voi import next_best

CASE = {"knee_pain": "present", "age_group": "65_plus", "neurogenic_claudication": "present"}


@pytest.fixture(scope="module")
def report(shipped):
    return case_report(shipped, CASE, soft={"back_pain": {"present": 0.7, "absent": 0.3}},
                       note="<script>alert(1)</script> a note", draws=40)


def test_the_summary_holds_what_bn_computes(shipped, report):
    ev = shipped.evidence(CASE, soft={"back_pain": {"present": 0.7, "absent": 0.3}})
    result = shipped.query(ev)
    head = source_headline(shipped, ev, draws=40)
    assert {s["key"]: s["posterior"] for s in report.sources} == pytest.approx(result.knee_pain_source, abs=1e-12)
    assert {s["key"]: (s["low"], s["high"]) for s in report.sources} == head.intervals
    assert [s["posterior"] for s in report.sources] == sorted((s["posterior"] for s in report.sources), reverse=True)
    posts = [d["posterior"] for d in report.differential]
    assert posts == sorted(posts, reverse=True)
    for d in report.differential:
        assert d["posterior"] == pytest.approx(result.posteriors[d["variable"]]["present"], abs=1e-12)
    assert {w["finding"] for w in report.weights} == {f.finding for f in explain(shipped, ev).findings}
    best = next_best(shipped, ev, top=TOP_NEXT).ranking
    assert [n["finding"] for n in report.next_findings] == [c.finding for c in best]
    assert ("Low back pain", "uncertain (absent 0.3, present 0.7)") in report.findings


def test_the_page_is_self_contained_escaped_and_reproducible(shipped, report):
    page = report.to_html()
    info = shipped.info
    assert info.sha256 in page and f"<b>{info.version}</b>" in page and "not a medical device" in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # the user's note is text, never markup
    assert "http://" not in page and "https://" not in page  # prints offline: no external resources
    assert json.loads(report.to_json())["network"]["sha256"] == info.sha256


def test_bn_report_writes_the_page_and_refuses_bad_input(tmp_path, capsys, shipped):
    out = tmp_path / "case.html"
    assert main(["report", str(ROOT / "examples" / "case.json"), "--out", str(out), "--draws", "20"]) == 0
    assert shipped.info.sha256 in out.read_text()
    assert str(out) in capsys.readouterr().out
    assert main(["report", str(ROOT / "examples" / "case.json"), "--json", "--draws", "20"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["network"]["version"] == "2.0.0" and data["findings"][0]["finding"] == "Age group"
    assert main(["report", str(ROOT / "examples" / "case.json")]) == 2
    assert "--out FILE.html" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"findings": {"knee_pain": "sometimes"}}')
    assert main(["report", str(bad), "--out", str(out)]) == 2
    assert "valid states" in capsys.readouterr().err

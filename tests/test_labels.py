"""Labels everywhere (issue 15): what a person reads, in the app and in the CLI's text output, never shows a raw
id of the shipped network. Ids belong to JSON, URLs and the app's "show ids" toggle for modellers."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT, finding, open_all_groups
from streamlit.testing.v1 import AppTest

import bn
from bn.cli import main
from bn.present import label_ids, looks_like_id

APP = str(ROOT / "app.py")
CASE = {"knee_pain": "present", "straight_leg_raise": "positive", "age_group": "65_plus",
        "knee_pain_location": "lateral"}
#: ``--soft`` form of one uncertain finding, so the soft-evidence wording is scanned too.
SOFT = "back_pain=present:0.8"


def id_pattern(network: bn.Network) -> re.Pattern[str]:
    """Every id a reader would stumble on: variable, state and knee-pain source ids with an underscore or digit."""
    ids = {v.id for v in network.variables.values()} | set(network.knee_pain_sources)
    ids |= {s.id for v in network.variables.values() for s in v.states}
    ids = sorted((i for i in ids if looks_like_id(i)), key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, ids)) + r")(?![\w-])")


def shown_text(at: AppTest) -> list[str]:
    """Everything the page shows a reader: text elements, widget labels and options, tables, the graph's labels.
    Widget *values* are left out: they are the ids the app keeps (the radio shows its formatted option)."""
    out: list[str] = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "text", "info", "warning", "error",
                 "success", "metric", "radio", "selectbox", "multiselect", "checkbox", "button", "toggle",
                 "slider", "expander", "tabs"):
        for el in getattr(at, kind, []):
            for attr in ("body", "label", "options", "help", "placeholder"):
                try:
                    value = getattr(el, attr)
                except Exception:  # an element without this attribute
                    continue
                if value:
                    out.append(f"{kind}.{attr}: {value}")
    for h in at.html:  # light tables (the differential, the weights of evidence): their text, not their markup
        out.append("html: " + re.sub(r"<style>.*?</style>|<[^>]+>", " ", h.value, flags=re.S))
    for df in at.dataframe:
        out.append("table: " + " ".join(map(str, df.value.columns)) + "\n" + df.value.to_string())
    for chart in at.get("graphviz_chart"):
        out += [f"graph: {m}" for m in re.findall(r'(?:label|tooltip)="([^"]*)"', chart.proto.spec)]
    return out


def raw_ids(texts: list[str], pattern: re.Pattern[str]) -> list[str]:
    return [f"{m.group(1)!r} in {t[max(0, m.start() - 60):m.end() + 30]!r}" for t in texts
            for m in [pattern.search(t)] if m]


@pytest.fixture(scope="module")
def pattern(shipped) -> re.Pattern[str]:
    return id_pattern(shipped.network)


def test_the_scan_finds_an_id_when_one_is_shown(shipped, pattern):
    # The check can fail: the modeller's toggle shows ids, and the scan sees them.
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.session_state["show_ids"] = True
    at.session_state["view"] = "Network"
    at.run()
    assert not at.exception
    assert raw_ids(shown_text(at), pattern)


def test_no_raw_id_on_any_panel(shipped, pattern):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    open_all_groups(at)  # every control's label is scanned
    assert len(at.sidebar.segmented_control) == len(shipped.network.by_role("risk_factor", "finding", "red_flag"))
    for var, state in CASE.items():
        finding(at, var).set_value(state)
    at.toggle(key="allow_uncertain").set_value(True).run()
    finding(at, "back_pain").set_value("uncertain")
    at.run()
    assert not at.exception
    found: dict[str, list[str]] = {"main page": raw_ids(shown_text(at), pattern)}
    for view in ("Why", "What next", "Sensitivity", "Compare", "Network", "Educator", "Case", "Learn", "About"):
        at.session_state["view"] = view
        at.run()
        assert not at.exception, view
        if view == "Compare":
            next(b for b in at.button if b.label.startswith("Pin")).click().run()
            finding(at, "crossed_straight_leg_raise").set_value("positive").run()
        if view == "Sensitivity":
            at.toggle(key="sens_more").set_value(True).run()
        if view == "Educator":
            at.slider(key="edu_step").set_value(3).run()
        if view == "Network":
            at.selectbox(key="node").set_value("knee_pain_from_l4l5").run()
        assert not at.exception, view
        found[view] = raw_ids(shown_text(at), pattern)
    assert not {k: v for k, v in found.items() if v}


@pytest.mark.parametrize(("verb", "options"), [
    (["query"], []), (["explain"], []), (["next"], []), (["stability"], []), (["sensitivity"], []),
    (["sensitivity", "flip"], []), (["sensitivity", "uncertainty"], ["--draws", "40"])])
def test_cli_text_output_has_no_raw_id(capsys, shipped, pattern, verb, options):
    case = [a for k, v in CASE.items() for a in ("-e", f"{k}={v}")] + ["--soft", SOFT]
    args = [*verb, "l4l5_knee", *case, *options]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert text.strip()
    assert not raw_ids(text.splitlines(), pattern)
    # ... while JSON keeps the ids programs rely on
    assert main([*args, "--json"]) == 0
    assert "knee_pain" in json.dumps(json.loads(capsys.readouterr().out))


def test_label_ids_rewrites_modeller_prose(shipped):
    network = shipped.network
    text = "asked given knee_pain = present; `l4l5_herniation_zone` decides; age_group=65_plus; sex stays"
    said = label_ids(text, network)
    assert not id_pattern(network).search(said)
    assert network["l4l5_herniation_zone"].display_label in said
    assert f"{network['age_group'].display_label} = {network['age_group'].state_label('65_plus')}" in said
    assert said.endswith("sex stays")  # a plain word is left as written


def test_an_unlabelled_variable_reads_as_words(shipped):
    network = shipped.network
    unlabelled = [v for v in network.variables.values() if not v.label]
    for v in unlabelled:
        assert not looks_like_id(v.display_label) and v.display_label[0].isupper()

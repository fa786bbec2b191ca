"""The Streamlit app, headless (AppTest): it opens on the shipped network and shows what bn computes."""

from __future__ import annotations

import pytest
from conftest import ROOT
from streamlit.testing.v1 import AppTest

APP = str(ROOT / "app.py")


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_opens_on_shipped_network_with_disclaimer(app, knee):
    assert "not a medical device" in app.warning[0].value
    assert any(knee.info.sha256[:16] in c.value for c in app.caption)
    assert {m.label for m in app.metric} == {"L4-L5 spine", "Knee", "Hip", "Other"}


def test_metrics_equal_what_bn_computes(app, knee):
    app.selectbox(key="f_knee_pain").select("present").run()
    app.selectbox(key="f_straight_leg_raise").select("positive").run()
    assert not app.exception
    expected = knee.query({"knee_pain": "present", "straight_leg_raise": "positive"}).knee_pain_source
    shown = {m.label: m.value for m in app.metric}
    assert shown["L4-L5 spine"] == f"{expected['l4l5_spine']:.0%}"
    assert shown["Knee"] == f"{expected['knee']:.0%}"
    table = app.dataframe[0].value
    top = table.iloc[0]
    result = knee.query({"knee_pain": "present", "straight_leg_raise": "positive"})
    best = max(knee.network.by_role("diagnosis"), key=lambda v: result.posteriors[v]["present"])
    assert top["diagnosis"] == knee.network[best].display_label
    assert top["posterior"] == pytest.approx(result.posteriors[best]["present"], abs=1e-12)


def test_red_flag_banner(app):
    app.selectbox(key="f_saddle_anesthesia").select("present").run()
    assert any("RED FLAG" in e.value for e in app.error)

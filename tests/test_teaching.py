"""Teaching helpers, the graph and shareable URLs: checked against plain queries."""

from __future__ import annotations

import re

import pytest

import bn
from bn.evidence import from_query_params, to_query_params
from bn.graph import to_dot
from bn.teaching import compare_scenarios, walkthrough

CASE = bn.Evidence({"knee_pain": "present", "age_group": "65_plus", "straight_leg_raise": "negative"},
                   {"hip_internal_rotation_painful": {"present": 0.8, "absent": 0.2}})


def test_walkthrough_steps_equal_single_queries(knee):
    steps = walkthrough(knee, CASE)
    assert [s.revealed for s in steps] == [None, *CASE.variables]
    for step in steps:
        result = knee.query(step.evidence, mpe=False)
        assert step.knee_pain_source == pytest.approx(result.knee_pain_source, abs=1e-12)
        for var in knee.network.by_role("diagnosis"):
            assert step.posteriors[var]["present"] == pytest.approx(result.posteriors[var]["present"], abs=1e-12)
    reordered = walkthrough(knee, CASE, order=list(reversed(CASE.variables)))
    assert reordered[-1].knee_pain_source == pytest.approx(steps[-1].knee_pain_source, abs=1e-12)
    with pytest.raises(ValueError):
        walkthrough(knee, CASE, order=["knee_pain"])


def test_compare_scenarios_equal_queries(knee):
    a = bn.Evidence({"knee_pain": "present"})
    table = compare_scenarios(knee, {"A": a, "B": CASE})
    row = table[table["label"] == "knee pain from the hip"].iloc[0]
    assert row["A"] == pytest.approx(knee.query(a).knee_pain_source["hip"], abs=1e-12)
    assert row["B - A"] == pytest.approx(knee.query(CASE).knee_pain_source["hip"] - row["A"], abs=1e-12)


def test_graph_marks_observed_and_labels_posteriors(knee):
    posteriors = knee.marginals(findings=CASE)
    dot = to_dot(knee.network, posteriors, CASE.findings, selected="disc_herniation")
    assert dot.count(" -> ") == sum(len(v.parents) for v in knee.network.variables.values())
    p = posteriors["disc_herniation"]["present"]
    assert f"Present: {p:.0%}" in dot and 'peripheries="2"' in dot and 'penwidth="3"' in dot
    assert '"straight_leg_raise" [' in dot and "= Negative" in dot


def test_graph_belief_bars_mark_the_prior_and_focus_on_a_neighbourhood(knee):
    from bn.graph import BAR, neighbourhood

    posteriors, priors = knee.marginals(findings=CASE), knee.marginals()
    near = neighbourhood(knee.network, "disc_herniation")
    assert near == {"disc_herniation", *knee.network["disc_herniation"].parents,
                    *(v.id for v in knee.network.variables.values() if "disc_herniation" in v.parents)}
    dot = to_dot(knee.network, posteriors, CASE.findings, priors=priors, only=near)
    assert dot.count("label=<<TABLE") == len(near)
    p, prior = posteriors["disc_herniation"]["present"], priors["disc_herniation"]["present"]
    assert f"Present: {p:.0%} (prior {prior:.0%})" in dot
    # every bar's cells add up to the bar's width, the prior's tick included
    for bar in re.findall(r'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>(.*?)</TR>', dot):
        assert sum(int(w) for w in re.findall(r'WIDTH="(\d+)"', bar)) == BAR and "#222222" in bar


def test_query_params_round_trip_and_bad_parameters(knee):
    ev = CASE.validate(knee.network)
    params = to_query_params(ev)
    assert params["hip_internal_rotation_painful"] == "present:0.8"
    back, ignored = from_query_params({**params, "network": "l4l5_knee", "knee_pian": "present",
                                       "mcmurray_test": "sometimes"}, knee.network, reserved=("network",))
    assert back.findings == ev.findings
    assert back.soft_findings["hip_internal_rotation_painful"]["present"] == pytest.approx(0.8)
    assert len(ignored) == 2 and any("did you mean knee_pain" in m for m in ignored)

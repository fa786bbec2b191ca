"""The honest headline (bn/headline.py): intervals, the too-close-to-call rule and the separating finding,
each checked against an independent computation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bn.cli import main
from bn.headline import clear_cache, interval_overlap, source_headline
from bn.sensitivity import uncertainty

REFERRED = {"age_group": "65_plus", "knee_pain": "present", "neurogenic_claudication": "present",
            "knee_pain_on_knee_examination": "absent", "straight_leg_raise": "negative"}
MENISCAL = {"age_group": "under_40", "knee_pain": "present", "mcmurray_test": "positive",
            "knee_joint_line_tenderness": "present"}


def test_intervals_are_the_joint_uncertainty_quantiles(knee):
    h = source_headline(knee, REFERRED, draws=120, seed=3)
    u = uncertainty(knee, REFERRED, draws=120, seed=3)
    result = knee.query(REFERRED)
    for key, var in knee.network.knee_pain_sources.items():
        t = next(t for t in u.targets if t.target.variable == var)
        assert h.intervals[key] == pytest.approx(tuple(np.quantile(t.samples, [0.05, 0.95])))
        assert h.points[key] == pytest.approx(result.knee_pain_source[key], abs=1e-12)
    assert h.leader_share == u.leaders[h.leader]


def test_textbook_referred_case_is_too_close_to_call(knee):
    """The review's example: four sources at 24-27%, wide intervals; the answer must say so."""
    h = source_headline(knee, REFERRED)
    ranked = sorted(h.points, key=lambda k: -h.points[k])
    assert (h.leader, h.runner_up) == tuple(ranked[:2])
    assert h.overlap == interval_overlap(h.intervals[h.leader], h.intervals[h.runner_up]) >= 0.5
    assert h.too_close and "Too close to call" in h.sentence() and "can coexist" in h.sentence()
    clear = source_headline(knee, MENISCAL)
    assert clear.leader == "knee" and not clear.too_close and "Too close" not in clear.sentence()


def test_separating_finding_is_the_best_by_brute_force(knee):
    """The named finding maximises the expected change of P(leader) - P(runner-up), recomputed here with one
    query per candidate outcome."""
    h = source_headline(knee, REFERRED, draws=100)
    network = knee.network
    a, b = network.knee_pain_sources[h.leader], network.knee_pain_sources[h.runner_up]
    now = knee.query(REFERRED).knee_pain_source
    gap = now[h.leader] - now[h.runner_up]
    gains = {}
    for c in network.by_role("finding", "red_flag"):
        if c in REFERRED:
            continue
        gain = 0.0
        for s, p in knee.posterior(c, findings=REFERRED).items():
            if p > 0:
                post = knee.marginals([a, b], findings={**REFERRED, c: s})
                gain += p * abs(post[a]["present"] - post[b]["present"] - gap)
        gains[c] = gain
    best = max(gains, key=gains.get)
    assert h.separating_finding == best
    assert h.separating_gain == pytest.approx(gains[best], abs=1e-9)
    assert network[best].display_label in h.sentence()


def test_interval_overlap_by_hand():
    assert interval_overlap((0.1, 0.5), (0.3, 0.7)) == 0.5
    assert interval_overlap((0.2, 0.3), (0.0, 1.0)) == 1.0
    assert interval_overlap((0.0, 0.1), (0.2, 0.3)) == 0.0


def test_cached_per_case_and_seeded(knee):
    clear_cache()
    a = source_headline(knee, MENISCAL, draws=50, seed=1)
    assert source_headline(knee, dict(MENISCAL), draws=50, seed=1) is a
    clear_cache()
    assert source_headline(knee, MENISCAL, draws=50, seed=1).intervals == a.intervals
    assert source_headline(knee, MENISCAL, draws=50, seed=2).intervals != a.intervals


def test_query_json_and_text_carry_the_intervals(knee, capsys):
    args = ["query", "l4l5_knee@1.1.0", *[f"-e{k}={v}" for k, v in REFERRED.items()], "--interval-draws", "80"]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    h = source_headline(knee, REFERRED, draws=80)
    assert data["knee_pain_source_interval"] == {k: list(v) for k, v in h.intervals.items()}
    assert data["knee_pain_source_call"]["too_close"] is True
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "90% interval (parameter uncertainty)" in text and "Too close to call" in text
    assert main([*args[:-2], "--interval-draws", "0", "--json"]) == 0
    assert "knee_pain_source_interval" not in json.loads(capsys.readouterr().out)
    assert main([*args[:-2], "--interval-draws", "-1"]) == 2

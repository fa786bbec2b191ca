"""Tests for the validation suite (bn/validation/, bn/cli/validate.py) and the CI regression gate.

Metric code is checked against hand computations and brute-force definitions on tiny examples; the case
suite and concordance check run on the shipped network and must not get worse than validation/baseline.json.
Sample sizes are bounded so the whole file runs in well under a minute on two cores.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import bn
from bn import validation as V
from bn.cli.validate import add_parser
from bn.model import Network, NetworkInfo, State, Variable

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------------------
# Metrics against hand computations and brute force
# ---------------------------------------------------------------------------------------------------------


def test_brier_by_hand():
    # (0.8-1)^2 + (0.3-0)^2 + (0.5-1)^2 = 0.04 + 0.09 + 0.25 = 0.38; / 3
    assert V.brier_score([0.8, 0.3, 0.5], [1, 0, 1]) == pytest.approx(0.38 / 3)
    assert V.brier_score([1.0, 0.0], [1, 0]) == 0.0
    assert V.brier_score([0.0, 1.0], [1, 0]) == 1.0


def test_log_score_by_hand():
    assert V.log_score([0.5, 0.25]) == pytest.approx((math.log(0.5) + math.log(0.25)) / 2)
    assert V.log_score([1.0]) == 0.0
    assert V.log_score([0.0]) == pytest.approx(math.log(1e-12))  # floored, not -inf


def _auc_brute_force(scores, labels) -> float:
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_by_hand():
    # positives 0.35, 0.8; negatives 0.1, 0.4: pairs won 0.35>0.1, 0.8>0.1, 0.8>0.4 -> 3 of 4
    assert V.roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert V.roc_auc([0.5, 0.5], [0, 1]) == 0.5  # a tie counts one half
    assert math.isnan(V.roc_auc([0.2, 0.3], [1, 1]))


@pytest.mark.parametrize("seed", range(5))
def test_auc_matches_pairwise_count(seed):
    rng = np.random.default_rng(seed)
    n = 60
    labels = rng.integers(0, 2, n)
    labels[:2] = [0, 1]
    scores = np.round(rng.random(n), 1)  # rounding forces many ties
    assert V.roc_auc(scores, labels) == pytest.approx(_auc_brute_force(scores, labels), abs=1e-12)


def test_roc_curve_area_equals_auc():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 200)
    scores = np.round(rng.random(200) + 0.3 * labels, 2)
    fpr, tpr = V.roc_curve(scores, labels)
    assert fpr[0] == 0 and tpr[0] == 0 and fpr[-1] == pytest.approx(1) and tpr[-1] == pytest.approx(1)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))  # trapezoids: ties give the 1/2 credit
    assert area == pytest.approx(V.roc_auc(scores, labels), abs=1e-12)


def test_ece_by_hand():
    # bins of width 0.5: [0.1, 0.2] -> mean 0.15, observed 1/2; [0.6, 0.9, 1.0] -> mean 0.8333, observed 2/3
    p, y = [0.1, 0.2, 0.6, 0.9, 1.0], [0, 1, 1, 0, 1]
    expected = 2 / 5 * abs(0.15 - 0.5) + 3 / 5 * abs((0.6 + 0.9 + 1.0) / 3 - 2 / 3)
    assert V.expected_calibration_error(p, y, bins=2) == pytest.approx(expected)
    r = V.reliability(p, y, bins=2)
    assert r.counts.tolist() == [2, 3]
    assert V.expected_calibration_error([0.25, 0.25, 0.25, 0.25], [1, 0, 0, 0], bins=10) == pytest.approx(0.0)


def test_wilson_by_hand():
    # p = 28/60, z = 1.96: centre (p + z^2/2n)/(1 + z^2/n), half z sqrt(p(1-p)/n + z^2/4n^2)/(1 + z^2/n)
    z, n, k = 1.959963984540054, 60, 28
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert V.wilson_interval(k, n) == pytest.approx((centre - half, centre + half))
    assert V.wilson_interval(0, 10)[0] == 0.0


@pytest.mark.parametrize("bad", [([0.5], [2]), ([0.5, 0.2], [1]), ([], [])])
def test_metrics_reject_bad_input(bad):
    with pytest.raises(V.ValidationError):
        V.brier_score(*bad)


def _gate(top1, top2, brier, check=3, inp=10, digest="d"):
    group = {"top1_accuracy": top1, "top2_accuracy": top2, "brier_source": brier}
    return {"test_set_sha256": digest, "test": dict(group), "development": dict(group), "archetypes": dict(group),
            "concordance": {"check_inside": check, "input_inside": inp}}


def test_regressions_detects_each_gated_metric():
    recorded = _gate(0.8, 0.9, 0.05)
    assert V.regressions(recorded, recorded) == []
    assert V.regressions(_gate(0.9, 1.0, 0.01, 4, 12), recorded) == []
    worse = V.regressions(_gate(0.7, 0.8, 0.06, 2, 9), recorded)
    assert len(worse) == 3 * 3 + 2 and "test: top1_accuracy fell from 0.8 to 0.7" in worse
    # an empty group (NaN) is not gated; a baseline from another test set is a problem of its own
    assert V.regressions(_gate(float("nan"), float("nan"), float("nan")), recorded) == []
    assert "another test set" in V.regressions(_gate(0.8, 0.9, 0.05, digest="e"), recorded)[0]


# ---------------------------------------------------------------------------------------------------------
# Case files
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def suite(knee):
    return V.run_cases(knee, V.load_cases(knee.network))


def test_suite_size_and_citations(suite):
    s = suite.summary
    assert s["cases"] >= 20
    assert s["published_cases"] >= 5
    for r in suite.results:
        src = r.case.source
        # a published case names where it was published (a year, a volume) or gives a link; an archetype says so
        assert r.case.archetype or r.case.link.startswith("http") or any(ch.isdigit() for ch in src), r.case.id
        if r.case.split == "test":
            assert r.case.link.startswith("http") and r.case.kind in ("published", "teaching"), r.case.id


def test_every_diagnosis_is_covered(knee, suite):
    covered = {d for r in suite.results for d in r.case.diagnoses}
    assert set(V.rankable_diagnoses(knee.network)) <= covered
    sources = {s for r in suite.results for s in r.case.knee_pain_sources}
    assert set(knee.network.knee_pain_sources) <= sources


def test_hard_cases_present(suite):
    ids = " ".join(r.case.id for r in suite.results)
    for needle in ("incidental_knee_xray", "positive_lumbar_mri", "hip_oa", "quadriceps_weakness"):
        assert needle in ids


def test_rank_and_posterior_are_consistent(knee, suite):
    for r in suite.results:
        if r.case.diagnoses:
            assert r.diagnosis_probability == max(r.diagnosis_posteriors[d] for d in r.case.diagnoses)
            higher = [d for d, p in r.diagnosis_posteriors.items()
                      if d not in r.case.diagnoses and p >= r.diagnosis_probability]
            assert r.diagnosis_rank == 1 + len(higher)
        if r.case.knee_pain_sources:
            direct = [knee.posterior(knee.network.knee_pain_sources[k], findings=r.case.evidence)["present"]
                      for k in r.case.knee_pain_sources]
            assert r.source_probability == pytest.approx(max(direct), abs=1e-12)


def test_summary_matches_definition(suite):
    rs = [r for r in suite.results if r.scorable]
    assert suite.summary["top1_accuracy"] == pytest.approx(np.mean([r.passed(1) for r in rs]))
    per_case = [np.mean([(p - (k in r.case.knee_pain_sources)) ** 2 for k, p in r.source_posteriors.items()])
                for r in rs if r.case.knee_pain_sources]
    assert suite.summary["brier_source"]["value"] == pytest.approx(np.mean(per_case))
    top1 = suite.summary["source_top1"]
    assert (top1["k"], top1["n"]) == (sum(r.source_rank == 1 for r in rs if r.source_rank), len(per_case))
    assert top1["ci95"] == list(V.wilson_interval(top1["k"], top1["n"]))
    # the groups partition the cases, and each is summarised by the same definition
    assert sum(g["cases"] for g in suite.groups.values()) == len(suite.results)
    for name, g in suite.groups.items():
        assert json.dumps(g, sort_keys=True) == json.dumps(V.summarize(suite.group(name)), sort_keys=True)


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    values = [0.1, 0.4, 0.2, 0.9, 0.3, 0.05]
    lo, hi = V.bootstrap_mean_interval(values, seed=3)
    assert lo < np.mean(values) < hi and (lo, hi) == V.bootstrap_mean_interval(values, seed=3)
    # the percentile bootstrap, resampled here independently with the same generator
    rng = np.random.default_rng(3)
    means = [np.mean([values[i] for i in row]) for row in rng.integers(0, 6, size=(2000, 6))]
    assert (lo, hi) == pytest.approx((np.quantile(means, 0.025), np.quantile(means, 0.975)))


def _case_text(**over) -> str:
    doc = {"title": "t", "source": "textbook archetype: test", "kind": "archetype", "split": "development",
           "network": "l4l5_knee", "findings": {"knee_pain": "present"},
           "expected": {"diagnoses": ["meniscal_tear"], "knee_pain_source": "knee"}}
    doc.update(over)
    return yaml.safe_dump(doc)


PUBLISHED = {"source": "Author A. A case. J Test 2020;1:1.", "kind": "published", "link": "https://doi.org/10/x"}


@pytest.mark.parametrize("override, message", [
    ({"expected": {"diagnoses": ["knee_gout"], "knee_pain_source": "knee"}}, "not a diagnosis"),
    ({"expected": {"diagnoses": [], "knee_pain_source": "spine"}}, "no knee-pain source 'spine'"),
    ({"expected": {"diagnoses": [], "knee_pain_source": ["knee", "none"]}}, "knee_pain_source must be"),
    ({"expected": {"diagnoses": [], "knee_pain_source": "none"}}, "neither a diagnosis"),
    ({"findings": {"knee_pain": "severe"}}, "not a state of knee_pain"),
    ({"findings": {"knee_ache": "present"}}, "unknown variable"),
    ({"source": ""}, "needs a 'source'"),
    ({"surprise": 1}, "unknown field"),
    ({"split": "training"}, "'split' must be one of development, test"),
    ({"kind": "anecdote"}, "'kind' must be one of"),
    ({"kind": "published"}, "does not fit the source"),
    ({"split": "test"}, "cannot be a test case"),
    ({**PUBLISHED, "split": "test", "link": ""}, "a test case needs a 'link'"),
    ({"tags": "hard"}, "'tags' must be a list"),
])
def test_bad_case_file_one_clear_line(knee, override, message):
    with pytest.raises(V.ValidationError) as exc:
        V.parse_validation_case(_case_text(**override), "bad.yaml", knee.network)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_later_vocabulary_findings_are_left_unknown_in_an_older_version(knee):
    """A case written in vocabulary 2 is scored on 1.x with its vocabulary-2 findings unknown, said so."""
    text = _case_text(**PUBLISHED, split="development",
                      findings={"knee_pain": "present", "lachman_test": "positive", "knee_effusion": "present"},
                      expected={"diagnoses": ["acl_tear"], "knee_pain_source": "other_lumbar_level"})
    case = V.parse_validation_case(text, "v2.yaml", knee.network)
    assert "lachman_test" not in knee.network and case.dropped == ("lachman_test",)
    assert case.evidence.findings == {"knee_pain": "present", "knee_effusion": "present"}
    assert case.unmodelled == ("acl_tear",) and case.diagnoses == ()
    assert case.knee_pain_sources == ("other",) and "scored as 'other'" in case.source_mapped
    r = V.score_case(knee, case)
    assert r.diagnosis_rank is None and r.scorable and r.source_rank is not None


def test_vocabulary_1_terms_are_used_for_a_vocabulary_1_network(knee):
    """Patellofemoral pain is a knee diagnosis in vocabulary 2 but was an 'other' cause in 1.x: a case says both."""
    text = _case_text(expected={"diagnoses": ["patellofemoral_pain"], "knee_pain_source": "knee",
                                "vocabulary_1": {"diagnoses": [], "knee_pain_source": "other"}})
    old = V.parse_validation_case(text, "pf.yaml", knee.network)
    assert old.diagnoses == () and old.knee_pain_sources == ("other",)
    v2 = bn.load("l4l5_knee@2.0.0")
    new = V.parse_validation_case(text, "pf.yaml", v2.network)
    assert new.diagnoses == ("patellofemoral_pain",) and new.knee_pain_sources == ("knee",)
    with pytest.raises(V.ValidationError, match="vocabulary_1 may give"):
        V.parse_validation_case(_case_text(expected={"diagnoses": [], "knee_pain_source": "knee",
                                                     "vocabulary_1": {"split": "test"}}), "x.yaml", knee.network)


def test_case_files_are_ordinary_case_files(knee):
    # bn query --case reads every validation case; one naming a later-vocabulary finding gets a clear error
    for path in sorted(V.CASES_DIR.glob("*.yaml")):
        case = bn.read_case(path)
        if all(v in knee.network for v in case.evidence.variables):
            knee.query(case.evidence)
        else:
            with pytest.raises(bn.EvidenceError, match="unknown variable"):
                knee.query(case.evidence)


# ---------------------------------------------------------------------------------------------------------
# Stability of each call under parameter uncertainty (bn.sensitivity)
# ---------------------------------------------------------------------------------------------------------

# a hip call near the threshold, the one unstable call on 1.1.0, a FAIL case, and a case without knee pain
STABILITY_CASES = ("a05_hard_hip_oa_knee_pain_only", "a14_patellofemoral_pain_young",
                   "p02_dorje2019_patellofemoral_disuse_atrophy", "p03_ciftci2010_incomplete_ces")
STABILITY_DRAWS, STABILITY_SEED = 80, 7


@pytest.fixture(scope="module")
def stability_suite(knee):
    cases = [c for c in V.load_cases(knee.network) if c.id in STABILITY_CASES]
    assert len(cases) == len(STABILITY_CASES)
    return V.run_cases(knee, cases, stability_draws=STABILITY_DRAWS, seed=STABILITY_SEED)


def test_stability_equals_independent_sensitivity_calls(knee, stability_suite):
    from bn.sensitivity import flip, uncertainty

    network = knee.network
    checked = 0
    for r in stability_suite.results:
        st = r.stability
        if r.case.knee_pain_source is None:
            assert st is None and r.to_dict()["parameter_stability"] is None
            continue
        u = uncertainty(knee, r.case.evidence, draws=STABILITY_DRAWS, seed=STABILITY_SEED)
        assert st.draws == STABILITY_DRAWS and st.seed == STABILITY_SEED
        assert st.leader == u.leader_now == r.leading_source
        assert st.leader_share == u.leaders[u.leader_now]
        assert st.established_share == u.leaders[r.case.knee_pain_source]
        assert st.leaders == u.leaders
        target = next(t for t in u.targets if t.target.variable == network.knee_pain_sources[r.case.knee_pain_source])
        assert st.established_median == target.median
        assert st.established_interval == target.interval(0.90)
        assert st.established_point == pytest.approx(r.source_probability, abs=1e-12)
        # the leader share from the draws themselves: argmax over the four sources, draw by draw
        frame = u.to_frame()
        cols = [f"{network.knee_pain_sources[k]}={network[network.knee_pain_sources[k]].state_ids[-1]}"
                for k in u.leaders]
        winners = np.argmax(frame[cols].to_numpy(), axis=1)
        assert st.leader_share == pytest.approx(np.mean(winners == list(u.leaders).index(st.leader)), abs=1e-12)
        assert st.stable == (st.leader_share >= V.STABLE_SHARE)
        f = flip(knee, r.case.evidence)
        assert st.flip_headline == f.headline
        assert st.flip_within_range == len(f.within_range) and st.flip_changes == len(f.changes)
        assert st.flippable == bool(f.within_range)
        if f.within_range:
            assert st.flip_smallest["parameter"] == f.within_range[0].parameter.id
        # the leading diagnosis over the same draws: argmax over the rankable diagnoses, draw by draw
        dxs = V.rankable_diagnoses(network)
        ud = uncertainty(knee, r.case.evidence, targets=dxs, draws=STABILITY_DRAWS, seed=STABILITY_SEED)
        frame = ud.to_frame()
        winners = np.argmax(frame[[f"{d}=present" for d in dxs]].to_numpy(), axis=1)
        assert st.dx_leader == r.leading_diagnosis
        assert st.dx_leader_share == pytest.approx(np.mean(winners == dxs.index(st.dx_leader)), abs=1e-12)
        established = [dxs.index(d) for d in r.case.diagnoses if d in dxs]
        if established:
            assert st.dx_established_share == pytest.approx(np.mean(np.isin(winners, established)), abs=1e-12)
            table = frame[[f"{d}=present" for d in dxs]].to_numpy()
            in_top2 = [any(table[k, e] >= np.sort(table[k])[-2] for e in established) for k in range(len(table))]
            assert st.dx_established_top2_share == pytest.approx(np.mean(in_top2), abs=1e-12)
            assert st.dx_established_top2_share >= st.dx_established_share
        else:  # no modelled diagnosis was established (e.g. patellofemoral pain)
            assert st.dx_established_share is None and st.dx_established_top2_share is None
        assert st.dx_stable == (st.dx_leader_share >= V.STABLE_SHARE)
        checked += 1
    assert checked == 3


def test_stability_summary_and_reproducible(knee, stability_suite):
    s = stability_suite.summary
    with_st = [r for r in stability_suite.results if r.stability]
    assert s["stability_cases"] == len(with_st) == 3
    assert s["stable_cases"] == sum(r.stability.stable for r in with_st)
    assert s["unstable"] == [r.case.id for r in with_st if not r.stability.stable]
    assert s["diagnosis_stability_cases"] == 3
    assert s["diagnosis_stable_cases"] == sum(bool(r.stability.dx_stable) for r in with_st)
    assert s["diagnosis_unstable"] == [r.case.id for r in with_st if r.stability.dx_stable is False]
    assert s["stability_draws"] == STABILITY_DRAWS and s["stable_share_threshold"] == 0.9
    cases = [r.case for r in stability_suite.results]
    again = V.run_cases(knee, cases[:2], stability_draws=STABILITY_DRAWS, seed=STABILITY_SEED)
    for a, b in zip(again.results, stability_suite.results):
        assert a.stability.to_dict() == b.stability.to_dict()
    other = V.run_cases(knee, cases[:1], stability_draws=STABILITY_DRAWS, seed=STABILITY_SEED + 1)
    assert other.results[0].stability.established_median != stability_suite.results[0].stability.established_median
    # the gated metrics do not depend on the stability columns
    plain = V.run_cases(knee, cases)
    for key in ("top1_accuracy", "brier_source", "log_score_source"):
        assert plain.summary[key] == stability_suite.summary[key]
    assert "stable_cases" not in plain.summary and all(r.stability is None for r in plain.results)


def test_stable_threshold_is_inclusive():
    base = dict(draws=10, seed=0, leader="knee", established="knee", established_point=0.8, established_median=0.8,
                established_interval=(0.6, 0.9), established_share=0.9, leaders={"knee": 0.9, "hip": 0.1},
                flip_within_range=0, flip_changes=0, flip_smallest=None, flip_headline="")
    assert V.ParameterStability(leader_share=0.9, **base).stable
    assert not V.ParameterStability(leader_share=0.89, **base).stable


def test_report_has_stability_columns(knee, stability_suite, concordance, tmp_path):
    from bn.validation.report import write_report

    run = V.ValidationRun(knee.info, stability_suite, concordance)
    text = write_report(run, tmp_path).read_text()
    assert "### Stability of the knee-pain source call" in text
    assert "| established leads in | leader kept in | stable? | one-parameter flip |" in text
    assert f"({STABILITY_DRAWS} draws, seed {STABILITY_SEED}" in text and "knee-pain source calls are stable" in text
    for r in stability_suite.results:
        st = r.stability
        if st is None:
            continue
        lo, hi = st.established_interval
        row = next(line for line in text.splitlines() if line.startswith(f"| {r.case.id} | {st.leader} |"))
        assert f"{st.established_median:.2f} ({lo:.2f}-{hi:.2f})" in row and f"{st.leader_share:.0%}" in row
        assert ("not stable" in row) != st.stable
    results = json.loads((tmp_path / "results.json").read_text())
    by_id = {c["id"]: c for c in results["cases"]["cases"]}
    for r in stability_suite.results:
        got = by_id[r.case.id]["parameter_stability"]
        assert (got is None) == (r.stability is None)
        if got:
            assert got["leader_share"] == r.stability.leader_share and got["stable"] == r.stability.stable
            assert got["established_interval_90"] == list(r.stability.established_interval)
    assert results["cases"]["summary"]["stable_cases"] == stability_suite.summary["stable_cases"]


# ---------------------------------------------------------------------------------------------------------
# Concordance
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def concordance(knee):
    return V.run_concordance(knee, V.load_concordance(knee.network))


def test_implied_sensitivity_by_enumeration(knee):
    # P(SLR+ | herniation, sciatica) from the joint over (SLR, herniation) computed directly
    item = next(i for i in V.load_concordance(knee.network) if i.id == "slr_sens_cochrane")
    joint = knee.joint(["straight_leg_raise", "disc_herniation"], findings={"leg_pain_below_knee": "present"})
    assert V.implied_value(knee, item) == pytest.approx(joint[1, 1] / joint[:, 1].sum())
    spec_item = next(i for i in V.load_concordance(knee.network) if i.id == "slr_spec_cochrane")
    assert V.implied_value(knee, spec_item) == pytest.approx(joint[0, 0] / joint[:, 0].sum())


def test_or_events_and_likelihood_ratio(knee):
    pop = {"leg_pain_below_knee": "present"}
    vars_ = ["sensory_loss_medial_leg", "sensory_loss_dorsum_foot", "l4_root_compromise", "l5_root_compromise"]
    j = knee.joint(vars_, findings=pop)
    f = np.zeros((2, 2, 2, 2), bool)
    f[1, :, :, :] = f[:, 1, :, :] = True
    c = np.zeros((2, 2, 2, 2), bool)
    c[:, :, 1, :] = c[:, :, :, 1] = True
    sens = j[f & c].sum() / j[c].sum()
    spec = j[~f & ~c].sum() / j[~c].sum()
    item = V.ConcordanceItem("x", "x", "lr_positive", {"sensory_loss_medial_leg": "present",
                                                       "sensory_loss_dorsum_foot": "present"},
                             {"l4_root_compromise": "present", "l5_root_compromise": "present"}, pop, 1.0, None,
                             "none", "test")
    assert V.implied_value(knee, item) == pytest.approx(sens / (1 - spec))


def test_concordance_rows_classified(concordance):
    s = concordance["summary"]
    assert s["items"] >= 25 and s["inside"] + s["outside"] == s["with_interval"]
    by_kind = concordance["by_kind"]
    assert by_kind["input"]["items"] + by_kind["check"]["items"] == s["items"] and by_kind["check"]["items"] >= 2
    for row in concordance["rows"]:
        if row.inside is not None:
            low, high = row.item.interval
            assert row.inside == (low <= row.implied <= high)


def test_bad_concordance_item(knee, tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text(yaml.safe_dump({"items": [{"id": "a", "label": "a", "measure": "sensitivity", "kind": "input",
                                               "finding": {"straight_leg_raise": "positive"},
                                               "published": 0.5, "source": "s"}]}))
    with pytest.raises(V.ValidationError, match="needs a 'condition'"):
        V.load_concordance(knee.network, bad)
    bad.write_text("items: [1, 2")
    with pytest.raises(V.ValidationError, match="not valid YAML"):
        V.load_concordance(knee.network, bad)


# ---------------------------------------------------------------------------------------------------------
# The CI regression gate
# ---------------------------------------------------------------------------------------------------------


def test_no_regression_against_recorded_baseline(shipped):
    """The CI gate: per split, no accuracy lost, and the test cases exactly as locked."""
    knee = shipped
    recorded = V.read_baseline().get(knee.info.id, {}).get(knee.info.version)
    assert recorded is not None, (f"no baseline for {knee.info.id} {knee.info.version}: run "
                                  "'bn validate --fast --write-baseline' and commit validation/baseline.json")
    run = V.run_all(knee, fast=True)
    problems = V.regressions(run.gate, recorded) + run.lock.problems
    assert not problems, "; ".join(problems)


def test_committed_report_names_the_shipped_network(shipped):
    knee = shipped
    report = (V.REPORT_DIR / "report.md").read_text()
    assert knee.info.sha256 in report and f"version **{knee.info.version}**" in report
    # the committed report is a full run: it carries the stability of every call
    assert "### Stability of the knee-pain source call" in report and "knee-pain source calls are stable" in report
    assert "## Headline: accuracy on the locked test set" in report and "INVALID" not in report


# ---------------------------------------------------------------------------------------------------------
# Simulation and parameter recovery (small N)
# ---------------------------------------------------------------------------------------------------------


def test_batch_posteriors_match_single_queries(knee):
    from bn.sampling import sample

    states, _ = sample(knee.network, 25, np.random.default_rng(1))
    observed = ["age_group", "sex", "straight_leg_raise", "knee_effusion", "back_pain"]
    targets = ["disc_herniation", "knee_pain_from_knee"]
    got = V.batch_posteriors(knee, states, observed, targets)
    order = list(knee.network.variables)
    for i in range(len(states)):
        ev = {v: knee.network[v].state_ids[states[i, order.index(v)]] for v in observed}
        for t in targets:
            assert got[t][i] == pytest.approx(knee.posterior(t, findings=ev)["present"], abs=1e-10)


def test_simulation_is_calibrated_and_discriminates(knee):
    sim = V.simulate(knee, 400, seed=2)
    # the network's own posteriors on its own samples: calibrated up to sampling noise, better than chance
    assert sim["reliability_sources"].ece < 0.08
    for key, m in sim["sources"].items():
        assert m["auc"] > 0.7, key
    assert sim["reliability_diagnoses"].counts.sum() == 400 * len(sim["diagnoses"])


def _toy() -> Network:
    """Child with two parents declared in reverse alphabetical order (pgmpy sorts them)."""
    two = (State("no", ""), State("yes", ""))
    zeta = Variable("zeta", two, (), np.array([0.7, 0.3]))
    alpha = Variable("alpha", two, (), np.array([0.4, 0.6]))
    cpt = np.array([[[0.9, 0.1], [0.6, 0.4]], [[0.3, 0.7], [0.05, 0.95]]])  # [zeta, alpha, child]
    child = Variable("child", two, ("zeta", "alpha"), cpt)
    return Network(NetworkInfo("toy", "1", "0" * 64), {"zeta": zeta, "alpha": alpha, "child": child})


def test_parameter_recovery_converges_and_keeps_parent_order():
    net = bn.load(_toy())
    rec = V.parameter_recovery(net, [100, 20000], seed=0)
    small, large = rec["rows"]
    assert large["mle"] < small["mle"]
    assert large["mle_max"] < 0.02  # a misaligned parent order would leave an error near 0.3


def test_parameter_recovery_on_shipped_network_decreases(knee):
    rec = V.parameter_recovery(knee, [300, 3000], seed=1)
    assert rec["rows"][1]["mle"] < rec["rows"][0]["mle"]
    assert rec["rows"][1]["bayes"] < rec["rows"][0]["bayes"]


# ---------------------------------------------------------------------------------------------------------
# Version comparison, report, command line
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture()
def changed_version(tmp_path):
    """A copy of l4l5_knee 1.0.0 published as 1.0.1 with one number changed."""
    folder = tmp_path / "networks" / "l4l5_knee"
    folder.mkdir(parents=True)
    text = (ROOT / "networks" / "l4l5_knee" / "1.0.0.yaml").read_text()
    shutil.copy(ROOT / "networks" / "l4l5_knee" / "1.0.0.yaml", folder / "1.0.0.yaml")
    text = text.replace("version: 1.0.0", "version: 1.0.1", 1)
    old = ("probs: {absent: 0.92, present: 0.08}\n            expert_estimate: >-\n"
           "              As for 40-64; symptomatic")
    assert old in text
    text = text.replace(old, old.replace("0.92, present: 0.08", "0.88, present: 0.12"))
    (folder / "1.0.1.yaml").write_text(text)
    return folder


def test_compare_versions_reports_the_changed_number(changed_version):
    a = bn.load(str(changed_version / "1.0.0.yaml"))
    b = bn.load(str(changed_version / "1.0.1.yaml"))
    cases = V.load_cases(a.network)
    cmp = V.compare_versions(a, b, cases)
    params = cmp["parameters"]["parameters"]
    assert [(p["variable"], p["key"], p["old"], p["new"]) for p in params] == [
        ("hip_osteoarthritis", "age_group=65_plus", 0.08, 0.12)]
    hip_case = next(r for r in cmp["cases"] if r["id"] == "p01_lam2015_hip_oa_as_knee_pain")
    assert hip_case["shifts"]["hip_osteoarthritis"] > 0
    same = V.compare_versions(a, a, cases)
    assert same["changed_cases"] == [] and same["parameters"]["parameters"] == []


def _cli(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bn")
    add_parser(p.add_subparsers(dest="command"))
    args = p.parse_args(argv)
    return args.func(args)


def test_cli_fast_writes_stamped_report_and_checks_baseline(tmp_path, knee, capsys):
    assert _cli(["validate", "l4l5_knee@1.1.0", "--fast", "--out", str(tmp_path), "--check-baseline"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert knee.info.sha256 in report and knee.info.version in report
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["network"]["sha256"] == knee.info.sha256
    assert "top-1" in capsys.readouterr().out
    # --fast skips the stability draws (CI stays fast) and says so
    assert "was not computed in this run" in report
    assert all(c["parameter_stability"] is None for c in results["cases"]["cases"] if c["split"] != "test")


def test_cli_fast_with_stability_draws(tmp_path, capsys):
    cases = tmp_path / "cases"
    cases.mkdir()
    for name in ("a05_hard_hip_oa_knee_pain_only", "p03_ciftci2010_incomplete_ces"):
        shutil.copy(V.CASES_DIR / f"{name}.yaml", cases)
    assert _cli(["validate", "l4l5_knee@1.1.0", "--fast", "--stability-draws", "20", "--cases", str(cases),
                 "--out", str(tmp_path / "r")]) == 0
    assert "stability: " in capsys.readouterr().out
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["cases"]["summary"]["stability_draws"] == 20
    assert results["cases"]["summary"]["stability_cases"] == 1


def test_cli_regression_exits_1(tmp_path, knee):
    base = tmp_path / "baseline.json"
    gate = V.run_all(knee, fast=True).gate
    gate["development"]["top1_accuracy"] = 1.01
    V.write_baseline(gate, knee.info, base)
    assert _cli(["validate", "l4l5_knee@1.1.0", "--fast", "--out", str(tmp_path), "--check-baseline", "--baseline",
                 str(base)]) == 1


def test_cli_compare(changed_version, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert _cli(["validate", "--compare", str(changed_version / "1.0.0.yaml"), str(changed_version / "1.0.1.yaml"),
                 "--out", str(out)]) == 0
    text = (out / "report.md").read_text()
    assert "Version comparison" in text and "hip_osteoarthritis" in text
    assert "1 parameter(s) differ" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["validate", "no_such_network", "--fast"], "no_such_network"),
    (["validate", "--fast", "--samples", "3"], "at least 10"),
    (["validate", "--recovery", "10,x"], "comma-separated"),
    (["validate", "--fast", "--cases", "/nonexistent/cases"], "does not exist"),
    (["validate", "--fast", "--stability-draws", "-1"], "stability-draws"),
])
def test_cli_bad_input_is_a_bn_error(argv, message, tmp_path):
    from bn.errors import BNError

    with pytest.raises(BNError, match=message):
        _cli([*argv, "--out", str(tmp_path)])


def test_input_rows_are_the_figures_the_network_cites(knee):
    """A single-finding row whose study the network cites for that finding or condition is an input, not a
    check (combinations are checks: the network was fitted to each test alone)."""
    for item in V.load_concordance(knee.network):
        if item.kind != "check" or item.combine == "all" or not item.reference:
            continue
        cited = {p.source for v in [*item.finding, *item.condition] for p in knee.network[v].parameters}
        assert item.reference not in cited, item.id


def test_combined_findings_and_population_lists_by_enumeration(knee):
    """AND findings and a population spanning several states, against the joint computed directly."""
    variables = ["femoral_nerve_stretch", "patellar_reflex", "l4_root_compromise", "age_group"]
    j = knee.joint(variables, findings={"leg_pain_below_knee": "present"})
    j = j[:, :, :, 1:]  # the population: age 40 and over
    j = j.sum(axis=3) / j.sum()
    f = np.zeros((2, 2, 2), bool)
    f[1, 1, :] = True
    c = np.zeros((2, 2, 2), bool)
    c[:, :, 1] = True
    sens, spec = j[f & c].sum() / j[c].sum(), j[~f & ~c].sum() / j[~c].sum()
    finding = {"femoral_nerve_stretch": "positive", "patellar_reflex": "reduced"}
    item = V.ConcordanceItem("x", "x", "lr_positive", finding, {"l4_root_compromise": "present"},
                             {"leg_pain_below_knee": ("present",), "age_group": ("40_to_64", "65_plus")}, 7.0, None,
                             "none", "test", kind="check", combine="all")
    assert V.implied_value(knee, item) == pytest.approx(sens / (1 - spec), rel=1e-9)


def test_row_needing_a_later_vocabulary_is_reported_not_computed(knee, tmp_path):
    path = tmp_path / "c.yaml"
    rows = [{"id": "lachman", "kind": "input", "label": "Lachman", "measure": "sensitivity",
             "finding": {"lachman_test": "positive"}, "condition": {"knee_effusion": "present"},
             "published": 0.8, "source": "s"},
            {"id": "or_row", "kind": "check", "label": "L3 or L4", "measure": "lr_positive",
             "finding": {"patellar_reflex": "reduced"},
             "condition": {"l3_root_compromise": "present", "l4_root_compromise": "present"},
             "published": 7.0, "ci": [2.3, 21], "source": "s"}]
    path.write_text(yaml.safe_dump({"items": rows}))
    items = V.load_concordance(knee.network, path)
    assert items[0].unavailable == ("lachman_test",)
    assert items[1].unavailable == () and items[1].condition == {"l4_root_compromise": "present"}
    result = V.run_concordance(knee, items)
    assert result["rows"][0].implied is None and result["rows"][0].direction == "not in this version"
    from bn.validation.report import write_report

    run = V.ValidationRun(knee.info, V.run_cases(knee, V.load_cases(knee.network)[:2]), result)
    text = write_report(run, tmp_path / "report").read_text()  # charts and tables cope with the missing value
    assert "n/a (needs lachman_test)" in text
    assert result["summary"]["computed"] == 1 and result["by_kind"]["check"]["computed"] == 1
    rows[0]["kind"] = "guess"
    path.write_text(yaml.safe_dump({"items": rows}))
    with pytest.raises(V.ValidationError, match="kind must be 'input'"):
        V.load_concordance(knee.network, path)


@pytest.mark.parametrize("noise", [1e-16, -1e-16, 0.0])
def test_a_tie_counts_against_the_target_whichever_way_rounding_falls(noise):
    """Two exactly tied posteriors come out of different junction trees a few 1e-16 apart: the rank must not
    depend on which tree answered."""
    from bn.validation.cases import _rank

    assert _rank({"a": 0.2 + noise, "b": 0.2, "c": 0.1}, ["a"]) == (2, 0.2 + noise)
    assert _rank({"a": 0.3, "b": 0.2, "c": 0.1}, ["a"])[0] == 1

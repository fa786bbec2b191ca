"""Explanation, value of information and stability, checked against their brute-force definitions."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import yaml
from conftest import REFERENCES, bench_network, brute_force_joint

import bn
from bn.cli import main
from bn.explain import explain
from bn.netfile import parse_network_text
from bn.sampling import sample
from bn.stability import same_decision_probability, stability
from bn.target import Target, resolve_target
from bn.voi import next_best


def enumerate_prob(network, assignment: dict[str, str], soft: dict | None = None) -> float:
    """P(assignment, soft evidence) by enumerating the full joint."""
    ev = bn.Evidence(assignment, soft or {}).validate(network)
    return sum(brute_force_joint(network, ev.likelihoods(network)).values())


def naive_bayes(n_findings: int = 3):
    """h -> f_1..f_n: findings conditionally independent given the hypothesis."""
    variables = [{"id": "h", "role": "diagnosis", "states": [{"id": "absent"}, {"id": "present"}],
                  "cpt": {"table": {"parents": [], "rows": [
                      {"when": {}, "probs": {"absent": 0.7, "present": 0.3}, "source": "smith2020"}]}}}]
    for i in range(n_findings):
        p_pos = [0.1 + 0.1 * i, 0.8 - 0.15 * i]
        variables.append({"id": f"f{i}", "role": "finding", "group": "exam", "cost": float(i),
                          "states": [{"id": "negative"}, {"id": "positive"}],
                          "cpt": {"table": {"parents": ["h"], "source": "smith2020", "rows": [
                              {"when": {"h": hs}, "probs": {"negative": 1 - p, "positive": p}}
                              for hs, p in zip(["absent", "present"], p_pos, strict=True)]}}})
    doc = {"format": "bn-network/1", "network": {"id": "nb", "title": "naive Bayes", "version": "1.0.0"},
           "references": REFERENCES, "variables": variables}
    return bn.load(parse_network_text(yaml.safe_dump(doc)))


# -- explanation ----------------------------------------------------------------------------------------

def test_weight_of_evidence_is_the_log_likelihood_ratio_by_enumeration():
    network = bench_network("asia")
    net = bn.load(network)
    findings = {"xray": "yes", "dysp": "yes", "smoke": "no"}
    ex = explain(net, findings, target="lung=yes")
    for fw in ex.findings:
        rest = {k: v for k, v in findings.items() if k != fw.finding}
        # P(e_i | h, e_-i) / P(e_i | not h, e_-i) from joint sums
        num = enumerate_prob(network, {**findings, "lung": "yes"}) / enumerate_prob(network, {**rest, "lung": "yes"})
        den = enumerate_prob(network, {**findings, "lung": "no"}) / enumerate_prob(network, {**rest, "lung": "no"})
        assert fw.weight_db == pytest.approx(10 * math.log10(num / den), abs=1e-9)
        post_without = enumerate_prob(network, {**rest, "lung": "yes"}) / enumerate_prob(network, rest)
        assert fw.posterior_without == pytest.approx(post_without, abs=1e-12)


def test_weights_add_up_when_findings_are_conditionally_independent():
    net = naive_bayes(3)
    findings = {"f0": "positive", "f1": "negative", "f2": "positive"}
    ex = explain(net, findings, target="h")
    odds = lambda p: p / (1 - p)  # noqa: E731
    total = 10 * math.log10(odds(ex.posterior) / odds(ex.prior))
    assert sum(f.weight_db for f in ex.findings) == pytest.approx(total, abs=1e-9)
    assert {f.direction for f in ex.findings} == {"towards", "away"}


def test_soft_finding_weight_and_sentence():
    net = naive_bayes(2)
    ex = explain(net, bn.Evidence({"f0": "positive"}, {"f1": {"positive": 0.8}}), target="h")
    soft = next(f for f in ex.findings if f.finding == "f1")
    assert soft.state is None and soft.likelihood == {"negative": pytest.approx(0.2), "positive": 0.8}
    assert "(uncertain)" in soft.sentence and "raises" in soft.sentence


def test_sentences_use_the_computed_numbers(knee):
    ex = explain(knee, {"knee_pain": "present", "straight_leg_raise": "positive"}, target="disc_herniation")
    slr = next(f for f in ex.findings if f.finding == "straight_leg_raise")
    assert f"{slr.posterior_without:.0%} to {slr.posterior_with:.0%}" in slr.sentence
    assert f"{slr.weight_db:+.1f} dB" in slr.sentence
    assert slr.sentence.startswith("Straight leg raise positive: raises L4-L5 disc herniation")


def test_conflict_equals_its_definition_and_flags_contradictions():
    network = bench_network("asia")
    net = bn.load(network)
    findings = {"smoke": "no", "bronc": "yes", "dysp": "no", "xray": "yes"}
    ex = explain(net, findings, target="lung=yes")
    singles = sum(math.log2(enumerate_prob(network, {k: v})) for k, v in findings.items())
    assert ex.conflict.score == pytest.approx(singles - math.log2(enumerate_prob(network, findings)), abs=1e-9)
    # dyspnoea absent with bronchitis present is unusual: the conflict is positive and names dysp
    assert ex.conflict.flagged and "dysp" in ex.conflict.drivers
    consistent = explain(net, {"smoke": "yes", "bronc": "yes", "dysp": "yes"}, target="lung=yes")
    assert not consistent.conflict.flagged and consistent.conflict.drivers == []


# -- value of information -----------------------------------------------------------------------------------

def test_mutual_information_and_outcomes_match_definitions():
    network = bench_network("asia")
    net = bn.load(network)
    findings = {"smoke": "yes"}
    ranking = next_best(net, findings, target="lung=yes")
    p_e = enumerate_prob(network, findings)
    for cand in ranking.ranking:
        mi = 0.0
        for t in network["lung"].state_ids:
            p_t = enumerate_prob(network, {**findings, "lung": t}) / p_e
            for f in network[cand.finding].state_ids:
                p_tf = enumerate_prob(network, {**findings, "lung": t, cand.finding: f}) / p_e
                p_f = enumerate_prob(network, {**findings, cand.finding: f}) / p_e
                if p_tf > 0:
                    mi += p_tf * math.log2(p_tf / (p_t * p_f))
        assert cand.information == pytest.approx(mi, abs=1e-12), cand.finding
        for f, outcome in cand.outcomes.items():
            p_f = enumerate_prob(network, {**findings, cand.finding: f}) / p_e
            assert outcome.probability == pytest.approx(p_f, abs=1e-12)
            expected = enumerate_prob(network, {**findings, cand.finding: f, "lung": "yes"}) / (p_f * p_e)
            assert outcome.target_posterior == pytest.approx(expected, abs=1e-12)
    scores = [c.score for c in ranking.ranking]
    assert scores == sorted(scores, reverse=True)
    assert "lung" not in {c.finding for c in ranking.ranking} and "smoke" not in {c.finding for c in ranking.ranking}


def test_expected_change_measure_and_costs():
    net = naive_bayes(3)
    base = net.posterior("h", findings={})["present"]
    ranking = next_best(net, {}, target="h", measure="change", cost_weight=0.05)
    for cand in ranking.ranking:
        expected = sum(o.probability * abs(o.target_posterior - base) for o in cand.outcomes.values())
        assert cand.information == pytest.approx(expected, abs=1e-12)
        assert cand.cost == float(cand.finding[1:])  # costs from the network file
        assert cand.score == pytest.approx(cand.information - 0.05 * cand.cost)
    override = next_best(net, {}, target="h", measure="change", cost_weight=1.0, costs={"f0": 100.0})
    assert override.ranking[-1].finding == "f0"


def test_mutual_information_about_all_diagnoses_jointly(knee):
    ev = {"knee_pain": "present", "age_group": "65_plus"}
    ranking = next_best(knee, ev, target="diagnoses", candidates=["mcmurray_test"])
    diagnoses = knee.default_map_variables()
    joint = knee.joint([*diagnoses, "mcmurray_test"], findings=ev)
    flat = joint.reshape(-1, 2)
    p_d, p_f = flat.sum(1), flat.sum(0)
    mi = sum(flat[i, j] * math.log2(flat[i, j] / (p_d[i] * p_f[j]))
             for i in range(flat.shape[0]) for j in range(2) if flat[i, j] > 0)
    assert ranking.ranking[0].information == pytest.approx(mi, abs=1e-12)
    assert set(ranking.ranking[0].outcomes["positive"].target_posterior) == set(diagnoses)


def test_next_best_rejects_bad_requests(knee):
    with pytest.raises(bn.EvidenceError, match="unknown measure"):
        next_best(knee, {}, measure="entropy")
    with pytest.raises(bn.EvidenceError, match="already observed"):
        next_best(knee, {"knee_pain": "present"}, candidates=["knee_pain"])
    with pytest.raises(bn.EvidenceError, match="valid states"):
        resolve_target(knee.network, "disc_herniation=yes")


# -- stability ------------------------------------------------------------------------------------------

def test_same_decision_probability_exact_equals_enumeration():
    network = bench_network("asia")
    net = bn.load(network)
    findings = {"dysp": "yes"}
    observe = ["xray", "smoke"]
    target = Target("lung", "yes")
    sdp = same_decision_probability(net, findings, observe=observe, target=target, threshold=0.2)
    p_e = enumerate_prob(network, findings)
    now = enumerate_prob(network, {**findings, "lung": "yes"}) / p_e >= 0.2
    expected = 0.0
    for x, s in itertools.product(network["xray"].state_ids, network["smoke"].state_ids):
        p_u = enumerate_prob(network, {**findings, "xray": x, "smoke": s})
        post = enumerate_prob(network, {**findings, "xray": x, "smoke": s, "lung": "yes"}) / p_u
        if (post >= 0.2) == now:
            expected += p_u / p_e
    assert sdp.method == "exact" and sdp.probability == pytest.approx(expected, abs=1e-12)
    assert sdp.decision == ("above" if now else "below")


def test_monte_carlo_estimate_agrees_with_exact(knee, monkeypatch):
    ev = {"knee_pain": "present", "age_group": "65_plus"}
    observe = ["straight_leg_raise", "knee_crepitus", "leg_pain_below_knee", "knee_pain_on_knee_examination",
               "hip_internal_rotation_painful", "back_pain"]
    exact = same_decision_probability(knee, ev, observe=observe)
    monkeypatch.setattr("bn.stability.EXACT_LIMIT", 1)
    estimate = same_decision_probability(knee, ev, observe=observe, samples=1500, seed=5)
    assert estimate.method == "monte_carlo" and estimate.standard_error > 0
    assert abs(estimate.probability - exact.probability) < 4 * estimate.standard_error
    again = same_decision_probability(knee, ev, observe=observe, samples=1500, seed=5)
    assert again.probability == estimate.probability  # seeded


def test_monte_carlo_without_the_compiled_engine_weights_its_samples(monkeypatch):
    # pgmpy and contraction engines cannot sample a calibrated tree: likelihood weighting stands in
    network = bench_network("asia")
    findings, observe = {"dysp": "yes"}, ["xray", "smoke", "asia"]
    target = Target("lung", "yes")
    exact = same_decision_probability(bn.load(network), findings, observe=observe, target=target, threshold=0.1)
    monkeypatch.setattr("bn.stability.EXACT_LIMIT", 1)
    weighted = same_decision_probability(bn.load(network, engine="contract"), findings, observe=observe, target=target,
                                         threshold=0.1, samples=3000, seed=2)
    exact_draws = same_decision_probability(bn.load(network), findings, observe=observe, target=target, threshold=0.1,
                                            samples=3000, seed=2)
    for estimate in (weighted, exact_draws):
        assert estimate.method == "monte_carlo"
        assert abs(estimate.probability - exact.probability) < 4 * estimate.standard_error
    # dysp=yes is evidence, so the weighted samples are worth fewer than 3,000 exact ones
    assert weighted.standard_error > exact_draws.standard_error * 1.05


def test_mpe_and_marginal_disagreement_note(knee):
    st = stability(knee, {"knee_pain": "present", "age_group": "65_plus"}, observe=["knee_crepitus"])
    for d in st.disagreements:
        positive = d.in_explanation == "present"
        assert positive != (st.marginals[d.diagnosis] >= 0.5)
    mpe = knee.most_probable_explanation(findings={"knee_pain": "present", "age_group": "65_plus"})
    assert st.explanation == mpe.states and len(st.notes) == len(st.disagreements)


def test_weighted_samples_estimate_the_posterior():
    network = bench_network("asia")
    ev = bn.Evidence({"xray": "yes"}, {"dysp": {"yes": 0.9, "no": 0.3}}).validate(network)
    states, weights = sample(network, 40_000, np.random.default_rng(1), ev)
    column = list(network.variables).index("lung")
    estimate = float(weights[states[:, column] == 0].sum() / weights.sum())
    exact = bn.load(network).posterior("lung", findings=ev)["yes"]
    ess = weights.sum() ** 2 / np.sum(weights**2)
    assert abs(estimate - exact) < 4 * math.sqrt(exact * (1 - exact) / ess)


# -- command line -------------------------------------------------------------------------------------------

def run_json(capsys, *args):
    assert main(list(args)) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_json_shapes(capsys):
    data = run_json(capsys, "next", "l4l5_knee", "-e", "knee_pain=present", "--top", "3", "--json")
    assert data["network"]["id"] == "l4l5_knee" and len(data["ranking"]) == 3
    first = data["ranking"][0]
    assert {"finding", "score", "cost", "outcomes"} <= set(first)
    assert all({"probability", "target_posterior"} <= set(o) for o in first["outcomes"].values())
    data = run_json(capsys, "explain", "l4l5_knee", "-e", "knee_pain=present", "-e", "straight_leg_raise=positive",
                    "--target", "disc_herniation", "--json")
    assert data["target"] == {"variable": "disc_herniation", "state": "present"}
    assert [f["finding"] for f in data["findings"]] == ["knee_pain", "straight_leg_raise"]
    assert {"finding", "state", "weight_db", "posterior_without"} <= set(data["findings"][0])
    assert {"score", "flagged", "drivers"} <= set(data["conflict"])
    data = run_json(capsys, "stability", "l4l5_knee", "-e", "knee_pain=present", "--observe", "back_pain",
                    "--observe", "straight_leg_raise", "--json")
    assert data["same_decision"]["method"] == "exact" and data["same_decision"]["decision"] in {
        "l4l5_spine", "knee", "hip", "other"}


def test_cli_reasoning_errors(capsys):
    assert main(["explain", "l4l5_knee", "--target", "disc_hernia"]) == 2
    assert "did you mean disc_herniation" in capsys.readouterr().err
    assert main(["next", "l4l5_knee", "--cost", "mri_stenosis=cheap"]) == 2
    assert "malformed --cost" in capsys.readouterr().err
    assert main(["stability", "l4l5_knee", "--observe", "knee_pain", "-e", "knee_pain=present"]) == 2
    assert "already observed" in capsys.readouterr().err


def test_stability_table_and_notes_name_a_disagreement(shipped):
    st = stability(shipped, {"knee_pain": "present", "straight_leg_raise": "positive", "age_group": "65_plus"},
                   observe=["back_pain"])
    assert st.disagreements, "this case's joint explanation and marginals disagree on a diagnosis"
    frame = st.to_frame()
    flagged = set(frame.loc[frame["disagrees"], "diagnosis"])
    assert flagged == {d.diagnosis for d in st.disagreements}
    labels = {shipped.network[d.diagnosis].display_label for d in st.disagreements}
    assert all(any(label in note for label in labels) for note in st.notes)

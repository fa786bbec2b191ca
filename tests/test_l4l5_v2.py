"""l4l5_knee 2.0.0, the shipped version: the anatomy, the vocabulary-2 contract, calibration in each study's own
population, the combinations of findings, the headline and provenance rules a specialist checks first (issue 11).
Each check is computed from the network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import VOCABULARY

import bn
from bn.provenance import provenance_problems

ROOT = Path(__file__).resolve().parent.parent
V2 = ROOT / "networks" / "l4l5_knee" / "2.0.0.yaml"


@pytest.fixture(scope="module")
def v2() -> bn.BayesNet:
    return bn.load(str(V2))


@pytest.fixture(scope="module")
def concordance(v2):
    from bn.validation import load_concordance, run_concordance

    return {r.item.id: r for r in run_concordance(v2, load_concordance(v2.network))["rows"]}


def test_vocabulary_2_in_full(v2):
    vocab = yaml.safe_load(VOCABULARY.read_text())
    for vid, spec in vocab["variables"].items():
        assert vid in v2.network, vid
        v = v2.network[vid]
        assert list(v.state_ids) == [str(s) for s in spec["states"]], vid
        assert v.role == spec["role"], vid
        if "group" in spec:
            assert v.group == spec["group"], vid
    assert list(v2.network.knee_pain_sources) == vocab["knee_pain_sources"]


def test_provenance_is_honest(v2):
    assert provenance_problems(v2.network) == []
    assert v2.network.provenance_counts()["uncited"] == 0


def test_one_herniation_rarely_compresses_both_roots(v2):
    """A foraminal/far-lateral L4-L5 herniation hits the exiting L4, a central/paracentral one the traversing L5."""
    j = v2.joint(["l4l5_herniation_zone", "l4_root_compromise", "l5_root_compromise"])
    zones = list(v2.network["l4l5_herniation_zone"].state_ids)
    far = j[zones.index("foraminal_far_lateral")] / j[zones.index("foraminal_far_lateral")].sum()
    para = j[zones.index("central_paracentral")] / j[zones.index("central_paracentral")].sum()
    assert far[1].sum() > 0.85 and far[:, 1].sum() < 0.1  # L4 yes, L5 rarely
    assert para[:, 1].sum() > 0.8 and para[1].sum() < 0.1  # L5 yes, L4 rarely
    # and the two roots are no longer independent given a herniation (1.1.0: P(L5 | L4) = P(L5) = 0.86)
    h = v2.joint(["l4_root_compromise", "l5_root_compromise"], findings={"disc_herniation": "present"})
    assert h[1, 1] / h[1].sum() < 0.5 * (h[:, 1].sum())


def test_knee_pain_through_a_root_counts_toward_the_level_that_compresses_it(v2):
    """An L3-L4 lesion gives knee pain through L4 credited to another lumbar level, not to L4-L5."""
    r = v2.query({"knee_pain": "present", "l3l4_lesion": "present", "disc_herniation": "absent",
                  "spinal_stenosis": "absent", "spondylolisthesis": "absent", "facet_arthropathy": "absent"})
    assert r.knee_pain_source["other_lumbar_level"] > 0.3
    assert r.knee_pain_source["l4l5_spine"] < 0.01
    far = v2.query({"knee_pain": "present", "l4l5_herniation_zone": "foraminal_far_lateral"})
    assert far.knee_pain_source["l4l5_spine"] > far.knee_pain_source["other_lumbar_level"]


def test_foot_drop_without_back_pain_can_be_the_peroneal_nerve(v2):
    """The classic L5 mimic: foot drop and dorsal-foot numbness with a conduction block at the fibular head."""
    ev = {"knee_pain": "present", "ankle_dorsiflexion_weakness": "present", "sensory_loss_dorsum_foot": "present",
          "back_pain": "absent", "ncs_peroneal_block": "positive", "hip_abduction_weakness": "absent"}
    post = v2.marginals(["peroneal_neuropathy", "l5_root_compromise"], findings=ev)
    assert post["peroneal_neuropathy"]["present"] > post["l5_root_compromise"]["present"]


def test_straight_leg_raise_loses_sensitivity_with_age(v2):
    sens = {a: v2.posterior("straight_leg_raise",
                            findings={"l5_root_compromise": "present", "age_group": a})["positive"]
            for a in ("under_40", "40_to_64", "65_plus")}
    assert sens["under_40"] > sens["40_to_64"] > sens["65_plus"]


def test_stenosis_history_items_do_not_multiply_as_if_independent(v2):
    """Four items of one syndrome: 1.1.0 took P(stenosis) from 0.17 to 0.99 in a 65+ adult; the latent
    claudication syndrome bounds what they can say together."""
    ev = {"age_group": "65_plus", "knee_pain": "present"}
    path = [v2.posterior("spinal_stenosis", findings=ev)["present"]]
    for item in ("neurogenic_claudication", "no_pain_when_seated", "bilateral_leg_symptoms", "wide_based_gait"):
        ev[item] = "present"
        path.append(v2.posterior("spinal_stenosis", findings=ev)["present"])
    assert path[-1] < 0.9
    gains = np.diff(path)
    assert gains[-1] < gains[0]


def test_septic_arthritis_red_flag_alert(v2):
    alerts = v2.alerts(v2.evidence({"hot_swollen_knee_with_fever": "present"}))
    assert [a.id for a in alerts] == ["hot_swollen_knee_with_fever"] and "septic" in alerts[0].message.lower()
    r = v2.query({"knee_pain": "present", "hot_swollen_knee_with_fever": "present", "knee_effusion": "present"})
    assert r.posteriors["septic_arthritis"]["present"] > 0.1


def test_2_0_0_is_published_and_is_what_ships():
    assert bn.published()["l4l5_knee"][-1] == "2.0.0"
    assert bn.load("l4l5_knee").info.sha256 == bn.load(str(V2)).info.sha256


# Rows that stay outside their interval even at the ends of the plausible ranges, each for a reason its note
# gives: van der Windt's surgical cohorts (the network follows Capra's MRI cohort, inside its interval) and a
# slip prevalence at any level against the network's L4-L5 slip.
OUTSIDE_BY_DESIGN = {"slr_sens_cochrane", "slr_spec_cochrane", "ds_men_65"}


def test_figures_outside_their_interval_are_explained_and_within_reach(concordance):
    outside = {k: r for k, r in concordance.items() if r.inside is False}
    assert all(r.item.note for r in outside.values())
    unreachable = {k for k, r in outside.items() if not r.reaches_published}
    assert unreachable <= OUTSIDE_BY_DESIGN, unreachable
    inputs = [r for r in concordance.values() if r.item.kind == "input" and r.inside is not None]
    assert sum(r.inside for r in inputs) >= 0.8 * len(inputs)


@pytest.mark.parametrize("row", ["slr_sens_capra", "slr_spec_capra", "cslr_spec_cochrane", "sensory_spec_tawa",
                                 "claudication_spec", "bilateral_spec", "no_pain_seated_spec",
                                 "hip_abductor_foot_drop_jeon", "lachman_spec_sokal", "groin_spec_khan"])
def test_single_tests_are_no_stronger_than_published_in_the_study_population(concordance, row):
    assert concordance[row].inside, (row, concordance[row].implied, concordance[row].item.interval)


def test_stenosis_items_separate_as_far_as_konno_score_quartiles(concordance):
    """A combination the network was never fitted to: Konno 2007's top against bottom score quartile."""
    row = concordance["konno2007_score_quartiles"]
    assert row.item.kind == "check" and row.inside, row.implied


def test_one_root_deficit_shows_its_signs_together(v2):
    """The L4 signs share the latent deficit: given L4 compromise they co-occur more often than independent
    signs would, so together they do not multiply as separate evidence."""
    signs = {"quadriceps_weakness": "present", "patellar_reflex": "reduced", "sensory_loss_medial_leg": "present"}
    given = {"l4_root_compromise": "present", "age_group": "40_to_64"}
    names = list(signs)
    joint = v2.joint(names, findings=given)
    idx = tuple(v2.network[v].state_index(s) for v, s in signs.items())
    together = float(joint[idx])
    alone = np.prod([v2.posterior(v, findings=given)[s] for v, s in signs.items()])
    assert together > 2 * alone


def test_structural_knee_signs_do_not_multiply(v2):
    """Crepitus, bony enlargement and a positive radiograph are signs of one structure (knee_structural_oa),
    common without symptomatic OA after 65: together they stay below what independent signs would give."""
    ev = {"age_group": "65_plus", "knee_pain": "present"}
    for sign, state in (("knee_crepitus", "present"), ("knee_bony_enlargement", "present"),
                        ("knee_xray_osteoarthritis", "positive")):
        ev[sign] = state
    assert v2.posterior("knee_osteoarthritis", findings=ev)["present"] < 0.85

"""The shipped clinical network: the public vocabulary, provenance, and clinical sanity checks drawn from
the literature (../shared/evidence/literature.md)."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import VOCABULARY

import bn

BASE = {"knee_pain": "present"}


@pytest.fixture(scope="module", params=bn.published()["l4l5_knee"])
def version(request) -> bn.BayesNet:
    """Every published version must keep the vocabulary contract and full provenance."""
    return bn.load(f"l4l5_knee@{request.param}")


def p(knee, var, findings, state=None):
    post = knee.posterior(var, findings=findings)
    return post[state or knee.network[var].state_ids[-1]]


def test_every_vocabulary_variable_with_its_states_in_order(version):
    """Versions 1.x hold the vocabulary-1 variables (those not marked ``since: 2``), later versions all."""
    vocab = yaml.safe_load(VOCABULARY.read_text())
    network = version.network
    major = int(network.version.split(".")[0])
    for vid, spec in vocab["variables"].items():
        if spec.get("since", 1) > major:
            assert vid not in network or list(network[vid].state_ids) == [str(s) for s in spec["states"]], vid
            continue
        assert vid in network, f"vocabulary variable {vid} missing"
        v = network[vid]
        assert list(v.state_ids) == [str(s) for s in spec["states"]], vid
        assert v.role == spec["role"], vid
        if "group" in spec:
            assert v.group == spec["group"], vid
    keys = set(vocab["knee_pain_sources"]) - ({"other_lumbar_level"} if major < 2 else set())
    assert set(network.knee_pain_sources) == keys


def test_every_parameter_has_provenance(version):
    uncited = [(p.variable, p.key) for p in version.network.parameters if p.provenance == "uncited"]
    assert uncited == []
    assert version.network.provenance_counts()["cited"] > 0


def test_every_cited_source_has_a_full_reference(version):
    for param in version.network.parameters:
        if param.source:
            ref = version.network.references[param.source]
            assert ref.citation and ref.measured, param.source


def test_metadata_complete(version):
    meta = version.network.meta
    for key in ("id", "title", "version", "date", "authors", "license", "population", "description",
                "disclaimer", "changelog"):
        assert meta.get(key), key
    assert "not a medical device" in meta["disclaimer"].lower()


def test_red_flags_have_alert_messages(version):
    for vid in version.network.by_role("red_flag"):
        assert version.network[vid].alert


def test_no_finding_combination_is_impossible(version):
    # Only deterministic ORs and mechanisms (a herniation zone exists only with a herniation; a latent deficit
    # only with its root) may contain zeros; every finding state has positive probability given any single
    # other finding.
    import numpy as np

    for v in version.network.variables.values():
        if v.form != "deterministic_or" and v.role != "mechanism":
            assert (v.cpt > 0).all() and (v.cpt < 1).all(), v.id
    findings = version.network.by_role("finding", "red_flag")
    everything_positive = {f: version.network[f].state_ids[-1] for f in findings}
    assert version.probability_of_evidence(everything_positive) > 0
    everything_negative = {f: version.network[f].state_ids[0] for f in findings}
    assert version.probability_of_evidence(everything_negative) > 0
    assert np.isfinite(version.query(everything_positive).log_probability_of_evidence)


# -- clinical sanity checks -----------------------------------------------------------------------------

@pytest.mark.parametrize(("finding", "state", "target"), [
    ("straight_leg_raise", "positive", "disc_herniation"),           # van der Windt 2010: sens 0.92
    ("crossed_straight_leg_raise", "positive", "disc_herniation"),   # LR+ 2.8
    ("neurogenic_claudication", "present", "spinal_stenosis"),       # Suri 2010: LR+ 3.7
    ("no_pain_when_seated", "present", "spinal_stenosis"),           # LR+ 7.4
    ("bilateral_leg_symptoms", "present", "spinal_stenosis"),        # LR+ 6.3
    ("wide_based_gait", "present", "spinal_stenosis"),               # LR+ 13
    ("mcmurray_test", "positive", "meniscal_tear"),                  # Hegedus 2007
    ("knee_joint_line_tenderness", "present", "meniscal_tear"),
    ("hip_internal_rotation_painful", "present", "hip_osteoarthritis"),
    ("hip_internal_rotation_painful", "present", "knee_pain_from_hip"),
    ("femoral_nerve_stretch", "positive", "l4_root_compromise"),     # Suri 2011
    ("patellar_reflex", "reduced", "l4_root_compromise"),            # Suri 2011: LR 7.7
    ("hip_abduction_weakness", "present", "l5_root_compromise"),     # Suri 2011: LR 11
    ("great_toe_extension_weakness", "present", "l5_root_compromise"),
    ("knee_bony_enlargement", "present", "knee_osteoarthritis"),
    ("knee_xray_osteoarthritis", "positive", "knee_osteoarthritis"),
    ("mri_spondylolisthesis", "positive", "spondylolisthesis"),
    ("knee_pain_on_knee_examination", "present", "knee_pain_from_knee"),
    ("leg_pain_below_knee", "present", "knee_pain_from_l4l5"),
])
def test_finding_raises_its_condition(knee, finding, state, target):
    before = p(knee, target, BASE)
    after = p(knee, target, {**BASE, finding: state})
    assert after > before * 1.1, f"{finding}={state}: P({target}) {before:.3f} -> {after:.3f}"


def test_knee_examination_shifts_the_source(knee):
    reproduced = {**BASE, "knee_pain_on_knee_examination": "present"}
    not_reproduced = {**BASE, "knee_pain_on_knee_examination": "absent"}
    assert p(knee, "knee_pain_from_l4l5", reproduced) < p(knee, "knee_pain_from_l4l5", BASE)
    assert p(knee, "knee_pain_from_knee", reproduced) > p(knee, "knee_pain_from_knee", BASE)
    assert p(knee, "knee_pain_from_l4l5", not_reproduced) > p(knee, "knee_pain_from_l4l5", BASE)


def test_lumbar_mri_means_less_in_older_people(knee):
    # Brinjikji 2015: asymptomatic disc protrusion is common and rises with age.
    young = {**BASE, "age_group": "under_40"}
    old = {**BASE, "age_group": "65_plus"}
    lr = {}
    for name, ctx in (("young", young), ("old", old)):
        prior = p(knee, "disc_herniation", ctx)
        post = p(knee, "disc_herniation", {**ctx, "mri_disc_herniation": "positive"})
        lr[name] = (post / (1 - post)) / (prior / (1 - prior))
    assert lr["young"] > lr["old"] > 1


def test_stenosis_more_likely_with_age(knee):
    assert p(knee, "spinal_stenosis", {**BASE, "age_group": "65_plus"}) > \
        p(knee, "spinal_stenosis", {**BASE, "age_group": "under_40"}) * 2


def test_radicular_picture_points_to_the_spine(knee):
    radicular = {**BASE, "back_pain": "present", "leg_pain_below_knee": "present",
                 "straight_leg_raise": "positive", "sensory_loss_medial_leg": "present",
                 "knee_pain_on_knee_examination": "absent", "knee_effusion": "absent"}
    result = knee.query(radicular)
    src = result.knee_pain_source
    assert src["l4l5_spine"] > src["knee"] and src["l4l5_spine"] > src["hip"]


def test_knee_picture_points_to_the_knee(knee):
    knee_case = {**BASE, "age_group": "65_plus", "knee_pain_on_knee_examination": "present",
                 "knee_crepitus": "present", "knee_bony_enlargement": "present",
                 "knee_morning_stiffness_brief": "present", "back_pain": "absent", "leg_pain_below_knee": "absent",
                 "straight_leg_raise": "negative"}
    src = knee.query(knee_case).knee_pain_source
    assert src["knee"] == max(src.values()) and src["knee"] > 0.8


def test_quadriceps_weakness_with_knee_signs_is_not_read_as_l4(knee):
    # Quadriceps weakness is also arthrogenic (knee OA): with knee signs it should raise L4 less.
    weak = {**BASE, "quadriceps_weakness": "present"}
    with_knee = {**weak, "knee_pain_on_knee_examination": "present", "knee_crepitus": "present",
                 "knee_effusion": "present"}
    gain_alone = p(knee, "l4_root_compromise", weak) / p(knee, "l4_root_compromise", BASE)
    knee_signs_only = {k: v for k, v in with_knee.items() if k != "quadriceps_weakness"}
    gain_with_knee = p(knee, "l4_root_compromise", with_knee) / p(knee, "l4_root_compromise", knee_signs_only)
    assert gain_alone > gain_with_knee


def test_query_result_types(knee):
    result = knee.query(BASE)
    assert isinstance(result, bn.QueryResult)
    frame = result.to_frame()
    assert set(frame.columns) == {"variable", "state", "prior", "posterior", "change"}
    for row in frame.itertuples():  # the frame says what the result holds
        assert row.posterior == pytest.approx(result.posteriors[row.variable][row.state], abs=1e-12)
        assert row.prior == pytest.approx(result.priors[row.variable][row.state], abs=1e-12)
        assert row.change == pytest.approx(row.posterior - row.prior, abs=1e-12)
    mpe = result.most_probable_explanation
    variables = knee.default_map_variables()
    assert set(mpe.states) == set(variables)
    # the MAP is the largest entry of the joint, computed here by the contraction engine (no junction tree)
    joint = bn.load(f"{knee.info.id}@{knee.info.version}", engine="contract").joint(variables, findings=BASE)
    best = np.unravel_index(int(np.argmax(joint)), joint.shape)
    assert mpe.states == {v: knee.network[v].state_ids[i] for v, i in zip(variables, best)}
    assert mpe.probability == pytest.approx(float(joint[best]), abs=1e-12)

"""'Does the data contradict the network?' (bn.datacheck, bn learn --report) on the demonstration cohort of
bench/cohort.py: records drawn from a perturbed truth (three wrong parameters, one missing arc, another case mix)
must show exactly those, and records drawn from the network itself must show (almost) nothing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import small_network_doc

import bn
from bench.cohort import MISSING_ARC, WRONG_PARAMETERS, clinic_records, perturbed_truth
from bn.cli import main
from bn.datacheck import DataCheckError, check_records
from bn.present import label_ids
from bn.sampling import sample

N = 5000
WRONG = {pid.split(" <- ")[0] for pid in WRONG_PARAMETERS}


@pytest.fixture(scope="module")
def perturbed(shipped):
    records = clinic_records(perturbed_truth(shipped.network), N, seed=1)
    return records, check_records(shipped, records, data_name="cohort.csv")


@pytest.fixture(scope="module")
def faithful(shipped):
    records = clinic_records(shipped.network, N, seed=2)
    return check_records(shipped, records)


def test_the_three_wrong_parameters_are_flagged_and_little_else(perturbed):
    _, check = perturbed
    flagged = {m.variable for m in check.moved if m.flagged and m.kind == "finding"}
    assert flagged >= WRONG, flagged
    # The missing arc also moves its child's rows (hip OA raises them); nothing else among ~250 finding rows.
    assert flagged - WRONG <= {MISSING_ARC[1]}, flagged
    lachman = next(m for m in check.moved if m.name == "P(lachman_test=positive | acl_tear=present)")
    assert lachman.flagged and lachman.posterior_interval[0] < 0.65 < 0.80 < lachman.network_value
    # The clinic's case mix shows in the cause tables (older, more diabetes), and is reported apart.
    causes = {m.variable for m in check.moved if m.flagged and m.kind == "cause"}
    assert {"age_group", "diabetes"} <= causes


def test_the_missing_arc_is_the_arc_suggested(perturbed):
    _, check = perturbed
    parent, child, _ = MISSING_ARC
    suggested = [(a.cause, a.finding) for a in check.arcs if a.suggested]
    assert suggested[0] == (parent, child) and len(suggested) <= 2, suggested
    tested = {(a.cause, a.finding) for a in check.arcs}
    assert len(tested) > 300  # the search covered many pairs, not only the planted one


def test_calibration_shows_the_findings_whose_numbers_are_wrong(perturbed):
    _, check = perturbed
    flagged = {c.variable for c in check.calibration if c.flagged}
    assert {"knee_joint_line_tenderness", "mri_stenosis"} <= flagged
    jlt = next(c for c in check.calibration if c.variable == "knee_joint_line_tenderness")
    assert jlt.observed > jlt.predicted + 0.1  # the false-positive rate is 0.30 in truth, 0.10 in the network
    assert check.selection == ["knee_pain"]  # every record has knee pain: the inclusion criterion


def test_records_from_the_network_itself_show_almost_nothing(faithful):
    """The null: the same recording (selection on knee pain, tests ordered by other findings) from the network
    as published. The false-discovery controls must hold here, or every real report would cry wolf."""
    assert sum(c.flagged for c in faithful.calibration) <= 1
    assert sum(a.suggested for a in faithful.arcs) <= 1
    finding_rows = [m for m in faithful.moved if m.kind == "finding"]
    assert sum(m.flagged for m in finding_rows) <= max(3, len(finding_rows) // 50)
    p = np.array([a.p_value for a in faithful.arcs])
    assert 0.01 < np.mean(p < 0.05) < 0.10  # close to the nominal 5%


def test_arc_p_values_are_uniform_under_the_null_on_a_small_network(write_network):
    """Many datasets from a network with no missing arc: the score test's p-values are close to uniform."""
    from scipy.stats import kstest

    net = bn.load(str(write_network(small_network_doc())))
    network = net.network
    order = list(network.variables)
    p_values = []
    rng = np.random.default_rng(0)
    for _ in range(60):
        states, _ = sample(network, 1500, rng)
        frame = pd.DataFrame({v: np.array(network[v].state_ids, dtype=object)[states[:, order.index(v)]]
                              for v in ("age", "disease", "other", "sign")})
        check = check_records(net, frame)
        p_values += [a.p_value for a in check.arcs]
    assert len(p_values) >= 60
    assert kstest(p_values, "uniform").pvalue > 0.01


def test_bn_learn_report_writes_the_report_and_the_new_version(perturbed, tmp_path, capsys):
    records, _ = perturbed
    path = tmp_path / "cohort.csv"
    records.to_csv(path, index=False)
    report = tmp_path / "report"
    assert main(["learn", "l4l5_knee", str(path), "--report", str(report), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert ["hip_osteoarthritis", "pain_on_stairs_or_squatting"] in data["report"]["arcs_suggested"]
    assert {"report.md", "data_check.json", "calibration.png", "conflict.png", "moved.png"} <= {
        p.name for p in report.iterdir()}
    text = (report / "report.md").read_text()
    assert "describes **these records**" in text and bn.load("l4l5_knee").info.sha256 in text
    moved = "P(lachman_test=positive | acl_tear=present)"  # the report names it in labels; the JSON by ids
    assert label_ids(moved, bn.load("l4l5_knee").network) in text and moved not in text
    assert moved in (report / "data_check.json").read_text()
    stored = json.loads((report / "data_check.json").read_text())
    assert stored["records"]["rows"] == N and stored["inclusion_criterion"] == ["knee_pain"]
    assert not list(tmp_path.glob("*.yaml"))  # --report alone writes no network file
    out = tmp_path / "clinic-2.0.1.yaml"
    assert main(["learn", "l4l5_knee", str(path), "--report", str(tmp_path / "r2"), "--version", "2.0.1",
                 "--out", str(out)]) == 0
    assert out.is_file() and (tmp_path / "r2" / "report.md").is_file()


def test_bad_records_get_one_line_errors(shipped):
    with pytest.raises(DataCheckError, match=r"row 2: 'maybe' is not a state of knee_pain; valid states"):
        check_records(shipped, pd.DataFrame({"knee_pain": ["present", "maybe"]}))
    with pytest.raises(bn.BNError, match="column 'kne_pain' is not a variable"):
        check_records(shipped, pd.DataFrame({"kne_pain": ["present"]}))


def test_the_report_speaks_in_labels(perturbed, shipped):
    from test_labels import id_pattern

    from bn.datacheck_report import markdown

    _, check = perturbed
    said = markdown(check, network=shipped.network)
    rows = [line for line in said.splitlines() if line.startswith("| ") and not line.startswith("| finding")]
    assert rows and not [r for r in rows if id_pattern(shipped.network).search(r)]
    # without the network (the modeller's view) the same rows carry the ids
    assert id_pattern(shipped.network).search(markdown(check))

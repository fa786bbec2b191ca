"""``bn learn``: tables updated from records, checked against closed forms and pgmpy's estimators."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import small_network_doc

import bn
from bn.cli import main
from bn.learn import LearnError, learn
from bn.sampling import sample


def records_from(network, n: int, seed: int, columns) -> pd.DataFrame:
    states, _ = sample(network, n, np.random.default_rng(seed))
    order = list(network.variables)
    return pd.DataFrame({c: np.array(network[c].state_ids, dtype=object)[states[:, order.index(c)]] for c in columns})


@pytest.fixture
def tiny(write_network):
    return bn.load(str(write_network(small_network_doc(), "tiny/1.0.0.yaml")))


def test_bayesian_update_is_the_dirichlet_posterior_mean_and_matches_pgmpy(tiny):
    from pgmpy.estimators import BayesianEstimator

    from bn.converters import to_pgmpy

    network = tiny.network
    records = records_from(network, 400, 1, ["age", "disease", "sign", "other"])
    weight = 7.0
    result = learn(tiny, records, version="1.1.0", prior_weight=weight)
    learnt = result.network
    # Closed form, by counting here.
    counts = pd.crosstab(records["age"], records["disease"]).reindex(index=["young", "old"],
                                                                     columns=["absent", "present"], fill_value=0)
    expected = (weight * network["disease"].cpt + counts.to_numpy()) / (weight + counts.to_numpy().sum(axis=1,
                                                                                                        keepdims=True))
    np.testing.assert_allclose(learnt["disease"].cpt, expected, atol=2e-6)  # the file keeps 6 decimals
    # pgmpy's BayesianEstimator with the same Dirichlet pseudo-counts (its tables: child states x parent states).
    model = to_pgmpy(network)
    estimator = BayesianEstimator(model, records[["age", "disease", "sign", "other"]],
                                  state_names={v: list(network[v].state_ids) for v in network.variables})
    for vid in ("disease", "sign", "age"):
        var = network[vid]
        # pgmpy's tables: the child's states x its evidence combinations, evidence in sorted order.
        evidence = sorted(model.get_parents(vid))
        pseudo = weight * np.transpose(np.asarray(var.cpt), [len(var.parents)] + [var.parents.index(e)
                                                                                 for e in evidence])
        cpd = estimator.estimate_cpd(vid, prior_type="dirichlet", pseudo_counts=pseudo.reshape(var.card, -1))
        assert list(cpd.variables[1:]) == evidence
        theirs = cpd.get_values().reshape([var.card, *(network[e].card for e in evidence)])
        theirs = np.transpose(theirs, [1 + evidence.index(p) for p in var.parents] + [0])
        np.testing.assert_allclose(learnt[vid].cpt, theirs, atol=2e-6, err_msg=vid)
    assert {t.variable for t in result.tables} == {"age", "disease", "sign", "other"}
    assert result.skipped == {}  # the deterministic 'any' has no column, so it is not mentioned


def test_maximum_likelihood_recovers_the_generating_tables(tiny):
    network = tiny.network
    records = records_from(network, 20_000, 2, ["age", "disease", "sign"])
    learnt = learn(tiny, records, version="1.1.0", method="mle").network
    for vid in ("age", "disease", "sign"):
        np.testing.assert_allclose(learnt[vid].cpt, network[vid].cpt, atol=0.03, err_msg=vid)


def test_only_records_with_the_whole_family_known_are_counted(tiny):
    records = pd.DataFrame({"age": ["old", "old", None, "young", "old"],
                            "disease": ["present", None, "present", "absent", "absent"]})
    result = learn(tiny, records, version="1.1.0", method="mle")
    counted = {t.variable: t.records for t in result.tables}
    assert counted == {"age": 4, "disease": 3}
    cpt = result.network["disease"].cpt
    assert cpt[1].tolist() == [0.5, 0.5] and cpt[0].tolist() == [1.0, 0.0]


def test_the_new_file_cites_the_records_on_every_learnt_row_and_keeps_the_rest(tiny, tmp_path):
    records = pd.DataFrame({"age": ["old"] * 12 + ["young"] * 8, "disease": ["present"] * 5 + ["absent"] * 15})
    result = learn(tiny, records, version="1.1.0", data_name="clinic.csv", date="2026-11-25")
    new, old = result.network, tiny.network
    key = next(k for k in new.references if k.startswith("records_"))
    assert "clinic.csv" in new.references[key].citation
    learnt = [p for p in new.parameters if p.variable in ("age", "disease")]
    assert learnt and all(p.source == key for p in learnt)
    assert all("record" in p.detail for p in learnt)
    # Untouched tables and their provenance are as they were.
    np.testing.assert_array_equal(new["sign"].cpt, old["sign"].cpt)
    assert [p.source for p in new.parameters if p.variable == "sign"] == \
           [p.source for p in old.parameters if p.variable == "sign"]
    assert new.info.version == "1.1.0" and new.meta["changelog"][0]["version"] == "1.1.0"
    # Bayesian rows carry the 90% posterior interval of their last state as the plausible range.
    row = next(p for p in learnt if p.variable == "disease" and p.key == "age=old")
    assert row.range[0] < row.value < row.range[1]


def test_noisy_or_tables_become_full_tables_when_learnt():
    net = bn.load("l4l5_knee@1.1.0")
    records = records_from(net.network, 300, 3, ["straight_leg_raise", "l4_root_compromise", "l5_root_compromise"])
    result = learn(net, records, version="1.2.0", variables=["straight_leg_raise"])
    assert [t.variable for t in result.tables] == ["straight_leg_raise"]
    assert "straight_leg_raise:\n" not in result.text  # sanity: written as a list of variables
    spec_start = result.text.index("- id: straight_leg_raise")
    spec = result.text[spec_start:result.text.index("- id:", spec_start + 5)]
    assert "table:" in spec and "noisy_or" not in spec
    assert result.network["straight_leg_raise"].cpt.shape == (2, 2, 2)


def test_bad_records_get_clear_errors(tiny):
    with pytest.raises(LearnError, match=r"row 2: 'ancient' is not a state of age; valid states: young, old"):
        learn(tiny, pd.DataFrame({"age": ["old", "ancient"]}), version="1.1.0")
    with pytest.raises(bn.BNError, match=r"column 'agee' is not a variable.*did you mean age.*--ignore agee"):
        learn(tiny, pd.DataFrame({"agee": ["old"]}), version="1.1.0")
    assert learn(tiny, pd.DataFrame({"id": [1, 2], "age": ["old", "old"]}), version="1.1.0", ignore=["id"]).tables
    with pytest.raises(LearnError, match="no table could be updated"):
        learn(tiny, pd.DataFrame({"sign": ["positive"]}), version="1.1.0")  # its parents have no column
    with pytest.raises(LearnError, match="unknown method"):
        learn(tiny, pd.DataFrame({"age": ["old"]}), version="1.1.0", method="gibbs")


def test_records_that_contradict_a_zero_probability_are_reported(write_network):
    doc = small_network_doc()
    doc["variables"][1]["cpt"]["table"]["rows"][0] = {"when": {"age": "young"}, "probs": {"absent": 1.0,
                                                                                          "present": 0.0}}
    net = bn.load(str(write_network(doc, "tiny/1.0.0.yaml")))
    records = pd.DataFrame({"age": ["young", "young"], "disease": ["present", "absent"]})
    with pytest.raises(LearnError, match=r"disease: 1 records have disease=present when age=young, which tiny "
                                         r"1.0.0 gives probability 0"):
        learn(net, records, version="1.1.0")


def test_records_that_contradict_a_definition_are_reported_by_row(tiny, tmp_path, capsys):
    """'any' is the deterministic OR of disease and other: a record with either present and 'any' absent
    contradicts the definition. The table is not changed; the rows are named."""
    records = pd.DataFrame({"disease": ["present", "absent", "absent", "present"],
                            "other": ["absent", "absent", "present", None],
                            "any": ["absent", "absent", "present", "absent"]})
    result = learn(tiny, records, version="1.1.0")
    assert result.contradictions == {"any": [1]}  # row 4 has 'other' unknown: not a contradiction of the whole
    assert "1 record contradict the definition of any (a deterministic table; not changed): rows 1" in \
        result.summary()
    assert np.array_equal(result.network["any"].cpt, tiny.network["any"].cpt)
    path = tmp_path / "records.csv"
    records.to_csv(path, index=False)
    assert main(["learn", str(tiny.network.info.path), str(path), "--version", "1.1.0", "--out",
                 str(tmp_path / "tiny-1.1.0.yaml"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["contradictions"] == {"any": [1]}


def test_cli_writes_a_new_validated_version_and_never_overwrites(tiny, tmp_path, capsys):
    records = tmp_path / "clinic.csv"
    records_from(tiny.network, 200, 4, ["age", "disease"]).assign(patient=range(200)).to_csv(records, index=False)
    out = tmp_path / "tiny" / "1.1.0.yaml"
    args = ["learn", str(tiny.network.info.path), str(records), "--version", "1.1.0", "--ignore", "patient",
            "--out", str(out), "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert out.is_file() and data["file"] == str(out)
    assert data["network"]["version"] == "1.1.0" and {t["variable"] for t in data["tables"]} == {"age", "disease"}
    assert bn.load(str(out)).network.info.sha256 == data["network"]["sha256"]
    assert main(args) == 2  # the file exists now
    assert "never overwrites" in capsys.readouterr().err
    assert main(["learn", str(tiny.network.info.path), str(tmp_path / "none.csv"), "--version", "1.2.0",
                 "--out", str(tmp_path / "x.yaml")]) == 2
    assert f"no records file at '{tmp_path / 'none.csv'}'" in capsys.readouterr().err


@pytest.mark.parametrize("version", ["01.1.0", "1.1", "1.1.0-beta", "1.01.0", " 1.1.0"])
def test_a_version_must_be_canonical(tiny, version):
    with pytest.raises(LearnError, match="not a version"):
        learn(tiny, pd.DataFrame({"age": ["old"]}), version=version)


def test_fixed_numbers_are_never_learnt(write_network):
    """fixed: true on a row keeps that row (with its own provenance) while the others learn; on a noisy-OR link
    the whole table stays; EM keeps any table with a fixed number whole."""
    doc = small_network_doc()
    doc["variables"][1]["cpt"]["table"]["rows"][1]["fixed"] = True  # disease | age=old
    doc["variables"][3]["cpt"]["noisy_or"]["links"][0]["fixed"] = True  # sign <- disease
    net = bn.load(str(write_network(doc, "tiny/1.0.0.yaml")))
    assert [p.fixed for p in net.network["disease"].parameters] == [False, True]
    records = pd.DataFrame({"age": ["young", "old"] * 50, "disease": ["present"] * 100,
                            "sign": ["positive"] * 100})
    result = learn(net, records, version="1.1.0")
    new, old = result.network["disease"].cpt, net.network["disease"].cpt
    assert new[1].tolist() == old[1].tolist() and new[0][1] > old[0][1] + 0.5  # fixed row kept, the other learnt
    assert np.array_equal(result.network["sign"].cpt, net.network["sign"].cpt)
    assert result.skipped["sign"] == "fixed in the network file"
    kept = yaml.safe_load(result.text)["variables"][1]["cpt"]["table"]["rows"][1]
    assert kept["fixed"] is True and "records_" not in str(kept)  # its own provenance, not the records'
    assert bn.load(result.network).network["disease"].parameters[1].fixed  # and still fixed next time
    em = learn(net, records, version="1.1.0", method="em", max_iter=5)
    assert np.array_equal(em.network["disease"].cpt, net.network["disease"].cpt)
    assert "fixed" in em.skipped["disease"]

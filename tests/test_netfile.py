"""The network file format: loading, compilation of the table forms, and every validation error."""

from __future__ import annotations

import copy
import re

import numpy as np
import pytest
import yaml
from conftest import small_network_doc

import bn
from bn.errors import NetworkFileError
from bn.limits import current as current_limits
from bn.netfile import check_network_file, noisy_or_table, parse_network_text, read_network_file


def load_doc(write_network, doc, name="tiny.yaml"):
    return read_network_file(write_network(doc, name))


def test_valid_file_loads_with_hash_and_provenance(write_network):
    path = write_network(small_network_doc())
    net = read_network_file(path)
    assert net.info.id == "tiny" and net.info.version == "1.0.0"
    import hashlib

    assert net.info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    counts = net.provenance_counts()
    # age row, disease 2 rows (inherited expert estimate), other row, sign leak + 2 links
    assert counts == {"total": 7, "cited": 4, "expert_estimate": 3, "uncited": 0}
    assert list(net.variables) == ["age", "disease", "other", "sign", "any"]


def test_noisy_or_compiles_to_closed_form(write_network):
    net = load_doc(write_network, small_network_doc())
    cpt = net["sign"].cpt  # axes: disease, age, sign
    leak, p_d, p_old = 0.05, 0.8, 0.1
    for d in (0, 1):
        for a in (0, 1):
            off = (1 - leak) * (1 - p_d) ** d * (1 - p_old) ** a
            assert cpt[d, a].tolist() == pytest.approx([off, 1 - off], abs=1e-15)


def test_noisy_or_table_general_closed_form():
    cards = [2, 3, 2]
    links = [(0, 1, 0.3), (1, 1, 0.5), (1, 2, 0.7), (2, 1, 0.2)]
    table = noisy_or_table(cards, 0.01, links)
    for idx in np.ndindex(*cards):
        off = 0.99
        for axis, state, p in links:
            if idx[axis] == state:
                off *= 1 - p
        assert table[idx][0] == pytest.approx(off, abs=1e-15)
    assert np.allclose(table.sum(-1), 1)


def test_deterministic_or(write_network):
    net = load_doc(write_network, small_network_doc())
    cpt = net["any"].cpt
    assert cpt[0, 0].tolist() == [1.0, 0.0]
    for idx in [(0, 1), (1, 0), (1, 1)]:
        assert cpt[idx].tolist() == [0.0, 1.0]


def _variable(doc, vid):
    return next(v for v in doc["variables"] if v["id"] == vid)


def _break(fn):
    doc = small_network_doc()
    fn(doc)
    return doc


BROKEN = {
    "unknown parent": (lambda d: _variable(d, "disease")["cpt"]["table"].__setitem__("parents", ["agee"]),
                       "disease", "unknown parent 'agee' (did you mean age?)"),
    "cycle": (lambda d: _variable(d, "age")["cpt"].__setitem__("table", {"parents": ["sign"], "rows": [
        {"when": {"sign": s}, "probs": {"young": 0.5, "old": 0.5}, "source": "smith2020"}
        for s in ("negative", "positive")]}), None, "cycle"),
    "wrong number of rows": (lambda d: _variable(d, "disease")["cpt"]["table"]["rows"].pop(),
                             "disease", "the table has 1 rows; 2 are needed"),
    "row does not sum to 1": (lambda d: _variable(d, "other")["cpt"]["table"]["rows"][0].__setitem__(
        "probs", {"absent": 0.8, "present": 0.2000001}), "other", "sum to 1.0000001, not 1"),
    "probability outside [0, 1]": (lambda d: _variable(d, "sign")["cpt"]["noisy_or"]["links"][0].__setitem__(
        "p", 1.5), "sign", "probability 1.5 is outside [0, 1]"),
    "negative probability": (lambda d: _variable(d, "other")["cpt"]["table"]["rows"][0].__setitem__(
        "probs", {"absent": 1.2, "present": -0.2}), "other", "outside [0, 1]"),
    "duplicate variable": (lambda d: d["variables"].append(copy.deepcopy(_variable(d, "other"))),
                           "other", "duplicate variable id"),
    "duplicate state": (lambda d: _variable(d, "other")["states"].__setitem__(1, {"id": "absent"}),
                        "other", "duplicate state 'absent'"),
    "missing provenance": (lambda d: _variable(d, "sign")["cpt"]["noisy_or"]["leak"].pop("source"),
                           "sign", "leak: missing provenance"),
    "unknown reference key": (lambda d: _variable(d, "other")["cpt"]["table"]["rows"][0].__setitem__(
        "source", "smith2021"), "other", "unknown reference key 'smith2021' (did you mean smith2020?)"),
    "both provenances": (lambda d: _variable(d, "other")["cpt"]["table"]["rows"][0].__setitem__(
        "expert_estimate", "x"), "other", "either a source or an expert_estimate"),
    "range excludes value": (lambda d: _variable(d, "sign")["cpt"]["noisy_or"]["leak"].__setitem__(
        "range", [0.1, 0.2]), "sign", "outside its plausible range"),
    "range reaches 0": (lambda d: _variable(d, "sign")["cpt"]["noisy_or"]["leak"].__setitem__(
        "range", [0.0, 0.2]), "sign", "reaches 0 while the value"),
    "unknown state in row": (lambda d: _variable(d, "disease")["cpt"]["table"]["rows"][0]["when"].__setitem__(
        "age", "middle"), "disease", "'middle' is not a state of age (states: young, old)"),
    "duplicate row": (lambda d: _variable(d, "disease")["cpt"]["table"]["rows"][1]["when"].__setitem__(
        "age", "young"), "disease", "appears twice"),
    "probs miss a state": (lambda d: _variable(d, "other")["cpt"]["table"]["rows"][0].__setitem__(
        "probs", {"absent": 1.0}), "other", "missing ['present']"),
    "noisy-or on three states": (lambda d: _variable(d, "sign")["states"].append({"id": "equivocal"}),
                                 "sign", "noisy_or needs a binary variable"),
    "finding without group": (lambda d: _variable(d, "sign").pop("group"), "sign", "needs a group"),
    "unknown field": (lambda d: _variable(d, "other").__setitem__("sorce", "x"), "other", "unknown field"),
    "probability not a number": (lambda d: _variable(d, "sign")["cpt"]["noisy_or"]["links"][0].__setitem__(
        "p", "high"), "sign", "'high' is not of type 'number'"),
    "link to an unknown state": (lambda d: _variable(d, "sign")["cpt"]["noisy_or"]["links"][1].__setitem__(
        "state", "ancient"), "sign", "'ancient' is not a state of age"),
    "self parent": (lambda d: _variable(d, "other")["cpt"]["table"].__setitem__("parents", ["other"]),
                    "other", "cannot be its own parent"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_every_validation_error_names_file_variable_and_problem(write_network, case):
    mutate, variable, expected = BROKEN[case]
    path = write_network(_break(mutate))
    with pytest.raises(NetworkFileError) as info:
        read_network_file(path)
    problems = check_network_file(path)
    assert problems, "check_network_file must report the problem too"
    text = "\n".join(str(p) for p in problems)
    assert expected in text
    assert all(p.file == str(path) for p in problems)
    if variable is not None:
        assert any(p.variable == variable and expected in p.message for p in problems), text
        assert f"variable '{variable}'" in str(info.value)


def test_all_problems_are_reported_not_only_the_first(write_network):
    doc = small_network_doc()
    _variable(doc, "other")["cpt"]["table"]["rows"][0]["source"] = "nobody"
    _variable(doc, "sign")["cpt"]["noisy_or"]["leak"].pop("source")
    problems = check_network_file(write_network(doc))
    assert {p.variable for p in problems} == {"other", "sign"}


def test_version_must_match_file_name(write_network):
    path = write_network(small_network_doc(), "tiny/1.0.1.yaml")
    problems = check_network_file(path)
    assert any("named 1.0.1.yaml" in p.message for p in problems)


def test_folder_must_match_id(write_network):
    path = write_network(small_network_doc(), "other_id/1.0.0.yaml")
    assert any("folder 'other_id/'" in p.message for p in check_network_file(path))


def test_malformed_yaml_names_line(write_network):
    path = write_network("format: bn-network/1\nnetwork: {id: x\n  title: [\n")
    (problem,) = check_network_file(path)
    assert "not valid YAML at line" in problem.message


def test_unsafe_yaml_tags_are_refused(write_network):
    path = write_network("format: !!python/object/apply:os.system ['echo pwned']\n")
    problems = check_network_file(path)
    assert problems and "not valid YAML" in problems[0].message


def test_not_a_mapping(write_network):
    (problem,) = check_network_file(write_network("- just\n- a list\n"))
    assert "expected a mapping" in problem.message


def test_size_limit(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (current_limits().network_bytes + 1))
    (problem,) = check_network_file(path)
    assert "limit" in problem.message
    with pytest.raises(NetworkFileError):
        parse_network_text(b"#" * (current_limits().network_bytes + 1))


def test_missing_file_is_a_clean_error(tmp_path):
    with pytest.raises(bn.UnknownNetworkError, match="no network file"):
        bn.read_network(str(tmp_path / "nope.yaml"))


def test_state_ids_that_yaml_reads_as_numbers_stay_strings(write_network):
    doc = small_network_doc()
    age = _variable(doc, "age")
    age["states"] = [{"id": "40_to_64"}, {"id": "65_plus"}]
    age["cpt"]["table"]["rows"][0]["probs"] = {"40_to_64": 0.5, "65_plus": 0.5}
    _variable(doc, "disease")["cpt"]["table"]["rows"][0]["when"]["age"] = "40_to_64"
    _variable(doc, "disease")["cpt"]["table"]["rows"][1]["when"]["age"] = "65_plus"
    _variable(doc, "sign")["cpt"]["noisy_or"]["links"][1]["state"] = "65_plus"
    text = yaml.safe_dump(doc).replace("'40_to_64'", "40_to_64")
    net = read_network_file(write_network(text))
    assert net["age"].state_ids == ("40_to_64", "65_plus")


def _mixture_doc():
    doc = small_network_doc()
    doc["variables"].append({
        "id": "where", "role": "finding", "group": "history",
        "states": [{"id": "front"}, {"id": "side"}, {"id": "back"}],
        "cpt": {"mixture": {
            "definition": "each active cause contributes its pattern",
            "otherwise": {"probs": {"front": 0.2, "side": 0.3, "back": 0.5}, "expert_estimate": "flat"},
            "components": [
                {"parent": "disease", "weight": 1, "probs": {"front": 0.8, "side": 0.2, "back": 0.0},
                 "source": "smith2020"},
                {"parent": "other", "weight": 3, "probs": {"front": 0.0, "side": 0.4, "back": 0.6},
                 "expert_estimate": "guess"}]}}})
    return doc


def test_mixture_form_table_by_hand(write_network):
    net = bn.read_network(str(write_network(_mixture_doc())))
    v = net["where"]
    assert v.parents == ("disease", "other") and v.form == "mixture"
    assert v.cpt[0, 0].tolist() == [0.2, 0.3, 0.5]
    assert v.cpt[1, 0].tolist() == [0.8, 0.2, 0.0]
    assert v.cpt[0, 1] == pytest.approx([0.0, 0.4, 0.6])
    # both present: (1 * [0.8, 0.2, 0] + 3 * [0, 0.4, 0.6]) / 4
    assert v.cpt[1, 1] == pytest.approx([0.2, 0.35, 0.45])
    assert [p.kind for p in v.parameters] == ["component"] * 3
    # inference through a mixture matches brute force on this small network
    from conftest import brute_force_marginals

    ev = {"where": np.eye(3)[1], "sign": np.array([0.0, 1.0])}
    _, marg = brute_force_marginals(net, ev)
    got = bn.BayesNet(net).marginals(["disease", "other"], findings={"where": "side", "sign": "positive"})
    assert got["other"]["present"] == pytest.approx(marg["other"][1], abs=1e-12)
    assert got["disease"]["present"] == pytest.approx(marg["disease"][1], abs=1e-12)


def test_mixture_needs_binary_parents(write_network):
    doc = _mixture_doc()
    doc["variables"].insert(0, {"id": "grade", "role": "risk_factor", "states": [{"id": "a"}, {"id": "b"}, {"id": "c"}],
                                "cpt": {"table": {"parents": [], "expert_estimate": "test", "rows": [
                                    {"when": {}, "probs": {"a": 0.5, "b": 0.3, "c": 0.2}}]}}})
    doc["variables"][-1]["cpt"]["mixture"]["components"][1]["parent"] = "grade"
    problems = check_network_file(write_network(doc))
    assert any("must be binary parents" in str(p) for p in problems), [str(p) for p in problems]


@pytest.mark.parametrize("edit, message", [
    (lambda c: c["components"][0]["probs"].update(front=0.9), "sum to"),
    (lambda c: c["otherwise"]["probs"].pop("back"), "missing ['back']"),
    (lambda c: c["components"][0].pop("source"), "missing provenance"),
])
def test_bad_mixture_is_reported(write_network, edit, message):
    doc = _mixture_doc()
    edit(doc["variables"][-1]["cpt"]["mixture"])
    problems = bn.netfile.check_network_file(write_network(doc))
    assert any(message in str(p) for p in problems), [str(p) for p in problems]


def _binary_roots(doc: dict, count: int) -> list[str]:
    """Add ``count`` binary root variables p0, p1... to the document; returns their ids."""
    names = [f"p{i}" for i in range(count)]
    for name in names:
        doc["variables"].append({"id": name, "states": [{"id": "absent"}, {"id": "present"}],
                                 "cpt": {"table": {"parents": [], "expert_estimate": "test", "rows": [
                                     {"when": {}, "probs": {"absent": 0.9, "present": 0.1}}]}}})
    return names


@pytest.mark.parametrize("form", ["table", "noisy_or", "deterministic_or"])
def test_a_table_too_large_to_build_is_refused_before_it_is_allocated(write_network, form):
    """40 binary parents would make 2^40 rows: a one-line error naming the variable, not a MemoryError."""
    doc = small_network_doc()
    parents = _binary_roots(doc, 40)
    body = {"table": {"parents": parents, "expert_estimate": "test", "rows": [
                {"when": {p: "absent" for p in parents}, "probs": {"absent": 1.0, "present": 0.0}}]},
            "noisy_or": {"expert_estimate": "test", "leak": {"p": 0.01},
                         "links": [{"parent": p, "p": 0.5} for p in parents]},
            "deterministic_or": {"parents": parents, "definition": "any"}}[form]
    doc["variables"].append({"id": "wide", "states": [{"id": "absent"}, {"id": "present"}], "cpt": {form: body}})
    with pytest.raises(NetworkFileError) as err:
        load_doc(write_network, doc)
    assert "variable 'wide': its table would have 1,099,511,627,776 rows of 2 states (40 parents)" in str(err.value)


def test_deterministic_or_of_many_parents_is_built_without_a_loop_per_row(write_network):
    doc = small_network_doc()
    parents = _binary_roots(doc, 20)
    doc["variables"].append({"id": "wide", "states": [{"id": "absent"}, {"id": "present"}],
                             "cpt": {"deterministic_or": {"parents": parents, "definition": "any"}}})
    cpt = load_doc(write_network, doc)["wide"].cpt
    assert cpt.shape == (2,) * 20 + (2,)
    assert cpt[(0,) * 20].tolist() == [1.0, 0.0] and float(cpt[..., 1].sum()) == 2 ** 20 - 1


def test_a_summary_is_declared_in_the_file_and_named_as_declared(write_network, tmp_path, capsys):
    """Network.summary is generic: its name keys the JSON and the batch columns; the older knee_pain_sources
    mapping reads as the knee-pain-source summary (published files keep their bytes)."""
    import json

    import pandas as pd

    from bn.batch import score_frame
    from bn.cli import main

    doc = small_network_doc()
    doc["network"]["summary"] = {"name": "cause", "title": "What causes it?",
                                 "members": {"the_disease": "disease", "the_other": "other"}}
    path = write_network(doc, "summ.yaml")
    net = bn.load(str(path))
    assert net.network.summary.name == "cause" and net.network.knee_pain_sources == {}
    result = net.query({"sign": "positive"})
    expected = net.posterior("disease", findings={"sign": "positive"})["present"]
    assert result.to_dict()["cause"]["the_disease"] == pytest.approx(expected, abs=1e-12)
    assert "cause_prior" in result.to_dict() and result.knee_pain_source is None
    out, _ = score_frame(net, pd.DataFrame({"sign": ["positive"]}))
    assert out.loc[0, "cause_the_disease"] == pytest.approx(expected, abs=1e-12)
    assert main(["query", str(path), "-e", "sign=positive", "--json", "--interval-draws", "0"]) == 0
    assert set(json.loads(capsys.readouterr().out)["cause"]) == {"the_disease", "the_other"}
    shipped = bn.load("l4l5_knee")
    assert shipped.network.summary.name == "knee_pain_source"
    assert shipped.query({"knee_pain": "present"}).to_dict()["knee_pain_source"].keys() == \
        shipped.network.knee_pain_sources.keys()


@pytest.mark.parametrize("change, message", [
    (lambda d: d["network"].update(summary={"name": "x", "title": "X", "members": {"a": "nope"}}),
     "network.summary.members.a: unknown variable 'nope'"),
    (lambda d: d["network"].update(summary={"name": "x", "title": "X", "members": {"a": "disease"}},
                                   knee_pain_sources={"a": "disease"}),
     "give summary or knee_pain_sources, not both"),
    (lambda d: d["network"].update(summary={"name": "x", "members": {"a": "disease"}}), "title"),
])
def test_a_bad_summary_names_the_file_and_the_problem(write_network, change, message):
    doc = small_network_doc()
    change(doc)
    with pytest.raises(bn.NetworkFileError, match=re.escape(message)):
        bn.load(str(write_network(doc, "bad_summary.yaml")))

"""One meaning for "present": every variable has one on-state, set at load, and every tool uses it.

A file may list a binary variable's states in either order (``[present, absent]`` or ``[absent, present]``);
the answers, the red-flag alerts, the summary targets and the sensitivity parameters must not change.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from conftest import small_network_doc

import bn
from bn.errors import NetworkFileError
from bn.model import default_on_state
from bn.netfile import read_network_file
from bn.sensitivity import find_parameters
from bn.target import resolve_target

ALERT = "Emergency: the flag is present."


def _with_flag(doc: dict) -> dict:
    doc = copy.deepcopy(doc)
    doc["variables"].append(
        {"id": "flag", "role": "red_flag", "alert": ALERT, "states": [{"id": "absent"}, {"id": "present"}],
         "cpt": {"table": {"parents": ["disease"], "expert_estimate": "test", "rows": [
             {"when": {"disease": "absent"}, "probs": {"absent": 0.99, "present": 0.01}},
             {"when": {"disease": "present"}, "probs": {"absent": 0.6, "present": 0.4}}]}}})
    return doc


def _reversed(doc: dict) -> dict:
    """The same network with every binary variable's states listed on-state first."""
    doc = copy.deepcopy(doc)
    for v in doc["variables"]:
        if len(v["states"]) == 2 and v["id"] != "age":
            v["states"] = v["states"][::-1]
    return doc


@pytest.fixture
def pair(write_network):
    doc = _with_flag(small_network_doc())
    usual = bn.BayesNet(read_network_file(write_network(doc, "a/tiny.yaml")))
    flipped = bn.BayesNet(read_network_file(write_network(_reversed(doc), "b/tiny.yaml")))
    return usual, flipped


def test_default_rule():
    assert default_on_state(["present", "absent"]) == "present"
    assert default_on_state(["Negative", "Positive"]) == "Positive"
    assert default_on_state(["normal", "reduced"]) == "reduced"
    assert default_on_state(["low", "mid", "high"]) == "high"


def test_state_order_changes_no_answer(pair):
    usual, flipped = pair
    assert flipped.network["flag"].state_ids == ("present", "absent")
    assert flipped.network["flag"].on_state == "present" and flipped.network["sign"].on_state == "positive"
    for findings in ({}, {"sign": "positive"}, {"flag": "present", "sign": "negative"}, {"any": "present"}):
        a, b = usual.query(findings=findings), flipped.query(findings=findings)
        for var, dist in a.posteriors.items():
            for state, p in dist.items():
                assert b.posteriors[var][state] == pytest.approx(p, abs=1e-12), (findings, var, state)


def test_red_flag_alert_follows_the_on_state_not_the_order(pair):
    for net in pair:
        assert [(a.id, a.message) for a in net.alerts({"flag": "present"})] == [("flag", ALERT)]
        assert net.alerts({"flag": "absent"}) == []
        soft_on = net.alerts(soft={"flag": {"present": 0.9, "absent": 0.1}})
        assert len(soft_on) == 1 and soft_on[0].message.startswith("Possible")
        assert net.alerts(soft={"flag": {"present": 0.1, "absent": 0.9}}) == []


def test_targets_and_parameters_use_the_on_state(pair):
    usual, flipped = pair
    for net in pair:
        assert resolve_target(net.network, "flag").state == "present"
        assert resolve_target(net.network, "sign").state == "positive"
    # a binary row's value is P(on-state), whatever the order the file lists the states in
    for var in ("disease", "flag"):
        a = {p.key: p.value for p in usual.network[var].parameters}
        b = {p.key: p.value for p in flipped.network[var].parameters}
        assert a == b
    ids = ["disease=present | age=old", "sign <- leak", "sign <- disease=present"]
    for pa, pb in zip(find_parameters(usual.network, ids), find_parameters(flipped.network, ids), strict=True):
        assert (pa.state, pa.value) == (pb.state, pb.value)


def test_noisy_and_deterministic_or_tables_follow_the_on_state(pair):
    usual, flipped = pair
    # flipped lists disease, other and each child's states in reverse (age keeps its order)
    assert np.allclose(usual.network["sign"].cpt, flipped.network["sign"].cpt[::-1, :, ::-1])  # (disease, age)
    assert np.allclose(usual.network["any"].cpt, flipped.network["any"].cpt[::-1, ::-1, ::-1])  # (disease, other)


def test_explicit_on_state_and_a_wrong_one(write_network):
    doc = small_network_doc()
    other = next(v for v in doc["variables"] if v["id"] == "age")
    other["on_state"] = "young"
    net = read_network_file(write_network(doc))
    assert net["age"].on_state == "young"
    assert resolve_target(net, "age").state == "young"
    assert net["age"].parameters[0].value == pytest.approx(0.6)
    other["on_state"] = "middle"
    with pytest.raises(NetworkFileError, match=r"age.*on_state 'middle' is not one of its states \(young, old\)"):
        read_network_file(write_network(doc, "bad.yaml"))


def test_the_shipped_network_has_an_on_state_for_every_variable():
    network = bn.load("l4l5_knee").network
    for v in network.variables.values():
        if v.card == 2:
            assert v.on_state == v.state_ids[-1], v.id  # the vocabulary lists absent/negative/normal first

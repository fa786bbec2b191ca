"""Public converters (bn.converters): pgmpy and pyAgrum models in and out, round-trip tested, and pyAgrum's own
inference on the converted model as an independent check."""

from __future__ import annotations

import numpy as np
import pyagrum as gum
import pytest
from conftest import bench_network, bench_path

import bn
from bn.converters import from_pgmpy, from_pyagrum, to_pgmpy, to_pyagrum
from bn.errors import NetworkFileError

CASE = {"knee_pain": "present", "straight_leg_raise": "positive", "age_group": "65_plus"}


def _same_structure_and_tables(a: bn.Network, b: bn.Network) -> None:
    assert set(a.variables) == set(b.variables)
    for vid, v in a.variables.items():
        w = b[vid]
        assert w.state_ids == v.state_ids and w.parents == v.parents, vid
        np.testing.assert_allclose(w.cpt, v.cpt, atol=1e-15, err_msg=vid)


@pytest.mark.parametrize("way", ["pgmpy", "pyagrum"])
def test_a_network_round_trips_through_each_library(knee, way):
    model = knee.to_pgmpy() if way == "pgmpy" else knee.to_pyagrum()
    back = from_pgmpy(model) if way == "pgmpy" else from_pyagrum(model)
    _same_structure_and_tables(knee.network, back)
    expected = ("pgmpy_model", "pgmpy") if way == "pgmpy" else ("l4l5_knee", "pyagrum")
    assert (back.info.id, back.info.version) == expected
    assert len(back.info.sha256) == 64
    loaded = bn.load(model)  # bn.load takes the model itself
    assert loaded.info == (from_pgmpy(model) if way == "pgmpy" else from_pyagrum(model)).info  # same hash each time
    got = loaded.posterior("disc_herniation", findings=CASE)
    assert got == pytest.approx(knee.posterior("disc_herniation", findings=CASE), abs=1e-12)


def test_pyagrum_inference_on_the_converted_model_agrees(knee):
    """pyAgrum's LazyPropagation on to_pyagrum's model: an oracle that shares no code with ours."""
    model = knee.to_pyagrum()
    ie = gum.LazyPropagation(model)
    ie.setEvidence(CASE)
    ie.makeInference()
    for target in ("disc_herniation", "spinal_stenosis", "knee_osteoarthritis"):
        theirs = dict(zip(model.variable(target).labels(), ie.posterior(target).toarray().tolist()))
        assert knee.posterior(target, findings=CASE) == pytest.approx(theirs, abs=1e-10), target


def test_from_pyagrum_reads_axes_in_pyagrums_order():
    """A child with 3 states and parents of 2 and 4: every axis has its own size, so a transposed table fails."""
    model = gum.fastBN("a{x|y}->b{u|v|w}<-c{p|q|r|s}")
    model.generateCPTs()
    net = from_pyagrum(model)
    assert net["b"].parents == ("a", "c") and net["b"].cpt.shape == (2, 4, 3)
    potential = model.cpt("b")
    for i, a in enumerate(("x", "y")):
        for j, c in enumerate(("p", "q", "r", "s")):
            for k, b in enumerate(("u", "v", "w")):
                assert net["b"].cpt[i, j, k] == pytest.approx(potential[{"a": a, "c": c, "b": b}], abs=1e-15)
    _same_structure_and_tables(net, from_pyagrum(to_pyagrum(net)))


def test_a_standard_network_round_trips_and_answers_like_pgmpy():
    network = bench_network("alarm")
    model = to_pgmpy(network)
    _same_structure_and_tables(network, from_pgmpy(model))
    from pgmpy.inference import VariableElimination

    theirs = VariableElimination(model).query(["HYPOVOLEMIA"], evidence={"HRBP": "HIGH"}, show_progress=False)
    ours = bn.load(model).posterior("HYPOVOLEMIA", findings={"HRBP": "HIGH"})
    assert [ours[s] for s in theirs.state_names["HYPOVOLEMIA"]] == pytest.approx(theirs.values.tolist(), abs=1e-10)


def test_an_inconsistent_pgmpy_model_is_a_clear_error(knee):
    model = knee.to_pgmpy()
    model.remove_cpds(model.get_cpds("disc_herniation"))
    with pytest.raises(bn.NetworkFileError, match="not a valid pgmpy model"):
        from_pgmpy(model)


def test_imported_rows_are_renormalised_and_rows_far_from_one_are_refused():
    """Published BIF files print rounded digits (pathfinder's rows sum to 1 +- 3e-7): every engine path must
    compute the same model, and dropping a barren variable is exact only when its rows sum to 1."""
    net = bn.read_network(bench_path("pathfinder"))
    worst = max(float(np.abs(v.cpt.sum(axis=-1) - 1.0).max()) for v in net.variables.values())
    assert worst <= 1e-12
    model = gum.BayesNet("bad")
    model.add(gum.LabelizedVariable("a", "a", 2))
    model.add(gum.LabelizedVariable("b", "b", 2))
    model.addArc("a", "b")
    model.cpt("a").fillWith([0.5, 0.5])
    model.cpt("b").fillWith([0.9, 0.1, 0.5, 0.3])  # a=1: 0.8
    with pytest.raises(NetworkFileError) as err:
        from_pyagrum(model)
    problem = err.value.problems[0]
    assert problem.variable == "b" and "a=1" in problem.message and "0.8" in problem.message
    assert problem.file == "bad"  # the model's own name, which the network would have had

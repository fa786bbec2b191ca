"""One case's own tree in compiled code (``bn.engines.case_tree``), against independent oracles.

- marginals and P(evidence) against brute-force enumeration, on random networks with zeros in their tables, soft
  and hard findings, observed targets and impossible cases;
- through the engine, on the networks where it answers one case (l4l5_knee, andes, pigs, pathfinder), the same
  numbers as the full tree without pruning;
- when it steps aside: the engine's first queries, a tree too large, rows that do not sum to 1, turned off.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import bench_network, brute_force_marginals
from hypothesis import given, settings
from hypothesis import strategies as st
from test_requisite import likelihoods_of, random_network, random_query

import bn
from bn.engines import CompiledEngine
from bn.engines.case_tree import CaseTree
from bn.model import Network, NetworkInfo, State, Variable
from bn.sampling import sample


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), zeros=st.sampled_from([0.0, 0.2, 0.5]))
def test_marginals_and_evidence_are_the_enumerated_ones(seed, zeros):
    rng = np.random.default_rng(seed)
    network = random_network(rng, int(rng.integers(2, 9)), zeros)
    order = list(network.variables)
    targets, hard, soft = random_query(network, rng)
    if rng.uniform() < 0.2 and hard:  # an observed target: its marginal is its likelihood times its prior
        targets.append(next(iter(hard)))
    lik = likelihoods_of(network, hard, soft)
    names = [order[t] for t in targets]
    marginals, log_z = CaseTree(network).marginals(lik, names)
    p_e, want = brute_force_marginals(network, lik)
    if p_e == 0.0:
        assert log_z == -math.inf
        assert all(np.isnan(marginals[v]).all() for v in names)
        return
    assert log_z == pytest.approx(math.log(p_e), abs=1e-10)
    for v in names:
        np.testing.assert_allclose(marginals[v], want[v], rtol=0, atol=1e-12)


def test_a_root_observed_impossible_and_a_leaf_summed_into_its_parent():
    """Two branches of the kernel a random query seldom reaches alone: an observed root that is no target is a
    constant factor (zero: the case is impossible), and an observed leaf with one parent becomes a factor on it."""
    a = Variable("a", (State("x", "x"), State("y", "y")), (), np.array([0.3, 0.7]))
    b = Variable("b", (State("x", "x"), State("y", "y")), ("a",), np.array([[0.9, 0.1], [0.2, 0.8]]))
    c = Variable("c", (State("x", "x"), State("y", "y")), (), np.array([1.0, 0.0]))
    network = Network(NetworkInfo("t", "t", "0"), {"a": a, "b": b, "c": c})
    tree = CaseTree(network)
    marginals, log_z = tree.marginals({"b": np.array([0.0, 1.0])}, ["a"])
    p_b = 0.3 * 0.1 + 0.7 * 0.8
    np.testing.assert_allclose(marginals["a"], [0.3 * 0.1 / p_b, 0.7 * 0.8 / p_b], rtol=0, atol=1e-15)
    assert log_z == pytest.approx(math.log(p_b), abs=1e-15)
    marginals, log_z = tree.marginals({"b": np.array([0.0, 1.0]), "c": np.array([0.0, 1.0])}, ["a"])
    assert log_z == -math.inf and np.isnan(marginals["a"]).all()


def _cases(network: Network, rng: np.random.Generator, count: int, share: float):
    """Possible one-case findings drawn from the network (a ``share`` of its variables observed), with targets."""
    order = list(network.variables)
    for _ in range(count):
        draw = sample(network, 1, rng)[0][0]
        observed = rng.choice(order, size=max(2, int(len(order) * share)), replace=False)
        lik = {v: np.eye(network[v].card)[draw[order.index(v)]] for v in observed}
        pool = [v for v in order if v not in lik]
        yield lik, [pool[i] for i in rng.choice(len(pool), size=min(10, len(pool)), replace=False)]


@pytest.mark.parametrize(("name", "share"), [("l4l5_knee", 0.08), ("andes", 0.1), ("pigs", 0.1),
                                             ("pathfinder", 0.1)])
def test_the_engine_answers_one_case_on_it_as_the_full_tree_does(name, share, monkeypatch):
    network = bn.load("l4l5_knee").network if name == "l4l5_knee" else bench_network(name)
    ours, full = CompiledEngine(network), CompiledEngine(network, prune=False)
    answered = []
    real = CaseTree.marginals

    def spy(self, likelihoods, variables):
        out = real(self, likelihoods, variables)
        answered.append(out is not None)
        return out

    monkeypatch.setattr(CaseTree, "marginals", spy)
    rng = np.random.default_rng(3)
    for lik, targets in _cases(network, rng, 8, share):
        if name == "l4l5_knee":
            lik["knee_pain"] = np.array([0.0, 1.0])
            # a soft finding too: likelihoods, not only indicators
            lik["straight_leg_raise"] = np.array([0.3, 0.9])
        got, log_z = ours.marginals(lik, targets)
        want, want_z = full.marginals(lik, targets)
        np.testing.assert_allclose(log_z, want_z, rtol=0, atol=1e-10)
        for v in targets:
            np.testing.assert_allclose(got[v], want[v], rtol=0, atol=1e-12)
        # one posterior with P(evidence), and P(evidence) alone
        table, table_z = ours.posterior(targets[:1], lik)
        np.testing.assert_allclose(table, want[targets[0]], rtol=0, atol=1e-12)
        np.testing.assert_allclose(table_z, want_z, rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.log_probability_of_evidence(lik), want_z, rtol=0, atol=1e-10)
    assert answered.count(True) == 3 * 8 - CompiledEngine.CASE_TREE_AFTER  # the first queries stay on the full tree


def test_impossible_findings_give_what_the_full_tree_gives():
    network = bn.load("l4l5_knee").network
    ours, full = CompiledEngine(network), CompiledEngine(network, prune=False)
    ours._single_cases = ours.CASE_TREE_AFTER
    lik = {"knee_pain": np.array([0.0, 1.0]), "knee_pain_from_knee": np.array([1.0, 0.0]),
           "knee_pain_from_l4l5": np.array([1.0, 0.0]), "knee_pain_from_other_level": np.array([1.0, 0.0]),
           "knee_pain_from_hip": np.array([1.0, 0.0]), "knee_pain_from_other": np.array([1.0, 0.0])}
    got, log_z = ours.marginals(lik, ["disc_herniation"])
    want, want_z = full.marginals(lik, ["disc_herniation"])
    assert ours._case_tree is not None
    assert log_z[0] == want_z[0] == -math.inf
    assert np.isnan(got["disc_herniation"]).all() and np.isnan(want["disc_herniation"]).all()


def test_a_process_that_asks_once_or_twice_never_builds_it():
    eng = CompiledEngine(bn.load("l4l5_knee").network)
    case = {"knee_pain": np.array([0.0, 1.0])}
    for _ in range(eng.CASE_TREE_AFTER):
        eng.marginals(case, ["disc_herniation"])
    assert eng._case_tree is None
    eng.marginals(case, ["disc_herniation"])
    assert eng._case_tree is not None
    off = CompiledEngine(bn.load("l4l5_knee").network, case_tree=False)
    for _ in range(eng.CASE_TREE_AFTER + 2):
        off.marginals(case, ["disc_herniation"])
    assert off._case_tree is None


def test_a_tree_over_its_limits_is_left_to_the_caller():
    network = bn.load("l4l5_knee").network
    case = {"knee_pain": np.array([0.0, 1.0]), "back_pain": np.array([0.0, 1.0])}
    assert CaseTree(network, limit=100).marginals(case, ["disc_herniation"]) is None
    assert CaseTree(network, max_variables=5).marginals(case, ["disc_herniation"]) is None
    assert CaseTree(network).marginals(case, ["disc_herniation"]) is not None


def test_rows_that_do_not_sum_to_one_are_left_to_the_caller():
    """Dropping a barren child is exact only when its rows sum to 1: here they sum to 0.5 under a = y."""
    a = Variable("a", (State("x", "x"), State("y", "y")), (), np.array([0.5, 0.5]))
    b = Variable("b", (State("x", "x"), State("y", "y")), ("a",), np.array([[0.5, 0.5], [0.25, 0.25]]))
    network = Network(NetworkInfo("t", "t", "0"), {"a": a, "b": b})
    assert CaseTree(network).marginals({}, ["a"]) is None

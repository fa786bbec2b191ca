"""One case's own tree in compiled code (``bn.engines.case_tree``), against independent oracles.

- marginals and P(evidence) against brute-force enumeration, on random networks with zeros in their tables, soft
  and hard findings, observed targets and impossible cases;
- through the engine, on the networks where it answers one case (l4l5_knee, andes, pigs, pathfinder), the same
  numbers as the full tree without pruning;
- when it steps aside: the engine's first queries, a tree too large, rows that do not sum to 1, turned off.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

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


def _var(name: str, card: int, parents: list[str], table) -> Variable:
    return Variable(name, tuple(State(f"s{j}", f"s{j}") for j in range(card)), tuple(parents),
                    np.asarray(table, dtype=float))


def _dense(k: int, rng: np.random.Generator) -> list[Variable]:
    """A complete DAG: variable i has every earlier one as a parent (a relevant part's search then meets each
    variable once per child; a stack sized by the variables alone overflowed on it)."""
    return [_var(f"d{i}", 2, [f"d{j}" for j in range(i)], rng.dirichlet(np.ones(2), size=2 ** i).reshape(
        *[2] * i, 2)) for i in range(k)]


def test_a_complete_dag_and_a_leaf_under_one_state_parents():
    rng = np.random.default_rng(0)
    variables = _dense(10, rng)
    variables.append(_var("c", 2, [v.id for v in variables], rng.dirichlet(np.ones(2), size=2 ** 10).reshape(
        *[2] * 10, 2)))
    # an observed leaf whose only parent has one state: a factor over that parent, not a constant (its P(e) was
    # counted twice when taken for one)
    variables += [_var("one", 1, [], [1.0]), _var("leaf", 2, ["one"], [[0.3, 0.7]])]
    network = Network(NetworkInfo("t", "t", "0"), {v.id: v for v in variables})
    lik = {"c": np.array([0.2, 0.9]), "leaf": np.array([0.0, 1.0]), "d3": np.array([1.0, 0.0])}
    marginals, log_z = CaseTree(network).marginals(lik, ["d0", "d9", "one"])
    p_e, want = brute_force_marginals(network, lik)
    assert log_z == pytest.approx(math.log(p_e), abs=1e-12)
    for v in ("d0", "d9", "one"):
        np.testing.assert_allclose(marginals[v], want[v], rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_networks_of_more_than_64_relevant_variables_are_the_full_trees(seed):
    """Adjacency bitsets of several 64-bit words (the sign bit among them), up to five states a variable."""
    rng = np.random.default_rng(seed)
    names = [f"v{i}" for i in range(int(rng.integers(70, 160)))]
    variables: dict[str, Variable] = {}
    for i, name in enumerate(names):
        card = int(rng.integers(2, 6))
        parents = sorted({names[j] for j in rng.integers(max(0, i - 5), i, size=min(i, 2))}) if i else []
        shape = (*(variables[p].card for p in parents), card)
        table = rng.dirichlet(np.ones(card), size=int(np.prod(shape[:-1]))).reshape(shape)
        variables[name] = _var(name, card, parents, table)
    network = Network(NetworkInfo("t", "t", "0"), variables)
    leaves = [v for v in names if not any(v in variables[u].parents for u in names)]
    draw = sample(network, 1, rng)[0][0]
    lik = {v: np.eye(network[v].card)[draw[names.index(v)]] for v in leaves[-12:]}
    targets = [names[0], names[len(names) // 2], names[-1] if names[-1] not in lik else names[1]]
    marginals, log_z = CaseTree(network, limit=10**7).marginals(lik, targets)
    want, want_z = CompiledEngine(network, prune=False, case_tree=False).marginals(lik, targets)
    assert log_z == pytest.approx(float(want_z[0]), abs=1e-9)
    for v in targets:
        np.testing.assert_allclose(marginals[v], want[v][0], rtol=0, atol=1e-12)


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


def test_an_engine_over_rows_that_do_not_sum_to_one_never_prunes():
    """Every path then computes the product of the tables as they are: the full tree's model."""
    a = Variable("a", (State("x", "x"), State("y", "y")), (), np.array([0.5, 0.5]))
    b = Variable("b", (State("x", "x"), State("y", "y")), ("a",), np.array([[0.5, 0.5], [0.25, 0.25]]))
    network = Network(NetworkInfo("t", "t", "0"), {"a": a, "b": b})
    eng = CompiledEngine(network)
    eng.PRUNE_MIN_STATES = 0
    assert not eng.prune
    for _ in range(eng.CASE_TREE_AFTER + 2):
        marginals, log_z = eng.marginals({}, ["a"])
        np.testing.assert_allclose(marginals["a"][0], [2 / 3, 1 / 3], rtol=0, atol=1e-15)
        assert log_z[0] == pytest.approx(math.log(0.75), abs=1e-15)
        np.testing.assert_allclose(eng.conditional(["a"], {}), [[2 / 3, 1 / 3]], rtol=0, atol=1e-15)
    assert eng._case_tree is None


@pytest.mark.parametrize("kind", ["tiny likelihoods", "200 findings on one parent"])
def test_probabilities_below_the_smallest_float_keep_their_digits(kind):
    """P(e) under 1e-308: factors are rescaled as they are made; what still underflows goes to the full tree,
    which reruns rescaled. Before, both cases were reported impossible."""
    rng = np.random.default_rng(0)
    variables = _dense(15, rng)  # only so that the full tree is large enough to take this path
    n = 2 if kind == "tiny likelihoods" else 200
    variables += [_var("a", 2, [], [0.5, 0.5])]
    variables += [_var(f"leaf{i}", 2, ["a"], [[0.99, 0.01], [0.98, 0.02]]) for i in range(n)]
    network = Network(NetworkInfo("t", "t", "0"), {v.id: v for v in variables})
    if kind == "tiny likelihoods":
        lik = {"leaf0": np.array([1e-200, 3e-200]), "leaf1": np.array([2e-200, 1e-200])}
    else:
        lik = {f"leaf{i}": np.array([0.0, 1.0]) for i in range(n)}
    ours, full = CompiledEngine(network), CompiledEngine(network, prune=False, case_tree=False)
    assert ours._cost >= ours.PRUNE_MIN_STATES
    want, want_z = full.marginals(lik, ["a"])
    assert want_z[0] < -700  # P(e) itself is below the smallest float64
    ours._single_cases = ours.CASE_TREE_AFTER
    got, log_z = ours.marginals(lik, ["a"])
    assert ours._case_tree is not None
    assert log_z[0] == pytest.approx(float(want_z[0]), abs=1e-9)
    np.testing.assert_allclose(got["a"], want["a"], rtol=1e-9, atol=0)
    # the kernel's own answer, not the full tree's rerun
    marginals, kernel_z = CaseTree(network).marginals(lik, ["a"])
    assert kernel_z == pytest.approx(float(want_z[0]), abs=1e-9)
    np.testing.assert_allclose(marginals["a"], want["a"][0], rtol=1e-9, atol=0)


def test_a_complete_record_scored_against_the_full_tree():
    """Every variable observed (scoring a full record, as EM's data checks do)."""
    network = bn.load("l4l5_knee").network
    ours, full = CompiledEngine(network), CompiledEngine(network, prune=False, case_tree=False)
    ours._single_cases = ours.CASE_TREE_AFTER
    rng = np.random.default_rng(4)
    order = list(network.variables)
    for draw in sample(network, 3, rng)[0]:
        lik = {v: np.eye(network[v].card)[draw[k]] for k, v in enumerate(order)}
        np.testing.assert_allclose(ours.log_probability_of_evidence(lik), full.log_probability_of_evidence(lik),
                                   rtol=0, atol=1e-9)
    assert ours._case_tree is not None


def test_the_kernel_stays_in_bounds(tmp_path):
    """numba does not check indices: run the kernel's tests again with its bounds checks compiled in (an
    overflowing stack once corrupted memory silently, and crashed a process now and then)."""
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    tests = Path(__file__).resolve()
    chosen = ("enumerated or complete_dag or more_than_64 or complete_record or below_the_smallest or no_rescaling "
              "or weights_and_long_chains or in_a_factor")
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", str(tests), "-k",
                          chosen],
                         cwd=tests.parent.parent, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "IndexError" not in run.stdout


@pytest.mark.parametrize("grouped", [True, False])
def test_an_underflow_no_rescaling_can_hold_is_never_a_confident_answer(grouped):
    """181 findings of likelihood ratio 1e4 on one root, 90 for one state and 91 for the other: listed grouped, the
    first 90 push the other state's entry 1e360 below the largest, where no table rescaling keeps it, and the next
    91 bring the largest back down. The kernel gives up (the engine's full tree then answers, here with NaN: its
    own clique underflows); interleaved, it answers exactly. Before, grouped gave P(a0 | e) = 1 with status ok."""
    p = 1e-4
    specs = [(1.0, p)] * 90 + [(p, 1.0)] * 90 if grouped else [(1.0, p), (p, 1.0)] * 90
    specs.append((0.5, 1.0))
    variables = [_var("a", 2, [], [0.5, 0.5])]
    variables += [_var(f"f{i}", 2, ["a"], [[1 - p0, p0], [1 - p1, p1]]) for i, (p0, p1) in enumerate(specs)]
    network = Network(NetworkInfo("t", "t", "0"), {v.id: v for v in variables})
    lik = {f"f{i}": np.array([0.0, 1.0]) for i in range(len(specs))}
    log0, log1 = sum(math.log(a) for a, _ in specs), sum(math.log(b) for _, b in specs)
    exact_a0 = 1 / (1 + math.exp(log1 - log0))
    answer = CaseTree(network).marginals(lik, ["a"])
    if grouped:
        assert answer is None
    else:
        assert answer is not None and answer[0]["a"][0] == pytest.approx(exact_a0, abs=1e-12)
    eng = CompiledEngine(network)
    eng.PRUNE_MIN_STATES = 0
    eng._single_cases = eng.CASE_TREE_AFTER
    got = eng.marginals(lik, ["a"])[0]["a"][0, 0]
    assert np.isnan(got) or got == pytest.approx(exact_a0, abs=1e-12)


def test_likelihood_weights_and_long_chains_lose_no_digits():
    """A hard finding entered with a subnormal weight (likelihoods count only up to a factor), and a chain of 240
    twenty-state variables, where each level of the distribution once grew a table by up to 20 until it
    overflowed to NaN with status ok."""
    a = _var("a", 2, [], [0.5, 0.5])
    leaf = _var("leaf", 2, ["a"], [[0.7, 0.3], [0.3, 0.7]])
    network = Network(NetworkInfo("t", "t", "0"), {"a": a, "leaf": leaf})
    for weight in (1.0, 1e-300, 1e-310, 1e-323):
        marginals, log_z = CaseTree(network).marginals({"leaf": np.array([0.0, weight])}, ["a"])
        np.testing.assert_allclose(marginals["a"], [0.3, 0.7], rtol=0, atol=1e-15)
        assert log_z == pytest.approx(math.log(0.5) + math.log(weight), abs=1e-12)
    chain = [_var("x0", 20, [], np.full(20, 0.05))]
    chain += [_var(f"x{k}", 20, [f"x{k - 1}"], np.full((20, 20), 0.05)) for k in range(1, 240)]
    network = Network(NetworkInfo("t", "t", "0"), {v.id: v for v in chain})
    marginals, log_z = CaseTree(network).marginals({"x239": np.eye(20)[0]}, ["x0", "x120"])
    np.testing.assert_allclose(marginals["x0"], np.full(20, 0.05), rtol=1e-12, atol=0)
    np.testing.assert_allclose(marginals["x120"], np.full(20, 0.05), rtol=1e-12, atol=0)
    assert log_z == pytest.approx(math.log(0.05), abs=1e-12)


def test_a_product_under_the_smallest_float_in_a_factor_is_not_an_answer():
    """A root whose prior and own likelihood multiply to 1e-330 (exactly 0 in float64) while a hundred findings
    favour it: the true P(a0 | e) is 1. The kernel gives up rather than answer 0 with status ok (the full tree,
    which then answers, reports NaN: its own limit)."""
    a = _var("a", 2, [], [1e-30, 1 - 1e-30])
    kids = [_var(f"f{i}", 2, ["a"], [[0.0, 1.0], [1 - 1e-4, 1e-4]]) for i in range(100)]
    network = Network(NetworkInfo("t", "t", "0"), {v.id: v for v in [a, *kids]})
    lik = {"a": np.array([1e-300, 1.0])} | {f"f{i}": np.array([0.0, 1.0]) for i in range(100)}
    assert CaseTree(network).marginals(lik, ["a"]) is None
    eng = CompiledEngine(network)
    eng.PRUNE_MIN_STATES = 0
    eng._single_cases = eng.CASE_TREE_AFTER
    got = eng.marginals(lik, ["a"])[0]["a"][0, 0]
    assert np.isnan(got) or got == pytest.approx(1.0, abs=1e-12)

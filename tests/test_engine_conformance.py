"""Every registered engine must pass these checks (as scikit-learn's estimator checks): the whole
:class:`bn.engines.Engine` protocol, each method against brute-force enumeration of the joint, on networks
small enough to enumerate. A new engine is added to ``bn.engines.ENGINES`` and is tested here with no edit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import bench_network, brute_force_joint, brute_force_marginals
from test_properties import random_network_doc

import bn
from bn.engines import ENGINES, Engine, make_engine
from bn.model import Network
from bn.netfile import parse_network_text

NAMES = sorted(ENGINES)


def _random(seed: int) -> Network:
    import yaml

    return parse_network_text(yaml.safe_dump(random_network_doc(seed)), "random.yaml")


NETWORKS = {"asia": lambda: bench_network("asia"), "random7": lambda: _random(7), "random11": lambda: _random(11)}


@pytest.fixture(scope="module", params=list(NETWORKS))
def network(request) -> Network:
    return NETWORKS[request.param]()


def _evidence(network: Network, rng: np.random.Generator, *, soft: bool) -> dict[str, np.ndarray]:
    """A hard finding on one variable and, if asked, a soft one on another."""
    names = list(network.variables)
    picked = rng.choice(len(names), size=min(2, len(names)), replace=False)
    out = {}
    for k, i in enumerate(picked):
        var = network[names[i]]
        if k == 0:
            out[var.id] = np.eye(var.card)[int(rng.integers(var.card))]
        elif soft:
            out[var.id] = rng.uniform(0.1, 1.0, size=var.card)
    return out


def _joint_of(network: Network, lik, outputs) -> np.ndarray:
    """Unnormalised P(outputs, e) by enumeration."""
    order = list(network.variables)
    table = np.zeros([network[v].card for v in outputs])
    for config, p in brute_force_joint(network, lik).items():
        table[tuple(config[order.index(v)] for v in outputs)] += p
    return table


def _impossible(network: Network) -> dict[str, np.ndarray] | None:
    """Evidence of probability zero, if the network has a structural zero to hit (else None)."""
    for v in network.variables:
        zero = np.argwhere(np.asarray(network[v].cpt) == 0.0)
        if zero.size:
            cell = zero[0]
            family = [*network[v].parents, v]
            return {u: np.eye(network[u].card)[int(i)] for u, i in zip(family, cell, strict=True)}
    return None


@pytest.mark.parametrize("name", NAMES)
def test_it_is_an_engine(name, network):
    engine = make_engine(network, name)
    assert isinstance(engine, Engine) and engine.name == name and engine.network is network


@pytest.mark.parametrize("name", NAMES)
def test_joint_posterior_and_evidence_equal_enumeration(name, network):
    engine = make_engine(network, name)
    rng = np.random.default_rng(3)
    for soft in (False, True):
        lik = _evidence(network, rng, soft=soft)
        p_e, _ = brute_force_marginals(network, lik)
        assert float(engine.joint((), lik)) == pytest.approx(p_e, rel=1e-9)
        assert float(engine.log_probability_of_evidence(lik)[0]) == pytest.approx(math.log(p_e), abs=1e-9)
        pair = list(network.variables)[-2:]
        expected = _joint_of(network, lik, pair)
        np.testing.assert_allclose(engine.joint(pair, lik), expected, rtol=1e-9, atol=1e-15)
        table, log_z = engine.posterior(pair, lik)
        assert table.shape == (1, *expected.shape) and log_z.shape == (1,)
        np.testing.assert_allclose(table[0], expected / expected.sum(), atol=1e-12)
        for outputs in (pair, pair[:1]):
            expected = _joint_of(network, lik, outputs)
            np.testing.assert_allclose(engine.conditional(outputs, lik)[0], expected / expected.sum(), atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_batched_marginals_equal_enumeration_case_by_case(name, network):
    """Three cases in one call: hard, soft, none; shapes (N, card) and (N,)."""
    engine = make_engine(network, name)
    rng = np.random.default_rng(5)
    cases = [_evidence(network, rng, soft=False), _evidence(network, rng, soft=True), {}]
    batch = {v: np.stack([c.get(v, np.ones(network[v].card)) for c in cases])
             for v in set().union(*cases)}
    post, log_z = engine.marginals(batch)
    assert set(post) == set(network.variables) and log_z.shape == (3,)
    for k, case in enumerate(cases):
        p_e, expected = brute_force_marginals(network, case)
        assert log_z[k] == pytest.approx(math.log(p_e), abs=1e-9)
        for v in network.variables:
            assert post[v].shape == (3, network[v].card)
            np.testing.assert_allclose(post[v][k], expected[v], atol=1e-12)
    some = list(network.variables)[:1]
    assert set(engine.marginals(batch, some)[0]) == set(some)
    # No variable asked: no marginal, and still log P(e), for one case as for several
    for case in (batch, {v: a[:1] for v, a in batch.items()}):
        none, log_none = engine.marginals(case, [])
        assert none == {} and log_none == pytest.approx(log_z[:len(log_none)], abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_impossible_evidence_is_minus_infinity_and_nan_never_an_error(name):
    network = bench_network("asia")  # tub=yes with either=no: the deterministic OR says never
    engine = make_engine(network, name)
    bad = _impossible(network)
    assert bad is not None
    good = {"dysp": np.array([1.0, 0.0])}
    batch = {v: np.stack([bad.get(v, np.ones(network[v].card)), good.get(v, np.ones(network[v].card))])
             for v in set(bad) | set(good)}
    post, log_z = engine.marginals(batch, ["lung"])
    assert log_z[0] == -math.inf and math.isfinite(log_z[1])
    assert np.isnan(post["lung"][0]).all() and np.isfinite(post["lung"][1]).all()
    assert engine.log_probability_of_evidence(bad)[0] == -math.inf
    # P(target | e) alone is NaN, even for a target in another part of the network than the impossible findings
    for target in ("lung", "smoke", "dysp"):
        assert np.isnan(engine.conditional([target], bad)).all()
    assert float(engine.joint((), bad)) == 0.0
    tables, z = engine.family_posteriors(bad)
    assert z == -math.inf and all(not t.any() for t in tables.values())


@pytest.mark.parametrize("name", NAMES)
def test_family_tables_equal_enumeration(name, network):
    engine = make_engine(network, name)
    lik = _evidence(network, np.random.default_rng(9), soft=True)
    p_e, _ = brute_force_marginals(network, lik)
    joints = engine.family_joints(lik)
    posts, log_z = engine.family_posteriors(lik)
    assert log_z == pytest.approx(math.log(p_e), abs=1e-9)
    for v in network.variables:
        expected = _joint_of(network, lik, [*network[v].parents, v])
        np.testing.assert_allclose(joints[v], expected, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(posts[v], expected / p_e, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_family_expectations_are_weighted_sums_of_family_posteriors(name, network):
    engine = make_engine(network, name)
    rng = np.random.default_rng(13)
    cases = [_evidence(network, rng, soft=True) for _ in range(3)]
    batch = {v: np.stack([c.get(v, np.ones(network[v].card)) for c in cases]) for v in set().union(*cases)}
    weights = np.array([1.0, 2.5, 0.5])
    counts, log_z = engine.family_expectations(batch, weights=weights)
    for v in network.variables:
        expected = sum(w * _joint_of(network, c, [*network[v].parents, v]) / brute_force_marginals(network, c)[0]
                       for w, c in zip(weights, cases, strict=True))
        np.testing.assert_allclose(counts[v], expected, atol=1e-10)
    assert log_z == pytest.approx([math.log(brute_force_marginals(network, c)[0]) for c in cases], abs=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_outcome_posteriors_equal_enumeration(name, network):
    """P(F=f | e) and P(target | e, F=f) for every unobserved F, as next-best-test ranking uses them."""
    engine = make_engine(network, name)
    lik = _evidence(network, np.random.default_rng(17), soft=False)
    order = list(network.variables)
    target = next(v for v in reversed(order) if v not in lik)
    candidates = [v for v in order if v not in lik and v != target]
    p_outcome, posteriors = engine.outcome_posteriors([target], candidates, lik)
    p_e = brute_force_marginals(network, lik)[0]
    for f in candidates:
        joint = _joint_of(network, lik, [f, target])
        np.testing.assert_allclose(p_outcome[f], joint.sum(axis=1) / p_e, atol=1e-12)
        for i in range(network[f].card):
            if joint[i].sum() > 0:
                np.testing.assert_allclose(posteriors[f][target][i], joint[i] / joint[i].sum(), atol=1e-12)
            else:
                assert np.isnan(posteriors[f][target][i]).all()


@pytest.mark.parametrize("name", NAMES)
def test_sampling_is_exact_or_declined(name):
    """An engine with exact sampling draws from P(X | e) (checked on asia's 256 configurations by a chi-square
    bound); one without it says so, and callers weight forward samples instead."""
    network = bench_network("asia")
    engine = make_engine(network, name)
    lik = {"dysp": np.array([1.0, 0.0])}
    rng = np.random.default_rng(0)
    if not engine.exact_sampling:
        with pytest.raises(NotImplementedError):
            engine.sample_posterior(lik, 10, rng)
        return
    n = 20_000
    draws = engine.sample_posterior(lik, n, rng)
    assert draws.shape == (n, len(network.variables))
    joint = brute_force_joint(network, lik)
    p_e = sum(joint.values())
    counts: dict[tuple, int] = {}
    for row in map(tuple, draws):
        counts[row] = counts.get(row, 0) + 1
    common = [c for c, p in joint.items() if p / p_e * n >= 20]
    chi2 = sum((counts.get(c, 0) - joint[c] / p_e * n) ** 2 / (joint[c] / p_e * n) for c in common)
    assert chi2 < len(common) + 6 * math.sqrt(2 * len(common)), chi2  # about 6 standard deviations
    assert set(counts) <= {c for c, p in joint.items() if p > 0}  # never an impossible configuration
    assert engine.sample_posterior(_impossible(network), 5, rng) is None


@pytest.mark.parametrize("name", NAMES)
def test_bayesnet_answers_the_same_on_every_engine(name):
    """The API has no engine branches: the same query through any engine gives the same answer."""
    network = bench_network("asia")
    reference, other = bn.load(network), bn.load(network, engine=name)
    findings = {"dysp": "yes", "smoke": "yes"}
    a, b = reference.query(findings), other.query(findings)
    assert b.engine == name
    assert b.log_probability_of_evidence == pytest.approx(a.log_probability_of_evidence, abs=1e-12)
    for v, dist in a.posteriors.items():
        assert b.posteriors[v] == pytest.approx(dist, abs=1e-12)
    trio = ["lung", "tub", "bronc"]
    best, other_best = (n.most_probable_explanation(trio, findings=findings) for n in (reference, other))
    assert other_best.states == best.states and other_best.probability == pytest.approx(best.probability, abs=1e-12)
    outcome = other.outcome_posteriors("lung", candidates=["xray"], findings=findings)
    expected = reference.outcome_posteriors("lung", candidates=["xray"], findings=findings)
    for state, o in expected["xray"].items():
        assert outcome["xray"][state].probability == pytest.approx(o.probability, abs=1e-12)
    with pytest.raises(bn.ImpossibleEvidenceError):
        other.query({"tub": "yes", "either": "no"})


def test_an_unknown_engine_names_the_registered_ones():
    with pytest.raises(bn.BNError, match=r"unknown engine 'fast'.*einsum"):
        make_engine(bench_network("asia"), "fast")


def test_a_registered_engine_is_used_by_load():
    """register() is the one way in: an engine registered under a new name answers bn.load(..., engine=name)."""
    from bn.engines import ContractionEngine, register

    class Traced(ContractionEngine):
        name = "traced"
        calls = 0

        def joint(self, outputs, likelihoods):
            Traced.calls += 1
            return super().joint(outputs, likelihoods)

    register("traced", lambda network, plan=None, extra_plans=None: Traced(network))
    try:
        net = bn.load(bench_network("asia"), engine="traced")
        assert net.engine.name == "traced"
        assert net.posterior("lung", findings={"dysp": "yes"}) == pytest.approx(
            bn.load(bench_network("asia")).posterior("lung", findings={"dysp": "yes"}), abs=1e-12)
        assert Traced.calls > 0
    finally:
        del ENGINES["traced"]

"""Inference checked against independent oracles.

- brute-force enumeration of the full joint (conftest.brute_force_marginals) on small networks;
- pyAgrum's LazyPropagation (C++) on BIF files written by ``bn export``, with pgmpy's float64 tables
  copied in (pyAgrum parses BIF numbers as float32);
- both of our engines: the einsum engine and pgmpy's VariableElimination.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyagrum as gum
import pytest
from conftest import bench_network, brute_force_marginals

import bn
from bench.run import pyagrum_identifiers
from bn.interop import export
from bn.model import Network

TOL = 1e-9


def random_evidence(network: Network, rng: np.random.Generator, n_hard: int, n_soft: int):
    """Random hard and soft findings that have positive probability (checked by the caller)."""
    names = list(network.variables)
    chosen = rng.choice(len(names), size=min(len(names), n_hard + n_soft), replace=False)
    hard, soft = {}, {}
    for k, i in enumerate(chosen):
        v = network[names[i]]
        if k < n_hard:
            hard[v.id] = v.state_ids[int(rng.integers(v.card))]
        else:
            lik = rng.uniform(0.05, 1.0, size=v.card)
            soft[v.id] = {s: float(x) for s, x in zip(v.state_ids, lik, strict=True)}
    return bn.Evidence(hard, soft)


def to_pyagrum(network: Network, tmp_path) -> gum.BayesNet:
    path = tmp_path / f"{network.id}.bif"
    path.write_text(export(network, "bif"))
    model = gum.loadBN(str(path))
    for v in network.variables.values():
        # Overwrite pyAgrum's float32 parse with the exact float64 table, entry by entry by name.
        cpt = model.cpt(v.id)
        for idx in np.ndindex(*(network[p].card for p in v.parents)):
            inst = {p: network[p].state_ids[i] for p, i in zip(v.parents, idx, strict=True)}
            cpt[inst] = v.cpt[idx].tolist()
    return model


def pyagrum_answer(model: gum.BayesNet, network: Network, evidence: bn.Evidence):
    ie = gum.LazyPropagation(model)
    for var, state in evidence.findings.items():
        ie.addEvidence(var, state)
    for var, lik in evidence.soft_findings.items():
        vec = [lik[s] for s in network[var].state_ids]
        ie.addEvidence(var, [x / max(vec) for x in vec])  # soft likelihoods count by their ratios (max 1)
    ie.makeInference()
    marginals = {v: np.asarray(ie.posterior(v).toarray()) for v in network.variables}
    return ie.evidenceProbability(), marginals


def assert_close(ours: dict, theirs: dict, network: Network, tol: float = TOL):
    for var in network.variables:
        a = np.array([ours[var][s] for s in network[var].state_ids])
        np.testing.assert_allclose(a, theirs[var], atol=tol, rtol=0, err_msg=var)


# -- brute force ----------------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["einsum", "pgmpy"])
@pytest.mark.parametrize("name", ["asia"])
def test_engines_match_brute_force_on_asia(name, engine):
    network = bench_network(name)
    net = bn.load(network, engine=engine)
    rng = np.random.default_rng(7)
    for trial in range(8):
        ev = random_evidence(network, rng, n_hard=trial % 3, n_soft=(trial + 1) % 3).validate(network)
        p_e, expected = brute_force_marginals(network, ev.likelihoods(network))
        if p_e == 0:
            continue
        assert net.probability_of_evidence(ev) == pytest.approx(p_e, rel=1e-12, abs=0)
        ours = net.marginals(findings=ev)
        for var in network.variables:
            np.testing.assert_allclose([ours[var][s] for s in network[var].state_ids], expected[var], atol=1e-12)


def test_most_probable_explanation_matches_enumeration():
    network = bench_network("asia")
    net = bn.load(network)
    ev = bn.Evidence({"dysp": "yes", "xray": "yes"})
    targets = ["tub", "lung", "bronc"]
    table = net.joint(targets, findings=ev)
    from itertools import product

    best = max(product(*(range(network[t].card) for t in targets)), key=lambda idx: table[idx])
    mpe = net.most_probable_explanation(targets, findings=ev)
    assert mpe.states == {t: network[t].state_ids[i] for t, i in zip(targets, best, strict=True)}
    assert mpe.probability == pytest.approx(table[best], abs=1e-15)


def test_joint_matches_brute_force():
    network = bench_network("asia")
    ev = bn.Evidence({"xray": "yes"})
    lik = ev.validate(network).likelihoods(network)
    from conftest import brute_force_joint

    joint = brute_force_joint(network, lik)
    order = list(network.variables)
    i, j = order.index("tub"), order.index("lung")
    expected = np.zeros((2, 2))
    for config, p in joint.items():
        expected[config[i], config[j]] += p
    np.testing.assert_allclose(bn.load(network).joint(["tub", "lung"], findings=ev), expected / expected.sum(),
                               atol=1e-14)


# -- pyAgrum oracle ----------------------------------------------------------------------------------

BENCH_NAMES = ["asia", "alarm", "child", "insurance", "hepar2", "win95pts"]


@pytest.mark.parametrize("name", BENCH_NAMES)
def test_einsum_engine_matches_pyagrum_on_standard_networks(name, tmp_path):
    network = bench_network(name)
    if name == "child":
        network = pyagrum_identifiers(network)
    net = bn.load(network)
    model = to_pyagrum(network, tmp_path)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    checked = 0
    for trial in range(6):
        ev = random_evidence(network, rng, n_hard=2 + trial, n_soft=trial % 3).validate(network)
        p_e = net.probability_of_evidence(ev)
        if p_e == 0.0:
            continue
        their_p, theirs = pyagrum_answer(model, network, ev)
        assert p_e == pytest.approx(their_p, rel=1e-9)
        assert_close(net.marginals(findings=ev), theirs, network)
        checked += 1
    assert checked >= 3, "too few random evidence sets had positive probability"


@pytest.mark.parametrize("name", ["asia", "child"])
def test_pgmpy_reference_engine_matches_pyagrum(name, tmp_path):
    network = pyagrum_identifiers(bench_network(name))
    net = bn.load(network, engine="pgmpy")
    model = to_pyagrum(network, tmp_path)
    rng = np.random.default_rng(3)
    ev = random_evidence(network, rng, n_hard=2, n_soft=1).validate(network)
    their_p, theirs = pyagrum_answer(model, network, ev)
    assert net.probability_of_evidence(ev) == pytest.approx(their_p, rel=1e-9)
    assert_close(net.marginals(findings=ev), theirs, network)


def test_l4l5_knee_matches_pyagrum(knee, tmp_path):
    network = knee.network
    model = to_pyagrum(network, tmp_path)
    rng = np.random.default_rng(11)
    findings = [v for v in network.variables if network[v].role in ("finding", "red_flag", "risk_factor")]
    for trial in range(10):
        picked = rng.choice(len(findings), size=3 + 2 * trial % 12, replace=False)
        hard = {findings[i]: network[findings[i]].state_ids[int(rng.integers(network[findings[i]].card))]
                for i in picked[: len(picked) - 1]}
        last = network[findings[picked[-1]]]
        soft = {last.id: {s: float(x) for s, x in zip(last.state_ids, rng.uniform(0.1, 1, last.card), strict=True)}}
        ev = bn.Evidence(hard, soft).validate(network)
        their_p, theirs = pyagrum_answer(model, network, ev)
        assert knee.probability_of_evidence(ev) == pytest.approx(their_p, rel=1e-9)
        assert_close(knee.marginals(findings=ev), theirs, network)


@pytest.mark.parametrize("version", ["1.1.0", "2.0.0"])
def test_exported_bif_round_trips_through_pgmpy(version):
    """Bit for bit: imported rows are renormalised only when they sum to 1 worse than a YAML file may (2.0.0 has
    rows whose float sum is 1 - 1e-16)."""
    from bn.interop import parse_standard

    knee = bn.load(f"l4l5_knee@{version}")
    for fmt in ("bif", "xmlbif"):
        again = parse_standard(export(knee.network, fmt), fmt, knee.info)
        for vid, v in knee.network.variables.items():
            assert again[vid].parents == v.parents and again[vid].state_ids == v.state_ids
            np.testing.assert_array_equal(again[vid].cpt, v.cpt)


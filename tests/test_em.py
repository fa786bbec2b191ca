"""EM for incomplete records (bn learn --method em): exact against a brute-force EM, never decreasing,
recovering known parameters, and unbiased where complete cases are not."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCES

import bn
from bn.cli import main
from bn.em import em
from bn.learn import learn
from bn.model import Network, NetworkInfo, State, Variable
from bn.sampling import sample

TWO = (State("absent", ""), State("present", ""))


def small(p_a=(0.5, 0.3, 0.2), p_d=(0.1, 0.3, 0.6), s1=(0.1, 0.8), s2=((0.05, 0.2, 0.3), (0.6, 0.7, 0.9))) -> Network:
    """A (3 states) -> D (latent diagnosis) -> S1; D and A -> S2."""
    variables = {
        "a": Variable("a", (State("y", ""), State("m", ""), State("o", "")), (), np.array(p_a)),
        "d": Variable("d", TWO, ("a",), np.array([[1 - p, p] for p in p_d])),
        "s1": Variable("s1", TWO, ("d",), np.array([[1 - p, p] for p in s1])),
        "s2": Variable("s2", TWO, ("d", "a"), np.array([[[1 - p, p] for p in row] for row in s2])),
    }
    return Network(NetworkInfo("small", "1.0.0", "0" * 64), variables)


ORDER = ("a", "d", "s1", "s2")


def brute_force_em(network: Network, codes: dict[str, np.ndarray], weight: float, iterations: int):
    """EM by enumerating the joint table: an independent implementation of the same MAP update."""
    prior = {v: np.asarray(network[v].cpt, dtype=float) for v in ORDER}
    theta = {v: prior[v].copy() for v in ORDER}
    n = len(next(iter(codes.values())))
    history = []

    def joint(t):
        j = np.zeros((3, 2, 2, 2))
        for a, d, x, y in itertools.product(range(3), range(2), range(2), range(2)):
            j[a, d, x, y] = t["a"][a] * t["d"][a, d] * t["s1"][d, x] * t["s2"][d, a, y]
        return j

    def e_step(t):
        j = joint(t)
        counts = {"a": np.zeros(3), "d": np.zeros((3, 2)), "s1": np.zeros((2, 2)), "s2": np.zeros((2, 3, 2))}
        log_lik = 0.0
        for r in range(n):
            mask = np.ones_like(j)
            for axis, v in enumerate(ORDER):
                if v in codes and codes[v][r] >= 0:
                    keep = np.zeros(j.shape[axis])
                    keep[codes[v][r]] = 1.0
                    mask = mask * keep.reshape([-1 if k == axis else 1 for k in range(4)])
            post = j * mask
            log_lik += np.log(post.sum())
            post = post / post.sum()
            counts["a"] += post.sum(axis=(1, 2, 3))
            counts["d"] += post.sum(axis=(2, 3))
            counts["s1"] += post.sum(axis=(0, 3))
            counts["s2"] += post.sum(axis=2).transpose(1, 0, 2)
        log_prior = sum(float(np.sum(weight * prior[v] * np.log(t[v]))) for v in ORDER)
        return counts, log_lik + log_prior

    counts, lp = e_step(theta)
    history.append(lp)
    for _ in range(iterations):
        theta = {v: (weight * prior[v] + counts[v]) / (weight + counts[v].sum(axis=-1, keepdims=True)) for v in ORDER}
        counts, lp = e_step(theta)
        history.append(lp)
    return theta, history


def records(network: Network, n: int, seed: int, *, hide: tuple[str, ...] = ("d",), missing: float = 0.3):
    rng = np.random.default_rng(seed)
    states, _ = sample(network, n, rng)
    order = list(network.variables)
    codes = {}
    for v in order:
        if v in hide:
            continue
        col = states[:, order.index(v)].astype(np.int64)
        col[rng.random(n) < missing] = -1
        codes[v] = col
    return codes


def test_em_matches_a_brute_force_em_exactly():
    network = small()
    truth = small(p_a=(0.2, 0.3, 0.5), p_d=(0.2, 0.4, 0.7), s1=(0.2, 0.7))
    codes = records(truth, 150, seed=1)
    fit = em(bn.BayesNet(network), codes, prior_weight=5.0, max_iter=6, tol=-np.inf)
    theta, history = brute_force_em(network, codes, 5.0, 6)
    assert fit.iterations == 6 and not fit.converged
    assert fit.log_posterior == pytest.approx(history, abs=1e-9)
    for v in ORDER:
        np.testing.assert_allclose(fit.network[v].cpt, theta[v], atol=1e-9)


def test_em_on_a_local_dask_cluster_gives_the_same_fit(knee):
    """Issue 16: the E-step's expected counts in partitions on a Dask cluster (two worker processes), added up,
    against the single-process run: the same tables, counts and log-posterior, to rounding."""
    hidden = tuple(knee.network.by_role("diagnosis", "mechanism"))
    codes = records(knee.network, 120, seed=4, hide=hidden)
    alone = em(knee, codes, prior_weight=10.0, max_iter=2, tol=-np.inf)
    spread = em(knee, codes, prior_weight=10.0, max_iter=2, tol=-np.inf, dask="local")
    assert spread.log_posterior == pytest.approx(alone.log_posterior, rel=1e-12)
    for v in alone.counts:
        np.testing.assert_allclose(spread.counts[v], alone.counts[v], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(spread.network[v].cpt, alone.network[v].cpt, rtol=1e-10, atol=1e-12)
    assert spread.skipped_rows == alone.skipped_rows and spread.records_used == alone.records_used


def test_the_log_posterior_never_decreases_on_the_shipped_network(knee):
    hidden = tuple(knee.network.by_role("diagnosis", "mechanism"))
    codes = records(knee.network, 250, seed=2, hide=hidden)
    fit = em(knee, codes, prior_weight=10.0, max_iter=8, tol=-np.inf)
    steps = np.diff(fit.log_posterior)
    assert (steps >= -1e-9 * abs(fit.log_posterior[0])).all(), steps
    assert fit.log_posterior[-1] > fit.log_posterior[0]


def test_parameters_are_recovered_and_the_error_falls_as_records_grow():
    prior, truth = small(), small(p_a=(0.2, 0.3, 0.5), p_d=(0.15, 0.45, 0.8), s1=(0.05, 0.9))
    errors = []
    for n in (200, 2000, 20000):
        codes = records(truth, n, seed=3)  # the diagnosis never recorded, 30% of the rest missing at random
        fit = em(bn.BayesNet(prior), codes, prior_weight=2.0, max_iter=200, tol=1e-7)
        errors.append(max(float(np.abs(fit.network[v].cpt - truth[v].cpt).max()) for v in ("a", "d", "s1")))
    assert errors[2] < errors[1] < errors[0], errors
    assert errors[2] < 0.05, errors


def _mar_doc() -> dict:
    def two():
        return [{"id": "absent"}, {"id": "present"}]

    x_rows = [{"when": {}, "probs": {"absent": 0.5, "present": 0.5}}]
    y_rows = [{"when": {"x": "absent"}, "probs": {"absent": 0.8, "present": 0.2}},
              {"when": {"x": "present"}, "probs": {"absent": 0.2, "present": 0.8}}]
    return {"format": "bn-network/1", "network": {"id": "mar", "title": "MAR", "version": "1.0.0"},
            "references": REFERENCES, "variables": [
                {"id": "x", "states": two(), "cpt": {"table": {"parents": [], "expert_estimate": "flat",
                                                               "rows": x_rows}}},
                {"id": "y", "states": two(), "cpt": {"table": {"parents": ["x"], "expert_estimate": "test",
                                                               "rows": y_rows}}}]}


def test_em_is_unbiased_where_complete_cases_are_not(write_network):
    """x is tested only when y is positive (missing at random given y): the complete cases over-represent x."""
    net = bn.load(str(write_network(_mar_doc(), "mar/1.0.0.yaml")))
    rng = np.random.default_rng(4)
    n = 20000
    x = rng.random(n) < 0.3
    y = np.where(x, rng.random(n) < 0.8, rng.random(n) < 0.2)
    frame = pd.DataFrame({"x": np.where(y, np.where(x, "present", "absent"), None),
                          "y": np.where(y, "present", "absent")})
    complete = learn(net, frame, version="1.1.0", method="bayes", prior_weight=1.0, variables=["x"])
    fitted = learn(net, frame, version="1.1.0", method="em", prior_weight=1.0, variables=["x"], max_iter=500, tol=1e-10)
    p_complete = float(complete.network["x"].cpt[1])
    p_em = float(fitted.network["x"].cpt[1])
    assert abs(p_complete - 0.3) > 0.25  # about 0.63: P(x | y positive)
    assert abs(p_em - 0.3) < 0.02, p_em


def test_cli_em_writes_a_cited_version_and_reports_impossible_rows(write_network, tmp_path, capsys):
    doc = _mar_doc()
    doc["variables"][1]["cpt"]["table"]["rows"][0]["probs"] = {"absent": 1.0, "present": 0.0}  # y only with x
    path = write_network(doc, "mar/1.0.0.yaml")
    frame = pd.DataFrame({"x": ["absent", None, "present", None], "y": ["present", "present", "absent", None]})
    frame.to_csv(tmp_path / "records.csv", index=False)
    out = tmp_path / "learnt" / "mar" / "1.1.0.yaml"
    out.parent.mkdir(parents=True)
    code = main(["learn", str(path), str(tmp_path / "records.csv"), "--version", "1.1.0", "--method", "em",
                 "--out", str(out), "--json"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["em"]["skipped_rows"] == [1]  # x absent with y present: impossible under this network
    assert summary["em"]["records_used"] == 3
    assert summary["em"]["log_posterior"] == sorted(summary["em"]["log_posterior"])
    text = out.read_text()
    assert "expected count" in text and "maximum-a-posteriori EM" in text
    written = bn.load(str(out))
    assert written.network["y"].cpt[0].tolist() == [1.0, 0.0]  # a structural zero stays zero


def test_batched_expected_counts_equal_one_case_at_a_time(shipped):
    """family_expectations (EM's E-step) against family_posteriors case by case, OR-chained families included."""
    network = shipped.network
    rng = np.random.default_rng(5)
    states, _ = sample(network, 12, rng)
    order = list(network.variables)
    findings = network.by_role("finding", "risk_factor")
    lik = {v: np.where((rng.random(12) < 0.5)[:, None], np.eye(network[v].card)[states[:, order.index(v)]], 1.0)
           for v in findings}
    weights = rng.integers(1, 4, size=12).astype(float)
    variables = [v for v in network.variables if network[v].form != "mixture"]
    engine = shipped.engine
    assert any(engine._inner[v].parents != network[v].parents for v in variables)  # chained families exist
    batched, log_z = engine.family_expectations(lik, variables, weights=weights, chunk=5)
    expected = {v: np.zeros_like(t) for v, t in batched.items()}
    for k in range(12):
        posts, z = engine.family_posteriors({v: a[k] for v, a in lik.items()}, variables)
        assert log_z[k] == pytest.approx(z, abs=1e-9)
        for v in variables:
            expected[v] += weights[k] * posts[v]
    for v in variables:
        np.testing.assert_allclose(batched[v], expected[v], atol=1e-9, err_msg=v)

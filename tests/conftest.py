"""Shared fixtures: the shipped network, the standard networks, small network files built in tests,
and an independent brute-force oracle."""

from __future__ import annotations

import copy
import itertools
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

# The suite never reads the developer's own compiled-network cache (~/.cache/bn): every run starts empty, and
# the app server the browser tests start inherits this.
os.environ["BN_CACHE_DIR"] = tempfile.mkdtemp(prefix="bn-test-cache-")

import bn
from bn.model import Network, Variable

ROOT = Path(__file__).resolve().parent.parent
# Copies of ../shared/bench-networks and ../shared/evidence/vocabulary.yaml live in the repository so that
# the suite runs on a clean machine.
BENCH = ROOT / "bench" / "networks"
VOCABULARY = ROOT / "networks" / "l4l5_knee" / "vocabulary.yaml"


@pytest.fixture(scope="session")
def knee() -> bn.BayesNet:
    """The network the tool tests run on: l4l5_knee 1.1.0 (58 variables), where recomputation oracles stay
    fast. Tests of what ships (the latest version) use ``shipped``."""
    return bn.load("l4l5_knee@1.1.0")


@pytest.fixture(scope="session")
def shipped() -> bn.BayesNet:
    return bn.load("l4l5_knee")


def bench_path(name: str) -> Path:
    for suffix in (".bif", ".bif.gz"):
        path = BENCH / f"{name}{suffix}"
        if path.exists():
            return path
    pytest.fail(f"benchmark network {name} not found in {BENCH}")


_BENCH_CACHE: dict[str, Network] = {}


def bench_network(name: str) -> Network:
    """A standard network with every table row renormalised to sum to 1 exactly.

    Some distributed tables are off by up to 1e-7; engines that prune barren nodes would then differ
    by ~1e-9 for reasons that have nothing to do with correctness.
    """
    if name not in _BENCH_CACHE:
        _BENCH_CACHE[name] = normalised(bn.read_network(bench_path(name)))
    return _BENCH_CACHE[name]


def normalised(network: Network) -> Network:
    variables = {}
    for vid, v in network.variables.items():
        cpt = v.cpt / v.cpt.sum(axis=-1, keepdims=True)
        variables[vid] = Variable(**{**v.__dict__, "cpt": cpt})
    return Network(**{**network.__dict__, "variables": variables})


def brute_force_joint(network: Network, likelihoods: dict[str, np.ndarray]) -> dict[tuple, float]:
    """P(x, e) for every full configuration x, by multiplying table entries one by one (no einsum)."""
    order = list(network.variables)
    out = {}
    for config in itertools.product(*(range(network[v].card) for v in order)):
        assignment = dict(zip(order, config, strict=True))
        p = 1.0
        for v in order:
            var = network[v]
            p *= float(var.cpt[(*(assignment[q] for q in var.parents), assignment[v])])
            if v in likelihoods:
                p *= float(likelihoods[v][assignment[v]])
        out[config] = p
    return out


def brute_force_marginals(network: Network, likelihoods: dict[str, np.ndarray]):
    """(P(e), {variable: posterior vector}) by enumeration."""
    joint = brute_force_joint(network, likelihoods)
    order = list(network.variables)
    p_e = sum(joint.values())
    if p_e == 0.0:
        return 0.0, {}
    marginals = {v: np.zeros(network[v].card) for v in order}
    for config, p in joint.items():
        for v, i in zip(order, config, strict=True):
            marginals[v][i] += p
    return p_e, {v: m / p_e for v, m in marginals.items()}


# -- small network files -----------------------------------------------------------------------------

REFERENCES = {"smith2020": {"citation": "Smith J. A study. J Test 2020;1:1-2.", "measured": "sensitivity"}}


def small_network_doc() -> dict:
    """A valid three-variable network using all three table forms."""
    return {
        "format": "bn-network/1",
        "network": {"id": "tiny", "title": "Tiny", "version": "1.0.0", "changelog": [
            {"version": "1.0.0", "changes": ["first"]}]},
        "references": copy.deepcopy(REFERENCES),
        "variables": [
            {"id": "age", "role": "risk_factor", "states": [{"id": "young"}, {"id": "old"}],
             "cpt": {"table": {"parents": [], "rows": [
                 {"when": {}, "probs": {"young": 0.6, "old": 0.4}, "source": "smith2020"}]}}},
            {"id": "disease", "role": "diagnosis", "states": [{"id": "absent"}, {"id": "present"}],
             "cpt": {"table": {"parents": ["age"], "expert_estimate": "a guess for the test", "rows": [
                 {"when": {"age": "young"}, "probs": {"absent": 0.9, "present": 0.1}, "range": [0.05, 0.2]},
                 {"when": {"age": "old"}, "probs": {"absent": 0.7, "present": 0.3}}]}}},
            {"id": "other", "role": "diagnosis", "states": [{"id": "absent"}, {"id": "present"}],
             "cpt": {"table": {"parents": [], "rows": [
                 {"when": {}, "probs": {"absent": 0.8, "present": 0.2}, "source": "smith2020"}]}}},
            {"id": "sign", "role": "finding", "group": "exam", "states": [{"id": "negative"}, {"id": "positive"}],
             "cpt": {"noisy_or": {
                 "leak": {"p": 0.05, "source": "smith2020", "range": [0.01, 0.1]},
                 "links": [{"parent": "disease", "p": 0.8, "source": "smith2020", "detail": "sens 0.8"},
                           {"parent": "age", "state": "old", "p": 0.1, "expert_estimate": "age effect"}]}}},
            {"id": "any", "role": "mechanism", "states": [{"id": "absent"}, {"id": "present"}],
             "cpt": {"deterministic_or": {"parents": ["disease", "other"], "definition": "either"}}},
        ],
    }


@pytest.fixture
def write_network(tmp_path):
    """Write a network document as YAML and return its path."""

    def write(doc, name: str = "tiny.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False))
        return path

    return write


def finding(at, var: str):
    """An AppTest's control for the finding ``var``, the sidebar's groups opened first: a closed group draws
    nothing (its findings stay in the session), so its controls exist only once it is open."""
    if var not in {c.key for c in at.sidebar.segmented_control}:
        open_all_groups(at)
    return at.segmented_control(key=var)


def open_all_groups(at) -> None:
    """Every finding group of the app's sidebar opened (the pills name them, with a count after any entry)."""
    groups = at.pills(key="open_groups")
    groups.set_value([label.split(" (")[0] for label in groups.options]).run()

"""Property-based tests: random valid networks load and infer exactly; random corruptions give a clean
NetworkFileError, never a crash."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml
from conftest import REFERENCES, brute_force_marginals, small_network_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bn
from bn.errors import NetworkFileError
from bn.netfile import parse_network_text

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def random_network_doc(seed: int) -> dict:
    """A random valid network of 2-6 variables, 2-3 states, every table form, exact-sum rows."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    variables = []
    for i in range(n):
        vid = f"v{i}"
        card = int(rng.integers(2, 4))
        states = [{"id": f"s{j}"} for j in range(card)]
        earlier = variables[:i]
        k = int(rng.integers(0, min(3, len(earlier)) + 1))
        parents = [earlier[j] for j in sorted(rng.choice(len(earlier), size=k, replace=False))] if k else []
        binary_parents = [p for p in parents if len(p["states"]) == 2]
        form = rng.choice(["table", "noisy_or", "deterministic_or"]) if card == 2 and parents else "table"
        if form == "deterministic_or" and not binary_parents:
            form = "table"
        if form == "table":
            rows = []
            for config in np.ndindex(*(len(p["states"]) for p in parents)):
                probs = rng.dirichlet(np.ones(card))
                probs[-1] = 1.0 - float(np.sum(probs[:-1]))  # exact within float rounding
                if probs[-1] < 0:
                    probs = np.full(card, 1.0 / card)
                    probs[-1] = 1.0 - (card - 1) / card
                rows.append({"when": {p["id"]: p["states"][c]["id"] for p, c in zip(parents, config, strict=True)},
                             "probs": {s["id"]: float(x) for s, x in zip(states, probs, strict=True)},
                             "source": "smith2020"})
            cpt = {"table": {"parents": [p["id"] for p in parents], "rows": rows}}
        elif form == "noisy_or":
            links = [{"parent": p["id"], "state": p["states"][int(rng.integers(len(p["states"])))]["id"],
                      "p": float(rng.uniform(0, 1)), "expert_estimate": "random"} for p in parents]
            cpt = {"noisy_or": {"leak": {"p": float(rng.uniform(0, 0.2)), "source": "smith2020"}, "links": links}}
        else:
            cpt = {"deterministic_or": {"parents": [p["id"] for p in binary_parents], "definition": "any"}}
        variables.append({"id": vid, "states": states, "cpt": cpt})
    return {"format": "bn-network/1", "network": {"id": "random", "title": "random", "version": "0.1.0"},
            "references": copy.deepcopy(REFERENCES), "variables": variables}


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), evidence_seed=st.integers(0, 2**32 - 1))
def test_random_valid_networks_load_and_match_brute_force(seed, evidence_seed):
    doc = random_network_doc(seed)
    network = parse_network_text(yaml.safe_dump(doc, sort_keys=False))
    net = bn.load(network)
    rng = np.random.default_rng(evidence_seed)
    hard, soft = {}, {}
    for vid, v in network.variables.items():
        r = rng.uniform()
        if r < 0.25:
            hard[vid] = v.state_ids[int(rng.integers(v.card))]
        elif r < 0.4:
            soft[vid] = {s: float(x) for s, x in zip(v.state_ids, rng.uniform(0.01, 1, v.card), strict=True)}
    ev = bn.Evidence(hard, soft).validate(network)
    p_e, expected = brute_force_marginals(network, ev.likelihoods(network))
    if p_e == 0.0:
        try:
            net.marginals(findings=ev)
        except bn.ImpossibleEvidenceError as exc:
            assert exc.conflict and set(exc.conflict) <= set(hard) | set(soft)
            # the reported conflict really is impossible on its own
            assert net.probability_of_evidence(
                bn.Evidence({k: v for k, v in hard.items() if k in exc.conflict},
                            {k: v for k, v in soft.items() if k in exc.conflict})) == 0.0
        else:
            raise AssertionError("impossible evidence was not reported")
        return
    assert net.probability_of_evidence(ev) == pytest.approx(p_e, rel=1e-9, abs=1e-300)
    ours = net.marginals(findings=ev)
    for vid, v in network.variables.items():
        np.testing.assert_allclose([ours[vid][s] for s in v.state_ids], expected[vid], atol=1e-10)
    # The same case inside batches: 2 cases (small cliques summed by a matrix product) and 11 (by axis sums),
    # next to a case without evidence.
    first = next(iter(network.variables))
    lik = ev.likelihoods(network) or {first: np.ones(network[first].card)}  # the batch needs one vector
    for size in (2, 11):
        batch = {k: np.vstack([np.ones_like(a), *[a] * (size - 1)]) for k, a in lik.items()}
        post, log_z = net.engine.marginals(batch)
        assert np.exp(log_z[1:]) == pytest.approx([p_e] * (size - 1), rel=1e-9, abs=1e-300)
        assert log_z[0] == pytest.approx(0.0, abs=1e-12)
        for vid in network.variables:
            np.testing.assert_allclose(post[vid][1:], np.broadcast_to(expected[vid], post[vid][1:].shape),
                                       atol=1e-10)


def _paths(obj, prefix=()):
    """Every (path, value) inside a nested document."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


REPLACEMENTS = [None, -1, 2.5, "x", [], {}, True, "nope", 0, float("nan"), "1e999", [1, 2]]


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), which=st.integers(0, 10_000), replacement=st.sampled_from(REPLACEMENTS),
       action=st.sampled_from(["replace", "delete"]))
def test_random_corruptions_give_clean_errors(seed, which, replacement, action):
    doc = random_network_doc(seed) if seed % 2 else small_network_doc()
    paths = [p for p, _ in _paths(doc) if p]
    path = paths[which % len(paths)]
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    text = yaml.safe_dump(doc, sort_keys=False)
    try:
        network = parse_network_text(text, "corrupt.yaml")
    except NetworkFileError as exc:
        assert exc.problems and all(p.file == "corrupt.yaml" and p.message for p in exc.problems)
        assert str(exc).startswith("corrupt.yaml")
        return
    # Some corruptions leave a valid network (e.g. deleting an optional label): it must then work.
    for v in network.variables.values():
        assert np.allclose(v.cpt.sum(axis=-1), 1.0, atol=1e-9) and (v.cpt >= 0).all()
    bn.load(network).marginals()


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=200), position=st.integers(0, 10_000))
def test_random_bytes_never_crash_the_loader(data, position):
    text = yaml.safe_dump(small_network_doc(), sort_keys=False).encode()
    i = position % len(text)
    corrupted = text[:i] + data + text[i:]
    try:
        parse_network_text(corrupted, "bytes.yaml")
    except NetworkFileError as exc:
        assert exc.problems


# -- relevance pruning: the pruned answers equal the full tree's -------------------------------------------------

PRUNE_NETWORKS = ("asia", "child", "insurance", "alarm", "hepar2", "win95pts")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), name=st.sampled_from(PRUNE_NETWORKS))
def test_pruned_queries_equal_the_full_tree(seed, name):
    """Barren nodes dropped per query (bn.engine relevance pruning) change no answer: random evidence, random
    targets, posteriors and log P(e) against the same engine with pruning off, to 1e-12."""
    from conftest import bench_network

    from bn.engines import CompiledEngine

    network = bench_network(name)
    rng = np.random.default_rng(seed)
    order = list(network.variables)
    observed = rng.choice(order, size=int(rng.integers(0, 4)), replace=False)
    lik = {v: np.eye(network[v].card)[int(rng.integers(network[v].card))] for v in observed}
    targets = list(rng.choice(order, size=int(rng.integers(1, 4)), replace=False))
    # (one case's own tree in compiled code, which answers from the third query on, has tests of its own)
    pruned, full = CompiledEngine(network, case_tree=False), CompiledEngine(network, prune=False)
    pruned.PRUNE_MIN_STATES = 0  # these small trees would not be pruned in use; force it to test exactness
    for _ in range(pruned.PRUNE_AFTER_SIGHTINGS):  # one case: compiled once the set has been seen this often
        pruned.marginals(lik, targets)
    a, la = pruned.marginals(lik, targets)
    b, lb = full.marginals(lik, targets)
    if not np.isfinite(lb[0]):
        assert not np.isfinite(la[0])
        return
    assert la == pytest.approx(lb, abs=1e-12)
    for t in targets:
        assert a[t] == pytest.approx(b[t], abs=1e-12)
    for _ in range(pruned.PRUNE_AFTER_SIGHTINGS + 1):
        pa, _ = pruned.posterior(targets[:1], lik)
        lp = pruned.log_probability_of_evidence(lik)
    pb, _ = full.posterior(targets[:1], lik)
    assert pa == pytest.approx(pb, abs=1e-12)
    # without P(e): the requisite tables only (d-separated findings dropped), on a fresh engine so that this
    # path, not a pruned tree kept from above, answers; one target and all of them
    bare = CompiledEngine(network)
    bare.PRUNE_MIN_STATES = 0
    for outputs in (targets[:1], targets):
        want, _ = full.posterior(outputs, lik)
        assert bare.conditional(outputs, lik) == pytest.approx(want, abs=1e-12)
    # the joint of all targets (outputs sharing no clique get the relevant part's own tree, planned at once)
    ja, jla = pruned.posterior(targets, lik)
    jb, jlb = full.posterior(targets, lik)
    assert ja == pytest.approx(jb, abs=1e-12) and jla == pytest.approx(jlb, abs=1e-12)
    assert lp == pytest.approx(full.log_probability_of_evidence(lik), abs=1e-12)
    # a batch is pruned at once: every case equals its own full-tree answer
    batch = {v: np.stack([vec, np.ones_like(vec)]) for v, vec in lik.items()}
    if batch:
        got, _ = pruned.marginals(batch, targets)
        for k in range(2):
            one = {v: arr[k] for v, arr in batch.items()}
            want, lw = full.marginals(one, targets)
            if np.isfinite(lw[0]):
                for t in targets:
                    assert got[t][k] == pytest.approx(want[t][0], abs=1e-12)
    keep = pruned._relevant([pruned.position[v] for v in [*lik, *targets]])
    if keep and len(keep) < len(pruned.order):
        assert keep in pruned._pruned  # compiled, or judged not worth it, by now


_ids = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
_likelihoods = st.floats(min_value=1e-300, max_value=1.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(findings=st.dictionaries(_ids, _ids, max_size=4),
       soft=st.dictionaries(_ids, st.dictionaries(_ids, _likelihoods, min_size=2, max_size=3), max_size=3),
       note=st.text(max_size=40))
def test_a_case_file_reads_back_as_the_same_case(findings, soft, note):
    """Whatever the CLI or the app writes (JSON, or the same document as YAML) is read back to the same case:
    Python's JSON writes 1e-05, which YAML 1.1 alone would read as a string (issue 18)."""
    import yaml

    from bn.evidence import Case, Evidence, parse_case

    soft = {k: v for k, v in soft.items() if k not in findings}
    case = Case(Evidence(findings, soft), network="l4l5_knee", note=note)
    for text in (case.to_json(), yaml.safe_dump(case.to_dict())):
        back = parse_case(text)
        assert back.evidence.findings == case.evidence.findings
        assert back.evidence.soft_findings == case.evidence.soft_findings
        assert (back.network, back.note) == (case.network, case.note)

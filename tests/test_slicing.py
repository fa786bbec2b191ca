"""Evidence slicing (bn.engines.slicing): EM's expected counts on trees conditioned on what groups of records
know, against brute-force enumeration and against the full tree."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bn.em import _as_tables
from bn.engines import CompiledEngine, network_plan, plan_junction_tree, slicing
from bn.engines.slicing import expected_counts, groups
from bn.sampling import sample
from tests.conftest import bench_network, brute_force_joint


def _records(network, n: int, rng: np.random.Generator, missing: dict[str, float] | None = None):
    """Records drawn from ``network``, each variable unknown at its own rate (random unless given)."""
    states, _ = sample(network, n, rng)
    codes = {}
    for k, v in enumerate(network.variables):
        col = states[:, k].astype(np.int64)
        rate = (missing or {}).get(v, float(rng.choice([0.0, 0.2, 0.6, 1.0])))
        col[rng.random(n) < rate] = -1
        codes[v] = col
    return codes


def _registry_missing(network, diagnoses: float) -> dict[str, float]:
    """Missing rates as a registry has them: risk factors always known, each diagnosis unknown at ``diagnoses``,
    the mechanisms never known."""
    return {**{v: 0.0 for v in network.by_role("risk_factor")}, **{v: diagnoses for v in network.by_role("diagnosis")},
            **{v: 1.0 for v in network.by_role("mechanism")}}


def _likelihoods(network, codes):
    return {v: np.where((c >= 0)[:, None], np.eye(network[v].card)[np.maximum(c, 0)], 1.0) for v, c in codes.items()}


def _em_engine(network):
    """The engine EM runs on: the learnable tables as full tables, planned without OR chains."""
    update = [v for v in network.variables if network[v].form not in ("deterministic_or", "mixture")]
    start = _as_tables(network, {v: network[v].cpt for v in update})
    return CompiledEngine(start, network_plan(start)), update


def _assert_full_tree_counts(engine, codes, variables, *, weights=None, atol: float = 1e-9) -> None:
    """expected_counts against the full tree's family_expectations on the same records."""
    counts, log_z = expected_counts(engine, codes, variables, weights=weights)
    full, full_log_z = engine.family_expectations(_likelihoods(engine.network, codes), variables, weights=weights)
    np.testing.assert_allclose(log_z, full_log_z, atol=atol)
    for v in variables:
        np.testing.assert_allclose(counts[v], full[v], atol=atol, err_msg=v)


def test_counts_equal_enumeration_impossible_records_included():
    network = bench_network("asia")
    rng = np.random.default_rng(3)
    codes = _records(network, 40, rng, missing={"either": 0.5, "tub": 0.3, "lung": 0.3, "xray": 0.1})
    order = list(network.variables)
    # Two impossible records: "either" is the OR of tuberculosis and lung cancer.
    codes["tub"][:2], codes["lung"][:2], codes["either"][:2] = 0, 1, 1
    assert network["tub"].state_ids[0] == "yes" and network["either"].state_ids[1] == "no"
    weights = rng.integers(1, 5, size=40).astype(float)
    engine = CompiledEngine(network, network_plan(network))
    counts, log_z = expected_counts(engine, codes, order, weights=weights)
    assert np.isneginf(log_z[:2]).all()
    expected = {v: np.zeros([network[u].card for u in (*network[v].parents, v)]) for v in order}
    for n in range(40):
        lik = {v: np.eye(network[v].card)[c[n]] for v, c in codes.items() if c[n] >= 0}
        joint = brute_force_joint(network, lik)
        p_e = sum(joint.values())
        if n < 2:
            assert p_e == 0.0
            continue
        assert log_z[n] == pytest.approx(np.log(p_e), abs=1e-10)
        for config, p in joint.items():
            at = dict(zip(order, config, strict=True))
            for v in order:
                expected[v][tuple(at[u] for u in (*network[v].parents, v))] += weights[n] * p / p_e
    for v in order:
        np.testing.assert_allclose(counts[v], expected[v], atol=1e-10, err_msg=v)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), name=st.sampled_from(["asia", "child", "insurance", "alarm"]))
def test_counts_equal_the_full_tree(seed, name):
    network = bench_network(name)
    rng = np.random.default_rng(seed)
    codes = _records(network, 60, rng)
    weights = rng.random(60)
    engine = CompiledEngine(network, network_plan(network))
    variables = list(network.variables)
    _assert_full_tree_counts(engine, codes, variables, weights=weights, atol=1e-10)


def test_registry_records_split_into_groups_and_match_the_full_tree(shipped, monkeypatch):
    """Records that know the diagnoses and risk factors, and some of them one more finding: the records are
    split (a split made cheap here so that 150 records show it), and every group's tree is smaller than the
    network's, with the same counts."""
    network = shipped.network
    engine, update = _em_engine(network)
    start = engine.network
    rng = np.random.default_rng(11)
    codes = _records(start, 150, rng, missing=_registry_missing(network, 0.0))
    monkeypatch.setattr(slicing, "SETUP_COST", 1_000)
    positions = [engine.position[v] for v in codes]
    matrix = np.stack(list(codes.values()), axis=1)
    parts = groups(matrix >= 0, positions, engine.plan, engine.cards)
    assert len(parts) > 1
    assert sorted(np.concatenate([rows for rows, _ in parts]).tolist()) == list(range(150))
    for rows, columns in parts:
        assert (matrix[rows][:, columns] >= 0).all()
        conditioned = slicing._conditioned(engine, sorted(positions[j] for j in columns))
        assert conditioned.tree.total < engine._tree.total / 50
    _assert_full_tree_counts(engine, codes, update)


def test_a_second_e_step_plans_no_tree(shipped, monkeypatch):
    """EM runs the E-step once an iteration over the same groups: every conditioned tree is planned once, however
    many groups there are (a cache smaller than the groups evicted each tree before its next use)."""
    network = shipped.network
    engine, update = _em_engine(network)
    rng = np.random.default_rng(5)
    codes = _records(engine.network, 400, rng, missing=_registry_missing(network, 0.5))
    monkeypatch.setattr(slicing, "SETUP_COST", 1)  # every split pays: as many groups as MAX_GROUPS allows
    monkeypatch.setattr(slicing, "_TREES", slicing.LRU(slicing._TREES.maxsize))  # empty, of the module's size
    planned = []
    real = slicing.ConditionedTree
    monkeypatch.setattr(slicing, "ConditionedTree", lambda *a: planned.append(a) or real(*a))
    first = expected_counts(engine, codes, update)
    trees = len(planned)
    assert trees > 32  # more trees than the cache held before it was sized to the groups
    second = expected_counts(engine, codes, update)
    assert len(planned) == trees
    for v in update:
        np.testing.assert_array_equal(first[0][v], second[0][v])


def test_a_split_must_pay_for_its_tree():
    """Few records: one group, however much knowing a variable would save."""
    known = np.array([[True, False]] * 5 + [[True, True]] * 5)
    cards = [2, 2]
    tiny = plan_junction_tree(cards, [[0], [0, 1]])
    assert len(groups(known, [0, 1], tiny, cards)) == 1
    many = np.concatenate([known] * 500_000)
    assert len(groups(many, [0, 1], tiny, cards)) == 2


def test_records_missing_a_diagnosis_are_expanded_over_its_values(shipped):
    """A record that does not know one of the conditioned diagnoses counts once per value of it (its cases
    weighed by their share of the record's probability): the same counts as the full tree."""
    network = shipped.network
    engine, update = _em_engine(network)
    start = engine.network
    rng = np.random.default_rng(4)
    codes = _records(start, 120, rng, missing=_registry_missing(network, 0.1))
    names = list(codes)
    matrix = np.stack(list(codes.values()), axis=1)
    positions = [engine.position[v] for v in names]
    cost = slicing._estimator(engine.plan, engine.cards, positions)
    always = np.flatnonzero((matrix >= 0).all(axis=0)).tolist()
    extra, copies = slicing.expansion(matrix >= 0, always, cost, [engine.cards[u] for u in positions])
    assert {network[names[j]].role for j in extra} == {"diagnosis"}  # known in about 90% of the records
    assert copies.tolist() == [2 ** int((matrix[k, extra] < 0).sum()) for k in range(len(matrix))]
    _assert_full_tree_counts(engine, codes, update)


def test_expansion_keeps_rare_columns_out():
    """A column most records do not know would multiply the cases more than it saves."""
    known = np.zeros((100, 2), dtype=bool)
    known[:, 0] = True
    known[:95, 1] = True   # known by 95%: worth expanding the other 5
    cost = {frozenset(): 1000, frozenset({1}): 100}
    estimate = lambda cols: cost[frozenset(cols) - {0}]  # noqa: E731
    assert slicing.expansion(known, [0], estimate, [2, 2])[0] == [1]
    known[:95, 1] = False
    known[:5, 1] = True    # known by 5%: 195 cases on a tree 0.6 times the size would not pay
    cost[frozenset({1})] = 600
    assert slicing.expansion(known, [0], estimate, [2, 2])[0] == []


def _many_children(k: int):
    """A root h and k children, each y with probability 0.01 (h=a) or 0.02 (h=b): a record knowing every child
    has P(e) near 1e-300 or below, all of it in the factors that conditioning on the children gathers."""
    from bn.interop import parse_upload

    parts = ["network toy {}", "variable h { type discrete [ 2 ] { a, b }; }"]
    parts += [f"variable x{i} {{ type discrete [ 2 ] {{ y, n }}; }}" for i in range(k)]
    parts.append("probability ( h ) { table 0.5, 0.5; }")
    parts += [f"probability ( x{i} | h ) {{ (a) 0.01, 0.99; (b) 0.02, 0.98; }}" for i in range(k)]
    return parse_upload("toy.bif", ("\n".join(parts) + "\n").encode())


@pytest.mark.parametrize("k", [184, 200])
def test_records_below_the_smallest_float_are_rescaled(k):
    """Review finding: a record whose probability lies below 1e-308 gave NaN counts (k=184) or was called
    impossible (k=200) when its conditioned tables were not rescaled; the full tree's messages are."""
    network = _many_children(k)
    engine = CompiledEngine(network, network_plan(network))
    codes = {f"x{i}": np.array([0, 0, 1]) for i in range(k)}
    codes["x0"] = np.array([0, 1, 1])
    codes["h"] = np.array([-1, -1, -1])  # never known: its clique gathers every child's factor
    with np.errstate(over="raise", invalid="raise"):  # underflow is expected, and what the rerun is for
        counts, log_z = expected_counts(engine, codes, ["h", "x1"])
    full, full_log_z = engine.family_expectations(_likelihoods(network, codes), ["h", "x1"])
    assert np.isfinite(log_z).all() and log_z[:2].max() < np.log(1e-300)  # the third: an ordinary record
    np.testing.assert_allclose(log_z, full_log_z, rtol=1e-12)
    for v in ("h", "x1"):
        np.testing.assert_allclose(counts[v], full[v], atol=1e-9, err_msg=v)


def test_chunk_boundaries_keep_each_records_cases_together(shipped, monkeypatch):
    """Tiny calibrations (one or a few records each, a record's expanded cases never split): the same counts."""
    network = shipped.network
    engine, update = _em_engine(network)
    start = engine.network
    rng = np.random.default_rng(8)
    codes = _records(start, 40, rng, missing=_registry_missing(network, 0.15))
    expected, expected_log_z = expected_counts(engine, codes, update)
    for states in (1, 5_000):
        monkeypatch.setattr(slicing, "CHUNK_STATES", states)
        counts, log_z = expected_counts(engine, codes, update)
        np.testing.assert_allclose(log_z, expected_log_z, atol=1e-10)
        for v in update:
            np.testing.assert_allclose(counts[v], expected[v], atol=1e-10, err_msg=v)


def test_codes_outside_a_variables_states_are_refused():
    network = bench_network("asia")
    engine = CompiledEngine(network, network_plan(network))
    with pytest.raises(ValueError, match=r"smoke: state codes must lie in -1\.\.1"):
        expected_counts(engine, {"smoke": np.array([0, 2])}, ["lung"])

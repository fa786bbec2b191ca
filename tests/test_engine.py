"""The compiled junction-tree engine against independent oracles.

- pyAgrum's LazyPropagation (C++) on the standard networks, with random hard and soft evidence, for a batch
  of cases answered in one call;
- pgmpy's VariableElimination (the reference engine) on a few networks;
- brute-force enumeration (conftest) for joint queries and next-finding outcomes;
- closed-form answers on a long chain whose P(evidence) underflows a float64.

The large networks (pathfinder, andes, pigs, munin) are parsed by pyAgrum's C++ reader, which takes a
second where pgmpy's BIF reader takes ten or more; both engines then see the same float64 tables.
link is left out: pyAgrum's LazyPropagation does not finish on it within two minutes here, and neither does
pgmpy, so no oracle is available (our engine answers it; see docs/benchmarks.md).
"""

from __future__ import annotations

import gzip
import math
import zlib

import numpy as np
import pyagrum as gum
import pytest
from conftest import bench_network, bench_path, brute_force_joint, brute_force_marginals
from hypothesis import given, settings
from hypothesis import strategies as st
from test_inference_oracles import random_evidence, to_pyagrum

import bn
import bn.engines.junction_tree as engine_module
from bench.run import pyagrum_identifiers
from bn.engines import CompiledEngine, NetworkTooLargeError, PgmpyEngine, network_plan, plan_junction_tree
from bn.limits import current as current_limits
from bn.model import Network, NetworkInfo, State, Variable

TOL = 1e-9


def network_from_pyagrum(model: gum.BayesNet, name: str) -> Network:
    """Our Network with pyAgrum's tables (row-renormalised float64), variables in topological order."""
    variables = {}
    for node in model.topologicalOrder():
        var = model.variable(node)
        cpt = model.cpt(node)
        axes = list(reversed(cpt.names))  # pyAgrum's toarray() puts the first name last
        parents = tuple(n for n in axes if n != var.name())
        table = np.transpose(np.asarray(cpt.toarray(), dtype=float), [axes.index(n) for n in (*parents, var.name())])
        table = table / table.sum(axis=-1, keepdims=True)
        states = tuple(State(label, label) for label in var.labels())
        variables[var.name()] = Variable(var.name(), states, parents, table)
    return Network(NetworkInfo(name, "bench", "0"), variables, source_format="bif")


_LARGE: dict[str, tuple[Network, gum.BayesNet]] = {}


def large_network(name: str, tmp_path_factory) -> tuple[Network, gum.BayesNet]:
    if name not in _LARGE:
        path = bench_path(name)
        if path.suffix == ".gz":
            plain = tmp_path_factory.mktemp(name) / f"{name}.bif"
            plain.write_bytes(gzip.decompress(path.read_bytes()))
            path = plain
        model = gum.loadBN(str(path))
        network = network_from_pyagrum(model, name)
        # Put the renormalised float64 tables back so that pyAgrum answers for exactly the same model.
        for vid, v in network.variables.items():
            cpt = model.cpt(vid)
            axes = list(reversed(cpt.names))
            order = [*v.parents, vid]
            cpt.fillWith(np.transpose(v.cpt, [order.index(n) for n in axes]).ravel().tolist())
        _LARGE[name] = (network, model)
    return _LARGE[name]


def batch_of(network: Network, cases: list[bn.Evidence]) -> dict[str, np.ndarray]:
    """Stack validated cases into one ``{variable: (N, card)}`` likelihood batch (ones where unobserved)."""
    out: dict[str, np.ndarray] = {}
    for k, ev in enumerate(cases):
        for var, vec in ev.likelihoods(network).items():
            out.setdefault(var, np.ones((len(cases), network[var].card)))[k] = vec
    return out


def pyagrum_case(model: gum.BayesNet, network: Network, ev: bn.Evidence, variables=None):
    """(P(e), {variable: posterior}) from LazyPropagation, or (0, None) when pyAgrum finds e impossible."""
    variables = list(network.variables) if variables is None else variables
    ie = gum.LazyPropagation(model)
    try:
        for var, state in ev.findings.items():
            ie.addEvidence(var, network[var].state_index(state))
        for var, lik in ev.soft_findings.items():
            vec = [lik[s] for s in network[var].state_ids]
            ie.addEvidence(var, [x / max(vec) for x in vec])  # soft likelihoods count by their ratios (max 1)
        ie.makeInference()
        return ie.evidenceProbability(), {v: np.asarray(ie.posterior(v).toarray()) for v in variables}
    except gum.IncompatibleEvidence:
        return 0.0, None


def check_batch_against_pyagrum(network: Network, model: gum.BayesNet, cases: list[bn.Evidence],
                                variables: list[str] | None = None) -> int:
    engine = CompiledEngine(network)
    post, log_z = engine.marginals(batch_of(network, cases), variables)
    assert log_z.shape == (len(cases),)
    checked = 0
    for k, ev in enumerate(cases):
        their_p, theirs = pyagrum_case(model, network, ev, variables)
        if theirs is None or their_p == 0.0:
            assert log_z[k] == -math.inf, f"case {k}: pyAgrum finds the evidence impossible, we do not"
            continue
        assert math.exp(log_z[k]) == pytest.approx(their_p, rel=1e-9)
        for var in variables or network.variables:
            np.testing.assert_allclose(post[var][k], theirs[var], atol=TOL, rtol=0, err_msg=f"case {k}: {var}")
        checked += 1
    return checked


def random_cases(network: Network, seed: int, n: int) -> list[bn.Evidence]:
    rng = np.random.default_rng(seed)
    return [random_evidence(network, rng, n_hard=1 + 2 * k, n_soft=k % 3).validate(network) for k in range(n)]


@pytest.mark.parametrize("name", ["asia", "child", "insurance", "alarm", "hepar2", "win95pts"])
def test_batch_marginals_match_pyagrum(name, tmp_path):
    network = pyagrum_identifiers(bench_network(name))
    model = to_pyagrum(network, tmp_path)
    cases = random_cases(network, zlib.crc32(name.encode()), 6)
    assert check_batch_against_pyagrum(network, model, cases) >= 3


@pytest.mark.parametrize("name, n_cases", [("pathfinder", 3), ("andes", 3), ("pigs", 2), ("munin", 1)])
def test_large_networks_match_pyagrum(name, n_cases, tmp_path_factory):
    network, model = large_network(name, tmp_path_factory)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    cases = [random_evidence(network, rng, n_hard=3 + 4 * k, n_soft=2).validate(network) for k in range(n_cases)]
    # munin's single inference takes pyAgrum seconds per case; the marginals of 60 variables are enough there.
    variables = None if name != "munin" else list(network.variables)[::17]
    assert check_batch_against_pyagrum(network, model, cases, variables) >= 1


@pytest.mark.parametrize("name", ["alarm", "insurance"])
def test_posteriors_and_evidence_match_pgmpy(name):
    network = bench_network(name)
    ours, ref = CompiledEngine(network), PgmpyEngine(network)
    rng = np.random.default_rng(5)
    for trial in range(2):
        ev = random_evidence(network, rng, n_hard=2 + trial, n_soft=1).validate(network)
        lik = ev.likelihoods(network)
        p_ref = float(ref.joint((), lik))
        assert math.exp(ours.log_probability_of_evidence(lik)[0]) == pytest.approx(p_ref, rel=1e-9)
        targets = [v for v in network.variables if v not in lik][:4]
        for var in targets:
            expected = ref.joint((var,), lik)
            np.testing.assert_allclose(ours.joint((var,), lik), expected, atol=1e-12, rtol=1e-9)
        pair = (targets[0], targets[-1])  # usually not in one clique: exercises the extra-clique plan
        np.testing.assert_allclose(ours.joint(pair, lik), ref.joint(pair, lik), atol=1e-12, rtol=1e-9)


def test_joint_of_variables_in_different_cliques_matches_brute_force():
    network = bench_network("asia")
    engine = CompiledEngine(network)
    lik = bn.Evidence({"dysp": "yes"}, {"xray": {"yes": 0.8, "no": 0.3}}).validate(network).likelihoods(network)
    outputs = ["asia", "bronc", "either", "smoke"]
    order = list(network.variables)
    expected = np.zeros([network[v].card for v in outputs])
    for config, p in brute_force_joint(network, lik).items():
        expected[tuple(config[order.index(v)] for v in outputs)] += p
    table, log_z = engine.posterior(outputs, lik)
    np.testing.assert_allclose(table[0], expected / expected.sum(), atol=1e-14)
    assert math.exp(log_z[0]) == pytest.approx(expected.sum(), rel=1e-12)


def test_outcome_posteriors_match_brute_force():
    network = bench_network("asia")
    net = bn.load(network)
    ev = bn.Evidence({"smoke": "yes"}, {"dysp": {"yes": 0.9, "no": 0.4}}).validate(network)
    lik = ev.likelihoods(network)
    p_e, _ = brute_force_marginals(network, lik)
    out = net.outcome_posteriors(["lung", "tub"], candidates=["xray", "asia", "either"], findings=ev)
    assert list(out) == ["xray", "asia", "either"]
    for finding, outcomes in out.items():
        for state, outcome in outcomes.items():
            vec = np.zeros(network[finding].card)
            vec[network[finding].state_index(state)] = 1.0
            p_f, marg = brute_force_marginals(network, {**lik, finding: vec})
            assert outcome.probability == pytest.approx(p_f / p_e, abs=1e-14)
            for target in ("lung", "tub"):
                got = [outcome.posterior[target][s] for s in network[target].state_ids]
                np.testing.assert_allclose(got, marg[target], atol=1e-13)


@pytest.mark.parametrize(("targets", "candidates"), [
    (["lung"], ["xray", "asia", "dysp", "bronc"]),          # a row per target state (2 rows against 8)
    (["lung", "tub", "bronc", "either"], ["xray"]),          # a row per candidate state (2 rows against 8)
])
def test_both_ways_of_computing_outcomes_match_brute_force(targets, candidates):
    network = bench_network("asia")
    engine = CompiledEngine(network)
    lik = {"smoke": np.array([1.0, 0.0]), "dysp": np.array([0.9, 0.4])}
    p_outcome, posteriors = engine.outcome_posteriors(targets, candidates, lik)
    p_e, _ = brute_force_marginals(network, lik)
    for f in candidates:
        for i in range(network[f].card):
            vec = np.zeros(network[f].card)
            vec[i] = 1.0
            p_f, marg = brute_force_marginals(network, {**lik, f: vec * lik.get(f, 1.0)})
            assert p_outcome[f][i] == pytest.approx(p_f / p_e, abs=1e-13)
            for t in targets:
                np.testing.assert_allclose(posteriors[f][t][i], marg[t], atol=1e-12)


def test_outcome_posteriors_default_candidates_on_l4l5(knee):
    case = {"knee_pain": "present", "straight_leg_raise": "positive"}
    out = knee.outcome_posteriors("disc_herniation", findings=case)
    findings = knee.network.by_role("finding", "red_flag")
    assert set(out) == set(findings) - {"knee_pain", "straight_leg_raise"}
    # Averaging the posterior over the outcomes gives back today's posterior (the law of total probability).
    today = knee.posterior("disc_herniation", findings=case)
    for outcomes in out.values():
        mixed = sum(o.probability * o.posterior["disc_herniation"]["present"] for o in outcomes.values() if o.posterior)
        assert mixed == pytest.approx(today["present"], abs=1e-12)


def chain(n: int, p_first: float = 0.3, stay: float = 0.7) -> Network:
    """A binary Markov chain x0 -> x1 -> ... with P(x_{i+1} = x_i) = stay."""
    states = (State("a", "a"), State("b", "b"))
    variables = {"x0": Variable("x0", states, (), np.array([1 - p_first, p_first]))}
    for i in range(1, n):
        variables[f"x{i}"] = Variable(f"x{i}", states, (f"x{i - 1}",), np.array([[stay, 1 - stay], [1 - stay, stay]]))
    return Network(NetworkInfo("chain", "1", "0"), variables)


def test_log_evidence_is_exact_where_probability_underflows():
    n, stay = 1500, 0.7
    network = chain(n, stay=stay)
    rng = np.random.default_rng(1)
    x = rng.integers(2, size=n)
    hidden = 700  # leave one variable unobserved and ask for it
    findings = {f"x{i}": "ab"[x[i]] for i in range(n) if i != hidden}
    net = bn.load(network)
    # Closed form: the chain rule over the observed path, with x_hidden summed out.
    log_p = math.log([0.7, 0.3][x[0]])
    for i in range(1, n):
        if i in (hidden, hidden + 1):
            continue
        log_p += math.log(stay if x[i] == x[i - 1] else 1 - stay)
    trans = np.array([[stay, 1 - stay], [1 - stay, stay]])
    through = trans[x[hidden - 1], :] * trans[:, x[hidden + 1]]
    log_p += math.log(through.sum())
    assert log_p < -1000  # far below the smallest float64
    assert net.log_probability_of_evidence(findings) == pytest.approx(log_p, rel=1e-12)
    assert net.probability_of_evidence(findings) == 0.0  # underflows, as a float must
    post = net.posterior(f"x{hidden}", findings=findings)
    np.testing.assert_allclose([post["a"], post["b"]], through / through.sum(), atol=1e-14)
    result = net.query(findings, variables=[f"x{hidden}"], mpe=False)
    assert result.log_probability_of_evidence == pytest.approx(log_p, rel=1e-12)


def test_log_evidence_underflow_in_a_batch_matches_one_case_at_a_time():
    # A batch takes the clique-by-clique path, one case on a small network the level-by-level one: the
    # rescaled recomputation must give the same answers on both.
    network = chain(1200, stay=0.8)
    engine = CompiledEngine(network)
    assert engine._tree.fused
    rng = np.random.default_rng(3)
    cases = []
    for _ in range(3):
        x = rng.integers(2, size=1200)
        cases.append({f"x{i}": np.eye(2)[x[i]] for i in range(1200) if i % 97})
    cases.append({"x5": np.array([0.0, 1.0])})  # P(e) far from underflow
    batch = {v: np.stack([c.get(v, np.ones(2)) for c in cases]) for v in network.variables}
    post, log_z = engine.marginals(batch, ["x97", "x600"])
    assert (log_z[:3] < -300).all() and np.isfinite(log_z).all()
    for k, case in enumerate(cases):
        one, log_one = engine.marginals(case, ["x97", "x600"])
        assert log_z[k] == pytest.approx(log_one[0], rel=1e-12)
        for v in ("x97", "x600"):
            np.testing.assert_allclose(post[v][k], one[v][0], atol=1e-12)


def forest() -> Network:
    """Two unconnected parts (a junction forest with two roots) and a variable on its own."""
    states = (State("n", "n"), State("y", "y"))
    rng = np.random.default_rng(11)

    def cpt(n_parents: int) -> np.ndarray:
        t = rng.uniform(0.05, 1.0, size=(2,) * n_parents + (2,))
        return t / t.sum(axis=-1, keepdims=True)

    parents = {"a": (), "b": ("a",), "c": ("a", "b"), "d": ("c",), "e": (), "f": ("e",), "g": ("e", "f"), "h": ()}
    return Network(NetworkInfo("forest", "1", "0"),
                   {v: Variable(v, states, ps, cpt(len(ps))) for v, ps in parents.items()})


@pytest.mark.parametrize("make", [forest, lambda: bench_network("asia")], ids=["forest", "asia"])
def test_one_case_and_batch_paths_match_brute_force(make):
    network = make()
    engine = CompiledEngine(network)
    rng = np.random.default_rng(21)
    names = list(network.variables)
    cases = []
    for k in range(6):
        chosen = rng.choice(names, size=1 + k % 4, replace=False)
        cases.append({v: (np.eye(network[v].card)[rng.integers(network[v].card)] if j % 2 == 0
                          else rng.uniform(0.05, 1.0, network[v].card)) for j, v in enumerate(chosen)})
    batch = {v: np.stack([c.get(v, np.ones(network[v].card)) for c in cases]) for v in names}
    post, log_z = engine.marginals(batch)
    for k, case in enumerate(cases):
        p_e, exact = brute_force_marginals(network, case)
        one, log_one = engine.marginals(case)
        pair, log_pair = engine.posterior(names[-2:], case)
        assert math.exp(log_z[k]) == pytest.approx(p_e, rel=1e-12)
        assert math.exp(log_one[0]) == pytest.approx(p_e, rel=1e-12)
        assert math.exp(log_pair[0]) == pytest.approx(p_e, rel=1e-12)
        for v in names:
            np.testing.assert_allclose(post[v][k], exact[v], atol=1e-12)
            np.testing.assert_allclose(one[v][0], exact[v], atol=1e-12)
        np.testing.assert_allclose(pair[0].sum(axis=1), exact[names[-2]], atol=1e-12)
        np.testing.assert_allclose(pair[0].sum(axis=0), exact[names[-1]], atol=1e-12)
    assert engine._tree.fused  # single cases went level by level, the batch clique by clique


@pytest.mark.parametrize("make", [forest, lambda: bench_network("asia")], ids=["forest", "asia"])
def test_family_joints_match_brute_force_and_the_reference_engine(make):
    network = make()
    engine, reference = CompiledEngine(network), PgmpyEngine(network)
    names = list(network.variables)
    rng = np.random.default_rng(8)
    for k in range(3):
        chosen = rng.choice(names, size=1 + k, replace=False)
        case = {v: rng.uniform(0.0, 1.0, network[v].card) * (j % 2) + np.eye(network[v].card)[0] * (1 - j % 2)
                for j, v in enumerate(chosen)}
        joint = brute_force_joint(network, case)
        ours, theirs = engine.family_joints(case), reference.family_joints(case)
        for v in names:
            family = (*network[v].parents, v)
            exact = np.zeros([network[u].card for u in family])
            for config, p in joint.items():
                exact[tuple(config[names.index(u)] for u in family)] += p
            np.testing.assert_allclose(ours[v], exact, rtol=1e-10, atol=1e-15, err_msg=v)
            np.testing.assert_allclose(theirs[v], exact, rtol=1e-8, atol=1e-12, err_msg=v)


@pytest.mark.parametrize("make", [forest, lambda: bench_network("asia")], ids=["forest", "asia"])
def test_posterior_samples_follow_the_exact_joint(make):
    network = make()
    engine = CompiledEngine(network)
    names = list(network.variables)
    case = {names[1]: np.array([0.2, 1.0]), names[-2]: np.array([0.0, 1.0])}  # soft and hard evidence
    n = 60_000
    draws = engine.sample_posterior(case, n, np.random.default_rng(4))
    assert draws.shape == (n, len(names)) and draws.min() >= 0
    joint = brute_force_joint(network, case)
    p_e = sum(joint.values())
    # every configuration's count (all variables at once) within 4.5 standard deviations of n p, plus two
    # counts of slack for the rarest ones (p ~ 1e-7 here, where the normal approximation does not hold)
    counts: dict[tuple, int] = {}
    for row in map(tuple, draws.tolist()):
        counts[row] = counts.get(row, 0) + 1
    assert set(counts) <= {c for c, p in joint.items() if p > 0}  # nothing impossible is ever drawn
    for config, p in joint.items():
        p /= p_e
        assert abs(counts.get(config, 0) - n * p) <= 4.5 * math.sqrt(n * p * (1 - p)) + 2, config
    again = engine.sample_posterior(case, n, np.random.default_rng(4))
    np.testing.assert_array_equal(draws, again)  # seeded
    impossible = {names[-2]: np.zeros(2)}
    assert engine.sample_posterior(impossible, 5, np.random.default_rng(0)) is None


def test_impossible_evidence_gives_minus_infinity_without_nan():
    network = bench_network("asia")
    engine = CompiledEngine(network)
    ev = bn.Evidence({"tub": "yes", "either": "no"}).validate(network)
    log_z = engine.log_probability_of_evidence(ev.likelihoods(network))
    assert log_z[0] == -math.inf
    net = bn.load(network)
    with pytest.raises(bn.ImpossibleEvidenceError) as info:
        net.marginals(findings=ev)
    assert set(info.value.conflict) == {"tub", "either"}
    # In a batch an impossible case is marked, not raised, and the other cases are unaffected.
    batch = net.batch_marginals([ev, {"tub": "yes"}], variables=["lung"])
    assert batch.log_probability_of_evidence[0] == -math.inf and np.isnan(batch.marginals["lung"][0]).all()
    assert batch.log_probability_of_evidence[1] == pytest.approx(math.log(0.0104), rel=1e-9)


def test_network_too_large_names_the_treewidth():
    cards = [2] * 31
    families = [[i] for i in range(30)] + [list(range(31))]  # one variable with 30 binary parents
    with pytest.raises(NetworkTooLargeError, match=r"treewidth 30"):
        plan_junction_tree(cards, families, name="wide")


def test_a_bad_tie_break_is_retried_before_a_network_is_refused(tmp_path_factory, monkeypatch):
    # link with its variables in pyAgrum's topological order: greedy min-fill/min-weight with ties broken by
    # variable order needs a clique of 2^27 states; seeded random tie-breaks find the 2^24 tree of the BIF order.
    network, _ = large_network("link", tmp_path_factory)
    monkeypatch.setattr(engine_module, "TIE_BREAK_RETRIES", 0)
    with pytest.raises(NetworkTooLargeError):
        network_plan(network)
    monkeypatch.undo()
    plan = network_plan(network)
    sizes = plan.sizes([network[v].card for v in network.variables])
    assert max(sizes) <= current_limits().clique_entries and sum(sizes) <= current_limits().tree_entries
    assert plan == network_plan(network)  # seeded: the same network always gets the same tree


def test_plan_round_trips_through_json_and_covers_every_family():
    network = bench_network("alarm")
    engine = CompiledEngine(network)
    plan = engine.plan
    again = type(plan).from_json(plan.to_json())
    assert again == plan
    index = {v: i for i, v in enumerate(network.variables)}
    for vid, var in network.variables.items():
        family = {index[vid], *(index[p] for p in var.parents)}
        assert family <= set(plan.cliques[plan.assign[index[vid]]])
    # Running intersection: every variable's cliques form a connected subtree.
    for v in range(len(index)):
        holding = {c for c, members in enumerate(plan.cliques) if v in members}
        roots = [c for c in holding if plan.parent[c] not in holding]
        assert len(roots) == 1


# -- OR chains and batches split by evidence pattern ----------------------------------------------------------

def _random_likelihoods(network, rng, names, size=None):
    shape = (lambda card: (card,)) if size is None else (lambda card: (size, card))
    return {v: rng.random(shape(network[v].card)) + 0.05 for v in names}


def test_or_chains_answer_exactly_as_the_tables_they_replace():
    """A network compiled on its OR chains (bn.decompose) against the same network compiled as written:
    marginals, log P(e), a two-variable joint and a split family's joint, to 1e-12."""
    from bn.decompose import or_chains

    network = bn.load("l4l5_knee@1.1.0").network
    chained = or_chains(network)
    assert chained is not None and len(chained.variables) > len(network.variables)
    as_written = CompiledEngine(network, network_plan(network), prune=False)
    on_chains = CompiledEngine(network, network_plan(chained), prune=False)
    assert on_chains._inner is not network
    split = next(v for v in network.variables if chained[v].parents != network[v].parents)
    rng = np.random.default_rng(7)
    findings = [v for v in network.variables if network[v].role == "finding"]
    for _ in range(5):
        lik = _random_likelihoods(network, rng, rng.choice(findings, 6, replace=False))
        a, za = as_written.marginals(lik)
        b, zb = on_chains.marginals(lik)
        assert set(b) == set(network.variables)  # the hidden chain steps never show
        assert zb == pytest.approx(za, abs=1e-12)
        for v in network.variables:
            assert b[v] == pytest.approx(a[v], abs=1e-12)
        pair = ["disc_herniation", "knee_pain"]
        assert on_chains.joint(pair, lik) == pytest.approx(as_written.joint(pair, lik), abs=1e-12)
        fa, fb = as_written.family_joints(lik, [split]), on_chains.family_joints(lik, [split])
        assert fb[split] == pytest.approx(fa[split], abs=1e-12)
    assert on_chains.sample_posterior({}, 3, rng).shape == (3, len(network.variables))


def test_a_table_that_is_not_an_or_is_left_as_written():
    from bn.decompose import or_chains

    rng = np.random.default_rng(3)
    two = (State("a", "a"), State("b", "b"))
    parents = {f"p{k}": Variable(f"p{k}", two, (), np.array([0.6, 0.4])) for k in range(3)}
    child = Variable("c", two, tuple(parents), rng.dirichlet([1, 1], size=(2, 2, 2)))
    assert or_chains(Network(NetworkInfo("t", "t", "0"), {**parents, "c": child})) is None


def assert_same_answers(one: CompiledEngine, other: CompiledEngine, lik: dict) -> None:
    """Both engines give the same diagnoses, knee-pain sources and log P(e) for every case, to 1e-12."""
    net = one.network
    wanted = [*net.by_role("diagnosis"), *net.knee_pain_sources.values()]
    a, za = one.marginals(lik, wanted)
    b, zb = other.marginals(lik, wanted)
    assert za == pytest.approx(zb, abs=1e-12)
    for v in wanted:
        assert a[v] == pytest.approx(b[v], abs=1e-12)


def test_a_batch_split_by_evidence_pattern_answers_as_one_tree():
    """Cases grouped by which findings they observe, each group on its own pruned tree, against the full
    tree without pruning: the same marginals and log P(e) to 1e-12, in the original case order."""
    net = bn.load("l4l5_knee@2.0.0").network
    grouped, full = CompiledEngine(net), CompiledEngine(net, prune=False)
    assert grouped._cost >= grouped.PRUNE_MIN_STATES
    rng = np.random.default_rng(11)
    findings = [v for v in net.variables if net[v].role == "finding"]
    patterns = [list(rng.choice(findings, 5, replace=False)) for _ in range(3)]
    names = sorted({v for p in patterns for v in p})
    size = 4 * (grouped.PATTERN_MIN_CASES + 8)
    lik = {v: np.ones((size, net[v].card)) for v in names}
    which = rng.permutation(np.arange(size) % 4)  # patterns 0-2 common, 3 the rare rest (one finding each)
    for row, w in enumerate(which):
        for v in (patterns[w] if w < 3 else [names[row % len(names)]]):
            lik[v][row] = rng.random(net[v].card) + 0.05
    assert grouped._by_pattern(lik) is not None
    assert_same_answers(grouped, full, lik)


def test_a_joint_in_no_one_clique_runs_on_the_relevant_parts_own_tree(shipped):
    """The explanation's joint of the diagnoses (no clique holds them all) on l4l5_knee 2.0.0: planned at once on
    the relevant part with the diagnoses in one clique, cached per (relevant set, outputs), and equal to the full
    network's joint tree to 1e-12, for one case and for a batch."""
    net = shipped.network
    pruned, full = CompiledEngine(net), CompiledEngine(net, prune=False)
    diagnoses = shipped.default_map_variables()
    assert pruned._home_clique(diagnoses) is None
    for findings in ({"knee_pain": "present"},
                     {"knee_pain": "present", "straight_leg_raise": "positive", "age_group": "65_plus"}):
        lik = shipped._likelihoods(shipped.evidence(findings))
        got, log_got = pruned.posterior(diagnoses, lik)
        want, log_want = full.posterior(diagnoses, lik)
        assert got.shape == want.shape == (1, *[net[v].card for v in diagnoses])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        np.testing.assert_allclose(log_got, log_want, rtol=0, atol=1e-12)
    assert len(pruned._joint_parts) == 2  # one part per relevant set
    (part, *_) = pruned._joint_parts.values()
    assert len(part.order) < len(pruned._inner_order) and part._home_clique(diagnoses) is not None
    batch = {"knee_pain": np.array([[0.0, 1.0], [1.0, 1.0], [0.3, 0.9]])}
    got, _ = pruned.posterior(diagnoses, batch)
    want, _ = full.posterior(diagnoses, batch)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_one_case_on_its_relevant_part_conditioned_on_what_it_observes(monkeypatch):
    """A case whose relevant part leaves few variables unobserved is answered on that part's tree with its observed
    variables conditioned away (issue 17): against enumeration on asia (hard findings of any weight, soft ones,
    tiny and impossible evidence), and against the full tree on pathfinder, where it is what a query uses."""
    from bn.engines import slicing

    asia = bench_network("asia")
    eng = CompiledEngine(asia)
    # asia's tree is too small for this in use; forced, to compare with enumeration
    eng.PRUNE_MIN_STATES, eng.CONDITION_MAX_SHARE = 0, math.inf
    tiny = {"smoke": [1.0, 0.0], "bronc": [1e-160, 2e-160], "asia": [3e-160, 1e-160], "xray": [1.0, 0.0]}
    cases = [  # (the case, the same case scaled for enumeration, log of the scale)
        ({"smoke": [0.0, 1.0], "xray": [0.3, 0.0]}, None, 0.0),  # hard findings, one of weight 0.3
        ({"asia": [1.0, 0.0], "dysp": [0.2, 0.7], "xray": [0.0, 1.0]}, None, 0.0),  # soft evidence beside hard
        # P(e) about 1e-320, below the smallest normal float: only the rescaled rerun keeps its digits
        (tiny, {**tiny, "bronc": [1.0, 2.0], "asia": [3.0, 1.0]}, 2 * math.log(1e-160)),
        ({"tub": [1.0, 0.0], "lung": [1.0, 0.0], "either": [0.0, 1.0]}, None, 0.0),  # impossible: "either" = OR
    ]
    for case, scaled, log_scale in cases:
        lik = {v: np.asarray(x) for v, x in case.items()}
        targets = [v for v in ("bronc", "lung", "tub", "dysp") if v not in case or np.count_nonzero(case[v]) > 1]
        got = eng._conditioned_case(lik, targets)
        assert got is not None  # the path under test was taken
        marginals, log_z = got
        p_e, want = brute_force_marginals(asia, {v: np.asarray(x) for v, x in (scaled or case).items()})
        if p_e == 0.0:
            assert log_z[0] == -math.inf and all(np.isnan(m).all() for m in marginals.values())
            continue
        assert log_z[0] == pytest.approx(math.log(p_e) + log_scale, abs=1e-9)
        for v in targets:
            np.testing.assert_allclose(marginals[v][0], want[v], rtol=0, atol=1e-12)
    assert eng._conditioned_case({"xray": np.array([0.0, 1.0])}, ["xray"]) is None  # an observed output

    # pathfinder: one posterior per fresh pattern, taken by this path for most, the same numbers as the full tree;
    # the same pattern with other values plans no tree again
    net = bench_network("pathfinder")
    ours, full = CompiledEngine(net), CompiledEngine(net, prune=False)
    planned = []
    real = slicing.ConditionedTree
    monkeypatch.setattr(slicing, "ConditionedTree", lambda *a: planned.append(a) or real(*a))
    rng = np.random.default_rng(7)
    order = list(net.variables)
    used = 0
    for _ in range(6):
        observed = rng.choice(order[1:], size=10, replace=False)
        for repeat in range(2):
            lik = {v: np.eye(net[v].card)[int(rng.integers(net[v].card))] for v in observed}
            want, log_want = full.posterior([order[0]], lik)
            if not np.isfinite(log_want[0]):
                continue
            before = len(planned)
            got, log_got = ours.posterior([order[0]], lik)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
            assert log_got[0] == pytest.approx(log_want[0], abs=1e-9)
            if repeat:
                assert len(planned) == before
        used += any(v is not None for v in list(ours._conditioned.values())[-1:])
    assert used >= 3


def test_the_lru_tolerates_another_thread_evicting_between_its_steps():
    """App sessions share an engine's caches from their own threads (the review reproduced KeyErrors with 8
    threads on one engine): a key evicted after it was found, or an eviction that finds the cache emptied, is
    not an error. Each interleaving is forced here, so the test does not depend on thread timing."""
    from bn.engines.junction_tree import LRU

    class EvictedMeanwhile(LRU):
        def move_to_end(self, key, last=True):
            self.pop(key, None)  # another thread evicted it after this one read it
            super().move_to_end(key, last)

    cache = EvictedMeanwhile(2)
    cache.get_or("a", lambda: 1)
    assert cache.get_or("a", lambda: 2) == 1

    class EmptiedMeanwhile(LRU):
        def popitem(self, last=True):
            self.clear()  # another thread evicted everything first
            return super().popitem(last)

    cache = EmptiedMeanwhile(1)
    cache.get_or("a", lambda: 1)
    assert cache.get_or("b", lambda: 2) == 2 and len(cache) <= 1


def test_tiny_likelihoods_in_one_clique_are_not_taken_for_impossible():
    """Two likelihoods of about 1e-170 entered into one clique multiply to 1e-340 before any message is rescaled:
    the rescaled rerun divides each likelihood by its largest entry first, so P(e) (about 1e-340) is reported, not
    impossible, on every path: the full tree (one case, a batch), the pruned and the conditioned ones."""
    asia = bench_network("asia")
    lik = {"smoke": np.array([1.0, 0.0]), "bronc": np.array([1e-170, 2e-170]), "dysp": np.array([3e-170, 1e-170])}
    p_e, want = brute_force_marginals(asia, {**lik, "bronc": np.array([1.0, 2.0]), "dysp": np.array([3.0, 1.0])})
    log_p_e = math.log(p_e) + 2 * math.log(1e-170)
    for prune in (False, True):
        eng = CompiledEngine(asia, prune=prune)
        eng.PRUNE_MIN_STATES, eng.CONDITION_MAX_SHARE = 0, math.inf
        batch = {v: np.stack([a, a]) for v, a in lik.items()}
        for case in (lik, batch):
            marginals, log_z = eng.marginals(case, ["lung", "tub"])
            np.testing.assert_allclose(log_z, log_p_e, rtol=0, atol=1e-9)
            np.testing.assert_allclose(marginals["lung"][0], want["lung"], rtol=0, atol=1e-12)
        assert eng.log_probability_of_evidence(lik)[0] == pytest.approx(log_p_e, abs=1e-9)
        table, log_z = eng.posterior(["tub"], lik)
        assert log_z[0] == pytest.approx(log_p_e, abs=1e-9)
        np.testing.assert_allclose(table[0], want["tub"], rtol=0, atol=1e-12)


def test_malformed_likelihoods_keep_the_full_trees_behaviour():
    """The conditioned path takes only one case's well-formed vectors: anything else goes the way it always did."""
    asia = bench_network("asia")
    eng = CompiledEngine(asia)
    eng.PRUNE_MIN_STATES, eng.CONDITION_MAX_SHARE = 0, math.inf
    good = {"xray": np.array([0.0, 1.0])}
    assert eng._conditioned_case({**good, "smoke": np.array([1.0, 0.0])}, ["lung"]) is not None
    for bad in ([1.0], [0.0, 1.0, 0.0], [-1.0, 0.0], [np.nan, 0.0], [np.inf, 0.0], 1.0, [[1.0, 0.0], [0.0, 1.0]]):
        assert eng._conditioned_case({**good, "smoke": np.array(bad)}, ["lung"]) is None, bad
    assert eng._conditioned_case(good, []) is None


def test_duplicate_cases_are_answered_once_with_the_same_numbers():
    """A batch with repeated cases (hard findings on a few patterns, and soft ones) merged to its distinct cases,
    against the same engine answering every case: the same marginals and log P(e), in the original order."""
    net = bn.load("l4l5_knee@2.0.0").network
    merged, every = CompiledEngine(net), CompiledEngine(net, merge_duplicates=False)
    rng = np.random.default_rng(5)
    findings = [v for v in net.variables if net[v].role == "finding" and net[v].card == 2]
    patterns = [list(rng.choice(findings, 4, replace=False)) for _ in range(3)]
    size = 300
    lik = {v: np.ones((size, 2)) for p in patterns for v in p}
    for row in range(size):
        for v in patterns[row % 3]:
            lik[v][row] = np.eye(2)[rng.integers(2)] if row % 10 else rng.random(2) + 0.05  # 1 in 10 soft
    distinct = merged._distinct(lik)
    assert distinct is not None and len(distinct[1]) == size
    assert len(np.unique(distinct[1])) < merged.DISTINCT_MAX_SHARE * size  # merging happened
    assert_same_answers(merged, every, lik)


@given(st.lists(st.lists(st.integers(0, 2), min_size=3, max_size=3), min_size=1, max_size=40))
@settings(max_examples=60, deadline=None, derandomize=True)
def test_distinct_rows_groups_exactly_as_numpy_unique(rows):
    from bn.engines.junction_tree import distinct_rows

    matrix = np.array(rows, dtype=float)
    first, inverse = distinct_rows(matrix)
    assert np.array_equal(matrix[first][inverse], matrix)  # every row maps to a row equal to it
    assert len(first) == len(np.unique(matrix, axis=0))  # and equal rows share one group


@given(st.lists(st.lists(st.integers(-1, 2), min_size=3, max_size=3), min_size=1, max_size=40))
@settings(max_examples=40, deadline=None, derandomize=True)
def test_distinct_rows_groups_integer_codes_exactly_as_numpy_unique(rows):
    from bn.engines.junction_tree import distinct_rows

    matrix = np.array(rows, dtype=np.int64)  # EM's state codes: -1 for unknown
    first, inverse = distinct_rows(matrix)
    assert np.array_equal(matrix[first][inverse], matrix)
    assert len(first) == len(np.unique(matrix, axis=0))


def test_distinct_rows_survives_a_hash_collision(monkeypatch):
    import bn.engines.junction_tree as jt

    monkeypatch.setattr(jt, "_ROW_WEIGHTS", np.zeros(4096, dtype=np.uint64))  # every row hashes to 0
    matrix = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    first, inverse = jt.distinct_rows(matrix)
    assert np.array_equal(matrix[first][inverse], matrix) and len(first) == 2


@pytest.mark.parametrize("kind", ["state codes", "one-hot likelihoods"])
def test_distinct_rows_hashes_whole_numbers_without_collisions(kind, monkeypatch):
    """EM's state codes and batches of hard findings (rows of small whole numbers, or of 0.0 and 1.0): their keys
    must differ, or every grouping falls back to the slow ``np.unique`` over rows (EM's search for the distinct
    records among a million took 28.7 s that way, 9.1 s hashed)."""
    import bn.engines.junction_tree as jt

    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 3, size=(20_000, 40))
    matrix = codes if kind == "state codes" else np.eye(4)[codes + 1].reshape(len(codes), -1)
    calls = []
    real_unique = np.unique
    monkeypatch.setattr(jt.np, "unique", lambda a, **k: calls.append(k.get("axis")) or real_unique(a, **k))
    first, inverse = jt.distinct_rows(matrix)
    assert calls == [None]  # only the keys were sorted: no fallback over rows
    assert np.array_equal(matrix[first][inverse], matrix) and len(first) == len(real_unique(matrix, axis=0))


def test_engine_caches_are_bounded_and_evict_the_least_recently_used(knee):
    """The engine is shared by every app session: its caches hold at most their bound, evicting one at a time."""
    from bn.engines import CompiledEngine

    engine = CompiledEngine(knee.network)
    names = list(knee.network.variables)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    engine._extra_trees.maxsize = 5
    asked = []
    for a, b in pairs:
        if engine._tree_for([a, b])[0] is not engine._tree:
            asked.append(frozenset([a, b]))
        if len(asked) == 8:
            break
    assert len(asked) == 8 and len(engine._extra_trees) == 5
    assert list(engine._extra_trees) == asked[-5:]  # the oldest three went, one at a time
    engine._tree_for(list(asked[3]))  # used again: now the most recent
    assert list(engine._extra_trees)[-1] == asked[3]


@pytest.mark.parametrize("name", ["l4l5_knee", "pathfinder"])
def test_queries_from_the_collected_prior_equal_those_from_the_tables(name, monkeypatch):
    """A query towards the tree's first centre starts from the collected prior and multiplies in ratios to the
    prior messages; with that turned off it collects from the clique tables. One case and a batch, hard and soft
    findings (likelihoods above 1 included), tiny likelihoods (the rescaled path): the same numbers to 1e-12."""
    jt = engine_module
    network = bn.load("l4l5_knee").network if name == "l4l5_knee" else bench_network(name)
    rng = np.random.default_rng(5)
    names = list(network.variables)
    cases = []
    for _ in range(6):
        picked = rng.choice(len(names), size=6, replace=False)
        lik = {}
        for k, i in enumerate(picked):
            card = network[names[i]].card
            lik[names[i]] = np.eye(card)[rng.integers(card)] if k % 3 else rng.uniform(0.0, 3.0, card)
        cases.append(lik)
    batch = {v: np.stack([c.get(v, np.ones(network[v].card)) for c in cases]) for v in {v for c in cases for v in c}}
    tiny = {v: a * 1e-200 for v, a in cases[0].items()}
    answers = []
    for limit in (jt._COLLECTED_LIMIT, 0):
        monkeypatch.setattr(jt, "_COLLECTED_LIMIT", limit)
        engine = CompiledEngine(network, prune=False)
        assert engine._tree.fused is False  # the per-clique path, where the collected prior is used
        answers.append([engine.marginals(c) for c in (*cases, batch, tiny)])
        assert (engine._tree._collected is not None) == (limit > 0)
    for (got, got_z), (want, want_z) in zip(*answers, strict=True):
        np.testing.assert_allclose(got_z, want_z, rtol=1e-12)
        for v in want:
            np.testing.assert_allclose(got[v], want[v], rtol=0, atol=1e-12)


def test_the_collected_prior_is_not_used_where_prior_messages_underflow(monkeypatch):
    """A prior message entry below 1e-300 is lost (or floored) in the collected prior, so the rescaled run, which
    is for P(e) under 1e-280, collects from the clique tables: here P(e) = 1e-400, and a batch (the views path)
    must give its log and the posterior exactly (the review's case; NaN and -inf before the fix)."""
    states = (State("no", "no"), State("yes", "yes"))

    def var(name, parents, cpt):
        return Variable(name, states, tuple(parents), np.array(cpt, dtype=float))

    variables = {"A": var("A", [], [1 - 1e-200, 1e-200]), "B": var("B", ["A"], [[1, 0], [0, 1]]),
                 "C": var("C", ["B"], [[1, 0], [1 - 1e-200, 1e-200]]), "D": var("D", ["C"], [[0.3, 0.7], [0.6, 0.4]])}
    variables |= {f"F{i}": var(f"F{i}", ["D"], [[0.2, 0.8], [0.9, 0.1]]) for i in range(8)}
    network = Network(NetworkInfo("tiny", "tiny", "0"), variables)
    monkeypatch.setattr(engine_module, "_FUSED_LIMIT", 0)  # one case on the per-clique path too
    engine = CompiledEngine(network, prune=False)
    for size in (1, 2):
        lik = {"B": np.tile([0.0, 1.0], (size, 1)), "C": np.tile([0.0, 1.0], (size, 1))}
        marginals, log_z = engine.marginals(lik)
        np.testing.assert_allclose(log_z, 400 * math.log(10) * -1, rtol=1e-12)
        np.testing.assert_allclose(marginals["A"], np.tile([0.0, 1.0], (size, 1)), atol=1e-12)
        np.testing.assert_allclose(marginals["D"], np.tile([0.6, 0.4], (size, 1)), atol=1e-12)

"""One posterior on its requisite tables (``bn.engines.requisite``), against independent oracles.

- Bayes-ball's requisite tables against networkx's d-separation test on the network with a parameter parent
  added to each variable (Shachter 1998: a table is needed exactly when its parameter node is d-connected to the
  targets given the evidence), soft findings as observed virtual children;
- the posterior against brute-force enumeration, on random networks with zeros in their tables;
- the possibility proof never claims findings of probability zero possible;
- on andes and pathfinder (where the engine takes this path), the same numbers as the full tree.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import pytest
from conftest import bench_network, brute_force_joint, brute_force_marginals
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine import large_network

import bn
from bn.engines import CompiledEngine
from bn.engines.requisite import Requisite
from bn.model import Network, NetworkInfo, State, Variable
from bn.sampling import sample


def random_network(rng: np.random.Generator, n: int, zeros: float | Sequence[float]) -> Network:
    """A random DAG of ``n`` variables (2-3 states, up to 3 parents), a share ``zeros`` of table entries set to
    zero (each row keeps one positive entry); given several shares, each table's is drawn among them."""
    variables: dict[str, Variable] = {}
    names = [f"v{i}" for i in range(n)]
    for i, name in enumerate(names):
        card = int(rng.integers(2, 4))
        k = int(rng.integers(0, min(3, i) + 1))
        parents = tuple(names[j] for j in sorted(rng.choice(i, size=k, replace=False))) if k else ()
        shape = (*(variables[p].card for p in parents), card)
        table = rng.dirichlet(np.ones(card), size=int(np.prod(shape[:-1]))).reshape(shape)
        draws = rng.uniform(size=shape)
        mask = draws < (zeros if isinstance(zeros, float) else rng.choice(zeros))
        keep = rng.integers(card, size=shape[:-1])
        np.put_along_axis(mask, keep[..., None], False, axis=-1)
        table = np.where(mask, 0.0, table)
        table /= table.sum(axis=-1, keepdims=True)
        variables[name] = Variable(name, tuple(State(f"s{j}", f"s{j}") for j in range(card)), parents, table)
    return Network(NetworkInfo("random", "random", "0"), variables)


def random_query(network: Network, rng: np.random.Generator):
    """Targets, hard findings {index: state} and soft ones {index: likelihood}."""
    order = list(network.variables)
    picks = rng.permutation(len(order))
    n_targets = int(rng.integers(1, 3))
    targets = [int(i) for i in picks[:n_targets]]
    hard, soft = {}, {}
    for i in picks[n_targets:]:
        r = rng.uniform()
        card = network[order[i]].card
        if r < 0.4:
            hard[int(i)] = int(rng.integers(card))
        elif r < 0.55:
            lik = rng.uniform(0, 1, card)
            lik[rng.integers(card)] = 0.0 if rng.uniform() < 0.5 else lik[0]
            soft[int(i)] = lik
    return targets, hard, soft


def likelihoods_of(network: Network, hard: dict[int, int], soft: dict[int, np.ndarray]) -> dict[str, np.ndarray]:
    order = list(network.variables)
    out = {order[i]: np.eye(network[order[i]].card)[s] for i, s in hard.items()}
    out.update({order[i]: np.asarray(lik, dtype=float) for i, lik in soft.items()})
    return out


def enumerated_conditional(network: Network, targets, lik: dict[str, np.ndarray]) -> np.ndarray:
    """P(targets | evidence), one axis per target, by enumeration of the joint."""
    order = list(network.variables)
    want = np.zeros([network[order[t]].card for t in targets])
    for config, p in brute_force_joint(network, lik).items():
        want[tuple(config[t] for t in targets)] += p
    return want / want.sum()


def requisite_by_d_separation(network: Network, targets, hard, soft) -> set[int]:
    """Shachter's characterisation, decided by networkx: variable X's table is needed for P(targets | evidence)
    exactly when a new parent of X (its parameter) is d-connected to the targets given the evidence."""
    order = list(network.variables)
    graph = nx.DiGraph()
    graph.add_nodes_from(order)
    graph.add_edges_from((p, v) for v in order for p in network[v].parents)
    observed = {order[i] for i in hard}
    for i in soft:
        graph.add_edge(order[i], f"virtual:{order[i]}")
        observed.add(f"virtual:{order[i]}")
    for v in order:
        graph.add_edge(f"theta:{v}", v)
    wanted = {order[t] for t in targets}
    return {i for i, v in enumerate(order) if not nx.is_d_separator(graph, {f"theta:{v}"}, wanted, observed)}


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_bayes_ball_finds_exactly_the_tables_d_separation_says_are_needed(seed):
    rng = np.random.default_rng(seed)
    network = random_network(rng, int(rng.integers(3, 11)), zeros=0.0)
    targets, hard, soft = random_query(network, rng)
    got = set(Requisite(network).requisite(targets, hard=hard, soft=soft))
    assert got == requisite_by_d_separation(network, targets, hard, soft)


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), zeros=st.sampled_from([0.0, 0.15, 0.4]))
def test_the_posterior_on_requisite_tables_is_the_enumerated_one(seed, zeros):
    """Exact where it answers; possible only where P(evidence) > 0; and it answers every query whose tables
    have no zero (the proof then needs nothing)."""
    rng = np.random.default_rng(seed)
    network = random_network(rng, int(rng.integers(3, 9)), zeros=zeros)
    targets, hard, soft = random_query(network, rng)
    req = Requisite(network)
    lik = likelihoods_of(network, hard, soft)
    p_e = brute_force_marginals(network, lik)[0]
    if req.possible(hard, soft):
        assert p_e > 0
    got = req.conditional(targets, hard, soft)
    if zeros == 0.0 and all(np.all(x > 0) for x in soft.values()):
        assert got is not None
    if got is None:
        return
    assert p_e > 0
    np.testing.assert_allclose(got, enumerated_conditional(network, targets, lik), rtol=0, atol=1e-12)


def test_the_possibility_proof_is_complete_where_zeros_do_not_meet():
    """A finding of zero probability under some parent configuration does not send the query to the full tree
    when the findings can occur together; when they cannot, the proof fails and the engine says impossible."""
    states = (State("no", "no"), State("yes", "yes"))
    variables = {
        "cause": Variable("cause", states, (), np.array([0.7, 0.3])),
        # "sign" never appears without the cause; "test" is never positive with it
        "sign": Variable("sign", states, ("cause",), np.array([[1.0, 0.0], [0.4, 0.6]])),
        "test": Variable("test", states, ("cause",), np.array([[0.5, 0.5], [1.0, 0.0]])),
        "other": Variable("other", states, (), np.array([0.5, 0.5])),
        # the proof must walk through an unobserved variable with zeros: "step" copies "cause", and "late" is
        # never positive unless "step" is
        "step": Variable("step", states, ("cause",), np.eye(2)),
        "late": Variable("late", states, ("step",), np.array([[1.0, 0.0], [0.2, 0.8]])),
    }
    network = Network(NetworkInfo("toy", "toy", "0"), variables)
    req = Requisite(network)
    sign, test, other, late = 1, 2, 3, 5
    assert req.possible({sign: 1}, {})
    assert req.possible({sign: 1, test: 0}, {})
    assert not req.possible({sign: 1, test: 1}, {})  # impossible: not proven, never claimed
    assert req.possible({late: 1, sign: 1}, {})
    assert not req.possible({late: 1, test: 1}, {})  # late needs the cause, which the test rules out
    assert not req.possible({test: 1}, {late: np.array([0.0, 1.0])})  # the same as soft evidence
    assert req.possible({test: 1}, {late: np.array([0.5, 1.0])})
    # d-separated from the target, and still checked: "other" needs its own table only, yet the answer is None
    assert req.requisite([other], hard={sign: 1, test: 1}, soft={}) == (other,)
    assert req.conditional([other], {sign: 1, test: 1}) is None
    assert req.conditional([other], {sign: 1}) == pytest.approx(np.array([0.5, 0.5]))

    eng = CompiledEngine(network)
    eng.PRUNE_MIN_STATES = 0  # a toy: forced onto the path
    impossible = likelihoods_of(network, {sign: 1, test: 1}, {})
    assert np.isnan(eng.conditional(["other"], impossible)).all()
    with pytest.raises(bn.ImpossibleEvidenceError):
        bn.load(network).posterior("other", findings={"sign": "yes", "test": "yes"})


def _gated_network() -> Network:
    """A root "gate" that is never on; "copy" follows it, so it is never on either; "sign" is zero only when
    the gate is on (a configuration that never occurs); "flag" is on only when the copy is (so never)."""
    states = (State("off", "off"), State("on", "on"))
    variables = {
        "gate": Variable("gate", states, (), np.array([1.0, 0.0])),
        "copy": Variable("copy", states, ("gate",), np.eye(2)),
        "sign": Variable("sign", states, ("gate",), np.array([[0.3, 0.7], [1.0, 0.0]])),
        "flag": Variable("flag", states, ("copy",), np.array([[1.0, 0.0], [0.0, 1.0]])),
        "other": Variable("other", states, ("sign",), np.array([[0.6, 0.4], [0.1, 0.9]])),
    }
    return Network(NetworkInfo("gated", "gated", "0"), variables)


def test_zeros_under_parent_states_that_never_occur_need_no_proof():
    """A table's zeros under a configuration of its parents that cannot occur (munin's deterministic nodes) do
    not make a finding unsafe, so nothing is walked; a variable held to the states it can take is held there
    in the proof: the same finding under a state that never occurs is not proven possible."""
    network = _gated_network()
    req = Requisite(network)
    gate, copy, sign, flag = 0, 1, 2, 3
    assert [s.tolist() for s in req._support] == [[True, False], [True, False], [True, True], [True, False],
                                                  [True, True]]
    assert req._walk({sign: 1}, {}) is None  # "sign" on is zero only under a gate that is never on
    assert req.possible({sign: 1}, {})
    # "flag" on needs the copy on: its table is walked, the copy (standing: its one possible state is positive
    # under the gate's one possible state) is held to "off", and nothing is positive
    assert req._walk({flag: 1}, {}) == ((flag,), (), (copy,))
    assert not req.possible({flag: 1}, {})
    assert req.possible({flag: 0, sign: 1}, {})
    assert req.conditional([4], {flag: 1}) is None
    assert req.conditional([gate], {sign: 1}) == pytest.approx(np.array([1.0, 0.0]))


def random_deterministic_network(rng: np.random.Generator, n: int) -> Network:
    """A random DAG whose tables are mostly functions of their parents (one state per row, sometimes two), and
    whose roots often rule a state out: many zeros under configurations that can and cannot occur."""
    return random_network(rng, n, zeros=(0.5, 0.8))


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_proof_never_claims_impossible_findings_possible_on_nearly_deterministic_networks(seed):
    """Soundness where it is most at risk: states that can never occur, zeros under them and under possible
    configurations, hard and soft findings; and every answer still the enumerated one."""
    rng = np.random.default_rng(seed)
    network = random_deterministic_network(rng, int(rng.integers(3, 9)))
    targets, hard, soft = random_query(network, rng)
    req = Requisite(network)
    lik = likelihoods_of(network, hard, soft)
    p_e = brute_force_marginals(network, lik)[0]
    if req.possible(hard, soft):
        assert p_e > 0
    got = req.conditional(targets, hard, soft)
    if got is None:
        return
    np.testing.assert_allclose(got, enumerated_conditional(network, targets, lik), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("name", "least"), [("andes", 2), ("pathfinder", 7), ("pigs", 7), ("l4l5_knee", 7),
                                             ("munin", 3), ("link", 2)])
def test_large_networks_answer_as_the_full_tree(name, least, tmp_path_factory):
    """Where the engine takes this path (a root given a tenth of the variables, as in bench.run's one-posterior
    query), the numbers are the full tree's. On andes most roots given 22 findings need 110-160 tables, too many
    to sum out one at a time: those queries are answered on the junction tree. munin's findings have zeros
    under parent states that occur and under others that never do (its possibility proofs are the ones the
    possible states shorten); link's trees are the largest in reach."""
    if name in ("munin", "link"):
        network, _ = large_network(name, tmp_path_factory)  # pyAgrum's reader: ours takes 4-7 s on these
    else:
        network = bn.load("l4l5_knee").network if name == "l4l5_knee" else bench_network(name)
    order = list(network.variables)
    ours, full = CompiledEngine(network), CompiledEngine(network, prune=False)
    req = Requisite(network)
    roots = [v for v in order if not network[v].parents]
    rng = np.random.default_rng(11)
    taken = 0
    for _ in range(8):
        target = roots[int(rng.integers(len(roots)))]
        # findings drawn from the network, so that they are possible
        draw = sample(network, 1, rng)[0][0]
        observed = [v for v in rng.choice(order, size=len(order) // 10, replace=False) if v != target]
        lik = {v: np.eye(network[v].card)[draw[order.index(v)]] for v in observed}
        want = full.posterior([target], lik)[0]
        hard = {ours.position[v]: int(np.argmax(x)) for v, x in lik.items()}
        taken += req.conditional([ours.position[target]], hard, budget=ours.REQUISITE_SHARE * ours._cost) is not None
        np.testing.assert_allclose(ours.conditional([target], lik), want, rtol=0, atol=1e-12)
    assert taken >= least  # the path under test answered these


def test_net_posterior_on_a_large_network_takes_this_path_and_agrees(monkeypatch):
    """``net.posterior`` asks the engine's ``conditional``: on andes, a finding that is d-separated from the
    target leaves its prior, through the requisite path, and the full tree agrees."""
    network = bench_network("andes")
    net = bn.load(network)
    order = list(network.variables)
    target = order[0]
    calls = []
    real = Requisite.conditional
    monkeypatch.setattr(Requisite, "conditional", lambda self, *a, **k: calls.append(a) or real(self, *a, **k))
    draw = sample(network, 1, np.random.default_rng(3))[0][0]
    findings = {v: network[v].state_ids[draw[i]] for i, v in enumerate(order) if i % 9 == 4}
    got = net.posterior(target, findings=findings)
    assert calls and calls[-1][0] == [order.index(target)]
    full = CompiledEngine(network, prune=False)
    lik = {v: np.eye(network[v].card)[network[v].state_ids.index(s)] for v, s in findings.items()}
    assert list(got.values()) == pytest.approx(full.posterior([target], lik)[0][0].tolist(), abs=1e-12)


def test_a_root_with_more_observed_children_than_einsum_takes_operands():
    """pathfinder's Fault has 106 children: with 70 observed, one elimination step has 70 factors (numpy's
    einsum takes 64). Found by review: ``net.posterior`` raised 'too many operands'."""
    network = bench_network("pathfinder")
    order = list(network.variables)
    draw = sample(network, 1, np.random.default_rng(0))[0][0]  # a possible case
    children = [v for v in order if "Fault" in network[v].parents]
    findings = {v: network[v].state_ids[draw[order.index(v)]] for v in children[:70]}
    lik = {v: np.eye(network[v].card)[network[v].state_ids.index(s)] for v, s in findings.items()}
    full = CompiledEngine(network, prune=False)
    net = bn.load(network)
    for target in ("Fault", children[70]):
        want = full.posterior([target], lik)[0][0]
        assert list(net.posterior(target, findings=findings).values()) == pytest.approx(want.tolist(), abs=1e-12)


def test_findings_whose_product_underflows_keep_their_digits():
    """Four findings of probability about 1e-81 each: P(target, e) is about 1e-322, a subnormal float with few
    digits left. Found by review: the answer was 0.0304 where the exact one is 0.0315."""
    from fractions import Fraction

    states = (State("a", "a"), State("b", "b"))
    x, y = 3.1e-81, 7.3e-81
    variables = {"T": Variable("T", states, (), np.array([0.5, 0.5]))}
    for i in range(4):
        variables[f"E{i}"] = Variable(f"E{i}", states, ("T",), np.array([[1.0 - x, x], [1.0 - y, y]]))
    # an unrelated part with a big clique, so that the engine's tree is large enough for this path
    rng = np.random.default_rng(0)
    roots = [f"r{i}" for i in range(14)]
    for r in roots:
        variables[r] = Variable(r, states, (), np.array([0.5, 0.5]))
    variables["big"] = Variable("big", states, tuple(roots), rng.dirichlet([1, 1], size=2 ** 14).reshape((2,) * 15))
    network = Network(NetworkInfo("tiny", "tiny", "0"), variables)
    weights = [Fraction(x) ** 4, Fraction(y) ** 4]
    exact = [float(w / sum(weights)) for w in weights]
    got = bn.load(network).posterior("T", findings={f"E{i}": "b" for i in range(4)})
    assert list(got.values()) == pytest.approx(exact, rel=1e-12)


def test_a_table_row_of_zeros_proves_nothing():
    """The proof assumes every row of every table has a positive entry (a file's rows sum to 1); a network
    built in code with a row of zeros gets no proof, whatever its findings."""
    states = (State("a", "a"), State("b", "b"))
    variables = {"R": Variable("R", states, (), np.array([0.5, 0.5])),
                 "X": Variable("X", states, ("R",), np.array([[0.5, 0.5], [0.0, 0.0]]))}
    req = Requisite(Network(NetworkInfo("zero", "zero", "0"), variables))
    assert not req.possible({1: 0}, {})
    assert req.conditional([0], {1: 0}) is None


def _two_findings_network(small: np.ndarray, *, prior_a: float = 0.5, turned: bool = False) -> Network:
    """T and U roots; E0 and E1 observed children of both (E1's parents listed (U, T) when ``turned``), with
    P(E = b | T, U) = ``small``."""
    states = (State("a", "a"), State("b", "b"))

    def table(p):
        return np.stack([1 - p, p], axis=-1)

    variables = {"T": Variable("T", states, (), np.array([prior_a, 1 - prior_a])),
                 "U": Variable("U", states, (), np.array([0.5, 0.5])),
                 "E0": Variable("E0", states, ("T", "U"), table(small)),
                 "E1": (Variable("E1", states, ("U", "T"), table(small.T)) if turned
                        else Variable("E1", states, ("T", "U"), table(small.copy())))}
    return Network(NetworkInfo("small", "small", "0"), variables)


@pytest.mark.parametrize(("small", "prior_a", "turned"), [
    # both factors over (T, U): their merged product is subnormal, then rescaled (0.632886 for 0.632797)
    (np.array([[3.1e-161, 7.3e-161], [5.3e-161, 2.9e-161]]), 0.5, False),
    # scopes in two axis orders, T = a at 1e-100: the rescaled peak passed a check on it, the answer flipped
    (np.array([[1e-125, 1e-125], [1e-165, 1e-165]]), 1e-100, True),
])
def test_a_product_lost_to_underflow_is_never_rescaled_into_an_answer(small, prior_a, turned):
    """Found by the second review: the 1e-280 guard looked at tables already divided by their peaks. The unscaled
    total is now what is checked, and such a case goes to the junction tree, which rescales as it goes."""
    from fractions import Fraction

    network = _two_findings_network(small, prior_a=prior_a, turned=turned)
    prior = [Fraction(prior_a), 1 - Fraction(prior_a)]
    weights = [prior[t] * sum(Fraction(small[t, u]) ** 2 for u in range(2)) for t in range(2)]
    exact = np.array([float(w / sum(weights)) for w in weights])
    got = Requisite(network).conditional([0], {2: 1, 3: 1})
    assert got is None or np.allclose(got, exact, rtol=1e-9, atol=0)
    lik = {"E0": np.array([0.0, 1.0]), "E1": np.array([0.0, 1.0])}
    np.testing.assert_allclose(CompiledEngine(network, prune=False).posterior(["T"], lik)[0][0], exact, rtol=1e-9)


def test_soft_likelihoods_above_one_are_scaled_before_the_underflow_guard():
    """The engine takes likelihoods as given: [1e300, 1e300] on U must not lift a lost product past the guard
    (found by the second review: it gave a wrong answer where [1, 1] went to the tree)."""
    from fractions import Fraction

    states = (State("a", "a"), State("b", "b"))
    small = np.array([[3.1e-161, 7.3e-161], [5.3e-161, 2.9e-161]])

    def table(p):
        return np.stack([1 - p, p], axis=-1)

    network = Network(NetworkInfo("soft", "soft", "0"), {
        "R": Variable("R", states, (), np.array([0.5, 0.5])),
        "T": Variable("T", states, (), np.array([0.5, 0.5])),
        "U": Variable("U", states, ("R",), np.array([[0.5, 0.5], [0.5, 0.5]])),
        "E0": Variable("E0", states, ("T", "U"), table(small)),
        "E1": Variable("E1", states, ("U", "T"), table(small.T))})
    weights = [sum(Fraction(small[t, u]) ** 2 for u in range(2)) for t in range(2)]
    exact = np.array([float(w / sum(weights)) for w in weights])
    for lik in ([1.0, 1.0], [1e300, 1e300]):
        got = Requisite(network).conditional([0, 1], {3: 1, 4: 1}, {2: np.array(lik)})
        assert got is None or np.allclose(got.sum(axis=0), exact, rtol=1e-9, atol=0), (lik, got)


def test_tables_whose_rows_do_not_sum_to_one_go_to_the_tree():
    """Dropping barren and d-separated tables assumes each row sums to 1; a network built in code need not
    (the review's case: a barren child whose rows sum to 2 doubles what its parent weighs). Such a network
    gets no answer here, and the engine's conditional is its tree's."""
    states = (State("a", "a"), State("b", "b"))
    variables = {"R": Variable("R", states, (), np.array([0.5, 0.5])),
                 "X": Variable("X", states, ("R",), np.array([[0.5, 0.5], [1.0, 1.0]])),
                 "Y": Variable("Y", states, ("R",), np.array([[0.9, 0.1], [0.2, 0.8]]))}
    network = Network(NetworkInfo("unnormalised", "unnormalised", "0"), variables)
    req = Requisite(network)
    assert req.conditional([0], {2: 1}) is None
    eng = CompiledEngine(network)
    eng.PRUNE_MIN_STATES = 0  # a toy: on the fast path but for its tables
    lik = {"Y": np.array([0.0, 1.0])}
    np.testing.assert_allclose(eng.conditional(["R"], lik), eng.posterior(["R"], lik)[0], rtol=0, atol=1e-12)
    normalised = Network(NetworkInfo("n", "n", "0"), {**variables, "X": Variable("X", states, ("R",),
                                                                              np.array([[0.5, 0.5], [0.3, 0.7]]))})
    assert Requisite(normalised).conditional([0], {2: 1}) is not None

"""Sensitivity analysis checked against independent recomputation.

The sensitivity functions come from family joints on the compiled engine; the checks rebuild the network
with the parameter changed by the test's own code (from the network file's formulas: proportional
co-variation of a row, ``1 - (1 - leak) * prod(1 - p_i)`` for noisy-OR) or by editing the YAML document,
and recompute by a different path (the opt_einsum contraction engine, or brute-force enumeration).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import brute_force_marginals, small_network_doc

import bn
from bn.cli.sensitivity import add_parser
from bn.errors import BNError, EvidenceError
from bn.evidence import read_case
from bn.model import Network
from bn.netfile import parse_network_text
from bn.sensitivity import (
    Difference,
    LeaderChanges,
    SensitivityError,
    Threshold,
    UnknownParameterError,
    concentrations,
    find_parameters,
    flip,
    leader_changes,
    one_way,
    parameters,
    parse_constraint,
    sweep,
    uncertainty,
    with_parameter,
)
from bn.sensitivity.second_order import _BatchedJoint
from bn.target import Target

CASE = {"knee_pain": "present", "age_group": "65_plus", "neurogenic_claudication": "present",
        "straight_leg_raise": "positive", "knee_pain_on_knee_examination": "absent"}
SOFT_CASE = bn.Evidence({"knee_pain": "present", "age_group": "40_to_64"},
                        {"leg_numbness_tingling": {"present": 0.7}})


# -- an independent rebuild --------------------------------------------------------------------------------------


def rebuilt(network: Network, p, t: float) -> Network:
    """The network with parameter ``p`` set to ``t``, by the test's own reading of the format's formulas."""
    var = network[p.variable]
    cpt = np.array(var.cpt, dtype=float)
    if p.kind == "row":
        row = cpt[p.row].copy()
        old = row[p.state_index]
        for i in range(var.card):
            if i == p.state_index:
                row[i] = t
            elif old < 1.0:
                row[i] = row[i] * (1.0 - t) / (1.0 - old)
            else:
                row[i] = (1.0 - t) / (var.card - 1)
        cpt[p.row] = row
    else:
        leak = next(float(q.value) for q in var.parameters if q.kind == "leak")
        links = {q.key: float(q.value) for q in var.parameters if q.kind == "link"}
        if p.kind == "leak":
            leak = t
        else:
            links[p.key] = t
        for config in np.ndindex(*cpt.shape[:-1]):
            off = 1.0 - leak
            for key, value in links.items():
                parent, state = key.split("=")
                if network[parent].state_ids[config[var.parents.index(parent)]] == state:
                    off *= 1.0 - value
            cpt[config] = [off, 1.0 - off]
    variables = dict(network.variables)
    variables[var.id] = type(var)(**{**var.__dict__, "cpt": cpt})
    return Network(**{**network.__dict__, "variables": variables})


def posterior_by_contraction(network: Network, evidence, target: Target) -> float:
    return bn.load(network, engine="contract").posterior(target.variable, findings=evidence)[target.state]


def sample_of(params, every: int = 4):
    """Every ``every``-th parameter plus the first of each kind: all kinds, a spread of variables."""
    chosen = {p.id: p for p in params[::every]}
    for kind in ("row", "link", "leak"):
        first = next(p for p in params if p.kind == kind)
        chosen.setdefault(first.id, first)
    return list(chosen.values())


# -- 1. one-way sensitivity functions ----------------------------------------------------------------------------


@pytest.mark.parametrize("evidence, every", [(CASE, 4), (SOFT_CASE, 7)], ids=["hard", "soft"])
def test_sensitivity_functions_match_recomputation_on_l4l5_knee(knee, evidence, every):
    result = one_way(knee, evidence, target="l4l5_spine")
    target = result.target
    assert len(result.rows) == len(parameters(knee.network))
    worst = 0.0
    checked = 0
    for p in sample_of([r.parameter for r in result.rows], every):
        f = result.row(p.id).function
        assert abs(f(p.value) - result.posterior) < 1e-12
        for t in (0.02, 0.37, 0.93, *p.range):
            try:
                expected = posterior_by_contraction(rebuilt(knee.network, p, t), evidence, target)
            except bn.ImpossibleEvidenceError:
                continue
            worst = max(worst, abs(f(t) - expected))
            checked += 1
    assert checked > 100 if every == 4 else checked > 50
    assert worst < 1e-9


def test_multi_state_rows_and_roots_are_parameters(knee):
    ids = [p.id for p in find_parameters(knee.network, ["age_group"])]
    assert ids == ["age_group=under_40", "age_group=40_to_64", "age_group=65_plus"]
    result = one_way(knee, {"knee_pain": "present", "back_pain": "present"}, target="disc_herniation",
                     only=["age_group"])
    for r in result.rows:
        for t in (0.1, 0.5, 0.8):
            expected = posterior_by_contraction(rebuilt(knee.network, r.parameter, t),
                                                {"knee_pain": "present", "back_pain": "present"}, result.target)
            assert abs(r.function(t) - expected) < 1e-9


def test_small_network_file_edits_and_enumeration():
    """Edit the YAML document itself, re-read it, and enumerate the full joint."""
    doc = small_network_doc()
    net = bn.load(parse_network_text(yaml.safe_dump(doc)))
    evidence = {"sign": "positive"}
    result = one_way(net, evidence, target="disease")
    edits = {
        "disease=present | age=young": lambda d, t: d["variables"][1]["cpt"]["table"]["rows"][0].update(
            probs={"absent": 1 - t, "present": t}, range=None),
        "age=old": lambda d, t: d["variables"][0]["cpt"]["table"]["rows"][0].update(probs={"young": 1 - t, "old": t}),
        "sign <- leak": lambda d, t: d["variables"][3]["cpt"]["noisy_or"]["leak"].update(p=t, range=None),
        "sign <- disease=present": lambda d, t: d["variables"][3]["cpt"]["noisy_or"]["links"][0].update(p=t),
        "sign <- age=old": lambda d, t: d["variables"][3]["cpt"]["noisy_or"]["links"][1].update(p=t),
        "disease=present | age=old": lambda d, t: d["variables"][1]["cpt"]["table"]["rows"][1].update(
            probs={"absent": 1 - t, "present": t}),
    }
    assert {r.parameter.id for r in result.rows} == set(edits) | {"other=present"}
    for pid, edit in edits.items():
        f = result.row(pid).function
        for t in (0.05, 0.3, 0.6, 0.95):
            changed = small_network_doc()
            edit(changed, t)
            for item in _ranged_items(changed):
                if "range" in item and item["range"] is None:
                    del item["range"]  # the edit moved the value out of its range: drop the range
            network = parse_network_text(yaml.safe_dump(changed))
            ev = bn.Evidence(evidence).validate(network)
            _, marginals = brute_force_marginals(network, ev.likelihoods(network))
            assert abs(f(t) - marginals["disease"][1]) < 1e-9, (pid, t)


def _ranged_items(doc):
    for v in doc["variables"]:
        cpt = v["cpt"]
        if "table" in cpt:
            yield from cpt["table"]["rows"]
        if "noisy_or" in cpt:
            yield cpt["noisy_or"]["leak"]
            yield from cpt["noisy_or"]["links"]


def zero_network() -> Network:
    """The small network with structural zeros: a row (0, 1) and a noisy-OR link of 1 (so an entry 0)."""
    doc = small_network_doc()
    doc["variables"][1]["cpt"]["table"]["rows"][1]["probs"] = {"absent": 0.0, "present": 1.0}
    doc["variables"][3]["cpt"]["noisy_or"]["links"][0]["p"] = 1.0
    return parse_network_text(yaml.safe_dump(doc))


def test_zero_entries_use_the_all_ones_table_and_stay_exact():
    """Where a table entry is 0, P(family, e) / T is undefined: derivatives come from an all-ones table."""
    network = zero_network()
    net = bn.load(network)
    for evidence, target in (({"sign": "positive"}, "other"), ({"any": "present"}, "age=old"),
                             ({"sign": "negative"}, "age=old")):
        result = one_way(net, evidence, target=target)
        lik = bn.Evidence(evidence).validate(network).likelihoods(network)
        assert any(r.parameter.value in (0.0, 1.0) for r in result.rows)
        t_var, t_state = result.target.variable, network[result.target.variable].state_index(result.target.state)
        for r in result.rows:
            for t in (0.0, 0.2, 0.7, 1.0):
                p_e, marginals = brute_force_marginals(rebuilt(network, r.parameter, t), lik)
                if p_e == 0.0:
                    continue
                assert abs(r.function(t) - marginals[t_var][t_state]) < 1e-9, (r.parameter.id, t)


def without_provenance(network: Network) -> Network:
    """As a BIF file reads: full tables, no parameters, no ranges."""
    variables = {k: type(v)(**{**v.__dict__, "parameters": (), "form": "table"}) for k, v in network.variables.items()}
    return Network(**{**network.__dict__, "variables": variables})


def test_derivatives_match_finite_differences(knee):
    result = one_way(knee, CASE, target="disc_herniation")
    h = 1e-5
    for r in result.top(12):
        p = r.parameter
        up = posterior_by_contraction(rebuilt(knee.network, p, p.value + h), CASE, result.target)
        down = posterior_by_contraction(rebuilt(knee.network, p, p.value - h), CASE, result.target)
        numeric = (up - down) / (2 * h)
        assert abs(r.derivative - numeric) < 1e-6 * max(1.0, abs(numeric)), p.id


def test_one_way_ranges_and_order(knee):
    result = one_way(knee, CASE)
    swings = [r.swing for r in result.rows]
    assert swings == sorted(swings, reverse=True)
    r = result.rows[0]
    lo, hi = r.parameter.range
    assert lo <= r.parameter.value <= hi
    assert min(r.posterior_at_low, r.posterior_at_high) <= result.posterior <= max(r.posterior_at_low,
                                                                                   r.posterior_at_high)
    frame = result.to_frame()
    assert list(frame["parameter"][:3]) == [x.parameter.id for x in result.rows[:3]]
    data = json.loads(json.dumps(result.to_dict(5)))
    assert data["network"]["sha256"] == knee.info.sha256 and len(data["parameters"]) == 5


def test_default_range_for_parameters_without_one():
    network = without_provenance(parse_network_text(yaml.safe_dump(small_network_doc())))
    params = parameters(network)
    assert {p.variable for p in params} == {"age", "disease", "other", "sign", "any"}
    p = next(p for p in params if p.variable == "disease")
    assert p.range_from == "default" and p.provenance == "uncited"
    z = math.log(p.value / (1 - p.value))
    assert math.log(p.range[1] / (1 - p.range[1])) - z == pytest.approx(1.0)
    assert z - math.log(p.range[0] / (1 - p.range[0])) == pytest.approx(1.0)
    result = one_way(bn.load(network), {"sign": "positive"}, target="disease")
    for r in result.rows:
        for t in (0.1, 0.6):
            lik = bn.Evidence({"sign": "positive"}).validate(network).likelihoods(network)
            _, marginals = brute_force_marginals(rebuilt(network, r.parameter, t), lik)
            assert abs(r.function(t) - marginals["disease"][1]) < 1e-9


def test_with_parameter_changes_one_number(knee):
    changed = with_parameter(knee.network, "back_pain <- leak", 0.25)
    assert changed.version.endswith("+what-if")
    assert changed["back_pain"].cpt[(0, 0, 0, 0, 1)] == pytest.approx(0.25)
    same = [v for v in knee.network.variables if v != "back_pain"]
    assert all(changed[v].cpt is knee.network[v].cpt for v in same)
    with pytest.raises(SensitivityError):
        with_parameter(knee.network, "back_pain <- leak", 1.5)


# -- 2. what would change the conclusion ---------------------------------------------------------------------------


def _holds(constraint, posteriors: dict[Target, float], leader_now: str | None) -> bool:
    if isinstance(constraint, LeaderChanges):
        return constraint.leader(posteriors) != leader_now
    if isinstance(constraint, Threshold):
        p = posteriors[constraint.target]
        return p >= constraint.p if constraint.above else p <= constraint.p
    return posteriors[constraint.a] - posteriors[constraint.b] >= constraint.delta


@pytest.mark.parametrize("case, constraint", [
    ({"knee_pain": "present", "age_group": "40_to_64", "back_pain": "present"}, "leader"),
    (CASE, "disc_herniation >= 0.3"),
    (CASE, "P(knee) - P(l4l5_spine) >= 0.5"),
    (CASE, "l4l5_spine <= 0.5"),
])
def test_flip_values_do_change_the_conclusion(knee, case, constraint):
    c = parse_constraint(knee.network, constraint)
    result = flip(knee, case, constraint=c)
    assert not result.holds_now
    assert result.changes, result.headline
    for change in result.changes[:8]:
        network = rebuilt(knee.network, change.parameter, change.new_value)
        net = bn.load(network, engine="contract")
        post = {t: net.posterior(t.variable, findings=case)[t.state] for t in c.events}
        assert _holds(c, post, result.leader_now), (change.parameter.id, change.new_value)
        # ... and the exact boundary is tight: just on the current side it does not hold yet.
        back = change.boundary - 1e-4 if change.direction == "increase" else change.boundary + 1e-4
        if 0.0 <= back <= 1.0 and abs(back - change.parameter.value) < abs(change.new_value - change.parameter.value):
            net = bn.load(rebuilt(knee.network, change.parameter, back), engine="contract")
            post = {t: net.posterior(t.variable, findings=case)[t.state] for t in c.events}
            assert not _holds(c, post, result.leader_now)


def test_flip_headline_and_ranges(knee):
    result = flip(knee, CASE)
    assert result.leader_now in knee.network.knee_pain_sources
    assert result.headline
    for c in result.changes:
        assert c.within_range == (c.parameter.range[0] - 1e-12 <= c.new_value <= c.parameter.range[1] + 1e-12)
        assert c.outcome != result.leader_now
    already = flip(knee, CASE, constraint=Threshold(Target("disc_herniation", "present"), 0.0))
    assert already.holds_now and not already.changes and "already holds" in already.headline


def test_parse_constraint(knee):
    n = knee.network
    assert parse_constraint(n, "leader") == leader_changes(n)
    assert parse_constraint(n, "disc_herniation=present <= 0.2") == Threshold(Target("disc_herniation", "present"),
                                                                               0.2, above=False)
    d = parse_constraint(n, "knee - hip <= 0.1")
    assert d == Difference(Target("knee_pain_from_hip", "present"), Target("knee_pain_from_knee", "present"), -0.1)
    for bad in ("nonsense", "disc_herniation >= 2", "nosuchvar >= 0.5"):
        with pytest.raises(BNError):
            parse_constraint(n, bad)


# -- 3. second-order uncertainty -----------------------------------------------------------------------------------


def test_uncertainty_is_reproducible_and_centred_for_narrow_ranges(knee):
    a = uncertainty(knee, CASE, draws=300, seed=7)
    b = uncertainty(knee, CASE, draws=300, seed=7)
    c = uncertainty(knee, CASE, draws=300, seed=8)
    for x, y, z in zip(a.targets, b.targets, c.targets):
        assert np.array_equal(x.samples, y.samples)
        assert not np.array_equal(x.samples, z.samples)
        lo, hi = x.interval()
        assert 0.0 <= lo <= x.median <= hi <= 1.0
    assert a.leaders is not None and sum(a.leaders.values()) == pytest.approx(1.0)
    narrow = uncertainty(knee, CASE, draws=200, seed=1, range_scale=0.01)
    for t in narrow.targets:
        assert abs(t.median - t.point) < 2e-3
        lo, hi = t.interval()
        assert hi - lo < 0.01


def test_batched_contraction_equals_the_engine_at_the_network_values(knee):
    network = knee.network
    ev = bn.Evidence(CASE).validate(network)
    lik = ev.likelihoods(network)
    joint = _BatchedJoint(network, lik, ["knee_pain_from_l4l5", "disc_herniation"])
    tables = {v: np.repeat(np.asarray(network[v].cpt, dtype=float)[None], 3, axis=0) for v in network.variables}
    for var in ("knee_pain_from_l4l5", "disc_herniation"):
        table = joint(tables, var)
        expected = knee.engine.joint((var,), lik)
        assert np.allclose(table, expected[None], rtol=1e-12, atol=0.0)


def test_concentrations_match_symmetric_log_odds_ranges():
    from scipy.special import betaincinv

    values = [0.1, 0.5, 0.02]
    ranges = [(1 / (1 + math.exp(-(math.log(v / (1 - v)) - 0.5))), 1 / (1 + math.exp(-(math.log(v / (1 - v)) + 0.5))))
              for v in values]
    kappas = concentrations(values, ranges)
    for v, (lo, hi), k in zip(values, ranges, kappas):
        q_lo, q_hi = betaincinv(k * v, k * (1 - v), [0.05, 0.95])
        assert q_lo == pytest.approx(lo, rel=0.1) and q_hi == pytest.approx(hi, rel=0.1)
    assert np.isinf(concentrations([0.0, 0.3], [(0.0, 0.0), (0.3, 0.3)])).all()


# -- 4. across cases ---------------------------------------------------------------------------------------------


def test_sweep_over_a_folder(knee, tmp_path):
    cases = {"a": CASE, "b": {"knee_pain": "present", "knee_effusion": "present", "age_group": "under_40"},
             "c": {"knee_pain": "present", "hip_internal_rotation_painful": "present"}}
    for name, findings in cases.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"network": "l4l5_knee", "findings": findings}))
    (tmp_path / "bad.yaml").write_text("findings: {no_such_finding: present}\n")
    (tmp_path / "notes.txt").write_text("not a case")
    result = sweep(knee, tmp_path, target="l4l5_spine", flips=True)
    assert [c.name for c in result.cases] == ["a.json", "b.json", "c.json"]
    assert [n for n, _ in result.skipped] == ["bad.yaml"]
    top = result.parameters[0]
    swings = [one_way(knee, f, target="l4l5_spine").row(top.parameter.id).swing for f in cases.values()]
    assert top.mean_swing == pytest.approx(np.mean(swings), abs=1e-12)
    assert all(p.flips_in_range is not None for p in result.parameters)
    assert len(result.cases_frame()) == 3 * len(result.parameters)


def test_sweep_errors(knee, tmp_path):
    with pytest.raises(SensitivityError, match="no case files"):
        sweep(knee, tmp_path)
    with pytest.raises(SensitivityError, match="not a folder"):
        sweep(knee, tmp_path / "missing")


# -- bad input, command line and files -----------------------------------------------------------------------------


def test_bad_input_raises_one_clear_error(knee):
    with pytest.raises(UnknownParameterError, match="did you mean"):
        one_way(knee, CASE, only=["back_pain leak x"])
    with pytest.raises(EvidenceError, match="not a state"):
        one_way(knee, CASE, target="disc_herniation=maybe")
    with pytest.raises(EvidenceError, match="itself a finding"):
        one_way(knee, CASE, target="knee_pain")
    with pytest.raises(bn.ImpossibleEvidenceError):
        one_way(knee, {"knee_pain": "absent", "knee_pain_from_knee": "present"}, target="l4l5_spine")
    with pytest.raises(SensitivityError):
        uncertainty(knee, CASE, draws=0)


def run_cli(argv: list[str]) -> int:
    """``bn sensitivity ...`` as bn.cli.main runs it (BNError -> one line on stderr, status 2)."""
    parser = argparse.ArgumentParser(prog="bn")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sensitivity", *argv])
    try:
        return args.func(args)
    except BNError as exc:
        import sys

        print(f"bn: error: {exc}", file=sys.stderr)
        return 2


def test_cli_verbs_and_files(tmp_path, capsys):
    out = tmp_path / "report"
    assert run_cli(["l4l5_knee", "-e", "knee_pain=present", "-e", "age_group=65_plus", "--top", "5",
                    "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "knee pain from the L4-L5 spine" in text and "l4l5_knee" in text
    sha = bn.read_network("l4l5_knee").info.sha256
    for name in ("oneway.csv", "oneway.md", "tornado.svg"):
        assert sha in (out / name).read_text(), name
    assert sha.encode() in (out / "tornado.png").read_bytes()  # PNG text chunk
    assert run_cli(["flip", "l4l5_knee", "-e", "knee_pain=present", "--threshold", "0.5", "--target",
                    "disc_herniation", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["constraint"].startswith("P(disc_herniation=present") and data["network"]["sha256"] == sha
    assert run_cli(["uncertainty", "l4l5_knee", "-e", "knee_pain=present", "--draws", "50", "--seed", "2",
                    "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 2


@pytest.mark.parametrize("argv, message", [
    ([], "needs a NETWORK"),
    (["l4l5_knee", "--parameter", "nope"], "unknown parameter"),
    (["l4l5_knee", "--target", "nosuch"], "unknown variable"),
    (["flip", "l4l5_knee", "--constraint", "???"], "cannot read the constraint"),
    (["sweep", "/nonexistent/folder"], "not a folder"),
])
def test_cli_bad_input_is_one_line(argv, message, capsys):
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_sweep_cli_on_validation_cases(tmp_path, capsys):
    folder = Path(__file__).resolve().parent.parent / "validation" / "cases"
    small = tmp_path / "cases"
    small.mkdir()
    development = [f for f in sorted(folder.iterdir()) if read_case(f).split == "development"]
    for f in development[:3]:
        (small / f.name).write_bytes(f.read_bytes())
    assert run_cli(["sweep", str(small), "--top", "5", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["cases"]) == 3 and len(data["parameters"]) == 5
    # the README's form: the network first, as in every other verb
    assert run_cli(["sweep", "l4l5_knee@1.1.0", str(small), "--top", "5", "--json", "--no-flips"]) == 0
    assert json.loads(capsys.readouterr().out)["network"]["version"] == "1.1.0"
    assert run_cli(["sweep", "l4l5_knee", str(small), "--network", "l4l5_knee"]) == 2
    assert "give the network once" in capsys.readouterr().err
    assert run_cli(["sweep", "l4l5_knee", str(small), str(small)]) == 2
    assert "sweep takes [NETWORK] CASES_DIR" in capsys.readouterr().err


def test_a_sweep_leaves_locked_test_cases_blind_unless_unblinded(knee, tmp_path, capsys, monkeypatch):
    import bn.validation
    from bn.validation.testset import read_views

    for name, split in (("dev.json", "development"), ("locked.json", "test")):
        (tmp_path / name).write_text(json.dumps({"network": "l4l5_knee", "split": split,
                                                 "findings": {"knee_pain": "present", "back_pain": "present"}}))
    result = sweep(knee, tmp_path, flips=False)
    assert [c.name for c in result.cases] == ["dev.json"] and result.blind == ("locked.json",)
    assert result.test_cases == ()
    unblinded = sweep(knee, tmp_path, flips=False, include_test=True)
    assert [c.name for c in unblinded.cases] == ["dev.json", "locked.json"]
    assert unblinded.test_cases == ("locked.json",)
    views = tmp_path / "views.yaml"
    monkeypatch.setattr(bn.validation, "VIEWS_FILE", views)
    assert run_cli(["sweep", str(tmp_path), "--no-flips"]) == 0
    assert "skipped 1 locked validation test case(s)" in capsys.readouterr().out and not views.exists()
    assert run_cli(["sweep", str(tmp_path), "--no-flips", "--unblind", " "]) == 2
    assert "needs a reason" in capsys.readouterr().err
    assert run_cli(["sweep", str(tmp_path), "--no-flips", "--unblind", "checking a parameter"]) == 0
    assert "unblinded: 1 locked test case(s)" in capsys.readouterr().out
    [view] = read_views(views)
    assert view["cases"] == ["locked.json"] and view["why"] == "checking a parameter"


def _star(findings: int = 70) -> Network:
    """A disease with ``findings`` conditionally independent rare signs: observing them all gives log P(e)
    below -700."""
    from bn.model import NetworkInfo, State, Variable

    two = (State("absent", ""), State("present", ""))
    variables = {"disease": Variable("disease", two, (), np.array([0.7, 0.3]))}
    rng = np.random.default_rng(3)
    for i in range(findings):
        p_absent, p_present = rng.uniform(1e-7, 1e-6), rng.uniform(1e-6, 1e-5)
        variables[f"s{i}"] = Variable(f"s{i}", two, ("disease",),
                                      np.array([[1 - p_absent, p_absent], [1 - p_present, p_present]]))
    return Network(NetworkInfo("star", "1.0.0", "0" * 64), variables)


def test_sensitivity_holds_where_the_probability_of_the_findings_underflows():
    from bn.sensitivity import with_parameter

    network = _star()
    net = bn.BayesNet(network)
    findings = {f"s{i}": "present" for i in range(70)}
    log_p_e = net.log_probability_of_evidence(findings)
    assert log_p_e < -700 and net.probability_of_evidence(findings) == 0.0  # linear space underflows
    # closed form: the posterior odds are the prior odds times the product of the likelihood ratios
    log_lr = sum(math.log(network[f"s{i}"].cpt[1, 1] / network[f"s{i}"].cpt[0, 1]) for i in range(70))

    def exact(prior: float) -> float:
        return 1.0 / (1.0 + math.exp(-(math.log(prior / (1 - prior)) + log_lr)))

    result = one_way(net, findings, target="disease=present", only=["disease", "s0", "s1"])
    assert result.posterior == pytest.approx(exact(0.3), abs=1e-12)
    prior = next(r for r in result.rows if r.parameter.variable == "disease")
    for t in (0.01, 0.2, 0.5, 0.9):
        assert prior.function(t) == pytest.approx(exact(t), abs=1e-9)
    for row in result.rows:  # every function agrees with a re-query of the changed network (in log space)
        assert math.isfinite(row.derivative)
        for t in row.parameter.range:
            changed = bn.BayesNet(with_parameter(network, row.parameter, t))
            now = changed.posterior("disease", findings=findings)["present"]
            assert row.function(t) == pytest.approx(now, abs=1e-9)
    spread = uncertainty(net, findings, targets=["disease=present"], draws=200, seed=1, range_scale=1e-9)
    (target,) = spread.targets
    assert len(target.samples) == 200 and math.isfinite(target.median)
    assert target.median == pytest.approx(exact(0.3), abs=1e-6)

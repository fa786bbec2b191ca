"""The public API's argument conventions: keyword-only after the first, and no silent positional slips."""

from __future__ import annotations

import inspect

import pytest

from bn.errors import EvidenceError
from bn.inference import BayesNet

CASE = {"knee_pain": "present", "straight_leg_raise": "positive"}


def test_findings_passed_where_variable_names_belong_are_refused(knee):
    # net.most_probable_explanation(case) used to return the MPE of the finding variables with no evidence
    for call in (lambda: knee.most_probable_explanation(CASE), lambda: knee.marginals(CASE),
                 lambda: knee.joint(CASE), lambda: knee.priors(CASE), lambda: knee.posterior(CASE),
                 lambda: knee.query(variables=CASE), lambda: knee.batch_marginals([CASE], variables=CASE),
                 lambda: knee.outcome_posteriors(CASE)):
        with pytest.raises(EvidenceError, match="findings"):
            call()
    with pytest.raises(EvidenceError, match=r"got the string 'knee_pain'; write \['knee_pain'\]"):
        knee.marginals("knee_pain")


def test_findings_are_keyword_only_after_the_variables(knee):
    with pytest.raises(TypeError):
        knee.posterior("disc_herniation", CASE)
    with pytest.raises(TypeError):
        knee.query(CASE, None)
    right = knee.most_probable_explanation(findings=CASE)
    assert right.states == knee.query(CASE).most_probable_explanation.states
    assert knee.posterior("disc_herniation", findings=CASE) == knee.query(CASE).posteriors["disc_herniation"]


def test_every_public_method_is_keyword_only_after_its_first_argument():
    for name, method in inspect.getmembers(BayesNet, inspect.isfunction):
        if name.startswith("_"):
            continue
        params = list(inspect.signature(method).parameters.values())[1:]  # after self
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        assert len(positional) <= 1, f"BayesNet.{name} takes {positional} positionally"



def test_the_analyses_are_bayesnet_methods_and_take_soft_findings(knee):
    case = {"knee_pain": "present"}
    soft = {"straight_leg_raise": {"positive": 0.8, "negative": 0.2}}
    hard_only = knee.one_way(case, target="disc_herniation", only=["disc_herniation"])
    with_soft = knee.one_way(case, target="disc_herniation", only=["disc_herniation"], soft=soft)
    assert with_soft.posterior == pytest.approx(knee.posterior("disc_herniation", findings=case,
                                                                soft=soft)["present"], abs=1e-12)
    assert with_soft.posterior != pytest.approx(hard_only.posterior)
    spread = knee.uncertainty(case, targets=["disc_herniation"], draws=50, soft=soft)
    assert spread.targets[0].point == pytest.approx(with_soft.posterior, abs=1e-12)
    why = knee.explain(case, target="disc_herniation", soft=soft)
    assert why.to_dict()["target"]["variable"] == "disc_herniation"
    ranking = knee.next_best(case, target="disc_herniation", top=2, soft=soft)
    assert len(ranking.ranking) == 2 and "straight_leg_raise" not in [c.finding for c in ranking.ranking]
    assert knee.stability(case, samples=50, soft=soft) is not None
    changes = knee.flip(case, constraint="disc_herniation >= 0.9", only=["disc_herniation"], soft=soft)
    assert changes.to_dict()["network"]["version"] == knee.info.version


def test_every_result_names_its_network_the_same_way(knee):
    """One type for the network a result names (NetworkInfo), and one JSON shape for it."""
    from bn.model import NetworkInfo

    case = {"knee_pain": "present", "straight_leg_raise": "positive"}
    results = [knee.query(case), knee.explain(case, target="disc_herniation"),
               knee.next_best(case, target="disc_herniation", top=2), knee.stability(case, samples=50),
               knee.one_way(case, target="disc_herniation", only=["disc_herniation"]),
               knee.flip(case, constraint="disc_herniation >= 0.9", only=["disc_herniation"]),
               knee.uncertainty(case, targets=["disc_herniation"], draws=20)]
    for result in results:
        assert isinstance(result.network, NetworkInfo), type(result).__name__
        assert result.to_dict()["network"] == knee.info.to_dict(), type(result).__name__


def test_the_analysis_functions_take_the_network_and_its_data_positionally_and_the_rest_by_keyword():
    """The module-level forms of the analyses (and batch, learn, validation) follow the methods: the subject and
    its data positionally (net, findings / records / cases), every option by keyword."""
    import bn.batch
    import bn.datacheck
    import bn.explain
    import bn.learn
    import bn.sensitivity
    import bn.stability
    import bn.teaching
    import bn.validation
    import bn.voi

    functions = [bn.explain.explain, bn.voi.next_best, bn.stability.stability, bn.stability.same_decision_probability,
                 bn.sensitivity.one_way, bn.sensitivity.flip, bn.sensitivity.uncertainty, bn.sensitivity.sweep,
                 bn.learn.learn, bn.batch.score_frame, bn.batch.score_cases, bn.datacheck.check_records,
                 bn.validation.run_cases, bn.validation.score_case, bn.validation.parameter_stability,
                 bn.teaching.walkthrough]
    for f in functions:
        params = inspect.signature(f).parameters.values()
        positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        assert len(positional) <= 2, f"{f.__module__}.{f.__name__} takes {positional} positionally"


def test_every_result_has_to_dict_and_to_frame(knee):
    """One habit for every result: to_dict (strict JSON) and to_frame (a pandas table with rows)."""
    import pandas as pd

    from bn import jsonout
    from bn.datacheck import check_records
    from bn.headline import source_headline
    from bn.validation import load_cases, run_cases

    case = {"knee_pain": "present", "straight_leg_raise": "positive"}
    records = pd.DataFrame({"age_group": ["65_plus", "under_40"] * 30, "knee_pain": ["present"] * 60,
                            "straight_leg_raise": ["positive", "negative", "negative"] * 20})
    results = [knee.query(case), knee.most_probable_explanation(findings=case),
               knee.batch_marginals([case, {}], variables=["disc_herniation"]),
               knee.explain(case, target="disc_herniation"), knee.next_best(case, target="disc_herniation", top=2),
               knee.stability(case, samples=50), source_headline(knee, knee.evidence(case), draws=30),
               knee.one_way(case, target="disc_herniation", only=["disc_herniation"]),
               knee.flip(case, constraint="disc_herniation >= 0.5", only=["disc_herniation"]),
               knee.uncertainty(case, targets=["disc_herniation"], draws=20),
               run_cases(knee, load_cases(knee.network)[:3]), check_records(knee, records)]
    for result in results:
        name = type(result).__name__
        jsonout.dumps(result.to_dict())  # strict JSON: raises on anything it cannot write
        frame = result.to_frame()
        assert isinstance(frame, pd.DataFrame) and len(frame) > 0, name

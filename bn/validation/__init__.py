"""Clinical validation: does the network reason like the evidence and like clinicians?

Five checks, each usable on its own and all run by ``bn validate`` (the report: :mod:`bn.validation.report`):

1. **Case suite** (:func:`load_cases`, :func:`run_cases`): published case reports, teaching cases with a named
   source and plainly marked textbook archetypes (``validation/cases/*.yaml``) with the findings as reported,
   the established diagnosis and the knee-pain source. Every case is in the ``development`` or the ``test``
   split; the test cases are frozen by ``validation/test_set.lock`` (:mod:`bn.validation.testset`), and the groups are
   summarised apart (:func:`summarize`: top-1 / top-2 for source and diagnosis, Brier and log scores, each with
   a 95% interval), because only the locked test set measures accuracy on cases nobody tuned the network to.
   Per case: the rank and posterior of what was established, and whether the call is stable under parameter
   uncertainty (:func:`parameter_stability`, from :mod:`bn.sensitivity`).
2. **Literature concordance** (:func:`load_concordance`, :func:`run_concordance`): for every published
   sensitivity, specificity, likelihood ratio or prevalence in ``validation/concordance.yaml``, the value the
   network implies in the study's population against the published value and its interval; *check* rows
   (figures it was not set from, and combinations of findings) apart from *input* rows (figures it was set from).
3. **Self-consistency** (:func:`simulate`): cases sampled from the network itself, diagnoses hidden; ROC AUC and
   calibration of the network's own posteriors: the ceiling the network can reach, not its accuracy on patients.
4. **Parameter recovery** (:func:`parameter_recovery`): the tables learnt back from N sampled cases with pgmpy's
   maximum-likelihood and Bayesian (Dirichlet prior centred on the network) estimators.
5. **Version comparison** (:func:`compare_versions`): posterior shifts per case between two networks, the
   cases whose leading diagnosis or source changed, and every parameter that differs.

The clinician-panel protocol is :mod:`bn.validation.panel`. Metric functions (:func:`brier_score`, :func:`log_score`,
:func:`roc_auc`, :func:`expected_calibration_error`, :func:`wilson_interval`) are plain numpy and checked against
hand computations in the tests.

>>> import bn
>>> net = bn.load("l4l5_knee@1.0.0")
>>> suite = run_cases(net, load_cases(net.network))
>>> suite.summary["cases"] >= 20
True
>>> 0.0 <= suite.groups["test"]["brier_source"]["value"] <= 1.0
True
"""

from __future__ import annotations

from bn.validation.base import (
    BASELINE_FILE,
    CASES_DIR,
    CONCORDANCE_FILE,
    DEFAULT_STABILITY_DRAWS,
    LOCK_FILE,
    MAX_VALIDATION_FILE_BYTES,
    NO_SOURCE,
    OUT_DIR,
    REPORT_DIR,
    SOURCE_KEYS,
    STABLE_SHARE,
    VALIDATION_DIR,
    VIEWS_FILE,
    ValidationError,
)
from bn.validation.cases import (
    GROUPS,
    TIE_TOLERANCE,
    CaseResult,
    CaseSuite,
    ParameterStability,
    ValidationCase,
    case_group,
    load_cases,
    parameter_stability,
    parse_validation_case,
    rankable_diagnoses,
    run_cases,
    score_case,
    stability_summary,
    summarize,
    vocabulary_ids,
)
from bn.validation.compare import (
    compare_on_cases,
    compare_versions,
    parameter_diff,
)
from bn.validation.concordance import (
    CONCORDANCE_KINDS,
    MEASURES,
    RATIO_MEASURES,
    ConcordanceItem,
    ConcordanceRow,
    implied_value,
    load_concordance,
    plausible_reach,
    run_concordance,
)
from bn.validation.gate import (
    GATED,
    GATED_CONCORDANCE,
    gate_metrics,
    read_baseline,
    regressions,
    write_baseline,
)
from bn.validation.metrics import (
    Reliability,
    bootstrap_mean_interval,
    brier_score,
    expected_calibration_error,
    log_score,
    reliability,
    roc_auc,
    roc_curve,
    wilson_interval,
)
from bn.validation.run import (
    ValidationRun,
    run_all,
)
from bn.validation.simulation import (
    batch_posteriors,
    parameter_recovery,
    simulate,
)

__all__ = [
    "BASELINE_FILE",
    "CASES_DIR",
    "CONCORDANCE_FILE",
    "CONCORDANCE_KINDS",
    "DEFAULT_STABILITY_DRAWS",
    "GATED",
    "GATED_CONCORDANCE",
    "GROUPS",
    "LOCK_FILE",
    "MAX_VALIDATION_FILE_BYTES",
    "MEASURES",
    "NO_SOURCE",
    "OUT_DIR",
    "RATIO_MEASURES",
    "REPORT_DIR",
    "SOURCE_KEYS",
    "STABLE_SHARE",
    "TIE_TOLERANCE",
    "VALIDATION_DIR",
    "VIEWS_FILE",
    "CaseResult",
    "CaseSuite",
    "ConcordanceItem",
    "ConcordanceRow",
    "ParameterStability",
    "Reliability",
    "ValidationCase",
    "ValidationError",
    "ValidationRun",
    "batch_posteriors",
    "bootstrap_mean_interval",
    "brier_score",
    "case_group",
    "compare_on_cases",
    "compare_versions",
    "expected_calibration_error",
    "gate_metrics",
    "implied_value",
    "load_cases",
    "load_concordance",
    "log_score",
    "parameter_diff",
    "parameter_recovery",
    "parameter_stability",
    "parse_validation_case",
    "plausible_reach",
    "rankable_diagnoses",
    "read_baseline",
    "regressions",
    "reliability",
    "roc_auc",
    "roc_curve",
    "run_all",
    "run_cases",
    "run_concordance",
    "score_case",
    "simulate",
    "stability_summary",
    "summarize",
    "vocabulary_ids",
    "wilson_interval",
    "write_baseline",
]

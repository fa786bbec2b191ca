"""Clinical validation: does the network reason like the evidence and like clinicians?

Five checks, each usable on its own and all run by ``bn validate``:

1. **Case suite** (:func:`load_cases`, :func:`run_cases`): published case reports, teaching cases and
   plainly marked textbook archetypes (``validation/cases/*.yaml``) with the findings as reported, the
   established diagnosis and the knee-pain source it implies. Per case: the rank and posterior of the
   established diagnosis and source, pass/fail, and whether the call is stable under parameter
   uncertainty (:func:`parameter_stability`, from :mod:`bn.sensitivity`). Summary: top-1 / top-2 accuracy,
   Brier score, log score, number of stable calls.
2. **Literature concordance** (:func:`load_concordance`, :func:`run_concordance`): for every published
   sensitivity, specificity, likelihood ratio or prevalence in ``validation/concordance.yaml`` (taken from
   the shared evidence table), the value the network implies in the study's population, marginalising over
   everything else, against the published value and its interval.
3. **Simulated data** (:func:`simulate`): cases sampled from the network itself, diagnoses hidden; ROC AUC
   per diagnosis and per knee-pain source and calibration (reliability curve, expected calibration error)
   of the network's own posteriors. This is the ceiling the network can reach, not its accuracy on patients.
4. **Parameter recovery** (:func:`parameter_recovery`): the tables learnt back from N sampled cases with
   pgmpy's maximum-likelihood and Bayesian (Dirichlet prior centred on the network) estimators.
5. **Version comparison** (:func:`compare_versions`): posterior shifts per case between two networks, the
   cases whose leading diagnosis or source changed, and every parameter that differs.

Metric functions (:func:`brier_score`, :func:`log_score`, :func:`roc_auc`, :func:`expected_calibration_error`,
:func:`wilson_interval`) are plain numpy and checked against hand computations in the tests.

>>> import bn
>>> net = bn.load("l4l5_knee@1.0.0")
>>> suite = run_cases(net, load_cases(net.network))
>>> suite.summary["cases"] >= 20
True
>>> 0.0 <= suite.summary["brier_source"] <= 1.0
True
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bn import safeyaml
from bn.errors import BNError, CaseFileError
from bn.evidence import Evidence, parse_case
from bn.inference import BayesNet
from bn.model import Network

ROOT = Path(__file__).resolve().parent.parent
VALIDATION_DIR = ROOT / "validation"
CASES_DIR = VALIDATION_DIR / "cases"
CONCORDANCE_FILE = VALIDATION_DIR / "concordance.yaml"
BASELINE_FILE = VALIDATION_DIR / "baseline.json"
REPORT_DIR = VALIDATION_DIR / "report"

MAX_VALIDATION_FILE_BYTES = 1024 * 1024
# The knee-pain source keys every l4l5_knee version answers with (the public vocabulary's contract).
SOURCE_KEYS = ("l4l5_spine", "knee", "hip", "other")
NO_SOURCE = "none"  # a case whose report gives no knee pain: it is scored on its diagnosis only
# A knee-pain source call is "stable" when the leading source stays the leader in at least this share of the
# joint parameter draws (bn.sensitivity.uncertainty). Documented in validation/README.md.
STABLE_SHARE = 0.90
DEFAULT_STABILITY_DRAWS = 300  # joint parameter draws per case in the full run (--fast skips stability)


class ValidationError(BNError):
    """A validation input (case file, concordance table, baseline, option) is invalid."""


# ================================================================================================
# Metrics
# ================================================================================================


def brier_score(probabilities: Sequence[float] | np.ndarray, outcomes: Sequence[int] | np.ndarray) -> float:
    """Mean squared difference between predicted probabilities and 0/1 outcomes (lower is better).

    >>> brier_score([0.9, 0.2], [1, 0])      # ((0.1)^2 + (0.2)^2) / 2
    0.025
    """
    p, y = _paired(probabilities, outcomes)
    return float(np.mean((p - y) ** 2))


def log_score(probabilities: Sequence[float] | np.ndarray, floor: float = 1e-12) -> float:
    """Mean natural log of the probability given to what happened (higher is better, 0 is perfect).

    ``floor`` keeps a single zero from making the mean minus infinity; it is far below any probability the
    networks produce.

    >>> round(log_score([1.0, 0.5]), 6)      # (log 1 + log 0.5) / 2
    -0.346574
    """
    p = np.asarray(probabilities, dtype=float)
    if p.size == 0:
        raise ValidationError("log score of no predictions")
    return float(np.mean(np.log(np.clip(p, floor, 1.0))))


def roc_auc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float:
    """Area under the ROC curve: P(score of a random positive > score of a random negative), ties count 1/2.

    Computed from midranks (Mann-Whitney U) in O(n log n); NaN when one class is absent.

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    s, y = _paired(scores, labels)
    pos, neg = int(y.sum()), int((1 - y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = _midranks(s)
    u = ranks[y == 1].sum() - pos * (pos + 1) / 2.0
    return float(u / (pos * neg))


def _midranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2.0 + 1.0  # ranks are 1-based; ties share the mean rank
        i = j + 1
    return ranks


def roc_curve(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold (from (0, 0) to (1, 1)), for plotting."""
    s, y = _paired(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    pos, neg = max(y.sum(), 1), max(len(y) - y.sum(), 1)
    return np.r_[0.0, fps / neg], np.r_[0.0, tps / pos]


@dataclass(frozen=True)
class Reliability:
    """A reliability curve: per bin, the mean predicted probability, the observed frequency and the count."""

    mean_predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    ece: float


def reliability(probabilities: Sequence[float] | np.ndarray, outcomes: Sequence[int] | np.ndarray,
                bins: int = 10) -> Reliability:
    """Equal-width reliability curve and the expected calibration error.

    ``ECE = sum_b (n_b / N) |mean predicted_b - observed frequency_b|`` over non-empty bins; a prediction of
    exactly 1.0 falls in the last bin.

    >>> r = reliability([0.05, 0.15, 0.95, 0.85], [0, 1, 1, 1], bins=2)
    >>> r.counts.tolist(), round(r.ece, 4)          # bin 1: mean 0.10 vs 0.5; bin 2: mean 0.90 vs 1.0
    ([2, 2], 0.25)
    """
    p, y = _paired(probabilities, outcomes)
    if bins < 1:
        raise ValidationError("reliability needs at least one bin")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    counts = np.bincount(idx, minlength=bins)
    with np.errstate(invalid="ignore"):
        mean_p = np.bincount(idx, weights=p, minlength=bins) / counts
        observed = np.bincount(idx, weights=y, minlength=bins) / counts
    nonempty = counts > 0
    ece = float(np.sum(counts[nonempty] / len(p) * np.abs(mean_p[nonempty] - observed[nonempty])))
    return Reliability(mean_p, observed, counts, ece)


def expected_calibration_error(probabilities: Sequence[float] | np.ndarray, outcomes: Sequence[int] | np.ndarray,
                               bins: int = 10) -> float:
    """The expected calibration error of :func:`reliability` (lower is better, 0 is perfectly calibrated)."""
    return reliability(probabilities, outcomes, bins).ece


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score 95% interval for a binomial proportion (used where a study gives n but no interval).

    >>> tuple(round(x, 4) for x in wilson_interval(28, 60))       # 47% of 60 hip-OA patients
    (0.3463, 0.5911)
    """
    if n <= 0 or not 0 <= successes <= n:
        raise ValidationError(f"Wilson interval needs 0 <= successes <= n and n > 0 (got {successes}/{n})")
    phat = successes / n
    denom = 1 + z * z / n
    centre = (phat + z * z / (2 * n)) / denom
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def _paired(a, b) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(a, dtype=float).ravel()
    y = np.asarray(b, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValidationError(f"predictions and outcomes differ in length ({x.size} vs {y.size})")
    if x.size == 0:
        raise ValidationError("no predictions to score")
    if not np.all((y == 0) | (y == 1)):
        raise ValidationError("outcomes must be 0 or 1")
    return x, y


# ================================================================================================
# Case suite
# ================================================================================================


@dataclass(frozen=True)
class ValidationCase:
    """One clinical case: findings as reported, the established diagnosis and the knee-pain source.

    ``diagnoses`` may be empty (the case's cause is outside the modelled diagnoses, e.g. patellofemoral
    pain); ``source`` is ``None`` when the report gives no knee pain. ``archetype`` is True for a textbook
    archetype (no published case behind it).
    """

    id: str
    title: str
    source: str
    evidence: Evidence
    diagnoses: tuple[str, ...]
    knee_pain_source: str | None
    note: str = ""
    path: str = ""

    @property
    def archetype(self) -> bool:
        return self.source.lower().startswith("textbook archetype")


def rankable_diagnoses(network: Network) -> list[str]:
    """Diagnoses that compete for the top rank: all but deterministic ORs of other diagnoses.

    (``intrinsic_knee_disease`` is the OR of the three knee diagnoses, so it can never rank below them.)
    """
    return [v for v in network.by_role("diagnosis") if network[v].form != "deterministic_or"]


def parse_validation_case(text: str | bytes, name: str, network: Network) -> ValidationCase:
    """A validation case from YAML/JSON text; one-line ValidationError naming the file and the problem.

    The file is an ordinary case file (``bn query --case`` reads it) plus ``title``, ``source`` and
    ``expected: {diagnoses: [...], knee_pain_source: l4l5_spine|knee|hip|other|none}``.
    """
    try:
        case = parse_case(text, name)
    except CaseFileError as exc:
        raise ValidationError(str(exc)) from None
    doc = safeyaml.load(text if isinstance(text, str) else text.decode("utf-8"))
    title, source = doc.get("title"), doc.get("source")
    if not isinstance(title, str) or not title.strip():
        raise ValidationError(f"{name}: a validation case needs a 'title'")
    if not isinstance(source, str) or not source.strip():
        raise ValidationError(f"{name}: a validation case needs a 'source' (a citation, or "
                              "'textbook archetype: ...')")
    expected = doc.get("expected")
    if not isinstance(expected, dict):
        raise ValidationError(f"{name}: 'expected' must map diagnoses and knee_pain_source")
    unknown = set(expected) - {"diagnoses", "knee_pain_source"}
    if unknown:
        raise ValidationError(f"{name}: unknown key(s) in 'expected': {sorted(unknown)}; "
                              "use diagnoses, knee_pain_source")
    diagnoses = expected.get("diagnoses") or []
    if isinstance(diagnoses, str):
        diagnoses = [diagnoses]
    valid = network.by_role("diagnosis")
    for d in diagnoses:
        if d not in valid:
            raise ValidationError(f"{name}: '{d}' is not a diagnosis of {network.id}; valid: {', '.join(valid)}")
    src = expected.get("knee_pain_source")
    if src is None or src not in (*SOURCE_KEYS, NO_SOURCE):
        raise ValidationError(f"{name}: expected.knee_pain_source must be one of "
                              f"{', '.join((*SOURCE_KEYS, NO_SOURCE))} (got {src!r})")
    if src != NO_SOURCE and src not in network.knee_pain_sources:
        raise ValidationError(f"{name}: network {network.id} has no knee-pain source '{src}'")
    if not diagnoses and src == NO_SOURCE:
        raise ValidationError(f"{name}: expected names neither a diagnosis nor a knee-pain source")
    try:
        evidence = case.evidence.validate(network)
    except BNError as exc:  # unknown variable or state: say which file
        raise ValidationError(f"{name}: {exc}") from None
    case_id = Path(name).stem
    return ValidationCase(case_id, title.strip(), source.strip(), evidence, tuple(diagnoses),
                          None if src == NO_SOURCE else src, case.note, name)


def load_cases(network: Network, directory: str | Path = CASES_DIR) -> list[ValidationCase]:
    """Every ``*.yaml`` case in ``directory`` (sorted by file name), validated against ``network``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValidationError(f"case folder '{directory}' does not exist")
    cases = []
    for path in sorted(directory.glob("*.yaml")):
        if path.stat().st_size > MAX_VALIDATION_FILE_BYTES:
            raise ValidationError(f"{path}: larger than {MAX_VALIDATION_FILE_BYTES:,} bytes")
        cases.append(parse_validation_case(path.read_bytes(), str(path), network))
    if not cases:
        raise ValidationError(f"no *.yaml cases in '{directory}'")
    return cases


@dataclass(frozen=True)
class CaseResult:
    case: ValidationCase
    diagnosis_posteriors: dict[str, float]  # P(present) of every rankable diagnosis (and any expected one)
    source_posteriors: dict[str, float]  # P(source producing knee pain), by source key
    diagnosis_rank: int | None  # best rank of an established diagnosis (1 = top); None if none given
    diagnosis_probability: float | None  # its posterior
    source_rank: int | None
    source_probability: float | None
    alerts: tuple[str, ...]
    stability: ParameterStability | None = None  # None: not computed, or no knee-pain source to call

    @property
    def leading_diagnosis(self) -> str:
        return max(self.diagnosis_posteriors, key=self.diagnosis_posteriors.__getitem__)

    @property
    def leading_source(self) -> str:
        return max(self.source_posteriors, key=self.source_posteriors.__getitem__)

    def passed(self, k: int = 1) -> bool:
        """Established diagnosis and source (where given) both within the top ``k``."""
        return all(r is None or r <= k for r in (self.diagnosis_rank, self.source_rank))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.case.id, "title": self.case.title, "source": self.case.source,
            "archetype": self.case.archetype,
            "expected": {"diagnoses": list(self.case.diagnoses),
                         "knee_pain_source": self.case.knee_pain_source or NO_SOURCE},
            "diagnosis_rank": self.diagnosis_rank, "diagnosis_probability": self.diagnosis_probability,
            "source_rank": self.source_rank, "source_probability": self.source_probability,
            "leading_diagnosis": self.leading_diagnosis, "leading_source": self.leading_source,
            "passed_top1": self.passed(1), "passed_top2": self.passed(2),
            "diagnosis_posteriors": self.diagnosis_posteriors, "source_posteriors": self.source_posteriors,
            "alerts": list(self.alerts),
            "parameter_stability": self.stability.to_dict() if self.stability else None,
        }


@dataclass(frozen=True)
class ParameterStability:
    """Whether a case's knee-pain source call survives uncertainty in the network's numbers.

    From :func:`bn.sensitivity.uncertainty` (all parameters drawn jointly from their plausible ranges,
    ``draws`` draws, ``seed``) and :func:`bn.sensitivity.flip` (the leading source changes, one parameter at
    a time, exactly). ``leader`` is the leading source with the network's own numbers; ``leader_share`` the
    share of draws in which it still leads; ``established_*`` describe the source the case report
    established (its median posterior, 90% interval and the share of draws in which it leads).
    """

    draws: int
    seed: int
    leader: str
    leader_share: float
    established: str
    established_point: float
    established_median: float
    established_interval: tuple[float, float]
    established_share: float
    leaders: dict[str, float]  # share of draws in which each source leads
    flip_within_range: int  # single-parameter changes within their plausible range that change the leader
    flip_changes: int  # such changes of any size
    flip_smallest: dict[str, Any] | None  # the smallest within-range change (else None)
    flip_headline: str
    # The leading diagnosis over the same draws (rankable diagnoses, as in the case table).
    dx_leader: str | None = None
    dx_leader_share: float | None = None  # share of draws in which it still leads
    dx_established_share: float | None = None  # share of draws in which an established diagnosis leads
    dx_established_top2_share: float | None = None  # ... in which one is among the two leading diagnoses

    @property
    def stable(self) -> bool:
        """The leader stays the leader in at least :data:`STABLE_SHARE` of the draws."""
        return self.leader_share >= STABLE_SHARE

    @property
    def dx_stable(self) -> bool | None:
        """The leading diagnosis stays the leader in at least :data:`STABLE_SHARE` of the draws."""
        return None if self.dx_leader_share is None else self.dx_leader_share >= STABLE_SHARE

    @property
    def flippable(self) -> bool:
        """A single parameter within its plausible range can change the leading source."""
        return self.flip_within_range > 0

    def to_dict(self) -> dict[str, Any]:
        return {"draws": self.draws, "seed": self.seed, "stable_share_threshold": STABLE_SHARE,
                "leader": self.leader, "leader_share": self.leader_share, "stable": self.stable,
                "established": self.established, "established_point": self.established_point,
                "established_median": self.established_median,
                "established_interval_90": list(self.established_interval),
                "established_share": self.established_share, "leaders": self.leaders,
                "flip_within_range": self.flip_within_range, "flip_changes": self.flip_changes,
                "flippable": self.flippable, "flip_smallest": self.flip_smallest,
                "flip_headline": self.flip_headline, "diagnosis_leader": self.dx_leader,
                "diagnosis_leader_share": self.dx_leader_share, "diagnosis_stable": self.dx_stable,
                "established_diagnosis_share": self.dx_established_share,
                "established_diagnosis_top2_share": self.dx_established_top2_share}


def parameter_stability(net: BayesNet, case: ValidationCase, draws: int = DEFAULT_STABILITY_DRAWS,
                        seed: int = 0) -> ParameterStability | None:
    """Stability of the case's knee-pain source call under parameter uncertainty (None without a source).

    One :func:`bn.sensitivity.uncertainty` run over the four knee-pain sources (``draws`` joint draws,
    ``seed``; every case uses the same seed, so the draws are the same parameter sets across cases) and one
    :func:`bn.sensitivity.flip` for "the leading source changes".
    """
    from bn.sensitivity import flip, uncertainty

    if case.knee_pain_source is None:
        return None
    if not isinstance(draws, int) or draws < 1:
        raise ValidationError(f"stability needs at least one parameter draw (got {draws!r})")
    network = net.network
    u = uncertainty(net, case.evidence, draws=draws, seed=seed)
    if u.leaders is None or u.leader_now is None:
        raise ValidationError(f"network {network.id} has no knee-pain sources to call")
    established = next(t for t in u.targets if t.target.variable == network.knee_pain_sources[case.knee_pain_source])
    dx_leader, dx_share, dx_established, dx_top2 = _diagnosis_leaders(net, case, draws, seed)
    f = flip(net, case.evidence)
    inside = f.within_range
    smallest = None
    if inside:
        c = inside[0]
        smallest = {"parameter": c.parameter.id, "value": c.parameter.value, "new_value": c.new_value,
                    "range": list(c.parameter.range), "new_leader": c.outcome}
    return ParameterStability(
        draws=draws, seed=seed, leader=u.leader_now, leader_share=u.leaders[u.leader_now],
        established=case.knee_pain_source, established_point=established.point,
        established_median=established.median, established_interval=established.interval(0.90),
        established_share=u.leaders[case.knee_pain_source], leaders=dict(u.leaders),
        flip_within_range=len(inside), flip_changes=len(f.changes), flip_smallest=smallest,
        flip_headline=f.headline, dx_leader=dx_leader, dx_leader_share=dx_share, dx_established_share=dx_established,
        dx_established_top2_share=dx_top2)


def _diagnosis_leaders(net: BayesNet, case: ValidationCase, draws: int, seed: int
                       ) -> tuple[str | None, float | None, float | None, float | None]:
    """The leading diagnosis with the network's numbers, the share of draws in which it still leads, and the
    shares in which an established diagnosis leads and is among the two leading ones (the same seed, so the
    same parameter draws as the sources)."""
    from bn.sensitivity import uncertainty

    candidates = rankable_diagnoses(net.network)
    if len(candidates) < 2:
        return None, None, None, None
    u = uncertainty(net, case.evidence, candidates, draws=draws, seed=seed)
    length = min(t.samples.size for t in u.targets)
    stacked = np.stack([t.samples[:length] for t in u.targets], axis=1)
    names = [t.target.variable for t in u.targets]
    winners = np.argmax(stacked, axis=1)
    leader = max(names, key=lambda d: u.targets[names.index(d)].point)
    established = [names.index(d) for d in case.diagnoses if d in names]
    if not established:
        return leader, float(np.mean(winners == names.index(leader))), None, None
    top2 = np.argsort(-stacked, axis=1, kind="stable")[:, :2]
    return (leader, float(np.mean(winners == names.index(leader))), float(np.mean(np.isin(winners, established))),
            float(np.mean(np.isin(top2, established).any(axis=1))))


def _rank(scores: Mapping[str, float], targets: Sequence[str]) -> tuple[int, float]:
    """Best 1-based rank of any target; other targets are not competitors (a case may have two diagnoses).

    A target tied with a competitor gets the worse rank, so a tie never counts as a hit.
    """
    best_rank, best_p = len(scores) + 1, 0.0
    for t in targets:
        p = scores[t]
        rank = 1 + sum(1 for k, q in scores.items() if k not in targets and q >= p)
        if rank < best_rank or (rank == best_rank and p > best_p):
            best_rank, best_p = rank, p
    return best_rank, best_p


def score_case(net: BayesNet, case: ValidationCase, stability_draws: int = 0, seed: int = 0) -> CaseResult:
    """Posteriors of the diagnoses and knee-pain sources for one case, and the ranks of what was established.

    With ``stability_draws`` > 0, also the call's :func:`parameter_stability` (``seed`` for the draws).
    """
    network = net.network
    candidates = list(dict.fromkeys([*rankable_diagnoses(network), *case.diagnoses]))
    sources = {k: v for k, v in network.knee_pain_sources.items() if k in SOURCE_KEYS}
    marg = net.marginals([*candidates, *sources.values()], case.evidence)
    dx = {d: marg[d][network[d].state_ids[-1]] for d in candidates}
    src = {k: marg[v][network[v].state_ids[-1]] for k, v in sources.items()}
    dx_rank = dx_p = src_rank = src_p = None
    if case.diagnoses:
        dx_rank, dx_p = _rank(dx, case.diagnoses)
    if case.knee_pain_source:
        src_rank, src_p = _rank(src, [case.knee_pain_source])
    alerts = tuple(a.id for a in net.alerts(case.evidence))
    stability = parameter_stability(net, case, stability_draws, seed) if stability_draws else None
    return CaseResult(case, dx, src, dx_rank, dx_p, src_rank, src_p, alerts, stability)


@dataclass(frozen=True)
class CaseSuite:
    network: dict[str, str]
    results: list[CaseResult]
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network, "summary": self.summary, "cases": [r.to_dict() for r in self.results]}


def run_cases(net: BayesNet, cases: Sequence[ValidationCase], stability_draws: int = 0, seed: int = 0) -> CaseSuite:
    """Score every case; summary metrics as defined in ``validation/README.md``.

    ``stability_draws`` > 0 adds each call's stability under parameter uncertainty (:func:`parameter_stability`,
    the same ``seed`` for every case) and the summary keys ``stability_cases`` (cases with a knee-pain source
    call), ``stable_cases`` (leader kept in >= ``STABLE_SHARE`` of the draws), ``unstable`` and ``flippable``
    (ids of the cases that are not stable / whose call one parameter within its range can change).

    - ``top1_accuracy`` / ``top2_accuracy``: share of cases whose established diagnosis *and* source (where
      given) are ranked first (within the first two);
    - ``brier_source``: mean over cases with a source and over the four sources of (P(source) - y)^2, with
      y = 1 for the established source and 0 for the others (the reports established a single source,
      usually by relief after treating it);
    - ``log_score_source`` / ``log_score_diagnosis``: mean log posterior of the established source /
      diagnosis (the best-ranked one when a case has two).
    """
    if not cases:
        raise ValidationError("no cases to run")
    if not isinstance(stability_draws, int) or stability_draws < 0:
        raise ValidationError(f"stability draws must be a non-negative integer (got {stability_draws!r})")
    results = [score_case(net, c, stability_draws, seed) for c in cases]
    with_dx = [r for r in results if r.diagnosis_rank is not None]
    with_src = [r for r in results if r.source_rank is not None]
    probs, outcomes = [], []
    for r in with_src:
        for key, p in r.source_posteriors.items():
            probs.append(p)
            outcomes.append(1 if key == r.case.knee_pain_source else 0)
    summary: dict[str, Any] = {
        "cases": len(results),
        "published_cases": sum(1 for r in results if not r.case.archetype),
        "archetypes": sum(1 for r in results if r.case.archetype),
        "top1_accuracy": float(np.mean([r.passed(1) for r in results])),
        "top2_accuracy": float(np.mean([r.passed(2) for r in results])),
        "diagnosis_top1": float(np.mean([r.diagnosis_rank == 1 for r in with_dx])) if with_dx else float("nan"),
        "diagnosis_top2": float(np.mean([r.diagnosis_rank <= 2 for r in with_dx])) if with_dx else float("nan"),
        "source_top1": float(np.mean([r.source_rank == 1 for r in with_src])) if with_src else float("nan"),
        "source_top2": float(np.mean([r.source_rank <= 2 for r in with_src])) if with_src else float("nan"),
        "brier_source": brier_score(probs, outcomes) if probs else float("nan"),
        "log_score_source": log_score([r.source_probability for r in with_src]) if with_src else float("nan"),
        "log_score_diagnosis": log_score([r.diagnosis_probability for r in with_dx]) if with_dx else float("nan"),
    }
    if stability_draws:
        with_stab = [r for r in results if r.stability is not None]
        summary.update({
            "stability_draws": stability_draws, "stability_seed": seed, "stable_share_threshold": STABLE_SHARE,
            "stability_cases": len(with_stab),
            "stable_cases": sum(1 for r in with_stab if r.stability.stable),
            "unstable": [r.case.id for r in with_stab if not r.stability.stable],
            "flippable": [r.case.id for r in with_stab if r.stability.flippable],
            "diagnosis_stability_cases": sum(1 for r in with_stab if r.stability.dx_stable is not None),
            "diagnosis_stable_cases": sum(1 for r in with_stab if r.stability.dx_stable),
            "diagnosis_unstable": [r.case.id for r in with_stab if r.stability.dx_stable is False],
        })
    return CaseSuite(net.info.to_dict(), results, summary)


# ================================================================================================
# Literature concordance
# ================================================================================================

MEASURES = ("sensitivity", "specificity", "lr_positive", "lr_negative", "probability")


@dataclass(frozen=True)
class ConcordanceItem:
    """One published figure and the question that reproduces it in the network.

    ``finding`` and ``condition`` are events over network variables: a mapping ``{variable: state}``,
    true when *any* of its entries holds (so ``{l4_root_compromise: present, l5_root_compromise: present}``
    is 'L4 or L5 root compromise'). ``population`` is hard evidence describing the study population.
    ``measure``: sensitivity P(F | C, pop), specificity P(not F | not C, pop), lr_positive, lr_negative, or
    probability P(F | C, pop) (``condition`` may be empty).
    """

    id: str
    label: str
    measure: str
    finding: dict[str, str]
    condition: dict[str, str]
    population: dict[str, str]
    published: float
    interval: tuple[float, float] | None
    interval_kind: str  # "95% CI" | "Wilson 95% (calc)" | "range" | "none"
    source: str
    note: str = ""


def load_concordance(network: Network, path: str | Path = CONCORDANCE_FILE) -> list[ConcordanceItem]:
    """The concordance table, validated against ``network`` (one-line ValidationError on the first problem)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_VALIDATION_FILE_BYTES:
            raise ValidationError(f"{path}: larger than {MAX_VALIDATION_FILE_BYTES:,} bytes")
        doc = safeyaml.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(f"cannot read concordance table '{path}': {exc.strerror or exc}") from None
    except safeyaml.YAMLError as exc:
        raise ValidationError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    rows = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(rows, list) or not rows:
        raise ValidationError(f"{path}: expected a mapping with a non-empty list 'items'")
    items, seen = [], set()
    for i, row in enumerate(rows):
        where = f"{path}: item {i + 1}" + (f" ({row.get('id')})" if isinstance(row, dict) else "")
        if not isinstance(row, dict):
            raise ValidationError(f"{where}: expected a mapping")
        items.append(_concordance_item(row, where, network))
        if items[-1].id in seen:
            raise ValidationError(f"{where}: duplicate id '{items[-1].id}'")
        seen.add(items[-1].id)
    return items


def _concordance_item(row: Mapping[str, Any], where: str, network: Network) -> ConcordanceItem:
    required = ("id", "label", "measure", "finding", "published", "source")
    missing = [k for k in required if k not in row]
    if missing:
        raise ValidationError(f"{where}: missing {', '.join(missing)}")
    measure = row["measure"]
    if measure not in MEASURES:
        raise ValidationError(f"{where}: measure '{measure}' is not one of {', '.join(MEASURES)}")
    events = {}
    for key in ("finding", "condition", "population"):
        value = row.get(key) or {}
        if not isinstance(value, dict):
            raise ValidationError(f"{where}: '{key}' must map variables to states")
        try:
            Evidence({str(k): str(v) for k, v in value.items()}).validate(network)
        except BNError as exc:
            raise ValidationError(f"{where}: {key}: {exc}") from None
        events[key] = {str(k): str(v) for k, v in value.items()}
    if not events["finding"]:
        raise ValidationError(f"{where}: 'finding' is empty")
    if measure != "probability" and not events["condition"]:
        raise ValidationError(f"{where}: measure {measure} needs a 'condition'")
    overlap = (set(events["finding"]) | set(events["condition"])) & set(events["population"])
    if overlap:
        raise ValidationError(f"{where}: {', '.join(sorted(overlap))} is both an event and population evidence")
    published = _number(row["published"], where, "published")
    interval, kind = None, "none"
    if row.get("ci") is not None:
        ci = row["ci"]
        if not (isinstance(ci, list) and len(ci) == 2):
            raise ValidationError(f"{where}: 'ci' must be [low, high]")
        interval = (_number(ci[0], where, "ci"), _number(ci[1], where, "ci"))
        kind = str(row.get("interval_kind") or "95% CI")
    elif row.get("n") is not None:
        if measure not in ("sensitivity", "specificity", "probability"):
            raise ValidationError(f"{where}: an interval from 'n' needs a proportion, not {measure}")
        n = int(row["n"])
        interval, kind = wilson_interval(round(published * n), n), f"Wilson 95% from n={n} (calc)"
    if interval is not None and not interval[0] <= interval[1]:
        raise ValidationError(f"{where}: interval low {interval[0]} is above high {interval[1]}")
    return ConcordanceItem(str(row["id"]), str(row["label"]), measure, events["finding"], events["condition"],
                           events["population"], published, interval, kind, str(row["source"]),
                           str(row.get("note") or ""))


def _number(x: Any, where: str, key: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
        raise ValidationError(f"{where}: '{key}' must be a non-negative number, got {x!r}")
    return float(x)


def _event_mask(network: Network, variables: Sequence[str], event: Mapping[str, str]) -> np.ndarray:
    """Boolean array over the joint of ``variables``: True where any ``variable = state`` of ``event`` holds."""
    shape = [network[v].card for v in variables]
    mask = np.zeros(shape, dtype=bool)
    for var, state in event.items():
        axis = variables.index(var)
        index = [slice(None)] * len(variables)
        index[axis] = network[var].state_index(state)
        mask[tuple(index)] = True
    return mask


def implied_value(net: BayesNet, item: ConcordanceItem) -> float:
    """What the network says for ``item``, marginalising over everything not in the population evidence."""
    network = net.network
    variables = list(dict.fromkeys([*item.finding, *item.condition]))
    joint = net.joint(variables, item.population)
    f = _event_mask(network, variables, item.finding)
    c = _event_mask(network, variables, item.condition) if item.condition else np.ones_like(f)

    def p(event: np.ndarray, given: np.ndarray) -> float:
        denominator = float(joint[given].sum())
        if denominator <= 0:
            raise ValidationError(f"concordance item {item.id}: the conditioning event has probability zero")
        return float(joint[event & given].sum()) / denominator

    sens = p(f, c)
    if item.measure in ("sensitivity", "probability"):
        return sens
    spec = p(~f, ~c)
    if item.measure == "specificity":
        return spec
    if item.measure == "lr_positive":
        return sens / (1 - spec) if spec < 1 else float("inf")
    return (1 - sens) / spec  # lr_negative


@dataclass(frozen=True)
class ConcordanceRow:
    item: ConcordanceItem
    implied: float

    @property
    def inside(self) -> bool | None:
        """Inside the published interval (None when the study gives none)."""
        if self.item.interval is None:
            return None
        low, high = self.item.interval
        return low <= self.implied <= high

    @property
    def direction(self) -> str:
        if self.inside:
            return "inside"
        if self.item.interval is None:
            return "higher" if self.implied > self.item.published else "lower"
        return "above" if self.implied > self.item.interval[1] else "below"

    def to_dict(self) -> dict[str, Any]:
        it = self.item
        return {"id": it.id, "label": it.label, "measure": it.measure, "finding": it.finding,
                "condition": it.condition, "population": it.population, "published": it.published,
                "interval": list(it.interval) if it.interval else None, "interval_kind": it.interval_kind,
                "implied": self.implied, "inside": self.inside, "direction": self.direction,
                "source": it.source, "note": it.note}


def run_concordance(net: BayesNet, items: Sequence[ConcordanceItem]) -> dict[str, Any]:
    """Implied value for every item, and counts inside / outside their interval."""
    rows = [ConcordanceRow(it, implied_value(net, it)) for it in items]
    with_interval = [r for r in rows if r.inside is not None]
    return {
        "network": net.info.to_dict(),
        "rows": rows,
        "summary": {"items": len(rows), "with_interval": len(with_interval),
                    "inside": sum(1 for r in with_interval if r.inside),
                    "outside": sum(1 for r in with_interval if not r.inside)},
    }


# ================================================================================================
# Simulated data: discrimination and calibration of the network's own posteriors
# ================================================================================================


def _observable(network: Network) -> list[str]:
    return [v for v in network.variables if network[v].role in ("risk_factor", "finding", "red_flag")]


def batch_posteriors(net: BayesNet, states: np.ndarray, observed: Sequence[str], targets: Sequence[str]
                     ) -> dict[str, np.ndarray]:
    """P(target's last state | the sampled states of ``observed``) for every row of ``states``.

    Uses the engine's batched marginals when it has them (one pass for all cases) and otherwise one query
    per distinct evidence pattern; both give the same numbers (the tests check it).
    """
    network = net.network
    order = list(network.variables)
    cols = [order.index(v) for v in observed]
    patterns, inverse = np.unique(states[:, cols], axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    out = {t: np.empty(len(patterns)) for t in targets}
    batched = getattr(net.engine, "marginals", None)
    if callable(batched):
        try:
            lik = {v: np.eye(network[v].card)[patterns[:, j]] for j, v in enumerate(observed)}
            marg, _ = batched(lik, list(targets))
            for t in targets:
                out[t] = np.asarray(marg[t])[:, -1]
            return {t: out[t][inverse] for t in targets}
        except (TypeError, ValueError):
            pass  # an engine without batch support: fall back to one query per pattern
    for i, row in enumerate(patterns):
        ev = {v: network[v].state_ids[int(s)] for v, s in zip(observed, row)}
        marg = net.marginals(list(targets), ev)
        for t in targets:
            out[t][i] = marg[t][network[t].state_ids[-1]]
    return {t: out[t][inverse] for t in targets}


def simulate(net: BayesNet, n: int, seed: int = 0, groups: Sequence[str] = ("history", "exam", "imaging"),
             bins: int = 10) -> dict[str, Any]:
    """Sample ``n`` knee-pain cases from the network, hide diagnoses and mechanisms, score the posteriors.

    Cases are drawn by forward sampling and kept when knee pain is present (rejection: the clinical
    question is always asked of a knee-pain patient). Observed: age, sex, red flags and the findings of
    ``groups``. Returns AUC and ECE per diagnosis and per knee-pain source, pooled reliability curves, and
    the raw (posterior, truth) arrays for plotting.
    """
    from bn.sampling import sample

    if n < 10:
        raise ValidationError(f"simulation needs at least 10 cases (got {n})")
    network = net.network
    rng = np.random.default_rng(seed)
    order = list(network.variables)
    keep_var = "knee_pain" if "knee_pain" in network else None
    chunks, kept = [], 0
    while kept < n:
        states, _ = sample(network, max(2 * (n - kept), 100), rng)
        if keep_var:
            states = states[states[:, order.index(keep_var)] == network[keep_var].card - 1]
        chunks.append(states)
        kept += len(states)
    states = np.concatenate(chunks)[:n]
    observed = [v for v in _observable(network)
                if network[v].role != "finding" or network[v].group in groups]
    observed = [v for v in observed if v != keep_var] + ([keep_var] if keep_var else [])
    diagnoses = rankable_diagnoses(network)
    sources = {k: v for k, v in network.knee_pain_sources.items()}
    targets = [*diagnoses, *sources.values()]
    post = batch_posteriors(net, states, observed, targets)
    truth = {t: (states[:, order.index(t)] == network[t].card - 1).astype(int) for t in targets}

    def metrics(t: str) -> dict[str, float]:
        return {"auc": roc_auc(post[t], truth[t]), "ece": expected_calibration_error(post[t], truth[t], bins),
                "brier": brier_score(post[t], truth[t]), "prevalence": float(truth[t].mean())}

    pooled_dx_p = np.concatenate([post[d] for d in diagnoses])
    pooled_dx_y = np.concatenate([truth[d] for d in diagnoses])
    pooled_src_p = np.concatenate([post[v] for v in sources.values()])
    pooled_src_y = np.concatenate([truth[v] for v in sources.values()])
    return {
        "network": net.info.to_dict(), "n": int(n), "seed": seed, "groups": list(groups),
        "observed": observed,
        "diagnoses": {d: metrics(d) for d in diagnoses},
        "sources": {k: metrics(v) for k, v in sources.items()},
        "reliability_diagnoses": reliability(pooled_dx_p, pooled_dx_y, bins),
        "reliability_sources": reliability(pooled_src_p, pooled_src_y, bins),
        "posteriors": post, "truth": truth, "source_variables": dict(sources),
    }


# ================================================================================================
# Parameter recovery with pgmpy estimators
# ================================================================================================


def _parent_weights(net: BayesNet, vid: str) -> np.ndarray:
    """P(parent configuration) under the network, flattened in the table's row order."""
    v = net.network[vid]
    if not v.parents:
        return np.ones(1)
    return np.asarray(net.joint(list(v.parents))).ravel()


def parameter_recovery(net: BayesNet, sizes: Sequence[int], seed: int = 0, prior_weight: float = 10.0,
                       ) -> dict[str, Any]:
    """Learn every table back from N sampled cases (MLE and Bayesian), for each N in ``sizes``.

    Error of a learnt table: the total-variation distance between learnt and true rows, averaged over
    parent configurations weighted by how often they occur under the network (rare rows matter little),
    then averaged over variables. ``prior_weight`` is the Bayesian estimator's equivalent sample size per
    parent configuration (the Dirichlet pseudo-counts are ``prior_weight x`` the network's own row), which
    is how a clinic would update the published tables with its own records.
    """
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        from pgmpy.estimators import BayesianEstimator, MaximumLikelihoodEstimator

    from bn.compile import to_pgmpy
    from bn.sampling import sample

    if not sizes or any(int(s) < 1 for s in sizes):
        raise ValidationError("parameter recovery needs sample sizes of at least 1")
    network = net.network
    model = to_pgmpy(network)
    order = list(network.variables)
    weights = {vid: _parent_weights(net, vid) for vid in order}
    state_names = {vid: list(network[vid].state_ids) for vid in order}
    rng = np.random.default_rng(seed)
    biggest, _ = sample(network, int(max(sizes)), rng)
    rows = []
    for size in sorted(int(s) for s in sizes):
        errors: dict[str, list[float]] = {"mle": [], "bayes": []}
        data = pd.DataFrame({vid: np.asarray(state_names[vid], dtype=object)[biggest[:size, j]]
                             for j, vid in enumerate(order)})
        with warnings.catch_warnings():
            # pgmpy 1.x announces new names for these estimators; the old ones are what 1.0-1.2 all have.
            warnings.simplefilter("ignore", FutureWarning)
            mle = MaximumLikelihoodEstimator(model, data, state_names=state_names)
            bayes = BayesianEstimator(model, data, state_names=state_names)
        for vid in order:
            v = network[vid]
            w = weights[vid] / weights[vid].sum()
            learnt_mle = _learnt_table(mle.estimate_cpd(vid), network, vid)
            learnt_bayes = _learnt_table(bayes.estimate_cpd(vid, prior_type="dirichlet",
                                                            pseudo_counts=_pgmpy_rows(v, prior_weight)), network, vid)
            for name, learnt in (("mle", learnt_mle), ("bayes", learnt_bayes)):
                tv = 0.5 * np.abs(learnt - v.cpt).sum(axis=-1).ravel()
                errors[name].append(float(np.sum(w * tv)))
        rows.append({"n": size, "mle": float(np.mean(errors["mle"])), "bayes": float(np.mean(errors["bayes"])),
                     "mle_max": float(np.max(errors["mle"])), "bayes_max": float(np.max(errors["bayes"]))})
    return {"network": net.info.to_dict(), "seed": seed, "prior_weight": prior_weight, "rows": rows}


def _pgmpy_rows(v, scale: float) -> np.ndarray:
    """``scale`` x the variable's table as pgmpy lays it out: child states by rows, parents *sorted by name*.

    pgmpy's estimators order a node's parents with ``sorted()``, not in the model's edge order, so the prior
    must be permuted the same way or it would sit on the wrong rows.
    """
    parents = list(v.parents)
    perm = [parents.index(p) for p in sorted(parents)] + [len(parents)]
    table = np.transpose(v.cpt, perm)
    return scale * np.moveaxis(table, -1, 0).reshape(v.card, -1)


def _learnt_table(cpd, network: Network, vid: str) -> np.ndarray:
    """A pgmpy CPD back in this package's layout: ``table[parent states..., child state]``, our state order."""
    names = cpd.state_names
    order = list(cpd.variables)  # [vid, *parents in pgmpy's order]
    values = np.asarray(cpd.get_values(), dtype=float).reshape([len(names[x]) for x in order])
    for axis, var in enumerate(order):
        values = np.take(values, [list(names[var]).index(s) for s in network[var].state_ids], axis=axis)
    return np.transpose(values, [order.index(p) for p in network[vid].parents] + [0])


# ================================================================================================
# Version comparison
# ================================================================================================


def parameter_diff(a: Network, b: Network, tolerance: float = 1e-12) -> dict[str, Any]:
    """Every number that differs between two networks, by variable and position, plus structural changes."""
    added = [v for v in b.variables if v not in a.variables]
    removed = [v for v in a.variables if v not in b.variables]
    changed, structure = [], []
    for vid in a.variables:
        if vid not in b.variables:
            continue
        va, vb = a[vid], b[vid]
        if va.parents != vb.parents or va.state_ids != vb.state_ids or va.form != vb.form:
            structure.append({"variable": vid, "parents": [list(va.parents), list(vb.parents)],
                              "states": [list(va.state_ids), list(vb.state_ids)], "form": [va.form, vb.form]})
            continue
        pa = {(p.kind, p.key): p for p in va.parameters}
        pb = {(p.kind, p.key): p for p in vb.parameters}
        for key in dict.fromkeys([*pa, *pb]):
            x, y = pa.get(key), pb.get(key)
            if x is None or y is None or not np.allclose(np.atleast_1d(x.value), np.atleast_1d(y.value),
                                                         atol=tolerance, rtol=0):
                changed.append({"variable": vid, "kind": key[0], "key": key[1],
                                "old": None if x is None else x.value, "new": None if y is None else y.value,
                                "old_provenance": None if x is None else (x.source or "expert estimate"),
                                "new_provenance": None if y is None else (y.source or "expert estimate")})
        if not pa and not pb and not np.allclose(va.cpt, vb.cpt, atol=tolerance, rtol=0):
            changed.append({"variable": vid, "kind": "table", "key": "(whole table)", "old": None, "new": None,
                            "old_provenance": None, "new_provenance": None})
    return {"added_variables": added, "removed_variables": removed, "structure": structure, "parameters": changed}


def compare_versions(net_a: BayesNet, net_b: BayesNet, cases: Sequence[ValidationCase]) -> dict[str, Any]:
    """Posterior shifts per case between two networks, cases whose leading call changed, and the parameter diff.

    Cases are validated against each network separately (a finding the new version dropped is an error).
    """
    rows = []
    for case in cases:
        ra, rb = score_case(net_a, case), score_case(net_b, case)
        shared_dx = [d for d in ra.diagnosis_posteriors if d in rb.diagnosis_posteriors]
        shifts = {d: rb.diagnosis_posteriors[d] - ra.diagnosis_posteriors[d] for d in shared_dx}
        shifts.update({f"source:{k}": rb.source_posteriors[k] - ra.source_posteriors[k]
                       for k in ra.source_posteriors if k in rb.source_posteriors})
        biggest = max(shifts, key=lambda k: abs(shifts[k])) if shifts else None
        rows.append({
            "id": case.id, "title": case.title,
            "leading_diagnosis": [ra.leading_diagnosis, rb.leading_diagnosis],
            "leading_source": [ra.leading_source, rb.leading_source],
            "diagnosis_changed": ra.leading_diagnosis != rb.leading_diagnosis,
            "source_changed": ra.leading_source != rb.leading_source,
            "passed_top1": [ra.passed(1), rb.passed(1)],
            "largest_shift": biggest, "largest_shift_value": shifts.get(biggest, 0.0) if biggest else 0.0,
            "shifts": shifts,
        })
    return {"a": net_a.info.to_dict(), "b": net_b.info.to_dict(), "cases": rows,
            "changed_cases": [r["id"] for r in rows if r["diagnosis_changed"] or r["source_changed"]],
            "parameters": parameter_diff(net_a.network, net_b.network)}


# ================================================================================================
# Baseline (the CI regression gate)
# ================================================================================================

GATED = {"top1_accuracy": "higher", "brier_source": "lower", "concordance_inside": "higher"}


def gate_metrics(suite: CaseSuite, concordance: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers CI must not let get worse."""
    return {"top1_accuracy": suite.summary["top1_accuracy"], "brier_source": suite.summary["brier_source"],
            "concordance_inside": concordance["summary"]["inside"]}


def read_baseline(path: str | Path = BASELINE_FILE) -> dict[str, Any]:
    """``{network id: {version: {sha256, metrics...}}}``; a missing file is an empty baseline."""
    import json

    path = Path(path)
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read baseline '{path}': {exc}") from None
    if not isinstance(data, dict):
        raise ValidationError(f"baseline '{path}': expected a JSON object")
    return data


def write_baseline(metrics: Mapping[str, Any], network: Mapping[str, str], path: str | Path = BASELINE_FILE) -> None:
    """Record ``metrics`` for ``network`` (id, version, sha256), keeping the other versions' records."""
    import json

    data = read_baseline(path)
    data.setdefault(network["id"], {})[network["version"]] = {"sha256": network["sha256"], **dict(metrics)}
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def regressions(metrics: Mapping[str, Any], recorded: Mapping[str, Any], tolerance: float = 1e-9) -> list[str]:
    """One message per gated metric that is worse than recorded (empty list: no regression).

    >>> regressions({"top1_accuracy": 0.5, "brier_source": 0.2, "concordance_inside": 3},
    ...             {"top1_accuracy": 0.6, "brier_source": 0.2, "concordance_inside": 3})
    ['top1_accuracy fell from 0.6 to 0.5']
    """
    out = []
    for key, better in GATED.items():
        if key not in recorded:
            continue
        now, then = float(metrics[key]), float(recorded[key])
        if better == "higher" and now < then - tolerance:
            out.append(f"{key} fell from {then:.6g} to {now:.6g}")
        if better == "lower" and now > then + tolerance:
            out.append(f"{key} rose from {then:.6g} to {now:.6g}")
    return out


# ================================================================================================
# The whole run and the report
# ================================================================================================


@dataclass
class ValidationRun:
    network: dict[str, str]
    suite: CaseSuite
    concordance: dict[str, Any]
    simulation: dict[str, Any] | None = None
    simulation_history_exam: dict[str, Any] | None = None
    recovery: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    date: str = field(default_factory=lambda: _dt.date.today().isoformat())

    @property
    def gate(self) -> dict[str, Any]:
        return gate_metrics(self.suite, self.concordance)


def run_all(net: BayesNet, cases_dir: str | Path = CASES_DIR, concordance_file: str | Path = CONCORDANCE_FILE,
            samples: int = 2000, recovery_sizes: Sequence[int] = (200, 1000, 5000, 20000), seed: int = 0,
            fast: bool = False, stability_draws: int | None = None) -> ValidationRun:
    """Everything ``bn validate`` reports; ``fast`` runs only the case suite and the concordance check (CI).

    ``stability_draws``: joint parameter draws per case for the stability columns (default
    ``DEFAULT_STABILITY_DRAWS``, or 0 = skipped with ``fast``); ``seed`` seeds them.
    """
    import time

    if stability_draws is None:
        stability_draws = 0 if fast else DEFAULT_STABILITY_DRAWS
    timings = {}
    t = time.perf_counter()
    suite = run_cases(net, load_cases(net.network, cases_dir), stability_draws=stability_draws, seed=seed)
    timings["cases"] = time.perf_counter() - t  # with stability when stability_draws > 0
    t = time.perf_counter()
    concordance = run_concordance(net, load_concordance(net.network, concordance_file))
    timings["concordance"] = time.perf_counter() - t
    run = ValidationRun(net.info.to_dict(), suite, concordance, timings=timings)
    if fast:
        return run
    t = time.perf_counter()
    run.simulation = simulate(net, samples, seed)
    run.simulation_history_exam = simulate(net, samples, seed, groups=("history", "exam"))
    timings["simulation"] = time.perf_counter() - t
    if recovery_sizes:
        t = time.perf_counter()
        run.recovery = parameter_recovery(net, recovery_sizes, seed)
        timings["recovery"] = time.perf_counter() - t
    return run


def _fmt(x: float | None, digits: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isnan(x):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.{digits}f}"


def _stamp(network: Mapping[str, str], date: str) -> str:
    return (f"Network **{network['id']}** version **{network['version']}**, sha256 `{network['sha256']}`. "
            f"Generated {date} by `bn validate`.")


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(run: ValidationRun, out_dir: str | Path = REPORT_DIR, comparison: Mapping[str, Any] | None = None
                 ) -> Path:
    """Write ``report.md``, ``results.json`` and the charts into ``out_dir``; returns the markdown path."""
    import json

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"cannot create report folder '{out}': {exc.strerror or exc}") from None
    charts = _charts(run, out)
    lines = [f"# Validation report: {run.network['id']} {run.network['version']}", "",
             _stamp(run.network, run.date), "",
             "> Educational decision-support tool, not a medical device. These checks compare the network with "
             "published cases and figures; they are not a clinical validation on patients.", ""]
    lines += _summary_section(run)
    lines += _cases_section(run, charts)
    lines += _concordance_section(run, charts)
    if run.simulation:
        lines += _simulation_section(run, charts)
    if run.recovery:
        lines += _recovery_section(run, charts)
    if comparison:
        lines += comparison_markdown(comparison)
    lines += ["## Timings", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in run.timings.items()]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "results.json").write_text(json.dumps(_results_json(run, comparison), indent=2, default=_json_default)
                                      + "\n", encoding="utf-8")
    return path


def _json_default(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, Reliability):
        return {"mean_predicted": x.mean_predicted.tolist(), "observed": x.observed.tolist(),
                "counts": x.counts.tolist(), "ece": x.ece}
    raise TypeError(type(x).__name__)


def _results_json(run: ValidationRun, comparison: Mapping[str, Any] | None) -> dict[str, Any]:
    def sim(s):
        if not s:
            return None
        return {k: v for k, v in s.items() if k not in ("posteriors", "truth")}

    return {"network": run.network, "date": run.date, "gate": run.gate, "cases": run.suite.to_dict(),
            "concordance": {"summary": run.concordance["summary"],
                            "rows": [r.to_dict() for r in run.concordance["rows"]]},
            "simulation": sim(run.simulation), "simulation_history_exam": sim(run.simulation_history_exam),
            "recovery": run.recovery, "comparison": comparison, "timings": run.timings}


def _summary_section(run: ValidationRun) -> list[str]:
    s, c = run.suite.summary, run.concordance["summary"]
    out = ["## Summary", "", "| measure | value |", "|---|---|",
           f"| cases (published / textbook archetypes) | {s['cases']} ({s['published_cases']} / {s['archetypes']}) |",
           f"| top-1 accuracy (diagnosis and source) | {_fmt(s['top1_accuracy'])} |",
           f"| top-2 accuracy | {_fmt(s['top2_accuracy'])} |",
           f"| diagnosis top-1 / top-2 | {_fmt(s['diagnosis_top1'])} / {_fmt(s['diagnosis_top2'])} |",
           f"| knee-pain source top-1 / top-2 | {_fmt(s['source_top1'])} / {_fmt(s['source_top2'])} |",
           f"| Brier score, knee-pain sources | {_fmt(s['brier_source'], 3)} |",
           f"| mean log score, source / diagnosis | {_fmt(s['log_score_source'], 3)} / "
           f"{_fmt(s['log_score_diagnosis'], 3)} |",
           f"| concordance: inside published interval | {c['inside']} of {c['with_interval']} "
           f"({c['items']} figures in all) |"]
    if "stable_cases" in s:
        unstable = ", ".join(s["unstable"]) or "none"
        flippable = ", ".join(s["flippable"]) or "none"
        out += [f"| knee-pain source calls stable under parameter uncertainty (leader kept in >= "
                f"{s['stable_share_threshold']:.0%} of {s['stability_draws']} joint draws) | "
                f"{s['stable_cases']} of {s['stability_cases']} (not stable: {unstable}) |",
                f"| calls one parameter within its plausible range can change | {len(s['flippable'])} of "
                f"{s['stability_cases']} ({flippable}) |"]
        if "diagnosis_stable_cases" in s:
            out.append(f"| leading-diagnosis calls stable under the same draws | {s['diagnosis_stable_cases']} of "
                       f"{s['diagnosis_stability_cases']} (not stable: "
                       f"{', '.join(s['diagnosis_unstable']) or 'none'}) |")
    if run.simulation:
        sim = run.simulation
        aucs = [m["auc"] for m in sim["sources"].values()]
        out.append(f"| simulated cases (N={sim['n']}): knee-pain source AUC | "
                   f"{_fmt(min(aucs))}-{_fmt(max(aucs))} |")
    return [*out, ""]


def _cases_section(run: ValidationRun, charts: Mapping[str, str]) -> list[str]:
    out = ["## 1. Clinical cases", "",
           "Established diagnosis and knee-pain source ranked against the network's posteriors (rank 1 = the "
           "network's leading call). Diagnoses ranked: every diagnosis except intrinsic_knee_disease (the OR of "
           "the three knee diagnoses). Cases marked *archetype* are textbook archetypes, not published cases.", "",
           "| case | expected diagnosis | rank | P | expected source | rank | P | leading (dx / source) | "
           "top-1 | stable call (leader kept) | alerts |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in run.suite.results:
        c = r.case
        name = f"{c.id}{' *(archetype)*' if c.archetype else ''}"
        st = r.stability
        stable = "-" if st is None else f"{'yes' if st.stable else '**no**'} ({st.leader_share:.0%})"
        out.append(f"| {name} | {', '.join(c.diagnoses) or '(none modelled)'} | {r.diagnosis_rank or '-'} | "
                   f"{_fmt(r.diagnosis_probability)} | {c.knee_pain_source or '(no knee pain)'} | "
                   f"{r.source_rank or '-'} | {_fmt(r.source_probability)} | {r.leading_diagnosis} / "
                   f"{r.leading_source if 'knee_pain' in c.evidence.findings else '-'} | "
                   f"{'pass' if r.passed(1) else 'FAIL'} | {stable} | {', '.join(r.alerts) or ''} |")
    out += [""]
    out += _stability_section(run)
    if "cases" in charts:
        out += [f"![Per-case posteriors]({charts['cases']})", ""]
    out += ["### Sources of the cases", ""]
    out += [f"- **{r.case.id}**: {r.case.title}. {_md_escape(r.case.source)}" for r in run.suite.results]
    return [*out, ""]


def _stability_section(run: ValidationRun) -> list[str]:
    s = run.suite.summary
    if "stable_cases" not in s:
        return ["Stability of each call under parameter uncertainty was not computed in this run (`--fast` skips "
                "it; `--stability-draws N` computes it).", ""]
    out = ["### Stability of the knee-pain source call under parameter uncertainty", "",
           f"Every parameter drawn jointly from its plausible range ({s['stability_draws']} draws, seed "
           f"{s['stability_seed']}, the same draws for every case; `bn.sensitivity.uncertainty`) and one parameter "
           "at a time, exactly (`bn.sensitivity.flip`, 'the leading source changes'). *established source*: the "
           "posterior of the source the report established, with the network's numbers, and its median and "
           "90% interval over the draws. *leader kept*: share of draws in which the network's leading source "
           f"still leads; the call is **stable** when this is at least {s['stable_share_threshold']:.0%}. "
           "*one-parameter flip*: can a single parameter within its plausible range change the leading source? "
           "(Stability is about the network's call, right or wrong: a stable call on a FAIL case is stably wrong.) "
           "Cases without knee pain have no source call.", "",
           "*leading diagnosis*: the same for the diagnosis the network ranks first (share of the same draws in "
           "which it still leads; in brackets, the shares in which an established diagnosis leads / is among "
           "the two leading diagnoses).", "",
           "| case | leading source | established source: P, median (90% interval) | established leads in | "
           "leader kept in | stable? | one-parameter flip | leading diagnosis kept in |",
           "|---|---|---|---|---|---|---|---|"]
    for r in run.suite.results:
        st = r.stability
        if st is None:
            continue
        lo, hi = st.established_interval
        if st.flip_smallest:
            fs = st.flip_smallest
            flip_text = (f"yes, {st.flip_within_range}: smallest {_md_escape(fs['parameter'])} {fs['value']:g} -> "
                         f"{fs['new_value']:.3g} (new leader {fs['new_leader']})")
        else:
            flip_text = "no"  # changes outside the ranges are in results.json (flip_changes, flip_headline)
        if st.dx_leader_share is None:
            dx_text = "-"
        else:
            dx_text = (f"{st.dx_leader} {st.dx_leader_share:.0%}{'' if st.dx_stable else ' (**unstable**)'}"
                       + ("" if st.dx_established_share is None else
                          f" ({st.dx_established_share:.0%} / {st.dx_established_top2_share:.0%})"))
        out.append(f"| {r.case.id} | {st.leader} | {st.established}: {_fmt(st.established_point)}, "
                   f"{_fmt(st.established_median)} ({_fmt(lo)}-{_fmt(hi)}) | {st.established_share:.0%} | "
                   f"{st.leader_share:.0%} | {'stable' if st.stable else '**not stable**'} | {flip_text} | "
                   f"{dx_text} |")
    out += ["", f"{s['stable_cases']} of {s['stability_cases']} knee-pain source calls are stable; not stable: "
            f"{', '.join(s['unstable']) or 'none'}. A single parameter within its plausible range can change the "
            f"call in {len(s['flippable'])} case(s){': ' + ', '.join(s['flippable']) if s['flippable'] else ''}. "
            f"{s.get('diagnosis_stable_cases', 0)} of {s.get('diagnosis_stability_cases', 0)} leading-diagnosis "
            f"calls are stable; not stable: {', '.join(s.get('diagnosis_unstable', [])) or 'none'}.",
            ""]
    return out


def _concordance_section(run: ValidationRun, charts: Mapping[str, str]) -> list[str]:
    out = ["## 2. Literature concordance", "",
           "What the network implies in each study's population (marginalising over everything else) against "
           "the published figure (from `../shared/evidence/literature.md`). *inside* = within the published "
           "interval; Wilson intervals were computed here from the study's n where the study gave none.", "",
           "| figure | measure | published | interval | implied | inside? | note |", "|---|---|---|---|---|---|---|"]
    for row in run.concordance["rows"]:
        it = row.item
        interval = f"{_fmt(it.interval[0])}-{_fmt(it.interval[1])} ({it.interval_kind})" if it.interval else "none"
        mark = {True: "yes", False: f"**no ({row.direction})**", None: f"n/a ({row.direction})"}[row.inside]
        out.append(f"| {_md_escape(it.label)} | {it.measure} | {_fmt(it.published)} | {interval} | "
                   f"{_fmt(row.implied)} | {mark} | {_md_escape(it.note)} |")
    if "concordance" in charts:
        out += ["", f"![Concordance]({charts['concordance']})"]
    out += ["", "### Sources of the figures", ""]
    out += [f"- **{row.item.id}**: {_md_escape(row.item.source)}" for row in run.concordance["rows"]]
    return [*out, ""]


def _simulation_section(run: ValidationRun, charts: Mapping[str, str]) -> list[str]:
    out = ["## 3. Behaviour on simulated data", "",
           "Cases sampled from the network itself (knee pain present), diagnoses and mechanisms hidden. This "
           "measures how well the findings *can* separate the diagnoses if the network were exactly right: "
           "the ceiling, not accuracy on patients. Posteriors of a correct model are calibrated by "
           "construction, so a large ECE here would mean an inference bug.", ""]
    for label, sim in (("history, examination and imaging", run.simulation),
                       ("history and examination only", run.simulation_history_exam)):
        if not sim:
            continue
        out += [f"### Observed: {label} (N={sim['n']}, seed {sim['seed']})", "",
                "| target | prevalence | AUC | ECE | Brier |", "|---|---|---|---|---|"]
        for name, m in [*sim["sources"].items(), *sim["diagnoses"].items()]:
            out.append(f"| {name} | {_fmt(m['prevalence'], 3)} | {_fmt(m['auc'], 3)} | {_fmt(m['ece'], 3)} | "
                       f"{_fmt(m['brier'], 3)} |")
        out += ["", f"Pooled ECE: diagnoses {_fmt(sim['reliability_diagnoses'].ece, 3)}, knee-pain sources "
                f"{_fmt(sim['reliability_sources'].ece, 3)}.", ""]
    for key, caption in (("roc", "ROC curves"), ("calibration", "Reliability curves")):
        if key in charts:
            out += [f"![{caption}]({charts[key]})", ""]
    return out


def _recovery_section(run: ValidationRun, charts: Mapping[str, str]) -> list[str]:
    rec = run.recovery
    out = ["## 4. Parameter recovery", "",
           "Tables learnt back from N sampled cases with pgmpy's MaximumLikelihoodEstimator and "
           f"BayesianEstimator (Dirichlet prior = {rec['prior_weight']:g} x the network's own row per parent "
           "configuration). Error: total-variation distance between learnt and true rows, weighted by how often "
           "each parent configuration occurs, averaged over variables (max = the worst variable).", "",
           "| N | MLE mean | MLE max | Bayesian mean | Bayesian max |", "|---|---|---|---|---|"]
    out += [f"| {r['n']} | {_fmt(r['mle'], 4)} | {_fmt(r['mle_max'], 4)} | {_fmt(r['bayes'], 4)} | "
            f"{_fmt(r['bayes_max'], 4)} |" for r in rec["rows"]]
    if "recovery" in charts:
        out += ["", f"![Parameter recovery]({charts['recovery']})"]
    return [*out, ""]


def comparison_markdown(cmp: Mapping[str, Any]) -> list[str]:
    """The version comparison as markdown: per-case shifts, changed calls, parameter diff."""
    a, b = cmp["a"], cmp["b"]
    out = [f"## Version comparison: {a['id']} {a['version']} -> {b['id']} {b['version']}", "",
           f"A: sha256 `{a['sha256']}`; B: sha256 `{b['sha256']}`.", "",
           f"Cases whose leading diagnosis or source changed: {', '.join(cmp['changed_cases']) or 'none'}.", "",
           "| case | leading diagnosis A -> B | leading source A -> B | largest shift | top-1 A / B |",
           "|---|---|---|---|---|"]
    for r in cmp["cases"]:
        shift = f"{r['largest_shift']} {r['largest_shift_value']:+.3f}" if r["largest_shift"] else "-"
        out.append(f"| {r['id']} | {' -> '.join(r['leading_diagnosis'])} | {' -> '.join(r['leading_source'])} | "
                   f"{shift} | {'/'.join('pass' if x else 'fail' for x in r['passed_top1'])} |")
    diff = cmp["parameters"]
    out += ["", "### Parameter differences", ""]
    if diff["added_variables"] or diff["removed_variables"]:
        out.append(f"Added variables: {', '.join(diff['added_variables']) or 'none'}; removed: "
                   f"{', '.join(diff['removed_variables']) or 'none'}.")
        out.append("")
    for s in diff["structure"]:
        out.append(f"- {s['variable']}: structure changed (parents {s['parents'][0]} -> {s['parents'][1]}, "
                   f"form {s['form'][0]} -> {s['form'][1]})")
    if diff["parameters"]:
        out += ["| variable | kind | position | A | B | provenance A -> B |", "|---|---|---|---|---|---|"]
        for p in diff["parameters"]:
            out.append(f"| {p['variable']} | {p['kind']} | {_md_escape(str(p['key']))} | {p['old']} | {p['new']} | "
                       f"{p['old_provenance']} -> {p['new_provenance']} |")
    elif not diff["structure"]:
        out.append("No parameter differs.")
    return [*out, ""]


def _charts(run: ValidationRun, out: Path) -> dict[str, str]:
    """PNG charts next to the report (relative names); empty when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    charts: dict[str, str] = {}
    title = f"{run.network['id']} {run.network['version']} ({run.network['sha256'][:12]})"

    results = run.suite.results
    fig, ax = plt.subplots(figsize=(9, max(4, 0.32 * len(results))))
    ys = np.arange(len(results))
    ax.barh(ys - 0.18, [r.diagnosis_probability or 0 for r in results], height=0.35, label="established diagnosis")
    ax.barh(ys + 0.18, [r.source_probability or 0 for r in results], height=0.35, label="established source")
    stab = [(y, r.stability) for y, r in zip(ys, results) if r.stability is not None]
    if stab:
        med = np.array([st.established_median for _, st in stab])
        lo = np.array([st.established_interval[0] for _, st in stab])
        hi = np.array([st.established_interval[1] for _, st in stab])
        ax.errorbar(med, [y + 0.18 for y, _ in stab], xerr=[med - lo, hi - med], fmt="o", color="black", ms=3,
                    lw=1, capsize=2, label="source: median and 90% interval under parameter uncertainty")
    ax.set_yticks(ys, [r.case.id for r in results], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("posterior probability")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(f"Cases: posterior of what was established\n{title}", fontsize=9)
    charts["cases"] = _save(fig, out / "cases.png")

    rows = run.concordance["rows"]
    fig, ax = plt.subplots(figsize=(8, max(4, 0.3 * len(rows))))
    for i, row in enumerate(rows):
        it = row.item
        if it.interval:
            ax.plot(it.interval, [i, i], color="grey", lw=2)
        ax.plot(it.published, i, "o", color="grey", ms=5)
        colour = {True: "tab:green", False: "tab:red", None: "tab:orange"}[row.inside]
        ax.plot(min(row.implied, 1.0) if it.measure not in ("lr_positive", "lr_negative") else row.implied, i,
                "D", color=colour, ms=5)
    ax.set_yticks(range(len(rows)), [r.item.id for r in rows], fontsize=7)
    ax.invert_yaxis()
    if any(r.item.measure in ("lr_positive", "lr_negative") for r in rows):
        ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=0)
    ax.set_xlabel("grey: published value and interval; diamond: implied\n"
                  "(green inside, red outside, orange no interval)")
    ax.set_title(f"Literature concordance\n{title}", fontsize=9)
    charts["concordance"] = _save(fig, out / "concordance.png")

    if run.simulation:
        sim = run.simulation
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
        for k, var in sim["source_variables"].items():
            fpr, tpr = roc_curve(sim["posteriors"][var], sim["truth"][var])
            axes[0].plot(fpr, tpr, label=f"{k} (AUC {sim['sources'][k]['auc']:.2f})")
        for d, m in sim["diagnoses"].items():
            fpr, tpr = roc_curve(sim["posteriors"][d], sim["truth"][d])
            axes[1].plot(fpr, tpr, label=f"{d} ({m['auc']:.2f})", lw=1)
        for a, t in zip(axes, ("knee-pain sources", "diagnoses")):
            a.plot([0, 1], [0, 1], ":", color="grey")
            a.set_xlabel("false-positive rate")
            a.set_ylabel("true-positive rate")
            a.set_title(t, fontsize=9)
            a.legend(fontsize=6)
        fig.suptitle(f"ROC on {sim['n']} simulated knee-pain cases\n{title}", fontsize=9)
        charts["roc"] = _save(fig, out / "roc.png")

        fig, ax = plt.subplots(figsize=(5, 5))
        for label, rel in (("diagnoses", sim["reliability_diagnoses"]), ("sources", sim["reliability_sources"])):
            ok = rel.counts > 0
            ax.plot(rel.mean_predicted[ok], rel.observed[ok], "o-", label=f"{label} (ECE {rel.ece:.3f})")
        ax.plot([0, 1], [0, 1], ":", color="grey")
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed frequency")
        ax.legend(fontsize=8)
        ax.set_title(f"Reliability, {sim['n']} simulated cases\n{title}", fontsize=9)
        charts["calibration"] = _save(fig, out / "calibration.png")

    if run.recovery:
        rows_r = run.recovery["rows"]
        fig, ax = plt.subplots(figsize=(6, 4))
        ns = [r["n"] for r in rows_r]
        ax.plot(ns, [r["mle"] for r in rows_r], "o-", label="maximum likelihood")
        ax.plot(ns, [r["bayes"] for r in rows_r], "s-", label="Bayesian (network as prior)")
        ax.set_xscale("log")
        ax.set_xlabel("N sampled cases")
        ax.set_ylabel("mean weighted total-variation error")
        ax.legend(fontsize=8)
        ax.set_title(f"Parameter recovery\n{title}", fontsize=9)
        charts["recovery"] = _save(fig, out / "recovery.png")
    return charts


def _save(fig, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name

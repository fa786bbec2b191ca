"""Clinical validation: does the network reason like the evidence and like clinicians?

Five checks, each usable on its own and all run by ``bn validate`` (the report: :mod:`bn.validate_report`):

1. **Case suite** (:func:`load_cases`, :func:`run_cases`): published case reports, teaching cases with a named
   source and plainly marked textbook archetypes (``validation/cases/*.yaml``) with the findings as reported,
   the established diagnosis and the knee-pain source. Every case is in the ``development`` or the ``test``
   split; the test cases are frozen by ``validation/test_set.lock`` (:mod:`bn.testset`), and the groups are
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

The clinician-panel protocol is :mod:`bn.panel`. Metric functions (:func:`brier_score`, :func:`log_score`,
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

import datetime as _dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bn import safeyaml
from bn.errors import BNError, CaseFileError
from bn.evidence import Evidence, case_from_document
from bn.files import write_text
from bn.inference import BayesNet
from bn.model import Network, NetworkInfo
from bn.resources import validation_dir, work_dir
from bn.testset import LockCheck, check_lock, list_digest, read_lock, read_views, record_view, seen_counts

VALIDATION_DIR = validation_dir()
CASES_DIR = VALIDATION_DIR / "cases"
CONCORDANCE_FILE = VALIDATION_DIR / "concordance.yaml"
BASELINE_FILE = VALIDATION_DIR / "baseline.json"
REPORT_DIR = VALIDATION_DIR / "report"  # the committed report: written only with --update-report
OUT_DIR = work_dir() / "build" / "validation"  # where a run writes by default (never the working tree)
LOCK_FILE = VALIDATION_DIR / "test_set.lock"
VIEWS_FILE = VALIDATION_DIR / "test_set_views.yaml"

MAX_VALIDATION_FILE_BYTES = 1024 * 1024
# The knee-pain source keys of the public vocabulary (other_lumbar_level since vocabulary 2).
SOURCE_KEYS = ("l4l5_spine", "other_lumbar_level", "knee", "hip", "other")
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

    ``diagnoses`` may be empty (the case's cause is outside the modelled diagnoses); ``knee_pain_sources`` is
    empty when the report gives no knee pain and holds several keys when the report established coexisting
    sources. ``kind`` is ``published`` (a case report or series), ``teaching`` (a named teaching source) or
    ``archetype`` (a textbook archetype written by the project); ``split`` is ``development`` or ``test``.
    ``dropped`` lists the findings (and ``unmodelled`` the established diagnoses) that the case gives but
    this network version does not have: public-vocabulary ids of a later version, left unknown here.
    """

    id: str
    title: str
    source: str
    evidence: Evidence
    diagnoses: tuple[str, ...]
    knee_pain_sources: tuple[str, ...]
    note: str = ""
    path: str = ""
    kind: str = "published"
    split: str = "development"
    link: str = ""
    confirmed_by: str = ""
    tags: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    unmodelled: tuple[str, ...] = ()
    source_mapped: str = ""  # why an expected source key was mapped onto an older version's key
    sha256: str = ""
    sources_as_written: tuple[str, ...] = ()  # the case's own source keys, before any mapping

    @property
    def archetype(self) -> bool:
        return self.kind == "archetype"

    @property
    def knee_pain_source(self) -> str | None:
        """The (first) established knee-pain source; None when the report gives no knee pain."""
        return self.knee_pain_sources[0] if self.knee_pain_sources else None


def rankable_diagnoses(network: Network) -> list[str]:
    """Diagnoses that compete for the top rank: all but deterministic ORs of other diagnoses.

    (``intrinsic_knee_disease`` is the OR of the knee diagnoses, so it can never rank below them.)
    """
    return [v for v in network.by_role("diagnosis") if network[v].form != "deterministic_or"]


def vocabulary_ids(network: Network) -> tuple[set[str], set[str]]:
    """The public vocabulary of ``network``'s id (all versions): (variable ids, knee-pain source keys).

    Read from ``networks/<id>/vocabulary.yaml``; empty for a network without one (e.g. a BIF file).
    """
    from bn.registry import networks_dir

    path = networks_dir() / network.id / "vocabulary.yaml"
    if not path.is_file():
        return set(), set()
    variables, sources = _vocabulary_file(str(path), path.stat().st_mtime_ns)
    return set(variables), set(sources)


@functools.lru_cache(maxsize=8)
def _vocabulary_file(path: str, mtime_ns: int) -> tuple[frozenset[str], frozenset[str]]:
    """The vocabulary's ids, read once per file version (every case file of a run asks for them)."""
    doc = safeyaml.load(Path(path).read_text(encoding="utf-8")) or {}
    return frozenset(doc.get("variables") or {}), frozenset(doc.get("knee_pain_sources") or [])


def parse_validation_case(text: str | bytes, name: str, network: Network) -> ValidationCase:
    """A validation case from YAML/JSON text; one-line ValidationError naming the file and the problem.

    The file is an ordinary case file (``bn query --case`` reads it) plus ``title``, ``source``, ``kind``,
    ``split`` and ``expected: {diagnoses: [...], knee_pain_source: KEY | [KEY, ...] | none, confirmed_by}``
    (``validation/README.md``). Findings and established diagnoses that belong to the network's public
    vocabulary but not to this version are left unknown and listed in ``dropped`` / ``unmodelled``.
    """
    import hashlib

    from bn.testset import KINDS, SPLITS

    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_VALIDATION_FILE_BYTES:
        raise ValidationError(f"{name}: larger than {MAX_VALIDATION_FILE_BYTES:,} bytes")
    try:
        doc = safeyaml.load(raw.decode("utf-8"))
    except (safeyaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{name}: not valid JSON or YAML ({str(exc).splitlines()[0]})") from None
    try:
        case = case_from_document(doc, name)
    except CaseFileError as exc:
        raise ValidationError(str(exc)) from None
    title, source = doc.get("title"), doc.get("source")
    if not isinstance(title, str) or not title.strip():
        raise ValidationError(f"{name}: a validation case needs a 'title'")
    if not isinstance(source, str) or not source.strip():
        raise ValidationError(f"{name}: a validation case needs a 'source' (a citation, or "
                              "'textbook archetype: ...')")
    kind, split = doc.get("kind"), doc.get("split")
    if kind not in KINDS:
        raise ValidationError(f"{name}: 'kind' must be one of {', '.join(KINDS)} (got {kind!r})")
    if split not in SPLITS:
        raise ValidationError(f"{name}: 'split' must be one of {', '.join(SPLITS)} (got {split!r})")
    if (kind == "archetype") != source.lower().startswith("textbook archetype"):
        raise ValidationError(f"{name}: kind '{kind}' does not fit the source: an archetype's source starts "
                              "with 'textbook archetype:', a published or teaching case's does not")
    if kind == "archetype" and split == "test":
        raise ValidationError(f"{name}: an archetype is written by the project and cannot be a test case")
    if kind != "archetype" and not (isinstance(doc.get("link"), str) and doc["link"].strip()) and split == "test":
        raise ValidationError(f"{name}: a test case needs a 'link' (a DOI or a reachable address)")
    tags = doc.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValidationError(f"{name}: 'tags' must be a list of words")
    expected = doc.get("expected")
    if not isinstance(expected, dict):
        raise ValidationError(f"{name}: 'expected' must map diagnoses and knee_pain_source")
    unknown = set(expected) - {"diagnoses", "knee_pain_source", "confirmed_by", "vocabulary_1"}
    if unknown:
        raise ValidationError(f"{name}: unknown key(s) in 'expected': {sorted(unknown)}; "
                              "use diagnoses, knee_pain_source, confirmed_by, vocabulary_1")
    vocab_vars, vocab_sources = vocabulary_ids(network)
    older = expected.get("vocabulary_1")
    if older is not None:
        if not isinstance(older, dict) or set(older) - {"diagnoses", "knee_pain_source"}:
            raise ValidationError(f"{name}: expected.vocabulary_1 may give diagnoses and knee_pain_source only")
        # What the case established, said in a vocabulary-1 network's terms (patellofemoral pain and ACL tears
        # were 'other' causes and other_knee_pathology there); used when the network has no vocabulary-2 sources.
        if "other_lumbar_level" not in network.knee_pain_sources:
            expected = {**expected, **older}
    diagnoses = expected.get("diagnoses") or []
    if isinstance(diagnoses, str):
        diagnoses = [diagnoses]
    valid = network.by_role("diagnosis")
    unmodelled = [d for d in diagnoses if d not in valid and d in vocab_vars]
    for d in diagnoses:
        if d not in valid and d not in vocab_vars:
            raise ValidationError(f"{name}: '{d}' is not a diagnosis of {network.id}; valid: {', '.join(valid)}")
    diagnoses = [d for d in diagnoses if d in valid]
    src = expected.get("knee_pain_source")
    sources = [src] if isinstance(src, str) else src
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources) or (
            NO_SOURCE in sources and len(sources) > 1):
        raise ValidationError(f"{name}: expected.knee_pain_source must be a source key, a list of them, or "
                              f"'{NO_SOURCE}' (got {src!r})")
    sources = [] if sources == [NO_SOURCE] else sources
    as_written = tuple(sources)
    keys = set(network.knee_pain_sources)
    mapped = ""
    for s in sources:
        if s not in keys and s not in vocab_sources:
            raise ValidationError(f"{name}: network {network.id} has no knee-pain source '{s}'; valid: "
                                  f"{', '.join([*network.knee_pain_sources, NO_SOURCE])}")
    if any(s not in keys for s in sources):
        if "other" not in keys:
            raise ValidationError(f"{name}: network {network.id} {network.version} has none of "
                                  f"{', '.join(s for s in sources if s not in keys)} and no 'other' source")
        # A version without the key files what it does not model under 'other' (vocabulary 1: the L3 and S1
        # roots, and L4/L5 compromise from another level, sat in leaks credited to nothing modelled).
        mapped = (f"{', '.join(s for s in sources if s not in keys)} is not a source of {network.id} "
                  f"{network.version}; scored as 'other' (what that version does not model)")
        sources = list(dict.fromkeys(s if s in keys else "other" for s in sources))
    if not diagnoses and not unmodelled and not sources:
        raise ValidationError(f"{name}: expected names neither a diagnosis nor a knee-pain source")
    findings = dict(case.evidence.findings)
    soft = dict(case.evidence.soft_findings)
    dropped = [v for v in [*findings, *soft] if v not in network.variables and v in vocab_vars]
    for v in dropped:
        findings.pop(v, None)
        soft.pop(v, None)
    try:
        evidence = Evidence(findings, soft).validate(network)
    except BNError as exc:  # unknown variable or state: say which file
        raise ValidationError(f"{name}: {exc}") from None
    case_id = Path(name).stem
    confirmed = expected.get("confirmed_by")
    return ValidationCase(case_id, title.strip(), source.strip(), evidence, tuple(diagnoses), tuple(sources),
                          case.note, name, kind=kind, split=split, link=str(doc.get("link") or ""),
                          confirmed_by=str(confirmed or ""), tags=tuple(tags), dropped=tuple(dropped),
                          unmodelled=tuple(unmodelled), source_mapped=mapped,
                          sha256=hashlib.sha256(raw).hexdigest(), sources_as_written=as_written)


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

    @property
    def scorable(self) -> bool:
        """This network version can rank something the case established (a diagnosis or a source)."""
        return self.diagnosis_rank is not None or self.source_rank is not None

    def passed(self, k: int = 1) -> bool:
        """Established diagnosis and source (where given) both within the top ``k``."""
        return self.scorable and all(r is None or r <= k for r in (self.diagnosis_rank, self.source_rank))

    @property
    def source_brier(self) -> float | None:
        """Mean over the sources of (P(source) - y)^2, y = 1 for an established source; None without knee pain."""
        if self.source_rank is None:
            return None
        est = set(self.case.knee_pain_sources)
        return float(np.mean([(p - (k in est)) ** 2 for k, p in self.source_posteriors.items()]))

    def to_dict(self) -> dict[str, Any]:
        c = self.case
        return {
            "id": c.id, "title": c.title, "source": c.source, "kind": c.kind, "split": c.split,
            "archetype": c.archetype, "link": c.link, "sha256": c.sha256, "tags": list(c.tags),
            "expected": {"diagnoses": list(c.diagnoses), "knee_pain_source": list(c.knee_pain_sources) or NO_SOURCE,
                         "confirmed_by": c.confirmed_by},
            "not_in_this_version": {"findings": list(c.dropped), "diagnoses": list(c.unmodelled),
                                    "source": c.source_mapped},
            "diagnosis_rank": self.diagnosis_rank, "diagnosis_probability": self.diagnosis_probability,
            "source_rank": self.source_rank, "source_probability": self.source_probability,
            "leading_diagnosis": self.leading_diagnosis, "leading_source": self.leading_source,
            "scorable": self.scorable, "passed_top1": self.passed(1), "passed_top2": self.passed(2),
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


TIE_TOLERANCE = 1e-9


def _rank(scores: Mapping[str, float], targets: Sequence[str]) -> tuple[int, float]:
    """Best 1-based rank of any target; other targets are not competitors (a case may have two diagnoses).

    A target tied with a competitor gets the worse rank, so a tie never counts as a hit. Ties are equal to within
    :data:`TIE_TOLERANCE`: two sources the network makes exactly equal come out of different junction trees
    (pruned or full) a few units of 1e-16 apart, and a rank must not depend on which tree answered.
    """
    best_rank, best_p = len(scores) + 1, 0.0
    for t in targets:
        p = scores[t]
        rank = 1 + sum(1 for k, q in scores.items() if k not in targets and q >= p - TIE_TOLERANCE)
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
    marg = net.marginals([*candidates, *sources.values()], findings=case.evidence)
    dx = {d: marg[d][network[d].on_state] for d in candidates}
    src = {k: marg[v][network[v].on_state] for k, v in sources.items()}
    dx_rank = dx_p = src_rank = src_p = None
    if case.diagnoses:
        dx_rank, dx_p = _rank(dx, case.diagnoses)
    if case.knee_pain_sources:
        src_rank, src_p = _rank(src, list(case.knee_pain_sources))
    alerts = tuple(a.id for a in net.alerts(case.evidence))
    stability = parameter_stability(net, case, stability_draws, seed) if stability_draws else None
    return CaseResult(case, dx, src, dx_rank, dx_p, src_rank, src_p, alerts, stability)


# The three groups of cases a report keeps apart: what they measure differs (validation/README.md).
GROUPS = {
    "test": "Test set: published cases, frozen before the network was tuned",
    "development": "Development set: published cases seen while the network was built",
    "archetypes": "Teaching consistency: textbook archetypes written by the project",
}


def case_group(case: ValidationCase) -> str:
    """``test``, ``development`` (published or teaching cases of that split) or ``archetypes``."""
    if case.archetype:
        return "archetypes"
    return case.split


@dataclass(frozen=True)
class CaseSuite:
    network: NetworkInfo
    results: list[CaseResult]
    summary: dict[str, Any]
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # group -> summarize() of its cases

    def group(self, name: str) -> list[CaseResult]:
        return [r for r in self.results if case_group(r.case) == name]

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "summary": self.summary, "groups": self.groups,
                "cases": [r.to_dict() for r in self.results]}


def _bootstrap_mean(values: Sequence[float], *, seed: int, resamples: int = 2000) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of a mean (seeded: the same cases give the same interval)."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return (float(x.mean()), float(x.mean())) if x.size else (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def summarize(results: Sequence[CaseResult], *, seed: int = 0) -> dict[str, Any]:
    """Accuracy of a group of cases, each figure with its 95% interval.

    Proportions (top-1 / top-2 for diagnosis and source together, and for each alone) carry a Wilson
    interval; the Brier and log scores a seeded percentile bootstrap over cases. Cases this network version
    cannot score (it models nothing the case established) are counted in ``unscorable`` and left out.

    - ``top1_accuracy`` / ``top2_accuracy``: share of cases whose established diagnosis *and* source (where
      given) are ranked first (within the first two);
    - ``brier_source``: mean over cases with knee pain of the mean over the sources of (P(source) - y)^2,
      y = 1 for an established source and 0 for the others;
    - ``log_score_source`` / ``log_score_diagnosis``: mean natural log of the established source's /
      diagnosis's posterior (the best-ranked one when a case has two).
    """
    scored = [r for r in results if r.scorable]
    with_dx = [r for r in scored if r.diagnosis_rank is not None]
    with_src = [r for r in scored if r.source_rank is not None]

    def share(hits: Sequence[bool]) -> dict[str, Any]:
        n, k = len(hits), int(sum(hits))
        if not n:
            return {"value": float("nan"), "k": 0, "n": 0, "ci95": [float("nan"), float("nan")]}
        return {"value": k / n, "k": k, "n": n, "ci95": list(wilson_interval(k, n))}

    def mean(values: Sequence[float]) -> dict[str, Any]:
        if not values:
            return {"value": float("nan"), "n": 0, "ci95": [float("nan"), float("nan")]}
        return {"value": float(np.mean(values)), "n": len(values), "ci95": list(_bootstrap_mean(values, seed=seed))}

    floor = 1e-12
    out: dict[str, Any] = {
        "cases": len(results), "scored": len(scored), "unscorable": [r.case.id for r in results if not r.scorable],
        "published_cases": sum(1 for r in results if r.case.kind == "published"),
        "teaching_cases": sum(1 for r in results if r.case.kind == "teaching"),
        "archetypes": sum(1 for r in results if r.case.archetype),
        "top1": share([r.passed(1) for r in scored]), "top2": share([r.passed(2) for r in scored]),
        "diagnosis_top1": share([r.diagnosis_rank == 1 for r in with_dx]),
        "diagnosis_top2": share([r.diagnosis_rank <= 2 for r in with_dx]),
        "source_top1": share([r.source_rank == 1 for r in with_src]),
        "source_top2": share([r.source_rank <= 2 for r in with_src]),
        "brier_source": mean([r.source_brier for r in with_src]),
        "log_score_source": mean([math.log(max(r.source_probability, floor)) for r in with_src]),
        "log_score_diagnosis": mean([math.log(max(r.diagnosis_probability, floor)) for r in with_dx]),
    }
    # Flat copies of the point values: what the CI gate and older scripts read.
    for key in ("top1", "top2"):
        out[f"{key}_accuracy"] = out[key]["value"]
    for key in ("diagnosis_top1", "diagnosis_top2", "source_top1", "source_top2", "brier_source",
                "log_score_source", "log_score_diagnosis"):
        out[f"{key}_value"] = out[key]["value"]
    return out


def stability_summary(results: Sequence[CaseResult]) -> dict[str, Any]:
    """How many of these cases' calls are stable under parameter uncertainty, and which are not."""
    with_stab = [r for r in results if r.stability is not None]
    return {
        "stability_cases": len(with_stab),
        "stable_cases": sum(1 for r in with_stab if r.stability.stable),
        "unstable": [r.case.id for r in with_stab if not r.stability.stable],
        "flippable": [r.case.id for r in with_stab if r.stability.flippable],
        "diagnosis_stability_cases": sum(1 for r in with_stab if r.stability.dx_stable is not None),
        "diagnosis_stable_cases": sum(1 for r in with_stab if r.stability.dx_stable),
        "diagnosis_unstable": [r.case.id for r in with_stab if r.stability.dx_stable is False],
    }


def run_cases(net: BayesNet, cases: Sequence[ValidationCase], stability_draws: int = 0, seed: int = 0) -> CaseSuite:
    """Score every case: :func:`summarize` of all cases (``summary``) and of each group apart (``groups``).

    The groups (:data:`GROUPS`) are the locked test set, the development set and the textbook archetypes;
    only the test set measures accuracy on cases nobody tuned the network to.

    ``stability_draws`` > 0 adds each call's stability under parameter uncertainty (:func:`parameter_stability`,
    the same ``seed`` for every case) and the summary keys ``stability_cases`` (cases with a knee-pain source
    call), ``stable_cases`` (leader kept in >= ``STABLE_SHARE`` of the draws), ``unstable`` and ``flippable``
    (ids of the cases that are not stable / whose call one parameter within its range can change).
    """
    if not cases:
        raise ValidationError("no cases to run")
    if not isinstance(stability_draws, int) or stability_draws < 0:
        raise ValidationError(f"stability draws must be a non-negative integer (got {stability_draws!r})")
    results = [score_case(net, c, stability_draws, seed) for c in cases]
    summary = summarize(results, seed=seed)
    groups = {g: summarize([r for r in results if case_group(r.case) == g], seed=seed) for g in GROUPS}
    if stability_draws:
        summary.update({"stability_draws": stability_draws, "stability_seed": seed,
                        "stable_share_threshold": STABLE_SHARE, **stability_summary(results)})
    return CaseSuite(net.info, results, summary, groups)


# ================================================================================================
# Literature concordance
# ================================================================================================

MEASURES = ("sensitivity", "specificity", "lr_positive", "lr_negative", "probability", "odds_ratio")
RATIO_MEASURES = ("lr_positive", "lr_negative", "odds_ratio")  # unbounded: plotted on a log scale


CONCORDANCE_KINDS = ("input", "check")


@dataclass(frozen=True)
class ConcordanceItem:
    """One published figure and the question that reproduces it in the network.

    ``finding`` and ``condition`` are events over network variables: a mapping ``{variable: state}``, true
    when *any* of its entries holds (so ``{l4_root_compromise: present, l5_root_compromise: present}`` is
    'L4 or L5 root compromise'); with ``combine: all`` the finding is true when *all* entries hold (a
    combination of findings, e.g. femoral stretch positive and patellar reflex reduced). ``population``
    describes the study population: ``{variable: state}`` or ``{variable: [state, ...]}`` (any of those).
    ``measure``: sensitivity P(F | C, pop), specificity P(not F | not C, pop), lr_positive, lr_negative, or
    probability P(F | C, pop) (``condition`` may be empty), or odds_ratio: the odds of F in ``population``
    over its odds in ``versus`` (a second population; how far apart two published strata are, e.g. the top
    and bottom quartiles of a score, which does not depend on the study's overall prevalence as P(F) does).

    ``kind`` says what the row can show: ``input`` when the network's numbers were set from this figure (the
    row checks the copy, not the model), ``check`` when they were not (an independent figure, or a
    combination of findings whose joint behaviour the network was never fitted to). ``unavailable`` names
    the public-vocabulary variables this network version lacks (the row is then reported, not computed).
    """

    id: str
    label: str
    measure: str
    finding: dict[str, str]
    condition: dict[str, str]
    population: dict[str, tuple[str, ...]]
    published: float
    interval: tuple[float, float] | None
    interval_kind: str  # "95% CI" | "Wilson 95% (calc)" | "range" | "none"
    source: str
    note: str = ""
    kind: str = "input"
    combine: str = "any"  # how the finding's entries combine: any (OR) | all (AND)
    reference: str = ""  # the network's reference key for the study, when it has one
    unavailable: tuple[str, ...] = ()
    versus: dict[str, tuple[str, ...]] = field(default_factory=dict)  # the second population of an odds_ratio


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
    vocab_vars, _ = vocabulary_ids(network)
    items, seen = [], set()
    for i, row in enumerate(rows):
        where = f"{path}: item {i + 1}" + (f" ({row.get('id')})" if isinstance(row, dict) else "")
        if not isinstance(row, dict):
            raise ValidationError(f"{where}: expected a mapping")
        items.append(_concordance_item(row, where, network, vocab_vars))
        if items[-1].id in seen:
            raise ValidationError(f"{where}: duplicate id '{items[-1].id}'")
        seen.add(items[-1].id)
    return items


def _concordance_item(row: Mapping[str, Any], where: str, network: Network,
                      vocab_vars: set[str] | frozenset[str] = frozenset()) -> ConcordanceItem:
    required = ("id", "label", "measure", "finding", "published", "source", "kind")
    missing = [k for k in required if k not in row]
    if missing:
        raise ValidationError(f"{where}: missing {', '.join(missing)}")
    measure = row["measure"]
    if measure not in MEASURES:
        raise ValidationError(f"{where}: measure '{measure}' is not one of {', '.join(MEASURES)}")
    if row["kind"] not in CONCORDANCE_KINDS:
        raise ValidationError(f"{where}: kind must be 'input' (the network was set from this figure) or 'check' "
                              f"(it was not), got {row['kind']!r}")
    combine = row.get("combine", "any")
    if combine not in ("any", "all"):
        raise ValidationError(f"{where}: combine must be 'any' or 'all', got {combine!r}")
    events: dict[str, dict[str, Any]] = {}
    unavailable: list[str] = []
    for key in ("finding", "condition", "population", "versus"):
        value = row.get(key) or {}
        if not isinstance(value, dict):
            raise ValidationError(f"{where}: '{key}' must map variables to states")
        event: dict[str, Any] = {}
        for var, state in value.items():
            var = str(var)
            many = key in ("population", "versus")
            states = [str(s) for s in state] if many and isinstance(state, list) else [str(state)]
            if var not in network.variables and var in vocab_vars:
                unavailable.append(var)
                continue
            try:
                for st in states:
                    Evidence({var: st}).validate(network)
            except BNError as exc:
                raise ValidationError(f"{where}: {key}: {exc}") from None
            event[var] = tuple(states) if many else states[0]
        events[key] = event
    if not row.get("finding"):
        raise ValidationError(f"{where}: 'finding' is empty")
    if measure not in ("probability", "odds_ratio") and not row.get("condition"):
        raise ValidationError(f"{where}: measure {measure} needs a 'condition'")
    if (measure == "odds_ratio") != bool(row.get("versus")):
        raise ValidationError(f"{where}: 'versus' (the second population) goes with measure odds_ratio, "
                              "and only with it")
    overlap = (set(events["finding"]) | set(events["condition"])) & (set(events["population"]) | set(events["versus"]))
    if overlap:
        raise ValidationError(f"{where}: {', '.join(sorted(overlap))} is both an event and population evidence")
    # An OR event keeps its entries this version has (the rest cannot occur in it); an AND finding, the
    # population and a condition with nothing left cannot be asked of this version at all.
    lost = [v for v in unavailable if (v in (row.get("finding") or {}) and (combine == "all" or not events["finding"]))
            or v in (row.get("population") or {}) or v in (row.get("versus") or {})
            or (v in (row.get("condition") or {}) and not events["condition"])]
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
                           str(row.get("note") or ""), kind=row["kind"], combine=combine,
                           reference=str(row.get("reference") or ""), unavailable=tuple(dict.fromkeys(lost)),
                           versus=events["versus"])


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

    def joint_in(population: Mapping[str, tuple[str, ...]]) -> np.ndarray:
        hard = {v: s[0] for v, s in population.items() if len(s) == 1}
        soft = {v: {st: float(st in s) for st in network[v].state_ids} for v, s in population.items() if len(s) > 1}
        return net.joint(variables, findings=hard, soft=soft or None)

    joint = joint_in(item.population)
    if item.combine == "all":
        f = np.logical_and.reduce([_event_mask(network, variables, {v: s}) for v, s in item.finding.items()])
    else:
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
    if item.measure == "odds_ratio":
        other = joint_in(item.versus)
        q = float(other[f].sum()) / float(other.sum())
        if sens >= 1 or q <= 0:
            return float("inf")
        return (sens / (1 - sens)) / (q / (1 - q))
    spec = p(~f, ~c)
    if item.measure == "specificity":
        return spec
    if item.measure == "lr_positive":
        return sens / (1 - spec) if spec < 1 else float("inf")
    return (1 - sens) / spec  # lr_negative


def plausible_reach(net: BayesNet, item: ConcordanceItem) -> tuple[float, float]:
    """How far the row's implied value moves when its finding's parameters span their plausible ranges.

    The parameters are those of the finding variables and of their latent mechanism parents (a deficit or
    syndrome node carries part of a sign's sensitivity). Each is set to either end of its range, one at a
    time; then all of them together at the ends that pushed the value down, and at those that pushed it up.
    Returns (lowest, highest) over those networks: a row outside its published interval is defensible only
    when this reaches the published value (or its note says why the populations differ).
    """
    from bn.sensitivity import parameters, with_parameter

    network = net.network
    names = set(item.finding)
    names |= {p for v in item.finding for p in network[v].parents if network[p].role == "mechanism"}
    params = [p for p in parameters(network) if p.variable in names and p.range[0] < p.range[1]]

    plan = getattr(net.engine, "plan", None)

    def value_with(settings: Sequence[tuple[Any, float]]) -> float:
        changed = network
        for p, x in settings:
            changed = with_parameter(changed, p, x)
        try:  # the same structure: reuse the junction tree (planning is most of the cost)
            changed_net = BayesNet(changed, plan=plan)
        except ValueError:  # a changed table no longer splits into the same OR chain
            changed_net = BayesNet(changed)
        return implied_value(changed_net, item)

    values, down, up = [], [], []
    for p in params:
        low, high = value_with([(p, p.range[0])]), value_with([(p, p.range[1])])
        values += [low, high]
        down.append((p, p.range[0] if low <= high else p.range[1]))
        up.append((p, p.range[1] if low <= high else p.range[0]))
    if params:
        values += [value_with(down), value_with(up)]
    now = implied_value(net, item)
    return min([now, *values]), max([now, *values])


@dataclass(frozen=True)
class ConcordanceRow:
    item: ConcordanceItem
    implied: float | None  # None: the row needs variables this network version does not have
    reach: tuple[float, float] | None = None  # plausible_reach, computed for rows outside their interval

    @property
    def reaches_published(self) -> bool | None:
        """Whether the finding's plausible ranges can move the implied value to the published one."""
        if self.reach is None:
            return None
        return self.reach[0] <= self.item.published <= self.reach[1]

    @property
    def inside(self) -> bool | None:
        """Inside the published interval (None when the study gives none, or the row is not computable)."""
        if self.item.interval is None or self.implied is None:
            return None
        low, high = self.item.interval
        return low <= self.implied <= high

    @property
    def direction(self) -> str:
        if self.implied is None:
            return "not in this version"
        if self.inside:
            return "inside"
        if self.item.interval is None:
            return "higher" if self.implied > self.item.published else "lower"
        return "above" if self.implied > self.item.interval[1] else "below"

    def to_dict(self) -> dict[str, Any]:
        it = self.item
        return {"id": it.id, "label": it.label, "kind": it.kind, "measure": it.measure, "finding": it.finding,
                "combine": it.combine, "condition": it.condition,
                "population": {k: list(v) for k, v in it.population.items()},
                "versus": {k: list(v) for k, v in it.versus.items()}, "published": it.published,
                "interval": list(it.interval) if it.interval else None, "interval_kind": it.interval_kind,
                "implied": self.implied, "inside": self.inside, "direction": self.direction,
                "plausible_reach": list(self.reach) if self.reach else None,
                "reaches_published": self.reaches_published,
                "unavailable": list(it.unavailable), "source": it.source, "note": it.note}


def _concordance_counts(rows: Sequence[ConcordanceRow]) -> dict[str, int]:
    computed = [r for r in rows if r.implied is not None]
    with_interval = [r for r in computed if r.inside is not None]
    return {"items": len(rows), "computed": len(computed), "with_interval": len(with_interval),
            "inside": sum(1 for r in with_interval if r.inside),
            "outside": sum(1 for r in with_interval if not r.inside)}


def run_concordance(net: BayesNet, items: Sequence[ConcordanceItem]) -> dict[str, Any]:
    """Implied value for every item, and counts inside / outside their interval: for all rows
    (``summary``) and for the ``input`` and ``check`` rows apart (``by_kind``). A row outside its interval
    also gets its :func:`plausible_reach`."""
    rows = []
    for it in items:
        row = ConcordanceRow(it, None if it.unavailable else implied_value(net, it))
        if row.inside is False:
            row = ConcordanceRow(it, row.implied, plausible_reach(net, it))
        rows.append(row)
    return {
        "network": net.info.to_dict(),
        "rows": rows,
        "summary": _concordance_counts(rows),
        "by_kind": {k: _concordance_counts([r for r in rows if r.item.kind == k]) for k in CONCORDANCE_KINDS},
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
                out[t] = np.asarray(marg[t])[:, network[t].on_index]
            return {t: out[t][inverse] for t in targets}
        except (TypeError, ValueError):
            pass  # an engine without batch support: fall back to one query per pattern
    for i, row in enumerate(patterns):
        ev = {v: network[v].state_ids[int(s)] for v, s in zip(observed, row)}
        marg = net.marginals(list(targets), findings=ev)
        for t in targets:
            out[t][i] = marg[t][network[t].on_state]
    return {t: out[t][inverse] for t in targets}


def simulate(net: BayesNet, n: int, seed: int = 0, groups: Sequence[str] = ("history", "exam", "imaging", "tests"),
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

    from bn.converters import to_pgmpy
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


def compare_versions(net_a: BayesNet, net_b: BayesNet, cases: Sequence[ValidationCase],
                     cases_b: Sequence[ValidationCase] | None = None) -> dict[str, Any]:
    """Posterior shifts per case between two networks, cases whose leading call changed, and the parameter diff.

    ``cases`` are the cases as read for ``net_a`` and ``cases_b`` the same files read for ``net_b`` (default:
    the same objects); they differ when the versions hold different parts of the public vocabulary.
    """
    by_id = {c.id: c for c in (cases_b if cases_b is not None else cases)}
    rows = []
    for case in cases:
        ra, rb = score_case(net_a, case), score_case(net_b, by_id[case.id])
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

# Per split: accuracy must not fall and the Brier score must not rise. NaN (an empty group) is not gated.
GATED = {"top1_accuracy": "higher", "top2_accuracy": "higher", "brier_source": "lower"}
GATED_CONCORDANCE = {"check_inside": "higher", "input_inside": "higher"}


def gate_metrics(suite: CaseSuite, concordance: Mapping[str, Any], test_set_digest: str = "") -> dict[str, Any]:
    """The numbers CI must not let get worse: per group of cases (test, development, archetypes) and for
    the concordance check and input rows apart; ``test_set_digest`` names the locked test set they were
    measured on (a baseline is only comparable on the same test set)."""
    out: dict[str, Any] = {"test_set_sha256": test_set_digest}
    for g, summary in suite.groups.items():
        out[g] = {"cases": summary["scored"], "top1_accuracy": summary["top1"]["value"],
                  "top2_accuracy": summary["top2"]["value"], "brier_source": summary["brier_source"]["value"]}
    by_kind = concordance.get("by_kind", {})
    out["concordance"] = {f"{k}_inside": by_kind.get(k, {}).get("inside", 0) for k in CONCORDANCE_KINDS}
    return out


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


def write_baseline(metrics: Mapping[str, Any], network: NetworkInfo, path: str | Path = BASELINE_FILE) -> None:
    """Record ``metrics`` for ``network`` (id, version, sha256), keeping the other versions' records."""
    import json

    data = read_baseline(path)
    data.setdefault(network.id, {})[network.version] = {"sha256": network.sha256, **dict(metrics)}
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def regressions(metrics: Mapping[str, Any], recorded: Mapping[str, Any], tolerance: float = 1e-9) -> list[str]:
    """One message per gated figure that is worse than recorded (empty list: no regression).

    >>> regressions({"test": {"top1_accuracy": 0.5, "top2_accuracy": 1.0, "brier_source": 0.2}},
    ...             {"test": {"top1_accuracy": 0.6, "top2_accuracy": 1.0, "brier_source": 0.2}})
    ['test: top1_accuracy fell from 0.6 to 0.5']
    """
    out = []
    if recorded.get("test_set_sha256") and metrics.get("test_set_sha256") != recorded["test_set_sha256"]:
        out.append("the baseline was recorded on another test set; re-record it (--write-baseline) once the new "
                   "lock's report has been read")
    checks = [(g, GATED) for g in GROUPS] + [("concordance", GATED_CONCORDANCE)]
    for group, gated in checks:
        now_g, then_g = metrics.get(group) or {}, recorded.get(group) or {}
        for key, better in gated.items():
            if key not in then_g or key not in now_g:
                continue
            now, then = float(now_g[key]), float(then_g[key])
            if math.isnan(then) or math.isnan(now):
                continue
            if better == "higher" and now < then - tolerance:
                out.append(f"{group}: {key} fell from {then:.6g} to {now:.6g}")
            if better == "lower" and now > then + tolerance:
                out.append(f"{group}: {key} rose from {then:.6g} to {now:.6g}")
    return out


# ================================================================================================
# The whole run and the report
# ================================================================================================


@dataclass
class ValidationRun:
    network: NetworkInfo
    suite: CaseSuite
    concordance: dict[str, Any]
    simulation: dict[str, Any] | None = None
    simulation_history_exam: dict[str, Any] | None = None
    recovery: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    date: str = field(default_factory=lambda: _dt.date.today().isoformat())
    lock: LockCheck | None = None  # is the test set as locked, and is the lock older than this version?
    seen: dict[str, int] = field(default_factory=dict)  # test case file name -> recorded unblindings
    unblinded: bool = False  # per-case test results shown (recorded in the views file)

    @property
    def test_set(self) -> dict[str, str]:
        """The test cases scored: file name -> sha256."""
        return {Path(r.case.path).name: r.case.sha256 for r in self.suite.group("test")}

    @property
    def gate(self) -> dict[str, Any]:
        return gate_metrics(self.suite, self.concordance, list_digest(self.test_set) if self.test_set else "")


def run_all(net: BayesNet, cases_dir: str | Path = CASES_DIR, concordance_file: str | Path = CONCORDANCE_FILE,
            samples: int = 2000, recovery_sizes: Sequence[int] = (200, 1000, 5000, 20000), seed: int = 0,
            fast: bool = False, stability_draws: int | None = None, lock_file: str | Path | None = LOCK_FILE,
            views_file: str | Path | None = VIEWS_FILE, unblind: str | None = None) -> ValidationRun:
    """Everything ``bn validate`` reports; ``fast`` runs only the case suite and the concordance check (CI).

    ``stability_draws``: joint parameter draws per case for the stability columns (default
    ``DEFAULT_STABILITY_DRAWS``, or 0 = skipped with ``fast``); ``seed`` seeds them. The test cases are
    checked against ``lock_file`` (:func:`bn.testset.check_lock`). ``unblind`` (a reason) shows the
    per-case test results and records that in ``views_file``.
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
    run = ValidationRun(net.info, suite, concordance, timings=timings)
    lock = read_lock(lock_file) if lock_file else None
    run.lock = check_lock(lock, run.test_set, net.network.id, net.network.version)
    views = read_views(views_file) if views_file else []
    if unblind is not None:
        if not views_file:
            raise ValidationError("unblinding needs a views file to record it in")
        views = record_view(views_file, cases=sorted(run.test_set), network=run.network.to_dict(), why=unblind)
        run.unblinded = True
    run.seen = seen_counts(views)
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

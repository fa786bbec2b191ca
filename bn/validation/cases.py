"""The case suite: validation case files (published cases, teaching cases, archetypes) read and checked
against the network, each scored (rank and posterior of what was established, stability under parameter
uncertainty), and the groups summarised apart, the locked test set first."""

from __future__ import annotations

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
from bn.inference import BayesNet
from bn.model import Network, NetworkInfo
from bn.validation.base import (
    CASES_DIR,
    DEFAULT_STABILITY_DRAWS,
    MAX_VALIDATION_FILE_BYTES,
    NO_SOURCE,
    SOURCE_KEYS,
    STABLE_SHARE,
    ValidationError,
)
from bn.validation.metrics import bootstrap_mean_interval, wilson_interval


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

    from bn.validation.testset import KINDS, SPLITS

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


def parameter_stability(net: BayesNet, case: ValidationCase, *, draws: int = DEFAULT_STABILITY_DRAWS,
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
    u = uncertainty(net, case.evidence, targets=candidates, draws=draws, seed=seed)
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


def score_case(net: BayesNet, case: ValidationCase, *, stability_draws: int = 0, seed: int = 0) -> CaseResult:
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
    stability = parameter_stability(net, case, draws=stability_draws, seed=seed) if stability_draws else None
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

    def to_frame(self):
        """One row per case: its group, the established answers, their ranks and posteriors."""
        import pandas as pd

        return pd.DataFrame([{"case": r.case.id, "group": case_group(r.case), "kind": r.case.kind,
                              "split": r.case.split, "diagnoses": ", ".join(r.case.diagnoses),
                              "diagnosis_rank": r.diagnosis_rank, "diagnosis_probability": r.diagnosis_probability,
                              "sources": ", ".join(r.case.knee_pain_sources), "source_rank": r.source_rank,
                              "source_probability": r.source_probability} for r in self.results])


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
        interval = bootstrap_mean_interval(values, seed=seed)
        return {"value": float(np.mean(values)), "n": len(values), "ci95": list(interval)}

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


def run_cases(net: BayesNet, cases: Sequence[ValidationCase], *, stability_draws: int = 0, seed: int = 0) -> CaseSuite:
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
    results = [score_case(net, c, stability_draws=stability_draws, seed=seed) for c in cases]
    summary = summarize(results, seed=seed)
    groups = {g: summarize([r for r in results if case_group(r.case) == g], seed=seed) for g in GROUPS}
    if stability_draws:
        summary.update({"stability_draws": stability_draws, "stability_seed": seed,
                        "stable_share_threshold": STABLE_SHARE, **stability_summary(results)})
    return CaseSuite(net.info, results, summary, groups)

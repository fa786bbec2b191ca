"""The headline answer, "where does this knee pain come from?", said as honestly as the numbers allow.

Each knee-pain source's probability is shown with its 90% interval when every parameter of the network is
drawn jointly from its plausible range (:func:`bn.sensitivity.uncertainty`; seeded, so the same case always
gets the same interval). Results are cached per case in memory and on disk (under :func:`bn.cache.cache_dir`,
keyed by the network's sha256, the findings, the draws, the seed and the source code that computes them, so
an edit to that code can never serve an old interval): a repeated ``bn query`` does not redraw.

Sources can coexist, so the probabilities need not add up to 1 and the leading source is never presented as
the only one. When the two leading sources' intervals overlap for most of their width, the answer says the call
is **too close to call** and names the unobserved finding whose result is expected to move the gap between them
the most.

>>> import bn
>>> h = source_headline(bn.load("l4l5_knee@1.1.0"), {"knee_pain": "present", "age_group": "65_plus"}, draws=100)
>>> sorted(h.intervals) == sorted(h.points)
True
>>> all(lo <= h.points[k] + 0.05 and h.points[k] - 0.05 <= hi for k, (lo, hi) in h.intervals.items())
True
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bn.evidence import Evidence
from bn.files import write_text
from bn.inference import BayesNet
from bn.model import NetworkInfo

DEFAULT_DRAWS = 300
DEFAULT_SEED = 0
# "Overlap for most of their width": the shared part is at least this share of the narrower interval.
TOO_CLOSE_OVERLAP = 0.5
_CACHE: OrderedDict[tuple, SourceHeadline] = OrderedDict()
_CACHE_SIZE = 256

SOURCE_NAMES = {"l4l5_spine": "the L4-L5 spine", "other_lumbar_level": "another lumbar level", "knee": "the knee",
                "hip": "the hip", "other": "other causes"}


@dataclass(frozen=True)
class SourceHeadline:
    """Each source's probability and 90% interval, and whether the leading two can be told apart."""

    network: NetworkInfo
    points: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    draws: int
    seed: int
    leader: str
    runner_up: str | None
    leader_share: float  # share of the parameter draws in which the leader still leads
    overlap: float  # shared width of the two leading intervals / the narrower interval's width
    too_close: bool
    separating_finding: str | None = None
    separating_label: str | None = None
    separating_gain: float | None = None  # expected absolute change of P(leader) - P(runner-up)

    def sentence(self) -> str:
        """One or two sentences a clinician can read; never presents a source as exclusive."""
        def part(k: str) -> str:
            lo, hi = self.intervals[k]
            return f"{SOURCE_NAMES.get(k, k)} {self.points[k]:.0%} (90% interval {lo:.0%}-{hi:.0%})"

        ranked = sorted(self.points, key=lambda k: -self.points[k])
        listing = "; ".join(part(k) for k in ranked)
        if self.too_close and self.runner_up:
            out = (f"Too close to call between {SOURCE_NAMES.get(self.leader, self.leader)} and "
                   f"{SOURCE_NAMES.get(self.runner_up, self.runner_up)}: their intervals overlap over "
                   f"{self.overlap:.0%} of the narrower one.")
            if self.separating_label:
                out += f" The finding that would best separate them: {self.separating_label}."
        else:
            out = (f"Most likely contributing: {SOURCE_NAMES.get(self.leader, self.leader)} (it leads in "
                   f"{self.leader_share:.0%} of the parameter draws).")
        return f"{out} Sources can coexist, so these need not add up to 100%: {listing}."

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "points": self.points,
                "intervals": {k: list(v) for k, v in self.intervals.items()}, "draws": self.draws,
                "seed": self.seed, "leader": self.leader, "runner_up": self.runner_up,
                "leader_share": self.leader_share, "overlap": self.overlap, "too_close": self.too_close,
                "separating_finding": self.separating_finding, "separating_label": self.separating_label,
                "separating_gain": self.separating_gain, "sentence": self.sentence()}

    def to_frame(self):
        """One row per source: its probability and 90% interval, most probable first."""
        import pandas as pd

        rows = [{"source": k, "probability": p, "low": self.intervals[k][0], "high": self.intervals[k][1]}
                for k, p in sorted(self.points.items(), key=lambda kv: -kv[1])]
        return pd.DataFrame(rows)


def interval_overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The shared width of two intervals as a share of the narrower one (1 when one holds the other).

    >>> interval_overlap((0.1, 0.5), (0.3, 0.7))
    0.5
    >>> interval_overlap((0.1, 0.2), (0.3, 0.4))
    0.0
    """
    shared = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    narrower = min(a[1] - a[0], b[1] - b[0])
    if narrower <= 0.0:
        return 1.0 if shared > 0.0 or (b[0] <= a[0] <= b[1]) or (a[0] <= b[0] <= a[1]) else 0.0
    return round(shared / narrower, 12)


def _key(net: BayesNet, ev: Evidence, draws: int, seed: int) -> tuple:
    soft = tuple(sorted((k, tuple(sorted(v.items()))) for k, v in ev.soft_findings.items()))
    return net.info.sha256, tuple(sorted(ev.findings.items())), soft, draws, seed


def source_headline(net: BayesNet, findings: Mapping[str, str] | Evidence | None = None, *, soft=None,
                    draws: int = DEFAULT_DRAWS, seed: int = DEFAULT_SEED) -> SourceHeadline:
    """The knee-pain sources with their 90% intervals, the call, and what would settle a close one.

    Raises :class:`bn.EvidenceError` for a network without knee-pain sources.
    """
    from bn.errors import EvidenceError

    network = net.network
    if not network.knee_pain_sources:
        raise EvidenceError(f"network {network.id} has no knee-pain sources to call")
    ev = net.evidence(findings, soft=soft)
    key = _key(net, ev, draws, seed)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    stored = _read_disk(key)
    if stored is not None:
        _remember(key, stored)
        return stored
    from bn.sensitivity import uncertainty  # only on a miss: importing it is most of a remembered headline's cost

    u = uncertainty(net, ev, draws=draws, seed=seed)
    by_var = {t.target.variable: t for t in u.targets}
    sources = network.knee_pain_sources
    points = {k: by_var[v].point for k, v in sources.items()}
    intervals = {k: by_var[v].interval(0.90) for k, v in sources.items()}
    ranked = sorted(points, key=lambda k: -points[k])
    leader, runner = ranked[0], (ranked[1] if len(ranked) > 1 else None)
    overlap = interval_overlap(intervals[leader], intervals[runner]) if runner else 0.0
    too_close = runner is not None and overlap >= TOO_CLOSE_OVERLAP
    found = _separating_finding(net, ev, sources[leader], sources[runner]) if too_close else None
    headline = SourceHeadline(net.info, points, intervals, draws, seed, leader, runner,
                              float((u.leaders or {}).get(leader, 1.0)), overlap, too_close,
                              *(found or (None, None, None)))
    _remember(key, headline)
    _write_disk(key, headline)
    return headline


def _remember(key: tuple, headline: SourceHeadline) -> None:
    _CACHE[key] = headline
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


@cache
def _code_digest() -> str:
    """sha256 of the source that computes a headline: a changed formula must never meet an old entry. (Read as
    files: importing bn.sensitivity to find them cost 20 ms of a warm ``bn query``.)"""
    h = hashlib.sha256()
    for path in (Path(__file__), *sorted((Path(__file__).parent / "sensitivity").glob("*.py"))):
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _disk_path(key: tuple) -> Path:
    from bn.cache import cache_dir

    digest = hashlib.sha256(json.dumps([list(map(str, key)), _code_digest()]).encode()).hexdigest()
    return cache_dir() / "headline" / f"{key[0][:16]}-{digest[:32]}.json"


def _read_disk(key: tuple) -> SourceHeadline | None:
    try:
        doc = json.loads(_disk_path(key).read_text(encoding="utf-8"))
        intervals = {k: tuple(v) for k, v in doc["intervals"].items()}
        return SourceHeadline(NetworkInfo.from_dict(doc["network"]), doc["points"], intervals,
                              doc["draws"], doc["seed"], doc["leader"], doc["runner_up"], doc["leader_share"],
                              doc["overlap"], doc["too_close"], doc["separating_finding"], doc["separating_label"],
                              doc["separating_gain"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent or unreadable: recompute (and rewrite)


def _write_disk(key: tuple, headline: SourceHeadline) -> None:
    path = _disk_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(headline.to_dict()))
    except OSError:
        pass  # a read-only cache only costs speed


def _separating_finding(net: BayesNet, ev: Evidence, a: str, b: str) -> tuple[str, str, float] | None:
    """The unobserved finding whose result is expected to move P(a) - P(b) the most (GeNIe's expected
    change, applied to the gap between the two leading sources)."""
    from bn.voi import default_candidates

    network = net.network
    pool = [c for c in default_candidates(net, ev) if network[c].role != "risk_factor" or not network.has_roles]
    if not pool:
        return None
    outcomes = net.outcome_posteriors([a, b], candidates=pool, findings=ev)
    sa, sb = network[a].on_state, network[b].on_state
    gap_now = net.posterior(a, findings=ev)[sa] - net.posterior(b, findings=ev)[sb]
    best = None
    for c in pool:
        gain = 0.0
        for o in outcomes[c].values():
            if o.posterior is not None:
                gain += o.probability * abs(o.posterior[a][sa] - o.posterior[b][sb] - gap_now)
        if best is None or gain > best[2] + 1e-15:
            best = (c, network[c].display_label, float(gain))
    return best if best and best[2] > 0 else None


def clear_cache() -> None:
    """Forget the headlines held in memory (the disk cache stays; it is keyed by content)."""
    _CACHE.clear()


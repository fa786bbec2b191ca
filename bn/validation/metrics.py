"""Scoring rules and intervals: Brier and log scores, ROC AUC and curve, reliability, Wilson intervals, a
paired bootstrap. Plain numpy, checked against hand computations in the tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bn.validation.base import ValidationError


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


def bootstrap_mean_interval(values: Sequence[float], *, seed: int, resamples: int = 2000) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of a mean (seeded: the same cases give the same interval)."""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return (float(x.mean()), float(x.mean())) if x.size else (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))

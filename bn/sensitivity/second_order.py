"""Second-order uncertainty: every parameter drawn jointly (Beta or Dirichlet matching its plausible range)
and each target's posterior recomputed per draw by one batched exact contraction. Seeded."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bn.inference import BayesNet, Findings
from bn.model import Network, NetworkInfo
from bn.sensitivity.base import DEFAULT_DRAWS, SensitivityError
from bn.sensitivity.changes import _name
from bn.sensitivity.functions import _prepare, _progress
from bn.sensitivity.tables import SensitivityParameter, _expit, _noisy_or_spec, logit, parameters
from bn.target import Target

_KAPPA_BOUNDS = (1.0, 1e8)  # Beta/Dirichlet concentrations considered: from flat-ish to effectively fixed
_Z95 = 1.6448536269514722  # the standard normal's 95th percentile


def concentrations(values: Sequence[float], ranges: Sequence[tuple[float, float]]) -> np.ndarray:
    """Beta concentrations ``kappa`` (``Beta(kappa t, kappa (1 - t))``, mean ``t``) matching plausible ranges.

    A range is read as a 90% interval on the log-odds scale: its width is ``2 * 1.645`` standard deviations.
    The log-odds of a ``Beta(a, b)`` variable has variance ``trigamma(a) + trigamma(b)`` exactly, so ``kappa``
    solves ``trigamma(kappa t) + trigamma(kappa (1 - t)) = (width / 3.29)^2`` (bisection, all at once).
    A range need not be symmetric around its value; only its width is matched. ``inf`` means "fixed": a value
    of 0 or 1, or an empty range.

    >>> k = concentrations([0.2], [(0.1, 0.35)])[0]
    >>> from scipy.special import betaincinv
    >>> [round(float(betaincinv(k * 0.2, k * 0.8, q)), 2) for q in (0.05, 0.95)]
    [0.09, 0.33]
    """
    from scipy.special import polygamma

    t = np.asarray(values, dtype=float)
    lo = np.array([r[0] for r in ranges], dtype=float)
    hi = np.array([r[1] for r in ranges], dtype=float)
    fixed = (t <= 0.0) | (t >= 1.0) | (hi - lo <= 1e-12)
    out = np.full(t.shape, np.inf)
    free = ~fixed
    if not free.any():
        return out
    eps = 1e-9  # ranges may touch 0 or 1, where the log-odds is infinite: measure a hair inside

    def logit(x: np.ndarray) -> np.ndarray:
        x = np.clip(x, eps, 1.0 - eps)
        return np.log(x / (1.0 - x))

    tf = t[free]
    target = ((logit(hi[free]) - logit(lo[free])) / (2.0 * _Z95)) ** 2
    low = np.full(tf.shape, math.log(_KAPPA_BOUNDS[0]))
    high = np.full(tf.shape, math.log(_KAPPA_BOUNDS[1]))
    for _ in range(60):  # the log-odds variance falls as kappa grows: bisect on log kappa
        mid = (low + high) / 2.0
        k = np.exp(mid)
        too_wide = polygamma(1, k * tf) + polygamma(1, k * (1.0 - tf)) > target
        low = np.where(too_wide, mid, low)
        high = np.where(too_wide, high, mid)
    out[free] = np.exp((low + high) / 2.0)
    return out


def _scaled_range(value: float, rng: tuple[float, float], scale: float) -> tuple[float, float]:
    """The plausible range with its distances from the value scaled by ``scale`` on the log-odds scale."""
    if scale == 1.0 or not 0.0 < value < 1.0:
        return rng
    z = logit(value)
    return tuple(_expit(z + scale * (logit(x) - z)) if x != value else x for x in rng)  # type: ignore[return-value]


@dataclass(frozen=True)
class _Draw:
    """How to draw one number (a link, a leak, a binary row) or one row (Dirichlet) of a variable."""

    kind: str  # "leak" | "link" | "row"
    row: tuple[int, ...]
    link: tuple[int, int]
    mean: np.ndarray  # the row (or the single probability as a 1-vector)
    kappa: float


def _draw_plan(network: Network, range_scale: float) -> dict[str, list[_Draw]]:
    """Per variable, what to draw: every table row, noisy-OR link and leak (deterministic tables stay)."""
    plan: dict[str, list[_Draw]] = {}
    params = parameters(network)
    # One concentration per drawn item, from the parameter the modeller wrote (a row: its last/positive state).
    chosen: dict[tuple[str, str, tuple[int, ...], tuple[int, int]], SensitivityParameter] = {}
    for p in params:
        var = network[p.variable]
        if p.kind == "row" and var.card > 2 and p.state_index != var.card - 1:
            continue
        chosen[(p.variable, p.kind, p.row, p.link)] = p
    items = list(chosen.items())
    kappas = concentrations([p.value for _, p in items], [_scaled_range(p.value, p.range, range_scale)
                                                         for _, p in items])
    for ((variable, kind, row, link), p), kappa in zip(items, kappas):
        var = network[variable]
        mean = np.asarray(var.cpt[row], dtype=float) if kind == "row" else np.array([p.value])
        plan.setdefault(variable, []).append(_Draw(kind, row, link, mean, float(kappa)))
    return plan


def _draw_tables(network: Network, plan: dict[str, list[_Draw]], draws: int, rng: np.random.Generator
                 ) -> dict[str, np.ndarray]:
    """Tables with a leading axis of draws, drawn in network order (so a seed fixes every number)."""
    tables = {}
    for vid, var in network.variables.items():
        items = plan.get(vid, [])
        if var.form == "noisy_or" and items:
            leak, links = _noisy_or_spec(network, var)
            leak_d = np.full(draws, leak)
            link_d = {(a, s): np.full(draws, p) for a, s, p in links}
            for item in items:
                x = _beta(rng, float(item.mean[0]), item.kappa, draws)
                if item.kind == "leak":
                    leak_d = x
                else:
                    link_d[item.link] = x
            cards = [network[q].card for q in var.parents]
            off = (1.0 - leak_d).reshape((draws,) + (1,) * len(cards))
            for (axis, state), x in link_d.items():
                factor = np.ones((draws, cards[axis]))
                factor[:, state] = 1.0 - x
                off = off * factor.reshape([draws] + [cards[axis] if a == axis else 1 for a in range(len(cards))])
            off = np.broadcast_to(off, (draws, *cards))
            tables[vid] = np.stack([off, 1.0 - off], axis=-1)
            continue
        table = np.repeat(np.asarray(var.cpt, dtype=float)[None], draws, axis=0)
        for item in items:
            table[(slice(None), *item.row)] = _dirichlet(rng, item.mean, item.kappa, draws)
        tables[vid] = table
    return tables


def _beta(rng: np.random.Generator, mean: float, kappa: float, draws: int) -> np.ndarray:
    if not math.isfinite(kappa) or mean <= 0.0 or mean >= 1.0:
        return np.full(draws, mean)
    return rng.beta(kappa * mean, kappa * (1.0 - mean), size=draws)


def _dirichlet(rng: np.random.Generator, mean: np.ndarray, kappa: float, draws: int) -> np.ndarray:
    out = np.repeat(mean[None], draws, axis=0)
    positive = mean > 0.0
    if not math.isfinite(kappa) or positive.sum() < 2:
        return out  # structural zeros stay zero; a single possible state stays certain
    g = rng.gamma(kappa * mean[positive], size=(draws, int(positive.sum())))
    out[:, positive] = g / g.sum(axis=1, keepdims=True)
    return out


def _chain_scaled(net: BayesNet, likelihoods: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each finding's vector divided by ``P(finding | the findings before it)`` (the chain rule of P(e)).

    The batched contraction works in linear space, where ``P(e)`` of a case with many findings underflows
    (log P(e) below -745 is 0.0). Scaled so, ``P(e)`` at the network's own numbers is 1 and every partial
    product stays near the scale of its factors; the posteriors, ratios of two contractions, do not change.
    """
    names = list(likelihoods)
    vectors = [np.asarray(likelihoods[v], dtype=float) for v in names]
    # every prefix at once: case j holds the first j + 1 findings and all-ones vectors (no information) for the
    # rest, so all k cases share one evidence pattern and one batched call
    batch = {v: np.stack([vec if j >= i else np.ones_like(vec) for j in range(len(names))])
             for i, (v, vec) in enumerate(zip(names, vectors))}
    prefix = [float(x) for x in net.engine.log_probability_of_evidence(batch)] if names else []
    if not all(math.isfinite(x) for x in prefix):
        return dict(likelihoods)  # impossible findings: left as they are, reported by the caller
    steps = np.diff([0.0, *prefix])  # log P(finding j | the findings before it)
    return {v: vec * math.exp(min(-step, 700.0)) for v, vec, step in zip(names, vectors, steps)}


class _BatchedJoint:
    """``P(target variable, e)`` for a batch of parameter draws: one exact contraction with a draw axis.

    Every table carries the draw axis; the evidence vectors do not. Variables that are neither ancestors of a
    finding nor of a target are summed out analytically (their rows sum to 1 in every draw) by leaving them out.
    """

    CHUNK = 500  # draws per contraction: bounds the memory of the intermediate tables

    def __init__(self, network: Network, likelihoods: Mapping[str, np.ndarray], targets: Sequence[str]):
        import opt_einsum

        relevant = network.ancestors([*likelihoods, *targets])
        self.order = [v for v in network.variables if v in relevant]
        sym = {v: opt_einsum.get_symbol(i) for i, v in enumerate(self.order)}
        batch = opt_einsum.get_symbol(len(self.order))
        self.terms = [batch + "".join(sym[p] for p in network[v].parents) + sym[v] for v in self.order]
        self.evidence = [(sym[v], np.asarray(likelihoods[v], dtype=float)) for v in likelihoods]
        self.outputs = {t: batch + sym[t] for t in targets}
        self.network = network
        self._expressions: dict[tuple[str, int], Any] = {}

    def _expression(self, target: str, size: int):
        import opt_einsum

        key = (target, size)
        if key not in self._expressions:
            terms = self.terms + [s for s, _ in self.evidence]
            shapes = [(size, *self.network[v].cpt.shape) for v in self.order] + [vec.shape for _, vec in self.evidence]
            self._expressions[key] = opt_einsum.contract_expression(
                f"{','.join(terms)}->{self.outputs[target]}", *shapes, optimize="greedy")
        return self._expressions[key]

    def chunks(self, draws: int) -> list[tuple[str, int]]:
        """The work items: (target variable, first draw of the chunk)."""
        return [(t, start) for t in self.outputs for start in range(0, draws, self.CHUNK)]

    def __call__(self, tables: Mapping[str, np.ndarray], target: str, start: int = 0) -> np.ndarray:
        """``P(target, e)`` for the chunk of draws from ``start``, shape ``(chunk, card)``."""
        part = [tables[v][start:start + self.CHUNK] for v in self.order]
        expr = self._expression(target, part[0].shape[0])
        return expr(*part, *(vec for _, vec in self.evidence))


@dataclass(frozen=True)
class TargetUncertainty:
    """The distribution of one target's posterior over the parameter draws."""

    target: Target
    label: str
    point: float  # the posterior with the network's own numbers
    samples: np.ndarray = field(repr=False)

    @property
    def median(self) -> float:
        return float(np.median(self.samples))

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples))

    def interval(self, level: float = 0.90) -> tuple[float, float]:
        lo, hi = np.quantile(self.samples, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
        return float(lo), float(hi)

    def sentence(self) -> str:
        """``"knee pain from the L4-L5 spine: 41% (90% interval 30-55%)"``."""
        lo, hi = self.interval()
        return f"{self.label}: {self.median:.0%} (90% interval {lo:.0%}-{hi:.0%}; with the network's numbers " \
               f"{self.point:.0%})"

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.interval()
        return {"target": self.target.to_dict(), "label": self.label, "point": self.point, "median": self.median,
                "mean": self.mean, "interval_90": [lo, hi]}


@dataclass(frozen=True)
class UncertaintyResult:
    """Posterior distributions under joint parameter uncertainty, seeded and reproducible."""

    network: NetworkInfo
    evidence: dict[str, Any]
    draws: int
    seed: int
    range_scale: float
    targets: list[TargetUncertainty]
    leader_now: str | None = None
    leaders: dict[str, float] | None = None  # share of draws in which each knee-pain source leads

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "evidence": self.evidence, "draws": self.draws, "seed": self.seed,
                "range_scale": self.range_scale, "targets": [t.to_dict() for t in self.targets],
                "leader_now": self.leader_now, "leaders": self.leaders}

    def to_frame(self):
        """One row per draw, one column per target (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame({_name(t.target): t.samples for t in self.targets})

    def summary_frame(self):
        """One row per target: point, median, mean, 90% interval."""
        import pandas as pd

        rows = []
        for t in self.targets:
            lo, hi = t.interval()
            rows.append({"target": _name(t.target), "label": t.label, "point": t.point, "median": t.median,
                         "mean": t.mean, "low_5": lo, "high_95": hi})
        return pd.DataFrame(rows)


def uncertainty(net: BayesNet, findings: Findings = None, *,
                targets: Sequence[str | Target] | str | Target | None = None, draws: int = DEFAULT_DRAWS,
                seed: int = 0, range_scale: float = 1.0, progress: bool = False, soft=None) -> UncertaintyResult:
    """The posterior of each target when all parameters are drawn jointly from their plausible ranges.

    Each noisy-OR link and leak is ``Beta(kappa t, kappa (1 - t))`` and each table row
    ``Dirichlet(kappa * row)`` (a Beta for binary variables), centred on the network's value with ``kappa``
    fitted to the range (:func:`concentrations`). ``range_scale`` shrinks (< 1) or widens (> 1) every range
    on the log-odds scale. Targets default to the knee-pain sources (else the default target).

    >>> import bn
    >>> r = uncertainty(bn.load("l4l5_knee@1.0.0"), {"knee_pain": "present"}, targets="l4l5_spine", draws=200,
    ...                 seed=1)
    >>> t = r.targets[0]
    >>> t.interval()[0] < t.median < t.interval()[1]
    True
    """
    network = net.network
    if not isinstance(draws, int) or draws < 1:
        raise SensitivityError(f"the number of draws must be a positive integer; got {draws!r}")
    if not range_scale > 0.0 or not math.isfinite(range_scale):
        raise SensitivityError(f"range_scale must be a positive number; got {range_scale!r}")
    if targets is None:
        names = list(network.knee_pain_sources) or [None]
    elif isinstance(targets, (str, Target)):
        names = [targets]
    else:
        names = list(targets)
    ev, resolved = _prepare(net, findings, names, soft)
    resolved = list(dict.fromkeys(resolved))
    likelihoods = _chain_scaled(net, ev.likelihoods(network))
    rng = np.random.default_rng(seed)
    tables = _draw_tables(network, _draw_plan(network, range_scale), draws, rng)
    order = list(network.variables)
    joint = _BatchedJoint(network, likelihoods, sorted({t.variable for t in resolved}, key=order.index))
    parts: dict[str, list[np.ndarray]] = {t: [] for t in joint.outputs}
    work = joint.chunks(draws)
    for var, start in _progress(work, len(work), "uncertainty", progress):
        parts[var].append(joint(tables, var, start))
    samples = {var: np.concatenate(chunks, axis=0) for var, chunks in parts.items()}
    results = []
    for t in resolved:
        table = samples[t.variable]
        with np.errstate(invalid="ignore", divide="ignore"):
            post = table[:, network[t.variable].state_index(t.state)] / table.sum(axis=1)
        point = float(net.posterior(t.variable, findings=ev)[t.state])
        results.append(TargetUncertainty(t, t.label(network), point, post[np.isfinite(post)]))
    leader_now = leaders = None
    sources = network.knee_pain_sources
    if sources and all(Target(v, network[v].on_state) in resolved for v in sources.values()):
        by_var = {r.target.variable: r for r in results}
        keys = list(sources)
        on = {k: network[sources[k]].on_index for k in keys}
        stacked = np.stack([samples[sources[k]][:, on[k]] / samples[sources[k]].sum(axis=1) for k in keys], axis=1)
        winners = np.argmax(stacked, axis=1)
        leaders = {k: float(np.mean(winners == i)) for i, k in enumerate(keys)}
        leader_now = max(keys, key=lambda k: by_var[sources[k]].point)
    return UncertaintyResult(network.info, ev.to_dict(), draws, seed, range_scale, results, leader_now,
                             leaders)

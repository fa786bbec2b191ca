"""Exact sensitivity functions ``f(t) = (a t + b) / (c t + d)`` and their coefficients, from one calibration
per variable (family posteriors relative to P(e), so a tiny P(e) cannot underflow)."""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bn.errors import EvidenceError
from bn.evidence import Evidence
from bn.inference import BayesNet, Findings
from bn.model import Variable
from bn.sensitivity.base import _T
from bn.sensitivity.tables import SensitivityParameter, table_at
from bn.target import Target, resolve_target


@dataclass(frozen=True)
class SensitivityFunction:
    """``f(t) = (a t + b) / (c t + d)``: the target posterior as a function of one parameter.

    Coefficients are scaled so that ``c t0 + d = 1`` (``P(e)`` at the current value is the unit).

    >>> f = SensitivityFunction(0.5, a=0.4, b=0.1, c=0.2, d=0.9)
    >>> round(f(0.5), 6), round(f.derivative(0.5), 6), round(f.solve(f(0.7)), 6)
    (0.3, 0.34, 0.7)
    """

    t0: float
    a: float
    b: float
    c: float
    d: float

    def __call__(self, t: float) -> float:
        den = self.c * t + self.d
        return (self.a * t + self.b) / den if den > 0.0 else math.nan

    def derivative(self, t: float | None = None) -> float:
        t = self.t0 if t is None else t
        den = self.c * t + self.d
        return (self.a * self.d - self.b * self.c) / (den * den) if den > 0.0 else math.nan

    def solve(self, p: float) -> float:
        """The ``t`` with ``f(t) = p`` (NaN when ``f`` is constant)."""
        den = self.a - p * self.c
        return (p * self.d - self.b) / den if den != 0.0 else math.nan

    def to_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b, "c": self.c, "d": self.d}


@dataclass(frozen=True)
class _Linear:
    """``P(event, e)(t) / P(e)(t0) = a t + b`` for one parameter and one event (or the evidence alone).

    Every coefficient is relative to ``P(e)`` at the network's values, so none under- or overflows where
    ``P(e)`` itself does (a case with many findings on a large network: log P(e) below -700)."""

    a: float
    b: float

    def __call__(self, t: float) -> float:
        return self.a * t + self.b


class _Coefficients:
    """Exact linear coefficients of ``P(event, e)`` and ``P(e)`` in each parameter, relative to ``P(e)``,
    from family posteriors (normalised: they hold where ``P(e)`` underflows)."""

    def __init__(self, net: BayesNet, evidence: Evidence, events: Sequence[Target]):
        self.events = list(dict.fromkeys(events))
        self.likelihoods = evidence.likelihoods(net.network)
        # Only the findings, the events and their ancestors can move P(event, e) or P(e): every other table
        # belongs to a barren variable, which sums out to 1 whatever its numbers, so its derivatives are 0.
        # Working on the relevant part keeps a large network's junction tree small (l4l5_knee 2.0.0: a
        # one-way analysis of a knee-pain case took 4.6 s on the whole tree).
        net = net.relevant_part([*self.likelihoods, *(e.variable for e in self.events)])
        self.relevant = set(net.network.variables)
        self.net = net
        self.network = net.network
        self.evidence = evidence
        self._family_cache: dict[int, tuple[dict[str, np.ndarray], float]] = {}
        self.log_p_e = self._families(0)[1]

    def _event_likelihoods(self, event: Target) -> dict[str, np.ndarray]:
        var = self.network[event.variable]
        lik = dict(self.likelihoods)
        vec = np.zeros(var.card)
        vec[var.state_index(event.state)] = 1.0
        lik[event.variable] = vec * lik[event.variable] if event.variable in lik else vec
        return lik

    def _family_derivatives(self, var: Variable, dts: list[np.ndarray]) -> list[np.ndarray]:
        """``dP(., e) / dT / P(e)`` for the evidence alone and each event, with the family's axes (parents,
        child)."""
        liks = [self.likelihoods] + [self._event_likelihoods(ev) for ev in self.events]
        table = np.asarray(var.cpt, dtype=float)
        zero = table == 0.0
        needs_ones = any(bool((zero & (dt != 0.0)).any()) for dt in dts)
        if needs_ones:
            # dP/dT[u, v] = P(u, v, e) / T[u, v] fails where T is 0; with the table replaced by ones the
            # family joint *is* the derivative (the joint is linear in each table).
            engine = _ones_engine(self.net, var)
            out = []
            for lik in liks:
                tables, log_z = engine.family_posteriors(lik, [var.id])
                out.append(tables[var.id] * self._ratio(log_z))
            return out
        out = []
        for k in range(len(liks)):
            tables, log_z = self._families(k)
            joint = tables[var.id] * self._ratio(log_z)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(zero, 0.0, joint / np.where(zero, 1.0, table)))
        return out

    def _ratio(self, log_z: float) -> float:
        """``exp(log_z) / P(e)``, computed in log space."""
        return math.exp(log_z - self.log_p_e) if np.isfinite(log_z) else 0.0

    def for_variable(self, variable: str, params: Sequence[SensitivityParameter]
                     ) -> dict[str, tuple[_Linear, list[_Linear]]]:
        """For each parameter id: (P(e) as a linear function of t, [P(event, e) for each event])."""
        if variable not in self.relevant:
            totals = [self.posterior(ev) for ev in self.events]
            return {p.id: (_Linear(0.0, 1.0), [_Linear(0.0, x) for x in totals]) for p in params}
        var = self.network[variable]
        dts = [table_at(self.network, p, 1.0) - table_at(self.network, p, 0.0) for p in params]
        derivs = self._family_derivatives(var, dts)
        totals = [1.0] + [self.posterior(ev) for ev in self.events]
        out = {}
        for p, dt in zip(params, dts):
            lines = []
            for deriv, total in zip(derivs, totals):
                a = float(np.sum(dt * deriv))
                lines.append(_Linear(a, total - a * p.value))
            out[p.id] = (lines[0], lines[1:])
        return out

    def _families(self, k: int) -> tuple[dict[str, np.ndarray], float]:
        """P(family | e) of every variable (k = 0) or P(family | event k, e), and log P(e) or
        log P(event k, e), from one calibration each."""
        if k not in self._family_cache:
            lik = self.likelihoods if k == 0 else self._event_likelihoods(self.events[k - 1])
            self._family_cache[k] = self.net.engine.family_posteriors(lik)
        return self._family_cache[k]

    def posterior(self, event: Target) -> float:
        """``P(event | e) = P(event, e) / P(e)`` at the network's values."""
        return self._ratio(self._families(self.events.index(event) + 1)[1])


_ONES: weakref.WeakKeyDictionary[BayesNet, dict[str, Any]] = weakref.WeakKeyDictionary()


def _ones_engine(net: BayesNet, var: Variable):
    """An engine for ``net`` with ``var``'s table replaced by ones, kept as long as ``net`` is (an app reruns
    the same analysis on the same compiled part of the network)."""
    from bn.engines import make_engine

    kept = _ONES.setdefault(net, {})
    if var.id not in kept:
        ones = replace(var, cpt=np.ones_like(np.asarray(var.cpt, dtype=float)))
        network = replace(net.network, variables={**net.network.variables, var.id: ones})
        plan = getattr(net.engine, "plan", None)
        if plan is not None and len(plan.assign) != len(network.variables):
            plan = None  # a plan over OR chains: the table of ones is no OR, so it is planned afresh
        kept[var.id] = make_engine(network, net.engine.name, plan)
    return kept[var.id]


def _progress(iterable: Iterable[_T], total: int, desc: str, enabled: bool) -> Iterable[_T]:
    """The items, each after checking the time budget (:func:`bn.limits.check_time`); with ``enabled``, a tqdm
    bar on stderr that appears only if the loop runs longer than a second."""
    from bn.limits import check_time

    if enabled:
        from tqdm import tqdm

        # disable=None: no bar when stderr is not a terminal (pipes, logs, tests).
        iterable = tqdm(iterable, total=total, desc=desc, delay=1.0, leave=False, disable=None)
    for item in iterable:
        check_time()
        yield item


def _group(params: Sequence[SensitivityParameter]) -> dict[str, list[SensitivityParameter]]:
    groups: dict[str, list[SensitivityParameter]] = {}
    for p in params:
        groups.setdefault(p.variable, []).append(p)
    return groups


def _prepare(net: BayesNet, findings: Findings, targets: Sequence[str | Target | None], soft=None
             ) -> tuple[Evidence, list[Target]]:
    ev = net.evidence(findings, soft=soft)
    resolved = []
    for t in targets:
        target = t if isinstance(t, Target) else resolve_target(net.network, t)
        if target.variable in ev.findings:
            raise EvidenceError(f"the target {target.variable} is itself a finding of the case "
                                f"({target.variable}={ev.findings[target.variable]}); its probability is 0 or 1 "
                                "whatever the parameters; choose another target")
        resolved.append(target)
    net.posterior(resolved[0].variable, findings=ev)  # raises ImpossibleEvidenceError naming the conflicting findings
    return ev, resolved

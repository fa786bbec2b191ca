"""One-way sensitivity: every parameter's sensitivity function for a target, widest posterior swing first."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bn.inference import BayesNet, Findings
from bn.model import NetworkInfo
from bn.sensitivity.base import UnknownParameterError
from bn.sensitivity.functions import SensitivityFunction, _Coefficients, _group, _Linear, _prepare, _progress
from bn.sensitivity.tables import SensitivityParameter, _normalise_id, find_parameters, parameters
from bn.target import Target


@dataclass(frozen=True)
class ParameterSensitivity:
    """One parameter's effect on the target: its sensitivity function and the posterior over its range."""

    parameter: SensitivityParameter
    function: SensitivityFunction
    posterior_at_low: float  # the posterior with the parameter at the low end of its plausible range
    posterior_at_high: float

    @property
    def derivative(self) -> float:
        """``df/dt`` at the current value."""
        return self.function.derivative()

    @property
    def swing(self) -> float:
        """How far the posterior moves as the parameter sweeps its plausible range (the tornado bar)."""
        lo, hi = self.posterior_at_low, self.posterior_at_high
        return abs(hi - lo) if math.isfinite(lo) and math.isfinite(hi) else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter.to_dict(), "label": self.parameter.label,
                "function": self.function.to_dict(), "derivative": _finite(self.derivative),
                "posterior_at_low": _finite(self.posterior_at_low),
                "posterior_at_high": _finite(self.posterior_at_high), "swing": _finite(self.swing)}


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


@dataclass(frozen=True)
class OneWayResult:
    """One-way sensitivity of one target for one case; ``rows`` are sorted by swing, widest first."""

    network: NetworkInfo
    evidence: dict[str, Any]
    target: Target
    target_label: str
    posterior: float
    rows: list[ParameterSensitivity]

    def row(self, parameter_id: str) -> ParameterSensitivity:
        key = _normalise_id(parameter_id)
        for r in self.rows:
            if _normalise_id(r.parameter.id) == key:
                return r
        raise UnknownParameterError(f"parameter '{parameter_id}' is not in this analysis")

    def top(self, k: int | None) -> list[ParameterSensitivity]:
        return self.rows[:k] if k else list(self.rows)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "evidence": self.evidence, "target": self.target.to_dict(),
                "target_label": self.target_label, "posterior": self.posterior,
                "parameters": [r.to_dict() for r in self.top(top)]}

    def to_frame(self):
        """One row per parameter (pandas DataFrame), widest swing first."""
        import pandas as pd

        rows = [{"parameter": r.parameter.id, "label": r.parameter.label, "variable": r.parameter.variable,
                 "kind": r.parameter.kind, "value": r.parameter.value, "range_low": r.parameter.range[0],
                 "range_high": r.parameter.range[1], "range_from": r.parameter.range_from,
                 "posterior": self.posterior, "posterior_at_low": r.posterior_at_low,
                 "posterior_at_high": r.posterior_at_high, "swing": r.swing, "derivative": r.derivative,
                 "provenance": r.parameter.provenance, "source": r.parameter.citation,
                 "a": r.function.a, "b": r.function.b, "c": r.function.c, "d": r.function.d}
                for r in self.rows]
        return pd.DataFrame(rows)


def one_way(net: BayesNet, findings: Findings = None, *, target: str | Target | None = None,
            only: Iterable[str] | None = None, progress: bool = False, soft=None) -> OneWayResult:
    """Exact one-way sensitivity of ``P(target | findings)`` to every parameter (or to those in ``only``).

    ``target`` is ``VAR=STATE``, ``VAR`` or a knee-pain source key (default: ``l4l5_spine``); ``only`` lists
    parameter ids or variable ids (all of that variable's parameters).

    >>> import bn
    >>> r = one_way(bn.load("l4l5_knee@1.0.0"), {"knee_pain": "present"}, target="disc_herniation",
    ...             only=["disc_herniation"])
    >>> [x.parameter.id for x in r.rows][0]
    'disc_herniation=present | age_group=40_to_64'
    """
    ev, (tgt,) = _prepare(net, findings, [target], soft)
    network = net.network
    params = find_parameters(network, only) if only is not None else parameters(network)
    coefficients = _Coefficients(net, ev, [tgt])
    posterior = coefficients.posterior(tgt)
    rows = []
    groups = _group(params)
    for variable, group in _progress(groups.items(), len(groups), "one-way sensitivity", progress):
        lines = coefficients.for_variable(variable, group)
        rows += [_row(p, lines[p.id][0], lines[p.id][1][0]) for p in group]
    rows.sort(key=lambda r: (-r.swing if math.isfinite(r.swing) else -math.inf, r.parameter.id))
    return OneWayResult(network.info, ev.to_dict(), tgt, tgt.label(network), posterior, rows)


def _row(p: SensitivityParameter, pe: _Linear, px: _Linear) -> ParameterSensitivity:
    f = SensitivityFunction(p.value, px.a, px.b, pe.a, pe.b)
    return ParameterSensitivity(p, f, f(p.range[0]), f(p.range[1]))

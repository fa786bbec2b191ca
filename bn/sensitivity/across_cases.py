"""One-way sensitivity (and what would change the conclusion) over a folder of cases, aggregated per
parameter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bn.errors import BNError
from bn.evidence import read_case
from bn.inference import BayesNet
from bn.model import Network, NetworkInfo
from bn.sensitivity.base import SensitivityError
from bn.sensitivity.changes import Constraint, FlipResult, Threshold, flip, leader_changes
from bn.sensitivity.functions import _progress
from bn.sensitivity.oneway import OneWayResult, one_way
from bn.sensitivity.tables import SensitivityParameter, parameters
from bn.target import Target, resolve_target

CASE_SUFFIXES = (".json", ".yaml", ".yml")


@dataclass(frozen=True)
class ParameterImportance:
    """One parameter's importance over a set of cases."""

    parameter: SensitivityParameter
    mean_swing: float
    max_swing: float
    mean_abs_derivative: float
    cases_in_top: int  # cases where it is among the top-k by swing
    flips_in_range: int | None  # cases where it alone, within its range, changes the conclusion
    flip_cases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter.id, "label": self.parameter.label, "value": self.parameter.value,
                "range": list(self.parameter.range), "range_from": self.parameter.range_from,
                "source": self.parameter.citation, "mean_swing": self.mean_swing, "max_swing": self.max_swing,
                "mean_abs_derivative": self.mean_abs_derivative, "cases_in_top": self.cases_in_top,
                "flips_in_range": self.flips_in_range, "flip_cases": list(self.flip_cases)}


@dataclass(frozen=True)
class CaseOutcome:
    """One case of a sweep: its one-way result and (optionally) what would change its conclusion."""

    name: str
    one_way: OneWayResult
    flip: FlipResult | None = None


@dataclass(frozen=True)
class SweepResult:
    """Sensitivity over a folder of cases: which parameters matter most overall (``parameters``, sorted)."""

    network: NetworkInfo
    target: Target
    target_label: str
    top_k: int
    cases: list[CaseOutcome]
    skipped: list[tuple[str, str]]  # (case, reason)
    parameters: list[ParameterImportance]
    test_cases: tuple[str, ...] = ()  # locked test cases analysed (only with include_test): a look to record
    blind: tuple[str, ...] = ()  # locked test cases skipped (without include_test)

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "target": self.target.to_dict(), "target_label": self.target_label,
                "top_k": self.top_k, "cases": [{"case": c.name, "posterior": c.one_way.posterior,
                                                 "flip_headline": c.flip.headline if c.flip else None}
                                                for c in self.cases],
                "skipped": [{"case": n, "reason": r} for n, r in self.skipped],
                "parameters": [p.to_dict() for p in (self.parameters[:top] if top else self.parameters)]}

    def to_frame(self):
        """One row per parameter, most important first (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in p.to_dict().items() if k not in ("range", "flip_cases")}
                             | {"range_low": p.parameter.range[0], "range_high": p.parameter.range[1]}
                             for p in self.parameters])

    def cases_frame(self):
        """One row per (case, parameter): the swing and derivative (pandas DataFrame)."""
        import pandas as pd

        return pd.DataFrame([{"case": c.name, "parameter": r.parameter.id, "posterior": c.one_way.posterior,
                              "posterior_at_low": r.posterior_at_low, "posterior_at_high": r.posterior_at_high,
                              "swing": r.swing, "derivative": r.derivative}
                             for c in self.cases for r in c.one_way.rows])


def case_files(folder: str | Path) -> list[Path]:
    """The case files (``*.json``, ``*.yaml``, ``*.yml``) of a folder, sorted; raises SensitivityError if none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SensitivityError(f"'{folder}' is not a folder of case files")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in CASE_SUFFIXES)
    if not files:
        raise SensitivityError(f"no case files (*.json, *.yaml, *.yml) in '{folder}'")
    return files


def default_flip_constraint(network: Network, target: Target, posterior: float) -> Constraint:
    """"The leading knee-pain source changes" where there are sources; else the 50% call on the target flips."""
    if network.knee_pain_sources:
        return leader_changes(network)
    return Threshold(target, 0.5, above=posterior < 0.5)


def sweep(net: BayesNet, cases: str | Path | Mapping[str, Any], *, target: str | Target | None = None,
          top_k: int = 10, flips: bool = True, progress: bool = False, include_test: bool = False) -> SweepResult:
    """One-way sensitivity (and, with ``flips``, what would change the conclusion) over a set of cases.

    ``cases`` is a folder of case files or a mapping ``{name: findings or Evidence}``. Cases that do not fit
    the network (unknown findings, impossible evidence, the target among the findings) are listed in
    ``skipped`` with the reason; if no case is left, SensitivityError. Locked validation test cases
    (``split: test``) are skipped too, as the validation report blinds them: a sweep shows each case's result, and
    a network tuned on what it showed would be scored on cases it has seen. ``include_test`` analyses them and
    lists them in ``test_cases``, for the caller to record the look (``bn sensitivity sweep --unblind``).

    >>> import bn
    >>> r = sweep(bn.load("l4l5_knee@1.0.0"), {"a": {"knee_pain": "present"}, "b": {"back_pain": "present"}},
    ...           flips=False)
    >>> len(r.cases), r.parameters[0].mean_swing >= r.parameters[-1].mean_swing
    (2, True)
    """
    network = net.network
    tgt = target if isinstance(target, Target) else resolve_target(network, target)
    if isinstance(cases, Mapping):
        items: list[tuple[str, Any]] = list(cases.items())
        if not items:
            raise SensitivityError("no cases to sweep")
    else:
        items = [(p.name, p) for p in case_files(cases)]
    outcomes: list[CaseOutcome] = []
    skipped: list[tuple[str, str]] = []
    test_cases: list[str] = []
    blind: list[str] = []
    for name, item in _progress(items, len(items), "cases", progress):
        try:
            case = read_case(item) if isinstance(item, Path) else None
            if case is not None and case.split == "test":
                if not include_test:
                    skipped.append((name, "a locked validation test case (split: test), blind to per-case "
                                          "analysis; --unblind \"why\" includes it and records the look"))
                    blind.append(name)
                    continue
                test_cases.append(name)
            findings = case.evidence if case is not None else item
            ow = one_way(net, findings, target=tgt)
            fl = flip(net, findings, constraint=default_flip_constraint(network, tgt, ow.posterior)) if flips else None
        except BNError as exc:
            skipped.append((name, str(exc)))
            continue
        outcomes.append(CaseOutcome(name, ow, fl))
    if not outcomes:
        first = f": {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise SensitivityError(f"no case could be analysed ({len(skipped)} skipped{first})")
    importance = []
    for p in parameters(network):
        rows = [c.one_way.row(p.id) for c in outcomes]
        swings = np.array([r.swing for r in rows])
        in_top = sum(1 for c in outcomes if any(r.parameter.id == p.id for r in c.one_way.top(top_k)))
        flip_cases = tuple(c.name for c in outcomes if c.flip is not None and not c.flip.holds_now
                           and any(ch.parameter.id == p.id for ch in c.flip.within_range))
        importance.append(ParameterImportance(
            p, float(np.mean(swings)), float(np.max(swings)), float(np.mean([abs(r.derivative) for r in rows])),
            in_top, len(flip_cases) if flips else None, flip_cases))
    importance.sort(key=lambda x: (-x.mean_swing, x.parameter.id))
    return SweepResult(network.info, tgt, tgt.label(network), top_k, outcomes, skipped, importance,
                       tuple(test_cases), tuple(blind))

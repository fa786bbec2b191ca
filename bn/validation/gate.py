"""The CI gate: the headline metrics of a run, the recorded baseline per network version, and the
regressions between them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bn.files import write_text
from bn.model import NetworkInfo
from bn.validation.base import BASELINE_FILE, ValidationError
from bn.validation.cases import GROUPS, CaseSuite
from bn.validation.concordance import CONCORDANCE_KINDS

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

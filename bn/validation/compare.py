"""Version comparison: posterior shifts per case between two networks, the cases whose call changed, and
every parameter that differs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bn.inference import BayesNet
from bn.model import Network
from bn.validation.base import CASES_DIR
from bn.validation.cases import ValidationCase, load_cases, score_case


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


def compare_on_cases(net_a: BayesNet, net_b: BayesNet, directory: str | Path = CASES_DIR, *,
                     unblind: bool = False) -> dict[str, Any]:
    """:func:`compare_versions` on the validation cases in ``directory``, each version reading them in its own
    vocabulary. The locked test cases are left out unless ``unblind``: their per-case calls are their answers,
    shown only in a run that records the look (``bn validate --compare ... --unblind "why"``)."""
    def read(net: BayesNet) -> list[ValidationCase]:
        return [c for c in load_cases(net.network, directory) if unblind or c.split != "test"]

    return compare_versions(net_a, net_b, read(net_a), read(net_b))

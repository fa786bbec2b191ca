"""Update a network's tables from records, one row per patient (``bn learn``): a new version of the file.

This is the path for a clinic that wants the tables to reflect its own population. The records are read like
``bn batch`` input (CSV or parquet; columns are variable ids holding state names; a blank cell is unknown).

- ``method="bayes"`` (the default): each row of a table is a Dirichlet prior worth ``prior_weight`` patients,
  centred on the network's own row (the published figures), updated with the counts of that parent
  combination in the records. The new row is the posterior mean; its plausible ``range`` (used by
  sensitivity analysis) is the 90% posterior interval of the row's on-state (``Variable.on_state``).
- ``method="mle"``: the observed frequencies, wherever the parent combination was seen at least once (other
  rows keep the network's values).
- ``method="em"``: every record, however incomplete (diagnoses unrecorded, tests not done), by
  maximum-a-posteriori expectation-maximisation with the network's rows as the prior (:mod:`bn.em`). The
  unbiased choice when values are missing because of other recorded values (a test ordered only after a
  positive finding), where complete cases per family are biased.

For each variable only the records in which it and all its parents are known are counted (complete cases per
family: unbiased when values are missing at random, not when they are missing because of their value).
Deterministic tables (knee pain as the OR of its sources) are definitions, not estimates, and are never
changed; a record that contradicts one, or any other probability the network fixes at 0, is reported.

The new file is the old one with the learnt tables rewritten as full tables, each row citing a new reference
for the records (file name, sha256, rows used) and saying how many records it rests on, a new version number,
and a changelog entry; it is validated by the same loader as every network file before it is returned.

>>> import pandas as pd, bn
>>> net = bn.load("l4l5_knee")
>>> records = pd.DataFrame({"age_group": ["65_plus"] * 30 + ["under_40"] * 10})
>>> result = learn(net, records, version="1.2.0", prior_weight=10)
>>> [(t.variable, t.records) for t in result.tables]
[('age_group', 40)]
>>> round(float(result.network["age_group"].cpt[-1]), 3)   # (10 x 0.28 + 30) / (10 + 40)
0.656
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.errors import BNError
from bn.inference import BayesNet
from bn.model import Network

if TYPE_CHECKING:
    import pandas as pd

    from bn.em import EMResult

METHODS = ("bayes", "mle", "em")
INTERVAL = (0.05, 0.95)


class LearnError(BNError):
    """The records or the request cannot update this network (the message says which row or variable)."""


@dataclass(frozen=True)
class LearntTable:
    variable: str
    records: int          # records in which the variable and all its parents are known
    largest_change: float  # the largest absolute change of any probability in the table

    def to_dict(self) -> dict[str, Any]:
        return {"variable": self.variable, "records": self.records, "largest_change": self.largest_change}


@dataclass(frozen=True)
class LearnResult:
    network: Network          # the new version, loaded and validated
    text: str                 # its YAML file
    tables: list[LearntTable]
    skipped: dict[str, str]   # variable -> why its table was left as it was
    fit: EMResult | None = None  # how EM went (method "em")
    contradictions: dict[str, list[int]] = field(default_factory=dict)  # definition -> data rows (1-based) against it

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.info.to_dict(), "tables": [t.to_dict() for t in self.tables],
                "skipped": self.skipped, "contradictions": self.contradictions}

    def to_frame(self):
        """One row per learnt table: the records behind it and its largest change."""
        import pandas as pd

        return pd.DataFrame([t.to_dict() for t in self.tables])

    def summary(self) -> str:
        info = self.network.info
        lines = [f"{info.id} {info.version} (sha256 {info.sha256[:16]}...): {len(self.tables)} table"
                 f"{'s' if len(self.tables) != 1 else ''} updated"]
        lines += [f"  {t.variable}: {t.records} records, largest change {t.largest_change:.3f}" for t in self.tables]
        lines += [f"  {v}: not updated ({why})" for v, why in self.skipped.items()]
        for vid, rows in self.contradictions.items():
            shown = ", ".join(map(str, rows[:10])) + (" ..." if len(rows) > 10 else "")
            lines.append(f"  {len(rows)} record{'s' if len(rows) != 1 else ''} contradict the definition of {vid} "
                         f"(a deterministic table; not changed): rows {shown}")
        if self.fit is not None:
            fit = self.fit
            how = "converged" if fit.converged else "stopped at --max-iter"
            lines.append(f"EM: {fit.iterations} iterations ({how}), log-posterior {fit.log_posterior[0]:.6g} -> "
                         f"{fit.log_posterior[-1]:.6g}, {fit.records_used} records used")
            if fit.skipped_rows:
                shown = ", ".join(map(str, fit.skipped_rows[:10])) + (" ..." if len(fit.skipped_rows) > 10 else "")
                lines.append(f"  skipped as impossible under the network: rows {shown}")
        return "\n".join(lines)


def learn(net: BayesNet, records: pd.DataFrame, *, version: str, method: str = "bayes", prior_weight: float = 10.0,
          variables: Sequence[str] | None = None, ignore: Sequence[str] = (), data_name: str = "records",
          data_sha256: str | None = None, date: str | None = None, freeze: Sequence[str] = (),
          max_iter: int = 50, tol: float = 1e-6, progress: bool = False, dask: str | None = None) -> LearnResult:
    """A new version of ``net``'s file with its tables updated from ``records`` (see the module docstring).

    ``method="em"`` uses every record, however incomplete, by expectation-maximisation (:mod:`bn.em`;
    ``freeze``, ``max_iter``, ``tol`` and ``dask`` apply to it).
    """
    from bn import safeyaml
    from bn.batch import record_codes
    from bn.netfile import parse_network_text
    from bn.registry import CANONICAL_VERSION

    network = net.network
    if not CANONICAL_VERSION.fullmatch(str(version)):
        raise LearnError(f"'{version}' is not a version: write MAJOR.MINOR.PATCH without leading zeros "
                         "(for example 1.2.0; 01.1.0 would sort equal to 1.1.0)")
    if method not in METHODS:
        raise LearnError(f"unknown method '{method}' (choose from {', '.join(METHODS)})")
    if method in ("bayes", "em") and not prior_weight > 0:
        raise LearnError(f"the prior weight must be positive (got {prior_weight})")
    if network.source_format != "yaml" or not network.info.path:
        raise LearnError(f"{network.id} was not read from a network file in the bn-network YAML format, which is "
                         "what bn learn writes a new version of")
    with open(network.info.path, "rb") as fh:
        original = fh.read()
    if hashlib.sha256(original).hexdigest() != network.info.sha256:
        raise LearnError(f"{network.info.path} has changed since {network.id} {network.info.version} was loaded")
    codes = record_codes(net, records, ignore=ignore, error=LearnError)
    wanted = list(network.variables) if variables is None else list(variables)
    net._check_variables(wanted)
    doc = safeyaml.load(original.decode("utf-8"))
    specs = {spec["id"]: spec for spec in doc["variables"]}
    data_sha256 = data_sha256 or _frame_hash(records)
    key = f"records_{data_sha256[:12]}"
    tables, skipped = [], {}
    contradictions: dict[str, list[int]] = {}
    fit = None
    # A table whose every number is fixed, or a noisy-OR with a fixed link or leak (learnt tables are full tables,
    # so one number cannot be kept apart), is kept whole; a table's fixed rows are kept row by row.
    whole = {v for v in wanted if _fixed_whole(network[v])}
    if method == "em":
        # EM keeps any table with a fixed number whole.
        fixed = [v for v in wanted if any(p.fixed for p in network[v].parameters)]
        fit, tables, skipped = _learn_em(net, codes, specs, wanted, key, prior_weight=prior_weight,
                                         freeze=[*freeze, *fixed], max_iter=max_iter, tol=tol, progress=progress,
                                         dask=dask)
        skipped.update({v: "a number in it is fixed in the network file" for v in fixed})
    for vid in (wanted if method != "em" else []):
        var = network[vid]
        family = [*var.parents, vid]
        if any(f not in codes for f in family):
            if variables is not None:
                missing = [f for f in family if f not in codes]
                skipped[vid] = f"no column for {', '.join(missing)}"
            continue
        if "deterministic_or" in specs[vid]["cpt"]:
            skipped[vid] = "a deterministic table is a definition"
            against = _contradicting_rows(var, family, codes)
            if against:
                contradictions[vid] = against
            continue
        if "mixture" in specs[vid]["cpt"]:
            skipped[vid] = "a mixture's components are not learnt from records yet"
            continue
        if vid in whole:
            skipped[vid] = "fixed in the network file"
            continue
        known = np.all([codes[f] >= 0 for f in family], axis=0)
        if not known.any():
            skipped[vid] = "no record has it and all its parents known"
            continue
        shape = [network[f].card for f in family]
        counts = np.bincount(np.ravel_multi_index([codes[f][known] for f in family], shape),
                             minlength=int(np.prod(shape))).reshape(shape).astype(float)
        table = np.asarray(var.cpt, dtype=float)
        conflict = np.argwhere((table == 0.0) & (counts > 0))
        if conflict.size:
            where = ", ".join(f"{p}={network[p].state_ids[i]}" for p, i in zip(var.parents, conflict[0][:-1]))
            raise LearnError(f"{vid}: {int(counts[tuple(conflict[0])])} records have {vid}="
                             f"{var.state_ids[conflict[0][-1]]}{' when ' + where if where else ''}, which "
                             f"{network.id} {network.info.version} gives probability 0")
        new, ranges = _update(table, counts, method, prior_weight, on=var.on_index)
        body = specs[vid]["cpt"].get("table", {})
        kept = {_when_key(r["when"]) for r in body.get("rows", []) if r.get("fixed", body.get("fixed", False))}
        inherited = {k: body[k] for k in ("source", "detail", "expert_estimate") if k in body}
        # A kept row takes the provenance it inherited from its table, which the learnt table no longer carries.
        original = {_when_key(r["when"]): {**({} if ("source" in r or "expert_estimate" in r) else inherited), **r}
                    for r in body.get("rows", [])}
        for index in np.ndindex(*table.shape[:-1]):
            if _when_key({p: network[p].state_ids[i] for p, i in zip(var.parents, index)}) in kept:
                new[index] = table[index]
        rows = _rows(network, var, new, ranges, counts, key, method, prior_weight)
        rows = [original[_when_key(r["when"])] if _when_key(r["when"]) in kept else r for r in rows]
        specs[vid]["cpt"] = {"table": {"parents": list(var.parents), "rows": rows}}
        tables.append(LearntTable(vid, int(known.sum()), float(np.abs(new - table).max())))
    if not tables:
        raise LearnError("no table could be updated: the records need a column for a variable and for each of "
                         "its parents, with some rows where all of them are known")
    info = network.info
    date = date or _dt.date.today().isoformat()
    doc["network"]["version"] = version
    doc["network"]["date"] = date
    rule = {"bayes": f"Bayesian update, each row's prior worth {prior_weight:g} records",
            "mle": "maximum likelihood (observed frequencies)",
            "em": f"maximum-a-posteriori EM over every record, however incomplete, each row's prior (the previous "
                  f"version's row) worth {prior_weight:g} records"}[method]
    if fit is not None:
        rule += (f"; {fit.iterations} iterations, {'converged' if fit.converged else 'stopped at --max-iter'}, "
                 f"log-posterior {fit.log_posterior[0]:.6g} -> {fit.log_posterior[-1]:.6g}")
        if fit.skipped_rows:
            rule += f"; {len(fit.skipped_rows)} records skipped as impossible under the network"
    doc.setdefault("references", {})[key] = {
        "citation": f"Local records '{data_name}' (sha256 {data_sha256}), {len(records)} "
                    f"rows, learnt {date} with bn learn from {info.id} {info.version} (sha256 {info.sha256[:16]}...).",
        "measured": (f"Expected counts of each table's variable and parents over the records; {rule}." if fit
                     else f"Counts of each table's variable and parents in the records, complete cases per table; "
                          f"{rule}."),
        "grade": "local data"}
    doc["network"].setdefault("changelog", []).insert(0, {"version": version, "date": date, "changes": [
        f"Tables learnt from local records ({key}, {len(records)} rows; {rule}): "
        + "; ".join(f"{t.variable} ({t.records} records, largest change {t.largest_change:.3f})" for t in tables)
        + ". Noisy-OR tables among them are now full tables."]})
    text = _dump(doc)
    try:
        new_network = parse_network_text(text, name=f"{info.id}/{version}.yaml")
    except BNError as exc:  # a bug here, not the user's: say what failed rather than write a broken file
        raise LearnError(f"the updated file does not validate: {exc}") from None
    return LearnResult(new_network, text, tables, skipped, fit, contradictions)


def _fixed_whole(var) -> bool:
    """Kept whole by bn learn: every number fixed, or a noisy-OR link or leak fixed."""
    params = var.parameters
    return bool(params) and (all(p.fixed for p in params) or (var.form == "noisy_or" and any(p.fixed for p in params)))


def _when_key(when: dict) -> str:
    """A row's parent states in one spelling, whatever order the file lists them in."""
    return ", ".join(f"{k}={when[k]}" for k in sorted(when)) or "(no parents)"


def _contradicting_rows(var, family: list[str], codes: dict[str, np.ndarray]) -> list[int]:
    """Data rows (1-based) whose known family values the table gives probability 0."""
    known = np.all([codes[f] >= 0 for f in family], axis=0)
    table = np.asarray(var.cpt, dtype=float)
    impossible = np.zeros(len(known), dtype=bool)
    impossible[known] = table[tuple(codes[f][known] for f in family)] == 0.0
    return [int(k) + 1 for k in np.flatnonzero(impossible)]


def _learn_em(net: BayesNet, codes: dict[str, np.ndarray], specs: dict[str, Any], wanted: list[str], key: str, *,
              prior_weight: float, freeze: Sequence[str], max_iter: int, tol: float, progress: bool,
              dask: str | None = None):
    """Run EM and rewrite every learnt table in ``specs``; returns the fit, the tables and the skipped ones."""
    from bn.em import EMError, em

    network = net.network
    skipped = {v: "frozen" for v in freeze if v in wanted}
    skipped.update({v: "a deterministic table is a definition" for v in wanted
                    if network[v].form == "deterministic_or"})
    skipped.update({v: "a mixture's components are not learnt from records yet" for v in wanted
                    if network[v].form == "mixture"})
    try:
        fit = em(net, codes, prior_weight=prior_weight, variables=wanted, freeze=freeze, max_iter=max_iter, tol=tol,
                 progress=progress, dask=dask)
    except EMError as exc:
        raise LearnError(str(exc)) from None
    tables = []
    for vid, counts in fit.counts.items():
        var = network[vid]
        new = np.asarray(fit.network[vid].cpt, dtype=float)
        specs[vid]["cpt"] = {"table": {"parents": list(var.parents), "rows": _rows(
            network, var, new, fit.ranges[vid], counts, key, "em", prior_weight)}}
        tables.append(LearntTable(vid, fit.records_used, float(np.abs(new - np.asarray(var.cpt)).max())))
    return fit, tables, skipped


def _update(table: np.ndarray, counts: np.ndarray, method: str, weight: float, *,
            on: int) -> tuple[np.ndarray, np.ndarray]:
    """New rows, and the 90% interval of each row's state ``on`` (NaN where none applies)."""
    from scipy.stats import beta

    seen = counts.sum(axis=-1, keepdims=True)
    if method == "mle":
        new = np.where(seen > 0, counts / np.maximum(seen, 1), table)
        return new, np.full((*table.shape[:-1], 2), np.nan)
    post = weight * table + counts
    new = post / post.sum(axis=-1, keepdims=True)
    a = post[..., on]
    b = post.sum(axis=-1) - a
    with np.errstate(invalid="ignore"):
        ranges = np.stack([beta.ppf(INTERVAL[0], a, b), beta.ppf(INTERVAL[1], a, b)], axis=-1)
    # A structural 0 or 1 (a = 0 or b = 0) has no interval.
    ranges[(a <= 0) | (b <= 0)] = np.nan
    return new, ranges


def _rows(network: Network, var, new: np.ndarray, ranges: np.ndarray, counts: np.ndarray, key: str,
          method: str, weight: float) -> list[dict[str, Any]]:
    rows = []
    old = np.asarray(var.cpt, dtype=float)
    for index in np.ndindex(*new.shape[:-1]):
        when = {p: network[p].state_ids[i] for p, i in zip(var.parents, index)}
        n = int(counts[index].sum())
        probs = _rounded(new[index])
        before = ", ".join(f"{s} {x:.4g}" for s, x in zip(var.state_ids, old[index]))
        if method == "em":
            detail = (f"expected count {float(counts[index].sum()):.4g} records with "
                      f"{'this parent combination' if var.parents else 'it'} (EM over every record); prior: the "
                      f"previous version's row ({before}) worth {weight:g} records")
        else:
            detail = (f"{n} record{'s' if n != 1 else ''} with "
                      f"{'this parent combination' if var.parents else 'it known'}"
                      + (f"; prior: the previous version's row ({before}) worth {weight:g} records"
                         if method == "bayes" else ("" if n else "; none, so the previous version's row is kept")))
        row: dict[str, Any] = {"when": when, "probs": dict(zip(var.state_ids, probs)), "source": key,
                               "detail": detail}
        low, high = ranges[index]
        if np.isfinite(low) and np.isfinite(high):
            row["range"] = _written_range(low, high, probs[var.on_index])
        rows.append(row)
    return rows


def _written_range(low: float, high: float, value: float) -> list[float]:
    """A 90% interval to 4 significant digits (of its distance from 0 and from 1), containing ``value`` and
    strictly inside (0, 1) unless ``value`` is 0 or 1: a range that reaches 0 or 1 would be drawn as if anything
    were plausible (``bn check`` refuses it)."""
    lo = float(f"{low:.4g}")
    hi = round(1.0 - float(f"{1.0 - high:.4g}"), 12) if high > 0.5 else float(f"{high:.4g}")
    if lo <= 0.0 < value:
        lo = value / 2.0
    if hi >= 1.0 > value:
        hi = (1.0 + value) / 2.0
    return [min(lo, value), max(hi, value)]


def _rounded(p: np.ndarray) -> list[float]:
    """Probabilities to 6 decimals that still sum to 1 exactly (the loader checks sums to 1e-9)."""
    out = [round(float(x), 6) for x in p]
    out[int(np.argmax(p))] += round(1.0 - sum(out), 6)
    return [round(x, 6) for x in out]


def _frame_hash(records: pd.DataFrame) -> str:
    return hashlib.sha256(records.to_csv(index=False).encode()).hexdigest()


def _dump(doc: dict) -> str:
    import yaml

    header = ("# Written by bn learn: tables updated from local records (see the changelog and the references).\n")
    return header + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=110, default_flow_style=None)

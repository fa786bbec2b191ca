"""The "does the data contradict the network?" report (``bn learn --report DIR``): ``report.md``,
``data_check.json`` and three charts (calibration, conflict, moved parameters), each naming the network and the
records by their sha256. Row numbers of records at odds are given, never a record's contents."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bn import jsonout
from bn.datacheck import DataCheck
from bn.errors import BNError
from bn.files import atomic_path, write_text
from bn.model import Network
from bn.present import DISCLAIMER, label_ids, percent_1dp

SHOWN = 15  # rows per table and chart


def write_report(check: DataCheck, out: str | Path, *, network: Network | None = None) -> list[Path]:
    """Write the report into ``out`` (created if needed); returns the files written. With the ``network``,
    the markdown names variables and states by their labels (the JSON keeps the ids)."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BNError(f"cannot create the report folder '{out}': {exc.strerror or exc}") from None
    written = [*_charts(check, out)]
    path = out / "data_check.json"
    write_text(path, jsonout.dumps(check.to_dict(), indent=1) + "\n")
    written.append(path)
    path = out / "report.md"
    write_text(path, markdown(check, charts=[p.name for p in written if p.suffix == ".png"], network=network))
    written.append(path)
    return written


def markdown(check: DataCheck, charts: list[str] = (), *, network: Network | None = None) -> str:
    info = check.network
    lines = ["# Does the data contradict the network?", "",
             f"Network **{info.id}** version **{info.version}**, sha256 `{info.sha256}`; records "
             f"`{check.data_name}` ({check.records:,} rows, sha256 `{check.data_sha256 or 'not given'}`).", "",
             f"> {DISCLAIMER} This report describes **these records**. They may come from a population unlike the "
             "one the network was built for (adults presenting with knee pain in primary care or a musculoskeletal "
             "clinic); a difference is a question for a reviewer, not by itself an error in the network.", ""]
    if check.selection:
        lines += [f"Every record has {', '.join(f'`{v}`' for v in check.selection)} with the same value: read as the "
                  "clinic's inclusion criterion, and every prediction below is conditioned on it.", ""]
    lines += _calibration(check, charts, network) + _conflict(check, charts) + _moved(check, charts, network) \
        + _arcs(check, network)
    return "\n".join(lines) + "\n"


def _calibration(check: DataCheck, charts, network: Network | None) -> list[str]:
    flagged = [c for c in check.calibration if c.flagged]
    lines = ["## 1. Calibration: each finding against the network's prediction", "",
             "Observed frequency against the mean predicted probability given each record's recorded causes (risk "
             "factors and diagnoses). Chi-square goodness of fit over the finding's states; q: Benjamini-Hochberg. "
             f"**{len(flagged)} of {len(check.calibration)} findings differ at q < 0.05.**", ""]
    if "calibration.png" in charts:
        lines += ["![calibration](calibration.png)", ""]
    lines += ["| finding | records | state | observed | predicted | chi2 (dof) | q |", "|---|---|---|---|---|---|---|"]
    for c in check.calibration[:SHOWN]:
        state = network[c.variable].state_label(c.state) if network is not None else c.state
        lines.append(f"| {c.label} | {c.records:,} | {state} | {percent_1dp(c.observed)} | "
                     f"{percent_1dp(c.predicted)} | {c.chi2:.1f} ({c.dof}) | {_q(c.q_value)} |")
    return [*lines, ""]


def _conflict(check: DataCheck, charts) -> list[str]:
    finite = check.conflict[np.isfinite(check.conflict)]
    lines = ["## 2. Conflict: records that fit the network poorly", "",
             "Jensen's conflict measure per record, log2 of P(each value alone) multiplied together over P(all values "
             "together): above 0 the recorded values fit the network worse than unrelated values would. Findings of "
             "one disease go together, so most records score well below 0.", ""]
    if finite.size:
        lines.append(f"{finite.size:,} records with two or more values: median {np.median(finite):+.1f} bits; "
                     f"{np.mean(finite > 0):.1%} above 0.")
    if check.impossible_rows:
        shown = ", ".join(map(str, check.impossible_rows[:20]))
        lines.append(f"**{len(check.impossible_rows)} records are impossible under the network** (rows {shown}"
                     f"{' ...' if len(check.impossible_rows) > 20 else ''}): a value the network rules out.")
    if "conflict.png" in charts:
        lines += ["", "![conflict](conflict.png)"]
    if check.most_at_odds:
        lines += ["", "Most at odds (rows of the records file, header not counted): "
                  + ", ".join(f"row {r} ({b:+.1f} bits)" for r, b in check.most_at_odds) + "."]
    return [*lines, ""]


def _moved(check: DataCheck, charts, network: Network | None) -> list[str]:
    said = _said(network)
    findings = [m for m in check.moved if m.kind == "finding"]
    causes = [m for m in check.moved if m.kind == "cause"]
    lines = ["## 3. The numbers the records move most", "",
             f"Each table row of the network as a prior worth {check.prior_weight:g} records, updated with the records "
             "that know the variable and all its parents. Flagged: the network's value lies outside the posterior "
             f"99% interval. **Findings: {sum(m.flagged for m in findings)} rows flagged** (how tests behave in "
             f"these records); causes: {sum(m.flagged for m in causes)} rows flagged (the clinic's case mix).", ""]
    if "moved.png" in charts:
        lines += ["![moved parameters](moved.png)", ""]
    for title, rows in (("Finding tables", findings), ("Cause tables (risk factors and diagnoses)", causes)):
        lines += [f"**{title}**", "", "| parameter | network (range) | records | posterior mean (90%) | tail |",
                  "|---|---|---|---|---|"]
        for m in rows[:SHOWN]:
            rng = f" ({m.network_range[0]:.3g}-{m.network_range[1]:.3g})" if m.network_range else ""
            lo, hi = m.posterior_interval
            mark = " **flagged**" if m.flagged else ""
            lines.append(f"| {said(m.name)} | {m.network_value:.3g}{rng} | {m.records:,} | {m.posterior_mean:.3g} "
                         f"({lo:.3g}-{hi:.3g}) | {m.tail:.2g}{mark} |")
        lines.append("")
    if check.unchecked_tables:
        lines += [f"Not checkable from these records (a parent is never recorded, e.g. a nerve-root mechanism): "
                  f"{len(check.unchecked_tables)} tables. `bn learn --method em` estimates them from every record.",
                  ""]
    return lines


def _arcs(check: DataCheck, network: Network | None) -> list[str]:
    said = _said(network)
    suggested = [a for a in check.arcs if a.suggested]
    lines = ["## 4. Arcs the records suggest are missing", "",
             "For each finding and each recorded cause that is not among its ancestors: do the records' deviations "
             "from the network's prediction differ between the cause's levels, within strata of the finding's "
             "recorded ancestors? Score test, chi-square; q: Benjamini-Hochberg over "
             f"{len(check.arcs)} pairs. **{len(suggested)} suggested at q < 0.05.**", "",
             "| finding | cause | records | chi2 (dof) | p | q |", "|---|---|---|---|---|---|"]
    for a in check.arcs[:SHOWN]:
        cause = said(a.cause) + (" **suggested**" if a.suggested else "")
        lines.append(f"| {said(a.finding)} | {cause} | {a.records:,} | "
                     f"{a.chi2:.1f} ({a.dof}) | {a.p_value:.2g} | {_q(a.q_value)} |")
    return [*lines, ""]


def _said(network: Network | None):
    """Ids in the network's labels when it is given (the report is read by people; the JSON keeps the ids)."""
    return (lambda text: label_ids(text, network)) if network is not None else (lambda text: text)


def _q(q: float) -> str:
    return "n/a" if not math.isfinite(q) else f"{q:.2g}"


def _charts(check: DataCheck, out: Path) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        return []
    info = check.network
    stamp = f"{info.id} {info.version} sha256 {info.sha256[:16]}…  |  records {check.data_name}"
    written = []

    def save(fig, name: str) -> None:
        fig.supxlabel(stamp[:200], fontsize=7, color="#555555", x=0.005, ha="left")
        path = out / name
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=130)
        written.append(path)

    if check.calibration:
        fig = Figure(figsize=(7, 6), layout="constrained")
        ax = fig.add_subplot()
        for c in check.calibration:
            ax.scatter(c.predicted, c.observed, s=12 + 40 * math.log10(max(c.records, 1)),
                       color="#c0392b" if c.flagged else "#7f8c8d", alpha=0.8)
            if c.flagged:
                ax.annotate(c.variable, (c.predicted, c.observed), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
        ax.plot([0, 1], [0, 1], color="black", linewidth=0.8)
        ax.set_xlabel("predicted (mean over records, given their recorded causes)")
        ax.set_ylabel("observed frequency")
        ax.set_title("Each finding: observed against predicted (red: q < 0.05)", fontsize=10)
        save(fig, "calibration.png")
    finite = check.conflict[np.isfinite(check.conflict)]
    if finite.size:
        fig = Figure(figsize=(7, 4), layout="constrained")
        ax = fig.add_subplot()
        ax.hist(finite, bins=40, color="#2c3e50")
        ax.axvline(0, color="#c0392b", linewidth=1)
        ax.set_xlabel("conflict (bits); above 0: fits worse than unrelated values")
        ax.set_ylabel("records")
        save(fig, "conflict.png")
    flagged = [m for m in check.moved if m.flagged and m.kind == "finding"][:SHOWN]
    if flagged:
        fig = Figure(figsize=(9, 0.45 * len(flagged) + 1.5), layout="constrained")
        ax = fig.add_subplot()
        for y, m in enumerate(reversed(flagged)):
            lo, hi = m.posterior_interval
            ax.plot([lo, hi], [y, y], color="#2980b9", linewidth=4)
            ax.plot(m.network_value, y, marker="o", color="#c0392b")
        ax.set_yticks(range(len(flagged)))
        ax.set_yticklabels([m.name if len(m.name) <= 80 else m.name[:79] + "…" for m in reversed(flagged)],
                           fontsize=7)
        ax.set_xlabel("probability: the network's value (red) and the posterior 90% interval (blue)")
        save(fig, "moved.png")
    return written

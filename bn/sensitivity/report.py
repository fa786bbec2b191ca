"""Files and charts for sensitivity analyses: CSV tables, tornado / interval / importance charts (PNG and SVG)
and a markdown summary, each naming the network id, version and sha256.

The ``*_figure`` functions return matplotlib Figures (no pyplot global state, so they are safe in a web
app); the ``write_*`` functions write everything for one result into a folder and return the paths.

>>> import bn, tempfile
>>> from bn.sensitivity import one_way
>>> result = one_way(bn.load("l4l5_knee"), {"knee_pain": "present"}, target="l4l5_spine")
>>> with tempfile.TemporaryDirectory() as out:
...     sorted(p.name for p in write_one_way(result, out, top=10))
['oneway.csv', 'oneway.md', 'tornado.png', 'tornado.svg']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bn.errors import BNError
from bn.files import atomic_path, write_text
from bn.model import NetworkInfo
from bn.present import DISCLAIMER, percent_1dp
from bn.sensitivity import FlipResult, OneWayResult, SweepResult, UncertaintyResult, logit

LOW_COLOUR = "#3b75af"  # the parameter at the low end of its range
HIGH_COLOUR = "#d1793a"  # ... at the high end


def network_line(network: NetworkInfo) -> str:
    """``network l4l5_knee 1.0.0 sha256 <hash>``: the provenance line every file carries."""
    return f"network {network.id} {network.version} sha256 {network.sha256}"


def _findings(evidence: dict[str, Any]) -> str:
    hard = [f"{k}={v}" for k, v in evidence.get("findings", {}).items()]
    soft = [f"{k}~{v}" for k, v in evidence.get("soft_findings", {}).items()]
    return ", ".join(hard + soft) or "none"


def _mkdir(out: str | Path) -> Path:
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BNError(f"cannot create the output folder '{out}': {exc.strerror or exc}") from None
    return path


def _csv(frame, network: NetworkInfo, path: Path) -> Path:
    """A CSV whose every row names the network (a CSV has no header block that every reader keeps)."""
    frame = frame.copy()
    for i, key in enumerate(("id", "version", "sha256")):
        frame.insert(i, f"network_{key}", getattr(network, key))
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return path


def _save(fig, network: NetworkInfo, base: Path, title: str) -> list[Path]:
    paths = []
    for fmt in ("png", "svg"):
        path = base.with_suffix(f".{fmt}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150 if fmt == "png" else None,
                        metadata={"Title": title, "Description": network_line(network)})
        paths.append(path)
    return paths


def _figure(rows: int):
    from matplotlib.figure import Figure

    return Figure(figsize=(11, 0.38 * max(rows, 3) + 1.9), layout="constrained")


def _footer(fig, network: NetworkInfo, extra: str = "") -> None:
    text = f"{network.id} {network.version} sha256 {network.sha256[:16]}…" + (f"  |  {extra}" if extra else "")
    # supxlabel takes part in the constrained layout, so the provenance line never overlaps the axis label.
    fig.supxlabel(text[:200], fontsize=7, color="#555555", x=0.005, ha="left")


def _short(text: str, width: int = 70) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# -- one-way -------------------------------------------------------------------------------------------------------


def tornado_figure(result: OneWayResult, top: int = 15):
    """The tornado chart: the posterior as each of the top parameters sweeps its plausible range."""
    rows = list(reversed(result.top(top)))
    fig = _figure(len(rows))
    ax = fig.add_subplot()
    base = result.posterior
    for y, r in enumerate(rows):
        for value, colour in ((r.posterior_at_low, LOW_COLOUR), (r.posterior_at_high, HIGH_COLOUR)):
            if math.isfinite(value):
                ax.barh(y, value - base, left=base, color=colour, height=0.7)
    ax.axvline(base, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_short(r.parameter.label, 80) + f" [{r.parameter.range[0]:.3g}–{r.parameter.range[1]:.3g}]"
                        for r in rows], fontsize=8)
    ax.set_xlabel(f"P({result.target_label} | findings) as each parameter sweeps its plausible range [low–high]")
    ax.set_title(f"{result.target_label}: {percent_1dp(base)} now", fontsize=10)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=LOW_COLOUR, label="parameter at the low end"),
                       Patch(color=HIGH_COLOUR, label="parameter at the high end")], fontsize=8, loc="best")
    _footer(fig, result.network, "findings: " + _findings(result.evidence))
    return fig


def one_way_markdown(result: OneWayResult, top: int = 15, files: Sequence[str] = ()) -> str:
    lines = [f"# One-way sensitivity: {result.target_label}", "", f"- {network_line(result.network)}",
             f"- findings: {_findings(result.evidence)}",
             f"- target: `{result.target.variable}={result.target.state}`, now {percent_1dp(result.posterior)}",
             f"- {len(result.rows)} parameters; each swept over its plausible range (the network file's `range`, "
             "else value ± 1 on the log-odds scale) with the rest of its row co-varying proportionally", ""]
    lines += ["| # | parameter | value | range | posterior at low | at high | derivative | source |",
              "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(result.top(top), 1):
        p = r.parameter
        rng = f"{p.range[0]:.3g}–{p.range[1]:.3g}" + (" (default)" if p.range_from == "default" else "")
        lines.append(f"| {i} | `{_md(p.id)}` | {p.value:.4g} | {rng} | {percent_1dp(r.posterior_at_low)} | "
                     f"{percent_1dp(r.posterior_at_high)} | {r.derivative:+.3f} | {p.citation} |")
    if files:
        lines += ["", "Files: " + ", ".join(f"`{f}`" for f in files)]
    lines += ["", DISCLAIMER, ""]
    return "\n".join(lines)


def write_one_way(result: OneWayResult, out: str | Path, top: int = 15) -> list[Path]:
    """``oneway.csv`` (every parameter), ``tornado.png``/``.svg`` (top parameters), ``oneway.md``."""
    out = _mkdir(out)
    paths = [_csv(result.to_frame(), result.network, out / "oneway.csv")]
    paths += _save(tornado_figure(result, top), result.network, out / "tornado", f"One-way sensitivity: "
                   f"{result.target_label}")
    md = out / "oneway.md"
    write_text(md, one_way_markdown(result, top, [p.name for p in paths]))
    return [*paths, md]


# -- flip ----------------------------------------------------------------------------------------------------------


def flip_figure(result: FlipResult, top: int = 15):
    """Required change in log-odds per parameter (bars) against its plausible range (grey band)."""
    rows = list(reversed(result.changes[:top]))
    fig = _figure(len(rows))
    ax = fig.add_subplot()
    for y, c in enumerate(rows):
        p = c.parameter
        z0 = logit(p.value)
        lo, hi = (logit(p.range[0]) - z0, logit(p.range[1]) - z0) if math.isfinite(z0) else (0.0, 0.0)
        ax.barh(y, hi - lo, left=lo, color="#dddddd", height=0.8)
        change = max(min(c.log_odds_change, 12.0), -12.0)  # a change to 0 or 1 is infinite in log-odds
        ax.barh(y, change, color="#2e8b57" if c.within_range else "#b22222", height=0.45)
    ax.axvline(0.0, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_short(f"{c.parameter.label}: {c.parameter.value:.3g} → {c.new_value:.3g}"
                               + (f" ({c.outcome})" if c.outcome else "")) for c in rows], fontsize=8)
    ax.set_xlabel("change in log-odds needed (grey: the plausible range; green: inside it, red: outside)")
    ax.set_title(_short(f"What would change it: {result.constraint_label}", 110), fontsize=10)
    if not rows:
        ax.text(0.5, 0.5, "no single-parameter change achieves it" if not result.holds_now else "already holds",
                ha="center", va="center", transform=ax.transAxes)
    _footer(fig, result.network, "findings: " + _findings(result.evidence))
    return fig


def flip_markdown(result: FlipResult, top: int = 25, files: Sequence[str] = ()) -> str:
    current = ", ".join(f"{k} {percent_1dp(v)}" for k, v in result.current.items())
    lines = ["# What would change the conclusion", "", f"- {network_line(result.network)}",
             f"- findings: {_findings(result.evidence)}", f"- constraint: {result.constraint_label}",
             f"- now: {current}" + (f" (leading: {result.leader_now})" if result.leader_now else ""), "",
             f"**{result.headline}**", ""]
    if result.changes:
        lines += ["| parameter | value | new value | log-odds change | range | within range | outcome | source |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in result.changes[:top]:
            p = c.parameter
            lo = c.log_odds_change
            lines.append(f"| `{_md(p.id)}` | {p.value:.4g} | {c.new_value:.4g} | "
                         f"{f'{lo:+.2f}' if math.isfinite(lo) else ('+inf' if lo > 0 else '-inf')} | "
                         f"{p.range[0]:.3g}–{p.range[1]:.3g} | {'yes' if c.within_range else 'no'} | "
                         f"{c.outcome or '-'} | {p.citation} |")
    if files:
        lines += ["", "Files: " + ", ".join(f"`{f}`" for f in files)]
    lines += ["", DISCLAIMER, ""]
    return "\n".join(lines)


def write_flip(result: FlipResult, out: str | Path, top: int = 25) -> list[Path]:
    """``flip.csv`` (every change), ``flip.png``/``.svg`` and ``flip.md``."""
    out = _mkdir(out)
    paths = [_csv(result.to_frame(), result.network, out / "flip.csv")]
    paths += _save(flip_figure(result, top), result.network, out / "flip", "What would change the conclusion")
    md = out / "flip.md"
    write_text(md, flip_markdown(result, top, [p.name for p in paths]))
    return [*paths, md]


# -- uncertainty ---------------------------------------------------------------------------------------------------


def uncertainty_figure(result: UncertaintyResult):
    """Median and 90% interval of each target's posterior over the draws, with the point estimate."""
    rows = list(reversed(result.targets))
    fig = _figure(len(rows))
    ax = fig.add_subplot()
    for y, t in enumerate(rows):
        lo, hi = t.interval()
        ax.plot([lo, hi], [y, y], color=LOW_COLOUR, linewidth=6, solid_capstyle="butt")
        ax.plot([t.median], [y], "o", color="black")
        ax.plot([t.point], [y], "x", color=HIGH_COLOUR, markersize=10, markeredgewidth=2)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_short(t.label) for t in rows], fontsize=9)
    ax.set_xlim(0.0, 1.0)
    ax.set_xlabel("posterior probability (bar: 90% interval over parameter draws; dot: median; "
                  "cross: the network's own numbers)")
    ax.set_title(f"Second-order uncertainty: {result.draws} draws, seed {result.seed}", fontsize=10)
    _footer(fig, result.network, "findings: " + _findings(result.evidence))
    return fig


def uncertainty_markdown(result: UncertaintyResult, files: Sequence[str] = ()) -> str:
    lines = ["# Second-order uncertainty", "", f"- {network_line(result.network)}",
             f"- findings: {_findings(result.evidence)}",
             f"- {result.draws} joint draws of every parameter (Beta per probability, Dirichlet per row of a "
             f"variable with more than two states, centred on the value, 5th-95th percentiles matched to the "
             f"plausible range{'' if result.range_scale == 1 else f' scaled by {result.range_scale:g}'}), "
             f"seed {result.seed}", ""]
    lines += ["| target | network's numbers | median | 90% interval |", "|---|---|---|---|"]
    for t in result.targets:
        lo, hi = t.interval()
        lines.append(f"| {t.label} | {percent_1dp(t.point)} | {percent_1dp(t.median)} | "
                     f"{percent_1dp(lo)}–{percent_1dp(hi)} |")
    if result.leaders:
        lines += ["", f"Leading knee-pain source now: **{result.leader_now}**; it leads in "
                      f"{percent_1dp(result.leaders.get(result.leader_now or '', 0.0))} of the draws ("
                  + ", ".join(f"{k} {percent_1dp(v)}" for k, v in result.leaders.items()) + ")."]
    if files:
        lines += ["", "Files: " + ", ".join(f"`{f}`" for f in files)]
    lines += ["", DISCLAIMER, ""]
    return "\n".join(lines)


def write_uncertainty(result: UncertaintyResult, out: str | Path) -> list[Path]:
    """``uncertainty.csv`` (summary), ``uncertainty_draws.csv`` (every draw), chart, ``uncertainty.md``."""
    out = _mkdir(out)
    paths = [_csv(result.summary_frame(), result.network, out / "uncertainty.csv"),
             _csv(result.to_frame(), result.network, out / "uncertainty_draws.csv")]
    paths += _save(uncertainty_figure(result), result.network, out / "uncertainty", "Second-order uncertainty")
    md = out / "uncertainty.md"
    write_text(md, uncertainty_markdown(result, [p.name for p in paths]))
    return [*paths, md]


# -- sweep ---------------------------------------------------------------------------------------------------------


def sweep_figure(result: SweepResult, top: int = 20):
    """Mean posterior swing per parameter over the cases (bar) and the largest swing in any case (dot)."""
    rows = list(reversed(result.parameters[:top]))
    fig = _figure(len(rows))
    ax = fig.add_subplot()
    ys = range(len(rows))
    ax.barh(list(ys), [p.mean_swing for p in rows], color=LOW_COLOUR, height=0.7, label="mean swing")
    ax.plot([p.max_swing for p in rows], list(ys), "o", color=HIGH_COLOUR, label="largest swing in a case")
    ax.set_yticks(list(ys))
    ax.set_yticklabels([_short(p.parameter.label + (f"  [flips {p.flips_in_range}]" if p.flips_in_range else ""))
                        for p in rows], fontsize=8)
    ax.set_xlabel(f"swing of P({result.target_label}) over the parameter's plausible range")
    ax.set_title(f"Which parameters matter most over {len(result.cases)} cases", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    _footer(fig, result.network)
    return fig


def sweep_markdown(result: SweepResult, top: int = 20, files: Sequence[str] = ()) -> str:
    lines = [f"# Sensitivity across cases: {result.target_label}", "", f"- {network_line(result.network)}",
             f"- {len(result.cases)} cases analysed" + (f", {len(result.skipped)} skipped" if result.skipped else ""),
             f"- swing: how far P({result.target.variable}={result.target.state} | findings) moves as the parameter "
             f"sweeps its plausible range; top-{result.top_k}: cases where it is among the {result.top_k} widest; "
             "flips: cases where it alone, inside its range, changes the conclusion", ""]
    lines += ["| # | parameter | value | range | mean swing | max swing | top-k cases | flips | source |",
              "|---|---|---|---|---|---|---|---|---|"]
    for i, p in enumerate(result.parameters[:top], 1):
        sp = p.parameter
        flips = "-" if p.flips_in_range is None else str(p.flips_in_range)
        lines.append(f"| {i} | `{_md(sp.id)}` | {sp.value:.4g} | {sp.range[0]:.3g}–{sp.range[1]:.3g} | "
                     f"{p.mean_swing:.3f} | {p.max_swing:.3f} | {p.cases_in_top} | {flips} | {sp.citation} |")
    flipping = [c for c in result.cases if c.flip is not None and c.flip.within_range]
    if any(c.flip is not None for c in result.cases):
        lines += ["", f"Cases whose conclusion one parameter within its range can change: {len(flipping)} of "
                      f"{len(result.cases)}"]
        lines += [f"- {c.name}: {c.flip.headline}" for c in flipping if c.flip is not None]
    if result.skipped:
        lines += ["", "Skipped:"] + [f"- {n}: {r}" for n, r in result.skipped]
    if files:
        lines += ["", "Files: " + ", ".join(f"`{f}`" for f in files)]
    lines += ["", DISCLAIMER, ""]
    return "\n".join(lines)


def write_sweep(result: SweepResult, out: str | Path, top: int = 20) -> list[Path]:
    """``sweep.csv`` (per parameter), ``sweep_cases.csv`` (per case and parameter), chart, ``sweep.md``."""
    out = _mkdir(out)
    paths = [_csv(result.to_frame(), result.network, out / "sweep.csv"),
             _csv(result.cases_frame(), result.network, out / "sweep_cases.csv")]
    paths += _save(sweep_figure(result, top), result.network, out / "sweep", "Sensitivity across cases")
    md = out / "sweep.md"
    write_text(md, sweep_markdown(result, top, [p.name for p in paths]))
    return [*paths, md]


def _md(text: str) -> str:
    """Escape the pipe of a parameter id (``a=x | b=y``) so that it stays inside its table cell."""
    return text.replace("|", "\\|")

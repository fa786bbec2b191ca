"""A printable one-page case summary: what an educator hands out and a clinician files.

It names the network (id, version, sha256), lists the findings in the network's labels, the knee-pain sources
with their 90% intervals under parameter uncertainty, the differential, each finding's weight of evidence, the
findings that would help most next, and the disclaimer. :meth:`CaseReport.to_html` gives one self-contained
HTML page with print CSS (A4, no scripts, no external resources); :meth:`CaseReport.to_dict` the same content
as strict JSON. ``bn report CASE --out FILE.html`` and the app's Case panel write it.

>>> import bn
>>> report = case_report(bn.load("l4l5_knee"), {"knee_pain": "present", "age_group": "65_plus"}, draws=20)
>>> page = report.to_html()
>>> page.startswith("<!DOCTYPE html>") and report.network.sha256 in page and "not a medical device" in page
True
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bn.evidence import Evidence
from bn.inference import BayesNet
from bn.model import NetworkInfo
from bn.present import DISCLAIMER_APP, differential, findings_said, html_bar, html_table, percent
from bn.target import SOURCE_SHORT

#: Rows kept on the page so it fits one sheet: the leading diagnoses and the best next findings.
TOP_DIAGNOSES = 8
TOP_NEXT = 5


@dataclass(frozen=True)
class CaseReport:
    """Everything the one-page summary shows, computed once (see the module docstring)."""

    network: NetworkInfo
    title: str
    note: str
    findings: list[tuple[str, str]]  # (label, state label or "uncertain (...)")
    sources: list[dict[str, Any]]  # key, label, prior, posterior, low, high (empty without knee-pain sources)
    call: str  # the headline sentence ("" without knee-pain sources)
    differential: list[dict[str, Any]]  # label, prior, posterior
    weights: list[dict[str, Any]]  # label, weight_db (None when decisive), sentence
    weights_target: str
    next_findings: list[dict[str, Any]]  # label, score, outcomes (sentence)
    next_target: str
    alerts: list[str]
    created: str = field(default_factory=lambda: date.today().isoformat())

    def to_dict(self) -> dict[str, Any]:
        return {"network": self.network.to_dict(), "title": self.title, "note": self.note,
                "findings": [{"finding": f, "state": s} for f, s in self.findings], "sources": self.sources,
                "call": self.call, "differential": self.differential, "weights": self.weights,
                "weights_target": self.weights_target, "next_findings": self.next_findings,
                "next_target": self.next_target, "alerts": self.alerts, "created": self.created,
                "disclaimer": _plain(DISCLAIMER_APP)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def to_html(self) -> str:
        """One self-contained page (no scripts, no external files) that prints on one A4 sheet."""
        e = html.escape
        info = self.network
        parts = [f"<h1>{e(self.title)}</h1>",
                 f'<p class="meta">Network <b>{e(info.id)}</b> version <b>{e(info.version)}</b> · sha256 '
                 f"<code>{e(info.sha256)}</code> · {e(self.created)}</p>",
                 f'<p class="disclaimer">{e(_plain(DISCLAIMER_APP))}</p>']
        parts += [f'<p class="alert">RED FLAG: {e(a)}</p>' for a in self.alerts]
        if self.note:
            parts.append(f'<p class="note">{e(self.note)}</p>')
        parts.append("<h2>Findings</h2>")
        parts.append("<ul class=\"findings\">" + "".join(f"<li>{e(f)}: <b>{e(s)}</b></li>" for f, s in self.findings)
                     + "</ul>" if self.findings else "<p>None entered: these are the priors.</p>")
        if self.sources:
            parts.append("<h2>Where does the knee pain come from?</h2>")
            parts.append(html_table(["Source", "Prior", "Now", "90% interval", ""],
                                    [[s["label"], percent(s["prior"]), f"<b>{percent(s['posterior'])}</b>",
                                      f"{percent(s['low'])}–{percent(s['high'])}",
                                      html_bar(s["posterior"], s["low"], s["high"])] for s in self.sources],
                                    raw={2, 4}))
            parts.append(f"<p>{e(self.call)}</p>")
        parts.append("<h2>Differential</h2>")
        parts.append(html_table(["Condition", "Prior", "Now", ""],
                                [[d["label"], percent(d["prior"]), f"<b>{percent(d['posterior'])}</b>",
                                  html_bar(d["posterior"])] for d in self.differential], raw={2, 3}))
        parts.append("<p class=\"small\">Conditions can coexist, so they need not add up to 100%.</p>")
        if self.weights:
            parts.append(f"<h2>Weight of each finding for {e(self.weights_target)}</h2>")
            parts.append("<ul>" + "".join(f"<li>{e(w['sentence'])}</li>" for w in self.weights) + "</ul>")
        if self.next_findings:
            parts.append(f"<h2>What to look for next ({e(self.next_target)})</h2>")
            parts.append("<ol>" + "".join(f"<li><b>{e(n['label'])}</b>: {e(n['outcomes'])}</li>"
                                          for n in self.next_findings) + "</ol>")
        return _PAGE.format(title=e(f"{self.title} · {info.id} {info.version}"), body="\n".join(parts))


def case_report(net: BayesNet, findings: Mapping[str, str] | Evidence | None = None, *, soft=None,
                note: str = "", draws: int = 300, seed: int = 0) -> CaseReport:
    """The one-page summary of a case; ``draws`` parameter draws (seeded) give the sources' intervals."""
    from bn.explain import explain
    from bn.voi import next_best

    network = net.network
    ev = net.evidence(findings, soft=soft)
    result = net.query(ev, mpe=False)
    shown = findings_said(ev, network)
    sources, call = [], ""
    if network.knee_pain_sources:
        from bn.headline import source_headline

        headline = source_headline(net, ev, draws=draws, seed=seed)
        for key in sorted(result.knee_pain_source, key=lambda k: -result.knee_pain_source[k]):
            lo, hi = headline.intervals[key]
            sources.append({"key": key, "label": SOURCE_SHORT.get(key, key), "low": lo, "high": hi,
                            "prior": result.knee_pain_source_prior[key], "posterior": result.knee_pain_source[key]})
        # The table lists every source with its interval; the page keeps the call and what would settle it.
        call = headline.sentence().split(" Sources can coexist")[0] + " Sources can coexist, so these need not " \
            "add up to 100%."
    rows = differential(network, result, network.by_role("diagnosis") or net.default_query_variables())
    for row in rows:
        row["label"] = row["label"] if row.pop("binary") else f"{row['label']}: {row['state']}"
    weights, weights_target = [], ""
    if ev:
        ex = explain(net, ev)
        weights_target = ex.target_label
        weights = [{"finding": f.finding, "label": network[f.finding].display_label, "weight_db": f.weight_db,
                    "sentence": f.sentence}
                   for f in sorted(ex.findings, key=lambda f: -abs(f.weight_db if f.weight_db is not None else 1e9))]
    ranking = next_best(net, ev, top=TOP_NEXT)
    nexts = [{"finding": c.finding, "label": c.label, "score": c.score,
              "outcomes": c.summary().split(": ", 1)[1]} for c in ranking.ranking]
    title = ("Knee pain: where does it come from?" if network.knee_pain_sources else network.title)
    return CaseReport(network.info, title, note, shown, sources, call, rows[:TOP_DIAGNOSES], weights,
                      weights_target, nexts, ranking.target_label,
                      [f"{network[a.id].display_label}: {a.message}" for a in result.alerts])


def _plain(markdown: str) -> str:
    return markdown.replace("**", "")


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
@page {{ size: A4; margin: 12mm; }}
body {{ font-family: Helvetica, Arial, sans-serif; font-size: 9pt; line-height: 1.2; color: #111;
       max-width: 180mm; margin: 0 auto; }}
h1 {{ font-size: 14pt; margin: 0 0 1mm; }} h2 {{ font-size: 10.5pt; margin: 3mm 0 1mm; }}
.meta, .small {{ font-size: 8.5pt; color: #444; }} code {{ font-size: 8pt; word-break: break-all; }}
.disclaimer {{ border: 1px solid #999; padding: 1.5mm 2mm; font-size: 9pt; }}
.alert {{ border: 2px solid #000; padding: 1.5mm 2mm; font-weight: bold; }}
table {{ border-collapse: collapse; width: 100%; }} th, td {{ text-align: left; padding: 0.3mm 2mm; }}
th {{ border-bottom: 1px solid #666; font-size: 9pt; }} tr {{ page-break-inside: avoid; }}
td:nth-child(n+2) {{ white-space: nowrap; }}
.bar {{ position: relative; display: inline-block; width: 35mm; height: 3mm; border: 1px solid #666; }}
.fill {{ position: absolute; left: 0; top: 0; bottom: 0; background: #555;
        -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
.ci {{ position: absolute; top: 45%; height: 0; border-top: 1.5px solid #000; }}
ul, ol {{ margin: 0; padding-left: 5mm; }} li {{ margin: 0.3mm 0; }}
.findings {{ column-count: 2; column-gap: 6mm; }} p {{ margin: 1mm 0; }}
</style></head>
<body>
{body}
</body></html>
"""

"""How results are written for people, shared by the command line, the reports and the app: the disclaimer,
percentages and labels. One place, so the CLI, a report and the app never say the same thing differently.

>>> percent(0.004), percent(0.42), percent(0.996)
('0.4%', '42%', '99.6%')
>>> percent_fine(0.0002), percent_fine(0.4213), percent_fine(1.0)
('0.02%', '42.1%', '100%')
>>> percent_1dp(float("nan"))
'n/a'
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence

from bn.model import Network

#: The one-line disclaimer every text result ends with.
DISCLAIMER = "Educational decision-support tool, not a medical device."
#: The app's fuller wording (markdown).
DISCLAIMER_APP = ("Educational decision-support tool, **not a medical device**. It does not diagnose or replace "
                  "clinical judgement; red flags need urgent assessment whatever the probabilities say.")


def percent(p: float) -> str:
    """A probability as a whole percentage, with one decimal near 0 and 1 (``0.4%``, not ``0%``)."""
    if 0 < p < 0.01 or 0.99 < p < 1:
        return f"{p:.1%}"
    return f"{p:.0%}"


def percent_fine(p: float) -> str:
    """One decimal, two within 0.05 percentage points of 0 or 1 (but never for exactly 0 or 1): tables."""
    if p >= 0.9995 or p <= 0.0005:
        return f"{p * 100:.2f}%" if 0 < p < 0.0005 or 0.9995 < p < 1 else f"{p * 100:.0f}%"
    return f"{p * 100:.1f}%"


def percent_1dp(p: float) -> str:
    """One decimal; ``n/a`` for a missing (NaN or infinite) value."""
    return f"{p:.1%}" if math.isfinite(p) else "n/a"


def sentence_case(text: str) -> str:
    """The first letter in capitals, the rest as written (labels keep their abbreviations: "L4-L5 spine")."""
    return text[:1].upper() + text[1:]


def short_label(network: Network, var: str, width: int = 48) -> str:
    """The variable's label, shortened with "..." to fit ``width`` characters."""
    label = network[var].display_label
    return label if len(label) <= width else label[:width - 3].rstrip(" ,(") + "..."


def findings_said(evidence, network: Network) -> list[tuple[str, str]]:
    """Each entered finding as a reader sees it: (label, state label), an uncertain one with its likelihoods.

    >>> import bn
    >>> net = bn.load("l4l5_knee")
    >>> findings_said(net.evidence({"knee_pain": "present"}, soft={"back_pain": {"present": 0.7, "absent": 0.3}}),
    ...               net.network)
    [('Knee pain', 'Present'), ('Low back pain', 'uncertain (absent 0.3, present 0.7)')]
    """
    said = [(network[k].display_label, network[k].state_label(v)) for k, v in evidence.findings.items()]
    return said + [(network[k].display_label, "uncertain (" + ", ".join(
        f"{network[k].state_label(s).lower()} {x:g}" for s, x in lik.items()) + ")")
        for k, lik in evidence.soft_findings.items()]


def differential(network: Network, result, variables) -> list[dict]:
    """One row per variable of a query result, most probable first: ``variable``, ``label``, ``state`` (the
    label of the state shown: the on-state of a binary variable, else the most probable), ``prior`` and
    ``posterior`` of that state. The app's table and the printable summary show the same rows."""
    rows = []
    for var in variables:
        v = network[var]
        post = result.posteriors[var]
        state = v.on_state if v.card == 2 else max(post, key=post.get)
        rows.append({"variable": var, "label": v.display_label, "state": v.state_label(state),
                     "binary": v.card == 2, "prior": result.priors[var][state], "posterior": post[state]})
    return sorted(rows, key=lambda r: -r["posterior"])


def html_bar(p: float, low: float | None = None, high: float | None = None) -> str:
    """An inline bar (pure CSS, ``.bar``/``.fill``/``.ci``): the probability, and the interval as a line. Hidden
    from screen readers: the number beside it says the same."""
    span = "" if low is None else (f'<span class="ci" style="left:{100 * low:.1f}%;'
                                   f'width:{100 * max(high - low, 0.005):.1f}%"></span>')
    return (f'<span class="bar" aria-hidden="true"><span class="fill" style="width:{100 * p:.1f}%"></span>'
            f"{span}</span>")


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, raw: frozenset[int] | set[int] = frozenset(),
               css_class: str = "") -> str:
    """A table with every cell escaped except the columns in ``raw`` (markup built here, such as bars).

    >>> html_table(["Condition", "Now"], [["<b>", "42%"]])
    '<table><thead><tr><th>Condition</th><th>Now</th></tr></thead><tbody><tr><td>&lt;b&gt;</td><td>42%</td></tr></tbody></table>'
    """
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if i in raw else html.escape(str(c))}</td>" for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    opening = f'<table class="{css_class}">' if css_class else "<table>"
    return f"{opening}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# The app's look for its light tables (the printable report has its own page style). Plain HTML rather than a
# data grid: the grid's code is the heaviest thing a first visit loads (bench.app_page).
APP_TABLE_CSS = """<style>
table.bn { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
table.bn th, table.bn td { text-align: left; padding: 0.2rem 0.5rem; border-bottom: 1px solid rgba(128,128,128,.25); }
table.bn td:nth-child(n+2) { white-space: nowrap; }
table.bn .bar { position: relative; display: inline-block; width: 9rem; height: 0.7rem;
                border: 1px solid rgba(128,128,128,.6); vertical-align: middle; }
table.bn .fill { position: absolute; left: 0; top: 0; bottom: 0; background: #1f77b4; }
table.bn .ci { position: absolute; top: 45%; height: 2px; background: #000; }
table.bn .half { display: inline-block; width: 6rem; height: 0.7rem; vertical-align: middle; }
table.bn .half.left { text-align: right; border-right: 1px solid rgba(128,128,128,.8); }
table.bn .raises { display: inline-block; height: 100%; background: #1f77b4; }
table.bn .lowers { display: inline-block; height: 100%; background: #d62728; }
</style>"""


# The row of findings chips above the answer: tertiary buttons keep a button's height (about 40 px) and the row
# a 1 rem gap, so eight findings wrapped into five rows 56 px apart; as text-height chips they take half that.
CHIPS_CSS = """<style>
.st-key-chips { row-gap: 0.15rem; column-gap: 0.75rem; align-items: center; }
.st-key-chips button { min-height: 1.5rem; padding: 0.1rem 0.25rem; line-height: 1.4; }
.st-key-chips [data-testid="stElementContainer"] { width: auto; }
</style>"""


def differential_html(rows: Sequence[dict], *, show_state: bool = False) -> str:
    """:func:`differential`'s rows as the app's table: condition, (state), prior and posterior with a bar.

    >>> "Disc &lt;x&gt;" in differential_html([{"label": "Disc <x>", "state": "present", "prior": 0.1,
    ...                                         "posterior": 0.42}])
    True
    """
    header = ["Condition", *(["State"] if show_state else []), "Prior", "Posterior", ""]
    body = [[r["label"], *([r["state"]] if show_state else []), percent_fine(r["prior"]),
             f"<b>{percent_fine(r['posterior'])}</b>", html_bar(r["posterior"])] for r in rows]
    n = len(header)
    return APP_TABLE_CSS + html_table(header, body, raw={n - 2, n - 1}, css_class="bn")


def weights_html(rows: Sequence[tuple[str, float]]) -> str:
    """Each finding's weight of evidence (dB) as a diverging bar: raising to the right in blue, lowering to the
    left in red, scaled to the largest.

    >>> table = weights_html([("Knee pain", 3.0), ("Back <b>", -1.5)])
    >>> "+3.0 dB" in table, "Back &lt;b&gt;" in table, "<b>" in table
    (True, True, False)
    """
    top = max((abs(w) for _, w in rows), default=0.0) or 1.0
    body = []
    for label, w in rows:
        width = f"{100 * abs(w) / top:.0f}%"
        left = f'<span class="lowers" style="width:{width}"></span>' if w < 0 else ""
        right = f'<span class="raises" style="width:{width}"></span>' if w > 0 else ""
        bar = (f'<span aria-hidden="true"><span class="half left">{left}</span>'
               f'<span class="half">{right}</span></span>')
        body.append([label, f"{w:+.1f} dB", "raises" if w > 0 else "lowers" if w < 0 else "no change", bar])
    return APP_TABLE_CSS + html_table(["Finding", "Weight", "", "lowers | raises"], body, raw={3}, css_class="bn")


def finding_effect(net, evidence, variable: str) -> str:
    """How the entered answer of ``variable`` moves each knee-pain source, given the other findings, in words:
    the sources it moves by at least half a percentage point, most first.

    >>> import bn
    >>> net = bn.load("l4l5_knee")
    >>> finding_effect(net, bn.Evidence({"knee_pain": "present", "knee_pain_location": "lateral"}),
    ...                "knee_pain_location")
    'Outer (lateral) side, given the other findings: Other causes +12 points; Knee -12 points; L4-L5 spine +5 ...'
    """
    from bn.evidence import Evidence
    from bn.target import SOURCE_SHORT

    network = net.network
    var = network[variable]
    others = Evidence({k: s for k, s in evidence.findings.items() if k != variable},
                      {k: s for k, s in evidence.soft_findings.items() if k != variable})
    sources = network.knee_pain_sources

    def shares(ev: Evidence) -> dict[str, float]:  # the sources alone: no full query, no most probable combination
        m = net.marginals(list(sources.values()), findings=ev)
        return {k: m[v][network[v].on_state] for k, v in sources.items()}

    before, after = shares(others), shares(evidence)
    moves = sorted(((after[k] - before[k], k) for k in after), key=lambda m: -abs(m[0]))
    said = [f"{SOURCE_SHORT.get(k, k)} {change * 100:+.0f} points" for change, k in moves if abs(change) >= 0.005]
    answer = var.state_label(evidence.findings[variable]) if variable in evidence.findings else "This answer"
    return f"{answer}, given the other findings: " + ("; ".join(said) if said else "no source moves by a point") + "."


def looks_like_id(token: str) -> bool:
    """An id a reader would stumble on (``spinal_stenosis``, ``65_plus``); plain words read as themselves."""
    return "_" in token or any(c.isdigit() for c in token)


def label_ids(text: str, network: Network) -> str:
    """A modeller's prose (descriptions, changelogs) with ids written in the network's labels.

    ``var = state`` becomes ``Label = State label``; a bare id that looks like one becomes its label.

    >>> import bn
    >>> label_ids("asked given knee_pain = present; l4l5_herniation_zone decides",
    ...           bn.load("l4l5_knee@2.0.0").network)
    'asked given Knee pain = Present; Where an L4-L5 disc herniation sits (none when there is no herniation) decides'
    """
    pairs = {f"{v.id}={s.id}": (v, s.id) for v in network.variables.values() for s in v.states}
    # A summary's answer keys (l4l5_spine, other_lumbar_level) read as the label of the variable behind each.
    said = {v: network[v].display_label for v in network.variables if looks_like_id(v)}
    said |= {key: network[var].display_label for key, var in network.knee_pain_sources.items()
             if looks_like_id(key) and key not in said}
    names = sorted(said, key=len, reverse=True)
    if not names and not pairs:
        return text
    pair = r"\b(\w+)\s*=\s*([\w+-]+)"
    bare = r"\b(" + "|".join(map(re.escape, names)) + r")\b" if names else r"(?!x)x"

    def replace(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            key = f"{m.group(1)}={m.group(2)}"
            if key in pairs:
                v, state = pairs[key]
                return f"{v.display_label} = {v.state_label(state)}"
            return m.group(0) if not looks_like_id(m.group(1)) or m.group(1) not in network else \
                network[m.group(1)].display_label + m.group(0)[len(m.group(1)):]
        return said[m.group(3)]

    return re.sub(f"`?(?:{pair}|{bare})`?", replace, text)

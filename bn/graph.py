"""The network as a Graphviz DOT graph a person can read: layered by role, each node with its label and a belief
bar of its posterior with the prior marked, observed findings set apart.

Colour is never the only carrier of meaning: every node's label carries its posterior as a number (and the prior
when given), and observed findings have a double border and their state in the label. A network of a hundred
variables is unreadable as one picture at a page's width, so :func:`neighbourhood` gives the focused view: a
variable, its parents and its children.

>>> import bn
>>> net = bn.load("l4l5_knee")
>>> dot = to_dot(net.network, net.marginals(findings={"knee_pain": "present"}), {"knee_pain": "present"})
>>> dot.startswith("digraph") and "knee_pain" in dot
True
>>> sorted(neighbourhood(net.network, "lachman_test"))
['acl_tear', 'lachman_test']
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Callable, Collection, Mapping

from bn.model import Network
from bn.present import label_ids

ROLE_ORDER = ("risk_factor", "diagnosis", "mechanism", "finding", "red_flag")
#: Width of a node's belief bar in points.
BAR = 90


def neighbourhood(network: Network, variable: str, *, depth: int = 1) -> set[str]:
    """``variable`` with its parents and children, ``depth`` steps out: the part of the graph one reads at once."""
    children: dict[str, list[str]] = {}
    for v in network.variables.values():
        for p in v.parents:
            children.setdefault(p, []).append(v.id)
    seen, frontier = {variable}, {variable}
    for _ in range(depth):
        frontier = {n for v in frontier for n in (*network[v].parents, *children.get(v, ()))} - seen
        seen |= frontier
    return seen


def _bar(p: float, prior: float | None) -> str:
    """A belief bar as a nested HTML table: filled to ``p``, with a thin dark tick at the prior."""
    fill, rest = "#4c78a8", "#e3e3e3"
    cells = []
    if prior is None:
        cuts = [(round(BAR * p), fill), (BAR - round(BAR * p), rest)]
    else:
        at = min(BAR - 1, round(BAR * prior))
        full = round(BAR * p)
        cuts = [(min(full, at), fill), (max(0, at - full), rest), (1, "#222222"),
                (max(0, full - at - 1), fill), (BAR - max(full, at + 1), rest)]
    for width, colour in cuts:
        if width > 0:
            cells.append(f'<TD WIDTH="{width}" HEIGHT="7" FIXEDSIZE="TRUE" BGCOLOR="{colour}"></TD>')
    return ('<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>' + "".join(cells)
            + "</TR></TABLE>")


def _html_label(title: str, line: str, bar: str | None) -> str:
    text = "<BR/>".join(html.escape(t) for t in textwrap.wrap(title, 24))
    rows = [f"<TR><TD>{text}</TD></TR>"]
    if bar:
        rows.append(f"<TR><TD>{bar}</TD></TR>")
    if line:
        rows.append(f'<TR><TD><FONT POINT-SIZE="9">{html.escape(line)}</FONT></TD></TR>')
    return '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">' + "".join(rows) + "</TABLE>>"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(network: Network, posteriors: Mapping[str, Mapping[str, float]] | None = None,
           observed: Mapping[str, str] | None = None, selected: str | None = None,
           roles: tuple[str, ...] | None = None, *, priors: Mapping[str, Mapping[str, float]] | None = None,
           only: Collection[str] | None = None, link: Callable[[str], str] | None = None) -> str:
    """DOT source; ``posteriors`` label each node with a belief bar (``priors`` add the prior's tick),
    ``observed`` marks findings, ``selected`` is outlined. ``link(variable)`` makes each node a link to that
    address (the app: the same case, with that variable chosen).

    ``roles`` restricts the drawing to variables with those roles, ``only`` to those variables (all by
    default). Risk factors, diagnoses and mechanisms each take a row; findings are boxed by group.
    """
    observed = observed or {}
    posteriors = posteriors or {}
    priors = priors or {}
    keep = [v for v in network.variables.values()
            if (roles is None or v.role in roles) and (only is None or v.id in only)]
    kept = {v.id for v in keep}
    lines = ["digraph network {", "  rankdir=TB; nodesep=0.25; ranksep=0.45;",
             '  node [fontname="Helvetica", fontsize=11, style="filled,rounded", margin="0.06,0.04"];',
             '  edge [color="#888888", arrowsize=0.6];']
    by_role: dict[str | None, list] = {}
    for v in keep:
        by_role.setdefault(v.role, []).append(v)
    for role in (*ROLE_ORDER, None):
        members = by_role.get(role, [])
        if not members:
            continue
        if role in ("finding", "red_flag"):
            groups: dict[str, list] = {}
            for v in members:
                groups.setdefault(v.group or "other", []).append(v)
            for i, (group, vs) in enumerate(groups.items()):
                lines.append(f"  subgraph cluster_{role}_{i} {{ label={_quote(group.capitalize())}; "
                             'style="rounded"; color="#bbbbbb"; fontname="Helvetica"; fontsize=10;')
                lines += [_node(network, v, role, posteriors, priors, observed, selected, link) for v in vs]
                lines.append("  }")
            continue
        lines.append("  { rank=same;" if role in ("risk_factor", "diagnosis", "mechanism") else "  {")
        lines += [_node(network, v, role, posteriors, priors, observed, selected, link) for v in members]
        lines.append("  }")
    for v in keep:
        for p in v.parents:
            if p in kept:
                lines.append(f"  {_quote(p)} -> {_quote(v.id)};")
    lines.append("}")
    return "\n".join(lines)


def _node(network: Network, v, role: str | None, posteriors, priors, observed, selected, link) -> str:
    attrs = {"shape": "box" if role != "red_flag" else "octagon",
             "tooltip": label_ids(v.description, network) or v.display_label}
    if link is not None:
        attrs.update(URL=link(v.id), target="_self")
    bar, line = None, ""
    if v.id in observed:
        line = f"= {v.state_label(observed[v.id])} (observed)"
        attrs["peripheries"] = "2"
        attrs["fillcolor"] = "#ffe9a8"
    elif v.id in posteriors:
        state = v.on_state if v.card == 2 else max(posteriors[v.id], key=posteriors[v.id].get)
        p = posteriors[v.id][state]
        prior = priors[v.id][state] if v.id in priors else None
        bar = _bar(p, prior)
        line = f"{v.state_label(state)}: {p:.0%}" + (f" (prior {prior:.0%})" if prior is not None else "")
        attrs["fillcolor"] = "#ffffff"
    else:
        attrs["fillcolor"] = "#f4f4f4"
    if v.id == selected:
        attrs["penwidth"] = "3"
        attrs["color"] = "#d62728"
    rendered = ", ".join(f"{k}={_quote(str(val))}" for k, val in attrs.items())
    return f"    {_quote(v.id)} [label={_html_label(v.display_label, line, bar)}, {rendered}];"

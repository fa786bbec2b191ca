"""The network as a Graphviz DOT graph: nodes shaded by posterior, observed findings marked.

Colour is never the only carrier of meaning: every node's label carries its posterior as a number, and
observed findings have a double border and their state in the label.

>>> import bn
>>> net = bn.load("l4l5_knee")
>>> dot = to_dot(net.network, net.marginals(findings={"knee_pain": "present"}), {"knee_pain": "present"})
>>> dot.startswith("digraph") and "knee_pain" in dot
True
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from bn.model import Network
from bn.present import label_ids

ROLE_SHAPES = {"risk_factor": "house", "diagnosis": "box", "mechanism": "ellipse", "finding": "note",
               "red_flag": "octagon"}
ROLE_ORDER = ("risk_factor", "diagnosis", "mechanism", "finding", "red_flag")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shade(p: float) -> str:
    # White (p=0) to a saturated blue (p=1); text stays readable because the fill stays light enough.
    level = round(255 - 150 * max(0.0, min(1.0, p)))
    return f"#{level:02x}{level + (255 - level) // 3:02x}ff"


def to_dot(network: Network, posteriors: Mapping[str, Mapping[str, float]] | None = None,
           observed: Mapping[str, str] | None = None, selected: str | None = None,
           roles: tuple[str, ...] | None = None) -> str:
    """DOT source; ``posteriors`` shade and label nodes, ``observed`` marks findings, ``selected`` is outlined.

    ``roles`` restricts the drawing to variables with those roles (all by default).
    """
    observed = observed or {}
    posteriors = posteriors or {}
    keep = [v for v in network.variables.values() if roles is None or v.role in roles]
    kept = {v.id for v in keep}
    lines = ["digraph network {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10, style=filled];',
             '  edge [color="#888888"];']
    by_role: dict[str | None, list] = {}
    for v in keep:
        by_role.setdefault(v.role, []).append(v)
    for role in (*ROLE_ORDER, None):
        members = by_role.get(role, [])
        if not members:
            continue
        lines.append("  { rank=same;" if role in ("risk_factor", "diagnosis", "mechanism") else "  {")
        for v in members:
            label = "\n".join(textwrap.wrap(v.display_label, 24))
            attrs = {"shape": ROLE_SHAPES.get(role or "", "ellipse"),
                     "tooltip": label_ids(v.description, network) or v.display_label}
            if v.id in observed:
                label += f"\n= {v.state_label(observed[v.id])}"
                attrs["peripheries"] = "2"
                attrs["fillcolor"] = "#ffe9a8"
            elif v.id in posteriors:
                state = v.on_state if v.card == 2 else max(
                    posteriors[v.id], key=posteriors[v.id].get)
                p = posteriors[v.id][state]
                label += f"\n{v.state_label(state)}: {p:.0%}"
                attrs["fillcolor"] = _shade(p)
            else:
                attrs["fillcolor"] = "#f4f4f4"
            if v.id == selected:
                attrs["penwidth"] = "3"
                attrs["color"] = "#d62728"
            attrs["label"] = label
            rendered = ", ".join(f"{k}={_quote(str(val))}" for k, val in attrs.items())
            lines.append(f"    {_quote(v.id)} [{rendered}];")
        lines.append("  }")
    for v in keep:
        for p in v.parents:
            if p in kept:
                lines.append(f"  {_quote(p)} -> {_quote(v.id)};")
    lines.append("}")
    return "\n".join(lines)

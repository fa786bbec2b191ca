"""Pictures that help enter a finding: where around the knee the pain is felt.

:func:`knee_location_svg` draws a right knee seen from above (the front at the top, the inner side towards the
body's midline on the left) with one region per state of the location finding, the chosen one filled, each
labelled with the network's own state labels. It is plain SVG text (no script, no external resource), shown in
the app beside the finding's control.

>>> svg = knee_location_svg({"anterior": "Front", "medial": "Inner", "lateral": "Outer", "posterior": "Back",
...                          "diffuse": "Diffuse"}, selected="medial")
>>> svg.startswith("<svg") and "(medial)" not in svg and "Inner" in svg and svg.count(SELECTED) == 1
True
"""

from __future__ import annotations

import html
from collections.abc import Mapping

SELECTED = "#a4161a"  # the app's primary colour (.streamlit/config.toml)
IDLE, INK, OUTLINE = "#eeeeee", "#111111", "#555555"
# The knee seen from above is an ellipse; each region is the ellipse clipped to a rectangle (x, y, width,
# height in the 260 x 200 viewBox), its label centred at a point.
KNEE = 'cx="130" cy="100" rx="98" ry="80"'
REGIONS = {
    "anterior": ((0, 0, 260, 66), (130, 50)),
    "medial": ((0, 66, 130, 68), (80, 97)),
    "lateral": ((130, 66, 130, 68), (180, 97)),
    "posterior": ((0, 134, 260, 66), (130, 160)),
}


def knee_location_svg(labels: Mapping[str, str], selected: str | None = None, *, width: int = 260) -> str:
    """SVG of the knee seen from above, a region per state in ``labels`` (state id -> label) that it can draw;
    ``selected`` is filled. A state it cannot place (for example "diffuse") outlines the whole knee when chosen.
    """
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 260 200" width="{width}" '
             f'height="{round(width * 200 / 260)}" role="img" font-family="Helvetica, Arial, sans-serif">',
             "<title>Right knee seen from above: where the pain is felt</title><defs>"]
    parts += [f'<clipPath id="region-{state}"><rect x="{x}" y="{y}" width="{w}" height="{h}"/></clipPath>'
              for state, ((x, y, w, h), _) in REGIONS.items()]
    parts.append(f'<clipPath id="knee"><ellipse {KNEE}/></clipPath></defs>')
    for state, (_, (x, y)) in REGIONS.items():
        if state not in labels:
            continue
        chosen = state == selected
        parts.append(f'<ellipse {KNEE} clip-path="url(#region-{state})" fill="{SELECTED if chosen else IDLE}" '
                     f'stroke="{OUTLINE}" stroke-width="1.5"/>')
        for k, line in enumerate(_lines(labels[state])):
            parts.append(f'<text x="{x}" y="{y + 13 * k}" text-anchor="middle" font-size="11" '
                         f'fill="{"#ffffff" if chosen else INK}">{html.escape(line)}</text>')
    parts += [f'<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}" stroke="{OUTLINE}" clip-path="url(#knee)"/>'
              for x1, y1, x2, y2 in ((0, 66, 260, 66), (0, 134, 260, 134), (130, 66, 130, 134))]
    whole = selected is not None and selected in labels and selected not in REGIONS
    parts.append(f'<ellipse {KNEE} fill="none" stroke="{SELECTED if whole else OUTLINE}" '
                 f'stroke-width="{5 if whole else 1.5}"/>')
    parts += ['<text x="130" y="13" text-anchor="middle" font-size="10" fill="#444444">front (kneecap)</text>',
              '<text x="130" y="196" text-anchor="middle" font-size="10" fill="#444444">back</text>',
              '<text x="2" y="104" font-size="10" fill="#444444">inner</text>',
              '<text x="258" y="104" text-anchor="end" font-size="10" fill="#444444">outer</text>', "</svg>"]
    return "".join(parts)


PICTURES = {"knee_pain_location": knee_location_svg}  # variable id (the public vocabulary) -> its picture


def _lines(label: str) -> list[str]:
    """A region's label in a few words, on two lines at a bracket ("Inner (medial) side" -> "Inner", "(medial)")."""
    short = label.removesuffix(" side").removesuffix(" of the knee")
    head, bracket, rest = short.partition(" (")
    return [head, f"({rest}"] if bracket else [short]

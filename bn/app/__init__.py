"""The Streamlit explorer's shell (``app.py`` is the entry point): one module per panel, each with
``render(page)``, listed once in :data:`PANELS` in the order the page shows them. These modules only lay out
widgets and call ``bn``; they are the only part of the package that imports Streamlit, and nothing else in
``bn`` imports them.

A new panel: a module here with ``render(page: Page)``, added to :data:`PANELS`, with an AppTest in
``tests/test_app.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from bn.app import about, case, compare, educator, graph, learn, next_finding, sensitivity, why
from bn.app.page import Page

PANELS: dict[str, Callable[[Page], None]] = {
    "Why": why.render, "What next": next_finding.render, "Sensitivity": sensitivity.render,
    "Compare": compare.render, "Network": graph.render, "Educator": educator.render, "Case": case.render,
    "Learn": learn.render, "About": about.render,
}

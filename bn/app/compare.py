"""Compare: pinned what-if scenarios side by side."""

from __future__ import annotations

import streamlit as st

from bn.app.page import Page
from bn.app.state import pin_scenario
from bn.evidence import Evidence
from bn.teaching import compare_scenarios


def render(page: Page) -> None:
    """The Compare panel for the page's network and findings."""
    net, evidence = page.net, page.evidence
    st.button("Pin the current case as a scenario", on_click=pin_scenario, args=(evidence,))
    pinned = st.session_state.get("scenarios", [])
    if not pinned:
        st.info("Pin the current case, change findings, and compare the scenarios side by side.")
    else:
        scenarios = {p["name"]: Evidence(p["evidence"]["findings"], p["evidence"]["soft_findings"]) for p in pinned}
        scenarios["Current"] = evidence
        table = compare_scenarios(net, scenarios)
        changes = [c for c in table.columns if " - " in c]
        # A difference of two probabilities is in percentage points, not a percentage of anything.
        table[changes] = table[changes] * 100
        fmt = {c: st.column_config.NumberColumn(c, format="%+.1f pp" if c in changes else "percent")
               for c in table.columns if c not in ("kind", "label")}
        st.dataframe(table, hide_index=True, column_config=fmt, key="compare_table")
        for p in pinned:
            ev = p["evidence"]
            shown = "; ".join([*(page.network[k].finding_text(v) for k, v in ev["findings"].items()),
                               *(f"{page.network[k].display_label} (uncertain)" for k in ev["soft_findings"])]) \
                or "no findings"
            st.caption(f"{p['name']}: {shown}")
        st.button("Clear pinned scenarios", on_click=lambda: st.session_state.pop("scenarios", None))

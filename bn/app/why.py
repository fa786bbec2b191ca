"""Why: the weight of evidence of each finding for a chosen target, and the case's conflict."""

from __future__ import annotations

import streamlit as st

from bn.app.page import Page
from bn.explain import explain
from bn.present import percent as pct
from bn.present import sentence_case, weights_html


def render(page: Page) -> None:
    """The Why panel for the page's network and findings."""
    net, network, evidence = page.net, page.network, page.evidence
    target = st.selectbox("Explain the probability of", page.target_choices, key="why_target",
                          format_func=page.target_label)
    ex = explain(net, evidence, target=target)
    st.markdown(f"**{sentence_case(ex.target_label)}**: prior {pct(ex.prior)}, now **{pct(ex.posterior)}**.")
    if not ex.findings:
        st.info("Enter findings in the sidebar to see how each one moves this probability.")
    else:
        ordered = sorted(ex.findings, key=lambda f: -abs(f.weight_db if f.weight_db is not None else 99))
        for f in ordered:
            arrow = "▲" if f.direction == "towards" else "▼" if f.direction == "away" else "•"
            st.markdown(f"{arrow} {f.sentence}")
        st.html(weights_html([(network[f.finding].display_label, f.weight_db or 0.0) for f in ordered]))
        c = ex.conflict
        if c.flagged:
            st.warning(f"The findings fit the model poorly together (conflict {c.score:+.2f} bits), driven by "
                       f"{', '.join(network[d].display_label for d in c.drivers)}. Check the entry; "
                       "it may also be a "
                       "rare presentation.")
        else:
            st.caption(f"Conflict {c.score:+.2f} bits: the findings are consistent with each other.")

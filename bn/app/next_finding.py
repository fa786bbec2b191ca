"""What next: the unobserved findings ranked by value of information, one click to enter a result."""

from __future__ import annotations

import streamlit as st

from bn.app.page import Page
from bn.app.state import apply_finding
from bn.present import percent as pct
from bn.stability import same_decision_probability
from bn.voi import DIAGNOSES, next_best


def render(page: Page) -> None:
    """The What next panel for the page's network and findings."""
    net, network, evidence = page.net, page.network, page.evidence
    c1, c2, c3 = st.columns(3)
    target = c1.selectbox("Learn about", [*page.target_choices, DIAGNOSES], key="next_target",
                          format_func=lambda t: "All diagnoses jointly" if t == DIAGNOSES else page.target_label(t))
    measure = c2.radio("Measure", ["mi", "change"], key="next_measure", horizontal=True,
                       format_func={"mi": "information (bits)", "change": "expected change"}.get)
    alpha = c3.slider("Cost weight", 0.0, 0.02, 0.0, step=0.001, format="%.3f", key="next_cost",
                      help="score = information - weight x cost (history 0, exam 1, X-ray 5, MRI 20)")
    ranking = next_best(net, evidence, target=target, measure=measure, cost_weight=alpha, top=8)
    for i, cand in enumerate(ranking.ranking, 1):
        with st.container(border=True):
            st.markdown(f"**{i}. {cand.label}** ({cand.group or '-'}, cost {cand.cost:g}) — score {cand.score:.4f}")
            cols = st.columns(len(cand.outcomes))
            for col, (state, o) in zip(cols, cand.outcomes.items(), strict=True):
                shown = pct(o.target_posterior) if isinstance(o.target_posterior, float) else ""
                col.button(f"If {state} (p={o.probability:.2f}) → {shown}".strip(" →"),
                           key=f"apply_{cand.finding}_{state}", on_click=apply_finding,
                           args=(cand.finding, state), disabled=o.probability == 0)
    if network.knee_pain_sources and st.toggle("Could the remaining history and examination change the leading "
                                                "source?", key="next_sdp"):
        sdp = same_decision_probability(net, evidence, samples=1000, seed=0)
        st.markdown("**Same-decision probability.** " + sdp.sentence())

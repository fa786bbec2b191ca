"""Sensitivity: how much a probability depends on each number (tornado), what would change the
conclusion, and every number uncertain at once."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from bn.app.page import Page
from bn.present import percent as pct
from bn.present import sentence_case
from bn.sensitivity import flip, one_way, uncertainty


def render(page: Page) -> None:
    """The Sensitivity panel for the page's network and findings."""
    net, network, evidence = page.net, page.network, page.evidence
    c1, c2 = st.columns([2, 1])
    target = c1.selectbox("How much does this probability depend on the numbers?", page.target_choices,
                          key="sens_target", format_func=page.target_label)
    top = c2.slider("Parameters shown", 5, 30, 12, key="sens_top")
    analysis = one_way(net, evidence, target=target)
    st.markdown(f"**{sentence_case(analysis.target_label)}** is {pct(analysis.posterior)} with the network's "
                "numbers. Each bar shows where it would move if one number swept its plausible range.")
    frame = analysis.to_frame().head(top)
    bars = frame[["label", "posterior_at_low", "posterior_at_high"]].melt(
        id_vars=["label"], var_name="end", value_name="posterior").dropna()
    bars["end"] = bars["end"].map({"posterior_at_low": "parameter at its low end",
                                   "posterior_at_high": "parameter at its high end"})
    bars["now"] = analysis.posterior
    order = list(frame["label"])
    tornado = alt.Chart(bars).mark_bar().encode(
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=420)),
        x=alt.X("posterior:Q", axis=alt.Axis(format="%"), title="probability"), x2="now:Q",
        color=alt.Color("end:N", scale=alt.Scale(range=["#4c78a8", "#f58518"])),
        tooltip=["label", "end", alt.Tooltip("posterior:Q", format=".1%")])
    rule = alt.Chart(pd.DataFrame({"now": [analysis.posterior]})).mark_rule(color="black").encode(x="now:Q")
    st.altair_chart(tornado + rule, width="stretch")
    table = frame[["label", "value", "range_low", "range_high", "posterior_at_low", "posterior_at_high",
                   "provenance", "source"]]
    st.dataframe(table, hide_index=True, key="sens_table", column_config={
        "posterior_at_low": st.column_config.NumberColumn("at low end", format="percent"),
        "posterior_at_high": st.column_config.NumberColumn("at high end", format="percent")})
    if st.toggle("Also check what would change the conclusion, and all numbers uncertain at once", key="sens_more"):
        if network.knee_pain_sources:
            st.markdown("**Would a single number change the leading knee-pain source?** "
                        + flip(net, evidence).headline)
        draws = uncertainty(net, evidence, targets=[target], draws=500, seed=0)
        st.markdown("**With every number uncertain at once** (500 seeded draws from the plausible ranges): "
                    + draws.targets[0].sentence() + ".")

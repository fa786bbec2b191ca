"""Educator: step through an example case finding by finding."""

from __future__ import annotations

import altair as alt
import streamlit as st

import bn
from bn.app.page import Page
from bn.app.state import load_example
from bn.present import percent as pct
from bn.resources import networks_dir, validation_dir
from bn.target import SOURCE_SHORT
from bn.teaching import example_cases, trajectory_frame, walkthrough


def render(page: Page) -> None:
    """The Educator panel for the page's network and findings."""
    net, network = page.net, page.network
    cases = example_cases(validation_dir() / "cases", networks_dir() / network.id / "examples")
    if not cases:
        st.info("No example cases for this network.")
    else:
        name = st.selectbox("Case", list(cases), key="edu_case", format_func=lambda n: cases[n].title or n)
        case = cases[name]
        if case.note:
            st.markdown(f"_{page.prose(case.note)}_")
        if case.source:
            st.caption(f"Source: {case.source}")
        try:
            steps = walkthrough(net, case.evidence)
        except bn.BNError as exc:
            st.error(f"This case does not fit {network.id}: {exc}")
            steps = []
    if cases and steps:
        step = st.slider("Reveal findings", 0, len(steps) - 1, 0, key="edu_step")
        shown = steps[step]
        revealed = [network[s.revealed].finding_text(case.evidence.findings[s.revealed])
                    if s.revealed in case.evidence.findings else f"{network[s.revealed].display_label} (uncertain)"
                    for s in steps[1:step + 1]]
        st.markdown("**Revealed so far:** " + ("; ".join(revealed) if revealed else "nothing yet (the priors)"))
        frame = trajectory_frame(net, steps)
        top = (frame[frame["step"] == len(steps) - 1].sort_values("probability", ascending=False)["label"].head(6))
        st.altair_chart(alt.Chart(frame[frame["label"].isin(top)]).mark_line(point=True).encode(
            x=alt.X("step:O", title="findings revealed"), y=alt.Y("probability:Q", axis=alt.Axis(format="%")),
            color="label:N", strokeDash="kind:N",
            tooltip=["revealed", "label", alt.Tooltip("probability:Q", format=".1%")]), width="stretch")
        if shown.knee_pain_source:
            st.markdown("At this step: " + ", ".join(
                f"{SOURCE_SHORT.get(k, k)} {pct(p)}" for k, p in shown.knee_pain_source.items()))
        st.button("Load this case into the findings", key="edu_load",
                  on_click=load_example, args=(network, case, page.entry_variables))

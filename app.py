"""Streamlit explorer (first version): enter findings, see where the knee pain comes from.

Only lays out widgets and calls ``bn``; all reasoning lives in the package.
Run with ``make run``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import bn

st.set_page_config(page_title="L4-L5 or knee? A Bayesian reasoner", layout="wide")

DISCLAIMER = ("Educational decision-support tool, **not a medical device**. It does not replace clinical "
              "judgement; red flags need urgent assessment whatever the probabilities say.")
GROUPS = [("risk_factor", None, "Patient"), ("finding", "history", "History"),
          ("finding", "exam", "Examination"), ("finding", "imaging", "Imaging"), ("red_flag", None, "Red flags")]


@st.cache_resource
def load(reference: str) -> bn.BayesNet:
    return bn.load(reference)


versions = bn.published().get("l4l5_knee", [])
reference = st.sidebar.selectbox("Network version", [f"l4l5_knee@{v}" for v in reversed(versions)],
                                 key="network")
net = load(reference)
network = net.network

st.title("Is this knee pain from the L4-L5 segment, the knee or the hip?")
st.warning(DISCLAIMER)

findings: dict[str, str] = {}
for role, group, title in GROUPS:
    ids = [v for v in network.by_role(role) if network[v].group == group]
    with st.sidebar.expander(title, expanded=title in ("Patient", "History")):
        for vid in ids:
            v = network[vid]
            choice = st.selectbox(v.display_label, ["unknown", *v.state_ids], key=f"f_{vid}")
            if choice != "unknown":
                findings[vid] = choice

try:
    result = net.query(findings)
except bn.BNError as exc:
    st.error(str(exc))
    st.stop()

for alert in result.alerts:
    st.error(f"RED FLAG: {alert.message}")

st.subheader("Where does the knee pain come from?")
names = {"l4l5_spine": "L4-L5 spine", "knee": "Knee", "hip": "Hip", "other": "Other"}
sources = pd.DataFrame({"source": [names[k] for k in result.knee_pain_source],
                        "prior": list(result.knee_pain_source_prior.values()),
                        "posterior": list(result.knee_pain_source.values())})
cols = st.columns(len(sources))
for col, row in zip(cols, sources.itertuples()):
    col.metric(row.source, f"{row.posterior:.0%}", f"{(row.posterior - row.prior) * 100:+.0f} points vs prior",
               delta_color="off")

st.subheader("Differential")
rows = [{"diagnosis": network[v].display_label, "prior": result.priors[v]["present"],
         "posterior": result.posteriors[v]["present"]} for v in network.by_role("diagnosis")]
table = pd.DataFrame(rows).sort_values("posterior", ascending=False)
st.dataframe(table, hide_index=True, column_config={
    "prior": st.column_config.ProgressColumn("Prior", format="percent", min_value=0, max_value=1),
    "posterior": st.column_config.ProgressColumn("Posterior", format="percent", min_value=0, max_value=1)})

info = result.network
st.caption(f"Network {info.id} {info.version} · sha256 {info.sha256[:16]}… · {DISCLAIMER}")

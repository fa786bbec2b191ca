"""Network: the graph shaded by posterior, and the chosen variable's table with the source of every number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from bn.app.page import Page
from bn.graph import to_dot
from bn.model import ROLES
from bn.provenance import parameter_sources


def render(page: Page) -> None:
    """The Network panel for the page's network and findings."""
    net, network, evidence = page.net, page.network, page.evidence
    roles = st.multiselect("Show", list(ROLES),
                           default=["risk_factor", "diagnosis", "mechanism"], key="graph_roles") \
        if network.has_roles else None
    node = st.selectbox("Variable", list(network.variables), key="node",
                        format_func=lambda v: network[v].display_label)
    posteriors = net.marginals(findings=evidence)
    st.graphviz_chart(to_dot(network, posteriors, evidence.findings, node, tuple(roles) if roles else None),
                      width="stretch")
    v = network[node]
    st.markdown(f"**{v.display_label}** (`{v.id}`, {v.role or 'variable'}, {v.form.replace('_', ' ')}): "
                f"{v.description}")
    if v.definition:
        st.caption(f"Definition: {v.definition}")
    table = []
    for idx in np.ndindex(*(network[p].card for p in v.parents)):
        row = {p: network[p].state_ids[i] for p, i in zip(v.parents, idx, strict=True)}
        row.update({f"P({s})": float(x) for s, x in zip(v.state_ids, v.cpt[idx], strict=True)})
        table.append(row)
    st.dataframe(pd.DataFrame(table), hide_index=True, key="cpt_table")
    provenance = parameter_sources(network, node)
    if provenance:
        st.markdown("Where every number comes from:")
        st.dataframe(pd.DataFrame(provenance), hide_index=True, key="provenance_table")

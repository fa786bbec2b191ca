"""Network: the graph shaded by posterior, and the chosen variable's table with the source of every number."""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pandas as pd
import streamlit as st

from bn.app.page import Page
from bn.app.state import prior_marginals, set_state
from bn.graph import neighbourhood, to_dot
from bn.model import ROLES, humanize
from bn.provenance import parameter_sources


def render(page: Page) -> None:
    """The Network panel for the page's network and findings."""
    net, network, evidence = page.net, page.network, page.evidence
    c1, c2 = st.columns([2, 1])
    node = c1.selectbox("Variable", list(network.variables), key="node",
                        format_func=lambda v: network[v].display_label)
    scope = c2.radio("Show", ["around", "whole"], key="graph_scope", horizontal=True,
                     format_func={"around": "its neighbourhood", "whole": "the whole network"}.get)
    roles = None
    if scope == "whole" and network.has_roles:
        roles = st.multiselect("Roles", list(ROLES), default=["risk_factor", "diagnosis", "mechanism"],
                               key="graph_roles", format_func=lambda r: humanize(r))
    only = neighbourhood(network, node) if scope == "around" else None
    posteriors = net.marginals(findings=evidence)
    priors = prior_marginals(network.info.sha256, net)

    def link(variable: str) -> str:  # the same case and view, with that variable chosen
        return "?" + urlencode({**page.url, "view": "Network", "node": variable})

    st.graphviz_chart(to_dot(network, posteriors, evidence.findings, node, tuple(roles) if roles else None,
                             priors=priors, only=only, link=link), width="content" if only else "stretch")
    st.caption("Each bar is the probability now; the dark tick marks the prior. Observed findings have a double "
               "border. Hover over a node for its description; click it for its table and the source of every "
               "number.")
    if only:
        near = sorted(only - {node}, key=lambda v: network[v].display_label)
        st.markdown("**Go to a neighbour:**")
        cols = st.columns(3)
        for i, other in enumerate(near):
            cols[i % 3].button(network[other].display_label, key=f"goto_{other}", on_click=set_state,
                               args=("node", other), width="stretch")
    v = network[node]
    kind = f"`{v.id}`, {v.role or 'variable'}, {v.form}" if page.show_ids else \
        f"{humanize(v.role or 'variable').lower()}, {humanize(v.form).lower()}"
    st.markdown(f"**{v.display_label}** ({kind}): {page.prose(v.description)}")
    if v.definition:
        st.caption(f"Definition: {page.prose(v.definition)}")

    def name(var: str) -> str:
        return var if page.show_ids else network[var].display_label

    def state(var: str, s: str) -> str:
        return s if page.show_ids else network[var].state_label(s)

    table = []
    for idx in np.ndindex(*(network[p].card for p in v.parents)):
        row = {name(p): state(p, network[p].state_ids[i]) for p, i in zip(v.parents, idx, strict=True)}
        row.update({f"P({state(v.id, s)})": float(x) for s, x in zip(v.state_ids, v.cpt[idx], strict=True)})
        table.append(row)
    st.dataframe(pd.DataFrame(table), hide_index=True, key="cpt_table")
    provenance = parameter_sources(network, node, labels=not page.show_ids)
    if provenance:
        st.markdown("Where every number comes from:")
        st.dataframe(pd.DataFrame(provenance), hide_index=True, key="provenance_table")

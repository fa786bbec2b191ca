"""About: the network's version, hash, population, changelog and references."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from bn.app.page import Page


def render(page: Page) -> None:
    """The About panel for the page's network and findings."""
    network = page.network
    info = page.network.info
    meta = network.meta
    st.markdown(f"### {network.title}")
    st.markdown(f"Network `{info.id}` version **{info.version}**, sha256 `{info.sha256}`")
    for key in ("population", "description", "disclaimer"):
        if meta.get(key):
            st.markdown(f"**{key.capitalize()}.** {page.prose(meta[key])}")
    if meta.get("authors"):
        st.markdown(f"**Authors.** {', '.join(meta['authors'])}; licence {meta.get('license', 'not stated')}")
    counts = network.provenance_counts()
    st.markdown(f"**Parameters.** {counts['total']}: {counts['cited']} cited, {counts['expert_estimate']} expert "
                f"estimates, {counts['uncited']} uncited.")
    changelog = meta.get("changelog") or []
    if changelog:
        with st.expander(f"Version history ({len(changelog)} versions)"):
            for entry in changelog:
                st.markdown(f"- **{entry['version']}** ({entry.get('date', '')}): "
                            + page.prose(" ".join(entry["changes"])))
    if network.references:
        st.markdown(f"**References** ({len(network.references)})")
        st.dataframe(pd.DataFrame([{"key": r.key, "citation": r.citation, "measured": r.measured}
                                   for r in network.references.values()]), hide_index=True, key="references")

"""Case: download or upload the case file, the shareable link and the equivalent command line."""

from __future__ import annotations

import streamlit as st

from bn.app.page import Page
from bn.app.state import on_case_upload, show_notice, upload_mb
from bn.case_report import case_report
from bn.evidence import Case


def render(page: Page) -> None:
    """The Case panel for the page's network and findings."""
    network, evidence = page.network, page.evidence
    info = page.network.info
    note = st.text_area("Note (saved in the case file)", key="note", max_chars=2000)
    case = Case(evidence, network=f"{info.id}@{info.version}", note=note or "")
    c1, c2 = st.columns(2)
    c1.download_button("Download this case (JSON)", case.to_json(), file_name=f"{info.id}-case.json",
                       mime="application/json", key="download_case", on_click="ignore")
    # Built when clicked (the weights, the next findings and the intervals take a moment), not on every rerun.
    c2.download_button("Printable one-page summary (HTML)",
                       lambda: case_report(page.net, evidence, note=note or "").to_html(),
                       file_name=f"{info.id}-case-summary.html", mime="text/html", key="download_summary",
                       on_click="ignore",  # a rerun on the click would drop the page before it is built
                       help="Network, findings, sources with intervals, differential, weight of each finding and "
                            "what to look for next, on one printable page (the same as bn report).")
    st.file_uploader("Load a case file (JSON or YAML)", type=["json", "yaml", "yml"], key="case_upload",
                     on_change=on_case_upload, args=(network, page.entry_variables),
                     max_upload_size=upload_mb("case_bytes"))
    show_notice("case")
    st.markdown("**Share:** the address bar reproduces this case exactly (each finding is a query parameter).")
    st.code("?" + "&".join(f"{k}={v}" for k, v in page.url.items()), language=None)
    st.code(evidence.command_line(f"{info.id}@{info.version}", network), language="bash")

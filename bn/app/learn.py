"""Learn: a clinic's records against the network ("does the data contradict the network?"), and a new version of
the network learnt from them, to download or to explore beside the published one."""

from __future__ import annotations

import hashlib

import streamlit as st

import bn
from bn.app.page import Page
from bn.app.state import UPLOADED, load_uploaded, too_large, upload_mb
from bn.batch import read_uploaded_cases
from bn.isolate import check_upload


def on_records_upload() -> None:
    upload = st.session_state.get("records_upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        if why := too_large(upload, "records_bytes"):
            raise bn.BNError(why)
        check_upload("records", upload.name, data)
    except bn.BNError as exc:
        st.session_state["records_error"] = f"{exc}. Nothing was loaded."
        return
    st.session_state["records_file"] = (upload.name, data)
    st.session_state.pop("records_error", None)
    st.session_state.pop("records_check", None)


def render(page: Page) -> None:
    """The Learn panel for the page's network."""
    from bn.datacheck import check_records
    from bn.datacheck_report import markdown
    from bn.learn import learn

    net, network = page.net, page.network
    info = network.info
    st.markdown("Upload a clinic's records (one patient per row; columns are variable ids holding state names, "
                "blank = not recorded) to see where they disagree with the network, and to learn a new version "
                "from them. The records stay in this session; only counts go into a learnt file.")
    st.file_uploader("Records (CSV or parquet)", type=["csv", "parquet"], key="records_upload",
                     max_upload_size=upload_mb("records_bytes"),
                     on_change=on_records_upload)
    if "records_error" in st.session_state:
        st.error(st.session_state["records_error"])
    if "records_file" not in st.session_state:
        st.info("No records loaded. `python -m bench.cohort --out clinic.csv` makes a synthetic clinic to try.")
        return
    name, data = st.session_state["records_file"]
    try:
        records = read_uploaded_cases(name, data)
    except bn.BNError as exc:
        st.error(f"Could not read {name}: {exc}")
        return
    sha = hashlib.sha256(data).hexdigest()
    c1, c2 = st.columns(2)
    weight = c1.number_input("Prior weight (records each network row counts as)", 1.0, 10_000.0, 10.0,
                             key="learn_weight")
    ignore = c2.multiselect("Columns that are not variables", [c for c in records.columns if c not in network],
                            default=[c for c in records.columns if c not in network], key="learn_ignore")
    if st.button("Check the records against the network", key="learn_check", type="primary"):
        try:
            with st.spinner("Checking..."):
                st.session_state["records_check"] = check_records(net, records, prior_weight=weight, ignore=ignore,
                                                                  data_name=name, data_sha256=sha)
        except bn.BNError as exc:
            st.error(str(exc))
    check = st.session_state.get("records_check")
    if check is not None and check.network.sha256 == info.sha256 and check.data_sha256 == sha:
        st.markdown(markdown(check, network=None if page.show_ids else network))
    st.divider()
    c1, c2 = st.columns(2)
    major, minor, patch = [*info.version.split("."), "0", "0", "0"][:3]
    suggested = f"{major}.{minor}.{int(patch) + 1}" if patch.isdigit() else "1.0.0"
    version = c1.text_input("New version", suggested, key="learn_version")
    method = c2.radio("Method", ["bayes", "em"], key="learn_method", horizontal=True,
                      format_func={"bayes": "complete cases per table", "em": "EM (incomplete records)"}.get)
    if st.button("Learn a new version", key="learn_run"):
        try:
            with st.spinner("Learning..."):
                result = learn(net, records, version=version, method=method, prior_weight=weight, ignore=ignore,
                               data_name=name, data_sha256=sha)
            st.session_state["learnt"] = (f"{version}.yaml", result.text.encode())
        except bn.BNError as exc:
            st.error(str(exc))
    if "learnt" in st.session_state:
        file_name, text = st.session_state["learnt"]
        st.success(f"Learnt {network.id} {file_name[:-5]} from {len(records):,} records.")
        st.download_button("Download the new version", text, file_name=f"{network.id}-{file_name}",
                           mime="application/x-yaml", key="learn_download")

        def explore() -> None:
            load_uploaded(*st.session_state["learnt"])
            st.session_state["uploaded_network"] = st.session_state["learnt"]
            st.session_state["network"] = UPLOADED

        st.button("Explore it (it joins the network list as 'uploaded file')", key="learn_explore", on_click=explore)
        if st.button("Compare it with this version on the development cases", key="learn_compare"):
            from bn.validation import compare_on_cases

            with st.spinner("Comparing..."):
                st.session_state["learn_comparison"] = compare_on_cases(net, load_uploaded(file_name, text))
        comparison = st.session_state.get("learn_comparison")
        if comparison is not None and comparison["b"]["sha256"] == hashlib.sha256(text).hexdigest():
            show_comparison(comparison, network)


def show_comparison(comparison: dict, network) -> None:
    """The comparison as a sentence and a table of the cases, largest shift first."""
    from bn.target import SOURCE_SHORT

    rows = comparison["cases"]
    changed = comparison["changed_cases"]
    differ = len(comparison["parameters"]["parameters"])
    st.markdown(f"**Against {comparison['a']['version']}, on {len(rows)} development cases:** {len(changed)} change "
                f"their leading call; {differ} number(s) of the network differ. The locked test cases are not "
                "shown (`bn validate --compare ... --unblind \"why\"` records such a look).")

    def shift_name(key: str | None) -> str:
        if not key:
            return ""
        if key.startswith("source:"):
            return f"source: {SOURCE_SHORT.get(key[7:], key[7:])}"
        return network[key].display_label if key in network else key

    table = [{"case": r["title"] or r["id"],
              "leading source": " -> ".join(SOURCE_SHORT.get(s, s or "-") for s in r["leading_source"]),
              "largest shift": shift_name(r["largest_shift"]),
              "by (points)": round(100 * r["largest_shift_value"], 1),
              "changed": "yes" if r["id"] in changed else ""} for r in rows]
    table.sort(key=lambda r: -abs(r["by (points)"]))
    st.dataframe(table, hide_index=True, key="learn_comparison_table")

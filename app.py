"""The Streamlit explorer: what-if findings in a browser, for clinicians and educators.

Only lays out widgets and calls ``bn``; every number shown is computed by the package.
Run with ``make run``. The address bar always reproduces the case: each finding is a query parameter in the
command line's syntax (``?knee_pain=present&straight_leg_raise=positive:0.7``), plus ``network`` and ``view``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
import uuid

import streamlit as st

import bn
from bn import limits
from bn.app import PANELS, Page
from bn.app.state import (
    UNCERTAIN,
    UNCERTAIN_LEVEL,
    UNKNOWN,
    UPLOADED,
    apply_finding,
    fit_findings,
    flash_error,
    load_case_into_widgets,
    load_published,
    load_uploaded,
    on_network_upload,
    quick_add,
    read_finding,
    reset_findings,
    show_notice,
    takes_uncertain,
    upload_mb,
)
from bn.evidence import Case, Evidence, from_query_params, to_query_params
from bn.headline import source_headline
from bn.pictures import PICTURES
from bn.present import CHIPS_CSS, differential_html, finding_effect
from bn.present import DISCLAIMER_APP as DISCLAIMER
from bn.present import differential as bn_differential
from bn.present import percent as pct
from bn.target import SOURCE_SHORT

LOG = logging.getLogger("bn.app")
GROUPS = [("Patient", ("risk_factor", None)), ("History", ("finding", "history")),
          ("Examination", ("finding", "exam")), ("Imaging", ("finding", "imaging")),
          ("Other tests", ("finding", "tests")), ("Red flags", ("red_flag", None))]
VIEWS = list(PANELS)

# Wide enough for a finding's unknown / absent / present control on one line.
st.set_page_config(page_title="L4-L5, knee or hip? A Bayesian reasoner", layout="wide", initial_sidebar_state=340)
started = time.perf_counter()


# -- network choice ------------------------------------------------------------------------------------

published = [f"{name}@{v}" for name, versions in bn.published().items() for v in reversed(versions)]
choices = published + ([UPLOADED] if "uploaded_network" in st.session_state else [])
first_run = "url_read" not in st.session_state
if first_run:  # a shared link: take the network and view from the URL before their widgets exist
    st.session_state["url_read"] = True
    wanted = st.query_params.get("network", "")
    matches = [p for p in published if p == wanted or p.startswith(f"{wanted}@")]  # latest version first
    if wanted and matches:
        st.session_state["network"] = matches[0]
    elif wanted:  # say so, rather than quietly answer from another network
        st.session_state["flash"] = ("error", f"The link asks for network '{wanted}', which is not published; "
                                     f"showing {published[0]} instead. Published: {', '.join(published)}.")
    if st.query_params.get("view") in VIEWS:
        st.session_state["view"] = st.query_params["view"]
reference = st.sidebar.selectbox("Network and version", choices, key="network",
                                 help="Published versions are immutable; every result names the version and hash.")
try:
    net = load_uploaded(*st.session_state["uploaded_network"]) if reference == UPLOADED else load_published(reference)
except bn.BNError as exc:
    st.error(f"Could not load {reference}: {exc}")
    st.stop()
network = net.network
# The uploader is drawn only when asked for: its code is among the heaviest a first visit would load.
if st.sidebar.toggle("Load another network file", key="show_network_upload"):
    st.sidebar.file_uploader("YAML (bn-network/1), BIF or XMLBIF", type=["yaml", "yml", "bif", "xmlbif", "xml"],
                             key="network_upload", on_change=on_network_upload,
                             max_upload_size=upload_mb("network_bytes"))
with st.sidebar:
    show_notice("network")

# -- findings entry ----------------------------------------------------------------------------------------

if network.has_roles:
    groups = [(title, [v for v in network.by_role(role) if network[v].group == group]) for title, (role, group)
              in GROUPS]
else:
    groups = [("Variables", list(network.variables))]
entry_variables = [v for _, ids in groups for v in ids]
if first_run:
    from_url, ignored = from_query_params(st.query_params.to_dict(), network, reserved=("network", "view", "node"))
    if st.query_params.get("node") in network.variables:  # a node clicked in the graph, or a shared link
        st.session_state["node"] = st.query_params["node"]
    elif "node" in st.query_params:
        ignored.append(f"node '{st.query_params['node']}' is not a variable of {network.id}")
    try:
        load_case_into_widgets(network, Case(from_url), entry_variables)
    except bn.BNError as exc:
        ignored.append(str(exc))
    if ignored:
        flash_error("Some parts of the link were ignored: " + "; ".join(ignored))
if cleared := fit_findings(network, entry_variables):
    flash_error(f"{network.id} {network.info.version} cannot take these findings, so they were cleared: "
                + "; ".join(cleared) + ".")
st.sidebar.button("Reset all findings", on_click=reset_findings, args=(entry_variables,), type="primary",
                  width="stretch")
with st.sidebar.container(border=True, key="quick_add"):
    # Type part of a finding's name, pick it, click its result: two clicks a finding, no scrolling past groups.
    open_ids = [v for v in entry_variables if st.session_state.get(v, UNKNOWN) == UNKNOWN]
    pick = st.selectbox("Add a finding", open_ids, index=None, key="quick_pick", placeholder="Type to search...",
                        format_func=lambda v: network[v].display_label)
    if pick:
        st.segmented_control(network[pick].display_label, list(network[pick].state_ids), key=f"quick_state_{pick}",
                             format_func=network[pick].state_label, on_change=quick_add, args=(pick,))
CHOICE_LABELS = {UNKNOWN: "Unknown", UNCERTAIN: "Uncertain"}
allow_uncertain = st.sidebar.toggle(
    "Uncertain findings", key="allow_uncertain",
    help="Adds 'Uncertain' to each yes/no finding: a finding you are not sure of, entered with how sure you are.")
hard: dict[str, str] = {}
soft: dict[str, dict[str, float]] = {}
pictured: dict[str, object] = {}  # a finding drawn as a picture -> the slot under it for what its answers do
# Which groups are open: one row of pills with each group's count of entered findings. A closed group draws
# nothing (a click then redraws about half as many controls); its findings stay in the session (persist_state)
# and are still read below. Pills, not expanders: an expander whose label carries a count is a new widget to the
# browser each time the count changes, so it would close and lose the keyboard focus on every entry.
titles = [title for title, ids in groups if ids]
counts = {title: sum(st.session_state.get(v, UNKNOWN) != UNKNOWN for v in ids) for title, ids in groups}
if st.session_state.get("group_titles") != titles:  # first run, or a network with other groups
    still = [t for t in st.session_state.get("open_groups", []) if t in titles]
    # Closed at first (a network without groups shows its one list): the search box above and one click on a
    # pill reach any finding, and a first visit draws a short page.
    st.session_state["open_groups"] = still or [t for t in titles if t == "Variables"]
    st.session_state["group_titles"] = titles
shown = st.sidebar.pills("Finding groups", titles, selection_mode="multi", key="open_groups",
                         format_func=lambda t: f"{t} ({counts[t]})" if counts[t] else t,
                         help="Open a group to enter its findings; the number is how many are entered. A closed "
                              "group keeps its findings.")
for title, ids in groups:
    if not ids:
        continue
    if title not in shown:
        for vid in ids:
            read_finding(hard, soft, network[vid], st.session_state.get(vid, UNKNOWN),
                         st.session_state.get(f"{vid}.soft", UNCERTAIN_LEVEL))
        continue
    group = st.sidebar.container(border=True, key=f"group_{title}")
    group.markdown(f"**{title}**" + (f" ({counts[title]} entered)" if counts[title] else ""))
    with group:
        for vid in ids:
            v = network[vid]
            options = [UNKNOWN, *v.state_ids]
            # An uncertain finding keeps its option when the toggle is turned off: nothing entered is lost.
            if takes_uncertain(v) and (allow_uncertain or st.session_state.get(vid) == UNCERTAIN):
                options.append(UNCERTAIN)
            labels = {s.id: s.display_label for s in v.states}
            st.session_state.setdefault(vid, UNKNOWN)
            choice = st.segmented_control(v.display_label, options, key=vid, required=True, persist_state="page",
                                          help=v.description or None,
                                          format_func=lambda s, labels=labels: labels.get(s) or CHOICE_LABELS[s])
            if vid in PICTURES:
                st.image(PICTURES[vid](labels, choice), width="content",
                         alt=f"{v.display_label}, drawn from above: {labels.get(choice, 'not entered')}")
                pictured[vid] = st.empty()  # filled once all the findings are read
            level = 0
            if choice == UNCERTAIN:
                on = v.state_label(v.on_state).lower()
                off = v.state_label(next(s for s in v.state_ids if s != v.on_state)).lower()
                # a level from a link or a case file is already in the session state: no default beside it
                level = st.slider(f"How sure that it is {on}? (%)", 1, 99, key=f"{vid}.soft", persist_state="page",
                                  **({} if f"{vid}.soft" in st.session_state else {"value": UNCERTAIN_LEVEL}),
                                  help="Entered as a likelihood: the observation is this many "
                                  f"times as likely if truly {on} as if {off}, relative to 100 minus it.")
            read_finding(hard, soft, v, choice, level)
evidence = Evidence(hard, soft)
for vid, slot in pictured.items():
    if network.knee_pain_sources and vid in hard:
        slot.caption(finding_effect(net, evidence, vid))
show_ids = st.sidebar.toggle("Show ids (for modellers)", key="show_ids",
                             help="Variable and state ids beside the labels, and the network's notes as written.")

# -- the answer at a glance ---------------------------------------------------------------------------------

st.title("Is this knee pain from the L4-L5 spine, the knee or the hip?" if network.knee_pain_sources
         else network.title)
st.warning(DISCLAIMER, icon="⚠️")
if network.info.warning:
    st.error(f"This network is {network.info.warning}.")
flash = st.session_state.pop("flash", None)
if flash:
    (st.success if flash[0] == "success" else st.error)(flash[1])
if evidence:
    st.html(CHIPS_CSS)  # a style alone takes no space on the page
    with st.container(horizontal=True, key="chips"):
        st.markdown("**Findings:**")
        for vid in [*evidence.findings, *evidence.soft_findings]:
            v = network[vid]
            state = v.state_label(evidence.findings[vid]) if vid in evidence.findings else "uncertain"
            st.button(f"{v.display_label}: {state}", key=f"chip_{vid}", icon=":material/close:", type="tertiary",
                      on_click=apply_finding, args=(vid, UNKNOWN), help="Remove this finding")

try:
    result = net.query(evidence)
except bn.ImpossibleEvidenceError as exc:
    st.error(f"These findings are impossible under the model: {exc}. Change one of them: "
             + ", ".join(exc.conflict) + ". Your findings are kept.")
    st.stop()

for alert in result.alerts:
    st.error(f"RED FLAG ({network[alert.id].display_label}): {alert.message}", icon="🚨")

info = result.network
if result.knee_pain_source:
    st.subheader("Where does the knee pain come from?")
    st.caption("Probability that each source is producing (at least part of) the knee pain; sources can coexist.")
    try:
        with limits.time_budget(limits.current().analysis_seconds, "The intervals of the sources"):
            headline = source_headline(net, evidence)
    except limits.TimeBudgetError as exc:  # a large uploaded network: the point probabilities still stand
        headline = None
        st.warning(f"{exc}. The probabilities below are without their intervals.")
    # One block per source, wrapping onto a second row where the page is narrow (a tablet with the sidebar open)
    # rather than squeezing five columns until their labels are cut.
    row = st.container(horizontal=True, wrap=True, key="sources")
    for key, p in result.knee_pain_source.items():
        col = row.container(width=142)
        prior = result.knee_pain_source_prior[key]
        # The delta stays short (a metric cuts what does not fit its column); the prior and interval wrap below.
        col.metric(SOURCE_SHORT.get(key, key), pct(p), f"{(p - prior) * 100:+.0f} points", delta_color="off",
                   help=None if headline is None else "90% interval when every number in the network is drawn "
                                                      f"from its plausible range ({headline.draws} seeded draws)")
        interval = "" if headline is None else "  \n90% interval {}-{}".format(*map(pct, headline.intervals[key]))
        col.caption(f"Prior {pct(prior)}{interval}")
    if headline is not None:
        (st.warning if headline.too_close else st.info)(headline.sentence(),
                                                          icon="⚖️" if headline.too_close else None)
    helps = headline.separating_finding if headline is not None and headline.too_close else None
    if helps and st.session_state.get(helps, UNKNOWN) == UNKNOWN:
        with st.container(horizontal=True, key="helps_most"):
            st.markdown(f"**Would help most now:** {network[helps].display_label}. Its result:")
            for state in network[helps].state_ids:
                st.button(network[helps].state_label(state), key=f"helps_{state}", on_click=apply_finding,
                          args=(helps, state))

diagnoses = network.by_role("diagnosis") or net.default_query_variables()
st.subheader("Differential" if network.has_roles else "Posteriors")
st.caption("Each condition's probability before any finding (prior) and given the findings (posterior), "
           "most likely first. Conditions can coexist, so they need not add up to 100%.")
st.html(differential_html(bn_differential(network, result, diagnoses), show_state=not network.has_roles))
if result.most_probable_explanation:
    mpe_ids = [v for v, s in result.most_probable_explanation.states.items() if s == network[v].on_state]
    present = [network[v].display_label for v in mpe_ids]
    likely = {v for v in diagnoses if result.posteriors[v][network[v].on_state] > 0.5}
    why = ""
    if not present and evidence:
        why = (" No single combination of modelled diagnoses is as probable as none of them: the findings spread "
               "their weight over several competing explanations (each in the list above), and causes the network "
               "does not model can also produce them.")
    elif set(mpe_ids) != likely:
        why = (" It differs from reading the list above one condition at a time, because conditions compete to "
               "explain the same findings: the best combination is not the set of individually likeliest ones.")
    st.caption(f"Most probable combination (p = {pct(result.most_probable_explanation.probability)}): "
               + ("; ".join(present) or "no diagnosis present") + "." + why)

# -- the panels (only the chosen one is computed) ------------------------------------------------------------

# A view from the link is already in the session state: giving a default as well makes Streamlit warn.
view = st.segmented_control("Explore", VIEWS, key="view",
                            default=None if "view" in st.session_state else "Why") or "Why"
url = {"network": reference, **to_query_params(evidence), **({"view": view} if view != "Why" else {}),
       **({"node": st.session_state["node"]} if view == "Network" and "node" in st.session_state else {})}
if reference != UPLOADED and st.query_params.to_dict() != url:
    st.query_params.from_dict(url)
page = Page(net, evidence, url, entry_variables, show_ids=show_ids)


@contextlib.contextmanager
def guarded(panel: str):
    """An unexpected error in a panel: one line and the details for the user, whose findings stay entered; the
    server log gets an error id, the panel, the network and a case id (a hash), never the findings."""
    try:
        with limits.time_budget(limits.current().analysis_seconds, f"The {panel} panel's analysis"):
            yield
    except limits.TimeBudgetError as exc:  # a heavy analysis on a large network: stopped, the server stays free
        st.warning(f"{exc}. Your findings are kept.")
    except Exception as exc:  # a bug, not bad input: bad input is a bn.BNError handled where it arises
        error_id = uuid.uuid4().hex[:8]
        case_id = hashlib.sha256(json.dumps(evidence.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
        LOG.error("error %s in panel %s: %s (network %s %s, case %s)", error_id, panel, type(exc).__name__, info.id,
                  info.version, case_id)
        st.error(f"This panel could not be computed (error {error_id}). Your findings are kept; the other panels "
                 "still work. Please report the error id.")
        with st.expander("Details"):
            st.code(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", language=None)


with guarded(view):
    PANELS[view](page)

st.divider()
st.session_state["render_ms"] = 1000 * (time.perf_counter() - started)  # read by bench/app_rerun.py
st.caption(f"Network {info.id} {info.version} · sha256 {info.sha256[:16]}… · page computed in "
           f"{st.session_state['render_ms']:.0f} ms · {DISCLAIMER}")

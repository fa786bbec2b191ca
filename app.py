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
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

import bn
from bn.evidence import Case, Evidence, from_query_params, parse_case, to_query_params
from bn.explain import explain
from bn.graph import to_dot
from bn.headline import source_headline
from bn.interop import parse_standard
from bn.model import NetworkInfo
from bn.netfile import MAX_FILE_BYTES, parse_network_text
from bn.present import DISCLAIMER_APP as DISCLAIMER
from bn.present import percent as pct
from bn.resources import networks_dir, validation_dir
from bn.sensitivity import flip, one_way, uncertainty
from bn.stability import same_decision_probability
from bn.target import SOURCE_LABELS, SOURCE_SHORT
from bn.teaching import compare_scenarios, example_cases, trajectory_frame, walkthrough
from bn.voi import DIAGNOSES, next_best

LOG = logging.getLogger("bn.app")
GROUPS = [("Patient", ("risk_factor", None)), ("History", ("finding", "history")),
          ("Examination", ("finding", "exam")), ("Imaging", ("finding", "imaging")),
          ("Other tests", ("finding", "tests")), ("Red flags", ("red_flag", None))]
UNKNOWN, UNCERTAIN = "unknown", "uncertain"
UPLOADED = "uploaded file"
VIEWS = ["Why", "What next", "Sensitivity", "Compare", "Network", "Educator", "Case", "About"]
MAX_CASE_UPLOAD = 1024 * 1024

st.set_page_config(page_title="L4-L5, knee or hip? A Bayesian reasoner", layout="wide")
started = time.perf_counter()


@st.cache_resource(show_spinner="Compiling the network...")
def load_published(reference: str) -> bn.BayesNet:
    return bn.load(reference)


@st.cache_resource(show_spinner="Compiling the uploaded network...", max_entries=8)
def load_uploaded(name: str, data: bytes) -> bn.BayesNet:
    lower = name.lower()
    if lower.endswith((".bif", ".xmlbif", ".xml")):
        fmt = "bif" if lower.endswith(".bif") else "xmlbif"
        info = NetworkInfo(Path(name).stem, "uploaded", hashlib.sha256(data).hexdigest(), name)
        return bn.load(parse_standard(data.decode("utf-8", errors="replace"), fmt, info))
    return bn.load(parse_network_text(data, name))


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


# -- state changes (callbacks run before the script, so they may set widget values) ------------------------

def reset_findings(variables: list[str]) -> None:
    for vid in variables:
        st.session_state[vid] = UNKNOWN


def apply_finding(vid: str, state: str) -> None:
    st.session_state[vid] = state


def load_case_into_widgets(network, case: Case, variables: list[str]) -> None:
    ev = case.evidence.validate(network)
    reset_findings(variables)
    for vid, state in ev.findings.items():
        st.session_state[vid] = state
    for vid, lik in ev.soft_findings.items():
        v = network[vid]
        positive = v.on_state
        if v.card != 2 or v.role not in ("finding", "red_flag"):
            raise bn.EvidenceError(f"soft finding {vid}: the app takes soft findings for binary findings only")
        st.session_state[vid] = UNCERTAIN
        st.session_state[f"{vid}.soft"] = min(99, max(1, round(100 * lik[positive] / sum(lik.values()))))
    st.session_state["note"] = case.note


def load_example(network, case: Case, variables: list[str]) -> None:
    try:
        load_case_into_widgets(network, case, variables)
    except bn.BNError as exc:
        st.session_state["flash"] = ("error", f"Could not load that case; your findings are unchanged. {exc}")


def on_case_upload(network, variables: list[str]) -> None:
    upload = st.session_state.get("case_upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        if len(data) > MAX_CASE_UPLOAD:
            raise bn.CaseFileError(f"{upload.name}: {len(data):,} bytes; the limit is {MAX_CASE_UPLOAD:,}")
        case = parse_case(data, upload.name)
        if case.network and case.network.partition("@")[0] != network.id:
            raise bn.CaseFileError(f"{upload.name} was made for network '{case.network}', not '{network.id}'")
        load_case_into_widgets(network, case, variables)
        st.session_state["flash"] = ("success", f"Loaded case {upload.name}.")
    except bn.BNError as exc:
        st.session_state["flash"] = ("error", f"Could not load that case; your findings are unchanged. {exc}")


def on_network_upload() -> None:
    upload = st.session_state.get("network_upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        if len(data) > MAX_FILE_BYTES:
            raise bn.NetworkFileError([bn.errors.Problem(upload.name, None, "file exceeds the 5 MB limit")])
        load_uploaded(upload.name, data)
        st.session_state["uploaded_network"] = (upload.name, data)
        st.session_state["network"] = UPLOADED
        st.session_state["flash"] = ("success", f"Loaded network file {upload.name}.")
    except bn.BNError as exc:
        st.session_state["flash"] = ("error", f"Could not load that network; nothing changed. {exc}")


def pin_scenario(evidence: Evidence) -> None:
    pinned = st.session_state.setdefault("scenarios", [])
    pinned.append({"name": f"Scenario {chr(ord('A') + len(pinned) % 26)}", "evidence": evidence.to_dict()})


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
with st.sidebar.expander("Load another network file"):
    st.file_uploader("YAML (bn-network/1), BIF or XMLBIF, up to 5 MB", type=["yaml", "yml", "bif", "xmlbif", "xml"],
                     key="network_upload", on_change=on_network_upload)

# -- findings entry ----------------------------------------------------------------------------------------

if network.has_roles:
    groups = [(title, [v for v in network.by_role(role) if network[v].group == group]) for title, (role, group)
              in GROUPS]
else:
    groups = [("Variables", list(network.variables))]
entry_variables = [v for _, ids in groups for v in ids]
if first_run:
    from_url, ignored = from_query_params(st.query_params.to_dict(), network, reserved=("network", "view"))
    try:
        load_case_into_widgets(network, Case(from_url), entry_variables)
    except bn.BNError as exc:
        ignored.append(str(exc))
    if ignored:
        earlier = st.session_state.get("flash", ("", ""))[1]
        st.session_state["flash"] = ("error", (earlier + " " if earlier else "")
                                     + "Some parts of the link were ignored: " + "; ".join(ignored))
st.sidebar.button("Reset all findings", on_click=reset_findings, args=(entry_variables,), type="primary",
                  width="stretch")
hard: dict[str, str] = {}
soft: dict[str, dict[str, float]] = {}
for title, ids in groups:
    if not ids:
        continue
    with st.sidebar.expander(title, expanded=title in ("Patient", "History", "Variables")):
        for vid in ids:
            v = network[vid]
            options = [UNKNOWN, *v.state_ids]
            if v.card == 2 and v.role in ("finding", "red_flag"):
                options.append(UNCERTAIN)
            labels = {s.id: s.label or s.id for s in v.states}
            choice = st.radio(v.display_label, options, key=vid, horizontal=True,
                              help=v.description or None,
                              format_func=lambda s, labels=labels: labels.get(s, s))
            if choice == UNCERTAIN:
                positive = v.on_state
                other = next(s for s in v.state_ids if s != positive)
                level = st.slider(f"How sure that it is {positive}? (%)", 1, 99, 70, key=f"{vid}.soft",
                                  help="Entered as a likelihood: the observation is this many "
                                  f"times as likely if truly {positive} as if {other}, relative to 100 minus it.")
                soft[vid] = {positive: level / 100, other: 1 - level / 100}
            elif choice not in (UNKNOWN, None):
                hard[vid] = choice
evidence = Evidence(hard, soft)

# -- the answer at a glance ---------------------------------------------------------------------------------

st.title("Is this knee pain from the L4-L5 spine, the knee or the hip?" if network.knee_pain_sources
         else network.title)
st.warning(DISCLAIMER, icon="⚠️")
if network.info.warning:
    st.error(f"This network is {network.info.warning}.")
flash = st.session_state.pop("flash", None)
if flash:
    (st.success if flash[0] == "success" else st.error)(flash[1])

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
    headline = source_headline(net, evidence)
    cols = st.columns(len(result.knee_pain_source))
    for col, (key, p) in zip(cols, result.knee_pain_source.items(), strict=True):
        prior = result.knee_pain_source_prior[key]
        lo, hi = headline.intervals[key]
        col.metric(SOURCE_SHORT.get(key, key), pct(p),
                   f"{(p - prior) * 100:+.0f} points vs prior {pct(prior)}", delta_color="off",
                   help="90% interval when every number in the network is drawn from its plausible range "
                        f"({headline.draws} seeded draws)")
        col.caption(f"90% interval {pct(lo)}-{pct(hi)}")
    (st.warning if headline.too_close else st.info)(headline.sentence(), icon="⚖️" if headline.too_close else None)

diagnoses = network.by_role("diagnosis") or net.default_query_variables()
rows = []
for var in diagnoses:
    v = network[var]
    state = v.on_state if v.card == 2 else max(result.posteriors[var], key=result.posteriors[var].get)
    rows.append({"diagnosis": v.display_label, "state": state, "prior": result.priors[var][state],
                 "posterior": result.posteriors[var][state]})
differential = pd.DataFrame(rows).sort_values("posterior", ascending=False, ignore_index=True)
st.subheader("Differential" if network.has_roles else "Posteriors")
st.caption("Each condition's probability before any finding (prior) and given the findings (posterior), "
           "most likely first. Conditions can coexist, so they need not add up to 100%.")
shown_columns = ["diagnosis", "prior", "posterior"] if network.has_roles else list(differential.columns)
as_percent = differential[shown_columns].assign(prior=differential["prior"] * 100,
                                               posterior=differential["posterior"] * 100)
st.dataframe(as_percent, hide_index=True, key="differential", width="stretch", column_config={
    "diagnosis": st.column_config.TextColumn("Condition", width="large"),
    "prior": st.column_config.ProgressColumn("Prior", format="%.1f%%", min_value=0.0, max_value=100.0),
    "posterior": st.column_config.ProgressColumn("Posterior", format="%.1f%%", min_value=0.0, max_value=100.0)})
if result.most_probable_explanation:
    present = [network[v].display_label for v, s in result.most_probable_explanation.states.items()
               if s == network[v].on_state]
    st.caption(f"Most probable combination (p = {pct(result.most_probable_explanation.probability)}): "
               + ("; ".join(present) or "no diagnosis present"))

# -- the panels (only the chosen one is computed) ------------------------------------------------------------

view = st.segmented_control("Explore", VIEWS, key="view", default="Why") or "Why"
url = {"network": reference, **to_query_params(evidence), **({"view": view} if view != "Why" else {})}
if reference != UPLOADED and st.query_params.to_dict() != url:
    st.query_params.from_dict(url)
target_choices = [*network.knee_pain_sources, *diagnoses]


def target_label(t: str) -> str:
    if t in SOURCE_LABELS and t in network.knee_pain_sources:
        return sentence_case(SOURCE_LABELS[t])
    return network[t].display_label if t in network else t


@contextlib.contextmanager
def guarded(panel: str):
    """An unexpected error in a panel: one line and the details for the user, whose findings stay entered; the
    server log gets an error id, the panel, the network and a case id (a hash), never the findings."""
    try:
        yield
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
    if view == "Why":
        target = st.selectbox("Explain the probability of", target_choices, key="why_target", format_func=target_label)
        ex = explain(net, evidence, target=target)
        st.markdown(f"**{sentence_case(ex.target_label)}**: prior {pct(ex.prior)}, now **{pct(ex.posterior)}**.")
        if not ex.findings:
            st.info("Enter findings in the sidebar to see how each one moves this probability.")
        else:
            ordered = sorted(ex.findings, key=lambda f: -abs(f.weight_db if f.weight_db is not None else 99))
            for f in ordered:
                arrow = "▲" if f.direction == "towards" else "▼" if f.direction == "away" else "•"
                st.markdown(f"{arrow} {f.sentence}")
            weights = pd.DataFrame([{"finding": network[f.finding].display_label, "weight (dB)": f.weight_db or 0.0,
                                     "direction": "raises" if f.direction == "towards" else "lowers"}
                                    for f in ordered])
            st.altair_chart(alt.Chart(weights).mark_bar().encode(
                x=alt.X("weight (dB):Q"), y=alt.Y("finding:N", sort=None, title=None),
                color=alt.Color("direction:N", scale=alt.Scale(domain=["raises", "lowers"],
                                                               range=["#1f77b4", "#d62728"])),
                tooltip=["finding", alt.Tooltip("weight (dB):Q", format="+.1f")]), width="stretch")
            c = ex.conflict
            if c.flagged:
                st.warning(f"The findings fit the model poorly together (conflict {c.score:+.2f} bits), driven by "
                           f"{', '.join(network[d].display_label for d in c.drivers)}. Check the entry; "
                           "it may also be a "
                           "rare presentation.")
            else:
                st.caption(f"Conflict {c.score:+.2f} bits: the findings are consistent with each other.")

    elif view == "What next":
        c1, c2, c3 = st.columns(3)
        target = c1.selectbox("Learn about", [*target_choices, DIAGNOSES], key="next_target",
                              format_func=lambda t: "All diagnoses jointly" if t == DIAGNOSES else target_label(t))
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

    elif view == "Sensitivity":
        c1, c2 = st.columns([2, 1])
        target = c1.selectbox("How much does this probability depend on the numbers?", target_choices,
                              key="sens_target", format_func=target_label)
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

    elif view == "Compare":
        st.button("Pin the current case as a scenario", on_click=pin_scenario, args=(evidence,))
        pinned = st.session_state.get("scenarios", [])
        if not pinned:
            st.info("Pin the current case, change findings, and compare the scenarios side by side.")
        else:
            scenarios = {p["name"]: Evidence(p["evidence"]["findings"], p["evidence"]["soft_findings"]) for p in pinned}
            scenarios["Current"] = evidence
            table = compare_scenarios(net, scenarios)
            fmt = {c: st.column_config.NumberColumn(c, format="percent") for c in table.columns
                   if c not in ("kind", "label")}
            st.dataframe(table, hide_index=True, column_config=fmt, key="compare_table")
            for p in pinned:
                ev = p["evidence"]
                shown = ", ".join(f"{k}={v}" for k, v in ev["findings"].items()) or "no findings"
                st.caption(f"{p['name']}: {shown}")
            st.button("Clear pinned scenarios", on_click=lambda: st.session_state.pop("scenarios", None))

    elif view == "Network":
        roles = st.multiselect("Show", ["risk_factor", "diagnosis", "mechanism", "finding", "red_flag"],
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
        provenance = []
        for prm in v.parameters:
            ref = network.references.get(prm.source) if prm.source else None
            provenance.append({"parameter": f"{prm.kind}: {prm.key}",
                               "value": prm.value if isinstance(prm.value, float) else str(prm.value),
                               "source": ref.citation if ref else ("expert estimate" if prm.expert_estimate
                                                                   else "uncited"),
                               "how": prm.detail or prm.expert_estimate or "",
                               "range": f"{prm.range[0]:g}-{prm.range[1]:g}" if prm.range else ""})
        if provenance:
            st.markdown("Where every number comes from:")
            st.dataframe(pd.DataFrame(provenance), hide_index=True, key="provenance_table")

    elif view == "Educator":
        cases = example_cases(validation_dir() / "cases", networks_dir() / network.id / "examples")
        if not cases:
            st.info("No example cases for this network.")
        else:
            name = st.selectbox("Case", list(cases), key="edu_case", format_func=lambda n: cases[n].title or n)
            case = cases[name]
            if case.note:
                st.markdown(f"_{case.note}_")
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
            revealed = [f"{s.revealed} = {case.evidence.findings.get(s.revealed, 'uncertain')}"
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
                      on_click=load_example, args=(network, case, entry_variables))

    elif view == "Case":
        note = st.text_area("Note (saved in the case file)", key="note", max_chars=2000)
        case = Case(evidence, network=f"{info.id}@{info.version}", note=note or "")
        st.download_button("Download this case (JSON)", case.to_json(), file_name=f"{info.id}-case.json",
                           mime="application/json", key="download_case")
        st.file_uploader("Load a case file (JSON or YAML, up to 1 MB)", type=["json", "yaml", "yml"], key="case_upload",
                         on_change=on_case_upload, args=(network, entry_variables))
        st.markdown("**Share:** the address bar reproduces this case exactly (each finding is a query parameter).")
        st.code("?" + "&".join(f"{k}={v}" for k, v in url.items()), language=None)
        st.code(f"bn query {info.id}@{info.version} " + " ".join(f"-e {k}={v}" for k, v in evidence.findings.items())
                + "".join(f" --soft {k}={network[k].on_state}:{lik[network[k].on_state]:g}"
                          for k, lik in evidence.soft_findings.items()), language="bash")

    elif view == "About":
        meta = network.meta
        st.markdown(f"### {network.title}")
        st.markdown(f"Network `{info.id}` version **{info.version}**, sha256 `{info.sha256}`")
        for key in ("population", "description", "disclaimer"):
            if meta.get(key):
                st.markdown(f"**{key.capitalize()}.** {meta[key]}")
        if meta.get("authors"):
            st.markdown(f"**Authors.** {', '.join(meta['authors'])}; licence {meta.get('license', 'not stated')}")
        counts = network.provenance_counts()
        st.markdown(f"**Parameters.** {counts['total']}: {counts['cited']} cited, {counts['expert_estimate']} expert "
                    f"estimates, {counts['uncited']} uncited.")
        for entry in meta.get("changelog") or []:
            st.markdown(f"- **{entry['version']}** ({entry.get('date', '')}): " + " ".join(entry["changes"]))
        if network.references:
            st.dataframe(pd.DataFrame([{"key": r.key, "citation": r.citation, "measured": r.measured}
                                       for r in network.references.values()]), hide_index=True, key="references")

st.divider()
st.session_state["render_ms"] = 1000 * (time.perf_counter() - started)  # read by bench/app_rerun.py
st.caption(f"Network {info.id} {info.version} · sha256 {info.sha256[:16]}… · page computed in "
           f"{st.session_state['render_ms']:.0f} ms · {DISCLAIMER}")

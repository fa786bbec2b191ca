"""The page's state changes: loading networks (cached across sessions), and the callbacks that set widget
values (Streamlit runs them before the script, so they may). Nothing here computes a result: it calls ``bn``."""

from __future__ import annotations

import streamlit as st

import bn
from bn import limits
from bn.evidence import Case, Evidence, parse_case
from bn.interop import parse_upload
from bn.isolate import check_upload

UNKNOWN, UNCERTAIN = "unknown", "uncertain"
UNCERTAIN_LEVEL = 70  # where an uncertain finding's "how sure" slider starts (%)
UPLOADED = "uploaded file"
def upload_mb(name: str) -> int:
    """A size limit of :mod:`bn.limits` in whole MB, for an uploader's ``max_upload_size``."""
    return max(1, -(-getattr(limits.current(), name) // limits.MB))


def too_large(upload, name: str) -> str | None:
    """Why an upload is over its size limit (the limit called ``name``), or None."""
    most = getattr(limits.current(), name)
    size = len(upload.getvalue())
    return f"{upload.name}: {size:,} bytes; the limit is {most:,} ({name})" if size > most else None


@st.cache_resource(show_spinner="Compiling the network...")
def load_published(reference: str) -> bn.BayesNet:
    return bn.load(reference)


@st.cache_resource(show_spinner="Compiling the uploaded network...", max_entries=8)
def load_uploaded(name: str, data: bytes) -> bn.BayesNet:
    return bn.load(parse_upload(name, data))


@st.cache_data(show_spinner=False, max_entries=16)
def prior_marginals(sha256: str, _net: bn.BayesNet) -> dict[str, dict[str, float]]:
    """Every variable's prior, once per network (by content hash) rather than on every draw of the graph."""
    return _net.marginals()


# -- state changes (callbacks run before the script, so they may set widget values) ------------------------

def set_state(key: str, value: object) -> None:
    """A button that moves another widget (e.g. "go to this neighbour" sets the Network panel's variable)."""
    st.session_state[key] = value


def quick_add(vid: str) -> None:
    """The "add a finding" box: the chosen state goes to that finding's own control, and the box clears.
    The state control is keyed by the finding, so a click on a control still shown from the previous pick can
    never enter a state for the wrong finding."""
    state = st.session_state.pop(f"quick_state_{vid}", None)
    if state:
        st.session_state[vid] = state
        st.session_state["quick_pick"] = None


def reset_findings(variables: list[str]) -> None:
    for vid in variables:
        st.session_state[vid] = UNKNOWN
        st.session_state.pop(f"{vid}.soft", None)  # kept while hidden (persist_state): a new one starts afresh


def apply_finding(vid: str, state: str) -> None:
    st.session_state[vid] = state


def flash_error(message: str) -> None:
    """An error shown once at the top of the next page drawn, after any error already waiting there."""
    earlier = st.session_state.get("flash", ("", ""))[1]
    st.session_state["flash"] = ("error", f"{earlier} {message}" if earlier else message)


def takes_uncertain(v) -> bool:
    """Whether a finding's control offers "uncertain" (a soft finding): yes/no findings and red flags."""
    return v.card == 2 and v.role in ("finding", "red_flag")


def fit_findings(network, variables: list[str]) -> list[str]:
    """Findings kept in the session that this network's controls cannot show (a state of another network's
    variable of the same id, "uncertain" where it is not offered): set back to unknown, and named for a
    message. After a switch of network the others stay entered."""
    cleared = []
    for vid in variables:
        value = st.session_state.get(vid, UNKNOWN)
        v = network[vid]
        if value != UNKNOWN and value not in v.state_ids and not (value == UNCERTAIN and takes_uncertain(v)):
            st.session_state[vid] = UNKNOWN
            # the entered state belongs to another network, whose labels are gone: the finding is named, not it
            cleared.append(f"{v.display_label} (uncertain)" if value == UNCERTAIN else v.display_label)
    return cleared


def read_finding(hard: dict[str, str], soft: dict[str, dict[str, float]], v, choice: str, level: int) -> None:
    """A finding's control into the evidence: its state, or when uncertain its level in % as a likelihood."""
    if choice == UNCERTAIN:
        other = next(s for s in v.state_ids if s != v.on_state)
        soft[v.id] = {v.on_state: level / 100, other: 1 - level / 100}
    elif choice not in (UNKNOWN, None):
        hard[v.id] = choice


def load_case_into_widgets(network, case: Case, variables: list[str]) -> None:
    ev = case.evidence.validate(network)
    reset_findings(variables)
    for vid, state in ev.findings.items():
        st.session_state[vid] = state
    for vid, lik in ev.soft_findings.items():
        v = network[vid]
        positive = v.on_state
        if not takes_uncertain(v):
            raise bn.EvidenceError(f"soft finding {vid}: the app takes soft findings for binary findings only")
        st.session_state[vid] = UNCERTAIN
        st.session_state["allow_uncertain"] = True
        st.session_state[f"{vid}.soft"] = min(99, max(1, round(100 * lik[positive] / sum(lik.values()))))
    st.session_state["note"] = case.note


def load_example(network, case: Case, variables: list[str]) -> None:
    try:
        load_case_into_widgets(network, case, variables)
    except bn.BNError as exc:
        st.session_state["flash"] = ("error", f"Could not load that case; your findings are unchanged. {exc}")


def notice(where: str, kind: str, text: str) -> None:
    """A message for the next run, shown next to the control it is about (``show_notice(where)``)."""
    st.session_state.setdefault("notices", {})[where] = (kind, text)


def show_notice(where: str) -> None:
    """The message left for this place by a callback, once, where the user is looking."""
    kind, text = st.session_state.get("notices", {}).pop(where, (None, None))
    if text:
        (st.success if kind == "success" else st.error)(text)


def on_case_upload(network, variables: list[str]) -> None:
    upload = st.session_state.get("case_upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        if why := too_large(upload, "case_bytes"):
            raise bn.CaseFileError(why)
        check_upload("case", upload.name, data)
        case = parse_case(data, upload.name)
        if case.network and case.network.partition("@")[0] != network.id:
            raise bn.CaseFileError(f"{upload.name} was made for network '{case.network}', not '{network.id}'")
        load_case_into_widgets(network, case, variables)
        notice("case", "success", f"Loaded case {upload.name}.")
    except bn.BNError as exc:
        notice("case", "error", f"Could not load that case; your findings are unchanged. {exc}")


def on_network_upload() -> None:
    upload = st.session_state.get("network_upload")
    if upload is None:
        return
    data = upload.getvalue()
    try:
        if why := too_large(upload, "network_bytes"):
            raise bn.NetworkFileError([bn.errors.Problem(upload.name, None, why)])
        check_upload("network", upload.name, data)
        load_uploaded(upload.name, data)
        st.session_state["uploaded_network"] = (upload.name, data)
        st.session_state["network"] = UPLOADED
        notice("network", "success", f"Loaded network file {upload.name}.")
    except bn.BNError as exc:
        notice("network", "error", f"Could not load that network; nothing changed. {exc}")


def pin_scenario(evidence: Evidence) -> None:
    pinned = st.session_state.setdefault("scenarios", [])
    pinned.append({"name": f"Scenario {chr(ord('A') + len(pinned) % 26)}", "evidence": evidence.to_dict()})

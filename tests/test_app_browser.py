"""The app in a real browser: Debian's chromium driven by Playwright; one server and one browser for all tests.

Covers what only a browser can show: clicking findings, the URL round trip, download then upload of a case,
a bad upload, two independent sessions, the rendered graph, and that no request leaves 127.0.0.1.
A full-page screenshot is saved to build/test-artifacts/.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import ROOT
from playwright.sync_api import Page, expect, sync_playwright

from bench.app_page import SERVER_ENV, results_visible, settled_at

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = ROOT / "build" / "test-artifacts"
TIMEOUT = 30_000
expect.set_options(timeout=TIMEOUT)  # a loaded 2-core machine: every expectation waits as long as the others
SERVER_LOG: list = []  # the server's log file, for tests that check it stays free of warnings
SERVER_PID: list = []  # the server's process, for tests that read its memory
# Uploads are read in a child process stopped after this many seconds (bn.limits parse_seconds, 30 by default):
# short enough for a test, long enough for the shipped network (about 2 s) on a loaded machine.
PARSE_SECONDS = 10



@pytest.fixture(scope="session")
def knee(shipped):
    """The app opens on the shipped (latest) network: its answers are compared with that network's."""
    return shipped

@pytest.fixture(scope="session")
def server(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {**os.environ, "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none", "BN_LIMITS": f"parse_seconds={PARSE_SECONDS}",
           **SERVER_ENV}
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
            stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not become ready:\n{log.read_text()}")
        time.sleep(0.2)
    SERVER_LOG.append(log)
    SERVER_PID.append(proc.pid)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: 'make test' installs Debian's chromium package")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, server):
    """Open the app (optionally with a query string) in a fresh browser context; checks no outside requests."""
    contexts = []
    outside: list[str] = []

    def open_(query: str = "") -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
                else outside.append(r.url))
        page.goto(server + "/" + query)
        expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-connection-state", "CONNECTED",
                                                               timeout=TIMEOUT)
        expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=TIMEOUT)
        return page

    yield open_
    for context in contexts:
        context.close()
    assert outside == [], f"the page fetched outside resources: {outside}"


def control(page: Page, label: str):
    """A finding's unknown / absent / present control in the sidebar (the last of that name: the "add a finding"
    box above the groups shows one too while that finding is picked)."""
    return page.get_by_test_id("stSidebar").get_by_test_id("stButtonGroup").filter(
        has=page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True)).last


def chosen(page: Page, label: str):
    return control(page, label).locator("button[aria-checked=true]")


def open_group(page: Page, group: str) -> None:
    """Open a group of findings with its pill (every group starts closed); one that is open stays open."""
    pill = page.get_by_test_id("stSidebar").get_by_test_id("stButtonGroup").filter(
        has=page.get_by_test_id("stWidgetLabel").get_by_text("Finding groups", exact=True)).get_by_role(
        "button", name=re.compile(rf"^{group}( \(\d+\))?$"))
    if pill.get_attribute("aria-pressed") != "true":
        pill.click()
    expect(page.locator(f".st-key-group_{group.replace(' ', '_')}")).to_be_visible(timeout=TIMEOUT)


def click_finding(page: Page, label: str, state_label: str, group: str) -> None:
    open_group(page, group)
    control(page, label).get_by_text(state_label, exact=True).click()


def metric(page: Page, label: str):
    return page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)).get_by_test_id("stMetricValue")


def pct(p: float) -> str:
    return f"{p:.1%}" if 0 < p < 0.01 or 0.99 < p < 1 else f"{p:.0%}"


def view(page: Page, name: str) -> None:
    page.get_by_test_id("stMain").get_by_test_id("stButtonGroup").get_by_text(name, exact=True).click()


def test_click_findings_and_compare_with_bn_query(open_page, knee):
    page = open_page()
    expect(page.get_by_text("not a medical device").first).to_be_visible()
    click_finding(page, "Knee pain", "Present", "History")
    expected = knee.query({"knee_pain": "present"}).knee_pain_source
    expect(metric(page, "Knee")).to_have_text(pct(expected["knee"]), timeout=TIMEOUT)
    click_finding(page, "Straight leg raise", "Positive", "Examination")
    case = {"knee_pain": "present", "straight_leg_raise": "positive"}
    cli = subprocess.run([sys.executable, "-m", "bn", "query", "l4l5_knee", "--json",
                          *[a for k, v in case.items() for a in ("-e", f"{k}={v}")]],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    sources = json.loads(cli.stdout)["knee_pain_source"]
    for key, label in (("l4l5_spine", "L4-L5 spine"), ("knee", "Knee"), ("hip", "Hip"), ("other", "Other causes")):
        expect(metric(page, label)).to_have_text(pct(sources[key]), timeout=TIMEOUT)
    # the URL now reproduces the case
    expect(page).to_have_url(re.compile(r"[?&]knee_pain=present(&|$)"), timeout=TIMEOUT)
    expect(page).to_have_url(re.compile(r"[?&]straight_leg_raise=positive(&|$)"), timeout=TIMEOUT)
    expect(page).to_have_url(re.compile(rf"[?&]network=l4l5_knee%40{re.escape(knee.info.version)}(&|$)"),
                             timeout=TIMEOUT)
    # a full-page screenshot as an artifact
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(900, height)})
    page.screenshot(path=str(ARTIFACTS / "app-full.png"), full_page=True)


def test_shared_url_reproduces_the_case(open_page, knee):
    page = open_page("?network=l4l5_knee&knee_pain=present&mcmurray_test=positive&age_group=65_plus"
                     "&leg_pain_below_knee=present:0.8&view=Why")
    expected = knee.query({"knee_pain": "present", "mcmurray_test": "positive", "age_group": "65_plus"},
                          soft={"leg_pain_below_knee": {"present": 0.8, "absent": 0.2}})
    expect(metric(page, "Knee")).to_have_text(pct(expected.knee_pain_source["knee"]), timeout=TIMEOUT)
    open_group(page, "History")
    open_group(page, "Patient")
    expect(chosen(page, "Knee pain")).to_have_text("Present")
    expect(chosen(page, "Age group")).to_have_text("65 years and over")
    expect(chosen(page, "Radiating (sciatica-type) pain travelling down the leg below the knee")).to_have_text(
        "Uncertain")  # a soft finding in the link turns on the toggle that offers "Uncertain"
    # a mistyped link still opens, and says what it ignored
    page = open_page("?knee_pain=present&knee_pian=present")
    expect(page.get_by_text("Some parts of the link were ignored")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("did you mean knee_pain")).to_be_visible(timeout=TIMEOUT)


def test_download_then_upload_case_and_bad_upload(open_page, knee, tmp_path):
    page = open_page("?knee_pain=present&knee_effusion=present")
    view(page, "Case")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download this case (JSON)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    data = json.loads(saved.read_text())
    assert data["network"] == f"l4l5_knee@{knee.info.version}"
    assert data["findings"] == {"knee_pain": "present", "knee_effusion": "present"}
    # the printable summary: one A4 page naming the network, the findings in labels and the disclaimer
    with page.expect_download() as download:
        page.get_by_role("button", name="Printable one-page summary (HTML)").click()
    summary = tmp_path / download.value.suggested_filename
    download.value.save_as(summary)
    printed = page.context.new_page()
    printed.goto(summary.as_uri())
    text = printed.locator("body").inner_text()
    assert knee.info.sha256 in text and "not a medical device" in text
    assert f"{knee.network['knee_effusion'].display_label}: Present" in text
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pdf = printed.pdf(format="A4", path=str(ARTIFACTS / "case-summary.pdf"))
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    printed.close()
    # reset, then upload the file back
    page.get_by_role("button", name="Reset all findings").click()
    expected_prior = knee.query({}).knee_pain_source["knee"]
    expect(metric(page, "Knee")).to_have_text(pct(expected_prior), timeout=TIMEOUT)
    uploader = page.get_by_test_id("stMain").get_by_test_id("stFileUploaderDropzoneInput")
    uploader.set_input_files(str(saved))
    expected = knee.query({"knee_pain": "present", "knee_effusion": "present"}).knee_pain_source["knee"]
    expect(metric(page, "Knee")).to_have_text(pct(expected), timeout=TIMEOUT)
    expect(page.get_by_text("Loaded case")).to_be_visible(timeout=TIMEOUT)
    # a malformed case: a clear message, and the findings stay
    bad = tmp_path / "bad.json"
    bad.write_text('{"findings": {"knee_pain": "sometimes"}}')
    uploader.set_input_files(str(bad))
    expect(page.get_by_text("Could not load that case")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("valid states: absent, present")).to_be_visible(timeout=TIMEOUT)
    expect(metric(page, "Knee")).to_have_text(pct(expected), timeout=TIMEOUT)


def test_two_sessions_are_independent(open_page, knee):
    first = open_page()
    second = open_page()
    click_finding(first, "Knee pain", "Present", "History")
    expected = knee.query({"knee_pain": "present"}).knee_pain_source["knee"]
    expect(metric(first, "Knee")).to_have_text(pct(expected), timeout=TIMEOUT)
    second.reload()
    expect(metric(second, "Knee")).to_have_text(pct(knee.query({}).knee_pain_source["knee"]), timeout=TIMEOUT)
    # "History", not "History (1)": the other session's finding is not counted here
    expect(second.get_by_role("button", name="History", exact=True)).to_be_visible(timeout=TIMEOUT)
    open_group(second, "History")
    expect(chosen(second, "Knee pain")).to_have_text("Unknown", timeout=TIMEOUT)


def test_a_link_with_a_view_opens_it_without_a_warning(open_page, knee):
    page = open_page("?knee_pain=present&view=Network")
    expect(page.get_by_test_id("stGraphVizChart").locator("svg")).to_be_visible(timeout=TIMEOUT)
    log = SERVER_LOG[0].read_text()
    assert "Session State" not in log and "Traceback" not in log, log[-2000:]


def test_network_graph_renders(open_page, knee):
    from bn.graph import neighbourhood

    network = knee.network
    page = open_page("?knee_pain=present")
    view(page, "Network")
    svg = page.get_by_test_id("stGraphVizChart").locator("svg")
    expect(svg).to_be_visible(timeout=TIMEOUT)
    first = next(iter(network.variables))
    expect(svg.locator("g.node")).to_have_count(len(neighbourhood(network, first)), timeout=TIMEOUT)
    # One click on a neighbour refocuses the graph on it, with its label and its belief line in the node.
    target = "disc_herniation"
    page.get_by_role("button", name=network[target].display_label, exact=True).click()
    expect(svg.locator("g.node")).to_have_count(len(neighbourhood(network, target)), timeout=TIMEOUT)
    p = knee.marginals(findings={"knee_pain": "present"})[target]["present"]
    expect(svg.locator("g.node").filter(has_text="herniation").first).to_contain_text(f"Present: {p:.0%}",
                                                                                     timeout=TIMEOUT)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_test_id("stGraphVizChart").screenshot(path=str(ARTIFACTS / "graph-neighbourhood.png"))


def test_clicking_a_node_shows_its_table_and_sources(open_page, knee):
    """Issue 15: each node of the graph links to the same case with that variable chosen: its table and the
    source of every number, and a link that can be shared."""
    network = knee.network
    page = open_page("?knee_pain=present&view=Network")
    svg = page.get_by_test_id("stGraphVizChart").locator("svg")
    target = "disc_herniation"
    svg.locator("g.node").filter(has_text=network[target].display_label).first.click()
    page.wait_for_url(re.compile(rf"node={target}"))
    expect(page.get_by_test_id("stGraphVizChart").locator("svg")).to_be_visible()
    main = page.get_by_test_id("stMain")
    expect(main.get_by_role("combobox", name="Variable")).to_have_value(network[target].display_label)
    expect(main.get_by_text(f"{network[target].display_label} (", exact=False).first).to_be_visible()
    expect(main.get_by_text("Where every number comes from:")).to_be_visible()
    params = parse_qs(urlparse(page.url).query)
    assert params["knee_pain"] == ["present"] and params["view"] == ["Network"] and params["node"] == [target]


def test_bad_network_upload_keeps_the_case(open_page, knee, tmp_path):
    page = open_page("?knee_pain=present")
    expected = pct(knee.query({"knee_pain": "present"}).knee_pain_source["knee"])
    expect(metric(page, "Knee")).to_have_text(expected, timeout=TIMEOUT)
    broken = tmp_path / "broken.yaml"
    broken.write_text("format: bn-network/1\nnetwork: {id: x, title: x, version: 1.0.0}\nvariables:\n"
                      "  - {id: a, states: [{id: s}], cpt: {table: {parents: [b], rows: []}}}\n")
    page.get_by_test_id("stSidebar").get_by_text("Load another network file", exact=True).click()
    page.get_by_test_id("stSidebar").get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(broken))
    expect(page.get_by_text("Could not load that network; nothing changed")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("broken.yaml: variable 'a'").first).to_be_visible(timeout=TIMEOUT)
    expect(metric(page, "Knee")).to_have_text(expected, timeout=TIMEOUT)
    open_group(page, "History")
    expect(chosen(page, "Knee pain")).to_have_text("Present")


def resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def test_a_hostile_upload_does_not_slow_another_session(open_page, knee, tmp_path):
    """Issue 14: one session uploads networks that every reader accepts but that take a gigabyte or minutes to
    compile; another session keeps getting its answers in its usual time, and the server's memory stays put."""
    from bench.fuzz import heavy_tables_network, wide_network

    network = knee.network
    other, uploader = open_page(), open_page("?knee_pain=present")
    states = ["present", "absent"]
    answers = {s: pct(knee.query({"knee_pain": s}).knee_pain_source["knee"]) for s in states}

    def toggle(k: int) -> float:
        started = time.perf_counter()
        click_finding(other, "Knee pain", network["knee_pain"].state_label(states[k % 2]), "History")
        expect(metric(other, "Knee")).to_have_text(answers[states[k % 2]], timeout=TIMEOUT)
        return time.perf_counter() - started

    before = sorted(toggle(k) for k in range(4))
    memory_before = resident_mb(SERVER_PID[0])
    uploader.get_by_test_id("stSidebar").get_by_text("Load another network file", exact=True).click()
    dropzone = uploader.get_by_test_id("stSidebar").get_by_test_id("stFileUploaderDropzoneInput")
    during: list[float] = []
    # The heavy file reaches 1 GB after 6-12 s, so either of its limits may stop it first.
    for name, data, limit in (("heavy.yaml", heavy_tables_network(100), "parse_memory_bytes|parse_seconds"),
                              ("wide.yaml", wide_network(22), "parse_seconds")):
        (tmp_path / name).write_bytes(data)
        dropzone.set_input_files(str(tmp_path / name))
        refused = uploader.get_by_text(re.compile(rf"{name}: .* the limit \(({limit})\); nothing was loaded"))
        started = time.perf_counter()
        while not refused.is_visible():  # the other session works on while the upload is read
            during.append(toggle(len(during)))
            assert time.perf_counter() - started < PARSE_SECONDS + 30, f"{name} was not refused"
        expect(uploader.get_by_text(f"Could not load that network; nothing changed. {name}")).to_be_visible()
    memory_after = resident_mb(SERVER_PID[0])
    expect(metric(uploader, "Knee")).to_have_text(answers["present"])  # the uploader's case is untouched
    (ARTIFACTS / "hostile-upload.txt").write_text(
        f"clicks before: {before}\nclicks during: {sorted(during)}\n"
        f"server memory {memory_before:.0f} MB -> {memory_after:.0f} MB\n")
    assert len(during) >= 3
    median = sorted(during)[len(during) // 2]
    assert median < 3 * before[len(before) // 2] + 1.0, (before, during)
    assert memory_after - memory_before < 300, (memory_before, memory_after)  # the 1.7 GB stayed in the child


def test_a_ten_finding_case_in_at_most_twenty_clicks(open_page, knee):
    """Issue 15: the "Add a finding" box enters a case without scrolling past groups; the clicks are counted
    (typing a few letters of a finding's name is not a click)."""
    network = knee.network
    case = {"age_group": "65_plus", "knee_pain": "present", "back_pain": "present",
            "neurogenic_claudication": "present", "no_pain_when_seated": "present",
            "straight_leg_raise": "negative", "knee_pain_on_knee_examination": "absent",
            "knee_effusion": "absent", "hip_internal_rotation_painful": "absent", "pedal_pulses": "normal"}
    page = open_page()
    sidebar = page.get_by_test_id("stSidebar")
    clicks = 0
    for var, state in case.items():
        sidebar.get_by_test_id("stSelectbox").filter(has_text="Add a finding").locator("input").click()
        clicks += 1
        page.keyboard.type(network[var].display_label)
        page.keyboard.press("Enter")
        # the result buttons of this finding (not a control still shown from the previous pick)
        label = page.get_by_test_id("stWidgetLabel").get_by_text(network[var].display_label, exact=True)
        sidebar.locator(".st-key-quick_add").get_by_test_id("stElementContainer").filter(has=label).get_by_test_id(
            "stButtonGroup").get_by_text(network[var].state_label(state), exact=True).click()
        clicks += 1
        chip = page.get_by_test_id("stMain").get_by_role("button", name=f"{network[var].display_label}: "
                                                         f"{network[var].state_label(state)}")
        expect(chip).to_be_visible(timeout=TIMEOUT)
    expected = knee.query(case).knee_pain_source
    expect(metric(page, "Knee")).to_have_text(pct(expected["knee"]), timeout=TIMEOUT)
    expect(metric(page, "L4-L5 spine")).to_have_text(pct(expected["l4l5_spine"]), timeout=TIMEOUT)
    (ARTIFACTS / "clicks.txt").write_text(f"{len(case)} findings entered in {clicks} clicks\n")
    assert clicks <= 20
    # ten chips wrap into rows of text height, not a button's height and a gap (56 px apart before)
    boxes = [b.bounding_box() for b in page.locator(".st-key-chips button").all()]
    tops = sorted({round(box["y"]) for box in boxes if box})
    assert len(tops) >= 3 and max(b - a for a, b in itertools.pairwise(tops)) < 36, tops


def test_the_timing_budget_is_recorded(browser, server, knee):
    """Issue 15's timing budget, recorded in build/test-artifacts/timing.json beside the machine's load and not
    asserted (a shared machine's load moves it; `python -m bench.app_page` measures it on a quiet one): results
    visible and settled, by the page's clock checked each frame, then a click settled and the server's time for
    it. Asserted: each figure was taken on the right answer."""
    network = knee.network
    before = knee.query({"knee_pain": "present"}).knee_pain_source
    after = knee.query({"knee_pain": "present", "back_pain": "present"}).knee_pain_source
    assert pct(before["knee"]) != pct(after["knee"])  # so the click's answer cannot be the page before it
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(server + "/?knee_pain=present")
        visible, shown = results_visible(page, expect=pct(next(iter(before.values()))), timeout=TIMEOUT)
        assert shown == pct(next(iter(before.values())))  # the first source's number, as bn gives it
        settled = settled_at(page, timeout=TIMEOUT)
        expect(metric(page, "Knee")).to_have_text(pct(before["knee"]))
        open_group(page, "History")
        settled_at(page, timeout=TIMEOUT)
        started = time.perf_counter()
        control(page, network["back_pain"].display_label).get_by_text(
            network["back_pain"].state_label("present"), exact=True).click()
        page.wait_for_function("([el, want]) => el && el.textContent === want && "
                               "!document.querySelector('[data-testid=stStatusWidget]') && "
                               "!document.querySelector('[data-stale=true]')",
                               arg=[metric(page, "Knee").element_handle(), pct(after["knee"])], polling="raf",
                               timeout=TIMEOUT)
        click = time.perf_counter() - started
        caption = page.get_by_text("page computed in").last.inner_text()
        server_s = float(caption.split("page computed in ")[1].split(" ms")[0]) / 1000
    finally:
        context.close()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    record = {"results_visible_s": round(visible, 3), "settled_s": round(settled, 3),
              "click_settled_s": round(click, 3), "click_server_s": round(server_s, 3),
              "budget": {"results_visible_s": 2.0, "settled_s": 3.0, "click_server_s": 0.3},
              "load_average_1min": round(os.getloadavg()[0], 2),
              "network": f"{knee.info.id} {knee.info.version} {knee.info.sha256[:16]}"}
    (ARTIFACTS / "timing.json").write_text(json.dumps(record, indent=2) + "\n")
    assert 0 < visible <= settled and 0 < server_s < click


def focused(page: Page) -> list[str]:
    """The focused element: tag, accessible name (or text), role, aria-checked."""
    return page.evaluate("() => { const e = document.activeElement; return [e.tagName, e.getAttribute('aria-label')"
                         " || (e.innerText || '').slice(0, 60), e.getAttribute('role') || '',"
                         " e.getAttribute('aria-checked') || '']; }")


def tab_to(page: Page, wanted, limit: int = 120) -> list[str]:
    """Press Tab until the focused element satisfies ``wanted``."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if wanted(now):
            return now
    raise AssertionError(f"Tab did not reach the element (last focus: {focused(page)})")


def test_a_case_entered_with_the_keyboard_only(open_page, knee):
    """Issue 15: Tab, typing, arrows, Space and Enter enter a whole case, an uncertain finding included; no
    mouse event is used after the page opens."""
    from bn.evidence import Evidence

    network = knee.network
    page = open_page()
    case = {"knee_pain": "present", "age_group": "65_plus", "straight_leg_raise": "negative"}
    for var, state in case.items():
        v = network[var]
        tab_to(page, lambda f: f[0] == "INPUT" and "Add a finding" in f[1])
        page.keyboard.type(v.display_label)
        page.keyboard.press("Enter")
        expect(page.locator(".st-key-quick_add").get_by_test_id("stButtonGroup")).to_be_visible()
        tab_to(page, lambda f: f[2] == "radio", limit=5)  # the first result; arrows move along the results
        for _ in range(list(v.state_ids).index(state)):
            page.keyboard.press("ArrowRight")
        assert focused(page)[1] == v.state_label(state)
        page.keyboard.press("Space")
        expect(page.get_by_test_id("stMain").get_by_role(
            "button", name=f"{v.display_label}: {v.state_label(state)}")).to_be_visible()
    # An uncertain finding: the "Uncertain findings" toggle, the new option of its control, then the slider,
    # 70% moved to 72%.
    back = network["back_pain"]

    def inside(testid: str) -> str:
        return page.evaluate(f"() => document.activeElement.closest('[data-testid={testid}]')?.innerText || ''")

    tab_to(page, lambda f: f[0] == "INPUT" and inside("stCheckbox").startswith("Uncertain findings"), limit=20)
    page.keyboard.press("Space")
    # The groups' pills take one Tab stop (the first pill); arrows move along them, Space opens one.
    tab_to(page, lambda f: f[0] == "BUTTON" and f[1].startswith("Patient"), limit=10)
    page.keyboard.press("ArrowRight")
    assert focused(page)[1].startswith("History")
    page.keyboard.press("Space")
    expect(control(page, back.display_label).get_by_text("Uncertain", exact=True)).to_be_visible()
    # Tab reaches a control's chosen option; arrows move along its options, Space chooses.
    tab_to(page, lambda f: f[2] == "radio" and inside("stButtonGroup").startswith(back.display_label), limit=200)
    for _ in range(3):  # unknown -> absent -> present -> uncertain
        page.keyboard.press("ArrowRight")
    assert focused(page)[1] == "Uncertain"
    page.keyboard.press("Space")
    expect(chosen(page, back.display_label)).to_have_text("Uncertain")
    slider = page.get_by_test_id("stSidebar").get_by_role("slider")
    expect(slider).to_be_visible()
    tab_to(page, lambda f: f[0] == "INPUT" and f[1].startswith("How sure"), limit=5)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(slider).to_have_value("72")
    expected = knee.query(Evidence(case, {"back_pain": {back.on_state: 0.72, "absent": 0.28}})).knee_pain_source
    expect(metric(page, "Knee")).to_have_text(pct(expected["knee"]))
    expect(metric(page, "L4-L5 spine")).to_have_text(pct(expected["l4l5_spine"]))


AXE = ROOT / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def settle(page: Page) -> None:
    """Wait until the app has finished its run (no "Running" indicator) and the results are drawn."""
    expect(metric(page, "Knee")).to_be_visible()
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    expect(page.locator("[data-stale='true']")).to_have_count(0)  # elements of the last run fade until replaced
    page.wait_for_timeout(500)  # the new elements fade in


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .filter(v => ['serious', 'critical'].includes(v.impact))
        .map(v => `${v.id} (${v.nodes.length}): ${v.nodes[0].html.slice(0, 100)}`)""")


def test_accessibility_axe_on_every_panel_and_two_small_screens(open_page, knee):
    assert AXE.is_file(), f"{AXE} is missing: 'make test' installs axe-core with npm"
    page = open_page("?knee_pain=present&straight_leg_raise=positive&age_group=65_plus")
    settle(page)
    found = {"main page": serious_violations(page)}
    for name in ("What next", "Sensitivity", "Compare", "Network", "Educator", "Case", "Learn", "About", "Why"):
        view(page, name)
        # the run for this view has begun once the address says so; then wait for it to finish
        page.wait_for_url(lambda url, name=name: parse_qs(urlparse(url).query).get("view", ["Why"])[0] == name)
        settle(page)
        found[name] = serious_violations(page)
    assert not {k: v for k, v in found.items() if v}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((390, 844), (820, 1180)):  # a phone and a tablet
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        settle(page)
        scroll = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll[0] <= scroll[1] + 1, f"horizontal scroll at {width} px: {scroll}"
        page.screenshot(path=str(ARTIFACTS / f"main-{width}px.png"), full_page=True)
        assert not serious_violations(page), width

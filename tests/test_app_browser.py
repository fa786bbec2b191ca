"""The app in a real browser: Debian's chromium driven by Playwright, one server and one browser for all."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from conftest import ROOT
from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {**os.environ, "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none"}
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
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else outside.append(r.url))
    page.goto(server)
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=30_000)
    yield page
    context.close()
    assert outside == [], f"the page fetched outside resources: {outside}"


def test_app_renders_answer_and_disclaimer(page, knee):
    expect(page.get_by_text("not a medical device").first).to_be_visible(timeout=30_000)
    metric = page.get_by_test_id("stMetric").filter(has_text="L4-L5 spine").get_by_test_id("stMetricValue")
    prior = knee.query({}).knee_pain_source["l4l5_spine"]
    expect(metric).to_have_text(f"{prior:.0%}", timeout=30_000)


def test_choosing_a_finding_updates_the_answer(page, knee):
    expect(page.get_by_test_id("stMetric").first).to_be_visible(timeout=30_000)
    label = knee.network["knee_locking_catching"].display_label  # in the open History panel
    box = page.get_by_test_id("stSelectbox").filter(has_text=label)
    box.click()
    page.get_by_role("option", name="present", exact=True).click()
    expected = knee.query({"knee_locking_catching": "present"}).knee_pain_source["knee"]
    metric = page.get_by_test_id("stMetric").filter(has_text="Knee").get_by_test_id("stMetricValue")
    expect(metric.first).to_have_text(f"{expected:.0%}", timeout=30_000)

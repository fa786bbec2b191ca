"""Many clinicians at once: N concurrent browser sessions against one local app server (issue 14).

Run: ``.venv/bin/python -m bench.load [--sessions 1,5,10,20] [--clicks 4] [--record]``. Starts one Streamlit
server on the shipped network (127.0.0.1 only), warms it with one visit, then for each N in turn opens N
sessions at once in Debian's chromium (one Playwright context each) and has every session:

1. open the app with its own case in the link (age group and sex differ between sessions);
2. click a finding ``--clicks`` times (low back pain present, absent, ...), each time waiting until the page
   shows the knee probability ``bn`` computes for *that session's* findings, so an answer that leaked from
   another session is caught and counted as cross-talk;
3. open the What next panel, then the Sensitivity panel, waiting for each to settle.

It records the median and 95th percentile of the time per click and per panel, the errors and cross-talk, and
the server's resident memory: its peak during the round and after the round's sessions have closed. The rounds
run on one server in order, and the first N is run again at the end: memory after the sessions end must not
grow with the sessions served (no per-session cache growth). ``--record`` writes the table into
docs/reliability.md. Every call has a time limit; the whole run is bounded by ``--max-minutes``.

The browser and the server share the 2-core machine, so at N = 20 the time per click is mostly chromium drawing
20 pages at once: read the server's own share in the page's "computed in" caption (``bench.app_page``).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from pathlib import Path

import bn
from bench.app_page import CHROMIUM, ROOT, SETTLED_JS, SHOWN_JS, _server

REPORT = ROOT / "docs" / "reliability.md"
BEGIN, END = "<!-- load:begin -->", "<!-- load:end -->"
TIMEOUT = 180_000  # ms per browser call: 20 sessions on 2 cores are slow, not stuck


def _resident_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def _cpu_seconds(pid: int) -> float:
    """The server's CPU time so far (user + system), from /proc."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percent(p: float) -> str:
    return f"{p:.1%}" if 0 < p < 0.01 or 0.99 < p < 1 else f"{p:.0%}"


def session_case(k: int, network) -> dict[str, str]:
    """Session ``k``'s own case: knee pain with one of the age-group and sex combinations."""
    ages, sexes = network["age_group"].state_ids, network["sex"].state_ids
    return {"knee_pain": "present", "age_group": ages[k % len(ages)], "sex": sexes[(k // len(ages)) % len(sexes)]}


async def _settled(page) -> float:
    """The page's clock (s from the navigation's start) once it has settled, checked each frame."""
    handle = await page.wait_for_function(SETTLED_JS, polling="raf", timeout=TIMEOUT)
    return await handle.json_value() / 1000


async def _session(browser, url: str, k: int, clicks: int, net, out: dict[str, list]) -> None:
    network = net.network
    case = session_case(k, network)
    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT)
        await page.goto(url + "/?" + "&".join(f"{v}={s}" for v, s in case.items()))
        # Checked every frame, timed by the page's clock from the navigation's start (see bench.app_page).
        await page.wait_for_function(SHOWN_JS, polling="raf")
        out["open"].append(await _settled(page))
        knee = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(
            "Knee", exact=True)).get_by_test_id("stMetricValue")
        # The findings' groups start closed: open History (not timed), where back pain is entered.
        await page.get_by_test_id("stSidebar").get_by_role("button", name=re.compile(r"^History( \(\d+\))?$")).click()
        await page.wait_for_timeout(50)  # the click reaches the server before "settled" can be read
        await _settled(page)
        back = page.get_by_test_id("stSidebar").get_by_test_id("stButtonGroup").filter(
            has=page.get_by_test_id("stWidgetLabel").get_by_text(network["back_pain"].display_label, exact=True)).last
        for i in range(clicks):
            state = network["back_pain"].state_ids[(i + 1) % 2]
            expected = _percent(net.query({**case, "back_pain": state}).knee_pain_source["knee"])
            started = time.perf_counter()
            await back.get_by_text(network["back_pain"].state_label(state), exact=True).click()
            try:
                await page.wait_for_function(
                    "([el, want]) => el && el.textContent === want", arg=[await knee.element_handle(), expected],
                    timeout=TIMEOUT)
            except Exception:
                out["cross-talk"].append((k, i, await knee.inner_text(), expected))
                continue
            await _settled(page)
            out["click"].append(time.perf_counter() - started)
        main = page.get_by_test_id("stMain")
        # What each panel shows once computed, checked every frame (a locator's wait polls every 500 ms). The chart's
        # container exists before vega has drawn into it: wait for a drawn canvas or svg with a size.
        drawn = ("[...m.querySelectorAll('[data-testid=stVegaLiteChart] canvas, [data-testid=stVegaLiteChart] svg')]"
                 ".some(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; })")
        for panel, shows in (("What next", "/— score \\d/.test(m.textContent)"), ("Sensitivity", drawn)):
            started = time.perf_counter()
            await main.get_by_test_id("stButtonGroup").get_by_text(panel, exact=True).click()
            await page.wait_for_function(f"() => {{ const m = document.querySelector('[data-testid=stMain]');"
                                         f" return m && {shows}; }}", polling="raf")
            await _settled(page)
            out["panel"].append(time.perf_counter() - started)
    except Exception as exc:
        out["errors"].append(f"session {k}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()


async def _round(browser, url: str, pid: int, n: int, clicks: int, net) -> dict:
    out: dict[str, list] = {"open": [], "click": [], "panel": [], "errors": [], "cross-talk": []}
    peak = [_resident_mb(pid)]
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            peak.append(_resident_mb(pid))
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    started, cpu = time.perf_counter(), _cpu_seconds(pid)
    await asyncio.gather(*(_session(browser, url, k, clicks, net, out) for k in range(n)))
    wall, cpu = time.perf_counter() - started, _cpu_seconds(pid) - cpu
    done.set()
    await watcher
    await asyncio.sleep(5)  # the server drops a closed session's state when its websocket closes
    return {**out, "n": n, "wall": wall, "server_cpu": cpu, "peak_mb": max(peak), "after_mb": _resident_mb(pid)}


async def _run(sessions: list[int], clicks: int, max_minutes: float) -> tuple[list[dict], float, str]:
    from playwright.async_api import async_playwright

    net = bn.load("l4l5_knee")
    proc, url = _server()
    rounds = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            await _round(browser, url, proc.pid, 1, 1, net)  # warms the server's caches; not reported
            await asyncio.sleep(2)
            warm = _resident_mb(proc.pid)
            deadline = time.monotonic() + 60 * max_minutes
            for n in [*sessions, sessions[0]]:
                if time.monotonic() > deadline:
                    break
                rounds.append(await asyncio.wait_for(_round(browser, url, proc.pid, n, clicks, net),
                                                     timeout=max(60.0, deadline - time.monotonic())))
                print(_line(rounds[-1]), flush=True)
            await browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return rounds, warm, f"{net.info.id} {net.info.version} (sha256 {net.info.sha256[:12]}...)"


def _stats(times: list[float]) -> str:
    if not times:
        return "-"
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.2f} / {p95:.2f}"


def _line(r: dict) -> str:
    return (f"N={r['n']:>2}: open {_stats(r['open'])} s, click {_stats(r['click'])} s, panel {_stats(r['panel'])} s "
            f"(median / p95); {len(r['click'])} clicks, {len(r['errors'])} errors, {len(r['cross-talk'])} "
            f"cross-talk; server CPU {r['server_cpu']:.1f} s of {r['wall']:.1f} s; "
            f"server {r['peak_mb']:.0f} MB at peak, {r['after_mb']:.0f} MB after")


def markdown(rounds: list[dict], warm: float, network: str, clicks: int) -> str:
    sizes = ",".join(str(r["n"]) for r in rounds[:-1])
    lines = [f"Run: `python -m bench.load --sessions {sizes} --clicks {clicks}` on {time.strftime('%Y-%m-%d')}; "
             f"{network}; server and chromium on the same 2-core machine. Server memory after the warm-up visit: "
             f"{warm:.0f} MB. The last row repeats the first N after all the others.", "",
             "| sessions at once | page open, median / p95 (s) | click to answer, median / p95 (s) | panel, median "
             "/ p95 (s) | clicks answered | errors | cross-talk | server CPU / round's wall time (s) | server CPU "
             "per page, click or panel (s) | server memory at peak (MB) | after the sessions closed (MB) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rounds:
        lines.append(f"| {r['n']} | {_stats(r['open'])} | {_stats(r['click'])} | {_stats(r['panel'])} | "
                     f"{len(r['click'])} | {len(r['errors'])} | {len(r['cross-talk'])} | "
                     f"{r['server_cpu']:.1f} / {r['wall']:.1f} | "
                     f"{r['server_cpu'] / max(1, len(r['open']) + len(r['click']) + len(r['panel'])):.2f} | "
                     f"{r['peak_mb']:.0f} | {r['after_mb']:.0f} |")
    problems = [e for r in rounds for e in r["errors"]] + [str(c) for r in rounds for c in r["cross-talk"]]
    if problems:
        lines += ["", "Errors and cross-talk:", *(f"- {p}" for p in problems[:20])]
    return "\n".join(lines)


def record(text: str, path: Path = REPORT) -> None:
    doc = path.read_text()
    block = f"{BEGIN}\n{text}\n{END}"
    doc = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.S) if BEGIN in doc \
        else doc.rstrip() + "\n\n" + block + "\n"
    path.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", default="1,5,10,20", help="session counts, run in turn (default 1,5,10,20)")
    parser.add_argument("--clicks", type=int, default=4, help="finding clicks per session (default 4)")
    parser.add_argument("--max-minutes", type=float, default=30.0, help="stop starting rounds after this long")
    parser.add_argument("--record", action="store_true", help="write the table into docs/reliability.md")
    args = parser.parse_args(argv)
    sessions = [int(s) for s in args.sessions.split(",") if s.strip()]
    if not sessions or min(sessions) < 1 or max(sessions) > 50:
        parser.error("--sessions takes counts from 1 to 50, e.g. 1,5,10,20")
    rounds, warm, network = asyncio.run(_run(sessions, args.clicks, args.max_minutes))
    text = markdown(rounds, warm, network, args.clicks)
    print(text)
    if args.record:
        record(text)
    bad = any(r["errors"] or r["cross-talk"] for r in rounds)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())

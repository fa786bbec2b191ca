"""Server-side time of an app rerun after one finding change, per panel (the app's interactive latency).

Run: ``.venv/bin/python -m bench.app_rerun [--repeats N]``. Uses Streamlit's AppTest, which runs the script
exactly as the server does (minus the websocket); the figure is the script's own time per click, as the app
records it in ``st.session_state["render_ms"]`` (AppTest's own polling would add ~10 ms granularity).
Reports the median and quartiles per panel; the baseline in the same run is a bare ``bn`` query for the same
findings, so the ratio shows what the page adds on top of inference.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import bn

ROOT = Path(__file__).resolve().parent.parent
PANELS = ["Why", "What next", "Sensitivity", "Compare", "Network", "Educator", "Case", "About"]
TOGGLE = ("straight_leg_raise", ["positive", "negative"])


def measure(repeats: int) -> list[dict]:
    from streamlit.testing.v1 import AppTest

    net = bn.load("l4l5_knee")
    rows = []
    for panel in PANELS:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        # Every group starts closed and draws nothing: open knee pain's and TOGGLE's finding's.
        at.pills(key="open_groups").set_value(["History", "Examination"]).run()
        at.segmented_control(key="knee_pain").set_value("present")
        at.session_state["view"] = panel
        at.run()
        times, bare = [], []
        for i in range(repeats):
            state = TOGGLE[1][i % 2]
            at.segmented_control(key=TOGGLE[0]).set_value(state)
            at.run()
            assert not at.exception, at.exception
            times.append(at.session_state["render_ms"] / 1000)
            start = time.perf_counter()
            net.query({"knee_pain": "present", TOGGLE[0]: state})
            bare.append(time.perf_counter() - start)
        q = statistics.quantiles(times, n=4)
        rows.append({"panel": panel, "median_ms": 1000 * statistics.median(times), "q1_ms": 1000 * q[0],
                     "q3_ms": 1000 * q[2], "bare_query_ms": 1000 * statistics.median(bare)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    net = bn.load("l4l5_knee")
    print(f"network {net.info.id} {net.info.version} sha256 {net.info.sha256[:16]}; {args.repeats} reruns per panel")
    print("| panel | rerun median (ms) | IQR (ms) | bare bn query (ms) | ratio |")
    print("|---|---|---|---|---|")
    for r in measure(args.repeats):
        print(f"| {r['panel']} | {r['median_ms']:.0f} | {r['q1_ms']:.0f}-{r['q3_ms']:.0f} | "
              f"{r['bare_query_ms']:.1f} | {r['median_ms'] / r['bare_query_ms']:.1f}x |")


if __name__ == "__main__":
    main()

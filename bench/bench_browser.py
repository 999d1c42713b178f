"""Browser vs native: mastering time on the same 5-minute file, and Pyodide's cold boot.

Runs the real page (served by the real proxy app on loopback, rules only) in Debian's Chromium,
drops a generated 5-minute 44.1 kHz stereo 24-bit mix, and reads the page's User Timing
measures (``mixmaster:boot``, ``mixmaster:analyze``, ``mixmaster:master``). The same file goes
through :class:`mixmaster.api.Session` natively, in this process, with the same decision. Prints
the times and the browser/native ratios (goal: mastering <= 2.5x).

Usage: ``python bench/bench_browser.py [--duration-s 300]`` (after ``make assets``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from browser_support import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    proxy_config,
    serve_proxy,
)
from mixmaster.api import Session  # noqa: E402
from mixmaster.wavio import encode_wav  # noqa: E402
from signals import programme  # noqa: E402

RATE_HZ = 44_100
GOAL_RATIO = 2.5
TIMEOUT_MS = 1_800_000


def native_times(wav: bytes) -> dict[str, float]:
    """Seconds for analyze and master through the same facade the worker calls."""
    session = Session()
    t0 = time.perf_counter()
    analysis = session.call("analyze", {"wav": wav})["result"]
    t1 = time.perf_counter()
    decision = session.call(
        "decide", {"features": analysis["features"], "intent": {"platform": "spotify"}}
    )["result"]
    t2 = time.perf_counter()
    reply = session.call("master", {"params": decision["params"], "bits": "24"})
    t3 = time.perf_counter()
    if "error" in reply:
        raise SystemExit(f"native master failed: {reply['error']['message']}")
    return {"analyze": t1 - t0, "master": t3 - t2}


def browser_times(wav_path: Path) -> dict[str, float]:
    """Seconds for cold boot, analyze and master in Chromium (page's User Timing measures)."""
    with serve_proxy(proxy_config()) as (base_url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.goto(base_url + "/")
        status = page.get_by_test_id("status")
        expect(status).to_have_attribute("data-state", "idle", timeout=TIMEOUT_MS)
        page.get_by_test_id("file-input").set_input_files(str(wav_path))
        expect(status).to_have_attribute("data-state", "done", timeout=TIMEOUT_MS)
        measures = page.evaluate(
            "() => Object.fromEntries(performance.getEntriesByType('measure')"
            ".filter((m) => m.name.startsWith('mixmaster:'))"
            ".map((m) => [m.name.slice(10), m.duration / 1000]))"
        )
        context.close()
        browser.close()
    return {k: float(v) for k, v in measures.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=300.0)
    args = parser.parse_args(argv)
    x = programme(args.duration_s, RATE_HZ, level_dbfs_rms=-22.0, seed=11)
    wav = encode_wav(x, RATE_HZ, "24")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-mix.wav"
        path.write_bytes(wav)
        browser = browser_times(path)
    native = native_times(wav)
    print(f"file: {args.duration_s:g} s, {RATE_HZ} Hz, stereo, 24-bit ({len(wav) / 1e6:.0f} MB)")
    print(f"pyodide cold boot: {browser['boot']:.2f} s")
    for step in ("analyze", "master"):
        ratio = browser[step] / native[step]
        goal = f" (goal <= {GOAL_RATIO})" if step == "master" else ""
        print(
            f"{step}: browser {browser[step]:.2f} s, native {native[step]:.2f} s, "
            f"ratio {ratio:.2f}{goal}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

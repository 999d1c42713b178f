"""Bench: an album at the browser's advertised limit, in Pyodide, with the memory it takes.

The page accepts an album of up to ``MAX_ALBUM_CHANNEL_SAMPLES`` (40 minutes of 48 kHz stereo)
and builds the zip in the worker after every master, so this is where the browser's memory is
tightest: the inputs, the masters' WAVs and the zip are all in the wasm heap at once. The bench
drops generated 24-bit tracks that fill the limit exactly (``--tracks`` of equal length) on the
real page (served by the real proxy app on loopback, rules only) in Debian's Chromium, waits for
the album, and prints the time and the largest resident size of any Chromium process (sampled
from ``/proc`` every 0.5 s; the worker's wasm memory lives in the renderer). Exits 1 if the
album does not finish.

Measured here: 4 tracks of 10 minutes in 107-126 s, 3 of 13.3 in 140 s, 2 of 20 in 142 s;
peak Chromium RSS 4.7-5.4 GB across runs (wasm32's ceiling is 4 GB of heap; the rest is the
page's own copies of the files and the zip).

Usage: ``python bench/bench_album_browser.py [--tracks 4]`` (after ``make assets``).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from browser_support import CHROMIUM, CHROMIUM_ARGS, proxy_config, serve_proxy  # noqa: E402
from mixmaster.api import MAX_ALBUM_CHANNEL_SAMPLES  # noqa: E402
from mixmaster.wavio import encode_wav  # noqa: E402
from signals import programme  # noqa: E402

RATE_HZ = 48_000
TIMEOUT_MS = 3_600_000


class PeakRss:
    """The largest VmRSS of any Chromium process, sampled in a thread while in a ``with``."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    if b"chromium" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                        continue
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:  # the process ended meanwhile
                    continue
                found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
                if found:
                    self.peak_kb = max(self.peak_kb, int(found.group(1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=4)
    args = parser.parse_args(argv)
    frames = MAX_ALBUM_CHANNEL_SAMPLES // (2 * args.tracks)
    minutes = frames / RATE_HZ / 60
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(args.tracks):
            x = programme(frames / RATE_HZ, RATE_HZ, level_dbfs_rms=-20.0 - 2 * i, seed=40 + i)
            path = Path(tmp) / f"{i + 1:02d} track.wav"
            path.write_bytes(encode_wav(x, RATE_HZ, "24"))
            paths.append(str(path))
            del x
        print(f"album: {args.tracks} tracks of {minutes:.1f} min, 48 kHz stereo 24-bit")
        with serve_proxy(proxy_config()) as (base_url, _), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context().new_page()
            page.goto(base_url + "/")
            status = page.get_by_test_id("status")
            expect(status).to_have_attribute("data-state", "idle", timeout=TIMEOUT_MS)
            with PeakRss() as rss:
                start = time.perf_counter()
                page.get_by_test_id("file-input").set_input_files(paths)
                expect(status).to_have_attribute(
                    "data-state", re.compile(r"^(done|error)$"), timeout=TIMEOUT_MS
                )
                seconds = time.perf_counter() - start
            state, text = status.get_attribute("data-state"), status.inner_text()
            rows = page.locator("#album-tracks tbody tr").count()
            browser.close()
    print(f"album in the browser: {seconds:.1f} s, peak Chromium RSS {rss.peak_kb / 1024:.0f} MB")
    if state != "done" or rows != args.tracks:
        print(f"ALBUM FAILED: {text}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

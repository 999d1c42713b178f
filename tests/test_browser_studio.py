"""The mastering studio in Debian's Chromium: what it shows, adjusting and re-rendering, the
loudness-matched A/B, the privacy receipt, the recipe against the CLI, and layout
(keyboard-only use has its own module, test_browser_keyboard.py).

The proxy runs without an API key (the server's rules decide). Screenshots at 1280 and 375 px go
to ``test-artifacts/`` for review.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from browser_support import (
    JOB_TIMEOUT_MS,
    RecordingApp,
    download,
    drop,
    open_page,
    shot,
    wait_for_job,
)
from mixmaster.loudness import integrated_loudness
from mixmaster.truepeak import true_peak_dbtp
from mixmaster.wavio import encode_wav, read_wav
from signals import programme

pytestmark = pytest.mark.browser

RATE_HZ = 48_000
TARGET_LUFS = -14.0
CEILING_DBTP = -1.0
LSB_24 = 2.0**-23


@pytest.fixture(scope="module")
def studio_mix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 s music-like stereo mix at 48 kHz, 24-bit, well below the target loudness."""
    x = programme(12.0, RATE_HZ, level_dbfs_rms=-23.0, seed=21)
    path = tmp_path_factory.mktemp("studio") / "Night Drive.wav"
    path.write_bytes(encode_wav(x, RATE_HZ, "24"))
    return path


@dataclass
class Studio:
    """One page that mastered ``studio_mix``, and everything the tests observed on the way."""

    page: Page
    base_url: str
    recorder: RecordingApp
    mix: Path
    downloads: Path
    problems: list[str] = field(default_factory=list)

    def decide_bodies(self) -> list[bytes]:
        return [r.body for r in self.recorder.snapshot() if r.path == "/api/decide"]

    def rerender(self, change: Any) -> None:
        """Make a change and wait for the master it causes (a new download link, done)."""
        before = self.page.get_by_test_id("download").get_attribute("href")
        change()
        expect(self.page.get_by_test_id("download")).not_to_have_attribute(
            "href", before or "", timeout=JOB_TIMEOUT_MS
        )
        wait_for_job(self.page)

    def save(self, test_id: str = "download") -> Path:
        return download(self.page, self.downloads, test_id)[1]


@pytest.fixture(scope="module")
def studio(
    site: tuple[str, RecordingApp],
    browser: Browser,
    studio_mix: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Studio]:
    base_url, recorder = site
    ctx = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    s = Studio(page, base_url, recorder, studio_mix, tmp_path_factory.mktemp("downloads"))
    page.on("console", lambda m: s.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: s.problems.append(str(e)))
    recorder.clear()
    open_page(page, base_url)
    drop(page, studio_mix)
    yield s
    ctx.close()


def _number(text: str) -> float:
    """The first number in a text the page shows (with its typographic minus)."""
    found = re.search(r"[-\u2212]?\d+(\.\d+)?", text)
    assert found is not None, text
    return float(found.group().replace("\u2212", "-"))


def _master_loudness_ok(path: Path) -> np.ndarray:
    wav = read_wav(path)
    assert wav.info.sample_rate_hz == RATE_HZ
    assert abs(integrated_loudness(wav.samples, RATE_HZ) - TARGET_LUFS) <= 0.5
    assert true_peak_dbtp(wav.samples, RATE_HZ) <= CEILING_DBTP
    return wav.samples


# --- what the page shows ---------------------------------------------------------------------


def test_the_analysis_is_shown_with_what_each_value_means(studio: Studio) -> None:
    rows = studio.page.locator("#analysis tbody tr")
    labels = rows.locator("th").all_inner_texts()
    for label in ("Loudness", "Loudness range", "True peak", "Peak to loudness (PLR)", "Tempo"):
        assert label in labels
    assert "Stereo correlation" in labels
    measured = integrated_loudness(read_wav(studio.mix).samples, RATE_HZ)
    loudness = rows.filter(has_text="Loudness").first.locator("td").all_inner_texts()
    assert loudness[0] == f"{measured:.1f} LUFS".replace("-", "\u2212")
    assert "the master will bring it up" in loudness[1]


def test_results_show_levels_platform_gains_and_charts(studio: Studio) -> None:
    page = studio.page
    levels = page.locator("#levels tbody tr").first.locator("td").all_inner_texts()
    before_lufs, after_lufs = (_number(text) for text in levels)
    assert before_lufs < -20.0 and abs(after_lufs - TARGET_LUFS) <= 0.5
    platforms = {
        row.locator("th").inner_text(): row.locator("td").all_inner_texts()
        for row in page.locator("#platforms tbody tr").all()
    }
    target, playback = platforms["Apple Music"]
    assert target == "\u221216 LUFS"
    assert playback.startswith("turned down ")
    assert _number(playback) == pytest.approx(after_lufs + 16.0, abs=0.11)
    assert platforms["YouTube"][0] == "\u221214 LUFS"
    # both canvases are drawn (pixels that are not fully transparent)
    for test_id in ("waveform", "spectrum"):
        drawn = page.get_by_test_id(test_id).evaluate(
            "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }"
        )
        assert drawn > 1000, test_id
    assert "Decided by the server's built-in rules" in page.locator("#decision-source").inner_text()


def test_the_receipt_holds_exactly_what_the_server_received(studio: Studio) -> None:
    received = studio.decide_bodies()
    shown = studio.page.get_by_test_id("receipt").locator("pre").all_text_contents()
    decides = [text for text in shown if text.startswith('{"features"')]
    assert received and decides == [b.decode() for b in received]
    seen = studio.recorder.wait_for(studio.page, "/api/jobs")
    jobs = [r.body.decode() for r in seen if r.path == "/api/jobs"]
    assert [text for text in shown if text.startswith('{"outcome"')] == jobs
    sent = json.loads(received[0])
    assert set(sent) == {"features", "intent"} and "Night Drive" not in shown[0]


# --- the recipe reproduces the master with the CLI ---------------------------------------------


def test_the_recipe_reproduces_the_browsers_master_with_the_cli(
    studio: Studio, tmp_path: Path
) -> None:
    master = studio.save()
    recipe_path = studio.save("recipe")
    assert master.name == "Night Drive-master.wav"
    assert recipe_path.name == "Night Drive-recipe.json"
    recipe = json.loads(recipe_path.read_text())
    assert recipe["pyodide_version"] == "0.27.8"
    assert recipe["input"]["sha256"] == hashlib.sha256(studio.mix.read_bytes()).hexdigest()
    assert recipe["input"]["sample_rate_hz"] == RATE_HZ
    browser_audio = _master_loudness_ok(master)
    out = tmp_path / "cli.wav"
    cli_args = ["master", str(studio.mix), "-o", str(out), "--params", str(recipe_path)]
    subprocess.run(
        [sys.executable, "-m", "mixmaster", *cli_args],
        check=True,
        capture_output=True,
    )
    cli = read_wav(out)
    assert cli.info.bits_per_sample == 24
    assert np.max(np.abs(cli.samples - browser_audio)) <= LSB_24


# --- loudness-matched A/B ----------------------------------------------------------------------


def test_ab_is_loudness_matched_and_switches_by_button_and_keys(studio: Studio) -> None:
    page = studio.page
    toggle = page.get_by_test_id("ab-toggle")
    master = read_wav(studio.save()).samples
    original_lufs = integrated_loudness(read_wav(studio.mix).samples, RATE_HZ)
    master_lufs = integrated_loudness(master, RATE_HZ)
    original_gain = float(toggle.get_attribute("data-original-gain-db") or "nan")
    master_gain = float(toggle.get_attribute("data-master-gain-db") or "nan")
    # played through these gains, both sit at the same loudness (within 0.5 dB)
    assert abs((original_lufs + original_gain) - (master_lufs + master_gain)) <= 0.5
    assert max(original_gain, master_gain) == 0.0  # only the louder one is turned down
    expect(toggle).to_have_attribute("data-playing", "master")
    page.get_by_role("button", name="Play").click()
    toggle.click()
    expect(toggle).to_have_attribute("data-playing", "original")
    expect(page.locator("#hearing")).to_have_text("Now: A, the original")
    page.keyboard.press("b")  # the focus is in the result panel (on the toggle)
    expect(toggle).to_have_attribute("data-playing", "master")
    page.keyboard.press("a")
    expect(toggle).to_have_attribute("data-playing", "original")
    page.get_by_test_id("sound-toggle").focus()  # a button outside the result panel
    page.keyboard.press("b")  # single-key shortcuts stay inside the panel (WCAG 2.1.4)
    expect(toggle).to_have_attribute("data-playing", "original")
    expect(page.locator("#time")).not_to_have_text(re.compile(r"^0:00 /"), timeout=10_000)
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#ab-note")).to_contain_text("Level-matched: the master plays")


def test_a_region_dragged_on_the_waveform_loops(studio: Studio) -> None:
    page = studio.page
    page.get_by_test_id("waveform").scroll_into_view_if_needed()
    box = page.get_by_test_id("waveform").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 0.25 * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.5 * box["width"], y, steps=5)
    page.mouse.up()
    expect(page.locator("#loop")).to_be_checked()
    start_s = float(page.locator("#loop-start").input_value())
    end_s = float(page.locator("#loop-end").input_value())
    assert start_s == pytest.approx(3.0, abs=0.2) and end_s == pytest.approx(6.0, abs=0.2)
    page.get_by_role("button", name="Play").click()
    seen = set()
    for _ in range(8):  # 4 s of playback: past the 3 s region's end, so it has looped
        page.wait_for_timeout(500)
        seen.add(page.locator("#position").input_value())
        assert start_s - 0.1 <= float(page.locator("#position").input_value()) <= end_s + 0.1
    page.get_by_role("button", name="Pause").click()
    assert len(seen) > 3  # it played


# --- adjusting -----------------------------------------------------------------------------------


def test_intensity_and_a_stage_amount_change_the_master_and_reset_returns(
    studio: Studio,
) -> None:
    page = studio.page
    first = read_wav(studio.save()).samples
    decides = len(studio.decide_bodies())

    studio.rerender(lambda: page.get_by_test_id("intensity").fill("1"))
    stronger = _master_loudness_ok(studio.save())
    assert not np.array_equal(first, stronger)
    bodies = studio.decide_bodies()
    assert len(bodies) == decides + 1 and json.loads(bodies[-1])["intent"]["intensity"] == 1.0
    shown = page.get_by_test_id("receipt").locator("pre").all_text_contents()
    assert bodies[-1].decode() in shown

    compressor = page.locator("#param-compressor-amount")
    studio.rerender(lambda: compressor.fill("0"))
    uncompressed = _master_loudness_ok(studio.save())
    assert not np.array_equal(stronger, uncompressed)
    assert json.loads(studio.save("recipe").read_text())["params"]["compressor"]["amount"] == 0
    assert len(studio.decide_bodies()) == decides + 1  # a stage setting never leaves the device
    expect(page.locator("#edited")).to_have_text("1 setting changed by you.")

    studio.rerender(
        lambda: page.get_by_role("button", name="Reset to the decided settings").click()
    )
    np.testing.assert_array_equal(read_wav(studio.save()).samples, stronger)
    expect(page.locator("#edited")).to_have_text("As decided.")


def test_a_newer_change_interrupts_the_render_still_running(
    site: tuple[str, RecordingApp], context: BrowserContext, tmp_path: Path
) -> None:
    long_mix = tmp_path / "long.wav"
    long_mix.write_bytes(
        encode_wav(programme(60.0, 44_100, level_dbfs_rms=-22.0, seed=4), 44_100, "24")
    )
    page = context.new_page()
    open_page(page, site[0])
    assert page.evaluate("crossOriginIsolated")  # SharedArrayBuffer: the interrupt's channel
    drop(page, long_mix)
    renders = "() => performance.getEntriesByName('mixmaster:master').length"
    before = page.evaluate(renders)
    page.get_by_test_id("intensity").fill("0.9")
    expect(page.get_by_test_id("status")).to_have_attribute(
        "data-state", "mastering", timeout=JOB_TIMEOUT_MS
    )
    page.locator("#param-saturation-amount").fill("0.5")
    wait_for_job(page)
    # the first render stopped part-way (no finished measure); only the newer one completed
    assert page.evaluate(renders) == before + 1
    recipe = json.loads(download(page, tmp_path, "recipe")[1].read_text())
    assert recipe["params"]["saturation"]["amount"] == 0.5

    # Cancel stops only the render: the analysis and the last master stay, and the studio works
    # on (regression: it used to drop the track, leaving controls that did nothing)
    page.locator("#param-saturation-amount").fill("0.8")
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute("data-state", "mastering", timeout=JOB_TIMEOUT_MS)
    page.get_by_role("button", name="Cancel").click()
    expect(status).to_have_attribute("data-state", "idle")
    expect(status).to_contain_text("The download is still the last finished master")
    assert json.loads(download(page, tmp_path, "recipe")[1].read_text()) == recipe
    page.locator("#param-saturation-amount").fill("0.3")
    wait_for_job(page)
    recipe = json.loads(download(page, tmp_path, "recipe")[1].read_text())
    assert recipe["params"]["saturation"]["amount"] == 0.3


# --- layout, console -------------------------------------------------------------------------


@pytest.mark.parametrize("width", [1280, 375])
def test_layout_fits_and_screenshots_are_kept(studio: Studio, width: int) -> None:
    page = studio.page
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_timeout(200)  # the charts redraw on resize
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    for test_id in ("intensity", "ab-toggle", "download", "recipe", "waveform", "spectrum"):
        box = page.get_by_test_id(test_id).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, test_id
    page.locator("#expert").evaluate("e => e.closest('details').open = true")
    shot(page, f"studio-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})


def test_controls_are_labelled_and_the_console_stayed_clean(studio: Studio) -> None:
    unlabelled = studio.page.evaluate(
        "() => [...document.querySelectorAll('input, select, button')]"
        ".filter(e => !e.closest('[hidden]') && !(e.labels?.length || e.getAttribute('aria-label')"
        " || e.textContent.trim())).map(e => e.id || e.outerHTML)"
    )
    assert unlabelled == []
    assert studio.page.locator("[aria-live]").count() >= 1
    assert studio.problems == []


def test_text_meets_wcag_aa_contrast(studio: Studio) -> None:
    script = (Path(__file__).parent / "wcag_contrast.js").read_text()
    assert studio.page.evaluate(script) == []

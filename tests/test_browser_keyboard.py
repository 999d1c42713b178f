"""Keyboard-only use of the page in Debian's Chromium: pick a file, master it, download, A/B.

A module of its own, so its browser holds this one page: a file chooser opens only in the
window that has the focus, and the studio tests keep a page open in another window all module
long (with it open, this test failed now and then under load in CI: no chooser appeared).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from browser_support import RecordingApp, open_page, wait_for_job
from mixmaster.loudness import integrated_loudness
from mixmaster.truepeak import true_peak_dbtp
from mixmaster.wavio import encode_wav, read_wav
from signals import programme

pytestmark = pytest.mark.browser

RATE_HZ = 48_000


@pytest.fixture
def mix(tmp_path: Path) -> Path:
    """An 8 s music-like stereo mix, well below the default target of -14 LUFS."""
    path = tmp_path / "Keys Only.wav"
    x = programme(8.0, RATE_HZ, level_dbfs_rms=-23.0, seed=5)
    path.write_bytes(encode_wav(x, RATE_HZ, "24"))
    return path


def _tab_to(page: Page, selector: str, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => document.activeElement?.matches({selector!r}) ?? false"):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_keyboard_only_pick_master_and_download(
    site: tuple[str, RecordingApp], context: BrowserContext, mix: Path, tmp_path: Path
) -> None:
    page = context.new_page()
    # Intercept choosers from the start: Playwright turns interception on without waiting for
    # the browser, so turning it on just before the key press could race the chooser.
    page.on("filechooser", lambda _chooser: None)
    open_page(page, site[0])
    _tab_to(page, '[data-testid="file-input"]')
    outline = page.evaluate(
        "() => getComputedStyle(document.activeElement.closest('label')).outlineStyle"
    )
    assert outline != "none"  # the focused picker shows where the focus is
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    chooser.value.set_files(str(mix))
    wait_for_job(page)

    _tab_to(page, '[data-testid="download"]')
    with page.expect_download() as info:
        page.keyboard.press("Enter")
    saved = tmp_path / info.value.suggested_filename
    info.value.save_as(str(saved))
    master = read_wav(saved)
    assert master.info.sample_rate_hz == RATE_HZ
    assert abs(integrated_loudness(master.samples, RATE_HZ) - -14.0) <= 0.5
    assert true_peak_dbtp(master.samples, RATE_HZ) <= -1.0

    _tab_to(page, '[data-testid="ab-toggle"]')
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("ab-toggle")).to_have_attribute("data-playing", "original")

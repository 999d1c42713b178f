"""Reference mastering and album mode in the browser (Debian's Chromium, the real proxy app).

A reference is matched on the device: with one loaded, no decision request leaves the page. An
album is decided once, on the tracks' combined measurements, and its masters come as one zip.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from browser_support import (
    JOB_TIMEOUT_MS,
    ROOT,
    RecordingApp,
    download,
    drop,
    open_page,
    shot,
    wait_for_job,
)
from mixmaster.loudness import album_loudness_lufs, integrated_loudness, measure_loudness
from mixmaster.truepeak import true_peak_dbtp
from mixmaster.wavio import encode_wav, read_wav
from signals import programme

pytestmark = pytest.mark.browser

RATE_HZ = 44_100
FEATURE_KEYS = set(
    json.loads((ROOT / "py" / "mixmaster" / "features.schema.json").read_text())["properties"]
)


def _wav(path: Path, seconds: float, level_dbfs_rms: float, seed: int) -> Path:
    x = programme(seconds, RATE_HZ, level_dbfs_rms=level_dbfs_rms, seed=seed)
    path.write_bytes(encode_wav(x, RATE_HZ, "24"))
    return path


def test_a_reference_is_matched_on_the_device_aspect_by_aspect(
    site: tuple[str, RecordingApp], context: BrowserContext, tmp_path: Path
) -> None:
    base_url, recorder = site
    mix = _wav(tmp_path / "mix.wav", 8.0, -24.0, 41)
    ref = _wav(tmp_path / "loud reference.wav", 8.0, -11.0, 42)
    ref_lufs = integrated_loudness(read_wav(ref).samples, RATE_HZ)
    page = context.new_page()
    open_page(page, base_url)
    recorder.clear()
    page.get_by_test_id("reference-input").set_input_files(str(ref))
    expect(page.locator("#reference-name")).to_have_text(
        "Reference: “loud reference.wav”", timeout=60_000
    )
    expect(page.get_by_test_id("match-loudness")).to_be_visible()
    drop(page, mix)
    assert "Matched to the reference" in page.locator("#decision-source").inner_text()
    expect(page.get_by_test_id("receipt")).to_contain_text("Nothing left this device")
    master = read_wav(download(page, tmp_path)[1]).samples
    assert abs(integrated_loudness(master, RATE_HZ) - ref_lufs) <= 0.5
    assert true_peak_dbtp(master, RATE_HZ) <= -1.0
    shot(page, "reference-done")

    # loudness not matched at all: the platform's target (Spotify, -14 LUFS) again
    href = page.get_by_test_id("download").get_attribute("href")
    page.get_by_test_id("match-loudness").fill("0")
    expect(page.get_by_test_id("download")).not_to_have_attribute(
        "href", href or "", timeout=JOB_TIMEOUT_MS
    )
    wait_for_job(page)
    master = read_wav(download(page, tmp_path)[1]).samples
    assert abs(integrated_loudness(master, RATE_HZ) + 14.0) <= 0.5
    # no decision request: only the job's one aggregate count (adjusting is not a new job)
    seen = recorder.wait_for(page, "/api/jobs")
    assert [r.path for r in seen if r.method == "POST"] == ["/api/jobs"]


def test_several_files_master_as_one_album_in_a_zip(
    site: tuple[str, RecordingApp], context: BrowserContext, tmp_path: Path
) -> None:
    base_url, recorder = site
    levels = (-20.0, -27.0, -17.0)
    files = [
        _wav(tmp_path / f"0{i + 1} song.wav", 6.0, level, 50 + i) for i, level in enumerate(levels)
    ]
    inputs = [integrated_loudness(read_wav(f).samples, RATE_HZ) for f in files]
    page = context.new_page()
    open_page(page, base_url)
    recorder.clear()
    page.get_by_test_id("file-input").set_input_files([str(f) for f in files])
    wait_for_job(page)
    shot(page, "album-done")
    name, saved = download(page, tmp_path, "download-album")
    assert name == "album-masters.zip"
    archive = zipfile.ZipFile(io.BytesIO(saved.read_bytes()))
    wavs = [n for n in archive.namelist() if n.endswith(".wav")]
    assert wavs == ["01 song-master.wav", "02 song-master.wav", "03 song-master.wav"]
    masters = [read_wav(archive.read(n)).samples for n in wavs]
    gains = [integrated_loudness(m, RATE_HZ) - i for m, i in zip(masters, inputs, strict=True)]
    assert max(gains) - min(gains) <= 0.5
    album = album_loudness_lufs([measure_loudness(m, RATE_HZ).momentary_lufs for m in masters])
    assert abs(album + 14.0) <= 0.5
    assert all(true_peak_dbtp(m, RATE_HZ) <= -1.0 for m in masters)
    assert page.locator("#album-tracks tbody tr").count() == 3
    expect(page.locator("#album-tracks tbody tr").first).to_contain_text("01 song")
    expect(page.locator("#album-summary")).to_have_text(
        re.compile(
            r"^The album reads −1[34]\.\d LUFS \(target −14\.0 LUFS\); .* within \d\.\d LU\.$"
        )
    )
    posts = [r for r in recorder.wait_for(page, "/api/jobs") if r.method == "POST"]
    assert [r.path for r in posts] == ["/api/decide", "/api/jobs"]
    sent = json.loads(posts[0].body)
    assert set(sent["features"]) == FEATURE_KEYS and b"RIFF" not in posts[0].body
    shown = page.get_by_test_id("album-receipt").locator("pre").all_text_contents()
    assert shown[0] == posts[0].body.decode()


def test_a_track_without_a_tempo_is_still_decided_by_the_server(
    site: tuple[str, RecordingApp], context: BrowserContext, tmp_path: Path
) -> None:
    # regression: Python's None (the tempo of a track too short to have one) reached the page
    # as undefined, JSON.stringify dropped the key, the server refused the features and the
    # page fell back to its own rules
    path = _wav(tmp_path / "jingle.wav", 2.5, -20.0, 3)
    base_url, recorder = site
    page = context.new_page()
    open_page(page, base_url)
    recorder.clear()
    drop(page, path)
    assert "server's built-in rules" in page.locator("#decision-source").inner_text()
    (decide,) = [r for r in recorder.snapshot() if r.path == "/api/decide"]
    assert json.loads(decide.body)["features"]["tempo_bpm"] is None


def test_an_album_is_mastered_again_when_the_platform_changes(
    site: tuple[str, RecordingApp], context: BrowserContext, tmp_path: Path
) -> None:
    # regression: after an album, every change was ignored (the page only re-rendered tracks)
    files = [
        _wav(tmp_path / f"{n}.wav", 4.0, level, 60 + n) for n, level in ((1, -20.0), (2, -24.0))
    ]
    page = context.new_page()
    open_page(page, site[0])
    page.get_by_test_id("file-input").set_input_files([str(f) for f in files])
    wait_for_job(page)
    href = page.get_by_test_id("download-album").get_attribute("href")
    page.locator("#platform").select_option("apple")
    expect(page.get_by_test_id("download-album")).not_to_have_attribute(
        "href", href or "", timeout=JOB_TIMEOUT_MS
    )
    wait_for_job(page)
    archive = zipfile.ZipFile(
        io.BytesIO(download(page, tmp_path, "download-album")[1].read_bytes())
    )
    masters = [read_wav(archive.read(n)).samples for n in archive.namelist() if n.endswith(".wav")]
    album = album_loudness_lufs([measure_loudness(m, RATE_HZ).momentary_lufs for m in masters])
    assert abs(album + 16.0) <= 0.5


def test_removing_a_reference_while_it_is_analysed_leaves_none(
    site: tuple[str, RecordingApp], context: BrowserContext, tmp_path: Path
) -> None:
    # regression: the analysis finishing after "Remove" showed the reference as loaded while the
    # engine held none, and every decision failed
    ref = _wav(tmp_path / "ref.wav", 30.0, -12.0, 70)
    mix = _wav(tmp_path / "mix.wav", 4.0, -24.0, 71)
    page = context.new_page()
    open_page(page, site[0])
    page.get_by_test_id("reference-input").set_input_files(str(ref))
    expect(page.locator("#reference-name")).to_contain_text("analysing")
    page.get_by_role("button", name="Remove reference").click()
    drop(page, mix)
    expect(page.locator("#reference-name")).to_contain_text("No reference")
    assert "server's built-in rules" in page.locator("#decision-source").inner_text()

"""The real page in Debian's Chromium, served by the real proxy app: what a person sees, what
they download, and what the network carried.

One browser for the session; a fresh context (no cookies, storage or service worker) per test.
The proxy runs without an API key (the server's rules decide), except where a test points it at
the fake Claude on loopback. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from browser_support import (
    JOB_TIMEOUT_MS,
    ROOT,
    RecordingApp,
    SeenRequest,
    download,
    drop,
    open_page,
    proxy_config,
    serve_proxy,
    shot,
)
from fake_anthropic import FakeAnthropic, tool_answer
from mixmaster.api import MAX_FILE_BYTES
from mixmaster.loudness import integrated_loudness
from mixmaster.truepeak import true_peak_dbtp
from mixmaster.wavio import encode_wav, read_wav
from mixmaster_proxy.claude import SYSTEM_PROMPT
from mixmaster_proxy.config import SecretStr
from signals import programme

pytestmark = pytest.mark.browser

RATE_HZ = 44_100
DURATION_S = 10.0
TARGET_LUFS = -14.0
CEILING_DBTP = -1.0
FEATURE_KEYS = set(
    json.loads((ROOT / "py" / "mixmaster" / "features.schema.json").read_text())["properties"]
)


@pytest.fixture(scope="session")
def mix_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 10 s music-like stereo mix at 44.1 kHz, 24-bit, well below the target loudness."""
    x = programme(DURATION_S, RATE_HZ, level_dbfs_rms=-24.0, seed=5)
    path = tmp_path_factory.mktemp("mix") / "My Song (final mix).wav"
    path.write_bytes(encode_wav(x, RATE_HZ, "24"))
    return path


def _check_master(path: Path) -> None:
    wav = read_wav(path)
    assert wav.info.sample_rate_hz == RATE_HZ
    assert wav.info.bits_per_sample == 24
    assert wav.samples.shape == (2, round(DURATION_S * RATE_HZ))
    assert abs(integrated_loudness(wav.samples, RATE_HZ) - TARGET_LUFS) <= 0.5
    assert true_peak_dbtp(wav.samples, RATE_HZ) <= CEILING_DBTP


# --- one full run, observed from every side ------------------------------------------------


@dataclass
class Run:
    base_url: str
    file_name: str
    master: Path
    status_text: str
    decision_source: str
    explanation: list[str]
    page_requests: list[str]
    server_requests: list[SeenRequest]
    cookies: list[Any]
    storage_keys: list[str]
    indexed_dbs: list[Any]


@pytest.fixture(scope="module")
def full_run(
    site: tuple[str, RecordingApp],
    browser: Browser,
    mix_wav: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Run]:
    base_url, recorder = site
    ctx = browser.new_context(accept_downloads=True)
    page = ctx.new_page()
    page_requests: list[str] = []
    ctx.on("request", lambda r: page_requests.append(r.url))
    recorder.clear()
    open_page(page, base_url)
    # Flip the sound off and on again: the one key this app ever stores.
    toggle = page.get_by_test_id("sound-toggle")
    toggle.click()
    toggle.click()
    status_text = drop(page, mix_wav)
    shot(page, "full-run-done")
    file_name, master = download(page, tmp_path_factory.mktemp("download"))
    recorder.wait_for(page, "/api/jobs")  # the page does not wait for its job report
    run = Run(
        base_url=base_url,
        file_name=file_name,
        master=master,
        status_text=status_text,
        decision_source=page.locator("#decision-source").inner_text(),
        explanation=page.locator("#explanation li").all_inner_texts(),
        page_requests=page_requests,
        server_requests=recorder.snapshot(),
        cookies=ctx.cookies(),
        storage_keys=page.evaluate("() => Object.keys(window.localStorage)"),
        indexed_dbs=page.evaluate("() => indexedDB.databases()"),
    )
    yield run
    ctx.close()


def test_full_run_masters_to_target_at_the_native_rate(full_run: Run) -> None:
    assert full_run.file_name == "My Song (final mix)-master.wav"
    assert "Done" in full_run.status_text and "LUFS" in full_run.status_text
    _check_master(full_run.master)


def test_full_run_says_how_it_was_decided(full_run: Run) -> None:
    assert "server's built-in rules" in full_run.decision_source
    # regression: the paragraph was split at the "." of "-14.0", giving "0 LUFS ..." items
    assert full_run.explanation
    for sentence in full_run.explanation:
        assert re.match(r"^[A-Z“\"(]", sentence) and sentence[-1] in ".!?…", sentence


def test_no_request_to_any_other_origin(full_run: Run) -> None:
    assert full_run.page_requests, "no request was observed"
    for url in full_run.page_requests:
        assert url.startswith((full_run.base_url + "/", "blob:", "data:")), url


def test_only_decide_and_jobs_are_posted_and_they_carry_no_audio(full_run: Run) -> None:
    writes = [r for r in full_run.server_requests if r.method not in ("GET", "HEAD")]
    assert [(r.method, r.path) for r in writes] == [("POST", "/api/decide"), ("POST", "/api/jobs")]
    decide, jobs = writes
    assert len(decide.body) <= 4096
    assert decide.headers["content-type"] == "application/json"
    payload = json.loads(decide.body)
    assert set(payload) == {"features", "intent"}
    assert set(payload["features"]) == FEATURE_KEYS
    assert payload["intent"] == {
        "platform": "spotify",
        "ceiling_dbtp": -1.0,
        "style": "balanced",
        "intensity": 0.5,
    }
    assert b"RIFF" not in decide.body and b"My Song" not in decide.body
    report = json.loads(jobs.body)
    assert set(report) == {"outcome", "duration_s", "platform"}
    assert report["outcome"] == "done" and report["platform"] == "spotify"
    assert 0 < report["duration_s"] < 3600


def test_no_cookies_and_no_storage_but_the_sound_key(full_run: Run) -> None:
    assert full_run.cookies == []
    assert all("cookie" not in r.headers for r in full_run.server_requests)
    assert full_run.storage_keys == ["mixmaster.sound"]
    assert full_run.indexed_dbs == []


# --- persistence, offline, bad input ----------------------------------------------------


def test_sound_toggle_survives_a_reload(
    site: tuple[str, RecordingApp], context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(site[0] + "/")
    toggle = page.get_by_test_id("sound-toggle")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(page.get_by_test_id("sound-toggle")).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("sound-toggle")).to_have_text("Sound: off")
    assert page.evaluate("() => localStorage.getItem('mixmaster.sound')") == "off"


def test_offline_reload_still_masters_with_the_rules_on_the_device(
    site: tuple[str, RecordingApp], context: BrowserContext, mix_wav: Path, tmp_path: Path
) -> None:
    base_url, recorder = site
    page = context.new_page()
    open_page(page, base_url)
    assert page.evaluate(
        "async () => { await navigator.serviceWorker.ready;"
        " return navigator.serviceWorker.controller !== null || (await new Promise((r) => {"
        " navigator.serviceWorker.addEventListener('controllerchange', () => r(true));"
        " setTimeout(() => r(false), 30000); })); }"
    )
    context.set_offline(True)
    recorder.clear()
    page.reload()
    expect(page.get_by_test_id("status")).to_have_attribute(
        "data-state", "idle", timeout=JOB_TIMEOUT_MS
    )
    drop(page, mix_wav)
    shot(page, "offline-done")
    assert "offline" in page.locator("#decision-source").inner_text()
    _, master = download(page, tmp_path)
    _check_master(master)
    # Chromium's own service-worker update check (the script and what it imports) is not
    # subject to DevTools' offline emulation; nothing the page or its worker asked for was.
    update_check = {("GET", "/sw.js"), ("GET", "/vendor/manifest.js")}
    reached = {(r.method, r.path) for r in recorder.snapshot()}
    assert reached <= update_check, f"the server was reached while offline: {reached}"


def test_a_text_file_named_wav_is_refused_and_the_next_file_works(
    site: tuple[str, RecordingApp],
    context: BrowserContext,
    mix_wav: Path,
    tmp_path: Path,
) -> None:
    page = context.new_page()
    open_page(page, site[0])
    text_file = tmp_path / "notes.wav"
    text_file.write_text("These are my lyrics, not audio.\n" * 20)
    message = drop(page, text_file, expected="error")
    shot(page, "bad-file-error")
    assert "“notes.wav” is not an audio file" in message
    broken = tmp_path / "broken.wav"
    broken.write_bytes(mix_wav.read_bytes()[:30])  # a RIFF header cut short: Python says why
    message = drop(page, broken, expected="error")
    assert re.search(r"[A-Za-z].*\.$", message) and "Traceback" not in message
    drop(page, mix_wav)
    expect(page.get_by_test_id("download")).to_have_attribute("href", re.compile(r"^blob:"))


def _sparse_wav(path: Path, channels: int, rate_hz: int, data_bytes: int) -> Path:
    """A 16-bit PCM WAV header declaring ``data_bytes`` of audio, on a sparse file."""
    import struct

    header = (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack(
            "<IHHIIHH", 16, 1, channels, rate_hz, rate_hz * channels * 2, channels * 2, 16
        )
        + b"data"
        + struct.pack("<I", data_bytes)
    )
    with path.open("wb") as fh:
        fh.write(header)
        fh.truncate(len(header) + data_bytes)
    return path


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        (
            "25 minutes.wav",  # 25 min of stereo 48 kHz, 16-bit: 288 MB, over the length limit
            lambda p: _sparse_wav(p, 2, 48_000, 25 * 60 * 48_000 * 4),
            r"is 25\.0 minutes long; the browser can master up to 20 minutes",
        ),
        (
            "huge.wav",  # over the byte limit: refused before reading a byte of it
            lambda p: _sparse_wav(p, 2, 48_000, MAX_FILE_BYTES + 64 * 2**20),
            r"is 576 MB; audio files up to 512 MB can be mastered",
        ),
    ],
)
def test_an_over_limit_file_gets_a_clear_message(
    site: tuple[str, RecordingApp],
    context: BrowserContext,
    tmp_path: Path,
    name: str,
    make: Any,
    expected: str,
) -> None:
    page = context.new_page()
    open_page(page, site[0])
    path = make(tmp_path / name)
    message = drop(page, path, expected="error")
    shot(page, f"over-limit-{path.stem.replace(' ', '-')}")
    assert re.search(expected, message), message
    assert page.evaluate("() => 1 + 1") == 2  # the tab is alive and responsive


# --- Claude's path: what it was sent ----------------------------------------------------


def test_claude_decides_when_configured_and_gets_only_features_and_intent(
    browser: Browser, mix_wav: Path, tmp_path: Path
) -> None:
    answer = {"params": {"eq": {"tilt_db_per_oct": 0.3}}, "explanation": "A touch brighter."}
    with FakeAnthropic(behaviour=tool_answer(answer)) as fake:
        config = proxy_config(api_key=SecretStr("test-key"), base_url=fake.base_url)
        with serve_proxy(config) as (base_url, _):
            ctx = browser.new_context(accept_downloads=True)
            page = ctx.new_page()
            open_page(page, base_url)
            drop(page, mix_wav)
            assert "Decided by Claude" in page.locator("#decision-source").inner_text()
            expect(page.locator("#explanation")).to_contain_text("A touch brighter.")
            _, master = download(page, tmp_path)
            _check_master(master)
            ctx.close()
        sent = fake.message_bodies
    assert len(sent) == 1
    body = sent[0]
    assert body["system"] == SYSTEM_PROMPT
    (message,) = body["messages"]
    content = json.loads(message["content"])
    assert set(content) == {"features", "intent"}
    assert set(content["features"]) == FEATURE_KEYS
    assert b"RIFF" not in json.dumps(body).encode()


# --- the privacy page matches the code ------------------------------------------------------


def test_privacy_page_lists_exactly_what_is_sent(
    site: tuple[str, RecordingApp], context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(site[0] + "/")
    page.get_by_role("link", name=re.compile("Privacy")).click()
    expect(page).to_have_url(site[0] + "/privacy.html")
    listed = page.locator("#feature-keys li code").all_inner_texts()
    assert sorted(listed) == sorted(FEATURE_KEYS)
    intent = page.locator("#intent-keys li code").all_inner_texts()
    assert intent == ["platform", "target_lufs", "ceiling_dbtp", "style", "intensity"]
    prompt = page.locator("#system-prompt").text_content()
    assert prompt == SYSTEM_PROMPT
    body = page.locator("body").inner_text()
    for fact in (
        "mixmaster.sound",
        "hello@mixmasterai.co",
        "/api/jobs",
        "duration_s",
        "No cookies",
    ):
        assert fact in body
    shot(page, "privacy")


# --- other formats: decoded on the page at their own rate ----------------------------------

FORMATS = [
    # (file name, ffmpeg output options, sample rate, lossless)
    ("mix.flac", ["-ar", "96000", "-sample_fmt", "s32"], 96_000, True),
    ("mix.aiff", ["-ar", "48000", "-c:a", "pcm_s24be"], 48_000, True),
    ("mix.mp3", ["-ar", "44100", "-c:a", "libmp3lame", "-b:a", "256k"], 44_100, False),
    ("mix.ogg", ["-ar", "32000", "-c:a", "libvorbis"], 32_000, False),
    ("mix.m4a", ["-ar", "48000", "-c:a", "aac", "-b:a", "256k"], 48_000, False),
]


def test_other_formats_are_decoded_at_their_own_rate(
    site: tuple[str, RecordingApp], context: BrowserContext, tmp_path: Path
) -> None:
    source = tmp_path / "source.wav"
    duration_s = 5.0
    source.write_bytes(
        encode_wav(programme(duration_s, 48_000, level_dbfs_rms=-24.0, seed=8), 48_000, "24")
    )
    page = context.new_page()
    open_page(page, site[0])
    for name, options, rate_hz, lossless in FORMATS:
        path = tmp_path / name
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(source), *options, str(path)],
            check=True,
        )
        drop(page, path)
        file_name, master = download(page, tmp_path)
        assert file_name == "mix-master.wav"
        wav = read_wav(master)
        assert wav.info.sample_rate_hz == rate_hz, name
        assert wav.samples.shape[0] == 2
        if lossless:
            assert wav.samples.shape[1] == round(duration_s * rate_hz), name
        assert abs(integrated_loudness(wav.samples, rate_hz) - TARGET_LUFS) <= 0.5, name
        assert true_peak_dbtp(wav.samples, rate_hz) <= CEILING_DBTP, name
        master.unlink()
    shot(page, "formats-done")


def test_cancel_stops_the_job_and_the_next_file_works(
    site: tuple[str, RecordingApp], context: BrowserContext, mix_wav: Path, tmp_path: Path
) -> None:
    base_url, recorder = site
    long_mix = tmp_path / "long mix.wav"
    long_mix.write_bytes(
        encode_wav(programme(90.0, RATE_HZ, level_dbfs_rms=-24.0, seed=6), RATE_HZ, "24")
    )
    page = context.new_page()
    open_page(page, base_url)
    recorder.clear()
    page.get_by_test_id("file-input").set_input_files(str(long_mix))
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute("data-state", "mastering", timeout=JOB_TIMEOUT_MS)
    page.get_by_role("button", name="Cancel").click()
    expect(status).to_have_attribute("data-state", "idle")
    expect(status).to_contain_text("Cancelled")
    shot(page, "cancelled")
    drop(page, mix_wav)  # a fresh engine boots (from the browser's cache) and masters it
    _, master = download(page, tmp_path)
    _check_master(master)
    reports = [json.loads(r.body)["outcome"] for r in recorder.snapshot() if r.path == "/api/jobs"]
    assert reports[:1] == ["cancelled"]

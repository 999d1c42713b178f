"""Helpers for the browser tests: the real proxy app on a loopback port, recording every request
it receives, and Debian's Chromium driven by Playwright.

Only loopback is used. Playwright's own browser download is never needed: the tests launch
``/usr/bin/chromium``.
"""

from __future__ import annotations

import re
import socket
import threading
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import uvicorn
from playwright.sync_api import Page, expect
from starlette.types import Message, Receive, Scope, Send

from mixmaster_proxy.app import create_app
from mixmaster_proxy.config import Config

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: How long a page may take to boot the engine and master a short file (cold Pyodide ~10 s).
JOB_TIMEOUT_MS = 240_000


@dataclass(frozen=True)
class SeenRequest:
    """One HTTP request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RecordingApp:
    """ASGI wrapper that records every request (method, path, headers, body) before answering."""

    app: Any
    requests: list[SeenRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        try:
            await self.app(scope, recording_receive, send)
        finally:
            headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
            }
            seen = SeenRequest(scope["method"], scope["path"], headers, bytes(body))
            with self.lock:
                self.requests.append(seen)

    def snapshot(self) -> list[SeenRequest]:
        with self.lock:
            return list(self.requests)

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()

    def wait_for(self, page: Page, path: str, timeout_ms: float = 30_000) -> list[SeenRequest]:
        """Wait until a request to ``path`` has been answered (the page sends some, such as the
        ``/api/jobs`` report, without waiting for them); return the requests seen so far."""
        waited_ms = 0.0
        while True:
            seen = self.snapshot()
            if any(r.path == path for r in seen):
                return seen
            if waited_ms >= timeout_ms:
                raise AssertionError(f"no request to {path} within {timeout_ms / 1000:g} s")
            page.wait_for_timeout(50)
            waited_ms += 50


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_proxy(config: Config) -> Iterator[tuple[str, RecordingApp]]:
    """Run the proxy app with uvicorn in a thread; yield ``(base_url, recorder)``."""
    recorder = RecordingApp(create_app(config))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(recorder, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the proxy did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", recorder
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def proxy_config(**overrides: Any) -> Config:
    """The proxy's configuration for tests: no API key, no rate limit, the repository's web/."""
    values: dict[str, Any] = {"rate_limit_per_min": 0, "web_dir": ROOT / "web"}
    values.update(overrides)
    return Config(**values)


def write_wav_pcm(
    path: Path, audio: npt.NDArray[np.float64], sample_rate_hz: int, bits: int
) -> Path:
    """Write ``(channels, samples)`` audio as integer PCM WAV with the standard library."""
    scale = 2 ** (bits - 1) - 1
    ints = np.clip(np.round(audio.T * scale), -scale - 1, scale).astype("<i4")
    frames = ints.reshape(-1).view(np.uint8).reshape(-1, 4)[:, : bits // 8].tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(audio.shape[0])
        w.setsampwidth(bits // 8)
        w.setframerate(sample_rate_hz)
        w.writeframes(frames)
    return path


def build_assets() -> None:
    """What `make assets` does (cheap when everything is in place)."""
    import importlib.util

    for name in ("pyodide_assets", "build_web_wheel"):
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.main([]) == 0, f"scripts/{name}.py failed"


def shot(page: Page, name: str) -> None:
    """Save a full-page screenshot as a test artefact, ``test-artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_page(page: Page, base_url: str) -> None:
    """Load the app and wait until its engine has booted."""
    page.goto(base_url + "/")
    expect(page.get_by_test_id("status")).to_have_attribute(
        "data-state", "idle", timeout=JOB_TIMEOUT_MS
    )


def wait_for_job(page: Page, expected: str = "done") -> str:
    """Wait until the job ends (done or error); return the status sentence."""
    status = page.get_by_test_id("status")
    expect(status).to_have_attribute(
        "data-state", re.compile(r"^(done|error)$"), timeout=JOB_TIMEOUT_MS
    )
    text = status.inner_text()
    assert status.get_attribute("data-state") == expected, text
    return text


def drop(page: Page, path: Path, expected: str = "done") -> str:
    """Choose a file and wait until the job ends; return the status sentence."""
    page.get_by_test_id("file-input").set_input_files(str(path))
    return wait_for_job(page, expected)


def download(page: Page, dest: Path, test_id: str = "download") -> tuple[str, Path]:
    """Click the ``a[download]`` with ``data-testid=test_id``; return (file name, saved path)."""
    link = page.get_by_test_id(test_id)
    assert (link.get_attribute("href") or "").startswith("blob:")
    with page.expect_download() as info:
        link.click()
    saved = info.value
    target = dest / saved.suggested_filename
    saved.save_as(str(target))
    return saved.suggested_filename, target

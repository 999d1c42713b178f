"""Tests of ``mixmaster serve``: a real server process, no access log, and clear failures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mixmaster.cli import main

STARTUP_GUARD_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_the_app_and_logs_no_request(tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "MIXMASTER_"))
    } | {"MIXMASTER_WEB_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixmaster", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=repo_root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline_s = time.monotonic() + STARTUP_GUARD_S
        health = None
        while health is None and time.monotonic() < deadline_s and proc.poll() is None:
            try:
                health = httpx.get(f"{base_url}/healthz", timeout=1.0)
            except httpx.HTTPError:
                time.sleep(0.1)
        assert health is not None, "the server did not start"
        page = httpx.get(f"{base_url}/", timeout=5.0)
        refused = httpx.post(f"{base_url}/api/decide", json={"features": {}}, timeout=5.0)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    assert health.json() == {"status": "ok", "claude": False}
    assert "server" not in health.headers
    assert health.headers["x-content-type-options"] == "nosniff"
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert refused.status_code == 422
    log = output.decode(errors="replace")
    for request_trace in ("GET /", "POST /api/decide", "/healthz", " 200", " 422"):
        assert request_trace not in log


def test_serve_without_the_proxy_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m == "starlette" or m.startswith("starlette.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "starlette", None)
    monkeypatch.delitem(sys.modules, "mixmaster_proxy.app", raising=False)
    assert main(["serve", "--port", "8123"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'mixmaster[proxy]'" in err
    assert "[missing_extra]" in err
    assert "Traceback" not in err


def test_serve_refuses_a_bad_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MIXMASTER_CLAUDE_TIMEOUT_S", "soon")
    assert main(["serve", "--port", "8123"]) == 2
    err = capsys.readouterr().err
    assert "MIXMASTER_CLAUDE_TIMEOUT_S" in err and "[bad_config]" in err


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1"])
def test_serve_refuses_a_bad_port(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["serve", "--port", port])
    assert info.value.code == 2
    assert "1 to 65535" in capsys.readouterr().err

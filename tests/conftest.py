"""Shared fixtures. Paths are resolved from this file, never from the working directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


# --- the browser tests' site and browser ----------------------------------------------------
# Module scope, not session: Playwright's sync API keeps an event loop running while it is open,
# which would break every asyncio test collected after a browser module (the proxy tests).


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[str, Any]]:
    """The real proxy app serving web/ on loopback, with a recorder of every request."""
    from browser_support import build_assets, proxy_config, serve_proxy

    build_assets()
    with serve_proxy(proxy_config()) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    from browser_support import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh context (no cookies, storage or service worker) that accepts downloads."""
    ctx = browser.new_context(accept_downloads=True)
    yield ctx
    ctx.close()

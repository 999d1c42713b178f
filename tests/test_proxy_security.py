"""Tests of ``mixmaster_proxy.security``'s helpers (live responses: test_proxy_app.py)."""

from __future__ import annotations

import pytest

from mixmaster_proxy.security import (
    CONTENT_SECURITY_POLICY,
    IMMUTABLE,
    REVALIDATE,
    cache_control_for,
    media_type_for,
)


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("vendor/pyodide/0.27.8/pyodide.asm.wasm", "application/wasm"),
        ("vendor/pyodide/0.27.8/pyodide.mjs", "text/javascript"),
        ("js/main.js", "text/javascript"),
        ("vendor/wheels/mixmaster-0.1.0-py3-none-any.whl", "application/zip"),
        ("vendor/pyodide/0.27.8/python_stdlib.zip", "application/zip"),
        ("vendor/pyodide/0.27.8/pyodide-lock.json", "application/json"),
        ("index.html", "text/html"),
        ("css/app.css", "text/css"),
        ("icons/logo.SVG", "image/svg+xml"),
        ("manifest.webmanifest", "application/manifest+json"),
        ("a/file.with.unknown-extension", "application/octet-stream"),
    ],
)
def test_media_types(path: str, media_type: str) -> None:
    assert media_type_for(path) == media_type


@pytest.mark.parametrize(
    ("path", "cache_control"),
    [
        ("vendor/pyodide/0.27.8/pyodide.asm.wasm", IMMUTABLE),
        ("vendor/pyodide/0.27.8/numpy-2.0.2-cp312-cp312-pyodide_2024_0_wasm32.whl", IMMUTABLE),
        ("vendor/pyodide/0.27.8/pyodide-lock.json", IMMUTABLE),
        # Rebuilt under the same name: revalidated.
        ("vendor/mixmaster-0.1.0-py3-none-any.whl", REVALIDATE),
        ("vendor/manifest.json", REVALIDATE),
        ("vendor/manifest.js", REVALIDATE),
        ("vendor/pyodide/latest/pyodide.mjs", REVALIDATE),
        ("index.html", REVALIDATE),
        ("sw.js", REVALIDATE),
        ("js/main.js", REVALIDATE),
        ("js/vendor/x.js", REVALIDATE),
    ],
)
def test_cache_rules(path: str, cache_control: str) -> None:
    assert cache_control_for(path) == cache_control


def test_csp_allows_wasm_but_no_inline_script_or_foreign_origin() -> None:
    directives = dict((d.split()[0], d.split()[1:]) for d in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert directives["worker-src"] == ["'self'"]
    assert directives["connect-src"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
    assert "*" not in CONTENT_SECURITY_POLICY

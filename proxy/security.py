"""Security headers on every response, and static files with exact MIME types and cache rules.

The policy is strict and same-origin: scripts, workers and connections from this origin only,
``'wasm-unsafe-eval'`` for WebAssembly (Pyodide), no inline script or style, no framing, no
referrer, no powerful features, and never a cookie.
"""

from __future__ import annotations

import mimetypes
import os
import re
from pathlib import PurePosixPath
from typing import Final

from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "connect-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PERMISSIONS_POLICY: Final = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)
#: Sent on every response (HTTP header names in lower case, as ASGI carries them).
SECURITY_HEADERS: Final[tuple[tuple[bytes, bytes], ...]] = tuple(
    (name.encode("latin-1"), value.encode("latin-1"))
    for name, value in (
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("permissions-policy", PERMISSIONS_POLICY),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-embedder-policy", "require-corp"),
        ("cross-origin-resource-policy", "same-origin"),
        ("x-frame-options", "DENY"),
    )
)
_REPLACED: Final = frozenset({name for name, _ in SECURITY_HEADERS} | {b"set-cookie", b"server"})

#: Exact types for what the site serves (the platform's ``mimetypes`` table varies by system).
MEDIA_TYPES: Final[dict[str, str]] = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".tar": "application/x-tar",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain",
    ".wav": "audio/wav",
}
IMMUTABLE: Final = "public, max-age=31536000, immutable"
REVALIDATE: Final = "no-cache"
#: Paths (relative to the site root) that carry their version, so their content never changes:
#: the Pyodide distribution under ``vendor/pyodide/<version>/``. The manifest and our wheel sit
#: in ``vendor/`` too but are rebuilt under the same name, so they are revalidated (ETag).
VERSIONED_PATH: Final = re.compile(r"vendor/pyodide/\d+\.\d+\.\d+[^/]*/.+")


class SecurityHeadersMiddleware:
    """Add :data:`SECURITY_HEADERS` to every HTTP response and drop any ``Set-Cookie``.

    Responses without a ``Cache-Control`` get ``no-store`` (API answers, errors, metrics).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in _REPLACED
                ]
                if not any(k.lower() == b"cache-control" for k, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers + list(SECURITY_HEADERS)}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def media_type_for(path: str) -> str:
    """The ``Content-Type`` of a served file, by extension."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in MEDIA_TYPES:
        return MEDIA_TYPES[suffix]
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def cache_control_for(relative_path: str) -> str:
    """Immutable for versioned assets (:data:`VERSIONED_PATH`); revalidate everything else."""
    posix = relative_path.replace(os.sep, "/").lstrip("/")
    return IMMUTABLE if VERSIONED_PATH.fullmatch(posix) else REVALIDATE


class SiteFiles(StaticFiles):
    """:class:`StaticFiles` with :func:`media_type_for` types and :func:`cache_control_for`."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        relative = self.get_path(scope)
        response = FileResponse(
            full_path,
            status_code=status_code,
            stat_result=stat_result,
            media_type=media_type_for(str(full_path)),
            headers={"Cache-Control": cache_control_for(relative)},
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

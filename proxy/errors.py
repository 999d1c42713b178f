"""The proxy's error responses: JSON ``{code, message, field}`` with a stable ``code``."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse


class ApiError(Exception):
    """An error answered with ``status_code`` and the JSON body ``{code, message, field}``.

    Parameters
    ----------
    status_code
        The HTTP status (4xx).
    code
        Stable, machine-readable identifier, e.g. ``"body_too_large"``.
    message
        One sentence for a person: what is wrong and what is accepted.
    field
        The request field the error is about, if any (dotted path, e.g. ``"intent.style"``).
    headers
        Extra response headers (``Retry-After``, ``Allow``...).
    """

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        """The JSON response for this error (never cached)."""
        return error_response(
            self.status_code, self.code, self.message, field=self.field, headers=self.headers
        )


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error response ``{code, message, field}``, marked ``Cache-Control: no-store``."""
    return JSONResponse(
        {"code": code, "message": message, "field": field},
        status_code=status_code,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )

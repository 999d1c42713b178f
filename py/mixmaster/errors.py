"""The package's error hierarchy.

Every error carries a stable ``code`` (a short snake_case string that the CLI, the proxy and the
web page translate or show) and a human ``message`` naming the problem and what is accepted.
``field`` names the offending parameter or input, where there is one.
"""

from __future__ import annotations


class MixmasterError(Exception):
    """Base of every error this package raises on purpose.

    Parameters
    ----------
    code
        Stable, machine-readable identifier, e.g. ``"wav_truncated"``.
    message
        One sentence for a person: what is wrong and what is accepted.
    field
        The parameter or input the error is about, if any.
    """

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str | None]:
        """Return ``{code, message, field}``, the shape the CLI, proxy and worker report."""
        return {"code": self.code, "message": self.message, "field": self.field}


class InputError(MixmasterError):
    """The audio or file given is unusable (unreadable, unsupported, empty, non-finite...)."""


class ParamError(MixmasterError):
    """A parameter is unknown, of the wrong type, or outside its allowed range."""


class CancelledError(MixmasterError):
    """Processing was cancelled through the progress callback."""

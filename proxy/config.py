"""The proxy's configuration, read once from the environment at start-up.

The API key is held as a :class:`SecretStr`, whose ``repr`` and ``str`` never show it, so it cannot
leak through a log line, a traceback or ``repr(config)``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from mixmaster.errors import ParamError

#: The newest Sonnet in ``anthropic.types.Model`` (anthropic 2.13). It is not in the SDK's
#: ``DEPRECATED_MODELS`` table, which would otherwise emit a DeprecationWarning on every call.
DEFAULT_CLAUDE_MODEL: Final = "claude-sonnet-5-5"
DEFAULT_CLAUDE_TIMEOUT_S: Final = 20.0
DEFAULT_RATE_LIMIT_PER_MIN: Final = 60
#: Largest accepted request body (bytes) on ``/api/*``.
DEFAULT_MAX_BODY_BYTES: Final = 8 * 1024
#: How many clients the rate limiter remembers at most (least recently seen are evicted).
DEFAULT_RATE_LIMIT_MAX_CLIENTS: Final = 10_000
#: The site: ``web/`` next to ``proxy/`` in the repository.
DEFAULT_WEB_DIR: Final = Path(__file__).resolve().parent.parent / "web"

MAX_CLAUDE_TIMEOUT_S: Final = 600.0


class SecretStr:
    """A string that never shows itself in ``repr``/``str``; :meth:`reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for the one place that needs it (the SDK client)."""
        return self._value

    def __repr__(self) -> str:
        return "SecretStr('**********')"

    def __str__(self) -> str:
        return "**********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Config:
    """Everything the proxy reads from its environment.

    Attributes
    ----------
    api_key
        ``ANTHROPIC_API_KEY``; ``None`` means "decide with the rules only".
    base_url
        ``ANTHROPIC_BASE_URL``, passed explicitly to the SDK when set.
    claude_model
        ``MIXMASTER_CLAUDE_MODEL``.
    claude_timeout_s
        ``MIXMASTER_CLAUDE_TIMEOUT_S``: the whole budget of one Claude call, in seconds.
    rate_limit_per_min
        ``MIXMASTER_RATE_LIMIT_PER_MIN``: requests per minute per client on ``/api/*``
        (also the burst size); ``0`` turns the limit off.
    cors_origins
        ``MIXMASTER_CORS_ORIGINS``: comma-separated allowlist of origins; empty = same-origin.
    web_dir
        ``MIXMASTER_WEB_DIR``: the directory served at ``/``.
    max_body_bytes
        Largest accepted request body on ``/api/*``, in bytes.
    rate_limit_max_clients
        Bound on the number of clients the rate limiter remembers.
    """

    api_key: SecretStr | None = None
    base_url: str | None = None
    claude_model: str = DEFAULT_CLAUDE_MODEL
    claude_timeout_s: float = DEFAULT_CLAUDE_TIMEOUT_S
    rate_limit_per_min: int = DEFAULT_RATE_LIMIT_PER_MIN
    cors_origins: tuple[str, ...] = ()
    web_dir: Path = field(default=DEFAULT_WEB_DIR)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    rate_limit_max_clients: int = DEFAULT_RATE_LIMIT_MAX_CLIENTS

    def __post_init__(self) -> None:
        if not (math.isfinite(self.claude_timeout_s) and self.claude_timeout_s > 0):
            raise _bad("MIXMASTER_CLAUDE_TIMEOUT_S", self.claude_timeout_s, "a positive number")
        if self.claude_timeout_s > MAX_CLAUDE_TIMEOUT_S:
            raise _bad(
                "MIXMASTER_CLAUDE_TIMEOUT_S",
                self.claude_timeout_s,
                f"at most {MAX_CLAUDE_TIMEOUT_S:g} seconds",
            )
        if self.rate_limit_per_min < 0:
            raise _bad("MIXMASTER_RATE_LIMIT_PER_MIN", self.rate_limit_per_min, "0 (off) or more")
        if self.max_body_bytes < 1:
            raise _bad("max_body_bytes", self.max_body_bytes, "at least 1 byte")
        if self.rate_limit_max_clients < 1:
            raise _bad("rate_limit_max_clients", self.rate_limit_max_clients, "at least 1")
        for origin in self.cors_origins:
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise _bad(
                    "MIXMASTER_CORS_ORIGINS",
                    origin,
                    "explicit origins such as https://example.org (no wildcard)",
                )

    @property
    def claude_enabled(self) -> bool:
        """Whether an API key is configured (the rules decide otherwise)."""
        return self.api_key is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Read the configuration from ``environ`` (default: ``os.environ``), once.

        Raises
        ------
        ParamError
            ``bad_config``, naming the variable, if a value cannot be used.
        """
        env = os.environ if environ is None else environ
        key = env.get("ANTHROPIC_API_KEY", "").strip()
        origins = tuple(
            o.strip().rstrip("/") for o in env.get("MIXMASTER_CORS_ORIGINS", "").split(",")
        )
        return cls(
            api_key=SecretStr(key) if key else None,
            base_url=env.get("ANTHROPIC_BASE_URL", "").strip() or None,
            claude_model=env.get("MIXMASTER_CLAUDE_MODEL", "").strip() or DEFAULT_CLAUDE_MODEL,
            claude_timeout_s=_float(env, "MIXMASTER_CLAUDE_TIMEOUT_S", DEFAULT_CLAUDE_TIMEOUT_S),
            rate_limit_per_min=_int(
                env, "MIXMASTER_RATE_LIMIT_PER_MIN", DEFAULT_RATE_LIMIT_PER_MIN
            ),
            cors_origins=tuple(o for o in origins if o),
            web_dir=Path(env.get("MIXMASTER_WEB_DIR", "").strip() or DEFAULT_WEB_DIR),
        )


def _bad(name: str, value: object, accepted: str) -> ParamError:
    return ParamError("bad_config", f"{name} is {value!r}; accepted: {accepted}.", field=name)


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise _bad(name, raw, "a number of seconds") from None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise _bad(name, raw, "a whole number") from None

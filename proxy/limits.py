"""Request limits: a body-size cap enforced while the body streams in; per-client token buckets.

The client's address is held only as a key of the token bucket's table, which is bounded
(least recently seen clients are evicted first) and never logged or exported.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from mixmaster_proxy.errors import ApiError, error_response


def body_too_large(max_body_bytes: int) -> ApiError:
    """The 413 error for a body over ``max_body_bytes``."""
    return ApiError(
        413,
        "body_too_large",
        f"The request body is larger than {max_body_bytes} bytes; send at most "
        f"{max_body_bytes} bytes of JSON.",
    )


async def read_body_limited(request: Request, max_body_bytes: int) -> bytes:
    """Read the request body, refusing it as soon as it exceeds ``max_body_bytes``.

    A declared ``Content-Length`` above the limit is refused before any byte is read; the limit is
    also enforced on the bytes actually received, so a missing or lying ``Content-Length`` and
    chunked bodies are cut off early too.

    Raises
    ------
    ApiError
        413 ``body_too_large``; 400 ``bad_content_length`` for a malformed ``Content-Length``.
    """
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ApiError(
                400,
                "bad_content_length",
                "The Content-Length header is not a whole number of bytes.",
            )
        if int(declared) > max_body_bytes:
            raise body_too_large(max_body_bytes)
    chunks: list[bytes] = []
    size_bytes = 0
    async for chunk in request.stream():
        size_bytes += len(chunk)
        if size_bytes > max_body_bytes:
            raise body_too_large(max_body_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


class TokenBucketLimiter:
    """Per-client token buckets: ``rate_per_min`` tokens a minute, holding at most ``burst``.

    Parameters
    ----------
    rate_per_min
        Refill rate, in requests per minute (> 0).
    burst
        Bucket capacity (default: ``rate_per_min``, i.e. a minute's worth at once).
    max_clients
        How many clients are remembered; the least recently seen is forgotten first. A forgotten
        client starts again with a full bucket, so the bound trades memory for strictness only
        under a flood of distinct addresses.
    clock
        Monotonic time source in seconds (injectable for tests).
    """

    def __init__(
        self,
        rate_per_min: float,
        *,
        burst: float | None = None,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not (math.isfinite(rate_per_min) and rate_per_min > 0):
            raise ValueError(f"rate_per_min must be a positive number; got {rate_per_min!r}")
        self.rate_per_s = rate_per_min / 60.0
        self.burst = float(rate_per_min if burst is None else burst)
        if not self.burst >= 1.0:
            raise ValueError(f"burst must be at least 1; got {self.burst!r}")
        if max_clients < 1:
            raise ValueError(f"max_clients must be at least 1; got {max_clients!r}")
        self.max_clients = max_clients
        self._clock = clock
        # client -> (tokens, time of last update in s); insertion order = recency order.
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def acquire(self, client: str) -> float:
        """Take one token for ``client``.

        Returns
        -------
        float
            ``0.0`` if the request may proceed, else the wait in seconds until a token is due.
        """
        now_s = self._clock()
        state = self._buckets.pop(client, None)
        if state is None:
            tokens = self.burst
            while len(self._buckets) >= self.max_clients:
                self._buckets.popitem(last=False)
        else:
            tokens, last_s = state
            tokens = min(self.burst, tokens + max(0.0, now_s - last_s) * self.rate_per_s)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now_s)
            return 0.0
        self._buckets[client] = (tokens, now_s)
        return (1.0 - tokens) / self.rate_per_s


class RateLimitMiddleware:
    """ASGI middleware applying a :class:`TokenBucketLimiter` to paths under ``path_prefix``.

    A refused request gets 429 ``rate_limited`` with ``Retry-After`` (whole seconds) before its
    body is read; ``on_reject`` is called once per refusal (to count it).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limiter: TokenBucketLimiter,
        on_reject: Callable[[], None],
        path_prefix: str = "/api/",
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.on_reject = on_reject
        self.path_prefix = path_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = str(client[0]) if client else "unknown"
        wait_s = self.limiter.acquire(key)
        if wait_s <= 0.0:
            await self.app(scope, receive, send)
            return
        self.on_reject()
        retry_after_s = max(1, math.ceil(wait_s))
        response = error_response(
            429,
            "rate_limited",
            f"Too many requests from this client; try again in {retry_after_s} s.",
            headers={"Retry-After": str(retry_after_s)},
        )
        await response(scope, receive, send)

"""The MixMasterAI web app: the site (``web/``) and a small JSON API, on one port.

Routes
------
``POST /api/decide``
    ``{"features", "intent"}`` -> ``{"params", "explanation", "source", "reason"}``; Claude decides
    when an API key is configured, the rules otherwise or whenever Claude cannot (still a 200).
``POST /api/jobs``
    ``{"outcome", "duration_s", "platform"}`` -> 204; feeds aggregate counters only.
``GET /metrics``
    Prometheus text.
``GET /healthz``
    ``{"status": "ok", "claude": <API key configured>}``.
``/``
    The static site, with exact MIME types and cache rules.

Privacy: the app logs nothing about requests and stores nothing beyond aggregate counters; the
client address lives only in the rate limiter's bounded table. Errors are JSON
``{code, message, field}`` with a stable ``code``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict, cast

from anthropic import AsyncAnthropic
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, ExceptionHandler

from mixmaster.decide import decide
from mixmaster.errors import MixmasterError
from mixmaster_proxy.claude import (
    FALLBACK_REASONS,
    ClaudeAnswer,
    ClaudeFailure,
    ask_claude,
    make_client,
)
from mixmaster_proxy.config import Config
from mixmaster_proxy.errors import ApiError, error_response
from mixmaster_proxy.limits import RateLimitMiddleware, TokenBucketLimiter, read_body_limited
from mixmaster_proxy.metrics import METRICS_CONTENT_TYPE, Metrics
from mixmaster_proxy.schema import (
    JOB_OUTCOMES,
    JOB_PLATFORMS,
    MAX_EXPLANATION_CHARS,
    decide_response,
    parse_decide_request,
    parse_job_report,
)
from mixmaster_proxy.security import SecurityHeadersMiddleware, SiteFiles

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


class LifespanState(TypedDict):
    """What the lifespan hands every request (``request.state``)."""

    claude: AsyncAnthropic | None


class MixmasterApp(Starlette):
    """Starlette with the security headers outside everything, 500 answers included."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack())


def _config(request: Request) -> Config:
    return cast(Config, request.app.state.config)


def _metrics(request: Request) -> Metrics:
    return cast(Metrics, request.app.state.metrics)


def _require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            "The request body must be JSON, sent with Content-Type: application/json.",
        )


async def decide_endpoint(request: Request) -> Response:
    """``POST /api/decide``: validate, decide by rules, ask Claude if configured, answer."""
    config, metrics = _config(request), _metrics(request)
    _require_json(request)
    body = await read_body_limited(request, config.max_body_bytes)
    req = parse_decide_request(body)
    rules = decide(req.features, req.intent)
    client: AsyncAnthropic | None = request.state.claude
    outcome: ClaudeAnswer | ClaudeFailure
    if client is None:
        outcome = ClaudeFailure("no_api_key")
    else:
        outcome = await ask_claude(
            client,
            model=config.claude_model,
            timeout_s=config.claude_timeout_s,
            features=req.features,
            intent=req.intent,
            base=rules.params,
            observe_latency=metrics.claude_call,
        )
    if isinstance(outcome, ClaudeAnswer):
        payload = decide_response(outcome.params, outcome.explanation, "claude", None)
        metrics.decision("claude", None)
    else:
        explanation = rules.summary(max_chars=MAX_EXPLANATION_CHARS)
        payload = decide_response(rules.params, explanation, "rules", outcome.reason)
        metrics.decision("rules", outcome.reason)
    return JSONResponse(payload)


async def jobs_endpoint(request: Request) -> Response:
    """``POST /api/jobs``: count a finished job (outcome, duration, platform); 204."""
    _require_json(request)
    body = await read_body_limited(request, _config(request).max_body_bytes)
    report = parse_job_report(body)
    _metrics(request).job(report.outcome, report.platform, report.duration_s)
    return Response(status_code=204)


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: Prometheus text exposition."""
    return Response(_metrics(request).render(), media_type=METRICS_CONTENT_TYPE)


async def healthz_endpoint(request: Request) -> Response:
    """``GET /healthz``: liveness, and whether Claude is configured."""
    return JSONResponse({"status": "ok", "claude": _config(request).claude_enabled})


def _count_if_api(request: Request, code: str) -> None:
    if request.url.path.startswith("/api/"):
        _metrics(request).rejection(code)


async def _api_error(request: Request, exc: Exception) -> Response:
    err = cast(ApiError, exc)
    _count_if_api(request, err.code)
    return err.response()


async def _mixmaster_error(request: Request, exc: Exception) -> Response:
    err = cast(MixmasterError, exc)
    _count_if_api(request, err.code)
    return error_response(422, err.code, err.message, field=err.field)


async def _http_error(request: Request, exc: Exception) -> Response:
    err = cast(HTTPException, exc)
    code = _HTTP_CODES.get(err.status_code, f"http_{err.status_code}")
    _count_if_api(request, code)
    message = {
        404: "Nothing is here.",
        405: f"This method is not allowed here; allowed: {(err.headers or {}).get('Allow', '')}.",
    }.get(err.status_code, str(err.detail))
    return error_response(err.status_code, code, message, headers=err.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return error_response(500, "internal_error", "Something went wrong on the server.")


def create_app(config: Config | None = None) -> Starlette:
    """Build the app; ``config`` defaults to :meth:`Config.from_env` (read once, here).

    Each app has its own metrics registry and rate limiter, so several can live in one process.
    """
    cfg = Config.from_env() if config is None else config
    metrics = Metrics(
        job_outcomes=JOB_OUTCOMES,
        platforms=JOB_PLATFORMS,
        decision_labels=[("claude", "none"), *(("rules", r) for r in FALLBACK_REASONS)],
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[LifespanState]:
        client = make_client(cfg)
        try:
            yield {"claude": client}
        finally:
            if client is not None:
                await client.close()

    api = [
        Route("/decide", decide_endpoint, methods=["POST"]),
        Route("/jobs", jobs_endpoint, methods=["POST"]),
    ]
    routes: list[BaseRoute] = [
        Mount("/api", routes=api),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/healthz", healthz_endpoint, methods=["GET"]),
    ]
    if cfg.web_dir.is_dir():
        routes.append(Mount("/", app=SiteFiles(directory=cfg.web_dir, html=True)))

    middleware = []
    if cfg.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=cfg.cors_origins,
                allow_methods=("POST",),
                allow_headers=("content-type",),
                allow_credentials=False,
            )
        )
    if cfg.rate_limit_per_min > 0:
        limiter = TokenBucketLimiter(cfg.rate_limit_per_min, max_clients=cfg.rate_limit_max_clients)
        middleware.append(
            Middleware(
                RateLimitMiddleware,
                limiter=limiter,
                on_reject=lambda: metrics.rejection("rate_limited"),
            )
        )

    handlers: dict[Any, ExceptionHandler] = {
        ApiError: _api_error,
        MixmasterError: _mixmaster_error,
        HTTPException: _http_error,
        Exception: _server_error,
    }
    app = MixmasterApp(
        routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan
    )
    app.state.config = cfg
    app.state.metrics = metrics
    return app


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with uvicorn (no access log: nothing about a request is logged).

    Raises
    ------
    ParamError
        ``bad_config`` if the environment holds an unusable setting (checked before starting).
    """
    import uvicorn

    Config.from_env()
    uvicorn.run(
        "mixmaster_proxy.app:create_app",
        factory=True,
        host=host,
        port=port,
        access_log=False,
        server_header=False,
    )

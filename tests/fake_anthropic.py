"""A fake Anthropic Messages API on loopback, for testing the proxy with the real SDK.

The real ``anthropic.AsyncAnthropic`` client is pointed at it through ``base_url``; only the HTTP
server is fake. It implements ``POST /v1/messages`` with a scripted *behaviour* (a function from
the received JSON body to a :class:`Reply`), records every body it received, and measures its own
service time per request (so a bench can subtract it from end-to-end latency).

Use in tests::

    with FakeAnthropic(behaviour=tool_answer({"params": {}, "explanation": "ok"})) as fake:
        ... Config(api_key=SecretStr("test"), base_url=fake.base_url) ...
        fake.requests[0].body  # what the SDK sent

Run as a script (for ``bench/bench_proxy.py``) it answers every request instantly with a valid
tool call built from the request's own tool schema, prints ``READY <base_url>`` and serves until
stdin closes or it is terminated; ``GET /_stats`` returns the recorded service times.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    """What the fake answers: a status, a body (JSON object or raw bytes) and a delay."""

    status: int = 200
    body: Mapping[str, Any] | bytes = b""
    delay_s: float = 0.0
    content_type: str = "application/json"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any


Behaviour = Callable[[Mapping[str, Any]], Reply]

_ids = itertools.count(1)


def message(
    content: list[Mapping[str, Any]], *, stop_reason: str, model: str = "fake-model"
) -> dict[str, Any]:
    """A Messages API response object with the given content blocks."""
    return {
        "id": f"msg_fake_{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 100, "output_tokens": 50},
    }


def tool_answer(tool_input: Any, *, name: str | None = None) -> Behaviour:
    """Answer with one ``tool_use`` block carrying ``tool_input`` (for the forced tool)."""

    def behave(request: Mapping[str, Any]) -> Reply:
        tool_name = name or _forced_tool_name(request)
        block = {"type": "tool_use", "id": f"toolu_fake_{next(_ids):06d}", "name": tool_name}
        block["input"] = tool_input
        return Reply(body=message([block], stop_reason="tool_use", model=request.get("model", "")))

    return behave


def schema_answer(request: Mapping[str, Any]) -> Reply:
    """A valid tool call built from the request's own tool schema (defaults or mid-range values).

    This is what a well-behaved model returns: every field of every stage, within range.
    """
    tool = _forced_tool(request)
    schema = tool["input_schema"]
    tool_input = {key: _example(sub) for key, sub in schema.get("properties", {}).items()}
    block = {
        "type": "tool_use",
        "id": f"toolu_fake_{next(_ids):06d}",
        "name": tool["name"],
        "input": tool_input,
    }
    return Reply(body=message([block], stop_reason="tool_use", model=request.get("model", "")))


def tool_input_of(reply: Reply) -> Any:
    """The input of the first ``tool_use`` block of a reply made by this module."""
    if isinstance(reply.body, bytes):
        raise ValueError("a raw reply has no tool call")
    return next(b["input"] for b in reply.body["content"] if b["type"] == "tool_use")


def text_answer(text: str, *, stop_reason: str = "end_turn") -> Behaviour:
    """Answer with a plain text block and no tool call."""

    def behave(request: Mapping[str, Any]) -> Reply:
        block = {"type": "text", "text": text}
        return Reply(body=message([block], stop_reason=stop_reason, model=request.get("model", "")))

    return behave


def refusal() -> Behaviour:
    """The model declines: ``stop_reason == "refusal"`` with no tool call."""
    return text_answer("", stop_reason="refusal")


def error_reply(status: int, error_type: str, text: str = "fake error") -> Behaviour:
    """An API error such as 500 ``api_error`` or 529 ``overloaded_error``."""

    def behave(request: Mapping[str, Any]) -> Reply:
        body = {"type": "error", "error": {"type": error_type, "message": text}}
        return Reply(status=status, body=body)

    return behave


def raw_reply(
    body: bytes, *, status: int = 200, content_type: str = "application/json"
) -> Behaviour:
    """Answer with raw bytes (e.g. a garbage, non-JSON body)."""

    def behave(request: Mapping[str, Any]) -> Reply:
        return Reply(status=status, body=body, content_type=content_type)

    return behave


def slow(delay_s: float, then: Behaviour = schema_answer) -> Behaviour:
    """Wait ``delay_s`` (interrupted when the fake stops), then answer as ``then`` does."""

    def behave(request: Mapping[str, Any]) -> Reply:
        reply = then(request)
        return Reply(reply.status, reply.body, delay_s, reply.content_type)

    return behave


def _forced_tool_name(request: Mapping[str, Any]) -> str:
    choice = request.get("tool_choice") or {}
    return str(choice.get("name", "tool"))


def _forced_tool(request: Mapping[str, Any]) -> Mapping[str, Any]:
    name = _forced_tool_name(request)
    for tool in request.get("tools", []):
        if tool.get("name") == name:
            return tool  # type: ignore[no-any-return]
    raise ValueError(f"the request forces no tool that it also declares ({name!r})")


def _example(schema: Mapping[str, Any]) -> Any:
    """A value valid against a (small subset of) JSON Schema: defaults, mid-range, first choice."""
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        return {key: _example(sub) for key, sub in schema.get("properties", {}).items()}
    if kind in ("number", "integer"):
        lo = schema.get("minimum", 0)
        hi = schema.get("maximum", lo)
        mid = (lo + hi) / 2
        return round(mid) if kind == "integer" else mid
    if kind == "boolean":
        return False
    if kind == "string":
        return "A balanced master for streaming."[: schema.get("maxLength", 600)]
    return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # the default listen backlog (5) drops bursts of new connections

    def __init__(self, fake: FakeAnthropic) -> None:
        self.fake = fake
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Record (never print) handler errors, e.g. a client that hung up on a slow reply."""
        with self.fake.lock:
            self.fake.errors.append(repr(sys.exc_info()[1]))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the second waits for the client's
    # delayed ACK (40 ms on Linux), a stall no real API has.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """No access log."""

    def do_GET(self) -> None:
        if self.path == "/_stats":
            stats = {"service_times_s": list(self.server.fake.service_times_s)}
            self._send(Reply(body=stats))
        else:
            self._send(error_reply(404, "not_found_error")({}))

    def do_POST(self) -> None:
        started_s = time.perf_counter()
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        fake = self.server.fake
        with fake.lock:
            fake.requests.append(
                RecordedRequest("POST", self.path, dict(self.headers.items()), body)
            )
        if self.path != "/v1/messages" or not isinstance(body, dict):
            reply = error_reply(
                404 if self.path != "/v1/messages" else 400, "invalid_request_error"
            )({})
        else:
            reply = fake.behaviour(body)
        if reply.delay_s > 0 and self.server.stopping.wait(reply.delay_s):
            return
        self._send(reply)
        with fake.lock:
            fake.service_times_s.append(time.perf_counter() - started_s - reply.delay_s)

    def _send(self, reply: Reply) -> None:
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        try:
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(payload)))
            self.send_header("request-id", f"req_fake_{next(_ids):06d}")
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


@dataclass
class FakeAnthropic:
    """The fake Messages API server, run in a background thread on 127.0.0.1 (free port)."""

    behaviour: Behaviour = schema_answer
    requests: list[RecordedRequest] = field(default_factory=list)
    service_times_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, for the SDK's ``base_url``."""
        if self._server is None:
            raise RuntimeError("the fake server is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def message_bodies(self) -> list[Any]:
        """The JSON bodies received on ``POST /v1/messages``."""
        with self.lock:
            return [r.body for r in self.requests if r.path == "/v1/messages"]

    def start(self) -> FakeAnthropic:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stopping.set()
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Serve instant, schema-valid tool answers until stdin closes; print ``READY <url>``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.parse_args(argv)
    with FakeAnthropic() as fake:
        print(f"READY {fake.base_url}", flush=True)
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

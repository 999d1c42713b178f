"""Bench of the proxy's overhead: 2,000 decides at 50 concurrent requests, all on loopback.

Starts the fake Messages API (``tests/fake_anthropic.py``, instant schema-valid answers) and the
proxy (uvicorn, one worker, rate limit lifted, Claude pointed at the fake) as subprocesses, sends
the decides with httpx, and prints:

- the error count (anything but a 200 answered by Claude counts; must be 0),
- end-to-end latency p50/p99 as the client sees it,
- the fake's own service time p50/p99 (measured inside the fake),
- the proxy's overhead p50/p99: end-to-end latency minus the fake's median service time,
- throughput, and the proxy process's CPU time per decide (Linux), which, unlike latency, does not
  include queueing behind other work on the machine.

Bounded: fixed request count, every wait has a timeout, everything binds to 127.0.0.1 only.
Exits non-zero on any error. Usage: ``python bench/bench_proxy.py [--requests N]
[--concurrency C]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from mixmaster.analyze import analyze  # noqa: E402
from signals import programme  # noqa: E402

STARTUP_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 60.0
WARMUP_REQUESTS = 100
INTENT = {"platform": "spotify", "style": "balanced", "intensity": 0.5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_fake() -> tuple[subprocess.Popen[str], str]:
    """Start the fake Messages API; return the process and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_anthropic.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    line: list[str] = []
    reader = threading.Thread(
        target=lambda: line.append(proc.stdout.readline() if proc.stdout else "")
    )
    reader.start()
    reader.join(STARTUP_TIMEOUT_S)
    if not line or not line[0].startswith("READY "):
        proc.kill()
        raise RuntimeError("the fake Messages API did not start")
    return proc, line[0].split()[1]


def start_proxy(fake_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": "bench-key",
        "ANTHROPIC_BASE_URL": fake_url,
        "MIXMASTER_RATE_LIMIT_PER_MIN": "0",
        "MIXMASTER_CLAUDE_TIMEOUT_S": "20",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "mixmaster_proxy.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--no-server-header",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )


def wait_healthy(base_url: str) -> None:
    deadline_s = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline_s:
        try:
            r = httpx.get(f"{base_url}/healthz", timeout=1.0)
            if r.status_code == 200 and r.json().get("claude") is True:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the proxy did not become healthy")


def cpu_time_s(pid: int) -> float | None:
    """User + system CPU time of a process (Linux ``/proc``), or ``None`` elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fake_service_times_s(fake_url: str) -> list[float]:
    stats = httpx.get(f"{fake_url}/_stats", timeout=10.0).json()
    return [float(t) for t in stats["service_times_s"]]


async def run(
    base_url: str, body: bytes, n: int, concurrency: int
) -> tuple[list[float], Counter[str]]:
    """Send ``n`` decides with at most ``concurrency`` in flight; return latencies and errors.

    Errors are counted by kind: ``http_<status>``, ``rules_<reason>`` (Claude's answer was not
    used) or the client exception's name.
    """
    latencies_s: list[float] = []
    errors: Counter[str] = Counter()
    gate = asyncio.Semaphore(concurrency)
    # Reuse a kept-alive connection only if it idled less than 1 s: uvicorn closes idle ones
    # after 5 s, and httpx's default expiry (also 5 s) races with that under load, giving
    # ReadErrors on requests the proxy never saw (browsers retry those; httpx does not).
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=1.0
    )
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S
    ) as client:

        async def one() -> None:
            async with gate:
                started_s = time.perf_counter()
                try:
                    r = await client.post("/api/decide", content=body, headers=headers)
                    if r.status_code != 200:
                        errors[f"http_{r.status_code}"] += 1
                    elif (answer := r.json()).get("source") != "claude":
                        errors[f"rules_{answer.get('reason')}"] += 1
                except (httpx.HTTPError, ValueError) as exc:
                    errors[type(exc).__name__] += 1
                    print(
                        f"error after {time.perf_counter() - started_s:.3f} s: {exc!r}",
                        file=sys.stderr,
                    )
                latencies_s.append(time.perf_counter() - started_s)

        await asyncio.gather(*(one() for _ in range(n)))
    return latencies_s, errors


def quantile_ms(values_s: list[float], q: float) -> float:
    ordered = sorted(values_s)
    return 1e3 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Bench the proxy's overhead over the fake API.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args(argv)

    features: dict[str, Any] = analyze(programme(3.0, 48_000), 48_000).to_json()
    body = json.dumps({"features": features, "intent": INTENT}).encode()
    fake, fake_url = start_fake()
    port = free_port()
    proxy = start_proxy(fake_url, port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url)
        _, warmup_errors = asyncio.run(run(base_url, body, WARMUP_REQUESTS, args.concurrency))
        served_before = len(fake_service_times_s(fake_url))
        cpu_before_s = cpu_time_s(proxy.pid)
        started_s = time.perf_counter()
        latencies_s, errors = asyncio.run(run(base_url, body, args.requests, args.concurrency))
        wall_s = time.perf_counter() - started_s
        cpu_after_s = cpu_time_s(proxy.pid)
        service_s = fake_service_times_s(fake_url)[served_before:]
    finally:
        proxy.terminate()
        if fake.stdin:
            fake.stdin.close()
        for proc in (proxy, fake):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    errors.update(warmup_errors)
    n_errors = sum(errors.values())
    median_service_s = statistics.median(service_s) if service_s else 0.0
    overhead_s = [t - median_service_s for t in latencies_s]
    print(f"bench_proxy: {args.requests} decides, {args.concurrency} concurrent, loopback")
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(errors.items()))
    print(f"errors                 {n_errors}" + (f" ({kinds})" if kinds else ""))
    print(f"fake calls             {len(service_s)} (one per decide)")
    print(
        f"end_to_end_ms          p50 {quantile_ms(latencies_s, 0.5):8.2f}  "
        f"p99 {quantile_ms(latencies_s, 0.99):8.2f}"
    )
    print(
        f"fake_service_ms        p50 {quantile_ms(service_s, 0.5):8.2f}  "
        f"p99 {quantile_ms(service_s, 0.99):8.2f}"
    )
    print(
        f"proxy_overhead_ms      p50 {quantile_ms(overhead_s, 0.5):8.2f}  "
        f"p99 {quantile_ms(overhead_s, 0.99):8.2f}"
    )
    print(
        f"overhead_share         {quantile_ms(overhead_s, 0.5) / quantile_ms(latencies_s, 0.5):.3f}"
        " (p50 overhead / p50 end-to-end)"
    )
    print(f"throughput_req_per_s   {args.requests / wall_s:.1f}")
    if cpu_before_s is not None and cpu_after_s is not None:
        cpu_ms = 1e3 * (cpu_after_s - cpu_before_s) / args.requests
        print(f"proxy_cpu_ms_per_decide {cpu_ms:.2f} (CPU time of the proxy process)")
    if n_errors or len(service_s) != args.requests:
        print("FAIL: errors or missing Claude calls", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Tests of ``mixmaster_proxy.limits``: the per-client token bucket (its clock injected)."""

from __future__ import annotations

import pytest

from mixmaster_proxy.limits import TokenBucketLimiter


class Clock:
    """A hand-driven monotonic clock, seconds."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


@pytest.mark.parametrize("rate_per_min", [1, 6, 60, 600])
def test_a_burst_of_the_rate_passes_then_the_next_waits(rate_per_min: int) -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(rate_per_min, clock=clock)
    assert all(limiter.acquire("a") == 0.0 for _ in range(rate_per_min))
    wait_s = limiter.acquire("a")
    assert wait_s == pytest.approx(60.0 / rate_per_min)


def test_tokens_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(60, burst=2, clock=clock)
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(1.0)
    clock.now_s = 0.5
    assert limiter.acquire("a") == pytest.approx(0.5)
    clock.now_s = 1.0
    assert limiter.acquire("a") == 0.0
    clock.now_s = 100.0  # refills to the burst, not beyond
    assert [limiter.acquire("a") for _ in range(3)][:2] == [0.0, 0.0]
    assert limiter.acquire("a") > 0.0


def test_clients_have_separate_buckets() -> None:
    limiter = TokenBucketLimiter(60, burst=1, clock=Clock())
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0.0
    assert limiter.acquire("b") == 0.0


def test_the_table_is_bounded_and_forgets_the_least_recently_seen() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(60, burst=1, max_clients=3, clock=clock)
    for client in ("a", "b", "c"):
        assert limiter.acquire(client) == 0.0
    assert limiter.acquire("a") > 0.0  # "a" is now the most recently seen
    assert limiter.acquire("d") == 0.0  # evicts "b", the least recently seen
    assert len(limiter) == 3
    assert limiter.acquire("a") > 0.0  # still remembered, still empty
    assert limiter.acquire("b") == 0.0  # forgotten: a fresh bucket
    for i in range(1000):
        limiter.acquire(f"flood-{i}")
    assert len(limiter) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate_per_min": 0},
        {"rate_per_min": -1},
        {"rate_per_min": float("nan")},
        {"rate_per_min": 60, "burst": 0.5},
        {"rate_per_min": 60, "max_clients": 0},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(**kwargs)  # type: ignore[arg-type]

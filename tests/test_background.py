"""Tests for mixmaster.background: jobs on a second core natively, run on demand otherwise."""

from __future__ import annotations

import threading

import pytest

from mixmaster import background


def _where() -> str:
    return threading.current_thread().name


def test_a_job_runs_in_the_worker_thread_and_returns_its_value() -> None:
    if not background.threads_available():
        pytest.skip("one core: jobs run on demand (covered below)")
    job = background.start(_where)
    assert job.result().startswith("mixmaster-background")
    assert job.result() == job.result()  # asking again returns the same value


def test_a_jobs_exception_is_raised_by_result() -> None:
    def fails() -> int:
        raise ValueError("no")

    job = background.start(fails)
    with pytest.raises(ValueError, match="no"):
        job.result()


def test_without_threads_a_job_runs_once_when_its_result_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(background, "threads_available", lambda: False)
    runs: list[str] = []

    def job() -> int:
        runs.append(_where())
        return 7

    started = background.start(job)
    assert runs == []  # nothing ran yet: the caller's order of work is kept
    assert started.result() == 7 and started.result() == 7
    assert runs == [_where()]


def test_a_job_started_from_a_job_runs_on_demand_instead_of_waiting_for_itself() -> None:
    # regression guard: with one worker thread, a job waiting for a job it queued behind itself
    # would never finish
    def outer() -> tuple[str, str]:
        return _where(), background.start(_where).result()

    mine, inner = background.start(outer).result()
    assert inner == mine


def test_a_relay_consumes_every_piece_in_order_and_waits_for_the_last() -> None:
    seen: list[int] = []
    with background.Relay() as relay:
        for i in range(50):
            relay.send(lambda i=i: seen.append(i))
    assert seen == list(range(50))  # all done on leaving, in order


def test_a_relay_raises_the_consumers_exception() -> None:
    def fails() -> None:
        raise ValueError("consumer")

    with pytest.raises(ValueError, match="consumer"), background.Relay() as relay:
        relay.send(fails)
        relay.send(lambda: None)


def test_the_callers_exception_wins_and_nothing_runs_on() -> None:
    done: list[str] = []

    def slow_fail() -> None:
        threading.Event().wait(0.05)
        done.append("consumer")
        raise ValueError("consumer")

    with pytest.raises(KeyError), background.Relay() as relay:
        relay.send(slow_fail)
        raise KeyError("caller")
    assert done == ["consumer"]  # the relay waited for it before the caller's error went on

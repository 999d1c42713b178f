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

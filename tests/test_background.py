"""Tests for mixmaster.background: jobs on a second core natively, on the calling thread
otherwise. Threads are forced on where a test needs them, so the tests mean the same on a
one-CPU machine."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from mixmaster import background


def _where() -> str:
    return threading.current_thread().name


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "threads_available", lambda: True)


@pytest.fixture
def no_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "threads_available", lambda: False)


@pytest.mark.usefixtures("threads")
def test_a_job_runs_in_the_worker_thread_and_returns_its_value() -> None:
    job = background.start(_where)
    assert job.result().startswith("mixmaster-background")
    assert job.result() == job.result()  # asking again returns the same value


@pytest.mark.parametrize("mode", ["threads", "no_threads"])
def test_a_jobs_exception_is_raised_by_result(mode: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue(mode)

    def fails() -> int:
        raise ValueError("no")

    job = background.start(fails)
    with pytest.raises(ValueError, match="no"):
        job.result()


@pytest.mark.usefixtures("no_threads")
def test_without_threads_a_job_runs_once_when_its_result_is_asked_for() -> None:
    runs: list[str] = []

    def job() -> int:
        runs.append(_where())
        return 7

    started = background.start(job)
    assert runs == []  # nothing ran yet: the caller's order of work is kept
    assert started.result() == 7 and started.result() == 7
    assert runs == [_where()]
    background.start(lambda: runs.append("eager"), eager=True)
    assert runs[-1] == "eager"  # a stream's consumer runs at once


@pytest.mark.usefixtures("threads")
def test_only_the_main_thread_hands_jobs_to_the_worker() -> None:
    # a job started from a job runs in it (with one worker, waiting for a job queued behind
    # itself would never end), and so does one started from a caller's own thread
    def outer() -> tuple[str, str]:
        return _where(), background.start(_where).result()

    mine, inner = background.start(outer).result()
    assert inner == mine
    seen: list[str] = []
    caller = threading.Thread(
        target=lambda: seen.append(background.start(_where).result()), name="caller"
    )
    caller.start()
    caller.join()
    assert seen == ["caller"]


@pytest.mark.usefixtures("threads")
def test_an_abandoned_job_is_cancelled_or_waited_for() -> None:
    started, gate = threading.Event(), threading.Event()
    done: list[str] = []

    def first() -> None:
        started.set()
        gate.wait(5)
        done.append("first")

    running = background.start(first)
    assert started.wait(5)
    queued = background.start(lambda: done.append("queued"))
    queued.abandon()  # not started yet: it never runs
    gate.set()
    running.abandon()  # running: waited for
    assert done == ["first"]
    assert background.start(lambda: "next").result() == "next"  # the worker goes on


def test_disable_keeps_jobs_on_the_calling_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "_enabled", True)
    background.disable()
    assert not background.threads_available()
    assert background.start(_where).result() == _where()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
@pytest.mark.usefixtures("threads")
def test_a_forked_child_gets_a_worker_of_its_own() -> None:
    # regression: the parent's pool was copied into the child without its thread, so the
    # child's first job waited forever in a queue nobody read
    assert background.start(lambda: 1).result() == 1  # the parent's worker exists
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's cleanup
        try:
            ok = background.start(lambda: 2).result() == 2
            os.write(write_end, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write_end)
    import select
    import signal

    ready: list[int] = []
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        assert ready, "the forked child's job never ran"
        assert os.read(read_end, 2) == b"ok"
    finally:
        os.close(read_end)
        if not ready:
            os.kill(pid, signal.SIGKILL)  # a hung child must not hang the test run too
        os.waitpid(pid, 0)


@pytest.mark.parametrize("mode", ["threads", "no_threads"])
def test_a_relay_consumes_every_piece_in_order_and_waits_for_the_last(
    mode: str, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue(mode)
    seen: list[int] = []
    with background.Relay() as relay:
        for i in range(50):
            relay.send(lambda i=i: seen.append(i))
    assert seen == list(range(50))  # all done on leaving, in order


@pytest.mark.parametrize("mode", ["threads", "no_threads"])
def test_a_relay_raises_the_consumers_exception(mode: str, request: pytest.FixtureRequest) -> None:
    request.getfixturevalue(mode)

    def fails() -> None:
        raise ValueError("consumer")

    with pytest.raises(ValueError, match="consumer"), background.Relay() as relay:
        relay.send(fails)
        relay.send(lambda: None)


@pytest.mark.usefixtures("threads")
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


def test_threads_are_used_only_with_a_second_usable_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(background, "_enabled", True)
    monkeypatch.setattr(background, "_usable_cpus", lambda: 1)
    assert not background.threads_available()
    monkeypatch.setattr(background, "_usable_cpus", lambda: 2)
    assert background.threads_available() == (sys.platform != "emscripten")

"""Work that may run on a second core while the caller goes on: :func:`start`.

Natively, a job runs at once in one shared worker thread; numpy's FFTs, matrix products and
ufunc loops (and ``scipy.signal.sosfilt``) release the GIL, so on a machine with two cores two
pieces of work on the same audio take little more than the longer one. Used for the analysis
(spectra and tempo beside loudness and true peak: 0.48 -> 0.31 s on a 5-minute track) and for
the pipeline's consumers (envelope, meter, output stage beside the chain and the limiter: a
5-minute master 3.2 -> 2.7 s), and for the chain's first stages, which take the next chunk while
the rest of the chain makes this one (the pre-limiter chain 1.55 -> 1.21 s).

In Pyodide (no threads), or when started from any thread but the main one, a job runs when its
result is asked for (or at once, if started ``eager``), so the caller's order of work, and its
progress reports between the jobs, stay as if it had called the function there. Either way the
result is the function's own: the same numbers, bit for bit.

Jobs run one at a time, in the order they were started. A job reports no progress; what it
writes, the caller reads only after the job's :meth:`Job.result`. Only the main thread hands
jobs to the worker (a job started from any other thread runs there); the worker is used only
with a second CPU this process may run on, and not after :func:`disable` (the CLI's album
workers, which fill the cores already). A forked child starts a worker of its own.

Why our own: :mod:`concurrent.futures` alone would need the same fallback at every call site,
as Pyodide cannot start threads.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Final, Generic, TypeVar

__all__ = ["Job", "Relay", "disable", "start", "threads_available"]

T = TypeVar("T")

_THREAD_PREFIX: Final = "mixmaster-background"
_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None

_enabled = True


def _usable_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):  # the CPUs this process may run on (containers)
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_available() -> bool:
    """Whether jobs run in a worker thread: not in Pyodide, only with a second usable CPU, and
    not after :func:`disable`."""
    return _enabled and sys.platform != "emscripten" and _usable_cpus() > 1


def disable() -> None:
    """Keep every job on its calling thread from now on, in this process (for worker processes
    that already fill the cores: the CLI's album workers)."""
    global _enabled
    _enabled = False


def _forget_pool() -> None:
    """In a forked child: the parent's worker thread was not copied, so start afresh."""
    global _lock, _pool
    _lock = threading.Lock()
    _pool = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


class Job(Generic[T]):
    """A started job; :meth:`result` waits for it (or runs it, once) and returns its value or
    raises its exception."""

    def __init__(self, fn: Callable[[], T], future: concurrent.futures.Future[T] | None) -> None:
        self._fn = fn
        self._future = future
        self._value: list[T] = []  # the lazily run job's value, once it has run

    def result(self) -> T:
        if self._future is not None:
            return self._future.result()
        if not self._value:
            self._value.append(self._fn())
        return self._value[0]

    def abandon(self) -> None:
        """The result is no longer wanted: a job that has not started never will; a running
        one is waited for (its outcome dropped), so nothing runs on after the caller."""
        if self._future is not None and not self._future.cancel():
            concurrent.futures.wait([self._future])


def _worker_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=_THREAD_PREFIX)
        return _pool


def start(fn: Callable[[], T], *, eager: bool = False) -> Job[T]:
    """Start ``fn()`` in the background where threads are available (see the module notes).

    Only the main thread hands work to the worker: called from any other thread (the worker
    itself, or a caller's own threads, which would otherwise queue behind each other), the job
    runs on the calling thread. Where it does not go to the worker, ``fn`` runs when its result
    is asked for, or at once if ``eager`` (for a stream's consumer, whose pieces must not pile
    up). Jobs run one at a time, in the order they were started.
    """
    if threading.current_thread() is not threading.main_thread() or not threads_available():
        job = Job(fn, None)
        if eager:
            job.result()
        return job
    return Job(fn, _worker_pool().submit(fn))


class Relay:
    """Hands the pieces of a stream to a consumer on the second core, in order, with at most
    one piece waiting (the previous one is done before the next is handed over).

    Use as a context manager: leaving it waits for the last piece, so nothing runs on after
    the caller is done; if the caller is leaving with an exception (a cancellation...), that
    exception wins over any of the consumer's.
    """

    def __init__(self) -> None:
        self._job: Job[None] | None = None

    def __enter__(self) -> Relay:
        return self

    def send(self, consume: Callable[[], None]) -> None:
        """Run ``consume()`` after the previous piece's (raising that one's exception, if any)."""
        if self._job is not None:
            self._job.result()
        self._job = start(consume, eager=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        job, self._job = self._job, None
        if job is None:
            return
        if exc_type is None:
            job.result()
            return
        with contextlib.suppress(Exception):
            job.result()

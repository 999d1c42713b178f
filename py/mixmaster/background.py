"""Work that may run on a second core while the caller goes on: :func:`start`.

Natively, a job runs at once in one shared worker thread; numpy's FFTs, matrix products and
ufunc loops (and ``scipy.signal.sosfilt``) release the GIL, so on a machine with two cores two
pieces of work on the same audio take little more than the longer one. Used for the analysis
(spectra and tempo beside loudness and true peak: 0.48 -> 0.31 s on a 5-minute track) and for
the pipeline's consumers (envelope, meter, output stage beside the chain and the limiter: a
5-minute master 3.2 -> 2.7 s).

In Pyodide (no threads), or when called from the worker thread itself, a job runs when its
result is asked for (or at once, if started ``eager``), so the caller's order of work, and its
progress reports between the jobs, stay as if it had called the function there. Either way the
result is the function's own: the same numbers, bit for bit.

Jobs run one at a time, in the order they were started. A job reports no progress; what it
writes, the caller reads only after the job's :meth:`Job.result`.

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

__all__ = ["Job", "Relay", "start", "threads_available"]

T = TypeVar("T")

_THREAD_PREFIX: Final = "mixmaster-background"
_lock = threading.Lock()
_pool: concurrent.futures.ThreadPoolExecutor | None = None


def threads_available() -> bool:
    """Whether jobs run in a worker thread: not in Pyodide, and only with a second core."""
    return sys.platform != "emscripten" and (os.cpu_count() or 1) > 1


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


def _worker_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=_THREAD_PREFIX)
        return _pool


def start(fn: Callable[[], T], *, eager: bool = False) -> Job[T]:
    """Start ``fn()`` in the background where threads are available (see the module notes).

    Where they are not, ``fn`` runs when its result is asked for, or at once if ``eager``
    (for a stream's consumer, whose pieces must not pile up). Jobs run one at a time, in the
    order they were started.
    """
    in_worker = threading.current_thread().name.startswith(_THREAD_PREFIX)
    if not threads_available() or in_worker:
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

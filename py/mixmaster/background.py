"""Work that may run on a second core while the caller goes on: :func:`start`.

Natively, a job runs at once in one shared worker thread; numpy's FFTs, matrix products and
ufunc loops release the GIL, so on a machine with two cores two measurements of the same audio
take little more than the longer one (the analysis of a 5-minute track: 0.48 s -> 0.31 s here).
In Pyodide (no threads), or when called from the worker thread itself, a job runs only when its
result is asked for, so the caller's order of work, and its progress reports between the jobs,
stay exactly as if it had called the function there. Either way the result is the function's
own: the same numbers, bit for bit.

A job must only read shared data, report no progress and write nothing outside itself.
"""

from __future__ import annotations

import concurrent.futures
import os
import sys
import threading
from collections.abc import Callable
from typing import Final, Generic, TypeVar

__all__ = ["Job", "start", "threads_available"]

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


def start(fn: Callable[[], T]) -> Job[T]:
    """Start ``fn()`` in the background where threads are available (see the module notes)."""
    in_worker = threading.current_thread().name.startswith(_THREAD_PREFIX)
    if not threads_available() or in_worker:
        return Job(fn, None)
    return Job(fn, _worker_pool().submit(fn))

"""The chunk-processor protocol every mastering stage implements.

A stage is offered two ways:

- a pure one-shot function, ``apply_<stage>(x, sample_rate_hz, params) -> ndarray``, which never
  modifies its input, does no I/O and no logging;
- a :class:`Processor`, built once per (sample rate, channels, params) with the filters designed
  up front, whose :meth:`Processor.process` is fed consecutive chunks and carries its state
  (``sosfilt`` ``zi``, envelopes, lookahead buffers) across them, so that long files run in
  bounded memory. Feeding a signal in chunks of any size gives the same output as one call with
  the whole signal (to better than -90 dBFS; bit-identical where the arithmetic allows).

The one-shot function is the processor run over the whole signal (:func:`run_whole`), through
:func:`apply_whole`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from mixmaster.audio import as_audio
from mixmaster.units import FloatArray

P = TypeVar("P")


class Processor(Protocol):
    """A stateful stage over ``(channels, samples)`` chunks.

    ``latency_samples`` is how many samples the output lags the input (a lookahead limiter's
    delay; 0 for the others). The caller compensates: after the last chunk it feeds
    ``latency_samples`` zeros and drops the first ``latency_samples`` output samples.
    """

    latency_samples: int

    def process(self, x: FloatArray) -> FloatArray:
        """Process the next chunk; returns an array of the same shape. ``x`` is not modified.

        The returned array is the caller's: the processor never writes to it again (the
        pipeline hands it to a consumer on another core while the next chunk is processed,
        :mod:`mixmaster.background`), so it is never a view of a reused work buffer.
        """
        ...

    def stats(self) -> dict[str, Any]:
        """What the stage did so far, for the report (e.g. gain-reduction statistics in dB)."""
        ...


def run_whole(proc: Processor, x: FloatArray, chunk_samples: int = 65536) -> FloatArray:
    """Run ``proc`` over all of ``x`` in chunks, compensating its latency.

    Returns a new float64 array of the same shape as ``x``.
    """
    channels, n = x.shape
    lat = proc.latency_samples
    out = np.empty((channels, n), dtype=np.float64)
    written = -lat  # output samples before 0 are the latency's leading silence, dropped
    pos = 0
    while pos < n + lat:
        if pos < n:
            chunk = np.asarray(x[:, pos : pos + chunk_samples], dtype=np.float64)
        else:
            chunk = np.zeros((channels, min(chunk_samples, n + lat - pos)))
        y = proc.process(chunk)
        start = written
        stop = written + y.shape[1]
        lo = max(start, 0)
        hi = min(stop, n)
        if hi > lo:
            out[:, lo:hi] = y[:, lo - start : hi - start]
        written = stop
        pos += chunk.shape[1]
    return out


def apply_whole(
    make: Callable[[float, int, P], Processor],
    x: npt.ArrayLike,
    sample_rate_hz: float,
    params: P,
) -> FloatArray:
    """A stage's one-shot function: check ``x`` (:func:`mixmaster.audio.as_audio`), build the
    processor with ``make(sample_rate_hz, channels, params)`` and run it over all of ``x``.

    Returns a new float64 array of the same shape; ``x`` is not modified.
    """
    arr = as_audio(x)
    return run_whole(make(sample_rate_hz, arr.shape[0], params), arr)

"""True-peak level per ITU-R BS.1770-4 Annex 2, and sample peak.

The true peak is the maximum absolute value of the signal after oversampling by an interpolating
low-pass filter (BS.1770-4 Annex 2: at least 4x for 48 kHz material). Oversampling is by the
polyphase FIR of :func:`polyphase_taps`; BS.1770's own example uses 48 taps in 4 phases (12 taps
per phase); ours uses 32 taps per phase so that sines up to 20 kHz at 44.1 kHz are interpolated
to within 0.07 dB, measured as the worst fractional-delay error of any phase (a windowed sinc
of 12 taps per phase is off by up to 1.6 dB there).

Speed: each phase's output is a short correlation. We compute the phases of a block of input as
matrix products (overlapping rows of ``2T - 1`` input samples times a banded Toeplitz matrix of
the taps gives ``T`` outputs of every phase), which BLAS runs at SIMD speed; in float32 (ample
for a level in dB), as a stack of products small enough to keep OpenBLAS single-threaded, one
131072-sample block at a time, so memory stays at a few MB whatever the file's length. Phase 0
is the input itself and is not recomputed. :func:`true_peak_lin` computes only the rows of ``T``
outputs that could exceed the peak found so far: no interpolated value exceeds the largest
``|x|`` a row reads times the worst phase's ``sum(|taps|)`` (about 2.6), so for programme
material most rows are skipped, with the same reading.

Edges: the signal is taken to be zero before its first and after its last sample, and the
interpolated signal is evaluated over the filter's whole support, so the overshoot of an abrupt
start or end (e.g. a full-scale sine cut mid-cycle) is measured, as a DAC would reproduce it.

Silence reads ``-inf`` dBTP / dBFS, without a warning.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

from mixmaster.audio import as_audio, check_sample_rate
from mixmaster.errors import ParamError
from mixmaster.units import lin_to_db

__all__ = [
    "TAPS_PER_PHASE",
    "interpolated_block_peaks",
    "oversampling_factor",
    "polyphase_taps",
    "sample_peak_dbfs",
    "true_peak_dbtp",
    "true_peak_lin",
    "upsample",
]

TAPS_PER_PHASE = 32
"""Input samples each interpolated value is computed from (the FIR is ``factor * 32 + 1`` long)."""

_KAISER_BETA = 4.5
"""Kaiser window shape; minimises the worst interpolation error up to 0.4535 fs (20 kHz at
44.1 kHz) for 32 taps per phase: 0.04 dB up to 0.4167 fs, 0.07 dB up to 0.4535 fs."""

_MAX_FACTOR = 16
_BLOCK_SAMPLES = 1 << 17
"""Input samples per block of the chunked true-peak scan (about 3 MB of float32 work space)."""


def oversampling_factor(sample_rate_hz: int) -> int:
    """Return the oversampling factor for a true-peak measurement at ``sample_rate_hz``.

    4 below 96 kHz (BS.1770-4 Annex 2: 4x for 48 kHz, so that 44.1 and 48 kHz are read at
    176.4 and 192 kHz), 2 from 96 kHz, 1 from 192 kHz (the signal is already sampled that
    finely).

    Raises
    ------
    InputError
        ``unsupported_sample_rate`` outside 8-384 kHz.
    """
    fs = check_sample_rate(sample_rate_hz)
    if fs < 96_000:
        return 4
    if fs < 192_000:
        return 2
    return 1


def polyphase_taps(factor: int) -> npt.NDArray[np.float64]:
    """Return the interpolation filter for ``factor``-times oversampling, split into phases.

    Design: a windowed sinc (Kaiser, beta 4.5) of ``factor * TAPS_PER_PHASE + 1`` taps, cut off at
    the original Nyquist frequency; each phase is normalised to unity gain at DC. Because the
    sinc is zero at whole-sample offsets, phase 0 is exactly the input sample (so the true peak
    is never below the sample peak). Passband: within 0.04 dB up to 0.4167 fs (20 kHz at 48 kHz)
    and 0.07 dB up to 0.4535 fs (20 kHz at 44.1 kHz), including image leakage.

    Layout: row ``p`` of the result holds the taps of phase ``p``; with ``T = TAPS_PER_PHASE``,
    the interpolated value at time ``n + p / factor`` (in input samples) is::

        y[n * factor + p] = sum(taps[p, j] * x[n - T // 2 + 1 + j] for j in range(T))

    The array is designed once per factor, cached, and read-only.

    Parameters
    ----------
    factor
        Oversampling factor, 1 to 16. ``factor == 1`` gives ``[[1.0]]``.

    Returns
    -------
    numpy.ndarray
        ``(factor, TAPS_PER_PHASE)`` float64 (``(1, 1)`` for ``factor == 1``), read-only.

    Raises
    ------
    ParamError
        ``bad_oversampling_factor`` if ``factor`` is not a whole number from 1 to 16.
    """
    return _polyphase_taps_cached(_check_factor(factor))


def _check_factor(factor: int) -> int:
    if isinstance(factor, bool) or not isinstance(factor, int | np.integer):
        raise ParamError(
            "bad_oversampling_factor",
            f"Oversampling factor {factor!r} is not a whole number; accepted: 1 to {_MAX_FACTOR}.",
            field="factor",
        )
    if not 1 <= factor <= _MAX_FACTOR:
        raise ParamError(
            "bad_oversampling_factor",
            f"Oversampling factor {factor} is out of range; accepted: 1 to {_MAX_FACTOR}.",
            field="factor",
        )
    return int(factor)


@functools.cache
def _polyphase_taps_cached(factor: int) -> npt.NDArray[np.float64]:
    if factor == 1:
        one = np.ones((1, 1))
        one.flags.writeable = False
        return one
    t = TAPS_PER_PHASE
    length = factor * t + 1
    centre = factor * t // 2
    j = np.arange(length)
    # numpy's symmetric Kaiser window equals scipy.signal.windows.kaiser (to 1 ulp), without
    # importing scipy.signal, whose start-up costs more than analysing a song.
    window: npt.NDArray[np.float64] = np.kaiser(length, _KAISER_BETA)
    h = np.sinc((j - centre) / factor) * window
    # Phase p, tap j multiplies x[n - T/2 + 1 + j]; it is h[p + (T - 1 - j) * factor].
    idx = np.arange(factor)[:, None] + (t - 1 - np.arange(t))[None, :] * factor
    taps: npt.NDArray[np.float64] = h[idx]
    taps[0] = 0.0
    taps[0, t // 2 - 1] = 1.0  # the sinc's zeros, exactly: phase 0 passes the input through
    taps /= taps.sum(axis=1, keepdims=True)
    taps.flags.writeable = False
    return taps


@functools.cache
def _toeplitz_weights(factor: int, rows_samples: int, dtype: str) -> npt.NDArray[Any]:
    """The banded matrix ``W`` that maps a row of ``R + T - 1`` input samples to ``R`` outputs.

    ``W[r + j, r * (factor - 1) + p - 1] = taps[p, j]`` for phases ``p >= 1`` (phase 0 is the
    input itself). A row of ``R + T - 1`` consecutive samples times ``W`` gives the phases
    ``1..factor-1`` of ``R`` consecutive output positions.
    """
    taps = _polyphase_taps_cached(factor)
    t = taps.shape[1]
    r_n = rows_samples
    w = np.zeros((r_n + t - 1, r_n, factor - 1))
    for r in range(r_n):
        w[r : r + t, r, :] = taps[1:].T
    out: npt.NDArray[Any] = np.ascontiguousarray(
        w.reshape(r_n + t - 1, r_n * (factor - 1)), dtype=dtype
    )
    out.flags.writeable = False
    return out


_GEMM_MNK_MAX = 196_608
"""Largest product of a single matrix product's dimensions we hand to BLAS. OpenBLAS goes
multi-threaded above 262144 (its ``GEMM_MULTITHREAD_THRESHOLD * SMP_THRESHOLD_MIN``); on a
shared CPU its spinning threads made the scan 10-25x slower, so we feed it a stack of small
products (numpy loops over the stack in C), which stay single-threaded and as fast."""


def _rows_per_product(factor: int) -> int:
    t = TAPS_PER_PHASE
    return max(1, _GEMM_MNK_MAX // ((2 * t - 1) * t * (factor - 1)))


def _padded_rows(n_out: int, factor: int) -> int:
    """Rows of ``T`` outputs for ``n_out`` outputs, rounded up to whole stacks of products."""
    per = _rows_per_product(factor)
    rows = -(-n_out // TAPS_PER_PHASE)
    return -(-rows // per) * per


def _interpolate(ext: npt.NDArray[Any], n_out: int, factor: int) -> npt.NDArray[Any]:
    """Phases ``1..factor-1`` for ``n_out`` positions; output ``i`` reads ``ext[i : i + T]``.

    ``ext`` must be 1-D, contiguous, and hold at least ``_padded_rows(n_out, factor) * T + T - 1``
    samples (as :func:`_extended_block` makes). Returns ``(n_out, factor - 1)`` in ``ext``'s
    dtype. Each row of ``2T - 1`` consecutive samples times the banded matrix ``W`` gives ``T``
    consecutive outputs.
    """
    t = TAPS_PER_PHASE
    rows = _padded_rows(n_out, factor)
    w = _toeplitz_weights(factor, t, ext.dtype.str)
    item = ext.itemsize
    windows = np.lib.stride_tricks.as_strided(
        ext, shape=(rows, 2 * t - 1), strides=(t * item, item), writeable=False
    )
    stack = np.ascontiguousarray(windows).reshape(-1, _rows_per_product(factor), 2 * t - 1)
    y: npt.NDArray[Any] = stack @ w
    return y.reshape(rows * t, factor - 1)[:n_out]


def upsample(x: npt.ArrayLike, factor: int) -> npt.NDArray[np.floating[Any]]:
    """Oversample ``x`` by ``factor`` with the true-peak interpolation filter.

    The signal is taken as zero before its first and after its last sample (so interpolated
    values near both ends include the filter's edge response, as for an abrupt start or end).
    Output sample ``n * factor + p`` is the signal at time ``n + p / factor`` input samples, so
    ``y[:, ::factor]`` equals ``x`` exactly. (The overshoot *outside* ``[0, samples)`` is left
    out here to keep the samples aligned; :func:`true_peak_lin` includes it.)

    Parameters
    ----------
    x
        Audio ``(channels, samples)``; float32 input gives float32 output, anything else
        float64. Not modified.
    factor
        Oversampling factor, 1 to 16 (see :func:`oversampling_factor`).

    Returns
    -------
    numpy.ndarray
        ``(channels, samples * factor)``, a new array.

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite`` (see :func:`mixmaster.audio.as_audio`).
    ParamError
        ``bad_oversampling_factor``.
    """
    factor = _check_factor(factor)
    arr = as_audio(x)
    dtype = np.float32 if arr.dtype == np.float32 else np.float64
    channels, n = arr.shape
    out: npt.NDArray[np.floating[Any]] = np.empty((channels, n * factor), dtype=dtype)
    if factor == 1:
        out[...] = arr
        return out
    t = TAPS_PER_PHASE
    lead = t // 2 - 1  # output n reads x[n - lead .. n + T/2]
    for ch in range(channels):
        view = out[ch].reshape(n, factor)
        view[:, 0] = arr[ch]
        for start in range(0, n, _BLOCK_SAMPLES):
            count = min(_BLOCK_SAMPLES, n - start)
            view[start : start + count, 1:] = _interpolate(
                _extended_block(arr[ch], start - lead, count, factor, dtype), count, factor
            )
    return out


def _extended_block(
    channel: npt.NDArray[np.floating[Any]],
    first: int,
    count: int,
    factor: int,
    dtype: type[np.floating[Any]],
) -> npt.NDArray[Any]:
    """Samples ``channel[first : first + count + T - 1]`` (zero outside the signal), padded.

    The result is contiguous, of ``dtype``, and long enough for :func:`_interpolate` with
    ``count`` outputs.
    """
    t = TAPS_PER_PHASE
    ext = np.zeros(_padded_rows(count, factor) * t + t - 1, dtype=dtype)
    lo = max(first, 0)
    hi = min(first + count + t - 1, channel.shape[0])
    if hi > lo:
        ext[lo - first : hi - first] = channel[lo:hi]
    return ext


def _sample_peaks(arr: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float64]:
    """Largest ``|x|`` per channel, without a full-size temporary."""
    high = np.max(arr, axis=1).astype(np.float64)
    low = np.min(arr, axis=1).astype(np.float64)
    peaks: npt.NDArray[np.float64] = np.maximum(high, -low)
    return peaks


def true_peak_lin(
    x: npt.ArrayLike,
    sample_rate_hz: int,
    *,
    check_finite: bool = True,
    sample_peaks_lin: npt.ArrayLike | None = None,
) -> npt.NDArray[np.float64]:
    """True-peak level per channel, as a linear amplitude (BS.1770-4 Annex 2).

    The signal is oversampled by :func:`oversampling_factor` with :func:`polyphase_taps`, block
    by block (never the whole file at once), over the filter's whole support including the
    overshoot before the first and after the last sample, and the maximum of ``|y|`` is taken.
    Phase 0 is the input itself, so the result is never below the sample peak. Silence gives 0.

    Parameters
    ----------
    x
        Audio ``(channels, samples)``. Not modified.
    sample_rate_hz
        Sample rate, 8 kHz to 384 kHz.
    check_finite
        Check for NaN/Inf (skip only when the caller has already done so).
    sample_peaks_lin
        The largest ``|x|`` of each channel, if the caller has them from its own pass over this
        same audio (:func:`mixmaster.analyze.analyze` does); they must be exact, as they are
        where the scan starts.

    Returns
    -------
    numpy.ndarray
        ``(channels,)`` float64, linear (1.0 = full scale).

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite``, ``unsupported_sample_rate``.
    """
    arr = as_audio(x, check_finite=check_finite)
    factor = oversampling_factor(sample_rate_hz)
    if sample_peaks_lin is None:
        peaks = _sample_peaks(arr)
    else:
        peaks = np.array(sample_peaks_lin, dtype=np.float64).reshape(arr.shape[0])
    if factor == 1:
        return peaks
    t = TAPS_PER_PHASE
    lead = t // 2 - 1
    n = arr.shape[1]
    gain = _worst_gain(factor)
    # Interpolated positions n' from -T/2 to n - 1 + T/2 see at least one sample of the signal.
    first_out = -(t // 2)
    last_out = n - 1 + t // 2
    for ch in range(arr.shape[0]):
        peak = float(peaks[ch])
        for start in range(first_out, last_out + 1, _BLOCK_SAMPLES):
            count = min(_BLOCK_SAMPLES, last_out + 1 - start)
            ext = _extended_block(arr[ch], start - lead, count, factor, np.float32)
            rows = _rows_that_may_exceed(ext, count, gain, peak)
            if not rows.size:
                continue
            y, _ = _interpolate_rows_or_all(ext, rows, count, factor)
            peak = max(peak, float(y.max()), -float(y.min()))
        peaks[ch] = peak
    return peaks


def interpolated_block_peaks(
    x: npt.NDArray[np.floating[Any]], block_samples: int, factor: int, sample_floor_lin: float
) -> npt.NDArray[np.float64]:
    """The largest interpolated ``|x|`` between the samples of each block, over all channels.

    The points between sample ``n`` and ``n + 1`` (phases ``1 .. factor - 1`` of
    :func:`upsample`, in float32) count in the block of sample ``n``; the samples themselves do
    not (take the maximum with the sample peaks for a block's peak). Only the rows of ``T``
    points whose input samples (the ``2T - 1`` each row reads) reach ``sample_floor_lin`` need
    be computed, so that a caller interested only in the peaks near some level pays little for
    the rest; a block with no computed point reads 0. (Points of the other rows may still
    exceed that level, by up to the filter's gain: this is a caller's choice of where peaks
    matter, not a bound.) Where more than half the rows of a span of about 131072 samples are
    to be computed, the whole span is.

    Parameters
    ----------
    x
        Audio ``(channels, samples)``, finite (not checked). Not modified.
    block_samples
        Samples per block, at least 1; the last block may be shorter.
    factor
        Oversampling factor, 2 to 16.
    sample_floor_lin
        Level (linear) of input samples, below which the points around them need not be
        computed.

    Returns
    -------
    numpy.ndarray
        ``(ceil(samples / block_samples),)`` float64, linear.
    """
    channels, n = x.shape
    out = np.zeros(-(-n // block_samples))
    span = max(1, _BLOCK_SAMPLES // block_samples) * block_samples
    lead = TAPS_PER_PHASE // 2 - 1
    for ch in range(channels):
        for start in range(0, n, span):
            count = min(span, n - start)
            ext = _extended_block(x[ch], start - lead, count, factor, np.float32)
            rows = _rows_that_may_exceed(ext, count, 1.0, sample_floor_lin)
            if not rows.size:
                continue
            y, computed = _interpolate_rows_or_all(ext, rows, count, factor)
            if computed is None:  # every point
                points = np.abs(y).max(axis=1)
            else:  # scattered rows: their points, the others left at 0
                grid = np.zeros((-(-count // TAPS_PER_PHASE), TAPS_PER_PHASE), dtype=np.float32)
                per_point = np.abs(y.reshape(rows.size, TAPS_PER_PHASE, factor - 1))
                grid[computed] = per_point.max(axis=2)
                points = grid.reshape(-1)[:count]
            first = start // block_samples
            block = np.maximum.reduceat(points, np.arange(0, count, block_samples))
            view = out[first : first + block.size]
            np.maximum(view, block, out=view)
    return out


@functools.cache
def _worst_gain(factor: int) -> float:
    """The largest ``sum(|taps[p]|)`` of any phase: ``|y| <= gain * max|x|`` over its window."""
    return float(np.max(np.sum(np.abs(_polyphase_taps_cached(factor)), axis=1)))


def _rows_that_may_exceed(
    ext: npt.NDArray[Any], count: int, gain: float, peak: float
) -> npt.NDArray[np.intp]:
    """Rows of ``T`` outputs (as :func:`_interpolate` groups them) that could exceed ``peak``.

    Row ``r`` reads ``ext[r T : r T + 2T - 1]``, so no output of it exceeds ``gain`` times the
    largest ``|x|`` of groups ``r`` and ``r + 1`` of ``T`` samples. Rows under ``peak`` by that
    bound (with a margin for float32 rounding) cannot raise it and are not computed: for
    programme material that is most of them.

    Rather than each group's largest ``|x|`` (a slow reduction over short runs), each group is
    asked only whether any ``|x|`` in it exceeds ``peak / gain``: the comparisons' booleans, 8
    to a 64-bit word, are OR-ed word by word (a few vector operations per block).
    """
    t = TAPS_PER_PHASE
    rows = -(-count // t)
    # No |x| at or under this, times ``gain``, reaches ``peak``; 2e-5 covers the float32
    # rounding of the interpolation and of the threshold itself.
    threshold = np.float32(peak / (gain * (1.0 + 2e-5)))
    loud = np.zeros((rows + 1) * t, dtype=np.bool_)
    np.greater(np.abs(ext[: rows * t + t - 1]), threshold, out=loud[: rows * t + t - 1])
    words = loud.view(np.uint64).reshape(rows + 1, t // 8)
    group_loud = words[:, 0].copy()
    for k in range(1, t // 8):
        group_loud |= words[:, k]
    in_group = group_loud != 0
    return np.flatnonzero(in_group[:-1] | in_group[1:])


def _interpolate_rows_or_all(
    ext: npt.NDArray[Any], rows: npt.NDArray[np.intp], count: int, factor: int
) -> tuple[npt.NDArray[Any], npt.NDArray[np.intp] | None]:
    """The given rows' points (:func:`_interpolate_rows`) and ``rows``; or, where they are more
    than half the rows, every point (:func:`_interpolate`: dense material, no gather) and
    ``None``."""
    if 2 * rows.size > count // TAPS_PER_PHASE:
        return _interpolate(ext, count, factor), None
    return _interpolate_rows(ext, rows, count, factor), rows


def _interpolate_rows(
    ext: npt.NDArray[Any], rows: npt.NDArray[np.intp], count: int, factor: int
) -> npt.NDArray[Any]:
    """Phases ``1..factor-1`` of the outputs in the given rows of :func:`_interpolate`'s grid.

    Returns ``(len(rows), T * (factor - 1))``; outputs at or beyond ``count`` (in a last,
    partial row) are zero.
    """
    t = TAPS_PER_PHASE
    per = _rows_per_product(factor)
    w = _toeplitz_weights(factor, t, ext.dtype.str)
    item = ext.itemsize
    windows = np.lib.stride_tricks.as_strided(
        ext, shape=(-(-count // t), 2 * t - 1), strides=(t * item, item), writeable=False
    )
    picked = np.zeros((-(-rows.size // per) * per, 2 * t - 1), dtype=ext.dtype)
    picked[: rows.size] = windows[rows]
    y: npt.NDArray[Any] = (picked.reshape(-1, per, 2 * t - 1) @ w).reshape(-1, t * (factor - 1))
    y = y[: rows.size]
    partial = count % t
    if partial and rows[-1] == count // t:  # the last row holds only ``partial`` outputs
        y[-1, partial * (factor - 1) :] = 0.0
    return y


def true_peak_dbtp(x: npt.ArrayLike, sample_rate_hz: int) -> float:
    """True-peak level in dBTP, the maximum over channels (BS.1770-4 Annex 2).

    Silence gives ``-inf``. Raises as :func:`true_peak_lin`.
    """
    return lin_to_db(float(np.max(true_peak_lin(x, sample_rate_hz))))


def sample_peak_dbfs(x: npt.ArrayLike) -> float:
    """Sample-peak level in dBFS: the largest ``|x|`` over all channels and samples.

    Silence gives ``-inf``.

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite``.
    """
    return lin_to_db(float(np.max(_sample_peaks(as_audio(x)))))

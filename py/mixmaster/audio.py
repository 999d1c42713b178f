"""The edge check for audio arrays: one layout, ``(channels, samples)``, floating point.

Every public entry point that takes audio calls :func:`as_audio` once; stages behind it can rely
on a finite, non-empty, 2-D float array with 1 to 8 channels.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from mixmaster.errors import InputError
from mixmaster.units import FloatArray

MIN_SAMPLE_RATE_HZ = 8_000
MAX_SAMPLE_RATE_HZ = 384_000
MAX_CHANNELS = 8


def check_sample_rate(sample_rate_hz: float) -> int:
    """Return the sample rate as an int, or raise :class:`InputError` outside 8 kHz-384 kHz
    (or for anything that is not a number)."""
    if isinstance(sample_rate_hz, bool) or not isinstance(sample_rate_hz, int | float):
        raise InputError(
            "unsupported_sample_rate",
            f"The sample rate must be a number of Hz; got {type(sample_rate_hz).__name__}.",
            field="sample_rate_hz",
        )
    if (
        not math.isfinite(sample_rate_hz)
        or not float(sample_rate_hz).is_integer()
        or not (MIN_SAMPLE_RATE_HZ <= sample_rate_hz <= MAX_SAMPLE_RATE_HZ)
    ):
        raise InputError(
            "unsupported_sample_rate",
            f"Sample rate {sample_rate_hz} Hz is not supported; "
            f"accepted: whole numbers from {MIN_SAMPLE_RATE_HZ} to {MAX_SAMPLE_RATE_HZ} Hz.",
            field="sample_rate_hz",
        )
    return int(sample_rate_hz)


def _all_finite(arr: FloatArray, block_samples: int = 1 << 16) -> bool:
    """``np.isfinite(arr).all()`` without a full-size boolean temporary."""
    return all(
        bool(np.isfinite(arr[:, i : i + block_samples]).all())
        for i in range(0, arr.shape[1], block_samples)
    )


def as_audio(x: npt.ArrayLike, *, check_finite: bool = True) -> FloatArray:
    """Validate audio at the edge and return it as a floating array ``(channels, samples)``.

    The input is never modified or copied unless its dtype is not floating point.

    Raises
    ------
    InputError
        ``bad_layout`` if the array is not 2-D with 1-8 channels on axis 0,
        ``empty_audio`` if it has no samples, ``non_finite`` if it holds NaN or Inf.
    """
    arr = np.asarray(x)
    if arr.ndim != 2 or not (1 <= arr.shape[0] <= MAX_CHANNELS):
        raise InputError(
            "bad_layout",
            f"Audio must be a 2-D array shaped (channels, samples) with 1 to {MAX_CHANNELS} "
            f"channels; got shape {arr.shape}.",
        )
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    if arr.shape[1] == 0:
        raise InputError(
            "empty_audio", "The audio has no samples; at least one sample per channel is needed."
        )
    if check_finite and not _all_finite(arr):
        raise InputError(
            "non_finite",
            "The audio contains NaN or infinite samples; only finite sample values are accepted.",
        )
    return arr


def check_channels(channels: int) -> int:
    """Return ``channels``, or raise :class:`~mixmaster.errors.InputError` outside 1-8."""
    if isinstance(channels, bool) or not isinstance(channels, int | np.integer):
        raise InputError("bad_layout", f"channels must be a whole number; got {channels!r}.")
    if not 1 <= channels <= MAX_CHANNELS:
        raise InputError(
            "bad_layout", f"channels is {channels}; accepted: 1 to {MAX_CHANNELS} channels."
        )
    return int(channels)


def check_chunk(x: npt.ArrayLike, channels: int) -> FloatArray:
    """Return a chunk as a float64 ``(channels, samples)`` array (no copy if already float64).

    Raises
    ------
    InputError
        ``bad_layout`` if ``x`` is not 2-D with ``channels`` rows.
    """
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] != channels:
        raise InputError(
            "bad_layout",
            f"A chunk must be shaped (channels, samples) with {channels} channels; "
            f"got shape {arr.shape}.",
        )
    if arr.dtype != np.float64:
        arr = arr.astype(np.float64)
    return arr

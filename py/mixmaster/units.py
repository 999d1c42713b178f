"""Unit conversions, in one place, so that a name never changes unit halfway through the code.

Silence maps to ``-inf`` dB (never a warning, never NaN).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating[Any]]


def db_to_lin(gain_db: float) -> float:
    """Convert a level in dB to a linear amplitude factor (``10 ** (dB / 20)``)."""
    return float(10.0 ** (gain_db / 20.0))


def lin_to_db(gain_lin: float) -> float:
    """Convert a linear amplitude to dB; ``0`` gives ``-inf`` without a warning."""
    if gain_lin <= 0.0:
        return -math.inf
    return 20.0 * math.log10(gain_lin)


def power_to_db(power: float) -> float:
    """Convert a mean-square power to dB (``10 * log10``); ``0`` gives ``-inf``."""
    if power <= 0.0:
        return -math.inf
    return 10.0 * math.log10(power)


def lin_to_db_array(gain_lin: FloatArray) -> FloatArray:
    """Element-wise :func:`lin_to_db`; zeros give ``-inf`` without a warning."""
    with np.errstate(divide="ignore"):
        return np.asarray(20.0 * np.log10(np.abs(gain_lin)))


def power_to_db_array(power: FloatArray) -> FloatArray:
    """Element-wise :func:`power_to_db`; zeros give ``-inf`` without a warning."""
    with np.errstate(divide="ignore"):
        return np.asarray(10.0 * np.log10(power))


def ms_to_samples(duration_ms: float, sample_rate_hz: float) -> int:
    """Convert milliseconds to a whole number of samples (rounded, at least 1)."""
    return max(1, round(duration_ms * 1e-3 * sample_rate_hz))


def s_to_samples(duration_s: float, sample_rate_hz: float) -> int:
    """Convert seconds to a whole number of samples (rounded, at least 0)."""
    return max(0, round(duration_s * sample_rate_hz))

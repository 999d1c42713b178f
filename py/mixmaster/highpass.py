"""Subsonic / DC high-pass: a 4th-order Butterworth high-pass, blended with the dry signal.

The filter is -3.01 dB at ``cutoff_hz`` (Butterworth, bilinear transform prewarped at the cutoff,
:func:`scipy.signal.butter`), falls 24 dB per octave below it, and removes DC completely (a zero
at z = 1). ``amount`` mixes wet and dry as :class:`~mixmaster.params.HighpassParams` states:
``y = amount · HP(x) + (1 - amount) · x``; 0 passes the input unchanged.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import signal

from mixmaster.audio import check_channels, check_chunk, check_sample_rate
from mixmaster.crossover import SosFilter, clamp_frequency_hz
from mixmaster.params import HighpassParams
from mixmaster.processor import apply_whole
from mixmaster.units import FloatArray, power_to_db

#: Order of the Butterworth high-pass (24 dB per octave).
HIGHPASS_ORDER: Final = 4


def highpass_sos(cutoff_hz: float, sample_rate_hz: float) -> FloatArray:
    """Second-order sections of the 4th-order Butterworth high-pass at ``cutoff_hz``.

    The cutoff is clamped below Nyquist (:func:`~mixmaster.crossover.clamp_frequency_hz`).
    """
    f_hz = clamp_frequency_hz(cutoff_hz, sample_rate_hz)
    return np.asarray(
        signal.butter(HIGHPASS_ORDER, f_hz, btype="highpass", fs=sample_rate_hz, output="sos")
    )


class HighpassProcessor:
    """Chunked subsonic high-pass with a wet/dry ``amount`` (see :class:`HighpassParams`).

    Parameters
    ----------
    sample_rate_hz
        Sample rate, 8 kHz to 384 kHz.
    channels
        Channels per chunk, 1 to 8.
    params
        The stage's parameters.

    Raises
    ------
    InputError
        For an unsupported sample rate or channel count, or a chunk of the wrong shape.
    """

    latency_samples: int = 0

    def __init__(self, sample_rate_hz: float, channels: int, params: HighpassParams) -> None:
        self.sample_rate_hz = check_sample_rate(sample_rate_hz)
        self.channels = check_channels(channels)
        self.params = params
        self._amount = float(params.amount)
        self._filter = SosFilter(highpass_sos(params.cutoff_hz, self.sample_rate_hz), channels)
        self._energy_in = 0.0
        self._energy_out = 0.0

    def process(self, x: FloatArray) -> FloatArray:
        """High-pass the next chunk; returns a new array of the same shape."""
        x = check_chunk(x, self.channels)
        if self._amount == 0.0:
            y = np.array(x, dtype=np.float64)
        else:
            y = self._filter.process(x)
            if self._amount < 1.0:
                y *= self._amount
                y += (1.0 - self._amount) * x
        self._energy_in += float(np.einsum("ij,ij->", x, x))
        self._energy_out += float(np.einsum("ij,ij->", y, y))
        return y

    def stats(self) -> dict[str, Any]:
        """``cutoff_hz`` as designed, ``amount``, and ``level_change_db`` (output vs input energy).

        ``level_change_db`` is ``-inf`` if the output is silent and 0 for silent input.
        """
        change_db = (
            power_to_db(self._energy_out / self._energy_in) if self._energy_in > 0.0 else 0.0
        )
        return {
            "cutoff_hz": clamp_frequency_hz(self.params.cutoff_hz, self.sample_rate_hz),
            "amount": self._amount,
            "level_change_db": change_db,
        }


def apply_highpass(x: npt.ArrayLike, sample_rate_hz: float, params: HighpassParams) -> FloatArray:
    """High-pass ``x`` ``(channels, samples)`` below ``params.cutoff_hz``; returns a new array.

    Raises
    ------
    InputError
        For audio that is not ``(channels, samples)`` with 1-8 channels, empty, or not finite,
        or an unsupported sample rate.
    """
    return apply_whole(HighpassProcessor, x, sample_rate_hz, params)

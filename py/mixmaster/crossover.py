"""Linkwitz-Riley (LR4) band splitting, and the small filter core the pre-limiter stages share.

An LR4 low-pass is a 2nd-order Butterworth low-pass applied twice; the matching high-pass is the
Butterworth high-pass applied twice. Their sum is a 2nd-order allpass (same poles, mirrored
zeros), so a bank of LR4 splits with allpass phase compensation sums to a cascade of allpasses:
magnitude flat, only the phase turns. References: S. Linkwitz, "Active crossover networks for
noncoincident drivers", JAES 24(1), 1976; D. Bohn, "Linkwitz-Riley crossovers: a primer"
(Rane note 160), for the tree with allpass compensation.

Every filter here is designed once per sample rate as second-order sections and applied with
:func:`scipy.signal.sosfilt`, carrying ``zi`` across chunks, vectorised over channels.

Frequencies above ``MAX_DESIGN_FRACTION * sample_rate_hz`` (0.45 fs) cannot be designed sensibly
(the bilinear transform crowds them against Nyquist); :func:`clamp_frequency_hz` moves them to
0.45 fs, so that an 18 kHz setting at 8 kHz stays a stable filter instead of a NaN.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import signal

from mixmaster.audio import as_audio, check_channels, check_chunk, check_sample_rate
from mixmaster.errors import ParamError
from mixmaster.units import FloatArray

#: Highest design frequency, as a fraction of the sample rate; higher settings are clamped to it.
MAX_DESIGN_FRACTION: Final = 0.45

#: One second-order section that passes the signal unchanged.
IDENTITY_SOS: Final = np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])


def clamp_frequency_hz(frequency_hz: float, sample_rate_hz: float) -> float:
    """Return ``frequency_hz``, lowered to at most 0.45 · ``sample_rate_hz``.

    Filters are designed at the returned frequency; settings above it (e.g. an 18 kHz shelf at
    a sample rate of 32 kHz) act at 0.45 fs instead.
    """
    return min(float(frequency_hz), MAX_DESIGN_FRACTION * float(sample_rate_hz))


def butterworth2_sos(cutoff_hz: float, sample_rate_hz: float, btype: str) -> FloatArray:
    """One 2nd-order Butterworth section (``btype`` "lowpass" or "highpass"), -3 dB at cutoff.

    The cutoff is clamped by :func:`clamp_frequency_hz`; the bilinear transform is prewarped so
    the -3 dB point is exact.
    """
    f_hz = clamp_frequency_hz(cutoff_hz, sample_rate_hz)
    return np.asarray(signal.butter(2, f_hz, btype=btype, fs=sample_rate_hz, output="sos"))


def lr4_lowpass_sos(cutoff_hz: float, sample_rate_hz: float) -> FloatArray:
    """LR4 low-pass: two identical Butterworth sections, -6 dB at the cutoff."""
    sec = butterworth2_sos(cutoff_hz, sample_rate_hz, "lowpass")
    return np.vstack([sec, sec])


def lr4_highpass_sos(cutoff_hz: float, sample_rate_hz: float) -> FloatArray:
    """LR4 high-pass: two identical Butterworth sections, -6 dB at the cutoff."""
    sec = butterworth2_sos(cutoff_hz, sample_rate_hz, "highpass")
    return np.vstack([sec, sec])


def lr4_allpass_sos(cutoff_hz: float, sample_rate_hz: float) -> FloatArray:
    """The allpass that an LR4 low-pass plus high-pass at ``cutoff_hz`` add up to (one section).

    With the Butterworth denominator ``1 + a1 z^-1 + a2 z^-2`` the sum ``LP + HP`` is
    ``(a2 + a1 z^-1 + z^-2) / (1 + a1 z^-1 + a2 z^-2)``: the analog identity
    ``(s² - √2 ωs + ω²) / (s² + √2 ωs + ω²)`` carried through the same bilinear transform.
    """
    sec = butterworth2_sos(cutoff_hz, sample_rate_hz, "lowpass")
    a1, a2 = float(sec[0, 4]), float(sec[0, 5])
    return np.array([[a2, a1, 1.0, 1.0, a1, a2]])


class SosFilter:
    """A cascade of second-order sections applied chunk by chunk, carrying its state.

    Parameters
    ----------
    sos
        Sections shaped ``(n_sections, 6)``; an empty cascade passes the signal unchanged.
    channels
        Number of independent signals filtered in parallel (rows of each chunk).
    """

    def __init__(self, sos: FloatArray, channels: int) -> None:
        sos = np.asarray(sos, dtype=np.float64).reshape(-1, 6)
        self.sos: FloatArray = sos
        self.channels = channels
        self._zi: FloatArray = np.zeros((sos.shape[0], channels, 2))

    def process(self, x: FloatArray) -> FloatArray:
        """Filter the next chunk ``(channels, samples)``; returns a new array."""
        if self.sos.shape[0] == 0 or x.shape[-1] == 0:
            return np.array(x, dtype=np.float64)
        y, self._zi = signal.sosfilt(self.sos, x, axis=-1, zi=self._zi)
        return np.asarray(y)


def _check_crossovers(crossovers_hz: Sequence[float], sample_rate_hz: float) -> tuple[float, ...]:
    """Validate positive, non-decreasing crossover frequencies and clamp them below Nyquist.

    Clamping can make two crossovers equal (e.g. 5 and 6 kHz at 8 kHz); the band between them is
    then nearly empty, and the bands still sum to an allpass.
    """
    values = tuple(float(f) for f in crossovers_hz)
    for f in values:
        if not np.isfinite(f) or f <= 0.0:
            raise ParamError(
                "out_of_range",
                f"Crossover frequency {f} Hz is not usable; accepted: finite frequencies above "
                "0 Hz.",
                field="crossovers_hz",
            )
    for lo, hi in itertools.pairwise(values):
        if lo > hi:
            raise ParamError(
                "bad_order",
                f"Crossover frequencies must ascend; got {lo} Hz before {hi} Hz.",
                field="crossovers_hz",
            )
    return tuple(clamp_frequency_hz(f, sample_rate_hz) for f in values)


def band_sos(crossovers_hz: Sequence[float], sample_rate_hz: float) -> list[FloatArray]:
    """The sections of each band of an LR4 tree with allpass compensation, lowest band first.

    Band ``k`` of ``K`` crossovers ``f_0 < ... < f_{K-1}`` is ``HP_0 ... HP_{k-1} · LP_k ·
    AP_{k+1} ... AP_{K-1}`` (LR4 high-passes of the crossovers below it, its own LR4 low-pass,
    and the allpasses of the crossovers above it, which align its phase with the higher bands).
    By induction the bands sum to ``AP_0 ... AP_{K-1}``.
    """
    fs = float(sample_rate_hz)
    values = _check_crossovers(crossovers_hz, fs)
    out = []
    for k in range(len(values) + 1):
        parts = [lr4_highpass_sos(f, fs) for f in values[:k]]
        if k < len(values):
            parts.append(lr4_lowpass_sos(values[k], fs))
        parts.extend(lr4_allpass_sos(f, fs) for f in values[k + 1 :])
        out.append(np.vstack(parts))
    return out


def allpass_sos(crossovers_hz: Sequence[float], sample_rate_hz: float) -> FloatArray:
    """The allpass cascade the bands of :func:`band_sos` sum to (one section per crossover)."""
    values = _check_crossovers(crossovers_hz, float(sample_rate_hz))
    if not values:
        return np.zeros((0, 6))
    return np.vstack([lr4_allpass_sos(f, sample_rate_hz) for f in values])


class BandSplitter:
    """Split chunks into LR4 bands whose sum is an allpass of the input (magnitude flat).

    Parameters
    ----------
    sample_rate_hz
        Sample rate, 8 kHz to 384 kHz.
    channels
        Channels per chunk, 1 to 8.
    crossovers_hz
        Ascending crossover frequencies (Hz); ``K`` of them make ``K + 1`` bands. Each is clamped
        below Nyquist (:func:`clamp_frequency_hz`).

    Raises
    ------
    InputError
        For an unsupported sample rate or channel count.
    ParamError
        For crossovers that are not positive, finite and ascending.
    """

    def __init__(
        self, sample_rate_hz: float, channels: int, crossovers_hz: Sequence[float]
    ) -> None:
        fs = check_sample_rate(sample_rate_hz)
        self.channels = check_channels(channels)
        self.crossovers_hz = _check_crossovers(crossovers_hz, fs)
        self.bands = len(self.crossovers_hz) + 1
        self._filters = [SosFilter(s, self.channels) for s in band_sos(self.crossovers_hz, fs)]

    def split(self, x: FloatArray) -> FloatArray:
        """Split the next chunk; returns ``(bands, channels, samples)``, lowest band first."""
        return np.stack(self.split_list(x))

    def split_list(self, x: FloatArray) -> list[FloatArray]:
        """Like :meth:`split`, as a list of ``(channels, samples)`` arrays (no stacking copy)."""
        x = check_chunk(x, self.channels)
        return [flt.process(x) for flt in self._filters]


class AllpassCascade:
    """The allpass a :class:`BandSplitter`'s bands sum to, for paths that must stay in phase."""

    def __init__(
        self, sample_rate_hz: float, channels: int, crossovers_hz: Sequence[float]
    ) -> None:
        fs = check_sample_rate(sample_rate_hz)
        self.channels = check_channels(channels)
        self._filter = SosFilter(allpass_sos(crossovers_hz, fs), self.channels)

    def process(self, x: FloatArray) -> FloatArray:
        """Filter the next chunk ``(channels, samples)``; returns a new array."""
        return self._filter.process(check_chunk(x, self.channels))


def split_bands(
    x: npt.ArrayLike, sample_rate_hz: float, crossovers_hz: Sequence[float]
) -> FloatArray:
    """Split ``x`` ``(channels, samples)`` into LR4 bands ``(bands, channels, samples)``.

    The input is not modified. ``split_bands(x, ...).sum(axis=0)`` equals
    ``allpass(x, ...)``: magnitude flat, phase turned at each crossover.
    """
    arr = as_audio(x)
    return BandSplitter(sample_rate_hz, arr.shape[0], crossovers_hz).split(arr)


def allpass(x: npt.ArrayLike, sample_rate_hz: float, crossovers_hz: Sequence[float]) -> FloatArray:
    """Apply the allpass cascade that the LR4 bands of :func:`split_bands` sum to."""
    arr = as_audio(x)
    return AllpassCascade(sample_rate_hz, arr.shape[0], crossovers_hz).process(arr)

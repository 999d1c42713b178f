"""Stereo image: width per band in mid/side, and mono below a set frequency.

With ``M = (L + R) / 2`` and ``S = (L - R) / 2``, width is the gain of the side signal relative to
the mid (0 = mono, 1 = unchanged, 2 = twice as wide), per band of an LR4 split of the side signal
at ``crossover_low_hz`` and ``crossover_high_hz`` (:mod:`mixmaster.crossover`). Mono bass is an
LR4 high-pass of the side signal at ``mono_below_hz`` (-6 dB there, 24 dB per octave below).
The mid signal passes through the same allpasses the side filters sum to, so mid and side stay
in phase and ``L = M + S``, ``R = M - S`` rebuild the image without comb filtering.

``amount`` pulls every width toward 1 (``1 + amount · (width - 1)``) and the mono frequency
toward off (``amount · mono_below_hz``; below ``MIN_MONO_HZ`` mono bass is off), as
:class:`~mixmaster.params.StereoParams` states. Adjacent bands of equal width share one band
(their crossover is not built). When nothing changes (every width 1 and mono bass off, or
``amount`` 0) the stage passes the input unchanged. Only stereo input is processed; mono and
multichannel input pass through unchanged.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mixmaster.audio import check_channels, check_chunk, check_sample_rate
from mixmaster.crossover import (
    SosFilter,
    allpass_sos,
    band_sos,
    clamp_frequency_hz,
    lr4_allpass_sos,
    lr4_highpass_sos,
)
from mixmaster.params import StereoParams
from mixmaster.processor import apply_whole
from mixmaster.units import FloatArray, power_to_db

#: Effective mono-bass frequencies below this are treated as off.
MIN_MONO_HZ: Final = 5.0


class StereoProcessor:
    """Chunked stereo width and mono bass (see the module docstring and :class:`StereoParams`).

    Raises
    ------
    InputError
        For an unsupported sample rate or channel count, or a chunk of the wrong shape.
    """

    latency_samples: int = 0

    def __init__(self, sample_rate_hz: float, channels: int, params: StereoParams) -> None:
        self.sample_rate_hz = check_sample_rate(sample_rate_hz)
        self.channels = check_channels(channels)
        self.params = params
        k = float(params.amount)
        widths = [
            1.0 + k * (w - 1.0) for w in (params.low_width, params.mid_width, params.high_width)
        ]
        edges = [params.crossover_low_hz, params.crossover_high_hz]
        # Merge adjacent bands of equal width: their crossover would change nothing.
        self.widths: list[float] = [widths[0]]
        self.crossovers_hz: list[float] = []
        for edge, w in zip(edges, widths[1:], strict=True):
            if w != self.widths[-1]:
                self.widths.append(w)
                self.crossovers_hz.append(clamp_frequency_hz(edge, self.sample_rate_hz))
        mono_hz = k * params.mono_below_hz
        self.mono_below_hz = (
            clamp_frequency_hz(mono_hz, self.sample_rate_hz) if mono_hz >= MIN_MONO_HZ else 0.0
        )
        self.active = self.channels == 2 and (
            self.mono_below_hz > 0.0 or any(w != 1.0 for w in self.widths)
        )
        self._side_filters: list[SosFilter] = []
        self._mid_filter: SosFilter | None = None
        if self.active:
            fs = self.sample_rate_hz
            pre = (
                lr4_highpass_sos(self.mono_below_hz, fs) if self.mono_below_hz else np.zeros((0, 6))
            )
            pre_ap = (
                lr4_allpass_sos(self.mono_below_hz, fs) if self.mono_below_hz else np.zeros((0, 6))
            )
            if len(self.widths) == 1:
                side_chains = [pre]
            else:
                side_chains = [np.vstack([pre, s]) for s in band_sos(self.crossovers_hz, fs)]
            self._side_filters = [SosFilter(s, 1) for s in side_chains]
            self._mid_filter = SosFilter(
                np.vstack([pre_ap, allpass_sos(self.crossovers_hz, fs)]), 1
            )
        self._energy = np.zeros(4)  # mid in, side in, mid out, side out

    def process(self, x: FloatArray) -> FloatArray:
        """Process the next chunk; returns a new array of the same shape."""
        x = check_chunk(x, self.channels)
        if not self.active or self._mid_filter is None:
            return np.array(x, dtype=np.float64)
        mid = 0.5 * (x[0:1] + x[1:2])
        side = 0.5 * (x[0:1] - x[1:2])
        mid_out = self._mid_filter.process(mid)
        side_out = self.widths[0] * self._side_filters[0].process(side)
        for w, flt in zip(self.widths[1:], self._side_filters[1:], strict=True):
            side_out += w * flt.process(side)
        self._energy += [
            float(np.einsum("ij,ij->", mid, mid)),
            float(np.einsum("ij,ij->", side, side)),
            float(np.einsum("ij,ij->", mid_out, mid_out)),
            float(np.einsum("ij,ij->", side_out, side_out)),
        ]
        return np.concatenate([mid_out + side_out, mid_out - side_out], axis=0)

    def stats(self) -> dict[str, Any]:
        """What was applied: ``widths`` per merged band, ``crossovers_hz``, ``mono_below_hz``.

        Also ``side_to_mid_in_db`` / ``side_to_mid_out_db``: side energy relative to mid energy
        before and after (``-inf`` for a mono signal, ``None`` if nothing was processed).
        """

        def ratio_db(side: float, mid: float) -> float | None:
            if mid <= 0.0 and side <= 0.0:
                return None
            if mid <= 0.0:
                return float("inf")
            return power_to_db(side / mid)

        e = self._energy
        return {
            "active": self.active,
            "widths": list(self.widths),
            "crossovers_hz": list(self.crossovers_hz),
            "mono_below_hz": self.mono_below_hz,
            "side_to_mid_in_db": ratio_db(e[1], e[0]),
            "side_to_mid_out_db": ratio_db(e[3], e[2]),
        }


def apply_stereo(x: npt.ArrayLike, sample_rate_hz: float, params: StereoParams) -> FloatArray:
    """Adjust the stereo image of ``x`` ``(channels, samples)``; returns a new array.

    Raises
    ------
    InputError
        For audio that is not ``(channels, samples)`` with 1-8 channels, empty, or not finite,
        or an unsupported sample rate.
    """
    return apply_whole(StereoProcessor, x, sample_rate_hz, params)

"""Soft saturation: a memoryless soft clipper above ``-drive_db`` dBFS, oversampled 2×.

The curve (applied to the signal in full-scale units) is linear up to the threshold
``t = 10 ** (-drive_db / 20)`` and bends smoothly above it toward ``1.5 · t``:

    f(u) = u                                          for |u| <= t
    f(u) = sign(u) · (t + k · s((|u| - t) / k))       above, with k = t / 2, s(v) = v / sqrt(1 + v²)

``f`` is odd (it adds odd harmonics only), continuous with its first two derivatives at the
threshold, and bounded by ``1.5 · t``. At ``drive_db`` 0 the threshold is full scale, so audio
within full scale is untouched; each dB of drive lowers the threshold by one dB.

Aliasing: the curve runs at twice the sample rate. Only the *residual* ``f(u) - u`` (zero below
the threshold) goes through the oversampling filters; the dry signal is delayed by the filters'
exact latency instead, so below the threshold the stage is a pure delay, the top octave is not
dulled, and the wet/dry mix (``amount``, as :class:`~mixmaster.params.SaturationParams` states)
is phase-aligned. The interpolator and decimator are one linear-phase Kaiser-windowed half-band
FIR (47 taps; flat to 0.01 dB up to 0.38 fs and 74 dB down from 0.61 fs of the original rate;
every other tap is zero, so each runs as a 24-tap polyphase branch plus a pure delay). Their
combined delay, ``latency_samples`` = 23 samples, is reported for the caller to compensate.
With ``drive_db`` 0 or ``amount`` 0 the stage passes the input unchanged with no latency.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mixmaster.audio import check_channels, check_chunk, check_sample_rate
from mixmaster.params import SaturationParams
from mixmaster.processor import apply_whole
from mixmaster.units import FloatArray

#: Half-band branch length: the filter has ``4 * _K - 1`` taps; the latency is ``2 * _K - 1``.
_K: Final = 12
#: Kaiser window beta of the half-band filter (74 dB stopband).
_KAISER_BETA: Final = 8.0
#: Output block (samples) over which the stage decides whether the curve can engage at all.
_RUN_BLOCK: Final = 256
#: Width of the soft region above the threshold, as a fraction of the threshold.
KNEE_FRACTION: Final = 0.5


def halfband_taps(k: int = _K, beta: float = _KAISER_BETA) -> FloatArray:
    """Kaiser-windowed half-band low-pass, ``4k - 1`` taps, centre 0.5, even offsets exactly 0.

    The odd-offset taps are scaled to sum to 0.5, so each polyphase branch has unity DC gain.
    """
    n = 4 * k - 1
    offsets = np.arange(n) - (2 * k - 1)
    taps = 0.5 * np.sinc(offsets / 2.0) * np.kaiser(n, beta)
    odd = offsets % 2 == 1
    taps[~odd] = 0.0
    taps[odd] *= 0.5 / taps[odd].sum()
    taps[2 * k - 1] = 0.5
    return np.asarray(taps)


def saturation_residual(u: FloatArray, threshold: float) -> FloatArray:
    """``f(u) - u`` of the soft-clipping curve (see the module docstring); 0 below threshold."""
    knee = KNEE_FRACTION * threshold
    v = np.maximum(np.abs(u) - threshold, 0.0) / knee
    return np.asarray(np.sign(u) * knee * (v / np.sqrt(1.0 + v * v) - v))


class SaturationProcessor:
    """Chunked 2×-oversampled soft saturation (see the module docstring).

    ``latency_samples`` is 23 when the stage is active and 0 when it is bypassed.

    Raises
    ------
    InputError
        For an unsupported sample rate or channel count, or a chunk of the wrong shape.
    """

    def __init__(self, sample_rate_hz: float, channels: int, params: SaturationParams) -> None:
        self.sample_rate_hz = check_sample_rate(sample_rate_hz)
        self.channels = check_channels(channels)
        self.params = params
        self._amount = float(params.amount)
        self.active = self._amount > 0.0 and params.drive_db > 0.0
        self.threshold = 10.0 ** (-params.drive_db / 20.0)
        g = halfband_taps()
        self._up_taps = 2.0 * g[0::2]  # interpolating branch (2k taps), gain 2 for upsampling
        self._down_taps = g[0::2]  # decimating branch on the other phase (2k taps)
        self._up_gain_bound = float(np.abs(self._up_taps).sum())
        self._delay = 2 * _K - 1
        self.latency_samples = self._delay if self.active else 0
        self._hist_x = np.zeros((channels, self._delay))
        self._hist_peak = 0.0
        self._hist_even = np.zeros((channels, self._delay))
        self._hist_odd = np.zeros((channels, _K))
        self._residual_live = False
        self._engaged = 0
        self._total = 0

    def process(self, x: FloatArray) -> FloatArray:
        """Saturate the next chunk; returns a new array of the same shape."""
        x = check_chunk(x, self.channels)
        if not self.active:
            return np.array(x, dtype=np.float64)
        n = x.shape[1]
        p = self._delay
        self._total += 2 * x.size
        chunk_peak = max(float(x.max()), -float(x.min())) if n else 0.0
        quiet = max(chunk_peak, self._hist_peak) * self._up_gain_bound <= self.threshold
        runs = [] if quiet else self._active_runs(x)
        hist_x = self._hist_x
        y = self._delayed(x)  # the dry path, delayed by the filters' latency
        if not runs and not self._residual_live:
            return y

        def delayed_input(a: int, b: int) -> FloatArray:
            """Input samples ``x[i - p]`` for output positions ``a <= i < b``."""
            if a >= p:
                return x[:, a - p : b - p]
            joined = np.concatenate([hist_x[:, a:], x[:, : max(0, b - p)]], axis=1)
            return np.asarray(joined[:, : b - a])

        # Residual f(u) - u of the oversampled signal, only where it can be non-zero: the even
        # phase is interpolated from 2k input samples, the odd phase is the input itself.
        res_even = np.zeros((self.channels, n))
        res_odd = np.zeros((self.channels, n))
        spans = []  # output ranges the residual reaches through the decimator
        for a, b in runs:
            window = delayed_input(a, b + p)
            even = np.empty((self.channels, b - a))
            for c in range(self.channels):
                even[c] = np.convolve(window[c], self._up_taps, mode="valid")
            r_even = saturation_residual(even, self.threshold)
            r_odd = saturation_residual(window[:, _K : _K + b - a], self.threshold)
            hit = np.flatnonzero((r_even != 0.0).any(axis=0) | (r_odd != 0.0).any(axis=0))
            if hit.size:
                res_even[:, a:b] = r_even
                res_odd[:, a:b] = r_odd
                self._engaged += int(np.count_nonzero(r_even)) + int(np.count_nonzero(r_odd))
                spans.append((a + int(hit[0]), min(n, a + int(hit[-1]) + 1 + p)))
        if not spans and not self._residual_live:
            return y
        he = np.concatenate([self._hist_even, res_even], axis=1)
        ho = np.concatenate([self._hist_odd, res_odd], axis=1)
        # Decimate the residual where it (or the previous chunk's tail) reaches the output.
        if self._residual_live:
            spans.append((0, min(n, p)))
        for a, b in _merged(spans):
            wet = 0.5 * ho[:, a:b]
            for c in range(self.channels):
                wet[c] += np.convolve(he[c, a : b + p], self._down_taps, mode="valid")
            y[:, a:b] += self._amount * wet
        self._hist_even = he[:, -p:].copy()
        self._hist_odd = ho[:, -_K:].copy()
        self._residual_live = bool(self._hist_even.any() or self._hist_odd.any())
        return y

    def _delayed(self, x: FloatArray) -> FloatArray:
        """``x`` delayed by the latency, through the history buffer (the quiet path)."""
        p, n = self._delay, x.shape[1]
        if n >= p:
            y = np.empty_like(x)
            y[:, :p] = self._hist_x
            y[:, p:] = x[:, : n - p]
            self._hist_x = x[:, n - p :].copy()
        else:
            y = self._hist_x[:, :n].copy()
            self._hist_x = np.concatenate([self._hist_x[:, n:], x], axis=1)
        self._hist_peak = float(np.abs(self._hist_x).max())
        return y

    def _active_runs(self, x: FloatArray) -> list[tuple[int, int]]:
        """Output ranges ``[a, b)`` of this chunk whose oversampled samples may pass the threshold.

        Output sample ``i`` reads input samples ``i - p ... i`` (``p`` = latency, the previous
        chunk's tail for ``i < p``). Over a block of ``_RUN_BLOCK`` outputs that window lies in
        the same and the previous input block, and no interpolated sample exceeds the window's
        peak times the interpolator's L1 norm (>= 1, so the odd phase is covered too).
        """
        n = x.shape[1]
        blocks = -(-n // _RUN_BLOCK)
        peak = np.zeros(blocks * _RUN_BLOCK)
        np.abs(x[0], out=peak[:n])
        for c in range(1, self.channels):
            np.maximum(peak[:n], np.abs(x[c]), out=peak[:n])
        block_peak = peak.reshape(blocks, _RUN_BLOCK).max(axis=1)
        window_peak = np.maximum(block_peak, np.concatenate([[self._hist_peak], block_peak[:-1]]))
        hot = window_peak * self._up_gain_bound > self.threshold
        runs: list[tuple[int, int]] = []
        for j in np.flatnonzero(hot):
            a, b = int(j) * _RUN_BLOCK, min(n, (int(j) + 1) * _RUN_BLOCK)
            if runs and runs[-1][1] == a:
                runs[-1] = (runs[-1][0], b)
            else:
                runs.append((a, b))
        return runs

    def stats(self) -> dict[str, Any]:
        """``threshold_dbfs``, and ``engaged_fraction``: share of oversampled samples above it."""
        return {
            "active": self.active,
            "threshold_dbfs": -float(self.params.drive_db),
            "engaged_fraction": self._engaged / self._total if self._total else 0.0,
        }


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping union of ``[a, b)`` ranges."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def apply_saturation(
    x: npt.ArrayLike, sample_rate_hz: float, params: SaturationParams
) -> FloatArray:
    """Saturate ``x`` ``(channels, samples)``; returns a new, time-aligned array.

    The stage's latency is compensated (:func:`~mixmaster.processor.run_whole`).

    Raises
    ------
    InputError
        For audio that is not ``(channels, samples)`` with 1-8 channels, empty, or not finite,
        or an unsupported sample rate.
    """
    return apply_whole(SaturationProcessor, x, sample_rate_hz, params)

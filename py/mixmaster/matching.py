"""Reference-match EQ: one linear-phase FIR for the mid signal and one for the side.

The curves (:class:`~mixmaster.params.MatchParams`) hold a gain in dB at each of the 31
⅓-octave centres of the feature JSON (20 Hz ... 20 kHz), already smoothed by the decision
(:mod:`mixmaster.reference`). Between centres the gain is interpolated linearly in dB against
log-frequency; below 20 Hz it returns to 0 dB at 10 Hz (a match never boosts subsonics the
high-pass just removed) and above 20 kHz it holds. ``amount`` scales both curves in dB.

Why a linear-phase FIR, and our own: like matchering's, the match is applied as a linear-phase
FIR so that the mid and the side, filtered with different curves, keep the same delay and the
stereo image rebuilds without phase smear (``L = M + S``, ``R = M - S``); a cascade of 31
peaking biquads per signal would cost about ten times as much per sample. The FIR is designed
once per (curve, sample rate) by frequency sampling (a zero-phase response on a grid of
:func:`fir_length` points, inverse FFT, Hann window) and applied by FFT convolution in float32
(:class:`FftFir`), chunk by chunk, carrying the last ``taps - 1`` input samples across chunks
(overlap-save), on numpy and scipy.fft alone, so it runs unchanged in Pyodide. Its latency is
``(taps - 1) / 2`` samples, which the pipeline compensates.

Resolution: the grid spacing is at most :data:`FIR_RESOLUTION_HZ` (about 5.4 Hz at 44.1 kHz), so
the curve is followed to within a few tenths of a dB from about 40 Hz up, which is what a
⅓-octave, smoothed curve asks for.

Mono input gets the mid curve; so does every channel of input with more than two channels.

Natively the side's FIR runs on a second core while the mid's runs on this one
(:mod:`mixmaster.background`); the output is the same bit for bit.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.fft

from mixmaster import background
from mixmaster.audio import check_channels, check_chunk, check_sample_rate
from mixmaster.params import MATCH_BAND_CENTRES_HZ, MatchParams
from mixmaster.processor import apply_whole
from mixmaster.units import FloatArray

FIR_RESOLUTION_HZ: Final = 6.0
"""The design grid's spacing is at most this: ``fir_length`` is the power of two >= fs / 6."""

SUBSONIC_FLOOR_HZ: Final = 10.0
"""Below the 20 Hz centre the gain returns to 0 dB here (linearly in dB against log f)."""


def fir_length(sample_rate_hz: int) -> int:
    """The FFT length of the design grid at ``sample_rate_hz``; the FIR has one tap fewer."""
    return 1 << math.ceil(math.log2(sample_rate_hz / FIR_RESOLUTION_HZ))


def curve_gain_db(curve_db: npt.ArrayLike, frequencies_hz: npt.ArrayLike) -> FloatArray:
    """The curve's gain at ``frequencies_hz``: linear in dB against log2(f) between the centres,
    0 dB at and below :data:`SUBSONIC_FLOOR_HZ`, held above the last centre."""
    f = np.maximum(np.asarray(frequencies_hz, dtype=np.float64), 1e-3)
    x = np.log2(np.concatenate(([SUBSONIC_FLOOR_HZ], MATCH_BAND_CENTRES_HZ)))
    y = np.concatenate(([0.0], np.asarray(curve_db, dtype=np.float64)))
    return np.asarray(np.interp(np.log2(f), x, y, left=0.0, right=float(y[-1])))


@functools.lru_cache(maxsize=16)
def _design(curve_db: tuple[float, ...], sample_rate_hz: int) -> FloatArray:
    n_fft = fir_length(sample_rate_hz)
    frequencies_hz = np.arange(n_fft // 2 + 1) * (sample_rate_hz / n_fft)
    gain_lin = 10.0 ** (curve_gain_db(curve_db, frequencies_hz) / 20.0)
    # Zero-phase response -> symmetric impulse centred on n_fft/2 -> Hann window of n_fft - 1.
    h = np.roll(scipy.fft.irfft(gain_lin, n=n_fft), n_fft // 2)[1:]
    taps = h.size
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * (np.arange(taps) + 1) / (taps + 1))
    out: FloatArray = np.asarray(h * window, dtype=np.float64)
    out.setflags(write=False)
    return out


def match_fir(curve_db: npt.ArrayLike, sample_rate_hz: float) -> FloatArray:
    """The linear-phase FIR (odd length ``fir_length(fs) - 1``) that applies ``curve_db``.

    Its delay is ``(len - 1) / 2`` samples. A flat curve gives a unit impulse.
    """
    fs = check_sample_rate(sample_rate_hz)
    curve = tuple(float(v) for v in np.asarray(curve_db, dtype=np.float64).ravel())
    if len(curve) != len(MATCH_BAND_CENTRES_HZ):
        raise ValueError(f"a match curve has {len(MATCH_BAND_CENTRES_HZ)} values")
    return np.array(_design(curve, fs))


class FftFir:
    """A FIR applied chunk by chunk by FFT convolution (overlap-save), ``channels`` rows at once.

    The input is processed in blocks of ``n_fft - taps + 1`` samples with ``n_fft`` four times
    the FIR's length rounded up to a power of two (a block per FFT several times the FIR's
    length is the cheapest split), in float32: the pipeline's intermediate is float32 anyway,
    and float32 FFTs take half the time. Each output is ``y[n] = Σ h[k] x[n - k]`` over the
    whole stream (history carried across chunks), to float32 rounding (about -140 dB).
    """

    def __init__(self, h: FloatArray, channels: int) -> None:
        self.h = np.asarray(h, dtype=np.float64)
        taps = self.h.size
        self.n_fft = 4 << max(0, math.ceil(math.log2(taps)))
        self._spectrum = scipy.fft.rfft(self.h.astype(np.float32), n=self.n_fft)
        self._history = np.zeros((channels, taps - 1), dtype=np.float32)

    def process(self, x: FloatArray) -> FloatArray:
        """Filter the next chunk ``(channels, samples)``; returns a new float64 array."""
        m = x.shape[1]
        lag = self._history.shape[1]
        buf = np.concatenate([self._history, x.astype(np.float32)], axis=1)
        self._history = buf[:, buf.shape[1] - lag :].copy()
        out = np.empty(x.shape, dtype=np.float64)
        block = self.n_fft - lag
        for start in range(0, m, block):
            stop = min(m, start + block)
            spec = scipy.fft.rfft(buf[:, start : stop + lag], n=self.n_fft, axis=1)
            spec *= self._spectrum
            y = scipy.fft.irfft(spec, n=self.n_fft, axis=1)
            out[:, start:stop] = y[:, lag : lag + stop - start]
        return out


class MatchProcessor:
    """Chunked reference-match EQ (see the module docstring and :class:`MatchParams`).

    With ``amount`` 0 or flat curves it passes the input unchanged (and has no latency).

    Raises
    ------
    InputError
        For an unsupported sample rate or channel count, or a chunk of the wrong shape.
    """

    def __init__(self, sample_rate_hz: float, channels: int, params: MatchParams) -> None:
        self.sample_rate_hz = check_sample_rate(sample_rate_hz)
        self.channels = check_channels(channels)
        self.params = params
        k = float(params.amount)
        self.mid_db = tuple(k * v for v in params.mid_db)
        self.side_db = tuple(k * v for v in params.side_db)
        self.mid_side = self.channels == 2
        self.active = any(v != 0.0 for v in self.mid_db) or (
            self.mid_side and any(v != 0.0 for v in self.side_db)
        )
        self.latency_samples = 0
        self._mid: FftFir | None = None
        self._side: FftFir | None = None
        if self.active:
            h_mid = match_fir(self.mid_db, self.sample_rate_hz)
            self.latency_samples = (h_mid.size - 1) // 2
            self._mid = FftFir(h_mid, 1 if self.mid_side else self.channels)
            if self.mid_side:
                self._side = FftFir(match_fir(self.side_db, self.sample_rate_hz), 1)

    def process(self, x: FloatArray) -> FloatArray:
        """Equalise the next chunk; returns a new array of the same shape."""
        x = check_chunk(x, self.channels)
        if self._mid is None:
            return np.array(x, dtype=np.float64)
        if self._side is None:
            return self._mid.process(x)
        # The side on a second core while this one filters the mid (in turn in Pyodide).
        side_job = background.start(functools.partial(self._side.process, 0.5 * (x[0:1] - x[1:2])))
        try:
            mid = self._mid.process(0.5 * (x[0:1] + x[1:2]))
        except BaseException:
            side_job.abandon()
            raise
        side = side_job.result()
        return np.concatenate([mid + side, mid - side], axis=0)

    def stats(self) -> dict[str, Any]:
        """The curves applied after ``amount`` (dB at the ⅓-octave centres) and the FIR size."""
        return {
            "taps": 0 if self._mid is None else int(self._mid.h.size),
            "mid_db": list(self.mid_db),
            "side_db": list(self.side_db) if self.mid_side else None,
        }


def apply_match(x: npt.ArrayLike, sample_rate_hz: float, params: MatchParams) -> FloatArray:
    """Apply the reference-match EQ to ``x`` ``(channels, samples)``; returns a new array.

    Raises
    ------
    InputError
        For audio that is not ``(channels, samples)`` with 1-8 channels, empty, or not finite,
        or an unsupported sample rate.
    """
    return apply_whole(MatchProcessor, x, sample_rate_hz, params)

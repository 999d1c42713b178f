"""Multiband compressor: LR4 bands, linked peak detection, soft knee, attack/release in dB.

Signal path per chunk (see :class:`~mixmaster.params.CompressorParams`):

1. Split into 3 or 4 LR4 bands (:class:`~mixmaster.crossover.BandSplitter`); the bands sum to an
   allpass of the input, so with no gain change only the phase turns.
2. Detect each band's level at a reduced control rate: the sample peak over blocks of
   ``CONTROL_PERIOD_S`` (0.5 ms), taken over all channels at once (linked detection: every
   channel gets the same gain, so the stereo image does not wander).
3. Static curve with a soft knee of width ``knee_db`` (Giannoulis, Massberg & Reiss, "Digital
   dynamic range compressor design -- a tutorial and analysis", JAES 60(6), 2012, eq. 4): the
   target gain reduction is 0 below ``threshold - knee/2``, ``(1 - 1/ratio)(x - T + W/2)² / 2W``
   inside the knee and ``(1 - 1/ratio)(x - T)`` above it (all in dB).
4. Smoothing of the gain reduction in dB with the *decoupled peak detector* of the same paper
   (section 3.3): an instant-attack peak hold with exponential release,
   ``y1[k] = max(t[k], a_R · y1[k-1])``, then a one-pole attack filter,
   ``y[k] = a_A · y[k-1] + (1 - a_A) · y1[k]``, with ``a = exp(-T_block / tau)``. The release
   recursion is evaluated in closed form (a running maximum in the log domain) and the attack
   filter with :func:`scipy.signal.lfilter`, so no Python loop runs per block.
5. The gain (reduction and makeup, both scaled by ``amount`` in dB) is interpolated linearly to
   audio rate and applied to each band; the bands are summed.

The gain applied at a sample depends only on earlier, completed control blocks (it ramps from the
gain of the block before last to that of the last block), so the stage has no latency and
feeding any chunk sizes gives the same output as one call. ``amount`` 0 passes the input
unchanged; ratio 1 with no makeup gives the allpass-filtered input.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
from scipy import signal

from mixmaster.audio import check_channels, check_chunk, check_sample_rate
from mixmaster.crossover import BandSplitter
from mixmaster.params import CompressorParams
from mixmaster.processor import apply_whole
from mixmaster.units import FloatArray

#: Duration of one control block (detector and gain computer run once per block).
CONTROL_PERIOD_S: Final = 0.5e-3
#: Control blocks evaluated at once by the closed-form release (bounds the log-domain offsets).
_MAX_BLOCKS_PER_PASS: Final = 4096


def control_block_samples(sample_rate_hz: float) -> int:
    """Samples per control block at ``sample_rate_hz`` (0.5 ms, at least 1)."""
    return max(1, round(CONTROL_PERIOD_S * float(sample_rate_hz)))


def gain_reduction_db(
    level_db: FloatArray, threshold_db: FloatArray, ratio: FloatArray, knee_db: float
) -> FloatArray:
    """Static gain reduction (dB, >= 0) of the soft-knee curve for input levels ``level_db``.

    ``threshold_db`` and ``ratio`` broadcast against ``level_db``; ``-inf`` levels give 0.
    Reference: Giannoulis, Massberg & Reiss (2012), eq. 4.
    """
    over = np.asarray(level_db - threshold_db)
    slope = 1.0 - 1.0 / np.asarray(ratio)
    with np.errstate(invalid="ignore"):
        hard = np.where(over > 0.0, slope * over, 0.0)
        if knee_db <= 0.0:
            out = hard
        else:
            half = knee_db / 2.0
            inside = slope * (over + half) ** 2 / (2.0 * knee_db)
            out = np.where(over <= -half, 0.0, np.where(over >= half, hard, inside))
    return np.asarray(np.nan_to_num(out, nan=0.0, neginf=0.0))


class CompressorProcessor:
    """Chunked multiband compressor (see the module docstring and :class:`CompressorParams`).

    Parameters
    ----------
    sample_rate_hz
        Sample rate, 8 kHz to 384 kHz.
    channels
        Channels per chunk, 1 to 8; detection is linked across them.
    params
        The stage's parameters.

    Raises
    ------
    InputError
        For an unsupported sample rate or channel count, or a chunk of the wrong shape.
    """

    latency_samples: int = 0

    def __init__(self, sample_rate_hz: float, channels: int, params: CompressorParams) -> None:
        self.sample_rate_hz = check_sample_rate(sample_rate_hz)
        self.channels = check_channels(channels)
        self.params = params
        self._amount = float(params.amount)
        self._splitter = BandSplitter(self.sample_rate_hz, channels, params.crossovers_hz())
        bands = self._splitter.bands
        self.block_samples = control_block_samples(self.sample_rate_hz)
        block_s = self.block_samples / self.sample_rate_hz
        settings = np.array([params.band(n) for n in range(1, bands + 1)])
        self._threshold_db = settings[:, 0:1]
        self._ratio = settings[:, 1:2]
        attack_s = settings[:, 2] * 1e-3
        release_s = settings[:, 3] * 1e-3
        self._makeup_db = settings[:, 4] * self._amount
        self._attack_coef = np.exp(-block_s / attack_s)
        self._log_release_coef = (-block_s / release_s)[:, None]
        self._knee_db = float(params.knee_db)
        # State carried across chunks.
        self._phase = 0  # samples already in the current control block
        self._partial_peak = np.zeros(bands)
        self._held_db = np.zeros(bands)  # release peak-hold y1, dB of gain reduction
        self._attack_zi = np.zeros((bands, 1))
        makeup_lin = 10.0 ** (self._makeup_db / 20.0)
        self._last_gains = np.stack([makeup_lin, makeup_lin], axis=1)  # blocks k-2, k-1
        self._position_cache: FloatArray = np.zeros(0)
        # Statistics (applied gain reduction, dB).
        self._blocks = 0
        self._sum_reduction_db = np.zeros(bands)
        self._max_reduction_db = np.zeros(bands)

    @property
    def bands(self) -> int:
        """Number of bands (3 or 4)."""
        return self._splitter.bands

    def process(self, x: FloatArray) -> FloatArray:
        """Compress the next chunk; returns a new array of the same shape."""
        x = check_chunk(x, self.channels)
        n = x.shape[1]
        if self._amount == 0.0 or n == 0:
            return np.array(x, dtype=np.float64)
        bands = self._splitter.split_list(x)  # per band: (channels, n)
        peak = np.empty((len(bands), n))  # linked detection: the largest magnitude of any channel
        for k, band in enumerate(bands):
            np.abs(band[0], out=peak[k])
            for c in range(1, self.channels):
                np.maximum(peak[k], np.abs(band[c]), out=peak[k])
        block_peaks = self._block_peaks(peak)
        gains = self._block_gains(block_peaks)  # linear, one column per completed block
        seq = np.concatenate([self._last_gains, gains], axis=1)
        # seq[j] holds at local sample j·B - 1 - phase (the end of the block it ramps to), and
        # the gain is linear in between: np.interp does the ramps without index arithmetic.
        b = self.block_samples
        knots = np.arange(seq.shape[1]) * float(b) - 1.0 - self._phase
        positions = self._positions(n)
        end = (self._phase + n) // b
        self._last_gains = seq[:, end : end + 2]
        self._phase = (self._phase + n) % b
        # The bands are this call's own arrays: weight them in place and sum into the first.
        y = bands[0]
        y *= np.interp(positions, knots, seq[0])
        for k in range(1, len(bands)):
            band = bands[k]
            band *= np.interp(positions, knots, seq[k])
            y += band
        return y

    def _positions(self, n: int) -> FloatArray:
        """``0.0, 1.0, ..., n - 1`` (a cached read-only view)."""
        if self._position_cache.size < n:
            self._position_cache = np.arange(max(n, 65536), dtype=np.float64)
        return self._position_cache[:n]

    def _block_peaks(self, peak: FloatArray) -> FloatArray:
        """Peak of each control block completed in this chunk, ``(bands, blocks)``."""
        b = self.block_samples
        n = peak.shape[1]
        first = b - self._phase  # samples needed to complete the current block
        if n < first:
            self._partial_peak = np.maximum(self._partial_peak, peak.max(axis=1))
            return np.zeros((peak.shape[0], 0))
        head = np.maximum(self._partial_peak, peak[:, :first].max(axis=1))
        full = (n - first) // b
        body = peak[:, first : first + full * b].reshape(peak.shape[0], full, b).max(axis=2)
        rest = peak[:, first + full * b :]
        self._partial_peak = rest.max(axis=1) if rest.shape[1] else np.zeros(peak.shape[0])
        return np.concatenate([head[:, None], body], axis=1)

    def _block_gains(self, block_peaks: FloatArray) -> FloatArray:
        """Linear gains (reduction and makeup, scaled by amount) for the completed blocks."""
        m = block_peaks.shape[1]
        if m == 0:
            return np.zeros((block_peaks.shape[0], 0))
        with np.errstate(divide="ignore"):
            level_db = 20.0 * np.log10(block_peaks)
        target_db = gain_reduction_db(level_db, self._threshold_db, self._ratio, self._knee_db)
        held = np.empty_like(target_db)
        for start in range(0, m, _MAX_BLOCKS_PER_PASS):
            stop = min(m, start + _MAX_BLOCKS_PER_PASS)
            held[:, start:stop] = self._release(target_db[:, start:stop])
        smooth = np.empty_like(held)
        for k in range(held.shape[0]):
            a = float(self._attack_coef[k])
            out, self._attack_zi[k] = signal.lfilter(
                [1.0 - a], [1.0, -a], held[k], zi=self._attack_zi[k]
            )
            smooth[k] = out
        reduction_db = self._amount * smooth
        self._blocks += m
        self._sum_reduction_db += reduction_db.sum(axis=1)
        self._max_reduction_db = np.maximum(self._max_reduction_db, reduction_db.max(axis=1))
        return np.asarray(10.0 ** ((self._makeup_db[:, None] - reduction_db) / 20.0))

    def _release(self, target_db: FloatArray) -> FloatArray:
        """``y1[k] = max(t[k], a_R · y1[k-1])`` for a run of blocks, in closed form.

        Unrolled, ``y1[k] = max(max_j≤k a_R^(k-j) t[j], a_R^(k+1) y1[-1])``; in logs that is a
        running maximum of ``log t[j] - j log a_R``, shifted back by ``k log a_R``.
        """
        m = target_db.shape[1]
        log_a = self._log_release_coef  # (bands, 1), negative
        k = np.arange(m)[None, :]
        with np.errstate(divide="ignore"):
            log_t = np.log(target_db)
            log_prev = np.log(self._held_db)[:, None] + log_a
        running = np.maximum.accumulate(log_t - k * log_a, axis=1)
        held = np.exp(k * log_a + np.maximum(running, log_prev))
        self._held_db = held[:, -1].copy()
        return np.asarray(held)

    def stats(self) -> dict[str, Any]:
        """Per band (lowest first): ``max_gain_reduction_db`` and ``mean_gain_reduction_db``.

        Also ``bands``, ``crossovers_hz`` (as designed) and ``makeup_db`` (after ``amount``).
        Reductions are positive dB, averaged over control blocks; 0 before any audio.
        """
        mean = self._sum_reduction_db / self._blocks if self._blocks else self._sum_reduction_db
        return {
            "bands": self.bands,
            "crossovers_hz": list(self._splitter.crossovers_hz),
            "max_gain_reduction_db": [float(v) for v in self._max_reduction_db],
            "mean_gain_reduction_db": [float(v) for v in mean],
            "makeup_db": [float(v) for v in self._makeup_db],
        }


def apply_compressor(
    x: npt.ArrayLike, sample_rate_hz: float, params: CompressorParams
) -> FloatArray:
    """Compress ``x`` ``(channels, samples)``; returns a new array, the input is not modified.

    Raises
    ------
    InputError
        For audio that is not ``(channels, samples)`` with 1-8 channels, empty, or not finite,
        or an unsupported sample rate.
    """
    return apply_whole(CompressorProcessor, x, sample_rate_hz, params)

"""Loudness targeting: the gain in front of the limiter that lands the master on its target.

The true-peak limiter is the costly stage, so the gain is not searched by trial and error with it
alone. While the pre-limiter chain runs, :class:`EnvelopeCollector` keeps two numbers per control
block of about 1 ms (:data:`BLOCK_S`): the peak over channels, and the channel-weighted
K-weighted energy (ITU-R BS.1770-4 Annex 1, eq. 1-2). :class:`LimiterModel` then predicts, for
any gain, what the limiter will do and what the master will measure, in a few milliseconds:

- the required gain reduction of each block, ``max(0, peak + gain - ceiling)`` dB;
- held from half the lookahead before a peak to the whole lookahead after it (the limiter's
  linear attack ramp over the lookahead, approximated as half of it at full depth, then its
  peak hold over the lookahead), and released
  exponentially in dB with ``release_ms`` -- the closed form
  ``gr[b] = a**b * max_{j<=b} h[j] * a**-j`` computed as a running maximum in the log domain;
- the output's loudness: each block's K-weighted energy times ``10 ** ((gain - gr) / 10)``,
  summed into 100 ms sub-blocks, then 400 ms gating blocks with 75 % overlap, the absolute gate
  at -70 LUFS and the relative gate at -10 LU (BS.1770-4 Annex 1, §4-5);
- the limiting depth: the 99th percentile of ``gr`` up to the last sound, as the limiter reports.

The limiter catches the peaks between samples, which on dense, loud material stand a few tenths
of a dB above the sample peaks: a model of sample peaks alone underestimated the limiting there,
and its first pass landed 0.2 LU short (a second pass on a 5-minute master, about 1.2 s natively).
So once the pipeline has a first solution, :meth:`EnvelopeCollector.raise_to_interpolated_peaks`
raises each block's peak to the signal's 2x-oversampled peak (the midpoints, by the true-peak
filter), computed only where the gain could bring it near the ceiling, and the model is solved
again. The model stays an approximation (2x where the limiter oversamples 4x, below 96 kHz; no
attack ramp; 1 ms blocks), so :func:`solve_gain` takes corrections measured on real limiter
passes: a loudness offset in LU and a gain shift for the depth. The pipeline runs the real
limiter at the model's gain, measures, corrects the model and, if needed, runs it once or twice
more; typically the first real pass is within 0.1 LU.

References: ITU-R BS.1770-4 Annex 1 (K-weighting, gating).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy import signal  # type: ignore[import-untyped, unused-ignore]
from scipy.ndimage import maximum_filter1d  # type: ignore[import-untyped, unused-ignore]

from mixmaster import truepeak
from mixmaster.loudness import channel_weights, k_weighting_sos
from mixmaster.units import FloatArray

__all__ = [
    "BLOCK_S",
    "MODEL_OVERSAMPLING",
    "EnvelopeCollector",
    "LimiterModel",
    "Solution",
    "solve_gain",
]

BLOCK_S: Final = 0.001
"""Control block of the model (1 ms): finer than the limiter's lookahead and release."""

MODEL_OVERSAMPLING: Final = 2
"""Oversampling of the model's peaks between samples: on loud generated programme its first
limiter pass lands as close at 2x as at the limiter's own 4x, for a third of the work."""

_LOUDNESS_OFFSET_DB: Final = -0.691  # BS.1770-4 Annex 1, eq. 2
_ABSOLUTE_GATE_LUFS: Final = -70.0  # Γ_a, BS.1770-4 Annex 1 §5
_RELATIVE_GATE_LU: Final = -10.0  # Γ_r offset, BS.1770-4 Annex 1 §5
_DEPTH_PERCENTILE: Final = 99.0
_MAX_EXPONENT: Final = 600.0  # a**-k stays below e**600, far from float64 overflow
_SEARCH_SPAN_DB: Final = 40.0
_MAX_EVALUATIONS: Final = 30
_LUFS_TOLERANCE_LU: Final = 0.01
_DEPTH_TOLERANCE_DB: Final = 0.02


def block_samples(sample_rate_hz: int) -> int:
    """Samples per control block at ``sample_rate_hz`` (about 1 ms, at least 1)."""
    return max(1, round(BLOCK_S * sample_rate_hz))


class EnvelopeCollector:
    """Per-block peak and K-weighted energy of a signal fed in consecutive pieces.

    Besides the ~1 ms blocks of the model it keeps the energy of every 100 ms sub-block with the
    edges of :class:`mixmaster.loudness.LoudnessMeter` (sub-block ``k`` starts at
    ``round(k fs / 10)``), so :meth:`integrated_lufs` is the signal's BS.1770-4 integrated
    loudness, without a second K-weighting pass.

    Parameters
    ----------
    sample_rate_hz, channels, samples
        The signal's rate, channel count and total length.
    """

    def __init__(self, sample_rate_hz: int, channels: int, samples: int) -> None:
        self.sample_rate_hz = sample_rate_hz
        self.block_samples = block_samples(sample_rate_hz)
        blocks = -(-samples // self.block_samples)
        self.peak_lin: FloatArray = np.zeros(blocks)
        self.energy: FloatArray = np.zeros(blocks)
        self._sos = np.array(k_weighting_sos(sample_rate_hz))
        self._zi = np.zeros((self._sos.shape[0], channels, 2))
        self._weights = channel_weights(channels)
        self._next = 0
        self._subblock_energy: list[float] = []  # complete 100 ms sub-blocks
        self._partial_energy = 0.0

    def _subblock_edge(self, k: int) -> int:
        """First sample of sub-block ``k``: ``round(k fs / 10)``, halves up (as the meter)."""
        return (2 * k * self.sample_rate_hz + 10) // 20

    def add(self, y: FloatArray) -> None:
        """Add the next piece ``(channels, samples)`` of the signal (it is not modified)."""
        start = self._next
        stop = start + y.shape[1]
        if stop == start:
            return
        b = self.block_samples
        first = start // b
        offsets = np.concatenate(([0], np.arange((first + 1) * b, stop, b) - start))
        ids = slice(first, first + offsets.size)  # the blocks this piece touches, in order
        peak = np.abs(y).max(axis=0)
        np.maximum(self.peak_lin[ids], np.maximum.reduceat(peak, offsets), out=self.peak_lin[ids])
        k, self._zi = signal.sosfilt(self._sos, y, axis=1, zi=self._zi)
        np.square(k, out=k)
        # Σ_i G_i y_i² per sample (BS.1770-4 eq. 2); einsum, not BLAS, whose threads spin.
        weighted = np.einsum("c,cn->n", self._weights, k)
        self.energy[ids] += np.add.reduceat(weighted, offsets)
        # Exact 100 ms sub-blocks for the integrated loudness.
        cuts = []
        sub = len(self._subblock_energy)
        while (edge := self._subblock_edge(sub + 1)) <= stop:
            cuts.append(edge - start)
            sub += 1
        pieces = np.add.reduceat(weighted, [0, *(c for c in cuts if c < weighted.size)])
        for i in range(len(cuts)):
            self._subblock_energy.append(self._partial_energy + float(pieces[i]))
            self._partial_energy = 0.0
        if len(pieces) > len(cuts):
            self._partial_energy += float(pieces[-1])
        self._next = stop

    def raise_to_interpolated_peaks(self, x: FloatArray, sample_floor_lin: float) -> None:
        """Raise each block's peak to the largest 2x-oversampled point between its samples.

        ``x`` is the whole signal that was added, ``(channels, samples)``. Only the points
        around samples that reach ``sample_floor_lin`` need be interpolated
        (:func:`mixmaster.truepeak.interpolated_block_peaks`); elsewhere the sample peaks stay.
        Oversampled 2x, or not at all where the limiter itself detects sample peaks (192 kHz
        and above, :func:`mixmaster.truepeak.oversampling_factor`).
        """
        factor = min(MODEL_OVERSAMPLING, truepeak.oversampling_factor(self.sample_rate_hz))
        if factor == 1:  # from 192 kHz the limiter too detects sample peaks
            return
        between = truepeak.interpolated_block_peaks(x, self.block_samples, factor, sample_floor_lin)
        np.maximum(self.peak_lin, between[: self.peak_lin.size], out=self.peak_lin)

    def integrated_lufs(self) -> float:
        """BS.1770-4 integrated loudness of everything added; ``-inf`` for silence or < 400 ms.

        The same sub-blocks, gating blocks (4 sub-blocks, 75 % overlap) and gates as
        :class:`mixmaster.loudness.LoudnessMeter`; the trailing unfinished sub-block is not
        measured.
        """
        energy = np.asarray(self._subblock_energy)
        n = energy.size
        if n < 4:
            return -math.inf
        edges = np.array([self._subblock_edge(k) for k in range(n + 1)])
        frames = np.diff(edges).astype(np.float64)
        window_energy = energy[:-3] + energy[1:-2] + energy[2:-1] + energy[3:]
        window_frames = frames[:-3] + frames[1:-2] + frames[2:-1] + frames[3:]
        return _gate(window_energy / window_frames)


@dataclass(frozen=True)
class Solution:
    """A gain and what the (corrected) model predicts for it."""

    gain_db: float
    lufs: float
    depth_db: float
    capped: bool


class LimiterModel:
    """Predicts the limiter's gain reduction and the master's loudness for a given gain.

    Parameters
    ----------
    envelope
        The pre-limiter signal's per-block peaks and energies.
    ceiling_dbtp
        The limiter's effective ceiling (its ceiling less the output stage's headroom).
    release_ms, lookahead_ms
        The limiter's time constants.
    """

    def __init__(
        self,
        envelope: EnvelopeCollector,
        ceiling_dbtp: float,
        release_ms: float,
        lookahead_ms: float,
    ) -> None:
        b = envelope.block_samples
        fs = envelope.sample_rate_hz
        with np.errstate(divide="ignore"):
            self._peak_db = 20.0 * np.log10(envelope.peak_lin)
        self._energy = envelope.energy
        self._ceiling_dbtp = ceiling_dbtp
        self._hold_blocks = max(0, round(lookahead_ms * 1e-3 * fs / b))

        # Exponential release in dB: gr[b] >= a * gr[b - 1], a = exp(-T_block / T_release).
        # The closed form needs a**-j, which overflows over a long file, so it is evaluated in
        # segments of _SEGMENT_BLOCKS with the running value carried across segment edges.
        log_a = -b / (release_ms * 1e-3 * fs)
        self._segment = min(self._peak_db.size, max(1, int(_MAX_EXPONENT / -log_a)))
        k = np.arange(self._segment)
        self._a_pow = np.exp(log_a * k)  # a**k
        self._a_inv = np.exp(-log_a * k)  # a**-k
        self._a = math.exp(log_a)
        self._cached: tuple[float, FloatArray] | None = None
        self._values: dict[tuple[str, float], float] = {}
        sounding = np.flatnonzero(envelope.peak_lin > 0.0)
        self._last_sound = int(sounding[-1]) + 1 if sounding.size else 0
        self._group = max(1, round(0.1 * fs / b))  # blocks per 100 ms sub-block
        self._group_samples = self._group * b

    def reduction_db(self, gain_db: float) -> FloatArray:
        """The modelled gain reduction of each block, dB (>= 0); the array is read-only."""
        if self._cached is not None and self._cached[0] == gain_db:
            return self._cached[1]
        out = self._reduction_db(gain_db)
        out.flags.writeable = False
        self._cached = (gain_db, out)
        return out

    def _memo(self, key: tuple[str, float], compute: Callable[[], float]) -> float:
        """Remember scalar results per gain: the solver revisits its bracket's ends."""
        if key not in self._values:
            self._values[key] = compute()
        return self._values[key]

    def _reduction_db(self, gain_db: float) -> FloatArray:
        required = np.maximum(self._peak_db + (gain_db - self._ceiling_dbtp), 0.0)
        # Held as the limiter does: from half the lookahead before a peak (its linear attack
        # ramp, in area) to the whole lookahead after it (its peak hold).
        hold = self._hold_blocks
        ahead = hold // 2
        held = (
            maximum_filter1d(required, ahead + 1, origin=-((ahead + 1) // 2), mode="nearest")
            if ahead
            else required
        )  # held[b] = max(required[b : b + ahead + 1])
        if hold:  # then held[b] = max(required[b - hold : b + ahead + 1])
            held = maximum_filter1d(held, hold + 1, origin=hold // 2, mode="nearest")
        # gr[b] = max(held[b], a gr[b-1]) = a**b max_{j<=b} held[j] a**-j, per segment.
        out = np.empty_like(held)
        carry = 0.0  # gr of the block before the segment
        m = self._segment
        for start in range(0, held.size, m):
            seg = held[start : start + m]
            n = seg.size
            run = np.maximum.accumulate(seg * self._a_inv[:n])
            np.maximum(run, carry * self._a, out=run)
            np.multiply(run, self._a_pow[:n], out=out[start : start + n])
            carry = float(out[start + n - 1])
        return out

    def depth_db(self, gain_db: float) -> float:
        """The 99th percentile of the modelled gain reduction up to the last sound, dB."""

        def compute() -> float:
            if self._last_sound == 0:
                return 0.0
            gr = self.reduction_db(gain_db)[: self._last_sound]
            return float(np.percentile(gr, _DEPTH_PERCENTILE))

        return self._memo(("depth", gain_db), compute)

    def lufs(self, gain_db: float, *, limited: bool = True) -> float:
        """The modelled integrated loudness (gated, BS.1770-4) of the limiter's output."""

        def compute() -> float:
            if limited:
                factor = 10.0 ** ((gain_db - self.reduction_db(gain_db)) / 10.0)
            else:
                factor = np.full(1, 10.0 ** (gain_db / 10.0))
            return _gated_lufs(self._energy * factor, self._group, self._group_samples)

        return self._memo(("lufs" if limited else "unlimited", gain_db), compute)


def _gated_lufs(energy: FloatArray, group: int, group_samples: int) -> float:
    """Integrated loudness from per-block channel-weighted energies (BS.1770-4 Annex 1 §4-5).

    Blocks are summed into sub-blocks of ``group`` (100 ms); a gating block is 4 consecutive
    sub-blocks (400 ms, 75 % overlap). Fewer than 4 sub-blocks, or nothing above the absolute
    gate, gives ``-inf``.
    """
    n = energy.size // group
    if n < 4:
        return -math.inf
    sub = energy[: n * group].reshape(n, group).sum(axis=1)
    return _gate((sub[:-3] + sub[1:-2] + sub[2:-1] + sub[3:]) / (4 * group_samples))


def _gate(z: FloatArray) -> float:
    """Gated loudness of 400 ms blocks given their mean squares ``z`` (BS.1770-4 Annex 1 §5).

    Block loudness l_j = -0.691 + 10 log10(z_j); the blocks above Γ_a = -70 LUFS give the
    relative gate Γ_r = their power-mean loudness - 10 LU; the loudness is the power mean of the
    blocks above both. ``-inf`` when no block passes.
    """
    with np.errstate(divide="ignore"):
        l_j = _LOUDNESS_OFFSET_DB + 10.0 * np.log10(z)
    above = z[l_j > _ABSOLUTE_GATE_LUFS]
    if above.size == 0:
        return -math.inf
    gamma_r = _LOUDNESS_OFFSET_DB + 10.0 * math.log10(float(above.mean())) + _RELATIVE_GATE_LU
    gated = z[l_j > max(gamma_r, _ABSOLUTE_GATE_LUFS)]
    return _LOUDNESS_OFFSET_DB + 10.0 * math.log10(float(gated.mean()))


def _root(f: Callable[[float], float], target: float, lo: float, hi: float, tol: float) -> float:
    """``x`` in ``[lo, hi]`` with ``f(x) ≈ target`` for a non-decreasing ``f``.

    The Illinois variant of regula falsi: a secant step kept inside the bracket, halving the
    weight of an end that stays put, so it converges in a few evaluations (each of which costs a
    pass over the model's blocks) yet never leaves the bracket. If the target lies outside
    ``[f(lo), f(hi)]`` the nearer end is returned.
    """
    f_lo, f_hi = f(lo) - target, f(hi) - target
    if f_lo >= 0.0:
        return lo
    if f_hi <= 0.0:
        return hi
    side = 0
    x = lo
    for _ in range(_MAX_EVALUATIONS):
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        fx = f(x) - target
        if abs(fx) <= tol or hi - lo <= 1e-4:
            return x
        if fx < 0.0:
            lo, f_lo = x, fx
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            hi, f_hi = x, fx
            if side == 1:
                f_lo *= 0.5
            side = 1
    return x


def solve_gain(
    model: LimiterModel,
    aim_lufs: float,
    cap_db: float,
    *,
    lufs_offset_lu: float = 0.0,
    depth_shift_db: float = 0.0,
    start_db: float = 0.0,
) -> Solution:
    """The gain whose (corrected) predicted loudness is ``aim_lufs``, backed off to the cap.

    Parameters
    ----------
    model
        The limiter model.
    aim_lufs
        The loudness to reach.
    cap_db
        The largest allowed limiting depth.
    lufs_offset_lu
        Added to the model's loudness (measured minus predicted on a real pass).
    depth_shift_db
        The depth is predicted at ``gain + depth_shift_db`` (a real pass's depth located on the
        model's depth curve, see :func:`depth_shift_db`).
    start_db
        Where the search starts: the gain that would reach the aim without limiting, below
        which the answer cannot lie (limiting only removes loudness).

    Returns
    -------
    Solution
        ``capped`` is true when the cap, not the loudness, set the gain.
    """

    def loudness(g: float) -> float:
        return model.lufs(g) + lufs_offset_lu

    def depth(g: float) -> float:
        return model.depth_db(g + depth_shift_db)

    # Bracket the loudness root by stepping up from the unlimited gain: limiting only removes
    # loudness, so the root lies above it (unless the corrections say otherwise).
    lo, hi = start_db - 1.0, start_db + 2.0
    while loudness(lo) > aim_lufs and lo > start_db - _SEARCH_SPAN_DB:
        lo, hi = lo - 4.0, lo
    while loudness(hi) < aim_lufs and hi < start_db + _SEARCH_SPAN_DB:
        lo, hi = hi, hi + 2.0 * (hi - start_db)
    gain = _root(loudness, aim_lufs, lo, hi, _LUFS_TOLERANCE_LU)
    capped = False
    excess_db = depth(gain) - cap_db
    if excess_db > 0.0:
        capped = True
        # Depth grows about 1 dB per dB of gain once the limiter works.
        lo = gain - excess_db - 1.0
        while depth(lo) > cap_db and lo > gain - _SEARCH_SPAN_DB:
            lo -= 3.0
        gain = _root(depth, cap_db, lo, gain, _DEPTH_TOLERANCE_DB)
        # Stay on the safe side of the cap.
        while depth(gain) > cap_db + _DEPTH_TOLERANCE_DB and gain > start_db - _SEARCH_SPAN_DB:
            gain -= _DEPTH_TOLERANCE_DB
    return Solution(gain, loudness(gain), depth(gain), capped)


def depth_shift_db(model: LimiterModel, gain_db: float, measured_depth_db: float) -> float:
    """The gain shift that puts ``measured_depth_db`` on the model's depth curve at ``gain_db``.

    Zero when the measured depth is zero (nothing to locate); limited to ±12 dB.
    """
    if measured_depth_db <= 0.0:
        return 0.0
    shifted = _root(
        lambda g: model.depth_db(g), measured_depth_db, gain_db - 12.0, gain_db + 12.0, 0.01
    )
    return shifted - gain_db

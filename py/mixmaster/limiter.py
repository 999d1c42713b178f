"""True-peak lookahead limiter: the output's true peak never exceeds the ceiling.

The ceiling is a *true-peak* ceiling (ITU-R BS.1770-4 Annex 2): it bounds the signal as the
interpolation filter of :mod:`mixmaster.truepeak` reconstructs it between samples, including the
overshoot of an abrupt start or end. The limiter has two stages.

1. **The gain computer** (the musical part), at a reduced control rate of one value per block of
   :attr:`LimiterDesign.block_samples` samples:

   - *detection*: the oversampled peak of each block of the input, with the very filter
     :func:`mixmaster.truepeak.polyphase_taps` that measures it (4x below 96 kHz), max-linked
     across channels (one gain for all channels, so the image does not wander); blocks whose
     sample peak is too low to reach the ceiling through any interpolation are skipped;
   - the *required gain* of a block, ``ceiling / peak`` of every interpolated point whose filter
     support touches it (so the gain is flat across the support of a peak), never above 1;
   - a *peak hold* over the lookahead, an *exponential release* of the gain reduction in dB
     (time constant ``release_ms``), and a *moving average* over the lookahead: the gain falls
     linearly over the lookahead (the attack) and has reached its value when the peak arrives.
     The moving average of the held envelope is provably at or below the required gain at
     every sample (each averaged value is a minimum over a window that contains the sample);
     the gain is then clipped to the required gain to absorb rounding.

   The release recursion ``gr[b] = max(target[b], a * gr[b - 1])`` is not vectorisable as written;
   it is computed at the control rate in closed form, ``gr[b] = a**b * max_j<=b(target[j] *
   a**-j)``, in the log domain with absolute block indices (a running maximum), which is exact
   to rounding and identical whatever the chunking.

2. **The true-peak guard** (the safety part). Limiting the oversampled peak of the *input* is not
   enough: the gain curve modulates the signal, and the interpolation of ``gain * signal`` can
   overshoot where the gain changes within a filter support (by up to the filter's L1 norm,
   2.6 for the 32-tap-per-phase filter, times the relative gain change). The guard therefore
   checks every interpolated point of the *output* with the measuring filter itself (exactly,
   in float64, where a cheap bound from the detection does not already prove the point safe)
   against the ceiling less a rounding allowance for the float32 measurement, and repairs any
   violation by scaling the gain over that point's support (flat over the support, so the point
   scales exactly, with short linear tapers). After a few rounds of such gentle repairs it
   switches to a repair that makes the point safe for ever: scaling the support so that the sum
   of ``|tap| * |sample|`` is at most the ceiling, a bound that later reductions can only
   lower. Every point is then repaired at most once, so the repair loop terminates, and when it
   ends every point has been verified: the output provably measures at or below the ceiling.

   The guard works in rounds on a fixed grid (:attr:`LimiterDesign.round_samples`), so its
   decisions do not depend on how the input is chunked. Each round commits its samples up to a
   boundary chosen where the partial sums of the interpolation filter over the committed side
   are below the ceiling ("partial-sum safe"), so that a later repair on the uncommitted side
   can always fix a point straddling the boundary. Where a passage offers no such boundary for
   a whole search window (a full-scale square wave, say) and a later repair would need it --
   which takes a true-peak violation of the gain computer within a filter length of that
   boundary -- the overshoot is reported in :meth:`LimiterProcessor.stats` as
   ``guard_unresolved``; :func:`apply_limiter` then repairs it over the whole signal, where no
   boundary exists, so its guarantee holds for every finite input.

``amount`` and ``max_reduction_db`` of :class:`~mixmaster.params.LimiterParams` are not used here:
they tell the pipeline how hard it may drive the limiter to reach a loudness target. The limiter
itself always enforces the ceiling, however hard it is driven.

Latency: the lookahead, plus the support of the detection filter and the guard's rounds (see
:attr:`LimiterProcessor.latency_samples`); :func:`mixmaster.processor.run_whole` compensates it.

References: ITU-R BS.1770-4 Annex 2 (true-peak measurement); EBU Tech 3341 cases 15-19.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from mixmaster import truepeak
from mixmaster.audio import as_audio, check_chunk, check_sample_rate
from mixmaster.errors import InputError, ParamError
from mixmaster.params import LimiterParams
from mixmaster.processor import run_whole
from mixmaster.units import FloatArray, db_to_lin, ms_to_samples

__all__ = [
    "DETECTION_MARGIN_DB",
    "LimiterDesign",
    "LimiterProcessor",
    "apply_limiter",
    "design_limiter",
]

DETECTION_MARGIN_DB: Final = 0.1
"""The gain computer aims this far below the guaranteed ceiling. The guard, not this margin,
guarantees the ceiling as BS.1770 measures it; the margin makes repairs rare and covers the 4x
meter's own under-reading of content near 20 kHz (its grid misses up to 0.5 dB of a pure 20 kHz
tone's peak): music-like spectra up to 20 kHz read at most 0.07 dB higher on an ideal (16x FFT)
reconstruction than on the meter after this limiter, so they stay below the ceiling too."""

_GUARD_REL_TOL: Final = 3e-5
"""The guard verifies against ``ceiling * (1 - 3e-5)`` (0.00026 dB below): the meter computes the
interpolation in float32, whose rounding (input, taps and a 63-term sum, at most 2**-24 each,
times the filter's L1 norm 2.6) can read up to 1e-5 of the ceiling above the exact value."""

_F32_REL_ERR: Final = 1e-5
"""Bound on the float32 detection's error relative to ``L1 * max|x|`` over the support
(the same rounding argument as :data:`_GUARD_REL_TOL`, with room to spare)."""

_GENTLE_PASSES: Final = 8
"""Repair passes that scale a violating point exactly down to the ceiling before the guard
switches to the repair that makes points safe for ever (which guarantees termination)."""

_PEAK_REL_TOL: Final = 1e-4
"""The guard computes exactly every block whose bound exceeds the largest exact level so far by
more than this (relative; 0.0009 dB), so the output's true peak is known to within it
(:meth:`LimiterProcessor.output_peak_lin`)."""

_STATS_THRESHOLD_DB: Final = 0.1
"""Gain reduction from which a block counts as limiting in :meth:`LimiterProcessor.stats`."""

_FRAME_SAMPLES: Final = 16
"""Points per row of the detection's matrix product (a whole number of control blocks). A row
reads ``16 + T - 1`` samples for 16 points: fewer wasted products on the banded matrix's zeros
than 32 points per row, ~15 % less detection time in Pyodide and a little natively."""

_HIST_BIN_DB: Final = 0.01
_HIST_MAX_DB: Final = 120.0

IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class LimiterDesign:
    """Everything derived once from (sample rate, params, margin); read-only.

    Attributes
    ----------
    sample_rate_hz
        Sample rate.
    ceiling_lin
        The guaranteed true-peak ceiling, linear (``ceiling_dbtp - ceiling_margin_db``).
    target_lin
        What the gain computer aims for, :data:`DETECTION_MARGIN_DB` below ``ceiling_lin``.
    guard_lin
        What the guard verifies against (``ceiling_lin`` less :data:`_GUARD_REL_TOL`).
    factor
        Oversampling factor of the true-peak filter (:func:`truepeak.oversampling_factor`).
    taps
        Interpolating phases ``1..factor-1`` of :func:`truepeak.polyphase_taps`,
        ``(factor - 1, taps_per_phase)``; phase 0 is the sample itself.
    support_before, support_after
        An interpolated point at ``n + p / factor`` reads samples
        ``n - support_before .. n + support_after``.
    l1
        Largest sum of ``|taps|`` over the phases (at least 1, for phase 0).
    block_samples
        Control-rate block, in samples.
    ramp_blocks
        The attack ramp (moving average) and peak hold, in blocks: the lookahead.
    release_log_per_block
        ``log(a)`` of the per-block decay ``a`` of the gain reduction in dB.
    round_samples, search_samples
        The guard's round length and the window in which it looks for a boundary.
    latency_samples
        Total delay of the output behind the input.
    """

    sample_rate_hz: int
    ceiling_lin: float
    target_lin: float
    guard_lin: float
    factor: int
    taps: FloatArray
    support_before: int
    support_after: int
    l1: float
    block_samples: int
    ramp_blocks: int
    release_log_per_block: float
    round_samples: int
    search_samples: int
    latency_samples: int

    @property
    def support_samples(self) -> int:
        """Samples read by one interpolated point (``taps_per_phase``; 1 without oversampling)."""
        return self.support_before + self.support_after + 1


def _check_margin(ceiling_margin_db: float) -> float:
    if (
        isinstance(ceiling_margin_db, bool)
        or not isinstance(ceiling_margin_db, int | float)
        or not math.isfinite(ceiling_margin_db)
        or not 0.0 <= ceiling_margin_db <= 6.0
    ):
        raise ParamError(
            "out_of_range",
            f"ceiling_margin_db is {ceiling_margin_db!r}; accepted: a number from 0 to 6 dB.",
            field="limiter.ceiling_margin_db",
        )
    return float(ceiling_margin_db)


def design_limiter(
    sample_rate_hz: int, params: LimiterParams, *, ceiling_margin_db: float = 0.0
) -> LimiterDesign:
    """Derive the limiter's filters, block sizes and latency for one sample rate.

    Parameters
    ----------
    sample_rate_hz
        8 kHz to 384 kHz.
    params
        The limiter's parameters (only ``ceiling_dbtp``, ``release_ms`` and ``lookahead_ms`` are
        used here; see the module docstring).
    ceiling_margin_db
        Extra room below ``params.ceiling_dbtp`` that the output must keep, in dB (0 to 6), e.g.
        for the dither the output stage adds afterwards.

    Raises
    ------
    InputError
        ``unsupported_sample_rate``.
    ParamError
        ``out_of_range`` for ``ceiling_margin_db``; ``bad_type`` if ``params`` is not a
        :class:`~mixmaster.params.LimiterParams`.
    """
    fs = check_sample_rate(sample_rate_hz)
    if not isinstance(params, LimiterParams):
        raise ParamError(
            "bad_type",
            f"limiter params must be a LimiterParams; got {type(params).__name__}.",
            field="limiter",
        )
    margin_db = _check_margin(ceiling_margin_db)
    ceiling_lin = db_to_lin(params.ceiling_dbtp - margin_db)
    factor = truepeak.oversampling_factor(fs)
    all_taps = np.asarray(truepeak.polyphase_taps(factor), dtype=np.float64)
    if factor == 1:
        taps = np.zeros((0, 1))
        before = after = 0
        l1 = 1.0
    else:
        taps = np.array(all_taps[1:], dtype=np.float64)
        t = all_taps.shape[1]
        before = t // 2 - 1  # the layout of truepeak.polyphase_taps
        after = t - 1 - before
        l1 = max(1.0, float(np.abs(taps).sum(axis=1).max()))
    taps.flags.writeable = False
    # Control rate: 16 samples (0.36 ms at 44.1 kHz); 8 below 32 kHz so 1 ms lookahead stays short.
    block = 16 if fs >= 32_000 else 8
    lookahead = ms_to_samples(params.lookahead_ms, fs)
    ramp_blocks = max(1, round(lookahead / block))
    release_log = -block / (params.release_ms * 1e-3 * fs)
    round_samples = 64 * block
    search_samples = 32 * block
    blocks_after = (block - 1 + before) // block
    latency = (
        after
        + _FRAME_SAMPLES
        + (blocks_after + ramp_blocks) * block
        + round_samples
        + search_samples
        - 2
    )
    return LimiterDesign(
        sample_rate_hz=fs,
        ceiling_lin=ceiling_lin,
        target_lin=ceiling_lin * db_to_lin(-DETECTION_MARGIN_DB),
        guard_lin=ceiling_lin * (1.0 - _GUARD_REL_TOL),
        factor=factor,
        taps=taps,
        support_before=before,
        support_after=after,
        l1=l1,
        block_samples=block,
        ramp_blocks=ramp_blocks,
        release_log_per_block=release_log,
        round_samples=round_samples,
        search_samples=search_samples,
        latency_samples=latency,
    )


def _frame_weights(d: LimiterDesign, points: int, dtype: type[np.floating[Any]]) -> FloatArray:
    """Banded matrix mapping ``points + T - 1`` samples to the phases of ``points`` points.

    Row ``r + j`` times column ``r * (factor - 1) + p - 1`` holds ``taps[p - 1, j]``: a row of
    samples starting ``support_before`` before point ``r`` gives its interpolated phases.
    """
    phases, t = d.taps.shape
    w = np.zeros((points + t - 1, points, phases))
    for r in range(points):
        w[r : r + t, r, :] = d.taps.T
    return np.ascontiguousarray(w.reshape(points + t - 1, points * phases), dtype=dtype)


def _left_partial_weights(d: LimiterDesign) -> FloatArray:
    """Matrix giving, from the ``T - 1`` samples left of a boundary, each straddling point's
    partial interpolation sum over those samples (for every straddling point and phase)."""
    phases, t = d.taps.shape
    w = np.zeros((t - 1, t - 1, phases))
    for s in range(t - 1):  # straddling point s reads samples s .. s + T - 1 of the window
        for j in range(t - 1 - s):
            w[s + j, s, :] = d.taps[:, j]
    return w.reshape(t - 1, (t - 1) * phases)


def _window_max(v: FloatArray, before: int, after: int) -> FloatArray:
    """``out[i] = max(v[i - before + ..., i + after])`` for the inner part of ``v``.

    Returns ``len(v) - before - after`` values: ``out[i]`` covers ``v[i : i + before + after + 1]``.
    """
    n = v.shape[0] - before - after
    out = np.array(v[0:n], copy=True)
    for k in range(1, before + after + 1):
        np.maximum(out, v[k : k + n], out=out)
    return out


def _window_min(v: FloatArray, before: int, after: int) -> FloatArray:
    """Like :func:`_window_max`, with the minimum."""
    n = v.shape[0] - before - after
    out = np.array(v[0:n], copy=True)
    for k in range(1, before + after + 1):
        np.minimum(out, v[k : k + n], out=out)
    return out


class _Guard:
    """The true-peak guard: verifies every interpolated point of ``gain * x`` and repairs.

    Holds the uncommitted ("pending") gain and input from ``c0`` to the frontier, plus a history
    of ``hist`` committed samples, all from absolute sample ``h0``. See the module docstring.
    """

    def __init__(
        self, d: LimiterDesign, channels: int, gentle_passes: int = _GENTLE_PASSES
    ) -> None:
        self.d = d
        self.channels = channels
        self.gentle_passes = gentle_passes
        b = d.block_samples
        t = d.support_samples
        self.hist_blocks = -(-(t + 1) // b) + 1
        self.h0 = -self.hist_blocks * b  # buffers start here (absolute samples)
        self.c0 = 0  # committed up to here
        n_hist = self.hist_blocks * b
        self.g: FloatArray = np.ones(n_hist)
        self.x: FloatArray = np.zeros((channels, n_hist))
        # Detection peak bound per block; unknown (infinite) for the history before the
        # signal, whose last blocks hold points that read its first samples.
        self.pp: FloatArray = np.full(self.hist_blocks, np.inf)
        self.xb: FloatArray = np.zeros(self.hist_blocks)  # max |x| over channels per block
        self.gmax: FloatArray = np.ones(self.hist_blocks)  # gain extremes per block
        self.gmin: FloatArray = np.ones(self.hist_blocks)
        self.unchecked: BoolArray = np.ones(self.hist_blocks, dtype=bool)
        # Each block's level at its last check: exactly its points' largest |output| where the
        # check computed them (``exact``), else the bound that proved it safe. Folded into
        # ``peak_exact`` / ``peak_bound`` when the block leaves the history (then final).
        self.level: FloatArray = np.zeros(self.hist_blocks)
        self.exact: BoolArray = np.ones(self.hist_blocks, dtype=bool)
        self.peak_exact = 0.0
        self.peak_bound = 0.0
        self.round = 0
        self.frames64 = _frame_weights(d, b, np.float64) if d.factor > 1 else np.zeros((b, 0))
        self.left_w = _left_partial_weights(d) if d.factor > 1 else np.zeros((0, 0))
        # Blocks whose samples a block's points read: b - nb_lo .. b + nb_hi.
        self.nb_lo = -(-d.support_before // b)
        self.nb_hi = -(-d.support_after // b)
        self.repairs = 0
        self.permanent_repairs = 0
        self.unsafe_boundaries = 0
        self.unresolved: list[tuple[int, float]] = []  # (point, level) the guard could not fix
        self.ignore: set[int] = set()

    # -- data ------------------------------------------------------------------------------

    @property
    def frontier(self) -> int:
        return self.h0 + self.g.shape[0]

    def push(
        self,
        g: FloatArray,
        x: FloatArray,
        pp: FloatArray,
        xb: FloatArray,
        gmax: FloatArray,
        gmin: FloatArray,
    ) -> None:
        """Append whole blocks: gain, input, detection peak bound, max ``|x|`` and the gain's
        extremes per block."""
        self.g = np.concatenate((self.g, g))
        self.x = np.concatenate((self.x, x), axis=1)
        self.pp = np.concatenate((self.pp, pp))
        self.xb = np.concatenate((self.xb, xb))
        self.gmax = np.concatenate((self.gmax, gmax))
        self.gmin = np.concatenate((self.gmin, gmin))
        self.unchecked = np.concatenate((self.unchecked, np.ones(pp.shape[0], dtype=bool)))
        self.level = np.concatenate((self.level, np.zeros(pp.shape[0])))
        self.exact = np.concatenate((self.exact, np.zeros(pp.shape[0], dtype=bool)))

    def _y(self, start: int, stop: int) -> FloatArray:
        """Output ``gain * x`` for absolute samples ``[start, stop)`` (zero outside the data)."""
        out = np.zeros((self.channels, stop - start))
        lo = max(start, self.h0)
        hi = min(stop, self.frontier)
        if hi > lo:
            i0, i1 = lo - self.h0, hi - self.h0
            out[:, lo - start : hi - start] = self.g[i0:i1] * self.x[:, i0:i1]
        return out

    # -- verification ----------------------------------------------------------------------

    def _checkable_end_block(self, limit: int) -> int:
        """First block whose points read a sample at or after ``limit``."""
        b = self.d.block_samples
        return (limit - self.d.support_after - b) // b + 1

    def _check(self, b_from: int, b_to: int) -> tuple[IntArray, FloatArray]:
        """Verify the unchecked blocks in ``[b_from, b_to)`` (absolute block indices).

        Returns the violating points (absolute sample index of the point) and their levels (max
        over phases and channels of ``|interpolated output|``); marks the blocks checked.
        """
        d = self.d
        b = d.block_samples
        base = self.h0 // b
        i_from, i_to = b_from - base, b_to - base
        if i_to <= i_from:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        sel = np.flatnonzero(self.unchecked[i_from:i_to]) + i_from
        self.unchecked[i_from:i_to] = False
        if sel.size == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        # Cheap proof first: with G = max gain and g_min = min gain over a block's supports,
        # |out| <= G * |interp x| + L1 * (G - g_min) * max|x|, and <= G * L1 * max|x|.
        # (The history before c0 and the checkability of a block guarantee the neighbours.)
        lo_i = int(sel[0]) - self.nb_lo
        hi_i = int(sel[-1]) + self.nb_hi + 1
        span = (self.nb_lo, self.nb_hi)
        gmax = _window_max(self.gmax[lo_i:hi_i], *span)
        gmin = _window_min(self.gmin[lo_i:hi_i], *span)
        xmax = _window_max(self.xb[lo_i:hi_i], *span)
        k = sel - lo_i - self.nb_lo
        bound = np.minimum(
            gmax[k] * d.l1 * xmax[k],
            gmax[k] * self.pp[sel] + d.l1 * (gmax[k] - gmin[k]) * xmax[k],
        )
        self.level[sel] = bound
        self.exact[sel] = False
        # Exactly: every block that may violate the ceiling, and, so that the output's true peak
        # is known to within _PEAK_REL_TOL, every block whose bound reaches above the largest
        # exact level of the final blocks so far.
        threshold = min(d.guard_lin, self.peak_exact * (1.0 + _PEAK_REL_TOL))
        exact = sel[bound > threshold]
        if exact.size == 0:
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        return self._exact(exact)

    def _exact(self, blocks_i: IntArray) -> tuple[IntArray, FloatArray]:
        """Exact float64 check of the points of the given blocks (buffer block indices)."""
        d = self.d
        b = d.block_samples
        t = d.support_samples
        # One window of y covering all selected blocks' supports, then frames from it.
        first = int(blocks_i[0]) * b + self.h0
        last = int(blocks_i[-1]) * b + self.h0 + b
        y = self._y(first - d.support_before, last + d.support_after)
        rel = (blocks_i * b + self.h0 - first).astype(np.intp)
        levels = np.abs(
            y[:, rel[:, None] + np.arange(b)[None, :] + d.support_before]
        )  # phase 0: (C, nblk, B)
        if d.factor > 1:
            idx = rel[:, None] + np.arange(b + t - 1)[None, :]
            frames = y[:, idx]  # (C, nblk, B + T - 1)
            u = np.abs(frames @ self.frames64).reshape(self.channels, len(rel), b, -1)
            levels = np.maximum(levels, u.max(axis=3))
        level = levels.max(axis=0)  # (nblk, B)
        self.level[blocks_i] = level.max(axis=1)
        self.exact[blocks_i] = True
        bad = level > d.guard_lin
        if not bad.any():
            return np.zeros(0, dtype=np.intp), np.zeros(0)
        bi, pi = np.nonzero(bad)
        points = (blocks_i[bi] * b + self.h0 + pi).astype(np.intp)
        return points, level[bi, pi]

    def _point_parts(self, n: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """For point ``n``: phase values ``(C, P)`` from the committed samples (``a``), from the
        pending ones (``v``), and the pending ``sum |tap| * |y|`` (``w``); phase 0 included."""
        d = self.d
        start = n - d.support_before
        y = self._y(start, n + d.support_after + 1)
        taps = np.concatenate((np.zeros((1, d.support_samples)), d.taps), axis=0)
        taps[0, d.support_before] = 1.0
        committed = np.arange(start, start + d.support_samples) < self.c0
        a = (y * committed) @ taps.T
        v = (y * ~committed) @ taps.T
        w = np.abs(y * ~committed) @ np.abs(taps).T
        return a, v, w

    # -- repair ----------------------------------------------------------------------------

    def _repair(self, points: IntArray, levels: FloatArray, limit: int, permanent: bool) -> None:
        """Scale the gain over the supports of violating points (see the module docstring)."""
        d = self.d
        c0 = self.c0
        lo = c0 - self.h0
        hi = limit - self.h0
        mult = np.ones(hi - lo)
        taper = d.support_samples
        for n, level in zip(points.tolist(), levels.tolist(), strict=True):
            s0 = n - d.support_before
            s1 = n + d.support_after + 1
            a, v, w = self._point_parts(n)
            if s0 >= c0 and not permanent:
                scale = d.guard_lin / level * (1.0 - 1e-9)
            elif s0 >= c0:
                scale = d.guard_lin / float(w.max()) * (1.0 - 1e-9)
            else:
                scale = self._straddler_scale(a, v, w, permanent)
                if scale is None:
                    self.unresolved.append((n, level))
                    self.ignore.add(n)
                    scale = self._least_bad_scale(a, v)
            f0, f1 = max(s0, c0), min(s1, limit)
            seg = mult[f0 - c0 : f1 - c0]
            np.minimum(seg, scale, out=seg)
            if not permanent and scale < 1.0:  # linear tapers back to 1 on both sides
                ramp = scale + (1.0 - scale) * np.arange(1, taper + 1) / (taper + 1)
                t0 = max(c0, f0 - taper)
                left = mult[t0 - c0 : f0 - c0]
                np.minimum(left, ramp[::-1][taper - (f0 - t0) :], out=left)
                t1 = min(limit, f1 + taper)
                right = mult[f1 - c0 : t1 - c0]
                np.minimum(right, ramp[: t1 - f1], out=right)
        self.g[lo:hi] *= mult
        b = d.block_samples
        blocks = self.g[lo:hi].reshape(-1, b)
        self.gmax[lo // b : hi // b] = blocks.max(axis=1)
        self.gmin[lo // b : hi // b] = blocks.min(axis=1)
        if permanent:
            self.permanent_repairs += len(points)
        else:
            self.repairs += len(points)
        changed = np.flatnonzero(mult < 1.0)
        if changed.size:
            self._mark(c0 + int(changed[0]), c0 + int(changed[-1]) + 1)

    def _straddler_scale(
        self, a: FloatArray, v: FloatArray, w: FloatArray, permanent: bool
    ) -> float | None:
        """Largest scale of the pending samples bringing a straddling point within the ceiling.

        ``a`` is fixed (committed). With ``permanent``, the bound ``|a| + scale * w`` is used,
        which later reductions cannot break. ``None`` if no scale in [0, 1] suffices.
        """
        c = self.d.guard_lin * (1.0 - 1e-9)
        if float(np.abs(a).max()) > c:
            return None
        if permanent:
            wmax = float(w.max())
            room = float((c - np.abs(a)).min())
            return 1.0 if wmax <= room else room / wmax
        # Need -c <= a + s * v <= c for every channel and phase; the feasible s form an interval.
        hi = 1.0
        for av, vv in zip(a.ravel().tolist(), v.ravel().tolist(), strict=True):
            if vv > 0:
                hi = min(hi, (c - av) / vv)
            elif vv < 0:
                hi = min(hi, (-c - av) / vv)
        return max(0.0, hi)

    def _least_bad_scale(self, a: FloatArray, v: FloatArray) -> float:
        """For an unfixable straddling point: the scale in [0, 1] of its pending part that
        minimises its worst level (checked on a grid; the level is convex in the scale)."""
        grid = np.linspace(0.0, 1.0, 101)
        worst = np.abs(a.ravel()[None, :] + grid[:, None] * v.ravel()[None, :]).max(axis=1)
        return float(grid[int(np.argmin(worst))])

    def _mark(self, start: int, stop: int) -> None:
        """Mark unchecked every block with a point reading samples in ``[start, stop)``."""
        d = self.d
        b = d.block_samples
        first = (start - d.support_after - self.h0) // b
        last = (stop - 1 + d.support_before - self.h0) // b
        self.unchecked[max(first, 0) : min(last + 1, self.unchecked.shape[0])] = True

    # -- rounds ----------------------------------------------------------------------------

    def _boundary_metric(self, cands: IntArray) -> FloatArray:
        """For candidate boundaries (absolute samples), the largest ``|partial sum|`` over the
        committed side of any straddling point, phase and channel (0 without oversampling)."""
        d = self.d
        t = d.support_samples
        if d.factor == 1 or cands.size == 0:
            return np.zeros(cands.shape[0])
        idx = (cands - self.h0)[:, None] + np.arange(-(t - 1), 0)[None, :]
        a = (self.g[idx] * self.x[:, idx]) @ self.left_w  # (C, ncand, (T-1) * P)
        out: FloatArray = np.abs(a).max(axis=(0, 2))
        return out

    def _choose_boundaries(self, limits: IntArray) -> tuple[IntArray, BoolArray]:
        """Boundary per round ending at ``limits``: the latest candidate block edge in the
        search window that is partial-sum safe, else the least unsafe one.

        Candidates are tried latest first, in growing groups, only for the rounds still open.
        """
        d = self.d
        b = d.block_samples
        t = d.support_samples
        last_off = ((t - 1) + b - 1) // b * b  # straddlers must read samples < limit
        per = (d.search_samples - last_off) // b + 1
        # cand[:, i] is the i-th latest candidate.
        cand = (limits - last_off)[:, None] - b * np.arange(per)[None, :]
        metric = np.full(cand.shape, np.inf)
        safe = d.guard_lin * (1.0 - 1e-6)
        open_rows = np.arange(cand.shape[0])
        start = 0
        width = 1
        while open_rows.size and start < per:
            cols = np.arange(start, min(per, start + width))
            sub = cand[open_rows][:, cols]
            metric[open_rows[:, None], cols[None, :]] = self._boundary_metric(sub.ravel()).reshape(
                sub.shape
            )
            open_rows = open_rows[~(metric[open_rows] <= safe).any(axis=1)]
            start += width
            width *= 2
        ok = metric <= safe
        any_ok = ok.any(axis=1)
        pick = np.where(any_ok, np.argmax(ok, axis=1), np.argmin(metric, axis=1))
        return cand[np.arange(cand.shape[0]), pick].astype(np.intp), any_ok

    def _commit(self, boundary: int) -> tuple[FloatArray, FloatArray]:
        """Commit ``[c0, boundary)``: return its output and the gain's minimum per block, and
        trim the buffers."""
        i0, i1 = self.c0 - self.h0, boundary - self.h0
        b = self.d.block_samples
        g = self.gmin[i0 // b : i1 // b].copy()
        y = self.g[i0:i1] * self.x[:, i0:i1]
        self.c0 = boundary
        b = self.d.block_samples
        new_h0 = boundary - self.hist_blocks * b
        drop = new_h0 - self.h0
        if drop > 0:
            nb = drop // b
            final_exact = self.exact[:nb]
            if final_exact.any():
                self.peak_exact = max(self.peak_exact, float(self.level[:nb][final_exact].max()))
            if not final_exact.all():
                self.peak_bound = max(self.peak_bound, float(self.level[:nb][~final_exact].max()))
            self.level = self.level[nb:]
            self.exact = self.exact[nb:]
            self.g = self.g[drop:]
            self.x = self.x[:, drop:]
            self.pp = self.pp[drop // b :]
            self.xb = self.xb[drop // b :]
            self.gmax = self.gmax[drop // b :]
            self.gmin = self.gmin[drop // b :]
            self.unchecked = self.unchecked[drop // b :]
            self.h0 = new_h0
        return y, g

    def run(self) -> tuple[list[FloatArray], list[FloatArray]]:
        """Run every round the frontier allows; return the committed outputs and the gain's
        minimum per committed block."""
        d = self.d
        r = d.round_samples
        b = d.block_samples
        outs: list[FloatArray] = []
        gains: list[FloatArray] = []
        while (self.round + 1) * r <= self.frontier:
            n_rounds = self.frontier // r - self.round
            limits = (self.round + 1 + np.arange(n_rounds)) * r
            # Fast path: verify everything checkable once; rounds before the first violation
            # commit in bulk (nothing in them changes).
            points, _ = self._check(
                self.c0 // b - self.nb_hi, self._checkable_end_block(self.frontier)
            )
            if self.ignore and points.size:
                keep = np.array([p not in self.ignore for p in points.tolist()], dtype=bool)
                points = points[keep]
            if points.size:
                self.unchecked[(points - self.h0) // b] = True  # found again by the slow round
                first_bad_end = int(points.min()) + d.support_after
                clean = int(np.searchsorted(limits, first_bad_end, side="right"))
            else:
                clean = n_rounds
            if clean > 0:
                bounds, ok = self._choose_boundaries(limits[:clean])
                self.unsafe_boundaries += int((~ok).sum())
                y, g = self._commit(int(bounds[-1]))
                outs.append(y)
                gains.append(g)
                self.round += clean
                continue
            self._slow_round(int(limits[0]))
            bounds, ok = self._choose_boundaries(limits[:1])
            self.unsafe_boundaries += int((~ok).sum())
            y, g = self._commit(int(bounds[0]))
            outs.append(y)
            gains.append(g)
            self.round += 1
        return outs, gains

    def _slow_round(self, limit: int) -> None:
        """Verify and repair every point reading samples in ``[c0, limit)`` only."""
        b = self.d.block_samples
        self._mark(self.c0, limit)
        passes = 0
        while True:
            points, levels = self._check(
                self.c0 // b - self.nb_hi - 1, self._checkable_end_block(limit)
            )
            if self.ignore and points.size:
                keep = np.array([p not in self.ignore for p in points.tolist()], dtype=bool)
                points, levels = points[keep], levels[keep]
            if points.size == 0:
                return
            self._repair(points, levels, limit, permanent=passes >= self.gentle_passes)
            passes += 1

    def flush_unresolved(self) -> list[tuple[int, float]]:
        out = self.unresolved
        self.unresolved = []
        return out


class LimiterProcessor:
    """True-peak lookahead limiter over ``(channels, samples)`` chunks (the Processor protocol).

    Feeding a signal in chunks of any sizes gives the same output as one call, to within the
    float32 rounding of the detection's matrix product, which BLAS may vary with the batch
    shape (about 1e-7 of full scale, -140 dBFS; measured in the tests). Every decision --
    control blocks, detection frames, guard rounds and boundaries -- sits on a grid of absolute
    sample positions, so nothing else depends on the chunking.

    Parameters
    ----------
    sample_rate_hz
        8 kHz to 384 kHz.
    channels
        1 to 8; every chunk must have this many.
    params
        :class:`~mixmaster.params.LimiterParams` (``ceiling_dbtp``, ``release_ms``,
        ``lookahead_ms``; ``amount`` and ``max_reduction_db`` are the pipeline's).
    ceiling_margin_db
        Keep the true peak this far below ``params.ceiling_dbtp`` (0 to 6 dB), e.g. the output
        stage's headroom (:func:`mixmaster.dither.output_headroom_db`).

    Attributes
    ----------
    latency_samples
        Output delay: the lookahead rounded to control blocks (16 samples from 32 kHz, 8
        below), plus half the true-peak filter, a detection frame (16 samples) and a block, plus
        the guard's round and search window (64 + 32 blocks). 1806 samples (41 ms) at 44.1 kHz
        with 5 ms lookahead.

    Raises
    ------
    InputError
        ``unsupported_sample_rate``; ``bad_layout`` for a channel count outside 1-8.
    ParamError
        As :func:`design_limiter`.
    """

    def __init__(
        self,
        sample_rate_hz: int,
        channels: int,
        params: LimiterParams,
        *,
        ceiling_margin_db: float = 0.0,
    ) -> None:
        if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 8:
            raise InputError(
                "bad_layout", f"channels must be a whole number from 1 to 8; got {channels!r}."
            )
        d = design_limiter(sample_rate_hz, params, ceiling_margin_db=ceiling_margin_db)
        self.design = d
        self.channels = channels
        self.latency_samples = d.latency_samples
        b = d.block_samples
        k = d.ramp_blocks
        self._blocks_before = -(-d.support_after // b)  # points before a block touching it
        self._blocks_after = (b - 1 + d.support_before) // b
        # The detection's banded matrix, transposed (points x phases, samples), float32.
        self._frames32_t = (
            np.ascontiguousarray(_frame_weights(d, _FRAME_SAMPLES, np.float32).T)
            if d.factor > 1
            else None
        )
        # Main-stage buffers, each anchored at an absolute block (samples: block * b).
        # Detection reads whole blocks: _q_lo before a block and _q_hi after it.
        self._q_lo = -(-d.support_before // b)
        self._q_hi = -(-d.support_after // b)
        # Detection starts at the frame holding the first points that read sample 0 (the
        # overshoot of an abrupt start lies before the first sample).
        per = _FRAME_SAMPLES // b
        self._det = -((self._q_hi + per - 1) // per) * per  # next block to detect
        self._x0 = (self._det - self._q_lo) * b
        self._x: FloatArray = np.zeros((channels, -self._x0))  # input (zero before 0)
        self._pp: FloatArray = np.zeros(0)  # detection peak bound, from block _pp0
        self._xb: FloatArray = np.zeros(0)  # max |x| per block, from block _pp0
        self._pp0 = self._det
        self._r: FloatArray = np.ones(k)  # required gain, from block _r0 (hold history)
        self._r0 = -k
        self._vmax = -math.inf  # running max of log(gr) - b * log(a)
        self._e: FloatArray = np.zeros(0)  # envelope, from block _e0
        self._e0 = 0
        self._g_next = 0  # next block whose gain is computed
        self._guard = _Guard(d, channels)
        # Output queue: the leading latency is silence.
        self._out: list[FloatArray] = [np.zeros((channels, d.latency_samples))]
        self._out_len = d.latency_samples
        # Statistics over committed blocks up to the last non-silent input sample.
        self._hist = np.zeros(int(_HIST_MAX_DB / _HIST_BIN_DB) + 2, dtype=np.int64)
        self._pending_gr: list[FloatArray] = []  # committed blocks after the last sound
        self._pending_start = 0  # absolute block of _pending_gr[0][0]
        self._committed_blocks = 0
        self._gr_sum = 0.0
        self._gr_max = 0.0
        self._count = 0
        self._limiting = 0
        self._last_sound = -1  # absolute index of the last non-zero input sample
        self._seen = 0  # input samples so far

    # -- main stage ------------------------------------------------------------------------

    def _detect(self, ext: FloatArray) -> tuple[FloatArray, FloatArray]:
        """True-peak bound and sample peak (max over channels) of each block's points.

        ``ext`` holds whole blocks: ``_q_lo`` before the blocks to detect, then those blocks (a
        whole number of frames), then ``_q_hi`` after. A block whose neighbourhood (itself and
        the blocks its points' supports reach) is too low to reach the target through any
        interpolation gets the bound ``L1 * max|x|`` over that neighbourhood; the others are
        interpolated, in float32 frames of :data:`_FRAME_SAMPLES` points, and get the result
        plus a bound on its rounding error. Each value depends on samples that every chunking
        has at hand, so the result does not depend on the chunking (beyond the rounding of the
        float32 product, which BLAS may vary with the batch).
        """
        d = self.design
        b = d.block_samples
        q_lo, q_hi = self._q_lo, self._q_hi
        nbe = ext.shape[1] // b
        nb = nbe - q_lo - q_hi
        bm = np.maximum.reduceat(np.abs(ext), np.arange(0, nbe * b, b), axis=1).max(axis=0)
        sample_peak = bm[q_lo : q_lo + nb].copy()
        if d.factor == 1:
            return sample_peak.copy(), sample_peak
        peak: FloatArray = d.l1 * _window_max(bm, 0, q_lo + q_hi)
        need = peak > d.target_lin
        per = _FRAME_SAMPLES // b
        frames = np.flatnonzero(need.reshape(-1, per).any(axis=1))
        if frames.size:
            assert self._frames32_t is not None
            t = d.support_samples
            off = q_lo * b - d.support_before
            ext32 = ext[:, off:].astype(np.float32)
            rows = np.concatenate(
                [
                    as_strided(
                        ext32[ch],
                        shape=(nb // per, _FRAME_SAMPLES + t - 1),
                        strides=(_FRAME_SAMPLES * 4, 4),
                        writeable=False,
                    )[frames]
                    for ch in range(self.channels)
                ]
            )
            # Transposed, so that the maximum over a block's points and phases runs across
            # contiguous rows: (per * b * phases, channels * frames).
            u = self._frames32_t @ rows.T
            np.abs(u, out=u)
            m = u.reshape(per, -1, self.channels * frames.size).max(axis=1)
            interp = m.reshape(per, self.channels, frames.size).max(axis=1).T.reshape(-1)
            blocks = (frames[:, None] * per + np.arange(per)[None, :]).reshape(-1)
            exact = need[blocks]
            sel = blocks[exact]
            peak[sel] = np.maximum(
                sample_peak[sel], interp[exact].astype(np.float64) + _F32_REL_ERR * peak[sel]
            )
        return peak, sample_peak

    def _main(self) -> None:
        """Advance detection, required gain, hold, release, smoothing as far as input allows."""
        d = self.design
        b = d.block_samples
        k = d.ramp_blocks
        have = self._x0 + self._x.shape[1]  # absolute samples available
        per = _FRAME_SAMPLES // b
        det_new = (have - self._q_hi * b) // _FRAME_SAMPLES * per  # whole frames only
        if det_new > self._det:
            i0 = (self._det - self._q_lo) * b - self._x0
            i1 = (det_new + self._q_hi) * b - self._x0
            pp, xb = self._detect(self._x[:, i0:i1])
            self._pp = np.concatenate((self._pp, pp))
            self._xb = np.concatenate((self._xb, xb))
            self._det = det_new
        # Required gain of the blocks whose touching points are all detected; _r holds the
        # hold's history: the K blocks before r_next.
        r_next = self._r0 + self._r.shape[0]
        r_new = self._det - self._blocks_after
        if r_new <= r_next:
            return
        lo = r_next - self._blocks_before - self._pp0
        hi = r_new + self._blocks_after - self._pp0
        peak = _window_max(self._pp[lo:hi], 0, self._blocks_before + self._blocks_after)
        with np.errstate(divide="ignore"):
            req = np.where(peak > d.target_lin, d.target_lin / peak, 1.0)
        r_all = np.concatenate((self._r, req))
        held = _window_min(r_all, 0, k)  # peak hold: M[b] = min(R[b - K .. b])
        # Release, closed form: gr[b] = exp(b*la + max_j<=b(log t[j] - j*la)), t = target dB.
        la = d.release_log_per_block
        blocks = np.arange(r_next, r_new, dtype=np.float64)
        with np.errstate(divide="ignore"):
            v = np.log(np.maximum(-20.0 * np.log10(held), 0.0)) - blocks * la
        vmax = np.maximum.accumulate(np.concatenate(([self._vmax], v)))[1:]
        self._vmax = float(vmax[-1])
        gr_db = np.exp(blocks * la + vmax)
        self._e = np.concatenate((self._e, np.minimum(10.0 ** (-gr_db / 20.0), held)))
        # Smoothing: S[b] = mean(e[b .. b+K-1]); block b's gain runs linearly from S[b] to
        # S[b+1] (exactly the moving average over K*b samples of the blockwise envelope).
        g_next = self._g_next
        g_new = r_new - k
        if g_new > g_next:
            nb = g_new - g_next
            i0 = g_next - self._e0
            acc = np.array(self._e[i0 : i0 + nb + 1], copy=True)
            for j in range(1, k):
                acc += self._e[i0 + j : i0 + j + nb + 1]
            s = acc / k
            g = np.multiply.outer(s[1:] - s[:-1], np.arange(b) / b)
            g += s[:-1, None]
            r_blk = r_all[g_next - self._r0 : g_new - self._r0]
            np.minimum(g, r_blk[:, None], out=g)
            g = g.reshape(-1)
            # A ramp clipped by a constant: its extremes are at the block's first and last sample.
            first, last = g[::b], g[b - 1 :: b]
            x0 = g_next * b - self._x0
            j0, j1 = g_next - self._pp0, g_new - self._pp0
            self._guard.push(
                g,
                self._x[:, x0 : x0 + nb * b],
                self._pp[j0:j1],
                self._xb[j0:j1],
                np.maximum(first, last),
                np.minimum(first, last),
            )
            self._g_next = g_new
        # Keep only what the next call needs.
        g_next = self._g_next
        self._e = self._e[g_next - self._e0 :]
        self._e0 = g_next
        keep_r = min(g_next, r_new - k)
        self._r = r_all[keep_r - self._r0 :]
        self._r0 = keep_r
        keep_pp = min(g_next, r_new - self._blocks_before)
        self._pp = self._pp[keep_pp - self._pp0 :]
        self._xb = self._xb[keep_pp - self._pp0 :]
        self._pp0 = keep_pp
        keep_x = min(g_next, self._det - self._q_lo) * b
        self._x = self._x[:, keep_x - self._x0 :]
        self._x0 = keep_x

    # -- protocol --------------------------------------------------------------------------

    def process(self, x: FloatArray) -> FloatArray:
        """Limit the next chunk ``(channels, samples)``; returns the same shape, delayed by
        :attr:`latency_samples`. ``x`` is not modified.

        Raises
        ------
        InputError
            ``bad_layout`` for a wrong channel count, ``non_finite`` for NaN or Inf.
        """
        arr = check_chunk(x, self.channels)
        n = arr.shape[1]
        if n == 0:
            return np.zeros((self.channels, 0))
        arr = as_audio(arr).astype(np.float64, copy=False)
        for end in range(n, 0, -4096):  # the last non-zero sample, scanning back
            nz = np.flatnonzero(np.any(arr[:, max(0, end - 4096) : end], axis=0))
            if nz.size:
                self._last_sound = self._seen + max(0, end - 4096) + int(nz[-1])
                break
        self._seen += n
        self._x = np.concatenate((self._x, arr), axis=1)
        self._main()
        outs, gains = self._guard.run()
        for y, g in zip(outs, gains, strict=True):
            self._out.append(y)
            self._out_len += y.shape[1]
            self._account(g)
        if self._out_len < n:  # cannot happen: latency covers the guard's rounds
            raise RuntimeError("limiter output queue underrun")
        out: FloatArray = np.empty((self.channels, n))
        filled = 0
        while filled < n:
            piece = self._out[0]
            take = min(n - filled, piece.shape[1])
            out[:, filled : filled + take] = piece[:, :take]
            filled += take
            if take == piece.shape[1]:
                self._out.pop(0)
            else:
                self._out[0] = piece[:, take:]
        self._out_len -= n
        return out

    def _account(self, gmin: FloatArray) -> None:
        """Gain-reduction statistics of committed blocks (their least gain), up to the last
        sound."""
        b = self.design.block_samples
        nb = gmin.shape[0]
        with np.errstate(divide="ignore"):
            gr = np.maximum(-20.0 * np.log10(gmin), 0.0)
        self._committed_blocks += nb
        self._pending_gr.append(gr)
        # Blocks starting at or before the last non-zero input are confirmed.
        confirm = (self._last_sound // b) + 1 - self._pending_start
        if confirm > 0:
            allp = np.concatenate(self._pending_gr)
            done, rest = allp[:confirm], allp[confirm:]
            self._add(done)
            self._pending_gr = [rest]
            self._pending_start += done.shape[0]

    def _add(self, gr: FloatArray) -> None:
        if gr.size == 0:
            return
        idx = np.minimum((gr / _HIST_BIN_DB).astype(np.intp), self._hist.shape[0] - 1)
        self._hist += np.bincount(idx, minlength=self._hist.shape[0])
        self._gr_sum += float(gr.sum())
        self._gr_max = max(self._gr_max, float(gr.max()))
        self._count += gr.shape[0]
        self._limiting += int((gr >= _STATS_THRESHOLD_DB).sum())

    def stats(self) -> dict[str, Any]:
        """Gain reduction so far, over committed control blocks up to the last sound.

        Returns
        -------
        dict
            ``max_gain_reduction_db``, ``mean_gain_reduction_db``, ``p99_gain_reduction_db``
            (resolution 0.01 dB), ``limiting_fraction`` (blocks with at least 0.1 dB of
            reduction), ``guard_repairs`` (points the guard scaled down to the ceiling),
            ``guard_permanent_repairs``, ``guard_unsafe_boundaries``, ``guard_unresolved``
            (points left above the ceiling; see the module docstring), ``latency_samples``.
        """
        g = self._guard
        p99 = 0.0
        if self._count:
            cum = np.cumsum(self._hist)
            i = int(np.searchsorted(cum, 0.99 * self._count))
            p99 = min(i * _HIST_BIN_DB, self._gr_max)
        return {
            "max_gain_reduction_db": self._gr_max,
            "mean_gain_reduction_db": self._gr_sum / self._count if self._count else 0.0,
            "p99_gain_reduction_db": p99,
            "limiting_fraction": self._limiting / self._count if self._count else 0.0,
            "guard_repairs": g.repairs,
            "guard_permanent_repairs": g.permanent_repairs,
            "guard_unsafe_boundaries": g.unsafe_boundaries,
            "guard_unresolved": len(g.unresolved),
            "latency_samples": self.latency_samples,
        }

    def output_peak_lin(self) -> tuple[float, float]:
        """Bounds ``(lower, upper)`` on the true peak (linear) of the output's finished part.

        The guard checks every interpolated point of the output; each control block's level at
        its last check is kept, computed exactly (float64) wherever it could exceed the ceiling
        or the largest exact level so far by more than 1e-4 (0.0009 dB), else as the bound that
        proved it lower. ``lower`` is the largest exact level, a value the output attains;
        ``upper`` also covers the bounded blocks, and is at most 1e-4 above ``lower`` unless the
        guard left points unresolved. Blocks count once they are final: once the input has
        advanced :attr:`latency_samples` beyond them, so a caller that wants the whole signal
        (with its trailing overshoot) feeds twice the latency in zeros after it.
        ``upper == inf`` when points were left unresolved.
        """
        g = self._guard
        upper = max(g.peak_exact, g.peak_bound)
        if g.unresolved:
            upper = math.inf
        return g.peak_exact, upper

    def unresolved_points(self) -> list[tuple[int, float]]:
        """Interpolated points (absolute input sample index, level) the guard left above the
        ceiling, so far; empty in all but pathological cases (see the module docstring)."""
        return list(self._guard.unresolved)


def _repair_whole(y: FloatArray, d: LimiterDesign, points: list[int]) -> FloatArray:
    """Repair true-peak violations around ``points`` over a whole signal (zero outside it).

    With no committed boundary, the permanent repair always applies, so this terminates with
    every point at or below the ceiling. Returns a new array.
    """
    out = np.array(y, copy=True)
    t = d.support_samples
    taps = np.concatenate((np.zeros((1, t)), d.taps), axis=0)
    taps[0, d.support_before] = 1.0
    abs_taps = np.abs(taps)
    n = out.shape[1]
    todo = sorted(set(points))
    while todo:
        lo = max(min(todo) - 2 * t, -d.support_after)
        hi = min(max(todo) + 2 * t, n + d.support_before)
        pts = np.arange(lo, hi)
        ext = np.zeros((out.shape[0], hi - lo + t - 1))
        s0 = lo - d.support_before
        a, b = max(s0, 0), min(s0 + ext.shape[1], n)
        ext[:, a - s0 : b - s0] = out[:, a:b]
        idx = np.arange(pts.size)[:, None] + np.arange(t)[None, :]
        win = ext[:, idx]  # (C, npts, T)
        level = np.abs(win @ taps.T).max(axis=(0, 2))
        bad = np.flatnonzero(level > d.guard_lin)
        todo = []
        if bad.size == 0:
            break
        wsum = (np.abs(win) @ abs_taps.T).max(axis=(0, 2))
        scale = np.ones(n)
        for i in bad.tolist():
            s = d.guard_lin / float(wsum[i]) * (1.0 - 1e-9)
            p0 = int(pts[i]) - d.support_before
            sl = scale[max(p0, 0) : max(min(p0 + t, n), 0)]
            np.minimum(sl, s, out=sl)
        out *= scale
        todo = pts[bad].tolist()
    return out


def apply_limiter(
    x: npt.ArrayLike,
    sample_rate_hz: int,
    params: LimiterParams,
    *,
    ceiling_margin_db: float = 0.0,
) -> FloatArray:
    """Limit ``x`` so that its true peak stays at or below ``params.ceiling_dbtp``.

    One-shot form of :class:`LimiterProcessor`, latency compensated
    (:func:`mixmaster.processor.run_whole`). For every finite input the result measures
    ``truepeak.true_peak_dbtp(result) <= params.ceiling_dbtp - ceiling_margin_db``, including
    its first and last
    samples (the signal is zero outside it): the guard verifies every interpolated point, and
    any point it had to leave (see the module docstring) is repaired here over the whole signal.

    Parameters
    ----------
    x
        Audio ``(channels, samples)``, floating point, finite. Not modified.
    sample_rate_hz
        8 kHz to 384 kHz.
    params
        :class:`~mixmaster.params.LimiterParams`.
    ceiling_margin_db
        Keep the true peak this far below ``params.ceiling_dbtp`` (0 to 6 dB), e.g. the output
        stage's headroom (:func:`mixmaster.dither.output_headroom_db`).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``x``.

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite``, ``unsupported_sample_rate``.
    ParamError
        As :func:`design_limiter`.
    """
    arr = as_audio(x)
    proc = LimiterProcessor(
        sample_rate_hz, arr.shape[0], params, ceiling_margin_db=ceiling_margin_db
    )
    y = run_whole(proc, arr)
    left = proc.unresolved_points()
    if left:
        y = _repair_whole(y, proc.design, [p for p, _ in left])
    return y

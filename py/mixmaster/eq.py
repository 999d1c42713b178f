"""Tonal EQ: a constant-slope tilt around 1 kHz, two shelves and four peaking bands.

Shelves and peaks are the biquads of R. Bristow-Johnson's "Cookbook formulae for audio EQ biquad
filter coefficients" (the Audio EQ Cookbook, also W3C Audio EQ Cookbook note):

- a peaking band gives exactly ``gain_db`` at its centre frequency;
- a shelf (slope S = 1) gives ``gain_db`` on its plateau (DC for the low shelf, Nyquist for the
  high shelf) and ``gain_db / 2`` at its corner frequency.

The tilt approximates a constant slope (dB per octave, 0 dB at the 1 kHz pivot) from 20 Hz to
20 kHz (or 0.45 fs if lower) with a cascade of first-order shelves, one every two octaves of the
prewarped frequency axis (``tan(pi f / fs)``), whose steps are fitted to the target by
regularised Gauss-Newton least squares (:func:`tilt_sos`): within ±0.06 dB of the line at
3 dB/oct, in four biquads at 44.1/48 kHz. Outside that range the slope levels off into
shelves, so the tilt never boosts subsonics or ultrasonics without bound.

``amount`` scales every gain in dB (0 = flat), as :class:`~mixmaster.params.EqParams` states.
Sections whose gain is 0 are left out; with every gain 0 the stage passes the input unchanged.
Centre and corner frequencies above 0.45 fs are designed at 0.45 fs.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mixmaster.audio import check_channels, check_chunk, check_sample_rate
from mixmaster.crossover import SosFilter, clamp_frequency_hz
from mixmaster.params import EqParams
from mixmaster.processor import apply_whole
from mixmaster.units import FloatArray

#: The tilt's pivot: its gain is 0 dB here.
TILT_PIVOT_HZ: Final = 1000.0
#: Range over which the tilt holds its slope (the upper end is lowered to 0.45 fs if needed).
TILT_LOW_HZ: Final = 20.0
TILT_HIGH_HZ: Final = 20000.0
#: Spacing of the tilt's first-order sections on the prewarped axis (octaves).
_TILT_SPACING_OCT: Final = 2.0
#: Lowest section centre (Hz): below the fitted range, so the slope holds down to 20 Hz.
_TILT_LOWEST_CENTRE_HZ: Final = 5.0
_TILT_FIT_POINTS: Final = 240
_TILT_ITERATIONS: Final = 6
_TILT_REGULARISATION: Final = 1e-4


def peaking_sos(centre_hz: float, gain_db: float, q: float, sample_rate_hz: float) -> FloatArray:
    """One RBJ peaking-EQ section: ``gain_db`` at ``centre_hz``, bandwidth set by ``q``."""
    f_hz = clamp_frequency_hz(centre_hz, sample_rate_hz)
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * f_hz / sample_rate_hz
    alpha = math.sin(w0) / (2.0 * q)
    cos_w0 = math.cos(w0)
    b = [1.0 + alpha * a, -2.0 * cos_w0, 1.0 - alpha * a]
    den = [1.0 + alpha / a, -2.0 * cos_w0, 1.0 - alpha / a]
    return _normalised(b, den)


def low_shelf_sos(corner_hz: float, gain_db: float, sample_rate_hz: float) -> FloatArray:
    """One RBJ low-shelf section (S = 1): ``gain_db`` at DC, ``gain_db / 2`` at ``corner_hz``."""
    a, cos_w0, two_sqrt_a_alpha = _shelf_terms(corner_hz, gain_db, sample_rate_hz)
    b = [
        a * ((a + 1.0) - (a - 1.0) * cos_w0 + two_sqrt_a_alpha),
        2.0 * a * ((a - 1.0) - (a + 1.0) * cos_w0),
        a * ((a + 1.0) - (a - 1.0) * cos_w0 - two_sqrt_a_alpha),
    ]
    den = [
        (a + 1.0) + (a - 1.0) * cos_w0 + two_sqrt_a_alpha,
        -2.0 * ((a - 1.0) + (a + 1.0) * cos_w0),
        (a + 1.0) + (a - 1.0) * cos_w0 - two_sqrt_a_alpha,
    ]
    return _normalised(b, den)


def high_shelf_sos(corner_hz: float, gain_db: float, sample_rate_hz: float) -> FloatArray:
    """One RBJ high-shelf section (S = 1): ``gain_db`` at Nyquist, ``gain_db / 2`` at the corner."""
    a, cos_w0, two_sqrt_a_alpha = _shelf_terms(corner_hz, gain_db, sample_rate_hz)
    b = [
        a * ((a + 1.0) + (a - 1.0) * cos_w0 + two_sqrt_a_alpha),
        -2.0 * a * ((a - 1.0) + (a + 1.0) * cos_w0),
        a * ((a + 1.0) + (a - 1.0) * cos_w0 - two_sqrt_a_alpha),
    ]
    den = [
        (a + 1.0) - (a - 1.0) * cos_w0 + two_sqrt_a_alpha,
        2.0 * ((a - 1.0) - (a + 1.0) * cos_w0),
        (a + 1.0) - (a - 1.0) * cos_w0 - two_sqrt_a_alpha,
    ]
    return _normalised(b, den)


def _shelf_terms(
    corner_hz: float, gain_db: float, sample_rate_hz: float
) -> tuple[float, float, float]:
    """RBJ shelf intermediates ``(A, cos w0, 2·sqrt(A)·alpha)`` for shelf slope S = 1."""
    f_hz = clamp_frequency_hz(corner_hz, sample_rate_hz)
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * f_hz / sample_rate_hz
    alpha = math.sin(w0) / 2.0 * math.sqrt(2.0)  # (A + 1/A)(1/S - 1) + 2 = 2 for S = 1
    return a, math.cos(w0), 2.0 * math.sqrt(a) * alpha


def _normalised(b: list[float], den: list[float]) -> FloatArray:
    return np.array(
        [[b[0] / den[0], b[1] / den[0], b[2] / den[0], 1.0, den[1] / den[0], den[2] / den[0]]]
    )


def _shelf1_db(centre_t: FloatArray, step_db: FloatArray, t: FloatArray) -> FloatArray:
    """dB response of analog first-order shelves at prewarped frequencies ``t``.

    Each shelf ``(s + tz) / (s + tp)`` has ``tz = centre_t / sqrt(R)``, ``tp = centre_t · sqrt(R)``
    and ``R = 10 ** (step_db / 20)``: it goes from ``-step_db`` at DC to 0 dB at infinity.
    Shapes: ``centre_t``/``step_db`` ``(k,)``, ``t`` ``(m,)``; returns ``(m, k)``.
    """
    root_r = 10.0 ** (step_db / 40.0)
    tz2 = (centre_t / root_r) ** 2
    tp2 = (centre_t * root_r) ** 2
    t2 = t[:, None] ** 2
    return np.asarray(10.0 * np.log10((t2 + tz2) / (t2 + tp2)))


def _shelf1_slope(centre_t: FloatArray, step_db: FloatArray, t: FloatArray) -> FloatArray:
    """Derivative of :func:`_shelf1_db` with respect to ``step_db``, ``(m, k)``."""
    root_r = 10.0 ** (step_db / 40.0)
    tz2 = (centre_t / root_r) ** 2
    tp2 = (centre_t * root_r) ** 2
    t2 = t[:, None] ** 2
    return np.asarray(-0.5 * (tz2 / (t2 + tz2) + tp2 / (t2 + tp2)))


@functools.lru_cache(maxsize=64)
def _tilt_design(slope_db_per_oct: float, sample_rate_hz: float) -> FloatArray:
    fs = float(sample_rate_hz)

    def warp(f_hz: FloatArray | float) -> Any:
        return np.tan(np.pi * np.asarray(f_hz) / fs)

    top_hz = min(TILT_HIGH_HZ, 0.45 * fs)
    pivot_t = float(warp(TILT_PIVOT_HZ))
    # Section centres: every _TILT_SPACING_OCT octaves of the prewarped axis, 5 Hz ... 0.45 fs.
    lo = math.floor(math.log2(float(warp(_TILT_LOWEST_CENTRE_HZ)) / pivot_t) / _TILT_SPACING_OCT)
    last_t = float(warp(min(0.45 * fs, top_hz * 2.0**_TILT_SPACING_OCT)))
    hi = math.floor(math.log2(last_t / pivot_t) / _TILT_SPACING_OCT)
    centre_t = pivot_t * 2.0 ** (_TILT_SPACING_OCT * np.arange(lo, hi + 1))
    # Start: each section takes the target's rise over its span of real frequency.
    edges_hz = (
        fs
        / np.pi
        * np.arctan(centre_t[:, None] * 2.0 ** (np.array([-0.5, 0.5]) * _TILT_SPACING_OCT))
    )
    start = slope_db_per_oct * np.log2(edges_hz[:, 1] / edges_hz[:, 0])
    # Fit the cascade's dB response (0 dB at the pivot) to the line on a log grid.
    f_fit = np.geomspace(TILT_LOW_HZ, top_hz, _TILT_FIT_POINTS)
    t_fit = warp(f_fit)
    target = slope_db_per_oct * np.log2(f_fit / TILT_PIVOT_HZ)
    pivot = np.array([pivot_t])
    steps = start.copy()
    lam = _TILT_REGULARISATION * f_fit.size
    for _ in range(_TILT_ITERATIONS):
        model = (_shelf1_db(centre_t, steps, t_fit) - _shelf1_db(centre_t, steps, pivot)).sum(1)
        jac = _shelf1_slope(centre_t, steps, t_fit) - _shelf1_slope(centre_t, steps, pivot)
        lhs = jac.T @ jac + lam * np.eye(steps.size)
        rhs = jac.T @ (target - model) - lam * (steps - start)
        steps = steps + np.linalg.solve(lhs, rhs)
    root_r = 10.0 ** (steps / 40.0)
    tz = centre_t / root_r
    tp = centre_t * root_r
    # Bilinear transform of (s + tz) / (s + tp) on the prewarped axis (s = (1 - z^-1)/(1 + z^-1)).
    b1 = np.stack([1.0 + tz, tz - 1.0], axis=1) / (1.0 + tp)[:, None]
    a1 = np.stack([np.ones_like(tp), (tp - 1.0) / (1.0 + tp)], axis=1)
    if b1.shape[0] % 2:
        b1 = np.vstack([b1, [1.0, 0.0]])
        a1 = np.vstack([a1, [1.0, 0.0]])
    sos = np.empty((b1.shape[0] // 2, 6))
    for k in range(sos.shape[0]):
        sos[k, :3] = np.convolve(b1[2 * k], b1[2 * k + 1])
        sos[k, 3:] = np.convolve(a1[2 * k], a1[2 * k + 1])
    # Exactly 0 dB at the pivot.
    z = np.exp(-2j * np.pi * TILT_PIVOT_HZ / fs)
    h = np.prod(
        (sos[:, 0] + sos[:, 1] * z + sos[:, 2] * z * z)
        / (sos[:, 3] + sos[:, 4] * z + sos[:, 5] * z * z)
    )
    sos[0, :3] /= abs(h)
    sos.setflags(write=False)
    return sos


def tilt_sos(slope_db_per_oct: float, sample_rate_hz: float) -> FloatArray:
    """Sections of a tilt of ``slope_db_per_oct`` around 1 kHz (0 dB there), 20 Hz-20 kHz.

    Empty for a slope of 0. The slope holds within about ±0.1 dB of the line from 20 Hz to
    min(20 kHz, 0.45 fs) and levels off outside.
    """
    if slope_db_per_oct == 0.0:
        return np.zeros((0, 6))
    return np.array(_tilt_design(float(slope_db_per_oct), float(sample_rate_hz)))


def eq_sos(params: EqParams, sample_rate_hz: float) -> FloatArray:
    """All active sections of the EQ, with every gain scaled by ``params.amount`` (in dB)."""
    fs = float(check_sample_rate(sample_rate_hz))
    k = float(params.amount)
    parts: list[FloatArray] = []
    if k * params.tilt_db_per_oct != 0.0:
        parts.append(tilt_sos(k * params.tilt_db_per_oct, fs))
    if k * params.low_shelf_gain_db != 0.0:
        parts.append(low_shelf_sos(params.low_shelf_hz, k * params.low_shelf_gain_db, fs))
    if k * params.high_shelf_gain_db != 0.0:
        parts.append(high_shelf_sos(params.high_shelf_hz, k * params.high_shelf_gain_db, fs))
    for n in range(1, 5):
        gain_db = k * float(getattr(params, f"peak{n}_gain_db"))
        if gain_db != 0.0:
            centre_hz = float(getattr(params, f"peak{n}_hz"))
            q = float(getattr(params, f"peak{n}_q"))
            parts.append(peaking_sos(centre_hz, gain_db, q, fs))
    if not parts:
        return np.zeros((0, 6))
    return np.vstack(parts)


class EqProcessor:
    """Chunked tonal EQ (see :class:`~mixmaster.params.EqParams`); all gains 0 pass unchanged.

    Parameters
    ----------
    sample_rate_hz
        Sample rate, 8 kHz to 384 kHz.
    channels
        Channels per chunk, 1 to 8.
    params
        The stage's parameters.
    pre_sos
        Optional sections of a linear stage that runs just before the EQ, cascaded into the same
        ``sosfilt`` pass (each pass over the audio costs about as much for 1 as for 4 sections).
        For example ``highpass_sos(cutoff_hz, fs)`` when the high-pass's ``amount`` is 1; the
        result equals running the two stages one after the other.

    Raises
    ------
    InputError
        For an unsupported sample rate or channel count, or a chunk of the wrong shape.
    """

    latency_samples: int = 0

    def __init__(
        self,
        sample_rate_hz: float,
        channels: int,
        params: EqParams,
        pre_sos: FloatArray | None = None,
    ) -> None:
        self.sample_rate_hz = check_sample_rate(sample_rate_hz)
        self.channels = check_channels(channels)
        self.params = params
        self.sos = eq_sos(params, self.sample_rate_hz)
        pre = np.zeros((0, 6)) if pre_sos is None else np.asarray(pre_sos, dtype=np.float64)
        self._filter = SosFilter(np.vstack([pre.reshape(-1, 6), self.sos]), self.channels)

    def process(self, x: FloatArray) -> FloatArray:
        """Equalise the next chunk; returns a new array of the same shape."""
        return self._filter.process(check_chunk(x, self.channels))

    def stats(self) -> dict[str, Any]:
        """``sections`` (active biquads) and the gains applied after ``amount`` (dB, dB/oct)."""
        k = float(self.params.amount)
        p = self.params
        return {
            "sections": int(self.sos.shape[0]),
            "tilt_db_per_oct": k * p.tilt_db_per_oct,
            "low_shelf_gain_db": k * p.low_shelf_gain_db,
            "high_shelf_gain_db": k * p.high_shelf_gain_db,
            "peak_gains_db": [k * float(getattr(p, f"peak{n}_gain_db")) for n in range(1, 5)],
        }


def apply_eq(x: npt.ArrayLike, sample_rate_hz: float, params: EqParams) -> FloatArray:
    """Equalise ``x`` ``(channels, samples)``; returns a new array, the input is not modified.

    Raises
    ------
    InputError
        For audio that is not ``(channels, samples)`` with 1-8 channels, empty, or not finite,
        or an unsupported sample rate.
    """
    return apply_whole(EqProcessor, x, sample_rate_hz, params)

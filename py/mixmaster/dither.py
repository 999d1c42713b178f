"""The output stage: TPDF dither, optional noise shaping, quantisation to the output format.

- **16 and 24 bit**: the signal is scaled to LSB units (``x * 2**(bits-1)``), TPDF dither of
  ±1 LSB is added (the difference of two independent uniform variables: triangular on (-1, 1)
  LSB, variance 1/6 LSB², mean 0), and the result is rounded to the nearest integer
  and clipped to ``[-2**(bits-1), 2**(bits-1) - 1]``. The returned float64 values lie exactly on
  the PCM grid ``k / 2**(bits-1)``, so :mod:`mixmaster.wavio` (which writes
  ``round(x * 2**(bits-1))``) stores them exactly. Without dither this is plain rounding.
- **Noise shaping** (16 bit only): error feedback, ``v[n] = s[n] - sum(h[i] * e[n-1-i])``,
  ``q[n] = round(v[n] + d[n])``, ``e[n] = q[n] - v[n]``, so that the output error is
  ``e`` filtered by ``NTF(z) = 1 - z**-1 * H(z)``. ``H`` is the 3-tap F-weighted filter of
  R. A. Wannamaker, "Psychoacoustically Optimal Noise Shaping", J. Audio Eng. Soc. 40(7/8),
  1992, designed for 44.1 kHz: ``h = [1.623, -0.982, 0.109]``. Its NTF is an FIR (always stable)
  with -12 dB at DC, a broad dip around 3-4 kHz where the ear is most sensitive, and +11.4 dB at
  Nyquist: the noise moves above ~10 kHz. At other rates the curve scales with the rate.
- **32-bit float**: the values are rounded to float32 (no dither).

The error-feedback recursion (rounding is not linear) cannot be vectorised over time. It runs
in parallel over fixed segments of :data:`SHAPING_SEGMENT_SAMPLES` samples, aligned to absolute
sample positions, whose error state starts at zero; a segment split by a chunk boundary carries
its state across. So chunked output is bit-identical to one call. The reset costs little: 0.3 dB
more noise at 1-5 kHz than a fully sequential shaper, where the shaped noise is ~15 dB below
flat TPDF (measured with a 4 s DC input at 44.1 kHz).

Randomness comes only from the ``numpy.random.Generator`` passed in: two 16-bit uniforms per
sample and channel, in sample order, taken four at a time from its bit generator's raw 64-bit
output (little-endian), so the noise does not depend on the chunking either. The TPDF value is
``(u0 - u1) / 2**16``, on a grid of 2**-16 LSB. :func:`dither_rng` makes the generator the
pipeline uses (SFC64: no 128-bit multiply, which WebAssembly lacks, so it is many times faster
there than numpy's default PCG64).

**Headroom.** The output error is at most ``E`` = 1.5 LSB with TPDF dither (0.5 LSB without),
times ``1 + sum|h|`` = 3.71 with noise shaping; float32 rounding is at most 2**-24 of the value.
By linearity the true peak of the output exceeds that of the input by at most ``L1 * E``, with
``L1`` the largest absolute tap sum of the BS.1770 interpolation filter (2.58 for
:func:`mixmaster.truepeak.polyphase_taps`). :func:`output_headroom_db` turns this into the
amount the limiter's ceiling must be lowered; :func:`enforce_ceiling` verifies the quantised
result and, should it be above the ceiling, says by how much to trim before re-quantising.

References: ITU-R BS.1770-4 Annex 2 (true peak); Lipshitz, Wannamaker, Vanderkooy, "Quantization
and Dither: A Theoretical Survey", J. Audio Eng. Soc. 40(5), 1992 (TPDF dither).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mixmaster import truepeak
from mixmaster.audio import as_audio, check_chunk, check_sample_rate
from mixmaster.errors import InputError, ParamError
from mixmaster.params import BIT_DEPTHS, DITHERS, MIN_CEILING_DBTP, OutputParams
from mixmaster.units import FloatArray, db_to_lin, lin_to_db

__all__ = [
    "NOISE_SHAPING_TAPS",
    "SHAPING_SEGMENT_SAMPLES",
    "CeilingCheck",
    "OutputProcessor",
    "apply_output",
    "dither_rng",
    "enforce_ceiling",
    "limiter_ceiling_check",
    "max_error_lsb",
    "output_headroom_db",
    "quantize",
]

NOISE_SHAPING_TAPS: Final = (1.623, -0.982, 0.109)
"""Error-feedback taps ``h`` (Wannamaker 1992, 3-tap F-weighted, 44.1 kHz); the noise transfer
function is ``1 - 1.623 z^-1 + 0.982 z^-2 - 0.109 z^-3``."""

SHAPING_SEGMENT_SAMPLES: Final = 256
"""Samples per independently shaped segment (the error state restarts at each one)."""

_FLOAT32_REL_ERR: Final = 2.0**-24


def dither_rng(seed: int) -> np.random.Generator:
    """The dither's random source for ``seed`` (``output.dither_seed``): SFC64, seeded through
    numpy's ``SeedSequence``, so the same seed gives the same noise on every platform."""
    return np.random.Generator(np.random.SFC64(seed))


def _check_format(bits: str, dither: str, noise_shaping: bool) -> None:
    if bits not in BIT_DEPTHS:
        raise ParamError(
            "bad_choice",
            f"output.bits is {bits!r}; accepted: {', '.join(BIT_DEPTHS)}.",
            field="output.bits",
        )
    if dither not in DITHERS:
        raise ParamError(
            "bad_choice",
            f"output.dither is {dither!r}; accepted: {', '.join(DITHERS)}.",
            field="output.dither",
        )
    if not isinstance(noise_shaping, bool):
        raise ParamError(
            "bad_type",
            f"output.noise_shaping must be true or false; got {noise_shaping!r}.",
            field="output.noise_shaping",
        )
    if noise_shaping and bits != "16":
        raise ParamError(
            "noise_shaping_16_bit_only",
            f"output.noise_shaping applies to 16-bit output only; got bits {bits!r}. "
            "Accepted: noise shaping off, or bits '16'.",
            field="output.noise_shaping",
        )


def max_error_lsb(dither: str, noise_shaping: bool) -> float:
    """Largest ``|output - input|`` the quantiser can produce, in LSB (16/24 bit, no clipping).

    Rounding adds at most 0.5 LSB, TPDF dither less than 1 LSB; noise shaping multiplies the
    error by at most ``1 + sum|h|``.
    """
    e = 1.5 if dither == "tpdf" else 0.5
    if noise_shaping:
        e *= 1.0 + sum(abs(h) for h in NOISE_SHAPING_TAPS)
    return e


def _interpolation_l1() -> float:
    """Largest absolute tap sum of the BS.1770 interpolation filter over factors and phases."""
    return max(float(np.abs(truepeak.polyphase_taps(f)).sum(axis=1).max()) for f in (1, 2, 4))


def output_headroom_db(
    bits: str,
    noise_shaping: bool,
    *,
    dither: str = "tpdf",
    ceiling_dbtp: float = MIN_CEILING_DBTP,
) -> float:
    """Worst-case true-peak increase of the output stage, as dB to lower the ceiling by.

    If the limiter's output has a true peak at most ``ceiling - headroom`` (in dB), the
    quantised output has a true peak at most ``ceiling``: its error is at most ``E``
    (:func:`max_error_lsb` LSB, or 2**-24 of the value for float32), so by linearity its true
    peak rises by at most ``L1 * E`` (``L1`` = 2.58, the BS.1770 filter's largest absolute tap
    sum), and the headroom is ``-20 log10(1 - L1 * E / ceiling)``.

    Parameters
    ----------
    bits
        ``"16"``, ``"24"`` or ``"32f"``.
    noise_shaping
        16 bit only.
    dither
        ``"tpdf"`` (the default, the larger) or ``"none"``.
    ceiling_dbtp
        The ceiling it is relative to; the default, the lowest allowed ceiling (-12 dBTP),
        gives a value that is safe for every ceiling.

    Returns
    -------
    float
        dB, positive: about 0.004 dB for 16-bit TPDF, 0.015 dB with noise shaping, 1.7e-5 dB for
        24 bit and 1.3e-6 dB for 32-bit float (at -12 dBTP).

    Raises
    ------
    ParamError
        ``bad_choice``/``bad_type`` for an unknown format, ``noise_shaping_16_bit_only``.
    """
    _check_format(bits, dither, noise_shaping)
    l1 = _interpolation_l1()
    if bits == "32f":
        rel = l1 * _FLOAT32_REL_ERR
    else:
        lsb = 2.0 ** -(int(bits) - 1)
        rel = l1 * max_error_lsb(dither, noise_shaping) * lsb / db_to_lin(ceiling_dbtp)
    return -20.0 * math.log10(1.0 - rel)


class OutputProcessor:
    """The output stage over ``(channels, samples)`` chunks (the Processor protocol).

    Feeding a signal in chunks of any sizes gives bit-identical output to one call, provided the
    generator is in the same state at the start.

    Parameters
    ----------
    sample_rate_hz
        8 kHz to 384 kHz (the stage does not depend on it; checked for consistency).
    channels
        1 to 8.
    params
        :class:`~mixmaster.params.OutputParams`.
    rng
        The dither's random source; ``None`` seeds one from ``params.dither_seed``.

    Attributes
    ----------
    latency_samples
        0.

    Raises
    ------
    InputError
        ``unsupported_sample_rate``; ``bad_layout`` for a channel count outside 1-8.
    ParamError
        ``bad_type`` if ``params`` is not an OutputParams or ``rng`` not a Generator;
        ``noise_shaping_16_bit_only``.
    """

    latency_samples = 0

    def __init__(
        self,
        sample_rate_hz: int,
        channels: int,
        params: OutputParams,
        *,
        rng: np.random.Generator | None = None,
    ) -> None:
        check_sample_rate(sample_rate_hz)
        if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 8:
            raise InputError(
                "bad_layout", f"channels must be a whole number from 1 to 8; got {channels!r}."
            )
        if not isinstance(params, OutputParams):
            raise ParamError(
                "bad_type",
                f"output params must be an OutputParams; got {type(params).__name__}.",
                field="output",
            )
        if rng is None:
            rng = dither_rng(params.dither_seed)
        if not isinstance(rng, np.random.Generator):
            raise ParamError(
                "bad_type",
                f"rng must be a numpy.random.Generator; got {type(rng).__name__}.",
                field="rng",
            )
        _check_format(params.bits, params.dither, params.noise_shaping)
        self.channels = channels
        self.bits = params.bits
        self.dither = params.dither
        self.noise_shaping = params.noise_shaping
        self._rng = rng
        self._spare = np.zeros(0, dtype="<u2")  # drawn 16-bit uniforms not yet used
        self._pos = 0  # absolute index of the next sample
        self._acc = np.zeros((3, channels))  # pending feedback of the open shaping segment
        self._dhist = np.zeros((3, channels))  # dither of the last three samples
        self._clipped = 0
        self._peak = 0.0
        self._samples = 0
        self._buffers: dict[str, FloatArray] = {}

    def process(self, x: FloatArray) -> FloatArray:
        """Quantise the next chunk; returns a new float64 array of the same shape.

        Raises
        ------
        InputError
            ``bad_layout`` for a wrong channel count, ``non_finite`` for NaN or Inf.
        """
        arr = check_chunk(x, self.channels)
        n = arr.shape[1]
        if n == 0:
            return np.zeros((self.channels, 0))
        arr = as_audio(arr)
        self._samples += n
        if self.bits == "32f":
            self._pos += n
            out32: FloatArray = arr.astype(np.float32).astype(np.float64)
            self._peak = max(self._peak, float(out32.max()), -float(out32.min()))
            return out32
        scale = 2.0 ** (int(self.bits) - 1)
        w = self._work(n)
        q = w["q"]
        np.multiply(arr, scale, out=q)  # LSB units (exact: a power of two)
        if self.dither == "tpdf":
            # s + (u0 - u1) / 2**16 is exact in float64 (|s| < 2**24 LSB).
            u = self._uniforms16(n)
            d = w["d"][:, 3:]
            np.subtract(u[:, :, 0].T, u[:, :, 1].T, out=d, dtype=np.float64)
            np.multiply(d, 2.0**-16, out=d)
            if not self.noise_shaping:
                np.add(q, d, out=q)
        elif self.noise_shaping:
            w["d"][:, 3:] = 0.0
        if self.noise_shaping:
            self._shaped(w)
        else:
            np.rint(q, out=q)
        self._pos += n
        lo, hi = -scale, scale - 1.0
        q_min, q_max = float(q.min()), float(q.max())
        if q_min < lo or q_max > hi:
            self._clipped += int(np.count_nonzero((q < lo) | (q > hi)))
            np.clip(q, lo, hi, out=q)
        self._peak = max(self._peak, min(q_max, hi) / scale, -max(q_min, lo) / scale)
        out: FloatArray = q * (1.0 / scale)
        return out

    def _uniforms16(self, n: int) -> npt.NDArray[np.uint16]:
        """The next ``(n, channels, 2)`` 16-bit uniforms, in sample order, from the raw 64-bit
        draws of the generator (four per draw; the rest kept for the next chunk)."""
        need = 2 * self.channels * n
        have = self._spare.shape[0]
        draws = -(-(need - have) // 4) if need > have else 0
        raw = self._rng.bit_generator.random_raw(draws)
        fresh = np.asarray(raw, dtype="<u8").view("<u2")
        pool = np.concatenate((self._spare, fresh)) if have else fresh
        self._spare = pool[need:].copy()
        return pool[:need].reshape(n, self.channels, 2)

    def _work(self, n: int) -> dict[str, FloatArray]:
        """Work buffers for chunks of ``n`` samples, kept between calls (fresh temporaries of
        this size cost page faults on every chunk with glibc)."""
        if self._buffers.get("n") is None or self._buffers["n"].shape[0] != n:
            c = self.channels
            seg = SHAPING_SEGMENT_SAMPLES
            rows = (seg - 1 + n + seg - 1) // seg
            self._buffers = {
                "n": np.empty(n),
                "q": np.empty((c, n)),
                "d": np.zeros((c, n + 3)),
                "a": np.empty((c, n)),
                "tmp": np.empty((c, n)),
                "ap": np.zeros((c, rows * seg)),
                "a3": np.empty((seg, rows, c)),
                "q3": np.empty((seg, rows, c)),
            }
        return self._buffers

    def _shaped(self, w: dict[str, FloatArray]) -> None:
        """Error-feedback quantisation of ``w["q"]`` (LSB units, in place) with the dither in
        ``w["d"][:, 3:]``, segment-parallel (see the module docstring).

        With ``e = r + d`` (``r`` the rounding residual), the quantiser's input is
        ``a[n] - sum(h[i] * r[n-1-i])`` where ``a = s + d - sum(h[i] * d[n-1-i])`` is a plain FIR
        of the dither (continuous across segments and chunks); only the residual feedback runs
        sample by sample, vectorised over segments and channels, as three rotating
        accumulators of pending feedback.
        """
        seg = SHAPING_SEGMENT_SAMPLES
        h1, h2, h3 = NOISE_SHAPING_TAPS
        q, dd, a, tmp = w["q"], w["d"], w["a"], w["tmp"]
        c, n = q.shape
        dd[:, :3] = self._dhist[::-1].T  # d[n-3], d[n-2], d[n-1] before this chunk
        np.add(q, dd[:, 3:], out=a)
        for k, h in ((2, h1), (1, h2), (0, h3)):
            np.multiply(dd[:, k : k + n], h, out=tmp)
            np.subtract(a, tmp, out=a)
        self._dhist = dd[:, -1:-4:-1].T.copy()
        first = self._pos % seg  # offset of the chunk's first sample in its segment
        rows = (first + n + seg - 1) // seg
        total = rows * seg
        ap = w["ap"][:, :total]
        ap[:, :first] = 0.0
        ap[:, first : first + n] = a
        ap[:, first + n :] = 0.0
        a3 = w["a3"][:, :rows]
        q3 = w["q3"][:, :rows]
        np.copyto(a3, ap.reshape(c, rows, seg).transpose(2, 1, 0))
        acc0, acc1, acc2 = (np.zeros((rows, c)) for _ in range(3))
        t = np.empty((rows, c))
        r = np.empty((rows, c))
        tr = np.empty((rows, c))
        last_end = first + n - (rows - 1) * seg  # the last row's valid positions: < last_end
        end_state = np.zeros((3, c))
        for j in range(seg):
            if j == first:  # row 0 starts here, where the open segment left off
                acc0[0], acc1[0], acc2[0] = self._acc
            np.subtract(a3[j], acc0, out=t)
            np.rint(t, out=q3[j])
            np.subtract(q3[j], t, out=r)
            np.multiply(r, h1, out=tr)
            np.add(acc1, tr, out=acc0)
            np.multiply(r, h2, out=tr)
            np.add(acc2, tr, out=acc1)
            np.multiply(r, h3, out=acc2)
            if j == last_end - 1:
                end_state = np.stack((acc0[-1], acc1[-1], acc2[-1]))
        self._acc = end_state if last_end < seg else np.zeros((3, c))
        np.copyto(ap.reshape(c, rows, seg), q3.transpose(2, 1, 0))
        q[...] = ap[:, first : first + n]

    def stats(self) -> dict[str, Any]:
        """``bits``, ``dither``, ``noise_shaping``, ``samples``, ``clipped_samples`` (samples
        that fell outside the PCM range and were clipped; 0 when the headroom was respected)
        and ``sample_peak_lin`` (the largest ``|output|`` so far, linear)."""
        return {
            "bits": self.bits,
            "dither": self.dither,
            "noise_shaping": self.noise_shaping,
            "samples": self._samples,
            "clipped_samples": self._clipped,
            "sample_peak_lin": self._peak,
        }


def quantize(
    x: npt.ArrayLike,
    bits: str,
    *,
    dither: str,
    noise_shaping: bool,
    rng: np.random.Generator,
) -> FloatArray:
    """Quantise ``x`` to ``bits`` with optional TPDF dither and noise shaping (one shot).

    Parameters
    ----------
    x
        Audio ``(channels, samples)``, floating point. Not modified.
    bits
        ``"16"`` or ``"24"``: float64 values exactly on the grid ``k / 2**(bits-1)``, clipped to
        the PCM range; ``"32f"``: float64 values that are exactly float32 (no dither).
    dither
        ``"tpdf"`` or ``"none"`` (plain rounding).
    noise_shaping
        Error-feedback noise shaping (16 bit only).
    rng
        The dither's random source (with TPDF dither, one raw 64-bit draw of its bit
        generator per two samples and channels, rounded up; not used otherwise).

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite``.
    ParamError
        ``bad_choice``, ``bad_type``, ``noise_shaping_16_bit_only``.
    """
    arr = as_audio(x)
    _check_format(bits, dither, noise_shaping)
    params = OutputParams(bits=bits, dither=dither, noise_shaping=noise_shaping)
    return OutputProcessor(48_000, arr.shape[0], params, rng=rng).process(arr)


def apply_output(x: npt.ArrayLike, params: OutputParams) -> FloatArray:
    """The output stage in one call, its dither seeded from ``params.dither_seed``.

    Raises as :func:`quantize`.
    """
    arr = as_audio(x)
    rng = dither_rng(params.dither_seed)
    return OutputProcessor(48_000, arr.shape[0], params, rng=rng).process(arr)


@dataclass(frozen=True)
class CeilingCheck:
    """The final verification of a quantised master against its true-peak ceiling.

    Attributes
    ----------
    true_peak_dbtp
        Measured true peak (BS.1770-4 Annex 2), ``-inf`` for silence.
    ceiling_dbtp
        The ceiling.
    excess_db
        ``max(0, true_peak - ceiling)``.
    trim_db
        Gain to remove (dB, >= 0) from the signal *before* quantising again so that the new
        output is certain to be at or below the ceiling: 0 when ``ok``.
    """

    true_peak_dbtp: float
    ceiling_dbtp: float
    excess_db: float
    trim_db: float

    @property
    def ok(self) -> bool:
        """Whether the master is at or below its ceiling."""
        return self.excess_db == 0.0


def enforce_ceiling(
    x_quantized: npt.ArrayLike,
    sample_rate_hz: int,
    ceiling_dbtp: float,
    *,
    bits: str,
    dither: str = "tpdf",
    noise_shaping: bool = False,
) -> CeilingCheck:
    """Verify a quantised master's true peak; if above the ceiling, say how much to trim.

    The pre-quantisation signal ``s`` differs from ``x_quantized`` by at most ``E`` (see
    :func:`output_headroom_db`), so ``TP(s) <= TP(x) + L1*E``; trimming ``s`` by ``g`` and
    quantising again gives at most ``g * (TP(x) + L1*E) + L1*E``, which is at or below the
    ceiling ``c`` for ``g = (c - L1*E) / (TP(x) + L1*E)``: ``trim_db = -20 log10(g)``.

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite``, ``unsupported_sample_rate``.
    ParamError
        ``bad_choice``/``bad_type`` for the format, ``noise_shaping_16_bit_only``.
    """
    arr = as_audio(x_quantized)
    _check_format(bits, dither, noise_shaping)
    tp_lin = float(np.max(truepeak.true_peak_lin(arr, sample_rate_hz)))
    tp_db = lin_to_db(tp_lin)
    c = db_to_lin(ceiling_dbtp)
    if tp_lin <= c:
        return CeilingCheck(tp_db, ceiling_dbtp, 0.0, 0.0)
    if bits == "32f":
        err = _FLOAT32_REL_ERR * tp_lin
    else:
        err = max_error_lsb(dither, noise_shaping) * 2.0 ** -(int(bits) - 1)
    slack = _interpolation_l1() * err
    trim_db = 20.0 * math.log10((tp_lin + slack) / (c - slack))
    return CeilingCheck(tp_db, ceiling_dbtp, tp_db - ceiling_dbtp, trim_db)


LIMITER_PEAK_TOLERANCE_DB: Final = 0.01
"""Widest range of the true peak that :func:`limiter_ceiling_check` accepts as a measurement."""


def limiter_ceiling_check(
    lower_lin: float,
    upper_lin: float,
    ceiling_dbtp: float,
    *,
    bits: str,
    dither: str = "tpdf",
    noise_shaping: bool = False,
) -> CeilingCheck | None:
    """The final verification from the limiter's own, when that settles it; else ``None``.

    The true-peak limiter verifies every interpolated point of its output ``s`` and knows its
    true peak to lie in ``[lower_lin, upper_lin]``
    (:meth:`mixmaster.limiter.LimiterProcessor.output_peak_lin`). The quantised output differs
    from ``s`` by at most ``E`` per sample (see :func:`output_headroom_db`), so its true peak
    lies within ``L1 * E`` of that range. When the widened range is below the ceiling and at
    most :data:`LIMITER_PEAK_TOLERANCE_DB` wide, its top is the result: at or above the exact
    true peak and at most 0.01 dB above it (so within 0.01 dB of what :func:`enforce_ceiling`
    measures, in float32), without the measurement's sweep over the whole output (a
    4x-oversampling filter; in WebAssembly the costliest part of a master). Otherwise
    ``None``: measure with :func:`enforce_ceiling`.

    Only valid when no sample was clipped to the PCM range by the quantiser.

    Raises
    ------
    ParamError
        ``bad_choice``/``bad_type`` for the format, ``noise_shaping_16_bit_only``.
    """
    _check_format(bits, dither, noise_shaping)
    if not (math.isfinite(upper_lin) and 0.0 <= lower_lin <= upper_lin):
        return None
    if bits == "32f":
        err = _FLOAT32_REL_ERR * upper_lin
    else:
        err = max_error_lsb(dither, noise_shaping) * 2.0 ** -(int(bits) - 1)
    slack = _interpolation_l1() * err
    low, high = lower_lin - slack, upper_lin + slack
    if low <= 0.0 or high > db_to_lin(ceiling_dbtp):
        return None
    if 20.0 * math.log10(high / low) > LIMITER_PEAK_TOLERANCE_DB:
        return None
    return CeilingCheck(lin_to_db(high), ceiling_dbtp, 0.0, 0.0)

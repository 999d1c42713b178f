"""Loudness per ITU-R BS.1770-4, with EBU Tech 3341 (EBU mode) and Tech 3342 (loudness range).

Why our own meter rather than ``pyloudnorm``: we need it to run in Pyodide on numpy and scipy
alone, at any sample rate from 8 to 384 kHz, in bounded memory (chunked / streamed input, never
more than one block of K-weighted audio at a time), and we need the momentary and short-term
series and the loudness range, which pyloudnorm does not provide (it also filters and squares
the whole file at once and recomputes every overlapping block, which is slower).

Structure (design once, apply fast):

1. K-weighting (BS.1770-4 Annex 1, §1): a high-shelf "pre-filter" and the RLB high-pass, as
   two second-order sections designed for the actual sample rate (:func:`k_weighting_sos`),
   applied 32 samples at a time by matrix products (:class:`_BlockFilter`: the same recursion,
   exact to float64 rounding), carrying its state from chunk to chunk. This needs numpy only:
   importing ``scipy.signal`` for ``sosfilt`` costs more start-up time (0.3-0.5 s) than
   measuring a whole song, and the block filter is also faster. For float32 input (a decoded
   file) the outputs' product is float32, twice as fast and exact to the input's own precision
   (~1e-7; the states stay float64): the readings move by under 1e-6 LU.
2. The squared K-weighted signal of each channel is summed (in float64) per 100 ms sub-block
   and the channel sums are weighted by G_i (:func:`channel_weights`; BS.1770-4 Annex 1,
   eq. 2 and Table 3/4). Sub-block ``k`` spans samples
   ``[round(k fs / 10), round((k + 1) fs / 10))``, so rates where 100 ms is not a whole number
   of samples (11.025 kHz...) stay exact on average.
3. A 400 ms gating block (BS.1770-4 Annex 1, §4: 75 % overlap) is 4 consecutive sub-blocks,
   the 3 s short-term window (Tech 3341 §2.2) 30. Its mean square per channel is z_i; its
   loudness is l_j = -0.691 + 10 log10(sum_i G_i z_ij) LUFS.
4. Integrated loudness (BS.1770-4 Annex 1, §5, "gating"): the blocks above the absolute gate
   Γ_a = -70 LUFS give the relative gate Γ_r = (their power-mean loudness) - 10 LU; the
   loudness of the blocks above both gates is the programme loudness.
5. Loudness range (EBU Tech 3342 §3): the short-term values at ``>=`` -70 LUFS and ``>=`` their
   power-mean loudness - 20 LU; LRA is the 95th minus the 10th percentile, by nearest rank
   exactly as Tech 3342's reference MATLAB (sorted values, index ``round((n - 1) p / 100)``,
   halves rounded up). Unlike that reference's note for file-based meters, we do not append
   1.5 s of silence.

Only complete windows count: a file shorter than 400 ms has no momentary value and integrated
loudness ``-inf``; shorter than 3 s, no short-term value and an LRA of 0.0. Silence reads
``-inf`` LUFS and an LRA of 0.0, never a warning or NaN. The trailing part of the last, unfinished
100 ms sub-block is not measured.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mixmaster.audio import MAX_CHANNELS, as_audio, check_sample_rate
from mixmaster.errors import InputError
from mixmaster.units import power_to_db, power_to_db_array

__all__ = [
    "LoudnessMeasurement",
    "LoudnessMeter",
    "album_loudness_lufs",
    "channel_weights",
    "integrated_loudness",
    "k_weighting_sos",
    "measure_loudness",
]

HOP_S = 0.1
"""Spacing of the momentary and short-term series, and the gating-block step (75 % overlap)."""
_SUBBLOCKS_PER_S = 10
_MOMENTARY_SUBBLOCKS = 4  # 400 ms (Tech 3341 §2.2, BS.1770-4 gating block)
_SHORT_TERM_SUBBLOCKS = 30  # 3 s (Tech 3341 §2.2)
_LOUDNESS_OFFSET_DB = -0.691  # BS.1770-4 Annex 1, eq. 2: 1 kHz reads its RMS in dBFS
_ABSOLUTE_GATE_LUFS = -70.0  # Γ_a, BS.1770-4 Annex 1 §5; also Tech 3342
_RELATIVE_GATE_LU = -10.0  # Γ_r offset, BS.1770-4 Annex 1 §5
_LRA_RELATIVE_GATE_LU = -20.0  # Tech 3342 §3
_LRA_LOW_PERCENT = 10
_LRA_HIGH_PERCENT = 95
_BLOCK_FRAMES = 1 << 17
"""Frames K-weighted at a time: bounds the work space to about 2 MB per channel (float64)."""
_ROW_FRAMES = 32
"""Frames per row of the block filter: each row's output is one matrix product."""
_SCAN_ROWS = 16
"""Rows per group in each level of the row-state recurrence (:func:`_scan_states`)."""
_SCAN_LEVELS = 3
"""Levels of groups: ``16**3`` rows (131072 frames) and more per block are solved by products."""
_GEMM_MNK_MAX = 196_608
"""Largest ``m * n * k`` of one BLAS product: OpenBLAS goes multi-threaded above 262144, and its
spinning threads stall a shared CPU many times over (see :mod:`mixmaster.truepeak`)."""
_ROWS_PER_PRODUCT = 128
"""Rows of the block filter per BLAS product (``128 x 36 x 32`` stays under the limit above)."""

# The K-weighting filters' analog prototypes, as fitted to BS.1770-4's 48 kHz coefficients
# (the widely used derivation; the standard itself gives only the 48 kHz b/a).
_SHELF_F0_HZ = 1681.974450955533
_SHELF_GAIN_DB = 3.999843853973347
_SHELF_Q = 0.7071752369554196
_SHELF_VB_EXPONENT = 0.4996667741545416
_RLB_F0_HZ = 38.13547087602444
_RLB_Q = 0.5003270373238773
_REFERENCE_RATE_HZ = 48_000


def _rlb_a0(sample_rate_hz: float) -> float:
    k = math.tan(math.pi * _RLB_F0_HZ / sample_rate_hz)
    return 1.0 + k / _RLB_Q + k * k


def k_weighting_sos(sample_rate_hz: int) -> npt.NDArray[np.float64]:
    """Return BS.1770-4's K-weighting filter for ``sample_rate_hz`` as two second-order sections.

    Stage 1 is the high-shelf pre-filter (+4 dB above ~2 kHz), stage 2 the RLB high-pass
    (BS.1770-4 Annex 1, Tables 1 and 2). Each is the bilinear transform (pre-warped at its
    corner) of the analog prototype fitted to the standard's 48 kHz coefficients, so at 48 kHz the
    result equals the published b/a (to ~1e-9) and at other rates it has the same response.
    The RLB numerator is BS.1770's ``[1, -2, 1]`` at 48 kHz; at other rates it is scaled so that
    its passband gain stays that of 48 kHz (the plain ``[1, -2, 1]`` drifts by up to 0.2 dB
    at 8 kHz).

    Parameters
    ----------
    sample_rate_hz
        8 kHz to 384 kHz.

    Returns
    -------
    numpy.ndarray
        ``(2, 6)`` float64 ``sos`` for :func:`scipy.signal.sosfilt`; cached per rate, read-only
        (scipy 1.14's ``sosfilt`` insists on a writable ``sos``: pass ``np.array(sos)``).

    Raises
    ------
    InputError
        ``unsupported_sample_rate``.
    """
    return _k_weighting_sos_cached(check_sample_rate(sample_rate_hz))


@functools.lru_cache(maxsize=32)
def _k_weighting_sos_cached(sample_rate_hz: int) -> npt.NDArray[np.float64]:
    fs = float(sample_rate_hz)
    # Stage 1: high shelf.
    k = math.tan(math.pi * _SHELF_F0_HZ / fs)
    vh = 10.0 ** (_SHELF_GAIN_DB / 20.0)
    vb = vh**_SHELF_VB_EXPONENT
    a0 = 1.0 + k / _SHELF_Q + k * k
    shelf = [
        (vh + vb * k / _SHELF_Q + k * k) / a0,
        2.0 * (k * k - vh) / a0,
        (vh - vb * k / _SHELF_Q + k * k) / a0,
        1.0,
        2.0 * (k * k - 1.0) / a0,
        (1.0 - k / _SHELF_Q + k * k) / a0,
    ]
    # Stage 2: RLB high-pass; numerator [1, -2, 1] scaled to 48 kHz's passband gain.
    k = math.tan(math.pi * _RLB_F0_HZ / fs)
    a0 = _rlb_a0(fs)
    g = _rlb_a0(_REFERENCE_RATE_HZ) / a0
    rlb = [g, -2.0 * g, g, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / _RLB_Q + k * k) / a0]
    sos = np.array([shelf, rlb], dtype=np.float64)
    sos.flags.writeable = False
    return sos


@dataclass(frozen=True)
class _ScanLevel:
    """One level of :func:`_scan_states`: ``transition`` M, and for a group of ``P`` rows the
    products ``within`` (row-start states from the group's inputs) and ``powers`` (from the
    group's start state)."""

    transition: npt.NDArray[np.float64]  # (d, d)
    within: npt.NDArray[np.float64]  # (P d, P d): block (i, j) = M^(j-1-i) for i < j
    powers: npt.NDArray[np.float64]  # (d, P d): block j = M^j


def _scan_level(transition: npt.NDArray[np.float64]) -> _ScanLevel:
    d = transition.shape[0]
    p = _SCAN_ROWS
    pows = [np.eye(d)]
    for _ in range(p):
        pows.append(pows[-1] @ transition)
    within = np.zeros((p * d, p * d))
    for i in range(p):
        for j in range(i + 1, p):
            within[i * d : (i + 1) * d, j * d : (j + 1) * d] = pows[j - 1 - i]
    return _ScanLevel(transition=transition, within=within, powers=np.hstack(pows[:p]))


def _single_threaded_product(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """``a @ b`` for ``a`` ``(..., k)``, as a stack of products under :data:`_GEMM_MNK_MAX`."""
    k, n = b.shape
    flat = a.reshape(-1, k)
    per = max(1, _GEMM_MNK_MAX // (k * n))
    if flat.shape[0] <= per:
        return a @ b
    padded = np.zeros((-(-flat.shape[0] // per) * per, k))
    padded[: flat.shape[0]] = flat
    out = (padded.reshape(-1, per, k) @ b).reshape(-1, n)[: flat.shape[0]]
    return out.reshape(*a.shape[:-1], n)


def _scan_states(
    u: npt.NDArray[np.float64], levels: tuple[_ScanLevel, ...]
) -> npt.NDArray[np.float64]:
    """Solve ``s[b + 1] = s[b] M + u[b]``, ``s[0] = 0`` (row vectors) for every ``s[b]``.

    ``u`` is ``(..., rows, d)``, ``M`` is ``levels[0].transition``. Rows are taken in groups of
    :data:`_SCAN_ROWS`: within a group the states follow from the group's ``u`` by one product
    (``within``); the groups' start states obey the same recurrence with ``M^P``, solved by the
    next level; then ``powers`` adds each group's start state. Only the last level loops.
    """
    level = levels[0]
    rows, d = u.shape[-2:]
    p = _SCAN_ROWS
    if rows <= p or len(levels) == 1:
        s = np.zeros_like(u)
        for b in range(1, rows):
            s[..., b, :] = s[..., b - 1, :] @ level.transition + u[..., b - 1, :]
        return s
    groups = -(-rows // p)
    padded = np.zeros((*u.shape[:-2], groups * p, d))
    padded[..., :rows, :] = u
    flat = padded.reshape(*u.shape[:-2], groups, p * d)
    local = _single_threaded_product(flat, level.within)
    ends = local[..., -d:] @ level.transition + flat[..., -d:]
    local += _single_threaded_product(_scan_states(ends, levels[1:]), level.powers)
    out: npt.NDArray[np.float64] = local.reshape(padded.shape)[..., :rows, :]
    return out


@dataclass(frozen=True)
class _BlockFilter:
    """A cascade of second-order sections, evaluated ``L`` = 32 samples at a time.

    As a state-space system (the sections' transposed-direct-form-II states, ``d = 2 x
    sections``), ``s' = A s + B x``, ``y = C s + D x``. A row of ``L`` inputs ``x`` whose first
    sample sees the state ``s`` gives::

        y      = T x + O s         T: L x L lower-triangular Toeplitz of the impulse response,
                                   O: rows C A^n, n = 0..L-1
        s_next = A^L s + G x       G: columns A^(L-1-m) B, m = 0..L-1

    so, once every row's start state is known (:func:`_scan_states`, from ``u = G x``), all
    outputs are one matrix product of ``[x, s]`` with ``[[T^T], [O^T]]``. The arithmetic is
    that of the recursion, reordered: results agree with ``scipy.signal.sosfilt`` to float64
    rounding (about 1e-15 of full scale).
    """

    gain: npt.NDArray[np.float64]  # (L, d): G^T
    output: npt.NDArray[np.float64]  # (L + d, L): [[T^T], [O^T]]
    output32: npt.NDArray[np.float32]  # the same in float32, for float32 input
    tail: npt.NDArray[np.float64]  # (L + 1, d, d): (A^r)^T, for a last row of r samples
    levels: tuple[_ScanLevel, ...]

    @property
    def order(self) -> int:
        return int(self.gain.shape[1])

    def apply(
        self, x: npt.NDArray[np.floating[Any]], state: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.floating[Any]], npt.NDArray[np.float64]]:
        """Filter ``x`` ``(channels, n)`` from ``state`` ``(channels, d)``; return ``(y, state)``.

        ``y`` is ``(channels, n)``, float32 for float32 ``x`` (the outputs' matrix product in
        float32, about 1e-7 of full scale, the input's own precision), else float64. The
        states are float64 either way. Neither input is modified.
        """
        length = _ROW_FRAMES
        d = self.order
        channels, n = x.shape
        rows = -(-n // length)
        full = n // length
        padded_rows = -(-rows // _ROWS_PER_PRODUCT) * _ROWS_PER_PRODUCT
        single = x.dtype == np.float32
        ext = np.zeros((channels, padded_rows, length + d), dtype=x.dtype if single else None)
        ext[:, :full, :length] = x[:, : full * length].reshape(channels, full, length)
        last = n - (rows - 1) * length  # samples in the last row, 1..L
        if full < rows:
            ext[:, full, :last] = x[:, full * length :]
        stacks = ext.reshape(-1, _ROWS_PER_PRODUCT, length + d)
        u = (stacks[..., :length] @ self.gain).reshape(channels, padded_rows, d)[:, :rows]
        # Row-start states; the given state enters as a row before the first.
        states = _scan_states(np.concatenate((state[:, None, :], u), axis=1), self.levels)[:, 1:]
        ext[:, :rows, length:] = states
        output = self.output32 if single else self.output
        y = (stacks @ output).reshape(channels, padded_rows * length)[:, :n]
        end = states[:, -1] @ self.tail[last] + ext[:, rows - 1, :last] @ self.gain[-last:]
        return y, end


def _section_state_space(
    section: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """``(A, B, C, D)`` of one second-order section, in a basis where powers of A stay small.

    The transposed-direct-form-II states ``z`` (``A_z = [[-a1, 1], [-a2, 0]]``) are a poor basis
    for poles near ``z = 1`` that nearly coincide (the RLB high-pass at high rates): there, the
    entries of ``A_z^n`` grow to hundreds and rounding in a block recursion grows with them.
    With ``A_z = alpha I + N`` (``alpha = -a1 / 2``, ``N^2 = q I``, ``q = alpha^2 - a2``), the
    basis ``S = [N w / kappa, w]`` gives ``A = S^-1 A_z S = [[alpha, kappa], [q / kappa, alpha]]``,
    whose powers stay below about 1 in every entry when ``kappa`` is the larger of the poles'
    spread ``sqrt|q|`` and their distance ``1 - |p|`` from the unit circle.
    """
    b0, b1, b2, _a0, a1, a2 = (float(v) for v in section)
    alpha = -a1 / 2.0
    q = alpha * alpha - a2
    spread = math.sqrt(abs(q))
    pole_lin = math.sqrt(abs(a2)) if q < 0.0 else abs(alpha) + spread
    kappa = max(spread, 1.0 - pole_lin, 1e-12)
    n = np.array([[-a1 - alpha, 1.0], [-a2, -alpha]])
    # w: the unit vector that N turns furthest from itself (so that S is well conditioned).
    w = np.array([1.0, 0.0]) if abs(n[1, 0]) >= abs(n[0, 1]) else np.array([0.0, 1.0])
    basis = np.column_stack((n @ w / kappa, w))
    a = np.array([[alpha, kappa], [q / kappa, alpha]])
    b = np.linalg.solve(basis, np.array([b1 - a1 * b0, b2 - a2 * b0]))
    c = np.array([1.0, 0.0]) @ basis
    return a, b, c, b0


def _cascade_state_space(
    sos: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """``(A, B, C, D)`` of a cascade of second-order sections (:func:`_section_state_space`)."""
    d = 2 * sos.shape[0]
    a = np.zeros((d, d))
    b = np.zeros(d)
    c = np.zeros(d)  # the cascade's output so far: v = c s + dd x
    dd = 1.0
    for i, section in enumerate(sos):
        a_i, b_i, c_i, d_i = _section_state_space(section)
        k = slice(2 * i, 2 * i + 2)
        a[k, :] += np.outer(b_i, c)  # section i is driven by v
        a[k, k] = a_i
        b[k] = b_i * dd
        c = d_i * c
        c[k] += c_i
        dd *= d_i
    return a, b, c, dd


@functools.lru_cache(maxsize=32)
def _block_filter(sample_rate_hz: int) -> _BlockFilter:
    """The K-weighting :class:`_BlockFilter` for ``sample_rate_hz``, designed once per rate."""
    a, b, c, dd = _cascade_state_space(_k_weighting_sos_cached(sample_rate_hz))
    length = _ROW_FRAMES
    d = a.shape[0]
    pows = [np.eye(d)]
    for _ in range(length):
        pows.append(a @ pows[-1])
    h = np.array([dd] + [c @ pows[n] @ b for n in range(length - 1)])
    toeplitz = np.zeros((length, length))  # T[n, m] = h[n - m]
    for n in range(length):
        toeplitz[n, : n + 1] = h[n::-1]
    observe = np.array([c @ pows[n] for n in range(length)])  # O, (L, d)
    gain = np.array([pows[length - 1 - m] @ b for m in range(length)])  # G^T, (L, d)
    transition = pows[length].T
    levels = []
    for _ in range(_SCAN_LEVELS):
        levels.append(_scan_level(transition))
        transition = np.linalg.matrix_power(transition, _SCAN_ROWS)
    output = np.vstack((toeplitz.T, observe.T))
    return _BlockFilter(
        gain=gain,
        output=output,
        output32=output.astype(np.float32),
        tail=np.stack([p.T for p in pows]),
        levels=tuple(levels),
    )


_WEIGHTS: dict[int, tuple[float, ...]] = {
    1: (1.0,),
    2: (1.0, 1.0),
    3: (1.0, 1.0, 1.0),
    4: (1.0, 1.0, 1.41, 1.41),
    5: (1.0, 1.0, 1.0, 1.41, 1.41),
    6: (1.0, 1.0, 1.0, 0.0, 1.41, 1.41),
    7: (1.0, 1.0, 1.0, 0.0, 1.0, 1.41, 1.41),
    8: (1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.41, 1.41),
}


def channel_weights(channels: int) -> npt.NDArray[np.float64]:
    """Return the channel weights G_i of BS.1770-4 (Annex 1, Tables 3 and 4) for a layout.

    The layouts are the default WAVE channel orders (the channel masks
    :mod:`mixmaster.wavio` writes), with G = 1.41 (+1.5 dB) for loudspeakers at 60°-120°
    azimuth (side surrounds), 0 for the LFE, and 1.0 for the rest (front, centre and back
    channels beyond 120°):

    ====  =============================  ===============================
    n     order                          G_i
    ====  =============================  ===============================
    1     mono                           1
    2     L R                            1 1
    3     L R C                          1 1 1
    4     L R Ls Rs (quad)               1 1 1.41 1.41
    5     L R C Ls Rs (5.0)              1 1 1 1.41 1.41
    6     L R C LFE Ls Rs (5.1)          1 1 1 0 1.41 1.41
    7     L R C LFE Cs Ls Rs (6.1)       1 1 1 0 1 1.41 1.41
    8     L R C LFE Lb Rb Ls Rs (7.1)    1 1 1 0 1 1 1.41 1.41
    ====  =============================  ===============================

    Returns
    -------
    numpy.ndarray
        ``(channels,)`` float64, a new array.

    Raises
    ------
    InputError
        ``bad_layout`` unless ``channels`` is 1 to 8.
    """
    if isinstance(channels, bool) or channels not in _WEIGHTS:
        raise InputError(
            "bad_layout",
            f"No channel weights for {channels!r} channels; accepted: 1 to {MAX_CHANNELS}.",
            field="channels",
        )
    return np.array(_WEIGHTS[channels], dtype=np.float64)


@dataclass(frozen=True)
class LoudnessMeasurement:
    """The loudness of a programme (BS.1770-4, EBU Tech 3341 / 3342).

    Attributes
    ----------
    integrated_lufs
        Gated programme loudness, LUFS; ``-inf`` for silence or input shorter than 400 ms.
    loudness_range_lu
        LRA (Tech 3342), LU; 0.0 when fewer than one short-term value passes the gates.
    momentary_max_lufs
        Largest momentary (400 ms) loudness, LUFS; ``-inf`` if there is none.
    short_term_max_lufs
        Largest short-term (3 s) loudness, LUFS; ``-inf`` if there is none.
    momentary_lufs
        Momentary loudness of the window starting at ``j * hop_s``, for every complete window.
    short_term_lufs
        Short-term loudness of the window starting at ``j * hop_s``, for every complete window.
    hop_s
        Spacing of both series, 0.1 s.
    """

    integrated_lufs: float
    loudness_range_lu: float
    momentary_max_lufs: float
    short_term_max_lufs: float
    momentary_lufs: npt.NDArray[np.float64]
    short_term_lufs: npt.NDArray[np.float64]
    hop_s: float = HOP_S


class LoudnessMeter:
    """Streaming BS.1770-4 / EBU R128 meter: feed consecutive chunks, then ask for the result.

    Feeding a signal in chunks of any size gives the same result as :func:`measure_loudness` on
    the whole signal (the same arithmetic, to rounding). Memory is bounded: per 100 ms only one
    number is kept, and at most ``131072`` frames of K-weighted audio exist at a time.

    Parameters
    ----------
    sample_rate_hz
        8 kHz to 384 kHz.
    channels
        1 to 8, in the order of :func:`channel_weights`.

    Raises
    ------
    InputError
        ``unsupported_sample_rate``, ``bad_layout``.
    """

    def __init__(self, sample_rate_hz: int, channels: int) -> None:
        self._sample_rate_hz = check_sample_rate(sample_rate_hz)
        self._weights = channel_weights(channels)
        self._channels = channels
        self._filter = _block_filter(self._sample_rate_hz)
        self._state = np.zeros((channels, self._filter.order))  # K-weighting's, carried on
        self._frames_done = 0
        self._subblock = 0  # index k of the sub-block being filled
        self._partial_power = 0.0  # Σ_i G_i Σ y_i² so far in sub-block k
        self._subblock_power: list[float] = []  # Σ_i G_i Σ y_i² per complete sub-block
        self._subblock_frames: list[int] = []

    def _edge(self, k: int) -> int:
        """First sample of sub-block ``k``: ``round(k * fs / 10)``, halves rounded up."""
        return (2 * k * self._sample_rate_hz + _SUBBLOCKS_PER_S) // (2 * _SUBBLOCKS_PER_S)

    def process(self, chunk: npt.ArrayLike) -> None:
        """Measure the next ``(channels, frames)`` chunk; it is not modified.

        Raises
        ------
        InputError
            ``bad_layout`` if the shape does not match the meter's channels, ``non_finite``.
        """
        x = np.asarray(chunk)
        if x.ndim != 2 or x.shape[0] != self._channels:
            raise InputError(
                "bad_layout",
                f"Chunk must be shaped (channels, frames) with {self._channels} channels; "
                f"got shape {x.shape}.",
            )
        if x.shape[1] == 0:
            return
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        if not np.isfinite(x).all():
            raise InputError(
                "non_finite",
                "The audio contains NaN or infinite samples; only finite sample values are "
                "accepted.",
            )
        self._process_checked(x)

    def _process_checked(self, x: npt.NDArray[np.floating[Any]]) -> None:
        """:meth:`process` for a chunk already known to be well-shaped and finite."""
        for start in range(0, x.shape[1], _BLOCK_FRAMES):
            block = x[:, start : start + _BLOCK_FRAMES]
            # K-weighting (BS.1770-4 Annex 1 §1), state carried across blocks and chunks.
            y, self._state = self._filter.apply(block, self._state)
            self._accumulate(y)

    def _accumulate(self, y: npt.NDArray[np.floating[Any]]) -> None:
        """Add the K-weighted block ``y`` (squared in place) to the per-sub-block energies."""
        n = y.shape[1]
        start = self._frames_done
        end = start + n
        cuts: list[int] = []  # local positions where a sub-block ends, 0 < c <= n
        k = self._subblock
        while (edge := self._edge(k + 1)) <= end:
            cuts.append(edge - start)
            k += 1
        starts = [0, *(c for c in cuts if c < n)]
        # Σ_samples y_i² per segment and channel, then Σ_i G_i (BS.1770-4 Annex 1 eq. 1-2).
        squares = np.square(y, out=y)
        seg_energy = self._weights @ np.add.reduceat(squares, starts, axis=1, dtype=np.float64)
        for i in range(len(cuts)):
            k = self._subblock
            self._subblock_power.append(self._partial_power + float(seg_energy[i]))
            self._subblock_frames.append(self._edge(k + 1) - self._edge(k))
            self._subblock = k + 1
            self._partial_power = 0.0
        if len(starts) > len(cuts):
            self._partial_power += float(seg_energy[-1])
        self._frames_done = end

    def result(self) -> LoudnessMeasurement:
        """Return the loudness of everything fed so far (the meter can go on being fed)."""
        power = np.asarray(self._subblock_power, dtype=np.float64)
        frames = np.asarray(self._subblock_frames, dtype=np.float64)
        momentary = _window_loudness(power, frames, _MOMENTARY_SUBBLOCKS)
        short_term = _window_loudness(power, frames, _SHORT_TERM_SUBBLOCKS)
        momentary.flags.writeable = False  # the measurement is frozen, its series too
        short_term.flags.writeable = False
        return LoudnessMeasurement(
            integrated_lufs=_gated_loudness(momentary),
            loudness_range_lu=_loudness_range(short_term),
            momentary_max_lufs=float(momentary.max()) if momentary.size else -math.inf,
            short_term_max_lufs=float(short_term.max()) if short_term.size else -math.inf,
            momentary_lufs=momentary,
            short_term_lufs=short_term,
        )


def _window_loudness(
    power: npt.NDArray[np.float64], frames: npt.NDArray[np.float64], subblocks: int
) -> npt.NDArray[np.float64]:
    """Loudness of every complete window of ``subblocks`` consecutive 100 ms sub-blocks.

    l_j = -0.691 + 10 log10(Σ_i G_i z_ij), z_ij the window's mean square (BS.1770-4 eq. 2).
    Sums of windows are taken directly (not as differences of a running sum), so silence stays
    exactly zero power, i.e. ``-inf``.
    """
    if power.size < subblocks:
        return np.empty(0, dtype=np.float64)
    win = np.lib.stride_tricks.sliding_window_view
    z = win(power, subblocks).sum(axis=1) / win(frames, subblocks).sum(axis=1)
    return np.asarray(_LOUDNESS_OFFSET_DB + power_to_db_array(z), dtype=np.float64)


def _power_mean_lufs(loudness_lufs: npt.NDArray[np.float64]) -> float:
    """The loudness of the mean power of blocks given by their loudness (undo 10 log10)."""
    mean_power = float(np.mean(10.0 ** ((loudness_lufs - _LOUDNESS_OFFSET_DB) / 10.0)))
    return _LOUDNESS_OFFSET_DB + power_to_db(mean_power)


def _gated_loudness(block_lufs: npt.NDArray[np.float64]) -> float:
    """Gated integrated loudness of the 400 ms blocks l_j (BS.1770-4 Annex 1 §5)."""
    above_abs = block_lufs[block_lufs > _ABSOLUTE_GATE_LUFS]  # J_g for Γ_a = -70 LUFS
    if above_abs.size == 0:
        return -math.inf
    gamma_r = _power_mean_lufs(above_abs) + _RELATIVE_GATE_LU  # Γ_r
    gated = above_abs[above_abs > gamma_r]
    return _power_mean_lufs(gated)


def _loudness_range(short_term_lufs: npt.NDArray[np.float64]) -> float:
    """LRA from the short-term series (EBU Tech 3342 §3 and its reference implementation)."""
    above_abs = short_term_lufs[short_term_lufs >= _ABSOLUTE_GATE_LUFS]
    if above_abs.size == 0:
        return 0.0
    gate = _power_mean_lufs(above_abs) + _LRA_RELATIVE_GATE_LU
    gated = np.sort(above_abs[above_abs >= gate])
    n = gated.size
    # Nearest rank, as Tech 3342's MATLAB: index round((n-1) p / 100), halves up (0-based).
    low = gated[((n - 1) * _LRA_LOW_PERCENT * 2 + 100) // 200]
    high = gated[((n - 1) * _LRA_HIGH_PERCENT * 2 + 100) // 200]
    return float(high - low)


def measure_loudness(
    x: npt.ArrayLike, sample_rate_hz: int, *, check_finite: bool = True
) -> LoudnessMeasurement:
    """Measure integrated loudness, LRA and the momentary / short-term series of ``x``.

    Parameters
    ----------
    x
        Audio ``(channels, samples)``, channels in the order of :func:`channel_weights`.
        Not modified.
    sample_rate_hz
        8 kHz to 384 kHz.
    check_finite
        Check for NaN/Inf (skip only when the caller has already done so).

    Returns
    -------
    LoudnessMeasurement
        Silence gives ``-inf`` LUFS and an LRA of 0.0 (no warning); so does input shorter than
        400 ms (momentary) / 3 s (short-term, LRA).

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite``, ``unsupported_sample_rate``.

    References
    ----------
    ITU-R BS.1770-4 (2015), Annex 1; EBU Tech 3341 (2016); EBU Tech 3342 (2016/2023).
    """
    arr = as_audio(x, check_finite=check_finite)
    meter = LoudnessMeter(sample_rate_hz, arr.shape[0])
    meter._process_checked(arr)  # as_audio has checked the shape (and finiteness, or the caller)
    return meter.result()


def integrated_loudness(x: npt.ArrayLike, sample_rate_hz: int) -> float:
    """Gated integrated loudness of ``x`` in LUFS (BS.1770-4); ``-inf`` for silence.

    Raises as :func:`measure_loudness`.
    """
    return measure_loudness(x, sample_rate_hz).integrated_lufs


def album_loudness_lufs(block_lufs: Sequence[npt.ArrayLike]) -> float:
    """Integrated loudness of several programmes played as one (an album), in LUFS.

    BS.1770-4 Annex 1 §5 gating applied to the union of every programme's 400 ms gating blocks
    (:attr:`LoudnessMeasurement.momentary_lufs`, 75 % overlap), so a quiet track counts as the
    standard says, not as the mean of the tracks' own integrated loudness. Blocks do not span
    two programmes. ``-inf`` when every block is below the absolute gate (or there are none).
    """
    parts = [np.asarray(b, dtype=np.float64).ravel() for b in block_lufs]
    blocks = np.concatenate(parts) if parts else np.empty(0)
    return _gated_loudness(blocks)

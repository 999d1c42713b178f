"""Long-term spectrum: the ⅓-octave fingerprint, spectral tilt and spectral centroid of a track.

One Welch pass (Hann frames, ~1.4 Hz bins) yields the long-term power spectrum of
every channel plus the cross-spectrum of the first two channels; :mod:`mixmaster.imaging` reuses
that same pass for its per-band stereo measurements, so the audio is transformed only once.

Frequency bands follow IEC 61260-1 / ANSI S1.11 base-2 ⅓-octave bands: exact mid-band
frequencies ``f_m = 1000 · 2^(n/3)`` Hz, band edges ``f_m · 2^(±1/6)`` (contiguous, no gaps), and
the ISO 266 preferred (nominal) frequencies as labels, 20 Hz ... 20 kHz (31 bands).

Memory is bounded: frames are transformed in small batches and only per-bin sums are kept, so a
long file costs a few MB beyond the input itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import as_strided

from mixmaster.audio import as_audio, check_sample_rate

FloatArray = npt.NDArray[np.float64]

ISO_THIRD_OCTAVE_CENTRES_HZ: tuple[float, ...] = (
    20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0,
    250.0, 315.0, 400.0, 500.0, 630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0,
    2500.0, 3150.0, 4000.0, 5000.0, 6300.0, 8000.0, 10000.0, 12500.0, 16000.0, 20000.0,
)  # fmt: skip
"""ISO 266 preferred ⅓-octave centre frequencies (nominal labels), 20 Hz ... 20 kHz."""

_BAND_INDEX = np.arange(-17, 14)  # n in f_m = 1000 * 2**(n/3): 20 Hz is n = -17, 20 kHz n = 13
THIRD_OCTAVE_EXACT_CENTRES_HZ: FloatArray = 1000.0 * 2.0 ** (_BAND_INDEX / 3.0)
"""Exact base-2 mid-band frequencies (IEC 61260-1), one per ISO 266 label."""
THIRD_OCTAVE_LOWER_HZ: FloatArray = THIRD_OCTAVE_EXACT_CENTRES_HZ * 2.0 ** (-1.0 / 6.0)
THIRD_OCTAVE_UPPER_HZ: FloatArray = THIRD_OCTAVE_EXACT_CENTRES_HZ * 2.0 ** (1.0 / 6.0)

BAND_LEVEL_FLOOR_DB = -120.0
"""Relative band levels are floored here: ``-120`` means "at most -120 dB below the total"."""

TILT_MIN_HZ = 50.0
TILT_MAX_HZ = 16_000.0
"""The ⅓-octave bands (by nominal centre) over which the spectral tilt is regressed."""

FREQUENCY_RESOLUTION_HZ = 1.5
"""Target Welch bin width: fine enough to resolve the 4.6 Hz wide 20 Hz band."""

_BATCH_SAMPLES = 1 << 18  # samples transformed per batch (2 MB of float64): mostly in cache
OVERLAP_FRAMES_MAX = 128
"""Inputs needing more 50 %-overlapped frames than this are analysed without overlap."""


@dataclass(frozen=True)
class LongTermSpectra:
    """Welch-averaged one-sided power spectra of a multichannel signal.

    Every spectrum is scaled so that summing it over all bins gives the signal's mean square
    (full scale = 1.0), i.e. units of "full-scale² per bin". Bin ``k`` is centred on
    ``frequencies_hz[k]`` and spans ``± bin_width_hz / 2``.

    Attributes
    ----------
    sample_rate_hz
        Sample rate of the analysed audio.
    bin_width_hz
        Spacing of the frequency bins, ``sample_rate_hz / nfft``.
    frequencies_hz
        Centre frequency of each bin, 0 ... Nyquist.
    power_mean
        Mean over channels of the per-channel power spectra (every channel counts equally,
        whatever its phase relation to the others).
    power_left, power_right
        Power spectra of channels 0 and 1 (front left and right in WAVE/SMPTE order). For mono
        input both are channel 0.
    cross_real
        Real part of the cross-spectrum ``X_0 · conj(X_1)`` (the co-spectrum); for mono input
        it equals ``power_left``.
    """

    sample_rate_hz: int
    bin_width_hz: float
    frequencies_hz: FloatArray
    power_mean: FloatArray
    power_left: FloatArray
    power_right: FloatArray
    cross_real: FloatArray


@dataclass(frozen=True)
class SpectrumMeasurement:
    """The spectral part of the feature set.

    Attributes
    ----------
    third_octave_db
        31 levels, one per :data:`ISO_THIRD_OCTAVE_CENTRES_HZ` band, in dB relative to the sum
        of the measured bands' energies (so their energies add up to 0 dB), floored at
        :data:`BAND_LEVEL_FLOOR_DB`. ``nan`` for a band whose centre is at or above Nyquist,
        ``-inf`` for every band when the input is silent.
    mid_third_octave_db, side_third_octave_db
        The same bands for the mid ``M = (L + R) / 2`` and the side ``S = (L - R) / 2`` of
        channels 0 and 1 (:func:`mid_side_levels_db`).
    spectral_tilt_db_per_oct
        Least-squares slope of the band levels against log2(frequency) over the 50 Hz-16 kHz
        bands below Nyquist: 0 for pink noise, +3.01 for white noise. ``nan`` for silence.
    spectral_centroid_hz
        Power-weighted mean frequency of the long-term spectrum between the lower edge of the
        20 Hz band and the upper edge of the 20 kHz band (or Nyquist). ``nan`` for silence.
    """

    third_octave_db: tuple[float, ...]
    mid_third_octave_db: tuple[float, ...]
    side_third_octave_db: tuple[float, ...]
    spectral_tilt_db_per_oct: float
    spectral_centroid_hz: float


def hop_frames(
    a: npt.NDArray[Any], frame_len: int, hop: int, first: int, count: int
) -> npt.NDArray[Any]:
    """A read-only view of ``count`` frames of 1-D ``a``, frame k starting at ``(first + k) * hop``.

    Only the frames asked for are viewed: a view of every possible frame (``sliding_window_view``)
    spans more than 2 GiB for long files, which numpy refuses on 32-bit WebAssembly (Pyodide).
    """
    step = a.strides[0]
    return as_strided(
        a[first * hop :], shape=(count, frame_len), strides=(hop * step, step), writeable=False
    )


def hann_window(length: int) -> npt.NDArray[np.float32]:
    """Periodic Hann window ``0.5 - 0.5·cos(2πn/N)`` of ``length`` samples, as float32.

    Lengths below 16 get a rectangular window (a Hann that short would discard most samples).
    """
    if length < 16:
        return np.ones(length, dtype=np.float32)
    n = np.arange(length, dtype=np.float64)
    window: npt.NDArray[np.float32] = (0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)).astype(
        np.float32
    )
    return window


def welch_nfft(sample_rate_hz: int) -> int:
    """Return the FFT length used at ``sample_rate_hz``: the power of two giving bins ≤ 1.5 Hz."""
    return 1 << math.ceil(math.log2(sample_rate_hz / FREQUENCY_RESOLUTION_HZ))


def frame_hop(n_samples: int, frame_len: int) -> int:
    """Hop between Welch frames: 50 % overlap, or none once that would exceed 128 frames.

    Overlap lowers the variance of short inputs; beyond ~64 frames (~48 s at 44.1 kHz) the
    average is already steady, and frames laid end to end halve the work for long files.
    """
    half = max(1, frame_len // 2)
    if (n_samples - frame_len) // half + 1 <= OVERLAP_FRAMES_MAX:
        return half
    return frame_len


def long_term_spectra(
    x: npt.ArrayLike, sample_rate_hz: float, *, check_finite: bool = True
) -> LongTermSpectra:
    """Welch-average the power spectra of every channel and the co-spectrum of channels 0 and 1.

    Hann frames of :func:`welch_nfft` samples, hop from :func:`frame_hop` (a shorter input is one
    frame as long as the input, zero-padded to the same FFT length); when the hop grid leaves a
    tail unseen, one more frame is aligned to the end. Computed in float64 batches (numpy's FFT is
    faster in float64 than in float32); the input is never modified.

    Parameters
    ----------
    x
        Audio shaped ``(channels, samples)``.
    sample_rate_hz
        Sample rate in Hz.
    check_finite
        Check for NaN/Inf (skip only when the caller has already done so).

    Returns
    -------
    LongTermSpectra
        Spectra scaled to mean square per bin (Parseval: they sum to the mean square).

    Raises
    ------
    InputError
        If the audio or sample rate is rejected by :func:`mixmaster.audio.as_audio`.

    References
    ----------
    P. D. Welch, "The use of fast Fourier transform for the estimation of power spectra",
    IEEE Trans. Audio Electroacoust. 15(2), 1967.
    """
    audio = as_audio(x, check_finite=check_finite)
    fs = check_sample_rate(sample_rate_hz)
    channels, n = audio.shape
    nfft = welch_nfft(fs)
    frame_len = min(nfft, n)
    window = hann_window(frame_len)
    hop = frame_hop(n, frame_len)
    n_regular = (n - frame_len) // hop + 1
    tail = (n_regular - 1) * hop + frame_len < n
    n_bins = nfft // 2 + 1

    power_sum = np.zeros((channels, 2 * n_bins))  # interleaved (re², im²) sums
    cross_sum = np.zeros(2 * n_bins)  # interleaved (re0·re1, im0·im1) sums
    batch = max(1, _BATCH_SAMPLES // (channels * frame_len))
    spans = [(first, min(first + batch, n_regular)) for first in range(0, n_regular, batch)]
    if tail:
        spans.append((-1, -1))
    buf = np.empty((channels, batch, frame_len), dtype=np.float64)
    spec = np.empty((channels, batch, n_bins), dtype=np.complex128)  # reused: no page faults
    for first, stop in spans:
        if first < 0:  # the extra frame aligned to the end
            frames = [audio[ch, n - frame_len : n][np.newaxis] for ch in range(channels)]
        else:
            frames = [
                hop_frames(audio[ch], frame_len, hop, first, stop - first) for ch in range(channels)
            ]
        rows = frames[0].shape[0]
        for ch in range(channels):
            np.multiply(frames[ch], window, out=buf[ch, :rows], casting="unsafe")
        np.fft.rfft(buf[:, :rows], n=nfft, axis=-1, out=spec[:, :rows])
        re_im = spec[:, :rows].view(np.float64)  # (channels, rows, 2 * n_bins)
        if channels > 1:
            cross_sum += np.einsum("ij,ij->j", re_im[0], re_im[1])
        power_sum += np.einsum("cij,cij->cj", re_im, re_im)

    # One-sided scaling: every bin but DC and Nyquist stands for its negative-frequency twin.
    scale = np.full(n_bins, 2.0)
    scale[0] = 1.0
    scale[-1] = 1.0
    window_power = float(np.sum(window.astype(np.float64) ** 2))
    n_frames = n_regular + int(tail)
    norm = scale / (n_frames * nfft * window_power) if window_power > 0 else scale * 0.0
    power = (power_sum[:, 0::2] + power_sum[:, 1::2]) * norm
    cross = (cross_sum[0::2] + cross_sum[1::2]) * norm if channels > 1 else power[0]
    return LongTermSpectra(
        sample_rate_hz=fs,
        bin_width_hz=fs / nfft,
        frequencies_hz=np.arange(n_bins) * (fs / nfft),
        power_mean=power.mean(axis=0),
        power_left=power[0],
        power_right=power[1] if channels > 1 else power[0],
        cross_real=cross,
    )


def band_energies(
    power: FloatArray,
    bin_width_hz: float,
    lower_hz: npt.ArrayLike,
    upper_hz: npt.ArrayLike,
) -> FloatArray:
    """Integrate a power spectrum over bands ``[lower, upper)`` Hz, counting partial bins pro rata.

    Bin ``k`` is taken to hold its power evenly over ``[(k - ½)Δ, (k + ½)Δ)``; the band energy
    is the difference of the cumulative spectrum, linearly interpolated, at the band's edges.

    Parameters
    ----------
    power
        Power per bin (e.g. :attr:`LongTermSpectra.power_mean`), bin ``k`` centred on ``k·Δ``.
        A signed spectrum (the co-spectrum) integrates to a signed result.
    bin_width_hz
        Bin spacing ``Δ`` in Hz.
    lower_hz, upper_hz
        Band edges in Hz (same length). Parts of a band beyond the last bin count as empty.

    Returns
    -------
    numpy.ndarray
        Energy per band, in the units of ``power``. Rounding in the cumulative sum can leave
        about 1e-16 of the total in an empty band, of either sign.
    """
    bin_edges_hz = (np.arange(power.shape[-1] + 1) - 0.5) * bin_width_hz
    cumulative = np.concatenate(([0.0], np.cumsum(power, dtype=np.float64)))
    lo = np.interp(np.asarray(lower_hz, dtype=np.float64), bin_edges_hz, cumulative)
    hi = np.interp(np.asarray(upper_hz, dtype=np.float64), bin_edges_hz, cumulative)
    return np.asarray(hi - lo, dtype=np.float64)


def third_octave_levels_db(spectra: LongTermSpectra) -> FloatArray:
    """Levels of the 31 ISO ⅓-octave bands relative to their total, in dB.

    A band is measured if its centre lies below Nyquist (a band straddling Nyquist is integrated
    up to Nyquist only). Levels are ``10·log10(E_band / Σ E_measured)``, floored at
    :data:`BAND_LEVEL_FLOOR_DB`; unmeasured bands are ``nan``; silence gives ``-inf``.

    Parameters
    ----------
    spectra
        Output of :func:`long_term_spectra`.

    Returns
    -------
    numpy.ndarray
        31 levels in dB, ordered as :data:`ISO_THIRD_OCTAVE_CENTRES_HZ`.
    """
    nyquist_hz = spectra.sample_rate_hz / 2.0
    measured = nyquist_hz > THIRD_OCTAVE_EXACT_CENTRES_HZ
    energy = np.maximum(
        band_energies(
            spectra.power_mean,
            spectra.bin_width_hz,
            THIRD_OCTAVE_LOWER_HZ,
            np.minimum(THIRD_OCTAVE_UPPER_HZ, nyquist_hz),
        ),
        0.0,  # a power spectrum's band energy is never negative, whatever the rounding
    )
    total = float(np.sum(energy[measured]))
    levels = np.full(len(ISO_THIRD_OCTAVE_CENTRES_HZ), np.nan)
    if total <= 0.0:
        levels[measured] = -np.inf
        return levels
    with np.errstate(divide="ignore"):
        rel_db = 10.0 * np.log10(energy[measured] / total)
    levels[measured] = np.maximum(rel_db, BAND_LEVEL_FLOOR_DB)
    return levels


def _relative_levels_db(
    energies: list[FloatArray], measured: npt.NDArray[np.bool_]
) -> list[FloatArray]:
    """Each band energy in dB relative to the sum of all ``energies`` over the measured bands."""
    total = float(sum(np.sum(e[measured]) for e in energies))
    out = []
    for energy in energies:
        levels = np.full(len(ISO_THIRD_OCTAVE_CENTRES_HZ), np.nan)
        if total <= 0.0:
            levels[measured] = -np.inf
        else:
            with np.errstate(divide="ignore"):
                rel_db = 10.0 * np.log10(energy[measured] / total)
            levels[measured] = np.maximum(rel_db, BAND_LEVEL_FLOOR_DB)
        out.append(levels)
    return out


def mid_side_levels_db(spectra: LongTermSpectra) -> tuple[FloatArray, FloatArray]:
    """⅓-octave levels of the mid and the side of channels 0 and 1, relative to their sum.

    ``P_M = (P_L + P_R + 2 C) / 4`` and ``P_S = (P_L + P_R - 2 C) / 4`` from the long-term
    spectra (``C`` the co-spectrum), so no second pass over the audio. Both are in dB relative
    to the summed mid and side energy of the measured bands (for stereo, that sum is the mean of
    the L and R energies), floored at :data:`BAND_LEVEL_FLOOR_DB`; ``nan`` above Nyquist as in
    :func:`third_octave_levels_db`; ``-inf`` for silence. Mono input has no side: every side
    band reads the floor.

    Returns
    -------
    tuple
        ``(mid_levels_db, side_levels_db)``, 31 values each.
    """
    nyquist_hz = spectra.sample_rate_hz / 2.0
    measured = nyquist_hz > THIRD_OCTAVE_EXACT_CENTRES_HZ
    upper = np.minimum(THIRD_OCTAVE_UPPER_HZ, nyquist_hz)
    both = spectra.power_left + spectra.power_right
    energies = [
        np.maximum(
            band_energies(
                0.25 * (both + sign * 2.0 * spectra.cross_real),
                spectra.bin_width_hz,
                THIRD_OCTAVE_LOWER_HZ,
                upper,
            ),
            0.0,
        )
        for sign in (1.0, -1.0)
    ]
    mid, side = _relative_levels_db(energies, measured)
    return mid, side


def spectral_tilt_db_per_oct(levels_db: npt.ArrayLike) -> float:
    """Least-squares slope of ⅓-octave levels against octaves, over the 50 Hz-16 kHz bands.

    Parameters
    ----------
    levels_db
        31 band levels as returned by :func:`third_octave_levels_db`; non-finite entries
        (above Nyquist, silence) are left out.

    Returns
    -------
    float
        Slope in dB per octave (pink noise 0, white noise +10·log10(2) ≈ +3.01), or ``nan``
        when fewer than three bands are usable.
    """
    levels = np.asarray(levels_db, dtype=np.float64)
    centres = np.asarray(ISO_THIRD_OCTAVE_CENTRES_HZ)
    use = (centres >= TILT_MIN_HZ) & (centres <= TILT_MAX_HZ) & np.isfinite(levels)
    if np.count_nonzero(use) < 3:
        return math.nan
    octaves = np.log2(THIRD_OCTAVE_EXACT_CENTRES_HZ[use])
    y = levels[use]
    dx = octaves - octaves.mean()
    return float(np.sum(dx * (y - y.mean())) / np.sum(dx**2))


def spectral_centroid_hz(spectra: LongTermSpectra) -> float:
    """Power-weighted mean frequency of the long-term spectrum, within the ⅓-octave range.

    ``Σ f·P(f) / Σ P(f)`` over bins from the lower edge of the 20 Hz band (17.8 Hz) to the
    upper edge of the 20 kHz band (22.6 kHz) or Nyquist, whichever is lower.

    Returns
    -------
    float
        Centroid in Hz, or ``nan`` for silence.
    """
    f = spectra.frequencies_hz
    upper_hz = min(float(THIRD_OCTAVE_UPPER_HZ[-1]), spectra.sample_rate_hz / 2.0)
    sel = (f >= THIRD_OCTAVE_LOWER_HZ[0]) & (f <= upper_hz)
    p = spectra.power_mean[sel]
    total = float(np.sum(p))
    if total <= 0.0:
        return math.nan
    return float(np.sum(f[sel] * p) / total)


def measure_spectrum(
    x: npt.ArrayLike,
    sample_rate_hz: float,
    spectra: LongTermSpectra | None = None,
    *,
    check_finite: bool = True,
) -> SpectrumMeasurement:
    """Measure the ⅓-octave fingerprint, tilt and centroid of ``x``.

    Parameters
    ----------
    x
        Audio shaped ``(channels, samples)``; never modified.
    sample_rate_hz
        Sample rate in Hz.
    spectra
        The result of :func:`long_term_spectra` for this same audio, to avoid recomputing it.
    check_finite
        Check for NaN/Inf (skip only when the caller has already done so).

    Returns
    -------
    SpectrumMeasurement

    Raises
    ------
    InputError
        If the audio or sample rate is rejected by :func:`mixmaster.audio.as_audio`.
    """
    if spectra is None:
        spectra = long_term_spectra(x, sample_rate_hz, check_finite=check_finite)
    levels = third_octave_levels_db(spectra)
    mid, side = mid_side_levels_db(spectra)
    return SpectrumMeasurement(
        third_octave_db=tuple(float(v) for v in levels),
        mid_third_octave_db=tuple(float(v) for v in mid),
        side_third_octave_db=tuple(float(v) for v in side),
        spectral_tilt_db_per_oct=spectral_tilt_db_per_oct(levels),
        spectral_centroid_hz=spectral_centroid_hz(spectra),
    )


DISTANCE_LOW_HZ = 60.0
DISTANCE_HIGH_HZ = 14_000.0
"""The range of :func:`third_octave_distance_db`: bands with nominal centres inside it."""


def third_octave_distance_db(
    levels_db: npt.ArrayLike,
    reference_levels_db: npt.ArrayLike,
    low_hz: float = DISTANCE_LOW_HZ,
    high_hz: float = DISTANCE_HIGH_HZ,
) -> float:
    """RMS difference in dB of two ⅓-octave spectra over ``[low_hz, high_hz]``, level removed.

    The two sets of band levels (e.g. ``third_octave_db`` of two tracks) are compared band by
    band over the bands whose nominal centres lie in the range (63 Hz ... 12.5 kHz by
    default); the mean difference is subtracted first, so that a change of level alone reads
    0 and only the difference in tonal balance counts. Bands not finite in either are left out.

    Returns
    -------
    float
        The RMS difference in dB, or ``nan`` when fewer than two bands are usable.
    """
    a = np.asarray(levels_db, dtype=np.float64)
    b = np.asarray(reference_levels_db, dtype=np.float64)
    centres = np.asarray(ISO_THIRD_OCTAVE_CENTRES_HZ)
    use = (centres >= low_hz) & (centres <= high_hz) & np.isfinite(a) & np.isfinite(b)
    if np.count_nonzero(use) < 2:
        return math.nan
    diff = a[use] - b[use]
    return float(np.sqrt(np.mean((diff - diff.mean()) ** 2)))

"""Stereo image: left/right correlation and width, overall and in four frequency bands.

Definitions (channels 0 and 1 are left and right, as in WAVE/SMPTE channel order; other channels
of a multichannel file are not part of the stereo image):

* **correlation** -- Pearson's correlation coefficient of L and R,
  ``r = cov(L, R) / sqrt(var(L)·var(R))``: +1 identical, 0 unrelated, -1 polarity-inverted.
  This is the long-term reading of a phase-correlation meter (IEC 60268-18 style, DC removed).
* **width** -- the side share of the stereo energy, ``E[S²] / (E[M²] + E[S²])`` with
  ``M = (L + R)/2`` and ``S = (L - R)/2`` (DC removed), equal to ``½ - cov(L, R)/(var L + var R)``:
  0 mono, 0.5 uncorrelated (wide), 1 polarity-inverted (all side).

Mono input reads correlation 1 and width 0; so does digital silence (silent channels are
identical). The per-band values come from the long-term co-spectrum of L and R
(:func:`mixmaster.spectrum.long_term_spectra`), i.e. brick-wall bands, which is the correlation
of the band-limited signals without running a filter bank over the audio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mixmaster.audio import as_audio, check_sample_rate
from mixmaster.spectrum import LongTermSpectra, band_energies, long_term_spectra

IMAGING_BAND_EDGES_HZ: tuple[tuple[float, float | None], ...] = (
    (20.0, 250.0),
    (250.0, 2000.0),
    (2000.0, 8000.0),
    (8000.0, None),
)
"""Band edges for the per-band image; ``None`` is Nyquist. Below 20 Hz is left out (DC, rumble)."""

BAND_CONTENT_FLOOR_DB = -120.0
"""A band whose energy is this far or more below the 20 Hz-Nyquist total counts as empty."""

_CHUNK_SAMPLES = 1 << 18


@dataclass(frozen=True)
class ImagingMeasurement:
    """Stereo correlation and width, overall and per band.

    Attributes
    ----------
    correlation
        Pearson correlation of L and R over the whole file, in [-1, 1].
    width
        Side share of the L/R energy, in [0, 1] (0 mono, 0.5 uncorrelated, 1 inverted).
    band_correlation, band_width
        The same per :data:`IMAGING_BAND_EDGES_HZ` band; ``nan`` for a band that starts at or
        above Nyquist or holds no content (:data:`BAND_CONTENT_FLOOR_DB`), or for silence.
    """

    correlation: float
    width: float
    band_correlation: tuple[float, ...]
    band_width: tuple[float, ...]


def correlation_and_width(var_left: float, var_right: float, cov_lr: float) -> tuple[float, float]:
    """Return ``(correlation, width)`` from the variances and covariance of L and R.

    Two silent channels give ``(1, 0)``; exactly one silent channel gives ``(0, 0.5)``.
    Rounding can push ``|r|`` a hair past 1, so both results are clipped to their ranges.
    """
    energy = var_left + var_right
    if energy <= 0.0:
        return 1.0, 0.0
    width = min(1.0, max(0.0, 0.5 - cov_lr / energy))
    if var_left <= 0.0 or var_right <= 0.0:
        return 0.0, width
    corr = min(1.0, max(-1.0, cov_lr / math.sqrt(var_left * var_right)))
    return corr, width


def _lr_moments(audio: npt.NDArray[np.floating[Any]]) -> tuple[float, float, float]:
    """Variances of channels 0 and 1 and their covariance, accumulated in float64 chunks."""
    left, right = audio[0], audio[1] if audio.shape[0] > 1 else audio[0]
    n = audio.shape[1]
    s_l = s_r = s_ll = s_rr = s_lr = 0.0
    for start in range(0, n, _CHUNK_SAMPLES):
        cl = left[start : start + _CHUNK_SAMPLES].astype(np.float64)
        cr = right[start : start + _CHUNK_SAMPLES].astype(np.float64)
        s_l += float(np.sum(cl))
        s_r += float(np.sum(cr))
        # einsum, not BLAS dot: threaded BLAS stalls on a busy machine for vectors this short.
        s_ll += float(np.einsum("i,i->", cl, cl))
        s_rr += float(np.einsum("i,i->", cr, cr))
        s_lr += float(np.einsum("i,i->", cl, cr))
    mean_l, mean_r = s_l / n, s_r / n
    var_l = max(0.0, s_ll / n - mean_l**2)
    var_r = max(0.0, s_rr / n - mean_r**2)
    return var_l, var_r, s_lr / n - mean_l * mean_r


def band_imaging(spectra: LongTermSpectra) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-band correlation and width from the long-term L/R spectra.

    For each band of :data:`IMAGING_BAND_EDGES_HZ`, ``r = ΣC / sqrt(ΣP_L · ΣP_R)`` and
    ``width = ½ - ΣC / (ΣP_L + ΣP_R)``, summing the co-spectrum ``C`` and the auto-spectra over
    the band's bins.

    Returns
    -------
    tuple
        ``(band_correlation, band_width)``, four values each, ``nan`` where undefined.
    """
    nyquist_hz = spectra.sample_rate_hz / 2.0
    lower = np.array([lo for lo, _ in IMAGING_BAND_EDGES_HZ])
    upper = np.array(
        [nyquist_hz if hi is None else min(hi, nyquist_hz) for _, hi in IMAGING_BAND_EDGES_HZ]
    )
    p_l = np.maximum(band_energies(spectra.power_left, spectra.bin_width_hz, lower, upper), 0.0)
    p_r = np.maximum(band_energies(spectra.power_right, spectra.bin_width_hz, lower, upper), 0.0)
    c_lr = band_energies(spectra.cross_real, spectra.bin_width_hz, lower, upper)
    total = float(np.sum(p_l + p_r))
    floor = total * 10.0 ** (BAND_CONTENT_FLOOR_DB / 10.0)
    corrs: list[float] = []
    widths: list[float] = []
    for k in range(lower.size):
        if lower[k] >= nyquist_hz or total <= 0.0 or p_l[k] + p_r[k] <= floor:
            corrs.append(math.nan)
            widths.append(math.nan)
            continue
        corr, width = correlation_and_width(float(p_l[k]), float(p_r[k]), float(c_lr[k]))
        corrs.append(corr)
        widths.append(width)
    return tuple(corrs), tuple(widths)


def measure_imaging(
    x: npt.ArrayLike,
    sample_rate_hz: float,
    spectra: LongTermSpectra | None = None,
    *,
    check_finite: bool = True,
    lr_moments: tuple[float, float, float] | None = None,
) -> ImagingMeasurement:
    """Measure the stereo correlation and width of ``x``, overall and per band.

    Parameters
    ----------
    x
        Audio shaped ``(channels, samples)``; never modified. Channels 0 and 1 are L and R;
        mono input gives correlation 1 and width 0.
    sample_rate_hz
        Sample rate in Hz.
    spectra
        :func:`mixmaster.spectrum.long_term_spectra` of this same audio, to avoid recomputing it.
    check_finite
        Check for NaN/Inf (skip only when the caller has already done so).
    lr_moments
        The variances of channels 0 and 1 and their covariance (DC removed), if the caller has
        them from its own pass over this same audio (:func:`mixmaster.analyze.analyze` does);
        for mono input, the channel's variance three times.

    Returns
    -------
    ImagingMeasurement

    Raises
    ------
    InputError
        If the audio or sample rate is rejected by :func:`mixmaster.audio.as_audio`.
    """
    audio = as_audio(x, check_finite=check_finite)
    fs = check_sample_rate(sample_rate_hz)
    if spectra is None:
        spectra = long_term_spectra(audio, fs, check_finite=False)
    corr, width = correlation_and_width(*(lr_moments or _lr_moments(audio)))
    band_corr, band_width = band_imaging(spectra)
    return ImagingMeasurement(
        correlation=corr, width=width, band_correlation=band_corr, band_width=band_width
    )

"""Tempo: beats per minute and a confidence, from the periodicity of note onsets.

Method (after Ellis 2007 and Böck & Schedl 2011):

1. **Onset strength.** The channel mean, decimated to about 22 kHz, is cut into Hann frames
   (about 21 ms, hop 10 ms); each frame's power is summed into 24 log-spaced bands between
   30 Hz and 16 kHz or the decimated Nyquist (11-12 kHz at 44.1-192 kHz), compressed with
   ``log(1 + E / mean(E))``, and the half-wave rectified frame-to-frame increase (spectral
   flux) is summed over bands. A 1 s moving average is subtracted to remove slow swells.
2. **Periodicity.** The unbiased autocorrelation of that envelope, normalised to 1 at lag 0, is
   evaluated on a 0.1 BPM grid from 60 to 200 BPM as a comb: the mean over the first four
   multiples of each candidate period (only multiples up to half the envelope's length).
3. **Octave errors.** A steady beat is equally periodic at its period and at twice it, so the
   comb score is weighted by a log-normal prior over tempo centred on 120 BPM with a width of
   one octave (the preferred-tempo region found by Moelants 2002); half or double tempo wins
   only when its periodicity is clearly stronger.
4. **Precision.** The chosen period is refined to a fraction of a frame by parabolic
   interpolation of the autocorrelation peak at every multiple of it that fits, weighted by
   the multiple.

The confidence is the comb score at the chosen tempo (the average normalised autocorrelation at
its multiples), clipped to [0, 1]: near 0 for noise, above ~0.3 for a steady beat.

References
----------
D. P. W. Ellis, "Beat tracking by dynamic programming", J. New Music Research 36(1), 2007.
S. Böck, M. Schedl, "Enhanced beat tracking with context-aware neural networks", DAFx 2011.
D. Moelants, "Preferred tempo reconsidered", ICMPC 2002.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mixmaster.audio import as_audio, check_sample_rate
from mixmaster.spectrum import hann_window, hop_frames

FloatArray = npt.NDArray[np.float64]

MIN_TEMPO_BPM = 60.0
MAX_TEMPO_BPM = 200.0
MIN_DURATION_S = 3.0
"""Shorter audio gets no tempo (``nan``, confidence 0): too few beats to measure a period."""

ENVELOPE_RATE_HZ = 100.0
ANALYSIS_RATE_HZ = 22_050
"""The channel mean is decimated by ``sample_rate_hz // ANALYSIS_RATE_HZ`` before framing."""
PRIOR_CENTRE_BPM = 120.0
PRIOR_WIDTH_OCT = 1.0
COMB_MULTIPLES = 4
TEMPO_GRID_STEP_BPM = 0.1
_N_BANDS = 24
_BAND_LOW_HZ = 30.0
_BAND_HIGH_HZ = 16_000.0
_BATCH_FRAMES = 512  # 2 MB of float64 frames per FFT batch: stays in cache


@dataclass(frozen=True)
class TempoEstimate:
    """A tempo estimate.

    Attributes
    ----------
    tempo_bpm
        Beats per minute in [60, 200], or ``nan`` when there is no usable onset envelope
        (silence, or audio shorter than :data:`MIN_DURATION_S`).
    confidence
        In [0, 1]: how periodic the onsets are at that tempo (0 when ``tempo_bpm`` is ``nan``).
    """

    tempo_bpm: float
    confidence: float


def _mono_decimated_into(
    out: npt.NDArray[np.float32], audio: npt.NDArray[np.floating[Any]], first: int, factor: int
) -> None:
    """Fill ``out`` with the channel mean from decimated sample ``first`` on, box-car averaged
    over ``factor`` samples and decimated by ``factor``.

    The box-car is a crude anti-alias filter; what aliases keeps its timing, which is all the
    onset envelope needs. Strided float32 adds over one batch's span of the input: cheap, and no
    full-length mono copy of the track.
    """
    channels = audio.shape[0]
    start = first * factor
    stop = start + out.shape[0] * factor
    for ch in range(channels):
        for phase in range(factor):
            part = audio[ch, start + phase : stop : factor]
            if ch == 0 and phase == 0:
                np.copyto(out, part, casting="unsafe")
            else:
                np.add(out, part, out=out, casting="unsafe")
    out *= np.float32(1.0 / (channels * factor))


def onset_envelope(
    x: npt.ArrayLike, sample_rate_hz: float, *, check_finite: bool = True
) -> tuple[FloatArray, float]:
    """Return the spectral-flux onset strength of ``x`` and its frame rate in Hz.

    The channel mean is decimated to about 22-24 kHz (:data:`ANALYSIS_RATE_HZ`), cut into Hann
    frames of about 21 ms every 10 ms, and reduced to band energies whose compressed increase
    is summed (see the module docstring).

    Parameters
    ----------
    x
        Audio shaped ``(channels, samples)``; never modified. Channels are averaged.
    sample_rate_hz
        Sample rate in Hz.
    check_finite
        Check for NaN/Inf (skip only when the caller has already done so).

    Returns
    -------
    tuple
        ``(envelope, frame_rate_hz)``; the envelope has one value per frame transition
        (empty for audio shorter than two frames).

    Raises
    ------
    InputError
        If the audio or sample rate is rejected by :func:`mixmaster.audio.as_audio`.
    """
    audio = as_audio(x, check_finite=check_finite)
    fs = check_sample_rate(sample_rate_hz)
    factor = max(1, fs // ANALYSIS_RATE_HZ)
    rate_hz = fs / factor
    hop = max(1, round(rate_hz / ENVELOPE_RATE_HZ))
    frame_rate_hz = rate_hz / hop
    frame_len = 1 << math.ceil(math.log2(2 * hop))
    if audio.shape[1] // factor < frame_len + hop:
        return np.zeros(0), frame_rate_hz
    n_frames = (audio.shape[1] // factor - frame_len) // hop + 1
    window = hann_window(frame_len)

    # Bands are contiguous runs of bins: sum each run of the interleaved (re², im²) spectrum
    # with reduceat (a 0/1 matrix product would call threaded BLAS, which stalls when busy).
    freqs_hz = np.arange(frame_len // 2 + 1) * (rate_hz / frame_len)
    edges_hz = np.geomspace(_BAND_LOW_HZ, min(_BAND_HIGH_HZ, rate_hz / 2.0), _N_BANDS + 1)
    band_of_bin = np.searchsorted(edges_hz, freqs_hz, side="right") - 1
    inside = np.flatnonzero((band_of_bin >= 0) & (band_of_bin < _N_BANDS))
    first_bin, stop_bin = int(inside[0]), int(inside[-1]) + 1
    bands = band_of_bin[first_bin:stop_bin]
    run_starts = np.flatnonzero(np.diff(bands, prepend=-1))  # where a (non-empty) band begins
    band_ids = bands[run_starts]

    # One batch of frames at a time: its span of the decimated mono signal, the windowed
    # frames (float64: numpy's FFT is faster in float64 than in float32) and their spectra
    # live in buffers reused from batch to batch (about 3 MB, in cache; no page faults).
    batch_frames = min(_BATCH_FRAMES, n_frames)
    mono = np.empty((batch_frames - 1) * hop + frame_len, dtype=np.float32)
    windowed = np.empty((batch_frames, frame_len), dtype=np.float64)
    spec = np.empty((batch_frames, frame_len // 2 + 1), dtype=np.complex128)
    energies = np.empty((n_frames, _N_BANDS), dtype=np.float32)
    energies[:, np.setdiff1d(np.arange(_N_BANDS), band_ids)] = 0.0  # bands without a bin
    for first in range(0, n_frames, batch_frames):
        rows = min(batch_frames, n_frames - first)
        span = mono[: (rows - 1) * hop + frame_len]
        _mono_decimated_into(span, audio, first * hop, factor)
        frames = hop_frames(span, frame_len, hop, 0, rows)
        np.multiply(frames, window, out=windowed[:rows], dtype=np.float64)
        np.fft.rfft(windowed[:rows], axis=-1, out=spec[:rows])
        re_im = spec[:rows].view(np.float64)[:, 2 * first_bin : 2 * stop_bin]
        np.square(re_im, out=re_im)
        energies[first : first + rows, band_ids] = np.add.reduceat(re_im, 2 * run_starts, axis=1)
    mean_energy = float(np.mean(energies, dtype=np.float64))
    if mean_energy <= 0.0:
        return np.zeros(n_frames - 1), frame_rate_hz
    compressed = np.divide(energies, np.float32(mean_energy), out=energies)
    np.log1p(compressed, out=compressed)
    flux = np.empty(n_frames - 1)
    rise = np.empty((_BATCH_FRAMES, _N_BANDS), dtype=np.float32)
    for first in range(0, n_frames - 1, _BATCH_FRAMES):
        stop = min(first + _BATCH_FRAMES, n_frames - 1)
        step = np.subtract(
            compressed[first + 1 : stop + 1], compressed[first:stop], out=rise[: stop - first]
        )
        np.maximum(step, 0.0, out=step)
        np.sum(step, axis=1, dtype=np.float64, out=flux[first:stop])
    return flux, frame_rate_hz


def _subtract_moving_average(envelope: FloatArray, size: int) -> FloatArray:
    """Return ``envelope`` minus its centred moving average over ``size`` frames (edges held)."""
    half = size // 2
    padded = np.pad(envelope, (half, size - 1 - half), mode="edge")
    cumsum = np.concatenate(([0.0], np.cumsum(padded)))
    return np.asarray(envelope - (cumsum[size:] - cumsum[:-size]) / size, dtype=np.float64)


def _autocorrelation(envelope: FloatArray) -> FloatArray:
    """Unbiased autocorrelation normalised to 1 at lag 0 (zeros if the envelope is flat)."""
    m = envelope.size
    # Zero-padded to a power of two >= 2m: a linear (not circular) autocorrelation, and a fast
    # FFT length (2m itself may have a large prime factor, which pocketfft handles ~10x slower).
    nfft = 1 << (2 * m - 1).bit_length()
    spec = np.fft.rfft(envelope, n=nfft)
    acf = np.fft.irfft(spec.real**2 + spec.imag**2, n=nfft)[:m]
    if acf[0] <= 0.0:
        return np.zeros(m)
    return np.asarray(acf / acf[0] * (m / (m - np.arange(m))), dtype=np.float64)


def _refine_lag(acf: FloatArray, lag: float) -> float:
    """Refine a period (in frames) by parabolic peak interpolation at each multiple that fits."""
    m = acf.size
    estimates: list[float] = []
    weights: list[float] = []
    for k in range(1, max(1, int((m // 2) // lag)) + 1):
        centre = round(k * lag)
        lo, hi = max(1, centre - 2), min(m - 2, centre + 2)
        if hi < lo:
            break
        j = lo + int(np.argmax(acf[lo : hi + 1]))
        y0, y1, y2 = acf[j - 1], acf[j], acf[j + 1]
        curvature = y0 - 2.0 * y1 + y2
        offset = 0.5 * (y0 - y2) / curvature if curvature < 0.0 else 0.0
        estimates.append((j + max(-0.5, min(0.5, offset))) / k)
        weights.append(float(k))
    if not estimates:
        return lag
    refined = float(np.average(estimates, weights=weights))
    # A refinement that strays from the comb's choice latched on to a neighbouring peak.
    return refined if abs(refined - lag) <= 0.05 * lag else lag


def estimate_tempo(
    x: npt.ArrayLike, sample_rate_hz: float, *, check_finite: bool = True
) -> TempoEstimate:
    """Estimate the tempo of ``x`` in BPM, with a confidence.

    Parameters
    ----------
    x
        Audio shaped ``(channels, samples)``; never modified.
    sample_rate_hz
        Sample rate in Hz.
    check_finite
        Check for NaN/Inf (skip only when the caller has already done so).

    Returns
    -------
    TempoEstimate
        ``tempo_bpm`` in [60, 200] (``nan`` for silence or audio shorter than 3 s) and a
        confidence in [0, 1].

    Raises
    ------
    InputError
        If the audio or sample rate is rejected by :func:`mixmaster.audio.as_audio`.
    """
    audio = as_audio(x, check_finite=check_finite)
    fs = check_sample_rate(sample_rate_hz)
    if audio.shape[1] < MIN_DURATION_S * fs:
        return TempoEstimate(tempo_bpm=math.nan, confidence=0.0)
    envelope, frame_rate_hz = onset_envelope(audio, fs, check_finite=False)
    envelope = _subtract_moving_average(envelope, max(1, round(frame_rate_hz)))
    acf = _autocorrelation(envelope)
    if not np.any(acf):
        return TempoEstimate(tempo_bpm=math.nan, confidence=0.0)

    m = acf.size
    n_grid = round((MAX_TEMPO_BPM - MIN_TEMPO_BPM) / TEMPO_GRID_STEP_BPM) + 1
    grid_bpm = np.linspace(MIN_TEMPO_BPM, MAX_TEMPO_BPM, n_grid)
    lags = 60.0 * frame_rate_hz / grid_bpm
    lag_axis = np.arange(m, dtype=np.float64)
    total = np.zeros(n_grid)
    count = np.zeros(n_grid)
    for k in range(1, COMB_MULTIPLES + 1):
        fits = k * lags <= m / 2
        total[fits] += np.interp(k * lags[fits], lag_axis, acf)
        count[fits] += 1.0
    comb = np.where(count > 0, total / np.maximum(count, 1.0), -np.inf)
    prior = np.exp(-0.5 * (np.log2(grid_bpm / PRIOR_CENTRE_BPM) / PRIOR_WIDTH_OCT) ** 2)
    best = int(np.argmax(np.where(comb > 0, comb * prior, comb)))
    if not np.isfinite(comb[best]):
        return TempoEstimate(tempo_bpm=math.nan, confidence=0.0)
    lag = _refine_lag(acf, float(lags[best]))
    tempo_bpm = min(MAX_TEMPO_BPM, max(MIN_TEMPO_BPM, 60.0 * frame_rate_hz / lag))
    confidence = min(1.0, max(0.0, float(comb[best])))
    return TempoEstimate(tempo_bpm=tempo_bpm, confidence=confidence)

"""Test signals, generated in code (no binary fixtures).

Every generator returns a float64 array shaped ``(channels, samples)``. Levels are given in dBFS
of the sine's peak (``amplitude = 10 ** (level_dbfs / 20)``), as EBU Tech 3341 states them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Audio = npt.NDArray[np.float64]


def sine(
    frequency_hz: float,
    level_dbfs: float,
    duration_s: float,
    sample_rate_hz: int,
    channels: int = 2,
    phase_deg: float = 0.0,
) -> Audio:
    """A sine of peak level ``level_dbfs`` on every channel."""
    n = round(duration_s * sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    amp = 10.0 ** (level_dbfs / 20.0)
    one = amp * np.sin(2 * np.pi * frequency_hz * t + np.deg2rad(phase_deg))
    return np.tile(one, (channels, 1))


def sine_sequence(
    segments: list[tuple[float, float]],
    sample_rate_hz: int,
    frequency_hz: float = 1000.0,
    channels: int = 2,
) -> Audio:
    """Concatenate 1 kHz (by default) sine segments given as ``(level_dbfs, duration_s)``.

    The phase runs on continuously across segments, as in the EBU test files.
    """
    total = sum(round(d * sample_rate_hz) for _, d in segments)
    t = np.arange(total) / sample_rate_hz
    carrier = np.sin(2 * np.pi * frequency_hz * t)
    gains = np.concatenate(
        [np.full(round(d * sample_rate_hz), 10.0 ** (lvl / 20.0)) for lvl, d in segments]
    )
    return np.tile(carrier * gains, (channels, 1))


def silence(duration_s: float, sample_rate_hz: int, channels: int = 2) -> Audio:
    """Digital silence."""
    return np.zeros((channels, round(duration_s * sample_rate_hz)))


def white_noise(
    level_dbfs_rms: float, duration_s: float, sample_rate_hz: int, channels: int = 2, seed: int = 0
) -> Audio:
    """Independent Gaussian white noise per channel at the given RMS level."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate_hz)
    return rng.standard_normal((channels, n)) * 10.0 ** (level_dbfs_rms / 20.0)


def pink_noise(
    level_dbfs_rms: float, duration_s: float, sample_rate_hz: int, channels: int = 2, seed: int = 0
) -> Audio:
    """Pink (1/f power) noise per channel, shaped in the frequency domain, at the given RMS."""
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate_hz)
    spec = np.fft.rfft(rng.standard_normal((channels, n)), axis=1)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate_hz)
    f[0] = f[1] if n > 1 else 1.0
    spec /= np.sqrt(f)
    x = np.fft.irfft(spec, n=n, axis=1)
    x /= np.sqrt(np.mean(x**2)) + 1e-30
    return x * 10.0 ** (level_dbfs_rms / 20.0)


def programme(
    duration_s: float,
    sample_rate_hz: int,
    channels: int = 2,
    tempo_bpm: float = 120.0,
    level_dbfs_rms: float = -20.0,
    seed: int = 0,
) -> Audio:
    """Music-like material: a kick on every beat, a hat on off-beats, a bass line and a pad.

    Deterministic for a given seed; stereo channels differ (panned parts plus decorrelated
    ambience), so correlation is high but below 1.
    """
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    beat_s = 60.0 / tempo_bpm
    out = np.zeros((channels, n))

    # Kick: a decaying 55 Hz sine with a pitch drop, on every beat.
    kick_len = round(0.25 * sample_rate_hz)
    kt = np.arange(kick_len) / sample_rate_hz
    kick = np.sin(2 * np.pi * (50 * kt + 60 * (1 - np.exp(-kt * 30)) / 30)) * np.exp(-kt * 14)
    # Hat: a burst of high-passed noise, on every off-beat.
    hat_len = round(0.05 * sample_rate_hz)
    hat = np.diff(rng.standard_normal(hat_len + 1)) * np.exp(-np.arange(hat_len) / hat_len * 6)
    mono = np.zeros(n)
    beat = 0
    while (start := round(beat * beat_s * sample_rate_hz)) < n:
        end = min(n, start + kick_len)
        mono[start:end] += 0.9 * kick[: end - start]
        off = start + round(0.5 * beat_s * sample_rate_hz)
        if off < n:
            e2 = min(n, off + hat_len)
            mono[off:e2] += 0.25 * hat[: e2 - off]
        beat += 1
    # Bass: a slow line on A1/D2/E2, and a pad: three detuned partials per chord tone.
    notes_hz = np.array([55.0, 73.42, 82.41, 55.0])
    bar = np.floor(t / (4 * beat_s)).astype(int) % len(notes_hz)
    bass = 0.35 * np.sin(2 * np.pi * np.cumsum(notes_hz[bar]) / sample_rate_hz)
    pad = np.zeros(n)
    for k, mult in enumerate((4.0, 5.04, 6.0, 8.0)):
        pad += 0.06 * np.sin(2 * np.pi * np.cumsum(notes_hz[bar] * mult) / sample_rate_hz + k)
    mono += bass
    for ch in range(channels):
        pan = 0.5 + 0.3 * np.sin(ch * np.pi / max(1, channels - 1) - np.pi / 2)
        ambience = 0.02 * rng.standard_normal(n)
        out[ch] = mono + pad * (2 * pan) + ambience
    rms = np.sqrt(np.mean(out**2))
    return out * (10.0 ** (level_dbfs_rms / 20.0) / rms)


def tilted_noise(
    tilt_db_per_oct: float,
    level_dbfs_rms: float,
    duration_s: float,
    sample_rate_hz: int,
    channels: int = 2,
    seed: int = 0,
) -> Audio:
    """Noise whose ⅓-octave band levels slope by ``tilt_db_per_oct`` (0 = pink, +3 ≈ white).

    Shaped in the frequency domain around 1 kHz and limited to 20 Hz-20 kHz: a smooth, music-like
    long-term spectrum (mastered music reads about -1.5 dB/oct in ⅓-octave bands). Channels are
    independent.
    """
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate_hz)
    spec = np.fft.rfft(rng.standard_normal((channels, n)), axis=1)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate_hz)
    f[0] = f[1] if n > 1 else 1.0
    spec *= f**-0.5 * 10.0 ** (tilt_db_per_oct * np.log2(f / 1000.0) / 20.0)
    spec[:, (f < 20.0) | (f > 20_000.0)] = 0.0  # the audio band only
    x = np.fft.irfft(spec, n=n, axis=1)
    x /= np.sqrt(np.mean(x**2)) + 1e-30
    return x * 10.0 ** (level_dbfs_rms / 20.0)

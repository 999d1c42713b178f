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


# --- EBU Tech 3341 / 3342 test cases (appended for the meter's tests) ---------------------------

EBU3341_LOUDNESS_CASES: dict[int, float] = {
    1: -23.0,
    2: -33.0,
    3: -23.0,
    4: -23.0,
    5: -23.0,
    6: -23.0,
}
"""Tech 3341 integrated-loudness cases and their expected reading, LUFS (each ±0.1 LU)."""


def ebu3341_case(case: int, sample_rate_hz: int) -> Audio:
    """EBU Tech 3341 (2016) Table 1, cases 1-6, 9 and 11: 1 kHz sine tones, phase continuous.

    Stereo (the same tone on both channels) except case 6, which is 5.0 (L R C Ls Rs at
    -28 / -28 / -24 / -30 / -30 dBFS). Cases 9 and 11 are the short-term / momentary cases:
    five repeats of (-20 dBFS 1.34 s, -30 dBFS 1.66 s), and 25 repeats of (-20 dBFS 0.18 s,
    -30 dBFS 0.22 s).
    """
    sequences: dict[int, list[tuple[float, float]]] = {
        1: [(-23.0, 20.0)],
        2: [(-33.0, 20.0)],
        3: [(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)],
        4: [(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)],
        5: [(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)],
        9: [(-20.0, 1.34), (-30.0, 1.66)] * 5,
        11: [(-20.0, 0.18), (-30.0, 0.22)] * 25,
    }
    if case == 6:
        levels_dbfs = np.array([-28.0, -28.0, -24.0, -30.0, -30.0])
        tone = sine(1000.0, 0.0, 20.0, sample_rate_hz, channels=1)
        return tone * (10.0 ** (levels_dbfs / 20.0))[:, None]
    if case not in sequences:
        raise ValueError(f"no generator for Tech 3341 case {case}")
    return sine_sequence(sequences[case], sample_rate_hz)


EBU3341_TRUE_PEAK_CASES: dict[int, tuple[float, float, float, float]] = {
    15: (4.0, 0.5, 0.0, -6.0),
    16: (4.0, 0.5, 45.0, -6.0),
    17: (6.0, 0.5, 60.0, -6.0),
    18: (8.0, 0.5, 67.5, -6.0),
    19: (4.0, 1.41, 45.0, 3.0),
}
"""Tech 3341 true-peak cases: (fs divisor, amplitude, phase in degrees, expected dBTP)."""


def ebu3341_true_peak_case(
    case: int, sample_rate_hz: int, duration_s: float = 1.0, fade_s: float = 0.01
) -> Audio:
    """EBU Tech 3341 cases 15-19: a stereo sine at fs/4, fs/6 or fs/8 with a given phase.

    The tone is faded in and out over ``fade_s`` (half a Hann window) so that what is measured is
    the steady-state intersample peak the case is about; an abrupt start or end has an
    overshoot of its own (up to ~9 % for a full-scale step), which is tested separately.
    """
    divisor, amplitude, phase_deg, _expected = EBU3341_TRUE_PEAK_CASES[case]
    n = round(duration_s * sample_rate_hz)
    k = np.arange(n)
    one = amplitude * np.sin(2 * np.pi * k / divisor + np.deg2rad(phase_deg))
    m = round(fade_s * sample_rate_hz)
    if m > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(m) + 0.5) / m)
        one[:m] *= ramp
        one[n - m :] *= ramp[::-1]
    return np.tile(one, (2, 1))


EBU3342_CASES: dict[int, tuple[list[float], float]] = {
    1: ([-20.0, -30.0], 10.0),
    2: ([-20.0, -15.0], 5.0),
    3: ([-40.0, -20.0], 20.0),
    4: ([-50.0, -35.0, -20.0, -35.0, -50.0], 15.0),
}
"""Tech 3342 LRA cases: (1 kHz stereo tone levels in dBFS, 20 s each; expected LRA in LU)."""


def ebu3342_case(case: int, sample_rate_hz: int) -> Audio:
    """EBU Tech 3342 Table 1, cases 1-4: 1 kHz stereo tones of 20 s at the given levels."""
    levels, _expected = EBU3342_CASES[case]
    return sine_sequence([(level, 20.0) for level in levels], sample_rate_hz)


def band_noise(
    low_hz: float,
    high_hz: float,
    level_dbfs_rms: float,
    duration_s: float,
    sample_rate_hz: int,
    channels: int = 2,
    seed: int = 0,
) -> Audio:
    """Independent Gaussian noise per channel, brick-wall band-limited to [low_hz, high_hz).

    Shaped in the frequency domain (bins outside the band zeroed), then scaled to the RMS level.
    """
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate_hz)
    spec = np.fft.rfft(rng.standard_normal((channels, n)), axis=1)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate_hz)
    spec[:, (f < low_hz) | (f >= high_hz)] = 0.0
    x = np.fft.irfft(spec, n=n, axis=1)
    x /= np.sqrt(np.mean(x**2)) + 1e-30
    return x * 10.0 ** (level_dbfs_rms / 20.0)


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


def square_wave(
    frequency_hz: float,
    level_dbfs: float,
    duration_s: float,
    sample_rate_hz: int,
    channels: int = 2,
) -> Audio:
    """A naive (not band-limited) square wave of peak ``level_dbfs``, starting at full level.

    Its abrupt edges ring when reconstructed: true peak well above the sample peak.
    """
    n = round(duration_s * sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    one = np.where(np.sin(2 * np.pi * frequency_hz * t + 1e-9) >= 0.0, 1.0, -1.0)
    return np.tile(one * 10.0 ** (level_dbfs / 20.0), (channels, 1))


def clipped_drums(
    duration_s: float,
    sample_rate_hz: int,
    channels: int = 2,
    tempo_bpm: float = 120.0,
    drive_lin: float = 4.0,
    seed: int = 0,
) -> Audio:
    """Drum-like noise bursts driven by ``drive_lin`` into a hard clip at full scale (±1).

    A burst of decaying noise (plus a low thump) on every beat; with ``drive_lin`` > 1 the
    peaks are flat-topped at exactly ±1.0, the worst case for intersample peaks.
    """
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate_hz)
    beat = round(60.0 / tempo_bpm * sample_rate_hz)
    hit = round(0.12 * sample_rate_hz)
    decay = np.exp(-np.arange(hit) / (0.03 * sample_rate_hz))
    thump = np.sin(2 * np.pi * 60.0 * np.arange(hit) / sample_rate_hz)
    out = np.zeros((channels, n))
    for start in range(0, n, beat):
        m = min(hit, n - start)
        burst = rng.standard_normal((channels, m)) * 0.5 + thump[:m]
        out[:, start : start + m] = burst * decay[:m]
    return np.clip(out * drive_lin, -1.0, 1.0)


def sine_bursts(
    duration_s: float,
    sample_rate_hz: int,
    channels: int = 2,
    frequency_hz: float = 1000.0,
    loud_dbfs: float = -6.0,
    quiet_dbfs: float = -40.0,
    period_s: float = 1.0,
    duty: float = 0.1,
) -> Audio:
    """Very dynamic material: short loud sine bursts over a quiet sine (high crest and PLR)."""
    n = round(duration_s * sample_rate_hz)
    t = np.arange(n) / sample_rate_hz
    loud = (t % period_s) < duty * period_s
    gain = np.where(loud, 10.0 ** (loud_dbfs / 20.0), 10.0 ** (quiet_dbfs / 20.0))
    return np.tile(gain * np.sin(2 * np.pi * frequency_hz * t), (channels, 1))


def impulses(
    duration_s: float,
    sample_rate_hz: int,
    channels: int = 2,
    amplitude_lin: float = 4.0,
    count: int = 5,
) -> Audio:
    """Single-sample impulses of alternating sign, evenly spaced, the first and last samples too.

    An impulse's reconstruction is the interpolation filter itself: its overshoot on both sides
    and the abrupt start and end are the test. Channel ``k`` is scaled by ``1 / (k + 1)``.
    """
    n = max(1, round(duration_s * sample_rate_hz))
    one = np.zeros(n)
    where = np.linspace(0, n - 1, count + 2).round().astype(int)
    one[where] = amplitude_lin * np.where(np.arange(where.size) % 2 == 0, 1.0, -1.0)
    return np.stack([one / (k + 1) for k in range(channels)])


def dc_step(
    duration_s: float, sample_rate_hz: int, channels: int = 2, level_lin: float = 1.5
) -> Audio:
    """Silence, then DC at ``level_lin`` from the middle to the end (abrupt step and end)."""
    n = round(duration_s * sample_rate_hz)
    one = np.zeros(n)
    one[n // 2 :] = level_lin
    return np.tile(one, (channels, 1))


def hard_clipped_bursts(
    duration_s: float,
    sample_rate_hz: int,
    channels: int = 2,
    clip_lin: float = 4.0,
    bursts: int = 4,
    seed: int = 0,
) -> Audio:
    """Noise bursts driven far into a hard clip at ``clip_lin`` (flat tops at ±clip_lin).

    Each burst lasts 20 ms and starts abruptly; channels are independent.
    """
    rng = np.random.default_rng(seed)
    n = round(duration_s * sample_rate_hz)
    out = np.zeros((channels, n))
    length = max(1, round(0.02 * sample_rate_hz))
    for k in range(bursts):
        start = k * n // bursts
        m = min(length, n - start)
        out[:, start : start + m] = rng.standard_normal((channels, m)) * 3.0 * clip_lin
    return np.clip(out, -clip_lin, clip_lin)

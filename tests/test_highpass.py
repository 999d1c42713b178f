"""Subsonic high-pass: -3 dB at the cutoff, DC rejected, wet/dry amount, chunking invariants."""

from __future__ import annotations

import numpy as np
import pytest

import signals
from mixmaster.errors import InputError
from mixmaster.highpass import HighpassProcessor, apply_highpass
from mixmaster.params import HighpassParams
from mixmaster.processor import run_whole

RATES = [44_100, 48_000, 96_000]
CHANNELS = [1, 2]


def tone_amplitude(y: np.ndarray, frequency_hz: float, sample_rate_hz: int) -> np.ndarray:
    """Least-squares amplitude of a sine at ``frequency_hz`` in each channel (plus a DC term)."""
    t = np.arange(y.shape[1]) / sample_rate_hz
    basis = np.stack(
        [
            np.sin(2 * np.pi * frequency_hz * t),
            np.cos(2 * np.pi * frequency_hz * t),
            np.ones_like(t),
        ],
        axis=1,
    )
    coef, *_ = np.linalg.lstsq(basis, y.T, rcond=None)
    return np.asarray(np.hypot(coef[0], coef[1]))


def settled_gain_db(x: np.ndarray, y: np.ndarray, frequency_hz: float, fs: int) -> np.ndarray:
    half = x.shape[1] // 2
    ratio = tone_amplitude(y[:, half:], frequency_hz, fs) / tone_amplitude(
        x[:, half:], frequency_hz, fs
    )
    return np.asarray(20 * np.log10(ratio))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("cutoff_hz", [25.0, 80.0])
def test_minus_3_db_at_cutoff_and_flat_in_the_passband(
    fs: int, channels: int, cutoff_hz: float
) -> None:
    params = HighpassParams(cutoff_hz=cutoff_hz)
    x = signals.sine(cutoff_hz, -6.0, 1.0, fs, channels)
    y = apply_highpass(x, fs, params)
    np.testing.assert_allclose(settled_gain_db(x, y, cutoff_hz, fs), -3.01, atol=0.1)
    x = signals.sine(1000.0, -6.0, 0.2, fs, channels)
    y = apply_highpass(x, fs, params)
    np.testing.assert_allclose(settled_gain_db(x, y, 1000.0, fs), 0.0, atol=0.01)


@pytest.mark.parametrize("fs", RATES)
def test_falls_24_db_per_octave_below_cutoff(fs: int) -> None:
    x = signals.sine(20.0, -6.0, 1.0, fs, 1)
    y = apply_highpass(x, fs, HighpassParams(cutoff_hz=80.0))
    # Butterworth order 4, two octaves down: 10·log10(1 + 4^8) = 48.2 dB.
    np.testing.assert_allclose(settled_gain_db(x, y, 20.0, fs), -48.2, atol=0.3)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_rejects_dc(fs: int, channels: int) -> None:
    x = signals.sine(440.0, -20.0, 1.0, fs, channels) + 0.25
    y = apply_highpass(x, fs, HighpassParams(cutoff_hz=25.0))
    assert np.abs(y[:, fs // 2 :].mean(axis=1)).max() < 1e-4


@pytest.mark.parametrize("amount", [0.0, 0.3, 0.5, 1.0])
def test_amount_mixes_wet_and_dry(amount: float) -> None:
    fs = 48_000
    x = signals.programme(0.5, fs, 2)
    wet = apply_highpass(x, fs, HighpassParams(cutoff_hz=60.0))
    y = apply_highpass(x, fs, HighpassParams(cutoff_hz=60.0, amount=amount))
    np.testing.assert_allclose(y, amount * wet + (1 - amount) * x, rtol=0, atol=1e-12)
    if amount == 0.0:
        np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_chunked_equals_one_shot_and_input_is_unchanged(fs: int, channels: int) -> None:
    x = signals.programme(0.5, fs, channels)
    before = x.copy()
    params = HighpassParams(cutoff_hz=40.0, amount=0.8)
    whole = apply_highpass(x, fs, params)
    np.testing.assert_array_equal(x, before)
    assert whole.shape == x.shape and whole.dtype == np.float64
    assert np.isfinite(whole).all()
    proc = HighpassProcessor(fs, channels, params)
    rng = np.random.default_rng(3)
    parts, pos = [], 0
    while pos < x.shape[1]:
        size = int(rng.choice([1, 2, 7, 31, 1009, 8191]))
        parts.append(proc.process(x[:, pos : pos + size]))
        pos += size
    assert np.abs(np.concatenate(parts, axis=1) - whole).max() < 10 ** (-90 / 20)
    assert proc.latency_samples == 0


def test_stats_report_the_level_removed() -> None:
    fs = 48_000
    # DC of 0.1 (power 0.01) plus a sine of peak 0.1 (power 0.005): removing DC is -4.77 dB.
    x = signals.sine(1000.0, -20.0, 0.5, fs, 2) + 0.1
    proc = HighpassProcessor(fs, 2, HighpassParams())
    run_whole(proc, x)
    stats = proc.stats()
    assert stats["cutoff_hz"] == 25.0
    assert stats["level_change_db"] == pytest.approx(10 * np.log10(0.005 / 0.015), abs=0.3)


def test_cutoff_is_clamped_below_nyquist_at_low_rates() -> None:
    # 80 Hz is fine at 8 kHz; the clamp only matters for design frequencies above 0.45 fs.
    y = apply_highpass(signals.white_noise(-20, 0.2, 8_000, 2), 8_000, HighpassParams(cutoff_hz=80))
    assert np.isfinite(y).all()


@pytest.mark.parametrize(
    ("shape", "code"), [((2,), "bad_layout"), ((9, 10), "bad_layout"), ((2, 0), "empty_audio")]
)
def test_bad_audio_raises_input_error(shape: tuple[int, ...], code: str) -> None:
    with pytest.raises(InputError) as err:
        apply_highpass(np.zeros(shape), 48_000, HighpassParams())
    assert err.value.code == code


def test_unsupported_sample_rate_raises_input_error() -> None:
    with pytest.raises(InputError) as err:
        HighpassProcessor(1_000, 2, HighpassParams())
    assert err.value.code == "unsupported_sample_rate"


def test_empty_chunk_returns_empty_instead_of_a_sosfilt_error() -> None:
    # Regression: scipy's sosfilt raised "cannot reshape array of size 0" on a 0-sample chunk.
    proc = HighpassProcessor(48_000, 2, HighpassParams())
    assert proc.process(np.zeros((2, 0))).shape == (2, 0)
    assert proc.process(np.full((2, 3), 0.5)).shape == (2, 3)

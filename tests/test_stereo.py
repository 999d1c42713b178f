"""Stereo image: width per band, mono bass, amount toward neutral, pass-through, chunking."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

import signals
from mixmaster import crossover
from mixmaster.params import StereoParams
from mixmaster.processor import run_whole
from mixmaster.stereo import StereoProcessor, apply_stereo

RATES = [44_100, 48_000, 96_000]


def side_only(frequency_hz: float, fs: int, duration_s: float = 0.5) -> np.ndarray:
    """A sine in anti-phase on L and R: all side, no mid."""
    x = signals.sine(frequency_hz, -12.0, duration_s, fs, 2)
    x[1] *= -1.0
    return x


def mid_side(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return 0.5 * (y[0] + y[1]), 0.5 * (y[0] - y[1])


def settled_rms(v: np.ndarray) -> float:
    return float(np.sqrt(np.mean(v[v.size // 2 :] ** 2)))


@pytest.mark.parametrize("fs", RATES)
def test_width_zero_makes_left_equal_right(fs: int) -> None:
    x = signals.programme(0.5, fs, 2)
    y = apply_stereo(x, fs, StereoParams(low_width=0.0, mid_width=0.0, high_width=0.0))
    np.testing.assert_array_equal(y[0], y[1])
    # ... and with one band and no mono bass the mid passes without any filter.
    np.testing.assert_allclose(y[0], 0.5 * (x[0] + x[1]), atol=1e-15)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize(
    "params",
    [StereoParams(), StereoParams(low_width=0.0, high_width=2.0, mono_below_hz=150.0, amount=0.0)],
    ids=["width-1", "amount-0"],
)
def test_neutral_settings_null_against_the_input(fs: int, params: StereoParams) -> None:
    x = signals.programme(0.5, fs, 2)
    y = apply_stereo(x, fs, params)
    np.testing.assert_array_equal(y, x)
    assert y is not x


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("mono_below_hz", [80.0, 150.0, 300.0])
def test_mono_below_removes_side_content_below_the_frequency(fs: int, mono_below_hz: float) -> None:
    params = StereoParams(mono_below_hz=mono_below_hz)
    low = side_only(mono_below_hz / 4, fs, 1.0)
    _, side = mid_side(apply_stereo(low, fs, params))
    # LR4 high-pass two octaves down: 10·log10(1 + 4^4)·2 = 48.2 dB.
    assert 20 * np.log10(settled_rms(side) / settled_rms(mid_side(low)[1])) < -45.0
    high = side_only(mono_below_hz * 8, fs)
    _, side = mid_side(apply_stereo(high, fs, params))
    assert 20 * np.log10(settled_rms(side) / settled_rms(mid_side(high)[1])) == pytest.approx(
        0.0, abs=0.05
    )


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize(
    ("frequency_hz", "widths"),
    [
        (60.0, (0.5, 1.0, 1.0)),
        (1000.0, (1.0, 1.5, 1.0)),
        (12_000.0, (1.0, 1.0, 2.0)),
        (2000.0, (0.3, 0.8, 1.7)),
    ],
)
def test_side_gain_per_band_follows_the_widths(
    fs: int, frequency_hz: float, widths: tuple[float, float, float]
) -> None:
    params = StereoParams(low_width=widths[0], mid_width=widths[1], high_width=widths[2])
    x = side_only(frequency_hz, fs)
    _, side = mid_side(apply_stereo(x, fs, params))
    # LR4 bands are in phase, so the side gain is the width-weighted sum of band magnitudes.
    mags = [
        abs(signal.sosfreqz(s, worN=[frequency_hz], fs=fs)[1][0])
        for s in crossover.band_sos((250.0, 4000.0), fs)
    ]
    expected = sum(w * m for w, m in zip(widths, mags, strict=True))
    assert settled_rms(side) / settled_rms(mid_side(x)[1]) == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize("fs", RATES)
def test_mid_is_untouched_in_level(fs: int) -> None:
    x = signals.sine(1000.0, -12.0, 0.5, fs, 2)  # L == R: all mid
    params = StereoParams(low_width=0.2, high_width=1.8, mono_below_hz=120.0)
    y = apply_stereo(x, fs, params)
    np.testing.assert_allclose(y[0], y[1], atol=1e-15)
    assert settled_rms(y[0]) == pytest.approx(settled_rms(x[0]), rel=1e-6)


@pytest.mark.parametrize("amount", [0.5, 0.25])
def test_amount_pulls_widths_toward_one_and_mono_frequency_toward_off(amount: float) -> None:
    fs = 48_000
    params = StereoParams(
        low_width=0.0, mid_width=0.0, high_width=0.0, mono_below_hz=200.0, amount=amount
    )
    proc = StereoProcessor(fs, 2, params)
    stats = proc.stats()
    assert stats["widths"] == [1.0 - amount]
    assert stats["mono_below_hz"] == pytest.approx(200.0 * amount)
    x = side_only(1000.0, fs)
    _, side = mid_side(run_whole(proc, x))
    assert settled_rms(side) / settled_rms(mid_side(x)[1]) == pytest.approx(1.0 - amount, rel=1e-3)


def test_tiny_mono_frequency_after_amount_is_off() -> None:
    proc = StereoProcessor(48_000, 2, StereoParams(mono_below_hz=40.0, amount=0.1))
    assert proc.stats()["mono_below_hz"] == 0.0
    assert not proc.active


@pytest.mark.parametrize("channels", [1, 3, 6, 8])
def test_non_stereo_input_passes_unchanged(channels: int) -> None:
    x = signals.programme(0.2, 48_000, channels)
    y = apply_stereo(x, 48_000, StereoParams(low_width=0.0, high_width=2.0, mono_below_hz=120.0))
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize(
    "params",
    [
        StereoParams(low_width=0.5, mid_width=1.2, high_width=1.6, mono_below_hz=100.0),
        StereoParams(low_width=0.7, mid_width=0.7, high_width=1.3),
        StereoParams(mono_below_hz=300.0),
    ],
    ids=["three-bands-mono", "two-bands", "mono-only"],
)
def test_chunked_equals_one_shot_and_input_is_unchanged(fs: int, params: StereoParams) -> None:
    x = signals.programme(0.5, fs, 2)
    before = x.copy()
    whole = apply_stereo(x, fs, params)
    np.testing.assert_array_equal(x, before)
    assert whole.shape == x.shape and np.isfinite(whole).all()
    proc = StereoProcessor(fs, 2, params)
    rng = np.random.default_rng(13)
    parts, pos = [], 0
    while pos < x.shape[1]:
        size = int(rng.choice([1, 2, 5, 11, 331, 5003]))
        parts.append(proc.process(x[:, pos : pos + size]))
        pos += size
    assert np.abs(np.concatenate(parts, axis=1) - whole).max() < 10 ** (-90 / 20)
    assert proc.latency_samples == 0


def test_stats_measure_the_side_level() -> None:
    fs = 48_000
    proc = StereoProcessor(fs, 2, StereoParams(low_width=0.5, mid_width=0.5, high_width=0.5))
    x = signals.white_noise(-20.0, 0.5, fs, 2)  # independent channels: side ≈ mid
    run_whole(proc, x)
    stats = proc.stats()
    assert stats["side_to_mid_in_db"] == pytest.approx(0.0, abs=0.2)
    assert stats["side_to_mid_out_db"] - stats["side_to_mid_in_db"] == pytest.approx(
        -6.02, abs=0.01
    )


@pytest.mark.parametrize("fs", [8_000, 11_025])
def test_crossovers_above_nyquist_are_clamped(fs: int) -> None:
    params = StereoParams(crossover_high_hz=12_000.0, high_width=1.5, low_width=0.8)
    y = apply_stereo(signals.programme(0.3, fs, 2), fs, params)
    assert np.isfinite(y).all()


def test_empty_chunk_returns_empty_instead_of_a_sosfilt_error() -> None:
    # Regression: scipy's sosfilt raised "cannot reshape array of size 0" on a 0-sample chunk.
    proc = StereoProcessor(48_000, 2, StereoParams(low_width=0.5, mono_below_hz=100.0))
    assert proc.process(np.zeros((2, 0))).shape == (2, 0)

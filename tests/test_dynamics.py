"""Multiband compressor: static curve, knee, attack/release, linking, amount, neutral, chunking."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

import signals
from mixmaster import crossover
from mixmaster.dynamics import CompressorProcessor, apply_compressor, gain_reduction_db
from mixmaster.params import CompressorParams
from mixmaster.processor import run_whole

RATES = [44_100, 48_000, 96_000]
CHANNELS = [1, 2]


def all_bands(**kwargs: float) -> dict[str, float]:
    """The same band settings for bands 1-4, e.g. ``all_bands(threshold_db=-20, ratio=4)``."""
    return {f"band{n}_{k}": v for n in range(1, 5) for k, v in kwargs.items()}


def expected_output_db(level_db: float, threshold_db: float, ratio: float, knee_db: float) -> float:
    """The soft-knee static curve, written out independently of the module."""
    over = level_db - threshold_db
    if 2 * over < -knee_db:
        return level_db
    if 2 * over >= knee_db:
        return threshold_db + over / ratio
    return level_db + (1 / ratio - 1) * (over + knee_db / 2) ** 2 / (2 * knee_db)


def steady_peak_db(y: np.ndarray) -> float:
    """Sample peak (dBFS) of the last quarter, where the gain has settled."""
    return float(20 * np.log10(np.abs(y[:, -y.shape[1] // 4 :]).max()))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize(("ratio", "knee_db"), [(4.0, 0.0), (2.0, 6.0), (10.0, 12.0)])
@pytest.mark.parametrize("level_db", [-40.0, -23.0, -20.0, -17.0, -8.0, 0.0])
def test_static_curve_follows_threshold_plus_excess_over_ratio(
    fs: int, channels: int, ratio: float, knee_db: float, level_db: float
) -> None:
    params = CompressorParams(knee_db=knee_db, **all_bands(threshold_db=-20.0, ratio=ratio))
    x = signals.sine(1000.0, level_db, 0.6, fs, channels)
    y = apply_compressor(x, fs, params)
    expected = expected_output_db(level_db, -20.0, ratio, knee_db)
    assert steady_peak_db(y) == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize("knee_db", [6.0, 12.0, 24.0])
def test_knee_is_continuous_and_monotonic(knee_db: float) -> None:
    levels = np.arange(-20.0 - knee_db / 2 - 2, -20.0 + knee_db / 2 + 3, 1.0)
    gr = gain_reduction_db(levels, np.float64(-20.0), np.float64(4.0), knee_db)
    out = levels - gr
    steps = np.diff(out)
    assert (steps > 0).all()  # output rises with input ...
    assert (steps <= 1.0 + 1e-12).all() and (steps >= 0.25 - 1e-12).all()  # ... between 1/R and 1
    assert gr[0] == 0.0 and gr[-1] == pytest.approx((levels[-1] + 20) * 0.75)


def test_gain_reduction_of_silence_is_zero() -> None:
    gr = gain_reduction_db(np.array([-np.inf, -100.0]), np.float64(-20.0), np.float64(4.0), 6.0)
    np.testing.assert_array_equal(gr, [0.0, 0.0])


def gain_reduction_trace_db(x: np.ndarray, y: np.ndarray, fs: int) -> np.ndarray:
    """Gain reduction (dB) per 1 ms window (one period of the 1 kHz test tone)."""
    w = fs // 1000
    m = x.shape[1] // w
    peak_in = np.abs(x[0, : m * w]).reshape(m, w).max(axis=1)
    peak_out = np.abs(y[0, : m * w]).reshape(m, w).max(axis=1)
    return np.asarray(20 * np.log10(peak_in / peak_out))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize(("attack_ms", "release_ms"), [(5.0, 100.0), (20.0, 300.0)])
def test_attack_and_release_time_constants(fs: int, attack_ms: float, release_ms: float) -> None:
    params = CompressorParams(
        knee_db=0.0,
        **all_bands(threshold_db=-30.0, ratio=10.0, attack_ms=attack_ms, release_ms=release_ms),
    )
    x = signals.sine_sequence([(-40.0, 0.3), (-10.0, 0.5), (-40.0, 1.2)], fs)
    gr = gain_reduction_trace_db(x, apply_compressor(x, fs, params), fs)
    full_db = (-10.0 + 30.0) * (1 - 1 / 10.0)  # 18 dB
    # Attack: from the step up at 300 ms, 63 % of the reduction after about one time constant.
    after_up = gr[300:800]
    assert after_up[-50:].mean() == pytest.approx(full_db, abs=0.3)
    t63_ms = int(np.argmax(after_up >= (1 - math.exp(-1)) * full_db))
    assert 0.75 * attack_ms <= t63_ms <= 1.25 * attack_ms + 2
    # Release: from the step down at 800 ms, 37 % left after about one release time constant.
    # (The first milliseconds after the step hold the crossover's transient, not the gain.)
    after_down = gr[800:]
    settle_ms = 20
    t37_ms = settle_ms + int(np.argmax(after_down[settle_ms:] <= math.exp(-1) * full_db))
    assert 0.75 * release_ms <= t37_ms <= 1.25 * release_ms + attack_ms
    assert after_down[-20:].max() < 0.5


@pytest.mark.parametrize("fs", RATES)
def test_linked_detection_gives_every_channel_the_same_gain(fs: int) -> None:
    loud = signals.sine(1000.0, -6.0, 0.6, fs, 1)
    quiet = signals.sine(1000.0, -30.0, 0.6, fs, 1)
    x = np.concatenate([loud, quiet])
    y = apply_compressor(x, fs, CompressorParams(**all_bands(threshold_db=-20.0, ratio=4.0)))
    tail = slice(-x.shape[1] // 4, None)
    gain_db = 20 * np.log10(np.abs(y[:, tail]).max(axis=1) / np.abs(x[:, tail]).max(axis=1))
    assert gain_db[0] == pytest.approx(gain_db[1], abs=0.05)
    assert gain_db[0] < -9.0  # the loud channel drives the reduction of both


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("amount", [0.5, 0.25])
def test_amount_scales_gain_reduction_and_makeup_in_db(
    fs: int, channels: int, amount: float
) -> None:
    params = CompressorParams(
        amount=amount, knee_db=0.0, **all_bands(threshold_db=-20.0, ratio=4.0, makeup_db=4.0)
    )
    x = signals.sine(1000.0, -6.0, 0.6, fs, channels)
    reduction_db = (-6.0 + 20.0) * 0.75
    expected = -6.0 + amount * (4.0 - reduction_db)
    assert steady_peak_db(apply_compressor(x, fs, params)) == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_amount_zero_passes_the_input_unchanged(fs: int, channels: int) -> None:
    x = signals.programme(0.3, fs, channels)
    params = CompressorParams(amount=0.0, **all_bands(threshold_db=-40.0, ratio=8.0))
    np.testing.assert_array_equal(apply_compressor(x, fs, params), x)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("bands", [3, 4])
def test_ratio_one_nulls_against_the_allpassed_input(fs: int, channels: int, bands: int) -> None:
    params = CompressorParams(bands=bands, **all_bands(threshold_db=-40.0, ratio=1.0))
    x = signals.programme(0.3, fs, channels)
    reference = crossover.allpass(x, fs, params.crossovers_hz())
    assert np.abs(apply_compressor(x, fs, params) - reference).max() < 10 ** (-90 / 20)


@pytest.mark.parametrize("fs", RATES)
def test_makeup_alone_adds_its_gain(fs: int) -> None:
    params = CompressorParams(**all_bands(ratio=1.0, makeup_db=3.0))
    x = signals.sine(1000.0, -20.0, 0.3, fs, 2)
    assert steady_peak_db(apply_compressor(x, fs, params)) == pytest.approx(-17.0, abs=0.02)


@pytest.mark.parametrize("fs", RATES)
def test_only_the_band_holding_the_tone_is_compressed(fs: int) -> None:
    # 4 bands; a 10 kHz tone sits in band 4, whose threshold alone is low.
    params = CompressorParams(bands=4, band4_threshold_db=-30.0, band4_ratio=4.0, knee_db=0.0)
    x = signals.sine(10_000.0, -10.0, 0.5, fs, 2)
    proc = CompressorProcessor(fs, 2, params)
    y = run_whole(proc, x)
    # LR4 bands are in phase, so band 3's uncompressed leakage adds to band 4's output.
    mags = [
        abs(signal.sosfreqz(s, worN=[10_000.0], fs=fs)[1][0])
        for s in crossover.band_sos(params.crossovers_hz(), fs)
    ]
    reduction_db = (-10.0 + 20 * np.log10(mags[3]) + 30.0) * (1 - 1 / 4.0)
    expected_lin = 10 ** (-10.0 / 20) * (sum(mags[:3]) + mags[3] * 10 ** (-reduction_db / 20))
    assert steady_peak_db(y) == pytest.approx(20 * np.log10(expected_lin), abs=0.5)
    stats = proc.stats()
    assert stats["bands"] == 4
    assert stats["max_gain_reduction_db"][3] == pytest.approx(reduction_db, abs=0.5)
    assert max(stats["max_gain_reduction_db"][:3]) == 0.0
    assert 0.0 < stats["mean_gain_reduction_db"][3] <= stats["max_gain_reduction_db"][3]


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("bands", [3, 4])
def test_chunked_equals_one_shot_and_input_is_unchanged(fs: int, channels: int, bands: int) -> None:
    params = CompressorParams(
        bands=bands, knee_db=6.0, **all_bands(threshold_db=-30.0, ratio=4.0, makeup_db=2.0)
    )
    x = signals.programme(0.5, fs, channels)
    before = x.copy()
    whole = apply_compressor(x, fs, params)
    np.testing.assert_array_equal(x, before)
    assert whole.shape == x.shape and np.isfinite(whole).all()
    proc = CompressorProcessor(fs, channels, params)
    rng = np.random.default_rng(5)
    parts, pos = [], 0
    while pos < x.shape[1]:
        size = int(rng.choice([1, 2, 3, 13, 23, 509, 7919]))
        parts.append(proc.process(x[:, pos : pos + size]))
        pos += size
    assert np.abs(np.concatenate(parts, axis=1) - whole).max() < 10 ** (-90 / 20)
    assert proc.latency_samples == 0


def test_silence_stays_silent_and_reports_no_reduction() -> None:
    fs = 48_000
    proc = CompressorProcessor(fs, 2, CompressorParams(**all_bands(threshold_db=-60.0)))
    y = run_whole(proc, signals.silence(0.2, fs, 2))
    np.testing.assert_array_equal(y, 0.0)
    assert proc.stats()["max_gain_reduction_db"] == [0.0, 0.0, 0.0]


def test_crossovers_above_nyquist_at_8_khz_are_clamped() -> None:
    params = CompressorParams(bands=4, crossover_mid_hz=5000.0, crossover_high_hz=16000.0)
    proc = CompressorProcessor(8_000, 2, params)
    assert proc.stats()["crossovers_hz"] == [120.0, 3600.0, 3600.0]
    y = run_whole(proc, signals.programme(0.3, 8_000, 2))
    assert np.isfinite(y).all()


@pytest.mark.parametrize("channels", CHANNELS)
def test_empty_chunk_returns_empty_instead_of_a_reduction_error(channels: int) -> None:
    # Regression: a 0-sample chunk failed in sosfilt and in the block-peak reduction.
    proc = CompressorProcessor(48_000, channels, CompressorParams())
    assert proc.process(np.zeros((channels, 0))).shape == (channels, 0)
    x = signals.sine(1000.0, -6.0, 0.01, 48_000, channels)
    np.testing.assert_array_equal(
        proc.process(x), CompressorProcessor(48_000, channels, CompressorParams()).process(x)
    )

"""Saturation: drive 0 nulls, odd harmonics only, bounded output, less aliasing, aligned mix."""

from __future__ import annotations

import numpy as np
import pytest

import signals
from mixmaster.params import SaturationParams
from mixmaster.processor import run_whole
from mixmaster.saturation import (
    SaturationProcessor,
    apply_saturation,
    halfband_taps,
    saturation_residual,
)

RATES = [44_100, 48_000, 96_000]
CHANNELS = [1, 2]


def spectrum_db(y: np.ndarray) -> np.ndarray:
    """Blackman-windowed magnitude spectrum (dB re its maximum) of a 1 s mono signal."""
    s = np.abs(np.fft.rfft(y * np.blackman(y.size)))
    return np.asarray(20 * np.log10(s / s.max() + 1e-300))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize(
    "params",
    [SaturationParams(), SaturationParams(drive_db=12.0, amount=0.0)],
    ids=["drive-0", "amount-0"],
)
def test_neutral_settings_null_against_the_input(
    fs: int, channels: int, params: SaturationParams
) -> None:
    x = signals.programme(0.3, fs, channels, level_dbfs_rms=-6.0)
    proc = SaturationProcessor(fs, channels, params)
    assert proc.latency_samples == 0
    y = run_whole(proc, x)
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_signal_below_the_threshold_is_untouched(fs: int, channels: int) -> None:
    # Threshold at -12 dBFS; a sine peaking at -13 dBFS never reaches it, even between samples.
    x = signals.sine(3000.0, -13.0, 0.3, fs, channels)
    proc = SaturationProcessor(fs, channels, SaturationParams(drive_db=12.0))
    y = run_whole(proc, x)
    assert np.abs(y - x).max() < 10 ** (-90 / 20)
    assert proc.stats()["engaged_fraction"] == 0.0


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("drive_db", [3.0, 12.0])
def test_driven_sine_gains_odd_harmonics_only(fs: int, drive_db: float) -> None:
    x = signals.sine(1000.0, -1.0, 1.0, fs, 1)
    y = apply_saturation(x, fs, SaturationParams(drive_db=drive_db))
    spec = spectrum_db(y[0])  # 1 Hz bins
    assert spec[3000] > -50.0  # third and fifth harmonics clearly present
    assert spec[5000] > -80.0
    for even_hz in (2000, 4000, 6000):
        assert spec[even_hz] < -120.0


@pytest.mark.parametrize("drive_db", [0.5, 6.0, 18.0])
@pytest.mark.parametrize("level_dbfs", [-3.0, 0.0, 20.0, 40.0])
def test_output_is_bounded(drive_db: float, level_dbfs: float) -> None:
    fs = 48_000
    threshold = 10 ** (-drive_db / 20)
    x = signals.sine(100.0, level_dbfs, 0.3, fs, 2)
    y = apply_saturation(x, fs, SaturationParams(drive_db=drive_db))
    assert np.isfinite(y).all()
    # The curve's ceiling is 1.5 × threshold; filter ripple on a 40 dB overload adds < 35 %.
    assert np.abs(y).max() <= 2.0 * threshold
    if level_dbfs <= 0.0:
        assert np.abs(y).max() <= max(1.55 * threshold, np.abs(x).max())


@pytest.mark.parametrize("fs", RATES)
def test_oversampling_reduces_aliasing(fs: int) -> None:
    # 5 kHz driven 6 dB into the curve: harmonics above Nyquist fold back below 18 kHz.
    drive_db = 6.0
    x = signals.sine(5000.0, -1.0, 1.0, fs, 1)
    y = apply_saturation(x, fs, SaturationParams(drive_db=drive_db))[0]
    naive = x[0] + saturation_residual(x[0], 10 ** (-drive_db / 20))
    f = np.fft.rfftfreq(fs, 1 / fs)
    harmonic = np.zeros(f.size, dtype=bool)
    for k in range(1, 60):
        if k * 5000 < fs / 2:
            harmonic[k * 5000 - 5 : k * 5000 + 6] = True
    audible = (f > 10) & (f < 18_000) & ~harmonic
    alias_db = spectrum_db(y)[audible].max()
    naive_db = spectrum_db(naive)[audible].max()
    assert alias_db < -60.0
    assert alias_db < naive_db - 15.0


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("amount", [0.25, 0.5, 0.8])
def test_wet_dry_mix_is_linear_and_phase_aligned(fs: int, amount: float) -> None:
    x = signals.programme(0.5, fs, 2, level_dbfs_rms=-8.0)
    full = apply_saturation(x, fs, SaturationParams(drive_db=9.0))
    part = apply_saturation(x, fs, SaturationParams(drive_db=9.0, amount=amount))
    np.testing.assert_allclose(part - x, amount * (full - x), rtol=0, atol=1e-12)
    # Phase-aligned: the wet path differs from the dry only where the curve engaged, so the
    # difference is small next to the signal (a misaligned mix would leave the whole signal).
    assert np.sqrt(np.mean((full - x) ** 2)) < 0.3 * np.sqrt(np.mean(x**2))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_chunked_equals_one_shot_and_input_is_unchanged(fs: int, channels: int) -> None:
    params = SaturationParams(drive_db=8.0, amount=0.7)
    x = signals.programme(0.5, fs, channels, level_dbfs_rms=-10.0)
    before = x.copy()
    whole = apply_saturation(x, fs, params)
    np.testing.assert_array_equal(x, before)
    assert whole.shape == x.shape and np.isfinite(whole).all()
    proc = SaturationProcessor(fs, channels, params)
    rng = np.random.default_rng(17)
    parts, pos = [], 0
    while pos < x.shape[1]:
        size = int(rng.choice([1, 2, 3, 29, 1021, 4093]))
        parts.append(proc.process(x[:, pos : pos + size]))
        pos += size
    lat = proc.latency_samples
    assert lat == 23
    tail = proc.process(np.zeros((channels, lat)))
    chunked = np.concatenate([*parts, tail], axis=1)[:, lat:]
    assert np.abs(chunked - whole).max() < 10 ** (-90 / 20)
    assert 0.0 < proc.stats()["engaged_fraction"] < 1.0


def test_halfband_filter_is_a_halfband() -> None:
    taps = halfband_taps()
    centre = taps.size // 2
    assert taps[centre] == 0.5
    offsets = np.arange(taps.size) - centre
    np.testing.assert_array_equal(taps[(offsets % 2 == 0) & (offsets != 0)], 0.0)
    np.testing.assert_allclose(taps, taps[::-1], atol=0)  # linear phase
    assert taps[offsets % 2 == 1].sum() == pytest.approx(0.5, abs=1e-15)
    # Flat to 0.01 dB below 0.19 of the oversampled rate, 74 dB down above 0.305.
    h = np.abs(np.fft.rfft(taps, 1 << 16))
    f = np.fft.rfftfreq(1 << 16)
    assert 20 * np.log10(h[f > 0.305].max()) < -70.0
    assert np.abs(20 * np.log10(h[f < 0.19])).max() < 0.01


def test_residual_is_zero_below_threshold_and_odd() -> None:
    u = np.linspace(-3.0, 3.0, 601)
    r = saturation_residual(u, 0.5)
    np.testing.assert_array_equal(r[np.abs(u) <= 0.5], 0.0)
    np.testing.assert_allclose(r, -r[::-1], atol=0)
    assert np.abs(u + r).max() < 0.75  # f(u) = u + r stays below 1.5 × threshold


@pytest.mark.parametrize("drive_db", [3.0, 9.0])
def test_matches_a_dense_oversampling_reference(drive_db: float) -> None:
    # Straightforward 2x: zero-stuff, filter, curve, filter, keep every other sample. The stage
    # (polyphase, residual only, skipping quiet blocks) must give the same samples.
    fs = 48_000
    x = signals.programme(0.4, fs, 1, level_dbfs_rms=-9.0)[0]
    threshold = 10 ** (-drive_db / 20)
    h = halfband_taps()
    delay = (h.size - 1) // 2  # samples at the base rate
    up = np.zeros(2 * x.size)
    up[::2] = x
    u = 2.0 * np.convolve(up, h)[: up.size]
    w = np.convolve(saturation_residual(u, threshold), h)[: 2 * (x.size + delay)]
    reference = x + w[2 * delay :: 2][: x.size]
    y = apply_saturation(x[None, :], fs, SaturationParams(drive_db=drive_db))[0]
    assert np.abs(y - reference).max() < 1e-12
    assert np.abs(y - x).max() > 1e-3  # the curve did engage


def test_empty_chunk_returns_empty() -> None:
    proc = SaturationProcessor(48_000, 2, SaturationParams(drive_db=6.0))
    assert proc.process(np.zeros((2, 0))).shape == (2, 0)

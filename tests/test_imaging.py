"""Tests for mixmaster.imaging: L/R correlation and width, overall and per band."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.signals import band_noise, pink_noise, programme, silence, white_noise

from mixmaster import imaging as im
from mixmaster.errors import InputError

RATES_HZ = [44_100, 48_000, 96_000]


def _lr(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    return np.stack([left, right])


@pytest.mark.parametrize("fs", RATES_HZ)
@pytest.mark.parametrize(("gain", "corr"), [(1.0, 1.0), (-1.0, -1.0), (0.25, 1.0), (-3.0, -1.0)])
def test_right_is_scaled_left(fs: int, gain: float, corr: float) -> None:
    left = pink_noise(-20.0, 2.0, fs, channels=1)[0]
    m = im.measure_imaging(_lr(left, gain * left), fs)
    # width = 1/2 - cov/(var L + var R) = 1/2 - g/(1 + g²): 0 identical, 1 inverted.
    width = 0.5 - gain / (1.0 + gain**2)
    assert m.correlation == pytest.approx(corr, abs=1e-9)
    assert m.width == pytest.approx(width, abs=1e-9)
    np.testing.assert_allclose(m.band_correlation, corr, atol=1e-6)
    np.testing.assert_allclose(m.band_width, width, atol=1e-6)


@pytest.mark.parametrize("fs", RATES_HZ)
@pytest.mark.parametrize("seed", [0, 1])
def test_independent_noise_is_uncorrelated(fs: int, seed: int) -> None:
    m = im.measure_imaging(white_noise(-20.0, 2.0, fs, seed=seed), fs)
    assert m.correlation == pytest.approx(0.0, abs=0.02)
    assert m.width == pytest.approx(0.5, abs=0.02)
    np.testing.assert_allclose(m.band_correlation, 0.0, atol=0.1)
    np.testing.assert_allclose(m.band_width, 0.5, atol=0.05)


def test_bands_separate_low_mono_from_inverted_highs() -> None:
    fs = 48_000
    low = band_noise(30.0, 200.0, -20.0, 3.0, fs, channels=1, seed=1)[0]
    mid = band_noise(300.0, 1_800.0, -20.0, 3.0, fs, channels=2, seed=2)
    high = band_noise(9_000.0, 20_000.0, -20.0, 3.0, fs, channels=1, seed=3)[0]
    x = _lr(low + mid[0] + high, low + mid[1] - high)
    m = im.measure_imaging(x, fs)
    assert m.band_correlation[0] == pytest.approx(1.0, abs=0.01)
    assert m.band_width[0] == pytest.approx(0.0, abs=0.01)
    assert m.band_correlation[1] == pytest.approx(0.0, abs=0.1)
    assert m.band_correlation[3] == pytest.approx(-1.0, abs=0.01)
    assert m.band_width[3] == pytest.approx(1.0, abs=0.01)
    # 2-8 kHz holds only window leakage (< -120 dB of the total): no content, no reading.
    assert math.isnan(m.band_correlation[2])
    assert math.isnan(m.band_width[2])


@pytest.mark.parametrize("fs", [8_000, 16_000])
def test_band_above_nyquist_is_nan(fs: int) -> None:
    m = im.measure_imaging(white_noise(-20.0, 1.0, fs), fs)
    assert math.isnan(m.band_correlation[3])
    assert math.isnan(m.band_width[3])
    assert all(math.isfinite(v) for v in m.band_correlation[:3])


@pytest.mark.parametrize("fs", RATES_HZ)
def test_mono_reads_correlation_one_width_zero(fs: int) -> None:
    m = im.measure_imaging(pink_noise(-20.0, 1.0, fs, channels=1), fs)
    assert (m.correlation, m.width) == (1.0, 0.0)
    assert m.band_correlation == (1.0, 1.0, 1.0, 1.0)
    assert m.band_width == (0.0, 0.0, 0.0, 0.0)


def test_silence_reads_mono_and_bands_are_undefined() -> None:
    m = im.measure_imaging(silence(1.0, 48_000), 48_000)
    assert (m.correlation, m.width) == (1.0, 0.0)
    assert all(math.isnan(v) for v in m.band_correlation + m.band_width)


def test_one_silent_channel_is_uncorrelated_and_half_wide() -> None:
    x = white_noise(-20.0, 1.0, 48_000)
    x[1] = 0.0
    m = im.measure_imaging(x, 48_000)
    assert (m.correlation, m.width) == (0.0, 0.5)


def test_dc_offset_does_not_change_correlation() -> None:
    fs = 48_000
    x = white_noise(-20.0, 1.0, fs)
    shifted = x + np.array([[0.3], [-0.3]])
    assert im.measure_imaging(shifted, fs).correlation == pytest.approx(
        im.measure_imaging(x, fs).correlation, abs=1e-9
    )


def test_multichannel_uses_front_left_and_right() -> None:
    fs = 48_000
    x = white_noise(-20.0, 1.0, fs, channels=6)
    x[1] = x[0]
    m = im.measure_imaging(x, fs)
    assert (m.correlation, m.width) == (pytest.approx(1.0), pytest.approx(0.0))


def test_programme_is_highly_but_not_fully_correlated() -> None:
    m = im.measure_imaging(programme(4.0, 44_100), 44_100)
    assert 0.8 < m.correlation < 1.0
    assert 0.0 < m.width < 0.2
    assert m.band_correlation[0] > 0.95  # the bass and kick are centred


def test_input_is_not_modified_and_spectra_can_be_reused() -> None:
    from mixmaster.spectrum import long_term_spectra

    fs = 44_100
    x = programme(3.0, fs)
    before = x.copy()
    fresh = im.measure_imaging(x, fs)
    reused = im.measure_imaging(x, fs, long_term_spectra(x, fs))
    np.testing.assert_array_equal(x, before)
    assert fresh == reused


@pytest.mark.parametrize(
    ("var_left", "var_right", "cov", "expected"),
    [
        (0.0, 0.0, 0.0, (1.0, 0.0)),
        (1.0, 0.0, 0.0, (0.0, 0.5)),
        (1.0, 1.0, 1.0 + 1e-12, (1.0, 0.0)),  # rounding past 1 is clipped
        (1.0, 1.0, -1.0 - 1e-12, (-1.0, 1.0)),
        (4.0, 1.0, 1.0, (0.5, 0.3)),
    ],
)
def test_correlation_and_width_formula(
    var_left: float, var_right: float, cov: float, expected: tuple[float, float]
) -> None:
    corr, width = im.correlation_and_width(var_left, var_right, cov)
    assert (corr, width) == (pytest.approx(expected[0]), pytest.approx(expected[1]))


def test_bad_input_raises_input_error() -> None:
    with pytest.raises(InputError) as info:
        im.measure_imaging(np.zeros((9, 100)), 48_000)
    assert info.value.code == "bad_layout"

"""Tests for mixmaster.spectrum: Welch long-term spectra, ⅓-octave levels, tilt and centroid."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.signals import pink_noise, silence, sine, white_noise

from mixmaster import spectrum as sp
from mixmaster.errors import InputError

RATES_HZ = [44_100, 48_000, 96_000]
CENTRES = np.asarray(sp.ISO_THIRD_OCTAVE_CENTRES_HZ)


def test_band_table_is_iso_266_and_contiguous() -> None:
    assert len(sp.ISO_THIRD_OCTAVE_CENTRES_HZ) == 31
    assert sp.ISO_THIRD_OCTAVE_CENTRES_HZ[0] == 20.0
    assert sp.ISO_THIRD_OCTAVE_CENTRES_HZ[17] == 1000.0
    assert sp.ISO_THIRD_OCTAVE_CENTRES_HZ[-1] == 20_000.0
    # Exact base-2 centres round to the nominal labels within 3 % (ISO 266 rounding).
    np.testing.assert_allclose(sp.THIRD_OCTAVE_EXACT_CENTRES_HZ, CENTRES, rtol=0.03)
    # Edges at f·2^(±1/6): each band's upper edge is the next one's lower edge.
    np.testing.assert_allclose(sp.THIRD_OCTAVE_UPPER_HZ[:-1], sp.THIRD_OCTAVE_LOWER_HZ[1:])


@pytest.mark.parametrize("fs", RATES_HZ)
@pytest.mark.parametrize("freq_hz", [100.0, 1000.0, 10_000.0])
def test_sine_energy_lands_in_its_band(fs: int, freq_hz: float) -> None:
    m = sp.measure_spectrum(sine(freq_hz, -6.0, 2.0, fs), fs)
    levels = np.asarray(m.third_octave_db)
    k = sp.ISO_THIRD_OCTAVE_CENTRES_HZ.index(freq_hz)
    assert int(np.nanargmax(levels)) == k
    assert levels[k] == pytest.approx(0.0, abs=0.01)  # essentially all the energy
    others = np.delete(levels, k)
    assert np.all(others[np.isfinite(others)] < -60.0)
    assert m.spectral_centroid_hz == pytest.approx(freq_hz, rel=1e-3)


@pytest.mark.parametrize("fs", RATES_HZ)
def test_pink_noise_is_flat_with_zero_tilt(fs: int) -> None:
    m = sp.measure_spectrum(pink_noise(-20.0, 5.0, fs), fs)
    levels = np.asarray(m.third_octave_db)
    full = fs / 2 >= sp.THIRD_OCTAVE_UPPER_HZ  # bands that do not straddle Nyquist
    deviation = levels[full] - np.mean(levels[full])
    assert np.max(np.abs(deviation)) < 1.5
    assert m.spectral_tilt_db_per_oct == pytest.approx(0.0, abs=0.1)
    # 31 equal bands share the total: about 10·log10(1/31) = -14.9 dB each.
    assert np.median(levels[full]) == pytest.approx(-14.9, abs=0.5)


@pytest.mark.parametrize("fs", RATES_HZ)
def test_white_noise_tilts_three_db_per_octave(fs: int) -> None:
    m = sp.measure_spectrum(white_noise(-20.0, 3.0, fs), fs)
    assert m.spectral_tilt_db_per_oct == pytest.approx(10 * math.log10(2), abs=0.1)


@pytest.mark.parametrize("fs", [8_000, 16_000, 32_000, 44_100])
def test_bands_at_or_above_nyquist_are_nan(fs: int) -> None:
    levels = np.asarray(sp.measure_spectrum(white_noise(-20.0, 1.0, fs), fs).third_octave_db)
    above = fs / 2 <= sp.THIRD_OCTAVE_EXACT_CENTRES_HZ
    assert np.all(np.isnan(levels[above]))
    assert np.all(np.isfinite(levels[~above]))
    # The measured bands' energies add up to the total (0 dB).
    assert 10 * np.log10(np.sum(10 ** (levels[~above] / 10))) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("fs", [8_000, 48_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spectra_obey_parseval(fs: int, dtype: type[np.floating[object]]) -> None:
    x = white_noise(-10.0, 2.0, fs, channels=3).astype(dtype)
    spectra = sp.long_term_spectra(x, fs)
    assert np.sum(spectra.power_mean) == pytest.approx(np.mean(x.astype(np.float64) ** 2), rel=0.01)
    assert spectra.bin_width_hz <= sp.FREQUENCY_RESOLUTION_HZ
    assert spectra.frequencies_hz[-1] == pytest.approx(fs / 2)


def test_long_input_without_overlap_agrees_with_short_input() -> None:
    fs = 8_000
    long_x = white_noise(-20.0, 150.0, fs, channels=1)
    nfft = sp.welch_nfft(fs)
    assert sp.frame_hop(long_x.shape[1], nfft) == nfft  # no overlap: many frames
    assert sp.frame_hop(fs * 5, nfft) == nfft // 2  # 50 % overlap: few frames
    m = sp.measure_spectrum(long_x, fs)
    assert m.spectral_tilt_db_per_oct == pytest.approx(10 * math.log10(2), abs=0.05)
    assert np.sum(sp.long_term_spectra(long_x, fs).power_mean) == pytest.approx(0.01, rel=0.01)


@pytest.mark.parametrize("n_samples", [1, 7, 100, 4_095, 8_192, 8_193, 12_000])
def test_short_and_odd_lengths_are_measured(n_samples: int) -> None:
    fs = 8_000  # nfft 8192: lengths below, at and just above one frame
    x = np.random.default_rng(3).standard_normal((2, n_samples))
    spectra = sp.long_term_spectra(x, fs)
    assert np.all(np.isfinite(spectra.power_mean))
    m = sp.measure_spectrum(x, fs, spectra)
    assert math.isfinite(m.spectral_centroid_hz)
    if n_samples >= 100:  # a Hann frame: Parseval holds up to the window's statistics
        assert np.sum(spectra.power_mean) == pytest.approx(np.mean(x**2), rel=0.3)


def test_tail_frame_covers_the_end() -> None:
    # A burst only in the last few hundred samples, after the regular frame grid ends.
    fs = 8_000
    n = sp.welch_nfft(fs) * 3 + 500
    x = np.zeros((1, n))
    x[0, -400:] = sine(1000.0, -6.0, 400 / fs, fs, channels=1)[0]
    m = sp.measure_spectrum(x, fs)
    assert m.spectral_centroid_hz == pytest.approx(1000.0, rel=0.02)


def test_silence_gives_minus_inf_levels_and_nan_tilt_and_centroid() -> None:
    m = sp.measure_spectrum(silence(1.0, 48_000), 48_000)
    assert all(v == -math.inf for v in m.third_octave_db)
    assert math.isnan(m.spectral_tilt_db_per_oct)
    assert math.isnan(m.spectral_centroid_hz)


def test_levels_are_floored() -> None:
    levels = np.asarray(sp.measure_spectrum(sine(1000.0, 0.0, 1.0, 48_000), 48_000).third_octave_db)
    assert np.nanmin(levels) == sp.BAND_LEVEL_FLOOR_DB


@pytest.mark.parametrize(
    ("lower_hz", "upper_hz"), [(100.0, 200.0), (100.3, 100.9), (0.0, 4_000.0), (3_990.0, 9_000.0)]
)
def test_band_energies_count_partial_bins(lower_hz: float, upper_hz: float) -> None:
    bin_width_hz = 1.0
    power = np.ones(4_001)  # flat: 1 per Hz, bins centred on 0 ... 4000 Hz
    energy = sp.band_energies(power, bin_width_hz, [lower_hz], [upper_hz])
    covered = min(upper_hz, 4_000.5) - max(lower_hz, -0.5)
    assert energy[0] == pytest.approx(covered)


def test_band_energies_of_a_signed_cospectrum_keep_their_sign() -> None:
    # Regression: integrating through the cumulative sum once clipped results at zero, which
    # turned the negative co-spectrum of polarity-inverted channels into "uncorrelated".
    cospectrum = -np.ones(1_001)
    energy = sp.band_energies(cospectrum, 1.0, [10.0, 500.0], [20.0, 600.0])
    np.testing.assert_allclose(energy, [-10.0, -100.0])


def test_input_is_not_modified_and_float32_matches_float64() -> None:
    fs = 44_100
    x = pink_noise(-18.0, 2.0, fs)
    before = x.copy()
    m64 = sp.measure_spectrum(x, fs)
    np.testing.assert_array_equal(x, before)
    m32 = sp.measure_spectrum(x.astype(np.float32), fs)
    np.testing.assert_allclose(m32.third_octave_db, m64.third_octave_db, atol=0.01)


@pytest.mark.parametrize(
    ("x", "fs", "code"),
    [
        (np.zeros(100), 48_000, "bad_layout"),
        (np.zeros((2, 0)), 48_000, "empty_audio"),
        (np.array([[0.0, np.nan]]), 48_000, "non_finite"),
        (np.zeros((2, 100)), 1_000, "unsupported_sample_rate"),
    ],
)
def test_bad_input_raises_input_error(x: np.ndarray, fs: int, code: str) -> None:
    with pytest.raises(InputError) as info:
        sp.measure_spectrum(x, fs)
    assert info.value.code == code


@pytest.mark.parametrize("fs", [44_100, 48_000])
@pytest.mark.parametrize(
    ("layout", "mid_offset_db", "side_offset_db"),
    [("same", 0.0, None), ("inverted", None, 0.0), ("independent", -3.01, -3.01)],
)
def test_mid_and_side_levels(
    fs: int, layout: str, mid_offset_db: float | None, side_offset_db: float | None
) -> None:
    """L = R is all mid, L = -R all side, independent noise splits evenly (-3 dB each)."""
    noise = pink_noise(-20.0, 4.0, fs, channels=2, seed=3)
    x = {
        "same": np.stack([noise[0], noise[0]]),
        "inverted": np.stack([noise[0], -noise[0]]),
        "independent": noise,
    }[layout]
    m = sp.measure_spectrum(x, fs)
    total = np.asarray(m.third_octave_db)
    centres = sp.THIRD_OCTAVE_EXACT_CENTRES_HZ
    use = (centres > 150.0) & (centres < 16_000.0)  # enough bins for a steady noise reading
    for levels, offset in (
        (m.mid_third_octave_db, mid_offset_db),
        (m.side_third_octave_db, side_offset_db),
    ):
        got = np.asarray(levels)
        if offset is None:
            assert np.all(got[use] == sp.BAND_LEVEL_FLOOR_DB)
        else:
            # Random noise: the split is even on average, band by band within its variance.
            assert np.mean(got[use] - total[use]) == pytest.approx(offset, abs=0.15)
            np.testing.assert_allclose(got[use], total[use] + offset, atol=1.0)
    # Mid and side energies sum to the L/R mean in every band.
    both = 10 ** (np.asarray(m.mid_third_octave_db) / 10) + 10 ** (
        np.asarray(m.side_third_octave_db) / 10
    )
    np.testing.assert_allclose(10 * np.log10(both[use]), total[use], atol=0.01)


def test_mono_has_no_side_and_silence_no_levels() -> None:
    m = sp.measure_spectrum(pink_noise(-20.0, 2.0, 48_000, channels=1), 48_000)
    np.testing.assert_allclose(m.mid_third_octave_db, m.third_octave_db, atol=1e-9)
    assert set(m.side_third_octave_db) == {sp.BAND_LEVEL_FLOOR_DB}
    quiet = sp.measure_spectrum(silence(1.0, 48_000), 48_000)
    assert all(v == -math.inf for v in quiet.mid_third_octave_db + quiet.side_third_octave_db)

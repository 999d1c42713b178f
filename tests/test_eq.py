"""Tonal EQ: RBJ peaks and shelves hit their gains, the tilt holds its slope, amount scales dB."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

import signals
from mixmaster import eq
from mixmaster.eq import EqProcessor, apply_eq
from mixmaster.highpass import apply_highpass, highpass_sos
from mixmaster.params import EqParams, HighpassParams

RATES = [44_100, 48_000, 96_000]
CHANNELS = [1, 2]


def tone_amplitude(y: np.ndarray, frequency_hz: float, sample_rate_hz: int) -> np.ndarray:
    """Least-squares amplitude of a sine at ``frequency_hz`` in each channel."""
    t = np.arange(y.shape[1]) / sample_rate_hz
    basis = np.stack(
        [np.sin(2 * np.pi * frequency_hz * t), np.cos(2 * np.pi * frequency_hz * t)], 1
    )
    coef, *_ = np.linalg.lstsq(basis, y.T, rcond=None)
    return np.asarray(np.hypot(coef[0], coef[1]))


def tone_gain_db(params: EqParams, frequency_hz: float, fs: int, channels: int) -> np.ndarray:
    """Gain of the EQ for a steady sine, measured on the second half of 0.5 s."""
    x = signals.sine(frequency_hz, -12.0, 0.5, fs, channels)
    y = apply_eq(x, fs, params)
    half = x.shape[1] // 2
    ratio = tone_amplitude(y[:, half:], frequency_hz, fs) / tone_amplitude(
        x[:, half:], frequency_hz, fs
    )
    return np.asarray(20 * np.log10(ratio))


def impulse_response_db(params: EqParams, fs: int, f_hz: np.ndarray) -> np.ndarray:
    """Magnitude (dB) of the processor's impulse response (2 s) at ``f_hz``."""
    x = signals.silence(2.0, fs, 1)
    x[0, 0] = 1.0
    h = apply_eq(x, fs, params)[0]
    spectrum = np.fft.rfft(h)
    bins = np.fft.rfftfreq(h.size, 1 / fs)
    return np.asarray(np.interp(f_hz, bins, 20 * np.log10(np.abs(spectrum))))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize(
    ("centre_hz", "gain_db", "q"), [(100, 6, 1.0), (1000, 6, 4.0), (6000, -6, 0.7)]
)
def test_peaking_band_gives_its_gain_at_the_centre(
    fs: int, channels: int, centre_hz: float, gain_db: float, q: float
) -> None:
    params = EqParams(peak2_hz=centre_hz, peak2_gain_db=gain_db, peak2_q=q)
    np.testing.assert_allclose(tone_gain_db(params, centre_hz, fs, channels), gain_db, atol=0.1)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("amount", [0.5, 0.25])
def test_amount_scales_gains_in_db(fs: int, channels: int, amount: float) -> None:
    params = EqParams(peak3_hz=2500, peak3_gain_db=6.0, amount=amount)
    np.testing.assert_allclose(tone_gain_db(params, 2500, fs, channels), 6.0 * amount, atol=0.1)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("gain_db", [6.0, -4.5])
def test_low_shelf_plateau_and_half_gain_at_corner(fs: int, channels: int, gain_db: float) -> None:
    corner_hz = 200.0
    params = EqParams(low_shelf_hz=corner_hz, low_shelf_gain_db=gain_db)
    np.testing.assert_allclose(tone_gain_db(params, corner_hz, fs, channels), gain_db / 2, atol=0.1)
    # The plateau: exactly gain_db at DC, within 0.1 dB three octaves below the corner.
    _, h_dc = signal.sosfreqz(eq.low_shelf_sos(corner_hz, gain_db, fs), worN=[0.0], fs=fs)
    assert 20 * np.log10(abs(h_dc[0])) == pytest.approx(gain_db, abs=1e-9)
    np.testing.assert_allclose(tone_gain_db(params, corner_hz / 8, fs, channels), gain_db, atol=0.1)
    np.testing.assert_allclose(tone_gain_db(params, corner_hz * 16, fs, channels), 0.0, atol=0.1)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("gain_db", [4.0, -6.0])
def test_high_shelf_plateau_and_half_gain_at_corner(fs: int, channels: int, gain_db: float) -> None:
    corner_hz = 2000.0
    params = EqParams(high_shelf_hz=corner_hz, high_shelf_gain_db=gain_db)
    np.testing.assert_allclose(tone_gain_db(params, corner_hz, fs, channels), gain_db / 2, atol=0.1)
    _, h_ny = signal.sosfreqz(eq.high_shelf_sos(corner_hz, gain_db, fs), worN=[fs / 2], fs=fs)
    assert 20 * np.log10(abs(h_ny[0])) == pytest.approx(gain_db, abs=1e-9)
    np.testing.assert_allclose(tone_gain_db(params, corner_hz * 8, fs, channels), gain_db, atol=0.1)
    np.testing.assert_allclose(tone_gain_db(params, corner_hz / 16, fs, channels), 0.0, atol=0.1)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("slope_db_per_oct", [3.0, 1.0, -0.5, -3.0])
def test_tilt_holds_a_constant_slope_from_20_hz_to_20_khz(fs: int, slope_db_per_oct: float) -> None:
    top_hz = min(20_000.0, 0.45 * fs)
    f_hz = np.geomspace(20.0, top_hz, 60)
    gain_db = impulse_response_db(EqParams(tilt_db_per_oct=slope_db_per_oct), fs, f_hz)
    octaves = np.log2(f_hz / 1000.0)
    np.testing.assert_allclose(gain_db, slope_db_per_oct * octaves, atol=0.1)
    fitted_slope = np.polyfit(octaves, gain_db, 1)[0]
    assert fitted_slope == pytest.approx(slope_db_per_oct, abs=0.02)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_tilt_pivots_at_1_khz(fs: int, channels: int) -> None:
    params = EqParams(tilt_db_per_oct=2.0)
    np.testing.assert_allclose(tone_gain_db(params, 1000.0, fs, channels), 0.0, atol=0.01)
    np.testing.assert_allclose(tone_gain_db(params, 4000.0, fs, channels), 4.0, atol=0.1)


@pytest.mark.parametrize("fs", [8_000, 11_025, 44_100, 48_000, 96_000, 192_000])
@pytest.mark.parametrize("slope_db_per_oct", [3.0, -3.0, 0.05])
def test_tilt_design_is_stable_and_within_a_tenth_of_a_db(fs: int, slope_db_per_oct: float) -> None:
    sos = eq.tilt_sos(slope_db_per_oct, fs)
    poles = np.concatenate([np.roots(sec[3:]) for sec in sos])
    assert np.abs(poles).max() < 1.0
    f_hz = np.geomspace(20.0, min(20_000.0, 0.45 * fs), 400)
    _, h = signal.sosfreqz(sos, worN=f_hz, fs=fs)
    error_db = 20 * np.log10(np.abs(h)) - slope_db_per_oct * np.log2(f_hz / 1000.0)
    assert np.abs(error_db).max() < 0.1


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize(
    "params",
    [
        EqParams(),
        EqParams(peak1_q=5.0, low_shelf_hz=300.0),
        EqParams(tilt_db_per_oct=2, low_shelf_gain_db=5, amount=0.0),
    ],
    ids=["defaults", "zero-gains", "amount-0"],
)
def test_neutral_settings_pass_the_input_unchanged(
    fs: int, channels: int, params: EqParams
) -> None:
    x = signals.programme(0.3, fs, channels)
    y = apply_eq(x, fs, params)
    np.testing.assert_array_equal(y, x)
    assert y is not x


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_chunked_equals_one_shot_and_input_is_unchanged(fs: int, channels: int) -> None:
    params = EqParams(
        tilt_db_per_oct=-1.0,
        low_shelf_gain_db=3.0,
        high_shelf_gain_db=-2.0,
        peak1_gain_db=4.0,
        peak2_gain_db=-3.0,
        peak3_gain_db=2.0,
        peak4_gain_db=-1.0,
    )
    x = signals.programme(0.5, fs, channels)
    before = x.copy()
    whole = apply_eq(x, fs, params)
    np.testing.assert_array_equal(x, before)
    assert whole.shape == x.shape and np.isfinite(whole).all()
    proc = EqProcessor(fs, channels, params)
    rng = np.random.default_rng(11)
    parts, pos = [], 0
    while pos < x.shape[1]:
        size = int(rng.choice([1, 3, 5, 97, 2003, 6151]))
        parts.append(proc.process(x[:, pos : pos + size]))
        pos += size
    assert np.abs(np.concatenate(parts, axis=1) - whole).max() < 10 ** (-90 / 20)
    assert proc.stats()["sections"] == proc.sos.shape[0] > 0


@pytest.mark.parametrize("fs", [8_000, 16_000, 22_050])
def test_frequencies_above_nyquist_are_clamped_not_nan(fs: int) -> None:
    params = EqParams(
        high_shelf_hz=18_000.0,
        high_shelf_gain_db=6.0,
        peak4_hz=20_000.0,
        peak4_gain_db=6.0,
        peak3_hz=15_000.0,
        peak3_gain_db=-6.0,
        tilt_db_per_oct=3.0,
    )
    sos = eq.eq_sos(params, fs)
    poles = np.concatenate([np.roots(sec[3:]) for sec in sos])
    assert np.abs(poles).max() < 1.0
    y = apply_eq(signals.white_noise(-20, 0.2, fs, 2), fs, params)
    assert np.isfinite(y).all()
    # The peak designed at 0.45 fs still gives its gain there.
    _, h = signal.sosfreqz(eq.peaking_sos(20_000.0, 6.0, 1.0, fs), worN=[0.45 * fs], fs=fs)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(6.0, abs=1e-6)


def test_empty_chunk_returns_empty_instead_of_a_sosfilt_error() -> None:
    # Regression: scipy's sosfilt raised "cannot reshape array of size 0" on a 0-sample chunk.
    proc = EqProcessor(48_000, 2, EqParams(tilt_db_per_oct=1.0))
    assert proc.process(np.zeros((2, 0))).shape == (2, 0)


@pytest.mark.parametrize("channels", CHANNELS)
def test_high_pass_cascaded_into_the_eq_pass_equals_the_two_stages(channels: int) -> None:
    fs = 48_000
    params = EqParams(tilt_db_per_oct=1.0, peak2_gain_db=-3.0)
    x = signals.programme(0.4, fs, channels)
    two_stages = apply_eq(apply_highpass(x, fs, HighpassParams(cutoff_hz=30.0)), fs, params)
    proc = EqProcessor(fs, channels, params, pre_sos=highpass_sos(30.0, fs))
    assert np.abs(proc.process(x) - two_stages).max() < 1e-12

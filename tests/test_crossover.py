"""LR4 band splitting: bands sum to an allpass (flat magnitude), LR4 edges, state across chunks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

import signals
from mixmaster import crossover
from mixmaster.errors import InputError, ParamError

RATES = [44_100, 48_000, 96_000]
CHANNELS = [1, 2]
SPLITS = [(120.0, 5000.0), (120.0, 1000.0, 5000.0), (40.0, 500.0, 16000.0)]


def impulse(sample_rate_hz: int, channels: int, duration_s: float = 0.5) -> np.ndarray:
    x = signals.silence(duration_s, sample_rate_hz, channels)
    x[:, 0] = 1.0
    return x


def magnitude_db(h: np.ndarray) -> np.ndarray:
    return np.asarray(20.0 * np.log10(np.abs(np.fft.rfft(h))))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("split_hz", SPLITS)
def test_sum_of_bands_is_flat_to_a_tenth_of_a_db(
    fs: int, channels: int, split_hz: tuple[float, ...]
) -> None:
    x = impulse(fs, channels)
    bands = crossover.split_bands(x, fs, split_hz)
    assert bands.shape == (len(split_hz) + 1, channels, x.shape[1])
    for ch in range(channels):
        mag = magnitude_db(bands.sum(axis=0)[ch])
        assert np.abs(mag).max() < 0.1
    # ... and the sum is exactly the allpass cascade the module documents.
    np.testing.assert_allclose(
        bands.sum(axis=0), crossover.allpass(x, fs, split_hz), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("split_hz", SPLITS)
def test_bands_are_minus_6_db_at_their_crossovers_and_in_phase(
    fs: int, split_hz: tuple[float, ...]
) -> None:
    bands = crossover.band_sos(split_hz, fs)
    fc = crossover.clamp_frequency_hz(split_hz[0], fs)
    _, h_low = signal.sosfreqz(bands[0], worN=[fc], fs=fs)
    _, h_next = signal.sosfreqz(bands[1], worN=[fc], fs=fs)
    assert 20 * np.log10(abs(h_low[0])) == pytest.approx(-6.02, abs=0.05)
    assert 20 * np.log10(abs(h_next[0])) == pytest.approx(-6.02, abs=0.05)
    # LR4 outputs are in phase at every frequency, so their magnitudes add to 1.
    f = np.geomspace(20.0, 0.45 * fs, 64)
    mags = [np.abs(signal.sosfreqz(s, worN=f, fs=fs)[1]) for s in bands]
    np.testing.assert_allclose(np.sum(mags, axis=0), 1.0, atol=1e-9)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("fc_hz", [40.0, 1000.0, 16000.0])
def test_allpass_section_equals_lr4_lowpass_plus_highpass(fs: int, fc_hz: float) -> None:
    f = np.geomspace(10.0, 0.49 * fs, 200)
    _, lp = signal.sosfreqz(crossover.lr4_lowpass_sos(fc_hz, fs), worN=f, fs=fs)
    _, hp = signal.sosfreqz(crossover.lr4_highpass_sos(fc_hz, fs), worN=f, fs=fs)
    _, ap = signal.sosfreqz(crossover.lr4_allpass_sos(fc_hz, fs), worN=f, fs=fs)
    np.testing.assert_allclose(lp + hp, ap, atol=1e-10)
    np.testing.assert_allclose(np.abs(ap), 1.0, atol=1e-12)


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("channels", CHANNELS)
def test_chunked_split_equals_one_shot(fs: int, channels: int) -> None:
    x = signals.programme(0.3, fs, channels)
    whole = crossover.split_bands(x, fs, (120.0, 1000.0, 5000.0))
    splitter = crossover.BandSplitter(fs, channels, (120.0, 1000.0, 5000.0))
    rng = np.random.default_rng(7)
    parts, pos = [], 0
    while pos < x.shape[1]:
        size = int(rng.choice([1, 2, 3, 17, 257, 4099]))
        parts.append(splitter.split(x[:, pos : pos + size]))
        pos += size
    chunked = np.concatenate(parts, axis=2)
    assert np.abs(chunked - whole).max() < 10 ** (-90 / 20)


def test_split_leaves_input_unchanged_and_finite() -> None:
    x = signals.white_noise(-10.0, 0.2, 48_000, 2)
    before = x.copy()
    bands = crossover.split_bands(x, 48_000, (200.0, 2000.0))
    np.testing.assert_array_equal(x, before)
    assert np.isfinite(bands).all()


@pytest.mark.parametrize("fs", [8_000, 11_025, 22_050])
def test_crossovers_above_nyquist_clamp_to_stable_filters(fs: int) -> None:
    # 5, 6 and 16 kHz cannot exist at these rates: they are designed at 0.45 fs.
    split_hz = (500.0, 5000.0, 6000.0, 16000.0)
    for sos in crossover.band_sos(split_hz, fs):
        poles = np.concatenate([np.roots(sec[3:]) for sec in sos])
        assert np.abs(poles).max() < 1.0
    x = impulse(fs, 1)
    total = crossover.split_bands(x, fs, split_hz).sum(axis=0)
    assert np.isfinite(total).all()
    assert np.abs(magnitude_db(total[0])).max() < 0.1


def test_crossovers_clamped_to_the_same_frequency_do_not_raise_bad_order() -> None:
    # Regression: 5 kHz and 6 kHz both clamp to 3.6 kHz at 8 kHz; that raised "bad_order".
    splitter = crossover.BandSplitter(8_000, 2, (1000.0, 5000.0, 6000.0))
    assert splitter.crossovers_hz == (1000.0, 3600.0, 3600.0)
    assert splitter.split(signals.white_noise(-20, 0.05, 8_000, 2)).shape[0] == 4


@pytest.mark.parametrize(
    ("split_hz", "code"),
    [
        ((1000.0, 500.0), "bad_order"),
        ((0.0, 500.0), "out_of_range"),
        ((float("nan"),), "out_of_range"),
    ],
)
def test_bad_crossovers_raise_param_error(split_hz: tuple[float, ...], code: str) -> None:
    with pytest.raises(ParamError) as err:
        crossover.BandSplitter(48_000, 2, split_hz)
    assert err.value.code == code


@pytest.mark.parametrize("channels", [0, 9])
def test_bad_channel_count_raises_input_error(channels: int) -> None:
    with pytest.raises(InputError) as err:
        crossover.BandSplitter(48_000, channels, (1000.0,))
    assert err.value.code == "bad_layout"


def test_chunk_with_wrong_channel_count_raises_input_error() -> None:
    splitter = crossover.BandSplitter(48_000, 2, (1000.0,))
    with pytest.raises(InputError) as err:
        splitter.split(np.zeros((1, 64)))
    assert err.value.code == "bad_layout"

"""Tests for mixmaster.tempo: BPM within ±1 on music-like material, low confidence on noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.signals import pink_noise, programme, silence, white_noise

from mixmaster import tempo as tp
from mixmaster.errors import InputError


@pytest.mark.parametrize("fs", [44_100, 48_000])
@pytest.mark.parametrize("tempo_bpm", [90.0, 120.0, 128.0, 140.0])
def test_programme_tempo_within_one_bpm(fs: int, tempo_bpm: float) -> None:
    est = tp.estimate_tempo(programme(8.0, fs, tempo_bpm=tempo_bpm), fs)
    assert est.tempo_bpm == pytest.approx(tempo_bpm, abs=1.0)
    assert est.confidence > 0.3


@pytest.mark.parametrize("fs", [22_050, 96_000])
def test_other_rates_are_decimated_to_the_same_grid(fs: int) -> None:
    est = tp.estimate_tempo(programme(8.0, fs, tempo_bpm=128.0, channels=1), fs)
    assert est.tempo_bpm == pytest.approx(128.0, abs=1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("make_noise", [white_noise, pink_noise], ids=["white", "pink"])
def test_noise_has_low_confidence(seed: int, make_noise: object) -> None:
    x = make_noise(-20.0, 8.0, 44_100, seed=seed)  # type: ignore[operator]
    est = tp.estimate_tempo(x, 44_100)
    assert est.confidence < 0.15
    assert tp.MIN_TEMPO_BPM <= est.tempo_bpm <= tp.MAX_TEMPO_BPM


@pytest.mark.parametrize(
    "x", [silence(5.0, 44_100), programme(2.5, 44_100)], ids=["silence", "too-short"]
)
def test_no_tempo_for_silence_or_short_audio(x: np.ndarray) -> None:
    est = tp.estimate_tempo(x, 44_100)
    assert math.isnan(est.tempo_bpm)
    assert est.confidence == 0.0


def test_input_is_not_modified_and_dtype_does_not_matter() -> None:
    fs = 48_000
    x = programme(6.0, fs, tempo_bpm=100.0)
    before = x.copy()
    est64 = tp.estimate_tempo(x, fs)
    np.testing.assert_array_equal(x, before)
    est32 = tp.estimate_tempo(x.astype(np.float32), fs)
    assert est32.tempo_bpm == pytest.approx(est64.tempo_bpm, abs=0.05)


def test_onset_envelope_peaks_on_the_beats() -> None:
    fs = 44_100
    envelope, rate_hz = tp.onset_envelope(programme(4.0, fs, tempo_bpm=120.0), fs)
    assert rate_hz == pytest.approx(100.0, rel=0.01)
    # The strongest onsets are the kicks, every 0.5 s: their frame positions sit on that grid.
    strongest = np.sort(np.argsort(envelope)[-6:])
    phase_s = (strongest / rate_hz) % 0.5
    assert np.all(np.minimum(phase_s, 0.5 - phase_s) < 0.03)


def test_bad_input_raises_input_error() -> None:
    with pytest.raises(InputError) as info:
        tp.estimate_tempo(np.full((2, 200_000), np.inf), 44_100)
    assert info.value.code == "non_finite"

"""Reference mastering (``mixmaster.reference``): the issue's measured criteria and each aspect.

The material is generated: a reference (music-like programme, softly saturated), and a mix made
from it with a known EQ and gain. Mastering the mix against the reference must undo the EQ
(⅓-octave distance over 60 Hz-14 kHz at most 1.0 dB RMS), reach the reference's loudness
(within 0.3 LU) and keep the true peak at or below the ceiling.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

import signals
from mixmaster.analyze import analyze
from mixmaster.decide import decide
from mixmaster.eq import apply_eq
from mixmaster.errors import InputError, ParamError
from mixmaster.loudness import integrated_loudness
from mixmaster.params import EqParams, Intent, MatchAmounts, params_from_dict
from mixmaster.pipeline import master
from mixmaster.reference import decide_reference, match_curves
from mixmaster.spectrum import measure_spectrum, third_octave_distance_db
from mixmaster.truepeak import true_peak_dbtp

MAX_DISTANCE_DB = 1.0
LOUDNESS_TOLERANCE_LU = 0.3
DURATION_S = 15.0

EQS = {
    "bass-heavy, dull": EqParams(
        low_shelf_hz=150.0,
        low_shelf_gain_db=4.0,
        high_shelf_hz=6000.0,
        high_shelf_gain_db=-4.0,
        peak3_hz=2500.0,
        peak3_gain_db=-3.0,
        peak3_q=1.0,
    ),
    "thin, harsh": EqParams(
        tilt_db_per_oct=0.8,
        low_shelf_hz=100.0,
        low_shelf_gain_db=-5.0,
        peak2_hz=400.0,
        peak2_gain_db=3.0,
        peak2_q=1.4,
        peak4_hz=5000.0,
        peak4_gain_db=4.0,
        peak4_q=2.0,
    ),
}


def make_reference(fs: int, channels: int = 2, drive_db: float = 10.0) -> np.ndarray:
    """Programme material pushed into a soft clipper: a dense, loud reference."""
    x = signals.programme(DURATION_S, fs, channels=channels, seed=1)
    return np.tanh(x * 10.0 ** (drive_db / 20.0)) * 0.8


def features(x: np.ndarray, fs: int) -> dict[str, Any]:
    """The feature JSON, through JSON text as the decision layer receives it."""
    out: dict[str, Any] = json.loads(json.dumps(analyze(x, fs).to_json()))
    return out


@pytest.mark.parametrize(
    ("fs", "channels", "eq_name", "ceiling_dbtp"),
    [
        (44_100, 2, "bass-heavy, dull", -1.0),
        (48_000, 2, "thin, harsh", -1.0),
        (44_100, 1, "thin, harsh", -0.3),
    ],
)
def test_matching_undoes_a_known_eq_and_gain(
    fs: int, channels: int, eq_name: str, ceiling_dbtp: float
) -> None:
    reference = make_reference(fs, channels)
    mix = apply_eq(reference, fs, EQS[eq_name]) * 10.0 ** (-6.0 / 20.0)
    ref_features, mix_features = features(reference, fs), features(mix, fs)
    assert (
        third_octave_distance_db(mix_features["third_octave_db"], ref_features["third_octave_db"])
        > 1.5
    )

    intent = Intent(ceiling_dbtp=ceiling_dbtp)
    decision = decide_reference(mix_features, ref_features, intent)
    out = master(mix, fs, decision.params).audio

    distance_db = third_octave_distance_db(
        measure_spectrum(out, fs).third_octave_db, ref_features["third_octave_db"]
    )
    assert distance_db <= MAX_DISTANCE_DB
    reference_lufs = integrated_loudness(reference, fs)
    assert integrated_loudness(out, fs) == pytest.approx(reference_lufs, abs=LOUDNESS_TOLERANCE_LU)
    assert true_peak_dbtp(out, fs) <= ceiling_dbtp
    assert out.shape == mix.shape and np.isfinite(out).all()


def test_a_recipe_reproduces_the_reference_master_bit_for_bit() -> None:
    fs = 44_100
    reference = make_reference(fs)
    mix = apply_eq(reference, fs, EQS["bass-heavy, dull"])
    decision = decide_reference(features(mix, fs), features(reference, fs), Intent())
    recipe = json.loads(json.dumps(decision.to_json()))
    again = params_from_dict(recipe["params"])
    assert again == decision.params
    first = master(mix, fs, decision.params).audio
    np.testing.assert_array_equal(master(mix, fs, again).audio, first)


@pytest.fixture(scope="module")
def pair() -> tuple[dict[str, Any], dict[str, Any]]:
    """(mix, reference) features: the reference louder, denser and narrower than the mix."""
    fs = 44_100
    dry = signals.programme(DURATION_S, fs, seed=2)
    mid, side = (dry[0] + dry[1]) / 2, (dry[0] - dry[1]) / 2
    narrow = np.stack([mid + 0.5 * side, mid - 0.5 * side])  # side 6 dB down
    reference = np.tanh(narrow * 10.0 ** (12.0 / 20.0)) * 0.85
    mix = apply_eq(dry, fs, EQS["thin, harsh"]) * 0.5
    return features(mix, fs), features(reference, fs)


def test_zero_amounts_leave_every_aspect_to_the_rules(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mix, ref = pair
    intent = Intent(style="warm", intensity=0.7)
    rules = decide(mix, intent).params
    p = decide_reference(mix, ref, intent, MatchAmounts(0.0, 0.0, 0.0, 0.0)).params
    assert p.match.amount == 0.0
    assert (p.eq, p.compressor, p.stereo, p.limiter) == (
        rules.eq,
        rules.compressor,
        rules.stereo,
        rules.limiter,
    )
    assert p.loudness.target_lufs == intent.target_lufs


@pytest.mark.parametrize("amount", [0.0, 0.5, 1.0])
def test_loudness_amount_moves_the_target_toward_the_reference(
    pair: tuple[dict[str, Any], dict[str, Any]], amount: float
) -> None:
    mix, ref = pair
    intent = Intent(platform="apple", target_lufs=-16.0)
    p = decide_reference(mix, ref, intent, MatchAmounts(loudness=amount)).params
    want = -16.0 + amount * (ref["integrated_lufs"] + 16.0)
    assert p.loudness.target_lufs == pytest.approx(want, abs=0.01)
    assert p.limiter.ceiling_dbtp == intent.ceiling_dbtp


@pytest.mark.parametrize("amount", [0.25, 1.0])
def test_spectrum_amount_scales_the_match_and_the_rules_eq(
    pair: tuple[dict[str, Any], dict[str, Any]], amount: float
) -> None:
    mix, ref = pair
    rules = decide(mix, Intent()).params
    p = decide_reference(mix, ref, Intent(), MatchAmounts(spectrum=amount)).params
    assert p.match.amount == amount
    assert (p.match.mid_db, p.match.side_db) == match_curves(mix, ref)
    assert p.eq.amount == pytest.approx(rules.eq.amount * (1.0 - amount), abs=1e-3)
    assert max(abs(v) for v in p.match.mid_db) > 2.0  # the EQ of the mix is far from flat


def test_width_follows_the_reference(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """The reference's side is 6 dB down: every band narrows to about half its width."""
    mix, ref = pair
    p = decide_reference(mix, ref, Intent(), MatchAmounts(width=1.0)).params
    assert p.stereo.amount == 1.0
    for width in (p.stereo.mid_width, p.stereo.high_width):
        assert width == pytest.approx(0.5, abs=0.12)
    half = decide_reference(mix, ref, Intent(), MatchAmounts(width=0.5)).params
    assert half.stereo.mid_width == pytest.approx((1.0 + p.stereo.mid_width) / 2, abs=0.01)


def test_dynamics_compress_toward_a_denser_reference(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mix, ref = pair
    assert mix["crest_db"] > ref["crest_db"] + 3.0
    p = decide_reference(mix, ref, Intent(), MatchAmounts(dynamics=1.0)).params
    half = decide_reference(mix, ref, Intent(), MatchAmounts(dynamics=0.5)).params
    assert p.compressor.amount == 1.0
    assert p.compressor.band2_ratio > half.compressor.band2_ratio > 1.0
    assert p.limiter.amount * p.limiter.max_reduction_db >= 6.0


def test_the_decision_is_deterministic_and_explained(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mix, ref = pair
    a = decide_reference(mix, ref, Intent())
    b = decide_reference(json.loads(json.dumps(mix)), json.loads(json.dumps(ref)), Intent())
    assert a == b
    text = " ".join(a.explanation)
    assert "reference" in text and "LUFS" in text and "dBTP" in text
    assert all(s.endswith(".") for s in a.explanation)


def test_bad_or_silent_reference_features_raise_naming_the_reference(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    mix, ref = pair
    with pytest.raises(ParamError) as err:
        decide_reference(mix, {**ref, "width": 3.0}, Intent())
    assert err.value.field == "reference.width"
    silent = features(signals.silence(2.0, 44_100), 44_100)
    with pytest.raises(InputError) as err2:
        decide_reference(mix, silent, Intent())
    assert err2.value.code == "silent_reference"


def test_a_silent_mix_is_left_to_the_rules(pair: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, ref = pair
    silent = features(signals.silence(2.0, 44_100), 44_100)
    decision = decide_reference(silent, ref, Intent())
    assert decision.params == decide(silent, Intent()).params
    assert not decision.params.match.active


def test_distance_reads_tone_not_level() -> None:
    fs = 48_000
    x = signals.pink_noise(-20.0, 4.0, fs)
    a = measure_spectrum(x, fs).third_octave_db
    b = measure_spectrum(x * 0.1, fs).third_octave_db
    assert third_octave_distance_db(a, b) == pytest.approx(0.0, abs=1e-6)
    tilted = apply_eq(x, fs, EqParams(tilt_db_per_oct=1.0))
    c = measure_spectrum(tilted, fs).third_octave_db
    # A 1 dB/oct tilt over 63 Hz-12.5 kHz (7.6 octaves): RMS of a line, 7.6/sqrt(12) dB.
    assert third_octave_distance_db(c, a) == pytest.approx(7.64 / math.sqrt(12), abs=0.15)
    assert math.isnan(third_octave_distance_db([math.nan] * 31, a))


@pytest.mark.parametrize(
    ("mix_fs", "ref_fs", "ref_channels"), [(44_100, 22_050, 2), (48_000, 44_100, 1)]
)
def test_references_of_another_rate_or_layout(mix_fs: int, ref_fs: int, ref_channels: int) -> None:
    """A band-limited or mono reference still gives a valid, finite decision; a mono reference
    makes the mix mono at full width matching."""
    mix = features(signals.programme(8.0, mix_fs, seed=5), mix_fs)
    ref = features(make_reference(ref_fs, ref_channels), ref_fs)
    p = decide_reference(mix, ref, Intent()).params
    assert all(math.isfinite(v) for v in (*p.match.mid_db, *p.match.side_db))
    if ref_channels == 1:
        assert p.stereo.amount == 1.0
        assert max(p.stereo.low_width, p.stereo.mid_width, p.stereo.high_width) < 0.05
    out = master(signals.programme(8.0, mix_fs, seed=5), mix_fs, p).audio
    assert np.isfinite(out).all() and true_peak_dbtp(out, mix_fs) <= -1.0

"""Tests of the rule-based decisions (``mixmaster.decide``)."""

from __future__ import annotations

import copy
import itertools
import json
import math
from typing import Any

import numpy as np
import pytest

import signals
from mixmaster.analyze import analyze, features_schema
from mixmaster.decide import (
    MAX_EQ_DB,
    MAX_TILT_DB_PER_OCT,
    THIRD_OCTAVE_CENTRES_HZ,
    Decision,
    decide,
)
from mixmaster.errors import ParamError
from mixmaster.params import (
    PLATFORM_TARGETS_LUFS,
    STYLES,
    Intent,
    MasteringParams,
    intent_from_dict,
    params_from_dict,
    params_to_dict,
)

FS = 44_100

Features = dict[str, Any]


@pytest.fixture(scope="module")
def programme_features() -> Features:
    """Features of 8 s of generated stereo programme material."""
    return analyze(signals.programme(8.0, FS, channels=2), FS).to_json()


@pytest.fixture(scope="module")
def noise_features() -> Features:
    """Features of 6 s of noise with a smooth, music-like -1.5 dB/oct ⅓-octave spectrum."""
    return analyze(signals.tilted_noise(-1.5, -20.0, 6.0, FS), FS).to_json()


def _with(features: Features, **changes: Any) -> Features:
    out = copy.deepcopy(features)
    out.update(changes)
    return out


def _tilted(features: Features, delta_db_per_oct: float) -> Features:
    """The same features with the spectrum tilted by ``delta_db_per_oct`` (renormalised)."""
    levels = [
        None if v is None else v + delta_db_per_oct * math.log2(f / 1000.0)
        for v, f in zip(features["third_octave_db"], THIRD_OCTAVE_CENTRES_HZ, strict=True)
    ]
    total = sum(10.0 ** (v / 10.0) for v in levels if v is not None)
    offset = 10.0 * math.log10(total)
    renorm = [None if v is None else round(max(-120.0, v - offset), 2) for v in levels]
    tilt = features["spectral_tilt_db_per_oct"] + delta_db_per_oct
    return _with(features, third_octave_db=renorm, spectral_tilt_db_per_oct=round(tilt, 2))


def _eq_db(p: MasteringParams, frequency_hz: float) -> float:
    """Approximate EQ gain at a frequency far from the shelf corners (plateaus, tilt line)."""
    eq = p.eq
    gain = eq.tilt_db_per_oct * math.log2(frequency_hz / 1000.0)
    if frequency_hz < eq.low_shelf_hz / 2:
        gain += eq.low_shelf_gain_db
    if frequency_hz > eq.high_shelf_hz * 1.5:
        gain += eq.high_shelf_gain_db
    return eq.amount * gain


def _compression_strength(p: MasteringParams) -> float:
    """The mid band's slope reduction above threshold, scaled by amount (0 = none)."""
    c = p.compressor
    return c.amount * (1.0 - 1.0 / c.band2_ratio)


# --- validity and intent -----------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("platform", list(PLATFORM_TARGETS_LUFS))
@pytest.mark.parametrize("intensity", [0.0, 0.5, 1.0])
def test_every_style_platform_and_intensity_gives_valid_params(
    programme_features: Features, style: str, platform: str, intensity: float
) -> None:
    intent = intent_from_dict({"platform": platform, "style": style, "intensity": intensity})
    decision = decide(programme_features, intent)
    p = decision.params
    assert params_from_dict(json.loads(json.dumps(params_to_dict(p)))) == p
    assert p.loudness.target_lufs == PLATFORM_TARGETS_LUFS[platform]
    assert p.loudness.amount == 1.0
    assert p.limiter.ceiling_dbtp == -1.0
    # gentle moves: a mastering EQ rarely exceeds ±3 dB
    assert abs(p.eq.tilt_db_per_oct) <= MAX_TILT_DB_PER_OCT + 1e-9
    for f in (31.5, 60.0, 1000.0, 12000.0, 16000.0):
        assert abs(_eq_db(p, f)) <= MAX_EQ_DB + 0.05
    for k in range(1, 5):
        assert -MAX_EQ_DB <= getattr(p.eq, f"peak{k}_gain_db") <= 0.0
    summary = decision.summary()
    assert 0 < len(summary) <= 600
    assert all(s.endswith(".") for s in decision.explanation)


@pytest.mark.parametrize(
    ("intent", "target_lufs", "ceiling_dbtp"),
    [
        ({"target_lufs": -11.5, "ceiling_dbtp": -0.3}, -11.5, -0.3),
        ({"platform": "apple", "ceiling_dbtp": -2.0}, -16.0, -2.0),
        ({"platform": "club", "ceiling_dbtp": -0.1}, -9.0, -0.1),
        ({"target_lufs": -23.0}, -23.0, -1.0),
    ],
)
def test_intent_target_and_ceiling_are_respected(
    programme_features: Features, intent: dict[str, Any], target_lufs: float, ceiling_dbtp: float
) -> None:
    p = decide(programme_features, intent_from_dict(intent)).params
    assert p.loudness.target_lufs == target_lufs
    assert p.limiter.ceiling_dbtp == ceiling_dbtp


def test_deterministic(programme_features: Features) -> None:
    intent = Intent(style="punchy", intensity=0.8)
    first = decide(programme_features, intent)
    again = decide(json.loads(json.dumps(programme_features)), intent)
    assert first == again
    assert first.to_json() == again.to_json()


def test_input_features_are_not_modified(programme_features: Features) -> None:
    before = copy.deepcopy(programme_features)
    decide(programme_features, Intent())
    assert programme_features == before


def test_invalid_features_raise_naming_the_field(programme_features: Features) -> None:
    with pytest.raises(ParamError) as err:
        decide(_with(programme_features, crest_db="high"), Intent())
    assert "crest_db" in (err.value.field or "") + err.value.message


# --- monotonic behaviours ---------------------------------------------------------------------


@pytest.mark.parametrize("style", STYLES)
def test_brighter_input_gets_a_darker_eq(noise_features: Features, style: str) -> None:
    intent = Intent(intensity=0.5, style=style)
    balance = []
    for delta in (-1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5):
        p = decide(_tilted(noise_features, delta), intent).params
        balance.append(_eq_db(p, 12000.0) - _eq_db(p, 60.0))
    assert all(b2 <= b1 + 1e-9 for b1, b2 in itertools.pairwise(balance)), balance
    assert balance[0] > balance[-1] + 3.0, balance


def test_warm_is_darker_than_bright(noise_features: Features) -> None:
    warm = decide(noise_features, Intent(style="warm")).params
    bright = decide(noise_features, Intent(style="bright")).params
    assert _eq_db(warm, 12000.0) - _eq_db(warm, 60.0) < _eq_db(bright, 12000.0) - _eq_db(
        bright, 60.0
    )


def test_higher_crest_gets_more_compression(programme_features: Features) -> None:
    strengths = []
    for crest_db in (6.0, 9.0, 12.0, 15.0, 18.0, 22.0):
        features = _with(programme_features, crest_db=crest_db, loudness_range_lu=3.0)
        strengths.append(_compression_strength(decide(features, Intent()).params))
    assert strengths[0] == 0.0
    assert all(s2 >= s1 for s1, s2 in itertools.pairwise(strengths)), strengths
    assert strengths[-1] > strengths[1] > 0.0


def test_higher_loudness_range_gets_more_compression(programme_features: Features) -> None:
    low = _with(programme_features, crest_db=10.0, loudness_range_lu=3.0)
    high = _with(programme_features, crest_db=10.0, loudness_range_lu=12.0)
    s_low = _compression_strength(decide(low, Intent()).params)
    s_high = _compression_strength(decide(high, Intent()).params)
    assert s_high > s_low


def test_squashed_mix_gets_no_compression(programme_features: Features) -> None:
    features = _with(programme_features, crest_db=7.0, loudness_range_lu=2.5)
    decision = decide(features, Intent(intensity=1.0))
    assert decision.params.compressor.amount == 0.0
    assert any("dense" in s for s in decision.explanation)


@pytest.mark.parametrize("style", ["punchy", "gentle"])
def test_style_dynamics(programme_features: Features, style: str) -> None:
    features = _with(programme_features, crest_db=16.0, loudness_range_lu=8.0)
    base = decide(features, Intent(style="balanced")).params.compressor
    c = decide(features, Intent(style=style)).params.compressor
    if style == "punchy":
        assert c.band2_attack_ms > base.band2_attack_ms
    else:
        assert c.band2_ratio < base.band2_ratio


def test_thresholds_follow_the_measured_level(programme_features: Features) -> None:
    quiet = _with(programme_features, rms_dbfs=-30.0, crest_db=14.0)
    loud = _with(programme_features, rms_dbfs=-14.0, crest_db=14.0)
    cq = decide(quiet, Intent()).params.compressor
    cl = decide(loud, Intent()).params.compressor
    for n in (1, 2, 3):
        diff = getattr(cl, f"band{n}_threshold_db") - getattr(cq, f"band{n}_threshold_db")
        assert diff == pytest.approx(16.0, abs=0.11)


# --- specific rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("frequency_hz", [125.0, 1000.0, 4000.0])
def test_resonance_gets_a_narrow_cut(noise_features: Features, frequency_hz: float) -> None:
    levels = list(noise_features["third_octave_db"])
    i = min(
        range(len(THIRD_OCTAVE_CENTRES_HZ)),
        key=lambda k: abs(THIRD_OCTAVE_CENTRES_HZ[k] - frequency_hz),
    )
    plain = decide(noise_features, Intent()).params.eq
    assert all(getattr(plain, f"peak{k}_gain_db") == 0 for k in range(1, 5))
    levels[i] = levels[i] + 9.0
    p = decide(_with(noise_features, third_octave_db=levels), Intent()).params.eq
    cuts = {
        getattr(p, f"peak{k}_hz"): getattr(p, f"peak{k}_gain_db")
        for k in range(1, 5)
        if getattr(p, f"peak{k}_gain_db") < 0
    }
    assert list(cuts) == [round(THIRD_OCTAVE_CENTRES_HZ[i], 1)], cuts
    assert -MAX_EQ_DB <= next(iter(cuts.values())) < -1.0


def test_decorrelated_bass_is_made_mono(programme_features: Features) -> None:
    bands = list(programme_features["band_correlation"])
    bands[0] = 0.3
    p = decide(_with(programme_features, band_correlation=bands), Intent()).params.stereo
    assert p.amount > 0
    assert 80.0 <= p.mono_below_hz <= 150.0


def test_negative_correlation_narrows_and_warns(programme_features: Features) -> None:
    features = _with(programme_features, correlation=-0.4, width=0.7)
    decision = decide(features, Intent())
    s = decision.params.stereo
    assert s.amount > 0
    assert s.mid_width < 1.0
    assert s.high_width < 1.0
    assert "Warning" in decision.explanation[1]
    assert "phase" in decision.summary()


@pytest.mark.parametrize(("intensity", "wider"), [(0.3, False), (0.9, True)])
def test_near_mono_mix_gets_width_at_higher_intensity(
    programme_features: Features, intensity: float, wider: bool
) -> None:
    features = _with(programme_features, correlation=0.99, width=0.005, band_correlation=[0.99] * 4)
    s = decide(features, Intent(intensity=intensity)).params.stereo
    assert (s.amount > 0 and s.high_width > 1.0) == wider


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("intensity", [0.2, 0.5, 0.9])
def test_saturation_only_for_warm_and_punchy_at_high_intensity(
    programme_features: Features, style: str, intensity: float
) -> None:
    sat = decide(programme_features, Intent(style=style, intensity=intensity)).params.saturation
    engaged = sat.amount > 0 and sat.drive_db > 0
    assert engaged == (style in ("warm", "punchy") and intensity > 0.5)


@pytest.mark.parametrize(
    ("tempo_bpm", "confidence", "release_ms"),
    [(120.0, 0.9, 125.0), (60.0, 0.9, 250.0), (180.0, 0.9, 83.0), (120.0, 0.1, 120.0)],
)
def test_limiter_release_follows_the_tempo(
    programme_features: Features, tempo_bpm: float, confidence: float, release_ms: float
) -> None:
    features = _with(programme_features, tempo_bpm=tempo_bpm, tempo_confidence=confidence)
    p = decide(features, Intent()).params
    assert p.limiter.release_ms == pytest.approx(release_ms, abs=1.0)


def test_no_tempo_gives_the_neutral_release(programme_features: Features) -> None:
    features = _with(programme_features, tempo_bpm=None, tempo_confidence=0.0)
    assert decide(features, Intent()).params.limiter.release_ms == 120.0


def test_clipping_is_warned_about(programme_features: Features) -> None:
    decision = decide(_with(programme_features, clipped_samples=250), Intent())
    assert any("clips" in s for s in decision.explanation)
    assert "clips" in decision.summary()


def test_silence_gives_neutral_params() -> None:
    features = analyze(signals.silence(3.0, FS), FS).to_json()
    intent = Intent(platform="club", target_lufs=-9.0, ceiling_dbtp=-0.5, intensity=1.0)
    decision = decide(features, intent)
    p = decision.params
    for stage in ("highpass", "eq", "compressor", "stereo", "saturation", "loudness", "limiter"):
        assert getattr(p, stage).amount == 0.0, stage
    assert p.loudness.target_lufs == -9.0
    assert p.limiter.ceiling_dbtp == -0.5
    assert "silent" in decision.summary()


def test_near_silence_is_left_alone() -> None:
    x = signals.pink_noise(-62.0, 3.0, FS)
    features = analyze(x, FS).to_json()
    assert features["integrated_lufs"] is not None
    decision = decide(features, Intent())
    assert decision.params.loudness.amount == 0.0
    assert "nearly silent" in decision.summary()


def test_mono_input_turns_the_stereo_stage_off() -> None:
    features = analyze(signals.programme(6.0, FS, channels=1), FS).to_json()
    decision = decide(features, Intent(intensity=1.0))
    assert decision.params.stereo.amount == 0.0
    assert any("mono" in s for s in decision.explanation)


def test_loud_input_is_turned_down(programme_features: Features) -> None:
    features = _with(programme_features, integrated_lufs=-7.5)
    decision = decide(features, Intent())
    assert "turned down" in decision.explanation[0]


# --- explanation ------------------------------------------------------------------------------


def test_explanation_is_plain_text(programme_features: Features) -> None:
    decision = decide(programme_features, Intent(style="warm", intensity=0.9))
    assert decision.explanation
    for sentence in decision.explanation:
        assert sentence[0].isupper()
        assert not any(c in sentence for c in "{}[]_=")
        assert len(sentence) <= 300
    assert "-14.0 LUFS" in decision.explanation[0].replace("−", "-")


@pytest.mark.parametrize("max_chars", [600, 200, 40, 5])
def test_summary_respects_the_length(programme_features: Features, max_chars: int) -> None:
    decision = decide(programme_features, Intent(style="punchy", intensity=1.0))
    summary = decision.summary(max_chars=max_chars)
    assert 0 < len(summary) <= max_chars
    if len(decision.explanation[0]) <= max_chars:
        assert summary.startswith(decision.explanation[0])
    else:
        assert summary.endswith("…")


def test_summary_of_short_explanations_is_all_of_them() -> None:
    d = Decision(MasteringParams(), ("One.", "Two."))
    assert d.summary() == "One. Two."
    assert d.to_json()["explanation"] == ["One.", "Two."]
    assert params_from_dict(d.to_json()["params"]) == MasteringParams()


def test_programme_decision_is_sensible(programme_features: Features) -> None:
    """The generated programme (kick, bass, pad; dynamic) gets compressed and filtered."""
    p = decide(programme_features, Intent()).params
    assert p.highpass.amount == 1.0
    assert 20.0 <= p.highpass.cutoff_hz <= 30.0
    assert np.isfinite(p.compressor.band1_threshold_db)


def _schema_extremes() -> list[tuple[str, Any]]:
    """(key, value) pairs at the bounds of every numeric feature in the shipped schema."""
    schema = features_schema()
    cases: list[tuple[str, Any]] = []
    for key, prop in schema["properties"].items():
        types = prop.get("type")
        types = types if isinstance(types, list) else [types]
        if "number" in types or "integer" in types:
            for bound in ("minimum", "maximum"):
                if bound in prop:
                    cases.append((key, prop[bound]))
            if "null" in types:
                cases.append((key, None))
        elif types == ["array"]:
            items = prop["items"]
            n = prop["minItems"]
            item_types = items.get("type")
            item_types = item_types if isinstance(item_types, list) else [item_types]
            for bound in ("minimum", "maximum"):
                if bound in items:
                    cases.append((key, [items[bound]] * n))
            if "null" in item_types:
                cases.append((key, [None] * n))
    return cases


@pytest.mark.parametrize(("key", "value"), _schema_extremes(), ids=repr)
def test_any_valid_feature_dict_gives_valid_params(
    programme_features: Features, key: str, value: Any
) -> None:
    """Every numeric feature at its schema bounds (and null where allowed): valid params."""
    features = _with(programme_features, **{key: value})
    decision = decide(features, Intent(style="punchy", intensity=1.0))
    p = decision.params
    assert params_from_dict(params_to_dict(p)) == p
    assert decision.explanation
    assert 0 < len(decision.summary()) <= 600


@pytest.mark.parametrize(
    ("fs", "channels", "make"),
    [
        (8_000, 1, lambda fs, ch: signals.programme(4.0, fs, channels=ch)),
        (192_000, 8, lambda fs, ch: signals.pink_noise(-18.0, 1.0, fs, channels=ch)),
        (44_100, 2, lambda fs, ch: signals.sine(1000.0, -6.0, 3.0, fs, channels=ch)),
        (48_000, 2, lambda fs, ch: signals.white_noise(-10.0, 3.0, fs, channels=ch)),
        (44_100, 2, lambda fs, ch: np.clip(signals.programme(4.0, fs, level_dbfs_rms=-3.0), -1, 1)),
    ],
)
def test_analysed_edge_material_gives_valid_params(fs: int, channels: int, make: Any) -> None:
    features = analyze(make(fs, channels), fs).to_json()
    for style in STYLES:
        p = decide(features, Intent(style=style, intensity=0.9)).params
        assert params_from_dict(params_to_dict(p)) == p

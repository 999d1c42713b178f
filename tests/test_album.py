"""Album mode (``mixmaster.album``): one tonal decision, one album gain, relative levels kept.

The issue's measured criteria: relative track loudness kept within 0.5 LU, album loudness on
target within ±0.5 LU, and the true peak of every track at or below the ceiling.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import numpy as np
import pytest

import signals
from mixmaster.album import (
    ALBUM_TOLERANCE_LU,
    RELATIVE_TOLERANCE_LU,
    AlbumPlan,
    album_features,
    album_next_round,
    album_shortfall_db,
    check_album,
    master_in_rounds,
    plan_album,
)
from mixmaster.analyze import analyze, validate_features
from mixmaster.errors import ParamError
from mixmaster.loudness import album_loudness_lufs, integrated_loudness, measure_loudness
from mixmaster.params import Intent, MasteringParams, params_to_dict
from mixmaster.pipeline import master
from mixmaster.truepeak import true_peak_dbtp

Audio = np.ndarray


def tracks(fs: int) -> list[Audio]:
    """Three 10 s tracks of different tempo and level (a quiet ballad between two louder)."""
    return [
        signals.programme(10.0, fs, tempo_bpm=120.0, level_dbfs_rms=-20.0, seed=1),
        signals.programme(10.0, fs, tempo_bpm=84.0, level_dbfs_rms=-27.0, seed=2),
        signals.programme(10.0, fs, tempo_bpm=140.0, level_dbfs_rms=-17.0, seed=3),
    ]


def master_album(
    audio: list[Audio], fs: int, intent: Intent, **kwargs: Any
) -> tuple[AlbumPlan, list[Audio], list[float]]:
    """The sequential album flow: analyse, plan, master; again while a track falls short."""
    features = [json.loads(json.dumps(analyze(x, fs).to_json())) for x in audio]
    album_lufs = album_loudness_lufs([measure_loudness(x, fs).momentary_lufs for x in audio])
    plan, outs = master_in_rounds(
        lambda **round_args: plan_album(
            features, intent, album_lufs=album_lufs, **kwargs, **round_args
        ),
        lambda plan: [master(x, fs, p).audio for x, p in zip(audio, plan.params, strict=True)],
        lambda y: integrated_loudness(y, fs),
    )
    return plan, list(outs), [integrated_loudness(x, fs) for x in audio]


@pytest.mark.parametrize(
    ("fs", "intent"),
    [
        (44_100, Intent()),
        (48_000, Intent(platform="apple", target_lufs=-16.0, ceiling_dbtp=-2.0, style="warm")),
    ],
)
def test_album_keeps_relative_levels_hits_the_target_and_the_ceiling(
    fs: int, intent: Intent
) -> None:
    audio = tracks(fs)
    plan, outs, input_lufs = master_album(audio, fs, intent)
    output_lufs = [integrated_loudness(y, fs) for y in outs]
    album_out = album_loudness_lufs([measure_loudness(y, fs).momentary_lufs for y in outs])
    gains = [o - i for o, i in zip(output_lufs, input_lufs, strict=True)]
    assert max(gains) - min(gains) <= RELATIVE_TOLERANCE_LU
    assert album_out == pytest.approx(intent.target_lufs, abs=ALBUM_TOLERANCE_LU)
    for y in outs:
        assert true_peak_dbtp(y, fs) <= intent.ceiling_dbtp
    check = check_album(plan, input_lufs, output_lufs, album_out)
    assert check.relative_kept and check.on_target
    assert check.relative_spread_lu == pytest.approx(max(gains) - min(gains), abs=1e-9)
    json.dumps(check.to_json(), allow_nan=False)


def test_every_track_gets_the_same_tonal_decisions() -> None:
    fs = 44_100
    audio = tracks(fs)
    features = [analyze(x, fs).to_json() for x in audio]
    plan = plan_album(features, Intent(style="bright", intensity=0.8))
    first = dataclasses.replace(plan.params[0], loudness=MasteringParams().loudness)
    for p in plan.params[1:]:
        assert dataclasses.replace(p, loudness=MasteringParams().loudness) == first
    # One gain for all: the targets differ exactly as the inputs' loudness does.
    diffs = [
        t - f["integrated_lufs"] for t, f in zip(plan.track_targets_lufs, features, strict=True)
    ]
    assert max(diffs) - min(diffs) == pytest.approx(0.0, abs=0.02)
    json.dumps(plan.to_json(), allow_nan=False)


def test_overrides_apply_to_their_track_only() -> None:
    fs = 44_100
    features = [analyze(x, fs).to_json() for x in tracks(fs)]
    overrides = [
        None,
        {"saturation": {"amount": 0.5, "drive_db": 3.0}},
        {"loudness": {"target_lufs": -20.0}},
    ]
    plan = plan_album(features, Intent(), overrides=overrides)
    base = plan_album(features, Intent())
    assert plan.params[0] == base.params[0]
    assert plan.params[1].saturation.drive_db == 3.0
    assert plan.params[1].compressor == base.params[1].compressor
    assert plan.params[2].loudness.target_lufs == -20.0
    assert plan.track_targets_lufs[2] == -20.0
    assert any("override" in s for s in plan.explanation)
    with pytest.raises(ParamError) as err:
        plan_album(features, Intent(), overrides=[None, {"eq": {"tilt_db_per_oct": 9.0}}, None])
    assert err.value.field == "tracks[1].eq.tilt_db_per_oct"
    with pytest.raises(ParamError) as err2:
        plan_album(features, Intent(), overrides=[None])
    assert err2.value.code == "bad_length"


def test_a_shortfall_allows_more_limiting_then_lowers_the_album_gain() -> None:
    fs = 44_100
    features = [analyze(x, fs).to_json() for x in tracks(fs)]
    plan = plan_album(features, Intent())
    reached = [t if t is not None else math.nan for t in plan.track_targets_lufs]
    assert album_shortfall_db(plan, reached) == 0.0
    assert album_next_round(plan, reached) is None
    short = list(reached)
    short[2] -= 0.8
    assert album_shortfall_db(plan, short) == pytest.approx(0.8)
    first = album_next_round(plan, short)
    assert first == pytest.approx({"gain_offset_db": 0.0, "extra_limiting_db": 1.8})
    more = plan_album(features, Intent(), **first)
    cap = plan.params[0].limiter.amount * plan.params[0].limiter.max_reduction_db
    for p in more.params:
        assert p.limiter.amount * p.limiter.max_reduction_db == pytest.approx(cap + 1.8, abs=0.06)
    assert more.track_targets_lufs == plan.track_targets_lufs
    second = album_next_round(more, short)
    assert second == pytest.approx({"gain_offset_db": -0.8, "extra_limiting_db": 1.8})
    lower = plan_album(features, Intent(), **second)
    assert lower.album_gain_db == pytest.approx(plan.album_gain_db - 0.8)
    assert lower.target_lufs == pytest.approx(plan.target_lufs - 0.8)
    assert any("lower than the target" in s for s in lower.explanation)


def test_album_features_validate_and_weigh_by_energy() -> None:
    fs = 44_100
    features = [analyze(x, fs).to_json() for x in tracks(fs)]
    combined = album_features(features)
    assert validate_features(combined) == combined
    assert combined["duration_s"] == pytest.approx(30.0)
    assert combined["true_peak_dbtp"] == max(f["true_peak_dbtp"] for f in features)
    assert combined["tempo_bpm"] is None
    # One track alone: its own spectrum.
    alone = album_features(features[:1])
    assert alone["third_octave_db"] == pytest.approx(features[0]["third_octave_db"], abs=0.01)
    with pytest.raises(ParamError):
        album_features([])
    with pytest.raises(ParamError) as err:
        album_features([features[0], {**features[1], "width": 2.0}])
    assert err.value.field == "tracks[1].width"


def test_a_silent_track_is_left_alone() -> None:
    fs = 44_100
    audio = [*tracks(fs)[:2], signals.silence(3.0, fs)]
    features = [analyze(x, fs).to_json() for x in audio]
    plan = plan_album(features, Intent())
    assert plan.track_targets_lufs[2] is None
    assert plan.params[2].loudness.amount == 0.0
    out = master(audio[2], fs, plan.params[2]).audio
    assert np.max(np.abs(out)) < 2.0**-22  # no gain: only the 24-bit dither's last bits


def test_album_loudness_gates_over_every_tracks_blocks() -> None:
    """A -23 dBFS and a -36 dBFS 1 kHz track: the quiet one falls below the relative gate of the
    pair, as in EBU Tech 3341 case 3, so the album reads -23.0 LUFS, not their mean."""
    fs = 48_000
    loud = signals.sine(1000.0, -23.0, 20.0, fs)
    quiet = signals.sine(1000.0, -36.0, 20.0, fs)
    blocks = [measure_loudness(x, fs).momentary_lufs for x in (loud, quiet)]
    assert album_loudness_lufs(blocks) == pytest.approx(-23.0, abs=0.1)
    both = np.concatenate([loud, quiet], axis=1)
    assert album_loudness_lufs(blocks) == pytest.approx(integrated_loudness(both, fs), abs=0.05)
    assert album_loudness_lufs([]) == -math.inf


def test_plan_round_trips_to_json() -> None:
    fs = 44_100
    features = [analyze(x, fs).to_json() for x in tracks(fs)[:2]]
    d = json.loads(json.dumps(plan_album(features, Intent()).to_json()))
    assert len(d["params"]) == 2
    assert d["params"][0] == params_to_dict(plan_album(features, Intent()).params[0])

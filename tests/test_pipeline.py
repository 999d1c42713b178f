"""Tests of the mastering pipeline (``mixmaster.pipeline``).

Loudness is checked against our BS.1770 meter on the returned audio, true peak against the
4x-oversampled meter on the file as written and read back, both with explicit tolerances.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import signals
from mixmaster import pipeline
from mixmaster.analyze import analyze
from mixmaster.errors import CancelledError, InputError
from mixmaster.loudness import integrated_loudness
from mixmaster.matching import apply_match
from mixmaster.params import (
    MasteringParams,
    MatchParams,
    params_from_dict,
    params_to_dict,
    with_changes,
)
from mixmaster.pipeline import master, prelimiter
from mixmaster.truepeak import true_peak_dbtp
from mixmaster.wavio import read_wav, write_wav

Audio = np.ndarray

TARGET_TOLERANCE_LU = 0.3


def _params(**stages: dict[str, Any]) -> MasteringParams:
    return with_changes(MasteringParams(), **stages)


NEUTRAL = _params(
    highpass={"amount": 0.0},
    eq={"amount": 0.0},
    compressor={"amount": 0.0},
    stereo={"amount": 0.0},
    saturation={"amount": 0.0},
)
"""Every pre-limiter stage bypassed (amount 0)."""

MATERIAL: dict[str, Callable[[int, int], Audio]] = {
    "programme": lambda fs, ch: signals.programme(6.0, fs, channels=ch),
    "pink": lambda fs, ch: signals.pink_noise(-24.0, 5.0, fs, channels=ch),
    "bursts": lambda fs, ch: signals.sine_bursts(6.0, fs, channels=ch, loud_dbfs=-12.0),
    "quiet": lambda fs, ch: signals.programme(6.0, fs, channels=ch, level_dbfs_rms=-48.0),
    "hot": lambda fs, ch: np.clip(
        signals.programme(6.0, fs, channels=ch, level_dbfs_rms=-6.0), -1, 1
    ),
}


def _db(x: float) -> float:
    return 20.0 * math.log10(max(x, 1e-300))


# --- loudness targeting ------------------------------------------------------------------------


@pytest.mark.parametrize("fs", [44_100, 48_000, 96_000])
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("material", ["programme", "pink", "bursts"])
def test_loudness_target_is_met(fs: int, channels: int, material: str) -> None:
    x = MATERIAL[material](fs, channels)
    result = master(x, fs, _params(loudness={"target_lufs": -14.0}))
    measured = integrated_loudness(result.audio, fs)
    assert measured == pytest.approx(-14.0, abs=TARGET_TOLERANCE_LU)
    assert result.report.after.integrated_lufs == pytest.approx(measured, abs=0.01)
    assert result.report.loudness.reached
    assert true_peak_dbtp(result.audio, fs) <= -1.0


@pytest.mark.parametrize(
    ("material", "target_lufs"),
    [("quiet", -14.0), ("hot", -14.0), ("hot", -23.0), ("programme", -9.0), ("pink", -10.0)],
)
def test_quiet_and_hot_material_reach_the_target(material: str, target_lufs: float) -> None:
    fs = 48_000
    x = MATERIAL[material](fs, 2)
    p = _params(loudness={"target_lufs": target_lufs}, limiter={"max_reduction_db": 12.0})
    result = master(x, fs, p)
    assert integrated_loudness(result.audio, fs) == pytest.approx(
        target_lufs, abs=TARGET_TOLERANCE_LU
    )
    assert true_peak_dbtp(result.audio, fs) <= -1.0
    assert result.report.loudness.passes <= pipeline.MAX_LIMITER_PASSES + 1


@pytest.mark.parametrize("fs", [44_100, 48_000])
@pytest.mark.parametrize("target_lufs", [-14.0, -11.0])
def test_dense_loud_material_lands_in_one_limiter_pass(fs: int, target_lufs: float) -> None:
    # Regression: with sample peaks alone the limiter model missed the peaks between samples of
    # dense, soft-clipped material, so the first pass landed short and a second one was needed.
    x = np.tanh(signals.programme(6.0, fs, seed=3) * 5.0) * 0.9
    p = _params(loudness={"target_lufs": target_lufs}, limiter={"max_reduction_db": 12.0})
    result = master(x, fs, p)
    assert result.report.loudness.passes == 1
    assert result.report.loudness.limiting_depth_db > 1.0
    assert integrated_loudness(result.audio, fs) == pytest.approx(
        target_lufs, abs=pipeline.LOUDNESS_TOLERANCE_LU
    )
    assert true_peak_dbtp(result.audio, fs) <= -1.0


def test_unreachable_target_stops_at_the_limiting_cap() -> None:
    fs = 44_100
    x = signals.sine_bursts(8.0, fs, loud_dbfs=-1.0, quiet_dbfs=-30.0, duty=0.3)
    p = _params(
        loudness={"target_lufs": -9.0},
        limiter={"amount": 1.0, "max_reduction_db": 2.0},
    )
    result = master(x, fs, p)
    rep = result.report.loudness
    measured = integrated_loudness(result.audio, fs)
    assert not rep.reached
    assert rep.capped
    assert measured < -9.0 - 1.0
    assert rep.limiting_depth_db <= 2.0 + pipeline.DEPTH_TOLERANCE_DB + 0.1
    assert rep.limiting_depth_db >= 2.0 - 0.5  # it went as far as the cap allows
    assert "not reached" in rep.note
    assert "2.0 dB of limiting" in rep.note
    assert f"{measured:.1f}" in rep.note
    assert true_peak_dbtp(result.audio, fs) <= -1.0


def test_loudness_amount_scales_the_gain() -> None:
    fs = 44_100
    x = signals.pink_noise(-30.0, 5.0, fs)
    before = integrated_loudness(x, fs)
    p = with_changes(NEUTRAL, loudness={"target_lufs": -20.0, "amount": 0.5})
    result = master(x, fs, p)
    expected = before + 0.5 * (-20.0 - before)
    assert integrated_loudness(result.audio, fs) == pytest.approx(expected, abs=0.2)
    assert not result.report.loudness.reached
    assert "50%" in result.report.loudness.note


def test_loudness_amount_zero_keeps_the_level() -> None:
    fs = 48_000
    x = signals.pink_noise(-30.0, 5.0, fs)
    p = with_changes(NEUTRAL, loudness={"amount": 0.0})
    result = master(x, fs, p)
    assert result.report.loudness.gain_db == 0.0
    assert integrated_loudness(result.audio, fs) == pytest.approx(
        integrated_loudness(x, fs), abs=0.01
    )


# --- the ceiling after dither, on the adversarial set ----------------------------------------

ADVERSARIAL: dict[str, Callable[[int], Audio]] = {
    # EBU Tech 3341 case 19 style: fs/4 at 45°, samples at ±1.0, true peak +3 dBTP
    "fs4_45deg": lambda fs: signals.sine(fs / 4, 3.0, 3.0, fs, phase_deg=45.0),
    "square": lambda fs: signals.square_wave(441.0, 0.0, 3.0, fs),
    "clipped_drums": lambda fs: signals.clipped_drums(4.0, fs),
    # a full-scale sine cut mid-cycle at both ends: abrupt first and last samples
    "abrupt_edges": lambda fs: signals.sine(997.0, 0.0, 2.0, fs, phase_deg=90.0),
    "hot_programme": lambda fs: np.clip(signals.programme(4.0, fs, level_dbfs_rms=-4.0), -1.0, 1.0),
}


@pytest.mark.parametrize("name", list(ADVERSARIAL))
@pytest.mark.parametrize(
    ("bits", "ceiling_dbtp"), [("16", -0.1), ("16", -1.0), ("24", -0.1), ("32f", -1.0)]
)
def test_true_peak_of_the_written_file_is_below_the_ceiling(
    tmp_path: Path, name: str, bits: str, ceiling_dbtp: float
) -> None:
    fs = 44_100
    x = ADVERSARIAL[name](fs)
    p = _params(
        loudness={"target_lufs": -9.0},
        limiter={"ceiling_dbtp": ceiling_dbtp, "max_reduction_db": 12.0},
        output={"bits": bits},
    )
    result = master(x, fs, p)
    path = tmp_path / "out.wav"
    write_wav(path, result.audio, fs, bits)  # type: ignore[arg-type]
    back = read_wav(path).samples
    assert np.array_equal(back, result.audio)
    assert true_peak_dbtp(back, fs) <= ceiling_dbtp
    assert result.report.after.true_peak_dbtp <= ceiling_dbtp
    # Reported from the limiter's verification when that is tight enough, else measured.
    assert result.report.after.true_peak_dbtp == pytest.approx(true_peak_dbtp(back, fs), abs=0.01)


@pytest.mark.parametrize("fs", [8_000, 192_000])
def test_true_peak_at_the_rate_extremes(fs: int) -> None:
    x = signals.clipped_drums(2.0, fs)
    result = master(x, fs, _params(loudness={"target_lufs": -10.0}))
    assert true_peak_dbtp(result.audio, fs) <= -1.0


@pytest.mark.parametrize("bits", ["16", "24"])
def test_output_lies_on_the_pcm_grid(bits: str) -> None:
    fs = 44_100
    result = master(signals.programme(3.0, fs), fs, _params(output={"bits": bits}))
    scale = 2.0 ** (int(bits) - 1)
    k = result.audio.astype(np.float64) * scale
    assert np.array_equal(k, np.round(k))


# --- neutrality, invariants --------------------------------------------------------------------


@pytest.mark.parametrize("fs", [44_100, 96_000])
@pytest.mark.parametrize("channels", [1, 2])
def test_neutral_params_null_before_the_limiter(fs: int, channels: int) -> None:
    x = signals.programme(5.0, fs, channels=channels)
    y = prelimiter(x, fs, NEUTRAL)
    assert y.dtype == np.float32
    assert y.shape == x.shape
    assert _db(float(np.max(np.abs(y - x)))) < -90.0


def test_flat_settings_null_before_the_limiter() -> None:
    """Amounts at 1 but every setting flat: EQ gains 0, widths 1, drive 0, no high-pass."""
    fs = 48_000
    x = signals.programme(5.0, fs)
    flat = _params(
        highpass={"amount": 0.0},
        eq={"amount": 1.0},
        compressor={"amount": 0.0},
        stereo={"amount": 1.0, "low_width": 1.0, "mid_width": 1.0, "high_width": 1.0},
        saturation={"amount": 1.0, "drive_db": 0.0},
    )
    y = prelimiter(x, fs, flat)
    assert _db(float(np.max(np.abs(y - x)))) < -90.0


def test_signal_below_the_ceiling_passes_the_neutral_chain() -> None:
    """All stages off, no gain, a quiet signal: the master equals the input (24-bit grid)."""
    fs = 48_000
    x = signals.pink_noise(-30.0, 4.0, fs)
    p = with_changes(NEUTRAL, loudness={"amount": 0.0}, output={"bits": "32f"})
    result = master(x, fs, p)
    assert _db(float(np.max(np.abs(result.audio - x)))) < -90.0


@pytest.mark.parametrize("channels", [1, 2, 8])
def test_shape_rate_and_input_are_preserved(channels: int) -> None:
    fs = 48_000
    x = signals.programme(4.0, fs, channels=channels).astype(np.float32)
    x[:, -1] = 0.123  # odd length and a non-zero last sample
    x = x[:, : x.shape[1] - 7]
    original = x.copy()
    result = master(x, fs, MasteringParams())
    assert np.array_equal(x, original)
    assert result.audio.shape == x.shape
    assert result.audio.dtype == np.float32
    assert np.isfinite(result.audio).all()
    assert result.report.sample_rate_hz == fs
    assert result.report.channels == channels
    assert result.report.samples == x.shape[1]


def test_deterministic_with_the_seed() -> None:
    fs = 44_100
    x = signals.programme(4.0, fs)
    p = _params(output={"bits": "16", "dither_seed": 7})
    a = master(x, fs, p).audio
    b = master(x, fs, p).audio
    c = master(x, fs, with_changes(p, output={"dither_seed": 8})).audio
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("chunk_samples", [4096, 10_007])
def test_chunked_equals_one_shot(chunk_samples: int) -> None:
    fs = 48_000
    x = signals.programme(5.0, fs)
    p = _params(loudness={"target_lufs": -11.0}, output={"bits": "32f"})
    one = master(x, fs, p, chunk_samples=x.shape[1])
    chunked = master(x, fs, p, chunk_samples=chunk_samples)
    assert _db(float(np.max(np.abs(one.audio - chunked.audio)))) < -90.0


def test_in_place_output_matches_the_separate_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long files write the limiter's output into the intermediate buffer: same result."""
    fs = 44_100
    x = signals.programme(5.0, fs)
    p = _params(loudness={"target_lufs": -10.0})
    separate = master(x, fs, p)
    monkeypatch.setattr(pipeline, "SEPARATE_OUTPUT_BYTES", 0)
    in_place = master(x, fs, p)
    assert np.array_equal(separate.audio, in_place.audio)
    assert in_place.report.loudness.passes >= separate.report.loudness.passes


@pytest.mark.parametrize(("in_place", "match"), [(False, False), (True, False), (False, True)])
def test_the_master_is_the_same_with_and_without_the_background_thread(
    monkeypatch: pytest.MonkeyPatch, in_place: bool, match: bool
) -> None:
    """The envelope, meter and output stage take pieces on a second core natively, one at a
    time in order (in Pyodide, at once), and the stages before the compressor take the next
    chunk there while the compressor works: the same master bit for bit, also when the output
    is written into the intermediate (in place) and over the caller's own float32 input. The
    consumers and the EQ are slowed down, so the chain runs on while they hold a piece: the
    piece must not change under them."""
    import threading
    import time

    from mixmaster import background
    from mixmaster.eq import EqProcessor
    from mixmaster.loudness import LoudnessMeter
    from mixmaster.targeting import EnvelopeCollector

    where: list[str] = []
    eq_where: list[str] = []

    def held(consume: Callable[..., Any], names: list[str]) -> Callable[..., Any]:
        def slowly(self: Any, y: np.ndarray) -> Any:
            before = y.copy()
            names.append(threading.current_thread().name)
            time.sleep(0.001)
            assert np.array_equal(y, before), "a piece changed while its consumer held it"
            return consume(self, y)

        return slowly

    monkeypatch.setattr(EnvelopeCollector, "add", held(EnvelopeCollector.add, where))
    monkeypatch.setattr(LoudnessMeter, "process", held(LoudnessMeter.process, where))
    monkeypatch.setattr(EqProcessor, "process", held(EqProcessor.process, eq_where))
    fs = 44_100
    x = signals.programme(5.0, fs).astype(np.float32)
    curve = [round(3.0 * math.sin(0.4 * k), 2) for k in range(31)] if match else [0.0] * 31
    # With a match, it runs ahead on the worker too, and its side FIR then on that same thread.
    p = _params(
        loudness={"target_lufs": -9.0},
        compressor={"amount": 1.0},
        match={"mid_db": curve, "side_db": curve[::-1]},
    )
    if in_place:
        monkeypatch.setattr(pipeline, "SEPARATE_OUTPUT_BYTES", 0)
    monkeypatch.setattr(background, "threads_available", lambda: True)
    threaded = master(x.copy(), fs, p, chunk_samples=4096, overwrite_input=True)
    assert any(name.startswith("mixmaster-background") for name in where)
    assert eq_where and all(name.startswith("mixmaster-background") for name in eq_where)
    eq_where.clear()
    monkeypatch.setattr(background, "threads_available", lambda: False)
    serial = master(x.copy(), fs, p, chunk_samples=4096, overwrite_input=True)
    assert eq_where == ["MainThread"] * len(eq_where)
    assert np.array_equal(threaded.audio, serial.audio)
    assert threaded.report.to_json() == serial.report.to_json()


def test_silence_stays_silent() -> None:
    fs = 44_100
    x = signals.silence(3.0, fs)
    result = master(x, fs, _params(output={"bits": "24", "dither": "none"}))
    assert not result.audio.any()
    rep = result.report
    assert rep.after.integrated_lufs == -math.inf
    assert rep.loudness.gain_db == 0.0
    assert not rep.loudness.reached
    assert "silent" in rep.loudness.note
    json.dumps(rep.to_json(), allow_nan=False)


def test_very_short_input() -> None:
    fs = 48_000
    x = signals.sine(1000.0, -6.0, 0.05, fs)
    result = master(x, fs, MasteringParams())
    assert result.audio.shape == x.shape
    assert true_peak_dbtp(result.audio, fs) <= -1.0


# --- report and progress -----------------------------------------------------------------------


def test_report_is_complete_json() -> None:
    fs = 48_000
    x = signals.programme(5.0, fs)
    result = master(x, fs, MasteringParams())
    d = result.report.to_json()
    text = json.dumps(d, allow_nan=False)
    assert len(text) < 20_000
    assert (
        set(d["before"])
        == set(d["after"])
        == {
            "integrated_lufs",
            "loudness_range_lu",
            "true_peak_dbtp",
            "sample_peak_dbfs",
            "momentary_max_lufs",
            "short_term_max_lufs",
        }
    )
    assert [s["name"] for s in d["stages"]] == [
        "highpass",
        "eq",
        "match",
        "compressor",
        "stereo",
        "saturation",
        "limiter",
    ]
    assert d["before"]["integrated_lufs"] == pytest.approx(integrated_loudness(x, fs), abs=0.01)
    assert d["before"]["true_peak_dbtp"] == pytest.approx(true_peak_dbtp(x, fs), abs=0.01)
    assert d["loudness"]["gain_db"] is not None
    assert d["loudness"]["note"]
    assert d["bits"] == "24"
    compressor = next(s for s in d["stages"] if s["name"] == "compressor")
    assert compressor["active"]
    assert compressor["stats"]


def test_progress_reports_every_stage_in_order() -> None:
    fs = 44_100
    calls: list[tuple[str, float]] = []
    master(
        signals.programme(4.0, fs),
        fs,
        MasteringParams(),
        progress=lambda s, f: calls.append((s, f)),
    )
    stages = list(dict.fromkeys(s for s, _ in calls))
    assert stages == ["prelimiter", "loudness", "output", "verify"]
    for stage in stages:
        fractions = [f for s, f in calls if s == stage]
        assert all(0.0 <= f <= 1.0 for f in fractions)
        assert fractions == sorted(fractions)
        assert fractions[-1] == 1.0


@pytest.mark.parametrize("stage", ["prelimiter", "loudness", "output"])
def test_cancel_from_progress_propagates(stage: str) -> None:
    fs = 44_100

    def progress(s: str, _f: float) -> None:
        if s == stage:
            raise CancelledError("cancelled", "Cancelled by the user.")

    with pytest.raises(CancelledError):
        master(signals.programme(3.0, fs), fs, MasteringParams(), progress=progress)


def test_a_failing_chain_leaves_nothing_running_on_the_second_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The EQ takes the next chunk in the background while the compressor fails on this one
    # (out of memory, say): the pipeline must wait for (or cancel) that job before raising.
    import threading
    import time

    from mixmaster import background
    from mixmaster.dynamics import CompressorProcessor
    from mixmaster.eq import EqProcessor

    monkeypatch.setattr(background, "threads_available", lambda: True)
    calls: list[float] = []
    names: list[str] = []
    real = EqProcessor.process

    def slow(self: Any, y: np.ndarray) -> Any:
        names.append(threading.current_thread().name)
        time.sleep(0.05)
        calls.append(time.perf_counter())
        return real(self, y)

    def fail(self: Any, y: np.ndarray) -> Any:
        raise MemoryError

    monkeypatch.setattr(EqProcessor, "process", slow)
    monkeypatch.setattr(CompressorProcessor, "process", fail)
    fs = 44_100
    with pytest.raises(MemoryError):
        master(signals.programme(3.0, fs), fs, MasteringParams(), chunk_samples=4096)
    ended = time.perf_counter()
    time.sleep(0.15)
    # chunk 0, and chunk 1 unless it was cancelled before it started, both on the worker
    assert names and all(name.startswith("mixmaster-background") for name in names)
    assert len(calls) in (1, 2) and all(t <= ended for t in calls)


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "fs", "code"),
    [
        (np.zeros((2, 1000)), 4_000, "unsupported_sample_rate"),
        (np.zeros((2, 1000)), 384_000, "unsupported_sample_rate"),
        (np.zeros((2, 1000)), 44_100.5, "unsupported_sample_rate"),
        (np.zeros((1000, 2)), 44_100, "bad_layout"),
        (np.zeros(1000), 44_100, "bad_layout"),
        (np.zeros((9, 1000)), 44_100, "bad_layout"),
        (np.zeros((2, 0)), 44_100, "empty_audio"),
        (np.full((2, 1000), np.nan), 44_100, "non_finite"),
    ],
)
def test_bad_input_raises_a_typed_error(x: Audio, fs: float, code: str) -> None:
    with pytest.raises(InputError) as err:
        master(x, fs, MasteringParams())  # type: ignore[arg-type]
    assert err.value.code == code


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_overwrite_input_reuses_only_a_float32_buffer(dtype: type) -> None:
    fs = 44_100
    x = signals.programme(4.0, fs).astype(dtype)
    p = _params(loudness={"target_lufs": -12.0})
    expected = master(x.copy(), fs, p)
    original = x.copy()
    got = master(x, fs, p, overwrite_input=True)
    assert np.array_equal(got.audio, expected.audio)
    assert got.report.before == expected.report.before
    if dtype is np.float32:
        assert not np.array_equal(x, original)  # its buffer held the intermediate
    else:
        assert np.array_equal(x, original)


def test_levels_measured_by_the_caller_are_reported() -> None:
    fs = 48_000
    x = signals.programme(4.0, fs)
    measured = master(x, fs, MasteringParams()).report.before
    given = pipeline.LevelReport(-20.5, 3.0, -6.0, -6.5, -18.0, -19.0)
    result = master(x, fs, MasteringParams(), before=given)
    assert result.report.before == given
    assert measured.integrated_lufs == pytest.approx(integrated_loudness(x, fs), abs=1e-9)


def test_levels_from_the_feature_json_match_the_pipeline_measurement() -> None:
    fs = 44_100
    x = signals.programme(5.0, fs)
    from_features = pipeline.LevelReport.from_features(analyze(x, fs).to_json())
    measured = master(x, fs, MasteringParams()).report.before
    for key, value in measured.to_json().items():
        assert getattr(from_features, key) == pytest.approx(value, abs=0.011), key
    silent = pipeline.LevelReport.from_features(analyze(signals.silence(1.0, fs), fs).to_json())
    assert silent.integrated_lufs == -math.inf
    assert silent.true_peak_dbtp == -math.inf


def test_match_stage_runs_in_the_chain_and_its_recipe_reproduces_the_master() -> None:
    fs = 44_100
    x = signals.programme(4.0, fs)
    curve = [round(3.0 * math.sin(0.4 * k), 2) for k in range(31)]
    p = _params(match={"mid_db": curve, "side_db": [-v for v in curve]})
    pre = prelimiter(x, fs, with_changes(NEUTRAL, match={"mid_db": curve, "side_db": curve}))
    flat_side = MatchParams(mid_db=tuple(curve), side_db=tuple(curve))
    np.testing.assert_allclose(pre, apply_match(x, fs, flat_side), atol=1e-6)
    first = master(x, fs, p)
    recipe = params_from_dict(json.loads(json.dumps(params_to_dict(p))))
    again = master(x, fs, recipe)
    np.testing.assert_array_equal(first.audio, again.audio)
    stage = next(s for s in first.report.stages if s.name == "match")
    assert stage.active and stage.stats["taps"] > 0
    assert stage.stats["mid_db"] == pytest.approx(curve)

"""Tests for mixmaster.analyze: the feature JSON, its schema and the pure-Python validator."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tests.signals import programme, silence, sine, white_noise

from mixmaster import analyze as an
from mixmaster.errors import CancelledError, InputError, ParamError


@pytest.fixture(scope="module")
def stereo_json() -> dict[str, Any]:
    return an.analyze(programme(6.0, 44_100), 44_100).to_json()


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every sub-schema with its path."""
    out = [(path, schema)]
    for key, sub in schema.get("properties", {}).items():
        out += _walk(sub, f"{path}.{key}")
    if "items" in schema:
        out += _walk(schema["items"], f"{path}[]")
    return out


# --- the schema file ------------------------------------------------------------------------


def test_schema_is_strict_and_documented() -> None:
    schema = an.features_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == list(schema["properties"])
    assert list(schema["properties"]) == ["schema_version"] + [
        f.name for f in an.dataclasses.fields(an.Analysis)
    ]
    for path, sub in _walk(schema):
        assert set(sub) <= an.SUPPORTED_KEYWORDS, path
        types = sub.get("type", [])
        types = [types] if isinstance(types, str) else types
        if "object" in types:
            assert sub["additionalProperties"] is False, path
        if "number" in types or "integer" in types:
            assert isinstance(sub["minimum"], int | float), path
            assert isinstance(sub["maximum"], int | float), path
            assert sub["minimum"] < sub["maximum"], path
        if "array" in types:
            assert sub["minItems"] == sub["maxItems"], path
        if path and not path.endswith("[]"):
            assert len(sub.get("description", "")) > 20, path
    assert "-inf" in schema["description"] or "silence" in schema["description"]


def test_schema_file_is_package_data(repo_root: Any) -> None:
    on_disk = json.loads((repo_root / "py/mixmaster/features.schema.json").read_text())
    assert an.features_schema() == on_disk


# --- analyze() ------------------------------------------------------------------------------


def test_feature_json_validates_and_round_trips(stereo_json: dict[str, Any]) -> None:
    text = json.dumps(stereo_json, allow_nan=False)
    assert len(text.encode()) <= 4096
    assert an.validate_features(json.loads(text)) == stereo_json
    assert list(stereo_json) == list(an.features_schema()["properties"])


def test_feature_values_of_music_like_material(stereo_json: dict[str, Any]) -> None:
    j = stereo_json
    assert (j["sample_rate_hz"], j["channels"], j["duration_s"]) == (44_100, 2, 6.0)
    assert j["rms_dbfs"] == pytest.approx(-20.0, abs=0.01)  # programme() is scaled to -20 dBFS
    assert j["crest_db"] == pytest.approx(j["sample_peak_dbfs"] - j["rms_dbfs"], abs=0.011)
    assert j["plr_db"] == pytest.approx(j["true_peak_dbtp"] - j["integrated_lufs"], abs=0.011)
    assert j["true_peak_dbtp"] >= j["sample_peak_dbfs"]
    assert j["tempo_bpm"] == pytest.approx(120.0, abs=1.0)
    assert 0.8 < j["correlation"] < 1.0
    assert len(j["third_octave_db"]) == 31 and len(j["band_correlation"]) == 4


@pytest.mark.parametrize(("channels", "fs"), [(1, 8_000), (2, 44_100), (6, 48_000), (8, 192_000)])
def test_feature_json_stays_under_4_kb(channels: int, fs: int) -> None:
    j = an.analyze(white_noise(-20.0, 1.0, fs, channels=channels), fs).to_json()
    assert len(json.dumps(j, allow_nan=False).encode()) <= 4096
    assert len(json.dumps(j, indent=2).encode()) <= 4096
    an.validate_features(j)


def test_sine_levels_crest_and_plr() -> None:
    # A -23 dBFS 1 kHz stereo sine at 48 kHz: EBU Tech 3341 case 1 reads -23.0 LUFS.
    a = an.analyze(sine(1000.0, -23.0, 5.0, 48_000), 48_000)
    assert a.integrated_lufs == pytest.approx(-23.0, abs=0.1)
    assert a.sample_peak_dbfs == pytest.approx(-23.0, abs=0.01)
    assert a.rms_dbfs == pytest.approx(-23.0 - 10 * math.log10(2), abs=0.01)
    assert a.crest_db == pytest.approx(10 * math.log10(2), abs=0.01)
    assert a.plr_db == pytest.approx(a.true_peak_dbtp - a.integrated_lufs)
    assert a.clipped_samples == 0
    assert a.third_octave_db[17] == pytest.approx(0.0, abs=0.01)  # the 1 kHz band


def test_silence_is_null_in_json_without_warnings() -> None:
    a = an.analyze(silence(4.0, 48_000), 48_000)
    assert a.integrated_lufs == -math.inf
    assert a.sample_peak_dbfs == -math.inf
    j = a.to_json()
    for key in (
        "integrated_lufs",
        "momentary_max_lufs",
        "short_term_max_lufs",
        "true_peak_dbtp",
        "sample_peak_dbfs",
        "rms_dbfs",
        "crest_db",
        "plr_db",
        "spectral_tilt_db_per_oct",
        "spectral_centroid_hz",
        "tempo_bpm",
    ):
        assert j[key] is None, key
    assert j["third_octave_db"] == [None] * 31
    assert (j["correlation"], j["width"], j["tempo_confidence"]) == (1.0, 0.0, 0.0)
    assert an.validate_features(j) == j


def test_levels_below_the_floor_are_silence() -> None:
    a = an.analyze(white_noise(-260.0, 1.0, 48_000), 48_000)
    assert a.sample_peak_dbfs == -math.inf
    assert a.rms_dbfs == -math.inf
    an.validate_features(a.to_json())


def test_mono_reads_correlation_one_width_zero() -> None:
    j = an.analyze(programme(4.0, 44_100, channels=1), 44_100).to_json()
    assert (j["channels"], j["correlation"], j["width"]) == (1, 1.0, 0.0)


def test_dc_offset_is_the_largest_channel_mean() -> None:
    x = white_noise(-30.0, 1.0, 48_000, seed=4)
    x -= x.mean(axis=1, keepdims=True)
    x += np.array([[0.01], [-0.02]])
    assert an.analyze(x, 48_000).dc_offset == pytest.approx(0.02, abs=1e-9)


def _with_values(n: int, positions: dict[int, float]) -> np.ndarray:
    x = np.zeros((2, n))
    for pos, value in positions.items():
        x[0, pos] = value
    return x


CHUNK = 1 << 16


@pytest.mark.parametrize(
    ("positions", "expected"),
    [
        ({100: 0.9995, 101: -0.9995}, 0),  # a run of 2: a peak, not a flat top
        ({100: 1.0, 101: 1.0, 102: 1.0}, 3),  # a run of 3 flat-topped samples
        ({100: 0.999, 101: 1.0, 102: -0.9991, 103: 0.9999}, 4),  # |x| counts, sign does not
        ({100: 1.0, 102: 1.0, 104: 1.0}, 0),  # not consecutive
        ({100: 1.5}, 1),  # an over: beyond full scale even alone
        ({100: 1.5, 101: 0.5, 102: -1.2}, 2),
        ({CHUNK - 2: 1.0, CHUNK - 1: 1.0, CHUNK: 1.0, CHUNK + 1: 1.0}, 4),  # across a chunk edge
        ({CHUNK - 1: 1.0, CHUNK: 1.0}, 0),
        ({0: 1.0, 1: 1.0, 2: 1.0}, 3),  # at the very start
    ],
)
def test_clipped_samples_definition(positions: dict[int, float], expected: int) -> None:
    x = _with_values(CHUNK + 1000, positions)
    assert an.analyze(x, 48_000).clipped_samples == expected


def test_clipped_sine_counts_its_flat_tops_and_a_full_scale_sine_none() -> None:
    clean = sine(997.0, 0.0, 1.0, 44_100)
    assert an.analyze(clean, 44_100).clipped_samples == 0
    clipped = np.clip(sine(100.0, 6.0, 1.0, 44_100), -1.0, 1.0)
    assert an.analyze(clipped, 44_100).clipped_samples == np.count_nonzero(np.abs(clipped) >= 1.0)


def test_progress_reports_every_stage_in_order() -> None:
    calls: list[tuple[str, float]] = []
    an.analyze(programme(3.0, 44_100), 44_100, progress=lambda s, f: calls.append((s, f)))
    assert [s for s, _ in calls[:-1]] == list(an.PROGRESS_STAGES)
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions)
    assert fractions[0] == 0.0 and calls[-1] == ("tempo", 1.0)


def test_the_analysis_is_the_same_with_and_without_the_background_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mixmaster import background

    x = programme(5.0, 48_000, seed=3)
    monkeypatch.setattr(background, "threads_available", lambda: True)
    threaded = an.analyze(x, 48_000).to_json()
    monkeypatch.setattr(background, "threads_available", lambda: False)
    assert an.analyze(x, 48_000).to_json() == threaded  # bit for bit, as in Pyodide


def test_a_cancelled_analysis_leaves_nothing_running(monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from mixmaster import background

    monkeypatch.setattr(background, "threads_available", lambda: True)
    running: list[int] = []
    original = an.long_term_spectra

    def spectra(*args: Any, **kwargs: Any) -> Any:
        running.append(1)
        try:
            threading.Event().wait(0.2)  # still at work when the cancel comes
            return original(*args, **kwargs)
        finally:
            running.pop()

    monkeypatch.setattr(an, "long_term_spectra", spectra)

    def cancel(stage: str, _fraction: float) -> None:
        if stage == "true_peak":
            raise CancelledError("cancelled", "Cancelled by the user.")

    with pytest.raises(CancelledError):
        an.analyze(programme(2.0, 44_100), 44_100, progress=cancel)
    assert running == []  # the background job ended before analyze() did


@pytest.mark.parametrize("stage", an.PROGRESS_STAGES)
def test_cancellation_propagates(stage: str) -> None:
    def progress(current: str, _fraction: float) -> None:
        if current == stage:
            raise CancelledError("cancelled", "Cancelled by the user.")

    with pytest.raises(CancelledError):
        an.analyze(programme(1.0, 44_100), 44_100, progress=progress)


def test_input_is_not_modified() -> None:
    x = programme(3.0, 48_000).astype(np.float32)
    before = x.copy()
    an.analyze(x, 48_000)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize(
    ("x", "fs", "code"),
    [
        (np.zeros((2, 0)), 48_000, "empty_audio"),
        (np.zeros(100), 48_000, "bad_layout"),
        (np.zeros((100, 2)), 48_000, "bad_layout"),
        (np.array([[0.0, np.nan, 0.0]]), 48_000, "non_finite"),
        (np.array([[0.0, np.inf, 0.0], [0.0, 0.0, -np.inf]]), 48_000, "non_finite"),
        (np.array([[0.0, np.nan, 0.0]]), 44_100.5, "non_finite"),
        # Finite, but the squares overflow float64: still a level problem, not "non-finite".
        (np.full((1, 100), 1e200), 48_000, "level_out_of_range"),
        (np.zeros((2, 100)), 44_100.5, "unsupported_sample_rate"),
        (np.full((2, 100), 2e6), 48_000, "level_out_of_range"),
    ],
)
def test_bad_audio_raises_input_error(x: np.ndarray, fs: float, code: str) -> None:
    with pytest.raises(InputError) as info:
        an.analyze(x, fs)
    assert info.value.code == code
    assert len(info.value.message) > 20


def test_very_short_audio_is_measured() -> None:
    j = an.analyze(white_noise(-20.0, 0.01, 48_000), 48_000).to_json()
    assert j["momentary_max_lufs"] is None and j["tempo_bpm"] is None
    assert j["spectral_centroid_hz"] is not None
    an.validate_features(j)


# --- validate_features() --------------------------------------------------------------------


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        d[key] = value

    return mutate


def _set_item(key: str, index: int, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        d[key][index] = value

    return mutate


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        del d[key]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "code", "field"),
    [
        (_delete("integrated_lufs"), "missing_field", "integrated_lufs"),
        (_set("file_name", "song.wav"), "unknown_field", "file_name"),
        (_set("schema_version", 1), "bad_choice", "schema_version"),
        (_set("schema_version", True), "bad_choice", "schema_version"),
        (_set("channels", 2.5), "bad_type", "channels"),
        (_set("channels", 9), "out_of_range", "channels"),
        (_set("channels", True), "bad_type", "channels"),
        (_set("integrated_lufs", "loud"), "bad_type", "integrated_lufs"),
        (_set("integrated_lufs", math.nan), "not_finite", "integrated_lufs"),
        (_set("integrated_lufs", -math.inf), "not_finite", "integrated_lufs"),
        (_set("integrated_lufs", -80.0), "out_of_range", "integrated_lufs"),
        (_set("correlation", None), "bad_type", "correlation"),
        (_set("correlation", 1.5), "out_of_range", "correlation"),
        (_set("correlation", [0.5]), "bad_type", "correlation"),
        (_set("clipped_samples", -1), "out_of_range", "clipped_samples"),
        (_set("third_octave_db", [0.0] * 30), "bad_length", "third_octave_db"),
        (_set("third_octave_db", "flat"), "bad_type", "third_octave_db"),
        (_set_item("third_octave_db", 3, 5.0), "out_of_range", "third_octave_db[3]"),
        (_set_item("band_width", 0, False), "bad_type", "band_width[0]"),
        (_set_item("band_correlation", 2, {"r": 1}), "bad_type", "band_correlation[2]"),
    ],
)
def test_validator_names_the_field(
    stereo_json: dict[str, Any],
    mutate: Callable[[dict[str, Any]], None],
    code: str,
    field: str,
) -> None:
    d = copy.deepcopy(stereo_json)
    mutate(d)
    with pytest.raises(ParamError) as info:
        an.validate_features(d)
    assert (info.value.code, info.value.field) == (code, field)
    assert field in info.value.message and "accepted" in info.value.message


@pytest.mark.parametrize("value", [None, [], "features", 3])
def test_validator_rejects_non_objects(value: Any) -> None:
    with pytest.raises(ParamError) as info:
        an.validate_features(value)
    assert (info.value.code, info.value.field) == ("bad_type", "features")


def test_validator_normalises_and_copies(stereo_json: dict[str, Any]) -> None:
    d = copy.deepcopy(stereo_json)
    d["channels"] = 2.0  # a whole float is a JSON integer
    d["integrated_lufs"] = -14  # an int is a JSON number
    d["third_octave_db"] = tuple(d["third_octave_db"])
    reordered = dict(reversed(list(d.items())))
    out = an.validate_features(reordered)
    assert out["channels"] == 2 and isinstance(out["channels"], int)
    assert out["integrated_lufs"] == -14.0 and isinstance(out["integrated_lufs"], float)
    assert isinstance(out["third_octave_db"], list)
    assert list(out) == list(stereo_json)
    out["third_octave_db"][0] = 123.0
    assert d["third_octave_db"][0] != 123.0


def test_validator_rejects_non_text_keys(stereo_json: dict[str, Any]) -> None:
    d: dict[Any, Any] = copy.deepcopy(stereo_json)
    d[1] = 0
    with pytest.raises(ParamError) as info:
        an.validate_features(d)
    assert info.value.code == "bad_type"

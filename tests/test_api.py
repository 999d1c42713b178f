"""mixmaster.api: the facade the browser's worker calls, tested natively (same code as Pyodide)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from mixmaster import api
from mixmaster.analyze import validate_features
from mixmaster.loudness import integrated_loudness
from mixmaster.truepeak import true_peak_dbtp
from mixmaster.wavio import encode_wav, read_wav
from signals import programme, sine


def _wav(audio: np.ndarray, rate: int, bits: str) -> bytes:
    return encode_wav(audio, rate, bits)  # type: ignore[arg-type]


def _ok(reply: dict[str, Any]) -> Any:
    assert "error" not in reply, reply.get("error")
    return reply["result"]


def _json_plain(value: Any) -> Any:
    """JSON round trip of everything but bytes, refusing NaN/Infinity (as JSON.stringify would
    turn them into null)."""
    if isinstance(value, bytes):
        return None
    if isinstance(value, np.ndarray):  # crosses as a Float32Array
        assert value.dtype == np.float32 and np.all(np.isfinite(value))
        return None
    if isinstance(value, dict):
        return {k: _json_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_plain(v) for v in value]
    return json.loads(json.dumps(value, allow_nan=False))


# --- describe and limits ----------------------------------------------------------------------


def test_describe_gives_controls_defaults_and_limits() -> None:
    d = api.describe()
    assert [s["name"] for s in d["stages"]][:2] == ["highpass", "eq"]
    assert d["platforms"]["spotify"] == -14.0
    assert d["default_intent"]["platform"] == "spotify"
    assert d["default_intent"]["ceiling_dbtp"] == -1.0
    assert d["default_intent"]["style"] == "balanced"
    assert d["default_bits"] == "24" and set(d["bit_depths"]) == {"16", "24", "32f"}
    limits = d["limits"]
    assert limits["max_channel_samples"] == api.MAX_CHANNEL_SAMPLES
    assert limits["max_lossy_file_bytes"] < limits["max_file_bytes"]
    assert "20 minutes" in limits["summary"]
    _json_plain(d)


@pytest.mark.parametrize(
    ("channels", "frames", "too_long"),
    [
        (2, api.MAX_CHANNEL_SAMPLES // 2, False),
        (2, api.MAX_CHANNEL_SAMPLES // 2 + 1, True),
        (1, api.MAX_CHANNEL_SAMPLES, False),
        (8, api.MAX_CHANNEL_SAMPLES // 8 + 1, True),
    ],
)
def test_check_length_at_the_limit(channels: int, frames: int, too_long: bool) -> None:
    if not too_long:
        api.check_length(channels, frames, 48_000)
        return
    with pytest.raises(api.InputError) as err:
        api.check_length(channels, frames, 48_000)
    assert err.value.code == "too_long"
    assert "minutes" in err.value.message


def test_warm_up_imports_what_a_job_needs() -> None:
    import sys

    names = api.warm_up()
    assert {"mixmaster.analyze", "mixmaster.pipeline", "mixmaster.wavio"} <= set(names)
    assert all(name in sys.modules for name in names)


# --- loading ------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [44_100, 96_000])
@pytest.mark.parametrize("bits", ["16", "24", "32f"])
@pytest.mark.parametrize("channels", [1, 2])
def test_load_wav_keeps_native_rate_and_depth(rate: int, bits: str, channels: int) -> None:
    x = sine(997.0, -6.0, 0.25, rate, channels)
    track = api.load_wav(memoryview(_wav(x, rate, bits)))
    assert track.sample_rate_hz == rate
    assert track.audio.shape == x.shape and track.audio.dtype == np.float32
    expected = "WAV, 32-bit float" if bits == "32f" else f"WAV, {bits}-bit PCM"
    assert track.source == expected
    np.testing.assert_allclose(track.audio, x, atol=2.0**-15)


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_load_channels_takes_float32_buffers(channels: int) -> None:
    x = sine(440.0, -12.0, 0.2, 48_000, channels).astype(np.float32)
    buffers = [memoryview(row.tobytes()) for row in x]
    track = api.load_channels(buffers, 48_000.0)
    assert track.sample_rate_hz == 48_000
    np.testing.assert_array_equal(track.audio, x)


@pytest.mark.parametrize(
    ("buffers", "rate", "code"),
    [
        ([], 48_000, "bad_layout"),
        ([np.zeros(10, np.float32).tobytes()] * 9, 48_000, "bad_layout"),
        (
            [np.zeros(10, np.float32).tobytes(), np.zeros(11, np.float32).tobytes()],
            48_000,
            "bad_layout",
        ),
        ([np.zeros(10, np.float32).tobytes()], 1_000, "unsupported_sample_rate"),
        ([np.zeros(10, np.float32).tobytes()], 44_100.5, "unsupported_sample_rate"),
        ([np.array([0.0, np.nan], np.float32).tobytes()], 48_000, "non_finite"),
        ([b""], 48_000, "empty_audio"),
    ],
)
def test_load_channels_rejects_bad_input(buffers: list[bytes], rate: float, code: str) -> None:
    with pytest.raises(api.InputError) as err:
        api.load_channels(buffers, rate)
    assert err.value.code == code


# --- the session: every failure is {code, message} -----------------------------------------


@pytest.mark.parametrize(
    ("action", "args", "code"),
    [
        ("fly", {}, "unknown_action"),
        ("analyze", {}, "no_audio"),
        ("analyze", {"wav": b"This is a text file, renamed to .wav.\n" * 4}, "not_wav"),
        ("analyze", {"wav": b""}, "empty_file"),
        ("master", {"params": {}}, "no_track"),
        ("audio", {"which": "master"}, "no_master"),
        # a buffer that is not whole float32 samples fails inside numpy: a generic sentence
        ("analyze", {"channels": [b"abc"], "sample_rate_hz": 48_000}, "internal_error"),
    ],
)
def test_session_errors_are_code_and_sentence(action: str, args: dict[str, Any], code: str) -> None:
    reply = api.Session().call(action, args)
    assert set(reply) == {"error"}
    assert reply["error"]["code"] == code
    message = reply["error"]["message"]
    assert message.endswith(".") and "Traceback" not in message and 'File "' not in message


def test_session_master_rejects_bad_params_naming_the_field() -> None:
    session = api.Session()
    x = programme(2.0, 44_100, seed=1)
    _ok(session.call("analyze", {"wav": _wav(x, 44_100, "24")}))
    reply = session.call("master", {"params": {"eq": {"low_shelf_gain_db": 99.0}}})
    assert reply["error"]["code"] == "out_of_range"
    assert "eq.low_shelf_gain_db" in reply["error"]["message"]
    reply = session.call("master", {"params": {}, "bits": "8"})
    assert reply["error"]["code"] == "unsupported_bits"


# --- the whole path, as the worker runs it -----------------------------------------------


@pytest.fixture(scope="module")
def mastered_session() -> tuple[
    api.Session, dict[str, Any], list[tuple[str, float]], dict[str, Any]
]:
    rate = 44_100
    x = programme(4.0, rate, level_dbfs_rms=-24.0, seed=3)
    session = api.Session()
    seen: list[tuple[str, float]] = []
    analyzed: list[tuple[str, float]] = []
    analysis = _ok(
        session.call("analyze", {"wav": _wav(x, rate, "24")}, lambda s, f: analyzed.append((s, f)))
    )
    assert {s for s, _ in analyzed} == set(api.PROGRESS_LABELS["analyze"])
    decision = _ok(
        session.call(
            "decide", {"features": analysis["features"], "intent": {"platform": "spotify"}}
        )
    )
    out = _ok(
        session.call(
            "master",
            {"params": decision["params"], "bits": "24"},
            lambda s, f: seen.append((s, f)),
        )
    )
    return session, analysis, seen, {"decision": decision, "out": out}


def test_analyze_reports_track_and_valid_features(mastered_session: Any) -> None:
    _, analysis, _, _ = mastered_session
    assert analysis["track"] == {
        "sample_rate_hz": 44_100,
        "channels": 2,
        "frames": 4 * 44_100,
        "duration_s": 4.0,
        "source": "WAV, 24-bit PCM",
    }
    assert validate_features(analysis["features"]) == analysis["features"]
    _json_plain(analysis)


def test_decide_gives_rules_params_and_sentences(mastered_session: Any) -> None:
    _, _, _, run = mastered_session
    decision = run["decision"]
    assert decision["params"]["loudness"]["target_lufs"] == -14.0
    assert decision["params"]["limiter"]["ceiling_dbtp"] == -1.0
    assert decision["explanation"] and all(isinstance(s, str) for s in decision["explanation"])
    _json_plain(decision)


def test_master_meets_target_and_ceiling_at_the_native_rate(mastered_session: Any) -> None:
    _, analysis, seen, run = mastered_session
    out = run["out"]
    # the input's levels come from the analysis (not measured twice)
    assert out["report"]["before"]["integrated_lufs"] == analysis["features"]["integrated_lufs"]
    assert out["bits"] == "24"
    wav = read_wav(out["wav"])
    assert wav.info.sample_rate_hz == 44_100
    assert wav.info.bits_per_sample == 24 and wav.info.sample_format == "pcm"
    assert abs(integrated_loudness(wav.samples, 44_100) - -14.0) <= 0.5
    assert true_peak_dbtp(wav.samples, 44_100) <= -1.0
    labels = [row["label"] for row in out["rows"]]
    assert labels[:2] == ["Loudness", "True peak"]
    assert "LUFS" in out["headline"] and "dBTP" in out["headline"]
    stages = {s for s, _ in seen}
    assert "prelimiter" in stages and "loudness" in stages
    assert stages <= set(api.PROGRESS_LABELS["master"])
    assert all(0.0 <= f <= 1.0 for _, f in seen)
    _json_plain(out)


@pytest.mark.parametrize(("bits", "depth", "kind"), [("16", 16, "pcm"), ("32f", 32, "float")])
def test_master_at_another_depth(mastered_session: Any, bits: str, depth: int, kind: str) -> None:
    _, _, _, ctx = mastered_session
    session = api.Session()  # the module's session keeps its 24-bit master for the other tests
    x = programme(4.0, 44_100, level_dbfs_rms=-24.0, seed=3)
    _ok(session.call("analyze", {"wav": _wav(x, 44_100, "24")}))
    out = _ok(session.call("master", {"params": ctx["decision"]["params"], "bits": bits}))
    assert out["bits"] == bits
    wav = read_wav(out["wav"])
    assert (wav.info.bits_per_sample, wav.info.sample_format) == (depth, kind)
    assert wav.info.sample_rate_hz == 44_100
    assert true_peak_dbtp(wav.samples, 44_100) <= -1.0


def test_a_new_analyze_replaces_the_state() -> None:
    session = api.Session()
    x = sine(1000.0, -20.0, 1.0, 48_000)
    _ok(session.call("analyze", {"wav": _wav(x, 48_000, "16")}))
    _ok(session.call("master", {"params": {}}))
    reply = session.call("analyze", {"wav": b"RIFF\x00\x00\x00\x00WAVE"})
    assert "error" in reply
    assert session.track is None and session.mastered is None
    assert session.call("audio", {"which": "master"})["error"]["code"] == "no_master"


# --- what the studio shows, the recipe, cancellation ----------------------------------------


def test_analyze_gives_meanings_and_the_input_view(mastered_session: Any) -> None:
    _, analysis, _, _ = mastered_session
    keys = [row["key"] for row in analysis["analysis"]]
    assert {"integrated_lufs", "loudness_range_lu", "true_peak_dbtp", "plr_db"} <= set(keys)
    assert {"tempo_bpm", "correlation"} <= set(keys)
    assert all(row["meaning"].endswith(".") for row in analysis["analysis"])
    waveform = analysis["view"]["waveform"]
    assert waveform["min"].shape == waveform["max"].shape == (1200,)
    assert np.all(waveform["min"] <= waveform["max"])
    assert len(analysis["view"]["spectrum_dbfs"]) == len(api.describe()["band_centres_hz"]) == 31


def test_master_reply_carries_levels_platforms_view_and_recipe(mastered_session: Any) -> None:
    _, _, _, ctx = mastered_session
    out = ctx["out"]
    after = out["report"]["after"]
    assert out["levels"][0]["key"] == "integrated_lufs"
    spotify = next(r for r in out["platforms"] if r["platform"] == "spotify")
    assert spotify["gain_db"] == pytest.approx(-14.0 - after["integrated_lufs"], abs=0.051)
    assert out["view"]["waveform"]["max"].shape == (1200,)
    master = read_wav(out["wav"]).samples
    assert float(out["view"]["waveform"]["max"].max()) == float(master.max())
    recipe = out["recipe"]
    assert recipe["mixmaster_version"] == api.__version__
    assert recipe["pyodide_version"] is None  # natively; the page's recipe names Pyodide's
    assert recipe["input"]["sample_rate_hz"] == 44_100
    assert recipe["params"]["output"]["bits"] == "24"
    assert api.params.params_from_dict(recipe["params"]) == api.params.params_from_dict(
        ctx["decision"]["params"] | {"output": recipe["params"]["output"]}
    )


def test_recipe_reproduces_the_master_bit_for_bit_with_the_cli(tmp_path: Any) -> None:
    import hashlib

    from mixmaster.cli import main

    rate = 48_000
    wav = _wav(programme(3.0, rate, level_dbfs_rms=-22.0, seed=11), rate, "24")
    session = api.Session()
    digest = hashlib.sha256(wav).hexdigest()
    analysis = _ok(session.call("analyze", {"wav": wav, "input_sha256": digest}))
    decision = api.decide(analysis["features"], {"platform": "apple", "intensity": 0.8})
    out = _ok(session.call("master", {"params": decision["params"], "bits": "16"}))
    assert out["recipe"]["input"]["sha256"] == digest
    (tmp_path / "in.wav").write_bytes(wav)
    (tmp_path / "recipe.json").write_text(json.dumps(out["recipe"]))
    argv = ["master", str(tmp_path / "in.wav"), "-o", str(tmp_path / "cli.wav")]
    assert main([*argv, "--params", str(tmp_path / "recipe.json")]) == 0
    cli = read_wav(tmp_path / "cli.wav")
    browser = read_wav(out["wav"])
    assert cli.info.bits_per_sample == 16
    assert np.array_equal(cli.samples, browser.samples)


@pytest.mark.parametrize("sha", ["ABC", "z" * 64, 12])
def test_analyze_refuses_a_malformed_sha256(sha: object) -> None:
    reply = api.Session().call(
        "analyze", {"wav": _wav(sine(1000.0, -6.0, 1.0, 44_100), 44_100, "16"), "input_sha256": sha}
    )
    assert reply["error"]["code"] == "bad_sha256"


@pytest.mark.parametrize("action", ["analyze", "master"])
def test_progress_returning_true_cancels_and_the_session_goes_on(action: str) -> None:
    rate = 44_100
    wav = _wav(programme(3.0, rate, level_dbfs_rms=-20.0, seed=2), rate, "24")
    session = api.Session()
    analysis = _ok(session.call("analyze", {"wav": wav}))
    decision = api.decide(analysis["features"], {})
    args = {"wav": wav} if action == "analyze" else {"params": decision["params"]}
    calls: list[str] = []

    def cancel_at_second_step(stage: str, _fraction: float) -> bool:
        calls.append(stage)
        return len(calls) >= 2

    reply = session.call(action, args, cancel_at_second_step)
    assert reply["error"]["code"] == "cancelled"
    assert len(calls) == 2  # stopped at the step that asked
    if action == "analyze":
        _ok(session.call("analyze", {"wav": wav}))
    out = _ok(session.call("master", {"params": decision["params"]}, lambda _s, _f: False))
    assert read_wav(out["wav"]).samples.shape == (2, 3 * rate)


def test_audio_gives_the_original_and_the_master_per_channel(mastered_session: Any) -> None:
    session, _, _, ctx = mastered_session
    original = _ok(session.call("audio", {"which": "original"}))
    master = _ok(session.call("audio", {"which": "master"}))
    assert original["sample_rate_hz"] == master["sample_rate_hz"] == 44_100
    assert [c.dtype for c in original["channels"]] == [np.float32, np.float32]
    np.testing.assert_array_equal(np.stack(original["channels"]), session.track.audio)
    np.testing.assert_array_equal(np.stack(master["channels"]), read_wav(ctx["out"]["wav"]).samples)
    assert _ok_error(session.call("audio", {"which": "both"})) == "bad_audio_choice"
    assert _ok_error(api.Session().call("audio", {"which": "master"})) == "no_master"


def _ok_error(reply: dict[str, Any]) -> str:
    assert "result" not in reply
    return str(reply["error"]["code"])


# --- reference and album ---------------------------------------------------------------------


def test_reference_decisions_match_the_reference_on_the_device() -> None:
    rate = 44_100
    mix = programme(6.0, rate, level_dbfs_rms=-24.0, seed=7)
    ref = programme(6.0, rate, level_dbfs_rms=-12.0, seed=8)
    session = api.Session()
    features = _ok(session.call("analyze", {"wav": _wav(mix, rate, "24")}))["features"]
    assert _ok_error(session.call("decide", {"features": features, "reference": True})) == (
        "no_reference"
    )
    reference = _ok(session.call("reference", {"wav": _wav(ref, rate, "24")}))
    assert reference["analysis"][0]["key"] == "integrated_lufs"
    amounts = {"spectrum": 1.0, "loudness": 1.0, "width": 0.5, "dynamics": 0.5}
    args = {"features": features, "intent": {}, "reference": True, "amounts": amounts}
    matched = _ok(session.call("decide", args))
    assert matched == api.decide(features, {}, reference["features"], amounts)
    assert matched["params"] != api.decide(features, {})["params"]
    out = _ok(session.call("master", {"params": matched["params"]}))
    wav = read_wav(out["wav"])
    ref_lufs = reference["features"]["integrated_lufs"]
    assert abs(integrated_loudness(wav.samples, rate) - ref_lufs) <= 0.5
    assert true_peak_dbtp(wav.samples, rate) <= -1.0
    _ok(session.call("clear_reference"))
    assert _ok_error(session.call("decide", args)) == "no_reference"


def test_album_masters_every_track_into_one_zip_with_one_album_gain() -> None:
    import io
    import zipfile

    from mixmaster.loudness import album_loudness_lufs, measure_loudness

    rate = 44_100
    levels = (-20.0, -27.0, -17.0)
    names = ["01 Intro.wav", "02 Ballad.flac", "01 Intro.wav"]
    session = api.Session()
    inputs = []
    for i, (level, name) in enumerate(zip(levels, names, strict=True)):
        x = programme(8.0, rate, level_dbfs_rms=level, seed=30 + i)
        added = _ok(session.call("album_add", {"wav": _wav(x, rate, "24"), "name": name}))
        assert added["index"] == i
        inputs.append(integrated_loudness(x, rate))
    combined = _ok(session.call("album_features"))
    assert validate_features(combined) == combined
    seen: list[str] = []
    out = _ok(
        session.call(
            "album_master",
            {"intent": {"platform": "spotify"}, "bits": "24"},
            lambda stage, _f: seen.append(stage),
        )
    )
    assert any(stage.startswith("track 3 of 3") for stage in seen)
    archive = zipfile.ZipFile(io.BytesIO(out["zip"]))
    assert archive.namelist() == [
        "01 Intro-master.wav",
        "02 Ballad-master.wav",
        "01 Intro (2)-master.wav",
        "album-report.json",
    ]
    masters = [read_wav(archive.read(n)).samples for n in archive.namelist()[:3]]
    outputs = [integrated_loudness(m, rate) for m in masters]
    gains = [o - i for o, i in zip(outputs, inputs, strict=True)]
    assert max(gains) - min(gains) <= 0.5  # relative levels kept
    album = album_loudness_lufs([measure_loudness(m, rate).momentary_lufs for m in masters])
    assert abs(album + 14.0) <= 0.5
    assert all(true_peak_dbtp(m, rate) <= -1.0 for m in masters)
    assert [t["name"] for t in out["tracks"]] == names
    assert out["album"]["check"]["on_target"] and out["album"]["check"]["relative_kept"]
    report = json.loads(archive.read("album-report.json"))
    assert report["album"] == out["album"]
    _ok(session.call("album_clear"))
    assert _ok_error(session.call("album_master", {"intent": {}})) == "no_album"


def test_album_limits_are_clear_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    rate = 8_000
    wav = _wav(programme(2.0, rate, level_dbfs_rms=-20.0, seed=1), rate, "16")
    monkeypatch.setattr(api, "MAX_ALBUM_CHANNEL_SAMPLES", 3 * 2 * 2 * rate)
    session = api.Session()
    for _ in range(3):
        _ok(session.call("album_add", {"wav": wav}))
    reply = session.call("album_add", {"wav": wav})
    assert reply["error"]["code"] == "album_too_long"
    assert "too long" in reply["error"]["message"]
    monkeypatch.setattr(api, "MAX_ALBUM_TRACKS", 3)
    assert _ok_error(session.call("album_add", {"wav": wav})) == "album_too_many"


# --- the facade's edges (found in review) ------------------------------------------------------


def test_a_bad_sha256_leaves_the_loaded_track_in_place() -> None:
    session = api.Session()
    wav = _wav(programme(2.0, 44_100, level_dbfs_rms=-20.0, seed=1), 44_100, "24")
    _ok(session.call("analyze", {"wav": wav}))
    assert _ok_error(session.call("analyze", {"wav": wav, "input_sha256": "nope"})) == (
        "bad_sha256"
    )
    assert session.track is not None and session.features is not None


def test_a_silent_or_broken_reference_keeps_the_previous_one() -> None:
    rate = 44_100
    session = api.Session()
    good = _ok(session.call("reference", {"wav": _wav(programme(4.0, rate, seed=2), rate, "24")}))
    silent = _wav(np.zeros((2, 4 * rate)), rate, "24")
    reply = session.call("reference", {"wav": silent})
    assert reply["error"]["code"] == "silent_reference"
    assert _ok_error(session.call("reference", {"wav": b"RIFF...."})) != "internal_error"
    assert session.reference_features == good["features"]


@pytest.mark.parametrize("rate", [None, "44100", float("nan"), True])
def test_decoded_channels_with_a_bad_rate_get_a_typed_error(rate: object) -> None:
    channels = [np.zeros(1000, np.float32).tobytes()] * 2
    reply = api.Session().call("analyze", {"channels": channels, "sample_rate_hz": rate})
    assert reply["error"]["code"] == "unsupported_sample_rate"


def test_one_track_or_one_album_is_held_at_a_time() -> None:
    rate = 22_050
    wav = _wav(programme(3.0, rate, level_dbfs_rms=-20.0, seed=3), rate, "24")
    session = api.Session()
    _ok(session.call("analyze", {"wav": wav}))
    _ok(session.call("album_add", {"wav": wav, "name": "a.wav"}))
    assert session.track is None and len(session.album) == 1
    reply = session.call("album_master", {"intent": {}, "decision": ["not", "a", "dict"]})
    assert reply["error"]["code"] == "bad_type"
    _ok(session.call("analyze", {"wav": wav}))
    assert session.album == []


def test_the_recipe_names_the_decoder_and_silence_reads_as_silence() -> None:
    rate = 44_100
    session = api.Session()
    analysis = _ok(session.call("analyze", {"wav": _wav(np.zeros((2, rate)), rate, "16")}))
    out = _ok(session.call("master", {"params": api.decide(analysis["features"], {})["params"]}))
    assert out["recipe"]["input"]["decoder"] == "WAV, 16-bit PCM"
    assert out["headline"] == "The master is silent, as the input was."

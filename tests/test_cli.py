"""Tests for the ``mixmaster`` command line, run as a real subprocess (``python -m mixmaster``).

Files are generated in ``tmp_path``: good WAVs with :mod:`mixmaster.wavio`, broken ones byte by
byte. Every failure must be one line on stderr, exit code 2 (bad input), 1 (internal/memory) or
130 (interrupted), and never a traceback.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from tests.signals import programme, silence, white_noise

from mixmaster.analyze import analyze, validate_features
from mixmaster.wavio import encode_wav, read_audio, write_wav


def run_cli(
    *args: str, env: dict[str, str] | None = None, preexec_fn: Callable[[], None] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mixmaster", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        preexec_fn=preexec_fn,
        timeout=300,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mixmaster: ")
    assert result.stdout == ""
    return lines[0]


def _riff(fmt: bytes, data: bytes, declared_data_bytes: int | None = None) -> bytes:
    size = len(data) if declared_data_bytes is None else declared_data_bytes
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _pcm16_fmt(channels: int = 2, rate: int = 44_100) -> bytes:
    return struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)


def _float_wav(values: list[float]) -> bytes:
    fmt = struct.pack("<HHIIHH", 3, 1, 48_000, 48_000 * 4, 4, 32)
    return _riff(fmt, np.asarray(values, dtype="<f4").tobytes())


BAD_FILES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty file": (lambda p: _write(p / "empty.wav", b""), "empty_file"),
    "truncated header": (
        lambda p: _write(p / "cut.wav", _riff(_pcm16_fmt(), b"\0" * 400)[:30]),
        "wav_truncated",
    ),
    "data shorter than declared": (
        lambda p: _write(p / "short.wav", _riff(_pcm16_fmt(), b"\0" * 400, 40_000)),
        "data_truncated",
    ),
    "ADPCM codec": (
        lambda p: _write(
            p / "adpcm.wav",
            _riff(struct.pack("<HHIIHHHH", 2, 2, 44_100, 44_100, 2048, 4, 2, 0), b"\0" * 512),
        ),
        "unsupported_codec",
    ),
    "NaN sample": (lambda p: _write(p / "nan.wav", _float_wav([0.0, np.nan, 0.5])), "non_finite"),
    "Inf sample": (lambda p: _write(p / "inf.wav", _float_wav([0.0, -np.inf])), "non_finite"),
    "zero-length audio": (
        lambda p: _write(p / "zero.wav", _riff(_pcm16_fmt(), b"")),
        "empty_audio",
    ),
    "text file named .wav": (
        lambda p: _write(p / "notes.wav", b"these are my mix notes, not audio\n"),
        "not_wav",
    ),
    "directory": (lambda p: _mkdir(p / "folder.wav"), "is_directory"),
    "missing path": (lambda p: p / "does-not-exist.wav", "file_not_found"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize("case", list(BAD_FILES))
@pytest.mark.parametrize("as_json", [False, True], ids=["report", "json"])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, case: str, as_json: bool) -> None:
    make, code = BAD_FILES[case]
    path = make(tmp_path)
    result = run_cli("analyze", str(path), *(["--json"] if as_json else []))
    line = assert_one_line_error(result, 2)
    assert f"[{code}]" in line


def test_json_is_exactly_the_feature_json(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    write_wav(path, programme(5.0, 44_100, tempo_bpm=128.0), 44_100, "24")
    result = run_cli("analyze", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    features = json.loads(result.stdout)
    assert validate_features(features) == features
    audio = read_audio(path)
    assert features == analyze(audio.samples, audio.info.sample_rate_hz).to_json()
    assert "song" not in result.stdout  # no file name in the features
    assert len(result.stdout.encode()) <= 4096


def test_report_is_an_aligned_table_with_units(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    write_wav(path, programme(4.0, 48_000), 48_000, "16")
    result = run_cli("analyze", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    values = {line[:21].strip(): line[21:] for line in lines if line[:1].isalpha()}
    assert values["Integrated loudness"].endswith(" LUFS")
    assert values["True peak"].endswith(" dBTP")
    assert values["Sample peak"].endswith(" dBFS")
    assert values["Loudness range"].endswith(" LU")
    assert values["Spectral tilt"].endswith(" dB/oct")
    assert values["Tempo"].startswith("120.0 BPM (confidence")
    assert values["Format"] == "48000 Hz, 2 ch, 16-bit PCM"
    # Every value starts in the same column.
    starts = {len(line) - len(line[21:].lstrip()) for line in lines if line[:1].isalpha()}
    assert starts == {21}


def test_report_shows_silence(tmp_path: Path) -> None:
    path = tmp_path / "silent.wav"
    write_wav(path, silence(4.0, 44_100), 44_100, "16")
    result = run_cli("analyze", str(path))
    assert result.returncode == 0, result.stderr
    for label in ("Integrated loudness", "True peak", "Sample peak", "RMS"):
        line = next(line for line in result.stdout.splitlines() if line.startswith(label))
        assert line.endswith("silence"), line
    assert "Tempo" in result.stdout and "n/a" in result.stdout


def test_mono_float_file(tmp_path: Path) -> None:
    path = tmp_path / "mono.wav"
    write_wav(path, white_noise(-20.0, 1.0, 96_000, channels=1), 96_000, "32f")
    result = run_cli("analyze", str(path), "--json")
    assert result.returncode == 0, result.stderr
    features = json.loads(result.stdout)
    assert (features["channels"], features["correlation"], features["width"]) == (1, 1.0, 0.0)


@pytest.mark.parametrize(
    "args", [[], ["analyze"], ["frobnicate", "x.wav"], ["analyze", "x.wav", "--bogus"]]
)
def test_usage_errors_exit_2_without_traceback(args: list[str]) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "usage: mixmaster" in result.stderr


def test_help_and_version() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "analyze" in result.stdout
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("mixmaster ")


def test_out_of_memory_is_a_clear_message(tmp_path: Path) -> None:
    # A sparse file whose header declares 4 GB of 16-bit stereo (8 GB as float32), read under
    # a 1 GB address-space limit: decoding cannot allocate its output.
    declared_bytes = 4_000_000_000
    path = tmp_path / "huge.wav"
    header = _riff(_pcm16_fmt(), b"", declared_bytes)
    with path.open("wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + declared_bytes)

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    result = run_cli("analyze", str(path), preexec_fn=limit_memory)
    line = assert_one_line_error(result, 1)
    assert "not enough memory" in line


def _has_loaded_scipy_fft(pid: int) -> bool:
    try:
        return "pocketfft" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux /proc")
def test_ctrl_c_exits_130_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    write_wav(path, white_noise(-20.0, 60.0, 44_100), 44_100, "32f")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mixmaster", "analyze", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # scipy's FFT is imported inside the analyze command, after the file is read: once it
        # is mapped, the process is inside the command's error handling, analysing 60 s.
        while proc.poll() is None and not _has_loaded_scipy_fft(proc.pid):
            time.sleep(0.002)
        assert proc.poll() is None, "the analysis finished before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines() == ["mixmaster: interrupted."]
    assert stdout == ""


def test_debug_env_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_bytes(b"not audio")
    result = run_cli("analyze", str(path), env={"MIXMASTER_DEBUG": "1"})
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "InputError" in result.stderr


def test_encode_wav_round_trip_is_analysed_like_the_array(tmp_path: Path) -> None:
    x = programme(4.0, 44_100, channels=1).astype(np.float32)
    path = _write(tmp_path / "mono32.wav", encode_wav(x, 44_100, "32f"))
    result = run_cli("analyze", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == analyze(x, 44_100).to_json()


def test_ctrl_c_wrapped_by_python_is_still_an_interrupt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # regression: Ctrl-C while scipy imported raised inside a class's __set_name__, which Python
    # wraps in a RuntimeError; the CLI reported an internal error (exit 1) instead of 130
    from mixmaster import cli

    def interrupted_import(_args: object) -> int:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__ on 'cached_property'") from exc

    monkeypatch.setattr(cli, "_cmd_analyze", interrupted_import)
    assert cli.main(["analyze", "any.wav"]) == 130
    assert capsys.readouterr().err.splitlines() == ["mixmaster: interrupted."]

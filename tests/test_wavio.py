"""Tests for mixmaster.wavio: round trips, external readers/writers, hand-built malformed files."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

import signals
from mixmaster import wavio
from mixmaster.errors import InputError, ParamError
from mixmaster.wavio import (
    WavInfo,
    encode_wav,
    read_audio,
    read_wav,
    read_wav_info,
    write_wav,
)

FFMPEG = shutil.which("ffmpeg")
SOX = shutil.which("sox")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")
needs_sox = pytest.mark.skipif(SOX is None, reason="sox is not installed")

GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


# --- hand-built files ------------------------------------------------------------------------


def chunk(cid: bytes, body: bytes, *, declared: int | None = None) -> bytes:
    """One RIFF chunk, with its pad byte if the body is odd."""
    size = len(body) if declared is None else declared
    return cid + struct.pack("<I", size) + body + (b"\x00" if len(body) % 2 else b"")


def fmt_body(
    tag: int,
    channels: int,
    rate: int,
    bits: int,
    *,
    block_align: int | None = None,
    valid_bits: int | None = None,
    mask: int = 0,
    sub_tag: int | None = None,
) -> bytes:
    align = channels * ((bits + 7) // 8) if block_align is None else block_align
    body = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    if tag == 0xFFFE:
        sub = struct.pack("<H", 1 if sub_tag is None else sub_tag) + GUID_TAIL
        body += struct.pack("<HHI", 22, bits if valid_bits is None else valid_bits, mask) + sub
    return body


def riff(*chunks: bytes, magic: bytes = b"RIFF", form: bytes = b"WAVE") -> bytes:
    body = form + b"".join(chunks)
    return magic + struct.pack("<I", len(body)) + body


def pcm16_file(samples: np.ndarray, rate: int = 48_000, extra: bytes = b"") -> bytes:
    """A PCM16 file from int16 samples ``(channels, frames)``."""
    data = np.ascontiguousarray(samples.T, dtype="<i2").tobytes()
    return riff(
        chunk(b"fmt ", fmt_body(1, samples.shape[0], rate, 16)), extra, chunk(b"data", data)
    )


def quantised(x: np.ndarray, bits: str) -> np.ndarray:
    if bits == "32f":
        return x.astype(np.float32)
    full = 2.0 ** (int(bits) - 1)
    return (np.clip(np.rint(x * full), -full, full - 1) / full).astype(np.float32)


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("bits", ["16", "24", "32f"])
@pytest.mark.parametrize("channels", [1, 2, 6, 8])
@pytest.mark.parametrize("sample_rate_hz", [8_000, 44_100, 96_000, 384_000])
def test_round_trip(bits: wavio.WavBits, channels: int, sample_rate_hz: int) -> None:
    x = signals.white_noise(-12.0, 0.02, sample_rate_hz, channels=channels, seed=channels)
    x[:, :4] = [1.0, -1.0, 0.999999, -1.2]  # full scale and beyond: clipped in PCM
    before = x.copy()
    data = encode_wav(x, sample_rate_hz, bits)
    audio = read_wav(data)
    np.testing.assert_array_equal(x, before)
    assert audio.samples.dtype == np.float32
    assert audio.samples.shape == x.shape
    np.testing.assert_array_equal(audio.samples, quantised(x, bits))
    assert audio.info == WavInfo(
        sample_rate_hz=sample_rate_hz,
        channels=channels,
        frames=x.shape[1],
        bits_per_sample=32 if bits == "32f" else int(bits),
        sample_format="float" if bits == "32f" else "pcm",
    )
    assert audio.info.duration_s == pytest.approx(x.shape[1] / sample_rate_hz)


@pytest.mark.parametrize("bits", ["16", "24"])
def test_values_on_the_pcm_grid_are_exact(bits: wavio.WavBits) -> None:
    # The dither stage hands over values already on the grid: they must survive unchanged.
    full = 2 ** (int(bits) - 1)
    ints = np.array([[-full, -full + 1, -1, 0, 1, 12345, full - 1]])
    x = ints / full
    audio = read_wav(encode_wav(x, 44_100, bits))
    np.testing.assert_array_equal(audio.samples.astype(np.float64) * full, ints)


def test_odd_sized_24bit_mono_data_gets_a_pad_byte() -> None:
    data = encode_wav(np.zeros((1, 3)), 48_000, "24")
    assert len(data) % 2 == 0
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    assert read_wav(data).info.frames == 3


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_bytes_like_sources_and_paths_agree(tmp_path: Path, kind: type) -> None:
    x = signals.sine(1000.0, -3.0, 0.01, 48_000)
    path = tmp_path / "a.wav"
    write_wav(path, x, 48_000, "24")
    from_path = read_wav(path)
    from_bytes = read_wav(kind(path.read_bytes()))
    np.testing.assert_array_equal(from_path.samples, from_bytes.samples)
    assert read_wav_info(str(path)) == from_bytes.info == read_wav_info(kind(path.read_bytes()))


def test_long_file_decodes_across_blocks() -> None:
    # More than one ~1 MB decode block, with a 3-byte container (the overlapping int32 view).
    x = signals.white_noise(-6.0, 4.0, 44_100, channels=3)
    audio = read_wav(encode_wav(x, 44_100, "24"))
    np.testing.assert_array_equal(audio.samples, quantised(x, "24"))


# --- against Python's wave module ------------------------------------------------------------


def test_stdlib_wave_reads_our_pcm16(tmp_path: Path) -> None:
    x = signals.programme(0.05, 44_100)
    path = tmp_path / "ours.wav"
    write_wav(path, x, 44_100, "16")
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (
            2,
            2,
            44_100,
            x.shape[1],
        )
        ints = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2).T
    np.testing.assert_array_equal(ints / 32768.0, quantised(x, "16"))


@pytest.mark.parametrize(("sampwidth", "scale"), [(1, 128.0), (2, 32768.0), (3, 2.0**23)])
def test_we_read_stdlib_wave_files(tmp_path: Path, sampwidth: int, scale: float) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / "stdlib.wav"
    if sampwidth == 1:
        raw = rng.integers(0, 256, size=(300, 2), dtype=np.uint8)
        expected = (raw.T.astype(np.float64) - 128.0) / scale
        payload = raw.tobytes()
    else:
        ints = rng.integers(-int(scale), int(scale), size=(300, 2))
        expected = ints.T / scale
        le = ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :sampwidth]
        payload = le.tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(sampwidth)
        w.setframerate(22_050)
        w.writeframes(payload)
    audio = read_wav(path)
    assert audio.info.bits_per_sample == 8 * sampwidth
    np.testing.assert_array_equal(audio.samples, expected.astype(np.float32))


# --- against ffmpeg and sox ------------------------------------------------------------------


def ffmpeg_decode_f32(path: Path, channels: int) -> np.ndarray:
    raw = subprocess.run(
        [FFMPEG or "ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4").reshape(-1, channels).T


@needs_ffmpeg
@pytest.mark.parametrize("bits", ["16", "24", "32f"])
@pytest.mark.parametrize("channels", [1, 2, 6, 8])
def test_ffmpeg_decodes_our_files_identically(
    tmp_path: Path, bits: wavio.WavBits, channels: int
) -> None:
    x = signals.white_noise(-10.0, 0.05, 48_000, channels=channels)
    path = tmp_path / "ours.wav"
    write_wav(path, x, 48_000, bits)
    np.testing.assert_array_equal(ffmpeg_decode_f32(path, channels), quantised(x, bits))


@needs_sox
def test_sox_reads_our_extensible_header(tmp_path: Path) -> None:
    path = tmp_path / "six.wav"
    write_wav(path, np.zeros((6, 4_800)), 96_000, "24")
    info = subprocess.run([SOX or "sox", "--i", str(path)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "Channels       : 6" in info.stdout
    assert "Sample Rate    : 96000" in info.stdout
    assert "24-bit" in info.stdout
    assert "4800 samples" in info.stdout


@needs_ffmpeg
def test_channel_masks_are_read_by_ffmpeg_as_standard_layouts(tmp_path: Path) -> None:
    layouts = {6: "5.1(side)", 8: "7.1"}
    for channels, layout in layouts.items():
        path = tmp_path / f"{channels}.wav"
        write_wav(path, np.zeros((channels, 100)), 48_000, "16")
        probe = subprocess.run(
            [FFMPEG or "ffmpeg", "-hide_banner", "-i", str(path)], capture_output=True, text=True
        )
        assert f", {layout}," in probe.stderr


FFMPEG_LAVFI = [FFMPEG or "ffmpeg", "-v", "error", "-f", "lavfi", "-i"]
PINK_NOISE_SOURCE = "anoisesrc=d=0.2:r=44100:a=0.3:c=pink"


@needs_ffmpeg
@pytest.mark.parametrize(
    ("codec", "channels", "extra"),
    [
        ("pcm_u8", 2, []),
        ("pcm_s16le", 2, []),
        ("pcm_s24le", 1, []),
        ("pcm_s32le", 2, []),
        ("pcm_f32le", 2, []),
        ("pcm_f64le", 2, []),
        ("pcm_s24le", 6, []),  # ffmpeg writes EXTENSIBLE for more than 2 channels
        ("pcm_s16le", 2, ["-rf64", "always"]),  # RF64 with a ds64 chunk
        ("pcm_s16le", 2, ["-metadata", "title=odd", "-write_bext", "1"]),  # LIST + bext chunks
    ],
)
def test_we_read_ffmpeg_files_identically(
    tmp_path: Path, codec: str, channels: int, extra: list[str]
) -> None:
    path = tmp_path / "ff.wav"
    subprocess.run(
        [*FFMPEG_LAVFI, PINK_NOISE_SOURCE, "-ac", str(channels), "-c:a", codec, *extra, str(path)],
        check=True,
    )
    audio = read_wav(path)
    expected = ffmpeg_decode_f32(path, channels)
    assert audio.info.channels == channels
    assert audio.info.frames == expected.shape[1] == 8_820
    if codec in ("pcm_s32le", "pcm_f64le"):  # more precise than float32: both round
        np.testing.assert_allclose(audio.samples, expected, rtol=0, atol=1e-7)
    else:
        np.testing.assert_array_equal(audio.samples, expected)


@needs_ffmpeg
def test_streamed_wav_with_unknown_length_reads_to_the_end() -> None:
    # ffmpeg writing to a pipe cannot go back to fill in the sizes: it leaves 0xFFFFFFFF.
    piped = subprocess.run(
        [*FFMPEG_LAVFI, PINK_NOISE_SOURCE, "-c:a", "pcm_s16le", "-f", "wav", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert piped[4:8] == b"\xff\xff\xff\xff"
    audio = read_wav(piped)
    assert audio.info.frames == 8_820
    ints = np.frombuffer(piped[-2 * 8_820 :], dtype="<i2")
    np.testing.assert_array_equal(audio.samples[0] * 32768, ints)


@needs_ffmpeg
def test_ffmpeg_reads_our_rf64(tmp_path: Path) -> None:
    # Beyond 4 GiB we write RF64; forced here on a small file to check the layout.
    x = signals.white_noise(-10.0, 0.05, 48_000)
    path = tmp_path / "big.wav"
    path.write_bytes(b"".join(wavio._chunks(x, 48_000, "24", rf64=True)))
    assert path.read_bytes()[:4] == b"RF64"
    np.testing.assert_array_equal(ffmpeg_decode_f32(path, 2), quantised(x, "24"))
    np.testing.assert_array_equal(read_wav(path).samples, quantised(x, "24"))


# --- formats and chunks we must accept -------------------------------------------------------


def test_extensible_pcm_with_24_valid_bits_in_32bit_containers() -> None:
    ints = np.array([[-(2**23), 0, 2**23 - 1, 5], [1, -1, 2, -2]], dtype=np.int64)
    data = np.ascontiguousarray((ints << 8).T, dtype="<i4").tobytes()  # left-justified
    fmt = fmt_body(0xFFFE, 2, 48_000, 32, valid_bits=24, mask=0x3)
    audio = read_wav(riff(chunk(b"fmt ", fmt), chunk(b"data", data)))
    assert audio.info.bits_per_sample == 24
    assert audio.info.sample_format == "pcm"
    np.testing.assert_array_equal(audio.samples, (ints / 2.0**23).astype(np.float32))


def test_extensible_float_subformat() -> None:
    x = np.array([[0.25, -0.5, 1.5]], dtype="<f4")
    fmt = fmt_body(0xFFFE, 1, 44_100, 32, sub_tag=3, mask=0x4)
    audio = read_wav(riff(chunk(b"fmt ", fmt), chunk(b"data", x.T.tobytes())))
    assert audio.info.sample_format == "float"
    np.testing.assert_array_equal(audio.samples, x)


def test_unknown_chunks_are_skipped_including_odd_sizes_and_pad_bytes() -> None:
    ints = np.array([[1, -2, 3], [-4, 5, -6]], dtype=np.int16)
    extra = (
        chunk(b"LIST", b"INFOINAM\x05\x00\x00\x00abcde\x00")  # odd body, padded
        + chunk(b"JUNK", b"\x00" * 27)
        + chunk(b"bext", b"x" * 601)
    )
    data = pcm16_file(ints, extra=extra) + chunk(b"LIST", b"after the data")
    audio = read_wav(data)
    np.testing.assert_array_equal(audio.samples * 32768, ints)


def test_odd_chunk_without_its_pad_byte_is_tolerated() -> None:
    ints = np.array([[7, -7]], dtype=np.int16)
    unpadded = b"JUNK" + struct.pack("<I", 3) + b"abc"  # a sloppy writer's odd chunk
    assert read_wav(pcm16_file(ints, extra=unpadded)).samples.tolist() == [[7 / 32768, -7 / 32768]]


def test_fmt_after_data_is_found() -> None:
    data = chunk(b"data", np.array([100, -100], dtype="<i2").tobytes())
    fmt = chunk(b"fmt ", fmt_body(1, 1, 16_000, 16))
    audio = read_wav(riff(data, fmt))
    assert audio.info.sample_rate_hz == 16_000
    np.testing.assert_array_equal(audio.samples * 32768, [[100, -100]])


def test_partial_last_frame_is_dropped() -> None:
    body = np.array([1, 2, 3, 4], dtype="<i2").tobytes() + b"\x05\x00"  # 2 frames + half
    data = riff(chunk(b"fmt ", fmt_body(1, 2, 48_000, 16)), chunk(b"data", body))
    assert read_wav(data).info.frames == 2


def test_read_wav_info_does_not_read_the_samples() -> None:
    # The samples are NaN: only the full read can notice.
    nan = np.full((2, 10), np.nan, dtype="<f4")
    data = riff(
        chunk(b"fmt ", struct.pack("<HHIIHHH", 3, 2, 48_000, 48_000 * 8, 8, 32, 0)),
        chunk(b"fact", struct.pack("<I", 10)),
        chunk(b"data", nan.T.tobytes()),
    )
    assert read_wav_info(data).frames == 10
    with pytest.raises(InputError) as err:
        read_wav(data)
    assert err.value.code == "non_finite"


# --- malformed files: every error code -------------------------------------------------------

GOOD = pcm16_file(np.array([[1, 2, 3, 4]], dtype=np.int16))
MALFORMED: dict[str, tuple[bytes, str]] = {
    "text named .wav": (b"this is not audio at all, just text\n", "not_wav"),
    "RIFF but not WAVE": (riff(chunk(b"data", b"xx"), form=b"AVI "), "not_wav"),
    "RIFX (big-endian)": (b"RIFX" + GOOD[4:], "unsupported_codec"),
    "header cut at 10 bytes": (GOOD[:10], "wav_truncated"),
    "header cut inside fmt": (GOOD[:30], "wav_truncated"),
    "fmt of 10 bytes": (
        riff(chunk(b"fmt ", b"\x01\x00" * 5), chunk(b"data", b"")),
        "wav_truncated",
    ),
    "no data chunk": (riff(chunk(b"fmt ", fmt_body(1, 1, 48_000, 16))), "wav_truncated"),
    "no fmt chunk": (riff(chunk(b"data", b"\x00\x00")), "wav_truncated"),
    "data shorter than declared": (GOOD[:-3], "data_truncated"),
    "data declared huge": (
        riff(chunk(b"fmt ", fmt_body(1, 1, 48_000, 16)), b"data" + struct.pack("<I", 10**6)),
        "data_truncated",
    ),
    "MS ADPCM (tag 2)": (
        riff(
            chunk(b"fmt ", fmt_body(2, 1, 44_100, 4, block_align=256)), chunk(b"data", b"\0" * 256)
        ),
        "unsupported_codec",
    ),
    "unknown extensible GUID": (
        riff(
            chunk(b"fmt ", fmt_body(0xFFFE, 1, 44_100, 16)[:24] + b"\x01" * 16),
            chunk(b"data", b"\0\0"),
        ),
        "unsupported_codec",
    ),
    "40-bit PCM": (
        riff(chunk(b"fmt ", fmt_body(1, 1, 44_100, 40)), chunk(b"data", b"\0" * 10)),
        "unsupported_bits",
    ),
    "16-bit float": (
        riff(chunk(b"fmt ", fmt_body(3, 1, 44_100, 16)), chunk(b"data", b"\0" * 4)),
        "unsupported_bits",
    ),
    "9 channels": (
        riff(chunk(b"fmt ", fmt_body(1, 9, 44_100, 16)), chunk(b"data", b"\0" * 18)),
        "too_many_channels",
    ),
    "0 channels": (
        riff(chunk(b"fmt ", fmt_body(1, 0, 44_100, 16, block_align=2)), chunk(b"data", b"\0\0")),
        "bad_header",
    ),
    "4 kHz": (pcm16_file(np.zeros((1, 4), dtype=np.int16), rate=4_000), "unsupported_sample_rate"),
    "768 kHz": (
        pcm16_file(np.zeros((1, 4), dtype=np.int16), rate=768_000),
        "unsupported_sample_rate",
    ),
    "zero frames": (pcm16_file(np.zeros((2, 0), dtype=np.int16)), "empty_audio"),
    "infinity in float": (
        riff(
            chunk(b"fmt ", fmt_body(3, 1, 48_000, 32)),
            chunk(b"data", np.array([0.0, np.inf], dtype="<f4").tobytes()),
        ),
        "non_finite",
    ),
    "float64 beyond float32": (
        riff(
            chunk(b"fmt ", fmt_body(3, 1, 48_000, 64)),
            chunk(b"data", np.array([0.0, 1e300], dtype="<f8").tobytes()),
        ),
        "non_finite",
    ),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_raise_typed_errors(tmp_path: Path, name: str) -> None:
    data, code = MALFORMED[name]
    path = tmp_path / "bad.wav"
    path.write_bytes(data)
    for source in (data, path):
        with pytest.raises(InputError) as err:
            read_wav(source)
        assert err.value.code == code
        assert re.search(r"accepted|expected", err.value.message), err.value.message


def test_unsupported_codec_names_the_tag() -> None:
    data, _ = MALFORMED["MS ADPCM (tag 2)"]
    with pytest.raises(InputError, match=r"format tag 2 \(0x0002, Microsoft ADPCM\)"):
        read_wav(data)


def test_path_errors(tmp_path: Path) -> None:
    cases = {
        "file_not_found": tmp_path / "missing.wav",
        "is_directory": tmp_path,
        "empty_file": tmp_path / "empty.wav",
    }
    cases["empty_file"].write_bytes(b"")
    for code, path in cases.items():
        for fn in (read_wav, read_wav_info, read_audio):
            with pytest.raises(InputError) as err:
                fn(path)
            assert err.value.code == code
            assert err.value.field == "path"
    with pytest.raises(InputError) as err:
        read_wav(b"")
    assert err.value.code == "empty_file"


# --- writing: validation and atomicity -------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "rate", "bits", "error", "code"),
    [
        (np.zeros((2, 10)), 44_100, "8", ParamError, "unsupported_bits"),
        (np.zeros((2, 10)), 44_100, "32", ParamError, "unsupported_bits"),
        (np.zeros((2, 10)), 1_000, "16", InputError, "unsupported_sample_rate"),
        (np.zeros(10), 44_100, "16", InputError, "bad_layout"),
        (np.zeros((9, 10)), 44_100, "16", InputError, "bad_layout"),
        (np.zeros((2, 0)), 44_100, "16", InputError, "empty_audio"),
        (np.array([[0.0, np.nan]]), 44_100, "24", InputError, "non_finite"),
    ],
)
def test_write_validates_before_touching_the_disk(
    tmp_path: Path, x: np.ndarray, rate: int, bits: str, error: type, code: str
) -> None:
    path = tmp_path / "out.wav"
    path.write_bytes(b"previous master")
    with pytest.raises(error) as err:
        write_wav(path, x, rate, bits)  # type: ignore[arg-type]
    assert err.value.code == code
    assert path.read_bytes() == b"previous master"
    assert sorted(os.listdir(tmp_path)) == ["out.wav"]
    with pytest.raises(error):
        encode_wav(x, rate, bits)  # type: ignore[arg-type]


def test_write_into_missing_directory_or_onto_a_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        write_wav(tmp_path / "nope" / "out.wav", np.zeros((1, 10)), 44_100, "16")
    assert err.value.code == "write_failed"
    with pytest.raises(InputError) as err:
        write_wav(tmp_path, np.zeros((1, 10)), 44_100, "16")
    assert err.value.code == "is_directory"
    assert os.listdir(tmp_path) == []


def test_write_replaces_an_existing_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    write_wav(path, np.ones((2, 1000)) * 0.5, 44_100, "16")
    write_wav(path, np.zeros((1, 10)), 48_000, "24")
    assert read_wav(path).info.frames == 10
    assert os.listdir(tmp_path) == ["out.wav"]


def test_failure_mid_write_leaves_no_temp_file_and_keeps_the_old_file(tmp_path: Path) -> None:
    # A real failure halfway through: the file-size limit (EFBIG) in a child process.
    path = tmp_path / "master.wav"
    path.write_bytes(b"previous master")
    script = (
        "import resource, signal, sys, numpy as np\n"
        "from mixmaster.wavio import write_wav\n"
        "from mixmaster.errors import InputError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
        "try:\n"
        "    write_wav(sys.argv[1], np.zeros((2, 200_000)), 44_100, '24')\n"
        "except InputError as exc:\n"
        "    print(exc.code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "write_failed"
    assert path.read_bytes() == b"previous master"
    assert os.listdir(tmp_path) == ["master.wav"]


# --- read_audio: other formats ---------------------------------------------------------------


def test_read_audio_reads_wav_by_content_whatever_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "take1.audio"
    write_wav(path, np.full((1, 10), 0.25), 44_100, "16")
    assert read_audio(path).samples.tolist() == [[0.25] * 10]


def test_read_audio_wav_extension_with_bad_content_says_why(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    with pytest.raises(InputError) as err:
        read_audio(path)
    assert err.value.code == "not_wav"


def test_read_audio_without_soundfile_lists_supported_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "soundfile", None)  # as if the extra were not installed
    path = tmp_path / "song.flac"
    path.write_bytes(b"fLaC\x00\x00\x00\x22" + b"\x00" * 40)
    with pytest.raises(InputError) as err:
        read_audio(path)
    assert err.value.code == "unsupported_format"
    assert "WAV" in err.value.message
    assert "mixmaster[formats]" in err.value.message


@needs_ffmpeg
def test_read_audio_decodes_flac_with_soundfile(tmp_path: Path) -> None:
    pytest.importorskip("soundfile", reason="the optional 'formats' extra is not installed")
    x = signals.white_noise(-10.0, 0.1, 48_000)
    wav_path = tmp_path / "src.wav"
    flac_path = tmp_path / "src.flac"
    write_wav(wav_path, x, 48_000, "24")
    subprocess.run(
        [FFMPEG or "ffmpeg", "-v", "error", "-i", str(wav_path), str(flac_path)], check=True
    )
    audio = read_audio(flac_path)
    assert audio.info == WavInfo(48_000, 2, x.shape[1], 24, "pcm")
    np.testing.assert_array_equal(audio.samples, quantised(x, "24"))


def test_read_audio_garbage_with_soundfile_is_unsupported_format(tmp_path: Path) -> None:
    pytest.importorskip("soundfile", reason="the optional 'formats' extra is not installed")
    path = tmp_path / "song.mp3"
    path.write_bytes(b"\x01\x02garbage" * 10)
    with pytest.raises(InputError) as err:
        read_audio(path)
    assert err.value.code == "unsupported_format"

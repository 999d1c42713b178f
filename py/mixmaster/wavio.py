"""WAV reading and writing, on numpy only.

Ours rather than ``soundfile``/``scipy.io.wavfile`` because it must run unchanged in Pyodide
(no libsndfile there), decode straight into the package's float32 ``(channels, frames)`` layout
block by block (a 5-minute stereo file is 106 MB as float32; we never hold a second full-size
copy), and report malformed files with stable error codes instead of a traceback.

Reading: RIFF, RF64 and BW64 files; ``WAVE_FORMAT_PCM`` (8-bit unsigned, 16/24/32-bit signed,
and any valid-bit count in those containers, left-justified), ``WAVE_FORMAT_IEEE_FLOAT`` (32/64
bit) and ``WAVE_FORMAT_EXTENSIBLE`` with either sub-format; 1 to 8 channels, 8 to 384 kHz.
Unknown chunks (LIST, bext, JUNK, iXML...) are skipped, with their pad byte. A data chunk that
declares more bytes than the file holds is an error (``data_truncated``), except the size
``0xFFFFFFFF`` that streaming writers leave when the length was unknown (data to end of file).
PCM is scaled by ``1 / 2 ** (container_bits - 1)`` so full scale is [-1, 1); a partial frame at
the end of the data chunk is dropped.

Writing: PCM 16 or 24 bit, ``round(x * 2 ** (bits - 1))`` clipped to the integer range (exact for
values already on that grid, as the dither stage produces), or 32-bit IEEE float.
``WAVE_FORMAT_EXTENSIBLE`` with the channel mask of :func:`mixmaster.loudness.channel_weights`'s
layouts for more than 2 channels; ``fact`` chunk for float; RF64 beyond 4 GiB.

References: Microsoft "Multiple Channel Audio Data and WAVE Files" (WAVEFORMATEXTENSIBLE,
channel masks); EBU Tech 3306 (RF64).
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar, cast

import numpy as np
import numpy.typing as npt

from mixmaster.audio import MAX_CHANNELS, as_audio, check_sample_rate
from mixmaster.errors import InputError, ParamError

__all__ = [
    "WAV_EXTENSIONS",
    "WavAudio",
    "WavBits",
    "WavInfo",
    "encode_wav",
    "read_audio",
    "read_wav",
    "read_wav_info",
    "write_wav",
]

WavBits = Literal["16", "24", "32f"]
Source = str | os.PathLike[str] | bytes | bytearray | memoryview
_T = TypeVar("_T")

WAV_EXTENSIONS = frozenset({".wav", ".wave", ".rf64", ".bwf"})

_FORMAT_PCM = 0x0001
_FORMAT_IEEE_FLOAT = 0x0003
_FORMAT_EXTENSIBLE = 0xFFFE
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_CODEC_NAMES = {
    0x0002: "Microsoft ADPCM",
    0x0006: "A-law",
    0x0007: "mu-law",
    0x0011: "IMA ADPCM",
    0x0031: "GSM 6.10",
    0x0050: "MPEG",
    0x0055: "MPEG Layer 3 (MP3)",
    0x00FF: "AAC",
    0x2000: "AC-3",
}
# Default WAVE channel masks (ascending speaker bits give the channel order):
# FL=0x1 FR=0x2 FC=0x4 LFE=0x8 BL=0x10 BR=0x20 BC=0x100 SL=0x200 SR=0x400.
_CHANNEL_MASKS = {
    1: 0x4,  # C
    2: 0x3,  # L R
    3: 0x7,  # L R C
    4: 0x33,  # L R Lb Rb (quad)
    5: 0x607,  # L R C Ls Rs
    6: 0x60F,  # L R C LFE Ls Rs
    7: 0x70F,  # L R C LFE Cs Ls Rs
    8: 0x63F,  # L R C LFE Lb Rb Ls Rs
}
_U32_MAX = 0xFFFFFFFF
_DECODE_BLOCK_BYTES = 1 << 20
_ENCODE_BLOCK_FRAMES = 1 << 16
_ACCEPTED = (
    "WAV (RIFF/RF64) with PCM 8/16/24/32-bit or IEEE float 32/64-bit samples, "
    f"1 to {MAX_CHANNELS} channels"
)


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says about the audio.

    Attributes
    ----------
    sample_rate_hz
        Frames per second.
    channels
        1 to 8.
    frames
        Samples per channel (whole frames in the data chunk).
    bits_per_sample
        Resolution: the valid bits (``wValidBitsPerSample`` of an EXTENSIBLE header, else
        ``wBitsPerSample``), e.g. 16, 24, 32 or 64.
    sample_format
        ``"pcm"`` (integers) or ``"float"`` (IEEE float).
    """

    sample_rate_hz: int
    channels: int
    frames: int
    bits_per_sample: int
    sample_format: Literal["pcm", "float"]

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate_hz


@dataclass(frozen=True)
class WavAudio:
    """Decoded audio: float32 ``(channels, frames)``, PCM scaled by ``1 / 2 ** (bits - 1)``."""

    samples: npt.NDArray[np.float32]
    info: WavInfo


# --- sources -------------------------------------------------------------------------------


class _Reader(Protocol):
    size: int

    def read(self, offset: int, n: int) -> bytes | memoryview: ...


class _BytesReader:
    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        self._view = memoryview(data).cast("B")
        self.size = self._view.nbytes

    def read(self, offset: int, n: int) -> memoryview:
        return self._view[offset : offset + n]


class _FileReader:
    def __init__(self, handle: Any, size: int) -> None:
        self._handle = handle
        self.size = size

    def read(self, offset: int, n: int) -> bytes:
        self._handle.seek(offset)
        data: bytes = self._handle.read(n)
        return data


def check_readable(path: str | os.PathLike[str]) -> None:
    """Raise the :class:`InputError` that says why ``path`` cannot be read as a file, if any.

    The cheap checks :func:`read_audio` starts with (exists, not a directory, not empty), for
    callers that want to fail before starting long work.
    """
    _check_path(path)


def _check_path(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Return ``(path, size)`` or raise the InputError that says why the path is unusable."""
    name = os.fspath(path)
    if os.path.isdir(name):
        raise InputError(
            "is_directory", f"{name!r} is a directory; a single audio file is needed.", field="path"
        )
    try:
        size = os.path.getsize(name)
    except FileNotFoundError:
        raise InputError(
            "file_not_found",
            f"No file at {name!r}; give the path of an existing audio file.",
            field="path",
        ) from None
    except OSError as exc:
        raise InputError(
            "file_unreadable", f"Cannot read {name!r} ({exc.strerror}).", field="path"
        ) from None
    if size == 0:
        raise InputError(
            "empty_file", f"{name!r} is empty (0 bytes); expected {_ACCEPTED}.", field="path"
        )
    return name, size


def _with_source(source: Source, fn: Callable[[_Reader], _T]) -> _T:
    """Call ``fn(reader)`` on a reader over ``source`` (a path or bytes), closing files."""
    if isinstance(source, bytes | bytearray | memoryview):
        reader = _BytesReader(source)
        if reader.size == 0:
            raise InputError("empty_file", f"The data is empty (0 bytes); expected {_ACCEPTED}.")
        return fn(reader)
    name, size = _check_path(source)
    try:
        handle = open(name, "rb")  # noqa: SIM115 - closed below, after decoding
    except OSError as exc:
        raise InputError(
            "file_unreadable", f"Cannot open {name!r} ({exc.strerror}).", field="path"
        ) from None
    with handle:
        return fn(_FileReader(handle, size))


# --- header parsing ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    info: WavInfo
    data_offset: int
    block_align: int
    container_bytes: int


def _truncated(what: str) -> InputError:
    return InputError(
        "wav_truncated", f"The WAV header is cut short: {what}; expected a complete {_ACCEPTED}."
    )


def _is_chunk_id(raw: bytes | memoryview) -> bool:
    return len(raw) == 4 and all(32 <= b < 127 for b in bytes(raw))


def _parse(reader: _Reader) -> _Layout:
    head = bytes(reader.read(0, 12))
    magic = head[:4]
    if magic not in (b"RIFF", b"RF64", b"BW64"):
        if magic == b"RIFX":
            raise InputError(
                "unsupported_codec",
                f"Big-endian WAV (RIFX) is not supported; accepted: {_ACCEPTED} (little-endian).",
            )
        raise InputError(
            "not_wav",
            f"This is not a WAV file (it does not start with 'RIFF'); accepted: {_ACCEPTED}.",
        )
    if len(head) < 12:
        raise _truncated("the RIFF header is shorter than 12 bytes")
    if head[8:12] != b"WAVE":
        raise InputError(
            "not_wav",
            f"This RIFF file is not WAVE audio (form type {head[8:12]!r}); accepted: {_ACCEPTED}.",
        )
    is_64 = magic != b"RIFF"
    ds64_data_size: int | None = None
    fmt: bytes | None = None
    data_offset: int | None = None
    data_size = 0
    pos = 12
    while pos + 8 <= reader.size:
        chunk = bytes(reader.read(pos, 8))
        cid, csize = chunk[:4], struct.unpack_from("<I", chunk, 4)[0]
        body = pos + 8
        if cid == b"ds64" and is_64:
            raw = bytes(reader.read(body, min(csize, 28)))
            if len(raw) < 16:
                raise _truncated("the RF64 'ds64' chunk is incomplete")
            ds64_data_size = struct.unpack_from("<Q", raw, 8)[0]
        elif cid == b"fmt ":
            if csize < 16:
                raise _truncated(f"the 'fmt ' chunk has {csize} bytes, at least 16 are needed")
            fmt = bytes(reader.read(body, min(csize, 40)))
            if len(fmt) < min(csize, 40) or body + csize > reader.size:
                raise _truncated("the 'fmt ' chunk is cut off by the end of the file")
        elif cid == b"data":
            data_offset = body
            data_size = csize
            if is_64 and csize == _U32_MAX:
                if ds64_data_size is None:
                    raise _truncated("an RF64 file has no 'ds64' chunk before its data")
                data_size = ds64_data_size
            elif csize == _U32_MAX:
                # "Length unknown": a streamed file (e.g. ffmpeg writing to a pipe) whose
                # header was never filled in. Its data runs to the end of the file.
                data_size = reader.size - body
            if fmt is not None:
                break
        nxt = body + data_size if cid == b"data" else body + csize
        if nxt & 1:  # chunks are word-aligned; tolerate writers that forget the pad byte
            padded = bytes(reader.read(nxt + 1, 4))
            if _is_chunk_id(padded) or not _is_chunk_id(bytes(reader.read(nxt, 4))):
                nxt += 1
        pos = nxt
    if fmt is None:
        raise _truncated("there is no 'fmt ' chunk")
    if data_offset is None:
        raise _truncated("there is no 'data' chunk")
    return _layout_from_fmt(fmt, data_offset, data_size, reader.size)


def _layout_from_fmt(fmt: bytes, data_offset: int, data_size: int, file_size: int) -> _Layout:
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    valid_bits = bits
    if tag == _FORMAT_EXTENSIBLE:
        if len(fmt) < 40:
            raise _truncated("the WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk is shorter than 40 bytes")
        valid_bits = struct.unpack_from("<H", fmt, 18)[0] or bits
        guid = fmt[24:40]
        if guid[2:] != _GUID_TAIL:
            raise InputError(
                "unsupported_codec",
                f"Unknown WAVE_FORMAT_EXTENSIBLE sub-format {guid.hex()}; accepted: {_ACCEPTED}.",
            )
        tag = struct.unpack_from("<H", guid, 0)[0]
    if tag not in (_FORMAT_PCM, _FORMAT_IEEE_FLOAT):
        name = _CODEC_NAMES.get(tag, "unknown codec")
        raise InputError(
            "unsupported_codec",
            f"Compressed or unknown WAV format tag {tag} (0x{tag:04X}, {name}) is not supported; "
            f"accepted: {_ACCEPTED}.",
        )
    if channels > MAX_CHANNELS:
        raise InputError(
            "too_many_channels",
            f"The file has {channels} channels; accepted: 1 to {MAX_CHANNELS}.",
            field="channels",
        )
    if channels == 0 or block_align == 0 or block_align % channels:
        raise InputError(
            "bad_header",
            f"The WAV header is inconsistent ({channels} channels, block align {block_align}); "
            f"expected {_ACCEPTED}.",
        )
    container = block_align // channels
    is_float = tag == _FORMAT_IEEE_FLOAT
    ok = container in (4, 8) and bits == 8 * container if is_float else container in (1, 2, 3, 4)
    if not ok or not 0 < valid_bits <= 8 * container or bits > 8 * container:
        kind = "float" if is_float else "PCM"
        raise InputError(
            "unsupported_bits",
            f"{kind} samples of {bits} bits in {container}-byte containers are not supported; "
            "accepted: PCM 8 (unsigned), 16, 24 or 32 bits, float 32 or 64 bits.",
            field="bits_per_sample",
        )
    check_sample_rate(rate)
    available = file_size - data_offset
    if data_size > available:
        raise InputError(
            "data_truncated",
            f"The data chunk declares {data_size} bytes but the file holds only {available}; "
            "expected a complete WAV file (was a copy or download interrupted?).",
        )
    frames = data_size // block_align
    if frames == 0:
        raise InputError("empty_audio", "The WAV file has no audio frames; expected at least one.")
    info = WavInfo(
        sample_rate_hz=int(rate),
        channels=int(channels),
        frames=int(frames),
        bits_per_sample=int(valid_bits),
        sample_format="float" if is_float else "pcm",
    )
    return _Layout(info, data_offset, block_align, container)


# --- decoding ------------------------------------------------------------------------------


def _decode_into(raw: bytes | memoryview, layout: _Layout, out: npt.NDArray[np.float32]) -> None:
    """Decode interleaved frames into ``out`` (float32 ``(channels, frames)``, a block).

    For 24-bit PCM, ``raw`` starts one byte early: each sample is read as the little-endian
    int32 over its 3 bytes and the byte before (an overlapping, 3-byte-strided view), whose low
    byte is masked off; the result is the sample times 256, exact in float32.
    """
    c = layout.container_bytes
    channels = layout.info.channels
    samples: npt.NDArray[Any]
    scale = np.float32(1.0)
    if layout.info.sample_format == "float":
        samples = np.frombuffer(raw, dtype="<f4" if c == 4 else "<f8")
    elif c == 1:
        samples = np.frombuffer(raw, dtype=np.uint8)
        scale = np.float32(1.0 / 128.0)
    elif c == 2:
        samples = np.frombuffer(raw, dtype="<i2")
        scale = np.float32(1.0 / 32768.0)
    elif c == 3:
        n = (len(raw) - 1) // 3
        shifted: npt.NDArray[np.int32] = np.ndarray(
            shape=(n,), dtype="<i4", buffer=raw, offset=0, strides=(3,)
        )
        # One channel at a time: mask into a contiguous temporary, then a contiguous
        # int32 -> float32 conversion (SIMD), rather than a strided one from an interleaved copy.
        masked = np.empty(out.shape[1], dtype=np.int32)
        for ch in range(channels):
            np.bitwise_and(shifted[ch::channels], np.int32(-256), out=masked)
            np.multiply(masked, np.float32(2.0**-31), out=out[ch], dtype=np.float32)
        return
    else:
        samples = np.frombuffer(raw, dtype="<i4")
        scale = np.float32(2.0**-31)
    with np.errstate(over="ignore", invalid="ignore"):  # float64 beyond float32: inf, rejected
        for ch in range(channels):
            np.multiply(samples[ch::channels], scale, out=out[ch], dtype=np.float32)
    if c == 1 and layout.info.sample_format == "pcm":
        out -= np.float32(1.0)  # unsigned 8-bit: 128 is zero


def _read(reader: _Reader) -> WavAudio:
    layout = _parse(reader)
    info = layout.info
    out = np.empty((info.channels, info.frames), dtype=np.float32)
    block_frames = max(1, _DECODE_BLOCK_BYTES // layout.block_align)
    lead = 1 if layout.container_bytes == 3 and info.sample_format == "pcm" else 0
    for start in range(0, info.frames, block_frames):
        count = min(block_frames, info.frames - start)
        nbytes = count * layout.block_align + lead
        raw = reader.read(layout.data_offset + start * layout.block_align - lead, nbytes)
        if len(raw) < nbytes:  # the file shrank while we read it
            raise InputError(
                "data_truncated", "The file ended before its declared data; expected all of it."
            )
        block = out[:, start : start + count]
        _decode_into(raw, layout, block)
        if info.sample_format == "float" and not np.isfinite(block).all():
            raise InputError(
                "non_finite",
                "The float WAV file contains NaN or infinite samples (or values beyond float32); "
                "only finite sample values are accepted.",
            )
    return WavAudio(samples=out, info=info)


def read_wav(source: Source) -> WavAudio:
    """Read a WAV file (a path, or its bytes) into float32 ``(channels, frames)``.

    Decoding is vectorised and done in ~1 MB blocks straight into the output array.

    Parameters
    ----------
    source
        A path, or the file's bytes (``bytes``, ``bytearray``, ``memoryview``; not copied).

    Returns
    -------
    WavAudio

    Raises
    ------
    InputError
        ``file_not_found``, ``is_directory``, ``file_unreadable``, ``empty_file``, ``not_wav``,
        ``wav_truncated`` (header or ``fmt`` cut short, no ``fmt``/``data`` chunk),
        ``data_truncated`` (data chunk shorter than declared), ``bad_header`` (inconsistent
        channel count / block align), ``unsupported_codec`` (e.g. ADPCM, format tag 2),
        ``unsupported_bits``, ``too_many_channels``, ``unsupported_sample_rate``,
        ``empty_audio`` (zero frames), ``non_finite`` (NaN/Inf in a float file).
    """
    return _with_source(source, _read)


def read_wav_info(source: Source) -> WavInfo:
    """Read only the header of a WAV file (cheap: the samples are not read).

    Raises as :func:`read_wav`, except ``non_finite``, which needs the samples.
    """
    return _with_source(source, _parse).info


def read_audio(path: str | os.PathLike[str]) -> WavAudio:
    """Read an audio file into float32 ``(channels, frames)``.

    WAV files (by content, whatever the extension) go through :func:`read_wav`. Other formats
    (FLAC, AIFF, OGG/Vorbis, Opus, MP3...) are decoded by ``soundfile`` (libsndfile) if it is
    installed (the optional extra ``mixmaster[formats]``); for those, ``bits_per_sample`` is the
    source's PCM resolution where it has one, else 32 (``sample_format`` ``"float"``).

    Raises
    ------
    InputError
        As :func:`read_wav`, and ``unsupported_format`` for a non-WAV file when ``soundfile``
        is not installed or cannot decode it.
    """
    name, _size = _check_path(path)
    with open(name, "rb") as handle:
        magic = handle.read(4)
    if magic in (b"RIFF", b"RF64", b"BW64", b"RIFX"):
        return read_wav(name)
    ext = os.path.splitext(name)[1].lower()
    if ext in WAV_EXTENSIONS:
        return read_wav(name)  # raises not_wav / wav_truncated with the reason
    try:
        import soundfile  # type: ignore[import-not-found, import-untyped, unused-ignore]
    except ImportError:
        raise InputError(
            "unsupported_format",
            f"Cannot read {ext or 'this'} files here; accepted: {_ACCEPTED}. "
            "(FLAC, AIFF, OGG and MP3 need the optional 'soundfile' package: "
            "pip install 'mixmaster[formats]'.)",
            field="path",
        ) from None
    return _read_with_soundfile(soundfile, name)


_SOUNDFILE_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32}


def _read_with_soundfile(soundfile: Any, name: str) -> WavAudio:
    def undecodable(exc: Exception) -> InputError:
        return InputError(
            "unsupported_format",
            f"Cannot decode {name!r} ({exc}); accepted: {_ACCEPTED}, FLAC, AIFF, OGG, MP3.",
            field="path",
        )

    try:
        handle = soundfile.SoundFile(name)
    except Exception as exc:  # libsndfile's errors are RuntimeError subclasses or TypeError
        raise undecodable(exc) from None
    with handle:
        channels = int(handle.channels)
        rate = int(handle.samplerate)
        if channels > MAX_CHANNELS:
            raise InputError(
                "too_many_channels",
                f"The file has {channels} channels; accepted: 1 to {MAX_CHANNELS}.",
                field="channels",
            )
        check_sample_rate(rate)
        bits = _SOUNDFILE_BITS.get(str(handle.subtype))
        # Decode block by block into one preallocated array (the header's frame count; a
        # compressed stream that turns out longer grows geometrically, shorter is trimmed).
        samples = np.empty((channels, max(0, int(handle.frames))), dtype=np.float32)
        pos = 0
        try:
            for block in handle.blocks(blocksize=1 << 16, dtype="float32", always_2d=True):
                count = block.shape[0]
                if pos + count > samples.shape[1]:
                    size = max(pos + count, 2 * samples.shape[1])
                    grown = np.empty((channels, size), dtype=np.float32)
                    grown[:, :pos] = samples[:, :pos]
                    samples = grown
                samples[:, pos : pos + count] = block.T
                pos += count
        except RuntimeError as exc:
            raise undecodable(exc) from None
    samples = samples[:, :pos]
    if pos == 0:
        raise InputError("empty_audio", "The file has no audio frames; expected at least one.")
    if not np.isfinite(samples).all():
        raise InputError(
            "non_finite",
            "The file decodes to NaN or infinite samples; only finite values are accepted.",
        )
    info = WavInfo(
        sample_rate_hz=rate,
        channels=channels,
        frames=pos,
        bits_per_sample=bits if bits is not None else 32,
        sample_format="pcm" if bits is not None else "float",
    )
    return WavAudio(samples=samples, info=info)


# --- encoding ------------------------------------------------------------------------------


def _check_bits(bits: str) -> WavBits:
    if bits not in ("16", "24", "32f"):
        raise ParamError(
            "unsupported_bits",
            f"Output bit depth {bits!r} is not supported; accepted: '16', '24' or '32f'.",
            field="bits",
        )
    return cast(WavBits, bits)


def _header(channels: int, sample_rate_hz: int, bits: WavBits, frames: int, *, rf64: bool) -> bytes:
    """The bytes before the samples: RIFF (or RF64) + [ds64] + fmt + [fact] + data header."""
    is_float = bits == "32f"
    container = 4 if is_float else int(bits) // 8
    block_align = channels * container
    data_size = frames * block_align
    pad = data_size & 1
    if channels > 2:
        sub = struct.pack("<H", _FORMAT_IEEE_FLOAT if is_float else _FORMAT_PCM) + _GUID_TAIL
        fmt_body = (
            struct.pack(
                "<HHIIHHHHI",
                _FORMAT_EXTENSIBLE,
                channels,
                sample_rate_hz,
                sample_rate_hz * block_align,
                block_align,
                8 * container,
                22,
                8 * container,
                _CHANNEL_MASKS[channels],
            )
            + sub
        )
    elif is_float:
        fmt_body = struct.pack(
            "<HHIIHHH",
            _FORMAT_IEEE_FLOAT,
            channels,
            sample_rate_hz,
            sample_rate_hz * block_align,
            block_align,
            32,
            0,
        )
    else:
        fmt_body = struct.pack(
            "<HHIIHH",
            _FORMAT_PCM,
            channels,
            sample_rate_hz,
            sample_rate_hz * block_align,
            block_align,
            8 * container,
        )
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body
    if is_float:
        chunks += b"fact" + struct.pack("<II", 4, min(frames, _U32_MAX))
    body_size = 4 + len(chunks) + 8 + data_size + pad  # "WAVE" + chunks + data
    if rf64:
        ds64 = b"ds64" + struct.pack("<IQQQI", 28, body_size + 36, data_size, frames, 0)
        riff = (b"RF64", _u32(_U32_MAX), b"WAVE", ds64, chunks, b"data", _u32(_U32_MAX))
        return b"".join(riff)
    return b"".join((b"RIFF", _u32(body_size), b"WAVE", chunks, b"data", _u32(data_size)))


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _needs_rf64(channels: int, bits: WavBits, frames: int) -> bool:
    container = 4 if bits == "32f" else int(bits) // 8
    return frames * channels * container + 100 > _U32_MAX


def _encode_block(x: npt.NDArray[np.floating[Any]], bits: WavBits) -> bytes:
    """Interleave and quantise one ``(channels, frames)`` block to little-endian samples."""
    if bits == "32f":
        return np.ascontiguousarray(x.T, dtype="<f4").tobytes()
    full = 1 << (int(bits) - 1)
    q: npt.NDArray[np.floating[Any]] = np.rint(x.T * float(full))  # (frames, channels)
    np.clip(q, -full, full - 1, out=q)
    if bits == "16":
        return q.astype("<i2").tobytes()
    q32 = q.astype("<i4").reshape(-1)
    # The low 3 bytes of each little-endian int32, as 3-byte items: one strided copy.
    low3: npt.NDArray[Any] = np.ndarray(shape=q32.shape, dtype="V3", buffer=q32, strides=(4,))
    return bytes(low3.tobytes())


def _chunks(
    x: npt.ArrayLike, sample_rate_hz: int, bits: str, *, rf64: bool | None = None
) -> Iterator[bytes]:
    """Validate, then yield the WAV file's bytes: the header, then blocks of samples."""
    wav_bits = _check_bits(bits)
    rate = check_sample_rate(sample_rate_hz)
    arr = as_audio(x)
    channels, frames = arr.shape
    use_rf64 = _needs_rf64(channels, wav_bits, frames) if rf64 is None else rf64
    yield _header(channels, rate, wav_bits, frames, rf64=use_rf64)
    for start in range(0, frames, _ENCODE_BLOCK_FRAMES):
        yield _encode_block(arr[:, start : start + _ENCODE_BLOCK_FRAMES], wav_bits)
    container = 4 if wav_bits == "32f" else int(wav_bits) // 8
    if (frames * channels * container) & 1:
        yield b"\x00"


def encode_wav(x: npt.ArrayLike, sample_rate_hz: int, bits: WavBits) -> bytes:
    """Encode audio ``(channels, frames)`` as the bytes of a WAV file.

    Parameters
    ----------
    x
        Audio, floating point, full scale 1.0. Not modified.
    sample_rate_hz
        8 kHz to 384 kHz.
    bits
        ``"16"`` or ``"24"``: PCM, ``round(x * 2 ** (bits - 1))`` clipped to
        ``[-2 ** (bits - 1), 2 ** (bits - 1) - 1]``; ``"32f"``: IEEE float.

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite``, ``unsupported_sample_rate``.
    ParamError
        ``unsupported_bits``.
    """
    return b"".join(_chunks(x, sample_rate_hz, bits))


def write_wav(
    path: str | os.PathLike[str], x: npt.ArrayLike, sample_rate_hz: int, bits: WavBits
) -> None:
    """Write audio to a WAV file atomically (see :func:`encode_wav` for the format).

    The file is written block by block to a temporary file in the same directory, flushed to
    disk, then renamed over ``path``; on any failure the temporary file is removed and ``path``
    is left as it was.

    Raises
    ------
    InputError
        As :func:`encode_wav`; ``is_directory`` if ``path`` is a directory; ``write_failed``
        if the file cannot be written (missing directory, permissions, full disk).
    ParamError
        ``unsupported_bits``.
    """
    name = os.fspath(path)
    if os.path.isdir(name):
        raise InputError(
            "is_directory", f"{name!r} is a directory; give a file name to write.", field="path"
        )
    chunks = _chunks(x, sample_rate_hz, bits)
    header = next(chunks)  # validates before anything touches the disk
    import secrets  # here, not at the top: reading (the analysis) does not need it

    directory = os.path.dirname(os.path.abspath(name))
    tmp = os.path.join(directory, f".{os.path.basename(name)}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise InputError(
            "write_failed", f"Cannot write {name!r} ({exc.strerror}).", field="path"
        ) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(header)
            for block in chunks:
                handle.write(block)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, name)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise InputError(
                "write_failed", f"Cannot write {name!r} ({exc.strerror or exc}).", field="path"
            ) from None
        raise

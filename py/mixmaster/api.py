"""The facade the browser calls: JSON-friendly functions over the package, and a small session.

This is the only Python entry point of the web app. The worker (``web/worker.js``) creates one
:class:`Session` and calls :meth:`Session.call` with an action name, a dict of plain values and
an optional progress callback; every reply is ``{"result": ...}`` or
``{"error": {"code", "message"}}``, never an exception and never a traceback.

Values crossing to JavaScript are plain: ``dict``, ``list``, ``str``, ``float``, ``int``,
``bool``, ``None``, ``bytes`` (becomes a ``Uint8Array``) and float32 numpy arrays (become
``Float32Array``). Audio arrives as the bytes of a WAV file (parsed here, at its own rate and
depth, by :func:`mixmaster.wavio.read_wav`) or as one float32 buffer per channel at a given rate
(decoded by WebAudio on the page).

State, kept minimal: the session holds the decoded input (so any setting can change and the
track be mastered again without sending the file again), its features, and the last master (for
the A/B player). A new ``analyze`` replaces all of it; an album or a reference is held the same
way; nothing else is kept.

Limits (:data:`MAX_FILE_BYTES`, :data:`MAX_LOSSY_FILE_BYTES`, :data:`MAX_CHANNEL_SAMPLES`) bound
what the browser can hold: WebAssembly memory is 32-bit (at most 4 GiB), and mastering needs
several full-length float copies of the track.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mixmaster import __version__, params, studio
from mixmaster.audio import MAX_CHANNELS, as_audio, check_sample_rate
from mixmaster.errors import CancelledError, InputError, MixmasterError, ParamError

#: Largest file the page reads at all, in bytes (checked before reading).
MAX_FILE_BYTES: Final = 512 * 1024 * 1024
#: Largest compressed (MP3, OGG, M4A, AAC) file, in bytes: decoding expands it about tenfold.
MAX_LOSSY_FILE_BYTES: Final = 64 * 1024 * 1024
#: Most samples (channels x frames) mastered in one go: 20 minutes of stereo at 48 kHz.
MAX_CHANNEL_SAMPLES: Final = 2 * 48_000 * 20 * 60
#: Most samples (channels x frames, all tracks together) of an album mastered in the browser.
MAX_ALBUM_CHANNEL_SAMPLES: Final = 2 * MAX_CHANNEL_SAMPLES
#: Most tracks in an album.
MAX_ALBUM_TRACKS: Final = 30
#: Bit depths offered for the download; 24-bit is the default.
BIT_DEPTHS: Final = params.BIT_DEPTHS
DEFAULT_BITS: Final = "24"

#: What the page shows for each progress stage of :func:`mixmaster.analyze.analyze` and
#: :func:`mixmaster.pipeline.master`.
PROGRESS_LABELS: Final = {
    "analyze": {
        "loudness": "loudness (BS.1770)",
        "true_peak": "true peak",
        "spectrum": "spectrum",
        "stereo": "stereo image",
        "tempo": "tempo",
    },
    "master": {
        "prelimiter": "EQ, dynamics and stereo",
        "loudness": "loudness and true-peak limiting",
        "output": "dither and output",
        "verify": "true-peak check",
    },
}

Progress = Callable[[str, float], None]
#: The page's progress callback: returning ``True`` asks to cancel the request.
PageProgress = Callable[[str, float], object]
FloatArray = npt.NDArray[np.float32]


def limits() -> dict[str, Any]:
    """The size and length limits, with sentences the page shows."""
    minutes_48k_stereo = MAX_CHANNEL_SAMPLES / (2 * 48_000 * 60)
    return {
        "max_file_bytes": MAX_FILE_BYTES,
        "max_lossy_file_bytes": MAX_LOSSY_FILE_BYTES,
        "max_channel_samples": MAX_CHANNEL_SAMPLES,
        "summary": (
            f"up to {minutes_48k_stereo:g} minutes of stereo at 48 kHz, "
            f"files up to {MAX_FILE_BYTES // 2**20} MB"
        ),
        "too_long_message": _too_long_message(None),
    }


def _too_long_message(duration_s: float | None) -> str:
    minutes = MAX_CHANNEL_SAMPLES / (2 * 48_000 * 60)
    what = "This file is" if duration_s is None else f"This file is {duration_s / 60:.1f} minutes,"
    return (
        f"{what} too long to master in the browser: up to {minutes:g} minutes of stereo at "
        f"48 kHz fit (half that at 96 kHz or with twice the channels)."
    )


# --- the input -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    """A decoded input: float32 ``(channels, frames)`` at its own sample rate.

    ``source`` says where it came from, for the report, e.g. ``"WAV, 24-bit PCM"``.
    """

    audio: FloatArray
    sample_rate_hz: int
    source: str

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return int(self.audio.shape[1]) / self.sample_rate_hz

    def info(self) -> dict[str, Any]:
        """``{sample_rate_hz, channels, frames, duration_s, source}``."""
        return {
            "sample_rate_hz": self.sample_rate_hz,
            "channels": int(self.audio.shape[0]),
            "frames": int(self.audio.shape[1]),
            "duration_s": self.duration_s,
            "source": self.source,
        }


def check_length(channels: int, frames: int, sample_rate_hz: int) -> None:
    """Raise ``InputError("too_long")`` beyond :data:`MAX_CHANNEL_SAMPLES`."""
    if channels * frames > MAX_CHANNEL_SAMPLES:
        raise InputError("too_long", _too_long_message(frames / sample_rate_hz))


def load_wav(data: bytes | bytearray | memoryview) -> Track:
    """Parse a WAV file's bytes at its own rate and depth.

    The header is checked against the length limit before any sample is decoded.

    Raises
    ------
    InputError
        As :func:`mixmaster.wavio.read_wav` (``not_wav``, ``wav_truncated``,
        ``unsupported_codec``...), and ``too_long``.
    """
    from mixmaster.wavio import read_wav, read_wav_info

    info = read_wav_info(data)
    check_length(info.channels, info.frames, info.sample_rate_hz)
    wav = read_wav(data)
    kind = "float" if wav.info.sample_format == "float" else "PCM"
    source = f"WAV, {wav.info.bits_per_sample}-bit {kind}"
    return Track(wav.samples, wav.info.sample_rate_hz, source)


def load_channels(channels: Sequence[Any], sample_rate_hz: float) -> Track:
    """Build a track from one float32 buffer per channel (as WebAudio decodes them).

    Raises
    ------
    InputError
        ``bad_layout`` (no channel, more than 8, or channels of different lengths),
        ``empty_audio``, ``non_finite``, ``unsupported_sample_rate``, ``too_long``.
    """
    rate = check_sample_rate(sample_rate_hz)
    if not 1 <= len(channels) <= MAX_CHANNELS:
        raise InputError(
            "bad_layout",
            f"The decoded audio has {len(channels)} channels; 1 to {MAX_CHANNELS} are accepted.",
        )
    arrays = [np.frombuffer(c, dtype=np.float32) for c in channels]
    if len({a.shape[0] for a in arrays}) != 1:
        raise InputError("bad_layout", "The decoded channels have different lengths.")
    check_length(len(arrays), int(arrays[0].shape[0]), rate)
    audio = np.stack(arrays)
    as_audio(audio)
    return Track(audio, rate, "decoded by the browser (32-bit float)")


def load_track(args: Mapping[str, Any]) -> Track:
    """The track in a request: ``{wav: bytes}`` or ``{channels: [...], sample_rate_hz}``."""
    if args.get("wav") is not None:
        return load_wav(args["wav"])
    if args.get("channels") is not None:
        return load_channels(list(args["channels"]), args.get("sample_rate_hz", 0))
    raise InputError("no_audio", "No audio was given; send a WAV file or decoded channels.")


# --- the steps -----------------------------------------------------------------------------


def analyze(track: Track, progress: Progress | None = None) -> dict[str, Any]:
    """Measure the track; return the feature JSON the decision (and the proxy) take."""
    from mixmaster.analyze import analyze as run_analysis

    analysis = run_analysis(track.audio, track.sample_rate_hz, progress=progress)
    features: dict[str, Any] = analysis.to_json()
    return features


def resolve_intent(intent: Mapping[str, object]) -> params.Intent:
    """The full intent from the page's partial one (platform/style; the rest default)."""
    return params.intent_from_dict(intent)


def decide(
    features: Mapping[str, object],
    intent: Mapping[str, object],
    reference_features: Mapping[str, object] | None = None,
    amounts: Mapping[str, object] | None = None,
) -> dict[str, Any]:
    """The built-in rules' decision: ``{params, explanation: [sentence, ...]}``.

    With ``reference_features`` (a reference track's feature JSON), the decision matches the
    reference by the ``amounts`` of each aspect (:func:`mixmaster.reference.decide_reference`).
    """
    if reference_features is not None:
        from mixmaster.reference import decide_reference

        matched = decide_reference(
            features,
            reference_features,
            resolve_intent(intent),
            params.match_amounts_from_dict(amounts or {}),
        )
        return matched.to_json()
    from mixmaster.decide import decide as rules

    decision = rules(features, resolve_intent(intent))
    out: dict[str, Any] = decision.to_json()
    return out


@dataclass(frozen=True)
class Mastered:
    """The last master: audio quantised to ``params.output.bits``, its parameters and report."""

    audio: npt.NDArray[np.float32]
    sample_rate_hz: int
    params: params.MasteringParams
    report: dict[str, Any]


def master(
    track: Track,
    params_dict: Mapping[str, object],
    bits: str | None = None,
    progress: Progress | None = None,
    features: Mapping[str, object] | None = None,
) -> Mastered:
    """Master the track with the given parameters (validated strictly, as the rules and the
    proxy produce them); ``bits`` overrides ``output.bits`` (the download format). The
    input's ``features`` (from :func:`analyze`), when given, spare the pipeline measuring the
    input's levels again.

    Raises
    ------
    ParamError
        For any invalid parameter, naming it; ``unsupported_bits`` for an unknown bit depth.
    InputError
        As :func:`mixmaster.pipeline.master`.
    """
    p = params.params_from_dict(params_dict)
    if bits is not None:
        p = params.with_changes(p, output={"bits": _check_bits(bits)})
    from mixmaster.pipeline import LevelReport
    from mixmaster.pipeline import master as run_pipeline

    before = LevelReport.from_features(features) if features is not None else None
    result = run_pipeline(track.audio, track.sample_rate_hz, p, progress=progress, before=before)
    return Mastered(result.audio, track.sample_rate_hz, p, result.report.to_json())


def _check_bits(bits: str) -> str:
    if bits not in BIT_DEPTHS:
        raise ParamError(
            "unsupported_bits",
            f"Bit depth {bits!r} is not offered; accepted: {', '.join(BIT_DEPTHS)}.",
            field="bits",
        )
    return bits


def encode(mastered: Mastered) -> bytes:
    """The master as the bytes of a WAV file at its own rate and bit depth.

    The audio is already quantised (and dithered) to ``output.bits`` by the pipeline, so this
    writes exact values; another bit depth means mastering again (``master`` with ``bits``),
    which keeps the true-peak guarantee for that depth's dither.
    """
    from mixmaster.wavio import encode_wav

    return encode_wav(mastered.audio, mastered.sample_rate_hz, mastered.params.output.bits)  # type: ignore[arg-type]


_BITS_LABELS: Final = {"16": "16-bit PCM (dithered)", "24": "24-bit PCM", "32f": "32-bit float"}


def report_rows(track: Track, mastered: Mastered) -> list[dict[str, str]]:
    """The report as ``[{label, value}]`` rows for the page (units written out)."""
    rep = mastered.report
    before, after = rep["before"], rep["after"]
    return [
        {
            "label": "Loudness",
            "value": f"{studio.fmt(before['integrated_lufs'], 'LUFS')} → "
            f"{studio.fmt(after['integrated_lufs'], 'LUFS')}",
        },
        {
            "label": "True peak",
            "value": f"{studio.fmt(before['true_peak_dbtp'], 'dBTP')} → "
            f"{studio.fmt(after['true_peak_dbtp'], 'dBTP')} "
            f"(ceiling {studio.fmt(rep['ceiling_dbtp'], 'dBTP')})",
        },
        {
            "label": "Loudness range",
            "value": f"{studio.fmt(before['loudness_range_lu'], 'LU')} → "
            f"{studio.fmt(after['loudness_range_lu'], 'LU')}",
        },
        {"label": "Target", "value": rep["loudness"]["note"]},
        {
            "label": "Format",
            "value": f"{track.sample_rate_hz / 1000:g} kHz, "
            f"{rep['channels']} channel{'s' if rep['channels'] != 1 else ''}, "
            f"{_BITS_LABELS.get(rep['bits'], rep['bits'])}",
        },
        {"label": "Source", "value": f"{track.source}, {track.duration_s:.1f} s"},
    ]


def headline(mastered: Mastered) -> str:
    """One sentence: the master's loudness and true peak."""
    after = mastered.report["after"]
    if after["integrated_lufs"] is None:
        return "The master is silent, as the input was."
    return (
        f"The master reads {studio.fmt(after['integrated_lufs'], 'LUFS')} with a true peak of "
        f"{studio.fmt(after['true_peak_dbtp'], 'dBTP')}."
    )


def warm_up() -> list[str]:
    """Import every module a job needs, so their cost (scipy's submodules take seconds in
    Pyodide) is paid while the page boots rather than when a file is dropped.

    Returns the imported module names.
    """
    names = ["mixmaster.wavio", "mixmaster.analyze", "mixmaster.decide", "mixmaster.pipeline"]
    for name in names:
        importlib.import_module(name)
    return names


def describe() -> dict[str, Any]:
    """Everything the page builds its controls from: parameters, intent, limits, versions."""
    out = params.describe()
    out["default_intent"] = params.intent_to_dict(params.Intent())
    out["limits"] = limits()
    out["bit_depths"] = list(BIT_DEPTHS)
    out["bit_depth_labels"] = dict(_BITS_LABELS)
    out["default_bits"] = DEFAULT_BITS
    out["version"] = __version__
    out["progress_labels"] = PROGRESS_LABELS
    out["band_centres_hz"] = studio.band_centres_hz()
    out["album"] = {
        "max_tracks": MAX_ALBUM_TRACKS,
        "max_channel_samples": MAX_ALBUM_CHANNEL_SAMPLES,
    }
    out["platform_labels"] = dict(studio.PLATFORM_LABELS)
    return out


def pyodide_version() -> str | None:
    """The Pyodide version this runs in, or ``None`` natively."""
    try:
        import pyodide  # type: ignore[import-not-found]
    except ImportError:
        return None
    version = getattr(pyodide, "__version__", None)
    return str(version) if version is not None else None


def cancellable(progress: PageProgress | None) -> Progress | None:
    """Wrap the page's progress callback: when it returns ``True`` (the page asked to cancel
    this request), raise :class:`~mixmaster.errors.CancelledError`, which stops the analysis
    or the master at its next step."""
    if progress is None:
        return None

    def report(stage: str, fraction: float) -> None:
        if progress(stage, fraction) is True:
            raise CancelledError("cancelled", "Cancelled: a newer change replaced this render.")

    return report


def error_dict(exc: BaseException) -> dict[str, str]:
    """``{code, message}`` for any exception: ours keep their code and sentence; anything else
    becomes a generic sentence (no traceback shown), with ``detail`` (the exception's type and
    text) for the browser's developer console only."""
    if isinstance(exc, MixmasterError):
        return {"code": exc.code, "message": exc.message}
    detail = f"{type(exc).__name__}: {exc}"[:500]
    if isinstance(exc, MemoryError):
        return {
            "code": "out_of_memory",
            "message": "The browser ran out of memory for this file. Try a shorter file.",
            "detail": detail,
        }
    return {
        "code": "internal_error",
        "message": "The audio engine hit an unexpected problem with this file. "
        "Reload the page and try again.",
        "detail": detail,
    }


# --- the session the worker holds ----------------------------------------------------------


class Session:
    """What the worker keeps between calls: the input, its features and the last master.

    Use :meth:`call`; each action takes a dict of plain values:

    ``analyze``  ``{wav: bytes}`` or ``{channels: [float32 buffer, ...], sample_rate_hz}``,
                 and ``input_sha256`` (of the file, for the recipe)
                 -> ``{track, features, analysis, view}``
    ``decide``   ``{features, intent}`` -> ``{params, explanation}`` (the built-in rules)
    ``master``   ``{params, intent?, bits?}``
                 -> ``{wav, bits, report, rows, headline, levels, platforms, view, recipe}``
    ``describe`` ``{}`` -> :func:`describe`
    ``audio``    ``{which: "original" | "master"}`` -> ``{channels: [float32, ...],
                 sample_rate_hz}``, for the page's A/B player
    ``reference`` ``{wav | channels, sample_rate_hz}`` -> ``{track, features, analysis}``: a
                 reference track's features (its audio is not kept); ``decide`` with
                 ``{reference: true, amounts}`` then matches it
    ``clear_reference`` ``{}`` -> ``{}``
    ``album_add`` ``{wav | channels, sample_rate_hz, name}`` -> ``{index, track, features,
                 analysis}``: one more album track (kept until ``album_clear``)
    ``album_features`` ``{}`` -> the album's combined feature JSON (what the server decides on)
    ``album_master`` ``{intent, decision?: {params, explanation}, reference?, amounts?, bits?}``
                 -> ``{zip, tracks, album, explanation}``: every track mastered with one
                 decision and one album gain, all in one zip
    ``album_clear`` ``{}`` -> ``{}``

    The progress callback may return ``True`` to cancel the request (:func:`cancellable`).
    """

    def __init__(self) -> None:
        self.track: Track | None = None
        self.features: dict[str, Any] | None = None
        self.mastered: Mastered | None = None
        self.input_sha256: str | None = None
        self.reference_features: dict[str, Any] | None = None
        self.album: list[AlbumTrack] = []

    def call(
        self,
        action: str,
        args: Mapping[str, Any] | None = None,
        progress: PageProgress | None = None,
    ) -> dict[str, Any]:
        """Run one action; return ``{"result": ...}`` or ``{"error": {"code", "message"}}``."""
        handler = self._actions().get(action)
        if handler is None:
            return {
                "error": {
                    "code": "unknown_action",
                    "message": f"The engine has no action called {action!r}.",
                }
            }
        try:
            return {"result": handler(dict(args or {}), cancellable(progress))}
        except Exception as exc:  # every failure becomes {code, message}, never a traceback
            return {"error": error_dict(exc)}

    def _actions(self) -> dict[str, Callable[[dict[str, Any], Progress | None], Any]]:
        return {
            "analyze": self._analyze,
            "decide": self._decide,
            "master": self._master,
            "describe": lambda _args, _progress: describe(),
            "audio": self._audio,
            "reference": self._reference,
            "clear_reference": self._clear_reference,
            "album_add": self._album_add,
            "album_features": self._album_features,
            "album_master": self._album_master,
            "album_clear": self._album_clear,
        }

    def _analyze(self, args: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
        digest = _sha256_arg(args.get("input_sha256"))
        self.track = self.features = self.mastered = self.input_sha256 = None
        self.album = []  # one track or one album at a time: WebAssembly memory is 4 GiB at most
        track = load_track(args)
        features = analyze(track, progress)
        self.track, self.features, self.input_sha256 = track, features, digest
        view = {
            "waveform": studio.waveform_envelope(track.audio),
            "spectrum_dbfs": studio.spectrum_view(
                features["third_octave_db"], features["rms_dbfs"]
            ),
        }
        return {
            "track": track.info(),
            "features": features,
            "analysis": studio.analysis_rows(features),
            "view": view,
        }

    def _reference_arg(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """The reference's features when the request asks to match it (``reference: true``)."""
        if not args.get("reference"):
            return None
        if self.reference_features is None:
            raise InputError("no_reference", "No reference track is loaded; add one first.")
        return self.reference_features

    def _decide(self, args: dict[str, Any], _progress: Progress | None) -> dict[str, Any]:
        return decide(
            args.get("features") or {},
            args.get("intent") or {},
            self._reference_arg(args),
            args.get("amounts"),
        )

    def _reference(self, args: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
        """A new reference replaces the old one only once it is measured and usable."""
        from mixmaster.decide import NEAR_SILENT_LUFS

        track = load_track(args)
        features = analyze(track, progress)
        lufs = features.get("integrated_lufs")
        if lufs is None or lufs < NEAR_SILENT_LUFS:
            raise InputError(
                "silent_reference",
                f"The reference is silent or nearly so (below {NEAR_SILENT_LUFS:g} LUFS); "
                "there is nothing to match.",
            )
        self.reference_features = features
        return {
            "track": track.info(),
            "features": features,
            "analysis": studio.analysis_rows(features),
        }

    def _clear_reference(self, _args: dict[str, Any], _progress: Progress | None) -> dict[str, Any]:
        self.reference_features = None
        return {}

    def _album_add(self, args: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
        if len(self.album) >= MAX_ALBUM_TRACKS:
            raise InputError(
                "album_too_many",
                f"An album holds up to {MAX_ALBUM_TRACKS} tracks in the browser.",
            )
        track = load_track(args)
        held = sum(t.track.audio.size for t in self.album)
        if held + track.audio.size > MAX_ALBUM_CHANNEL_SAMPLES:
            minutes = MAX_ALBUM_CHANNEL_SAMPLES / (2 * 48_000 * 60)
            raise InputError(
                "album_too_long",
                f"The album is too long to master in the browser: up to {minutes:g} minutes of "
                "stereo at 48 kHz fit in all. Master it in parts, or use the command line.",
            )
        name = str(args.get("name") or f"track {len(self.album) + 1}")
        self.track = self.features = self.mastered = None  # the album takes the memory
        features = analyze(track, progress)
        self.album.append(AlbumTrack(name, track, features))
        return {
            "index": len(self.album) - 1,
            "track": track.info(),
            "features": features,
            "analysis": studio.analysis_rows(features),
        }

    def _album_features(self, _args: dict[str, Any], _progress: Progress | None) -> dict[str, Any]:
        from mixmaster.album import album_features

        return album_features([t.features for t in self._require_album()])

    def _require_album(self) -> list[AlbumTrack]:
        if not self.album:
            raise InputError("no_album", "No album tracks are loaded; drop several files first.")
        return self.album

    def _album_master(self, args: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
        reference = self._reference_arg(args)
        decision = args.get("decision")
        if decision is not None and not isinstance(decision, Mapping):
            raise ParamError(
                "bad_type", "decision must be an object {params, explanation}.", field="decision"
            )
        return master_album(
            self._require_album(),
            args.get("intent") or {},
            decision=decision,
            reference_features=reference,
            amounts=args.get("amounts"),
            bits=_bits_arg(args.get("bits")) or DEFAULT_BITS,
            progress=progress,
        )

    def _album_clear(self, _args: dict[str, Any], _progress: Progress | None) -> dict[str, Any]:
        self.album = []
        return {}

    def _require_track(self) -> Track:
        if self.track is None:
            raise InputError("no_track", "No track is loaded; drop a file first.")
        return self.track

    def _master(self, args: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
        track = self._require_track()
        self.mastered = None
        bits = args.get("bits")
        mastered = master(track, args.get("params") or {}, _bits_arg(bits), progress, self.features)
        self.mastered = mastered
        return self._reply(track, mastered)

    def _audio(self, args: dict[str, Any], _progress: Progress | None) -> dict[str, Any]:
        which = args.get("which")
        if which == "original":
            track = self._require_track()
            audio, rate = track.audio, track.sample_rate_hz
        elif which == "master":
            if self.mastered is None:
                raise InputError("no_master", "Nothing is mastered yet; drop a file first.")
            audio, rate = self.mastered.audio, self.mastered.sample_rate_hz
        else:
            raise InputError("bad_audio_choice", f"which is {which!r}; accepted: original, master.")
        return {"channels": [np.ascontiguousarray(c) for c in audio], "sample_rate_hz": rate}

    def _reply(self, track: Track, mastered: Mastered) -> dict[str, Any]:
        after = mastered.report["after"]
        return {
            "wav": encode(mastered),
            "bits": mastered.params.output.bits,
            "report": mastered.report,
            "rows": report_rows(track, mastered),
            "headline": headline(mastered),
            "levels": studio.level_rows(mastered.report),
            "platforms": studio.platform_playback(
                after["integrated_lufs"], after["true_peak_dbtp"]
            ),
            "view": studio.measure_view(mastered.audio, mastered.sample_rate_hz),
            "recipe": studio.recipe(
                mastered.params,
                input_sha256=self.input_sha256,
                pyodide_version=pyodide_version(),
                track=track.info(),
            ),
        }


def _sha256_arg(value: object) -> str | None:
    """A lowercase hex SHA-256 digest, or ``None``; anything else is refused."""
    if value is None:
        return None
    text = str(value)
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise InputError("bad_sha256", "input_sha256 must be 64 lowercase hex digits.")
    return text


def _bits_arg(bits: object) -> str | None:
    if bits is None:
        return None
    return _check_bits(str(bits))


# --- album ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlbumTrack:
    """One album track the session holds: its name (for the zip), audio and features."""

    name: str
    track: Track
    features: dict[str, Any]


def _zip_name(name: str, used: set[str]) -> str:
    """``<stem>-master.wav`` for a track's file name, unique within the zip."""
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    stem = "".join(c if c.isprintable() and c not in '/\\:*?"<>|' else "_" for c in stem)
    stem = stem.strip(" .") or "track"
    candidate, n = f"{stem}-master.wav", 2
    while candidate.lower() in used:
        candidate, n = f"{stem} ({n})-master.wav", n + 1
    used.add(candidate.lower())
    return candidate


def master_album(
    tracks: Sequence[AlbumTrack],
    intent: Mapping[str, object],
    *,
    decision: Mapping[str, Any] | None = None,
    reference_features: Mapping[str, object] | None = None,
    amounts: Mapping[str, object] | None = None,
    bits: str = DEFAULT_BITS,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Master an album in one go, one track after the other (the browser has one core).

    One shared decision (``decision`` from the server, else the rules, or the reference's match)
    and one album gain (:func:`mixmaster.album.plan_album`); a track that could not reach its
    place gets another round (:func:`mixmaster.album.album_next_round`), as in the CLI.

    Returns
    -------
    dict
        ``zip``: the masters (``<name>-master.wav``) and ``album-report.json``, as bytes;
        ``tracks``: per track ``{name, before_lufs, after_lufs, true_peak_dbtp}``;
        ``album``: the plan and its check; ``table``: the rows and summary the page shows
        (:func:`mixmaster.studio.album_view`); ``explanation``: sentences.
    """
    import io
    import json
    import zipfile

    from mixmaster.album import AlbumPlan, check_album, master_in_rounds, plan_album
    from mixmaster.decide import Decision
    from mixmaster.loudness import album_loudness_lufs, measure_loudness
    from mixmaster.pipeline import master as run_pipeline
    from mixmaster.wavio import encode_wav

    features = [t.features for t in tracks]
    inputs = [measure_loudness(t.track.audio, t.track.sample_rate_hz) for t in tracks]
    shared = None
    if decision is not None:
        shared = Decision(
            params.params_from_dict(decision.get("params") or {}),
            tuple(str(s) for s in decision.get("explanation") or ()),
        )
    resolved = resolve_intent(intent)
    amounts_ = params.match_amounts_from_dict(amounts or {})
    album_lufs = album_loudness_lufs([m.momentary_lufs for m in inputs])

    def plan_for(gain_offset_db: float = 0.0, extra_limiting_db: float = 0.0) -> AlbumPlan:
        return plan_album(
            features,
            resolved,
            album_lufs=album_lufs,
            reference_features=reference_features,
            amounts=amounts_,
            decision=shared,
            gain_offset_db=gain_offset_db,
            extra_limiting_db=extra_limiting_db,
        )

    def master_all(plan: AlbumPlan) -> list[dict[str, Any]]:
        done = []
        for i, (t, planned) in enumerate(zip(tracks, plan.params, strict=True)):
            p = params.with_changes(planned, output={"bits": bits})

            def step(stage: str, fraction: float, i: int = i) -> None:
                if progress is not None:
                    progress(
                        f"track {i + 1} of {len(tracks)}: {stage}", (i + fraction) / len(tracks)
                    )

            result = run_pipeline(t.track.audio, t.track.sample_rate_hz, p, progress=step)
            meter = measure_loudness(result.audio, t.track.sample_rate_hz)
            wav = encode_wav(result.audio, t.track.sample_rate_hz, p.output.bits)  # type: ignore[arg-type]
            done.append({"wav": wav, "loudness": meter, "report": result.report.to_json()})
        return done

    plan, results = master_in_rounds(
        plan_for, master_all, lambda r: float(r["loudness"].integrated_lufs)
    )

    output_lufs = [r["loudness"].integrated_lufs for r in results]
    album_out = album_loudness_lufs([r["loudness"].momentary_lufs for r in results])
    check = check_album(plan, [m.integrated_lufs for m in inputs], output_lufs, album_out)
    rows = [
        {
            "name": t.name,
            "before_lufs": r["report"]["before"]["integrated_lufs"],
            "after_lufs": r["report"]["after"]["integrated_lufs"],
            "true_peak_dbtp": r["report"]["after"]["true_peak_dbtp"],
        }
        for t, r in zip(tracks, results, strict=True)
    ]
    album = plan.to_json() | {"check": check.to_json()}
    buffer = io.BytesIO()
    used: set[str] = set()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for t, r in zip(tracks, results, strict=True):
            zf.writestr(_zip_name(t.name, used), r.pop("wav"))  # moved, not copied
        report = {"mixmaster_version": __version__, "tracks": rows, "album": album}
        zf.writestr("album-report.json", json.dumps(report, indent=2))
    return {
        "zip": buffer.getvalue(),
        "tracks": rows,
        "album": album,
        "table": studio.album_view(rows, album["check"]),
        "explanation": list(plan.explanation),
    }

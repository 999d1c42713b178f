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

State, kept minimal: the session holds the decoded input (so the platform or style can change
and the track be mastered again without sending the file again), its features, and the last
master (so it can be re-encoded at another bit depth without mastering again). A new
``analyze`` replaces all of it; nothing else is kept.

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


def decide(features: Mapping[str, object], intent: Mapping[str, object]) -> dict[str, Any]:
    """The built-in rules' decision: ``{params, explanation: [sentence, ...]}``."""
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
    writes exact values; another bit depth means mastering again (:meth:`Session.call`
    ``encode``), which keeps the true-peak guarantee for that depth's dither.
    """
    from mixmaster.wavio import encode_wav

    return encode_wav(mastered.audio, mastered.sample_rate_hz, mastered.params.output.bits)  # type: ignore[arg-type]


def _db(value: object, unit: str) -> str:
    if not isinstance(value, int | float):
        return "silent"
    return f"{value:.1f} {unit}".replace("-", "\u2212")


_BITS_LABELS: Final = {"16": "16-bit PCM (dithered)", "24": "24-bit PCM", "32f": "32-bit float"}


def report_rows(track: Track, mastered: Mastered) -> list[dict[str, str]]:
    """The report as ``[{label, value}]`` rows for the page (units written out)."""
    rep = mastered.report
    before, after = rep["before"], rep["after"]
    return [
        {
            "label": "Loudness",
            "value": f"{_db(before['integrated_lufs'], 'LUFS')} → "
            f"{_db(after['integrated_lufs'], 'LUFS')}",
        },
        {
            "label": "True peak",
            "value": f"{_db(before['true_peak_dbtp'], 'dBTP')} → "
            f"{_db(after['true_peak_dbtp'], 'dBTP')} (ceiling {_db(rep['ceiling_dbtp'], 'dBTP')})",
        },
        {
            "label": "Loudness range",
            "value": f"{_db(before['loudness_range_lu'], 'LU')} → "
            f"{_db(after['loudness_range_lu'], 'LU')}",
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
    return (
        f"The master reads {_db(after['integrated_lufs'], 'LUFS')} with a true peak of "
        f"{_db(after['true_peak_dbtp'], 'dBTP')}."
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
    out["default_bits"] = DEFAULT_BITS
    out["version"] = __version__
    out["progress_labels"] = PROGRESS_LABELS
    out["band_centres_hz"] = studio.band_centres_hz()
    out["playback"] = {name: dict(how) for name, how in studio.PLATFORM_PLAYBACK.items()}
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
    ``encode``   ``{bits}`` -> the same as ``master``, for the last master at another depth
    ``describe`` ``{}`` -> :func:`describe`
    ``audio``    ``{which: "original" | "master"}`` -> ``{channels: [float32, ...],
                 sample_rate_hz}``, for the page's A/B player

    The progress callback may return ``True`` to cancel the request (:func:`cancellable`).
    """

    def __init__(self) -> None:
        self.track: Track | None = None
        self.features: dict[str, Any] | None = None
        self.mastered: Mastered | None = None
        self.input_sha256: str | None = None

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
            "encode": self._encode,
            "describe": lambda _args, _progress: describe(),
            "audio": self._audio,
        }

    def _analyze(self, args: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
        self.track = self.features = self.mastered = self.input_sha256 = None
        if args.get("wav") is not None:
            track = load_wav(args["wav"])
        elif args.get("channels") is not None:
            track = load_channels(list(args["channels"]), args.get("sample_rate_hz", 0))
        else:
            raise InputError("no_audio", "No audio was given; send a WAV file or decoded channels.")
        features = analyze(track, progress)
        self.track, self.features = track, features
        self.input_sha256 = _sha256_arg(args.get("input_sha256"))
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

    def _decide(self, args: dict[str, Any], _progress: Progress | None) -> dict[str, Any]:
        return decide(args.get("features") or {}, args.get("intent") or {})

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

    def _encode(self, args: dict[str, Any], progress: Progress | None) -> dict[str, Any]:
        if self.mastered is None:
            raise InputError("no_master", "Nothing is mastered yet; drop a file first.")
        track = self._require_track()
        bits = _check_bits(str(args.get("bits") or DEFAULT_BITS))
        if bits != self.mastered.params.output.bits:
            base = params_to_plain(self.mastered.params)
            self.mastered = master(track, base, bits, progress, self.features)
        return self._reply(track, self.mastered)

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


def params_to_plain(p: params.MasteringParams) -> dict[str, Any]:
    """The nested JSON form of ``p`` (see :func:`mixmaster.params.params_to_dict`)."""
    return params.params_to_dict(p)

"""Analysis: every measurement of a track, gathered into the feature JSON.

The feature JSON is all the decision layer (Claude or :mod:`mixmaster.decide`) ever sees of a
track: numbers only -- no file name, no free text -- under the documented JSON Schema shipped
with the package, ``features.schema.json`` (draft 2020-12). The proxy validates what it receives
against that same file, with :func:`validate_features` (pure Python: it runs in Pyodide too).

Stages, each reported to the optional ``progress`` callback:

- ``loudness``: sample peak, RMS, DC offset and clipping (one pass), then BS.1770-4 / EBU
  Tech 3341-3342 loudness (:mod:`mixmaster.loudness`);
- ``true_peak``: BS.1770-4 Annex 2 true peak (:mod:`mixmaster.truepeak`);
- ``spectrum``: Welch long-term spectra, ⅓-octave levels, tilt, centroid
  (:mod:`mixmaster.spectrum`);
- ``stereo``: correlation and width, overall and per band (:mod:`mixmaster.imaging`);
- ``tempo``: BPM and confidence (:mod:`mixmaster.tempo`).

Silence gives ``-inf`` levels internally and ``null`` in the JSON, without a warning.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mixmaster import background
from mixmaster.audio import as_audio, check_sample_rate
from mixmaster.errors import InputError, ParamError
from mixmaster.imaging import measure_imaging
from mixmaster.loudness import measure_loudness
from mixmaster.spectrum import long_term_spectra, measure_spectrum
from mixmaster.tempo import estimate_tempo
from mixmaster.truepeak import true_peak_lin
from mixmaster.units import lin_to_db, power_to_db

SCHEMA_VERSION = 2
SCHEMA_FILE = "features.schema.json"

LEVEL_FLOOR_DB = -200.0
"""Levels below this (dBFS, dBTP, LUFS) are reported as silence (``-inf`` / ``null``)."""
MAX_SAMPLE_PEAK_DBFS = 120.0
"""Audio whose sample peak exceeds this (|x| > 10⁶) is rejected as not being audio."""
CLIP_LEVEL_LIN = 0.999
"""|x| at or above this counts as full scale for clipping (within 0.009 dB of 0 dBFS)."""
CLIP_RUN_SAMPLES = 3
"""A run of this many consecutive full-scale samples in one channel is a clipped flat top."""

PROGRESS_STAGES: tuple[str, ...] = ("loudness", "true_peak", "spectrum", "stereo", "tempo")
_STAGE_WEIGHTS = (0.35, 0.1, 0.3, 0.05, 0.2)  # rough shares of the run time (5 min at 44.1 kHz)
_CHUNK_SAMPLES = 1 << 16

ProgressCallback = Callable[[str, float], None]
"""``progress(stage, fraction)``; it may raise :class:`mixmaster.errors.CancelledError`."""


@dataclass(frozen=True)
class Analysis:
    """Every measurement of a track; :meth:`to_json` gives the schema'd feature dict.

    Field names, units and meanings are those of ``features.schema.json``; levels that are
    ``null`` there are ``-inf`` here (silence), and undefined values (``tempo_bpm`` of a short
    clip, a band above Nyquist) are ``nan``.
    """

    duration_s: float
    sample_rate_hz: int
    channels: int
    integrated_lufs: float
    loudness_range_lu: float
    momentary_max_lufs: float
    short_term_max_lufs: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    rms_dbfs: float
    crest_db: float
    plr_db: float
    dc_offset: float
    clipped_samples: int
    correlation: float
    width: float
    band_correlation: tuple[float, ...]
    band_width: tuple[float, ...]
    third_octave_db: tuple[float, ...]
    mid_third_octave_db: tuple[float, ...]
    side_third_octave_db: tuple[float, ...]
    spectral_tilt_db_per_oct: float
    spectral_centroid_hz: float
    tempo_bpm: float
    tempo_confidence: float

    def to_json(self) -> dict[str, Any]:
        """Return the feature dict of ``features.schema.json``: rounded, non-finite as ``None``.

        Keys come in schema order, starting with ``schema_version``. The result serialises to
        well under 4 KB.
        """
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float | tuple):
                raise TypeError(f"Analysis.{f.name} has unexpected type {type(value).__name__}")
            if isinstance(value, tuple):
                out[f.name] = [_rounded(float(v), _DECIMALS[f.name]) for v in value]
            elif isinstance(value, int):
                out[f.name] = value
            else:
                out[f.name] = _rounded(value, _DECIMALS[f.name])
        return out


_DECIMALS: dict[str, int] = {
    "duration_s": 3,
    "integrated_lufs": 2,
    "loudness_range_lu": 2,
    "momentary_max_lufs": 2,
    "short_term_max_lufs": 2,
    "true_peak_dbtp": 2,
    "sample_peak_dbfs": 2,
    "rms_dbfs": 2,
    "crest_db": 2,
    "plr_db": 2,
    "dc_offset": 6,
    "correlation": 3,
    "width": 3,
    "band_correlation": 3,
    "band_width": 3,
    "third_octave_db": 2,
    "mid_third_octave_db": 2,
    "side_third_octave_db": 2,
    "spectral_tilt_db_per_oct": 2,
    "spectral_centroid_hz": 1,
    "tempo_bpm": 1,
    "tempo_confidence": 2,
}


def _rounded(value: float, decimals: int) -> float | None:
    """Round for the JSON; ``-inf``/``nan`` become ``None``; ``-0.0`` becomes ``0.0``."""
    if not math.isfinite(value):
        return None
    return round(value, decimals) + 0.0


def _floored(level_db: float) -> float:
    """A level below :data:`LEVEL_FLOOR_DB` is silence: ``-inf``."""
    return level_db if level_db >= LEVEL_FLOOR_DB else -math.inf


@dataclass(frozen=True)
class _LevelStats:
    mean: npt.NDArray[np.float64]  # per channel
    mean_square: float  # over all channels and samples
    peak_lin: float
    channel_peaks_lin: npt.NDArray[np.float64]  # sample peak of each channel
    clipped_samples: int
    lr_moments: tuple[float, float, float]  # variances of channels 0 and 1, their covariance
    finite: bool  # every sample finite (``False`` may also mean squares beyond float64)


def _clipped_in(ext: npt.NDArray[np.floating[Any]], core: slice) -> int:
    """Clipped samples of ``ext[core]`` (``ext`` holds up to 2 samples of context each side)."""
    mag = np.abs(ext)
    full = mag >= CLIP_LEVEL_LIN
    runs = full[:-2] & full[1:-1] & full[2:]  # windows of CLIP_RUN_SAMPLES all at full scale
    in_run = np.zeros(full.shape, dtype=bool)
    in_run[:-2] |= runs
    in_run[1:-1] |= runs
    in_run[2:] |= runs
    return int(np.count_nonzero((in_run | (mag > 1.0))[core]))


def _level_stats(audio: npt.NDArray[np.floating[Any]]) -> _LevelStats:
    """Per-channel mean, overall mean square, sample peak, clipped count and the L/R moments of
    :mod:`mixmaster.imaging`, in one chunked pass (sums in float64)."""
    channels, n = audio.shape
    sums = np.zeros(channels)
    sums_sq = np.zeros(channels)
    sum_lr = 0.0
    peaks = np.zeros(channels)
    clipped = 0
    for start in range(0, n, _CHUNK_SAMPLES):
        stop = min(n, start + _CHUNK_SAMPLES)
        block = audio[:, start:stop]
        block64 = block.astype(np.float64)
        sums += np.sum(block64, axis=1)
        # einsum, not BLAS dot: threaded BLAS stalls on a busy machine for vectors this short.
        sums_sq += np.einsum("ij,ij->i", block64, block64)
        if channels > 1:
            sum_lr += float(np.einsum("i,i->", block64[0], block64[1]))
        block_peaks = np.maximum(np.max(block, axis=1), -np.min(block, axis=1))
        np.maximum(peaks, block_peaks, out=peaks)
        lo, hi = max(0, start - (CLIP_RUN_SAMPLES - 1)), min(n, stop + CLIP_RUN_SAMPLES - 1)
        for ch in np.flatnonzero(block_peaks >= CLIP_LEVEL_LIN):
            clipped += _clipped_in(audio[ch, lo:hi], slice(start - lo, stop - lo))
    mean = sums / n
    right = 1 if channels > 1 else 0
    if channels == 1:
        sum_lr = float(sums_sq[0])
    with np.errstate(over="ignore", invalid="ignore"):  # non-finite input: see ``finite``
        lr_moments = (
            max(0.0, float(sums_sq[0] / n - mean[0] ** 2)),
            max(0.0, float(sums_sq[right] / n - mean[right] ** 2)),
            float(sum_lr / n - mean[0] * mean[right]),
        )
        sum_sq = float(np.sum(sums_sq))
    return _LevelStats(
        mean=mean,
        mean_square=sum_sq / (channels * n),
        peak_lin=float(np.max(peaks)),
        channel_peaks_lin=peaks,
        clipped_samples=clipped,
        lr_moments=lr_moments,
        finite=math.isfinite(sum_sq) and bool(np.all(np.isfinite(sums))),
    )


def _report(progress: ProgressCallback | None, stage_index: int) -> None:
    if progress is not None:
        progress(PROGRESS_STAGES[stage_index], float(sum(_STAGE_WEIGHTS[:stage_index])))


def analyze(
    x: npt.ArrayLike, sample_rate_hz: float, progress: ProgressCallback | None = None
) -> Analysis:
    """Measure everything the decision layer needs to know about a track.

    Parameters
    ----------
    x
        Audio shaped ``(channels, samples)`` (1-8 channels, WAVE/SMPTE order), floating point,
        full scale 1.0; never modified.
    sample_rate_hz
        Sample rate, 8 kHz to 384 kHz; the audio is analysed at its native rate.
    progress
        Optional ``progress(stage, fraction)``, called before each stage of
        :data:`PROGRESS_STAGES` with the fraction of the work done so far, and once more with
        ``("tempo", 1.0)`` at the end. If it raises (e.g.
        :class:`~mixmaster.errors.CancelledError`), the exception propagates.

    Returns
    -------
    Analysis
        Levels are ``-inf`` for silence (``null`` in :meth:`Analysis.to_json`), no warning.

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite`` (:func:`mixmaster.audio.as_audio`),
        ``unsupported_sample_rate``, ``level_out_of_range`` (sample peak above +120 dBFS).

    References
    ----------
    ITU-R BS.1770-4; EBU Tech 3341 and 3342; IEC 61260-1 (⅓-octave bands).
    """
    audio = as_audio(x, check_finite=False)  # checked by the level pass below
    channels, n = audio.shape

    _report(progress, 0)
    stats = _level_stats(audio)
    if not stats.finite:  # NaN or Inf, or finite values whose squares overflow float64
        as_audio(audio)  # raises non_finite if a sample is not finite
    fs = check_sample_rate(sample_rate_hz)
    sample_peak_dbfs = _floored(lin_to_db(stats.peak_lin))
    if sample_peak_dbfs > MAX_SAMPLE_PEAK_DBFS:
        raise InputError(
            "level_out_of_range",
            f"The audio peaks at {sample_peak_dbfs:.1f} dBFS; accepted: sample values up to "
            f"±10^6 (+{MAX_SAMPLE_PEAK_DBFS:.0f} dBFS), with full scale at 1.0.",
        )
    rms_dbfs = _floored(power_to_db(stats.mean_square))
    # The spectra and the tempo run on the second core while this thread meters the loudness
    # and the true peak (natively; in Pyodide each runs at its own stage below).
    spectra_job = background.start(lambda: long_term_spectra(audio, fs, check_finite=False))
    tempo_job = background.start(lambda: estimate_tempo(audio, fs, check_finite=False))
    try:
        loud = measure_loudness(audio, fs, check_finite=False)

        _report(progress, 1)
        # The level pass has the channels' sample peaks, where the true-peak scan starts.
        peaks_lin = true_peak_lin(
            audio, fs, check_finite=False, sample_peaks_lin=stats.channel_peaks_lin
        )
        true_peak_dbtp = _floored(lin_to_db(float(np.max(peaks_lin))))

        _report(progress, 2)
        spectra = spectra_job.result()
        spec = measure_spectrum(audio, fs, spectra)

        _report(progress, 3)
        image = measure_imaging(audio, fs, spectra, check_finite=False, lr_moments=stats.lr_moments)

        _report(progress, 4)
        tempo = tempo_job.result()
    except BaseException:  # cancelled, interrupted or failed: nothing runs on after this call
        spectra_job.abandon()
        tempo_job.abandon()
        raise
    if progress is not None:
        progress(PROGRESS_STAGES[-1], 1.0)

    integrated_lufs = _floored(loud.integrated_lufs)
    analysis = Analysis(
        duration_s=n / fs,
        sample_rate_hz=fs,
        channels=channels,
        integrated_lufs=integrated_lufs,
        loudness_range_lu=loud.loudness_range_lu,
        momentary_max_lufs=_floored(loud.momentary_max_lufs),
        short_term_max_lufs=_floored(loud.short_term_max_lufs),
        true_peak_dbtp=true_peak_dbtp,
        sample_peak_dbfs=sample_peak_dbfs,
        rms_dbfs=rms_dbfs,
        crest_db=_difference_db(sample_peak_dbfs, rms_dbfs),
        plr_db=_difference_db(true_peak_dbtp, integrated_lufs),
        dc_offset=float(np.max(np.abs(stats.mean))),
        clipped_samples=stats.clipped_samples,
        correlation=image.correlation,
        width=image.width,
        band_correlation=image.band_correlation,
        band_width=image.band_width,
        third_octave_db=spec.third_octave_db,
        mid_third_octave_db=spec.mid_third_octave_db,
        side_third_octave_db=spec.side_third_octave_db,
        spectral_tilt_db_per_oct=spec.spectral_tilt_db_per_oct,
        spectral_centroid_hz=spec.spectral_centroid_hz,
        tempo_bpm=tempo.tempo_bpm,
        tempo_confidence=tempo.confidence,
    )
    try:
        validate_features(analysis.to_json())
    except ParamError as exc:  # only reachable for audio far outside anything musical
        raise InputError(
            "level_out_of_range",
            f"The audio cannot be described within the feature schema: {exc.message}",
            field=exc.field,
        ) from None
    return analysis


def _difference_db(a_db: float, b_db: float) -> float:
    """``a - b`` for two levels; ``nan`` when either is not finite (silence)."""
    if not (math.isfinite(a_db) and math.isfinite(b_db)):
        return math.nan
    return a_db - b_db


# --- the schema and its validator -----------------------------------------------------------

_ANNOTATION_KEYWORDS = frozenset({"$schema", "$id", "$comment", "title", "description"})
SUPPORTED_KEYWORDS = _ANNOTATION_KEYWORDS | frozenset(
    {
        "type",
        "const",
        "enum",
        "minimum",
        "maximum",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
    }
)
"""The JSON Schema keywords :func:`validate_features` enforces; the shipped schema uses no other."""


@functools.lru_cache(maxsize=1)
def _schema_text() -> str:
    # pkgutil, not importlib.resources: the same loader (zip-safe), a few ms less start-up.
    data = pkgutil.get_data("mixmaster", SCHEMA_FILE)
    if data is None:  # a loader that cannot read resources
        raise FileNotFoundError(f"mixmaster/{SCHEMA_FILE} is missing from the installation")
    return data.decode("utf-8")


def features_schema() -> dict[str, Any]:
    """Return the feature JSON Schema (draft 2020-12) shipped as ``features.schema.json``.

    A new dict on every call (callers may modify it).
    """
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


@functools.lru_cache(maxsize=1)
def _cached_schema() -> dict[str, Any]:
    return features_schema()


def validate_features(d: Mapping[str, object]) -> dict[str, Any]:
    """Check a feature dict strictly against ``features.schema.json``; return a clean copy.

    Enforces what the schema says -- required keys, no other keys, types (``bool`` is not a
    number; a whole float is an integer), finite numbers within ``minimum``/``maximum``, fixed
    array lengths, ``const``/``enum`` -- by reading the shipped schema file, without any
    third-party validator.

    Parameters
    ----------
    d
        The feature dict, e.g. parsed from the JSON a client sent.

    Returns
    -------
    dict
        A new dict in schema key order; integers as ``int``, numbers as ``float``, arrays as
        ``list``.

    Raises
    ------
    ParamError
        With ``field`` naming the offending key (``"third_octave_db[3]"`` for an array item) and
        ``code`` one of ``bad_type``, ``missing_field``, ``unknown_field``, ``not_finite``,
        ``out_of_range``, ``bad_length``, ``bad_choice``.
    """
    result = _validate(d, _cached_schema(), "")
    if not isinstance(result, dict):  # the root schema is an object schema
        raise ParamError("bad_type", "The features must be a JSON object.", field="features")
    return result


def _type_names(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if kind is None:
        return []
    return [kind] if isinstance(kind, str) else list(kind)


def _describe_accepted(schema: Mapping[str, Any]) -> str:
    names = _type_names(schema)
    parts = []
    if "const" in schema:
        parts.append(json.dumps(schema["const"]))
    if "enum" in schema:
        parts.append("one of " + ", ".join(json.dumps(v) for v in schema["enum"]))
    for name in names:
        if name in ("number", "integer"):
            noun = "a number" if name == "number" else "a whole number"
            lo, hi = schema.get("minimum"), schema.get("maximum")
            parts.append(f"{noun} from {lo} to {hi}" if lo is not None else noun)
        elif name == "array":
            parts.append(f"an array of {schema.get('minItems')} items")
        elif name == "object":
            parts.append("an object")
        elif name == "null":
            parts.append("null")
        else:
            parts.append(f"a {name}")
    return " or ".join(parts) if parts else "any value"


def _name(path: str) -> str:
    return path or "features"


def _validate(value: object, schema: Mapping[str, Any], path: str) -> Any:
    """Validate ``value`` under ``schema`` (the supported subset) and return a clean copy."""
    unsupported = set(schema) - SUPPORTED_KEYWORDS
    if unsupported:
        raise ValueError(f"features schema uses unsupported keywords {sorted(unsupported)}")
    field = _name(path)
    if "const" in schema:
        if not _same_json(value, schema["const"]):
            raise ParamError(
                "bad_choice",
                f"{field} is {value!r}; accepted: {_describe_accepted(schema)}.",
                field=field,
            )
        return schema["const"]
    if "enum" in schema and not any(_same_json(value, v) for v in schema["enum"]):
        raise ParamError(
            "bad_choice",
            f"{field} is {value!r}; accepted: {_describe_accepted(schema)}.",
            field=field,
        )
    names = _type_names(schema)
    if value is None:
        if "null" in names:
            return None
        raise ParamError(
            "bad_type", f"{field} is null; accepted: {_describe_accepted(schema)}.", field=field
        )
    if isinstance(value, bool):
        raise ParamError(
            "bad_type",
            f"{field} is {value!r}; accepted: {_describe_accepted(schema)}.",
            field=field,
        )
    if isinstance(value, int | float) and ("number" in names or "integer" in names):
        return _validate_number(value, schema, names, field)
    if isinstance(value, Mapping) and "object" in names:
        return _validate_object(value, schema, path)
    if isinstance(value, list | tuple) and "array" in names:
        return _validate_array(value, schema, path)
    raise ParamError(
        "bad_type",
        f"{field} is {type(value).__name__} {value!r:.40}; accepted: {_describe_accepted(schema)}.",
        field=field,
    )


def _same_json(a: object, b: object) -> bool:
    """JSON equality: ``True`` is not ``1``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def _validate_number(
    value: float, schema: Mapping[str, Any], names: Sequence[str], field: str
) -> float | int:
    if not math.isfinite(value):
        raise ParamError(
            "not_finite",
            f"{field} is {value!r}; accepted: {_describe_accepted(schema)} (finite).",
            field=field,
        )
    number: float | int
    if "integer" in names and float(value).is_integer():
        number = int(value)
    elif "number" in names:
        number = float(value)
    else:
        raise ParamError(
            "bad_type",
            f"{field} is {value!r}; accepted: {_describe_accepted(schema)}.",
            field=field,
        )
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise ParamError(
            "out_of_range",
            f"{field} is {value!r}; accepted: {_describe_accepted(schema)}.",
            field=field,
        )
    return number


def _validate_object(
    value: Mapping[Any, object], schema: Mapping[str, Any], path: str
) -> dict[str, Any]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    for key in value:
        if not isinstance(key, str):
            raise ParamError(
                "bad_type", f"{_name(path)} has a non-text key {key!r}.", field=_name(path)
            )
        if key not in properties and schema.get("additionalProperties", True) is False:
            field = f"{path}.{key}" if path else key
            raise ParamError(
                "unknown_field",
                f"{field} is not a known feature; accepted keys: {', '.join(properties)}.",
                field=field,
            )
    for key in schema.get("required", ()):
        if key not in value:
            field = f"{path}.{key}" if path else key
            raise ParamError(
                "missing_field",
                f"{field} is missing; accepted: {_describe_accepted(properties[key])}.",
                field=field,
            )
    return {
        key: _validate(value[key], sub, f"{path}.{key}" if path else key)
        for key, sub in properties.items()
        if key in value
    }


def _validate_array(value: Sequence[object], schema: Mapping[str, Any], path: str) -> list[Any]:
    lo, hi = schema.get("minItems"), schema.get("maxItems")
    if (lo is not None and len(value) < lo) or (hi is not None and len(value) > hi):
        expected = f"exactly {lo}" if lo == hi else f"{lo} to {hi}"
        raise ParamError(
            "bad_length",
            f"{_name(path)} has {len(value)} items; accepted: {expected} items.",
            field=_name(path),
        )
    items = schema.get("items", {})
    return [_validate(v, items, f"{_name(path)}[{i}]") for i, v in enumerate(value)]

"""What the studio page shows about a track and its master, computed here so the page only draws.

- :func:`analysis_rows`: the analysis, each value with a one-line meaning for a musician.
- :func:`level_rows`: the loudness table, before and after.
- :func:`album_view`: an album's table (each track before and after) and its summary sentence.
- :func:`platform_playback`: the gain each streaming platform applies on playback.
- :func:`waveform_envelope` and :func:`spectrum_view`: decimated data for the canvases.
- :func:`recipe`: the parameters and versions that reproduce a master with the CLI.

Everything returned is plain JSON values (or float32 arrays, which cross to JavaScript as
``Float32Array``). Numbers and their units are formatted here, once, so the page and the CLI
cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mixmaster import __version__
from mixmaster.params import PLATFORM_TARGETS_LUFS, MasteringParams, params_to_dict
from mixmaster.spectrum import ISO_THIRD_OCTAVE_CENTRES_HZ, measure_spectrum

FloatArray = npt.NDArray[np.float32]

#: Columns of the waveform overview: enough for a wide screen, small enough to send at once.
WAVEFORM_COLUMNS: Final = 1200

#: Recipe format version (the CLI reads ``params``; the rest documents where it came from).
RECIPE_VERSION: Final = 1

#: How each platform normalises on playback (REFERENCE.md; the platforms' published defaults).
#: ``up`` says whether a quiet master is turned up; where it is, only as far as the true peak
#: stays at or below ``up_peak_limit_dbtp``.
PLATFORM_PLAYBACK: Final[Mapping[str, Mapping[str, Any]]] = {
    "spotify": {"label": "Spotify", "up": True, "up_peak_limit_dbtp": -1.0},
    "apple": {"label": "Apple Music", "up": True, "up_peak_limit_dbtp": -1.0},
    "youtube": {"label": "YouTube", "up": False, "up_peak_limit_dbtp": None},
    "tidal": {"label": "Tidal", "up": False, "up_peak_limit_dbtp": None},
    "amazon": {"label": "Amazon Music", "up": False, "up_peak_limit_dbtp": None},
    "deezer": {"label": "Deezer", "up": True, "up_peak_limit_dbtp": -1.0},
}

#: What the page calls each platform choice.
PLATFORM_LABELS: Final[Mapping[str, str]] = {
    **{name: str(how["label"]) for name, how in PLATFORM_PLAYBACK.items()},
    "club": "Club / CD",
}

MINUS: Final = "\u2212"


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def fmt(value: object, unit: str, decimals: int = 1) -> str:
    """``-14.03, "LUFS"`` -> ``"−14.0 LUFS"``; missing or infinite values read ``"silent"``."""
    v = _num(value)
    if v is None:
        return "silent"
    text = f"{v:.{decimals}f}".replace("-", MINUS)
    return f"{text} {unit}".rstrip()


def _row(key: str, label: str, value: str, meaning: str) -> dict[str, str]:
    return {"key": key, "label": label, "value": value, "meaning": meaning}


def _loudness_meaning(lufs: float | None) -> str:
    if lufs is None:
        return "The file is silent: there is nothing to measure."
    if lufs > -9.0:
        return "Very loud already: mastering will mostly control peaks, not add level."
    if lufs > -16.0:
        return "Around streaming level: platforms will play it close to as is."
    return "Quieter than streaming level: the master will bring it up."


def _lra_meaning(lra: float | None) -> str:
    if lra is None:
        return "Not measurable on a track this short or quiet."
    if lra < 4.0:
        return "Little difference between loud and quiet parts: dense, steady dynamics."
    if lra <= 10.0:
        return "A typical range between loud and quiet parts for pop and rock."
    return (
        "Wide dynamics: quiet parts are much quieter than loud ones (common in film and classical)."
    )


def _true_peak_meaning(tp: float | None) -> str:
    if tp is None:
        return "The file is silent."
    if tp > 0.0:
        return "True peak above 0 dBTP: it already clips on playback and in every encoder."
    if tp > -1.0:
        return "True peak above −1 dBTP: streaming encoders may clip."
    return "True peak at or below −1 dBTP: safe for streaming encoders."


def _plr_meaning(plr: float | None) -> str:
    if plr is None:
        return "Not measurable on silence."
    if plr < 8.0:
        return "Low peak-to-loudness ratio: heavily compressed or limited; transients are flat."
    if plr <= 14.0:
        return "A healthy peak-to-loudness ratio: punchy transients with solid loudness."
    return "High peak-to-loudness ratio: lively transients, with room for more level."


def _tempo_meaning(bpm: float | None, confidence: float | None) -> str:
    if bpm is None:
        return "No steady beat was found."
    if confidence is not None and confidence < 0.3:
        return "The beat is weak or irregular, so this tempo is a rough guess."
    return "Used to time the compressor's release to the groove."


def _correlation_meaning(correlation: float | None, channels: int) -> str:
    if channels < 2:
        return "Mono: one channel, no stereo image."
    if correlation is None:
        return "Not measurable on silence."
    if correlation < 0.0:
        return "Negative: the channels partly cancel in mono (phone speakers, clubs)."
    if correlation < 0.3:
        return "Very wide: check the mix in mono, parts may get quieter."
    if correlation > 0.95:
        return "Almost mono: the stereo image is narrow."
    return "A healthy stereo image that survives mono playback."


def _correlation_value(correlation: float | None, channels: int) -> str:
    if channels < 2:
        return "mono"
    if correlation is None:
        return "silent"
    return f"{correlation:+.2f}".replace("-", MINUS)


def _tilt_meaning(tilt: float | None) -> str:
    if tilt is None:
        return "Not measurable on silence."
    if tilt > -3.0:
        return "Bright: more high-frequency energy than most commercial masters."
    if tilt < -6.0:
        return "Dark: more low-frequency energy than most commercial masters."
    return "A balanced spectrum, close to most commercial masters."


def analysis_rows(features: Mapping[str, object]) -> list[dict[str, str]]:
    """The analysis as ``[{key, label, value, meaning}]``: what was measured and what it means.

    ``features`` is the feature JSON of :func:`mixmaster.analyze.analyze` (``null`` for the
    levels of silence).
    """
    lufs = _num(features.get("integrated_lufs"))
    lra = _num(features.get("loudness_range_lu"))
    tp = _num(features.get("true_peak_dbtp"))
    plr = _num(features.get("plr_db"))
    bpm = _num(features.get("tempo_bpm"))
    confidence = _num(features.get("tempo_confidence"))
    correlation = _num(features.get("correlation"))
    tilt = _num(features.get("spectral_tilt_db_per_oct"))
    channels = int(_num(features.get("channels")) or 1)
    if bpm is None:
        tempo = "no steady beat"
    else:
        tempo = f"{bpm:.0f} BPM ({(confidence or 0.0) * 100:.0f} % confident)"
    return [
        _row("integrated_lufs", "Loudness", fmt(lufs, "LUFS"), _loudness_meaning(lufs)),
        _row("loudness_range_lu", "Loudness range", fmt(lra, "LU"), _lra_meaning(lra)),
        _row("true_peak_dbtp", "True peak", fmt(tp, "dBTP"), _true_peak_meaning(tp)),
        _row("plr_db", "Peak to loudness (PLR)", fmt(plr, "dB"), _plr_meaning(plr)),
        _row("tempo_bpm", "Tempo", tempo, _tempo_meaning(bpm, confidence)),
        _row(
            "correlation",
            "Stereo correlation",
            _correlation_value(correlation, channels),
            _correlation_meaning(correlation, channels),
        ),
        _row(
            "spectral_tilt_db_per_oct",
            "Spectral tilt",
            fmt(tilt, "dB/octave"),
            _tilt_meaning(tilt),
        ),
    ]


_LEVEL_ROWS: Final = (
    ("integrated_lufs", "Integrated loudness", "LUFS"),
    ("short_term_max_lufs", "Short-term max", "LUFS"),
    ("momentary_max_lufs", "Momentary max", "LUFS"),
    ("loudness_range_lu", "Loudness range", "LU"),
    ("true_peak_dbtp", "True peak", "dBTP"),
    ("sample_peak_dbfs", "Sample peak", "dBFS"),
)


def level_rows(report: Mapping[str, Any]) -> list[dict[str, str]]:
    """The loudness table ``[{key, label, before, after}]`` from a master report's JSON."""
    before, after = report["before"], report["after"]
    return [
        {
            "key": key,
            "label": label,
            "before": fmt(before[key], unit),
            "after": fmt(after[key], unit),
        }
        for key, label, unit in _LEVEL_ROWS
    ]


def album_view(tracks: Sequence[Mapping[str, Any]], check: Mapping[str, Any]) -> dict[str, Any]:
    """An album's table and summary from :func:`mixmaster.api.master_album`'s numbers.

    ``tracks``: ``{name, before_lufs, after_lufs, true_peak_dbtp}`` per track; ``check``: the
    album check's JSON (:meth:`mixmaster.album.AlbumCheck.to_json`). Returns ``{"rows":
    [{name, before, after, true_peak}], "summary": sentence}``, every number formatted.
    """
    rows = [
        {
            "name": str(t["name"]),
            "before": fmt(t["before_lufs"], "LUFS"),
            "after": fmt(t["after_lufs"], "LUFS"),
            "true_peak": fmt(t["true_peak_dbtp"], "dBTP"),
        }
        for t in tracks
    ]
    if _num(check["album_lufs"]) is None:
        summary = "The album is silent: there was nothing to bring to the target."
    else:
        summary = (
            f"The album reads {fmt(check['album_lufs'], 'LUFS')} (target "
            f"{fmt(check['target_lufs'], 'LUFS')}); the tracks kept their levels relative to "
            f"each other within {fmt(check['relative_spread_lu'], 'LU')}."
        )
    return {"rows": rows, "summary": summary}


def platform_playback(
    integrated_lufs: float | None, true_peak_dbtp: float | None
) -> list[dict[str, Any]]:
    """The gain each platform applies when it plays a master of this loudness and true peak.

    A platform turns a master louder than its target down by the difference. Platforms that
    also turn quiet masters up (``PLATFORM_PLAYBACK[...]["up"]``) do so only as far as the
    true peak stays at or below their peak limit. These are the platforms' published default
    settings; listeners can change them (e.g. Spotify's "Loud" at −11 LUFS).

    Returns
    -------
    list of dict
        ``{platform, label, target_lufs, target, gain_db, text}`` (``target``: the target as
        the page shows it, e.g. "−14 LUFS"); ``gain_db`` is ``None`` for silence.
    """
    rows: list[dict[str, Any]] = []
    for name, how in PLATFORM_PLAYBACK.items():
        target = PLATFORM_TARGETS_LUFS[name]
        gain: float | None = None
        held_down = False  # a quiet master the platform does not turn up
        if integrated_lufs is not None and math.isfinite(integrated_lufs):
            gain = target - integrated_lufs
            held_down = gain > 0.05 and not how["up"]
            if gain > 0.0:
                if not how["up"]:
                    gain = 0.0
                elif true_peak_dbtp is not None and math.isfinite(true_peak_dbtp):
                    gain = max(0.0, min(gain, how["up_peak_limit_dbtp"] - true_peak_dbtp))
            gain = round(gain, 1) + 0.0  # no "-0.0"
        rows.append(
            {
                "platform": name,
                "label": how["label"],
                "target_lufs": target,
                "target": fmt(target, "LUFS", 0 if target.is_integer() else 1),
                "gain_db": gain,
                "text": _playback_text(gain, held_down),
            }
        )
    return rows


def _playback_text(gain_db: float | None, held_down: bool) -> str:
    if gain_db is None:
        return "silent"
    if gain_db < -0.05:
        return f"turned down {-gain_db:.1f} dB"
    if gain_db > 0.05:
        return f"turned up {gain_db:.1f} dB"
    return "played as is (this platform never turns up)" if held_down else "played as is"


def waveform_envelope(
    audio: npt.NDArray[np.floating[Any]], columns: int = WAVEFORM_COLUMNS
) -> dict[str, FloatArray]:
    """Minimum and maximum over all channels in ``columns`` equal slices of the track.

    One pass over the audio and no full-size temporary, so a 60-minute file costs what reading
    it once costs. Fewer samples than columns give one column per sample.

    Returns
    -------
    dict
        ``{"min": float32[k], "max": float32[k]}``, ``k = min(columns, samples)``.
    """
    n = int(audio.shape[1])
    k = max(1, min(columns, n))
    # int64 for the product (a long track times the columns overflows 32 bits), then the
    # platform's index type: reduceat refuses int64 indices on 32-bit WebAssembly
    edges = ((np.arange(k, dtype=np.int64) * n) // k).astype(np.intp)
    lo = np.minimum.reduceat(audio, edges, axis=1).min(axis=0)
    hi = np.maximum.reduceat(audio, edges, axis=1).max(axis=0)
    return {"min": lo.astype(np.float32), "max": hi.astype(np.float32)}


def spectrum_view(third_octave_db: object, rms_dbfs: object) -> list[float | None]:
    """⅓-octave levels in dBFS (relative band levels plus the track's RMS level), for drawing
    the before and after spectra on one scale; ``None`` for unmeasured bands or silence."""
    total = _num(rms_dbfs)
    levels = third_octave_db if isinstance(third_octave_db, list | tuple) else []
    out: list[float | None] = []
    for value in levels:
        v = _num(value)
        out.append(None if v is None or total is None else round(v + total, 2))
    return out


def _mean_square(audio: npt.NDArray[np.floating[Any]], block_samples: int = 1 << 16) -> float:
    """Mean of the squared samples, in float64, a block at a time (no full-size copy)."""
    if audio.size == 0:
        return 0.0
    total = sum(
        float(np.einsum("ij,ij->", b, b, dtype=np.float64))
        for b in (audio[:, i : i + block_samples] for i in range(0, audio.shape[1], block_samples))
    )
    return total / audio.size


def measure_view(audio: npt.NDArray[np.floating[Any]], sample_rate_hz: int) -> dict[str, Any]:
    """Waveform envelope and ⅓-octave spectrum (dBFS) of ``audio``, for the canvases."""
    spectrum = measure_spectrum(audio, sample_rate_hz, check_finite=False)
    mean_square = _mean_square(audio)
    rms_dbfs = 10.0 * math.log10(mean_square) if mean_square > 0.0 else None
    return {
        "waveform": waveform_envelope(audio),
        "spectrum_dbfs": spectrum_view(list(spectrum.third_octave_db), rms_dbfs),
    }


def band_centres_hz() -> list[float]:
    """Nominal centres of the 31 ⅓-octave bands, in Hz."""
    return [float(f) for f in ISO_THIRD_OCTAVE_CENTRES_HZ]


def recipe(
    p: MasteringParams,
    *,
    input_sha256: str | None,
    pyodide_version: str | None,
    track: Mapping[str, Any],
) -> dict[str, Any]:
    """The recipe of a master: every parameter, the versions and the input's identity.

    ``mixmaster master IN --params recipe.json`` reads its ``params`` and reproduces the
    master (bit for bit on the same platform).
    """
    return {
        "recipe_version": RECIPE_VERSION,
        "mixmaster_version": __version__,
        "pyodide_version": pyodide_version,
        "input": {
            "sha256": input_sha256,
            "decoder": track.get("source"),
            "sample_rate_hz": track.get("sample_rate_hz"),
            "channels": track.get("channels"),
            "frames": track.get("frames"),
        },
        "params": params_to_dict(p),
    }

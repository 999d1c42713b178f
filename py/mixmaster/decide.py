"""The built-in mastering decisions: deterministic rules from the feature JSON and the intent.

This is the default whenever Claude is not configured or not reachable, and the base that
Claude's answer is applied on. It reads only the feature JSON (``features.schema.json``) and the
musician's :class:`~mixmaster.params.Intent`, and returns :class:`MasteringParams` plus one plain
sentence per choice. The same input always gives the same decision.

The rules
---------
1. **Silence.** Integrated loudness ``null`` (silence) or below :data:`NEAR_SILENT_LUFS`: every
   stage is bypassed (loudness amount 0, so no gain is applied) and only the limiter's ceiling
   stands guard; raising near-silence to a target would mostly raise noise.
2. **Loudness and ceiling** come from the intent: ``loudness.target_lufs = intent.target_lufs``
   and ``limiter.ceiling_dbtp = intent.ceiling_dbtp``, always.
3. **Subsonic filter** at :data:`HIGHPASS_CUTOFF_HZ` per style (20 Hz for warm/punchy, which
   keep their sub-bass; 30 Hz for bright/gentle); it also removes DC offset.
4. **Tone (EQ).** Each style has a reference long-term ⅓-octave curve (:data:`STYLE_CURVES`):
   a tilt in dB/oct of ⅓-octave band level (pink noise = 0) plus a bump below 100 Hz and above
   8 kHz. Mastered popular music reads about -4.5 dB/oct on an FFT (per-Hz) analyser, which is
   why analysers such as SPAN default to a 4.5 dB/oct slope compensation; ⅓-octave bands widen
   by 3 dB/oct, so in band levels that is about -1.5 dB/oct, our ``balanced`` tilt. ``warm`` is
   0.5 dB/oct darker with fuller lows, ``bright`` 0.5 dB/oct brighter with more air. The
   measured fingerprint minus the style curve (aligned on 250 Hz-4 kHz) gives a tilt error
   (regression slope over 100 Hz-8 kHz), a low error (31.5-100 Hz) and a high error (8-16 kHz).
   The EQ moves part of the way, ``0.2 + 0.6 × intensity``, toward the curve: a tilt of at most
   ±:data:`MAX_TILT_DB_PER_OCT` and shelves such that tilt + shelf stay within
   ±:data:`MAX_EQ_DB` from 31.5 Hz to 16 kHz (a mastering EQ rarely exceeds ±3 dB). The move
   toward the balanced curve (the correction) is clamped first, to ±0.45 dB/oct and ±2.5 dB,
   and the style's colour (its curve minus the balanced one) is added on top, so styles still
   differ on a mix far from every curve. Moves below 0.2 dB are dropped.
5. **Resonances.** A ⅓-octave band between 100 Hz and 10 kHz that sticks out more than
   :data:`RESONANCE_EXCESS_DB` above the mean (in dB) of its four neighbours (two each side;
   a dB mean, so one loud neighbour does not hide a resonance next to a spectral cliff) gets a
   ⅓-octave wide (Q 4.3) peaking cut of ``(0.3 + 0.5 × intensity) × excess``, at most
   :data:`MAX_EQ_DB`; up to four cuts, the strongest first, never on adjacent bands.
6. **Compression** from crest factor (sample peak - RMS) and loudness range: a mix with crest
   below 8 dB and LRA below 4 LU is already dense and gets none; above that the ratio grows
   toward the style's maximum (:data:`STYLE_DYNAMICS`) as crest reaches 18 dB and LRA 14 LU.
   Each band's threshold sits a style-dependent offset above that band's RMS level (the track's
   RMS plus the band's share of the ⅓-octave energy), so only the louder moments are
   compressed. ``punchy`` attacks slower (transients pass), ``gentle`` uses low ratios, a wide
   knee and slow release. ``amount = 0.5 + 0.5 × intensity``.
7. **Stereo** (exactly two channels): correlation below 0.8 under 250 Hz makes the bass mono
   below 120 Hz; negative overall correlation narrows the image and warns of a phase problem; a
   near-mono mix (correlation above 0.95) gets a little width in the mids and highs when
   intensity is above 0.5. Otherwise the stage is bypassed.
8. **Saturation** only for ``warm`` and ``punchy`` at intensity above 0.5: drive up to 6 dB
   (warm) or 4 dB (punchy), mixed in at 50 %.
9. **Limiter.** Release a quarter of a beat when the tempo is confidently known (clamped to
   40-400 ms), else 120 ms; ``gentle`` releases 1.5 × slower, ``punchy`` 0.8 × faster. The
   limiting depth the loudness stage may use is ``amount × max_reduction_db`` with
   ``amount = 0.6 + 0.4 × intensity`` and 6 dB (4 dB gentle, 7 dB punchy; +2 dB for targets
   of -10 LUFS and louder, such as club masters).

Warnings are added for clipped samples, a true peak already above 0 dBTP, and negative
correlation. Every rule is a plain sentence in :attr:`Decision.explanation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

import numpy as np

from mixmaster.params import (
    PLATFORM_TARGETS_LUFS,
    Intent,
    MasteringParams,
    params_from_dict,
    params_to_dict,
)

NEAR_SILENT_LUFS: Final = -50.0
"""Below this integrated loudness a track is treated as silence and left alone."""

MAX_TILT_DB_PER_OCT: Final = 0.6
"""Largest EQ tilt the rules use (±3.0 dB at 31.5 Hz, ±2.4 dB at 16 kHz)."""

MAX_EQ_DB: Final = 3.0
"""Largest boost or cut the rules use anywhere in the spectrum."""

_MAX_TILT_CORRECTION: Final = 0.45
_MAX_SHELF_CORRECTION: Final = 2.5
"""The correction toward the balanced curve stops here, leaving room for the style's colour."""

RESONANCE_EXCESS_DB: Final = 3.0
"""How far a ⅓-octave band must stick out above its neighbours to count as a resonance."""

THIRD_OCTAVE_CENTRES_HZ: Final[tuple[float, ...]] = tuple(
    1000.0 * 2.0 ** (n / 3.0) for n in range(-17, 14)
)
"""Exact base-2 ⅓-octave centres (IEC 61260-1) of the 31 fingerprint bands, 20 Hz ... 20 kHz."""

_NOMINAL_HZ: Final[tuple[float, ...]] = (
    20, 25, 31.5, 40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800, 1000,
    1250, 1600, 2000, 2500, 3150, 4000, 5000, 6300, 8000, 10000, 12500, 16000, 20000,
)  # fmt: skip

_ABSENT_BAND_DB: Final = -90.0
"""Bands this far below the total are treated as absent (no content to judge)."""


@dataclass(frozen=True)
class StyleCurve:
    """A style's reference long-term ⅓-octave curve, relative to its level at 1 kHz.

    ``tilt_db_per_oct`` is the slope of ⅓-octave band level (pink noise = 0); ``low_db`` is
    added to the bands at or below 100 Hz and ``high_db`` to the bands at or above 8 kHz.
    """

    tilt_db_per_oct: float
    low_db: float
    high_db: float

    def level_db(self, frequency_hz: float) -> float:
        """The curve's level at ``frequency_hz`` in dB relative to 1 kHz."""
        level = self.tilt_db_per_oct * math.log2(frequency_hz / 1000.0)
        if frequency_hz <= 101.0:
            level += self.low_db
        if frequency_hz >= 7900.0:
            level += self.high_db
        return level


STYLE_CURVES: Final[Mapping[str, StyleCurve]] = MappingProxyType(
    {
        "balanced": StyleCurve(-1.5, 0.0, 0.0),
        "warm": StyleCurve(-2.0, 1.0, -1.0),
        "bright": StyleCurve(-1.0, 0.0, 1.5),
        "punchy": StyleCurve(-1.5, 1.5, 0.0),
        "gentle": StyleCurve(-1.5, 0.0, -0.5),
    }
)


@dataclass(frozen=True)
class StyleDynamics:
    """A style's compressor and limiter character.

    ``threshold_offset_db`` is how far above each band's RMS level the threshold sits;
    ``attack_ms``/``release_ms`` are per band (low, mid, high).
    """

    max_ratio: float
    threshold_offset_db: float
    knee_db: float
    attack_ms: tuple[float, float, float]
    release_ms: tuple[float, float, float]
    limiter_release_factor: float
    max_reduction_db: float


STYLE_DYNAMICS: Final[Mapping[str, StyleDynamics]] = MappingProxyType(
    {
        "balanced": StyleDynamics(3.0, 3.0, 6.0, (30, 15, 5), (250, 150, 100), 1.0, 6.0),
        "warm": StyleDynamics(2.5, 3.0, 8.0, (30, 20, 10), (300, 200, 150), 1.0, 6.0),
        "bright": StyleDynamics(3.0, 3.0, 6.0, (30, 15, 5), (250, 150, 100), 1.0, 6.0),
        "punchy": StyleDynamics(4.0, 2.0, 6.0, (45, 30, 15), (200, 120, 80), 0.8, 7.0),
        "gentle": StyleDynamics(1.8, 4.0, 10.0, (40, 25, 10), (400, 300, 200), 1.5, 4.0),
    }
)

HIGHPASS_CUTOFF_HZ: Final[Mapping[str, float]] = MappingProxyType(
    {"balanced": 25.0, "warm": 20.0, "bright": 30.0, "punchy": 20.0, "gentle": 30.0}
)

_PLATFORM_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "spotify": "Spotify",
        "youtube": "YouTube",
        "tidal": "Tidal",
        "amazon": "Amazon Music",
        "apple": "Apple Music",
        "deezer": "Deezer",
        "club": "club play",
    }
)


@dataclass(frozen=True)
class Decision:
    """The chosen parameters and one plain sentence per choice, most important first."""

    params: MasteringParams
    explanation: tuple[str, ...]

    def summary(self, max_chars: int = 600) -> str:
        """The explanation as one paragraph of at most ``max_chars`` characters.

        Whole sentences are kept in order while they fit; if even the first does not fit, it is
        cut with an ellipsis.
        """
        out = ""
        for sentence in self.explanation:
            candidate = f"{out} {sentence}" if out else sentence
            if len(candidate) > max_chars:
                break
            out = candidate
        if not out and self.explanation:
            out = self.explanation[0][: max(0, max_chars - 1)].rstrip() + "…"
        return out[:max_chars]

    def to_json(self) -> dict[str, Any]:
        """``{"params": {stage: {field: value}}, "explanation": [sentence, ...]}``."""
        return {"params": params_to_dict(self.params), "explanation": list(self.explanation)}


def _number(features: Mapping[str, object], key: str) -> float | None:
    """A finite number from the features, or ``None`` (missing, ``null``, not finite)."""
    value = features.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _numbers(features: Mapping[str, object], key: str) -> list[float | None]:
    value = features.get(key)
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    out: list[float | None] = []
    for v in value:
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        out.append(float(v) if ok else None)
    return out


def fmt(value: float, digits: int = 1) -> str:
    """A number for an explanation sentence, with a typographic minus."""
    return f"{value:.{digits}f}".replace("-", "−")


def fmt_hz(frequency_hz: float) -> str:
    """A frequency for an explanation sentence: ``"630 Hz"``, ``"2.5 kHz"``."""
    if frequency_hz >= 1000.0:
        return f"{frequency_hz / 1000.0:g} kHz"
    return f"{frequency_hz:g} Hz"


def _clip(value: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, value))


def _neutral(intent: Intent) -> dict[str, dict[str, Any]]:
    """Every stage bypassed; the limiter's ceiling still holds."""
    return {
        "highpass": {"amount": 0.0},
        "eq": {"amount": 0.0},
        "compressor": {"amount": 0.0},
        "stereo": {"amount": 0.0},
        "saturation": {"amount": 0.0, "drive_db": 0.0},
        "loudness": {"amount": 0.0, "target_lufs": intent.target_lufs},
        "limiter": {"amount": 0.0, "ceiling_dbtp": intent.ceiling_dbtp},
    }


def _target_sentence(intent: Intent, integrated_lufs: float) -> str:
    if intent.platform is not None:
        where = f"{_PLATFORM_NAMES.get(intent.platform, intent.platform)}'s level"
        if intent.platform == "club":
            where = "a typical club/CD level"
    else:
        where = "your custom target"
    gain_db = intent.target_lufs - integrated_lufs
    if gain_db < -0.5:
        return (
            f"Your mix measures {fmt(integrated_lufs)} LUFS, louder than the "
            f"{fmt(intent.target_lufs)} LUFS target ({where}), so it is turned down by "
            f"{fmt(-gain_db)} dB instead of being squashed further."
        )
    why = (
        "so the platform will not need to turn it down"
        if intent.platform not in (None, "club")
        else "as loud as asked, within the limiting allowed"
    )
    return (
        f"Your mix measures {fmt(integrated_lufs)} LUFS; the master aims at "
        f"{fmt(intent.target_lufs)} LUFS ({where}), {why}."
    )


def _eq_moves(
    bands_db: list[float | None], style: str, intensity: float
) -> tuple[dict[str, float], list[str]]:
    """Tilt and shelf gains that move the fingerprint part-way toward the style's curve.

    The move is split in two: the *correction* toward the balanced curve, clamped to leave room,
    and the style's own *colour* (its curve minus the balanced one), so that the styles still
    differ when a mix is far from every curve and the correction is at its limit.
    """
    curve = STYLE_CURVES[style]
    balanced = STYLE_CURVES["balanced"]
    valid = [
        (f, lvl - balanced.level_db(f), curve.level_db(f) - balanced.level_db(f))
        for f, lvl in zip(THIRD_OCTAVE_CENTRES_HZ, bands_db, strict=False)
        if lvl is not None and lvl > _ABSENT_BAND_DB
    ]
    body = [(f, d) for f, d, _ in valid if 88.0 <= f <= 9000.0]
    if sum(1 for f, _, _ in valid if 220.0 <= f <= 4500.0) < 6 or len(body) < 12:
        return {}, [
            "The mix has too little broadband content to judge its tone, so the EQ stays flat."
        ]
    fraction = 0.2 + 0.6 * intensity
    octaves = np.log2(np.array([f for f, _ in body]) / 1000.0)
    tilt_error = float(np.polyfit(octaves, np.array([d for _, d in body]), 1)[0])
    colour_tilt = curve.tilt_db_per_oct - balanced.tilt_db_per_oct
    correction_tilt = _clip(-fraction * tilt_error, -_MAX_TILT_CORRECTION, _MAX_TILT_CORRECTION)
    tilt = _clip(
        correction_tilt + fraction * colour_tilt, -MAX_TILT_DB_PER_OCT, MAX_TILT_DB_PER_OCT
    )
    if abs(tilt) < 0.05:
        tilt = 0.0

    def relative(
        lo_hz: float, hi_hz: float, level: Callable[[float, float, float], float]
    ) -> float:
        """Mean of ``level(f, d, c)`` over a region, relative to its mean over 220 Hz-4.5 kHz."""
        region = [level(f, d, c) for f, d, c in valid if lo_hz <= f <= hi_hz]
        mid = [level(f, d, c) for f, d, c in valid if 220.0 <= f <= 4500.0]
        return float(np.mean(region) - np.mean(mid)) if region else math.nan

    gains: dict[str, float] = {"tilt_db_per_oct": round(tilt, 2)}
    sentences: list[str] = []
    measured_tilt = tilt_error + balanced.tilt_db_per_oct
    if tilt != 0.0:
        direction = "brighter" if tilt > 0 else "darker"
        sentences.append(
            f"The tonal balance slopes {fmt(measured_tilt)} dB per octave; the {style} style "
            f"aims at {fmt(curve.tilt_db_per_oct)}, so a gentle tilt of {fmt(tilt, 2)} dB per "
            f"octave makes it {direction}."
        )
    for name, lo_hz, hi_hz, extreme_hz, what in (
        ("low_shelf_gain_db", 28.0, 101.0, 31.5, "the low end"),
        ("high_shelf_gain_db", 7900.0, 17000.0, 16000.0, "the top end (air)"),
    ):
        # The correction: what still deviates from the balanced curve after the correcting tilt.
        error_db = relative(lo_hz, hi_hz, lambda f, d, c: d + correction_tilt * math.log2(f / 1e3))
        if not math.isfinite(error_db):
            continue
        gain_db = _clip(-fraction * error_db, -_MAX_SHELF_CORRECTION, _MAX_SHELF_CORRECTION)
        # The colour: the style's part of the curve there, less what its tilt already gives.
        colour_db = relative(
            lo_hz,
            hi_hz,
            lambda f, d, c: fraction * c - (tilt - correction_tilt) * math.log2(f / 1e3),
        )
        gain_db += colour_db
        # Tilt and shelf together stay within ±MAX_EQ_DB out to the region's far end.
        tilt_there_db = tilt * math.log2(extreme_hz / 1000.0)
        gain_db = _clip(gain_db, -MAX_EQ_DB - tilt_there_db, MAX_EQ_DB - tilt_there_db)
        gain_db = _clip(gain_db, -MAX_EQ_DB, MAX_EQ_DB)
        if abs(gain_db) < 0.2:
            continue
        gains[name] = round(gain_db, 1)
        verb = "lifted" if gain_db > 0 else "reduced"
        sentences.append(
            f"Compared with the {style} reference, {what} is {verb} by "
            f"{abs(gain_db):.1f} dB with a shelf."
        )
    return gains, sentences


def _resonance_cuts(
    bands_db: list[float | None], intensity: float
) -> tuple[dict[str, float], list[str]]:
    """Peaking cuts on ⅓-octave bands that stick out above their neighbours."""
    levels = [lvl if lvl is not None and lvl > _ABSENT_BAND_DB else None for lvl in bands_db]
    candidates: list[tuple[float, int]] = []
    for i, (f, lvl) in enumerate(zip(THIRD_OCTAVE_CENTRES_HZ, levels, strict=False)):
        if lvl is None or not 88.0 <= f <= 11000.0:
            continue
        neighbours = [levels[j] for j in (i - 2, i - 1, i + 1, i + 2) if 0 <= j < len(levels)]
        present = [n for n in neighbours if n is not None]
        if len(present) < 3:
            continue
        excess_db = lvl - float(np.mean(present))
        if excess_db > RESONANCE_EXCESS_DB:
            candidates.append((excess_db, i))
    chosen: list[tuple[float, int]] = []
    for excess_db, i in sorted(candidates, reverse=True):
        if len(chosen) == 4:
            break
        if all(abs(i - j) > 1 for _, j in chosen):
            chosen.append((excess_db, i))
    chosen.sort(key=lambda c: c[1])
    gains: dict[str, float] = {}
    sentences: list[str] = []
    for k, (excess_db, i) in enumerate(chosen, start=1):
        cut_db = -min(MAX_EQ_DB, (0.3 + 0.5 * intensity) * excess_db)
        gains |= {
            f"peak{k}_hz": round(THIRD_OCTAVE_CENTRES_HZ[i], 1),
            f"peak{k}_gain_db": round(cut_db, 1),
            f"peak{k}_q": 4.3,
        }
        sentences.append(
            f"Around {fmt_hz(_NOMINAL_HZ[i])} the mix sticks out {fmt(excess_db)} dB above its "
            f"surroundings, so a narrow cut of {fmt(-cut_db)} dB calms it."
        )
    return gains, sentences


def _band_share_db(bands_db: list[float | None], lo_hz: float, hi_hz: float) -> float | None:
    """Energy share (dB re total) of the ⅓-octave bands with centres in ``[lo_hz, hi_hz)``."""
    powers = [
        10.0 ** (lvl / 10.0)
        for f, lvl in zip(THIRD_OCTAVE_CENTRES_HZ, bands_db, strict=False)
        if lvl is not None and lo_hz <= f < hi_hz
    ]
    total = sum(powers)
    return 10.0 * math.log10(total) if total > 0.0 else None


def compressor_settings(
    rms_dbfs: float, bands_db: Sequence[float | None], style_name: str, ratio: float
) -> dict[str, Any]:
    """The rules' three-band compressor at ``ratio`` (amount 1), for a mix of ``rms_dbfs``.

    Each band's threshold sits the style's offset above that band's RMS level (the track's RMS
    plus the band's share of the ⅓-octave energy ``bands_db``); attack, release and knee are
    the style's (:data:`STYLE_DYNAMICS`). Shared with :mod:`mixmaster.reference`.
    """
    style = STYLE_DYNAMICS[style_name]
    d: dict[str, Any] = {
        "amount": 1.0,
        "bands": 3,
        "crossover_low_hz": 120.0,
        "crossover_high_hz": 5000.0,
        "knee_db": style.knee_db,
    }
    levels = list(bands_db)
    for n, (lo_hz, hi_hz) in enumerate(((0.0, 120.0), (120.0, 5000.0), (5000.0, 1e6)), start=1):
        share_db = _band_share_db(levels, lo_hz, hi_hz)
        band_rms_db = rms_dbfs + (share_db if share_db is not None else 0.0)
        d |= {
            f"band{n}_threshold_db": round(
                _clip(band_rms_db + style.threshold_offset_db, -60, 0), 1
            ),
            f"band{n}_ratio": ratio,
            f"band{n}_attack_ms": style.attack_ms[n - 1],
            f"band{n}_release_ms": style.release_ms[n - 1],
            f"band{n}_makeup_db": 0.0,
        }
    return d


def _compression(
    features: Mapping[str, object], bands_db: list[float | None], intent: Intent
) -> tuple[dict[str, Any], list[str]]:
    style = STYLE_DYNAMICS[intent.style]
    crest_db = _number(features, "crest_db")
    lra_lu = _number(features, "loudness_range_lu") or 0.0
    rms_dbfs = _number(features, "rms_dbfs")
    if crest_db is None or rms_dbfs is None:
        return {"amount": 0.0}, []
    crest_score = _clip((crest_db - 8.0) / 10.0, 0.0, 1.0)
    lra_score = _clip((lra_lu - 4.0) / 10.0, 0.0, 1.0)
    dynamics = 0.6 * crest_score + 0.4 * lra_score
    if dynamics < 0.05:
        return {"amount": 0.0}, [
            f"The mix is already dense (crest factor {fmt(crest_db)} dB, loudness range "
            f"{fmt(lra_lu)} LU), so it gets no further compression."
        ]
    ratio = round(1.0 + dynamics * (style.max_ratio - 1.0), 2)
    d = compressor_settings(rms_dbfs, bands_db, intent.style, ratio)
    d["amount"] = round(0.5 + 0.5 * intent.intensity, 2)
    how = "gentle" if ratio < 1.8 else "moderate" if ratio < 2.8 else "firm"
    sentence = (
        f"With a crest factor of {fmt(crest_db)} dB and a loudness range of {fmt(lra_lu)} LU, "
        f"{how} three-band compression ({fmt(ratio)}:1) holds the louder moments together."
    )
    if intent.style == "punchy":
        sentence += " Slow attacks let the drum hits through for punch."
    return d, [sentence]


def _stereo(features: Mapping[str, object], intent: Intent) -> tuple[dict[str, Any], list[str]]:
    channels = _number(features, "channels") or 0
    if channels != 2:
        if channels == 1:
            return {"amount": 0.0}, ["The file is mono, so the stereo stage is off."]
        return {"amount": 0.0}, []
    correlation = _number(features, "correlation")
    band_correlation = _numbers(features, "band_correlation")
    low_correlation = band_correlation[0] if band_correlation else None
    d: dict[str, Any] = {}
    sentences: list[str] = []
    if correlation is not None and correlation < 0.0:
        d |= {"low_width": 0.5, "mid_width": 0.75, "high_width": 0.8, "mono_below_hz": 150.0}
        sentences.append(
            f"Warning: left and right partly cancel each other (correlation {fmt(correlation, 2)})"
            ", which usually means a phase problem in the mix; the image is narrowed so it "
            "survives mono playback, but fixing it in the mix is better."
        )
    elif low_correlation is not None and low_correlation < 0.8:
        d["mono_below_hz"] = 120.0
        sentences.append(
            f"The bass differs between left and right (correlation {fmt(low_correlation, 2)} "
            "below 250 Hz), so it is made mono below 120 Hz for a tighter, mono-safe low end."
        )
    if correlation is not None and correlation > 0.95 and intent.intensity > 0.5:
        extra = intent.intensity - 0.5
        d |= {"mid_width": round(1.0 + 0.2 * extra, 3), "high_width": round(1.0 + 0.4 * extra, 3)}
        sentences.append(
            "The mix is nearly mono, so a little width is added to the mids and highs."
        )
    if not d:
        return {"amount": 0.0}, []
    d["amount"] = 1.0
    return d, sentences


def _saturation(intent: Intent) -> tuple[dict[str, Any], list[str]]:
    if intent.style not in ("warm", "punchy") or intent.intensity <= 0.5:
        return {"amount": 0.0, "drive_db": 0.0}, []
    strength = (intent.intensity - 0.5) / 0.5
    drive_db = round((6.0 if intent.style == "warm" else 4.0) * strength, 1)
    if drive_db < 0.5:
        return {"amount": 0.0, "drive_db": 0.0}, []
    what = "warmth" if intent.style == "warm" else "density"
    return {"amount": 0.5, "drive_db": drive_db}, [
        f"Soft saturation ({fmt(drive_db)} dB drive, half mixed in) adds {what}."
    ]


def _limiter(features: Mapping[str, object], intent: Intent) -> tuple[dict[str, Any], list[str]]:
    style = STYLE_DYNAMICS[intent.style]
    tempo_bpm = _number(features, "tempo_bpm")
    confidence = _number(features, "tempo_confidence") or 0.0
    if tempo_bpm is not None and tempo_bpm > 0.0 and confidence >= 0.3:
        release_ms = _clip(60_000.0 / tempo_bpm / 4.0 * style.limiter_release_factor, 40, 400)
        why = f"a quarter beat at {tempo_bpm:.0f} BPM, so it breathes with the groove"
    else:
        release_ms = 120.0 * style.limiter_release_factor
        why = "a neutral value, as the tempo is unclear"
    max_reduction_db = style.max_reduction_db + (2.0 if intent.target_lufs >= -10.0 else 0.0)
    amount = round(0.6 + 0.4 * intent.intensity, 2)
    d = {
        "amount": amount,
        "ceiling_dbtp": intent.ceiling_dbtp,
        "max_reduction_db": max_reduction_db,
        "release_ms": round(release_ms),
    }
    return d, [
        f"The limiter releases in {release_ms:.0f} ms ({why}); it may use up to "
        f"{fmt(amount * max_reduction_db)} dB of limiting, beyond which the master stays a "
        "little quieter rather than being crushed.",
    ]


def decide(features: Mapping[str, object], intent: Intent) -> Decision:
    """Choose mastering parameters from the feature JSON and the musician's intent.

    Parameters
    ----------
    features
        The feature JSON of :func:`mixmaster.analyze.analyze` (``Analysis.to_json()``),
        validated against ``features.schema.json``.
    intent
        Target loudness, ceiling, style and intensity.

    Returns
    -------
    Decision
        Valid parameters (built through :func:`params_from_dict` with ``clamp=True``) and one
        plain sentence per choice. Deterministic: the same input gives the same decision.

    Raises
    ------
    ParamError
        If ``features`` is not valid under the feature schema (the error names the field).
    """
    from mixmaster.analyze import validate_features

    features = validate_features(features)
    integrated_lufs = _number(features, "integrated_lufs")
    if integrated_lufs is None or integrated_lufs < NEAR_SILENT_LUFS:
        level = (
            "silent" if integrated_lufs is None else f"nearly silent ({fmt(integrated_lufs)} LUFS)"
        )
        params = params_from_dict(_neutral(intent), clamp=True)
        return Decision(
            params,
            (
                f"The track is {level}, so it is left as it is: raising it to the target would "
                "mostly raise noise.",
                f"Only the safety limiter stays on, holding peaks below "
                f"{fmt(intent.ceiling_dbtp)} dBTP.",
            ),
        )

    sentences: list[str] = [_target_sentence(intent, integrated_lufs)]
    warnings: list[str] = []
    bands_db = _numbers(features, "third_octave_db")

    d: dict[str, dict[str, Any]] = {
        "loudness": {"amount": 1.0, "target_lufs": intent.target_lufs},
        "highpass": {"amount": 1.0, "cutoff_hz": HIGHPASS_CUTOFF_HZ[intent.style]},
    }
    eq_gains, eq_sentences = _eq_moves(bands_db, intent.style, intent.intensity)
    cut_gains, cut_sentences = _resonance_cuts(bands_db, intent.intensity)
    eq = eq_gains | cut_gains
    active = any(v != 0.0 for k, v in eq.items() if k.endswith(("_gain_db", "_per_oct")))
    d["eq"] = (eq | {"amount": 1.0}) if active else {"amount": 0.0}
    sentences += eq_sentences + cut_sentences

    d["compressor"], comp_sentences = _compression(features, bands_db, intent)
    d["stereo"], stereo_sentences = _stereo(features, intent)
    d["saturation"], sat_sentences = _saturation(intent)
    d["limiter"], lim_sentences = _limiter(features, intent)
    sentences += comp_sentences + stereo_sentences + sat_sentences + lim_sentences

    dc_offset = _number(features, "dc_offset") or 0.0
    sentences.append(
        f"A {HIGHPASS_CUTOFF_HZ[intent.style]:.0f} Hz subsonic filter removes inaudible rumble"
        + (" and the mix's DC offset." if dc_offset > 0.001 else ".")
    )
    clipped = _number(features, "clipped_samples") or 0.0
    if clipped > 0:
        warnings.append(
            f"Warning: the mix already clips ({clipped:.0f} clipped samples); mastering cannot "
            "undo that, so export the mix with more headroom if you can."
        )
    true_peak_dbtp = _number(features, "true_peak_dbtp")
    if true_peak_dbtp is not None and true_peak_dbtp > 0.0:
        warnings.append(
            f"The mix's true peak is {fmt(true_peak_dbtp)} dBTP, above full scale; the limiter "
            "brings it under the ceiling."
        )
    ceiling = (
        f"True peaks are held below {fmt(intent.ceiling_dbtp)} dBTP so the track stays clean "
        "after MP3/AAC encoding."
    )
    # Warnings come right after the target: they matter more than any tonal detail.
    phase = [s for s in sentences if s.startswith("Warning")]
    rest = [s for s in sentences if not s.startswith("Warning")]
    explanation = (rest[0], *phase, *warnings, ceiling, *rest[1:])
    params = params_from_dict(d, clamp=True)
    return Decision(params, explanation)


__all__ = [
    "PLATFORM_TARGETS_LUFS",
    "STYLE_CURVES",
    "STYLE_DYNAMICS",
    "Decision",
    "StyleCurve",
    "StyleDynamics",
    "compressor_settings",
    "decide",
]

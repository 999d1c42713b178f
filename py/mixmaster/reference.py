"""Reference mastering: decisions that match a reference track, from two feature JSONs.

Like the rules (:mod:`mixmaster.decide`), this reads only feature JSONs
(``features.schema.json``): the mix's and the reference's. No audio of either reaches it, so the
same decision can be made in the browser, in the CLI or on a server. The result is an ordinary
:class:`~mixmaster.decide.Decision`; the master then goes through the same chain, loudness
targeting, true-peak limiter and ceiling as any other.

Each aspect has its own amount in [0, 1] (:class:`~mixmaster.params.MatchAmounts`); 0 leaves
that aspect to the rules, as without a reference, and 1 matches the reference fully:

- **loudness**: the target moves from the intent's toward the reference's integrated loudness,
  ``target = intent + amount × (reference - intent)`` (clamped to -30 ... -5 LUFS);
- **spectrum**: the mid and side ⅓-octave levels (``mid_third_octave_db``,
  ``side_third_octave_db``) give a correction per band, reference minus mix, smoothed over
  neighbouring bands (weights ¼, ½, ¼) and limited to ±:data:`MAX_CORRECTION_DB`; bands without
  content in either track get no correction of their own. The side's curve is the mid's plus
  the side's own *shape* difference (its side-to-mid difference less that difference's mean in
  each stereo band), so the side-to-mid *balance* is left to the width aspect. Both curves go
  to the ``match`` stage (:mod:`mixmaster.matching`) with ``amount`` = this amount; the rules'
  tonal EQ is scaled by ``1 - amount``. A common offset makes the curves average 0 dB over
  250 Hz-4 kHz, so they read as tone, not level;
- **width**: in each of the stereo stage's three bands, the side-to-mid energy ratio of the mix
  (after the match curves) is brought to the reference's, ``width = sqrt(ratio_ref /
  ratio_mix)`` (0 ... 2), blended linearly with the rules' width by the amount;
- **dynamics**: a mix whose crest factor exceeds the reference's by ``Δ`` dB gets compression of
  slope ``Δ / (crest - threshold offset)`` (at most 4:1), blended with the rules' compression
  (slopes ``1 - 1/ratio`` mixed by the amount); and, for a target louder than the mix, the
  limiting depth allowed to reach it grows from the rules' toward :data:`MAX_LIMITING_DB` by the
  amount (the gain search still uses no more than it needs).

Warnings, the subsonic filter, saturation and the limiter's release stay as the rules set them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mixmaster.decide import (
    NEAR_SILENT_LUFS,
    STYLE_DYNAMICS,
    Decision,
    compressor_settings,
    decide,
    fmt,
    fmt_hz,
)
from mixmaster.errors import InputError, ParamError
from mixmaster.params import (
    MATCH_BAND_CENTRES_HZ,
    MAX_TARGET_LUFS,
    MIN_TARGET_LUFS,
    Intent,
    MatchAmounts,
    params_from_dict,
    params_to_dict,
)
from mixmaster.spectrum import ISO_THIRD_OCTAVE_CENTRES_HZ
from mixmaster.units import FloatArray

__all__ = ["MAX_CORRECTION_DB", "decide_reference", "match_curves"]

MAX_CORRECTION_DB: Final = 12.0
"""Largest boost or cut of a match curve at any band."""

CONTENT_FLOOR_DB: Final = -80.0
"""A band this far below the track's total holds no content to match."""

SIDE_CONTENT_FLOOR_DB: Final = -60.0
"""A side band this far below the total is too faint to read a shape from."""

BODY_HZ: Final = (250.0, 4000.0)
"""The match curves average 0 dB over these bands (the loudness stage sets the level)."""

WIDTH_DEADBAND_DB: Final = 0.25
"""A width change of the side by less than this is not made."""

MAX_LIMITING_DB: Final = 12.0
"""Most limiting depth the dynamics match may allow to reach the target."""

_SMOOTHING: Final = (0.25, 0.5, 0.25)


def _levels(features: Mapping[str, Any], key: str) -> FloatArray:
    """A ⅓-octave array as float64, ``nan`` for ``null``."""
    return np.array([np.nan if v is None else float(v) for v in features[key]], dtype=np.float64)


def _fill(values: FloatArray, default: float) -> FloatArray:
    """``nan`` entries take the nearest valid value (or ``default`` if there is none)."""
    valid = np.flatnonzero(np.isfinite(values))
    if valid.size == 0:
        return np.full(values.shape, default)
    idx = np.arange(values.size)
    nearest = valid[np.argmin(np.abs(idx[:, None] - valid[None, :]), axis=1)]
    return np.asarray(values[nearest], dtype=np.float64)


def _smooth(values: FloatArray) -> FloatArray:
    padded = np.concatenate(([values[0]], values, [values[-1]]))
    return np.convolve(padded, np.array(_SMOOTHING), mode="valid")


def _stereo_band(
    centres_hz: FloatArray, crossovers_hz: tuple[float, float]
) -> npt.NDArray[np.intp]:
    """Index 0, 1 or 2 of the stereo stage's band each ⅓-octave centre falls in."""
    return np.searchsorted(np.array(crossovers_hz), centres_hz)


def match_curves(
    features: Mapping[str, Any],
    reference: Mapping[str, Any],
    crossovers_hz: tuple[float, float] = (250.0, 4000.0),
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The full mid and side match curves (dB per ⅓-octave band), before any amount.

    ``features`` and ``reference`` are validated feature JSONs; ``crossovers_hz`` are the
    stereo stage's bands, in which the side's balance against the mid is left to the width
    aspect (see the module docstring).
    """
    centres = np.array(MATCH_BAND_CENTRES_HZ)
    mid_t, mid_r = (
        _levels(features, "mid_third_octave_db"),
        _levels(reference, "mid_third_octave_db"),
    )
    side_t = _levels(features, "side_third_octave_db")
    side_r = _levels(reference, "side_third_octave_db")
    with np.errstate(invalid="ignore"):
        mid_ok = (mid_t > CONTENT_FLOOR_DB) & (mid_r > CONTENT_FLOOR_DB)
        side_ok = mid_ok & (side_t > SIDE_CONTENT_FLOOR_DB) & (side_r > SIDE_CONTENT_FLOOR_DB)
    mid = _smooth(_fill(np.where(mid_ok, mid_r - mid_t, np.nan), 0.0))
    # The side-to-mid difference, less its mean per stereo band: the side's own shape.
    ratio = np.where(side_ok, (side_r - mid_r) - (side_t - mid_t), np.nan)
    band = _stereo_band(centres, crossovers_hz)
    shape = np.zeros(centres.size)
    for k in range(3):
        sel = (band == k) & np.isfinite(ratio)
        if np.any(sel):
            shape[sel] = ratio[sel] - float(np.mean(ratio[sel]))
    side = mid + _smooth(shape)
    # A common offset puts the body (250 Hz-4 kHz) at 0 dB: the curves read as tone, not level.
    body = (centres >= BODY_HZ[0]) & (centres <= BODY_HZ[1])
    offset = -float(np.mean(mid[body]))
    mid, side = mid + offset, side + offset
    limit = MAX_CORRECTION_DB
    return (
        tuple(round(float(v), 2) for v in np.clip(mid, -limit, limit)),
        tuple(round(float(v), 2) for v in np.clip(side, -limit, limit)),
    )


def _stereo_band_energies(
    mid_db: FloatArray, side_db: FloatArray, crossovers_hz: tuple[float, float]
) -> tuple[FloatArray, FloatArray]:
    band = _stereo_band(np.array(MATCH_BAND_CENTRES_HZ), crossovers_hz)
    mid_e, side_e = np.zeros(3), np.zeros(3)
    for k in range(3):
        sel = band == k
        mid_e[k] = np.nansum(10.0 ** (mid_db[sel] / 10.0))
        side_e[k] = np.nansum(10.0 ** (side_db[sel] / 10.0))
    return mid_e, side_e


def _number(features: Mapping[str, Any], key: str) -> float | None:
    value = features.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


_RULE_SENTENCES_KEPT: Final = (
    "Warning",
    "The mix's true peak",
    "True peaks are held",
    "The limiter releases",
    "A ",
    "Soft saturation",
    "The file is mono",
)


def _slope(compressor: Mapping[str, Any]) -> float:
    """The rules' compression as a slope ``amount × (1 - 1/ratio)`` (0 = none)."""
    return float(compressor["amount"]) * (1.0 - 1.0 / float(compressor["band2_ratio"]))


def decide_reference(
    features: Mapping[str, object],
    reference_features: Mapping[str, object],
    intent: Intent,
    amounts: MatchAmounts | None = None,
) -> Decision:
    """Choose parameters that match the reference, aspect by aspect (see the module docstring).

    Parameters
    ----------
    features
        The mix's feature JSON (:func:`mixmaster.analyze.analyze` ``.to_json()``).
    reference_features
        The reference's feature JSON, measured the same way.
    intent
        Target loudness (used as far as ``amounts.loudness`` < 1), ceiling (always), style and
        intensity (for what the rules still decide).
    amounts
        How much of each aspect to match; default: all fully.

    Returns
    -------
    Decision
        Valid parameters and one plain sentence per choice. Deterministic.

    Raises
    ------
    ParamError
        If either feature JSON is invalid (``field`` is prefixed ``reference.`` for the
        reference's).
    InputError
        ``silent_reference`` if the reference is silent or nearly so (nothing to match).
    """
    from mixmaster.analyze import validate_features

    amounts = amounts or MatchAmounts()
    mix = validate_features(features)
    try:
        ref = validate_features(reference_features)
    except ParamError as exc:
        raise ParamError(
            exc.code, f"reference: {exc.message}", field=f"reference.{exc.field}"
        ) from None
    ref_lufs = _number(ref, "integrated_lufs")
    if ref_lufs is None or ref_lufs < NEAR_SILENT_LUFS:
        raise InputError(
            "silent_reference",
            "The reference is silent or nearly so (below "
            f"{NEAR_SILENT_LUFS:.0f} LUFS), so there is nothing to match; choose a reference "
            "with music in it.",
            field="reference",
        )
    base = decide(mix, intent)
    mix_lufs = _number(mix, "integrated_lufs")
    if mix_lufs is None or mix_lufs < NEAR_SILENT_LUFS:
        return Decision(
            base.params, (*base.explanation, "The reference is not applied to silence.")
        )

    d = params_to_dict(base.params)
    sentences: list[str] = [
        "Matching the reference: tone "
        f"{amounts.spectrum:.0%}, loudness {amounts.loudness:.0%}, width {amounts.width:.0%}, "
        f"dynamics {amounts.dynamics:.0%}."
    ]

    # Loudness.
    target = intent.target_lufs + amounts.loudness * (ref_lufs - intent.target_lufs)
    target = round(min(MAX_TARGET_LUFS, max(MIN_TARGET_LUFS, target)), 2)
    d["loudness"] |= {"amount": 1.0, "target_lufs": target}
    sentences.append(
        f"The reference measures {fmt(ref_lufs)} LUFS and your mix {fmt(mix_lufs)} LUFS; the "
        f"master aims at {fmt(target)} LUFS"
        + (
            "."
            if amounts.loudness == 1.0
            else f", {amounts.loudness:.0%} of the way from your {fmt(intent.target_lufs)} LUFS "
            "target to the reference."
        )
    )

    # Spectrum.
    crossovers = (float(d["stereo"]["crossover_low_hz"]), float(d["stereo"]["crossover_high_hz"]))
    mid_curve, side_curve = match_curves(mix, ref, crossovers)
    d["match"] = {"amount": amounts.spectrum, "mid_db": mid_curve, "side_db": side_curve}
    d["eq"]["amount"] = round(float(d["eq"]["amount"]) * (1.0 - amounts.spectrum), 3)
    if amounts.spectrum > 0.0:
        mid = np.array(mid_curve) * amounts.spectrum
        body = [i for i, f in enumerate(MATCH_BAND_CENTRES_HZ) if 40.0 <= f <= 16_000.0]
        lo = min(body, key=lambda i: mid[i])
        hi = max(body, key=lambda i: mid[i])
        moves = []
        if mid[hi] >= 0.2:
            moves.append(
                f"lifted up to {fmt(mid[hi])} dB around {fmt_hz(ISO_THIRD_OCTAVE_CENTRES_HZ[hi])}"
            )
        if mid[lo] <= -0.2:
            moves.append(
                f"cut up to {fmt(-mid[lo])} dB around {fmt_hz(ISO_THIRD_OCTAVE_CENTRES_HZ[lo])}"
            )
        sentences.append(
            "The tone follows the reference's, smoothed per third of an octave and separately "
            "for the centre (mid) and the sides"
            + (": the mid is " + " and ".join(moves) + "." if moves else "; they already agree.")
        )

    # Width.
    channels = _number(mix, "channels")
    if channels == 2 and amounts.width > 0.0:
        mid_t = _levels(mix, "mid_third_octave_db") + amounts.spectrum * np.array(mid_curve)
        side_t = _levels(mix, "side_third_octave_db") + amounts.spectrum * np.array(side_curve)
        m_t, s_t = _stereo_band_energies(mid_t, side_t, crossovers)
        m_r, s_r = _stereo_band_energies(
            _levels(ref, "mid_third_octave_db"), _levels(ref, "side_third_octave_db"), crossovers
        )
        stereo = d["stereo"]
        rules = [
            1.0 + float(stereo["amount"]) * (float(stereo[f"{name}_width"]) - 1.0)
            for name in ("low", "mid", "high")
        ]
        widths = []
        for k in range(3):
            if m_t[k] <= 0.0 or m_r[k] <= 0.0 or s_t[k] <= 0.0:
                match = 1.0
            else:
                match = math.sqrt((s_r[k] / m_r[k]) / (s_t[k] / m_t[k]))
            match = min(2.0, max(0.0, match))
            width = (1.0 - amounts.width) * rules[k] + amounts.width * match
            # Within ±WIDTH_DEADBAND_DB of unchanged is left alone (no pass over the audio).
            if abs(20.0 * math.log10(max(width, 1e-6))) < WIDTH_DEADBAND_DB:
                width = 1.0
            widths.append(round(width, 3))
        band_corr = ref.get("band_correlation") or [None]
        mono_hz = float(stereo["mono_below_hz"]) if stereo["amount"] > 0.0 else 0.0
        if band_corr[0] is not None and band_corr[0] < 0.8:
            mono_hz = 0.0  # the reference's own bass is wide: do not make the mix's mono
        stereo |= {
            "amount": 1.0,
            "low_width": widths[0],
            "mid_width": widths[1],
            "high_width": widths[2],
            "mono_below_hz": mono_hz,
        }
        if all(w == 1.0 for w in widths) and mono_hz == 0.0:
            stereo["amount"] = 0.0
        else:
            names = ("lows", "mids", "highs")
            moves = [
                f"the {names[k]} ×{widths[k]:.2f}" for k in range(3) if abs(widths[k] - 1.0) >= 0.02
            ]
            if moves:
                sentences.append(
                    "The stereo width follows the reference's balance of sides to centre: "
                    + ", ".join(moves)
                    + " (1 = unchanged)."
                )

    # Dynamics.
    crest_t, crest_r = _number(mix, "crest_db"), _number(ref, "crest_db")
    rms_t = _number(mix, "rms_dbfs")
    if amounts.dynamics > 0.0 and crest_t is not None and crest_r is not None and rms_t is not None:
        offset_db = STYLE_DYNAMICS[intent.style].threshold_offset_db
        excess_db = crest_t - crest_r
        slope_match = 0.0
        if excess_db > 0.5:
            slope_match = min(0.75, excess_db / max(3.0, crest_t - offset_db))
        slope = (1.0 - amounts.dynamics) * _slope(d["compressor"]) + amounts.dynamics * slope_match
        if slope < 0.02:
            d["compressor"] = {"amount": 0.0}
        else:
            ratio = round(1.0 / (1.0 - slope), 2)
            bands = [None if v is None else float(v) for v in mix["third_octave_db"]]
            d["compressor"] = compressor_settings(rms_t, bands, intent.style, ratio)
        if excess_db > 0.5:
            sentences.append(
                f"The reference is denser (crest factor {fmt(crest_r)} dB against your mix's "
                f"{fmt(crest_t)} dB), so the compression moves toward it"
                + (f" ({fmt(1.0 / (1.0 - slope))}:1)." if slope >= 0.02 else ".")
            )
        elif excess_db < -0.5:
            sentences.append(
                f"Your mix is already denser than the reference (crest factor {fmt(crest_t)} dB "
                f"against {fmt(crest_r)} dB); mastering does not expand it."
            )
        # The limiting depth reaching the reference's level may use grows by the amount (the
        # peaks after matching cannot be told from the features: an EQ's phase, undone only in
        # magnitude, reshapes them), up to MAX_LIMITING_DB; the search still uses the least.
        limiter = d["limiter"]
        cap_db = float(limiter["amount"]) * float(limiter["max_reduction_db"])
        if target > mix_lufs and cap_db < MAX_LIMITING_DB:
            new_cap = round(cap_db + amounts.dynamics * (MAX_LIMITING_DB - cap_db), 1)
            limiter |= {"amount": 1.0, "max_reduction_db": new_cap}
            sentences.append(
                f"To reach the reference's level the limiter may use up to {fmt(new_cap)} dB of "
                "limiting where needed."
            )

    # The rules' sentences that still hold; warnings right after the loudness.
    kept = [s for s in base.explanation if s.startswith(_RULE_SENTENCES_KEPT)]
    if amounts.spectrum < 1.0:
        kept += [s for s in base.explanation if "shelf" in s or "tilt" in s or "cut of" in s]
    warnings = [s for s in kept if s.startswith(("Warning", "The mix's true peak"))]
    rest = [s for s in kept if s not in warnings]
    params = params_from_dict(d, clamp=True)
    return Decision(params, (*sentences[:2], *warnings, *sentences[2:], *rest))

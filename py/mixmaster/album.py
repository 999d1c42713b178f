"""Album mode: one set of tonal decisions and one album gain for several tracks.

Pure and sequential: every function here takes feature JSONs (and, for the album's loudness,
the tracks' 400 ms gating-block loudness) and returns parameters; mastering each track is the
ordinary :func:`mixmaster.pipeline.master`, so a caller may run the tracks one after another
(the browser) or in parallel processes (the CLI).

1. **One decision for all.** The tracks' feature JSONs are combined into one
   (:func:`album_features`: energy-weighted ⅓-octave spectra, duration-weighted image and
   crest, the loudest peaks), and the rules (or :func:`mixmaster.reference.decide_reference`,
   or a decision the caller brings, e.g. Claude's) decide once: every track gets the same EQ,
   match, compressor, stereo, saturation and limiter settings.
2. **One album gain.** The album's integrated loudness ``L_album`` is BS.1770 gating over the
   union of all tracks' gating blocks (:func:`mixmaster.loudness.album_loudness_lufs`). Every
   track gets the same gain ``g = target - L_album``: its loudness target is its own input
   loudness plus ``g``. The pipeline's gain search reaches each track's target through its own
   limiting, so the tracks keep their levels relative to each other even where the limiter
   works harder on the loud ones, and the album as a whole lands on the target.
3. **Reachability.** Where a track cannot reach its target within the allowed limiting, the
   caller masters again as :func:`album_next_round` says: first with more limiting allowed on
   every track (the shortfall plus 1 dB, at most :data:`MAX_ALBUM_LIMITING_DB`), then, if a
   track still falls short, with the album gain lowered by the largest shortfall
   (:func:`album_shortfall_db`): the album stays a little quieter rather than the loud tracks
   losing their place against the quiet ones.
4. **Per-track overrides** (partial params ``{stage: {field: value}}``) are applied last, on
   that track only; a track whose loudness is overridden leaves the relative-level guarantee.

Silent or nearly silent tracks are left as the rules leave silence (no gain).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from mixmaster.analyze import validate_features
from mixmaster.decide import NEAR_SILENT_LUFS, Decision, decide
from mixmaster.errors import ParamError
from mixmaster.params import (
    MAX_TARGET_LUFS,
    MIN_TARGET_LUFS,
    Intent,
    MasteringParams,
    MatchAmounts,
    params_from_dict,
    params_to_dict,
    with_changes,
)

__all__ = [
    "RELATIVE_TOLERANCE_LU",
    "AlbumCheck",
    "AlbumPlan",
    "album_features",
    "album_next_round",
    "album_shortfall_db",
    "check_album",
    "master_in_rounds",
    "plan_album",
]

RELATIVE_TOLERANCE_LU: Final = 0.5
"""Each track keeps its level relative to the others within this."""

ALBUM_TOLERANCE_LU: Final = 0.5
"""The album's loudness is on target within this."""

MAX_ALBUM_LIMITING_DB: Final = 10.0
"""Most limiting depth a later round allows, so that a loud track keeps its place."""

SHORTFALL_TOLERANCE_LU: Final = 0.2
"""A track this far or more below its target makes the album gain back off."""

EXTRA_ROUNDS: Final = 2
"""Rounds after the first (:func:`album_next_round`): more limiting, then less album gain."""

Result = TypeVar("Result")


@dataclass(frozen=True)
class AlbumPlan:
    """Parameters per track (in the order given) and how the album gain was chosen.

    Attributes
    ----------
    params
        One :class:`MasteringParams` per track: the shared decision, the track's loudness
        target, then its overrides.
    target_lufs
        The album's loudness target.
    album_lufs
        The album's input loudness (gated over all tracks' blocks).
    album_gain_db
        The gain every (non-overridden, non-silent) track gets.
    track_targets_lufs
        Each track's loudness target (``None`` for silence).
    explanation
        Plain sentences: the shared decision's and the album's.
    """

    params: tuple[MasteringParams, ...]
    target_lufs: float
    album_lufs: float
    album_gain_db: float
    track_targets_lufs: tuple[float | None, ...]
    explanation: tuple[str, ...]
    gain_offset_db: float = 0.0
    extra_limiting_db: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: ``params`` as a list of nested dicts, levels rounded to 0.01."""
        return {
            "params": [params_to_dict(p) for p in self.params],
            "target_lufs": round(self.target_lufs, 2),
            "album_lufs": round(self.album_lufs, 2) if math.isfinite(self.album_lufs) else None,
            "album_gain_db": round(self.album_gain_db, 2),
            "track_targets_lufs": [
                None if t is None else round(t, 2) for t in self.track_targets_lufs
            ],
            "explanation": list(self.explanation),
            "gain_offset_db": round(self.gain_offset_db, 2),
            "extra_limiting_db": round(self.extra_limiting_db, 2),
        }


def _number(features: Mapping[str, Any], key: str) -> float | None:
    value = features.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _db_mean(values: Sequence[tuple[float, float]]) -> float | None:
    """``10 log10(Σ w 10^(v/10) / Σ w)`` over ``(value_db, weight)``; ``None`` if empty."""
    total = sum(w for _, w in values)
    if not values or total <= 0.0:
        return None
    return 10.0 * math.log10(sum(w * 10.0 ** (v / 10.0) for v, w in values) / total)


def _weighted_mean(values: Sequence[tuple[float | None, float]]) -> float | None:
    present = [(v, w) for v, w in values if v is not None]
    total = sum(w for _, w in present)
    return sum(v * w for v, w in present) / total if present and total > 0.0 else None


def _approximate_album_lufs(tracks: Sequence[Mapping[str, Any]]) -> float:
    """The duration-weighted power mean of the tracks' loudness (no cross-track gating)."""
    loud = [
        (lufs, float(f["duration_s"]))
        for f in tracks
        if (lufs := _number(f, "integrated_lufs")) is not None
    ]
    mean = _db_mean(loud)
    return -math.inf if mean is None else mean


def album_features(features: Sequence[Mapping[str, object]]) -> dict[str, Any]:
    """One feature JSON describing the tracks together, for a single decision.

    Spectra (all, mid, side) are energy means, each track weighted by its energy (duration times
    loudness in power); stereo image, crest factor, PLR and loudness range are duration-weighted
    means; peaks, clipping and DC are the worst track's; tempo is left out (``null``), as the
    tracks' tempi differ. The result validates against ``features.schema.json``.

    Raises
    ------
    ParamError
        If there are no tracks, or a track's features are invalid (``field`` is prefixed
        ``tracks[i].``).
    """
    if not features:
        raise ParamError("no_tracks", "An album needs at least one track.", field="tracks")
    tracks: list[dict[str, Any]] = []
    for i, f in enumerate(features):
        try:
            tracks.append(validate_features(f))
        except ParamError as exc:
            raise ParamError(
                exc.code, f"track {i + 1}: {exc.message}", field=f"tracks[{i}].{exc.field}"
            ) from None
    durations = [max(float(t["duration_s"]), 1e-9) for t in tracks]
    energies = [
        d * 10.0 ** (lufs / 10.0) if (lufs := _number(t, "integrated_lufs")) is not None else 0.0
        for t, d in zip(tracks, durations, strict=True)
    ]
    if sum(energies) <= 0.0:
        energies = durations

    def spectrum(key: str) -> list[float | None]:
        out: list[float | None] = []
        for band in range(len(tracks[0][key])):
            values = [
                (float(t[key][band]), e)
                for t, e in zip(tracks, energies, strict=True)
                if t[key][band] is not None
            ]
            level = _db_mean(values) if values else None
            out.append(None if level is None else round(level, 2))
        return out

    def mean(key: str) -> float | None:
        value = _weighted_mean(
            [(_number(t, key), d) for t, d in zip(tracks, durations, strict=True)]
        )
        return None if value is None else round(value, 3)

    def worst(key: str) -> float | None:
        values = [v for t in tracks if (v := _number(t, key)) is not None]
        return max(values) if values else None

    def band_mean(key: str) -> list[float | None]:
        out: list[float | None] = []
        for band in range(4):
            value = _weighted_mean(
                [
                    (None if t[key][band] is None else float(t[key][band]), d)
                    for t, d in zip(tracks, durations, strict=True)
                ]
            )
            out.append(None if value is None else round(value, 3))
        return out

    album_lufs = _approximate_album_lufs(tracks)
    rms = _db_mean(
        [
            (v, d)
            for t, d in zip(tracks, durations, strict=True)
            if (v := _number(t, "rms_dbfs")) is not None
        ]
    )
    sample_peak = worst("sample_peak_dbfs")
    third = spectrum("third_octave_db")
    combined: dict[str, Any] = {
        "schema_version": tracks[0]["schema_version"],
        "duration_s": round(min(86_400.0, sum(float(t["duration_s"]) for t in tracks)), 3),
        "sample_rate_hz": min(int(t["sample_rate_hz"]) for t in tracks),
        "channels": max(int(t["channels"]) for t in tracks),
        "integrated_lufs": round(album_lufs, 2) if math.isfinite(album_lufs) else None,
        "loudness_range_lu": mean("loudness_range_lu") or 0.0,
        "momentary_max_lufs": worst("momentary_max_lufs"),
        "short_term_max_lufs": worst("short_term_max_lufs"),
        "true_peak_dbtp": worst("true_peak_dbtp"),
        "sample_peak_dbfs": sample_peak,
        "rms_dbfs": None if rms is None else round(rms, 2),
        "crest_db": mean("crest_db"),
        "plr_db": mean("plr_db"),
        "dc_offset": max(float(t["dc_offset"]) for t in tracks),
        "clipped_samples": sum(int(t["clipped_samples"]) for t in tracks),
        "correlation": mean("correlation") if mean("correlation") is not None else 1.0,
        "width": mean("width") if mean("width") is not None else 0.0,
        "band_correlation": band_mean("band_correlation"),
        "band_width": band_mean("band_width"),
        "third_octave_db": third,
        "mid_third_octave_db": spectrum("mid_third_octave_db"),
        "side_third_octave_db": spectrum("side_third_octave_db"),
        "spectral_tilt_db_per_oct": mean("spectral_tilt_db_per_oct"),
        "spectral_centroid_hz": mean("spectral_centroid_hz"),
        "tempo_bpm": None,
        "tempo_confidence": 0.0,
    }
    return validate_features(combined)


def plan_album(
    features: Sequence[Mapping[str, object]],
    intent: Intent,
    *,
    album_lufs: float | None = None,
    reference_features: Mapping[str, object] | None = None,
    amounts: MatchAmounts | None = None,
    decision: Decision | None = None,
    overrides: Sequence[Mapping[str, object] | None] | None = None,
    gain_offset_db: float = 0.0,
    extra_limiting_db: float = 0.0,
) -> AlbumPlan:
    """Plan an album: one shared decision, one album gain, each track's parameters.

    Parameters
    ----------
    features
        The tracks' feature JSONs, in album order.
    intent
        The album's intent (target, ceiling, style, intensity).
    album_lufs
        The album's input loudness from :func:`mixmaster.loudness.album_loudness_lufs` over the
        tracks' gating blocks; without it, the duration-weighted power mean of the tracks'
        loudness is used (no cross-track gating; close for albums without near-silent tracks).
    reference_features
        Match a reference (:func:`mixmaster.reference.decide_reference`) with ``amounts``.
    decision
        A shared decision made elsewhere (e.g. Claude's on :func:`album_features`); it wins
        over the rules and the reference.
    overrides
        Per track, partial params applied last, or ``None``.
    gain_offset_db
        Added to the album gain (negative after a shortfall, :func:`album_next_round`).
    extra_limiting_db
        Added to the limiting depth every track may use (after a shortfall), up to
        :data:`MAX_ALBUM_LIMITING_DB`.

    Raises
    ------
    ParamError
        Invalid features or overrides (``field`` names the track as ``tracks[i]``);
        ``bad_length`` if ``overrides`` does not have one entry per track.
    InputError
        As :func:`mixmaster.reference.decide_reference` for a silent reference.
    """
    combined = album_features(features)
    tracks = [validate_features(f) for f in features]
    if overrides is not None and len(overrides) != len(tracks):
        raise ParamError(
            "bad_length",
            f"overrides has {len(overrides)} entries for {len(tracks)} tracks; give one per "
            "track (null for none).",
            field="overrides",
        )
    if decision is None:
        if reference_features is not None:
            from mixmaster.reference import decide_reference

            decision = decide_reference(combined, reference_features, intent, amounts)
        else:
            decision = decide(combined, intent)
    shared = decision.params
    extra_note: list[str] = []
    if extra_limiting_db > 0.0:
        cap_db = shared.limiter.amount * shared.limiter.max_reduction_db
        new_cap = round(min(MAX_ALBUM_LIMITING_DB, max(cap_db, cap_db + extra_limiting_db)), 1)
        shared = with_changes(shared, limiter={"amount": 1.0, "max_reduction_db": new_cap})
        extra_note.append(
            f"The loudest track needs more limiting to keep its place, so every track may use "
            f"up to {new_cap:.1f} dB of limiting."
        )
    target_lufs = shared.loudness.target_lufs
    loudness_in = album_lufs if album_lufs is not None else _approximate_album_lufs(tracks)
    gain_db = (target_lufs - loudness_in if math.isfinite(loudness_in) else 0.0) + gain_offset_db

    params: list[MasteringParams] = []
    targets: list[float | None] = []
    notes: list[str] = []
    for i, track in enumerate(tracks):
        lufs = _number(track, "integrated_lufs")
        if lufs is None or lufs < NEAR_SILENT_LUFS:
            p = decide(track, intent).params  # silence: every stage off, no gain
            targets.append(None)
            notes.append(f"Track {i + 1} is silent or nearly so, so it is left as it is.")
        else:
            wanted = lufs + gain_db
            target = min(MAX_TARGET_LUFS, max(MIN_TARGET_LUFS, wanted))
            if abs(target - wanted) > 0.01:
                notes.append(
                    f"Track {i + 1} would need {wanted:.1f} LUFS, outside the "
                    f"{MIN_TARGET_LUFS:.0f} to {MAX_TARGET_LUFS:.0f} LUFS range, so it is "
                    f"mastered to {target:.1f} LUFS and its level relative to the others moves."
                )
            p = with_changes(shared, loudness={"amount": 1.0, "target_lufs": round(target, 2)})
            targets.append(round(target, 2))
        override = overrides[i] if overrides is not None else None
        if override:
            try:
                p = params_from_dict(override, base=p)
            except ParamError as exc:
                raise ParamError(
                    exc.code, f"track {i + 1}: {exc.message}", field=f"tracks[{i}].{exc.field}"
                ) from None
            if p.loudness.target_lufs != targets[-1] and targets[-1] is not None:
                targets[-1] = p.loudness.target_lufs
                notes.append(
                    f"Track {i + 1}'s loudness is set by its override, outside the album gain."
                )
        params.append(p)

    minutes, seconds = divmod(float(combined["duration_s"]), 60.0)
    album = [
        f"An album of {len(tracks)} tracks ({int(minutes)}:{seconds:04.1f}): one set of tonal "
        "decisions for all of them, from their combined measurements.",
        f"The album measures {loudness_in:.1f} LUFS; every track gets the same gain, "
        f"{gain_db:+.1f} dB, so the album aims at {target_lufs + gain_offset_db:.1f} LUFS and "
        "the tracks keep their levels relative to each other."
        if math.isfinite(loudness_in)
        else "The album is silent, so no gain is applied.",
    ]
    album += extra_note
    if gain_offset_db < 0.0:
        album.append(
            f"The album gain is {-gain_offset_db:.1f} dB lower than the target asks, because the "
            "loudest track would need more limiting than allowed."
        )
    rules = [s for s in decision.explanation if not s.startswith("Your mix measures")]
    return AlbumPlan(
        params=tuple(params),
        target_lufs=target_lufs + gain_offset_db,
        album_lufs=loudness_in,
        album_gain_db=gain_db,
        track_targets_lufs=tuple(targets),
        explanation=(*album, *notes, *rules),
        gain_offset_db=gain_offset_db,
        extra_limiting_db=extra_limiting_db,
    )


def album_next_round(plan: AlbumPlan, output_lufs: Sequence[float]) -> dict[str, float] | None:
    """What to master again with, after a round whose tracks measured ``output_lufs``.

    ``None`` when every track reached its target (within :data:`SHORTFALL_TOLERANCE_LU`);
    otherwise the keyword arguments of :func:`plan_album` for the next round: first more
    limiting for every track (``extra_limiting_db``, the shortfall plus 1 dB), then a lower
    album gain (``gain_offset_db``).
    """
    shortfall = album_shortfall_db(plan, output_lufs)
    if shortfall == 0.0:
        return None
    if plan.extra_limiting_db == 0.0:
        return {"gain_offset_db": plan.gain_offset_db, "extra_limiting_db": shortfall + 1.0}
    return {
        "gain_offset_db": plan.gain_offset_db - shortfall,
        "extra_limiting_db": plan.extra_limiting_db,
    }


def album_shortfall_db(plan: AlbumPlan, output_lufs: Sequence[float]) -> float:
    """How far the album gain must back off so every track can reach its target (dB, >= 0).

    The largest ``target - output`` over the tracks that follow the album gain, when it exceeds
    :data:`SHORTFALL_TOLERANCE_LU`; else 0.
    """
    worst = 0.0
    for target, lufs in zip(plan.track_targets_lufs, output_lufs, strict=True):
        if target is not None and math.isfinite(lufs):
            worst = max(worst, target - lufs)
    return worst if worst >= SHORTFALL_TOLERANCE_LU else 0.0


@dataclass(frozen=True)
class AlbumCheck:
    """How the mastered album came out.

    Attributes
    ----------
    album_lufs
        The masters' album loudness (gated over all their blocks).
    target_lufs
        What the plan aimed at.
    on_target
        ``album_lufs`` within :data:`ALBUM_TOLERANCE_LU` of ``target_lufs``.
    gains_db
        Per track, output minus input loudness (``None`` for silence).
    relative_spread_lu
        Largest minus smallest gain over the tracks that follow the album gain: how far any two
        tracks moved against each other (0 = relative levels kept exactly).
    relative_kept
        ``relative_spread_lu`` at most :data:`RELATIVE_TOLERANCE_LU`.
    """

    album_lufs: float
    target_lufs: float
    on_target: bool
    gains_db: tuple[float | None, ...]
    relative_spread_lu: float
    relative_kept: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-ready, levels rounded to 0.01 (``None`` for silence)."""

        def r(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else round(v, 2)

        return {
            "album_lufs": r(self.album_lufs),
            "target_lufs": r(self.target_lufs),
            "on_target": self.on_target,
            "gains_db": [r(g) for g in self.gains_db],
            "relative_spread_lu": r(self.relative_spread_lu),
            "relative_kept": self.relative_kept,
        }


def check_album(
    plan: AlbumPlan,
    input_lufs: Sequence[float],
    output_lufs: Sequence[float],
    output_album_lufs: float,
) -> AlbumCheck:
    """Compare the masters with the plan: album loudness and relative levels.

    ``output_album_lufs`` is :func:`mixmaster.loudness.album_loudness_lufs` over the masters'
    gating blocks. Tracks whose loudness an override set are left out of the spread.
    """
    gains: list[float | None] = []
    following: list[float] = []
    for i, (lin, lout) in enumerate(zip(input_lufs, output_lufs, strict=True)):
        if not (math.isfinite(lin) and math.isfinite(lout)):
            gains.append(None)
            continue
        gains.append(lout - lin)
        expected = plan.track_targets_lufs[i]
        if expected is not None and abs(expected - (lin + plan.album_gain_db)) < 0.02:
            following.append(lout - lin)
    spread = max(following) - min(following) if following else 0.0
    on_target = (
        math.isfinite(output_album_lufs)
        and abs(output_album_lufs - plan.target_lufs) <= ALBUM_TOLERANCE_LU
    )
    return AlbumCheck(
        album_lufs=output_album_lufs,
        target_lufs=plan.target_lufs,
        on_target=on_target,
        gains_db=tuple(gains),
        relative_spread_lu=spread,
        relative_kept=spread <= RELATIVE_TOLERANCE_LU,
    )


def master_in_rounds(
    plan_for: Callable[..., AlbumPlan],
    master_all: Callable[[AlbumPlan], Sequence[Result]],
    lufs_of: Callable[[Result], float],
) -> tuple[AlbumPlan, Sequence[Result]]:
    """Plan the album, master every track, and again while a track falls short of its place.

    The loop every caller shares (the CLI's parallel workers, the browser's one-by-one
    session): ``plan_for(**round_args)`` plans (the keyword arguments of :func:`plan_album`
    that :func:`album_next_round` returns, none the first time), ``master_all(plan)`` masters
    every track and ``lufs_of(result)`` reads one master's integrated loudness. At most
    :data:`EXTRA_ROUNDS` further rounds.

    Returns
    -------
    tuple
        The last plan and its results.
    """
    plan = plan_for()
    results = master_all(plan)
    for _ in range(EXTRA_ROUNDS):
        round_args = album_next_round(plan, [lufs_of(r) for r in results])
        if round_args is None:
            break
        plan = plan_for(**round_args)
        results = master_all(plan)
    return plan, results

"""The parameter model: one frozen dataclass per stage, gathered into :class:`MasteringParams`.

This module is the single source of parameter truth. Every field declares its unit, range, label
and meaning in its metadata; from that one declaration we derive

- validation (:func:`params_from_dict`, and every dataclass's ``__post_init__``), raising
  :class:`~mixmaster.errors.ParamError` that names the field, the value and the allowed range;
- :func:`describe`, from which the web page builds its controls;
- :func:`params_json_schema`, the schema Claude answers against.

Every processing stage has an ``amount`` in [0, 1]. How it acts is stated per stage: for filters
and dynamics it scales the stage's effect (gains in dB, gain reduction in dB, width deviation),
which avoids the comb filtering a wet/dry mix of phase-shifted signals would cause; memoryless
stages (saturation) mix wet and dry.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Final, cast

from mixmaster.errors import ParamError

#: Integrated-loudness targets of the delivery platforms (LUFS), see REFERENCE.md.
PLATFORM_TARGETS_LUFS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "spotify": -14.0,
        "youtube": -14.0,
        "tidal": -14.0,
        "amazon": -14.0,
        "apple": -16.0,
        "deezer": -15.0,
        "club": -9.0,
    }
)
STYLES: Final[tuple[str, ...]] = ("balanced", "warm", "bright", "punchy", "gentle")
BIT_DEPTHS: Final[tuple[str, ...]] = ("16", "24", "32f")
DITHERS: Final[tuple[str, ...]] = ("tpdf", "none")

DEFAULT_PLATFORM: Final = "spotify"
DEFAULT_CEILING_DBTP: Final = -1.0
DEFAULT_STYLE: Final = "balanced"
DEFAULT_INTENSITY: Final = 0.5

MIN_TARGET_LUFS: Final = -30.0
MAX_TARGET_LUFS: Final = -5.0
MIN_CEILING_DBTP: Final = -12.0
MAX_CEILING_DBTP: Final = 0.0


def spec(
    default: Any,
    label: str,
    doc: str,
    *,
    unit: str = "",
    min_value: float | None = None,
    max_value: float | None = None,
    step: float | None = None,
    choices: tuple[Any, ...] | None = None,
    expert: bool = False,
    length: int | None = None,
) -> Any:
    """Declare a parameter field: default, label, unit, range or choices, and meaning.

    ``min_value``/``max_value`` are inclusive. ``expert`` fields sit in the page's expert section.
    ``length`` is set for a curve field only (:func:`curve_spec`).
    """
    return field(
        default=default,
        metadata={
            "length": length,
            "label": label,
            "doc": doc,
            "unit": unit,
            "min": min_value,
            "max": max_value,
            "step": step,
            "choices": choices,
            "expert": expert,
        },
    )


def _amount(doc: str) -> Any:
    return spec(1.0, "Amount", doc, unit="", min_value=0.0, max_value=1.0, step=0.01)


CURVE: Final = "tuple[float, ...]"
"""The annotation (as a string) of a curve field: a fixed number of numbers, one per band."""


def curve_spec(
    length: int,
    label: str,
    doc: str,
    *,
    unit: str,
    min_value: float,
    max_value: float,
    step: float,
) -> Any:
    """Declare a curve field: ``length`` numbers (all 0 by default), each within the range."""
    return spec(
        (0.0,) * length,
        label,
        doc,
        unit=unit,
        min_value=min_value,
        max_value=max_value,
        step=step,
        expert=True,
        length=length,
    )


def _check_curve(path: str, value: object, f: dataclasses.Field[Any]) -> None:
    """Raise :class:`ParamError` unless ``value`` is a list of ``length`` numbers in range."""
    length = f.metadata["length"]
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        raise ParamError(
            "bad_type", f"{path} must be a list of {length} numbers; got {value!r:.60}.", field=path
        )
    if len(value) != length:
        raise ParamError(
            "bad_length", f"{path} has {len(value)} values; accepted: exactly {length}.", field=path
        )
    for i, item in enumerate(value):
        _check_number(f"{path}[{i}]", item, f)


def _check_number(path: str, value: object, f: dataclasses.Field[Any]) -> None:
    meta = f.metadata
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError("bad_type", f"{path} must be a number; got {value!r}.", field=path)
    if not math.isfinite(value):
        raise ParamError(
            "not_finite", f"{path} must be a finite number; got {value!r}.", field=path
        )
    lo, hi = meta["min"], meta["max"]
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        unit = f" {meta['unit']}" if meta["unit"] else ""
        raise ParamError(
            "out_of_range",
            f"{path} is {value!r}{unit}; the allowed range is {lo} to {hi}{unit}.",
            field=path,
        )


def _check_value(path: str, value: object, f: dataclasses.Field[Any]) -> None:
    """Raise :class:`ParamError` unless ``value`` suits the field's type and range."""
    meta = f.metadata
    kind = f.type
    if kind == "bool":
        if not isinstance(value, bool):
            raise ParamError(
                "bad_type", f"{path} must be true or false; got {value!r}.", field=path
            )
        return
    if kind == "str":
        if not isinstance(value, str) or value not in meta["choices"]:
            options = ", ".join(repr(c) for c in meta["choices"])
            raise ParamError("bad_choice", f"{path} is {value!r}; accepted: {options}.", field=path)
        return
    if kind == CURVE:
        _check_curve(path, value, f)
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError("bad_type", f"{path} must be a number; got {value!r}.", field=path)
    if kind == "int" and not float(value).is_integer():
        raise ParamError("bad_type", f"{path} must be a whole number; got {value!r}.", field=path)
    if not math.isfinite(value):
        raise ParamError(
            "not_finite", f"{path} must be a finite number; got {value!r}.", field=path
        )
    lo, hi = meta["min"], meta["max"]
    if meta["choices"] is not None and value not in meta["choices"]:
        options = ", ".join(str(c) for c in meta["choices"])
        raise ParamError("bad_choice", f"{path} is {value!r}; accepted: {options}.", field=path)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        unit = f" {meta['unit']}" if meta["unit"] else ""
        raise ParamError(
            "out_of_range",
            f"{path} is {value!r}{unit}; the allowed range is {lo} to {hi}{unit}.",
            field=path,
        )


@dataclass(frozen=True)
class Stage:
    """Base of every stage's parameters: validates all fields on construction."""

    NAME: ClassVar[str] = ""
    LABEL: ClassVar[str] = ""
    COMPUTED: ClassVar[bool] = False
    """A computed stage is set by an analysis (e.g. reference matching), not by a person or
    Claude: it is left out of :func:`params_json_schema`, and recipes without it are complete."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            _check_value(f"{self.NAME}.{f.name}", value, f)
            if f.type == CURVE:
                object.__setattr__(self, f.name, tuple(float(v) for v in value))
            elif f.type == "float" and not isinstance(value, float):
                # JSON's 3 and 3.0 are one value: store floats as floats, so recipes round-trip.
                object.__setattr__(self, f.name, float(value))
            elif f.type == "int" and not isinstance(value, int):
                object.__setattr__(self, f.name, int(value))
        self._check_relations()

    def _check_relations(self) -> None:
        """Cross-field rules; the default has none."""


def _require_order(stage: str, names: tuple[str, ...], values: tuple[float, ...]) -> None:
    for (a, va), (b, vb) in zip(
        zip(names, values, strict=True), zip(names[1:], values[1:], strict=True), strict=False
    ):
        if not va < vb:
            raise ParamError(
                "bad_order",
                f"{stage}.{a} ({va} Hz) must be below {stage}.{b} ({vb} Hz).",
                field=f"{stage}.{b}",
            )


@dataclass(frozen=True)
class HighpassParams(Stage):
    """Subsonic / DC high-pass (Butterworth). ``amount`` blends the filtered and dry signal."""

    NAME: ClassVar[str] = "highpass"
    LABEL: ClassVar[str] = "Subsonic filter"
    amount: float = _amount("How much of the high-passed signal is used (0 = bypass).")
    cutoff_hz: float = spec(
        25.0,
        "Cutoff",
        "Frequency below which rumble and DC are removed.",
        unit="Hz",
        min_value=10.0,
        max_value=80.0,
        step=1.0,
    )


@dataclass(frozen=True)
class EqParams(Stage):
    """Tonal EQ: two shelves, a tilt around 1 kHz, and up to four peaking bands (gain 0 = off).

    ``amount`` scales every gain in dB (0 = flat), so there is no wet/dry comb filtering.
    """

    NAME: ClassVar[str] = "eq"
    LABEL: ClassVar[str] = "EQ"
    amount: float = _amount("Scales every EQ gain (0 = flat, 1 = as set).")
    tilt_db_per_oct: float = spec(
        0.0,
        "Tilt",
        "Spectral tilt around 1 kHz: positive brightens, negative darkens.",
        unit="dB/oct",
        min_value=-3.0,
        max_value=3.0,
        step=0.05,
    )
    low_shelf_hz: float = spec(
        100.0,
        "Low shelf frequency",
        "Corner of the low shelf.",
        unit="Hz",
        min_value=30.0,
        max_value=500.0,
        step=1.0,
        expert=True,
    )
    low_shelf_gain_db: float = spec(
        0.0,
        "Low shelf",
        "Boost or cut of the lows.",
        unit="dB",
        min_value=-12.0,
        max_value=12.0,
        step=0.1,
    )
    high_shelf_hz: float = spec(
        8000.0,
        "High shelf frequency",
        "Corner of the high shelf.",
        unit="Hz",
        min_value=1500.0,
        max_value=18000.0,
        step=10.0,
        expert=True,
    )
    high_shelf_gain_db: float = spec(
        0.0,
        "High shelf",
        "Boost or cut of the highs.",
        unit="dB",
        min_value=-12.0,
        max_value=12.0,
        step=0.1,
    )
    peak1_hz: float = spec(
        80.0,
        "Band 1 frequency",
        "Centre of peaking band 1.",
        unit="Hz",
        min_value=20.0,
        max_value=20000.0,
        step=1.0,
        expert=True,
    )
    peak1_gain_db: float = spec(
        0.0,
        "Band 1 gain",
        "Gain of peaking band 1 (0 = off).",
        unit="dB",
        min_value=-12.0,
        max_value=12.0,
        step=0.1,
        expert=True,
    )
    peak1_q: float = spec(
        1.0,
        "Band 1 Q",
        "Bandwidth of peaking band 1 (higher = narrower).",
        unit="",
        min_value=0.3,
        max_value=8.0,
        step=0.05,
        expert=True,
    )
    peak2_hz: float = spec(
        300.0,
        "Band 2 frequency",
        "Centre of peaking band 2.",
        unit="Hz",
        min_value=20.0,
        max_value=20000.0,
        step=1.0,
        expert=True,
    )
    peak2_gain_db: float = spec(
        0.0,
        "Band 2 gain",
        "Gain of peaking band 2 (0 = off).",
        unit="dB",
        min_value=-12.0,
        max_value=12.0,
        step=0.1,
        expert=True,
    )
    peak2_q: float = spec(
        1.0,
        "Band 2 Q",
        "Bandwidth of peaking band 2 (higher = narrower).",
        unit="",
        min_value=0.3,
        max_value=8.0,
        step=0.05,
        expert=True,
    )
    peak3_hz: float = spec(
        2500.0,
        "Band 3 frequency",
        "Centre of peaking band 3.",
        unit="Hz",
        min_value=20.0,
        max_value=20000.0,
        step=1.0,
        expert=True,
    )
    peak3_gain_db: float = spec(
        0.0,
        "Band 3 gain",
        "Gain of peaking band 3 (0 = off).",
        unit="dB",
        min_value=-12.0,
        max_value=12.0,
        step=0.1,
        expert=True,
    )
    peak3_q: float = spec(
        1.0,
        "Band 3 Q",
        "Bandwidth of peaking band 3 (higher = narrower).",
        unit="",
        min_value=0.3,
        max_value=8.0,
        step=0.05,
        expert=True,
    )
    peak4_hz: float = spec(
        6000.0,
        "Band 4 frequency",
        "Centre of peaking band 4.",
        unit="Hz",
        min_value=20.0,
        max_value=20000.0,
        step=1.0,
        expert=True,
    )
    peak4_gain_db: float = spec(
        0.0,
        "Band 4 gain",
        "Gain of peaking band 4 (0 = off).",
        unit="dB",
        min_value=-12.0,
        max_value=12.0,
        step=0.1,
        expert=True,
    )
    peak4_q: float = spec(
        1.0,
        "Band 4 Q",
        "Bandwidth of peaking band 4 (higher = narrower).",
        unit="",
        min_value=0.3,
        max_value=8.0,
        step=0.05,
        expert=True,
    )

    def _check_relations(self) -> None:
        _require_order(
            self.NAME, ("low_shelf_hz", "high_shelf_hz"), (self.low_shelf_hz, self.high_shelf_hz)
        )


MATCH_BAND_CENTRES_HZ: Final[tuple[float, ...]] = tuple(
    1000.0 * 2.0 ** (n / 3.0) for n in range(-17, 14)
)
"""Exact base-2 ⅓-octave centres (IEC 61260-1), 20 Hz ... 20 kHz: the bands of the feature JSON's
``third_octave_db`` and of the reference-match curves."""

MAX_MATCH_DB: Final = 18.0
"""Largest boost or cut a reference-match curve may hold at any band."""


def _match_curve(which: str) -> Any:
    return curve_spec(
        len(MATCH_BAND_CENTRES_HZ),
        f"{which.capitalize()} match curve",
        f"Gain of the {which} signal at each ⅓-octave centre, 20 Hz to 20 kHz (smoothed, "
        "interpolated between centres).",
        unit="dB",
        min_value=-MAX_MATCH_DB,
        max_value=MAX_MATCH_DB,
        step=0.01,
    )


@dataclass(frozen=True)
class MatchParams(Stage):
    """Reference-match EQ: a smoothed ⅓-octave gain curve for the mid and one for the side.

    Computed from the feature JSONs of the mix and a reference (:mod:`mixmaster.reference`),
    not chosen by hand or by Claude. ``amount`` scales both curves in dB (0 = flat). Mono
    input gets the mid curve; so does every channel of input with more than two channels.
    """

    NAME: ClassVar[str] = "match"
    LABEL: ClassVar[str] = "Reference match"
    COMPUTED: ClassVar[bool] = True
    amount: float = _amount("Scales both match curves (0 = flat, 1 = as computed).")
    mid_db: tuple[float, ...] = _match_curve("mid")
    side_db: tuple[float, ...] = _match_curve("side")

    @property
    def active(self) -> bool:
        """Whether the stage changes anything (a non-zero amount and a non-zero curve)."""
        return self.amount > 0.0 and any(v != 0.0 for v in (*self.mid_db, *self.side_db))


_BAND_WHERE: Final[Mapping[int, str]] = MappingProxyType(
    {
        1: "low",
        2: "low-mid (mid with 3 bands)",
        3: "high-mid (high with 3 bands)",
        4: "high (4 bands only)",
    }
)


def _threshold(n: int, default_db: float) -> Any:
    return spec(
        default_db,
        f"Band {n} threshold",
        f"Level above which the {_BAND_WHERE[n]} band is compressed.",
        unit="dBFS",
        min_value=-60.0,
        max_value=0.0,
        step=0.5,
        expert=True,
    )


def _ratio(n: int, default: float) -> Any:
    return spec(
        default,
        f"Band {n} ratio",
        f"Compression ratio of the {_BAND_WHERE[n]} band.",
        unit=":1",
        min_value=1.0,
        max_value=20.0,
        step=0.1,
        expert=True,
    )


def _attack(n: int, default_ms: float) -> Any:
    return spec(
        default_ms,
        f"Band {n} attack",
        f"How fast the {_BAND_WHERE[n]} band's compressor reacts.",
        unit="ms",
        min_value=0.1,
        max_value=200.0,
        step=0.1,
        expert=True,
    )


def _release(n: int, default_ms: float) -> Any:
    return spec(
        default_ms,
        f"Band {n} release",
        f"How fast the {_BAND_WHERE[n]} band's compressor recovers.",
        unit="ms",
        min_value=5.0,
        max_value=2000.0,
        step=1.0,
        expert=True,
    )


def _makeup(n: int) -> Any:
    return spec(
        0.0,
        f"Band {n} makeup",
        f"Gain added back to the {_BAND_WHERE[n]} band.",
        unit="dB",
        min_value=-12.0,
        max_value=12.0,
        step=0.1,
        expert=True,
    )


@dataclass(frozen=True)
class CompressorParams(Stage):
    """Multiband compressor on Linkwitz-Riley (LR4) crossovers, 3 or 4 bands.

    With 3 bands the crossovers are ``crossover_low_hz`` and ``crossover_high_hz`` and band 4 is
    unused; with 4 bands ``crossover_mid_hz`` splits the middle. ``amount`` scales each band's
    gain reduction and makeup in dB (0 = bypass).
    """

    NAME: ClassVar[str] = "compressor"
    LABEL: ClassVar[str] = "Multiband compressor"
    amount: float = _amount("Scales the compression (0 = none, 1 = as set).")
    bands: int = spec(
        3,
        "Bands",
        "Number of bands.",
        unit="",
        min_value=3,
        max_value=4,
        step=1,
        choices=(3, 4),
        expert=True,
    )
    crossover_low_hz: float = spec(
        120.0,
        "Low crossover",
        "Split between the low band and the next.",
        unit="Hz",
        min_value=40.0,
        max_value=500.0,
        step=1.0,
        expert=True,
    )
    crossover_mid_hz: float = spec(
        1000.0,
        "Mid crossover",
        "Split between the two middle bands (4 bands only).",
        unit="Hz",
        min_value=200.0,
        max_value=5000.0,
        step=10.0,
        expert=True,
    )
    crossover_high_hz: float = spec(
        5000.0,
        "High crossover",
        "Split between the high band and the one below.",
        unit="Hz",
        min_value=1000.0,
        max_value=16000.0,
        step=10.0,
        expert=True,
    )
    knee_db: float = spec(
        6.0,
        "Knee",
        "Width of the soft knee around each threshold.",
        unit="dB",
        min_value=0.0,
        max_value=24.0,
        step=0.5,
        expert=True,
    )
    band1_threshold_db: float = _threshold(1, -18.0)
    band1_ratio: float = _ratio(1, 2.0)
    band1_attack_ms: float = _attack(1, 30.0)
    band1_release_ms: float = _release(1, 250.0)
    band1_makeup_db: float = _makeup(1)
    band2_threshold_db: float = _threshold(2, -18.0)
    band2_ratio: float = _ratio(2, 2.0)
    band2_attack_ms: float = _attack(2, 15.0)
    band2_release_ms: float = _release(2, 150.0)
    band2_makeup_db: float = _makeup(2)
    band3_threshold_db: float = _threshold(3, -18.0)
    band3_ratio: float = _ratio(3, 2.0)
    band3_attack_ms: float = _attack(3, 5.0)
    band3_release_ms: float = _release(3, 100.0)
    band3_makeup_db: float = _makeup(3)
    band4_threshold_db: float = _threshold(4, -18.0)
    band4_ratio: float = _ratio(4, 2.0)
    band4_attack_ms: float = _attack(4, 3.0)
    band4_release_ms: float = _release(4, 80.0)
    band4_makeup_db: float = _makeup(4)

    def _check_relations(self) -> None:
        if self.bands == 4:
            _require_order(
                self.NAME,
                ("crossover_low_hz", "crossover_mid_hz", "crossover_high_hz"),
                (self.crossover_low_hz, self.crossover_mid_hz, self.crossover_high_hz),
            )
        else:
            _require_order(
                self.NAME,
                ("crossover_low_hz", "crossover_high_hz"),
                (self.crossover_low_hz, self.crossover_high_hz),
            )

    def band(self, n: int) -> tuple[float, float, float, float, float]:
        """Band ``n`` (1-based) as ``(threshold_db, ratio, attack_ms, release_ms, makeup_db)``."""
        return (
            float(getattr(self, f"band{n}_threshold_db")),
            float(getattr(self, f"band{n}_ratio")),
            float(getattr(self, f"band{n}_attack_ms")),
            float(getattr(self, f"band{n}_release_ms")),
            float(getattr(self, f"band{n}_makeup_db")),
        )

    def crossovers_hz(self) -> tuple[float, ...]:
        """The active crossover frequencies, ascending (2 for 3 bands, 3 for 4 bands)."""
        if self.bands == 4:
            return (self.crossover_low_hz, self.crossover_mid_hz, self.crossover_high_hz)
        return (self.crossover_low_hz, self.crossover_high_hz)


@dataclass(frozen=True)
class StereoParams(Stage):
    """Stereo width per band (mid/side), and mono below a set frequency.

    Width is the side gain relative to mid: 0 = mono, 1 = unchanged, 2 = twice as wide.
    ``amount`` pulls every width toward 1 and the mono frequency toward off (0 = bypass).
    Mono and multichannel input (other than stereo) pass through unchanged.
    """

    NAME: ClassVar[str] = "stereo"
    LABEL: ClassVar[str] = "Stereo image"
    amount: float = _amount("Scales the stereo changes (0 = none, 1 = as set).")
    low_width: float = spec(
        1.0,
        "Low width",
        "Width of the lows (0 = mono, 1 = unchanged, 2 = doubled).",
        unit="×",
        min_value=0.0,
        max_value=2.0,
        step=0.01,
    )
    mid_width: float = spec(
        1.0,
        "Mid width",
        "Width of the mids.",
        unit="×",
        min_value=0.0,
        max_value=2.0,
        step=0.01,
    )
    high_width: float = spec(
        1.0,
        "High width",
        "Width of the highs.",
        unit="×",
        min_value=0.0,
        max_value=2.0,
        step=0.01,
    )
    crossover_low_hz: float = spec(
        250.0,
        "Low/mid split",
        "Where the low width band ends.",
        unit="Hz",
        min_value=60.0,
        max_value=1000.0,
        step=1.0,
        expert=True,
    )
    crossover_high_hz: float = spec(
        4000.0,
        "Mid/high split",
        "Where the high width band starts.",
        unit="Hz",
        min_value=1500.0,
        max_value=12000.0,
        step=10.0,
        expert=True,
    )
    mono_below_hz: float = spec(
        0.0,
        "Mono bass below",
        "Below this frequency the signal is made mono (0 = off).",
        unit="Hz",
        min_value=0.0,
        max_value=300.0,
        step=1.0,
    )

    def _check_relations(self) -> None:
        _require_order(
            self.NAME,
            ("crossover_low_hz", "crossover_high_hz"),
            (self.crossover_low_hz, self.crossover_high_hz),
        )


@dataclass(frozen=True)
class SaturationParams(Stage):
    """Soft saturation (memoryless, oversampled). ``amount`` mixes wet and dry."""

    NAME: ClassVar[str] = "saturation"
    LABEL: ClassVar[str] = "Saturation"
    amount: float = _amount("Wet/dry mix of the saturated signal.")
    drive_db: float = spec(
        0.0,
        "Drive",
        "How hard the signal is driven into the saturator (0 = off).",
        unit="dB",
        min_value=0.0,
        max_value=18.0,
        step=0.1,
    )


@dataclass(frozen=True)
class LoudnessParams(Stage):
    """Loudness targeting: the gain that brings integrated loudness to ``target_lufs``.

    ``amount`` scales that gain in dB (0 = keep the level as it comes). The gain is capped so that
    the limiter never needs more than ``limiter.max_reduction_db`` (times its amount).
    """

    NAME: ClassVar[str] = "loudness"
    LABEL: ClassVar[str] = "Loudness"
    amount: float = _amount("How much of the gain toward the target is applied.")
    target_lufs: float = spec(
        -14.0,
        "Target loudness",
        "Integrated loudness of the master (BS.1770).",
        unit="LUFS",
        min_value=MIN_TARGET_LUFS,
        max_value=MAX_TARGET_LUFS,
        step=0.1,
    )


@dataclass(frozen=True)
class LimiterParams(Stage):
    """True-peak lookahead limiter. The ceiling always holds, whatever the other settings.

    ``amount`` is the share of ``max_reduction_db`` the loudness stage may drive into the
    limiter: 0 catches peaks only; 1 allows the full depth.
    """

    NAME: ClassVar[str] = "limiter"
    LABEL: ClassVar[str] = "Limiter"
    amount: float = _amount("Share of the limiting depth that may be used to reach the target.")
    ceiling_dbtp: float = spec(
        DEFAULT_CEILING_DBTP,
        "Ceiling",
        "The master's true peak never exceeds this.",
        unit="dBTP",
        min_value=MIN_CEILING_DBTP,
        max_value=MAX_CEILING_DBTP,
        step=0.1,
    )
    max_reduction_db: float = spec(
        6.0,
        "Max limiting",
        "Most gain reduction used to reach the target; beyond it the "
        "master stays quieter rather than being crushed.",
        unit="dB",
        min_value=0.0,
        max_value=12.0,
        step=0.1,
        expert=True,
    )
    release_ms: float = spec(
        120.0,
        "Release",
        "How fast the limiter recovers.",
        unit="ms",
        min_value=10.0,
        max_value=1000.0,
        step=1.0,
        expert=True,
    )
    lookahead_ms: float = spec(
        5.0,
        "Lookahead",
        "How far ahead the limiter sees peaks coming.",
        unit="ms",
        min_value=1.0,
        max_value=10.0,
        step=0.1,
        expert=True,
    )


@dataclass(frozen=True)
class OutputParams(Stage):
    """Output format: bit depth, TPDF dither and optional noise shaping (16-bit only)."""

    NAME: ClassVar[str] = "output"
    LABEL: ClassVar[str] = "Output"
    bits: str = spec(
        "24",
        "Bit depth",
        "Sample format of the master.",
        choices=BIT_DEPTHS,
    )
    dither: str = spec(
        "tpdf",
        "Dither",
        "TPDF dither when reducing to 16 or 24 bits.",
        choices=DITHERS,
        expert=True,
    )
    noise_shaping: bool = spec(
        False,
        "Noise shaping",
        "Shape the dither noise away from the ear's most sensitive range (16-bit only).",
        expert=True,
    )
    dither_seed: int = spec(
        0,
        "Dither seed",
        "Seed of the dither noise, so that a recipe reproduces bit for bit.",
        unit="",
        min_value=0,
        max_value=2**31 - 1,
        step=1,
        expert=True,
    )

    def _check_relations(self) -> None:
        if self.noise_shaping and self.bits != "16":
            raise ParamError(
                "noise_shaping_16_bit_only",
                f"output.noise_shaping applies to 16-bit output only; bits is {self.bits!r}.",
                field="output.noise_shaping",
            )


STAGES: Final[tuple[type[Stage], ...]] = (
    HighpassParams,
    EqParams,
    MatchParams,
    CompressorParams,
    StereoParams,
    SaturationParams,
    LoudnessParams,
    LimiterParams,
    OutputParams,
)


@dataclass(frozen=True)
class MasteringParams:
    """Every stage's parameters, in signal-path order."""

    highpass: HighpassParams = field(default_factory=HighpassParams)
    eq: EqParams = field(default_factory=EqParams)
    match: MatchParams = field(default_factory=MatchParams)
    compressor: CompressorParams = field(default_factory=CompressorParams)
    stereo: StereoParams = field(default_factory=StereoParams)
    saturation: SaturationParams = field(default_factory=SaturationParams)
    loudness: LoudnessParams = field(default_factory=LoudnessParams)
    limiter: LimiterParams = field(default_factory=LimiterParams)
    output: OutputParams = field(default_factory=OutputParams)


@dataclass(frozen=True)
class Intent:
    """What the musician asked for: a platform or a custom target, a ceiling, a style, intensity.

    ``platform`` is ``None`` for a custom ``target_lufs``.
    """

    platform: str | None = DEFAULT_PLATFORM
    target_lufs: float = PLATFORM_TARGETS_LUFS[DEFAULT_PLATFORM]
    ceiling_dbtp: float = DEFAULT_CEILING_DBTP
    style: str = DEFAULT_STYLE
    intensity: float = DEFAULT_INTENSITY


INTENT_FIELDS: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "platform": {
            "label": "Platform",
            "unit": "",
            "choices": tuple(PLATFORM_TARGETS_LUFS),
            "doc": "Delivery platform; sets the target loudness.",
        },
        "target_lufs": {
            "label": "Target loudness",
            "unit": "LUFS",
            "min": MIN_TARGET_LUFS,
            "max": MAX_TARGET_LUFS,
            "step": 0.1,
            "doc": "Custom integrated loudness target.",
        },
        "ceiling_dbtp": {
            "label": "Ceiling",
            "unit": "dBTP",
            "min": MIN_CEILING_DBTP,
            "max": MAX_CEILING_DBTP,
            "step": 0.1,
            "doc": "True-peak ceiling of the master.",
        },
        "style": {
            "label": "Style",
            "unit": "",
            "choices": STYLES,
            "doc": "Tonal and dynamic character of the master.",
        },
        "intensity": {
            "label": "Intensity",
            "unit": "",
            "min": 0.0,
            "max": 1.0,
            "step": 0.01,
            "doc": "How strongly the chain processes (0 = subtle, 1 = strong).",
        },
    }
)


def _number(path: str, value: object, lo: float, hi: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamError("bad_type", f"{path} must be a number; got {value!r}.", field=path)
    if not math.isfinite(value):
        raise ParamError(
            "not_finite", f"{path} must be a finite number; got {value!r}.", field=path
        )
    if not lo <= value <= hi:
        raise ParamError(
            "out_of_range",
            f"{path} is {value!r} {unit}; the allowed range is {lo} to {hi} {unit}.",
            field=path,
        )
    return float(value)


def _choice(path: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ParamError(
            "bad_choice",
            f"{path} is {value!r}; accepted: {', '.join(choices)}.",
            field=path,
        )
    return value


def intent_from_dict(d: Mapping[str, object]) -> Intent:
    """Build an :class:`Intent` from a JSON object; every key is optional.

    ``platform`` sets the target; an explicit ``target_lufs`` wins over it (and makes the
    platform ``None`` if the two disagree). Defaults: spotify, -1 dBTP, balanced, 0.5.

    Raises
    ------
    ParamError
        For an unknown key, a wrong type, a value out of range or an unknown choice; ``field``
        names the key as ``intent.<key>``.
    """
    if not isinstance(d, Mapping):
        raise ParamError("bad_type", "intent must be a JSON object.", field="intent")
    for key in d:
        if key not in INTENT_FIELDS:
            raise ParamError(
                "unknown_field",
                f"intent.{key} is not a known field; accepted: {', '.join(INTENT_FIELDS)}.",
                field=f"intent.{key}",
            )
    platform: str | None = DEFAULT_PLATFORM
    if d.get("platform") is not None:
        platform = _choice("intent.platform", d["platform"], tuple(PLATFORM_TARGETS_LUFS))
    target = PLATFORM_TARGETS_LUFS[platform] if platform else PLATFORM_TARGETS_LUFS["spotify"]
    if d.get("target_lufs") is not None:
        target = _number(
            "intent.target_lufs", d["target_lufs"], MIN_TARGET_LUFS, MAX_TARGET_LUFS, "LUFS"
        )
        if (
            "platform" not in d
            or d.get("platform") is None
            or (platform is not None and PLATFORM_TARGETS_LUFS[platform] != target)
        ):
            platform = None
    ceiling = DEFAULT_CEILING_DBTP
    if d.get("ceiling_dbtp") is not None:
        ceiling = _number(
            "intent.ceiling_dbtp", d["ceiling_dbtp"], MIN_CEILING_DBTP, MAX_CEILING_DBTP, "dBTP"
        )
    style = DEFAULT_STYLE
    if d.get("style") is not None:
        style = _choice("intent.style", d["style"], STYLES)
    intensity = DEFAULT_INTENSITY
    if d.get("intensity") is not None:
        intensity = _number("intent.intensity", d["intensity"], 0.0, 1.0, "")
    return Intent(platform, target, ceiling, style, intensity)


def intent_to_dict(intent: Intent) -> dict[str, object]:
    """The JSON form of an :class:`Intent` (the inverse of :func:`intent_from_dict`)."""
    return dataclasses.asdict(intent)


_MATCH_ASPECT_DOCS: Final = (
    (
        "spectrum",
        "Tone",
        "How closely the tonal balance follows the reference (smoothed, mid and side).",
    ),
    (
        "loudness",
        "Loudness",
        "How far the target loudness moves from the intent's toward the reference's.",
    ),
    (
        "width",
        "Width",
        "How closely the stereo width (side to mid, per band) follows the reference.",
    ),
    (
        "dynamics",
        "Dynamics",
        "How far compression and limiting move the crest factor toward the reference.",
    ),
)
MATCH_ASPECTS: Final[Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        name: MappingProxyType(
            {
                "label": label,
                "doc": doc,
                "unit": "",
                "min": 0.0,
                "max": 1.0,
                "step": 0.01,
                "default": 1.0,
            }
        )
        for name, label, doc in _MATCH_ASPECT_DOCS
    }
)
"""The aspects of a reference that can be matched, each with an amount from 0 to 1."""


@dataclass(frozen=True)
class MatchAmounts:
    """How much of each aspect of a reference to match: 0 = the rules decide it as without a
    reference, 1 = match the reference fully (see :func:`mixmaster.reference.decide_reference`).
    """

    spectrum: float = 1.0
    loudness: float = 1.0
    width: float = 1.0
    dynamics: float = 1.0


def match_amounts_from_dict(d: Mapping[str, object]) -> MatchAmounts:
    """Build :class:`MatchAmounts` from ``{aspect: amount}``; missing aspects are 1.

    Raises
    ------
    ParamError
        ``unknown_field``, ``bad_type``, ``not_finite`` or ``out_of_range``, with ``field``
        ``match_amounts.<aspect>``.
    """
    if not isinstance(d, Mapping):
        raise ParamError("bad_type", "match_amounts must be a JSON object.", field="match_amounts")
    values: dict[str, float] = {}
    for key, value in d.items():
        if key not in MATCH_ASPECTS:
            raise ParamError(
                "unknown_field",
                f"match_amounts.{key} is not a known aspect; accepted: {', '.join(MATCH_ASPECTS)}.",
                field=f"match_amounts.{key}",
            )
        values[key] = _number(f"match_amounts.{key}", value, 0.0, 1.0, "")
    return MatchAmounts(**values)


def match_amounts_to_dict(amounts: MatchAmounts) -> dict[str, float]:
    """The JSON form of :class:`MatchAmounts` (the inverse of :func:`match_amounts_from_dict`)."""
    return dataclasses.asdict(amounts)


def _clamped(value: object, f: dataclasses.Field[Any]) -> object:
    """Clamp a finite number into the field's range; anything else is returned unchanged."""
    lo, hi = f.metadata["min"], f.metadata["max"]
    if f.type == CURVE and isinstance(value, list | tuple):
        return [_clamped(v, f) if not isinstance(v, list | tuple) else v for v in value]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return value
    if f.type == "int":
        value = round(value)
        if f.metadata["choices"] is not None:
            return min(f.metadata["choices"], key=lambda c: abs(c - value))
    if lo is not None and value < lo:
        return type(value)(lo)
    if hi is not None and value > hi:
        return type(value)(hi)
    return value


def params_from_dict(
    d: Mapping[str, object],
    *,
    clamp: bool = False,
    base: MasteringParams | None = None,
) -> MasteringParams:
    """Build :class:`MasteringParams` from a nested JSON object ``{stage: {field: value}}``.

    Stages and fields that are missing come from ``base`` (default: the defaults).

    Parameters
    ----------
    d
        The nested object, e.g. ``{"eq": {"tilt_db_per_oct": 0.5}}``.
    clamp
        Clamp out-of-range numbers into range instead of raising (used for Claude's answer).
        Unknown keys, wrong types and non-finite numbers raise even then.
    base
        Where missing values come from.

    Raises
    ------
    ParamError
        ``unknown_field``, ``bad_type``, ``not_finite``, ``bad_choice``, ``out_of_range`` or
        ``bad_order``, with ``field`` as ``"stage.field"``.
    """
    if not isinstance(d, Mapping):
        raise ParamError("bad_type", "params must be a JSON object.", field="params")
    base = base or MasteringParams()
    known = {s.NAME: s for s in STAGES}
    stages: dict[str, Stage] = {}
    for name, cls in known.items():
        current: Stage = getattr(base, name)
        given = d.get(name)
        if given is None:
            stages[name] = current
            continue
        if not isinstance(given, Mapping):
            raise ParamError("bad_type", f"{name} must be a JSON object.", field=name)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = dataclasses.asdict(current)
        for key, value in given.items():
            if key not in fields:
                raise ParamError(
                    "unknown_field",
                    f"{name}.{key} is not a known field; accepted: {', '.join(fields)}.",
                    field=f"{name}.{key}",
                )
            values[key] = _clamped(value, fields[key]) if clamp else value
        if clamp and "bits" in values and values["bits"] != "16":
            values["noise_shaping"] = False
        stages[name] = cls(**values)
    for name in d:
        if name not in known:
            raise ParamError(
                "unknown_field",
                f"{name} is not a known stage; accepted: {', '.join(known)}.",
                field=str(name),
            )
    return MasteringParams(**stages)  # type: ignore[arg-type]


def params_to_dict(p: MasteringParams) -> dict[str, dict[str, Any]]:
    """The nested JSON form of ``p`` (the inverse of :func:`params_from_dict`); curves as lists."""
    return {
        s.NAME: {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(getattr(p, s.NAME)).items()
        }
        for s in STAGES
    }


def with_changes(p: MasteringParams, **stages: Mapping[str, object]) -> MasteringParams:
    """A copy of ``p`` with some fields of some stages changed, validated.

    Example: ``with_changes(p, eq={"tilt_db_per_oct": 0.5})``.
    """
    return params_from_dict(stages, base=p)


_TYPE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {"float": "number", "int": "integer", "str": "string", "bool": "boolean", CURVE: "array"}
)


def _field_description(f: dataclasses.Field[Any]) -> dict[str, Any]:
    meta = f.metadata
    out = {
        "name": f.name,
        "label": meta["label"],
        "doc": meta["doc"],
        "unit": meta["unit"],
        "type": _TYPE_NAMES[str(f.type)],
        "default": list(cast("tuple[float, ...]", f.default)) if f.type == CURVE else f.default,
        "min": meta["min"],
        "max": meta["max"],
        "step": meta["step"],
        "choices": list(meta["choices"]) if meta["choices"] is not None else None,
        "expert": meta["expert"],
    }
    if f.type == CURVE:  # min, max and step apply to each value
        out["length"] = meta["length"]
    return out


def describe() -> dict[str, Any]:
    """Describe every parameter for the UI: label, unit, default, range, step, choices, expert.

    The page builds its controls from this; there is no second copy of the list in JavaScript.
    A ``computed`` stage (the reference match) is set from analyses, not by a control; its
    curve fields are arrays (``type`` ``"array"``, ``length`` values, ``min``/``max`` each) over
    ``match_band_centres_hz``. ``match_amounts`` describes the reference-matching aspects.
    """
    return {
        "stages": [
            {
                "name": s.NAME,
                "label": s.LABEL,
                "doc": (s.__doc__ or "").strip().split("\n")[0],
                "computed": s.COMPUTED,
                "fields": [_field_description(f) for f in dataclasses.fields(s)],
            }
            for s in STAGES
        ],
        "intent": {name: dict(meta) | {"name": name} for name, meta in INTENT_FIELDS.items()},
        "match_amounts": {
            name: dict(meta) | {"name": name} for name, meta in MATCH_ASPECTS.items()
        },
        "match_band_centres_hz": [round(f_hz, 2) for f_hz in MATCH_BAND_CENTRES_HZ],
        "platforms": dict(PLATFORM_TARGETS_LUFS),
        "styles": list(STYLES),
    }


def _field_schema(f: dataclasses.Field[Any]) -> dict[str, Any]:
    meta = f.metadata
    unit = f" Unit: {meta['unit']}." if meta["unit"] else ""
    out: dict[str, Any] = {"description": f"{meta['label']}: {meta['doc']}{unit}"}
    if f.type == "bool":
        out["type"] = "boolean"
    elif f.type == "str":
        out |= {"type": "string", "enum": list(meta["choices"])}
    else:
        out["type"] = "integer" if f.type == "int" else "number"
        if meta["choices"] is not None:
            out["enum"] = list(meta["choices"])
        else:
            out |= {"minimum": meta["min"], "maximum": meta["max"]}
    return out


def params_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the nested params object, generated from the dataclasses.

    Every stage and field is optional (missing values keep the base decision); no other keys are
    allowed. Computed stages (:attr:`Stage.COMPUTED`, the reference match) are left out: they
    come from analyses, so Claude does not set them.
    """
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            s.NAME: {
                "type": "object",
                "description": (s.__doc__ or "").strip().replace("\n    ", " "),
                "additionalProperties": False,
                "properties": {f.name: _field_schema(f) for f in dataclasses.fields(s)},
            }
            for s in STAGES
            if not s.COMPUTED
        },
    }

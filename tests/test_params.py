"""Tests of ``mixmaster.params``: validation errors, round trips, clamping, describe(), schema."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from typing import Any

import pytest

from mixmaster.errors import ParamError
from mixmaster.params import (
    CURVE,
    MATCH_ASPECTS,
    MATCH_BAND_CENTRES_HZ,
    PLATFORM_TARGETS_LUFS,
    STAGES,
    STYLES,
    Intent,
    MasteringParams,
    MatchAmounts,
    intent_from_dict,
    intent_to_dict,
    match_amounts_from_dict,
    match_amounts_to_dict,
    params_from_dict,
    params_json_schema,
    params_to_dict,
    with_changes,
)

ALL_FIELDS = [(s, f) for s in STAGES for f in dataclasses.fields(s)]
TUNABLE = [s for s in STAGES if not s.COMPUTED]
CURVES = [(s, f) for s, f in ALL_FIELDS if f.type == CURVE]
NUMERIC_FIELDS = [
    (s, f) for s, f in ALL_FIELDS if f.type in ("float", "int") and f.metadata["choices"] is None
]
FIELD_IDS = [f"{s.NAME}.{f.name}" for s, f in ALL_FIELDS]
NUMERIC_IDS = [f"{s.NAME}.{f.name}" for s, f in NUMERIC_FIELDS]


def _validate(value: object, schema: Mapping[str, Any], path: str = "") -> list[str]:
    """Check ``value`` against the subset of JSON Schema that ``params_json_schema`` uses.

    Returns the list of violations (empty when valid): type, enum, minimum/maximum,
    properties and ``additionalProperties: false``.
    """
    problems: list[str] = []
    kind = schema.get("type")
    checks = {
        "object": lambda v: isinstance(v, dict),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
    }
    if kind is not None and not checks[kind](value):
        return [f"{path}: {value!r} is not of type {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and value < schema["minimum"]:  # type: ignore[operator]
        problems.append(f"{path}: {value!r} < {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:  # type: ignore[operator]
        problems.append(f"{path}: {value!r} > {schema['maximum']}")
    if kind == "object":
        assert isinstance(value, dict)
        props = schema.get("properties", {})
        for key, sub in value.items():
            if key not in props:
                if schema.get("additionalProperties") is False:
                    problems.append(f"{path}.{key}: not allowed")
                continue
            problems += _validate(sub, props[key], f"{path}.{key}".lstrip("."))
    return problems


# --- round trips -------------------------------------------------------------------------------


def test_defaults_round_trip_through_json() -> None:
    p = MasteringParams()
    d = json.loads(json.dumps(params_to_dict(p)))
    assert params_from_dict(d) == p


def test_changed_params_round_trip_through_json() -> None:
    p = with_changes(
        MasteringParams(),
        eq={"tilt_db_per_oct": -0.75, "peak2_gain_db": -2.5, "peak2_q": 3.0},
        compressor={"bands": 4, "band3_ratio": 3.5},
        stereo={"mono_below_hz": 120.0},
        output={"bits": "16", "noise_shaping": True, "dither_seed": 1234},
    )
    d = json.loads(json.dumps(params_to_dict(p)))
    q = params_from_dict(d)
    assert q == p
    assert params_to_dict(q) == params_to_dict(p)


def test_params_to_dict_has_every_stage_and_field() -> None:
    d = params_to_dict(MasteringParams())
    assert list(d) == [s.NAME for s in STAGES]
    for s in STAGES:
        assert list(d[s.NAME]) == [f.name for f in dataclasses.fields(s)]


def test_json_whole_numbers_are_stored_with_the_field_type() -> None:
    """JSON's 3 and 3.0 are one value: a float field stores a float, an int field an int."""
    p = params_from_dict({"eq": {"tilt_db_per_oct": 1}, "compressor": {"bands": 4.0}})
    assert isinstance(p.eq.tilt_db_per_oct, float)
    assert p.eq.tilt_db_per_oct == 1.0
    assert isinstance(p.compressor.bands, int)
    assert p.compressor.bands == 4


def test_missing_keys_come_from_base() -> None:
    base = with_changes(MasteringParams(), eq={"tilt_db_per_oct": 1.5}, limiter={"amount": 0.3})
    p = params_from_dict({"eq": {"low_shelf_gain_db": -1.0}}, base=base)
    assert p.eq.tilt_db_per_oct == 1.5
    assert p.eq.low_shelf_gain_db == -1.0
    assert p.limiter == base.limiter
    assert params_from_dict({}, base=base) == base


def test_empty_dict_gives_defaults() -> None:
    assert params_from_dict({}) == MasteringParams()


def test_params_are_frozen() -> None:
    p = MasteringParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.eq.tilt_db_per_oct = 1.0  # type: ignore[misc]


# --- validation errors -------------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "field"), NUMERIC_FIELDS, ids=NUMERIC_IDS)
@pytest.mark.parametrize("side", ["below", "above"])
def test_out_of_range_names_field_value_and_range(
    stage: type, field: dataclasses.Field[Any], side: str
) -> None:
    lo, hi = field.metadata["min"], field.metadata["max"]
    value = lo - 1 if side == "below" else hi + 1
    path = f"{stage.NAME}.{field.name}"  # type: ignore[attr-defined]
    with pytest.raises(ParamError) as err:
        params_from_dict({stage.NAME: {field.name: value}})  # type: ignore[attr-defined]
    assert err.value.code == "out_of_range"
    assert err.value.field == path
    assert path in err.value.message
    assert repr(value) in err.value.message
    assert str(lo) in err.value.message
    assert str(hi) in err.value.message


@pytest.mark.parametrize(("stage", "field"), NUMERIC_FIELDS, ids=NUMERIC_IDS)
@pytest.mark.parametrize("side", ["below", "above"])
def test_clamp_brings_out_of_range_values_to_the_limit(
    stage: type, field: dataclasses.Field[Any], side: str
) -> None:
    lo, hi = field.metadata["min"], field.metadata["max"]
    value = lo - 1000 if side == "below" else hi + 1000
    name: str = stage.NAME  # type: ignore[attr-defined]
    try:
        p = params_from_dict({name: {field.name: value}}, clamp=True)
    except ParamError as exc:
        # Clamping a frequency can break a cross-field order rule: that must say so.
        assert exc.code == "bad_order"
        return
    got = getattr(getattr(p, name), field.name)
    assert got == (lo if side == "below" else hi)


@pytest.mark.parametrize(
    ("d", "code", "field"),
    [
        ({"eqq": {}}, "unknown_field", "eqq"),
        ({"eq": {"tilt": 1.0}}, "unknown_field", "eq.tilt"),
        ({"eq": {"tilt_db_per_oct": "bright"}}, "bad_type", "eq.tilt_db_per_oct"),
        ({"eq": {"tilt_db_per_oct": True}}, "bad_type", "eq.tilt_db_per_oct"),
        ({"eq": {"tilt_db_per_oct": [1.0]}}, "bad_type", "eq.tilt_db_per_oct"),
        ({"eq": {"tilt_db_per_oct": math.nan}}, "not_finite", "eq.tilt_db_per_oct"),
        ({"eq": {"tilt_db_per_oct": math.inf}}, "not_finite", "eq.tilt_db_per_oct"),
        ({"eq": 3}, "bad_type", "eq"),
        ({"compressor": {"bands": 3.5}}, "bad_type", "compressor.bands"),
        ({"compressor": {"bands": 5}}, "bad_choice", "compressor.bands"),
        ({"output": {"bits": "20"}}, "bad_choice", "output.bits"),
        ({"output": {"bits": 24}}, "bad_choice", "output.bits"),
        ({"output": {"noise_shaping": 1}}, "bad_type", "output.noise_shaping"),
        ({"output": {"dither_seed": 1.5}}, "bad_type", "output.dither_seed"),
        ({"eq": {"low_shelf_hz": 400.0, "high_shelf_hz": 1500.0}}, None, None),
        ({"stereo": {"crossover_low_hz": 900.0, "crossover_high_hz": 1500.0}}, None, None),
    ],
)
def test_bad_values_raise_a_typed_error_naming_the_field(
    d: dict[str, Any], code: str | None, field: str | None
) -> None:
    if code is None:  # valid edge cases must pass
        params_from_dict(d)
        return
    with pytest.raises(ParamError) as err:
        params_from_dict(d)
    assert err.value.code == code
    assert err.value.field == field
    assert field.split(".")[-1] in err.value.message


@pytest.mark.parametrize(
    ("d", "field"),
    [
        ({"eq": {"low_shelf_hz": 500.0, "high_shelf_hz": 1500.0}}, None),
        ({"compressor": {"crossover_low_hz": 400.0, "crossover_high_hz": 1000.0}}, None),
        (
            {"compressor": {"bands": 4, "crossover_low_hz": 300.0, "crossover_mid_hz": 250.0}},
            "compressor.crossover_mid_hz",
        ),
        (
            {"compressor": {"bands": 4, "crossover_mid_hz": 4000.0, "crossover_high_hz": 3000.0}},
            "compressor.crossover_high_hz",
        ),
        ({"stereo": {"crossover_low_hz": 1000.0, "crossover_high_hz": 1500.0}}, None),
    ],
)
def test_order_rules(d: dict[str, Any], field: str | None) -> None:
    if field is None:
        params_from_dict(d)
        return
    with pytest.raises(ParamError) as err:
        params_from_dict(d)
    assert err.value.code == "bad_order"
    assert err.value.field == field


@pytest.mark.parametrize(
    ("d", "code"),
    [
        ({"eq": {"tilt": 1.0}}, "unknown_field"),
        ({"nope": {}}, "unknown_field"),
        ({"eq": {"tilt_db_per_oct": "1"}}, "bad_type"),
        ({"eq": {"tilt_db_per_oct": math.nan}}, "not_finite"),
        ({"output": {"bits": "12"}}, "bad_choice"),
    ],
)
def test_clamp_still_rejects_unknown_keys_and_wrong_types(d: dict[str, Any], code: str) -> None:
    with pytest.raises(ParamError) as err:
        params_from_dict(d, clamp=True)
    assert err.value.code == code


def test_clamp_rounds_int_choices_to_the_nearest() -> None:
    assert params_from_dict({"compressor": {"bands": 9}}, clamp=True).compressor.bands == 4
    assert params_from_dict({"compressor": {"bands": 3.4}}, clamp=True).compressor.bands == 3


def test_clamp_drops_noise_shaping_above_16_bits() -> None:
    p = params_from_dict({"output": {"bits": "24", "noise_shaping": True}}, clamp=True)
    assert p.output.noise_shaping is False


def test_non_mapping_params_raise() -> None:
    with pytest.raises(ParamError) as err:
        params_from_dict([1, 2])  # type: ignore[arg-type]
    assert err.value.code == "bad_type"


def test_dataclasses_validate_on_direct_construction() -> None:
    with pytest.raises(ParamError) as err:
        dataclasses.replace(MasteringParams().limiter, ceiling_dbtp=0.5)
    assert err.value.code == "out_of_range"
    assert err.value.field == "limiter.ceiling_dbtp"


def test_error_serialises_for_the_ui() -> None:
    with pytest.raises(ParamError) as err:
        params_from_dict({"limiter": {"ceiling_dbtp": 3.0}})
    d = err.value.to_dict()
    assert d["code"] == "out_of_range"
    assert d["field"] == "limiter.ceiling_dbtp"
    assert "dBTP" in str(d["message"])
    json.dumps(d)


# --- every stage has an amount; defaults are in range -----------------------------------------


@pytest.mark.parametrize("stage", STAGES, ids=[s.NAME for s in STAGES])
def test_every_processing_stage_has_an_amount(stage: type) -> None:
    names = [f.name for f in dataclasses.fields(stage)]
    if stage.NAME == "output":  # type: ignore[attr-defined]
        assert "amount" not in names
    else:
        assert names[0] == "amount"


@pytest.mark.parametrize(("stage", "field"), ALL_FIELDS, ids=FIELD_IDS)
def test_field_metadata_is_complete(stage: type, field: dataclasses.Field[Any]) -> None:
    meta = field.metadata
    assert meta["label"]
    assert meta["doc"].endswith(".")
    assert isinstance(meta["unit"], str)
    if field.type in ("float", "int") and meta["choices"] is None:
        assert meta["min"] < meta["max"]
        assert meta["min"] <= field.default <= meta["max"]
        assert meta["step"] > 0
    if field.type == "str":
        assert field.default in meta["choices"]
    if meta["choices"] is not None:
        assert field.default in meta["choices"]


def test_field_names_carry_units() -> None:
    """House style: a field with a physical unit says it in its name."""
    suffix = {"Hz": "_hz", "dB": "_db", "dBFS": "_db", "ms": "_ms", "LUFS": "_lufs"}
    suffix |= {"dBTP": "_dbtp", "dB/oct": "_db_per_oct"}
    for _, f in ALL_FIELDS:
        unit = f.metadata["unit"]
        if unit in suffix:
            assert f.name.endswith(suffix[unit]), f.name


# --- describe() --------------------------------------------------------------------------------


def test_describe_lists_every_stage_and_field_in_order() -> None:
    d = describe_json()
    assert [s["name"] for s in d["stages"]] == [s.NAME for s in STAGES]
    for desc, stage in zip(d["stages"], STAGES, strict=True):
        assert desc["label"] == stage.LABEL
        assert [f["name"] for f in desc["fields"]] == [f.name for f in dataclasses.fields(stage)]
        for fd, f in zip(desc["fields"], dataclasses.fields(stage), strict=True):
            assert fd["default"] == (list(f.default) if fd["type"] == "array" else f.default)
            assert fd["min"] == f.metadata["min"]
            assert fd["max"] == f.metadata["max"]
            assert fd["step"] == f.metadata["step"]
            assert fd["unit"] == f.metadata["unit"]
            assert fd["label"] == f.metadata["label"]
            assert fd["doc"] == f.metadata["doc"]
            assert isinstance(fd["expert"], bool)
            wanted = None if f.metadata["choices"] is None else list(f.metadata["choices"])
            assert fd["choices"] == wanted


def describe_json() -> dict[str, Any]:
    """describe() through JSON, as the worker hands it to the page."""
    from mixmaster.params import describe

    out: dict[str, Any] = json.loads(json.dumps(describe()))
    return out


def test_describe_intent_platforms_styles() -> None:
    d = describe_json()
    assert d["platforms"] == dict(PLATFORM_TARGETS_LUFS)
    assert d["styles"] == list(STYLES)
    assert set(d["intent"]) == {"platform", "target_lufs", "ceiling_dbtp", "style", "intensity"}
    assert d["intent"]["platform"]["choices"] == list(PLATFORM_TARGETS_LUFS)
    assert d["intent"]["style"]["choices"] == list(STYLES)
    assert d["intent"]["target_lufs"]["unit"] == "LUFS"
    assert d["intent"]["ceiling_dbtp"]["unit"] == "dBTP"
    for meta in d["intent"].values():
        assert meta["label"]
        assert meta["doc"]


def test_platform_targets_match_the_reference() -> None:
    assert dict(PLATFORM_TARGETS_LUFS) == {
        "spotify": -14.0,
        "youtube": -14.0,
        "tidal": -14.0,
        "amazon": -14.0,
        "apple": -16.0,
        "deezer": -15.0,
        "club": -9.0,
    }
    assert STYLES == ("balanced", "warm", "bright", "punchy", "gentle")


# --- JSON schema -------------------------------------------------------------------------------


def test_schema_matches_the_dataclasses() -> None:
    schema = params_json_schema()
    json.dumps(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == [s.NAME for s in TUNABLE]
    for stage in TUNABLE:
        sub = schema["properties"][stage.NAME]
        assert sub["type"] == "object"
        assert sub["additionalProperties"] is False
        assert sub["description"]
        assert list(sub["properties"]) == [f.name for f in dataclasses.fields(stage)]
        for f in dataclasses.fields(stage):
            fs = sub["properties"][f.name]
            want_type = {"float": "number", "int": "integer", "str": "string", "bool": "boolean"}
            assert fs["type"] == want_type[str(f.type)]
            assert f.metadata["label"] in fs["description"]
            if f.metadata["unit"]:
                assert f.metadata["unit"] in fs["description"]
            if f.metadata["choices"] is not None:
                assert fs["enum"] == list(f.metadata["choices"])
            elif f.type in ("float", "int"):
                assert fs["minimum"] == f.metadata["min"]
                assert fs["maximum"] == f.metadata["max"]


def _tunable_dict(p: MasteringParams) -> dict[str, Any]:
    return {k: v for k, v in params_to_dict(p).items() if k in {s.NAME for s in TUNABLE}}


def test_defaults_and_changes_are_valid_under_the_schema() -> None:
    schema = params_json_schema()
    assert _validate(_tunable_dict(MasteringParams()), schema) == []
    p = with_changes(MasteringParams(), eq={"tilt_db_per_oct": 3.0}, output={"bits": "32f"})
    assert _validate(_tunable_dict(p), schema) == []


def test_computed_stages_are_not_offered_to_claude() -> None:
    """The reference match comes from two analyses; Claude's schema does not offer it."""
    assert [s.NAME for s in STAGES if s.COMPUTED] == ["match"]
    assert "match" not in params_json_schema()["properties"]
    assert _validate({"match": {"amount": 1.0}}, params_json_schema()) != []


@pytest.mark.parametrize(
    "d",
    [
        {"eq": {"tilt_db_per_oct": 4.0}},
        {"eq": {"nope": 1.0}},
        {"nope": {}},
        {"output": {"bits": "20"}},
        {"compressor": {"bands": 3.5}},
    ],
)
def test_schema_and_validation_reject_the_same_values(d: dict[str, Any]) -> None:
    assert _validate(d, params_json_schema()) != []
    with pytest.raises(ParamError):
        params_from_dict(d)


# --- intent_from_dict --------------------------------------------------------------------------


def test_intent_defaults() -> None:
    i = intent_from_dict({})
    assert i == Intent()
    assert i.platform == "spotify"
    assert i.target_lufs == -14.0
    assert i.ceiling_dbtp == -1.0
    assert i.style == "balanced"
    assert i.intensity == 0.5


@pytest.mark.parametrize(("platform", "target_lufs"), list(PLATFORM_TARGETS_LUFS.items()))
def test_platform_sets_the_target(platform: str, target_lufs: float) -> None:
    i = intent_from_dict({"platform": platform})
    assert i.platform == platform
    assert i.target_lufs == target_lufs


def test_explicit_target_wins_over_platform() -> None:
    i = intent_from_dict({"platform": "apple", "target_lufs": -11.0})
    assert i.target_lufs == -11.0
    assert i.platform is None
    same = intent_from_dict({"platform": "apple", "target_lufs": -16.0})
    assert same.platform == "apple"
    custom = intent_from_dict({"target_lufs": -12})
    assert custom.platform is None
    assert custom.target_lufs == -12.0
    assert isinstance(custom.target_lufs, float)


def test_intent_round_trips() -> None:
    i = intent_from_dict(
        {"platform": "club", "ceiling_dbtp": -0.3, "style": "punchy", "intensity": 0.9}
    )
    assert intent_from_dict(json.loads(json.dumps(intent_to_dict(i)))) == i


@pytest.mark.parametrize(
    ("d", "code", "field"),
    [
        ({"platform": "myspace"}, "bad_choice", "intent.platform"),
        ({"style": "loud"}, "bad_choice", "intent.style"),
        ({"style": 3}, "bad_choice", "intent.style"),
        ({"target_lufs": -40.0}, "out_of_range", "intent.target_lufs"),
        ({"target_lufs": 0.0}, "out_of_range", "intent.target_lufs"),
        ({"target_lufs": "loud"}, "bad_type", "intent.target_lufs"),
        ({"target_lufs": math.nan}, "not_finite", "intent.target_lufs"),
        ({"ceiling_dbtp": 0.5}, "out_of_range", "intent.ceiling_dbtp"),
        ({"ceiling_dbtp": True}, "bad_type", "intent.ceiling_dbtp"),
        ({"intensity": 1.5}, "out_of_range", "intent.intensity"),
        ({"intensity": -0.1}, "out_of_range", "intent.intensity"),
        ({"volume": 11}, "unknown_field", "intent.volume"),
    ],
)
def test_intent_errors_name_the_field(d: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(ParamError) as err:
        intent_from_dict(d)
    assert err.value.code == code
    assert err.value.field == field
    assert field.split(".")[1] in err.value.message


def test_intent_rejects_non_mapping() -> None:
    with pytest.raises(ParamError) as err:
        intent_from_dict("spotify")  # type: ignore[arg-type]
    assert err.value.code == "bad_type"
    assert err.value.field == "intent"


# --- curve fields (the reference match) --------------------------------------------------------


def test_curve_fields_round_trip_through_json() -> None:
    curve = [round(0.5 * k - 7.0, 2) for k in range(len(MATCH_BAND_CENTRES_HZ))]
    p = with_changes(MasteringParams(), match={"mid_db": curve, "side_db": curve[::-1]})
    assert p.match.mid_db == tuple(curve)
    assert isinstance(p.match.mid_db, tuple)
    q = params_from_dict(json.loads(json.dumps(params_to_dict(p))))
    assert q == p


@pytest.mark.parametrize(("stage", "field"), CURVES, ids=[f"{s.NAME}.{f.name}" for s, f in CURVES])
@pytest.mark.parametrize(
    ("value", "code", "where"),
    [
        ([0.0] * 30, "bad_length", ""),
        ("flat", "bad_type", ""),
        (1.0, "bad_type", ""),
        ([0.0] * 5 + [99.0] + [0.0] * 25, "out_of_range", "[5]"),
        ([0.0] * 30 + [math.nan], "not_finite", "[30]"),
        ([True] + [0.0] * 30, "bad_type", "[0]"),
    ],
)
def test_bad_curves_name_the_field_and_item(
    stage: type, field: dataclasses.Field[Any], value: object, code: str, where: str
) -> None:
    name: str = stage.NAME  # type: ignore[attr-defined]
    with pytest.raises(ParamError) as err:
        params_from_dict({name: {field.name: value}})
    assert err.value.code == code
    assert err.value.field == f"{name}.{field.name}{where}"


def test_clamp_clamps_each_curve_value() -> None:
    curve = [-100.0, 100.0] + [1.5] * 29
    p = params_from_dict({"match": {"mid_db": curve}}, clamp=True)
    hi = dict(dataclasses.fields(type(p.match))[1].metadata)["max"]
    assert p.match.mid_db[:3] == (-hi, hi, 1.5)


def test_describe_gives_curves_as_arrays_and_the_match_aspects() -> None:
    d = describe_json()
    match = next(s for s in d["stages"] if s["name"] == "match")
    assert match["computed"] is True
    assert all(not s["computed"] for s in d["stages"] if s["name"] != "match")
    mid = next(f for f in match["fields"] if f["name"] == "mid_db")
    assert (mid["type"], mid["length"], mid["unit"]) == ("array", 31, "dB")
    assert len(d["match_band_centres_hz"]) == 31
    assert d["match_band_centres_hz"][17] == 1000.0
    assert list(d["match_amounts"]) == ["spectrum", "loudness", "width", "dynamics"]
    for meta in d["match_amounts"].values():
        assert (meta["min"], meta["max"], meta["default"]) == (0.0, 1.0, 1.0)
        assert meta["label"] and meta["doc"].endswith(".")


# --- match amounts -----------------------------------------------------------------------------


def test_match_amounts_default_to_full_and_round_trip() -> None:
    assert match_amounts_from_dict({}) == MatchAmounts(1.0, 1.0, 1.0, 1.0)
    a = match_amounts_from_dict({"width": 0.5, "dynamics": 0})
    assert a == MatchAmounts(spectrum=1.0, loudness=1.0, width=0.5, dynamics=0.0)
    assert match_amounts_from_dict(json.loads(json.dumps(match_amounts_to_dict(a)))) == a
    assert list(match_amounts_to_dict(a)) == list(MATCH_ASPECTS)


@pytest.mark.parametrize(
    ("d", "code", "field"),
    [
        ({"tone": 1.0}, "unknown_field", "match_amounts.tone"),
        ({"width": 1.5}, "out_of_range", "match_amounts.width"),
        ({"width": -0.1}, "out_of_range", "match_amounts.width"),
        ({"spectrum": "all"}, "bad_type", "match_amounts.spectrum"),
        ({"loudness": math.inf}, "not_finite", "match_amounts.loudness"),
    ],
)
def test_match_amount_errors_name_the_aspect(d: dict[str, Any], code: str, field: str) -> None:
    with pytest.raises(ParamError) as err:
        match_amounts_from_dict(d)
    assert (err.value.code, err.value.field) == (code, field)
    assert field.split(".")[1] in err.value.message

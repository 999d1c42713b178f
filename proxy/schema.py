"""Validation of what comes in (decide requests, job reports) and shaping of what goes out.

Requests are checked before anything else happens, reusing the package's own validators
(:func:`mixmaster.analyze.validate_features`, :func:`mixmaster.params.intent_from_dict`): known
keys only, finite numbers in physical ranges, bounded arrays, enums, no free text. Every failure
is an :class:`~mixmaster_proxy.errors.ApiError` with a stable ``code`` and the offending ``field``.
"""

from __future__ import annotations

import html
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from mixmaster.analyze import validate_features
from mixmaster.errors import ParamError
from mixmaster.params import PLATFORM_TARGETS_LUFS, Intent, MasteringParams, intent_from_dict
from mixmaster.params import params_to_dict as _params_to_dict
from mixmaster_proxy.errors import ApiError

#: Longest explanation returned, in characters.
MAX_EXPLANATION_CHARS: Final = 600
#: Deepest nesting of JSON accepted in a request (the features object is shallow).
MAX_JSON_DEPTH: Final = 16
#: Outcomes the page may report for a job.
JOB_OUTCOMES: Final = ("done", "error", "cancelled")
#: Longest job duration accepted, seconds (a day).
MAX_JOB_DURATION_S: Final = 86_400.0
#: Platform label of a job mastered to a custom target (``platform`` null or ``"custom"``).
CUSTOM_PLATFORM: Final = "custom"
JOB_PLATFORMS: Final = (*PLATFORM_TARGETS_LUFS, CUSTOM_PLATFORM)

Source = Literal["claude", "rules"]


@dataclass(frozen=True)
class DecideRequest:
    """A validated ``POST /api/decide`` body."""

    features: Mapping[str, object]
    intent: Intent


@dataclass(frozen=True)
class JobReport:
    """A validated ``POST /api/jobs`` body."""

    outcome: str
    duration_s: float
    platform: str


class _NonFinite:
    """Stands in for a JSON ``NaN``/``Infinity`` literal until its path is known."""

    __slots__ = ("literal",)

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ApiError(
                400,
                "duplicate_key",
                f"The key {key!r} appears twice in one JSON object.",
                field=key,
            )
        out[key] = value
    return out


def _check_tree(value: object) -> None:
    """Reject non-finite numbers and excessive nesting, naming the path (iteratively)."""
    stack: list[tuple[object, str, int]] = [(value, "", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise ApiError(
                400,
                "too_deep",
                f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.",
                field=path or None,
            )
        if isinstance(node, _NonFinite) or (isinstance(node, float) and not math.isfinite(node)):
            shown = node.literal if isinstance(node, _NonFinite) else repr(node)
            raise ApiError(
                422,
                "not_finite",
                f"{path or 'The body'} is {shown}; only finite numbers are accepted.",
                field=path or None,
            )
        if isinstance(node, dict):
            stack.extend((v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node))


def parse_json_object(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be one UTF-8 JSON object.

    Raises
    ------
    ApiError
        400 ``bad_json`` (not UTF-8 JSON), ``duplicate_key``, ``too_deep``, ``bad_type`` (not an
        object); 422 ``not_finite`` for ``NaN``/``Infinity`` literals or overflowing numbers.
    """
    try:
        text = body.decode("utf-8")
        value = json.loads(text, parse_constant=_NonFinite, object_pairs_hook=_reject_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "bad_json", "The request body is not valid UTF-8 JSON.") from None
    if not isinstance(value, dict):
        raise ApiError(400, "bad_type", "The request body must be a JSON object.")
    _check_tree(value)
    return value


def _from_param_error(err: ParamError, prefix: str) -> ApiError:
    field = err.field
    if field is not None and prefix and not field.startswith(f"{prefix}.") and field != prefix:
        field = f"{prefix}.{field}"
    return ApiError(422, err.code, err.message, field=field)


def _check_keys(d: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in d:
        if key not in allowed:
            raise ApiError(
                422,
                "unknown_field",
                f"{where}{key} is not a known field; accepted: {', '.join(allowed)}.",
                field=f"{where}{key}",
            )


def parse_decide_request(body: bytes) -> DecideRequest:
    """Validate a ``POST /api/decide`` body: ``{"features": {...}, "intent": {...}}``.

    ``features`` is required and checked against the shipped features schema; ``intent`` and each
    of its fields are optional.

    Raises
    ------
    ApiError
        400 for malformed JSON, 422 with the validators' codes (``unknown_field``,
        ``missing_field``, ``bad_type``, ``not_finite``, ``out_of_range``, ``bad_choice``...).
    """
    d = parse_json_object(body)
    _check_keys(d, ("features", "intent"), "")
    if "features" not in d:
        raise ApiError(
            422,
            "missing_field",
            "features is required (the analysis of the mix).",
            field="features",
        )
    if not isinstance(d["features"], dict):
        raise ApiError(422, "bad_type", "features must be a JSON object.", field="features")
    intent_raw = d.get("intent", {})
    if not isinstance(intent_raw, dict):
        raise ApiError(422, "bad_type", "intent must be a JSON object.", field="intent")
    try:
        features = validate_features(d["features"])
    except ParamError as err:
        raise _from_param_error(err, "features") from None
    try:
        intent = intent_from_dict(intent_raw)
    except ParamError as err:
        raise _from_param_error(err, "intent") from None
    return DecideRequest(features=features, intent=intent)


def parse_job_report(body: bytes) -> JobReport:
    """Validate a ``POST /api/jobs`` body: ``{"outcome", "duration_s", "platform"}``, nothing else.

    ``platform`` is a platform name, or ``null``/``"custom"`` for a custom target.

    Raises
    ------
    ApiError
        400 for malformed JSON; 422 ``unknown_field``, ``missing_field``, ``bad_choice``,
        ``bad_type``, ``out_of_range``.
    """
    d = parse_json_object(body)
    allowed = ("outcome", "duration_s", "platform")
    _check_keys(d, allowed, "")
    for key in allowed:
        if key not in d:
            raise ApiError(422, "missing_field", f"{key} is required.", field=key)
    outcome, duration_s, platform = d["outcome"], d["duration_s"], d["platform"]
    if not isinstance(outcome, str) or outcome not in JOB_OUTCOMES:
        raise ApiError(
            422,
            "bad_choice",
            f"outcome is {outcome!r}; accepted: {', '.join(JOB_OUTCOMES)}.",
            field="outcome",
        )
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float):
        raise ApiError(
            422, "bad_type", "duration_s must be a number of seconds.", field="duration_s"
        )
    if not 0.0 <= duration_s <= MAX_JOB_DURATION_S:
        raise ApiError(
            422,
            "out_of_range",
            f"duration_s is {duration_s!r} s; the allowed range is 0 to {MAX_JOB_DURATION_S:g} s.",
            field="duration_s",
        )
    if platform is None:
        platform = CUSTOM_PLATFORM
    if not isinstance(platform, str) or platform not in JOB_PLATFORMS:
        raise ApiError(
            422,
            "bad_choice",
            f"platform is {platform!r}; accepted: {', '.join(JOB_PLATFORMS)} or null.",
            field="platform",
        )
    return JobReport(outcome=outcome, duration_s=float(duration_s), platform=platform)


# --- Plain text out --------------------------------------------------------------------------

_CODE_BLOCK = re.compile(r"<(script|style)\b[^>]*>.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^<>]*>|<[^<>]*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(
    r"\b(?:[a-z][a-z0-9+.-]*://|(?:javascript|vbscript|data|file|mailto|tel):|www\.)\S*",
    re.IGNORECASE,
)
_MARKUP_CHARS = re.compile(r"[<>`*~|#\\{}\[\]]")
_SPACE = re.compile(r"\s+")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_SPACE_CATEGORIES = frozenset({"Zl", "Zp", "Zs"})


def plain_text(text: str, max_chars: int = MAX_EXPLANATION_CHARS) -> str:
    """Reduce untrusted text to one line of plain text of at most ``max_chars`` characters.

    Entities are decoded (repeatedly); then control, format (bidi, zero-width), private-use and
    unassigned characters, script and style elements, HTML tags, Markdown links and images,
    URLs (``scheme://``, ``javascript:``, ``data:``...) and markup characters
    (``< > ` * ~ | # \\ { } [ ]``) are removed, and whitespace is collapsed.
    Text longer than ``max_chars`` is cut at a word boundary and ends with an ellipsis.
    """
    for _ in range(3):
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    chars = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\t\n\r" or category in _SPACE_CATEGORIES:
            chars.append(" ")
        elif category not in _DROPPED_CATEGORIES:
            chars.append(ch)
    text = "".join(chars)
    text = _CODE_BLOCK.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _MARKUP_CHARS.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    space = cut.rfind(" ")
    if space >= max_chars // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def decide_response(
    params: MasteringParams, explanation: str, source: Source, reason: str | None
) -> dict[str, Any]:
    """The ``/api/decide`` answer: ``{params, explanation, source, reason}``."""
    return {
        "params": _params_to_dict(params),
        "explanation": plain_text(explanation),
        "source": source,
        "reason": reason,
    }

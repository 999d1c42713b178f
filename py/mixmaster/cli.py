"""The ``mixmaster`` command line: one argparse parser, one subcommand per function.

Subcommands register themselves through :data:`SUBCOMMANDS`: each entry is a function that adds
one subparser and sets ``func`` (``Callable[[argparse.Namespace], int]``) as its default. To add
a subcommand (``master``, ``serve``...), write ``_add_<name>(subparsers)`` and ``_cmd_<name>``
next to ``analyze`` and append the adder to :data:`SUBCOMMANDS`; :func:`main` runs the chosen
command inside the shared error handling.

Exit codes: 0 success; 2 bad input or parameters (one line on stderr naming the problem and
what is accepted; also argparse's usage errors); 1 internal error or out of memory; 130
interrupted. No traceback is printed unless ``MIXMASTER_DEBUG=1``.

Heavy modules (numpy, scipy) are imported inside the commands so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO, cast

from mixmaster import __version__
from mixmaster.errors import CancelledError, InputError, MixmasterError, ParamError

if TYPE_CHECKING:
    from mixmaster.analyze import Analysis
    from mixmaster.decide import Decision
    from mixmaster.params import Intent
    from mixmaster.pipeline import LevelReport, MasterReport
    from mixmaster.wavio import WavBits, WavInfo

PROG = "mixmaster"
EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
DEBUG_ENV = "MIXMASTER_DEBUG"

Command = Callable[[argparse.Namespace], int]
SubparsersAction = Any  # argparse's _SubParsersAction is private; typed loosely on purpose


# --- analyze ------------------------------------------------------------------------------------


def _add_analyze(subparsers: SubparsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="measure a track: loudness, peaks, spectrum, stereo image, tempo",
        description=(
            "Measure a track the way the mastering decisions see it: BS.1770 loudness and true "
            "peak, EBU loudness range, crest factor, clipping, DC, the 1/3-octave spectrum, "
            "stereo correlation and width, and tempo. Nothing leaves this machine."
        ),
    )
    parser.add_argument("file", help="audio file (WAV; FLAC/MP3/OGG with mixmaster[formats])")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print exactly the feature JSON (features.schema.json) instead of the report",
    )
    parser.set_defaults(func=_cmd_analyze)


def _cmd_analyze(args: argparse.Namespace) -> int:
    # As for `master`: the analysis keeps its BLAS products single-threaded anyway, and
    # OpenBLAS's worker threads cost ~25 ms of CPU just to start. Read when numpy loads.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from mixmaster.wavio import read_audio

    audio = read_audio(args.file)  # before importing scipy: a bad file fails fast
    from mixmaster.analyze import analyze

    analysis = analyze(audio.samples, audio.info.sample_rate_hz)
    if args.json:
        sys.stdout.write(json.dumps(analysis.to_json(), allow_nan=False) + "\n")
    else:
        write_report(sys.stdout, args.file, audio.info, analysis)
    return EXIT_OK


def _level(value: float, unit: str, decimals: int = 2) -> str:
    """Format a level; ``-inf`` is "silence", ``nan`` is "n/a"."""
    if value == -math.inf:
        return "silence"
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.{decimals}f} {unit}".rstrip()


def _duration(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}:{rest:06.3f} ({seconds:.3f} s)"


def write_report(out: TextIO, path: str, info: WavInfo, a: Analysis) -> None:
    """Write the human-readable analysis report: an aligned table with units.

    ``-inf`` levels read "silence"; undefined values (a band above Nyquist, the tempo of a
    clip shorter than 3 s) read "n/a".
    """
    from mixmaster.imaging import IMAGING_BAND_EDGES_HZ
    from mixmaster.spectrum import ISO_THIRD_OCTAVE_CENTRES_HZ

    kind = "float" if info.sample_format == "float" else "PCM"
    rows: list[tuple[str, str]] = [
        ("File", path),
        (
            "Format",
            f"{info.sample_rate_hz} Hz, {info.channels} ch, {info.bits_per_sample}-bit {kind}",
        ),
        ("Duration", _duration(a.duration_s)),
        ("", ""),
        ("Integrated loudness", _level(a.integrated_lufs, "LUFS")),
        ("Loudness range", _level(a.loudness_range_lu, "LU")),
        ("Momentary max", _level(a.momentary_max_lufs, "LUFS")),
        ("Short-term max", _level(a.short_term_max_lufs, "LUFS")),
        ("True peak", _level(a.true_peak_dbtp, "dBTP")),
        ("Sample peak", _level(a.sample_peak_dbfs, "dBFS")),
        ("RMS", _level(a.rms_dbfs, "dBFS")),
        ("Crest factor", _level(a.crest_db, "dB")),
        ("Peak to loudness", _level(a.plr_db, "dB")),
        ("DC offset", f"{a.dc_offset:.6f}"),
        ("Clipped samples", str(a.clipped_samples)),
        ("", ""),
        ("Correlation", _level(a.correlation, "", 3)),
        ("Width (side share)", _level(a.width, "", 3)),
    ]
    for (lo, hi), corr, width in zip(
        IMAGING_BAND_EDGES_HZ, a.band_correlation, a.band_width, strict=True
    ):
        band = f"{lo:g}-{hi:g} Hz" if hi is not None else f"{lo:g} Hz-Nyquist"
        rows.append((f"  {band}", f"corr {_level(corr, '', 3)}, width {_level(width, '', 3)}"))
    rows += [
        ("", ""),
        ("Spectral tilt", _level(a.spectral_tilt_db_per_oct, "dB/oct")),
        ("Spectral centroid", _level(a.spectral_centroid_hz, "Hz", 1)),
        (
            "Tempo",
            _level(a.tempo_bpm, "BPM", 1)
            + (f" (confidence {a.tempo_confidence:.2f})" if math.isfinite(a.tempo_bpm) else ""),
        ),
    ]
    width = max(len(label) for label, _ in rows) + 2
    for label, value in rows:
        out.write(f"{label:<{width}}{value}".rstrip() + "\n")
    out.write("\n1/3-octave levels, dB relative to the total:\n")
    cells = [
        f"{f'{centre:g} Hz':>9} {_level(level, '', 1):>7}"
        for centre, level in zip(ISO_THIRD_OCTAVE_CENTRES_HZ, a.third_octave_db, strict=True)
    ]
    for start in range(0, len(cells), 4):
        out.write("  ".join(cells[start : start + 4]).rstrip() + "\n")


# --- master -------------------------------------------------------------------------------------

PROXY_TIMEOUT_S = 30.0
"""How long ``--proxy`` waits for ``/api/decide`` before falling back to the built-in rules."""

_ANALYZE_STAGE_LABELS = {
    "loudness": "analysing loudness",
    "true_peak": "analysing true peak",
    "spectrum": "analysing spectrum",
    "stereo": "analysing stereo image",
    "tempo": "analysing tempo",
}
_MASTER_STAGE_LABELS = {
    "prelimiter": "EQ, dynamics and stereo",
    "loudness": "loudness and limiting",
    "output": "dither and output",
    "verify": "true-peak check",
}


def _add_master(subparsers: SubparsersAction) -> None:
    from mixmaster.params import BIT_DEPTHS, PLATFORM_TARGETS_LUFS, STYLES

    parser = subparsers.add_parser(
        "master",
        help="master a track: EQ, dynamics, stereo, loudness to a target, true-peak limiting",
        description=(
            "Master a track on this machine: analyse it, decide the settings (built-in rules, "
            "or a MixMasterAI proxy with --proxy, which receives only the measured features), "
            "then EQ, compress, limit to the loudness target under a true-peak ceiling, dither "
            "and write a WAV at the input's own sample rate."
        ),
    )
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="audio file to master (WAV; others with mixmaster[formats]); several with --album",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="WAV file to write (with --album: the directory the masters are written to)",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--platform",
        choices=list(PLATFORM_TARGETS_LUFS),
        help="delivery platform; sets the loudness target (default: spotify, -14 LUFS)",
    )
    target.add_argument(
        "--target-lufs", type=float, metavar="LUFS", help="custom integrated loudness target"
    )
    parser.add_argument(
        "--ceiling-dbtp", type=float, metavar="DBTP", help="true-peak ceiling (default: -1.0)"
    )
    parser.add_argument("--style", choices=list(STYLES), help="tonal character (default: balanced)")
    parser.add_argument(
        "--intensity", type=float, metavar="0..1", help="how strongly to process (default: 0.5)"
    )
    parser.add_argument(
        "--bits", choices=list(BIT_DEPTHS), help="output sample format (default: 24)"
    )
    parser.add_argument(
        "--params",
        metavar="FILE.json",
        help="parameter overrides {stage: {field: value}}, or a recipe/report with a "
        "top-level 'params' key; a complete recipe skips the analysis and decision",
    )
    parser.add_argument(
        "--report", metavar="FILE.json", help="write the mastering report (JSON) here"
    )
    parser.add_argument(
        "--proxy",
        metavar="URL",
        help="ask a MixMasterAI proxy (POST URL/api/decide, features only) instead of the "
        "built-in rules; falls back to the rules if it cannot be reached",
    )
    parser.add_argument(
        "--reference",
        metavar="REF",
        help="match this reference track (tone per mid and side, loudness, width, dynamics); "
        "decided on this machine from the two tracks' features",
    )
    parser.add_argument(
        "--match-amounts",
        metavar="ASPECT=AMOUNT,...",
        help="how much of each aspect to match, 0..1 (default 1 each), e.g. "
        "spectrum=1,loudness=1,width=0.5,dynamics=0.5",
    )
    parser.add_argument(
        "--album",
        action="store_true",
        help="master several files together: one set of tonal decisions, one album gain "
        "(relative levels kept), written to the directory -o; tracks run in parallel",
    )
    parser.add_argument(
        "--overrides",
        metavar="FILE.json",
        help='with --album: per-track parameter overrides {"file name": {stage: {field: value}}}',
    )
    parser.add_argument(
        "--jobs",
        type=_jobs,
        metavar="N",
        help="with --album: tracks processed at once (default: the number of CPUs)",
    )
    parser.set_defaults(func=_cmd_master)


def _jobs(text: str) -> int:
    jobs = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= jobs <= 256:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of jobs; accepted: 1 to 256")
    return jobs


def parse_match_amounts(text: str) -> dict[str, float]:
    """Parse ``--match-amounts``: ``aspect=amount`` pairs separated by commas.

    Returns the ``{aspect: amount}`` dict for :func:`mixmaster.params.match_amounts_from_dict`
    (which checks the aspects and ranges).

    Raises
    ------
    ParamError
        ``bad_match_amounts`` for a malformed list, a repeated aspect or a value that is not a
        number.
    """
    from mixmaster.params import MATCH_ASPECTS

    accepted = ", ".join(MATCH_ASPECTS)
    out: dict[str, float] = {}
    for item in text.split(","):
        key, sep, value = item.strip().partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParamError(
                "bad_match_amounts",
                f"--match-amounts item {item.strip()!r} is not aspect=amount; accepted: "
                f"aspects {accepted}, each 0 to 1, e.g. spectrum=1,width=0.5.",
                field="match_amounts",
            )
        if key in out:
            raise ParamError(
                "bad_match_amounts",
                f"--match-amounts gives {key!r} twice; give each aspect once.",
                field=f"match_amounts.{key}",
            )
        try:
            amount = float(value)
        except ValueError:
            raise ParamError(
                "bad_match_amounts",
                f"--match-amounts {key}={value.strip()!r} is not a number; accepted: 0 to 1.",
                field=f"match_amounts.{key}",
            ) from None
        out[key] = amount
    return out


def _same_file(a: str, b: str) -> bool:
    """Whether two paths name the same file (resolved, or the same inode if both exist)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _check_output_path(path: str, what: str, avoid: list[str]) -> None:
    """Refuse to write over the input (or another of our files); the directory must exist."""
    for other in avoid:
        if _same_file(path, other):
            raise InputError(
                "would_overwrite",
                f"The {what} {path!r} is the same file as {other!r}; choose another name "
                "(the input is never overwritten).",
                field=what,
            )
    if os.path.isdir(path):
        raise InputError(
            "is_directory", f"The {what} {path!r} is a directory; give a file name.", field=what
        )
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(
            "write_failed",
            f"Cannot write the {what} {path!r}: the directory {directory!r} does not exist.",
            field=what,
        )


def _reference_report(path: str, amounts: Any, features: Any) -> dict[str, Any]:
    """The ``reference`` entry of a ``--report``: the file, the match amounts, its features."""
    from mixmaster.params import match_amounts_to_dict

    return {
        "path": os.path.abspath(path),
        "match_amounts": match_amounts_to_dict(amounts),
        "features": features,
    }


def _read_json(path: str, what: str, option: str, expected: str) -> Any:
    """Read the JSON file an option names (``what``: "Parameter file", ``option``: "params").

    Raises
    ------
    InputError
        ``file_not_found``.
    ParamError
        ``bad_<option>_file`` when it is not readable JSON, naming the ``expected`` content.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise InputError(
            "file_not_found", f"{what} {path!r} does not exist.", field=option
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParamError(
            f"bad_{option}_file",
            f"{what} {path!r} is not readable JSON ({exc}); expected {expected}.",
            field=option,
        ) from None


def _load_params_file(path: str) -> dict[str, Any]:
    """Read ``--params``: a ``{stage: {field: value}}`` object, or one under a "params" key."""
    data = _read_json(
        path,
        "Parameter file",
        "params",
        'an object {"stage": {"field": value}} or a recipe with a "params" key',
    )
    if isinstance(data, dict) and isinstance(data.get("params"), dict):
        data = data["params"]
    if not isinstance(data, dict):
        raise ParamError(
            "bad_params_file",
            f"Parameter file {path!r} must hold a JSON object "
            '{"stage": {"field": value}} or a recipe with a "params" key.',
            field="params",
        )
    return data


def _is_full_recipe(d: dict[str, Any]) -> bool:
    """Whether ``d`` sets every field of every stage (then no decision is needed).

    Computed stages (the reference match) may be missing: they are then off, as in recipes
    written before they existed.
    """
    from mixmaster.params import STAGES

    for stage in STAGES:
        if stage.COMPUTED and stage.NAME not in d:
            continue
        given = d.get(stage.NAME)
        if not isinstance(given, dict):
            return False
        if any(f.name not in given for f in dataclasses.fields(stage)):
            return False
    return True


def _ask_proxy(url: str, features: dict[str, Any], intent: Intent) -> Decision:
    """POST ``{features, intent}`` to ``url/api/decide``; the answer as a :class:`Decision`.

    Raises
    ------
    OSError, ValueError, MixmasterError
        On any failure (unreachable, timeout, HTTP error, malformed answer); the caller falls
        back to the rules.
    """
    import urllib.request

    from mixmaster.decide import Decision
    from mixmaster.params import intent_to_dict, params_from_dict

    endpoint = url.rstrip("/") + "/api/decide"
    if not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    body = json.dumps({"features": features, "intent": intent_to_dict(intent)}).encode()
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked just above)
        endpoint,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=PROXY_TIMEOUT_S) as response:  # noqa: S310
        answer = json.loads(response.read().decode("utf-8"))
    if not isinstance(answer, dict) or not isinstance(answer.get("params"), dict):
        raise ValueError("the answer has no params object")
    explanation = answer.get("explanation", [])
    if isinstance(explanation, str):
        explanation = [explanation]
    if not isinstance(explanation, list) or not all(isinstance(s, str) for s in explanation):
        raise ValueError("the answer's explanation is not a list of sentences")
    return Decision(params_from_dict(answer["params"]), tuple(explanation))


_ctrl_c_seen = False


def _on_ctrl_c(signum: int, frame: FrameType | None) -> None:
    """SIGINT: remember it, then raise KeyboardInterrupt as Python's own handler does."""
    global _ctrl_c_seen
    _ctrl_c_seen = True
    raise KeyboardInterrupt


def _raise_if_ctrl_c_was_swallowed() -> None:
    """Raise KeyboardInterrupt if Ctrl-C came but its KeyboardInterrupt got lost on the way.

    Raised while a library module imports (scipy.signal, in about 1 run in 100 when Ctrl-C
    came during that import), the KeyboardInterrupt can be wrapped and then caught as an
    ordinary exception inside the library, and the run went on to write its output with exit
    code 0. Checked at every progress report of ``master`` (so it stops at the next one),
    before an album's masters are kept, and when a command returns (``analyze`` then exits 130
    after printing).
    """
    if _ctrl_c_seen:
        raise KeyboardInterrupt


class _ProgressBar:
    """A one-line progress display on stderr, redrawn with ``\\r``; silent when not a TTY.

    Every report also stops the run if a Ctrl-C was swallowed (see
    :func:`_raise_if_ctrl_c_was_swallowed`).
    """

    def __init__(self, stream: TextIO, labels: dict[str, str]) -> None:
        self._stream = stream
        self._labels = labels
        self._enabled = stream.isatty()
        self._last = ""

    def __call__(self, stage: str, fraction: float) -> None:
        _raise_if_ctrl_c_was_swallowed()
        if not self._enabled:
            return
        label = self._labels.get(stage, stage)
        filled = round(20 * fraction)
        text = f"{label:<32} [{'#' * filled}{'.' * (20 - filled)}] {fraction:4.0%}"
        if text != self._last:
            self._stream.write("\r" + text)
            self._stream.flush()
            self._last = text

    def done(self) -> None:
        if self._enabled and self._last:
            self._stream.write("\r" + " " * len(self._last) + "\r")
            self._stream.flush()
            self._last = ""


def _write_json_atomically(path: str, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` via a temporary file in the same directory and a rename."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, allow_nan=False)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        _remove_files([tmp])
        raise


def _remove_files(paths: Iterable[str]) -> None:
    """Remove what exists of ``paths``, after a failure (errors removing them are ignored)."""
    for path in paths:
        with contextlib.suppress(OSError):
            os.unlink(path)


def _intent_from_args(args: argparse.Namespace) -> Intent:
    from mixmaster.params import intent_from_dict

    return intent_from_dict(
        {
            key: value
            for key, value in (
                ("platform", args.platform),
                ("target_lufs", args.target_lufs),
                ("ceiling_dbtp", args.ceiling_dbtp),
                ("style", args.style),
                ("intensity", args.intensity),
            )
            if value is not None
        }
    )


def _option_error(code: str, message: str, field: str) -> ParamError:
    return ParamError(code, message, field=field)


def _check_master_options(args: argparse.Namespace) -> None:
    """Refuse option combinations that do not go together (before reading any audio)."""
    if not args.album:
        if len(args.files) != 1:
            raise _option_error(
                "several_inputs",
                f"{len(args.files)} files were given; master one file, or several together "
                "with --album.",
                "files",
            )
        for option, given in (("--overrides", args.overrides), ("--jobs", args.jobs)):
            if given is not None:
                raise _option_error(
                    "album_only", f"{option} applies to --album only.", option.lstrip("-")
                )
    if args.match_amounts is not None and args.reference is None:
        raise _option_error(
            "reference_missing",
            "--match-amounts needs --reference (the track to match).",
            "match_amounts",
        )
    if args.reference is not None and args.proxy is not None:
        raise _option_error(
            "reference_with_proxy",
            "--reference is decided on this machine from both tracks' features; --proxy "
            "cannot be used with it.",
            "proxy",
        )


def _explicit_changes(args: argparse.Namespace, intent: Intent, loudness: bool) -> dict[str, Any]:
    """Explicit options win over the decision and the parameter file."""
    changes: dict[str, dict[str, object]] = {}
    if loudness and (args.platform is not None or args.target_lufs is not None):
        changes["loudness"] = {"target_lufs": intent.target_lufs}
    if args.ceiling_dbtp is not None:
        changes["limiter"] = {"ceiling_dbtp": intent.ceiling_dbtp}
    if args.bits is not None:
        changes["output"] = {"bits": args.bits}
        if args.bits != "16":
            changes["output"]["noise_shaping"] = False
    return changes


def _cmd_master(args: argparse.Namespace) -> int:
    from mixmaster.params import MatchAmounts, match_amounts_from_dict

    _check_master_options(args)
    amounts: MatchAmounts | None = None
    if args.reference is not None:
        amounts = match_amounts_from_dict(
            parse_match_amounts(args.match_amounts) if args.match_amounts is not None else {}
        )
    if args.album:
        return _cmd_master_album(args, amounts)
    args.file = args.files[0]
    inputs = [args.file] + ([args.reference] if args.reference is not None else [])
    _check_output_path(args.output, "output", inputs)
    if args.report is not None:
        _check_output_path(args.report, "report", [*inputs, args.output])
    intent = _intent_from_args(args)
    overrides = _load_params_file(args.params) if args.params is not None else {}
    if args.reference is not None and _is_full_recipe(overrides):
        raise _option_error(
            "recipe_with_reference",
            f"{args.params} is a complete recipe, so there is nothing left to match; drop "
            "--reference or give only the parameters to change.",
            "reference",
        )

    # OpenBLAS's worker threads spin on a busy CPU and made whole masters ~40 % slower here;
    # our products are small, so one thread is faster. Read when numpy loads (and inherited by
    # the reference's worker).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    reference_job = None
    if args.reference is not None and not _is_full_recipe(overrides):
        from mixmaster.wavio import check_readable

        check_readable(args.file)
        check_readable(args.reference)
        # The reference is analysed in a second process while this one analyses the mix.
        reference_job = _start_reference_analysis(args.reference)
    try:
        return _master_one(args, intent, amounts, overrides, reference_job)
    finally:
        if reference_job is not None:
            reference_job[0].shutdown(wait=False, cancel_futures=True)


def _master_one(
    args: argparse.Namespace,
    intent: Intent,
    amounts: Any,
    overrides: dict[str, Any],
    reference_job: tuple[Any, Any] | None,
) -> int:
    """``master`` of one file, after the options are checked (see :func:`_cmd_master`)."""
    from mixmaster.analyze import analyze
    from mixmaster.decide import decide
    from mixmaster.params import (
        intent_to_dict,
        params_from_dict,
        params_to_dict,
        with_changes,
    )
    from mixmaster.pipeline import LevelReport, master
    from mixmaster.wavio import read_audio, write_wav

    audio = read_audio(args.file)
    fs = audio.info.sample_rate_hz
    features: dict[str, Any] | None = None
    reference_features: dict[str, Any] | None = None
    explanation: tuple[str, ...]
    if _is_full_recipe(overrides):
        params = params_from_dict(overrides)
        source, explanation = "file", (f"Settings read from {args.params}.",)
    else:
        bar = _ProgressBar(sys.stderr, _ANALYZE_STAGE_LABELS)
        features = analyze(audio.samples, fs, progress=bar).to_json()
        bar.done()
        decision = None
        source = "rules"
        if reference_job is not None:
            from mixmaster.reference import decide_reference

            reference_features = _finish_reference_analysis(reference_job, args.reference)
            decision = decide_reference(features, reference_features, intent, amounts)
            source = "reference"
        elif args.proxy is not None:
            try:
                decision = _ask_proxy(args.proxy, features, intent)
                source = "proxy"
            except (OSError, ValueError, MixmasterError) as exc:
                _error(
                    f"warning: the proxy at {args.proxy} failed ({exc}); using the built-in rules."
                )
        if decision is None:
            decision = decide(features, intent)
        params = params_from_dict(overrides, base=decision.params)
        explanation = decision.explanation
    # With a reference, the intent's target is already part of the matched target.
    changes = _explicit_changes(args, intent, loudness=args.reference is None)
    if changes:
        params = with_changes(params, **changes)

    bar = _ProgressBar(sys.stderr, _MASTER_STAGE_LABELS)
    # The analysis measured the input already; the input's buffer is not needed afterwards,
    # so the pipeline may use it as its intermediate (one full-size copy less).
    before = LevelReport.from_features(features) if features is not None else None
    result = master(audio.samples, fs, params, progress=bar, before=before, overwrite_input=True)
    bar.done()
    del audio
    written: list[str] = []
    try:
        write_wav(args.output, result.audio, fs, cast("WavBits", params.output.bits))
        written.append(args.output)
        if args.report is not None:
            report = {
                "mixmaster": __version__,
                "input": os.path.abspath(args.file),
                "output": os.path.abspath(args.output),
                "intent": intent_to_dict(intent),
                "decision": {"source": source, "explanation": list(explanation)},
                "params": params_to_dict(params),
                "report": result.report.to_json(),
                "features": features,
            }
            if args.reference is not None and amounts is not None:
                report["reference"] = _reference_report(args.reference, amounts, reference_features)
            _write_json_atomically(args.report, report)
    except BaseException:
        _remove_files(written)
        raise
    _print_master_summary(sys.stdout, args.output, result.report, source, explanation)
    return EXIT_OK


def reference_analyze_worker(path: str) -> dict[str, Any]:
    """In a worker process: read and analyse the reference; its feature JSON."""
    try:
        from mixmaster.analyze import analyze
        from mixmaster.wavio import read_audio

        audio = read_audio(path)
        return {"features": analyze(audio.samples, audio.info.sample_rate_hz).to_json()}
    except MixmasterError as exc:
        return _worker_error(exc)


def _start_reference_analysis(path: str) -> tuple[Any, Any]:
    """Start analysing the reference in a spawned process: ``(pool, future)``."""
    import concurrent.futures
    import multiprocessing

    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn")
    )
    return pool, pool.submit(reference_analyze_worker, path)


def _finish_reference_analysis(job: tuple[Any, Any], path: str) -> dict[str, Any]:
    pool, future = job
    try:
        result: dict[str, Any] = future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if "error" in result:
        _raise_worker_error(os.path.basename(path), result["error"])
    features: dict[str, Any] = result["features"]
    return features


# --- master --album -----------------------------------------------------------------------------


def _worker_error(exc: MixmasterError) -> dict[str, Any]:
    return {"error": {"kind": type(exc).__name__, "code": exc.code, "message": exc.message}}


def _raise_worker_error(name: str, error: dict[str, str]) -> None:
    """Re-raise a worker's error in this process, naming the file (errors travel as dicts:
    our exception classes take keyword arguments that pickling between processes loses)."""
    kind = {"InputError": InputError, "ParamError": ParamError, "CancelledError": CancelledError}
    cls = kind.get(error["kind"], MixmasterError)
    raise cls(error["code"], f"{name}: {error['message']}", field=name)


def album_analyze_worker(path: str) -> dict[str, Any]:
    """In a worker process: read and analyse one track; its features and gating blocks."""
    try:
        from mixmaster.analyze import analyze
        from mixmaster.loudness import measure_loudness
        from mixmaster.wavio import read_audio

        audio = read_audio(path)
        fs = audio.info.sample_rate_hz
        features = analyze(audio.samples, fs).to_json()
        loudness = measure_loudness(audio.samples, fs)
        return {
            "features": features,
            "blocks": loudness.momentary_lufs.tolist(),
            "lufs": loudness.integrated_lufs,
        }
    except MixmasterError as exc:
        return _worker_error(exc)


def album_master_worker(path: str, output: str, params_dict: dict[str, Any]) -> dict[str, Any]:
    """In a worker process: master one track with its params and write it (atomically)."""
    try:
        from mixmaster.loudness import measure_loudness
        from mixmaster.params import params_from_dict
        from mixmaster.pipeline import master
        from mixmaster.wavio import read_audio, write_wav

        params = params_from_dict(params_dict)
        audio = read_audio(path)
        fs = audio.info.sample_rate_hz
        result = master(audio.samples, fs, params, overwrite_input=True)
        del audio
        write_wav(output, result.audio, fs, cast("WavBits", params.output.bits))
        loudness = measure_loudness(result.audio, fs)
        return {
            "written": output,
            "report": result.report.to_json(),
            "blocks": loudness.momentary_lufs.tolist(),
            "lufs": loudness.integrated_lufs,
        }
    except MixmasterError as exc:
        return _worker_error(exc)


def _album_output_dir(path: str) -> bool:
    """Check (or create, for a name ending in '/') the album's output directory.

    Returns whether it was created here (so a failure can remove it again).
    """
    if os.path.isdir(path):
        return False
    parent = os.path.dirname(os.path.abspath(path.rstrip("/\\")))
    if path.endswith(("/", os.sep)) and os.path.isdir(parent):
        try:
            os.mkdir(path)
        except OSError as exc:
            raise InputError(
                "write_failed",
                f"Cannot create the directory {path!r} ({exc.strerror}).",
                field="output",
            ) from None
        return True
    raise InputError(
        "not_a_directory",
        f"With --album, -o names the directory the masters go to; {path!r} is not a directory "
        "(create it first, or end the name with '/').",
        field="output",
    )


def _load_overrides(path: str, files: Sequence[str]) -> list[dict[str, Any] | None]:
    """Read ``--overrides``: ``{file name or path as given: {stage: {field: value}}}``."""
    data = _read_json(
        path, "Overrides file", "overrides", 'an object {"track.wav": {"stage": {"field": value}}}'
    )
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ParamError(
            "bad_overrides_file",
            f"Overrides file {path!r} must hold an object mapping track file names to "
            'parameter objects, e.g. {"track.wav": {"loudness": {"target_lufs": -16}}}.',
            field="overrides",
        )
    out: list[dict[str, Any] | None] = [None] * len(files)
    for key, value in data.items():
        matches = [i for i, f in enumerate(files) if key in (f, os.path.basename(f))]
        if len(matches) != 1:
            names = ", ".join(os.path.basename(f) for f in files)
            raise ParamError(
                "unknown_track",
                f"Overrides name {key!r}, which is "
                + ("not one of the tracks" if not matches else "more than one track")
                + f"; accepted: {names}.",
                field=f"overrides.{key}",
            )
        out[matches[0]] = value
    return out


def _cmd_master_album(args: argparse.Namespace, amounts: Any) -> int:
    files: list[str] = list(args.files)
    inputs = files + ([args.reference] if args.reference is not None else [])
    stems = [os.path.splitext(os.path.basename(f))[0] for f in files]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise InputError(
            "duplicate_names",
            f"Several tracks are named {duplicates[0]!r}; the masters would overwrite each other "
            "in one directory. Rename them.",
            field="files",
        )
    intent = _intent_from_args(args)
    shared = _load_params_file(args.params) if args.params is not None else {}
    per_track = _load_overrides(args.overrides, files) if args.overrides is not None else None
    created = _album_output_dir(args.output)
    outputs = [os.path.join(args.output, f"{stem}.wav") for stem in stems]
    try:
        for out in outputs:
            _check_output_path(out, "output", inputs)
        if args.report is not None:
            _check_output_path(args.report, "report", [*inputs, *outputs])
        return _run_album(args, files, outputs, intent, amounts, shared, per_track)
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                os.rmdir(args.output)  # only if still empty
        raise


def _run_pool(
    pool: Any, calls: list[tuple[Callable[..., dict[str, Any]], tuple[Any, ...]]], names: list[str]
) -> list[dict[str, Any]]:
    """Run ``calls`` on the pool; their results in order, or the first error re-raised."""
    futures = [pool.submit(fn, *call_args) for fn, call_args in calls]
    results = [f.result() for f in futures]
    for name, result in zip(names, results, strict=True):
        if "error" in result:
            _raise_worker_error(name, result["error"])
    return results


def _album_decision(
    args: argparse.Namespace,
    shared: dict[str, Any],
    features: list[dict[str, Any]],
    reference_features: dict[str, Any] | None,
    intent: Intent,
    amounts: Any,
) -> tuple[Decision | None, str]:
    """The album's shared decision and its source; ``None`` lets :func:`plan_album` decide.

    A complete ``--params`` recipe is the decision; otherwise the proxy, the reference or the
    rules decide on the combined features, and a partial ``--params`` is applied on top.
    """
    from mixmaster.album import album_features
    from mixmaster.decide import Decision, decide
    from mixmaster.params import params_from_dict

    if _is_full_recipe(shared):
        return Decision(params_from_dict(shared), (f"Settings read from {args.params}.",)), "file"
    combined = album_features(features)
    decision: Decision | None = None
    source = "rules"
    if args.proxy is not None:
        try:
            decision, source = _ask_proxy(args.proxy, combined, intent), "proxy"
        except (OSError, ValueError, MixmasterError) as exc:
            _error(f"warning: the proxy at {args.proxy} failed ({exc}); using the built-in rules.")
    if reference_features is not None:
        from mixmaster.reference import decide_reference

        decision = decide_reference(combined, reference_features, intent, amounts)
        source = "reference"
    if not shared:
        return decision, source
    base = decision or decide(combined, intent)
    return Decision(params_from_dict(shared, base=base.params), base.explanation), source


def _run_album(
    args: argparse.Namespace,
    files: list[str],
    outputs: list[str],
    intent: Intent,
    amounts: Any,
    shared: dict[str, Any],
    per_track: list[dict[str, Any] | None] | None,
) -> int:
    import concurrent.futures
    import multiprocessing

    from mixmaster import background

    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # read by the workers' numpy
    from mixmaster.album import AlbumPlan, check_album, master_in_rounds, plan_album
    from mixmaster.loudness import album_loudness_lufs
    from mixmaster.params import (
        intent_to_dict,
        params_to_dict,
        with_changes,
    )

    names = [os.path.basename(f) for f in files]
    existed = {out for out in outputs if os.path.exists(out)}
    written: set[str] = set()
    jobs = min(args.jobs or os.cpu_count() or 1, len(files) + (args.reference is not None))
    # Spawned (not forked) workers: the parent may hold threads, and fork would copy them.
    context = multiprocessing.get_context("spawn")
    # With several workers filling the cores, a second thread in each would only contend.
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=background.disable if jobs > 1 else None
    )
    try:
        analysed = _run_pool(
            pool,
            [
                (album_analyze_worker, (f,))
                for f in [*files, *([args.reference] if args.reference else [])]
            ],
            [*names, *([os.path.basename(args.reference)] if args.reference else [])],
        )
        reference_features = analysed[len(files)]["features"] if args.reference else None
        tracks = analysed[: len(files)]
        features = [t["features"] for t in tracks]
        input_lufs = [float(t["lufs"]) for t in tracks]
        album_lufs = album_loudness_lufs([t["blocks"] for t in tracks])

        decision, source = _album_decision(
            args, shared, features, reference_features, intent, amounts
        )
        changes = _explicit_changes(args, intent, loudness=False)

        def plan_for(gain_offset_db: float = 0.0, extra_limiting_db: float = 0.0) -> AlbumPlan:
            return plan_album(
                features, intent, album_lufs=album_lufs, reference_features=reference_features,
                amounts=amounts, decision=decision, overrides=per_track,
                gain_offset_db=gain_offset_db, extra_limiting_db=extra_limiting_db,
            )  # fmt: skip

        def track_params(plan: AlbumPlan) -> list[Any]:
            return [with_changes(p, **changes) if changes else p for p in plan.params]

        def master_all(plan: AlbumPlan) -> list[dict[str, Any]]:
            calls = [
                (album_master_worker, (f, out, params_to_dict(p)))
                for f, out, p in zip(files, outputs, track_params(plan), strict=True)
            ]
            results = _run_pool(pool, calls, names)
            written.update(r["written"] for r in results)
            return results

        plan, rounds = master_in_rounds(plan_for, master_all, lambda r: float(r["lufs"]))
        results, params = list(rounds), track_params(plan)
        _raise_if_ctrl_c_was_swallowed()  # the masters are removed below
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        _remove_files(written | (set(outputs) - existed))
        raise
    pool.shutdown(wait=True)

    output_lufs = [float(r["lufs"]) for r in results]
    album_out = album_loudness_lufs([r["blocks"] for r in results])
    check = check_album(plan, input_lufs, output_lufs, album_out)
    try:
        if args.report is not None:
            report: dict[str, Any] = {
                "mixmaster": __version__,
                "intent": intent_to_dict(intent),
                "decision": {"source": source, "explanation": list(plan.explanation)},
                "album": plan.to_json() | {"check": check.to_json()},
                "tracks": [
                    {
                        "input": os.path.abspath(f),
                        "output": os.path.abspath(out),
                        "params": params_to_dict(p),
                        "report": r["report"],
                        "features": feats,
                    }
                    for f, out, p, r, feats in zip(
                        files, outputs, params, results, features, strict=True
                    )
                ],
            }
            if args.reference is not None:
                report["reference"] = _reference_report(args.reference, amounts, reference_features)
            _write_json_atomically(args.report, report)
    except BaseException:
        _remove_files(outputs)
        raise
    _print_album_summary(
        sys.stdout, names, outputs, results, input_lufs, check, source, plan.explanation
    )
    return EXIT_OK


def _print_album_summary(
    out: TextIO,
    names: list[str],
    outputs: list[str],
    results: list[dict[str, Any]],
    input_lufs: list[float],
    check: Any,
    source: str,
    explanation: Sequence[str],
) -> None:
    """Per track: loudness before and after and the true peak; then the album's figures."""
    width = max(len(n) for n in names)
    for name, path, result, lin in zip(names, outputs, results, input_lufs, strict=True):
        after = result["report"]["after"]
        tp = after["true_peak_dbtp"]
        lout = float(result["lufs"])
        out.write(
            f"{name:<{width}}  {_level(lin, 'LUFS', 1)} -> {_level(lout, 'LUFS', 1)}, "
            f"true peak {_level(tp if tp is not None else -math.inf, 'dBTP', 1)}  ({path})\n"
        )
    out.write(
        f"Album: {_level(check.album_lufs, 'LUFS', 1)} (target {check.target_lufs:.1f} LUFS), "
        f"tracks moved against each other by at most {check.relative_spread_lu:.2f} LU.\n"
    )
    _print_decisions(out, source, explanation)
    out.write(f"Wrote {len(outputs)} files to {os.path.dirname(outputs[0]) or '.'}.\n")


def _print_decisions(out: TextIO, source: str, explanation: Sequence[str]) -> None:
    """Where the settings came from, and one line per decision."""
    origin = {
        "rules": "built-in rules",
        "proxy": "proxy",
        "file": "parameter file",
        "reference": "reference track",
    }[source]
    out.write(f"Decisions ({origin}):\n")
    for sentence in explanation:
        out.write(f"  - {sentence}\n")


def _print_master_summary(
    out: TextIO,
    path: str,
    report: MasterReport,
    source: str,
    explanation: Sequence[str],
) -> None:
    """The short summary: loudness and peaks before and after, the target, the decisions."""
    b, a = report.before, report.after

    def levels(r: LevelReport) -> str:
        return (
            f"{_level(r.integrated_lufs, 'LUFS', 1)}, "
            f"true peak {_level(r.true_peak_dbtp, 'dBTP', 1)}, "
            f"range {_level(r.loudness_range_lu, 'LU', 1)}"
        )

    kind = {"16": "16-bit PCM", "24": "24-bit PCM", "32f": "32-bit float"}[report.bits]
    out.write(f"Input:  {levels(b)}\n")
    out.write(f"Master: {levels(a)} (ceiling {report.ceiling_dbtp:.1f} dBTP)\n")
    out.write(f"{report.loudness.note}\n")
    _print_decisions(out, source, explanation)
    out.write(
        f"Wrote {path} ({report.sample_rate_hz} Hz, {report.channels} ch, {kind}, "
        f"{report.samples / report.sample_rate_hz:.1f} s).\n"
    )


# --- serve -------------------------------------------------------------------------------------


def _add_serve(subparsers: SubparsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve the web app and the decision API on one port",
        description="Serve the site (web/) and the decision API (/api/decide) with uvicorn. "
        "Settings come from the environment: ANTHROPIC_API_KEY (Claude decides when set, the "
        "built-in rules otherwise), ANTHROPIC_BASE_URL, MIXMASTER_CLAUDE_MODEL, "
        "MIXMASTER_CLAUDE_TIMEOUT_S, MIXMASTER_RATE_LIMIT_PER_MIN, MIXMASTER_CORS_ORIGINS, "
        "MIXMASTER_WEB_DIR. Nothing about a request is logged. Needs the 'proxy' extra.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=_tcp_port, default=8000, help="TCP port to listen on (default: %(default)s)"
    )
    parser.set_defaults(func=_cmd_serve)


def _tcp_port(text: str) -> int:
    port = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port; accepted: 1 to 65535")
    return port


def _cmd_serve(args: argparse.Namespace) -> int:
    import importlib

    try:
        # Imported by name: the proxy is an optional extra (starlette, uvicorn, anthropic...).
        proxy_app = importlib.import_module("mixmaster_proxy.app")
    except ImportError as exc:
        missing = exc.name or "mixmaster_proxy"
        _error(
            f"error: 'mixmaster serve' needs the proxy extra (missing module {missing!r}); "
            "install it with: pip install 'mixmaster[proxy]' [missing_extra]"
        )
        return EXIT_BAD_INPUT
    proxy_app.serve(host=args.host, port=args.port)
    return EXIT_OK


# --- the frame ---------------------------------------------------------------------------------

SUBCOMMANDS: list[Callable[[SubparsersAction], None]] = [_add_analyze, _add_master, _add_serve]
"""Functions that each add one subcommand to the parser (see the module docstring)."""


def build_parser() -> argparse.ArgumentParser:
    """Return the ``mixmaster`` parser with every subcommand of :data:`SUBCOMMANDS`."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="MixMasterAI: privacy-first automatic mastering, on your own machine.",
        epilog=f"Exit codes: 0 ok, 2 bad input, 1 internal error, 130 interrupted. "
        f"Set {DEBUG_ENV}=1 to see tracebacks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def _error(message: str) -> None:
    """One line on stderr."""
    sys.stderr.write(f"{PROG}: {' '.join(message.split())}\n")
    sys.stderr.flush()


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by Ctrl-C: Python wraps a KeyboardInterrupt raised inside
    some machinery (a class body's ``__set_name__`` while a module imports) in a RuntimeError."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see the module docstring).

    Parameters
    ----------
    argv
        Arguments without the program name; ``None`` reads ``sys.argv``.
    """
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    global _ctrl_c_seen
    # Our own SIGINT handler (Python's, plus a note that Ctrl-C came), where Python's is set.
    own_handler = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    try:
        if own_handler:
            _ctrl_c_seen = False
            signal.signal(signal.SIGINT, _on_ctrl_c)
        args = build_parser().parse_args(argv)
        func: Command = args.func
        code = func(args)
        _raise_if_ctrl_c_was_swallowed()
        return code
    except CancelledError as exc:
        _error(f"cancelled: {exc.message}")
        return EXIT_INTERRUPTED
    except MixmasterError as exc:
        if debug:
            raise
        _error(f"error: {exc.message} [{exc.code}]")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if debug:
            raise
        _error("interrupted.")
        return EXIT_INTERRUPTED
    except MemoryError:
        if debug:
            raise
        _error(
            "error: not enough memory for this file. Try a shorter file, a lower sample rate or "
            "fewer channels, or close other programs. [out_of_memory]"
        )
        return EXIT_INTERNAL
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, and keep Python's final flush
        # of stdout from raising again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_INTERNAL
    except Exception as exc:
        if debug:
            raise
        if _interrupted(exc):  # Ctrl-C during an import surfaces wrapped, e.g. by __set_name__
            _error("interrupted.")
            return EXIT_INTERRUPTED
        _error(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug; please report it "
            f"with the command you ran (run again with {DEBUG_ENV}=1 for the traceback)."
        )
        return EXIT_INTERNAL
    finally:
        if own_handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            _ctrl_c_seen = False

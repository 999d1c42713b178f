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
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from mixmaster import __version__
from mixmaster.errors import CancelledError, MixmasterError

if TYPE_CHECKING:
    from mixmaster.analyze import Analysis
    from mixmaster.wavio import WavInfo

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

SUBCOMMANDS: list[Callable[[SubparsersAction], None]] = [_add_analyze, _add_serve]
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (see the module docstring).

    Parameters
    ----------
    argv
        Arguments without the program name; ``None`` reads ``sys.argv``.
    """
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        args = build_parser().parse_args(argv)
        func: Command = args.func
        return func(args)
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
        _error(
            f"internal error: {type(exc).__name__}: {exc}. This is a bug; please report it "
            f"with the command you ran (run again with {DEBUG_ENV}=1 for the traceback)."
        )
        return EXIT_INTERNAL

"""Bench: reference mastering, ``mixmaster master --reference`` against matchering 2.0.6.

The same pair in the same run: a loud generated reference (``bench_master.loud_reference``,
44.1 kHz stereo) and a target made from it with a known EQ (+4 dB low shelf at 150 Hz, -3 dB at
2.5 kHz, -4 dB high shelf at 6 kHz) and -6 dB of gain, both 24-bit WAV. Each tool masters the
target against the reference as a subprocess (matchering in its own virtual environment,
``.cache/bench-venv``, set up by ``bench_master.bench_python``).

Printed for both: the ⅓-octave spectral distance to the reference (RMS dB over 60 Hz-14 kHz,
level removed: :func:`mixmaster.spectrum.third_octave_distance_db`), the integrated loudness
against the reference's, the true peak, wall and CPU time and peak RSS; then the ratios against
the goals: our distance at most matchering's, our time at most 1/5 of matchering's. Exits 1 if a
goal is missed, 2 if matchering cannot be installed or run.

Usage: ``python bench/bench_reference.py [--minutes 5] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_master
from bench_master import (
    FS,
    MATCHERING,
    MATCHERING_SCRIPT,
    ROOT,
    bench_python,
    measure,
)
from children import goals_verdict, run_child
from mixmaster.eq import apply_eq
from mixmaster.params import EqParams
from mixmaster.spectrum import measure_spectrum, third_octave_distance_db
from mixmaster.wavio import read_wav, write_wav

TIME_GOAL = 1 / 5
KNOWN_EQ = EqParams(
    low_shelf_hz=150.0,
    low_shelf_gain_db=4.0,
    peak3_hz=2500.0,
    peak3_gain_db=-3.0,
    peak3_q=1.0,
    high_shelf_hz=6000.0,
    high_shelf_gain_db=-4.0,
)
KNOWN_GAIN_DB = -6.0


def third_octave_db(path: Path) -> list[float]:
    """The file's ⅓-octave levels (dB re total), as in the feature JSON."""
    audio = read_wav(path)
    return list(measure_spectrum(audio.samples, audio.info.sample_rate_hz).third_octave_db)


def generate(work: Path, minutes: float) -> None:
    reference = bench_master.loud_reference(minutes)
    target = apply_eq(reference, FS, KNOWN_EQ) * 10.0 ** (KNOWN_GAIN_DB / 20.0)
    write_wav(work / "reference.wav", reference, FS, "24")
    write_wav(work / "target.wav", target, FS, "24")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        generate(args.generate, args.minutes)
        return 0

    try:
        mg_python = bench_python()
    except (OSError, RuntimeError) as exc:
        print(f"cannot set up {MATCHERING}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # subprocess.CalledProcessError from pip
        print(f"cannot set up {MATCHERING}: {exc}", file=sys.stderr)
        return 2

    (ROOT / ".cache").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT / ".cache") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        target, reference = work / "target.wav", work / "reference.wav"
        ours, theirs = work / "ours.wav", work / "matchering.wav"
        print(f"generating a {args.minutes:g} min reference and its EQ'd target ...", flush=True)
        # In a child: the timed children's peak RSS must not include a large parent.
        generate_cmd = [sys.executable, __file__, "--generate", str(work)]
        run_child([*generate_cmd, "--minutes", str(args.minutes)])
        for path in (ours, theirs):
            path.unlink(missing_ok=True)

        ours_cmd = [sys.executable, "-m", "mixmaster", "master", str(target), "-o", str(ours)]
        ours_run = run_child([*ours_cmd, "--reference", str(reference)])
        mg_cmd = [str(mg_python), "-c", MATCHERING_SCRIPT, str(target), str(reference)]
        try:
            mg_run = run_child([*mg_cmd, str(theirs)])
        except RuntimeError as exc:
            print(f"matchering failed: {exc}", file=sys.stderr)
            return 2

        ref_levels = third_octave_db(reference)
        distances = {
            name: third_octave_distance_db(third_octave_db(path), ref_levels)
            for name, path in (("target", target), ("ours", ours), ("matchering", theirs))
        }
        levels = {name: measure(path) for name, path in (
            ("reference", reference), ("target", target), ("ours", ours), ("matchering", theirs),
        )}  # fmt: skip

    ref_lufs = levels["reference"][0]
    print(
        f"reference:  {ref_lufs:7.2f} LUFS  {levels['reference'][1]:6.2f} dBTP\n"
        f"target:     {levels['target'][0]:7.2f} LUFS  {levels['target'][1]:6.2f} dBTP  "
        f"spectral distance {distances['target']:.2f} dB (the known EQ)"
    )
    for name, run in (("mixmaster", ours_run), ("matchering", mg_run)):
        key = "ours" if name == "mixmaster" else name
        lufs, tp = levels[key]
        print(
            f"{name + ':':<11} {run.wall_s:6.2f} s ({run.cpu_s:5.2f} s CPU)  "
            f"{run.peak_mb:7.1f} MB peak RSS  "
            f"spectral distance {distances[key]:.2f} dB  {lufs:7.2f} LUFS "
            f"({lufs - ref_lufs:+.2f} LU vs reference)  {tp:6.2f} dBTP"
            + ("  (above 0 dBTP: sample-peak limiter)" if tp > 0.0 else "")
        )
    time_ratio = ours_run.wall_s / mg_run.wall_s
    distance_ratio = distances["ours"] / distances["matchering"]
    print(f"spectral distance ratio (ours/matchering): {distance_ratio:.3f} (goal <= 1.000)")
    print(f"time ratio (ours/matchering): {time_ratio:.3f} (goal <= {TIME_GOAL:.3f})")
    print(
        f"CPU time ratio (ours/matchering): {ours_run.cpu_s / mg_run.cpu_s:.3f} (for "
        f"information: wall time is the goal; under load, {os.getloadavg()[0]:.1f} now, the two "
        "differ)"
    )
    return goals_verdict({"distance": distance_ratio <= 1.0, "time": time_ratio <= TIME_GOAL})


if __name__ == "__main__":
    sys.exit(main())

"""Bench: ``mixmaster master`` against matchering 2.0.6 on the same 5-minute stereo track.

Both run as subprocesses in the same bench run, on the same generated 44.1 kHz stereo input
(``tests.signals.programme``, written as 24-bit WAV). Matchering gets a loud generated reference
(the same kind of material, pushed to about -9 LUFS) and writes 24-bit PCM. Matchering lives in
its own virtual environment, ``.cache/bench-venv`` (created here on first use with
``pip install matchering==2.0.6``), so it cannot change the numpy/scipy pinned in ``.venv``.

Printed: wall time, CPU time (user + sys, steadier than wall time on a shared machine) and
peak RSS of each (RSS of the child process itself, from ``os.wait4``;
the inputs are generated in another child so that the bench itself stays small, as a child's
``ru_maxrss`` counts its parent's size at fork time),
their ratios against the goals (time <= 1/7, peak RSS <= 1/4 of matchering's), and both outputs'
integrated loudness and true peak measured with our BS.1770 meter. Exits 1 if a goal is missed,
2 if matchering cannot be installed or run.

Usage: ``python bench/bench_master.py [--minutes 5] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import signals  # noqa: E402
from children import goals_verdict, run_child  # noqa: E402
from mixmaster.loudness import integrated_loudness  # noqa: E402
from mixmaster.truepeak import true_peak_dbtp  # noqa: E402
from mixmaster.wavio import read_wav, write_wav  # noqa: E402

FS = 44_100
BENCH_VENV = ROOT / ".cache" / "bench-venv"
MATCHERING = "matchering==2.0.6"
TIME_GOAL = 1 / 7
RSS_GOAL = 1 / 4
RSS_BUDGET_MB = 500.0  # native peak RSS budget for a 6-minute 44.1 kHz stereo file

MATCHERING_SCRIPT = """
import sys
import matchering as mg
mg.log(print)
mg.process(target=sys.argv[1], reference=sys.argv[2], results=[mg.pcm24(sys.argv[3])])
"""


def bench_python() -> Path:
    """The bench venv's interpreter, installing matchering into it on first use."""
    python = BENCH_VENV / "bin" / "python"
    probe = [str(python), "-c", "import matchering, soundfile"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return python
    print(f"installing {MATCHERING} into {BENCH_VENV} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", MATCHERING], check=True)
    subprocess.run(probe, check=True)
    return python


def loud_reference(minutes: float) -> np.ndarray:
    """A loud, dense reference: programme material driven into a soft clipper (~ -9 LUFS)."""
    x = signals.programme(minutes * 60.0, FS, channels=2, tempo_bpm=126.0, seed=7)
    x = np.tanh(x * 10.0 ** (14.0 / 20.0)) * 0.89
    return x


def measure(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of a WAV file, with our meter."""
    audio = read_wav(path)
    fs = audio.info.sample_rate_hz
    return integrated_loudness(audio.samples, fs), true_peak_dbtp(audio.samples, fs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        write_wav(
            args.generate / "target.wav",
            signals.programme(args.minutes * 60.0, FS, channels=2),
            FS,
            "24",
        )
        write_wav(args.generate / "reference.wav", loud_reference(args.minutes), FS, "24")
        return 0

    try:
        mg_python = bench_python()
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"cannot set up {MATCHERING}: {exc}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(dir=ROOT / ".cache") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        target, reference = work / "target.wav", work / "reference.wav"
        ours, theirs = work / "ours.wav", work / "matchering.wav"
        report = work / "ours-report.json"
        print(f"generating {args.minutes:g} min of 44.1 kHz stereo programme ...", flush=True)
        # In a child process: a child's peak RSS (ru_maxrss) includes its parent's size at
        # fork time, so the parent must stay small while the timed children start.
        generate = [sys.executable, __file__, "--generate", str(work), "--minutes"]
        subprocess.run([*generate, str(args.minutes)], check=True)
        for path in (ours, theirs, report):
            path.unlink(missing_ok=True)

        ours_cmd = [sys.executable, "-m", "mixmaster", "master", str(target), "-o", str(ours)]
        ours_cmd += ["--report", str(report)]
        ours_run = run_child(ours_cmd)
        mg_cmd = [str(mg_python), "-c", MATCHERING_SCRIPT, str(target), str(reference)]
        try:
            mg_run = run_child([*mg_cmd, str(theirs)])
        except RuntimeError as exc:
            print(f"matchering failed: {exc}", file=sys.stderr)
            return 2

        target_lufs, target_tp = measure(target)
        ours_lufs, ours_tp = measure(ours)
        mg_lufs, mg_tp = measure(theirs)
        ref_lufs, _ = measure(reference)
        passes = json.loads(report.read_text())["report"]["loudness"]["passes"]

    time_ratio = ours_run.wall_s / mg_run.wall_s
    rss_ratio = ours_run.peak_mb / mg_run.peak_mb
    rss_budget_mb = RSS_BUDGET_MB * args.minutes / 6.0 if args.minutes > 6.0 else RSS_BUDGET_MB
    print(f"input:      {target_lufs:7.2f} LUFS  {target_tp:6.2f} dBTP  (reference {ref_lufs:.2f})")
    print(
        f"mixmaster:  {ours_run.wall_s:6.2f} s (cpu {ours_run.cpu_s:6.2f} s)  "
        f"{ours_run.peak_mb:7.1f} MB peak RSS  "
        f"{ours_lufs:7.2f} LUFS  {ours_tp:6.2f} dBTP  ({passes} limiter passes)"
    )
    print(
        f"matchering: {mg_run.wall_s:6.2f} s (cpu {mg_run.cpu_s:6.2f} s)  "
        f"{mg_run.peak_mb:7.1f} MB peak RSS  "
        f"{mg_lufs:7.2f} LUFS  {mg_tp:6.2f} dBTP"
        + ("  (above 0 dBTP: sample-peak limiter)" if mg_tp > 0.0 else "")
    )
    print(f"time ratio (ours/matchering): {time_ratio:.3f} (goal <= {TIME_GOAL:.3f})")
    # On a shared machine wall time follows the load; CPU time (user + sys) much less so.
    cpu_ratio = ours_run.cpu_s / mg_run.cpu_s
    print(f"cpu time ratio (ours/matchering): {cpu_ratio:.3f} (for information)")
    print(f"peak RSS ratio (ours/matchering): {rss_ratio:.3f} (goal <= {RSS_GOAL:.3f})")
    print(f"our peak RSS: {ours_run.peak_mb:.0f} MB (budget {rss_budget_mb:.0f} MB)")
    return goals_verdict(
        {
            "time": time_ratio <= TIME_GOAL,
            "rss ratio": rss_ratio <= RSS_GOAL,
            "rss budget": ours_run.peak_mb <= rss_budget_mb,
        }
    )


if __name__ == "__main__":
    sys.exit(main())

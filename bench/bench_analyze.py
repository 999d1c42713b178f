"""Benchmark ``mixmaster analyze`` against ffmpeg's EBU R128 meter on a 5-minute track.

Generates a 5-minute 44.1 kHz stereo music-like WAV (``tests.signals.programme``, 24-bit, written
with :mod:`mixmaster.wavio`), then in the same run:

- byte-compiles the package first, as ``pip install`` does (an editable install is not, and
  with ``PYTHONDONTWRITEBYTECODE`` set every run would compile its sources again: ~60 ms);
- times ``python -m mixmaster analyze FILE --json`` as a subprocess (start-up included) and
  ``ffmpeg -nostats -i FILE -af ebur128=peak=true -f null -``, best of ``--runs`` (5) each,
  interleaved (the machine is shared: single runs of either tool vary by a third here, so the
  minimum over several is the least disturbed measurement);
- reads the peak RSS and CPU time of each subprocess from ``os.wait4``'s per-child resource
  usage (CPU time is printed as a steadier reading on a shared machine; the goal is wall time);
- prints the integrated loudness and true peak of both tools side by side;
- prints where our time goes: import, WAV read and each analysis stage, measured in-process
  through the ``progress`` callback.

Goals (the script exits 1 if one is missed): time ratio analyze/ffmpeg <= 0.5; peak RSS <=
3 x the audio as float32 + 150 MB; integrated loudness within 0.15 LU of ffmpeg's (which prints
one decimal). Run from the repository root: ``.venv/bin/python bench/bench_analyze.py``.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import itertools
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for tests.signals

from children import Child, goals_verdict, run_child  # noqa: E402

TIME_RATIO_GOAL = 0.5
RSS_OVERHEAD_MB = 150.0
LOUDNESS_TOLERANCE_LU = 0.15
MB = 1024.0 * 1024.0


def ffmpeg_summary(stderr: str) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBFS) from ffmpeg's ebur128 summary."""
    summary = stderr[stderr.rfind("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if integrated is None or peak is None:
        raise SystemExit("could not parse ffmpeg's ebur128 summary")
    return float(integrated.group(1)), float(peak.group(1))


def stage_times(path: Path) -> list[tuple[str, float]]:
    """In-process breakdown: import, read, and each analysis stage (via ``progress``)."""
    t0 = time.perf_counter()
    from mixmaster.analyze import analyze
    from mixmaster.wavio import read_audio

    times = [("import mixmaster.analyze (numpy)", time.perf_counter() - t0)]
    t0 = time.perf_counter()
    audio = read_audio(path)
    times.append(("read WAV", time.perf_counter() - t0))
    marks: list[tuple[str, float]] = []

    def progress(stage: str, _fraction: float) -> None:
        marks.append((stage, time.perf_counter()))

    analyze(audio.samples, audio.info.sample_rate_hz, progress)
    for (stage, start), (_next, stop) in itertools.pairwise(marks):
        label = "levels + loudness" if stage == "loudness" else stage
        times.append((label, stop - start))
    return times


def write_programme(path: str, duration_s: float) -> None:
    """Write the benchmark track: music-like stereo at 44.1 kHz, 24-bit."""
    from tests.signals import programme

    from mixmaster.wavio import write_wav

    x = programme(duration_s, 44_100, tempo_bpm=124.0, level_dbfs_rms=-16.0)
    write_wav(path, x, 44_100, "24")


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--write-programme":
        write_programme(sys.argv[2], float(sys.argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=300.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    fs = 44_100
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "programme.wav"
        print(f"generating {args.duration_s:.0f} s of 44.1 kHz stereo programme ...", flush=True)
        # In a child process: Linux charges a parent's peak RSS to the children it starts
        # (vfork + exec), so this process must never hold the big signal itself.
        subprocess.run(
            [sys.executable, __file__, "--write-programme", str(path), str(args.duration_s)],
            check=True,
        )
        float32_mb = 2 * round(args.duration_s * fs) * 4 / MB
        spec = importlib.util.find_spec("mixmaster")  # finds the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("mixmaster is not installed (make setup)")
        compileall.compile_dir(spec.submodule_search_locations[0], quiet=1)

        ours = [sys.executable, "-m", "mixmaster", "analyze", str(path), "--json"]
        ffmpeg = ["ffmpeg", "-nostats", "-hide_banner", "-i", str(path)]
        ffmpeg += ["-af", "ebur128=peak=true", "-f", "null", "-"]
        ours_runs: list[Child] = []
        ffmpeg_runs: list[Child] = []
        try:
            for _ in range(args.runs):  # interleaved, so load changes hit both alike
                ours_runs.append(run_child(ours))
                ffmpeg_runs.append(run_child(ffmpeg))
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None
        features = json.loads(ours_runs[0].stdout)
        ff_lufs, ff_peak = ffmpeg_summary(ffmpeg_runs[0].stderr)
        stages = stage_times(path)

    ours_s = min(r.wall_s for r in ours_runs)
    ffmpeg_s = min(r.wall_s for r in ffmpeg_runs)
    rss_mb = max(r.peak_mb for r in ours_runs)
    budget_mb = 3.0 * float32_mb + RSS_OVERHEAD_MB
    ratio = ours_s / ffmpeg_s
    lufs_diff = features["integrated_lufs"] - ff_lufs

    print(f"analyze: {', '.join(f'{r.wall_s:.2f}' for r in ours_runs)} s (best {ours_s:.2f} s)")
    print(f"ffmpeg:  {', '.join(f'{r.wall_s:.2f}' for r in ffmpeg_runs)} s (best {ffmpeg_s:.2f} s)")
    print(f"analyze/ffmpeg time ratio: {ratio:.2f} (goal <= {TIME_RATIO_GOAL})")
    ours_cpu_s = min(r.cpu_s for r in ours_runs)
    ffmpeg_cpu_s = min(r.cpu_s for r in ffmpeg_runs)
    print(
        f"CPU time (user + sys), best: analyze {ours_cpu_s:.2f} s, ffmpeg {ffmpeg_cpu_s:.2f} s, "
        f"ratio {ours_cpu_s / ffmpeg_cpu_s:.2f} (less disturbed by other load; the goal is wall)"
    )
    print(
        f"peak RSS: {rss_mb:.0f} MB, budget 3x float32 + {RSS_OVERHEAD_MB:.0f} MB = "
        f"{budget_mb:.0f} MB (audio as float32: {float32_mb:.0f} MB)"
    )
    print(
        f"integrated loudness: mixmaster {features['integrated_lufs']:.2f} LUFS, ffmpeg "
        f"{ff_lufs:.1f} LUFS (diff {lufs_diff:+.2f} LU, goal within ±{LOUDNESS_TOLERANCE_LU})"
    )
    print(f"true peak: mixmaster {features['true_peak_dbtp']:.2f} dBTP, ffmpeg {ff_peak:.1f} dBTP")
    print("where the time goes (in-process, one run):")
    for label, seconds in stages:
        print(f"  {label:<42} {seconds:6.3f} s")
    analysis_s = sum(seconds for _label, seconds in stages[2:])
    print(
        f"in-process analysis only (no start-up, import or read): {analysis_s:.2f} s, "
        f"ratio to ffmpeg {analysis_s / ffmpeg_s:.2f}"
    )

    return goals_verdict(
        {
            "time ratio": ratio <= TIME_RATIO_GOAL,
            "peak RSS": rss_mb <= budget_mb,
            "loudness agreement": abs(lufs_diff) <= LOUDNESS_TOLERANCE_LU,
        }
    )


if __name__ == "__main__":
    raise SystemExit(main())

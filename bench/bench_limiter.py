"""Bench: the true-peak limiter on 5 minutes of 44.1 kHz stereo, and its control-rate release.

1. Runs :class:`mixmaster.limiter.LimiterProcessor` over a generated programme (``tests.signals``)
   driven ~9 dB into the limiter, in 65536-sample chunks as the pipeline does, and prints the
   best of ``--repeat`` runs (wall and CPU time) with its ratio to the 0.6 s target. Because the
   machine is shared, it also prints the time in units of reference passes that load does not
   skew: a plain 2-section ``sosfilt`` over the same audio, and one BS.1770 true-peak measurement
   of it (:func:`mixmaster.truepeak.true_peak_lin`).
2. Times the release recursion ``gr[i] = max(target[i], a * gr[i - 1])`` three ways on the same
   required-gain signal: a per-sample Python loop at audio rate (before), a Python loop at the
   limiter's control rate (one value per 16 samples), and the closed form the limiter uses (a
   running maximum in the log domain, vectorised), and prints the speedups.

OpenBLAS's own threads slow small matrix products down badly when the two cores are shared:
compare a run with ``OPENBLAS_NUM_THREADS=1``.

Usage: ``python bench/bench_limiter.py [--minutes 5] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import signals  # noqa: E402
from mixmaster import truepeak  # noqa: E402
from mixmaster.limiter import LimiterProcessor, design_limiter  # noqa: E402
from mixmaster.params import LimiterParams  # noqa: E402

FS = 44_100
CHUNK = 65_536
TARGET_S = 0.6


def programme(minutes: float) -> np.ndarray:
    """Music-like stereo, ~9 dB above a -1 dBTP ceiling at its peaks (a few dB of limiting)."""
    one = signals.programme(30.0, FS, 2, level_dbfs_rms=-8.0)
    reps = max(1, round(minutes * 2))
    return np.concatenate([one] * reps, axis=1)


def run_limiter(x: np.ndarray) -> tuple[float, float, dict[str, object]]:
    """Chunked limiter over ``x`` (output into a preallocated buffer); wall, CPU, stats."""
    out = np.empty_like(x)
    proc = LimiterProcessor(FS, x.shape[0], LimiterParams(ceiling_dbtp=-1.0))
    lat = proc.latency_samples
    t0, c0 = time.perf_counter(), time.process_time()
    n = x.shape[1]
    for pos in range(0, n + lat, CHUNK):
        chunk = x[:, pos : pos + CHUNK] if pos < n else np.zeros((2, min(CHUNK, n + lat - pos)))
        if chunk.shape[1] < CHUNK and pos < n:
            chunk = np.concatenate(
                [chunk, np.zeros((2, min(CHUNK, n + lat - pos) - chunk.shape[1]))], axis=1
            )
        y = proc.process(chunk)
        lo, hi = max(pos - lat, 0), min(pos - lat + y.shape[1], n)
        if hi > lo:
            out[:, lo:hi] = y[:, lo - (pos - lat) : hi - (pos - lat)]
    return time.perf_counter() - t0, time.process_time() - c0, proc.stats()


def reference_sosfilt(x: np.ndarray) -> float:
    sos = signal.butter(4, 1000.0, fs=FS, output="sos")
    t0 = time.process_time()
    signal.sosfilt(sos, x, axis=1)
    return time.process_time() - t0


def reference_true_peak(x: np.ndarray) -> float:
    t0 = time.process_time()
    truepeak.true_peak_lin(x, FS)
    return time.process_time() - t0


def release_per_sample(target_db: np.ndarray, a: float) -> np.ndarray:
    out = np.empty_like(target_db)
    prev = 0.0
    for i, t in enumerate(target_db.tolist()):
        prev = max(t, a * prev)
        out[i] = prev
    return out


def release_closed_form(target_db: np.ndarray, log_a: float) -> np.ndarray:
    idx = np.arange(target_db.shape[0], dtype=np.float64)
    with np.errstate(divide="ignore"):
        v = np.log(target_db) - idx * log_a
    return np.exp(idx * log_a + np.maximum.accumulate(v))


def bench_release(x: np.ndarray, repeat: int) -> None:
    d = design_limiter(FS, LimiterParams())
    b = d.block_samples
    peak = np.abs(x).max(axis=0)
    n = peak.shape[0] // b * b
    target_audio = np.maximum(0.0, 20.0 * np.log10(np.maximum(peak[:n], 1e-12) / 0.8))
    target_block = target_audio.reshape(-1, b).max(axis=1)
    a_sample = math.exp(d.release_log_per_block / b)
    a_block = math.exp(d.release_log_per_block)

    def best(f, *args) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(repeat):
            t0 = time.process_time()
            f(*args)
            times.append(time.process_time() - t0)
        return min(times)

    t_sample = best(release_per_sample, target_audio, a_sample)
    t_block = best(release_per_sample, target_block, a_block)
    t_closed = best(release_closed_form, target_block, d.release_log_per_block)
    loop = release_per_sample(target_block, a_block)
    closed = release_closed_form(target_block, d.release_log_per_block)
    err = float(np.max(np.abs(loop - closed) / np.maximum(loop, 1e-9)))
    print(f"release recursion over {x.shape[1] / FS / 60:.1f} min (CPU s, best of {repeat}):")
    print(f"  per-sample Python loop (before)  {t_sample:8.3f}")
    print(f"  control-rate Python loop ({b:2d})   {t_block:8.3f}   x{t_sample / t_block:7.1f}")
    print(f"  control-rate closed form (after) {t_closed:8.4f}   x{t_sample / t_closed:7.0f}")
    print(f"  closed form vs loop: max relative difference {err:.1e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    x = programme(args.minutes)
    minutes = x.shape[1] / FS / 60
    print(f"limiter on {minutes:.1f} min of 44.1 kHz stereo, chunks of {CHUNK} samples")
    runs = [run_limiter(x) for _ in range(args.repeat)]
    wall = min(r[0] for r in runs)
    cpu = min(r[1] for r in runs)
    stats = runs[0][2]
    ref_sos = min(reference_sosfilt(x) for _ in range(args.repeat))
    ref_tp = min(reference_true_peak(x) for _ in range(args.repeat))
    scale = 5.0 / minutes
    print(f"  wall {wall:.3f} s, CPU {cpu:.3f} s (best of {args.repeat})")
    print(
        f"  per 5 min: wall {wall * scale:.3f} s = {wall * scale / TARGET_S:.2f} x the 0.6 s target"
    )
    print(
        f"  in reference passes: {cpu / ref_sos:.1f} x sosfilt(2 sections) ({ref_sos:.3f} s), "
        f"{cpu / ref_tp:.2f} x true_peak_lin ({ref_tp:.3f} s)"
    )
    print(
        "  gain reduction: max {:.2f} dB, mean {:.2f} dB, p99 {:.2f} dB; guard repairs {}".format(
            stats["max_gain_reduction_db"],
            stats["mean_gain_reduction_db"],
            stats["p99_gain_reduction_db"],
            stats["guard_repairs"],
        )
    )
    bench_release(x, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())

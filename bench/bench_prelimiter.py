"""Bench: the pre-limiter chain (high-pass, EQ, compressor, stereo, saturation) on 5 minutes.

Runs each stage's processor over a generated 44.1 kHz stereo programme (``tests.signals``) in
65536-sample chunks, as the pipeline does, with every stage engaged at typical settings, and
prints the best of ``--repeat`` runs per stage, the total and its ratio to the 1.5 s budget.
Because the machine is shared, it also prints each stage in units of one reference pass (a plain
2-section ``sosfilt`` over the same audio), a measure that load does not skew. It also times the
compressor's attack/release recursion three ways on the same control signal -- a per-sample
Python loop at audio rate, a Python loop at the 0.5 ms control rate, and the closed form the
compressor uses -- and prints the speedups. Exits 1 if the chain misses its budget.

Usage: ``python bench/bench_prelimiter.py [--minutes 5]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import signals  # noqa: E402
from mixmaster.dynamics import CompressorProcessor, control_block_samples  # noqa: E402
from mixmaster.eq import EqProcessor  # noqa: E402
from mixmaster.highpass import HighpassProcessor  # noqa: E402
from mixmaster.params import (  # noqa: E402
    CompressorParams,
    EqParams,
    HighpassParams,
    SaturationParams,
    StereoParams,
)
from mixmaster.saturation import SaturationProcessor  # noqa: E402
from mixmaster.stereo import StereoProcessor  # noqa: E402

FS = 44_100
CHUNK = 65_536
BUDGET_S = 1.5

STAGES: list[tuple[str, Any, Any]] = [
    ("highpass", HighpassProcessor, HighpassParams(cutoff_hz=25.0)),
    (
        "eq",
        EqProcessor,
        EqParams(
            tilt_db_per_oct=0.5,
            low_shelf_gain_db=1.5,
            high_shelf_gain_db=1.0,
            peak2_gain_db=-2.0,
            peak3_gain_db=1.0,
        ),
    ),
    ("compressor", CompressorProcessor, CompressorParams()),
    (
        "stereo",
        StereoProcessor,
        StereoParams(low_width=0.8, high_width=1.15, mono_below_hz=100.0),
    ),
    ("saturation", SaturationProcessor, SaturationParams(drive_db=3.0, amount=0.5)),
]


def run_stage(
    proc: Any, x: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, float, float]:
    """Run ``proc`` over ``x`` in chunks into ``out``; returns it, wall time and CPU time.

    Pass a preallocated, already touched ``out`` so that first-touch page faults of a fresh
    200 MB array are not charged to the stage.
    """
    if out is None:
        out = np.empty_like(x)
    t0, c0 = time.perf_counter(), time.process_time()
    for pos in range(0, x.shape[1], CHUNK):
        out[:, pos : pos + CHUNK] = proc.process(x[:, pos : pos + CHUNK])
    return out, time.perf_counter() - t0, time.process_time() - c0


def reference_pass(x: np.ndarray) -> float:
    """CPU time of one 2-section Butterworth ``sosfilt`` over ``x`` in chunks (the yardstick)."""
    sos = signal.butter(4, 1000.0, fs=FS, output="sos")
    zi = np.zeros((sos.shape[0], x.shape[0], 2))
    c0 = time.process_time()
    for pos in range(0, x.shape[1], CHUNK):
        _, zi = signal.sosfilt(sos, x[:, pos : pos + CHUNK], zi=zi)
    return time.process_time() - c0


def release_loop_audio_rate(target_db: np.ndarray, a_r: float, a_a: float) -> np.ndarray:
    """The naive decoupled peak detector: one Python iteration per audio sample."""
    y1 = y = 0.0
    out = np.empty_like(target_db)
    for i, t in enumerate(target_db.tolist()):
        y1 = max(t, a_r * y1)
        y = a_a * y + (1.0 - a_a) * y1
        out[i] = y
    return out


def bench_recursion(minutes: float) -> None:
    n = round(minutes * 60 * FS)
    b = control_block_samples(FS)
    rng = np.random.default_rng(0)
    target = np.maximum(0.0, rng.standard_normal(n)) * 6.0  # gain-reduction targets, dB
    a_r, a_a = math.exp(-1 / (0.15 * FS)), math.exp(-1 / (0.015 * FS))
    # Audio-rate Python loop, timed on 10 s and scaled.
    part = target[: 10 * FS]
    t0 = time.perf_counter()
    release_loop_audio_rate(part, a_r, a_a)
    t_audio = (time.perf_counter() - t0) * n / part.size
    blocks = target[: n // b * b].reshape(-1, b).max(axis=1)
    a_rb, a_ab = a_r**b, a_a**b
    t0 = time.perf_counter()
    release_loop_audio_rate(blocks, a_rb, a_ab)
    t_block = time.perf_counter() - t0
    params = CompressorParams()
    proc = CompressorProcessor(FS, 1, params)
    one_band = blocks[None, :].repeat(proc.bands, axis=0)
    t0 = time.perf_counter()
    for start in range(0, one_band.shape[1], CHUNK // b):
        proc._block_gains(10.0 ** (-one_band[:, start : start + CHUNK // b] / 20.0))
    t_closed = (time.perf_counter() - t0) / proc.bands
    print(f"attack/release recursion over {minutes:g} min, one band (per-band cost):")
    print(f"  python loop, audio rate   {t_audio:8.3f} s (estimated from 10 s)")
    print(f"  python loop, 0.5 ms rate  {t_block:8.3f} s   speedup x{t_audio / t_block:,.0f}")
    print(
        f"  closed form, 0.5 ms rate  {t_closed:8.3f} s   speedup x{t_audio / t_closed:,.0f}"
        f" (x{t_block / t_closed:,.1f} over the block-rate loop)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--repeat", type=int, default=3, help="runs per stage; the best counts")
    args = parser.parse_args()
    x = signals.programme(args.minutes * 60, FS, channels=2, level_dbfs_rms=-16.0)
    print(f"pre-limiter chain, {args.minutes:g} min of {FS} Hz stereo, {CHUNK}-sample chunks:")
    ref = min(reference_pass(x) for _ in range(args.repeat))
    print(f"  reference pass (2-section sosfilt): {ref:.3f} s cpu")
    total = total_cpu = 0.0
    for name, cls, params in STAGES:
        out = np.ones_like(x)
        runs = [run_stage(cls(FS, 2, params), x, out) for _ in range(args.repeat)]
        x = out
        dt = min(r[1] for r in runs)
        cpu = min(r[2] for r in runs)
        total += dt
        total_cpu += cpu
        print(f"  {name:<11} {dt:6.3f} s wall  {cpu:6.3f} s cpu  {cpu / ref:5.2f} passes")
    print(
        f"  {'total':<11} {total:6.3f} s wall  {total_cpu:6.3f} s cpu"
        f"  {total_cpu / ref:5.2f} passes   budget {BUDGET_S} s   ratio {total / BUDGET_S:.2f}"
    )
    bench_recursion(args.minutes)
    return 0 if total <= BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())

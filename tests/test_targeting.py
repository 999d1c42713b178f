"""Tests of ``mixmaster.targeting``: exact envelope loudness, the limiter model, the solver."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import signals
from mixmaster.limiter import LimiterProcessor
from mixmaster.loudness import LoudnessMeter, measure_loudness
from mixmaster.params import LimiterParams
from mixmaster.processor import run_whole
from mixmaster.targeting import EnvelopeCollector, LimiterModel, depth_shift_db, solve_gain


def _envelope(x: np.ndarray, fs: int, chunk: int = 65_536) -> EnvelopeCollector:
    env = EnvelopeCollector(fs, x.shape[0], x.shape[1])
    for start in range(0, x.shape[1], chunk):
        env.add(x[:, start : start + chunk])
    return env


@pytest.mark.parametrize("fs", [8_000, 11_025, 44_100, 48_000, 96_000])
@pytest.mark.parametrize("chunk", [997, 65_536])
@pytest.mark.parametrize("material", ["programme", "bursts", "six_channels", "short"])
def test_integrated_loudness_equals_the_meter(fs: int, chunk: int, material: str) -> None:
    x = {
        "programme": lambda: signals.programme(4.3, fs),
        "bursts": lambda: signals.sine_bursts(3.0, fs, channels=1),
        "six_channels": lambda: signals.pink_noise(-30.0, 1.2, fs, channels=6),
        "short": lambda: signals.pink_noise(-20.0, 0.38, fs),
    }[material]()
    got = _envelope(x, fs, chunk).integrated_lufs()
    expected = measure_loudness(x, fs).integrated_lufs
    if math.isinf(expected):
        assert got == expected
    else:
        assert got == pytest.approx(expected, abs=1e-9)


def test_silence_reads_minus_infinity() -> None:
    env = _envelope(signals.silence(2.0, 48_000), 48_000)
    assert env.integrated_lufs() == -math.inf
    model = LimiterModel(env, -1.0, 120.0, 5.0)
    assert model.depth_db(20.0) == 0.0
    assert model.lufs(20.0) == -math.inf


@pytest.fixture(scope="module")
def programme_model() -> tuple[np.ndarray, LimiterModel]:
    fs = 44_100
    x = signals.programme(8.0, fs)
    return x, LimiterModel(_envelope(x, fs), -1.0, 120.0, 5.0)


def test_model_is_monotonic_in_the_gain(programme_model: tuple[np.ndarray, LimiterModel]) -> None:
    _, model = programme_model
    gains = np.arange(-6.0, 24.0, 0.75)
    lufs = [model.lufs(g) for g in gains]
    depth = [model.depth_db(g) for g in gains]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(lufs))
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(depth))
    assert depth[0] == 0.0  # far below the ceiling nothing is limited
    assert depth[-1] > 10.0
    # limiting only removes loudness: never above the unlimited level
    for g, value in zip(gains, lufs, strict=True):
        assert value <= model.lufs(g, limited=False) + 1e-9


LIMITED_MATERIAL = {
    "programme": lambda fs: signals.programme(8.0, fs),
    # dense and loud: driven into a soft clipper, as a loud reference is
    "driven": lambda fs: np.tanh(signals.programme(8.0, fs, seed=3) * 5.0) * 0.9,
    # clipped samples: the peaks between them stand several dB above the sample peaks
    "clipped_drums": lambda fs: signals.clipped_drums(8.0, fs),
}


@pytest.mark.parametrize("material", sorted(LIMITED_MATERIAL))
@pytest.mark.parametrize("gain_db", [0.0, 6.0, 13.0])
def test_model_predicts_the_real_limiter(material: str, gain_db: float) -> None:
    """Within 0.12 LU and 0.15 dB of depth once the peaks between samples are in the model."""
    fs = 44_100
    x = LIMITED_MATERIAL[material](fs)
    envelope = _envelope(x, fs)
    envelope.raise_to_interpolated_peaks(x.astype(np.float32), 0.0)
    model = LimiterModel(envelope, -1.0, 120.0, 5.0)
    params = LimiterParams(ceiling_dbtp=-1.0)
    limiter = LimiterProcessor(fs, 2, params)
    y = run_whole(limiter, x * 10.0 ** (gain_db / 20.0))
    meter = LoudnessMeter(fs, 2)
    meter.process(y)
    offset = measure_loudness(x, fs).integrated_lufs - model.lufs(0.0, limited=False)
    assert model.lufs(gain_db) + offset == pytest.approx(meter.result().integrated_lufs, abs=0.12)
    assert model.depth_db(gain_db) == pytest.approx(
        limiter.stats()["p99_gain_reduction_db"], abs=0.15
    )


def test_sample_peaks_alone_miss_the_limiting_of_clipped_samples() -> None:
    # Why the model takes the peaks between samples: clipped drums at unity gain are limited by
    # about 7 dB, which their sample peaks (at full scale, 1 dB over the ceiling) put at 1 dB.
    fs = 44_100
    x = LIMITED_MATERIAL["clipped_drums"](fs)
    envelope = _envelope(x, fs)
    plain = LimiterModel(envelope, -1.0, 120.0, 5.0).depth_db(0.0)
    envelope.raise_to_interpolated_peaks(x.astype(np.float32), 0.0)
    raised = LimiterModel(envelope, -1.0, 120.0, 5.0).depth_db(0.0)
    assert plain == pytest.approx(1.0, abs=0.1)
    assert raised > plain + 5.0


def test_interpolated_peaks_below_the_floor_leave_the_sample_peaks() -> None:
    fs = 48_000
    x = signals.programme(4.0, fs, level_dbfs_rms=-30.0)
    envelope = _envelope(x, fs)
    before = envelope.peak_lin.copy()
    envelope.raise_to_interpolated_peaks(x.astype(np.float32), 1.0)  # nothing comes near 0 dBFS
    assert np.array_equal(envelope.peak_lin, before)
    envelope.raise_to_interpolated_peaks(x.astype(np.float32), 0.0)
    assert np.all(envelope.peak_lin >= before)
    assert np.any(envelope.peak_lin > before)


@pytest.mark.parametrize(("aim_lufs", "cap_db"), [(-14.0, 6.0), (-10.0, 6.0), (-9.0, 2.0)])
def test_solve_gain_meets_the_aim_or_the_cap(
    programme_model: tuple[np.ndarray, LimiterModel], aim_lufs: float, cap_db: float
) -> None:
    _, model = programme_model
    start = aim_lufs - model.lufs(0.0, limited=False)
    solution = solve_gain(model, aim_lufs, cap_db, start_db=start)
    assert solution.depth_db <= cap_db + 0.05
    if solution.capped:
        assert solution.lufs < aim_lufs
        assert solution.depth_db >= cap_db - 0.1
    else:
        assert solution.lufs == pytest.approx(aim_lufs, abs=0.02)
    assert solution.lufs == pytest.approx(model.lufs(solution.gain_db), abs=1e-9)


def test_corrections_move_the_solution(programme_model: tuple[np.ndarray, LimiterModel]) -> None:
    _, model = programme_model
    start = -12.0 - model.lufs(0.0, limited=False)
    plain = solve_gain(model, -12.0, 12.0, start_db=start)
    quieter = solve_gain(model, -12.0, 12.0, start_db=start, lufs_offset_lu=-0.5)
    assert quieter.gain_db > plain.gain_db  # the real limiter lost more: push harder
    deeper = solve_gain(model, -9.0, 3.0, start_db=start, depth_shift_db=1.0)
    shallower = solve_gain(model, -9.0, 3.0, start_db=start)
    assert deeper.gain_db < shallower.gain_db


def test_depth_shift_locates_a_measurement(
    programme_model: tuple[np.ndarray, LimiterModel],
) -> None:
    _, model = programme_model
    depth = model.depth_db(12.0)
    assert depth_shift_db(model, 11.0, depth) == pytest.approx(1.0, abs=0.05)
    assert depth_shift_db(model, 12.0, 0.0) == 0.0


@pytest.mark.parametrize(("fs", "changed"), [(96_000, True), (192_000, False)])
def test_interpolated_peaks_follow_the_limiters_detection(fs: int, changed: bool) -> None:
    # The limiter oversamples 2x at 96 kHz and detects sample peaks from 192 kHz: the model's
    # peaks between samples are added where, and only where, the limiter sees them too.
    x = signals.clipped_drums(1.0, fs)
    envelope = _envelope(x, fs)
    before = envelope.peak_lin.copy()
    envelope.raise_to_interpolated_peaks(x.astype(np.float32), 0.0)
    assert (not np.array_equal(envelope.peak_lin, before)) == changed

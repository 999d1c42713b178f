"""Tests of the true-peak lookahead limiter (mixmaster.limiter).

The ceiling is checked with the BS.1770 meter (mixmaster.truepeak) on an adversarial set at every
supported family of rates, channel counts and ceilings, and cross-checked with a 16x FFT
(ideal band-limited) reference on band-limited cases.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

import signals
from mixmaster import truepeak
from mixmaster.errors import InputError, ParamError
from mixmaster.limiter import (
    DETECTION_MARGIN_DB,
    LimiterProcessor,
    _Guard,
    _repair_whole,
    apply_limiter,
    design_limiter,
)
from mixmaster.params import LimiterParams
from mixmaster.processor import run_whole

Audio = npt.NDArray[np.float64]

RATES = (8000, 44100, 48000, 96000, 192000)
CHANNELS = (1, 2, 6)
CEILINGS = (-0.1, -1.0, -2.0)
NULL_LIN = 10.0 ** (-90.0 / 20.0)


def spread(x: Audio, channels: int) -> Audio:
    """``x``'s first channel on ``channels`` channels, each differently scaled and delayed."""
    one = x[0]
    return np.stack([np.roll(one, 3 * k) * (1.0 - 0.1 * k) for k in range(channels)])


def adversarial(fs: int, channels: int) -> dict[str, Audio]:
    """Short signals that are hard on a true-peak limiter (0.15 s each)."""
    d = 0.15
    return {
        "fs/4 sine at 45 deg, +3 dBTP": spread(
            signals.sine(fs / 4, 3.0103, d, fs, 1, 45.0), channels
        ),
        "sine near Nyquist, +6 dB": spread(signals.sine(0.45 * fs, 6.0, d, fs, 1, 30.0), channels),
        "square wave, +6 dB": spread(
            np.sign(signals.sine(fs / 40, 6.0, d, fs, 1, 0.1)) * 2.0, channels
        ),
        "hard-clipped bursts at 4": signals.hard_clipped_bursts(d, fs, channels),
        "bursts clipped at 0 dBFS": signals.hard_clipped_bursts(d, fs, channels, clip_lin=1.0),
        "impulses at 4, first and last sample": signals.impulses(d, fs, channels),
        "DC step to 1.5 and abrupt end": spread(signals.dc_step(d, fs, 1), channels),
        "full-scale white noise": np.clip(signals.white_noise(0.0, d, fs, channels), -1, 1),
    }


def fft_true_peak_dbtp(x: Audio, factor: int = 16, pad: int = 512) -> float:
    """Reference: the peak of the ideal band-limited interpolation, by 16x FFT zero-stuffing of
    the zero-padded signal (independent of mixmaster.truepeak's FIR)."""
    z = np.pad(x, ((0, 0), (pad, pad)))
    n = z.shape[1]
    up = np.fft.irfft(np.fft.rfft(z, axis=1), n=n * factor, axis=1) * factor
    return 20.0 * math.log10(float(np.max(np.abs(up))))


@pytest.mark.parametrize("ceiling_dbtp", CEILINGS)
@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("fs", RATES)
def test_output_true_peak_never_exceeds_ceiling(
    fs: int, channels: int, ceiling_dbtp: float
) -> None:
    params = LimiterParams(ceiling_dbtp=ceiling_dbtp)
    for name, x in adversarial(fs, channels).items():
        assert truepeak.true_peak_dbtp(x, fs) > ceiling_dbtp, name  # the test must bite
        y = apply_limiter(x, fs, params)
        level = truepeak.true_peak_dbtp(y, fs)
        assert level <= ceiling_dbtp, f"{name}: {level:.5f} dBTP > {ceiling_dbtp}"
        # And it limits, rather than muting: within a dB of the gain computer's aim.
        assert level >= ceiling_dbtp - DETECTION_MARGIN_DB - 1.0, name


@pytest.mark.parametrize(
    ("name", "x"),
    [
        (
            "fs/4 sine at 45 deg, +3 dBTP (EBU 3341 case 19)",
            signals.sine(12000, 3.0103, 0.3, 48000, 2, 45.0),
        ),
        ("1 kHz sine, +6 dB", signals.sine(1000, 6.0, 0.3, 48000, 2)),
        ("pink noise in 20 Hz-20 kHz, peaks +10 dB", signals.tilted_noise(0.0, 0.0, 0.3, 48000)),
    ],
)
def test_ceiling_holds_for_ideal_reconstruction_of_band_limited_signals(
    name: str, x: Audio
) -> None:
    """Cross-check with an independent 16x FFT reference (the ideal reconstruction).

    For tones well below Nyquist the BS.1770 meter and the ideal reconstruction agree within
    0.02 dB; noise with content up to 20 kHz reads up to 0.07 dB higher on the ideal one (the
    meter's 4x grid), which the gain computer's margin covers. Above 20 kHz they part: see
    limiter.DETECTION_MARGIN_DB.
    """
    fs = 48000
    y = apply_limiter(x, fs, LimiterParams(ceiling_dbtp=-1.0))
    ideal = fft_true_peak_dbtp(y)
    meter = truepeak.true_peak_dbtp(y, fs)
    assert ideal <= -1.0, name
    assert abs(ideal - meter) < 0.1, name


@pytest.mark.parametrize("fs", (8000, 44100, 96000, 192000))
def test_signals_below_the_ceiling_pass_unchanged(fs: int) -> None:
    ceiling = -1.0
    x = signals.programme(0.5, fs, 2, level_dbfs_rms=-20.0)
    target = ceiling - DETECTION_MARGIN_DB - 0.3
    x = x * 10.0 ** ((target - truepeak.true_peak_dbtp(x, fs)) / 20.0)
    proc = LimiterProcessor(fs, 2, LimiterParams(ceiling_dbtp=ceiling))
    y = run_whole(proc, x, chunk_samples=4096)
    assert np.max(np.abs(y - x)) < NULL_LIN
    assert proc.stats()["max_gain_reduction_db"] == 0.0
    assert proc.stats()["limiting_fraction"] == 0.0


def test_processor_output_is_the_input_delayed_by_its_latency() -> None:
    fs = 48000
    x = signals.sine(440.0, -12.0, 0.2, fs, 2)
    proc = LimiterProcessor(fs, 2, LimiterParams())
    lat = proc.latency_samples
    y = np.concatenate([proc.process(x), proc.process(np.zeros((2, lat)))], axis=1)
    assert y.shape == (2, x.shape[1] + lat)
    assert np.max(np.abs(y[:, :lat])) == 0.0
    assert np.max(np.abs(y[:, lat:] - x)) < NULL_LIN


@pytest.mark.parametrize("chunk", [1, 13, 1000, 4096])
def test_chunked_equals_one_shot(chunk: int) -> None:
    fs = 44100
    seconds = 0.05 if chunk == 1 else 0.6
    x = signals.programme(seconds, fs, 2, level_dbfs_rms=-6.0)
    x[:, -50:] = 3.0  # end on a loud abrupt step
    one = run_whole(LimiterProcessor(fs, 2, LimiterParams()), x, chunk_samples=x.shape[1])
    rng = np.random.default_rng(chunk)
    proc = LimiterProcessor(fs, 2, LimiterParams())
    parts = []
    pos = 0
    n = x.shape[1] + proc.latency_samples
    while pos < n:
        size = chunk if chunk == 1 else int(rng.integers(1, 2 * chunk))
        want = min(size, n - pos)
        piece = x[:, pos : pos + want]
        if piece.shape[1] < want:  # the latency's flush of zeros
            piece = np.concatenate([piece, np.zeros((2, want - piece.shape[1]))], axis=1)
        parts.append(proc.process(piece))
        pos += piece.shape[1]
    many = np.concatenate(parts, axis=1)[:, proc.latency_samples :]
    # float32 BLAS rounding in the detection may depend on the batch: ~1e-7 relative.
    assert np.max(np.abs(many - one)) < 1e-6


@pytest.mark.parametrize(
    "x",
    [
        signals.silence(0.1, 48000),
        np.full((1, 1), 3.0),
        signals.sine(1000.0, 6.0, 0.1, 48000, 2).astype(np.float32),
        signals.hard_clipped_bursts(0.1, 48000, 6),
    ],
    ids=["silence", "one sample", "float32 sine", "six channels"],
)
def test_invariants(x: npt.NDArray[np.floating]) -> None:
    before = x.copy()
    y = apply_limiter(x, 48000, LimiterParams())
    assert np.array_equal(x, before)
    assert y.shape == x.shape
    assert y.dtype == np.float64
    assert np.all(np.isfinite(y))
    assert truepeak.true_peak_dbtp(y, 48000) <= -1.0


def test_gain_reduction_statistics_of_a_steady_over() -> None:
    fs = 48000
    x = signals.sine(1000.0, 3.0, 1.0, fs, 2)  # 3 dB over full scale: 4 dB over a -1 ceiling
    proc = LimiterProcessor(fs, 2, LimiterParams(ceiling_dbtp=-1.0))
    run_whole(proc, x)
    s = proc.stats()
    expected = truepeak.true_peak_dbtp(x, fs) + 1.0 + DETECTION_MARGIN_DB
    assert s["max_gain_reduction_db"] == pytest.approx(expected, abs=0.02)
    assert s["p99_gain_reduction_db"] == pytest.approx(expected, abs=0.02)
    # The gain ramps down over the lookahead before the start: a few blocks below the steady GR.
    assert s["mean_gain_reduction_db"] == pytest.approx(expected, abs=0.1)
    assert s["limiting_fraction"] == pytest.approx(1.0, abs=0.01)
    assert s["guard_unresolved"] == 0


def test_gain_reduction_statistics_of_one_hit() -> None:
    fs = 48000
    x = signals.sine(200.0, -20.0, 2.0, fs, 1)
    x[0, fs // 2] = 4.0  # one hit: 12 dB over full scale
    proc = LimiterProcessor(fs, 1, LimiterParams(ceiling_dbtp=-1.0, release_ms=100.0))
    run_whole(proc, x)
    s = proc.stats()
    assert s["max_gain_reduction_db"] == pytest.approx(
        20.0 * math.log10(4.0) + 1.0 + DETECTION_MARGIN_DB, abs=0.05
    )
    assert s["p99_gain_reduction_db"] < s["max_gain_reduction_db"]
    # Limiting lasts about the lookahead plus a few release time constants, not the whole file.
    assert 0.05 < s["limiting_fraction"] * 2.0 < 0.6
    assert 0.0 < s["mean_gain_reduction_db"] < 1.0


def test_attack_uses_the_lookahead_and_release_follows_release_ms() -> None:
    fs = 48000
    lookahead_ms, release_ms = 5.0, 100.0
    n = fs
    x = np.full((1, n), 0.01)  # -40 dBFS DC carrier: the gain is y / x
    hit = n // 4
    x[0, hit] = 4.0
    y = apply_limiter(x, fs, LimiterParams(lookahead_ms=lookahead_ms, release_ms=release_ms))
    gain = y[0] / x[0]
    gr_db = -20.0 * np.log10(gain)
    peak_gr = 20.0 * math.log10(4.0) + 1.0 + DETECTION_MARGIN_DB
    assert gr_db[hit] == pytest.approx(peak_gr, abs=0.05)
    # Attack: the gain falls only within the lookahead (plus the filter's half support and a
    # control block) before the hit.
    lookahead = round(lookahead_ms * fs / 1000)
    assert np.max(gr_db[: hit - lookahead - 16 - 16]) == 0.0
    assert gr_db[hit - lookahead // 2] > 1.0
    # Release: the reduction in dB decays exponentially, time constant release_ms (measured
    # after the hold and the smoothing, which take about one lookahead).
    after = gr_db[hit + 2 * lookahead :]
    start = after[0]
    tau = np.argmax(after < start / math.e) / fs * 1000.0
    assert tau == pytest.approx(release_ms, rel=0.1)


@pytest.mark.parametrize("margin_db", [0.0, 0.5, 3.0])
def test_ceiling_margin_lowers_the_guaranteed_ceiling(margin_db: float) -> None:
    fs = 44100
    x = signals.hard_clipped_bursts(0.2, fs, 2)
    proc = LimiterProcessor(fs, 2, LimiterParams(ceiling_dbtp=-1.0), ceiling_margin_db=margin_db)
    y = run_whole(proc, x)
    level = truepeak.true_peak_dbtp(y, fs)
    assert -1.0 - margin_db - DETECTION_MARGIN_DB - 0.01 <= level <= -1.0 - margin_db


def limited_with_peak_bounds(
    x: Audio, fs: int, params: LimiterParams, chunk: int
) -> tuple[Audio, tuple[float, float]]:
    """The limiter's output of ``x`` and its true-peak bounds, having fed twice the latency in
    zeros after ``x`` (so that every point of the output is final)."""
    proc = LimiterProcessor(fs, x.shape[0], params)
    lat = proc.latency_samples
    padded = np.concatenate([x, np.zeros((x.shape[0], 2 * lat))], axis=1)
    y = np.concatenate(
        [proc.process(padded[:, i : i + chunk]) for i in range(0, padded.shape[1], chunk)],
        axis=1,
    )
    return y[:, lat : lat + x.shape[1]], proc.output_peak_lin()


@pytest.mark.parametrize("fs", [8000, 44100, 96000])
@pytest.mark.parametrize("channels", [1, 2])
def test_output_peak_bounds_hold_the_measured_true_peak(fs: int, channels: int) -> None:
    signals_ = adversarial(fs, channels) | {
        "programme": signals.programme(2.0, fs, channels=channels, level_dbfs_rms=-10.0),
        "quiet programme": signals.programme(2.0, fs, channels=channels, level_dbfs_rms=-40.0),
    }
    for name, x in signals_.items():
        y, (lower, upper) = limited_with_peak_bounds(x, fs, LimiterParams(), 4096)
        measured = float(truepeak.true_peak_lin(y, fs).max())
        # The meter interpolates in float32: within 2e-5 of the exact value.
        assert lower * (1.0 - 2e-5) <= measured <= upper * (1.0 + 2e-5), name
        assert upper <= lower * (1.0 + 1e-4), name


def test_guard_repairs_modulation_overshoot() -> None:
    """Regression: a 1 ms lookahead at 8 kHz ramps the gain within one filter support; the
    interpolation of gain x signal then overshoots the ceiling and the guard must repair it."""
    fs = 8000
    x = signals.sine(3500.0, 20.0 * math.log10(0.9), 0.5, fs, 1, phase_deg=math.degrees(1.0))
    x[0, 2000:2003] += 4.0
    proc = LimiterProcessor(
        fs, 1, LimiterParams(ceiling_dbtp=-1.0, lookahead_ms=1.0, release_ms=10.0)
    )
    y = run_whole(proc, x)
    s = proc.stats()
    assert s["guard_repairs"] >= 1
    assert s["guard_unresolved"] == 0
    level = truepeak.true_peak_dbtp(y, fs)
    assert -1.001 <= level <= -1.0


@pytest.mark.parametrize("fs", [16000, 22050, 44100, 96000])
def test_overshoot_before_the_first_sample_is_limited(fs: int) -> None:
    """Regression: the interpolated points just before sample 0 (reading zeros and the first
    samples) were neither detected nor verified; a loud near-Nyquist sine that starts
    abruptly rings there, 1.5 dB over the ceiling."""
    x = signals.sine(0.47 * fs, 12.0, 0.2, fs, 2, phase_deg=-60.0)
    y = apply_limiter(x, fs, LimiterParams(ceiling_dbtp=-7.0))
    assert truepeak.true_peak_dbtp(y, fs) <= -7.0
    reversed_y = apply_limiter(x[:, ::-1].copy(), fs, LimiterParams(ceiling_dbtp=-7.0))
    assert truepeak.true_peak_dbtp(reversed_y, fs) <= -7.0  # and after the last sample


def feed_guard(guard: _Guard, g: Audio, x: Audio, pieces: int) -> Audio:
    """Run the guard over ``g * x`` (whole blocks) in ``pieces`` pushes and a flush."""
    d = guard.d
    b = d.block_samples
    nblk = g.shape[0] // b
    ax = np.abs(x).max(axis=0)
    # A valid detection bound per block: L1 times max |x| over its points' supports.
    pp = np.array(
        [
            d.l1 * ax[max(0, i * b - d.support_before) : i * b + b + d.support_after].max()
            for i in range(nblk)
        ]
    )
    outs = []
    for blocks in np.array_split(np.arange(nblk), pieces):
        s0, s1 = blocks[0] * b, (blocks[-1] + 1) * b
        gb = g[s0:s1].reshape(-1, b)
        guard.push(
            g[s0:s1].copy(),
            x[:, s0:s1].copy(),
            pp[blocks],
            pp[blocks] / d.l1,
            gb.max(axis=1),
            gb.min(axis=1),
        )
        outs += guard.run()[0]
    z = 3 * d.round_samples
    zb = np.zeros(z // b)
    guard.push(np.ones(z), np.zeros((x.shape[0], z)), zb, zb, zb + 1.0, zb + 1.0)
    outs += guard.run()[0]
    return np.concatenate(outs, axis=1)[:, : g.shape[0]]


@pytest.mark.parametrize("gentle_passes", [0, 8])
@pytest.mark.parametrize("seed", range(4))
def test_guard_repairs_any_abrupt_gain_curve(gentle_passes: int, seed: int) -> None:
    """The guard alone, on gain curves far from what the gain computer makes: random steps
    that put the output up to 6 dB over the ceiling. Gentle repairs only (8) or only the
    permanent ones (0): both end with every interpolated point at or below the ceiling."""
    fs = 44100
    d = design_limiter(fs, LimiterParams(ceiling_dbtp=-1.0))
    rng = np.random.default_rng(seed)
    n = 400 * d.block_samples
    x = signals.white_noise(-10.0, n / fs, fs, 2, seed=seed)
    if seed % 2:
        x = np.diff(x, axis=1, prepend=0.0)  # high-frequency heavy
    steps = np.repeat(rng.uniform(0.3, 1.0, n // 64 + 1), 64)[:n]
    g = steps * d.ceiling_lin / float(np.max(truepeak.true_peak_lin(x, fs))) * 2.0
    guard = _Guard(d, 2, gentle_passes=gentle_passes)
    y = feed_guard(guard, g, x, pieces=5)
    assert truepeak.true_peak_dbtp(g * x, fs) > -1.0 + 3.0
    assert truepeak.true_peak_dbtp(y, fs) <= -1.0
    assert guard.repairs + guard.permanent_repairs > 0
    assert guard.permanent_repairs > 0 if gentle_passes == 0 else guard.repairs > 0


@pytest.mark.parametrize("fs", [8000, 48000, 96000])
def test_whole_signal_repair_makes_any_signal_safe(fs: int) -> None:
    """The fallback apply_limiter uses for points the guard could not repair in a stream."""
    d = design_limiter(fs, LimiterParams(ceiling_dbtp=-1.0))
    x = signals.hard_clipped_bursts(0.1, fs, 2, clip_lin=2.0)
    x[:, 0] = 2.0  # an abrupt start too
    bad = np.arange(-d.support_after, x.shape[1] + d.support_before)
    y = _repair_whole(x, d, bad.tolist())
    assert truepeak.true_peak_dbtp(y, fs) <= -1.0
    assert np.all(np.abs(y) <= np.abs(x))


def test_latency_and_design_values() -> None:
    d = design_limiter(44100, LimiterParams(lookahead_ms=5.0))
    assert d.factor == truepeak.oversampling_factor(44100) == 4
    assert d.ramp_blocks * d.block_samples == pytest.approx(5.0 * 44.1, abs=d.block_samples)
    proc = LimiterProcessor(44100, 2, LimiterParams(lookahead_ms=5.0))
    assert proc.latency_samples == d.latency_samples
    assert proc.stats()["latency_samples"] == d.latency_samples
    assert design_limiter(192000, LimiterParams()).factor == 1


def test_bad_input_gives_typed_errors() -> None:
    p = LimiterParams()
    with pytest.raises(InputError) as e:
        LimiterProcessor(7000, 2, p)
    assert e.value.code == "unsupported_sample_rate"
    for channels in (0, 9, True, 2.0):
        with pytest.raises(InputError) as e:
            LimiterProcessor(48000, channels, p)  # type: ignore[arg-type]
        assert e.value.code == "bad_layout"
    for margin in (-0.1, 6.5, float("nan"), "1"):
        with pytest.raises(ParamError) as pe:
            LimiterProcessor(48000, 2, p, ceiling_margin_db=margin)  # type: ignore[arg-type]
        assert pe.value.code == "out_of_range"
    with pytest.raises(ParamError) as pe:
        LimiterProcessor(48000, 2, {"ceiling_dbtp": -1.0})  # type: ignore[arg-type]
    assert pe.value.code == "bad_type"
    proc = LimiterProcessor(48000, 2, p)
    with pytest.raises(InputError) as e:
        proc.process(np.zeros((1, 10)))
    assert e.value.code == "bad_layout"
    bad = np.zeros((2, 10))
    bad[1, 3] = np.nan
    with pytest.raises(InputError) as e:
        proc.process(bad)
    assert e.value.code == "non_finite"
    with pytest.raises(InputError) as e:
        apply_limiter(np.zeros(100), 48000, p)
    assert e.value.code == "bad_layout"
    with pytest.raises(InputError) as e:
        apply_limiter(np.zeros((2, 0)), 48000, p)
    assert e.value.code == "empty_audio"
    assert proc.process(np.zeros((2, 0))).shape == (2, 0)

"""Tests for mixmaster.loudness: BS.1770-4 K-weighting and gating, EBU Tech 3341 / 3342 cases."""

from __future__ import annotations

import itertools
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from scipy import signal as sps

import signals
from mixmaster import loudness
from mixmaster.errors import InputError
from mixmaster.loudness import (
    LoudnessMeter,
    channel_weights,
    integrated_loudness,
    k_weighting_sos,
    measure_loudness,
)
from mixmaster.wavio import write_wav

# BS.1770-4 Annex 1, Tables 1 and 2: the K-weighting coefficients published for 48 kHz.
BS1770_SHELF_48K = [1.53512485958697, -2.69169618940638, 1.19839281085285]
BS1770_SHELF_48K_A = [1.0, -1.69065929318241, 0.73248077421585]
BS1770_RLB_48K = [1.0, -2.0, 1.0]
BS1770_RLB_48K_A = [1.0, -1.99004745483398, 0.99007225036621]

LU_TOL = 0.1


# --- K-weighting -----------------------------------------------------------------------------


def test_k_weighting_at_48k_equals_bs1770_published_coefficients() -> None:
    sos = k_weighting_sos(48_000)
    expected = np.array([BS1770_SHELF_48K + BS1770_SHELF_48K_A, BS1770_RLB_48K + BS1770_RLB_48K_A])
    np.testing.assert_allclose(sos, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("sample_rate_hz", [32_000, 44_100, 88_200, 96_000, 192_000, 384_000])
@pytest.mark.parametrize("frequency_hz", [20.0, 100.0, 1_000.0, 5_000.0, 10_000.0])
def test_k_weighting_response_at_other_rates_matches_48k(
    sample_rate_hz: int, frequency_hz: float
) -> None:
    _, h48 = sps.sosfreqz(k_weighting_sos(48_000), worN=[frequency_hz], fs=48_000)
    _, h = sps.sosfreqz(k_weighting_sos(sample_rate_hz), worN=[frequency_hz], fs=sample_rate_hz)
    diff_db = 20 * np.log10(abs(h[0])) - 20 * np.log10(abs(h48[0]))
    assert abs(diff_db) < 0.05


@pytest.mark.parametrize("sample_rate_hz", [8_000, 11_025, 22_050])
def test_k_weighting_low_rates_keep_the_rlb_high_pass(sample_rate_hz: int) -> None:
    # Below 32 kHz the shelf is warped near Nyquist, but the low end (RLB) still matches.
    for frequency_hz in (20.0, 100.0):
        _, h48 = sps.sosfreqz(k_weighting_sos(48_000), worN=[frequency_hz], fs=48_000)
        _, h = sps.sosfreqz(k_weighting_sos(sample_rate_hz), worN=[frequency_hz], fs=sample_rate_hz)
        assert abs(20 * np.log10(abs(h[0]) / abs(h48[0]))) < 0.01


def test_k_weighting_is_cached_and_read_only() -> None:
    a = k_weighting_sos(44_100)
    assert a is k_weighting_sos(44_100)
    assert a.shape == (2, 6)
    assert not a.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        a[0, 0] = 0.0


def test_k_weighting_rejects_unsupported_rate() -> None:
    with pytest.raises(InputError) as err:
        k_weighting_sos(4_000)
    assert err.value.code == "unsupported_sample_rate"


@pytest.mark.parametrize(
    "sample_rate_hz", [8_000, 11_025, 44_100, 48_000, 96_000, 192_000, 384_000]
)
@pytest.mark.parametrize("chunk_frames", [31, 997, 70_001])
def test_block_k_weighting_equals_sosfilt(sample_rate_hz: int, chunk_frames: int) -> None:
    # The meter's block filter is the K-weighting recursion reordered: it must agree with
    # sosfilt to rounding, whatever the chunking (the first 40 frames one at a time), including
    # a DC step (large RLB states) and a state carried in from earlier chunks.
    n = 70_001
    x = np.random.default_rng(5).standard_normal((2, n)) * 0.3
    x[:, n // 2 :] += 0.5
    expected = sps.sosfilt(np.array(k_weighting_sos(sample_rate_hz)), x, axis=1)
    block = loudness._block_filter(sample_rate_hz)
    state = np.zeros((2, block.order))
    parts = []
    for start, stop in itertools.pairwise([*range(40), *range(40, n, chunk_frames), n]):
        y, state = block.apply(x[:, start:stop], state)
        parts.append(y)
    np.testing.assert_allclose(np.concatenate(parts, axis=1), expected, rtol=0, atol=1e-9)


# --- channel weights -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "expected"),
    [
        (1, [1.0]),
        (2, [1.0, 1.0]),
        (3, [1.0, 1.0, 1.0]),
        (4, [1.0, 1.0, 1.41, 1.41]),
        (5, [1.0, 1.0, 1.0, 1.41, 1.41]),
        (6, [1.0, 1.0, 1.0, 0.0, 1.41, 1.41]),
        (7, [1.0, 1.0, 1.0, 0.0, 1.0, 1.41, 1.41]),
        (8, [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.41, 1.41]),
    ],
)
def test_channel_weights(channels: int, expected: list[float]) -> None:
    np.testing.assert_array_equal(channel_weights(channels), expected)


@pytest.mark.parametrize("channels", [0, 9, -1])
def test_channel_weights_rejects_unknown_layouts(channels: int) -> None:
    with pytest.raises(InputError) as err:
        channel_weights(channels)
    assert err.value.code == "bad_layout"


def test_lfe_does_not_count() -> None:
    fs = 48_000
    x = np.zeros((6, fs))
    x[3] = signals.sine(1000.0, -10.0, 1.0, fs, channels=1)[0]
    assert integrated_loudness(x, fs) == -math.inf


# --- EBU Tech 3341 ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(signals.EBU3341_LOUDNESS_CASES))
def test_tech3341_integrated_cases_at_48k(case: int) -> None:
    x = signals.ebu3341_case(case, 48_000)
    assert integrated_loudness(x, 48_000) == pytest.approx(
        signals.EBU3341_LOUDNESS_CASES[case], abs=LU_TOL
    )


@pytest.mark.parametrize(
    ("case", "sample_rate_hz"), [(1, 44_100), (5, 44_100), (6, 44_100), (1, 96_000), (6, 96_000)]
)
def test_tech3341_integrated_cases_at_other_rates(case: int, sample_rate_hz: int) -> None:
    x = signals.ebu3341_case(case, sample_rate_hz)
    assert integrated_loudness(x, sample_rate_hz) == pytest.approx(
        signals.EBU3341_LOUDNESS_CASES[case], abs=LU_TOL
    )


@pytest.mark.parametrize("sample_rate_hz", [44_100, 48_000, 96_000])
def test_tech3341_case9_short_term(sample_rate_hz: int) -> None:
    m = measure_loudness(signals.ebu3341_case(9, sample_rate_hz), sample_rate_hz)
    assert m.short_term_max_lufs == pytest.approx(-23.0, abs=LU_TOL)
    # Every full 3 s window holds exactly one period: the reading is steady, not just its max.
    assert m.short_term_lufs.size > 100
    np.testing.assert_allclose(m.short_term_lufs, -23.0, atol=LU_TOL)


@pytest.mark.parametrize("sample_rate_hz", [44_100, 48_000, 96_000])
def test_tech3341_case11_momentary(sample_rate_hz: int) -> None:
    m = measure_loudness(signals.ebu3341_case(11, sample_rate_hz), sample_rate_hz)
    assert m.momentary_max_lufs == pytest.approx(-23.0, abs=LU_TOL)
    assert m.momentary_lufs.size > 90
    np.testing.assert_allclose(m.momentary_lufs, -23.0, atol=LU_TOL)


# --- EBU Tech 3342 ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate_hz", [44_100, 48_000])
@pytest.mark.parametrize("case", sorted(signals.EBU3342_CASES))
def test_tech3342_loudness_range_cases(case: int, sample_rate_hz: int) -> None:
    _levels, expected_lu = signals.EBU3342_CASES[case]
    m = measure_loudness(signals.ebu3342_case(case, sample_rate_hz), sample_rate_hz)
    # Tech 3342 allows ±1 LU; we hold ourselves to ±0.1.
    assert m.loudness_range_lu == pytest.approx(expected_lu, abs=0.1)


def test_lra_percentiles_are_nearest_rank_as_tech3342_reference() -> None:
    # Eleven short-term values 0..-10 LUFS: nearest rank (Tech 3342's MATLAB) takes the sorted
    # values at round(10 * 0.10) = 1 and round(10 * 0.95) = 10 (a half rounds up): 9 LU;
    # linear interpolation would give 8.5 LU.
    values = -np.arange(11.0)[::-1]
    assert loudness._loudness_range(values) == pytest.approx(9.0)


def test_relative_gate_excludes_quiet_blocks() -> None:
    # BS.1770-4 §5: -40 dBFS for 10 s next to -20 dBFS for 10 s; the quiet part falls under the
    # relative gate (-10 LU), so the reading is that of the loud part (the three 400 ms blocks
    # straddling the change pass the gate and pull it down by 0.07 LU). Without the relative
    # gate the quiet half would lower it by 3 LU.
    fs = 48_000
    loud = integrated_loudness(signals.sine_sequence([(-20.0, 10.0)], fs), fs)
    both = integrated_loudness(signals.sine_sequence([(-40.0, 10.0), (-20.0, 10.0)], fs), fs)
    assert both == pytest.approx(loud, abs=LU_TOL)


# --- series, silence, short input, structure -------------------------------------------------


def reference_momentary(x: np.ndarray, fs: int) -> np.ndarray:
    """Direct BS.1770 momentary loudness: K-weight all, then average each 400 ms window whose
    edges are round(k fs / 10)."""
    y = sps.sosfilt(np.array(k_weighting_sos(fs)), x, axis=1)  # sosfilt wants it writable
    g = channel_weights(x.shape[0])
    edges = [(2 * k * fs + 10) // 20 for k in range(x.shape[1] * 10 // fs + 2)]
    edges = [e for e in edges if e <= x.shape[1]]
    out = []
    for j in range(len(edges) - 4):
        z = np.mean(y[:, edges[j] : edges[j + 4]] ** 2, axis=1)
        out.append(-0.691 + 10 * np.log10(np.dot(g, z)))
    return np.array(out)


@pytest.mark.parametrize("sample_rate_hz", [11_025, 44_100, 48_000])
def test_momentary_series_matches_direct_computation(sample_rate_hz: int) -> None:
    x = signals.programme(3.0, sample_rate_hz, seed=3)
    m = measure_loudness(x, sample_rate_hz)
    np.testing.assert_allclose(m.momentary_lufs, reference_momentary(x, sample_rate_hz), atol=1e-9)
    assert m.hop_s == 0.1
    # Windows start every 100 ms; only complete 400 ms / 3 s windows are reported.
    assert m.momentary_lufs.size == 30 - 3
    assert m.short_term_lufs.size == 1


@pytest.mark.parametrize(
    ("sample_rate_hz", "chunk_frames"),
    [
        (11_025, 37),
        (11_025, 1_103),
        (11_025, 65_537),
        (44_100, 441),
        (44_100, 4_410),
        (44_100, 65_537),
        (44_100, 100_000),
    ],
)
def test_streaming_equals_one_shot(sample_rate_hz: int, chunk_frames: int) -> None:
    # 4.5 s of programme under a slow swell, so the series and the LRA are not flat.
    swell = signals.sine(0.3, 0.0, 4.5, sample_rate_hz)
    x = signals.programme(4.5, sample_rate_hz, seed=1) * swell
    whole = measure_loudness(x, sample_rate_hz)
    meter = LoudnessMeter(sample_rate_hz, 2)
    for start in range(0, x.shape[1], chunk_frames):
        meter.process(x[:, start : start + chunk_frames])
    streamed = meter.result()
    assert streamed.integrated_lufs == pytest.approx(whole.integrated_lufs, abs=1e-9)
    assert streamed.loudness_range_lu == pytest.approx(whole.loudness_range_lu, abs=1e-9)
    np.testing.assert_allclose(streamed.momentary_lufs, whole.momentary_lufs, atol=1e-9)
    np.testing.assert_allclose(streamed.short_term_lufs, whole.short_term_lufs, atol=1e-9)


def test_meter_result_can_be_taken_midway() -> None:
    fs = 48_000
    x = signals.ebu3341_case(1, fs)
    meter = LoudnessMeter(fs, 2)
    meter.process(x[:, : 5 * fs])
    early = meter.result()
    meter.process(x[:, 5 * fs :])
    assert early.momentary_lufs.size < meter.result().momentary_lufs.size
    assert meter.result().integrated_lufs == pytest.approx(-23.0, abs=LU_TOL)


@pytest.mark.parametrize("duration_s", [0.01, 0.39, 5.0])
def test_silence_reads_minus_infinity_without_warning(duration_s: float) -> None:
    # filterwarnings=error turns any divide-by-zero RuntimeWarning into a failure.
    m = measure_loudness(signals.silence(duration_s, 44_100), 44_100)
    assert m.integrated_lufs == -math.inf
    assert m.momentary_max_lufs == -math.inf
    assert m.short_term_max_lufs == -math.inf
    assert m.loudness_range_lu == 0.0
    assert not np.isnan(m.momentary_lufs).any()


def test_input_shorter_than_a_window() -> None:
    fs = 48_000
    short = measure_loudness(signals.sine(1000.0, -23.0, 0.3, fs), fs)
    assert short.integrated_lufs == -math.inf
    assert short.momentary_lufs.size == 0
    one_s = measure_loudness(signals.sine(1000.0, -23.0, 1.0, fs), fs)
    assert one_s.integrated_lufs == pytest.approx(-23.0, abs=LU_TOL)
    assert one_s.short_term_lufs.size == 0
    assert one_s.short_term_max_lufs == -math.inf
    assert one_s.loudness_range_lu == 0.0


def test_input_is_not_modified_and_float32_agrees_with_float64() -> None:
    fs = 44_100
    x = signals.programme(4.0, fs)
    before = x.copy()
    m64 = measure_loudness(x, fs)
    np.testing.assert_array_equal(x, before)
    m32 = measure_loudness(x.astype(np.float32), fs)
    assert m32.integrated_lufs == pytest.approx(m64.integrated_lufs, abs=1e-4)


@pytest.mark.parametrize(
    ("x", "code"),
    [
        (np.zeros(1000), "bad_layout"),
        (np.zeros((9, 1000)), "bad_layout"),
        (np.zeros((2, 0)), "empty_audio"),
        (np.array([[0.0, np.nan, 0.0]]), "non_finite"),
        (np.array([[0.0, np.inf, 0.0]]), "non_finite"),
    ],
)
def test_bad_input_raises_typed_error(x: np.ndarray, code: str) -> None:
    with pytest.raises(InputError) as err:
        measure_loudness(x, 48_000)
    assert err.value.code == code


def test_meter_rejects_chunk_of_wrong_shape_or_non_finite() -> None:
    meter = LoudnessMeter(48_000, 2)
    with pytest.raises(InputError) as err:
        meter.process(np.zeros((1, 100)))
    assert err.value.code == "bad_layout"
    with pytest.raises(InputError) as err:
        meter.process(np.full((2, 100), np.nan))
    assert err.value.code == "non_finite"
    meter.process(np.zeros((2, 0)))  # an empty chunk is a no-op
    assert meter.result().integrated_lufs == -math.inf


# --- against ffmpeg's ebur128 ----------------------------------------------------------------

FFMPEG = shutil.which("ffmpeg")
EBUR128_ARGS = ["-af", "ebur128=peak=true", "-f", "null", "-"]


def ffmpeg_ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness and LRA from ffmpeg's ebur128 summary (one decimal)."""
    proc = subprocess.run(
        [FFMPEG or "ffmpeg", "-nostats", "-hide_banner", "-i", str(path), *EBUR128_ARGS],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = proc.stderr[proc.stderr.rindex("Summary:") :]
    i_lufs = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    lra_lu = re.search(r"LRA:\s+(-?[\d.]+) LU", summary)
    assert i_lufs is not None and lra_lu is not None, summary
    return float(i_lufs.group(1)), float(lra_lu.group(1))


@pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed (scripts/ensure_system.sh)")
@pytest.mark.parametrize(
    ("material", "sample_rate_hz"),
    [("programme", 44_100), ("programme", 48_000), ("programme", 96_000), ("pink", 44_100)],
)
def test_integrated_loudness_agrees_with_ffmpeg(
    tmp_path: Path, material: str, sample_rate_hz: int
) -> None:
    if material == "programme":
        x = signals.programme(12.0, sample_rate_hz, seed=7)
        # A quieter middle third, so that gating and LRA have something to do.
        x[:, x.shape[1] // 3 : 2 * x.shape[1] // 3] *= 0.3
    else:
        x = signals.pink_noise(-18.0, 12.0, sample_rate_hz, seed=2)
    path = tmp_path / "m.wav"
    write_wav(path, x, sample_rate_hz, "32f")
    ours = measure_loudness(x.astype(np.float32), sample_rate_hz)
    ff_i_lufs, ff_lra_lu = ffmpeg_ebur128(path)
    # ffmpeg prints one decimal: allow its rounding (0.05) on top of 0.1 LU.
    assert ours.integrated_lufs == pytest.approx(ff_i_lufs, abs=0.1 + 0.05)
    assert ours.loudness_range_lu == pytest.approx(ff_lra_lu, abs=1.0)

"""Tests for mixmaster.truepeak: BS.1770-4 Annex 2 true peak, EBU Tech 3341 cases 15-19."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal as sps

import signals
from mixmaster.errors import InputError, ParamError
from mixmaster.truepeak import (
    TAPS_PER_PHASE,
    interpolated_block_peaks,
    oversampling_factor,
    polyphase_taps,
    sample_peak_dbfs,
    true_peak_dbtp,
    true_peak_lin,
    upsample,
)

# EBU Tech 3341's true-peak tolerance: +0.2 / -0.4 dB.
TP_OVER_DB = 0.2
TP_UNDER_DB = 0.4


def db(x: float) -> float:
    return 20 * math.log10(x)


def brute_force_true_peak(x: np.ndarray, factor: int = 32, pad: int = 4096) -> np.ndarray:
    """Reference: ideal (FFT) 32x interpolation of the zero-padded signal, max |y| per channel."""
    padded = np.pad(x, ((0, 0), (pad, pad)))
    return np.max(np.abs(sps.resample(padded, padded.shape[1] * factor, axis=1)), axis=1)


# --- factor and filter -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample_rate_hz", "factor"),
    [
        (8_000, 4),
        (44_100, 4),
        (48_000, 4),
        (88_200, 4),
        (96_000, 2),
        (176_400, 2),
        (192_000, 1),
        (384_000, 1),
    ],
)
def test_oversampling_factor(sample_rate_hz: int, factor: int) -> None:
    assert oversampling_factor(sample_rate_hz) == factor
    assert sample_rate_hz * factor >= min(176_400, 4 * sample_rate_hz)


def test_oversampling_factor_rejects_unsupported_rate() -> None:
    with pytest.raises(InputError) as err:
        oversampling_factor(500_000)
    assert err.value.code == "unsupported_sample_rate"


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_polyphase_taps_structure(factor: int) -> None:
    taps = polyphase_taps(factor)
    assert taps.shape == (factor, TAPS_PER_PHASE)
    assert taps is polyphase_taps(factor)
    assert not taps.flags.writeable
    np.testing.assert_allclose(taps.sum(axis=1), 1.0, atol=1e-12)
    # Phase 0 is the input sample itself.
    expected_phase0 = np.zeros(TAPS_PER_PHASE)
    expected_phase0[TAPS_PER_PHASE // 2 - 1] = 1.0
    np.testing.assert_array_equal(taps[0], expected_phase0)
    # Linear phase: phase p mirrors phase factor - p.
    np.testing.assert_allclose(taps[1:], taps[1:][::-1, ::-1], atol=1e-15)


def test_polyphase_taps_factor_one_is_identity() -> None:
    np.testing.assert_array_equal(polyphase_taps(1), [[1.0]])


@pytest.mark.parametrize("factor", [0, 17, 2.5, True])
def test_polyphase_taps_rejects_bad_factor(factor: int) -> None:
    with pytest.raises(ParamError) as err:
        polyphase_taps(factor)
    assert err.value.code == "bad_oversampling_factor"


# --- upsample --------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", [1, 2, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_upsample_keeps_the_samples_and_dtype(factor: int, dtype: type) -> None:
    x = signals.white_noise(-10.0, 0.05, 48_000, channels=2).astype(dtype)
    before = x.copy()
    y = upsample(x, factor)
    assert y.shape == (2, x.shape[1] * factor)
    assert y.dtype == dtype
    np.testing.assert_array_equal(y[:, ::factor], x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("frequency_hz", [1_000.0, 9_000.0, 18_000.0])
def test_upsample_interpolates_a_sine(frequency_hz: float) -> None:
    fs, factor = 44_100, 4
    n = 70_000  # longer than one internal block
    x = 0.5 * np.sin(2 * np.pi * frequency_hz * np.arange(n) / fs)[None, :]
    y = upsample(x, factor)
    t = np.arange(n * factor) / (fs * factor)
    exact = 0.5 * np.sin(2 * np.pi * frequency_hz * t)
    inner = slice(100 * factor, (n - 100) * factor)  # away from the abrupt ends
    assert np.max(np.abs(y[0, inner] - exact[inner])) < 0.5 * 0.01  # within 0.09 dB


# --- EBU Tech 3341 cases 15-19 ---------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(signals.EBU3341_TRUE_PEAK_CASES))
def test_tech3341_true_peak_cases_at_48k(case: int) -> None:
    expected_dbtp = signals.EBU3341_TRUE_PEAK_CASES[case][3]
    reading = true_peak_dbtp(signals.ebu3341_true_peak_case(case, 48_000), 48_000)
    assert expected_dbtp - TP_UNDER_DB <= reading <= expected_dbtp + TP_OVER_DB


def test_tech3341_case19_reads_above_full_scale_from_samples_at_full_scale() -> None:
    x = signals.ebu3341_true_peak_case(19, 48_000)
    assert sample_peak_dbfs(x) == pytest.approx(db(1.41 * math.sqrt(0.5)), abs=0.01)  # ~0 dBFS
    assert true_peak_dbtp(x, 48_000) == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize("sample_rate_hz", [44_100, 96_000])
@pytest.mark.parametrize("case", [15, 16, 19])
def test_case15_like_sines_at_other_rates(case: int, sample_rate_hz: int) -> None:
    expected_dbtp = signals.EBU3341_TRUE_PEAK_CASES[case][3]
    reading = true_peak_dbtp(signals.ebu3341_true_peak_case(case, sample_rate_hz), sample_rate_hz)
    assert expected_dbtp - TP_UNDER_DB <= reading <= expected_dbtp + TP_OVER_DB


@pytest.mark.parametrize("frequency_hz", [997.0, 5_003.0, 10_007.0, 15_013.0, 19_997.0])
def test_sines_up_to_20k_read_their_amplitude_at_44k1(frequency_hz: float) -> None:
    # A long tone sweeps all sub-sample phases, so only the filter's error remains.
    fs = 44_100
    x = signals.sine(frequency_hz, -6.0, 1.0, fs)
    m = round(0.01 * fs)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(m) + 0.5) / m)
    x[:, :m] *= ramp
    x[:, -m:] *= ramp[::-1]
    assert true_peak_dbtp(x, fs) == pytest.approx(-6.0, abs=0.1)


# --- abrupt starts and ends ------------------------------------------------------------------


def abrupt_signals() -> dict[str, np.ndarray]:
    n = 2_001
    k = np.arange(n)
    return {
        "dc_step": np.ones((1, n)),
        "fs4_sine_cut_at_45deg": np.sin(np.pi / 2 * k + np.pi / 4)[None, :],
        "fs6_sine_cut_at_60deg": np.sin(np.pi / 3 * k + np.pi / 3)[None, :],
        "burst_at_the_very_end": np.concatenate([np.zeros(n), np.ones(8)])[None, :],
        "burst_at_the_very_start": np.concatenate([np.ones(8), np.zeros(n)])[None, :],
    }


@pytest.mark.parametrize("name", sorted(abrupt_signals()))
def test_abrupt_edges_match_brute_force_reference(name: str) -> None:
    x = abrupt_signals()[name]
    ours = true_peak_lin(x, 48_000)
    ref = brute_force_true_peak(x)
    # The edge overshoot is real (well above the sample peak) and measured ...
    assert db(float(ref[0])) - db(float(np.max(np.abs(x)))) > 0.4
    # ... and read within a small 4x-grid under-read of the ideal reconstruction.
    assert -0.15 <= db(float(ours[0])) - db(float(ref[0])) <= 0.02


def test_abrupt_edge_is_not_in_a_faded_tone() -> None:
    # The same tone, faded in and out, has no edge overshoot: the reading drops to the tone's.
    fs = 48_000
    cut = signals.ebu3341_true_peak_case(17, fs, fade_s=0.0)
    faded = signals.ebu3341_true_peak_case(17, fs)
    assert true_peak_dbtp(cut, fs) > true_peak_dbtp(faded, fs) + 0.3


# --- invariants ------------------------------------------------------------------------------


def test_chunked_equals_whole_signal_upsampling() -> None:
    # Intersample peaks placed right at the internal 65536-sample block edges.
    fs = 48_000
    n = 3 * 65_536 + 123
    rng = np.random.default_rng(5)
    x = 0.1 * rng.standard_normal((2, n))
    for i, edge in enumerate((65_536 - 16, 2 * 65_536 - 16, 2 * 65_536 - 15)):
        x[i % 2, edge - 3 : edge + 3] = [0.4, -0.7, 0.9, 0.9, -0.7, 0.4]
    half = TAPS_PER_PHASE // 2
    whole = np.max(np.abs(upsample(np.pad(x, ((0, 0), (half, half))), 4)), axis=1)
    np.testing.assert_allclose(true_peak_lin(x, fs), whole, rtol=1e-6)


@pytest.mark.parametrize(("sample_rate_hz", "level_dbfs_rms"), [(44_100, -20.0), (96_000, -9.0)])
def test_rows_skipped_by_the_bound_hold_no_peak(sample_rate_hz: int, level_dbfs_rms: float) -> None:
    # Rows whose bound (worst tap gain x local sample peak) is under the running peak are not
    # computed; programme with isolated intersample overs, one in the last (partial) row, reads
    # exactly as interpolating everything.
    x = signals.programme(2.0, sample_rate_hz, level_dbfs_rms=level_dbfs_rms)[:, :-7]
    n = x.shape[1]
    for i, at in enumerate((n // 3, n // 3 + 40, 2 * n // 3, n - 5)):
        x[i % 2, at - 3 : at + 3] = [0.3, -0.6, 0.8, 0.8, -0.6, 0.3]
    half = TAPS_PER_PHASE // 2
    factor = oversampling_factor(sample_rate_hz)
    whole = np.max(np.abs(upsample(np.pad(x, ((0, 0), (half, half))), factor)), axis=1)
    np.testing.assert_allclose(true_peak_lin(x, sample_rate_hz), whole, rtol=1e-6)


@pytest.mark.parametrize("factor", [2, 4])
@pytest.mark.parametrize("block_samples", [1, 44, 48, 1_000])
def test_interpolated_block_peaks_are_the_upsampled_maxima_per_block(
    factor: int, block_samples: int
) -> None:
    # Three channels, a length that is no multiple of the block, overs at the internal span
    # edges (131072 is not a multiple of 44, 48 or 1000).
    n = 2 * 131_072 + 77
    x = signals.programme(n / 48_000 + 0.1, 48_000, channels=3)[:, :n].astype(np.float32)
    for i, at in enumerate((131_072 - 20, 131_072 + 3, n - 4)):
        x[i % 3, at - 3 : at + 3] = [0.3, -0.6, 0.8, 0.8, -0.6, 0.3]
    got = interpolated_block_peaks(x, block_samples, factor, 0.0)
    between = np.abs(upsample(x, factor).reshape(3, n, factor)[:, :, 1:]).max(axis=(0, 2))
    blocks = -(-n // block_samples)
    padded = np.zeros(blocks * block_samples, dtype=np.float32)
    padded[:n] = between
    np.testing.assert_allclose(got, padded.reshape(blocks, block_samples).max(axis=1), rtol=1e-6)


def test_interpolated_block_peaks_skip_spans_below_the_floor() -> None:
    # A quiet first span reads 0 (not computed); the loud second span is computed exactly.
    n = 2 * 131_072
    x = np.zeros((1, n), dtype=np.float32)
    x[0, :131_072] = 1e-3 * np.sin(np.arange(131_072) * 2.1)
    x[0, 200_000:200_004] = [0.5, 0.9, 0.9, 0.5]
    got = interpolated_block_peaks(x, 100, 4, 0.5)
    assert not got[:1_310].any()
    assert got[2_000] > 0.9  # the interpolated points between the two 0.9 samples
    assert np.array_equal(got[1_311:], interpolated_block_peaks(x, 100, 4, 0.0)[1_311:])


@pytest.mark.parametrize("floor_lin", [0.2, 0.5, 0.75])
def test_interpolated_block_peaks_are_exact_around_samples_that_reach_the_floor(
    floor_lin: float,
) -> None:
    # Scattered rows (a few overs in quiet programme) and dense spans (a loud stretch). With one
    # sample per block, every point whose filter window holds a sample at or above the floor
    # reads as computing everything; the others read at most that (0 where not computed).
    n = 3 * 131_072
    x = signals.programme(n / 44_100 + 0.1, 44_100, level_dbfs_rms=-30.0)[:, :n]
    x[:, 2 * 131_072 :] *= 20.0  # a loud last span
    for i, at in enumerate((1_000, 40_017, 131_000, 150_321)):
        x[i % 2, at - 3 : at + 3] = [0.3, -0.6, 0.8, 0.8, -0.6, 0.3]
    x = x.astype(np.float32)
    lead = TAPS_PER_PHASE // 2 - 1  # point m's window: samples m - lead .. m - lead + T - 1
    per_channel = []
    for channel in x:
        got = interpolated_block_peaks(channel[None], 1, 4, floor_lin)
        full = interpolated_block_peaks(channel[None], 1, 4, 0.0)
        loud = np.pad(np.abs(channel) >= floor_lin, (lead, TAPS_PER_PHASE))
        window = np.lib.stride_tricks.sliding_window_view(loud, TAPS_PER_PHASE)[:n].any(axis=1)
        assert 10 < window.sum() < n
        np.testing.assert_array_equal(got[window], full[window])
        assert np.all(got <= full)
        assert (got[~window] == 0.0).sum() > 100_000  # the quiet spans were skipped
        per_channel.append(got)
    # Several channels: the largest of each channel's.
    np.testing.assert_array_equal(
        interpolated_block_peaks(x, 1, 4, floor_lin), np.max(per_channel, axis=0)
    )


@pytest.mark.parametrize("sample_rate_hz", [44_100, 96_000, 192_000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_given_sample_peaks_read_the_same(sample_rate_hz: int, dtype: type) -> None:
    # analyze() passes the sample peaks of its level pass instead of having them recomputed.
    x = signals.programme(1.0, sample_rate_hz, level_dbfs_rms=-8.0).astype(dtype)
    given = np.max(np.abs(x), axis=1)
    np.testing.assert_array_equal(
        true_peak_lin(x, sample_rate_hz, sample_peaks_lin=given), true_peak_lin(x, sample_rate_hz)
    )


@pytest.mark.parametrize("sample_rate_hz", [44_100, 96_000, 192_000])
def test_true_peak_is_never_below_sample_peak(sample_rate_hz: int) -> None:
    x = signals.programme(1.0, sample_rate_hz, level_dbfs_rms=-8.0)
    tp = true_peak_lin(x, sample_rate_hz)
    assert np.all(tp >= np.max(np.abs(x), axis=1))
    assert true_peak_dbtp(x, sample_rate_hz) == pytest.approx(db(float(np.max(tp))))


def test_input_is_not_modified() -> None:
    x = signals.programme(0.5, 44_100)
    before = x.copy()
    true_peak_lin(x, 44_100)
    sample_peak_dbfs(x)
    np.testing.assert_array_equal(x, before)


def test_silence_reads_minus_infinity_without_warning() -> None:
    x = signals.silence(0.2, 48_000)
    assert true_peak_dbtp(x, 48_000) == -math.inf
    assert sample_peak_dbfs(x) == -math.inf
    np.testing.assert_array_equal(true_peak_lin(x, 48_000), [0.0, 0.0])


@pytest.mark.parametrize(
    ("x", "code"),
    [
        (np.zeros(100), "bad_layout"),
        (np.zeros((2, 0)), "empty_audio"),
        (np.array([[0.0, np.nan]]), "non_finite"),
    ],
)
def test_bad_input_raises_typed_error(x: np.ndarray, code: str) -> None:
    for call in (
        lambda: true_peak_dbtp(x, 48_000),
        lambda: sample_peak_dbfs(x),
        lambda: upsample(x, 4),
    ):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.code == code

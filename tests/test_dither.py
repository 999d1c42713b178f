"""Tests of the output stage (mixmaster.dither): TPDF dither, noise shaping, quantisation,
the headroom it needs and the final true-peak verification."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

import signals
from mixmaster import truepeak
from mixmaster.dither import (
    NOISE_SHAPING_TAPS,
    OutputProcessor,
    apply_output,
    dither_rng,
    enforce_ceiling,
    output_headroom_db,
    quantize,
)
from mixmaster.errors import InputError, ParamError
from mixmaster.limiter import apply_limiter
from mixmaster.params import LimiterParams, OutputParams

Audio = npt.NDArray[np.float64]
FS = 44100
FORMATS = [
    ("16", "tpdf", False),
    ("16", "tpdf", True),
    ("16", "none", False),
    ("16", "none", True),
    ("24", "tpdf", False),
    ("24", "none", False),
    ("32f", "none", False),
    ("32f", "tpdf", False),
]


def lsb(bits: str) -> float:
    return 2.0 ** -(int(bits) - 1)


def q16(x: Audio, seed: int = 0, dither: str = "tpdf", shaping: bool = False) -> Audio:
    rng = np.random.default_rng(seed)
    return quantize(x, "16", dither=dither, noise_shaping=shaping, rng=rng)


def band_power_db(e: Audio, lo_hz: float, hi_hz: float) -> float:
    spec = np.abs(np.fft.rfft(e[0])) ** 2
    f = np.fft.rfftfreq(e.shape[1], 1.0 / FS)
    return 10.0 * math.log10(float(spec[(f >= lo_hz) & (f < hi_hz)].mean()))


@pytest.mark.parametrize("offset_lsb", [0.0, 0.25, 0.5, 0.8])
def test_tpdf_error_has_zero_mean_and_signal_independent_variance(offset_lsb: float) -> None:
    """With TPDF dither the total error's mean is 0 and its variance is LSB²/6 (dither) +
    LSB²/12 (rounding) = LSB²/4, whatever the signal (Lipshitz et al. 1992)."""
    n = 200_000
    x = np.full((1, n), (1000.0 + offset_lsb) * lsb("16"))
    e = (q16(x) - x) / lsb("16")
    assert abs(float(e.mean())) < 4.0 * 0.5 / math.sqrt(n)
    assert float(e.var()) == pytest.approx(0.25, rel=0.02)


@pytest.mark.parametrize("offset_lsb", [-0.4, -0.2, 0.0, 0.2, 0.4])
def test_dither_is_triangular(offset_lsb: float) -> None:
    """P(the output rounds up) = P(d >= 0.5 - offset), from the triangular CDF on (-1, 1)."""
    n = 100_000
    x = np.full((1, n), (500.0 + offset_lsb) * lsb("16"))
    up = float(np.mean(np.round(q16(x, seed=3) / lsb("16")) >= 501.0))
    t = 0.5 - offset_lsb
    expected = (1.0 - t) ** 2 / 2.0 if t >= 0 else 1.0 - (1.0 + t) ** 2 / 2.0
    assert up == pytest.approx(expected, abs=4.0 * math.sqrt(expected * (1 - expected) / n))


def test_dither_decorrelates_the_error_from_the_signal() -> None:
    """A 1 kHz sine of 1.3 LSB: plain rounding makes harmonics; TPDF leaves flat noise."""
    n = 4 * FS
    x = signals.sine(1000.0, 20.0 * math.log10(1.3 * lsb("16")), n / FS, FS, 1)
    for dither, harmonics in (("none", True), ("tpdf", False)):
        e = q16(x, dither=dither) - x
        floor = band_power_db(e, 200.0, 20_000.0)
        peak = max(band_power_db(e, h - 2.0, h + 2.0) for h in (3000.0, 5000.0, 7000.0))
        assert (peak - floor > 20.0) is harmonics, dither
        corr = float(np.corrcoef(e[0], x[0])[0, 1])
        if not harmonics:
            assert abs(corr) < 0.01


def test_noise_shaping_moves_the_noise_above_10_khz() -> None:
    n = 4 * FS
    x = np.full((1, n), 0.1) + signals.white_noise(-100.0, n / FS, FS, 1)
    flat = q16(x) - x
    shaped = q16(x, shaping=True) - x
    for lo, hi, change_db in ((20, 1000, -10.0), (1000, 5000, -12.0), (10_000, 22_050, 6.0)):
        delta = band_power_db(shaped, lo, hi) - band_power_db(flat, lo, hi)
        assert delta < change_db if change_db < 0 else delta > change_db, (lo, hi, delta)
    # And it follows the noise transfer function |1 - z^-1 H(z)|² within 1.5 dB per band.
    f = np.fft.rfftfreq(n, 1.0 / FS)
    z = np.exp(-2j * np.pi * f / FS)
    ntf = 1.0 - sum(h * z ** (i + 1) for i, h in enumerate(NOISE_SHAPING_TAPS))
    ratio = np.abs(np.fft.rfft(shaped[0])) ** 2 / np.abs(np.fft.rfft(flat[0])) ** 2
    for lo in range(500, 20_000, 2500):
        band = (f >= lo) & (f < lo + 2500)
        measured = 10.0 * math.log10(float(np.mean(np.abs(np.fft.rfft(shaped[0]))[band] ** 2)))
        expected = 10.0 * math.log10(
            float(np.mean(np.abs(ntf[band]) ** 2 * np.abs(np.fft.rfft(flat[0]))[band] ** 2))
        )
        assert measured == pytest.approx(expected, abs=1.5), lo
    assert np.all(np.isfinite(ratio[1:]))


def test_same_seed_same_output_different_seed_different_output() -> None:
    x = signals.programme(0.5, FS, 2, level_dbfs_rms=-30.0)
    for shaping in (False, True):
        a = q16(x, seed=7, shaping=shaping)
        b = q16(x, seed=7, shaping=shaping)
        c = q16(x, seed=8, shaping=shaping)
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)
    p = OutputParams(bits="16", dither_seed=1234)
    assert np.array_equal(apply_output(x, p), apply_output(x, p))


@pytest.mark.parametrize(("bits", "dither", "shaping"), [f for f in FORMATS if f[0] != "32f"])
def test_output_lies_on_the_pcm_grid_and_round_trips(bits: str, dither: str, shaping: bool) -> None:
    x = signals.programme(0.3, FS, 2, level_dbfs_rms=-12.0)
    x[:, :10] = 1.5  # out of range: clipped
    x[:, 10:20] = -1.5
    rng = np.random.default_rng(0)
    proc = OutputProcessor(
        FS, 2, OutputParams(bits=bits, dither=dither, noise_shaping=shaping), rng=rng
    )
    y = proc.process(x)
    scale = 2.0 ** (int(bits) - 1)
    k = y * scale
    assert np.array_equal(k, np.round(k))
    assert np.array_equal(np.round(y * scale) / scale, y)  # what wavio writes, read back
    assert k.min() >= -scale and k.max() <= scale - 1
    assert k[:, :10].max() == scale - 1 and k[:, 10:20].min() == -scale
    assert proc.stats()["clipped_samples"] >= 40


def test_no_dither_is_plain_rounding() -> None:
    x = signals.programme(0.2, FS, 2, level_dbfs_rms=-20.0)
    for bits in ("16", "24"):
        scale = 2.0 ** (int(bits) - 1)
        y = quantize(x, bits, dither="none", noise_shaping=False, rng=np.random.default_rng(0))
        assert np.array_equal(y, np.round(x * scale) / scale)


def test_32_bit_float_rounds_to_float32_without_dither() -> None:
    x = signals.programme(0.2, FS, 2, level_dbfs_rms=-20.0)
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    y = quantize(x, "32f", dither="tpdf", noise_shaping=False, rng=rng)
    assert y.dtype == np.float64
    assert np.array_equal(y, x.astype(np.float32).astype(np.float64))
    assert rng.bit_generator.state == state


@pytest.mark.parametrize(("bits", "dither", "shaping"), FORMATS)
def test_chunked_equals_one_shot_bit_for_bit(bits: str, dither: str, shaping: bool) -> None:
    x = signals.programme(0.3, FS, 2, level_dbfs_rms=-20.0)
    params = OutputParams(bits=bits, dither=dither, noise_shaping=shaping, dither_seed=9)
    one = apply_output(x, params)
    proc = OutputProcessor(FS, 2, params, rng=dither_rng(9))
    rng = np.random.default_rng(1)
    parts, pos = [], 0
    while pos < x.shape[1]:
        size = 1 if pos < 300 else int(rng.integers(1, 5000))  # single samples, then random
        parts.append(proc.process(x[:, pos : pos + size]))
        pos += size
    assert np.array_equal(np.concatenate(parts, axis=1), one)


def test_input_is_left_unchanged_and_shape_kept() -> None:
    x = signals.programme(0.1, FS, 6, level_dbfs_rms=-20.0).astype(np.float32)
    before = x.copy()
    y = apply_output(x, OutputParams(bits="16", noise_shaping=True))
    assert np.array_equal(x, before)
    assert y.shape == x.shape and y.dtype == np.float64
    assert OutputProcessor(FS, 2, OutputParams()).process(np.zeros((2, 0))).shape == (2, 0)


def test_headroom_values() -> None:
    flat16 = output_headroom_db("16", False)
    shaped16 = output_headroom_db("16", True)
    assert flat16 == pytest.approx(0.0041, abs=0.0002)
    assert shaped16 == pytest.approx(0.0152, abs=0.0005)
    assert output_headroom_db("24", False) == pytest.approx(flat16 / 256.0, rel=0.01)
    assert 0.0 < output_headroom_db("32f", False) < 2e-6
    assert output_headroom_db("16", False, dither="none") < flat16
    assert output_headroom_db("16", False, ceiling_dbtp=0.0) < flat16  # -12 dBTP is the worst


@pytest.mark.parametrize(
    ("bits", "dither", "shaping"),
    [("16", "tpdf", False), ("16", "tpdf", True), ("16", "none", True), ("24", "tpdf", False)],
)
@pytest.mark.parametrize("ceiling_dbtp", [-12.0, -1.0, 0.0])
def test_limiter_then_output_stage_stays_under_the_ceiling(
    bits: str, dither: str, shaping: bool, ceiling_dbtp: float
) -> None:
    """The guarantee chain: limit to ceiling - headroom, quantise, measure: never above."""
    headroom = output_headroom_db(bits, shaping, dither=dither, ceiling_dbtp=ceiling_dbtp)
    x = signals.hard_clipped_bursts(0.2, FS, 2) * 0.5
    y = apply_limiter(x, FS, LimiterParams(ceiling_dbtp=ceiling_dbtp), ceiling_margin_db=headroom)
    for seed in range(5):
        rng = np.random.default_rng(seed)
        q = quantize(y, bits, dither=dither, noise_shaping=shaping, rng=rng)
        assert truepeak.true_peak_dbtp(q, FS) <= ceiling_dbtp
        assert enforce_ceiling(
            q, FS, ceiling_dbtp, bits=bits, dither=dither, noise_shaping=shaping
        ).ok


def test_headroom_is_needed_at_low_ceilings() -> None:
    """Regression guard for the headroom: at -12 dBTP, 16-bit noise-shaped quantisation of a
    signal sitting exactly at the ceiling goes over it for some seeds."""
    x = signals.sine(1000.0, 0.0, 0.2, FS, 1)
    x *= 10.0 ** ((-12.0 - truepeak.true_peak_dbtp(x, FS)) / 20.0)
    over = [truepeak.true_peak_dbtp(q16(x, seed=s, shaping=True), FS) > -12.0 for s in range(10)]
    assert any(over)


@pytest.mark.parametrize(
    ("bits", "shaping"), [("16", False), ("16", True), ("24", False), ("32f", False)]
)
def test_enforce_ceiling_trim_is_enough_after_requantising(bits: str, shaping: bool) -> None:
    ceiling = -1.0
    s = signals.programme(0.3, FS, 2, level_dbfs_rms=-10.0)
    s *= 10.0 ** ((ceiling + 0.5 - truepeak.true_peak_dbtp(s, FS)) / 20.0)  # 0.5 dB over
    dither = "none" if bits == "32f" else "tpdf"
    y = quantize(s, bits, dither=dither, noise_shaping=shaping, rng=np.random.default_rng(0))
    check = enforce_ceiling(y, FS, ceiling, bits=bits, dither=dither, noise_shaping=shaping)
    assert not check.ok
    assert check.excess_db == pytest.approx(check.true_peak_dbtp - ceiling)
    assert check.trim_db >= check.excess_db
    assert check.trim_db < check.excess_db + 0.05
    trimmed = s * 10.0 ** (-check.trim_db / 20.0)
    for seed in range(5):
        y2 = quantize(
            trimmed, bits, dither=dither, noise_shaping=shaping, rng=np.random.default_rng(seed)
        )
        assert truepeak.true_peak_dbtp(y2, FS) <= ceiling
    quiet = enforce_ceiling(np.zeros((2, 100)), FS, ceiling, bits=bits, noise_shaping=shaping)
    assert quiet.ok and quiet.trim_db == 0.0 and quiet.true_peak_dbtp == -math.inf


def test_bad_input_gives_typed_errors() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros((2, 10))
    with pytest.raises(ParamError) as e:
        quantize(x, "24", dither="tpdf", noise_shaping=True, rng=rng)
    assert e.value.code == "noise_shaping_16_bit_only"
    with pytest.raises(ParamError) as e:
        OutputProcessor(FS, 2, OutputParams(bits="32f", noise_shaping=True))
    assert e.value.code == "noise_shaping_16_bit_only"
    with pytest.raises(ParamError) as e:
        quantize(x, "8", dither="tpdf", noise_shaping=False, rng=rng)
    assert e.value.code == "bad_choice"
    with pytest.raises(ParamError) as e:
        quantize(x, "16", dither="rpdf", noise_shaping=False, rng=rng)
    assert e.value.code == "bad_choice"
    with pytest.raises(ParamError) as e:
        output_headroom_db("16", 1)  # type: ignore[arg-type]
    assert e.value.code == "bad_type"
    with pytest.raises(ParamError) as e:
        OutputProcessor(FS, 2, OutputParams(), rng=np.random.RandomState(0))  # type: ignore[arg-type]
    assert e.value.code == "bad_type"
    with pytest.raises(ParamError) as e:
        OutputProcessor(FS, 2, {"bits": "16"})  # type: ignore[arg-type]
    assert e.value.code == "bad_type"
    with pytest.raises(InputError) as ie:
        OutputProcessor(1000, 2, OutputParams())
    assert ie.value.code == "unsupported_sample_rate"
    with pytest.raises(InputError) as ie:
        OutputProcessor(FS, 0, OutputParams())
    assert ie.value.code == "bad_layout"
    proc = OutputProcessor(FS, 2, OutputParams())
    with pytest.raises(InputError) as ie:
        proc.process(np.zeros((3, 10)))
    assert ie.value.code == "bad_layout"
    bad = np.zeros((2, 10))
    bad[0, 0] = np.inf
    with pytest.raises(InputError) as ie:
        proc.process(bad)
    assert ie.value.code == "non_finite"
    with pytest.raises(InputError) as ie:
        apply_output(np.zeros(10), OutputParams())
    assert ie.value.code == "bad_layout"

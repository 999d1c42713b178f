"""Reference-match EQ: the FIR follows the curve, mid and side are separate, chunking is exact."""

from __future__ import annotations

import math

import numpy as np
import pytest

import signals
from mixmaster.matching import MatchProcessor, apply_match, fir_length, match_fir
from mixmaster.params import MATCH_BAND_CENTRES_HZ, MasteringParams, MatchParams, with_changes
from mixmaster.pipeline import master
from mixmaster.processor import run_whole

RATES = [8_000, 44_100, 48_000, 96_000]
CENTRES = np.array(MATCH_BAND_CENTRES_HZ)
NYQUIST_SHARE = 0.45


def wavy(depth_db: float, phase: float = 0.0) -> tuple[float, ...]:
    """A smooth test curve: a sine of ``depth_db`` over log-frequency, period 4 octaves."""
    return tuple(
        round(depth_db * math.sin(0.5 * math.pi * math.log2(f / 1000.0) + phase), 2)
        for f in CENTRES
    )


def response_db(h: np.ndarray, fs: int, f_hz: np.ndarray) -> np.ndarray:
    n = 1 << 20
    spectrum = np.abs(np.fft.rfft(h, n))
    return np.asarray(20 * np.log10(np.interp(f_hz, np.arange(spectrum.size) * fs / n, spectrum)))


@pytest.mark.parametrize("fs", RATES)
@pytest.mark.parametrize("depth_db", [6.0, -12.0])
def test_fir_gives_the_curve_at_the_centres(fs: int, depth_db: float) -> None:
    curve = wavy(depth_db)
    h = match_fir(curve, fs)
    assert h.size == fir_length(fs) - 1
    np.testing.assert_allclose(h, h[::-1], atol=1e-15)  # linear phase: symmetric
    use = (CENTRES >= 50.0) & (fs * NYQUIST_SHARE > CENTRES)
    got = response_db(h, fs, CENTRES[use])
    np.testing.assert_allclose(got, np.array(curve)[use], atol=0.3)


def test_flat_curve_is_a_unit_impulse_and_the_stage_passes_through() -> None:
    h = match_fir([0.0] * 31, 48_000)
    centre = (h.size - 1) // 2
    assert h[centre] == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(np.delete(h, centre), 0.0, atol=1e-12)
    x = signals.pink_noise(-20.0, 1.0, 48_000)
    for params in (MatchParams(), MatchParams(amount=0.0, mid_db=wavy(6.0))):
        proc = MatchProcessor(48_000, 2, params)
        assert (proc.active, proc.latency_samples) == (False, 0)
        np.testing.assert_array_equal(apply_match(x, 48_000, params), x)


@pytest.mark.parametrize("fs", [44_100, 48_000])
def test_mid_and_side_get_their_own_curves(fs: int) -> None:
    """A mid-only signal follows the mid curve, a side-only signal the side curve."""
    params = MatchParams(mid_db=wavy(6.0), side_db=wavy(-6.0))
    mono = signals.pink_noise(-20.0, 4.0, fs, channels=1)[0]
    for sign, curve in ((1.0, params.mid_db), (-1.0, params.side_db)):
        x = np.stack([mono, sign * mono])
        impulse = np.zeros((2, fir_length(fs) * 2))
        impulse[:, fir_length(fs)] = (1.0, sign)  # after the FIR's pre-ringing half
        y = apply_match(impulse, fs, params)
        assert np.allclose(y[0], sign * y[1])  # stays mid (or side)
        f = CENTRES[(CENTRES >= 63.0) & (fs * NYQUIST_SHARE > CENTRES)]
        got = response_db(y[0], fs, f)
        np.testing.assert_allclose(got, np.interp(f, CENTRES, curve), atol=0.25)
        assert apply_match(x, fs, params).shape == x.shape


@pytest.mark.parametrize("channels", [1, 3])
def test_other_layouts_get_the_mid_curve_on_every_channel(channels: int) -> None:
    fs = 44_100
    params = MatchParams(mid_db=wavy(6.0), side_db=wavy(-9.0, 1.0))
    impulse = np.zeros((channels, fir_length(fs) * 2))
    impulse[:, fir_length(fs)] = 1.0
    y = apply_match(impulse, fs, params)
    f = CENTRES[(CENTRES >= 63.0) & (CENTRES < 16_000.0)]
    for ch in range(channels):
        np.testing.assert_allclose(
            response_db(y[ch], fs, f), np.interp(f, CENTRES, params.mid_db), atol=0.25
        )


def test_amount_scales_the_curves_in_db() -> None:
    fs = 48_000
    full = MatchParams(mid_db=wavy(8.0), side_db=wavy(8.0))
    half = MatchParams(amount=0.5, mid_db=wavy(8.0), side_db=wavy(8.0))
    impulse = np.zeros((2, fir_length(fs) * 2))
    impulse[:, fir_length(fs)] = 1.0
    f = CENTRES[(CENTRES >= 63.0) & (CENTRES < 16_000.0)]
    got_full = response_db(apply_match(impulse, fs, full)[0], fs, f)
    got_half = response_db(apply_match(impulse, fs, half)[0], fs, f)
    np.testing.assert_allclose(got_half, got_full / 2, atol=0.2)


@pytest.mark.parametrize("chunk", [1000, 4096, 65_536])
def test_chunking_gives_the_same_output_and_the_latency_is_compensated(chunk: int) -> None:
    fs = 44_100
    x = signals.programme(3.0, fs)
    params = MatchParams(mid_db=wavy(4.0), side_db=wavy(-3.0))
    whole = apply_match(x, fs, params)
    pieces = run_whole(MatchProcessor(fs, 2, params), x, chunk_samples=chunk)
    np.testing.assert_allclose(pieces, whole, atol=1e-6)  # float32 FFTs
    # Linear phase, compensated: the output lines up with the input (cross-correlation at 0).
    mid_in, mid_out = x.mean(axis=0), whole.mean(axis=0)
    lags = np.arange(-50, 51)
    corr = [np.dot(mid_in[100:-100], np.roll(mid_out, -lag)[100:-100]) for lag in lags]
    assert lags[int(np.argmax(corr))] == 0


def test_input_is_not_modified_and_output_is_finite() -> None:
    x = signals.programme(2.0, 48_000)
    before = x.copy()
    y = apply_match(x, 48_000, MatchParams(mid_db=wavy(12.0), side_db=wavy(-12.0)))
    np.testing.assert_array_equal(x, before)
    assert y.shape == x.shape and np.isfinite(y).all()


@pytest.mark.parametrize(("channels", "samples"), [(2, 1), (2, 100), (1, 5000), (6, 20_000)])
def test_inputs_shorter_than_the_fir_or_of_other_layouts_pass_the_pipeline(
    channels: int, samples: int
) -> None:
    p = with_changes(MasteringParams(), match={"mid_db": wavy(3.0), "side_db": wavy(-3.0)})
    x = np.random.default_rng(0).standard_normal((channels, samples)) * 0.1
    out = master(x, 48_000, p).audio
    assert out.shape == x.shape and np.isfinite(out).all()


def test_the_side_on_the_second_core_gives_the_same_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """Natively the side's FIR runs in the background thread while the mid's runs here; in
    Pyodide (no threads) in turn: the same output bit for bit."""
    import threading

    from mixmaster import background
    from mixmaster.matching import FftFir

    fs = 44_100
    params = MatchParams(mid_db=wavy(6.0), side_db=wavy(-6.0, 1.0))
    x = signals.programme(3.0, fs)
    where: list[str] = []
    real = FftFir.process

    def recorded(self: FftFir, chunk: np.ndarray) -> np.ndarray:
        where.append(threading.current_thread().name)
        return real(self, chunk)

    monkeypatch.setattr(FftFir, "process", recorded)
    monkeypatch.setattr(background, "threads_available", lambda: True)
    threaded = run_whole(MatchProcessor(fs, 2, params), x, chunk_samples=8192)
    assert any(name.startswith("mixmaster-background") for name in where)
    assert "MainThread" in where
    monkeypatch.setattr(background, "threads_available", lambda: False)
    where.clear()
    serial = run_whole(MatchProcessor(fs, 2, params), x, chunk_samples=8192)
    assert set(where) == {"MainThread"}
    assert np.array_equal(threaded, serial)

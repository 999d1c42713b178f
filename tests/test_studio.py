"""mixmaster.studio: meanings, the loudness table, platform playback and the canvases' data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from mixmaster import studio
from signals import sine, white_noise

BASE_FEATURES: dict[str, Any] = {
    "channels": 2,
    "integrated_lufs": -18.0,
    "loudness_range_lu": 6.0,
    "true_peak_dbtp": -3.0,
    "plr_db": 15.0,
    "tempo_bpm": 120.0,
    "tempo_confidence": 0.9,
    "correlation": 0.6,
    "spectral_tilt_db_per_oct": -4.5,
}


def _meaning(features: dict[str, Any], key: str) -> str:
    rows = {row["key"]: row for row in studio.analysis_rows(features)}
    return rows[key]["meaning"]


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        ({"true_peak_dbtp": -0.4}, "true_peak_dbtp", "above −1 dBTP: streaming encoders may clip"),
        ({"true_peak_dbtp": 0.3}, "true_peak_dbtp", "above 0 dBTP"),
        ({"true_peak_dbtp": -1.5}, "true_peak_dbtp", "safe for streaming"),
        ({"integrated_lufs": -7.0}, "integrated_lufs", "Very loud already"),
        ({"integrated_lufs": -23.0}, "integrated_lufs", "the master will bring it up"),
        ({"integrated_lufs": None}, "integrated_lufs", "silent"),
        ({"loudness_range_lu": 2.0}, "loudness_range_lu", "dense"),
        ({"loudness_range_lu": 15.0}, "loudness_range_lu", "Wide dynamics"),
        ({"plr_db": 6.0}, "plr_db", "heavily compressed"),
        ({"correlation": -0.2}, "correlation", "cancel in mono"),
        ({"channels": 1}, "correlation", "Mono"),
        ({"tempo_bpm": None}, "tempo_bpm", "No steady beat"),
        ({"tempo_confidence": 0.1}, "tempo_bpm", "rough guess"),
        ({"spectral_tilt_db_per_oct": -1.0}, "spectral_tilt_db_per_oct", "Bright"),
        ({"spectral_tilt_db_per_oct": -8.0}, "spectral_tilt_db_per_oct", "Dark"),
    ],
)
def test_each_measurement_says_what_it_means(
    changes: dict[str, Any], key: str, expected: str
) -> None:
    assert expected in _meaning(BASE_FEATURES | changes, key)


def test_analysis_rows_format_values_with_units() -> None:
    rows = {row["key"]: row["value"] for row in studio.analysis_rows(BASE_FEATURES)}
    assert rows["integrated_lufs"] == "−18.0 LUFS"
    assert rows["true_peak_dbtp"] == "−3.0 dBTP"
    assert rows["tempo_bpm"] == "120 BPM (90 % confident)"
    assert rows["correlation"] == "+0.60"
    silent = {row["key"]: row["value"] for row in studio.analysis_rows({"channels": 2})}
    assert silent["integrated_lufs"] == "silent"


def test_level_rows_put_before_and_after_side_by_side() -> None:
    levels = {
        "integrated_lufs": -20.0,
        "short_term_max_lufs": -15.0,
        "momentary_max_lufs": -13.0,
        "loudness_range_lu": 7.0,
        "true_peak_dbtp": -4.0,
        "sample_peak_dbfs": -4.2,
    }
    after = {k: v + 6.0 for k, v in levels.items()} | {"true_peak_dbtp": -1.0}
    rows = studio.level_rows({"before": levels, "after": after | {"sample_peak_dbfs": None}})
    first = rows[0]
    assert first == {
        "key": "integrated_lufs",
        "label": "Integrated loudness",
        "before": "−20.0 LUFS",
        "after": "−14.0 LUFS",
    }
    assert rows[-1]["after"] == "silent"


def test_album_view_formats_each_track_and_the_album_check() -> None:
    tracks = [
        {"name": "01 Intro", "before_lufs": -20.04, "after_lufs": -13.96, "true_peak_dbtp": -1.2},
        {"name": "02 Room tone", "before_lufs": None, "after_lufs": None, "true_peak_dbtp": None},
    ]
    check = {"album_lufs": -14.02, "target_lufs": -14.0, "relative_spread_lu": 0.08}
    view = studio.album_view(tracks, check)
    assert view["rows"] == [
        {
            "name": "01 Intro",
            "before": "−20.0 LUFS",
            "after": "−14.0 LUFS",
            "true_peak": "−1.2 dBTP",
        },
        {"name": "02 Room tone", "before": "silent", "after": "silent", "true_peak": "silent"},
    ]
    assert view["summary"] == (
        "The album reads −14.0 LUFS (target −14.0 LUFS); the tracks kept their levels "
        "relative to each other within 0.1 LU."
    )
    silent = studio.album_view(tracks[1:], check | {"album_lufs": None})
    assert silent["summary"] == "The album is silent: there was nothing to bring to the target."


@pytest.mark.parametrize(
    ("lufs", "tp", "expected"),
    [
        # louder than every target: all turn down by the difference
        (-9.0, -1.0, {"spotify": -5.0, "apple": -7.0, "youtube": -5.0, "deezer": -6.0}),
        # quiet with peak headroom: Spotify/Apple/Deezer turn up (up to -1 dBTP), YouTube never
        (-18.0, -8.0, {"spotify": 4.0, "apple": 2.0, "youtube": 0.0, "tidal": 0.0, "deezer": 3.0}),
        # quiet but peaking high: the turn-up stops where the true peak reaches -1 dBTP
        (-18.0, -3.0, {"spotify": 2.0, "apple": 2.0, "deezer": 2.0, "amazon": 0.0}),
        (-18.0, -0.5, {"spotify": 0.0, "apple": 0.0}),
    ],
)
def test_platform_playback_gain(lufs: float, tp: float, expected: dict[str, float]) -> None:
    rows = {r["platform"]: r for r in studio.platform_playback(lufs, tp)}
    for name, gain_db in expected.items():
        assert rows[name]["gain_db"] == pytest.approx(gain_db, abs=1e-9), name
    assert rows["youtube"]["target_lufs"] == -14.0 and rows["apple"]["target_lufs"] == -16.0
    assert rows["apple"]["target"] == "−16 LUFS"  # as the page shows it


def test_platform_playback_words_and_silence() -> None:
    rows = {r["platform"]: r["text"] for r in studio.platform_playback(-10.0, -1.0)}
    assert rows["spotify"] == "turned down 4.0 dB"
    quiet = {r["platform"]: r["text"] for r in studio.platform_playback(-20.0, -2.0)}
    assert quiet["youtube"] == "played as is (this platform never turns up)"
    assert quiet["spotify"] == "turned up 1.0 dB"
    on_target = {r["platform"]: r["text"] for r in studio.platform_playback(-14.0, -1.0)}
    assert on_target["youtube"] == on_target["spotify"] == "played as is"
    assert all(r["gain_db"] is None for r in studio.platform_playback(None, None))


@pytest.mark.parametrize("samples", [1, 7, 1200, 1201, 44_100, 123_457])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_waveform_envelope_is_the_min_and_max_of_each_slice(samples: int, channels: int) -> None:
    rng = np.random.default_rng(samples + channels)
    x = rng.standard_normal((channels, samples)).astype(np.float32)
    before = x.copy()
    env = studio.waveform_envelope(x)
    k = min(studio.WAVEFORM_COLUMNS, samples)
    assert env["min"].dtype == env["max"].dtype == np.float32
    assert env["min"].shape == env["max"].shape == (k,)
    edges = [(i * samples) // k for i in range(k + 1)]
    for i in (0, k // 2, k - 1):
        part = x[:, edges[i] : edges[i + 1]]
        assert env["min"][i] == part.min() and env["max"][i] == part.max()
    assert env["min"].min() == x.min() and env["max"].max() == x.max()
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("rate", [44_100, 96_000])
def test_measure_view_places_a_sine_in_its_band_at_its_level(rate: int) -> None:
    level_dbfs = -12.0
    x = sine(1000.0, level_dbfs, 2.0, rate)
    view = studio.measure_view(x, rate)
    spectrum = view["spectrum_dbfs"]
    centres = studio.band_centres_hz()
    loudest = max(range(len(spectrum)), key=lambda i: spectrum[i] or -math.inf)
    assert centres[loudest] == 1000.0
    # a sine's RMS is its peak level - 3.01 dB, nearly all of it in its own band
    assert spectrum[loudest] == pytest.approx(level_dbfs - 3.01, abs=0.3)
    assert view["waveform"]["max"].max() == pytest.approx(10 ** (level_dbfs / 20), rel=1e-3)


def test_spectrum_view_keeps_unmeasured_bands_and_silence_empty() -> None:
    assert studio.spectrum_view([-10.0, None, -30.5], -20.0) == [-30.0, None, -50.5]
    assert studio.spectrum_view([-10.0, -12.0], None) == [None, None]
    silent = studio.measure_view(np.zeros((2, 48_000), np.float32), 48_000)
    assert all(v is None for v in silent["spectrum_dbfs"])


def test_white_noise_view_is_flat_per_hz_so_it_rises_per_third_octave() -> None:
    rate = 48_000
    view = studio.measure_view(white_noise(-20.0, 3.0, rate, seed=1), rate)
    centres = studio.band_centres_hz()
    levels = dict(zip(centres, view["spectrum_dbfs"], strict=True))
    # ten bands are 10/3 octaves: white noise gains 10 dB (3 dB per octave)
    assert levels[10_000.0] - levels[1000.0] == pytest.approx(10.0, abs=1.0)

"""The mastering pipeline: pre-limiter chain, loudness targeting, limiter, output stage, report.

``master(x, sample_rate_hz, params)`` runs, in signal-path order,

1. the **pre-limiter chain** -- subsonic high-pass, EQ, reference match (a linear-phase FIR
   per mid and side, :mod:`mixmaster.matching`), multiband compressor, stereo image,
   saturation -- chunk by chunk (:data:`CHUNK_SAMPLES`), into one float32 buffer, while a
   streaming BS.1770 meter measures that signal's integrated loudness ``L_pre``; a stage whose
   ``amount`` is 0 is skipped entirely, so neutral settings null against the input;
2. **loudness targeting**: the gain ``g = loudness.amount × (target_lufs - L_pre)`` is applied in
   front of the true-peak limiter (whose ceiling is lowered by the output stage's worst-case
   increase, :func:`mixmaster.dither.output_headroom_db`); the gain is solved on a model of the
   limiter (:mod:`mixmaster.targeting`: the chain's output envelope, with its peaks between
   samples where the gain brings them near the ceiling), then the real limiter's output
   loudness is measured and the model corrected, at most :data:`MAX_LIMITER_PASSES` passes,
   until a pass is within :data:`LOUDNESS_TOLERANCE_LU` of the aim (see :func:`_target`);
3. a **cap on the limiting depth**: the depth is the 99th percentile over time of the limiter's
   gain reduction (its control-rate gain curve, from the start to the last sound; the
   limiter's ``p99_gain_reduction_db`` statistic). A percentile, unlike the maximum, ignores the
   odd transient (one drum hit is well under 1 % of a track) while still reading the reduction
   that recurs on every beat, which is what a limiter's gain-reduction meter shows a mastering
   engineer. If reaching the target needs a depth above
   ``limiter.amount × limiter.max_reduction_db``, the gain is backed off to that depth and the
   report says so, e.g. "target -9 LUFS not reached: -11.2 LUFS, because more than 6 dB of
   limiting would be needed";
4. the **output stage** (TPDF dither, seeded from ``output.dither_seed``, quantisation to the
   bit depth), run on the written limiter pass as its chunks come out, and a **final true-peak
   verification** of the quantised signal: the limiter's guard has checked every interpolated
   point of its output, and its bounds on the true peak, widened by the quantiser's largest
   effect, settle the check and the reported true peak to within 0.01 dB
   (:func:`mixmaster.dither.limiter_ceiling_check`); only when they do not (wide bounds,
   unresolved guard points, clipping) is the output measured
   (:func:`mixmaster.dither.enforce_ceiling`). Were it above the ceiling (the limiter and the
   headroom make that impossible in theory), it is trimmed by the amount that provably suffices
   and re-quantised, and the report says by how much (``output_trim_db``).

Memory: the input is never copied or modified. The pipeline holds one float32 intermediate of
the input's size, plus a float32 output buffer when that is small (:data:`SEPARATE_OUTPUT_BYTES`);
for longer files the final limiter pass writes its output in place into the intermediate, which
costs one more limiter pass. Processing happens in float64 chunks only; no full-length float64
array ever exists.

Cores: natively, the envelope collector (step 1) and the limiter pass's meter and output stage
(steps 2 and 4) take each piece on a second core while the chain or the limiter makes the next,
and the chain's first stages (those before the compressor, :func:`_ahead`) take the next chunk
there while the rest of the chain makes this one (:mod:`mixmaster.background`; at most one
piece waits). In Pyodide they run in turn, as before; the master is the same bit for bit.

References: ITU-R BS.1770-4 (loudness, true peak), EBU R128 / Tech 3341 / Tech 3342.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from mixmaster import background, dither, truepeak
from mixmaster.audio import as_audio, check_sample_rate
from mixmaster.dynamics import CompressorProcessor
from mixmaster.eq import EqProcessor
from mixmaster.errors import InputError
from mixmaster.highpass import HighpassProcessor, highpass_sos
from mixmaster.limiter import DETECTION_MARGIN_DB, LimiterProcessor
from mixmaster.loudness import LoudnessMeasurement, LoudnessMeter
from mixmaster.matching import MatchProcessor
from mixmaster.params import MasteringParams
from mixmaster.processor import Processor
from mixmaster.saturation import SaturationProcessor
from mixmaster.stereo import StereoProcessor
from mixmaster.targeting import EnvelopeCollector, LimiterModel, depth_shift_db, solve_gain
from mixmaster.units import FloatArray, db_to_lin, lin_to_db

__all__ = [
    "CHUNK_SAMPLES",
    "LevelReport",
    "LoudnessReport",
    "MasterReport",
    "MasterResult",
    "StageReport",
    "master",
    "prelimiter",
]

ProgressCallback = Callable[[str, float], None]

MIN_SAMPLE_RATE_HZ: Final = 8_000
MAX_SAMPLE_RATE_HZ: Final = 192_000
"""Mastering accepts 8 kHz to 192 kHz (the meters go further, the processors do not)."""

CHUNK_SAMPLES: Final = 1 << 17
"""Samples per channel processed at a time (float64 work space ~ 1 MB per channel); twice
2**16 costs the same natively and spares ~5 % of a master's time in Pyodide (per-chunk Python
overhead)."""

LOUDNESS_TOLERANCE_LU: Final = 0.1
"""A limiter pass whose output is this close to the aimed loudness ends the search."""

REACHED_TOLERANCE_LU: Final = 0.3
"""The report calls the target reached when the master is this close to it."""

MAX_LIMITER_PASSES: Final = 3
"""Most limiter passes spent searching the gain (the limiter is the costly stage)."""

DEPTH_STAT: Final = "p99_gain_reduction_db"
DEPTH_TOLERANCE_DB: Final = 0.1
CAP_APPROACH_DB: Final = 0.3
"""The limiting depth is the limiter's 99th percentile of gain reduction (see above)."""

INTERSAMPLE_SEARCH_DB: Final = 2.0
"""The limiter model's peaks between samples are computed around the samples that, with the gain
of a first solution from sample peaks, come within this much of the ceiling (over 15 generated
materials x 5 targets, 1, 2 and 3 dB saved the same passes; on a 5-minute track this costs
0.05 s natively and 0.25 s in Pyodide, against 2.5 s for every point). They usually move the
gain by a few tenths of a dB (down, where the depth cap sets it); where they raise it by more
than this, they are computed again down to the new gain's reach (at most
:data:`_MAX_REFINEMENTS` times; the real passes correct what the model still misses)."""

SEPARATE_OUTPUT_BYTES: Final = 256 * 2**20
"""Up to this size the output gets its own float32 buffer (saving a limiter pass)."""

_MAX_REFINEMENTS: Final = 3
"""Rounds of the limiter model's peaks between samples (one in practice)."""

_MAX_TRIMS: Final = 3
"""Trims of the final verification (one is provably enough; it should never be needed)."""


@dataclass(frozen=True)
class LevelReport:
    """Loudness and peaks of a signal (BS.1770-4, EBU Tech 3341/3342).

    Silence reads ``-inf`` (``None`` in JSON).
    """

    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float
    sample_peak_dbfs: float
    momentary_max_lufs: float
    short_term_max_lufs: float

    @classmethod
    def from_measurements(
        cls, loudness: LoudnessMeasurement, true_peak_dbtp: float, sample_peak_dbfs: float
    ) -> LevelReport:
        """Combine a loudness measurement with peak levels."""
        return cls(
            integrated_lufs=loudness.integrated_lufs,
            loudness_range_lu=loudness.loudness_range_lu,
            true_peak_dbtp=true_peak_dbtp,
            sample_peak_dbfs=sample_peak_dbfs,
            momentary_max_lufs=loudness.momentary_max_lufs,
            short_term_max_lufs=loudness.short_term_max_lufs,
        )

    @classmethod
    def from_features(cls, features: Mapping[str, object]) -> LevelReport:
        """The levels the analysis measured (feature JSON; ``null`` is silence, ``-inf``).

        Lets a caller that has analysed the input spare :func:`master` measuring it again.
        """

        def level(key: str) -> float:
            value = features.get(key)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return float(value) if ok else -math.inf  # type: ignore[arg-type]

        lra = features.get("loudness_range_lu")
        return cls(
            integrated_lufs=level("integrated_lufs"),
            loudness_range_lu=float(lra) if isinstance(lra, int | float) else 0.0,
            true_peak_dbtp=level("true_peak_dbtp"),
            sample_peak_dbfs=level("sample_peak_dbfs"),
            momentary_max_lufs=level("momentary_max_lufs"),
            short_term_max_lufs=level("short_term_max_lufs"),
        )

    def to_json(self) -> dict[str, float | None]:
        """Values rounded to 0.01; ``-inf`` becomes ``None``."""
        return {k: _json_number(v) for k, v in dataclasses.asdict(self).items()}


@dataclass(frozen=True)
class StageReport:
    """What one stage did: whether it ran, and its statistics (e.g. gain reduction in dB)."""

    name: str
    active: bool
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """``{"name", "active", "stats"}`` with JSON-safe numbers."""
        return {"name": self.name, "active": self.active, "stats": _json_value(self.stats)}


@dataclass(frozen=True)
class LoudnessReport:
    """How loudness targeting went.

    Attributes
    ----------
    target_lufs
        The target asked for (``loudness.target_lufs``).
    aim_lufs
        What the gain search aimed at: ``L_pre + amount × (target - L_pre)``.
    prelimiter_lufs
        Integrated loudness of the pre-limiter chain's output.
    gain_db
        Gain applied in front of the limiter.
    limiting_depth_db
        The limiter's depth on the final pass (99th percentile of 10 ms-block reduction).
    limiting_cap_db
        The allowed depth, ``limiter.amount × limiter.max_reduction_db``.
    capped
        Whether the gain was backed off because of the cap.
    passes
        Limiter passes run.
    reached
        Whether the master's integrated loudness is within 0.3 LU of ``target_lufs``.
    note
        One plain sentence: how the target was met, or why not.
    """

    target_lufs: float
    aim_lufs: float
    prelimiter_lufs: float
    gain_db: float
    limiting_depth_db: float
    limiting_cap_db: float
    capped: bool
    passes: int
    reached: bool
    note: str

    def to_json(self) -> dict[str, Any]:
        """JSON-safe dict; ``-inf`` becomes ``None``."""
        return _json_value(dataclasses.asdict(self))  # type: ignore[no-any-return]


@dataclass(frozen=True)
class MasterReport:
    """Everything the CLI and the page show about a master.

    ``before`` measures the input, ``after`` the final (quantised) output;
    ``output_trim_db`` is the extra trim of the final true-peak verification (0 in practice).
    """

    sample_rate_hz: int
    channels: int
    samples: int
    bits: str
    ceiling_dbtp: float
    before: LevelReport
    after: LevelReport
    loudness: LoudnessReport
    stages: tuple[StageReport, ...]
    output_trim_db: float

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (for ``--report`` and the browser)."""
        return {
            "sample_rate_hz": self.sample_rate_hz,
            "channels": self.channels,
            "samples": self.samples,
            "duration_s": round(self.samples / self.sample_rate_hz, 3),
            "bits": self.bits,
            "ceiling_dbtp": self.ceiling_dbtp,
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "loudness": self.loudness.to_json(),
            "stages": [s.to_json() for s in self.stages],
            "output_trim_db": _json_number(self.output_trim_db),
        }


@dataclass(frozen=True)
class MasterResult:
    """The master, float32 ``(channels, samples)`` on the output's sample grid, and its report."""

    audio: npt.NDArray[np.float32]
    report: MasterReport


def _json_number(value: float) -> float | None:
    if not math.isfinite(value):
        return None
    return round(float(value), 2)


def _json_value(value: Any) -> Any:
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _json_number(float(value))
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_value(v) for v in value]
    return str(value)


class _Progress:
    """Forwards ``(stage, fraction)`` to the caller's callback, if any."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback

    def __call__(self, stage: str, fraction: float) -> None:
        if self._callback is not None:
            self._callback(stage, min(1.0, max(0.0, fraction)))


def _check_master_rate(sample_rate_hz: float) -> int:
    fs = check_sample_rate(sample_rate_hz)
    if not MIN_SAMPLE_RATE_HZ <= fs <= MAX_SAMPLE_RATE_HZ:
        raise InputError(
            "unsupported_sample_rate",
            f"Sample rate {fs} Hz is not supported for mastering; accepted: "
            f"{MIN_SAMPLE_RATE_HZ} to {MAX_SAMPLE_RATE_HZ} Hz.",
            field="sample_rate_hz",
        )
    return fs


@dataclass(frozen=True)
class _Stage:
    """One pre-limiter stage: its processor (``None`` when bypassed or merged) and, for a
    merged stage, the statistics to report instead of the processor's."""

    name: str
    proc: Processor | None
    merged_stats: dict[str, Any] | None = None

    def report(self) -> StageReport:
        if self.merged_stats is not None:
            return StageReport(self.name, True, self.merged_stats)
        if self.proc is None:
            return StageReport(self.name, False, {})
        return StageReport(self.name, True, dict(self.proc.stats()))


def _chain(fs: int, channels: int, params: MasteringParams) -> list[_Stage]:
    """The pre-limiter processors in signal-path order.

    A stage whose ``amount`` is 0 (or a flat match) is skipped. A full-wet high-pass (amount 1)
    ahead of an active EQ is cascaded into the EQ's filter pass (same result, one pass over the
    audio fewer).
    """
    hp, eq = params.highpass, params.eq
    stages: list[_Stage] = []
    if hp.amount == 1.0 and eq.amount > 0.0:
        stats = {"cutoff_hz": hp.cutoff_hz, "amount": hp.amount, "cascaded_into": "eq"}
        stages.append(_Stage("highpass", None, stats))
        pre_sos = highpass_sos(hp.cutoff_hz, fs)
        stages.append(_Stage("eq", EqProcessor(fs, channels, eq, pre_sos=pre_sos)))
    else:
        stages.append(
            _Stage("highpass", HighpassProcessor(fs, channels, hp) if hp.amount else None)
        )
        stages.append(_Stage("eq", EqProcessor(fs, channels, eq) if eq.amount else None))
    match = params.match
    stages.append(_Stage("match", MatchProcessor(fs, channels, match) if match.active else None))
    for name, make in (
        ("compressor", CompressorProcessor),
        ("stereo", StereoProcessor),
        ("saturation", SaturationProcessor),
    ):
        p = getattr(params, name)
        stages.append(_Stage(name, make(fs, channels, p) if p.amount > 0.0 else None))
    return stages


def _stream(
    procs: list[Processor],
    read: Callable[[int, int], FloatArray],
    channels: int,
    n: int,
    chunk_samples: int,
    tail_samples: int = 0,
    ahead: int = 0,
) -> Generator[tuple[int, FloatArray], None, None]:
    """Run ``read(start, stop)`` chunks through ``procs``; yield ``(start, output)`` in order.

    The chain's total latency is compensated: after the input, zeros are fed for
    ``sum(latency_samples)`` samples (and ``tail_samples`` more, whose output is dropped) and
    the first that many output samples are dropped, so the yielded pieces tile ``[0, n)``
    exactly and line up with the input.

    The first ``ahead`` processors (and ``read``) take the next chunk in the background
    (:func:`mixmaster.background.start`) while the others process this one: every processor
    still sees the same chunks in the same order, so the output is the same bit for bit.
    """
    latency = sum(p.latency_samples for p in procs)
    front, back = procs[:ahead], procs[ahead:]
    end = n + latency + tail_samples

    def feed(pos: int) -> tuple[int, FloatArray]:
        if pos < n:
            stop = min(n, pos + chunk_samples)
            y = read(pos, stop)
        else:
            stop = min(end, pos + chunk_samples)
            y = np.zeros((channels, stop - pos))
        for proc in front:
            y = proc.process(y)
        return stop, y

    def launch(pos: int) -> background.Job[tuple[int, FloatArray]]:
        fn = functools.partial(feed, pos)
        return background.start(fn) if front else background.Job(fn, None)  # None: runs here

    written = -latency
    job = launch(0) if end > 0 else None
    try:
        while job is not None:
            stop, y = job.result()
            job = launch(stop) if stop < end else None
            for proc in back:
                y = proc.process(y)
            lo = max(written, 0)
            hi = min(written + y.shape[1], n)
            if hi > lo:
                yield lo, y[:, lo - written : hi - written]
            written += y.shape[1]
    finally:
        if job is not None:  # stopped early (cancelled...): nothing runs on after this
            job.abandon()


def _ahead(procs: list[Processor]) -> int:
    """How many of the chain's first stages take the next chunk on the second core.

    Those before the compressor, or without one, before the reference match (the two costly
    stages: with both, EQ and match take about as long as the compressor), or else all but the
    last.
    """
    for kind in (CompressorProcessor, MatchProcessor):
        for i, proc in enumerate(procs):
            if isinstance(proc, kind):
                return i
    return max(0, len(procs) - 1)


def _run_prelimiter(
    x: FloatArray,
    fs: int,
    params: MasteringParams,
    out: npt.NDArray[np.float32],
    chunk_samples: int,
    progress: _Progress,
    input_meter: LoudnessMeter | None = None,
    envelope: EnvelopeCollector | None = None,
) -> list[StageReport]:
    """Fill ``out`` (which may be ``x`` itself) with the pre-limiter chain's output.

    Feeds ``input_meter`` with the input and ``envelope`` with the output. Writing in place is
    safe: the chain's output position always trails its read position.
    """
    channels, n = x.shape
    stages = _chain(fs, channels, params)
    procs = [stage.proc for stage in stages if stage.proc is not None]

    def read(start: int, stop: int) -> FloatArray:
        chunk = np.asarray(x[:, start:stop], dtype=np.float64)
        if input_meter is not None:
            input_meter.process(chunk)
        return chunk

    # On a second core, the stages before the compressor take the next chunk while the rest of
    # the chain makes this one, and the envelope takes each piece as it comes out.
    pieces = _stream(procs, read, channels, n, chunk_samples, ahead=_ahead(procs))
    with background.Relay() as relay, contextlib.closing(pieces):
        for start, y in pieces:
            out[:, start : start + y.shape[1]] = y
            if envelope is not None:
                relay.send(functools.partial(envelope.add, y))
            progress("prelimiter", (start + y.shape[1]) / n)
    return [stage.report() for stage in stages]


def prelimiter(
    x: npt.ArrayLike,
    sample_rate_hz: int,
    params: MasteringParams,
    *,
    chunk_samples: int = CHUNK_SAMPLES,
) -> npt.NDArray[np.float32]:
    """The pre-limiter chain alone (high-pass, EQ, match, compressor, stereo, saturation), float32.

    This is exactly the signal :func:`master` feeds to loudness targeting. Stages with
    ``amount`` 0 are skipped, so all-zero amounts return the input (as float32).

    Raises
    ------
    InputError
        As :func:`master`.
    """
    arr = as_audio(x)
    fs = _check_master_rate(sample_rate_hz)
    out = np.empty(arr.shape, dtype=np.float32)
    _run_prelimiter(arr, fs, params, out, chunk_samples, _Progress(None))
    return out


@dataclass
class _Pass:
    """One limiter pass at ``gain_db``: output loudness, depth and the limiter's stats.

    A writing pass also holds the limiter's bounds on its output's true peak (linear), whether
    the quantiser clipped, and the quantised output's sample peak (linear).
    """

    gain_db: float
    loudness: LoudnessMeasurement
    depth_db: float
    stats: dict[str, Any]
    output_peak_lin: tuple[float, float] | None = None
    clipped: bool = False
    sample_peak_lin: float = 0.0

    @property
    def lufs(self) -> float:
        return self.loudness.integrated_lufs


def _limiter_pass(
    pre: npt.NDArray[np.float32],
    fs: int,
    params: MasteringParams,
    ceiling_margin_db: float,
    gain_db: float,
    out: npt.NDArray[np.float32] | None,
    chunk_samples: int,
    report_progress: Callable[[float], None],
) -> _Pass:
    """Gain, then limit ``pre``; measure the output; quantise it into ``out`` if given.

    Writing passes run the output stage (dither and quantisation, seeded afresh from
    ``output.dither_seed``) on each chunk as it leaves the limiter, so an accepted pass needs
    no further sweep over the audio; they also run the limiter on past the end (zeros) until
    it has verified every point of the output, so its true-peak bounds cover the whole signal.
    The loudness is measured before quantisation (the dither is at the least significant
    bit). ``out`` may be ``pre`` itself: the output position always trails the read position.
    """
    channels, n = pre.shape
    limiter = LimiterProcessor(fs, channels, params.limiter, ceiling_margin_db=ceiling_margin_db)
    meter = LoudnessMeter(fs, channels)
    gain_lin = db_to_lin(gain_db)
    quantiser = None
    if out is not None:
        rng = dither.dither_rng(params.output.dither_seed)
        quantiser = dither.OutputProcessor(fs, channels, params.output, rng=rng)

    def read(start: int, stop: int) -> FloatArray:
        chunk = np.asarray(pre[:, start:stop], dtype=np.float64)
        chunk *= gain_lin
        return chunk

    def take(start: int, stop: int, y: FloatArray) -> None:
        meter.process(y)
        if out is not None and quantiser is not None:
            out[:, start:stop] = quantiser.process(y)

    # The meter and the output stage take each piece on the second core while the limiter
    # makes the next; their writes trail the limiter's reads.
    tail = limiter.latency_samples if out is not None else 0
    with background.Relay() as relay:
        for start, y in _stream([limiter], read, channels, n, chunk_samples, tail):
            stop = start + y.shape[1]
            relay.send(functools.partial(take, start, stop, y))
            report_progress(stop / n)
    stats = dict(limiter.stats())
    p = _Pass(gain_db, meter.result(), float(stats[DEPTH_STAT]), stats)
    if quantiser is not None:
        p.output_peak_lin = limiter.output_peak_lin()
        q_stats = quantiser.stats()
        p.clipped = q_stats["clipped_samples"] > 0
        p.sample_peak_lin = float(q_stats["sample_peak_lin"])
    return p


def _good_enough(p: _Pass, aim_lufs: float, cap_db: float, capped: bool) -> bool:
    """Whether a limiter pass can be kept: on the aim, or (when capped) just under the cap."""
    if p.depth_db > cap_db + DEPTH_TOLERANCE_DB:
        return False
    if abs(p.lufs - aim_lufs) <= LOUDNESS_TOLERANCE_LU:
        return True
    return capped and p.lufs < aim_lufs and p.depth_db >= cap_db - CAP_APPROACH_DB


def _loudness_note(
    target_lufs: float,
    amount: float,
    final_lufs: float,
    capped: bool,
    cap_db: float,
    reached: bool,
) -> str:
    if not math.isfinite(final_lufs):
        return "The input is silent (or shorter than 0.4 s), so no loudness gain was applied."
    if reached:
        return f"Target {target_lufs:.1f} LUFS reached: {final_lufs:.1f} LUFS."
    if amount == 0.0:
        return (
            f"Loudness targeting is off (amount 0): the master reads {final_lufs:.1f} LUFS, "
            f"target {target_lufs:.1f} LUFS."
        )
    if capped:
        return (
            f"Target {target_lufs:.1f} LUFS not reached: {final_lufs:.1f} LUFS, because more "
            f"than {cap_db:.1f} dB of limiting would be needed."
        )
    if amount < 1.0:
        return (
            f"Only {amount:.0%} of the gain toward the {target_lufs:.1f} LUFS target was "
            f"applied (loudness amount {amount:g}): the master reads {final_lufs:.1f} LUFS."
        )
    return (
        f"Target {target_lufs:.1f} LUFS not reached: {final_lufs:.1f} LUFS after "
        f"{MAX_LIMITER_PASSES} limiter passes."
    )


def _output_stage(
    buf: npt.NDArray[np.float32],
    fs: int,
    params: MasteringParams,
    trim_lin: float,
    chunk_samples: int,
    meter: LoudnessMeter,
) -> None:
    """Trim and quantise ``buf`` again in place (dither seeded from the params), metering it.

    Only for the final verification's trim, which should never be needed.
    """
    channels, n = buf.shape
    rng = dither.dither_rng(params.output.dither_seed)
    proc = dither.OutputProcessor(fs, channels, params.output, rng=rng)
    for start in range(0, n, chunk_samples):
        stop = min(n, start + chunk_samples)
        y = proc.process(np.asarray(buf[:, start:stop], dtype=np.float64) * trim_lin)
        buf[:, start:stop] = y
        meter.process(y)


def _sample_peak_dbfs(x: FloatArray, chunk_samples: int) -> float:
    """Largest ``|x|`` in dBFS, chunk by chunk (no full-size temporary); silence is ``-inf``."""
    peak = 0.0
    for start in range(0, x.shape[1], chunk_samples):
        chunk = x[:, start : start + chunk_samples]
        peak = max(peak, float(chunk.max()), -float(chunk.min()))
    return lin_to_db(peak)


def _target(
    run: Callable[[float, bool], _Pass],
    pre: npt.NDArray[np.float32],
    envelope: EnvelopeCollector,
    params: MasteringParams,
    headroom_db: float,
    prelimiter_lufs: float,
    aim_lufs: float,
    cap_db: float,
    separate: bool,
) -> tuple[_Pass, bool]:
    """Search the gain with the limiter model and real passes; the kept pass and "capped".

    The model proposes a gain; a real pass measures loudness and depth; their differences from
    the model's predictions correct it (a loudness offset, a depth shift) and the next gain is
    solved on the corrected model, at most :data:`MAX_LIMITER_PASSES` real passes. With a
    separate output buffer every pass writes it and the last is kept; writing in place, only
    the accepted gain is run with writing (once more if it was first run to measure).
    """
    ceiling_dbtp = params.limiter.ceiling_dbtp - headroom_db - DETECTION_MARGIN_DB

    def new_model() -> LimiterModel:
        return LimiterModel(
            envelope, ceiling_dbtp, params.limiter.release_ms, params.limiter.lookahead_ms
        )

    model = new_model()
    # The model's 1 ms blocks do not fall exactly on the meter's 100 ms sub-block edges.
    offset_lu = prelimiter_lufs - model.lufs(0.0, limited=False)  # a few 0.01 LU at most
    if not math.isfinite(offset_lu):
        offset_lu = 0.0
    shift_db = 0.0
    start_db = aim_lufs - prelimiter_lufs
    solution = solve_gain(model, aim_lufs, cap_db, lufs_offset_lu=offset_lu, start_db=start_db)
    # The peaks between samples, around the samples that this gain (and a little more) brings
    # near the ceiling; again, further down, in the rare case that they raise it beyond that.
    refined_db = -math.inf  # the gain up to which the model has them
    for _ in range(_MAX_REFINEMENTS):
        if solution.gain_db <= refined_db:
            break
        refined_db = solution.gain_db + INTERSAMPLE_SEARCH_DB
        envelope.raise_to_interpolated_peaks(pre, db_to_lin(ceiling_dbtp - refined_db))
        model = new_model()
        solution = solve_gain(model, aim_lufs, cap_db, lufs_offset_lu=offset_lu, start_db=start_db)
    passes = 0
    while True:
        passes += 1
        last_allowed = passes == MAX_LIMITER_PASSES
        written = separate or last_allowed
        p = run(solution.gain_db, written)
        if last_allowed or _good_enough(p, aim_lufs, cap_db, solution.capped):
            break
        offset_lu = p.lufs - model.lufs(p.gain_db)
        if not math.isfinite(offset_lu):
            break
        shift_db = depth_shift_db(model, p.gain_db, p.depth_db)
        previous = solution
        solution = solve_gain(
            model,
            aim_lufs,
            cap_db,
            lufs_offset_lu=offset_lu,
            depth_shift_db=shift_db,
            start_db=start_db,
        )
        if abs(solution.gain_db - previous.gain_db) < 0.005:
            solution = previous
            break
    if not written:
        p = run(p.gain_db, True)  # in place: run the accepted gain again, writing
    return p, solution.capped


def master(
    x: npt.ArrayLike,
    sample_rate_hz: int,
    params: MasteringParams,
    progress: ProgressCallback | None = None,
    *,
    chunk_samples: int = CHUNK_SAMPLES,
    before: LevelReport | None = None,
    overwrite_input: bool = False,
) -> MasterResult:
    """Master ``x``: pre-limiter chain, loudness targeting, true-peak limiter, output stage.

    Parameters
    ----------
    x
        Audio ``(channels, samples)``, floating point, 1 to 8 channels. Not modified (unless
        ``overwrite_input``).
    sample_rate_hz
        8 kHz to 192 kHz; kept.
    params
        The full parameter set (:class:`~mixmaster.params.MasteringParams`).
    progress
        Optional ``progress(stage, fraction)``, called as each stage advances
        (``"prelimiter"``, ``"loudness"``, ``"output"``, ``"verify"``); if it raises
        :class:`~mixmaster.errors.CancelledError`, mastering stops and the error propagates.
    chunk_samples
        Samples per channel per processing chunk (the result does not depend on it beyond
        rounding).
    before
        The input's levels, when the caller has measured them already (e.g. from
        :func:`mixmaster.analyze.analyze`); otherwise they are measured here.
    overwrite_input
        Let the pipeline use ``x``'s own buffer as its intermediate, destroying its content,
        when ``x`` is a writable float32 array: one full-size copy less, for callers that do not
        need the input afterwards (the CLI). Ignored for other arrays.

    Returns
    -------
    MasterResult
        ``audio``: float32 ``(channels, samples)``, same shape as ``x``, quantised to
        ``params.output.bits`` (values exactly on the PCM grid for 16/24 bits), true peak at or
        below ``params.limiter.ceiling_dbtp``; ``report``: metering before and after, per-stage
        statistics, the gain applied and whether the target was reached. The ``after``
        loudness is measured on the limiter's output: the output stage only adds dither at the
        least significant bit (-90 dBFS and below), which moves it by less than 0.001 LU; the
        ``after`` sample peak is the quantised output's, and its true peak is the top of the
        limiter's verified bounds when those are within 0.01 dB (at or above the exact value),
        else measured on the quantised output itself.

    Raises
    ------
    InputError
        ``bad_layout``, ``empty_audio``, ``non_finite``, ``unsupported_sample_rate``.
    CancelledError
        When ``progress`` raises it.
    """
    arr = as_audio(x)
    fs = _check_master_rate(sample_rate_hz)
    if chunk_samples < 1:
        raise InputError("bad_chunk", f"chunk_samples must be at least 1; got {chunk_samples}.")
    report_progress = _Progress(progress)
    channels, n = arr.shape

    # 1. Pre-limiter chain, metering its input (unless given) and its output on the way.
    input_meter = LoudnessMeter(fs, channels)
    true_peak_in = sample_peak_in = -math.inf
    if before is None:  # peaks first: the chain may write over the input
        true_peak_in = truepeak.true_peak_dbtp(arr, fs)
        sample_peak_in = _sample_peak_dbfs(arr, chunk_samples)
    reuse = (
        overwrite_input
        and isinstance(x, np.ndarray)
        and arr is x
        and arr.dtype == np.float32
        and arr.flags.writeable
    )
    pre: npt.NDArray[np.float32] = arr if reuse else np.empty((channels, n), dtype=np.float32)
    envelope = EnvelopeCollector(fs, channels, n)
    stages = _run_prelimiter(
        arr, fs, params, pre, chunk_samples, report_progress,
        input_meter if before is None else None, envelope,
    )  # fmt: skip
    del arr
    levels_in = (
        before
        if before is not None
        else LevelReport.from_measurements(input_meter.result(), true_peak_in, sample_peak_in)
    )
    prelimiter_lufs = envelope.integrated_lufs()

    # 2.-3. Loudness targeting through the limiter, with the depth cap.
    target_lufs = params.loudness.target_lufs
    amount = params.loudness.amount
    silent = not math.isfinite(prelimiter_lufs)
    aim_lufs = -math.inf if silent else prelimiter_lufs + amount * (target_lufs - prelimiter_lufs)
    cap_db = params.limiter.amount * params.limiter.max_reduction_db
    headroom_db = dither.output_headroom_db(
        params.output.bits,
        params.output.noise_shaping,
        dither=params.output.dither,
        ceiling_dbtp=params.limiter.ceiling_dbtp,
    )
    separate = pre.nbytes <= SEPARATE_OUTPUT_BYTES
    out = np.empty_like(pre) if separate else pre
    runs = 0

    def run(gain_db: float, write: bool) -> _Pass:
        nonlocal runs
        k = runs
        runs += 1
        return _limiter_pass(
            source, fs, params, headroom_db, gain_db, out if write else None,
            chunk_samples,
            lambda f: report_progress("loudness", (k + f) / (MAX_LIMITER_PASSES + 1)),
        )  # fmt: skip

    source = pre
    del pre  # from here on only ``source`` (released below) and ``out`` hold audio
    if silent or amount == 0.0:  # no targeting: the limiter only guards the ceiling
        last = run(0.0, True)
        capped = False
    else:
        last, capped = _target(
            run, source, envelope, params, headroom_db, prelimiter_lufs, aim_lufs, cap_db, separate
        )
    del envelope
    source = out  # releases the intermediate when the output has its own buffer
    report_progress("loudness", 1.0)

    # 4. Output stage and the final true-peak verification.
    ceiling_dbtp = params.limiter.ceiling_dbtp
    out_params = params.output
    trim_db = 0.0
    after_loudness = last.loudness
    report_progress("output", 1.0)  # the written limiter pass quantised as it went

    def verify() -> dither.CeilingCheck:
        return dither.enforce_ceiling(
            out, fs, ceiling_dbtp, bits=out_params.bits, dither=out_params.dither,
            noise_shaping=out_params.noise_shaping,
        )  # fmt: skip

    # The limiter verified every point of its output: that settles the check, unless its
    # bounds are too wide to report a true peak (then the output is measured).
    fast = None
    if last.output_peak_lin is not None and not last.clipped:
        fast = dither.limiter_ceiling_check(
            *last.output_peak_lin, ceiling_dbtp, bits=out_params.bits,
            dither=out_params.dither, noise_shaping=out_params.noise_shaping,
        )  # fmt: skip
    check = fast if fast is not None else verify()
    sample_peak_dbfs = lin_to_db(last.sample_peak_lin) if fast is not None else None
    for _ in range(_MAX_TRIMS):  # never needed in practice: the limiter keeps the headroom
        if check.ok:
            break
        trim_db -= check.trim_db
        meter = LoudnessMeter(fs, channels)
        _output_stage(out, fs, params, db_to_lin(-check.trim_db), chunk_samples, meter)
        after_loudness = meter.result()
        sample_peak_dbfs = None
        check = verify()
    true_peak_dbtp = check.true_peak_dbtp
    report_progress("verify", 1.0)
    if sample_peak_dbfs is None:
        sample_peak_dbfs = _sample_peak_dbfs(out, chunk_samples)
    after = LevelReport.from_measurements(after_loudness, true_peak_dbtp, sample_peak_dbfs)

    final_lufs = after.integrated_lufs
    reached = math.isfinite(final_lufs) and abs(final_lufs - target_lufs) <= REACHED_TOLERANCE_LU
    loudness = LoudnessReport(
        target_lufs=target_lufs,
        aim_lufs=aim_lufs,
        prelimiter_lufs=prelimiter_lufs,
        gain_db=last.gain_db,
        limiting_depth_db=last.depth_db,
        limiting_cap_db=cap_db,
        capped=capped and not reached,
        passes=runs,
        reached=reached,
        note=_loudness_note(target_lufs, amount, final_lufs, capped, cap_db, reached),
    )
    limiter_stats = dict(last.stats) | {"gain_in_db": last.gain_db}
    report = MasterReport(
        sample_rate_hz=fs,
        channels=channels,
        samples=n,
        bits=params.output.bits,
        ceiling_dbtp=ceiling_dbtp,
        before=levels_in,
        after=after,
        loudness=loudness,
        stages=(*stages, StageReport("limiter", True, limiter_stats)),
        output_trim_db=trim_db,
    )
    return MasterResult(out, report)

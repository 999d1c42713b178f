"""Aggregate counters in Prometheus text format; metric names start with ``mixmaster_``.

Each app owns its :class:`Metrics` with its own ``CollectorRegistry`` (no global registry state),
so many apps can live in one process. Only aggregates are kept: no label ever holds anything
about a client or a request's content beyond a bounded set of codes and enums.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric

#: Processing time of a whole job on the device, seconds.
JOB_DURATION_BUCKETS_S: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
#: Latency of one Claude call, seconds.
CLAUDE_LATENCY_BUCKETS_S: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0)
#: Content type of :meth:`Metrics.render`.
METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_LATEST


class Metrics:
    """The proxy's metrics, registered in a private registry.

    Parameters
    ----------
    job_outcomes, platforms
        Label values of ``mixmaster_jobs_total`` to pre-create (so they read 0 before use).
    decision_labels
        ``(source, reason)`` pairs of ``mixmaster_decisions_total`` to pre-create.
    """

    def __init__(
        self,
        *,
        job_outcomes: Iterable[str] = (),
        platforms: Iterable[str] = (),
        decision_labels: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.jobs = Counter(
            "mixmaster_jobs",
            "Mastering jobs reported by the page, by outcome and platform.",
            ("outcome", "platform"),
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "mixmaster_job_duration_seconds",
            "On-device processing time of reported jobs, seconds.",
            buckets=JOB_DURATION_BUCKETS_S,
            registry=self.registry,
        )
        self.decisions = Counter(
            "mixmaster_decisions",
            "Answers of /api/decide, by source (claude or rules) and fallback reason.",
            ("source", "reason"),
            registry=self.registry,
        )
        self.claude_latency = Histogram(
            "mixmaster_claude_latency_seconds",
            "Wall time of Claude calls (successful or not), seconds.",
            buckets=CLAUDE_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.rejected = Counter(
            "mixmaster_rejected_requests",
            "Requests refused with a 4xx, by error code.",
            ("code",),
            registry=self.registry,
        )
        platform_list = list(platforms)
        for outcome in job_outcomes:
            for platform in platform_list:
                self.jobs.labels(outcome=outcome, platform=platform)
        for source, reason in decision_labels:
            self.decisions.labels(source=source, reason=reason)

    def job(self, outcome: str, platform: str, duration_s: float) -> None:
        """Count one reported job and observe its processing time."""
        self.jobs.labels(outcome=outcome, platform=platform).inc()
        self.job_duration.observe(duration_s)

    def decision(self, source: str, reason: str | None) -> None:
        """Count one decision; ``reason`` is ``None`` when Claude answered."""
        self.decisions.labels(source=source, reason=reason or "none").inc()

    def claude_call(self, latency_s: float) -> None:
        """Observe the wall time of one Claude call."""
        self.claude_latency.observe(latency_s)

    def rejection(self, code: str) -> None:
        """Count one refused request by its error code."""
        self.rejected.labels(code=code).inc()

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric (without ``*_created`` timestamps)."""
        return generate_latest(_WithoutCreated(self.registry))


class _WithoutCreated:
    """A view of a registry without the ``*_created`` samples.

    Those record when a label value was first seen (e.g. when some error code first happened):
    not an aggregate, so not exported. prometheus-client only offers a process-wide switch.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self.registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family

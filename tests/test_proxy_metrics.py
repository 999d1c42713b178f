"""Tests of ``mixmaster_proxy.metrics``: names, labels, private registries."""

from __future__ import annotations

import re

from mixmaster_proxy.metrics import Metrics


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text, e.g. ``sample(t, "x_total", code="a")``."""
    inside = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        m = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})?", metric)
        if m and m.group(1) == name:
            got = ",".join(sorted((m.group(2) or "").split(","))) if m.group(2) else ""
            if got == inside:
                return float(value)
    raise KeyError(f"{name}{{{inside}}} not in the exposition")


def test_every_metric_is_exposed_with_the_mixmaster_prefix() -> None:
    text = Metrics().render().decode()
    names = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert names == {
        "mixmaster_jobs_total",
        "mixmaster_job_duration_seconds",
        "mixmaster_decisions_total",
        "mixmaster_claude_latency_seconds",
        "mixmaster_rejected_requests_total",
    }


def test_no_first_seen_timestamps_are_exported() -> None:
    m = Metrics()
    m.rejection("bad_json")
    m.job("done", "spotify", 1.0)
    assert "_created" not in m.render().decode()


def test_counts_and_observations_appear() -> None:
    m = Metrics(job_outcomes=("done", "error"), platforms=("spotify",))
    m.job("done", "spotify", 12.5)
    m.job("done", "spotify", 3.0)
    m.decision("rules", "no_api_key")
    m.decision("claude", None)
    m.claude_call(0.3)
    m.rejection("body_too_large")
    text = m.render().decode()
    assert sample(text, "mixmaster_jobs_total", outcome="done", platform="spotify") == 2.0
    assert sample(text, "mixmaster_jobs_total", outcome="error", platform="spotify") == 0.0
    assert sample(text, "mixmaster_job_duration_seconds_count") == 2.0
    assert sample(text, "mixmaster_job_duration_seconds_sum") == 15.5
    assert sample(text, "mixmaster_job_duration_seconds_bucket", le="5.0") == 1.0
    assert sample(text, "mixmaster_decisions_total", source="rules", reason="no_api_key") == 1.0
    assert sample(text, "mixmaster_decisions_total", source="claude", reason="none") == 1.0
    assert sample(text, "mixmaster_claude_latency_seconds_count") == 1.0
    assert sample(text, "mixmaster_rejected_requests_total", code="body_too_large") == 1.0


def test_registries_are_private_to_each_instance() -> None:
    a, b = Metrics(), Metrics()
    a.rejection("rate_limited")
    assert "rate_limited" in a.render().decode()
    assert "rate_limited" not in b.render().decode()


def test_pre_created_decision_labels_read_zero() -> None:
    text = Metrics(decision_labels=[("rules", "timeout")]).render().decode()
    assert sample(text, "mixmaster_decisions_total", source="rules", reason="timeout") == 0.0

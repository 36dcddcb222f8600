"""The Prometheus exporter over hand-built snapshots: every family, labels, periods, levels, health, goals."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.serve.exporter import build_registry
from collector.serve.exporter_settings import FULL_EXPORT, ExporterSettings, ScopeExport, ServiceScopeExport
from collector.serve.state import StateHolder

SVC = {"scope": "service", "team": "payments", "service": "checkout", "environment": "production", "window": "30d"}
TEAM = {"scope": "team", "team": "payments", "service": "", "environment": "", "window": "30d"}
ORG = {"scope": "organization", "team": "", "service": "", "environment": "", "window": "30d"}
DORA_LABEL_NAMES = {"scope", "team", "service", "environment", "window", "period"}
GOAL_LABEL_NAMES = {"goal", "scope", "name", "metric"}
ALLOWED_LABELS = DORA_LABEL_NAMES | GOAL_LABEL_NAMES | {"quantile", "metric", "source", "code"}

# Hand-made goal records (the dicts recompute() keeps in Snapshot.goals). Lead time from 2 days to
# 1 day, now 1.5 days: progress (129600 - 172800) / (86400 - 172800) = 0.5.
VALUE_GOAL = {
    "goal": "payments: one-day lead time",
    "scope": "team",
    "name": "payments",
    "metric": "lead_time",
    "target": 86400.0,
    "level": None,
    "target_level_rank": None,
    "window_days": 30,
    "baseline_at": "2024-01-01T00:00:00+00:00",
    "as_of": "2024-03-01T12:00:00+00:00",
    "due": "2024-06-30",
    "due_at": "2024-07-01T00:00:00+00:00",
    "baseline_value": 172800.0,
    "current_value": 129600.0,
    "baseline_level": "high",
    "current_level": "high",
    "achieved": False,
    "progress": 0.5,
    "expected_progress": 0.33,
    "status": "on_track",
}
# A level goal of a portfolio without a baseline value: no target, baseline or progress sample.
LEVEL_GOAL = {
    **VALUE_GOAL,
    "goal": "digital elite failure rate",
    "scope": "portfolio",
    "name": "digital",
    "metric": "change_failure_rate",
    "target": None,
    "level": "elite",
    "target_level_rank": 3,
    "baseline_value": None,
    "current_value": 0.1,
    "baseline_level": None,
    "current_level": "medium",
    "progress": None,
    "status": "off_track",
}
VALUE_GOAL_LABELS = {"goal": "payments: one-day lead time", "scope": "team", "name": "payments", "metric": "lead_time"}
LEVEL_GOAL_LABELS = {
    "goal": "digital elite failure rate",
    "scope": "portfolio",
    "name": "digital",
    "metric": "change_failure_rate",
}


def _registry(snapshot=None, sources=(), exporter=FULL_EXPORT):
    """A registry over ``snapshot``; every series by default (the selection has tests of its own below)."""
    holder = StateHolder(sources, snapshot)
    return holder, build_registry(holder, exporter)


def test_every_dora_family_reads_the_service_row_of_the_current_period(demo_snapshot):
    _, registry = _registry(demo_snapshot)
    labels = {**SVC, "period": "current"}
    value = registry.get_sample_value
    # expectations are the hand-written row of conftest._row(): 30 deployments over 30 days = 1/day
    assert value("dora_deployments", labels) == 30
    assert value("dora_deployments_per_day", labels) == pytest.approx(1.0)
    assert value("dora_change_lead_time_seconds", {**labels, "quantile": "0.5"}) == 3600
    assert value("dora_change_lead_time_seconds", {**labels, "quantile": "0.75"}) == 7200
    assert value("dora_change_lead_time_seconds", {**labels, "quantile": "0.9"}) == 10800
    assert value("dora_change_lead_time_seconds_count", labels) == 12
    assert value("dora_failed_deployment_recovery_time_seconds_count", labels) == 2
    assert value("dora_time_to_restore_seconds_count", labels) == 4
    assert value("dora_change_failure_ratio", labels) == pytest.approx(0.1)
    assert value("dora_failed_deployments", labels) == 3
    assert value("dora_failed_deployment_recovery_time_seconds", {**labels, "quantile": "0.5"}) == 1800
    assert value("dora_failed_deployment_recovery_time_seconds", {**labels, "quantile": "0.9"}) == 5400
    assert value("dora_unrecovered_failed_deployments", labels) == 1
    assert value("dora_time_to_restore_seconds", {**labels, "quantile": "0.5"}) == 600
    assert value("dora_time_to_restore_seconds", {**labels, "quantile": "0.9"}) == 900
    assert value("dora_rework_ratio", labels) == pytest.approx(0.2)


def test_levels_are_4_3_2_1_and_absent_without_data(demo_snapshot):
    _, registry = _registry(demo_snapshot)
    value = registry.get_sample_value
    service = {**SVC, "period": "current"}
    assert value("dora_performance_level", {**service, "metric": "deployment_frequency"}) == 4  # elite
    assert value("dora_performance_level", {**service, "metric": "lead_time"}) == 3  # high
    assert value("dora_performance_level", {**service, "metric": "change_failure_rate"}) == 2  # medium
    assert value("dora_performance_level", {**service, "metric": "recovery_time"}) == 1  # low
    # the team row has recovery_time: null → no sample at all (not 0)
    assert value("dora_performance_level", {**TEAM, "period": "current", "metric": "recovery_time"}) is None
    assert value("dora_performance_level", {**TEAM, "period": "current", "metric": "lead_time"}) == 4


def test_scope_labels_and_undefined_values_are_absent(demo_snapshot):
    _, registry = _registry(demo_snapshot)
    value = registry.get_sample_value
    assert value("dora_deployments", {**TEAM, "period": "current"}) == 45
    assert value("dora_deployments", {**ORG, "period": "current"}) == 60
    # the organisation row has change_failure_rate, rework_rate and lead-time quantiles null
    assert value("dora_change_failure_ratio", {**ORG, "period": "current"}) is None
    assert value("dora_rework_ratio", {**ORG, "period": "current"}) is None
    assert value("dora_change_lead_time_seconds", {**ORG, "period": "current", "quantile": "0.5"}) is None


def test_previous_period_is_exported_beside_the_current_one(demo_snapshot):
    _, registry = _registry(demo_snapshot)
    value = registry.get_sample_value
    assert value("dora_deployments", {**SVC, "period": "previous"}) == 15
    assert value("dora_deployments_per_day", {**SVC, "period": "previous"}) == pytest.approx(0.5)  # 15 / 30
    assert value("dora_change_failure_ratio", {**SVC, "period": "previous"}) == pytest.approx(0.2)
    assert value("dora_performance_level", {**SVC, "period": "previous", "metric": "change_failure_rate"}) == 1
    assert value("dora_deployments", {**TEAM, "period": "previous"}) is None  # no previous team row given


def test_no_sample_timestamps_and_only_bounded_labels(demo_snapshot):
    holder, registry = _registry(dataclasses.replace(demo_snapshot, goals=(VALUE_GOAL, LEVEL_GOAL)), ["github"])
    holder.record_run("github", succeeded=True, finished_at=datetime(2024, 3, 1, tzinfo=UTC), duration_seconds=2.0)
    text = generate_latest(registry).decode()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    assert samples
    assert all(s.timestamp is None for s in samples)
    used = {name for s in samples for name in s.labels}
    assert used <= ALLOWED_LABELS, used - ALLOWED_LABELS
    dora = [s for s in samples if s.name.startswith("dora_")]
    assert all(set(s.labels) >= DORA_LABEL_NAMES for s in dora)
    goals = [s for s in samples if s.name.startswith("delivery_metrics_goal_")]
    assert goals
    assert all(set(s.labels) == GOAL_LABEL_NAMES for s in goals)


def test_without_snapshot_no_dora_sample_is_exported():
    _, registry = _registry(None)
    text = generate_latest(registry).decode()
    samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
    assert not [s for s in samples if s.name.startswith("dora_")]
    assert registry.get_sample_value("delivery_metrics_snapshot_timestamp_seconds") is None


def test_health_families_per_source():
    holder, registry = _registry(None, ["github", "pagerduty"])
    value = registry.get_sample_value
    # before any run: errors counter at 0, no up / success samples yet
    assert value("delivery_metrics_source_errors_total", {"source": "github"}) == 0
    assert value("delivery_metrics_source_up", {"source": "github"}) is None
    first = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    stats = SimpleNamespace(requests_by_status={"200": 5, "429": 1}, rate_limit_remaining=4990)
    holder.record_run("github", succeeded=True, finished_at=first, duration_seconds=3.5, request_stats=stats)
    holder.record_run(
        "github",
        succeeded=False,
        finished_at=datetime(2024, 3, 1, 10, 15, tzinfo=UTC),
        duration_seconds=1.0,
        request_stats=SimpleNamespace(requests_by_status={"200": 2, "error": 1}, rate_limit_remaining=None),
    )
    assert value("delivery_metrics_source_up", {"source": "github"}) == 0  # the last run failed
    assert value("delivery_metrics_source_last_success_timestamp_seconds", {"source": "github"}) == first.timestamp()
    assert value("delivery_metrics_source_sync_duration_seconds", {"source": "github"}) == 1.0
    assert value("delivery_metrics_source_errors_total", {"source": "github"}) == 1
    # requests summed over both runs: 200 → 5 + 2, 429 → 1, error → 1
    assert value("delivery_metrics_api_requests_total", {"source": "github", "code": "200"}) == 7
    assert value("delivery_metrics_api_requests_total", {"source": "github", "code": "429"}) == 1
    assert value("delivery_metrics_api_requests_total", {"source": "github", "code": "error"}) == 1
    assert value("delivery_metrics_rate_limit_remaining", {"source": "github"}) == 4990  # kept from the first run
    assert value("delivery_metrics_source_errors_total", {"source": "pagerduty"}) == 0


def test_snapshot_timestamp_is_the_computation_time(demo_snapshot):
    _, registry = _registry(demo_snapshot)
    assert (
        registry.get_sample_value("delivery_metrics_snapshot_timestamp_seconds")
        == demo_snapshot.computed_at.timestamp()
    )
    assert (
        registry.get_sample_value("delivery_metrics_snapshot_as_of_timestamp_seconds")
        == demo_snapshot.as_of.timestamp()
    )


def test_swapping_the_snapshot_changes_the_next_scrape(demo_snapshot, make_snapshot, make_row):
    holder, registry = _registry(demo_snapshot)
    labels = {**SVC, "period": "current"}
    assert registry.get_sample_value("dora_deployments", labels) == 30
    holder.replace_snapshot(make_snapshot([make_row(deployments=7)]))
    assert registry.get_sample_value("dora_deployments", labels) == 7


def test_describe_lists_every_family_without_samples(demo_snapshot):
    from collector.serve.exporter import SnapshotCollector

    described = list(SnapshotCollector(StateHolder((), demo_snapshot)).describe())
    names = {family.name for family in described}
    assert {
        "dora_deployments",
        "dora_performance_level",
        "delivery_metrics_source_errors",
        "delivery_metrics_api_requests",
        "delivery_metrics_snapshot_timestamp_seconds",
    } <= names
    assert all(not family.samples for family in described)


def test_goal_families_read_the_goals_of_the_served_snapshot(demo_snapshot):
    _, registry = _registry(dataclasses.replace(demo_snapshot, goals=(VALUE_GOAL, LEVEL_GOAL)))
    value = registry.get_sample_value
    assert value("delivery_metrics_goal_target", VALUE_GOAL_LABELS) == 86400
    assert value("delivery_metrics_goal_baseline", VALUE_GOAL_LABELS) == 172800
    assert value("delivery_metrics_goal_current", VALUE_GOAL_LABELS) == 129600
    assert value("delivery_metrics_goal_progress_ratio", VALUE_GOAL_LABELS) == 0.5
    assert value("delivery_metrics_goal_expected_progress_ratio", VALUE_GOAL_LABELS) == 0.33
    assert value("delivery_metrics_goal_on_track", VALUE_GOAL_LABELS) == 1
    # 2024-07-01T00:00:00Z = 19905 days × 86400 s after the epoch
    assert value("delivery_metrics_goal_due_timestamp_seconds", VALUE_GOAL_LABELS) == 19905 * 86400
    assert value("delivery_metrics_goal_target_level_rank", VALUE_GOAL_LABELS) is None
    # the level goal: a rank instead of a target, no baseline and no progress sample, off track → 0
    assert value("delivery_metrics_goal_target_level_rank", LEVEL_GOAL_LABELS) == 3
    assert value("delivery_metrics_goal_target", LEVEL_GOAL_LABELS) is None
    assert value("delivery_metrics_goal_baseline", LEVEL_GOAL_LABELS) is None
    assert value("delivery_metrics_goal_progress_ratio", LEVEL_GOAL_LABELS) is None
    assert value("delivery_metrics_goal_current", LEVEL_GOAL_LABELS) == 0.1
    assert value("delivery_metrics_goal_on_track", LEVEL_GOAL_LABELS) == 0


def test_goal_families_follow_the_snapshot_swap_and_are_empty_without_one(demo_snapshot):
    holder, registry = _registry(None)
    assert registry.get_sample_value("delivery_metrics_goal_on_track", VALUE_GOAL_LABELS) is None
    holder.replace_snapshot(dataclasses.replace(demo_snapshot, goals=(VALUE_GOAL,)))
    assert registry.get_sample_value("delivery_metrics_goal_on_track", VALUE_GOAL_LABELS) == 1
    holder.replace_snapshot(dataclasses.replace(demo_snapshot, goals=({**VALUE_GOAL, "status": "missed"},)))
    assert registry.get_sample_value("delivery_metrics_goal_on_track", VALUE_GOAL_LABELS) == 0
    holder.replace_snapshot(demo_snapshot)  # a snapshot without goals: the goal is gone
    assert registry.get_sample_value("delivery_metrics_goal_on_track", VALUE_GOAL_LABELS) is None


def test_promtool_check_metrics_passes(demo_snapshot):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install -y prometheus provides it)")
    holder, registry = _registry(dataclasses.replace(demo_snapshot, goals=(VALUE_GOAL, LEVEL_GOAL)), ["github"])
    holder.record_run(
        "github",
        succeeded=True,
        finished_at=datetime(2024, 3, 1, tzinfo=UTC),
        duration_seconds=2.0,
        request_stats=SimpleNamespace(requests_by_status={"200": 3}, rate_limit_remaining=10),
    )
    text = generate_latest(registry)
    assert b"delivery_metrics_goal_progress_ratio{" in text
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


# -- the exporter: selection (config section `exporter:`) ---------------------------------------------


def _rows_of_every_scope_and_window(make_row):
    """Service, team and organisation rows for 7, 30 and 90 days; deployments = window days."""
    scopes = [{}, {"service": None, "environment": None}, {"team": None, "service": None, "environment": None}]
    return [make_row(window_days=days, deployments=days, **scope) for scope in scopes for days in (7, 30, 90)]


def _exported(registry, labels, metric=None):
    """The ``dora_deployments`` value (or the level of ``metric``) for ``labels``, ``None`` when absent."""
    if metric is None:
        return registry.get_sample_value("dora_deployments", labels)
    return registry.get_sample_value("dora_performance_level", {**labels, "metric": metric})


def test_default_selection_exports_the_current_30d_service_series_without_levels_and_everything_else(
    make_snapshot, make_row
):
    rows = _rows_of_every_scope_and_window(make_row)
    _, registry = _registry(make_snapshot(rows, rows), exporter=ExporterSettings())
    for days in (7, 30, 90):
        window = f"{days}d"
        for labels in (TEAM, ORG):  # teams and the organisation: every window, both periods, levels
            for period in ("current", "previous"):
                assert _exported(registry, {**labels, "window": window, "period": period}) == days
                assert _exported(registry, {**labels, "window": window, "period": period}, "lead_time") is not None
        service = {**SVC, "window": window, "period": "current"}
        assert _exported(registry, service) == (30 if days == 30 else None)
        assert _exported(registry, {**service, "period": "previous"}) is None
        assert _exported(registry, service, "lead_time") is None
    # the kept service row keeps every family, quantile and count
    service = {**SVC, "period": "current"}
    assert registry.get_sample_value("dora_change_lead_time_seconds", {**service, "quantile": "0.9"}) == 10800
    assert registry.get_sample_value("dora_time_to_restore_seconds_count", service) == 4
    assert registry.get_sample_value("dora_unrecovered_failed_deployments", service) == 1


def test_full_exports_every_scope_window_period_and_level_as_before(make_snapshot, make_row):
    rows = _rows_of_every_scope_and_window(make_row)
    full = ExporterSettings(full=True, service=ServiceScopeExport(windows=(timedelta(days=7),)))
    _, registry = _registry(make_snapshot(rows, rows), exporter=full)
    for days in (7, 30, 90):
        for labels in (SVC, TEAM, ORG):
            for period in ("current", "previous"):
                at = {**labels, "window": f"{days}d", "period": period}
                assert _exported(registry, at) == days
                assert _exported(registry, at, "deployment_frequency") == 4


def test_a_scope_selection_chooses_its_windows_periods_and_levels(make_snapshot, make_row):
    rows = _rows_of_every_scope_and_window(make_row)
    exporter = ExporterSettings(
        service=ServiceScopeExport(windows=(timedelta(days=7), timedelta(days=90)), previous=True, levels=True),
        team=ScopeExport(windows=(timedelta(days=30),), previous=False, levels=False),
    )
    _, registry = _registry(make_snapshot(rows, rows), exporter=exporter)
    for period in ("current", "previous"):
        for days, kept in ((7, True), (30, False), (90, True)):
            at = {**SVC, "window": f"{days}d", "period": period}
            assert (_exported(registry, at) is not None) is kept
            assert (_exported(registry, at, "lead_time") is not None) is kept
    team = {**TEAM, "window": "30d", "period": "current"}
    assert _exported(registry, team) == 30
    assert _exported(registry, team, "lead_time") is None
    assert _exported(registry, {**team, "period": "previous"}) is None
    assert _exported(registry, {**team, "window": "7d"}) is None
    assert _exported(registry, {**ORG, "window": "7d", "period": "previous"}) == 7  # organisation untouched


def test_the_default_selection_cuts_the_series_of_a_service_from_every_window_to_one(make_snapshot, make_row):
    """Per service, 3 windows × 2 periods × (16 values + 4 levels) = 120 series become 16."""
    rows = [make_row(window_days=days) for days in (7, 30, 90)]

    def dora_samples(exporter):
        _, registry = _registry(make_snapshot(rows, rows), exporter=exporter)
        text = generate_latest(registry).decode()
        return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name.startswith("dora_")]

    assert len(dora_samples(FULL_EXPORT)) == 120
    assert len(dora_samples(ExporterSettings())) == 16

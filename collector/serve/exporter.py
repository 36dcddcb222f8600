"""The Prometheus exporter: a custom collector over the snapshot held in memory.

``collect()`` reads ``holder.current`` once and turns it into metric families: no lock, no I/O, no
computation beyond formatting, no sample timestamps. Each family and label is documented in
``docs/metrics-reference.md``. Labels only ever carry bounded values: scope kind, team, service,
environment, window, period, metric name, quantile, source name and HTTP status code, and for the
goal families (:class:`~collector.pmo.goal_exporter.GoalCollector` over the snapshot's evaluated
goals) the goal's label, scope kind and team or portfolio name, all from the config.

Which DORA series are exported per scope (windows, previous period, levels) is the config's
``exporter:`` section (:class:`~collector.serve.exporter_settings.ExporterSettings`); rows left out
there are skipped whole, so the exposition's size follows the selection, not the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from collector.pmo.goal_exporter import GoalCollector
from collector.serve.exporter_settings import ExporterSettings, ScopeExport
from collector.serve.state import ServeState, SourceHealth, StateHolder

#: Labels of every DORA family, in this order.
DORA_LABELS = ("scope", "team", "service", "environment", "window", "period")

#: Prometheus value of each performance level.
LEVEL_VALUES = {"elite": 4.0, "high": 3.0, "medium": 2.0, "low": 1.0}

_LEAD_QUANTILES = (("0.5", "p50"), ("0.75", "p75"), ("0.9", "p90"))
_TWO_QUANTILES = (("0.5", "p50"), ("0.9", "p90"))


def scope_of(row: Mapping[str, Any]) -> str:
    """``service`` when the row has a service, ``team`` when only a team, else ``organization``."""
    if row.get("service") is not None:
        return "service"
    if row.get("team") is not None:
        return "team"
    return "organization"


def dora_labels(row: Mapping[str, Any], period: str) -> list[str]:
    """Label values of a report row (absent team/service/environment → empty string)."""
    return [
        scope_of(row),
        row.get("team") or "",
        row.get("service") or "",
        row.get("environment") or "",
        f"{int(row['window_days'])}d",
        period,
    ]


def _gauge(name: str, documentation: str, extra: Sequence[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=[*DORA_LABELS, *extra])


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _summary(name: str, documentation: str) -> Metric:
    """A summary of quantiles over the window and ``_count`` = items in the window (no ``_sum``)."""
    return Metric(name, documentation, "summary")


def _dora_families() -> dict[str, Metric]:
    return {
        "deployments": _gauge("dora_deployments", "Successful production deployments in the window."),
        "per_day": _gauge("dora_deployments_per_day", "Deployment frequency: deployments in the window per day."),
        "lead": _summary(
            "dora_change_lead_time_seconds",
            "Change lead time (deployment finished - change start) of the window's changes: quantiles, count.",
        ),
        "cfr": _gauge("dora_change_failure_ratio", "Change failure rate: failed deployments / deployments (0-1)."),
        "failed": _gauge("dora_failed_deployments", "Deployments of the window counted as failed."),
        "recovery": _summary(
            "dora_failed_deployment_recovery_time_seconds",
            "Failed deployment recovery time of the window's recovered failures: quantiles, count.",
        ),
        "unrecovered": _gauge(
            "dora_unrecovered_failed_deployments", "Failed deployments of the window not recovered yet."
        ),
        "restore": _summary(
            "dora_time_to_restore_seconds",
            "Time to restore service (incident resolved - created) of the window's incidents: quantiles, count.",
        ),
        "rework": _gauge("dora_rework_ratio", "Rework rate: unplanned remediation deployments / deployments (0-1)."),
        "level": _gauge(
            "dora_performance_level",
            "Benchmark level of a metric: 4 elite, 3 high, 2 medium, 1 low; absent without data.",
            ("metric",),
        ),
    }


def _add_summary(
    family: Metric, labels: dict[str, str], block: Mapping[str, Any], quantiles: Sequence[tuple[str, str]]
) -> None:
    for quantile, key in quantiles:
        value = _number(block.get(key))
        if value is not None:
            family.add_sample(family.name, {**labels, "quantile": quantile}, value)
    count = _number(block.get("count"))
    if count is not None:
        family.add_sample(f"{family.name}_count", labels, count)


def _add_row(families: dict[str, Metric], row: Mapping[str, Any], period: str, *, levels: bool) -> None:
    values = dora_labels(row, period)
    named = dict(zip(DORA_LABELS, values, strict=True))

    def put(key: str, value: Any) -> None:
        number = _number(value)
        if number is not None:
            families[key].add_metric(values, number)  # type: ignore[attr-defined]

    put("deployments", row.get("deployments"))
    put("per_day", row.get("deployment_frequency_per_day"))
    _add_summary(families["lead"], named, row.get("lead_time_seconds") or {}, _LEAD_QUANTILES)
    put("cfr", row.get("change_failure_rate"))
    put("failed", row.get("failed_deployments"))
    recovery = row.get("recovery_time_seconds") or {}
    _add_summary(families["recovery"], named, recovery, _TWO_QUANTILES)
    put("unrecovered", recovery.get("unrecovered"))
    _add_summary(families["restore"], named, row.get("time_to_restore_seconds") or {}, _TWO_QUANTILES)
    put("rework", row.get("rework_rate"))
    if not levels:
        return
    for metric, level in sorted((row.get("levels") or {}).items()):
        if level in LEVEL_VALUES:
            families["level"].add_metric([*values, metric], LEVEL_VALUES[level])  # type: ignore[attr-defined]


def is_exported(selection: ScopeExport, row: Mapping[str, Any], period: str) -> bool:
    """Whether ``selection`` (the row's scope's) exports the report row ``row`` of ``period``."""
    if period == "previous" and not selection.previous:
        return False
    windows = selection.window_days()
    return windows is None or int(row["window_days"]) in windows


def dora_metric_families(state: ServeState, exporter: ExporterSettings | None = None) -> list[Metric]:
    """The DORA families of the state's snapshot restricted to ``exporter``'s selection (the config
    default when ``None``); no samples when there is no snapshot."""
    chosen = exporter if exporter is not None else ExporterSettings()
    families = _dora_families()
    snapshot = state.snapshot
    if snapshot is not None:
        for period, rows in (("current", snapshot.current), ("previous", snapshot.previous)):
            for row in rows:
                selection = chosen.for_scope(scope_of(row))
                if is_exported(selection, row, period):
                    _add_row(families, row, period, levels=selection.levels)
    return list(families.values())


def health_metric_families(state: ServeState) -> list[Metric]:
    """The collector-health families (one sample set per configured source)."""
    up = GaugeMetricFamily(
        "delivery_metrics_source_up",
        "1 if the source's last finished sync succeeded, 0 if it failed.",
        labels=["source"],
    )
    last_success = GaugeMetricFamily(
        "delivery_metrics_source_last_success_timestamp_seconds",
        "Unix time at which the source's last successful sync finished.",
        labels=["source"],
    )
    duration = GaugeMetricFamily(
        "delivery_metrics_source_sync_duration_seconds",
        "Wall time of the source's last finished sync.",
        labels=["source"],
    )
    errors = CounterMetricFamily(
        "delivery_metrics_source_errors", "Failed syncs of the source since the process started.", labels=["source"]
    )
    requests = CounterMetricFamily(
        "delivery_metrics_api_requests",
        "HTTP requests the source made to its API since the process started, by status code.",
        labels=["source", "code"],
    )
    remaining = GaugeMetricFamily(
        "delivery_metrics_rate_limit_remaining", "Remaining API quota the source last saw.", labels=["source"]
    )
    health: SourceHealth
    for name, health in sorted(state.sources.items()):
        if health.up is not None:
            up.add_metric([name], 1.0 if health.up else 0.0)
        if health.last_success is not None:
            last_success.add_metric([name], health.last_success.timestamp())
        if health.last_duration_seconds is not None:
            duration.add_metric([name], health.last_duration_seconds)
        errors.add_metric([name], float(health.errors_total))
        for code, count in sorted(health.requests_by_code.items()):
            requests.add_metric([name, code], float(count))
        if health.rate_limit_remaining is not None:
            remaining.add_metric([name], float(health.rate_limit_remaining))
    snapshot_time = GaugeMetricFamily(
        "delivery_metrics_snapshot_timestamp_seconds", "Unix time at which the served metric snapshot was computed."
    )
    snapshot_as_of = GaugeMetricFamily(
        "delivery_metrics_snapshot_as_of_timestamp_seconds",
        "The as-of instant (Unix time) the served snapshot ends at.",
    )
    if state.snapshot is not None:
        snapshot_time.add_metric([], state.snapshot.computed_at.timestamp())
        snapshot_as_of.add_metric([], state.snapshot.as_of.timestamp())
    return [up, last_success, duration, errors, requests, remaining, snapshot_time, snapshot_as_of]


class SnapshotCollector(Collector):
    """Yields the families of ``holder.current``: a reference read, nothing else.

    ``dora`` / ``health`` choose the DORA families (a function of the snapshot alone) and the
    collector-health families (of the sources' health and the snapshot's timestamps); both by default.
    """

    def __init__(
        self, holder: StateHolder, exporter: ExporterSettings | None = None, *, dora: bool = True, health: bool = True
    ) -> None:
        self._holder = holder
        self._exporter = exporter if exporter is not None else ExporterSettings()
        self._dora = dora
        self._health = health

    def collect(self) -> Iterator[Metric]:
        """Every chosen family, built from the one state object read at the start of the scrape."""
        state = self._holder.current
        if self._dora:
            yield from dora_metric_families(state, self._exporter)
        if self._health:
            yield from health_metric_families(state)

    def describe(self) -> Iterator[Metric]:
        """The families without samples (what the registry needs to check for name clashes)."""
        empty = ServeState(snapshot=None, sources={})
        if self._dora:
            yield from dora_metric_families(empty)
        if self._health:
            yield from health_metric_families(empty)


def served_goals(holder: StateHolder) -> tuple[dict[str, Any], ...]:
    """The evaluated goals of the snapshot ``holder`` serves (none before the first snapshot)."""
    snapshot = holder.current.snapshot
    return () if snapshot is None else snapshot.goals


def build_registry(holder: StateHolder, exporter: ExporterSettings | None = None) -> CollectorRegistry:
    """A dedicated registry holding the snapshot collector (exporting ``exporter``'s selection, the
    config default when ``None``) and the goal collector over the same holder (no process or
    platform metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(holder, exporter))
    registry.register(GoalCollector(lambda: served_goals(holder)))
    return registry


def build_exposition_registries(
    holder: StateHolder, exporter: ExporterSettings | None = None
) -> tuple[CollectorRegistry, CollectorRegistry]:
    """The families of :func:`build_registry` split by what they depend on, for rendering each part
    only when it can have changed: (the DORA and goal families: the snapshot alone; the health
    families: the sources' health, which every finished sync replaces)."""
    per_snapshot = CollectorRegistry(auto_describe=False)
    per_snapshot.register(SnapshotCollector(holder, exporter, health=False))
    per_snapshot.register(GoalCollector(lambda: served_goals(holder)))
    per_state = CollectorRegistry(auto_describe=False)
    per_state.register(SnapshotCollector(holder, exporter, dora=False))
    return per_snapshot, per_state

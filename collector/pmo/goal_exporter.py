"""Goals as Prometheus gauges, so Grafana can draw them next to the metrics.

:func:`goal_record` turns an evaluated :class:`~collector.pmo.goals.GoalStatus` into the plain
JSON-able dict that :func:`collector.recompute.recompute` keeps in the snapshot (``Snapshot.goals``,
saved with it, so every replica exports the same figures). :class:`GoalCollector` is a custom
collector over those dicts: it asks its ``source`` for them once per scrape (in `serve`: the goals of
the snapshot held in memory) and only formats them; no I/O and no computation during a scrape.

Families, labelled ``goal, scope, name, metric`` (``goal``: the goal's ``name`` or ``<scope name>
<metric>``; ``scope``: ``team`` or ``portfolio``; ``name``: the team or portfolio; ``metric``: the
goal's metric; all bounded by the config):
``delivery_metrics_goal_target`` (the target value; absent for a level goal),
``delivery_metrics_goal_target_level_rank`` (0 low … 3 elite; level goals only),
``delivery_metrics_goal_baseline``, ``delivery_metrics_goal_current`` (the metric's value at the
baseline instant and at the snapshot's as-of, over the goal's window; absent without data),
``delivery_metrics_goal_progress_ratio`` (absent when either value is missing),
``delivery_metrics_goal_expected_progress_ratio``, ``delivery_metrics_goal_on_track`` (1 when achieved
or on track, else 0) and ``delivery_metrics_goal_due_timestamp_seconds``. Units are the metric's
(seconds, per day, 0–1). Definitions: :mod:`collector.pmo.goals`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from collector.pmo.goals import GoalStatus, due_instant
from collector.pmo.settings import LEVEL_RANK

LABELS = ["goal", "scope", "name", "metric"]
#: Statuses exported as ``delivery_metrics_goal_on_track`` = 1.
ON_TRACK_STATES = frozenset({"achieved", "on_track"})

GoalSource = Callable[[], Sequence[Mapping[str, Any]]]

_FAMILIES = (
    ("delivery_metrics_goal_target", "Target value of the goal, in the metric's unit."),
    ("delivery_metrics_goal_target_level_rank", "Target level of the goal: 0 low, 1 medium, 2 high, 3 elite."),
    ("delivery_metrics_goal_baseline", "Value of the goal's metric at its baseline."),
    ("delivery_metrics_goal_current", "Current value of the goal's metric."),
    ("delivery_metrics_goal_progress_ratio", "(current - baseline) / (target - baseline)."),
    ("delivery_metrics_goal_expected_progress_ratio", "Elapsed share of the time from baseline to due date."),
    ("delivery_metrics_goal_on_track", "1 when the goal is achieved or on track, else 0."),
    ("delivery_metrics_goal_due_timestamp_seconds", "End of the goal's due date, Unix time."),
)


def goal_record(status: GoalStatus) -> dict[str, Any]:
    """The JSON-able dict of one evaluated goal, as kept in ``Snapshot.goals``.

    Keys: ``goal``, ``scope`` (``team``/``portfolio``), ``name``, ``metric``, ``target`` (metric's
    unit, ``None`` for a level goal), ``level`` and ``target_level_rank`` (0 low … 3 elite, ``None``
    for a value goal), ``window_days``, ``baseline_at``, ``as_of`` and ``due_at`` (ISO 8601 UTC
    instants; ``due_at`` is the end of the ``due`` day), ``due`` (ISO date), ``baseline_value``,
    ``current_value``, ``baseline_level``, ``current_level``, ``achieved``, ``progress``,
    ``expected_progress`` and ``status`` (definitions in :mod:`collector.pmo.goals`).
    """
    goal = status.goal
    return {
        "goal": goal.label,
        "scope": goal.scope_kind,
        "name": goal.scope_name,
        "metric": goal.metric,
        "target": goal.target,
        "level": goal.level,
        "target_level_rank": None if goal.level is None else LEVEL_RANK[goal.level],
        "window_days": int(goal.window.total_seconds() // 86400),
        "baseline_at": status.baseline_at.astimezone(UTC).isoformat(),
        "as_of": status.as_of.astimezone(UTC).isoformat(),
        "due": goal.due.isoformat(),
        "due_at": due_instant(goal).isoformat(),
        "baseline_value": status.baseline_value,
        "current_value": status.current_value,
        "baseline_level": status.baseline_level,
        "current_level": status.current_level,
        "achieved": status.achieved,
        "progress": status.progress,
        "expected_progress": status.expected_progress,
        "status": status.status,
    }


def _empty_families() -> list[GaugeMetricFamily]:
    return [GaugeMetricFamily(name, text, labels=LABELS) for name, text in _FAMILIES]


def goal_metric_families(records: Sequence[Mapping[str, Any]]) -> list[GaugeMetricFamily]:
    """The eight goal families with one sample per goal and defined value (see the module docstring)."""
    families = _empty_families()
    target, rank, baseline, current, progress, expected, on_track, due = families
    for record in records:
        labels = [str(record["goal"]), str(record["scope"]), str(record["name"]), str(record["metric"])]
        for family, key in (
            (target, "target"),
            (rank, "target_level_rank"),
            (baseline, "baseline_value"),
            (current, "current_value"),
            (progress, "progress"),
            (expected, "expected_progress"),
        ):
            value = record.get(key)
            if value is not None:
                family.add_metric(labels, float(value))
        on_track.add_metric(labels, 1.0 if record["status"] in ON_TRACK_STATES else 0.0)
        due.add_metric(labels, datetime.fromisoformat(record["due_at"]).timestamp())
    return families


class GoalCollector(Collector):
    """Exports the goal records ``source()`` returns, read once per scrape.

    ``source`` must be cheap and side-effect free (in `serve`: one attribute read of the snapshot
    held in memory); the collector never stores or computes goals itself.
    """

    def __init__(self, source: GoalSource) -> None:
        self._source = source

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The families, without samples."""
        yield from _empty_families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The families with one sample per goal and defined value."""
        yield from goal_metric_families(self._source())

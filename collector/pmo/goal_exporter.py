"""Goals as Prometheus gauges, so Grafana can draw them next to the metrics.

A custom collector reading the newest evaluated goals (replaced whole by :meth:`GoalCollector.update`,
one reference swap; no I/O during a scrape). Families, labelled ``goal, scope, name, metric``:
``delivery_metrics_goal_target`` (the target value; absent for a level goal),
``delivery_metrics_goal_target_level_rank`` (0 low … 3 elite; level goals),
``delivery_metrics_goal_baseline``, ``delivery_metrics_goal_current``,
``delivery_metrics_goal_progress_ratio``, ``delivery_metrics_goal_expected_progress_ratio``,
``delivery_metrics_goal_on_track`` (1 when achieved or on track) and
``delivery_metrics_goal_due_timestamp_seconds``. Units are the metric's (seconds, per day, 0–1).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from collector.pmo.goals import GoalStatus, due_instant
from collector.pmo.settings import LEVEL_RANK

LABELS = ["goal", "scope", "name", "metric"]


class GoalCollector(Collector):
    """Exports the goal statuses last given to :meth:`update`."""

    def __init__(self, statuses: Sequence[GoalStatus] = ()) -> None:
        self._statuses: tuple[GoalStatus, ...] = tuple(statuses)

    def update(self, statuses: Sequence[GoalStatus]) -> None:
        """Replace the exported statuses (one reference swap)."""
        self._statuses = tuple(statuses)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """The families, without samples."""
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The families with one sample per goal and defined value."""
        families = self._families()
        target, rank, baseline, current, progress, expected, on_track, due = families
        for status in self._statuses:
            goal = status.goal
            labels = [goal.label, goal.scope_kind, goal.scope_name, goal.metric]
            if goal.target is not None:
                target.add_metric(labels, goal.target)
            if goal.level is not None:
                rank.add_metric(labels, LEVEL_RANK[goal.level])
            if status.baseline_value is not None:
                baseline.add_metric(labels, status.baseline_value)
            if status.current_value is not None:
                current.add_metric(labels, status.current_value)
            if status.progress is not None:
                progress.add_metric(labels, status.progress)
            expected.add_metric(labels, status.expected_progress)
            on_track.add_metric(labels, 1.0 if status.status in ("achieved", "on_track") else 0.0)
            due.add_metric(labels, due_instant(goal).timestamp())
        yield from families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        spec = [
            ("delivery_metrics_goal_target", "Target value of the goal, in the metric's unit."),
            ("delivery_metrics_goal_target_level_rank", "Target level of the goal: 0 low, 1 medium, 2 high, 3 elite."),
            ("delivery_metrics_goal_baseline", "Value of the goal's metric at its baseline."),
            ("delivery_metrics_goal_current", "Current value of the goal's metric."),
            ("delivery_metrics_goal_progress_ratio", "(current - baseline) / (target - baseline)."),
            ("delivery_metrics_goal_expected_progress_ratio", "Elapsed share of the time from baseline to due date."),
            ("delivery_metrics_goal_on_track", "1 when the goal is achieved or on track, else 0."),
            ("delivery_metrics_goal_due_timestamp_seconds", "End of the goal's due date, Unix time."),
        ]
        return [GaugeMetricFamily(name, text, labels=LABELS) for name, text in spec]

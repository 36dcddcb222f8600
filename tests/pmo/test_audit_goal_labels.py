"""Audit: every configured goal is its own set of series at ``/metrics``.

docs/metrics-reference.md: the goal families are labelled ``goal`` ("the goal's ``name``, or
``<team or portfolio> <metric>``"), ``scope``, ``name`` and ``metric``, one sample set per goal. Two
unnamed goals on the same metric of the same team (a milestone and a final target, say) get the
same four labels: the exposition then carries two samples of one series, Prometheus keeps one of
them and drops the other ("duplicate sample for timestamp"), and the PMO dashboard counts one goal
where two are configured (its "Goals on track" stat is ``count``/``sum`` over these series).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from collector.config import ConfigError
from collector.config.loader import load_config_text
from collector.pmo.goal_exporter import GoalCollector, goal_record
from collector.pmo.goals import evaluate_goal

CONFIG = """
teams: [{name: koala}]
services: [{name: shop, team: koala}]
goals:
"""
MILESTONE = "  - {team: koala, metric: lead_time, target: 2d, due: 2026-09-30%s}\n"
FINAL = "  - {team: koala, metric: lead_time, target: 1d, due: 2027-03-31%s}\n"
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def test_two_unnamed_goals_with_the_same_labels_are_refused_naming_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"koala lead_time.*`name`"):
        load_config_text(CONFIG + MILESTONE % "" + FINAL % "")


def test_two_named_goals_on_one_metric_export_two_series_each_and_count_as_two() -> None:
    config = load_config_text(CONFIG + MILESTONE % ", name: milestone" + FINAL % ", name: final")
    # lead time 3 days now, 4 days at the baseline: off track on both (progress 0.5 and 1/3, late)
    records = [
        goal_record(
            evaluate_goal(
                goal, baseline_at=datetime(2026, 1, 1, tzinfo=UTC), as_of=AS_OF,
                baseline_value=4 * 86400.0, current_value=3 * 86400.0, band_table="dora-2023",
            )
        )
        for goal in config.goals
    ]  # fmt: skip
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GoalCollector(lambda: records))
    samples = [
        (s.name, tuple(sorted(s.labels.items())))
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
    ]
    assert len(samples) == len(set(samples))
    on_track = [s for s in samples if s[0] == "delivery_metrics_goal_on_track"]
    assert len(on_track) == 2

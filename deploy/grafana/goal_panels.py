"""The PMO dashboard's goal panels, over the ``delivery_metrics_goal_*`` families of `serve`.

Families and labels (``goal, scope, name, metric``): docs/metrics-reference.md. Portfolio goals are
always shown; team goals follow the dashboard's ``team`` selection.
"""

from __future__ import annotations

from typing import Any

from dashboard_parts import panel, target


def goal_series(name: str) -> str:
    """A goal family's series: every portfolio goal, and the team goals of the selected teams."""
    return f'({name}{{scope="portfolio"}} or {name}{{scope="team", name=~"$team"}})'


def goal_panels(y: int) -> list[dict[str, Any]]:
    """The goals table, progress against expected progress, and the on-track count, from row ``y``.

    Portfolio goals are always shown; team goals follow the ``team`` selection.
    """
    columns = [
        ("A", "delivery_metrics_goal_current", "Current"),
        ("B", "delivery_metrics_goal_target", "Target value"),
        ("C", "delivery_metrics_goal_target_level_rank", "Target level (0 low … 3 elite)"),
        ("D", "delivery_metrics_goal_baseline", "Baseline"),
        ("E", "delivery_metrics_goal_progress_ratio", "Progress"),
        ("F", "delivery_metrics_goal_expected_progress_ratio", "Expected progress"),
        ("G", "delivery_metrics_goal_on_track", "On track"),
        ("H", "delivery_metrics_goal_due_timestamp_seconds", "Due"),
    ]
    table = panel(
        "table",
        "Goals",
        [
            # Due: the family holds the end of the due date (midnight UTC after it); one second
            # earlier is still the due date itself, so the column reads the configured day
            target(goal_series(name) + (" * 1000 - 1000" if ref == "H" else ""), ref=ref, instant=True, table=True)
            for ref, name, _ in columns
        ],
        (0, y, 24, 8),
        description="Values in the metric's unit (seconds, per day, 0-1). Progress: (current - baseline) / "
        "(target - baseline); expected: elapsed share of the time from the baseline to the due date; "
        "on track: 1 when achieved or progress >= expected. Without an explicit baseline the goal's "
        "baseline is the window before the current one. Due: the last second of the due date (UTC).",
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True, "job": True, "instance": True},
                    "renameByName": {f"Value #{ref}": title for ref, _, title in columns},
                },
            },
        ],
    )
    table["fieldConfig"]["overrides"] = [
        {
            "matcher": {"id": "byName", "options": "Due"},
            "properties": [{"id": "unit", "value": "dateTimeAsIsoNoDateIfToday"}],
        },
        {
            "matcher": {"id": "byRegexp", "options": "Progress|Expected progress"},
            "properties": [{"id": "unit", "value": "percentunit"}],
        },
    ]
    progress = panel(
        "timeseries",
        "Goal progress vs expected progress",
        [
            target(goal_series("delivery_metrics_goal_progress_ratio"), "{{goal}}", ref="A"),
            target(goal_series("delivery_metrics_goal_expected_progress_ratio"), "{{goal}} (expected)", ref="B"),
        ],
        (0, y + 8, 16, 8),
        unit="percentunit",
        description="A goal is on track while its progress is at or above the expected line.",
        options={"legend": {"displayMode": "table", "placement": "right"}},
    )
    # one value per goal: several replicas export each goal once per instance
    on_track_per_goal = f"max by (goal, scope, name, metric) ({goal_series('delivery_metrics_goal_on_track')})"
    on_track = panel(
        "stat",
        "Goals on track",
        [
            target(f"sum({on_track_per_goal})", "on track", ref="A", instant=True),
            target(
                f"count({on_track_per_goal}) - sum({on_track_per_goal})",
                "off track, missed or no data",
                ref="B",
                instant=True,
            ),
        ],
        (16, y + 8, 8, 8),
        description="Achieved goals count as on track.",
        options={"colorMode": "value", "textMode": "value_and_name", "graphMode": "none"},
    )
    return [table, progress, on_track]

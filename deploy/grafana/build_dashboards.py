"""Build the Grafana dashboards of ``deploy/grafana/dashboards/`` from the panel lists below.

``python deploy/grafana/build_dashboards.py`` writes them; ``--check`` exits 1 when the committed
JSON differs from what this file builds (a test runs it). Building blocks: ``dashboard_parts.py``;
the PMO dashboard's goal panels: ``goal_panels.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from dashboard_parts import (
    LEVEL_METRICS,
    ORG_SEL,
    SERVICE_SEL,
    TEAM_SEL,
    dashboard,
    panel,
    target,
    unit_overrides,
    without_name,
)
from goal_panels import goal_panels

DASHBOARD_DIR = Path(__file__).resolve().parent / "dashboards"
LEVEL_CHANGE = f"dora:performance_level:change{{{TEAM_SEL}}}"


def organisation_overview() -> dict[str, Any]:
    """Every team's four metrics and levels, with band colours, and the organisation's numbers."""
    org = [
        ("Deployments per day", f'dora_deployments_per_day{{{ORG_SEL}, period="current"}}', "short"),
        ("Lead time p50", f'dora_change_lead_time_seconds{{{ORG_SEL}, period="current", quantile="0.5"}}', "s"),
        ("Change failure rate", f'dora_change_failure_ratio{{{ORG_SEL}, period="current"}}', "percentunit"),
        (
            "Recovery time p50",
            f'dora_failed_deployment_recovery_time_seconds{{{ORG_SEL}, period="current", quantile="0.5"}}',
            "s",
        ),
    ]
    panels = [
        panel("stat", f"Organisation: {title}", [target(expr, instant=True)], (6 * i, 0, 6, 4), unit=unit)
        for i, (title, expr, unit) in enumerate(org)
    ]
    for i, (metric, title) in enumerate(LEVEL_METRICS.items()):
        expr = f'dora_performance_level{{{TEAM_SEL}, period="current", metric="{metric}"}}'
        panels.append(
            panel(
                "stat",
                f"{title}: level by team",
                [target(expr, "{{team}}", instant=True)],
                (6 * i, 4, 6, 8),
                levels=True,
                description="4 elite, 3 high, 2 medium, 1 low (band table of the config). No value: no data.",
                options={"colorMode": "background", "textMode": "value_and_name", "graphMode": "none"},
            )
        )
    values = [
        ("A", "dora_deployments_per_day", 'period="current"'),
        ("B", "dora_change_lead_time_seconds", 'period="current", quantile="0.5"'),
        ("C", "dora_change_failure_ratio", 'period="current"'),
        ("D", "dora_failed_deployment_recovery_time_seconds", 'period="current", quantile="0.5"'),
    ]
    panels.append(
        panel(
            "table",
            "Teams: the four metrics",
            [
                target(without_name(f"{name}{{{TEAM_SEL}, {extra}}}"), ref=ref, instant=True, table=True)
                for ref, name, extra in values
            ],
            (0, 12, 24, 9),
            description="Deployments per day, change lead time p50 (s), change failure rate, recovery time p50 (s).",
            transformations=[
                {"id": "merge", "options": {}},
                {
                    "id": "organize",
                    "options": {
                        "excludeByName": {
                            "Time": True,
                            "job": True,
                            "instance": True,
                            "scope": True,
                            "period": True,
                            "quantile": True,
                            "service": True,
                            "environment": True,
                        },
                        "renameByName": {
                            "Value #A": "Deploys/day",
                            "Value #B": "Lead time p50",
                            "Value #C": "Change failure rate",
                            "Value #D": "Recovery p50",
                        },
                    },
                },
            ],
        )
    )
    panels[-1]["fieldConfig"]["overrides"] = unit_overrides(
        {"Lead time p50": "s", "Change failure rate": "percentunit", "Recovery p50": "s"}
    )
    return dashboard(
        "dm-organisation-overview",
        "Delivery metrics: organisation overview",
        "Every team's DORA metrics and performance levels for the selected window.",
        panels,
    )


def team_detail() -> dict[str, Any]:
    """Trends per metric, the previous window beside the current one, and the per-service breakdown."""
    trends = [
        ("Deployments per day", "dora_deployments_per_day", "", "short"),
        ("Change lead time p50", "dora_change_lead_time_seconds", ', quantile="0.5"', "s"),
        ("Change failure rate", "dora_change_failure_ratio", "", "percentunit"),
        (
            "Failed deployment recovery time p50",
            "dora_failed_deployment_recovery_time_seconds",
            ', quantile="0.5"',
            "s",
        ),
        ("Time to restore service p50", "dora_time_to_restore_seconds", ', quantile="0.5"', "s"),
        ("Rework rate", "dora_rework_ratio", "", "percentunit"),
    ]
    panels = []
    for i, (title, name, extra, unit) in enumerate(trends):
        panels.append(
            panel(
                "timeseries",
                f"{title}: current vs previous window",
                [
                    target(f'{name}{{{TEAM_SEL}, period="current"{extra}}}', "{{team}} current", ref="A"),
                    target(f'{name}{{{TEAM_SEL}, period="previous"{extra}}}', "{{team}} previous", ref="B"),
                ],
                (12 * (i % 2), 8 * (i // 2), 12, 8),
                unit=unit,
            )
        )
    panels.append(
        panel(
            "stat",
            "Level change against the previous window",
            [target(f"dora:performance_level:change{{{TEAM_SEL}}}", "{{team}} {{metric}}", instant=True)],
            (0, 24, 12, 6),
            description="+1: climbed a level; -1: fell one (recording rule dora:performance_level:change).",
            options={"colorMode": "value", "textMode": "value_and_name", "graphMode": "none"},
        )
    )
    panels.append(
        panel(
            "stat",
            "Deployment frequency: current ÷ previous window",
            [target(f"dora:deployments_per_day:ratio_to_previous{{{TEAM_SEL}}}", "{{team}}", instant=True)],
            (12, 24, 12, 6),
            unit="percentunit",
        )
    )
    breakdown = [
        ("A", "dora_deployments_per_day", 'period="current"'),
        ("B", "dora_change_lead_time_seconds", 'period="current", quantile="0.5"'),
        ("C", "dora_change_failure_ratio", 'period="current"'),
        ("D", "dora_deployments", 'period="current"'),
    ]
    panels.append(
        panel(
            "table",
            "Per service",
            [
                target(without_name(f"{name}{{{SERVICE_SEL}, {extra}}}"), ref=ref, instant=True, table=True)
                for ref, name, extra in breakdown
            ],
            (0, 30, 24, 9),
            description="The window of the per-service panels is `Service window`: services export 30d by default.",
            transformations=[{"id": "merge", "options": {}}],
        )
    )
    panels[-1]["fieldConfig"]["overrides"] = unit_overrides({"Value #B": "s", "Value #C": "percentunit"})
    panels.append(
        panel(
            "timeseries",
            "Deployments per day by service",
            [target(f'dora_deployments_per_day{{{SERVICE_SEL}, period="current"}}', "{{service}} ({{environment}})")],
            (0, 39, 24, 8),
        )
    )
    return dashboard(
        "dm-team-detail",
        "Delivery metrics: team detail",
        "One team's DORA metrics over time, against the previous window, and per service.",
        panels,
        service_window=True,
    )


def pmo_transformation() -> dict[str, Any]:
    """How many teams sit in each level over time, per metric."""
    panels = []
    for i, (metric, title) in enumerate(LEVEL_METRICS.items()):
        panels.append(
            panel(
                "timeseries",
                f"{title}: teams per level",
                [target(f'dora:teams_at_level:count{{metric="{metric}", window="$window"}}', "{{level}}")],
                (12 * (i % 2), 8 * (i // 2), 12, 8),
                options={"legend": {"displayMode": "table", "placement": "right"}},
            )
        )
    panels.append(
        panel(
            "bargauge",
            "Teams per level now, per metric",
            # one bar per (metric, level): a sum over the four metrics would count every team four times
            [target('dora:teams_at_level:count{window="$window"}', "{{metric}}: {{level}}", instant=True)],
            (0, 16, 12, 7),
            description="Teams at each level of each metric (a team has one level per metric).",
        )
    )
    panels.append(
        panel(
            "stat",
            "Teams that climbed / fell a level",
            # max by (team, metric): several replicas export each team once per instance
            [
                target(f"sum(max by (team, metric) ({LEVEL_CHANGE}) > bool 0)", "climbed", ref="A", instant=True),
                target(f"sum(max by (team, metric) ({LEVEL_CHANGE}) < bool 0)", "fell", ref="B", instant=True),
            ],
            (12, 16, 12, 7),
            description="Team × metric pairs whose level changed against the previous window.",
        )
    )
    panels.extend(goal_panels(23))
    return dashboard(
        "dm-pmo-transformation",
        "Delivery metrics: PMO transformation",
        "How many teams sit in each performance level over time, and how the goals progress.",
        panels,
    )


def collector_health() -> dict[str, Any]:
    """Sources, snapshot age, API usage and rate limits: is the data itself trustworthy?"""
    panels = [
        panel(
            "stat",
            "Exporter scraped",
            [target('up{job="delivery-metrics"}', "{{instance}}", instant=True)],
            (0, 0, 6, 4),
            options={"colorMode": "background", "graphMode": "none"},
        ),
        panel(
            "stat",
            "Snapshot age",
            [target("time() - delivery_metrics_snapshot_timestamp_seconds", "{{instance}}", instant=True)],
            (6, 0, 6, 4),
            unit="s",
        ),
        panel(
            "stat",
            "Snapshot as-of lag",
            [target("time() - delivery_metrics_snapshot_as_of_timestamp_seconds", "{{instance}}", instant=True)],
            (12, 0, 6, 4),
            unit="s",
        ),
        panel(
            "stat",
            "Series for the selection",
            [target('count(dora_deployments{team=~"$team", window="$window"})', instant=True)],
            (18, 0, 6, 4),
            description="DORA series exported for the selected teams and window.",
        ),
        panel("state-timeline", "Source up", [target("delivery_metrics_source_up", "{{source}}")], (0, 4, 12, 7)),
        panel(
            "timeseries",
            "Time since the last successful sync",
            [
                target("time() - delivery_metrics_source_last_success_timestamp_seconds", "{{source}}", ref="A"),
                target("dora_alert_threshold:source_stale_seconds", "stale threshold", ref="B"),
            ],
            (12, 4, 12, 7),
            unit="s",
        ),
        panel(
            "timeseries",
            "Sync duration",
            [target("delivery_metrics_source_sync_duration_seconds", "{{source}}")],
            (0, 11, 12, 7),
            unit="s",
        ),
        panel(
            "timeseries",
            "Failed syncs per hour",
            [target("rate(delivery_metrics_source_errors_total[$__rate_interval]) * 3600", "{{source}}")],
            (12, 11, 12, 7),
        ),
        panel(
            "timeseries",
            "API requests per second by status",
            [
                target(
                    "sum by (source, code) (rate(delivery_metrics_api_requests_total[$__rate_interval]))",
                    "{{source}} {{code}}",
                )
            ],
            (0, 18, 12, 7),
            unit="reqps",
        ),
        panel(
            "timeseries",
            "API rate limit remaining",
            [
                target("delivery_metrics_rate_limit_remaining", "{{source}}", ref="A"),
                target("dora_alert_threshold:rate_limit_min_remaining", "alert threshold", ref="B"),
            ],
            (12, 18, 12, 7),
        ),
    ]
    return dashboard(
        "dm-collector-health",
        "Delivery metrics: collector health",
        "Is the data trustworthy? Source syncs, snapshot age, API usage and rate limits.",
        panels,
    )


DASHBOARDS = {
    "organisation-overview.json": organisation_overview,
    "team-detail.json": team_detail,
    "pmo-transformation.json": pmo_transformation,
    "collector-health.json": collector_health,
}


def rendered() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {name: json.dumps(build(), indent=2, ensure_ascii=False) + "\n" for name, build in DASHBOARDS.items()}


def main(argv: list[str]) -> int:
    """Write every dashboard into ``deploy/grafana/dashboards/``; with ``--check`` only compare."""
    check = "--check" in argv
    stale = []
    for name, text in rendered().items():
        path = DASHBOARD_DIR / name
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            DASHBOARD_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        sys.stderr.write(f"out of date (run deploy/grafana/build_dashboards.py): {', '.join(stale)}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Audit: numbers the Grafana dashboards show, checked against hand-computed expectations.

* The PMO dashboard's "teams per level now" bars count teams: with two teams, no bar can exceed 2.
  ``dora:teams_at_level:count`` already counts teams per (metric, level); summing it over the four
  metrics counts each team four times (docs/metrics-reference.md: ``dora_performance_level`` has one
  series per team and ``metric``).
* A table column shows its family's unit: ``*_seconds`` families are seconds (Grafana ``s``), the
  ``*_ratio`` families are 0-1 (Grafana ``percentunit``); a column left in ``short`` shows a 1-hour
  recovery time as "3.60 K" and a 25 % change failure rate as "0.250".
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_paths import DASHBOARD_DIR, PROMETHEUS_DIR, require_binary

LEVEL_METRICS = ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")


def dashboard_panel(file_name: str, title_pattern: str) -> dict[str, Any]:
    """The one panel of ``file_name`` whose title matches ``title_pattern``."""
    dashboard = json.loads((DASHBOARD_DIR / file_name).read_text(encoding="utf-8"))
    found = [p for p in dashboard["panels"] if re.search(title_pattern, p.get("title", ""))]
    assert len(found) == 1, [p.get("title") for p in dashboard["panels"]]
    return found[0]


def promtool_max(tmp_path: Path, expr: str, input_series: list[dict[str, str]], expected: float) -> str:
    """Run ``max(expr)`` at 5m over ``input_series`` with the repository's recording rules; promtool's
    output (its return code is checked by the caller through ``expected``)."""
    spec = {
        "rule_files": [str(PROMETHEUS_DIR / "recording.rules.yml")],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": input_series,
                "promql_expr_test": [
                    {"expr": f"max({expr})", "eval_time": "5m", "exp_samples": [{"labels": "{}", "value": expected}]}
                ],
            }
        ],
    }
    path = tmp_path / "audit.test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run(
        [require_binary("promtool"), "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_pmo_teams_per_level_now_never_shows_more_teams_than_there_are(tmp_path: Path) -> None:
    # two teams, each elite on all four metrics over 30 days: every bar is at most 2 teams
    series = [
        {
            "series": f'dora_performance_level{{scope="team",team="{team}",window="30d",'
            f'period="current",metric="{metric}"}}',
            "values": "4x10",
        }
        for team in ("payments", "search")
        for metric in LEVEL_METRICS
    ]
    panel = dashboard_panel("pmo-transformation.json", r"^Teams per level now")
    for target in panel["targets"]:
        promtool_max(tmp_path, target["expr"].replace("$window", "30d"), series, expected=2)


UNIT_OF_FAMILY = {
    "dora_change_lead_time_seconds": "s",
    "dora_failed_deployment_recovery_time_seconds": "s",
    "dora_time_to_restore_seconds": "s",
    "dora_change_failure_ratio": "percentunit",
    "dora_rework_ratio": "percentunit",
}


def column_unit(panel: dict[str, Any], column: str) -> str:
    """The unit Grafana applies to ``column``: the last matching byName override, else the default."""
    unit = str(panel["fieldConfig"]["defaults"].get("unit", ""))
    for override in panel["fieldConfig"]["overrides"]:
        matcher = override["matcher"]
        if matcher["id"] == "byName" and matcher["options"] == column:
            unit = next((p["value"] for p in override["properties"] if p["id"] == "unit"), unit)
    return unit


def table_columns(panel: dict[str, Any]) -> dict[str, str]:
    """Displayed column name → family, for a merged table (``Value #<ref>``, renamed by ``organize``)."""
    renames: dict[str, str] = {}
    for transformation in panel.get("transformations", []):
        if transformation["id"] == "organize":
            renames = transformation["options"].get("renameByName", {})
    columns = {}
    for target in panel["targets"]:
        family = re.match(r"[a-z_:]+", target["expr"])
        assert family is not None
        raw = f"Value #{target['refId']}"
        columns[renames.get(raw, raw)] = family[0]
    return columns


@pytest.mark.parametrize(
    ("file_name", "title"),
    [("organisation-overview.json", r"^Teams: the four metrics$"), ("team-detail.json", r"^Per service$")],
)
def test_table_columns_show_durations_in_seconds_and_ratios_as_percentages(file_name: str, title: str) -> None:
    panel = dashboard_panel(file_name, title)
    wrong = {
        column: (family, column_unit(panel, column), UNIT_OF_FAMILY[family])
        for column, family in table_columns(panel).items()
        if family in UNIT_OF_FAMILY and column_unit(panel, column) != UNIT_OF_FAMILY[family]
    }
    assert not wrong, wrong


def test_goals_table_shows_the_configured_due_date(tmp_path: Path) -> None:
    # docs/pmo.md: `due: 2027-03-31`; the family holds the end of that day, 2027-04-01T00:00Z
    # (1806537600 s). The "Due" column (a date-time in ms, UTC dashboard) must read 2027-03-31.
    panel = dashboard_panel("pmo-transformation.json", r"^Goals$")
    due = next(t for t in panel["targets"] if "delivery_metrics_goal_due_timestamp_seconds" in t["expr"])
    series = [
        {
            "series": 'delivery_metrics_goal_due_timestamp_seconds{goal="digital lead_time",scope="portfolio",'
            'name="digital",metric="lead_time"}',
            "values": "1806537600x10",
        }
    ]
    day_start_ms, day_end_ms = 1806451200000, 1806537600000  # 2027-03-31T00:00Z, 2027-04-01T00:00Z
    expr = f"count((({due['expr']}) >= {day_start_ms}) < {day_end_ms})"
    promtool_max(tmp_path, expr, series, expected=1)


def two_replicas(series: str, values: str) -> list[dict[str, str]]:
    """``series`` as two `serve` replicas export it (docs/api.md, "Replicas"): one per ``instance``."""
    return [
        {"series": series.replace("{", f'{{job="delivery-metrics",instance="dm-{n}:9180",', 1), "values": values}
        for n in (0, 1)
    ]


def panel_value(tmp_path: Path, file_name: str, title: str, ref: str, series: list[dict[str, str]], expected: float):
    panel = dashboard_panel(file_name, title)
    (expr,) = [t["expr"] for t in panel["targets"] if t["refId"] == ref]
    promtool_max(tmp_path, expr.replace("$window", "30d").replace("$team", ".+"), series, expected=expected)


def test_pmo_counts_each_team_and_goal_once_when_two_replicas_are_scraped(tmp_path: Path) -> None:
    # payments climbed (high → elite), search fell (high → medium): 1 climbed, 1 fell, not 2 and 2
    levels = [
        *two_replicas(
            'dora_performance_level{scope="team",team="payments",window="30d",period="previous",metric="lead_time"}',
            "3x10",
        ),
        *two_replicas(
            'dora_performance_level{scope="team",team="payments",window="30d",period="current",metric="lead_time"}',
            "4x10",
        ),
        *two_replicas(
            'dora_performance_level{scope="team",team="search",window="30d",period="previous",metric="lead_time"}',
            "3x10",
        ),
        *two_replicas(
            'dora_performance_level{scope="team",team="search",window="30d",period="current",metric="lead_time"}',
            "2x10",
        ),
    ]
    panel_value(tmp_path, "pmo-transformation.json", r"^Teams that climbed", "A", levels, expected=1)
    panel_value(tmp_path, "pmo-transformation.json", r"^Teams that climbed", "B", levels, expected=1)
    # two goals, one on track and one not: 1 on track, 1 off track, not 2 and 2
    goals = [
        *two_replicas(
            'delivery_metrics_goal_on_track{goal="payments lead_time",scope="team",name="payments",metric="lead_time"}',
            "1x10",
        ),
        *two_replicas(
            'delivery_metrics_goal_on_track{goal="digital lead_time",scope="portfolio",name="digital",'
            'metric="lead_time"}',
            "0x10",
        ),
    ]
    panel_value(tmp_path, "pmo-transformation.json", r"^Goals on track$", "A", goals, expected=1)
    panel_value(tmp_path, "pmo-transformation.json", r"^Goals on track$", "B", goals, expected=1)


def promtool_samples(tmp_path: Path, expr: str, input_series: list[dict[str, str]], expected: list[dict[str, Any]]):
    """Assert that ``expr`` at 5m over ``input_series`` gives exactly ``expected`` (labels, value)."""
    spec = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": input_series,
                "promql_expr_test": [{"expr": expr, "eval_time": "5m", "exp_samples": expected}],
            }
        ],
    }
    path = tmp_path / "samples.test.yml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    result = subprocess.run(
        [require_binary("promtool"), "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("file_name", "title", "scope"),
    [
        ("organisation-overview.json", r"^Teams: the four metrics$", "team"),
        ("team-detail.json", r"^Per service$", "service"),
    ],
)
def test_merged_table_shows_one_row_per_team_or_service(tmp_path: Path, file_name: str, title: str, scope: str) -> None:
    # Grafana's merge transformation joins rows on every field that all the queries' frames share;
    # a table-format Prometheus frame has a column per label, `__name__` included. Four families
    # keep four different `__name__` values, so one team would show as four rows of one value each.
    labels = (
        f'scope="{scope}",team="payments",service="checkout",environment="production",window="30d",period="current"'
    )
    if scope == "team":
        labels = 'scope="team",team="payments",window="30d",period="current"'
    series = [
        {"series": f"{family}{{{labels}}}", "values": "1x10"}
        for family in ("dora_deployments", "dora_deployments_per_day", "dora_change_failure_ratio")
    ] + [
        {"series": f'{family}{{{labels},quantile="0.5"}}', "values": "3600x10"}
        for family in ("dora_change_lead_time_seconds", "dora_failed_deployment_recovery_time_seconds")
    ]
    panel = dashboard_panel(file_name, title)
    assert any(t["id"] == "merge" for t in panel["transformations"])
    for target in panel["targets"]:
        expr = re.sub(r"\$\w+", "", target["expr"]).replace('=~""', '=~".*"').replace('window=""', 'window="30d"')
        promtool_samples(tmp_path, f"count by (__name__) ({expr})", series, [{"labels": "{}", "value": 1}])

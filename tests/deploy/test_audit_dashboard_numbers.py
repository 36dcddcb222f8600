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

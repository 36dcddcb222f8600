"""The Grafana dashboards: static checks, then every panel query against a real Prometheus.

The live test starts the stack of ``live_stack.py`` (real `serve` with the demo data, real
Prometheus scraping it with the repository's rules), resolves every template variable through
Prometheus as Grafana would (``label_values`` → the series API, chained in order, ``All`` → the
regex alternation of every value), substitutes Grafana's interval macros, and runs every query of
every panel: a range query for a time-series target, an instant query for an instant one. Each
must return at least one series.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from deploy_paths import DASHBOARD_DIR, DEPLOY, require_binary
from live_stack import FAKE_REMAINING, LiveStack

DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
DORA_VARIABLES = ["team", "service", "environment", "window"]
MACROS = {"$__rate_interval": "10s", "$__interval": "2s", "$__range": "1m", "${__range}": "1m"}
LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def query_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield from panel.get("panels", [])  # collapsed rows
        if panel.get("type") not in {"row", "text"}:
            yield panel


def test_there_are_the_four_dashboards_each_valid_json_with_unique_uids():
    names = {path.name for path in DASHBOARDS}
    assert names == {
        "organisation-overview.json",
        "team-detail.json",
        "pmo-transformation.json",
        "collector-health.json",
    }
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid) for uid in uids)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_uses_the_datasource_variable_and_has_the_template_variables(path: Path):
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert set(DORA_VARIABLES) <= set(variables)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    text = path.read_text()
    # every datasource reference, of panels, targets and variables, is the variable
    uids = re.findall(r'"uid":\s*"([^"]*)"', text)
    assert set(uids) - {dashboard["uid"]} == {"${datasource}"}
    for panel in query_panels(dashboard):
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


def test_dashboards_match_their_generator():
    result = subprocess.run(
        [sys.executable, str(DEPLOY / "grafana" / "build_dashboards.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_grafana_provisioning_points_at_the_dashboards_and_prometheus():
    import yaml

    provisioning = DEPLOY / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    assert [d["type"] for d in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((provisioning / "dashboards" / "delivery-metrics.yml").read_text())
    assert providers["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/delivery-metrics"


def substitute(expr: str, values: dict[str, str]) -> str:
    """Grafana's substitution of the macros and of ``$name`` / ``${name}`` variables."""
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(f"${{{name}}}", values[name]).replace(f"${name}", values[name])
    return expr


def grafana_regex_escape(value: str) -> str:
    """How Grafana escapes a value in a Prometheus regex (a doubled backslash inside the PromQL string)."""
    return re.sub(r"([$^*{}\[\]'+?.()|\\])", r"\\\\\1", value)


def resolve_variables(stack: LiveStack, dashboard: dict[str, Any]) -> dict[str, str]:
    """Each query variable's default selection through Prometheus, in order (chained)."""
    values: dict[str, str] = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = LABEL_VALUES.match(variable["query"]["query"])
        assert match, variable["query"]
        selector = substitute(match["selector"] or '{__name__=~".+"}', values)
        found = stack.series_label_values(selector, match["label"])
        assert found, f"variable {variable['name']}: {selector} has no {match['label']} values"
        default = variable["current"]["value"]
        if default == "$__all":
            values[variable["name"]] = "(" + "|".join(map(grafana_regex_escape, found)) + ")"
        else:
            assert default in found, f"variable {variable['name']}: default {default} not in {found}"
            values[variable["name"]] = default
    return values


def dashboard_queries_without_data(stack: LiveStack, path: Path) -> tuple[int, list[str]]:
    """Run every query of the dashboard at ``path``; (queries run, the ones that returned nothing)."""
    dashboard = load(path)
    values = resolve_variables(stack, dashboard)
    empty = []
    ran = 0
    for panel in query_panels(dashboard):
        for target in panel["targets"]:
            expr = substitute(target["expr"], values)
            assert "$" not in expr, f"{path.name} / {panel['title']}: unresolved variable in {expr}"
            result = stack.query(expr) if target.get("instant") else stack.query_range(expr)
            ran += 1
            if not result:
                empty.append(f"{path.name} / {panel['title']} [{target['refId']}]: {expr}")
    return ran, empty


def test_every_panel_query_of_every_dashboard_returns_data_from_prometheus_scraping_the_demo(tmp_path: Path):
    """One stack for all dashboards (one test, so parallel workers never start two)."""
    prometheus = require_binary("prometheus")
    stack = LiveStack(tmp_path)
    try:
        try:
            stack.start(prometheus)
        except AssertionError as error:
            pytest.fail(f"the live stack did not start: {error}\n{stack.logs()}", pytrace=False)
        empty: list[str] = []
        for path in DASHBOARDS:
            ran, missing = dashboard_queries_without_data(stack, path)
            assert ran >= 5, path.name  # the loop ran (every dashboard has more queries than this)
            empty += missing
        assert not empty, "queries without data:\n" + "\n".join(empty)

        # the data is the served numbers, not just any data: the quota the fake API announced, and
        # level counts that add up to the teams with a level
        remaining = stack.query('delivery_metrics_rate_limit_remaining{source="fake-github"}')
        assert [float(r["value"][1]) for r in remaining] == [float(FAKE_REMAINING)]
        levels = 'dora_performance_level{scope="team",period="current",metric="deployment_frequency",window="30d"}'
        teams = stack.query(f"count({levels})")
        at_level = stack.query('sum(dora:teams_at_level:count{metric="deployment_frequency",window="30d"})')
        assert float(teams[0]["value"][1]) == float(at_level[0]["value"][1]) >= 1

        # the dashboards ran against the exporter's default selection: services export only the
        # current 30d series without levels, teams every window and both periods
        service_windows = stack.query('count by (window, period) (dora_deployments{scope="service"})')
        assert [(r["metric"]["window"], r["metric"]["period"]) for r in service_windows] == [("30d", "current")]
        assert not stack.query('dora_performance_level{scope="service"}')
        team_windows = stack.query('count by (window, period) (dora_deployments{scope="team"})')
        assert len(team_windows) == 6  # 7d, 30d, 90d × current, previous
    finally:
        stack.stop()

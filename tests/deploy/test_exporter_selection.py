"""Every query of the rules and dashboards of deploy/ reads series the exporter exports by default.

`serve` exports only a selection of the DORA series per scope (the ``exporter:`` config section:
services only their current 30d values, no levels). Each selector naming a scope is checked against
that default: its period, its window (a literal, or ``$window`` = every window, which the scope must
then export whole) and ``dora_performance_level`` (the scope must export levels). The live dashboard
test (``test_dashboards.py``) runs the same queries against a real Prometheus; this one names the
offending selector and also covers the alert rules and their annotations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import yaml
from deploy_paths import DASHBOARD_DIR, RULE_FILES

from collector.serve.exporter_settings import ExporterSettings

SELECTOR = re.compile(r"\b(dora_[a-z_]+)\{([^}]*)\}")
MATCHER = re.compile(r"""(\w+)\s*(=~|!=|!~|=)\s*["']([^"']*)["']""")


def selector_problem(name: str, matchers: str, exporter: ExporterSettings) -> str | None:
    """Why the selector ``name{matchers}`` finds nothing under ``exporter``, or ``None`` if it may find data."""
    equal = {label: value for label, op, value in MATCHER.findall(matchers) if op == "="}
    scope = equal.get("scope")
    if scope is None:  # every scope: finds whatever is exported
        return None
    selection = exporter.for_scope(scope)
    if equal.get("period") == "previous" and not selection.previous:
        return f"scope {scope} exports no previous period"
    if name == "dora_performance_level" and not selection.levels:
        return f"scope {scope} exports no levels"
    window = equal.get("window", "")
    exported = selection.window_days()
    if window == "$window" and exported is not None:
        return f"scope {scope} exports only some windows ({sorted(exported)} days) but the query follows $window"
    literal = re.fullmatch(r"(\d+)d", window)
    if literal and exported is not None and int(literal[1]) not in exported:
        return f"scope {scope} does not export the {window} window"
    return None


def rule_queries() -> Iterator[tuple[str, str]]:
    """(where, text) of every expression and annotation of every rule file."""
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                where = f"{path.name}: {rule.get('alert') or rule.get('record')}"
                yield where, rule["expr"]
                for text in (rule.get("annotations") or {}).values():
                    yield where, text


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(where, text) of every panel target and template variable of every dashboard."""
    for path in sorted(DASHBOARD_DIR.glob("*.json")):
        dashboard = json.loads(path.read_text())
        for variable in dashboard["templating"]["list"]:
            if variable["type"] == "query":
                yield f"{path.name}: variable {variable['name']}", variable["query"]["query"]
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]


def test_every_selector_of_the_rules_and_dashboards_finds_series_of_the_default_selection():
    exporter = ExporterSettings()
    problems = []
    scoped: dict[str, int] = {}
    for where, text in [*rule_queries(), *dashboard_queries()]:
        for name, matchers in SELECTOR.findall(text):
            scope = dict((label, value) for label, _, value in MATCHER.findall(matchers)).get("scope")
            if scope:
                scoped[scope] = scoped.get(scope, 0) + 1
            problem = selector_problem(name, matchers, exporter)
            if problem:
                problems.append(f"{where}: {name}{{{matchers}}}: {problem}")
    assert not problems, "\n".join(problems)
    # the loop saw the selectors it is meant to check (dashboards and alerts name each scope)
    assert scoped.get("team", 0) >= 20 and scoped.get("service", 0) >= 5 and scoped.get("organization", 0) >= 4


@pytest.mark.parametrize(
    "selector",
    [
        'dora_deployments{scope="service", period="previous"}',
        'dora_performance_level{scope="service", window="30d"}',
        'dora_deployments{scope="service", window="7d"}',
        'dora_deployments_per_day{scope="service", window="$window"}',
    ],
)
def test_the_check_flags_a_service_selector_outside_the_default(selector):
    ((name, matchers),) = SELECTOR.findall(selector)
    assert selector_problem(name, matchers, ExporterSettings()) is not None
    assert selector_problem(name, matchers, ExporterSettings(full=True)) is None

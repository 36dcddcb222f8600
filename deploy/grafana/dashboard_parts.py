"""Building blocks of the Grafana dashboards: panels, queries, template variables, band colours.

Used by ``build_dashboards.py``. Every panel reads the datasource variable ``${datasource}`` (no
hard-coded datasource uid); every dashboard has the template variables ``team``, ``service``,
``environment`` and ``window``, chained (service lists the selected teams' services, environment
the selected services' environments). A dashboard with per-service panels also has
``service_window``: the windows the exporter exports for services (by default only 30d, see the
``exporter:`` config section), so those panels never go empty when ``window`` is one services do
not export. Level values use the band colours: 4 elite green, 3 high light green, 2 medium orange,
1 low red.
"""

from __future__ import annotations

from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["delivery-metrics", "dora"]

TEAM_SEL = 'scope="team", team=~"$team", window="$window"'
SERVICE_SEL = (
    'scope="service", team=~"$team", service=~"$service", environment=~"$environment", window="$service_window"'
)
ORG_SEL = 'scope="organization", window="$window"'

LEVEL_MAPPINGS = [
    {
        "type": "value",
        "options": {
            "4": {"text": "Elite", "color": "green", "index": 0},
            "3": {"text": "High", "color": "light-green", "index": 1},
            "2": {"text": "Medium", "color": "orange", "index": 2},
            "1": {"text": "Low", "color": "red", "index": 3},
        },
    }
]
LEVEL_THRESHOLDS = {
    "mode": "absolute",
    "steps": [
        {"color": "red", "value": None},
        {"color": "orange", "value": 2},
        {"color": "light-green", "value": 3},
        {"color": "green", "value": 4},
    ],
}
LEVEL_METRICS = {
    "deployment_frequency": "Deployment frequency",
    "lead_time": "Change lead time",
    "change_failure_rate": "Change failure rate",
    "recovery_time": "Failed deployment recovery time",
}


def target(
    expr: str, legend: str = "", *, ref: str = "A", instant: bool = False, table: bool = False
) -> dict[str, Any]:
    """One Prometheus query of a panel."""
    result: dict[str, Any] = {"datasource": DATASOURCE, "refId": ref, "expr": expr, "legendFormat": legend}
    if instant:
        result["instant"] = True
        result["range"] = False
    if table:
        result["format"] = "table"
    return result


def without_name(expr: str) -> str:
    """``expr`` without its ``__name__`` label (arithmetic drops it), for a query of a merged table:
    Grafana's merge transformation joins rows on every field all the queries' frames share, and a
    table-format frame has a column per label, so queries of different families keeping their
    ``__name__`` would never merge (one team would show as one row per query)."""
    return f"{expr} + 0"


def panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    grid: tuple[int, int, int, int],
    *,
    unit: str = "short",
    description: str = "",
    levels: bool = False,
    options: dict[str, Any] | None = None,
    transformations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A panel of ``kind`` at ``grid`` = (x, y, width, height); ``levels`` colours values by band."""
    x, y, w, h = grid
    defaults: dict[str, Any] = {"unit": unit}
    if levels:
        defaults.update(
            {"mappings": LEVEL_MAPPINGS, "thresholds": LEVEL_THRESHOLDS, "color": {"mode": "thresholds"}, "min": 1}
        )
        defaults["max"] = 4
    result: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options or {},
    }
    if transformations:
        result["transformations"] = transformations
    return result


def unit_overrides(units: dict[str, str]) -> list[dict[str, Any]]:
    """Field overrides giving each named table column its unit (``s`` for seconds, ``percentunit``
    for the 0-1 ratios): a merged table has one panel unit, but its columns have different ones."""
    return [
        {"matcher": {"id": "byName", "options": column}, "properties": [{"id": "unit", "value": unit}]}
        for column, unit in units.items()
    ]


def text_panel(title: str, content: str, grid: tuple[int, int, int, int]) -> dict[str, Any]:
    """A Markdown panel (no query)."""
    x, y, w, h = grid
    return {
        "type": "text",
        "title": title,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "options": {"mode": "markdown", "content": content},
    }


def query_variable(name: str, label: str, query: str, *, multi: bool = True, default: str = "$__all") -> dict[str, Any]:
    """A Prometheus label-values variable (``All`` selected unless ``default`` says otherwise)."""
    current = {"text": "All", "value": "$__all"} if default == "$__all" else {"text": default, "value": default}
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable"},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "current": current,
        "options": [],
        "hide": 0,
    }


def variables(*, service_window: bool = False) -> list[dict[str, Any]]:
    """The datasource variable, then team → service → environment (chained) and window; with
    ``service_window``, the window of the per-service panels last (the windows services export)."""
    chosen = [
        {
            "name": "datasource",
            "label": "Prometheus",
            "type": "datasource",
            "query": "prometheus",
            "current": {},
            "hide": 0,
            "refresh": 1,
        },
        query_variable("team", "Team", 'label_values(dora_deployments{scope="team"}, team)'),
        query_variable("service", "Service", 'label_values(dora_deployments{scope="service", team=~"$team"}, service)'),
        query_variable(
            "environment",
            "Environment",
            'label_values(dora_deployments{scope="service", service=~"$service"}, environment)',
        ),
        query_variable("window", "Window", "label_values(dora_deployments, window)", multi=False, default="30d"),
    ]
    if service_window:
        chosen.append(
            query_variable(
                "service_window",
                "Service window",
                'label_values(dora_deployments{scope="service"}, window)',
                multi=False,
                default="30d",
            )
        )
    return chosen


def dashboard(
    uid: str, title: str, description: str, panels: list[dict[str, Any]], *, service_window: bool = False
) -> dict[str, Any]:
    """A whole dashboard; panel ids are assigned in order; ``service_window`` for per-service panels."""
    for number, item in enumerate(panels, start=1):
        item["id"] = number
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "graphTooltip": 1,
        "refresh": "5m",
        "time": {"from": "now-30d", "to": "now"},
        "templating": {"list": variables(service_window=service_window)},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["delivery-metrics"],
                "asDropdown": True,
                "title": "delivery-metrics",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": panels,
    }

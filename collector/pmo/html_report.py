"""The PMO report as one self-contained HTML file: inline CSS and inline SVG charts, no script, no
external resource, so it opens offline and prints well."""

from __future__ import annotations

from html import escape
from typing import Any

import pandas as pd

from collector.pmo.build import PmoReport
from collector.pmo.charts import TITLES, level_curve_chart, trend_chart
from collector.pmo.formatting import change_text, is_missing, metric_text
from collector.pmo.goals import GoalStatus
from collector.pmo.trends import LEVELS, NO_DATA, TREND_METRICS, improvements_and_regressions
from metrics.levels import BAND_METRICS

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;border-bottom:2px solid #eee;padding-bottom:4px;margin-top:32px}
.meta{color:#666;font-size:13px}table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th{background:#f5f5f5}td.l,th.l{text-align:left}
.lvl{display:inline-block;padding:1px 6px;border-radius:8px;font-size:11px;color:#fff}
.elite{background:#1a9850}.high{background:#66a13a}.medium{background:#e08a2c}.low{background:#d73027}
.nodata{background:#9e9e9e}.quality{background:#fff8e1;border-left:4px solid #f0a500;padding:8px 16px}
.quality.clean{background:#e8f5e9;border-color:#43a047}.chart{margin:12px 0;page-break-inside:avoid}
.chart svg{max-width:100%;height:auto}.bar{background:#eee;width:120px;height:10px;display:inline-block}
.bar span{display:block;height:10px;background:#1a9850}.achieved{color:#1a9850}.on_track{color:#66a13a}
.off_track{color:#e08a2c}.missed{color:#d73027}.no_data{color:#9e9e9e}
@media print{body{margin:0;max-width:none}h2{page-break-after:avoid}table,.chart{page-break-inside:avoid}}
"""


def _level(level: Any) -> str:
    if is_missing(level):
        return '<span class="lvl nodata">no data</span>'
    return f'<span class="lvl {escape(str(level))}">{escape(str(level))}</span>'


def _table(headings: list[str], rows: list[list[str]], left: int = 1) -> str:
    head = "".join(f'<th class="l">{h}</th>' if i < left else f"<th>{h}</th>" for i, h in enumerate(headings))
    body = "".join(
        "<tr>"
        + "".join(f'<td class="l">{c}</td>' if i < left else f"<td>{c}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def summary_section(report: PmoReport) -> str:
    """Latest complete period per organisation, portfolio and team, with levels."""
    last = report.trends[report.trends["period"] == report.buckets[-1].label]
    order = {"organisation": 0, "portfolio": 1, "team": 2}
    last = last.assign(_o=last["scope"].map(order)).sort_values(["_o", "name"], na_position="first")
    rows = []
    for record in last.to_dict("records"):
        name = "organisation" if is_missing(record["name"]) else escape(str(record["name"]))
        rows.append(
            [name, escape(str(record["scope"])), str(record["deployments"])]
            + [metric_text(metric, record[column]) for metric, (column, _) in TREND_METRICS.items()]
            + [_level(record[f"level_{metric}"]) for metric in BAND_METRICS]
        )
    headings = ["name", "scope", "deploys", *(TITLES[m] for m in TREND_METRICS), "DF", "LT", "CFR", "RT"]
    return f"<h2>Summary — {escape(report.buckets[-1].label)}</h2>" + _table(headings, rows, left=2)


def _goal_row(status: GoalStatus) -> list[str]:
    goal = status.goal
    target = goal.level if goal.level is not None else metric_text(goal.metric, goal.target)
    progress = "–" if status.progress is None else f"{100 * status.progress:.0f}%"
    width = 0 if status.progress is None else max(0.0, min(status.progress, 1.0)) * 100
    return [
        escape(goal.label),
        f"{goal.scope_kind} {escape(goal.scope_name)}",
        escape(goal.metric),
        f"{metric_text(goal.metric, status.baseline_value)} {_level(status.baseline_level) if goal.level else ''}",
        f"{metric_text(goal.metric, status.current_value)} {_level(status.current_level) if goal.level else ''}",
        escape(str(target)),
        goal.due.isoformat(),
        f'<span class="bar"><span style="width:{width:.0f}%"></span></span> {progress}',
        f"{100 * status.expected_progress:.0f}%",
        f'<b class="{status.status}">{status.status.replace("_", " ")}</b>',
    ]


def goals_section(report: PmoReport) -> str:
    """Each goal's baseline, current value, target, progress and status."""
    if not report.goals:
        return "<h2>Goals</h2><p>No goals are configured (see <code>goals</code> in the configuration).</p>"
    headings = ["goal", "scope", "metric", "baseline", "current", "target", "due", "progress", "expected", "status"]
    return "<h2>Goals</h2>" + _table(headings, [_goal_row(s) for s in report.goals], left=3)


def quality_section(report: PmoReport) -> str:
    """What the report could not see."""
    lines = report.quality.lines()
    if not lines:
        return '<h2>Data quality</h2><div class="quality clean">No gaps found in the period.</div>'
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return (
        '<h2>Data quality</h2><div class="quality"><p>Missing data is not good performance. '
        f"This report could not see:</p><ul>{items}</ul></div>"
    )


def curve_section(report: PmoReport) -> str:
    """The transformation curve: teams per level per period."""
    counts = report.level_counts
    rows = []
    for metric in BAND_METRICS:
        for period in dict.fromkeys(counts["period"]):
            part = counts[(counts["metric"] == metric) & (counts["period"] == period)].set_index("level")["count"]
            rows.append(
                [escape(TITLES[metric]), escape(str(period))] + [str(part.get(lv, 0)) for lv in (*LEVELS, NO_DATA)]
            )
    return (
        "<h2>Transformation curve — teams per level</h2>"
        f'<div class="chart" id="chart-levels">{level_curve_chart(counts)}</div>'
        + _table(["metric", "period", *LEVELS, NO_DATA], rows, left=2)
    )


def trend_section(report: PmoReport) -> str:
    """A chart per metric with the band thresholds."""
    charts = "".join(
        f'<div class="chart" id="chart-{metric}">{trend_chart(report.trends, metric, report.band_table)}</div>'
        for metric in TREND_METRICS
    )
    return "<h2>Trends</h2>" + charts


def _moves_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p>None.</p>"
    rows = [
        [escape(str(r["name"])), escape(str(r["scope"])), escape(TITLES[r["metric"]]),
         metric_text(r["metric"], r["before"]), metric_text(r["metric"], r["after"]), change_text(r["change"])]
        for r in frame.to_dict("records")
    ]  # fmt: skip
    return _table(["name", "scope", "metric", "before", "after", "change"], rows, left=3)


def movers_section(report: PmoReport, top: int = 10) -> str:
    """Largest improvements and regressions from the first to the last period."""
    better, worse = improvements_and_regressions(report.movers, top)
    span = f"{escape(report.buckets[0].label)} → {escape(report.buckets[-1].label)}"
    return (
        f"<h2>Largest improvements ({span})</h2>{_moves_table(better)}"
        f"<h2>Largest regressions ({span})</h2>{_moves_table(worse)}"
        '<p class="meta">Change is relative to the first period, positive when better.</p>'
    )


def render_html(report: PmoReport, *, charts: bool = True) -> str:
    """The whole report as one HTML document (``charts=False`` leaves the chart sections out)."""
    header = (
        f"<h1>{escape(report.title)}</h1><p class='meta'>{escape(report.period)} periods "
        f"{escape(report.buckets[0].label)} to {escape(report.buckets[-1].label)} "
        f"({report.start.date().isoformat()} – {report.end.date().isoformat()}, end exclusive) · "
        f"band table {escape(report.band_table)} · generated {report.generated_at.isoformat(timespec='seconds')}</p>"
    )
    sections = [header, quality_section(report), summary_section(report), goals_section(report)]
    if charts:
        sections += [curve_section(report), trend_section(report)]
    sections.append(movers_section(report))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(report.title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )

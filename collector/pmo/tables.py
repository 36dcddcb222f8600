"""The trend report as CSV (one row per period × scope) or JSON (trends, level counts, goals,
data quality)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from collector.pmo.build import PmoReport
from collector.pmo.formatting import is_missing


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.to_dict("records"):
        out.append(
            {
                str(k): (None if is_missing(v) or v is pd.NaT else v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in record.items()
            }
        )
    return out


def trend_csv(report: PmoReport) -> str:
    """Every trend row as CSV (timestamps ISO 8601, empty = no data)."""
    frame = report.trends.copy()
    for column in ("start", "end"):
        frame[column] = frame[column].map(lambda t: t.isoformat())
    return str(frame.to_csv(index=False, lineterminator="\n"))


def trend_json(report: PmoReport) -> str:
    """The report as one JSON document."""
    goals = [
        {
            "goal": s.goal.label, "scope": s.goal.scope_kind, "name": s.goal.scope_name, "metric": s.goal.metric,
            "target": s.goal.target, "target_level": s.goal.level, "due": s.goal.due.isoformat(),
            "baseline_at": s.baseline_at.isoformat(), "baseline": s.baseline_value, "current": s.current_value,
            "baseline_level": s.baseline_level, "current_level": s.current_level, "progress": s.progress,
            "expected_progress": s.expected_progress, "status": s.status,
        }
        for s in report.goals
    ]  # fmt: skip
    document = {
        "period": report.period,
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "band_table": report.band_table,
        "generated_at": report.generated_at.isoformat(),
        "trends": _records(report.trends),
        "level_counts": _records(report.level_counts),
        "goals": goals,
        "data_quality": report.quality.lines(),
        "portfolios": _records(report.portfolios.assign(teams=report.portfolios["teams"].map(list))),
    }
    return json.dumps(document, indent=2, default=str)

"""Audit: a report's goals are measured at the report's end (the end of its last complete period),
never at ``--to``/now inside the running period.

docs/pmo.md: goal values "are measured over ``window`` … ending at the end of the ``baseline`` day
(default in a report: the start of the report …) and at the report's end"; only complete buckets
are reported. Hand-made store, one team ``core`` (service ``shop``), deployments at 12:00 UTC:

| month | days | count |
|---|---|---|
| 2026-03 | 10, 20 | 2 |
| 2026-04 | 2 … 15 | 14 |

``report --trend monthly --from 2026-03-01 --to 2026-04-15``: the only complete month is March
(``[03-01, 04-01)``), so the report ends at 04-01 00:00.

Goal ``core deployment_frequency`` ≥ 1/day, 30-day window, due 2026-04-10, default baseline = the
report's start 03-01 00:00 → baseline window (01-30, 03-01]: 0 deployments → 0/day.

* Current at the report's end, window (03-02, 04-01]: 2 deployments → 2/30 per day. Progress
  (2/30 − 0) / (1 − 0) = 1/15. Expected: 31 of the 41 days from 03-01 to 04-11 (end of the due
  day). The due date has not passed at the report's end → ``off_track``, not ``missed``.
* Measured at ``--to`` (04-16 00:00) instead, the window (03-17, 04-16] would hold 03-20 and the
  14 April deployments — 15/30 = 0.5/day from a month the report leaves out as incomplete, and
  the goal would read ``missed`` although the report's last period ends before its due date.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from collector.config import load_config_text
from collector.ingest import ingest_lines
from collector.pmo.build import build_report
from collector.store.catalog import sync_catalog

CONFIG = """
teams: [{name: core}]
services:
  - {name: shop, team: core, repositories: [acme/shop]}
goals:
  - {team: core, metric: deployment_frequency, target: 1, due: 2026-04-10}
"""
DAYS = [(3, 10), (3, 20), *((4, day) for day in range(2, 16))]


def _deployment(month: int, day: int) -> str:
    event = {
        "type": "deployment",
        "id": f"shop-{month}-{day}",
        "service": "shop",
        "environment": "production",
        "status": "success",
        "sha": f"{month:02d}{day:02d}" * 10,
        "finished_at": f"2026-{month:02d}-{day:02d}T12:00:00Z",
    }
    return json.dumps(event) + "\n"


def test_report_goal_is_measured_at_the_end_of_the_last_complete_period(engine: Engine) -> None:
    config = load_config_text(CONFIG, env={})
    with engine.begin() as connection:
        sync_catalog(connection, config)
    assert ingest_lines(engine, [_deployment(m, d) for m, d in DAYS]).committed
    until = datetime(2026, 4, 16, tzinfo=UTC)  # --to 2026-04-15 (inclusive day)

    report = build_report(engine, config, period="monthly", first=date(2026, 3, 1), until=until, now=until)

    assert [b.label for b in report.buckets] == ["2026-03"]
    assert report.end == datetime(2026, 4, 1, tzinfo=UTC)
    (goal,) = report.goals
    assert goal.baseline_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert goal.as_of == report.end
    assert goal.baseline_value == 0.0
    assert goal.current_value == pytest.approx(2 / 30)
    assert goal.progress == pytest.approx(1 / 15)
    assert goal.expected_progress == pytest.approx(31 / 41)
    assert goal.status == "off_track"

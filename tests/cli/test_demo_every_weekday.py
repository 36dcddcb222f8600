"""The demo organisation gives every dashboard panel data whatever the day of the week.

The demo's history ends on the day it runs, and the generator follows working days, so the data
repeats weekly: seven variants. For each, the team rows of the current and the previous 30 days
(the dashboards' default window) must hold a failed-deployment recovery time, a time to restore and a
lead time for some team; otherwise the team dashboards show empty panels on that weekday (and the
live dashboard test, which runs the demo, fails on it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from collector.cli_demo import DEMO_SEED, demo_config
from collector.config import load_config
from collector.ingest import ingest_lines
from collector.recompute import compute, previous_rows
from collector.store.catalog import sync_catalog
from collector.store.engine import create_store_engine
from collector.store.schema import upgrade
from collector.synthetic import generate_org, services_config, write_jsonl
from metrics import compute_report

MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
FIGURES = ("recovery_time_seconds", "time_to_restore_seconds", "lead_time_seconds")


@pytest.mark.parametrize("days", range(7), ids=lambda d: (MONDAY + timedelta(days=d)).strftime("end-%a"))
def test_every_failure_panel_has_data_in_both_periods(days: int, tmp_path: Path) -> None:
    end = MONDAY + timedelta(days=days)  # the demo's end: midnight after the day it runs
    org = generate_org("demo", seed=DEMO_SEED, end=end)
    config_path = tmp_path / "delivery-metrics.yaml"
    raw = demo_config(services_config(org), list(org.teams), None, tmp_path / "demo.db")
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(config_path)
    engine = create_store_engine(config.database.url)
    upgrade(engine)
    with engine.begin() as connection:
        sync_catalog(connection, config)
    write_jsonl(org, tmp_path / "events.jsonl")
    with (tmp_path / "events.jsonl").open(encoding="utf-8") as lines:
        assert ingest_lines(engine, lines, workers=0).committed
    computation = compute(engine, config)
    engine.dispose()
    for hours_before_end in (23, 1):  # the demo runs at any time of its day
        as_of = end - timedelta(hours=hours_before_end)
        periods = {
            "current": compute_report(computation.inputs, computation.settings, as_of, links=computation.links),
            "previous": previous_rows(computation, as_of),
        }
        for period, rows in periods.items():
            teams = [row for row in rows if row["scope"] == "team" and row["window_days"] == 30]
            for figure in FIGURES:
                assert any((row[figure] or {}).get("p50") is not None for row in teams), (period, figure, as_of)

"""Data quality from the store: failed and stale sources from ``sync_runs`` (SQLite and PostgreSQL),
unmapped incidents and services without deployments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine, insert

from collector.pmo.quality import assess, load_sync_runs
from collector.store.models import SyncRun
from connectors.settings import SourceSettings
from metrics import MetricInputs, MetricSettings, derive_links

START, END = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC)
NOW = datetime(2026, 7, 2, tzinfo=UTC)


def _source(name: str) -> SourceSettings:
    return SourceSettings(name=name, kind="git")  # default interval 15m: stale after 1 day


def test_failed_and_stale_sources_are_reported(engine: Engine) -> None:
    rows = [
        {"source": "flaky", "started_at": START + timedelta(days=3), "finished_at": START + timedelta(days=3),
         "status": "failed", "error": "HTTP 401 from the API", "counts": {}},
        {"source": "flaky", "started_at": NOW - timedelta(hours=2), "finished_at": NOW - timedelta(hours=1),
         "status": "success", "error": None, "counts": {}},
        {"source": "old", "started_at": START, "finished_at": START + timedelta(minutes=1),
         "status": "success", "error": None, "counts": {}},
        {"source": "fine", "started_at": NOW - timedelta(hours=1), "finished_at": NOW - timedelta(minutes=50),
         "status": "success", "error": None, "counts": {}},
        {"source": "fine", "started_at": START - timedelta(days=5), "finished_at": START - timedelta(days=5),
         "status": "failed", "error": "before the period", "counts": {}},
    ]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(insert(SyncRun), rows)
        runs = load_sync_runs(connection)
    sources = [_source("flaky"), _source("old"), _source("fine"), _source("never")]
    quality = assess(MetricInputs.empty(), derive_links(MetricInputs.empty(), MetricSettings()), runs, sources,
                     START, END, NOW)  # fmt: skip
    found = {(p.source, p.problem) for p in quality.source_problems}
    assert found == {("flaky", "failed"), ("old", "stale"), ("never", "stale")}
    assert any("HTTP 401" in line for line in quality.lines())


def test_unmapped_incidents_and_silent_services_are_reported() -> None:
    services = pd.DataFrame(
        [{"service": s, "team": "t", "repositories": (), "path_prefixes": (),
          "production_environments": ("production",)} for s in ("busy", "silent")]
    )  # fmt: skip
    at = pd.Timestamp("2026-06-10", tz="UTC")
    deployments = pd.DataFrame(
        [{"deployment_key": f"ci:{i}", "source": "ci", "external_id": str(i), "service": s, "environment": "production",
          "status": "success", "sha": None, "repo": None, "started_at": at, "finished_at": at, "commits": None,
          "is_rollback": False} for i, s in enumerate(["busy", "ghost"])]
    )  # fmt: skip
    incidents = pd.DataFrame(
        [{"incident_key": f"pd:{i}", "source": "pd", "external_id": str(i), "service": s, "title": "x",
          "severity": None, "created_at": t, "acknowledged_at": None, "resolved_at": None,
          "cause_deployment_id": None, "cause_sha": None}
         for i, (s, t) in enumerate([("busy", at), (None, at), ("ghost", at), (None, at - pd.Timedelta(days=40))])]
    )  # fmt: skip
    inputs = MetricInputs.of(deployments=deployments, incidents=incidents, services=services)
    empty_runs = pd.DataFrame(columns=["source", "started_at", "finished_at", "status", "error"])
    quality = assess(inputs, derive_links(inputs, MetricSettings()), empty_runs, [], START, END, NOW)
    assert quality.unmapped_incidents == 2  # the null one and "ghost" in June; May's is outside
    assert quality.unmapped_incident_services == ("ghost",)
    assert quality.unknown_service_deployments == 1
    assert quality.services_without_deployments == ("silent",)
    assert not quality.is_clean

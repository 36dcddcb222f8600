"""Audit: the digest's data-quality findings are those of its week, the last complete ISO week.

collector/pmo/digest.py: "improvements, regressions, goal status and data gaps of the last complete
week"; docs/pmo.md: "Every report and digest states, for its period". The digest's report spans two
weeks (the week and the one before, for the comparison), and its findings covered both.

Hand-made store, digest made on Monday 2026-03-16 08:00 UTC: the last complete week is 2026-W11
``(03-09, 03-16]``, the week before 2026-W10 ``(03-02, 03-09]``. Deployments at 12:00 UTC:

| service (team) | W10 | W11 |
|---|---|---|
| shop (core) | 03-03 | 03-10 |
| web (core)  | 03-04 | — |

``web`` made no production deployment in W11, so the digest must say so; over both weeks it had one
and the finding was lost.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine

from collector.config import load_config_text
from collector.ingest import ingest_lines
from collector.pmo.digest import build_digest
from collector.store.catalog import sync_catalog

CONFIG = """
teams: [{name: core}]
services:
  - {name: shop, team: core, repositories: [acme/shop]}
  - {name: web, team: core, repositories: [acme/web]}
"""
NOW = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)


def _deployment(service: str, day: int) -> str:
    event = {
        "type": "deployment",
        "id": f"{service}-{day}",
        "service": service,
        "environment": "production",
        "status": "success",
        "sha": f"{day:02d}" * 20,
        "finished_at": f"2026-03-{day:02d}T12:00:00Z",
    }
    return json.dumps(event) + "\n"


def test_the_digest_reports_the_data_gaps_of_its_week(engine: Engine) -> None:
    config = load_config_text(CONFIG, env={})
    with engine.begin() as connection:
        sync_catalog(connection, config)
    lines = [_deployment("shop", 3), _deployment("shop", 10), _deployment("web", 4)]
    assert ingest_lines(engine, lines).committed

    digest = build_digest(engine, config, NOW)

    assert (digest.previous_week, digest.week) == ("2026-W10", "2026-W11")
    assert "1 service(s) with no production deployment in the period: web." in digest.quality

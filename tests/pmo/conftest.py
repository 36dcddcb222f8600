"""The demo organisation in a SQLite store, built once per module for the PMO tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from collector.cli_demo import demo_config
from collector.config import AppConfig, load_config
from collector.ingest import ingest_lines
from collector.store.catalog import sync_catalog
from collector.store.engine import create_store_engine
from collector.store.schema import upgrade
from collector.synthetic import generate_org, services_config, write_jsonl

#: The demo history ends here: complete months 2026-02 … 2026-06.
DEMO_END = datetime(2026, 7, 1, tzinfo=UTC)
PMO_KEYS = {
    "portfolios": [
        {"name": "digital", "teams": []},
        {"name": "core", "parent": "digital", "teams": []},
    ],
    "goals": [],
    "digest": {
        "slack_webhook_url": "https://hooks.slack.test/T/B/secret",
        "teams_webhook_url": "https://teams.test/hook",
    },
}


@dataclass(frozen=True)
class DemoStore:
    path: Path
    config_path: Path
    config: AppConfig
    engine: Engine
    teams: tuple[str, ...]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> DemoStore:
    directory = tmp_path_factory.mktemp("pmo-demo")
    org = generate_org("demo", seed=42, end=DEMO_END)
    raw = demo_config(services_config(org), list(org.teams), None, directory / "demo.db")
    teams = list(org.teams)
    raw |= PMO_KEYS
    raw["portfolios"] = [
        {"name": "digital", "teams": teams[:1]},
        {"name": "core", "parent": "digital", "teams": teams[1:3]},
    ]
    raw["goals"] = [{"portfolio": "digital", "metric": "deployment_frequency", "level": "elite", "due": "2026-12-31"}]
    config_path = directory / "delivery-metrics.yaml"
    config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
    config = load_config(config_path)
    engine = create_store_engine(config.database.url)
    upgrade(engine)
    with engine.begin() as connection:
        sync_catalog(connection, config)
    events = directory / "events.jsonl"
    write_jsonl(org, events)
    with events.open(encoding="utf-8") as lines:
        assert ingest_lines(engine, lines).committed
    yield DemoStore(directory, config_path, config, engine, tuple(org.teams))
    engine.dispose()

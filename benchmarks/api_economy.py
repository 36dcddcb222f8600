"""API economy of the ``github`` source against :class:`benchmarks.fake_github.FakeGitHub`.

Two syncs through ``collector.sync.run_source`` into a SQLite store (cursors and ETags persist
there, as in production): the first must send exactly :meth:`FakeGitHub.minimum_pages` requests;
the second, with nothing new upstream, at most one request per repository and resource, answered
``304 Not Modified`` wherever the listing URL is stable (pull requests, deployments).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from benchmarks.fake_github import FakeGitHub
from collector.config.loader import load_config_text
from collector.store.catalog import sync_catalog
from collector.store.engine import create_store_engine
from collector.store.schema import upgrade
from collector.sync import run_source

logger = logging.getLogger(__name__)

TOKEN = "benchmark-token-not-a-secret"  # noqa: S105 - sent only to the local fake


def _config_text(fake: FakeGitHub, url: str) -> str:
    services = "\n".join(
        f"  - {{name: svc{i}, team: bench, repositories: [{shape.name}]}}" for i, shape in enumerate(fake.shapes)
    )
    repositories = ", ".join(shape.name for shape in fake.shapes)
    return (
        f"database: {{url: '{url}'}}\nteams: [{{name: bench}}]\nservices:\n{services}\n"
        f"sources:\n  - name: gh\n    kind: github\n    base_url: {fake.base_url}\n    token: {TOKEN}\n"
        f"    per_page: {fake.per_page}\n    repositories: [{repositories}]\n"
    )


def measure_api_economy(directory: Path, repositories: int, per_page: int = 25) -> dict[str, Any]:
    """Run a first and a second (nothing new) sync; count the requests of each."""
    db = directory / "api-economy.db"
    for leftover in directory.glob("api-economy.db*"):
        leftover.unlink()
    fake = FakeGitHub(repositories, per_page).start()
    try:
        url = f"sqlite:///{db}"
        config = load_config_text(_config_text(fake, url))
        engine = create_store_engine(url)
        upgrade(engine)
        with engine.begin() as connection:
            sync_catalog(connection, config)
        source = config.sources[0]
        first = run_source(engine, config, source)
        first_count = len(fake.log)
        second = run_source(engine, config, source)
        engine.dispose()
        minimum = fake.minimum_pages()
        first_by_resource, first_by_status = fake.requests(0, first_count)
        second_by_resource, second_by_status = fake.requests(first_count)
    finally:
        fake.stop()
        for leftover in directory.glob("api-economy.db*"):
            leftover.unlink()
    listed = sorted(set(minimum) | set(first_by_resource) | set(second_by_resource))
    return {
        "repositories": repositories,
        "per_page": per_page,
        "first_sync": {
            "status": first.status,
            "error": first.error,
            "stored": dict(first.counts),
            "requests": sum(first_by_resource.values()),
            "minimum_pages": sum(minimum.values()),
            "by_resource": {r: {"requests": first_by_resource[r], "minimum": minimum[r]} for r in listed},
            "by_status": dict(first_by_status),
        },
        "second_sync": {
            "status": second.status,
            "error": second.error,
            "stored": dict(second.counts),
            "requests": sum(second_by_resource.values()),
            "not_modified": second_by_status.get("304", 0),
            "by_resource": {r: second_by_resource[r] for r in listed if second_by_resource[r]},
            "by_status": dict(second_by_status),
            "max_requests_per_repository_and_resource": max(
                (second_by_resource[r] / repositories for r in second_by_resource), default=0.0
            ),
        },
    }

"""Schemathesis over the app's OpenAPI description: no request it generates gets a server error.

Bounded: a few examples per operation, no deadline, the SQLite store, every feature switched on
(push token, webhook secrets, a snapshot) so the generated requests reach the real handlers.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error

from collector.config.model import AppConfig
from collector.serve.app import create_app
from collector.serve.context import build_context
from collector.serve.settings import (
    GitHubWebhookSettings,
    GitLabWebhookSettings,
    PagerDutyWebhookSettings,
    ServerSettings,
    WebhookSettings,
)
from collector.snapshot import Snapshot
from collector.store.engine import create_store_engine


@pytest.fixture(scope="module")
def fuzzed_app(tmp_path_factory: pytest.TempPathFactory):
    import shutil

    from collector.store.schema import upgrade

    path = Path(tmp_path_factory.mktemp("fuzz")) / "store.db"
    engine = create_store_engine(f"sqlite:///{path}")
    upgrade(engine)
    hooks = WebhookSettings(
        github=GitHubWebhookSettings(secret=SecretStr("gh")),
        gitlab=GitLabWebhookSettings(token=SecretStr("gl")),
        pagerduty=PagerDutyWebhookSettings(secret=SecretStr("pd")),
    )
    server = ServerSettings(api_token=SecretStr("token"), webhooks=hooks)
    context = build_context(engine, AppConfig(), server=server)
    from datetime import UTC, datetime

    at = datetime(2024, 1, 1, tzinfo=UTC)
    row = {"team": "t", "service": "s", "environment": "production", "window_days": 30, "deployments": 1}
    context.holder.replace_snapshot(Snapshot(at, at, "h", "dora-2023", (row,), ()))
    yield create_app(context)
    engine.dispose()
    shutil.rmtree(path.parent, ignore_errors=True)


@schemathesis.serializer("application/x-ndjson")
def _json_lines(_context, value) -> bytes:
    """The push API's JSON Lines body: the generated value is already the text."""
    return str(value).encode()


@pytest.fixture(scope="module")
def fuzz_schema(fuzzed_app):
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)


def test_no_generated_request_gets_a_server_error(fuzz_schema):
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]
    assert len(operations) == 8  # healthz, readyz, metrics, api metrics, events, three webhooks
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:
            headers = {"Authorization": "Bearer token"} if case.path == "/api/v1/events" else None
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()

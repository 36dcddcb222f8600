"""`record-deployment`: one line to the database, or to a running `serve` through the push API."""

from __future__ import annotations

import json

import click
import pytest
import responses
from click.testing import CliRunner
from sqlalchemy import select

from collector.cli import main
from collector.cli_serve import record_deployment, serve
from collector.store.engine import create_store_engine
from collector.store.models import DeploymentRow


@pytest.fixture
def cli() -> click.Group:
    group = click.Group(name="delivery-metrics", params=main.params, callback=main.callback)
    for command in (*main.commands.values(), serve, record_deployment):
        group.add_command(command)
    return group


def test_record_deployment_writes_to_the_database(cli, store_url):
    args = [
        "--database",
        store_url,
        "record-deployment",
        "--service",
        "checkout",
        "--environment",
        "production",
        "--sha",
        "ABCDEF1234",
        "--finished-at",
        "2024-03-01T10:00:00+01:00",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    again = CliRunner().invoke(cli, args)  # a retried pipeline step: same id, still one row
    assert again.exit_code == 0, again.output
    engine = create_store_engine(store_url)
    with engine.connect() as connection:
        rows = connection.execute(select(DeploymentRow)).all()
    engine.dispose()
    assert len(rows) == 1
    (row,) = rows
    assert (row.service, row.environment, row.status, row.sha) == ("checkout", "production", "success", "abcdef1234")
    assert row.external_id == "checkout:production:abcdef1234:20240301T100000+0100"
    assert row.finished_at.isoformat() == "2024-03-01T09:00:00+00:00"  # 10:00 at +01:00


def test_record_deployment_refuses_a_time_without_offset(cli, store_url):
    result = CliRunner().invoke(
        cli,
        [
            "--database",
            store_url,
            "record-deployment",
            "--service",
            "s",
            "--environment",
            "production",
            "--sha",
            "abcd",
            "--finished-at",
            "2024-03-01T10:00:00",
        ],
    )
    assert result.exit_code == 2
    assert "no UTC offset" in result.output


@responses.activate
def test_record_deployment_posts_to_the_api_with_the_token(cli):
    responses.post("http://serve.test/api/v1/events", json={"events": 1, "stored": {"deployments": 1}})
    result = CliRunner().invoke(
        cli,
        [
            "record-deployment",
            "--service",
            "checkout",
            "--environment",
            "production",
            "--sha",
            "abcd1234",
            "--status",
            "failure",
            "--id",
            "pipeline-42",
            "--finished-at",
            "2024-03-01T10:00:00Z",
            "--url",
            "http://serve.test",
            "--token",
            "tok-123",
        ],
    )
    assert result.exit_code == 0, result.output
    (call,) = responses.calls
    assert call.request.headers["Authorization"] == "Bearer tok-123"
    (event,) = json.loads(call.request.body)
    assert event == {
        "type": "deployment",
        "id": "pipeline-42",
        "service": "checkout",
        "environment": "production",
        "status": "failure",
        "sha": "abcd1234",
        "finished_at": "2024-03-01T10:00:00+00:00",
        "is_rollback": False,
    }


@responses.activate
def test_record_deployment_fails_when_the_api_refuses(cli):
    responses.post("http://serve.test/api/v1/events", status=401, json={"detail": "invalid bearer token"})
    result = CliRunner().invoke(
        cli,
        [
            "record-deployment",
            "--service",
            "s",
            "--environment",
            "production",
            "--sha",
            "abcd",
            "--url",
            "http://serve.test",
            "--token",
            "bad-token",
        ],
    )
    assert result.exit_code == 1
    assert "401" in result.output

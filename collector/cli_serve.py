"""`delivery-metrics serve` and `delivery-metrics record-deployment`.

Registered on the main group by ``collector.entrypoint``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from connectors.records import DeploymentStatus, utc_now

if TYPE_CHECKING:
    from collector.cli_state import CliState

API_TOKEN_ENV = "DELIVERY_METRICS_API_TOKEN"  # noqa: S105 - a variable name, not a secret
API_URL_ENV = "DELIVERY_METRICS_URL"


@click.command("serve")
@click.option("--host", help="Listen address (default: server.host of the config, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(0, 65535), help="Listen port (default: server.port, else 9180).")
@click.pass_obj
def serve(state: CliState, host: str | None, port: int | None) -> None:
    """Run the scheduler, the Prometheus exporter, the HTTP API and the webhooks until SIGTERM/SIGINT."""
    from collector.serve.runner import run_server
    from collector.serve.settings import server_settings

    config = state.config()
    server = server_settings(config)
    overrides: dict[str, Any] = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if overrides:
        server = server.model_copy(update=overrides)
    engine = state.engine()
    raise SystemExit(run_server(engine, config, server))


def _parse_time(value: str | None, option: str) -> datetime:
    if value is None:
        return utc_now()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}", param_hint=option) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise click.BadParameter(f"{value!r} has no UTC offset: add Z or ±HH:MM", param_hint=option)
    return parsed


def deployment_event(
    *,
    service: str,
    environment: str,
    sha: str,
    status: str,
    finished_at: datetime,
    started_at: datetime | None,
    deployment_id: str | None,
    repo: str | None,
    rollback: bool,
) -> dict[str, Any]:
    """The canonical ``deployment`` event; the default id ``service:environment:sha:finished`` is stable
    for a retried command given the same ``--finished-at``."""
    stamp = finished_at.strftime("%Y%m%dT%H%M%S%z")
    event: dict[str, Any] = {
        "type": "deployment",
        "id": deployment_id or f"{service}:{environment}:{sha.lower()}:{stamp}",
        "service": service,
        "environment": environment,
        "status": status,
        "sha": sha,
        "finished_at": None if status == DeploymentStatus.IN_PROGRESS.value else finished_at.isoformat(),
        "is_rollback": rollback,
    }
    if started_at is not None:
        event["started_at"] = started_at.isoformat()
    if repo:
        event["repo"] = repo
    return event


def _post(url: str, token: str | None, event: dict[str, Any], source: str) -> None:
    import requests

    if not token:
        raise click.UsageError(f"--token (or ${API_TOKEN_ENV}) is required with --url")
    endpoint = url.rstrip("/") + "/api/v1/events"
    try:
        response = requests.post(
            endpoint,
            json=[event],
            params={"source": source},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    except requests.RequestException as error:
        click.echo(f"error: cannot reach {endpoint}: {type(error).__name__}", err=True)
        raise SystemExit(1) from error
    if response.status_code >= 400:
        click.echo(f"error: {endpoint} answered {response.status_code}: {response.text[:2000]}", err=True)
        raise SystemExit(1)
    click.echo(f"recorded deployment {event['id']} via {endpoint}")


@click.command("record-deployment")
@click.option("--service", required=True, help="The service deployed.")
@click.option("--environment", required=True, help="The environment deployed to (e.g. production).")
@click.option("--sha", required=True, help="The commit deployed.")
@click.option(
    "--status",
    type=click.Choice([s.value for s in DeploymentStatus]),
    default="success",
    show_default=True,
    help="How the deployment ended.",
)
@click.option("--finished-at", help="ISO 8601 time with offset (default: now).")
@click.option("--started-at", help="ISO 8601 time with offset.")
@click.option("--id", "deployment_id", help="Deployment id (default: service:environment:sha:finished-at).")
@click.option("--repo", help="Repository of the sha.")
@click.option("--rollback", is_flag=True, help="This deployment rolls back to an earlier version.")
@click.option("--source", default="events", show_default=True, help="Source name recorded.")
@click.option(
    "--url", envvar=API_URL_ENV, help=f"Send to this `serve` (base URL; ${API_URL_ENV}) instead of the database."
)
@click.option("--token", envvar=API_TOKEN_ENV, help=f"Bearer token of the push API (${API_TOKEN_ENV}).")
@click.pass_obj
def record_deployment(
    state: CliState,
    service: str,
    environment: str,
    sha: str,
    status: str,
    finished_at: str | None,
    started_at: str | None,
    deployment_id: str | None,
    repo: str | None,
    rollback: bool,
    source: str,
    url: str | None,
    token: str | None,
) -> None:
    """Record one deployment, from any pipeline, in one line: to a running `serve`, or to the database."""
    event = deployment_event(
        service=service,
        environment=environment,
        sha=sha,
        status=status,
        finished_at=_parse_time(finished_at, "--finished-at"),
        started_at=_parse_time(started_at, "--started-at") if started_at else None,
        deployment_id=deployment_id,
        repo=repo,
        rollback=rollback,
    )
    if url:
        _post(url, token, event, source)
        return
    from collector.ingest import ingest_lines

    result = ingest_lines(state.engine(), [json.dumps(event)], source=source)
    if result.problems:
        for problem in result.problems:
            click.echo(f"error: {problem.field or '<event>'}: {problem.message}", err=True)
        raise SystemExit(1)
    click.echo(f"recorded deployment {event['id']}")

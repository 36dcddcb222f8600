"""PMO verbs: ``digest`` (post or ``--dry-run`` print the weekly digest) and the trend report behind
``report --trend`` (HTML, CSV or JSON over calendar periods)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from collector.cli_state import CliState, pass_state
from collector.pmo.buckets import Period
from collector.store.catalog import sync_catalog
from connectors.records import utc_now


def parse_day(value: str | None, option: str) -> date | None:
    """``--from`` / ``--to``: a calendar date ``YYYY-MM-DD`` (UTC)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not a date such as 2026-01-31", param_hint=option) from error


def run_trend_report(
    state: CliState, period: Period, from_text: str | None, to_text: str | None, fmt: str, output: Path | None
) -> None:
    """``report --trend``: the complete periods from ``--from`` to ``--to`` (inclusive; default now)."""
    from collector.pmo.build import build_report
    from collector.pmo.html_report import render_html
    from collector.pmo.tables import trend_csv, trend_json

    first = parse_day(from_text, "--from")
    if first is None:
        raise click.UsageError("--trend needs --from DATE")
    last = parse_day(to_text, "--to")
    now = utc_now()
    until = now if last is None else datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    config = state.config()
    engine = state.engine()
    with engine.begin() as connection:
        sync_catalog(connection, config)
    try:
        report = build_report(engine, config, period=period, first=first, until=min(until, now), now=now)
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    if fmt == "html":
        text = render_html(report)
    elif fmt == "csv":
        text = trend_csv(report)
    elif fmt == "json":
        text = trend_json(report) + "\n"
    else:
        raise click.UsageError("--trend supports --format html, csv or json")
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@click.command("digest")
@click.option("--dry-run", is_flag=True, help="Print the Slack and Teams payloads instead of posting them.")
@pass_state
def digest(state: CliState, dry_run: bool) -> None:
    """Send the weekly digest (last complete week against the week before) to the configured
    Slack and Microsoft Teams incoming webhooks."""
    from collector.pmo.digest import DigestError, build_digest, post_digest, slack_payload, teams_payload

    config = state.config()
    engine = state.engine()
    try:
        content = build_digest(engine, config, utc_now())
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    if dry_run:
        click.echo(json.dumps({"slack": slack_payload(content), "teams": teams_payload(content)}, indent=2))
        return
    settings = config.digest
    if settings.slack_webhook_url is None and settings.teams_webhook_url is None:
        raise click.UsageError("no webhook configured: set digest.slack_webhook_url or digest.teams_webhook_url")
    try:
        sent = post_digest(content, settings)
    except DigestError as error:
        click.echo(f"error: {error}", err=True)
        raise SystemExit(1) from error
    click.echo(f"digest {content.week} posted to {', '.join(sent)}")

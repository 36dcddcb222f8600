"""`report` and `explain`: the DORA figures, and the items behind any one of them."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd

from collector.cli_state import CliState, pass_state
from collector.recompute import compute, previous_rows, save_links
from collector.snapshot import Snapshot, save_snapshot
from collector.store.catalog import sync_catalog
from connectors.records import utc_now
from metrics import METRICS, compute_report, explain, report_document


def parse_as_of(value: str | None) -> datetime | None:
    """``--as-of``: an ISO 8601 instant with an offset (``Z`` allowed)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 timestamp") from error
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset: add Z or ±HH:MM")
    return parsed


def parse_window(value: str | None) -> int | None:
    """``--window``: whole days, written ``30d`` or ``30``."""
    if value is None:
        return None
    text = value.strip().lower().removesuffix("d")
    if not text.isdigit() or int(text) <= 0:
        raise click.BadParameter(f"{value!r} is not a window in whole days such as 30d")
    return int(text)


def _duration(seconds: Any) -> str:
    if seconds is None or (isinstance(seconds, float) and pd.isna(seconds)):
        return "–"
    value = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}s"


def _rate(value: Any) -> str:
    return "–" if value is None else f"{100 * float(value):.1f}%"


def _scope_label(row: dict[str, Any]) -> str:
    if row.get("service"):
        return f"{row['service']} ({row.get('environment') or '-'})"
    if row.get("team"):
        return f"team {row['team']}"
    return "organisation"


def flatten_row(row: dict[str, Any]) -> dict[str, Any]:
    """One report row as flat columns (``lead_time_seconds.p50`` → ``lead_time_seconds_p50``)."""
    flat: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                flat[f"{key}_{inner}"] = item
        else:
            flat[key] = value
    return flat


def render_table(rows: list[dict[str, Any]], as_of: datetime) -> str:
    """A fixed-width text table of the report rows."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"DORA metrics as of {as_of.isoformat()}", title_justify="left")
    for heading in (
        "scope",
        "window",
        "deploys",
        "per day",
        "lead p50",
        "lead p90",
        "CFR",
        "recovery p50",
        "restore p50",
        "rework",
        "levels DF/LT/CFR/RT",
    ):
        table.add_column(heading, justify="left" if heading == "scope" else "right")
    for row in rows:
        levels = row.get("levels") or {}
        table.add_row(
            _scope_label(row),
            f"{row['window_days']}d",
            str(row["deployments"]),
            f"{row['deployment_frequency_per_day']:.2f}",
            _duration(row["lead_time_seconds"]["p50"]),
            _duration(row["lead_time_seconds"]["p90"]),
            _rate(row["change_failure_rate"]),
            _duration(row["recovery_time_seconds"]["p50"]),
            _duration(row["time_to_restore_seconds"]["p50"]),
            _rate(row["rework_rate"]),
            "/".join(
                (levels.get(k) or "–")
                for k in ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")
            ),
        )
    buffer = io.StringIO()
    Console(file=buffer, width=160, color_system=None).print(table)
    return buffer.getvalue()


def render_csv(rows: list[dict[str, Any]]) -> str:
    """The report rows as CSV with flattened columns."""
    flat = [flatten_row(row) for row in rows]
    columns = list(dict.fromkeys(key for row in flat for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(flat)
    return buffer.getvalue()


@click.command("report")
@click.option("--team", "teams", multiple=True, help="Only this team's rows (repeatable).")
@click.option("--service", "services", multiple=True, help="Only this service's rows (repeatable).")
@click.option("--window", help="One window, e.g. 30d (default: every configured window).")
@click.option("--as-of", "as_of_text", help="ISO 8601 instant the windows end at (default: now).")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table", show_default=True
)
@click.option(
    "--trend",
    type=click.Choice(["weekly", "monthly", "quarterly"]),
    help="Metrics per calendar period (portfolios, goals, levels, data quality); needs --from.",
)
@click.option("--from", "from_text", help="With --trend: first day (YYYY-MM-DD) of the report.")
@click.option("--to", "to_text", help="With --trend: last day (YYYY-MM-DD; default: now).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file, not stdout.")
@pass_state
def report(
    state: CliState,
    teams: tuple[str, ...],
    services: tuple[str, ...],
    window: str | None,
    as_of_text: str | None,
    fmt: str,
    trend: str | None,
    from_text: str | None,
    to_text: str | None,
    output: Path | None,
) -> None:
    """Compute the DORA metrics per service × production environment, team and organisation.

    Without --as-of the result is also saved as the newest snapshot (what `serve` exports).
    With --trend, the metrics per calendar period instead (see docs/pmo.md).
    """
    if trend is not None:
        from collector.cli_pmo import run_trend_report

        run_trend_report(state, trend, from_text, to_text, "json" if fmt == "table" else fmt, output)  # type: ignore[arg-type]
        return
    if fmt == "html" or from_text or to_text or output:
        raise click.UsageError("--format html, --from, --to and --output go with --trend")
    config = state.config()
    engine = state.engine()
    as_of = parse_as_of(as_of_text)
    days = parse_window(window)
    with engine.begin() as connection:
        sync_catalog(connection, config)
    computation = compute(engine, config)
    at = as_of or utc_now()
    everything = compute_report(computation.inputs, computation.settings, at, links=computation.links)
    if as_of is None:
        with engine.begin() as connection:
            save_links(connection, computation.links)
        save_snapshot(
            engine,
            Snapshot(
                at,
                utc_now(),
                config.fingerprint(),
                computation.settings.band_table,
                tuple(everything),
                tuple(previous_rows(computation, at)),
            ),
        )
    rows = [
        row
        for row in everything
        if (days is None or row["window_days"] == days)
        and (not teams or (row["team"] in teams and row["team"] is not None))
        and (not services or row["service"] in services)
    ]
    if fmt == "json":
        click.echo(json.dumps(report_document(rows, at, computation.settings), indent=2, default=str))
    elif fmt == "csv":
        click.echo(render_csv(rows), nl=False)
    else:
        click.echo(render_table(rows, at), nl=False)


@click.command("explain")
@click.option("--team", help="A team (its pooled services).")
@click.option("--service", help="A service.")
@click.option("--environment", help="One production environment of the service.")
@click.option("--metric", type=click.Choice(list(METRICS)), required=True)
@click.option("--window", default="30d", show_default=True, help="Window in whole days.")
@click.option("--as-of", "as_of_text", help="ISO 8601 instant the window ends at (default: now).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_state
def explain_command(
    state: CliState,
    team: str | None,
    service: str | None,
    environment: str | None,
    metric: str,
    window: str,
    as_of_text: str | None,
    fmt: str,
) -> None:
    """List the deployments, changes and incidents behind one figure, with times, contributions and
    the method of every link (neither --team nor --service: the organisation)."""
    if team and service:
        raise click.UsageError("give --team or --service, not both")
    config = state.config()
    engine = state.engine()
    computation = compute(engine, config)
    at = parse_as_of(as_of_text) or utc_now()
    days = parse_window(window)
    assert days is not None
    try:
        result = explain(
            computation.inputs,
            computation.settings,
            at,
            metric=metric,
            window_days=days,
            team=team,
            service=service,
            environment=environment,
            links=computation.links,
        )
    except ValueError as error:
        raise click.UsageError(str(error)) from error
    items = result.items.copy()
    for column in items.columns:
        if isinstance(items[column].dtype, pd.DatetimeTZDtype):
            items[column] = items[column].map(lambda t: t.isoformat() if not pd.isna(t) else None)
    if fmt == "json":
        document = {
            "metric": metric,
            "team": team,
            "service": service,
            "environment": environment,
            "window_days": days,
            "as_of": at.isoformat(),
            "value": result.value,
            "notes": list(result.notes),
            "items": json.loads(items.to_json(orient="records", date_format="iso")),
        }
        click.echo(json.dumps(document, indent=2, default=str))
        return
    scope = f"team {team}" if team else "the organisation"
    if service:
        scope = f"service {service}" + (f" ({environment})" if environment else "")
    click.echo(f"{metric} for {scope}, {days}d window ending {at.isoformat()}: {result.value}")
    for note in result.notes:
        click.echo(f"  note: {note}")
    if items.empty:
        click.echo("  (no items in the window)")
    else:
        with pd.option_context("display.max_rows", 500, "display.max_columns", 30, "display.width", 200):
            click.echo(items.to_string(index=False))


explain_command.name = "explain"

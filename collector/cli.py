"""The `delivery-metrics` command line.

Exit codes: 0 success; 1 the work ran but something failed (a source, invalid events); 2 bad usage,
bad config or an out-of-date database schema.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path
from typing import TextIO

import click
from sqlalchemy import Engine

from collector import __version__
from collector.cli_state import CliState, pass_state
from collector.config import AppConfig, ConfigError, load_config
from collector.ingest import ingest_lines
from collector.logging_setup import configure_logging
from collector.store.catalog import sync_catalog
from collector.store.engine import redact_url
from collector.store.schema import upgrade
from collector.sync import SyncOutcome, run_sources

logger = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="delivery-metrics")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="DELIVERY_METRICS_CONFIG",
    help="YAML config file (default: $DELIVERY_METRICS_CONFIG, else built-in defaults).",
)
@click.option("--database", "database_url", help="Database URL, overriding the config's database.url.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Log verbosity.",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None, database_url: str | None, log_level: str) -> None:
    """Collect delivery events and compute the DORA metrics per team, service and environment."""
    configure_logging(level=log_level.upper())
    ctx.obj = CliState(config_path=config_path, database_url=database_url)


@main.command("check-config")
@pass_state
def check_config(state: CliState) -> None:
    """Validate the config file and print every problem (exit 1 if there is one)."""
    try:
        config = load_config(state.config_path)
    except ConfigError as error:
        click.echo(str(error), err=True)
        raise SystemExit(1) from error
    click.echo(
        f"{config.source_file}: OK — {len(config.teams)} team(s), {len(config.services)} service(s), "
        f"{len(config.sources)} source(s); database {redact_url(config.database.url)}"
    )


@main.group("db")
def db_group() -> None:
    """Database schema management."""


@db_group.command("upgrade")
@pass_state
def db_upgrade(state: CliState) -> None:
    """Create or migrate the database schema to the version this release needs."""
    engine = state.engine(require_schema=False)
    before, after = upgrade(engine)
    url = redact_url(state.config().database.url)
    if before == after:
        click.echo(f"{url}: schema already at revision {after}")
    else:
        click.echo(f"{url}: schema upgraded from {before or 'empty'} to {after}")


@main.command("sync")
@click.option("--source", "names", multiple=True, help="Sync only this source (repeatable). Default: all enabled.")
@pass_state
def sync(state: CliState, names: tuple[str, ...]) -> None:
    """Pull new events from every configured source (exit 1 if any source failed, after all ran)."""
    config = state.config()
    unknown = sorted(set(names) - {source.name for source in config.sources})
    if unknown:
        raise click.UsageError(f"no source named {', '.join(unknown)} in {config.source_file}")
    engine = state.engine()
    outcomes = _run_with_progress(engine, config, list(names) or None)
    _print_outcomes(outcomes)
    if any(outcome.status != "success" for outcome in outcomes):
        raise SystemExit(1)


def _run_with_progress(engine: Engine, config: AppConfig, names: list[str] | None) -> list[SyncOutcome]:
    if not sys.stderr.isatty():
        return run_sources(engine, config, names, progress=_log_progress)
    from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
        tasks: dict[str, TaskID] = {}

        def update(source: str, counts: Counter[str]) -> None:
            if source not in tasks:
                tasks[source] = bar.add_task(source)
            summary = ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items()))
            bar.update(tasks[source], description=f"{source}: {summary}")

        return run_sources(engine, config, names, progress=update)


def _log_progress(source: str, counts: Counter[str]) -> None:
    logger.info("%s: stored %s", source, ", ".join(f"{count} {kind}" for kind, count in sorted(counts.items())))


def _print_outcomes(outcomes: list[SyncOutcome]) -> None:
    if not outcomes:
        click.echo("no sources configured")
    for outcome in outcomes:
        seconds = (outcome.finished_at - outcome.started_at).total_seconds()
        stored = ", ".join(f"{count} {kind}" for kind, count in sorted(outcome.counts.items())) or "nothing new"
        line = f"{outcome.source}: {outcome.status} in {seconds:.1f}s — {stored}"
        if outcome.error:
            line += f"\n  error: {outcome.error}"
        click.echo(line, err=outcome.status != "success")


@main.command("ingest")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--skip-invalid", is_flag=True, help="Store the valid lines and report the invalid ones.")
@click.option("--source", "source_name", default="events", show_default=True, help="Source name recorded.")
@pass_state
def ingest(state: CliState, file: TextIO, skip_invalid: bool, source_name: str) -> None:
    """Import canonical events (JSON Lines) from FILE, or - for standard input.

    By default a file with any invalid line stores nothing and lists every bad line.
    """
    engine = state.engine()
    with engine.begin() as connection:
        sync_catalog(connection, state.config())
    result = ingest_lines(engine, file, skip_invalid=skip_invalid, source=source_name)
    for problem in result.problems:
        click.echo(f"{Path(file.name).name}: {problem}", err=True)
    stored = ", ".join(f"{count} {kind}" for kind, count in sorted(result.stored.items())) or "nothing"
    if result.problems and not skip_invalid:
        click.echo(
            f"{len(result.invalid_lines)} invalid line(s): nothing stored "
            "(fix them, or use --skip-invalid to store the valid lines)",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"stored {stored} from {result.valid_events} valid event(s)")
    if result.problems:
        click.echo(f"skipped {len(result.invalid_lines)} invalid line(s)", err=True)
        raise SystemExit(1)


if __name__ == "__main__":  # pragma: no cover
    main()

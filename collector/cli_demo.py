"""`demo`: the main job end to end on SQLite, without network or accounts.

It writes a config for a seeded synthetic organisation plus a local-git source reading this
repository (or ``--repo``), migrates a SQLite store, syncs the git source, imports the organisation's
canonical events through the ordinary ``ingest`` path, and prints what was collected and the metrics.
The config also sets two goals on the organisation's first team (:func:`demo_goals`), so the goal
gauges and the PMO dashboard's goal panels have something to show.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import yaml
from sqlalchemy import Engine, func, select

from collector.cli_report import render_table
from collector.cli_state import CliState, pass_state
from collector.config import load_config
from collector.ingest import ingest_lines
from collector.recompute import recompute
from collector.store.catalog import sync_catalog
from collector.store.engine import create_store_engine
from collector.store.models import Base
from collector.store.schema import upgrade
from collector.sync import run_sources
from collector.synthetic import generate_org, services_config, write_jsonl
from connectors.records import utc_now

OWN_SERVICE = "delivery-metrics"
OWN_TEAM = "platform-tools"


#: The demo organisation's default seed. The generator follows working days, so the demo's history
#: (which ends today) repeats weekly; with this seed every one of the seven variants has failures,
#: recoveries and restores in the current and the previous 30 days of some team, so no dashboard panel
#: is empty on any day of the week (``tests/cli/test_demo_every_weekday.py``; seed 42 left every
#: failure panel of the previous period empty when the demo ran on a Sunday).
DEMO_SEED = 7


def _git_toplevel(path: Path) -> Path | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def demo_goals(team: str, today: date) -> list[dict[str, Any]]:
    """Two goals of ``team``, due in 26 weeks: deploy twice a day (a value goal measured from 13
    weeks ago) and an elite lead time (a level goal with the default rolling baseline)."""
    due = (today + timedelta(weeks=26)).isoformat()
    return [
        {
            "name": f"{team}: deploy twice a day",
            "team": team,
            "metric": "deployment_frequency",
            "target": 2,
            "due": due,
            "baseline": (today - timedelta(weeks=13)).isoformat(),
        },
        {"name": f"{team}: elite lead time", "team": team, "metric": "lead_time", "level": "elite", "due": due},
    ]


def demo_config(
    org_services: list[dict[str, Any]],
    teams: list[str],
    repo: Path | None,
    db: Path,
    goals: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The demo's config: the synthetic organisation, ``goals`` if given and, when there is one, the git source."""
    config: dict[str, Any] = {
        "database": {"url": f"sqlite:///{db}"},
        "teams": [{"name": team} for team in teams],
        "services": org_services,
        "sources": [],
    }
    if goals:
        config["goals"] = goals
    if repo is not None:
        config["teams"].append({"name": OWN_TEAM})
        config["services"].append({"name": OWN_SERVICE, "team": OWN_TEAM, "repositories": [OWN_SERVICE]})
        config["sources"].append(
            {
                "name": "own-history",
                "kind": "git",
                "path": str(repo),
                "repository": OWN_SERVICE,
                "history_days": 3650,
                "deployments": [{"tags": "v*", "service": OWN_SERVICE, "environment": "production"}],
            }
        )
    return config


def _row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


@click.command("demo")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Git repository to sync (default: the repository this command runs in).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".demo"),
    show_default=True,
    help="Where the demo's config, events and SQLite database go.",
)
@click.option("--seed", default=DEMO_SEED, show_default=True, help="Seed of the synthetic organisation.")
@click.option(
    "--serve/--no-serve",
    "serve_after",
    default=None,
    help="Start the exporter and API on the demo data afterwards (Ctrl-C stops it). "
    "Default: on when run from a terminal, off otherwise (so scripts and CI finish).",
)
@click.option("--port", default=9180, show_default=True, help="Port of the exporter started with --serve.")
@pass_state
def demo(state: CliState, repo: Path | None, directory: Path, seed: int, serve_after: bool | None, port: int) -> None:
    """Run the main job end to end on SQLite with a synthetic organisation and a real git history."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "demo.db"
    git_repo = _git_toplevel(repo or Path.cwd())
    if repo is not None and git_repo is None:
        raise click.BadParameter(f"{repo} is not a git repository", param_hint="--repo")
    # Whole days, so rerunning the demo the same day regenerates identical events (upserts: no change).
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    org = generate_org("demo", seed=seed, end=end)
    config_path = directory / "delivery-metrics.yaml"
    teams = list(org.teams)
    goals = demo_goals(teams[0], end.date()) if teams else None
    config_path.write_text(
        "# Generated by `delivery-metrics demo`.\n"
        + yaml.safe_dump(demo_config(services_config(org), teams, git_repo, db, goals), sort_keys=False)
    )
    config = load_config(config_path)
    engine = create_store_engine(config.database.url)
    upgrade(engine)
    with engine.begin() as connection:
        sync_catalog(connection, config)
    click.echo(f"config:   {config_path}\ndatabase: {db}")

    if git_repo is None:
        click.echo("git:      not inside a git repository; pass --repo PATH to sync one (skipped)")
    for outcome in run_sources(engine, config):
        stored = ", ".join(f"{n} {kind}" for kind, n in sorted(outcome.counts.items())) or "nothing new"
        click.echo(
            f"git:      {git_repo} → {outcome.status}: {stored}" + (f" ({outcome.error})" if outcome.error else "")
        )

    events_path = directory / "events.jsonl"
    written = write_jsonl(org, events_path)
    with events_path.open(encoding="utf-8") as lines:
        result = ingest_lines(engine, lines)
    if not result.committed:  # pragma: no cover - the generator's output is tested to be valid
        for problem in result.problems[:20]:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1)
    click.echo(
        f"synthetic organisation (seed {seed}): {len(org.teams)} teams, {len(org.services)} services, "
        f"{written} events ingested from {events_path.name}"
    )
    click.echo(
        "\nstored rows: " + ", ".join(f"{table} {count}" for table, count in _row_counts(engine).items() if count)
    )

    as_of = utc_now()
    snapshot = recompute(engine, config, as_of=as_of)
    rows = [row for row in snapshot.current if row["window_days"] == 30 and row["service"] is None]
    click.echo("")
    click.echo(render_table(rows, as_of), nl=False)
    for goal in snapshot.goals:
        progress = "–" if goal["progress"] is None else f"{goal['progress']:.0%}"
        click.echo(
            f"goal {goal['goal']!r}: {goal['status']}, progress {progress} "
            f"(expected {goal['expected_progress']:.0%}, due {goal['due']})"
        )
    click.echo(
        f"\nMore: delivery-metrics --config {config_path} report --format json\n"
        f"      delivery-metrics --config {config_path} explain --team {org.teams[0]} --metric lead_time"
    )
    if serve_after is None:
        serve_after = sys.stdin.isatty() and sys.stdout.isatty()
    if serve_after:
        _serve(state, config_path, port)
    else:
        click.echo(f"Exporter: delivery-metrics --config {config_path} serve   (or: delivery-metrics demo --serve)")


def _serve(state: CliState, config_path: Path, port: int) -> None:
    from collector.serve.runner import run_server

    config = load_config(config_path)
    server = config.server.model_copy(update={"host": "127.0.0.1", "port": port})
    click.echo(
        f"\nexporter: http://127.0.0.1:{port}/metrics   API: http://127.0.0.1:{port}/api/v1/metrics   (Ctrl-C stops)"
    )
    raise SystemExit(run_server(create_store_engine(config.database.url), config, server))

"""`delivery-metrics rebuild`: re-map stored raw payloads into the collected tables, fetching nothing.

Registered on the main group by ``collector.entrypoint``. Definitions are in :mod:`collector.rebuild`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from collector.cli_state import CliState
    from collector.rebuild import RebuildOutcome


@click.command("rebuild")
@click.option("--source", "names", multiple=True, help="Rebuild only this source (repeatable). Default: all enabled.")
@click.option("--dry-run", is_flag=True, help="Print the per-table changes without writing anything.")
@click.pass_obj
def rebuild(state: CliState, names: tuple[str, ...], dry_run: bool) -> None:
    """Re-derive each source's commits, pull requests, deployments, incidents and pipeline runs from its
    stored raw payloads with the current config (one transaction per source; cursors untouched).

    Exit 1 if a source failed, 2 if a source named with --source cannot be rebuilt.
    """
    from collector.rebuild import rebuild_sources

    config = state.config()
    unknown = sorted(set(names) - {source.name for source in config.sources})
    if unknown:
        raise click.UsageError(f"no source named {', '.join(unknown)} in {config.source_file}")
    engine = state.engine()
    outcomes = rebuild_sources(engine, config, list(names) or None, dry_run=dry_run)
    if not outcomes:
        click.echo("no sources configured")
    for outcome in outcomes:
        _print_outcome(outcome)
    if any(outcome.status == "failed" for outcome in outcomes):
        raise SystemExit(1)
    if names and any(outcome.status == "not_rebuildable" for outcome in outcomes):
        raise SystemExit(2)


def _print_outcome(outcome: RebuildOutcome) -> None:
    if outcome.status in ("failed", "not_rebuildable"):
        click.echo(f"{outcome.error}", err=True)
        return
    verb = "would change (dry run)" if outcome.status == "dry_run" else "rebuilt"
    click.echo(f"{outcome.source}: {verb} from {outcome.payloads} raw payload(s)")
    for table, diff in outcome.tables.items():
        if diff.added or diff.changed or diff.removed or diff.unchanged or diff.shared:
            click.echo(f"  {table}: {diff.summary()}")

"""`delivery-metrics rebuild`: re-mapping stored raw payloads reproduces what the sync wrote, follows a
changed mapping, writes nothing on a dry run, rolls a failing source back, and refuses clearly what it
cannot rebuild. Every store test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses
from connector_helpers import FakeClock
from fake_git_hosts import FakeGitHosts
from rebuild_cases import CASES, COLLECTED, SyncCase, config_for, corrupt, sync_into
from sqlalchemy import Engine, select, text, update
from store_dump import dump_store

from collector.config.loader import load_config_text
from collector.rebuild import rebuild_source, rebuild_sources
from collector.store.models import RawPayloadRow
from collector.sync import run_sources

CLI = Path(sys.executable).with_name("delivery-metrics")
TOKEN = "rebuild-test-token-value"


def _no_requests() -> responses.RequestsMock:
    """A ``responses`` mock with nothing registered: any HTTP request of a rebuild fails the test."""
    return responses.RequestsMock(assert_all_requests_are_fired=False)


def _synced(engine: Engine, case: SyncCase) -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        case.mock(mocked)
        source = case.source(FakeClock())
        sync_into(engine, source)
    return source


@pytest.mark.parametrize("case", CASES, ids=[case.kind for case in CASES])
def test_rebuild_from_what_a_sync_stored_reproduces_what_the_sync_wrote(case: SyncCase, engine: Engine) -> None:
    source = _synced(engine, case)
    synced = dump_store(engine)
    assert sum(len(synced[table]) for table in COLLECTED) > 0
    corrupt(engine, source.name)
    assert dump_store(engine) != synced
    with _no_requests():
        outcome = rebuild_source(engine, config_for(case.services), source.settings)
    assert outcome.status == "rebuilt", outcome.error
    assert dump_store(engine) == synced  # collected rows restored; cursors and raw payloads as they were
    assert outcome.tables["deployments"].removed >= 1  # at least the stray row
    assert sum(diff.added for diff in outcome.tables.values()) > 0  # at least the first row of each table


@pytest.fixture(scope="module")
def git_hosts() -> Iterator[FakeGitHosts]:
    hosts = FakeGitHosts()
    hosts.failed_once.update({"/repos/acme/shop/deployments", "/projects/7/deployments"})  # no scripted 502
    hosts.start()
    yield hosts
    hosts.stop()


def _git_hosts_config(base: str, *, github_method: str = "deployments") -> Any:
    return load_config_text(
        f"""
teams: [{{name: core}}]
services:
  - {{name: shop, team: core, repositories: [acme/shop]}}
  - {{name: api, team: core, repositories: [acme/api]}}
sources:
  - {{name: gh, kind: github, token: {TOKEN}, base_url: "{base}/gh/api/v3", repositories: [acme/shop],
      history_days: 3650, deployments: {{method: {github_method}}}}}
  - {{name: gl, kind: gitlab, token: {TOKEN}, base_url: "{base}/gl", projects: [acme/api], history_days: 3650}}
"""
    )


@pytest.mark.parametrize("method", ["deployments", "branch"])
def test_github_and_gitlab_rebuilt_from_their_payloads_equal_their_sync(
    method: str, git_hosts: FakeGitHosts, engine: Engine
) -> None:
    config = _git_hosts_config(git_hosts.base, github_method=method)
    outcomes = run_sources(engine, config)
    assert [o.status for o in outcomes] == ["success", "success"], [o.error for o in outcomes]
    synced = dump_store(engine)
    assert all(synced[table] for table in ("commits", "pull_requests", "deployments"))
    for name in ("gh", "gl"):
        corrupt(engine, name)
    requests_before = len(git_hosts.log)
    outcomes = rebuild_sources(engine, config)
    assert [(o.source, o.status) for o in outcomes] == [("gh", "rebuilt"), ("gl", "rebuilt")], [
        o.error for o in outcomes
    ]
    assert len(git_hosts.log) == requests_before  # nothing fetched
    assert dump_store(engine) == synced


def _deployments(engine: Engine, source: str) -> set[str]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT external_id FROM deployments WHERE source = :s"), {"s": source})
        return {row.external_id for row in rows}


def _two_synced_sources(engine: Engine) -> tuple[Any, Any]:
    actions, gitlab_ci = (next(c for c in CASES if c.kind == kind) for kind in ("github_actions", "gitlab_ci"))
    return _synced(engine, actions), _synced(engine, gitlab_ci)


def test_changed_deployment_rule_moves_the_deployments_and_touches_nothing_else(engine: Engine) -> None:
    actions, gitlab_ci = _two_synced_sources(engine)
    repo = "octo-org/octo-repo"
    assert _deployments(engine, "gha") == {f"{repo}/actions/runs/289782451"}  # rule: test.yml on master
    before = dump_store(engine)
    new_rules = [{"name": "Build", "environment": "staging"}]  # only the queued "Build" run
    settings = type(actions.settings).model_validate({**actions.settings.model_dump(), "rules": new_rules})
    config = config_for({repo: "octo", "merico-dev/ee/charts": "charts"}, (actions, gitlab_ci))
    with _no_requests():
        outcome = rebuild_source(engine, config, settings)
    assert outcome.status == "rebuilt", outcome.error
    diff = outcome.tables["deployments"]
    assert (diff.added, diff.removed, diff.changed) == (1, 1, 0)
    assert _deployments(engine, "gha") == {f"{repo}/actions/runs/30433642"}
    after = dump_store(engine)
    with engine.connect() as connection:
        staged = connection.execute(text("SELECT environment, status FROM deployments WHERE source = 'gha'")).one()
    assert tuple(staged) == ("staging", "in_progress")  # queued run: not finished
    # the other source's rows, every cursor and every raw payload are untouched
    for table in ("sync_state", "raw_payloads", "pipeline_runs"):
        assert after[table] == before[table]
    assert [row for row in after["deployments"] if '"glci"' in row] == [
        row for row in before["deployments"] if '"glci"' in row
    ]


def test_dry_run_counts_the_changes_and_writes_nothing(engine: Engine) -> None:
    actions, gitlab_ci = _two_synced_sources(engine)
    corrupt(engine, gitlab_ci.name)
    damaged = dump_store(engine)
    config = config_for({"merico-dev/ee/charts": "charts", "octo-org/octo-repo": "octo"}, (actions, gitlab_ci))
    with _no_requests():
        outcomes = rebuild_sources(engine, config, dry_run=True)
    assert [(o.source, o.status) for o in outcomes] == [("gha", "dry_run"), ("glci", "dry_run")]
    assert dump_store(engine) == damaged
    gha, glci = (o.tables for o in outcomes)
    assert sum(d.added + d.changed + d.removed for d in gha.values()) == 0  # gha was not damaged
    runs = glci["pipeline_runs"]  # 29 synced: about half deleted, the rest corrupted
    assert (runs.added + runs.changed, runs.unchanged, runs.removed) == (29, 0, 0) and runs.added >= 14
    assert glci["deployments"].removed >= 1


def test_a_failing_source_is_rolled_back_and_the_others_are_still_rebuilt(engine: Engine) -> None:
    actions, gitlab_ci = _two_synced_sources(engine)
    with engine.begin() as connection:  # a stored run that no longer maps: no created_at
        raw = RawPayloadRow.__table__
        run = (raw.c.kind == "github_actions.workflow_run") & raw.c.external_id.endswith("/289782451")
        stored = connection.execute(select(raw.c.body).where(run)).scalar_one()
        connection.execute(update(raw).where(run), {"body": {k: v for k, v in stored.items() if k != "created_at"}})
    synced = dump_store(engine)
    corrupt(engine, actions.name)
    corrupt(engine, gitlab_ci.name)
    damaged = dump_store(engine)
    config = config_for({"merico-dev/ee/charts": "charts", "octo-org/octo-repo": "octo"}, (actions, gitlab_ci))
    with _no_requests():
        outcomes = rebuild_sources(engine, config)
    assert [(o.source, o.status) for o in outcomes] == [("gha", "failed"), ("glci", "rebuilt")]
    assert "gha" in (outcomes[0].error or "") and "created_at" in (outcomes[0].error or "")
    after = dump_store(engine)
    assert _collected_rows(synced, "gha") and _collected_rows(synced, "glci")
    assert _collected_rows(after, "gha") == _collected_rows(damaged, "gha")  # rolled back: still damaged
    assert _collected_rows(after, "glci") == _collected_rows(synced, "glci")  # repaired


def _collected_rows(dump: dict[str, list[str]], source: str) -> list[str]:
    return sorted(row for table in COLLECTED for row in dump[table] if f'"source": "{source}"' in row)


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "--config", str(config), *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_reports_a_kind_that_cannot_be_rebuilt_and_exits_non_zero(store_url: str, tmp_path: Path) -> None:
    config = tmp_path / "delivery-metrics.yaml"
    config.write_text(
        f"""
database: {{url: "{store_url}"}}
teams: [{{name: core}}]
services: [{{name: shop, team: core, repositories: [acme/shop]}}]
sources:
  - {{name: history, kind: git, path: "{tmp_path}", deployments: [{{tags: "v*", service: shop}}]}}
  - {{name: incidents, kind: pagerduty, token: {TOKEN}}}
"""
    )
    named = _cli(config, "rebuild", "--source", "history")
    assert named.returncode == 2, named.stderr
    expected = "history: kind git cannot be rebuilt from raw payloads: it reads a local repository"
    assert expected in named.stderr and "re-sync it instead" in named.stderr
    assert TOKEN not in named.stdout + named.stderr
    every = _cli(config, "rebuild", "--dry-run")
    assert every.returncode == 0, every.stderr
    assert expected in every.stderr  # reported, never skipped silently
    assert "incidents: would change (dry run) from 0 raw payload(s)" in every.stdout

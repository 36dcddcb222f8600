"""Commit paths are read only where a path-prefix service's walk can look at them (both backends).

The rule (``collector.store.frames.path_selection``): the commits of a repository configured for a
path-prefix service, or named by a deployment of one; every commit when such a service has no
configured repository. The metrics must come out the same as with every commit's paths read.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sqlalchemy import Engine

from collector.config import load_config
from collector.config.model import AppConfig, ServiceConfig, TeamConfig
from collector.ingest import ingest_lines
from collector.recompute import load_inputs, metric_settings
from collector.store import frames
from collector.store.catalog import sync_catalog
from collector.store.frames import MAX_SELECTION_NAMES, PathSelection, path_selection
from collector.store.writer import write_records
from collector.synthetic import generate_org, services_config, write_jsonl
from connectors.records import Commit, Deployment, DeploymentStatus, Record
from metrics import derive_links

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TEAM = (TeamConfig(name="t"),)


def sha(n: int) -> str:
    return f"{n:040x}"


def config(*services: ServiceConfig) -> AppConfig:
    return AppConfig(teams=TEAM, services=services)


def test_no_path_prefix_service_reads_no_paths() -> None:
    assert path_selection(config(ServiceConfig(name="api", team="t", repositories=("acme/api",)))) == PathSelection(
        read=False
    )


def test_a_path_prefix_service_without_repositories_reads_every_commits_paths() -> None:
    selection = path_selection(
        config(
            ServiceConfig(name="web", team="t", repositories=("acme/mono",), path_prefixes=("web/",)),
            ServiceConfig(name="docs", team="t", path_prefixes=("docs/",)),
        )
    )
    assert selection == PathSelection(read=True, condition=None)


def test_the_condition_names_the_sliced_services_and_their_repositories_as_parameters() -> None:
    selection = path_selection(
        config(
            ServiceConfig(name="web", team="t", repositories=("acme/mono", "acme/web-assets"), path_prefixes=("web/",)),
            ServiceConfig(name="api", team="t", repositories=("acme/mono",), path_prefixes=("api/",)),
            ServiceConfig(name="billing", team="t", repositories=("acme/billing",)),
        )
    )
    assert selection.read and selection.condition is not None
    assert selection.condition.params == ("acme/mono", "acme/web-assets", "api", "web")
    assert selection.condition.sql.count("?") == 4
    assert "acme" not in selection.condition.sql  # names are parameters, never SQL text


def test_beyond_the_parameter_budget_every_commits_paths_are_read() -> None:
    repositories = tuple(f"acme/r{i}" for i in range(MAX_SELECTION_NAMES))
    selection = path_selection(
        config(ServiceConfig(name="web", team="t", repositories=repositories, path_prefixes=("web/",)))
    )
    assert selection == PathSelection(read=True, condition=None)


def _records() -> list[Record]:
    commits = [
        Commit("git", repo, sha(n), T0 + timedelta(minutes=n), paths=(f"{repo}/f{n}.py",))
        for n, repo in enumerate(["acme/mono", "acme/other", "acme/side", "acme/mono", "acme/elsewhere"])
    ]
    deployments = [
        # a deployment of the sliced service naming a repository outside its configuration
        Deployment("ci", "d-1", "web", "production", DeploymentStatus.SUCCESS, sha(2), T0, repo="acme/side"),
        # a deployment of an unsliced service: its repository's paths are not needed
        Deployment("ci", "d-2", "api", "production", DeploymentStatus.SUCCESS, sha(4), T0, repo="acme/elsewhere"),
    ]
    return [*commits, *deployments]


def test_only_commits_a_sliced_service_can_walk_carry_their_paths(engine: Engine) -> None:
    with engine.begin() as connection:
        write_records(connection, _records())
    sliced = config(
        ServiceConfig(name="web", team="t", repositories=("acme/mono",), path_prefixes=("web/",)),
        ServiceConfig(name="api", team="t", repositories=("acme/other",)),
    )
    commits = load_inputs(engine, sliced).commits.set_index("sha").sort_index()
    assert commits["paths"].tolist() == [
        ("acme/mono/f0.py",),
        None,  # acme/other: only an unsliced service's repository
        ("acme/side/f2.py",),  # named by a deployment of the sliced service
        ("acme/mono/f3.py",),
        None,  # acme/elsewhere: named by the unsliced service's deployment only
    ]
    with engine.connect() as connection:
        every = frames.load_commits(connection, paths=True).set_index("sha").sort_index()
    pd.testing.assert_frame_equal(commits.drop(columns="paths"), every.drop(columns="paths"), check_exact=True)


@pytest.fixture(scope="module")
def synthetic_events(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]], list[str]]:
    directory = tmp_path_factory.mktemp("synthetic-paths")
    org = generate_org("S", seed=7, end=datetime(2025, 1, 1, tzinfo=UTC))
    events = directory / "events.jsonl"
    write_jsonl(org, events)
    return events, services_config(org), list(org.teams)


def test_selected_paths_give_the_same_links_as_every_path_read(
    engine: Engine,
    synthetic_events: tuple[Path, list[dict[str, object]], list[str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    events, services, teams = synthetic_events
    config_path = tmp_path / "config.yaml"
    config_path.write_text(
        yaml.safe_dump({"teams": [{"name": t} for t in teams], "services": services}, sort_keys=False)
    )
    app = load_config(config_path)
    assert path_selection(app).condition is not None  # the synthetic organisation has monorepo slices
    with engine.begin() as connection:
        sync_catalog(connection, app)
    with events.open(encoding="utf-8") as lines:
        assert ingest_lines(engine, lines, workers=0).committed
    selected = load_inputs(engine, app)
    assert selected.commits["paths"].isna().any() and selected.commits["paths"].notna().any()
    monkeypatch.setattr("collector.recompute.path_selection", lambda _config: PathSelection(read=True))
    everything = load_inputs(engine, app)
    assert everything.commits["paths"].notna().all()
    settings = metric_settings(app)
    ours, reference = derive_links(selected, settings), derive_links(everything, settings)
    for name in ours.__slots__:
        pd.testing.assert_frame_equal(getattr(ours, name), getattr(reference, name), check_exact=True, obj=name)
    assert len(ours.deployment_changes) > 0

"""End to end over real HTTP: GitHub- and GitLab-shaped servers on 127.0.0.1 (see fake_git_hosts).

Expected values are read off the tables in fake_git_hosts.py by hand (dates are 2024-05-0X).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from connector_helpers import FakeClock, FakeServices, merged_cursors, records_of, run_batches
from fake_git_hosts import FakeGitHosts

from connectors.base import SourceContext
from connectors.github import GitHubSource
from connectors.github import Settings as GitHubSettings
from connectors.gitlab import GitLabSource
from connectors.gitlab import Settings as GitLabSettings
from connectors.records import Commit, Deployment, DeploymentStatus, PullRequest

RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TOKEN = "e2e-secret-token-value"


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def hosts() -> Iterator[FakeGitHosts]:
    server = FakeGitHosts().start()
    yield server
    server.stop()


def sources(hosts: FakeGitHosts, clock: FakeClock) -> tuple[GitHubSource, GitLabSource]:
    context = SourceContext(run_started_at=RUN_START, services=FakeServices({"acme/shop": "shop", "acme/api": "api"}))
    gh = GitHubSettings(
        name="gh", token=TOKEN, base_url=f"{hosts.base}/gh/api/v3", repositories=["acme/shop"], per_page=2
    )
    gl = GitLabSettings(
        name="gl", kind="gitlab", token=TOKEN, base_url=f"{hosts.base}/gl", projects=["acme/api"], per_page=2
    )
    return (
        GitHubSource(gh, context, sleep=clock.sleep, clock=clock),
        GitLabSource(gl, context, sleep=clock.sleep, clock=clock),
    )


def test_sync_both_hosts_over_real_http_then_resync_fetches_no_stored_page(hosts, fake_clock, caplog):
    caplog.set_level(logging.DEBUG)
    github, gitlab = sources(hosts, fake_clock)
    gh_batches = run_batches(github)
    gl_batches = run_batches(gitlab)

    assert sorted({c.sha for c in records_of(gh_batches, Commit)}) == ["c1", "c2", "c3", "x1"]  # x1: PR 1 branch
    prs = {p.number: p for p in records_of(gh_batches, PullRequest)}
    assert set(prs) == {1, 2, 3}
    assert prs[3].merged_at == t(3, 10)
    assert prs[3].merge_sha == "c3"
    assert prs[3].first_review_at == t(3, 9)
    assert prs[3].first_commit_at == t(3, 7)
    assert prs[1].merged_at is None
    assert prs[1].merge_sha is None
    deployments = {d.external_id: d for d in records_of(gh_batches, Deployment)}
    ok = deployments["acme/shop/deployments/11"]
    assert ok.status is DeploymentStatus.SUCCESS
    assert ok.finished_at == t(2, 11, 10)
    assert ok.service == "shop"
    bad = deployments["acme/shop/deployments/12"]
    assert bad.status is DeploymentStatus.FAILURE
    assert bad.finished_at == t(3, 11, 5)

    mrs = {p.number: p for p in records_of(gl_batches, PullRequest)}
    assert set(mrs) == {1, 2, 3}
    assert mrs[1].first_review_at == t(1, 8)
    assert mrs[1].labels == ("backend",)
    assert {c.sha: c.committed_at for c in records_of(gl_batches, Commit) if c.sha == "g2"} == {"g2": t(2, 8)}
    gl_deploys = sorted(records_of(gl_batches, Deployment), key=lambda d: d.finished_at)
    assert [(d.sha, d.finished_at, d.service) for d in gl_deploys] == [
        ("g1", t(1, 10, 4), "api"),
        ("g2", t(2, 10, 4), "api"),
    ]

    # one 502 per host on deployments, retried after the 1 s first backoff (plus jitter up to 25 %)
    assert github.stats.count(502) == 1
    assert gitlab.stats.count(502) == 1
    assert len(fake_clock.sleeps) == 2
    assert all(1.0 <= s <= 1.25 for s in fake_clock.sleeps)
    assert any(q.get("page") == "2" for _, q, _ in hosts.log)  # the first sync did page

    first_run = len(hosts.log)
    github2, gitlab2 = sources(hosts, fake_clock)
    second = run_batches(github2, merged_cursors(gh_batches)) + run_batches(gitlab2, merged_cursors(gl_batches))
    rerun = hosts.log[first_run:]
    assert all(q.get("page", "1") == "1" for _, q, _ in rerun), rerun
    # unchanged GitHub listings with a stable URL answer 304: pull requests and deployments
    not_modified = {path for path, _, status in rerun if status == 304}
    assert not_modified == {"/gh/api/v3/repos/acme/shop/pulls", "/gh/api/v3/repos/acme/shop/deployments"}
    assert not any("/deployments/" in path and "statuses" in path for path, _, _ in rerun)
    assert records_of(second, Deployment) == [d for d in records_of(second, Deployment) if d.sha == "g2"]
    assert TOKEN not in caplog.text
    assert hosts.auth
    assert all(a == f"Bearer {TOKEN}" for a in hosts.auth)


def test_collector_sync_stores_both_sources(hosts, tmp_path: Path):
    sync = pytest.importorskip("collector.sync")
    from collector.config.loader import load_config_text
    from collector.store.engine import create_store_engine
    from collector.store.schema import upgrade

    config = load_config_text(
        f"""
teams: [{{name: core}}]
services:
  - {{name: shop, team: core, repositories: [acme/shop]}}
  - {{name: api, team: core, repositories: [acme/api]}}
sources:
  - {{name: gh, kind: github, token: {TOKEN}, base_url: "{hosts.base}/gh/api/v3", repositories: [acme/shop],
      per_page: 2, max_retries: 2, connect_timeout: 5s, history_days: 3650}}
  - {{name: gl, kind: gitlab, token: {TOKEN}, base_url: "{hosts.base}/gl", projects: [acme/api], per_page: 2,
      history_days: 3650}}
"""
    )
    # no 502 here: the collector builds the sources itself, so its retry sleep would be real
    hosts.failed_once.update({"/repos/acme/shop/deployments", "/projects/7/deployments"})
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    outcomes = {o.source: o for o in sync.run_sources(engine, config)}
    assert {name: o.status for name, o in outcomes.items()} == {"gh": "success", "gl": "success"}, outcomes
    assert outcomes["gh"].stored_anything
    assert outcomes["gl"].stored_anything
    check_report_by_hand(engine, config)
    before = len(hosts.log)
    again = {o.source: o for o in sync.run_sources(engine, config)}
    assert {o.status for o in again.values()} == {"success"}
    assert all(q.get("page", "1") == "1" for _, q, _ in hosts.log[before:])
    engine.dispose()


def check_report_by_hand(engine, config) -> None:
    """The metrics of the synced data, computed by hand from the tables in fake_git_hosts.py.

    api (GitLab): deployments 501 (g1, finished 05-01 10:04) and 502 (g2, finished 05-02 10:04).
    501 is the baseline (first deployment, no explicit list): no change. 502 ships g2 = merge sha of
    MR 2, whose one commit was authored 05-02 10:00+02:00 = 08:00 UTC: lead time 2 h 04 min = 7440 s.
    shop (GitHub): deployment 11 (c2) succeeded at 05-02 11:10 (its newer `inactive` status only
    means superseded); deployment 12 (c3) failed: a failed attempt, not a DORA deployment. 11 is the
    baseline. As of 05-04 00:00 over 7 days: api 2 deployments (2/7 per day), shop 1; no failed
    deployment, so a change failure rate of 0.
    """
    from collector.recompute import compute
    from metrics import compute_report

    computation = compute(engine, config)
    rows = compute_report(
        computation.inputs,
        computation.settings,
        datetime(2024, 5, 4, tzinfo=UTC),
        links=computation.links,
        windows=[7],
    )
    api = next(r for r in rows if r["service"] == "api")
    assert api["deployments"] == 2
    assert api["deployment_frequency_per_day"] == pytest.approx(2 / 7)
    assert api["lead_time_seconds"]["count"] == 1
    assert api["lead_time_seconds"]["p50"] == 7440.0
    shop = next(r for r in rows if r["service"] == "shop")
    assert (shop["deployments"], shop["failed_attempts"], shop["change_failure_rate"]) == (1, 1, 0.0)
    org = next(r for r in rows if r["scope"] == "organisation")
    assert (org["deployments"], org["lead_time_seconds"]["count"]) == (3, 1)

"""Gitea / Forgejo source over payloads built from the API documentation (tests/fixtures/gitea)."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime
from typing import Any

import responses
from connector_helpers import (
    FakeClock,
    FakeServices,
    load_fixture,
    merged_cursors,
    records_of,
    run_batches,
    run_until_error,
)
from responses import matchers

from connectors.base import SourceContext
from connectors.errors import ErrorKind, SourceError
from connectors.gitea import GiteaSource, Settings
from connectors.records import Commit, CursorKey, Deployment, DeploymentStatus, PullRequest, RawPayload

ROOT = "https://git.example.com"
REPO = "acme/shop"
BASE = f"{ROOT}/api/v1/repos/{REPO}"
TOKEN = "gitea-SECRET-0123456789abcdef"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def doc(key: str) -> Any:
    return copy.deepcopy(load_fixture("gitea", "documented_payloads.json")[key])


def source(clock: FakeClock, **overrides: Any) -> GiteaSource:
    data: dict[str, Any] = {
        "name": "gt",
        "kind": "gitea",
        "base_url": ROOT,
        "token": TOKEN,
        "repositories": [{"name": REPO, "branch": "main"}],
        "per_page": 10,
        "fetch_reviews": True,
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices({REPO: "shop"}))
    return GiteaSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def page_param(number: int) -> list[Any]:
    return [matchers.query_param_matcher({"page": str(number)}, strict_match=False)]


def mock_repo(mocked: responses.RequestsMock, *, skip: tuple[str, ...] = ()) -> None:
    """Every listing empty unless named in ``skip`` (the test registers those itself)."""
    for name in ("commits", "pulls", "releases", "tags"):
        if name not in skip:
            mocked.add(responses.GET, f"{BASE}/{name}", json=[], headers={"X-Total-Count": "0"})
    mocked.add(responses.GET, f"{BASE}/pulls/12/commits", json=doc("pull_12_commits"), headers={"X-Total-Count": "2"})
    mocked.add(responses.GET, f"{BASE}/pulls/12/reviews", json=doc("pull_12_reviews"), headers={"X-Total-Count": "4"})
    mocked.add(responses.GET, f"{BASE}/pulls/13/commits", json=[], headers={"X-Total-Count": "0"})
    mocked.add(responses.GET, f"{BASE}/pulls/13/reviews", json=[], headers={"X-Total-Count": "0"})
    mocked.add(responses.GET, f"{BASE}/tags/v1.2.0", json=doc("tag_v1.2.0"))


def test_a_clamped_short_page_is_not_the_last_page_total_count_is_followed(mocked, fake_clock):
    # asked limit=10; the server clamps to 1 item per page and says X-Total-Count: 2, no Link header
    pulls = doc("pulls")
    mock_repo(mocked, skip=("pulls",))
    mocked.add(responses.GET, f"{BASE}/pulls", json=[pulls[1]], headers={"X-Total-Count": "2"}, match=page_param(2))
    mocked.add(responses.GET, f"{BASE}/pulls", json=[pulls[0]], headers={"X-Total-Count": "2"}, match=page_param(1))
    batches = run_batches(source(fake_clock))
    assert sorted(p.number for p in records_of(batches, PullRequest)) == [12, 13]
    calls = [c.request.url for c in mocked.calls if c.request.url.startswith(f"{BASE}/pulls?")]
    assert len(calls) == 2 and all("limit=10" in url for url in calls)
    # watermark: newest updated_at, #12's 2024-05-03T15:00:05+02:00 = 13:00:05Z
    assert merged_cursors(batches)[CursorKey("pull_requests", REPO)] == "2024-05-03T13:00:05Z"


def test_link_next_is_followed_and_a_link_without_next_ends_the_listing(mocked, fake_clock):
    pulls = doc("pulls")
    mock_repo(mocked, skip=("pulls",))
    last = {"Link": f'<{BASE}/pulls?page=1&limit=10>; rel="first"'}
    mocked.add(responses.GET, f"{BASE}/pulls", json=[pulls[1]], headers=last, match=page_param(2))
    nxt = {"Link": f'<{BASE}/pulls?state=all&sort=recentupdate&limit=10&page=2>; rel="next"'}
    mocked.add(responses.GET, f"{BASE}/pulls", json=[pulls[0]], headers=nxt, match=page_param(1))
    batches = run_batches(source(fake_clock))
    assert sorted(p.number for p in records_of(batches, PullRequest)) == [12, 13]
    assert len([c for c in mocked.calls if c.request.url.startswith(f"{BASE}/pulls?")]) == 2


def test_pull_request_fields_commits_and_first_review(mocked, fake_clock):
    mock_repo(mocked, skip=("pulls",))
    mocked.add(responses.GET, f"{BASE}/pulls", json=[doc("pulls")[0]], headers={"X-Total-Count": "1"})
    batches = run_batches(source(fake_clock))
    (pr,) = records_of(batches, PullRequest)
    assert (pr.number, pr.author, pr.title, pr.labels) == (12, "alice", "Add checkout", ("feature",))
    assert (pr.head_branch, pr.base_branch) == ("feature/checkout", "main")
    # +02:00 offsets converted: created 09:00+02 = 07:00Z, merged 15:00+02 = 13:00Z
    assert pr.created_at == datetime(2024, 5, 1, 7, 0, tzinfo=UTC)
    assert pr.merged_at == pr.closed_at == datetime(2024, 5, 3, 13, 0, tzinfo=UTC)
    assert pr.merge_sha == "d4" * 20
    assert pr.commits == ("b1" * 20, "c2" * 20)
    assert pr.first_commit_at == datetime(2024, 4, 30, 16, 0, tzinfo=UTC)
    # reviews: alice (author) and carol's PENDING do not count; carol's REQUEST_CHANGES 09:15+02 does
    assert pr.first_review_at == datetime(2024, 5, 2, 7, 15, tzinfo=UTC)
    (commit,) = [c for c in records_of(batches, Commit) if c.sha == "c2" * 20]
    assert (commit.author, commit.author_email, commit.parents) == ("Alice", "alice@example.com", ("b1" * 20,))
    assert {r.kind for r in records_of(batches, RawPayload)} >= {"gitea.pull_request", "gitea.commit"}


def test_a_review_by_the_built_in_actions_bot_does_not_set_first_review(mocked, fake_clock):
    """Workflow tokens act as Gitea's Actions user (id -2, ``gitea-actions``; Forgejo:
    ``forgejo-actions``), which the API gives as an ordinary user object."""
    mock_repo(mocked, skip=("pulls",))
    reviews = doc("pull_12_reviews")
    reviews.insert(
        0,
        {
            "id": 9,
            "user": {"id": -2, "login": "gitea-actions", "full_name": "Gitea Actions"},
            "state": "COMMENT",
            "submitted_at": "2024-05-01T09:30:00+02:00",
        },
    )
    reviews.insert(
        1,
        {
            "id": 10,
            "user": {"id": -2, "login": "forgejo-actions"},
            "state": "APPROVED",
            "submitted_at": "2024-05-01T09:45:00+02:00",
        },
    )
    mocked.replace(responses.GET, f"{BASE}/pulls/12/reviews", json=reviews, headers={"X-Total-Count": "6"})
    mocked.add(responses.GET, f"{BASE}/pulls", json=[doc("pulls")[0]], headers={"X-Total-Count": "1"})
    (pr,) = records_of(run_batches(source(fake_clock)), PullRequest)
    # carol's REQUEST_CHANGES at 09:15+02 on 05-02 stays the first human review
    assert pr.first_review_at == datetime(2024, 5, 2, 7, 15, tzinfo=UTC)


def test_releases_are_deployments_prereleases_skipped_and_listing_stops_below_the_start(mocked, fake_clock):
    mock_repo(mocked, skip=("releases",))
    mocked.add(
        responses.GET,
        f"{BASE}/releases",
        json=doc("releases"),
        headers={"Link": f'<{BASE}/releases?page=2&limit=10>; rel="next"'},
    )
    stored = {CursorKey("releases", REPO): "2024-05-01T00:00:00Z"}  # start = 2024-04-30T23:00Z
    batches = run_batches(source(fake_clock), stored)
    (deployment,) = records_of(batches, Deployment)
    # v1.3.0-rc1 is a pre-release; v1.1.0 (2024-03-01) is older than the start and ends the listing
    assert deployment.external_id == f"{REPO}/releases/40"
    assert (deployment.status, deployment.environment, deployment.service) == (
        DeploymentStatus.SUCCESS,
        "production",
        "shop",
    )
    assert deployment.finished_at == datetime(2024, 5, 10, 7, 30, tzinfo=UTC)  # published 09:30+02:00
    assert deployment.sha == "d4" * 20  # from GET /tags/v1.2.0
    assert not any("page=2" in c.request.url for c in mocked.calls if "/releases" in c.request.url)
    assert merged_cursors(batches, stored)[CursorKey("releases", REPO)] == "2024-05-10T07:30:00Z"


def test_tags_mode_matches_the_pattern_and_drops_tags_before_the_start(mocked, fake_clock):
    mock_repo(mocked, skip=("tags",))
    mocked.add(responses.GET, f"{BASE}/tags", json=doc("tags"), headers={"X-Total-Count": "3"})
    batches = run_batches(source(fake_clock, deployments="tags"))  # start: 180 days before 2024-06-01
    (deployment,) = records_of(batches, Deployment)
    # nightly-… does not match v?\d+(\.\d+)*; v1.0.0 (2023-01-01) is before the start
    assert deployment.external_id == f"{REPO}/tags/v1.2.0"
    assert deployment.finished_at == datetime(2024, 5, 3, 13, 0, tzinfo=UTC)
    assert deployment.sha == "d4" * 20


def test_resume_stops_commits_at_watermark_minus_lookback(mocked, fake_clock):
    mock_repo(mocked, skip=("commits",))
    commits = doc("pull_12_commits")[::-1]  # newest first: c2 (05-01 06:30Z), b1 (04-30 16:00Z)
    mocked.add(
        responses.GET,
        f"{BASE}/commits",
        json=commits,
        headers={"X-Total-Count": "50"},  # more pages exist, but the old commit ends the listing
    )
    stored = {CursorKey("commits", f"{REPO}@main"): "2024-05-01T07:00:00Z"}  # start 06:00Z
    batches = run_batches(source(fake_clock), stored)
    assert [c.sha for c in records_of(batches, Commit)] == ["c2" * 20]
    assert len([c for c in mocked.calls if c.request.url.startswith(f"{BASE}/commits?")]) == 1
    assert merged_cursors(batches, stored)[CursorKey("commits", f"{REPO}@main")] == "2024-05-01T07:00:00Z"


def test_429_retry_after_is_honoured_and_the_token_header_is_sent(mocked, fake_clock):
    mock_repo(mocked, skip=("pulls",))
    mocked.add(responses.GET, f"{BASE}/pulls", status=429, body="slow down", headers={"Retry-After": "7"})
    mocked.add(responses.GET, f"{BASE}/pulls", json=[], headers={"X-Total-Count": "0"})
    run_batches(source(fake_clock))
    assert fake_clock.sleeps == [7.0]
    assert {c.request.headers["Authorization"] for c in mocked.calls} == {f"token {TOKEN}"}


def test_missing_repository_is_fatal_and_redacted(mocked, fake_clock, caplog):
    caplog.set_level(logging.DEBUG)
    mocked.add(responses.GET, f"{ROOT}/api/v1/repos/{REPO}", status=404, json={"message": "Not Found"})
    _, error = run_until_error(source(fake_clock, repositories=[REPO]))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.FATAL
    assert error.resource == f"repos/{REPO}" and "repository" in (error.hint or "")
    assert TOKEN not in str(error) and TOKEN not in caplog.text


def test_a_server_ignoring_page_without_paging_headers_does_not_loop(mocked, fake_clock, caplog):
    # no Link, no X-Total-Count, and every page number answers the same items: stop on the repeat
    mock_repo(mocked, skip=("tags",))
    mocked.add(responses.GET, f"{BASE}/tags", json=doc("tags"))
    batches = run_batches(source(fake_clock, deployments="tags"))
    # the repeated page 2 is only detected after it was read: its records repeat page 1's (the store's
    # upsert on (source, external_id) absorbs them); what matters is that a third page is never asked
    assert {d.external_id for d in records_of(batches, Deployment)} == {f"{REPO}/tags/v1.2.0"}
    assert len([c for c in mocked.calls if c.request.url.startswith(f"{BASE}/tags?")]) == 2
    assert "same page twice" in caplog.text

"""GitHub source over recorded payloads (GitHub's OpenAPI examples), replayed with ``responses``."""

from __future__ import annotations

import copy
import logging
import re
from datetime import UTC, datetime

import pytest
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
from connectors.errors import RateLimitedError, SourceError
from connectors.github import GitHubSource, Settings
from connectors.records import Commit, CursorKey, Deployment, DeploymentStatus, PullRequest, RawPayload

API = "https://api.github.com"
REPO = "octocat/Hello-World"
TOKEN = "ghp_TESTTOKEN0123456789abcdef"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PULLS = f"{API}/repos/{REPO}/pulls"


def settings(**overrides) -> Settings:
    data = {
        "name": "gh",
        "token": TOKEN,
        "repositories": [{"name": REPO, "branch": "main", "deployments": {"method": "none"}}],
        "per_page": 2,
    }
    data.update(overrides)
    return Settings.model_validate(data)


def source(clock: FakeClock, services: dict[str, str] | None = None, **overrides) -> GitHubSource:
    context = SourceContext(run_started_at=RUN_START, services=FakeServices(services or {}))
    return GitHubSource(settings(**overrides), context, sleep=clock.sleep, clock=clock)


def pull(number: int, updated_at: str) -> dict:
    item = copy.deepcopy(load_fixture("github", "openapi-examples", "pull-request-simple-items.json")[0])
    item["number"] = number
    item["updated_at"] = updated_at
    return item


def mock_repo_basics(mocked: responses.RequestsMock, *, reviews: list | None = None) -> None:
    """Empty commit listing; every PR has the recorded commit and the given reviews."""
    mocked.add(responses.GET, f"{API}/repos/{REPO}/commits", json=[])
    commits = load_fixture("github", "openapi-examples", "commit-items.json")
    mocked.add(responses.GET, re.compile(rf"{re.escape(PULLS)}/\d+/commits.*"), json=commits)
    mocked.add(responses.GET, re.compile(rf"{re.escape(PULLS)}/\d+/reviews.*"), json=reviews or [])


def page_match(page: int | None):
    params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": "2"}
    if page:
        params["page"] = str(page)
    return [matchers.query_param_matcher(params)]


def test_two_page_pull_listing_stops_at_history_and_stores_watermark_last(mocked, fake_clock):
    mock_repo_basics(mocked)
    mocked.add(
        responses.GET,
        PULLS,
        json=[pull(3, "2024-05-03T10:00:00Z"), pull(2, "2024-05-02T10:00:00Z")],
        headers={
            "Link": f'<{PULLS}?state=all&sort=updated&direction=desc&per_page=2&page=2>; rel="next"',
            "ETag": '"p1"',
        },
        match=page_match(None),
    )
    # #0 is older than run start - 180 days (2023-12-04): the listing stops there
    mocked.add(
        responses.GET,
        PULLS,
        json=[pull(1, "2024-05-01T10:00:00Z"), pull(0, "2023-11-01T00:00:00Z")],
        match=page_match(2),
    )
    batches = run_batches(source(fake_clock))
    prs = records_of(batches, PullRequest)
    assert [p.number for p in prs] == [3, 2, 1]
    # the watermark (newest updated_at seen) and the first page's ETag arrive only in the last batch
    assert all(not b.cursors for b in batches[:-1])
    final = batches[-1].cursors
    assert final[CursorKey("pulls", REPO)] == "2024-05-03T10:00:00Z"
    assert '"p1"' in final.values()


def test_pull_request_fields_match_the_payload(mocked, fake_clock):
    reviews = [
        {"user": {"login": "octocat"}, "state": "COMMENTED", "submitted_at": "2011-01-26T20:00:00Z"},  # the author
        {"user": {"login": "hubot"}, "state": "APPROVED", "submitted_at": "2011-01-27T10:00:00Z"},
        {"user": {"login": "other"}, "state": "PENDING", "submitted_at": None},
    ]
    mock_repo_basics(mocked, reviews=reviews)
    raw = load_fixture("github", "openapi-examples", "pull-request-simple-items.json")
    mocked.add(responses.GET, PULLS, json=raw)
    batches = run_batches(source(fake_clock, history_days=20000))
    (pr,) = records_of(batches, PullRequest)
    # values copied by hand from pull-request-simple-items.json / commit-items.json
    assert pr.repo == REPO
    assert pr.number == 1347
    assert pr.title == "Amazing new feature"
    assert pr.author == "octocat"
    assert pr.labels == ("bug",)
    assert pr.head_branch == "new-topic"
    assert pr.base_branch == "master"
    assert pr.created_at == datetime(2011, 1, 26, 19, 1, 12, tzinfo=UTC)
    assert pr.merged_at == datetime(2011, 1, 26, 19, 1, 12, tzinfo=UTC)
    assert pr.merge_sha == "e5bd3914e2e596debea16f433f57875b5b90bcd6"
    assert pr.commits == ("6dcb09b5b57875f334f61aebed695e2e4193db5e",)
    assert pr.first_commit_at == datetime(2011, 4, 14, 16, 0, 49, tzinfo=UTC)
    # the author's own review does not count, the pending one has no time: hubot's
    assert pr.first_review_at == datetime(2011, 1, 27, 10, 0, tzinfo=UTC)
    (commit,) = records_of(batches, Commit)
    assert commit.author == "octocat"
    assert commit.author_email == "support@github.com"
    assert commit.message == "Fix all the bugs"
    raws = {r.kind: r for r in records_of(batches, RawPayload)}
    assert raws["github.pull_request"].body == raw[0]
    assert raws["github.pull_request"].url.startswith(PULLS)


def test_resume_from_stored_watermark_reads_only_the_overlap(mocked, fake_clock):
    mock_repo_basics(mocked)
    next_link = f'<{PULLS}?state=all&sort=updated&direction=desc&per_page=2&page=%d>; rel="next"'
    mocked.add(
        responses.GET,
        PULLS,
        json=[pull(3, "2024-05-03T10:00:00Z"), pull(2, "2024-05-02T09:30:00Z")],
        headers={"Link": next_link % 2},
        match=page_match(None),
    )
    mocked.add(
        responses.GET,
        PULLS,
        json=[pull(1, "2024-05-02T08:59:59Z"), pull(0, "2024-04-01T00:00:00Z")],
        headers={"Link": next_link % 3},
        match=page_match(2),
    )
    stored = {CursorKey("pulls", REPO): "2024-05-02T10:00:00Z"}
    batches = run_batches(source(fake_clock), stored)
    # start = 10:00 - 1 h look-back = 09:00: #2 (09:30) is re-read, #1 (08:59:59) ends the listing
    assert [p.number for p in records_of(batches, PullRequest)] == [3, 2]
    assert not any("page=3" in c.request.url for c in mocked.calls)
    assert merged_cursors(batches, stored)[CursorKey("pulls", REPO)] == "2024-05-03T10:00:00Z"


def test_second_run_with_unchanged_first_page_costs_one_304(mocked, fake_clock):
    mock_repo_basics(mocked)
    mocked.add(responses.GET, PULLS, json=[pull(3, "2024-05-03T10:00:00Z")], headers={"ETag": 'W/"v1"'})
    first = run_batches(source(fake_clock))
    cursors = merged_cursors(first)
    mocked.replace(responses.GET, PULLS, status=304, match=[matchers.header_matcher({"If-None-Match": 'W/"v1"'})])
    again = source(fake_clock)
    second = run_batches(again, cursors)
    assert records_of(second, PullRequest) == []
    assert again.stats.count(304) == 1
    assert not any(
        "/pulls/" in c.request.url for c in mocked.calls[len(mocked.calls) - again.stats.snapshot().total_requests :]
    )


def test_malformed_page_fails_after_earlier_pages_without_advancing_cursor(mocked, fake_clock):
    mock_repo_basics(mocked)
    mocked.add(
        responses.GET,
        PULLS,
        json=[pull(3, "2024-05-03T10:00:00Z")],
        headers={"Link": f'<{PULLS}?state=all&sort=updated&direction=desc&per_page=2&page=2>; rel="next"'},
        match=page_match(None),
    )
    mocked.add(responses.GET, PULLS, body="[{oops", content_type="application/json", match=page_match(2))
    src = source(fake_clock)
    yielded, error = run_until_error(src)
    assert isinstance(error, SourceError)
    assert error.resource == f"repos/{REPO}/pulls"
    assert error.page.startswith("2 ")
    assert "malformed JSON" in str(error)
    assert [p.number for p in records_of(yielded, PullRequest)] == [3]
    assert CursorKey("pulls", REPO) not in merged_cursors(yielded)


def test_secondary_limit_403_waits_a_minute_then_succeeds(mocked, fake_clock):
    mock_repo_basics(mocked)
    mocked.add(responses.GET, PULLS, status=403, json={"message": "You have exceeded a secondary rate limit."})
    mocked.add(responses.GET, PULLS, json=[])
    run_batches(source(fake_clock))
    assert fake_clock.sleeps == [60.0]


def test_primary_limit_403_with_remaining_zero_waits_until_reset(mocked, fake_clock):
    mock_repo_basics(mocked)
    reset = int(fake_clock.now.timestamp()) + 120
    mocked.add(
        responses.GET, PULLS, status=403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    )
    mocked.add(responses.GET, PULLS, json=[], headers={"x-ratelimit-remaining": "4999"})
    src = source(fake_clock)
    run_batches(src)
    assert fake_clock.sleeps == [120.0]
    assert src.stats.rate_limit_remaining == 4999


def test_reset_too_far_stops_the_source_cleanly(mocked, fake_clock):
    mock_repo_basics(mocked)
    reset = int(fake_clock.now.timestamp()) + 3600
    mocked.add(
        responses.GET, PULLS, status=403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    )
    with pytest.raises(RateLimitedError) as info:
        run_batches(source(fake_clock))
    assert info.value.until == datetime.fromtimestamp(reset, tz=UTC)


def test_token_never_in_logs_errors_or_raw_urls(mocked, fake_clock, caplog):
    caplog.set_level(logging.DEBUG)
    mock_repo_basics(mocked)
    mocked.add(responses.GET, PULLS, json=[pull(3, "2024-05-03T10:00:00Z")])
    mocked.add(responses.GET, f"{API}/repos/{REPO}/deployments", status=401, json={"message": "Bad credentials"})
    with pytest.raises(SourceError) as info:
        run_batches(source(fake_clock, repositories=[{"name": REPO, "branch": "main"}]))
    assert TOKEN not in caplog.text
    assert TOKEN not in str(info.value)
    assert "Bearer" not in caplog.text
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"  # it was sent, though


def test_deployment_with_status_maps_fields_and_service(mocked, fake_clock):
    mocked.add(responses.GET, f"{API}/repos/{REPO}/commits", json=[])
    mocked.add(responses.GET, PULLS, json=[])
    deployments = load_fixture("github", "openapi-examples", "deployment-items.json")
    statuses = load_fixture("github", "openapi-examples", "deployment-status-items.json")
    mocked.add(responses.GET, f"{API}/repos/{REPO}/deployments", json=deployments)
    mocked.add(responses.GET, f"{API}/repos/{REPO}/deployments/1/statuses", json=statuses)
    repos = [{"name": REPO, "branch": "main", "deployments": {"method": "deployments"}}]
    batches = run_batches(source(fake_clock, {REPO: "hello"}, repositories=repos, history_days=20000))
    (deployment,) = records_of(batches, Deployment)
    # deployment-items.json: id 1, production, sha a84d88e7..., created 2012-07-20T01:19:13Z; status success
    assert deployment.service == "hello"
    assert deployment.environment == "production"
    assert deployment.status is DeploymentStatus.SUCCESS
    assert deployment.sha == "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d"
    assert deployment.finished_at == datetime(2012, 7, 20, 1, 19, 13, tzinfo=UTC)
    assert merged_cursors(batches)[CursorKey("deployments", f"{REPO}|*")] == "2012-07-20T01:19:13Z"


def test_unmapped_repository_uses_repo_name_and_warns_once(mocked, fake_clock, caplog):
    mocked.add(responses.GET, f"{API}/repos/{REPO}/commits", json=[])
    mocked.add(responses.GET, PULLS, json=[])
    item = load_fixture("github", "openapi-examples", "deployment-items.json")[0]
    second = {**item, "id": 2}
    mocked.add(responses.GET, f"{API}/repos/{REPO}/deployments", json=[second, item])
    mocked.add(responses.GET, re.compile(rf"{API}/repos/{REPO}/deployments/\d+/statuses.*"), json=[])
    repos = [{"name": REPO, "branch": "main", "deployments": {"method": "deployments"}}]
    batches = run_batches(source(fake_clock, repositories=repos, history_days=20000))
    assert {d.service for d in records_of(batches, Deployment)} == {REPO}
    assert {d.status for d in records_of(batches, Deployment)} == {DeploymentStatus.IN_PROGRESS}
    assert sum("maps to no configured service" in r.message for r in caplog.records) == 1


def test_branch_merges_become_deployments(mocked, fake_clock):
    mock_repo_basics(mocked)
    merged = pull(5, "2024-05-03T10:00:00Z")
    merged["base"]["ref"] = "main"
    merged["merged_at"] = "2024-05-03T09:00:00Z"
    mocked.add(responses.GET, PULLS, json=[merged])
    repos = [{"name": REPO, "branch": "main", "deployments": {"method": "branch", "environment": "prod"}}]
    (deployment,) = records_of(run_batches(source(fake_clock, repositories=repos)), Deployment)
    assert deployment.environment == "prod"
    assert deployment.sha == merged["merge_commit_sha"]
    assert deployment.finished_at == datetime(2024, 5, 3, 9, 0, tzinfo=UTC)

"""GitLab source over recorded DevLake payloads (wrapped into pages here), replayed with ``responses``."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from datetime import UTC, datetime
from urllib.parse import unquote

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
from connectors.errors import SourceError
from connectors.gitlab import GitLabSource, Settings
from connectors.records import CursorKey, Deployment, DeploymentStatus, PullRequest

ROOT = "https://gitlab.example.com"
API = f"{ROOT}/api/v4"
PATH = "gitlab-data/snowflake_spend"
PID = 12345678
TOKEN = "glpat-SECRET-abcdefghijklmnop"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
MRS = f"{API}/projects/{PID}/merge_requests"


def source(clock: FakeClock, **overrides) -> GitLabSource:
    data = {"name": "gl", "kind": "gitlab", "base_url": ROOT, "token": TOKEN, "projects": [PATH], "per_page": 10}
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices({PATH: "spend"}))
    return GitLabSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def mock_project(mocked: responses.RequestsMock, *, deployments: bool = True) -> None:
    mocked.add(
        responses.GET,
        f"{API}/projects/{PATH.replace('/', '%2F')}",
        json={"id": PID, "path_with_namespace": PATH, "default_branch": "master"},
    )
    mocked.add(responses.GET, f"{API}/projects/{PID}/repository/commits", json=[], headers={"X-Next-Page": ""})
    by_iid: dict[str, list] = defaultdict(list)
    for row in load_fixture("gitlab", "merge_request_commits.json"):
        iid = re.search(r"merge_requests/(\d+)/commits", row["request_url"]).group(1)
        by_iid[iid].append(row["body"])
    for iid in range(1, 25):
        mocked.add(responses.GET, f"{MRS}/{iid}/commits", json=by_iid.get(str(iid), []), headers={"X-Next-Page": ""})
        notes = []
        if iid == 1:
            notes = [
                {
                    "author": {"id": 2295562},
                    "system": False,
                    "body": "self note",
                    "created_at": "2019-06-28T06:00:00.000Z",
                },
                {
                    "author": {"id": 7},
                    "system": True,
                    "body": "added 1 commit",
                    "created_at": "2019-06-28T07:00:00.000Z",
                },
                {
                    "author": {"id": 1942272},
                    "system": True,
                    "body": "approved this merge request",
                    "created_at": "2019-06-28T14:30:00.000Z",
                },
            ]
        mocked.add(responses.GET, f"{MRS}/{iid}/notes", json=notes, headers={"X-Next-Page": ""})
    if not deployments:
        return


def reanchored(item: dict) -> list:
    """Matches the listing re-anchored at ``item``'s ``updated_at`` (how the page after it is asked)."""
    return [matchers.query_param_matcher({"updated_after": item["updated_at"]}, strict_match=False)]


def mr_pages(mocked: responses.RequestsMock, items: list[dict], split: int) -> None:
    """``items[:split]`` first; the rest (after the last of them again: "at or after") re-anchored."""
    first, second = items[:split], items[split - 1 :]
    mocked.add(responses.GET, MRS, json=second, headers={"X-Next-Page": ""}, match=reanchored(first[-1]))
    mocked.add(responses.GET, MRS, json=first, headers={"X-Next-Page": "2"})


def all_mrs() -> list[dict]:
    items = [row["body"] for row in load_fixture("gitlab", "merge_requests.json")]
    return sorted(items, key=lambda i: i["updated_at"])


def test_two_page_merge_requests_each_batch_advances_the_watermark(mocked, fake_clock):
    mock_project(mocked)
    mocked.add(responses.GET, f"{API}/projects/{PID}/deployments", json=[], headers={"X-Next-Page": ""})
    items = all_mrs()
    mr_pages(mocked, items, 10)
    batches = run_batches(source(fake_clock, history_days=20000))
    prs = records_of(batches, PullRequest)
    assert len(prs) == 18
    assert sorted(p.number for p in prs) == sorted(i["iid"] for i in items)
    mr_batches = [b for b in batches if any(isinstance(r, PullRequest) for r in b.records)]
    # page 1 ends at the 10th item's updated_at, page 2 at the newest of all (read off the sorted fixture)
    key = CursorKey("merge_requests", PATH)
    assert mr_batches[0].cursors[key] == items[9]["updated_at"][:19] + "Z"
    assert mr_batches[1].cursors[key] == items[-1]["updated_at"][:19] + "Z"
    first_call = next(c for c in mocked.calls if c.request.url.startswith(MRS + "?"))
    assert "updated_after=" in first_call.request.url
    assert "%2B00%3A00" in first_call.request.url


def test_merge_request_fields_match_the_payload(mocked, fake_clock):
    mock_project(mocked)
    mocked.add(responses.GET, f"{API}/projects/{PID}/deployments", json=[], headers={"X-Next-Page": ""})
    mocked.add(responses.GET, MRS, json=[all_mrs()[0]], headers={"X-Next-Page": ""})
    (pr,) = records_of(run_batches(source(fake_clock, history_days=20000)), PullRequest)
    # merge_requests.json iid 1 / merge_request_commits.json .../merge_requests/1/commits (listed newest first)
    assert pr.number == 1
    assert pr.repo == PATH
    assert pr.author == "emilie"
    assert pr.created_at == datetime(2019, 6, 28, 5, 21, 43, 743000, tzinfo=UTC)
    assert pr.merged_at == datetime(2019, 6, 28, 14, 32, 6, 192000, tzinfo=UTC)
    assert pr.merge_sha == "da1d6dea48f5972ffc683da6cff30934e7d6c52c"
    assert pr.head_branch == "1-add-documentation-to-snowflake-spend-package"
    assert pr.base_branch == "master"
    assert [c[:12] for c in pr.commits] == [
        "abbe0ab2c7bb",
        "e01d4f03811c",
        "3f04e0a61d0c",
        "382084b42697",
        "ad25fcda15e3",
    ]
    assert pr.first_commit_at == datetime(2019, 6, 28, 5, 40, 36, tzinfo=UTC)
    # the author's note and the "added 1 commit" system note do not count; the approval does
    assert pr.first_review_at == datetime(2019, 6, 28, 14, 30, tzinfo=UTC)


def test_notes_by_access_token_service_account_and_internal_bots_do_not_set_first_review(mocked, fake_clock):
    """Note authors are basic user objects (id, username, name, ...: no ``bot`` field), so the bots are
    recognised by the usernames GitLab gives them; a human's approval is the first review."""
    mock_project(mocked)
    mocked.add(responses.GET, f"{API}/projects/{PID}/deployments", json=[], headers={"X-Next-Page": ""})
    mocked.add(responses.GET, MRS, json=[all_mrs()[0]], headers={"X-Next-Page": ""})
    bots = [
        ("project_12345678_bot_4f1c0e2a9b7d43c58e6a1f0b2c3d4e5f", "2019-06-28T06:30:00.000Z"),  # project token
        ("group_9970_bot_0a1b2c3d4e5f60718293a4b5c6d7e8f9", "2019-06-28T07:30:00.000Z"),  # group token
        ("project_12345678_bot2", "2019-06-28T08:00:00.000Z"),  # older token bot naming
        ("service_account_group_9970_c468757e6df2fc104de54ea470539bb5", "2019-06-28T08:30:00.000Z"),
        ("GitLabDuo", "2019-06-28T09:00:00.000Z"),  # GitLab Duo code review
    ]
    notes = [
        {
            "author": {"id": 900 + i, "username": name, "state": "active"},
            "system": False,
            "body": "LGTM",
            "created_at": at,
        }
        for i, (name, at) in enumerate(bots)
    ]
    notes += [
        {
            "author": {"id": 77, "username": "ci-runner", "bot": True},
            "system": False,
            "body": "pipeline ok",
            "created_at": "2019-06-28T09:30:00.000Z",
        },  # a full user entity saying bot: true
        {
            "author": {"id": 1942272, "username": "tlapiana"},
            "system": True,
            "body": "approved this merge request",
            "created_at": "2019-06-28T14:30:00.000Z",
        },
    ]
    mocked.replace(responses.GET, f"{MRS}/1/notes", json=notes, headers={"X-Next-Page": ""})
    (pr,) = records_of(run_batches(source(fake_clock, history_days=20000)), PullRequest)
    assert pr.first_review_at == datetime(2019, 6, 28, 14, 30, tzinfo=UTC)


def test_deployments_map_statuses_and_skip_unknown_values(mocked, fake_clock, caplog):
    mock_project(mocked)
    mocked.add(responses.GET, MRS, json=[], headers={"X-Next-Page": ""})
    rows = [row["body"] for row in load_fixture("gitlab", "deployments.json")]
    mocked.add(responses.GET, f"{API}/projects/{PID}/deployments", json=rows, headers={"X-Next-Page": ""})
    batches = run_batches(source(fake_clock, history_days=20000))
    by_id = {d.external_id.rsplit("/", 1)[1]: d for d in records_of(batches, Deployment)}
    # deployments.json: 13426753 success staging, 13432768 failed, 13436532 canceled, 13436763 created,
    # 13436778 running, 13436986 blocked; 13432654 "completed" and 13436915 "undeployed" are not GitLab values
    assert set(by_id) == {"13426753", "13432768", "13436532", "13436763", "13436778", "13436986"}
    ok = by_id["13426753"]
    assert ok.status is DeploymentStatus.SUCCESS
    assert ok.environment == "staging"
    assert ok.service == "spend"
    assert ok.sha == "add237f6852e6108ee8e0246780a54ce909c6087"
    assert ok.finished_at == datetime(2019, 3, 13, 14, 17, 47, 640000, tzinfo=UTC)  # deployable.finished_at
    assert by_id["13432768"].status is DeploymentStatus.FAILURE
    assert by_id["13436532"].status is DeploymentStatus.CANCELLED
    assert {by_id[i].status for i in ("13436763", "13436778", "13436986")} == {DeploymentStatus.IN_PROGRESS}
    assert sum("not a GitLab deployment status" in r.message for r in caplog.records) == 2
    # watermark: newest updated_at (13436986: 15:26:37.476Z; 13436915 has none, its created_at is older)
    assert merged_cursors(batches)[CursorKey("deployments", f"{PATH}|*")] == "2019-03-13T15:26:37Z"


def test_resume_sends_watermark_minus_lookback(mocked, fake_clock):
    mock_project(mocked)
    mocked.add(responses.GET, f"{API}/projects/{PID}/deployments", json=[], headers={"X-Next-Page": ""})
    mocked.add(responses.GET, MRS, json=[], headers={"X-Next-Page": ""})
    stored = {CursorKey("merge_requests", PATH): "2024-05-02T10:00:00Z"}
    batches = run_batches(source(fake_clock), stored)
    call = next(c for c in mocked.calls if c.request.url.startswith(MRS + "?"))
    assert "updated_after=2024-05-02T09:00:00+00:00" in unquote(call.request.url)
    assert merged_cursors(batches, stored)[CursorKey("merge_requests", PATH)] == "2024-05-02T10:00:00Z"


def test_429_plain_text_body_retries_after_header(mocked, fake_clock):
    mock_project(mocked)
    mocked.add(responses.GET, f"{API}/projects/{PID}/deployments", json=[], headers={"X-Next-Page": ""})
    mocked.add(responses.GET, MRS, status=429, body="Retry later", headers={"Retry-After": "3"})
    mocked.add(responses.GET, MRS, json=[], headers={"X-Next-Page": "", "RateLimit-Remaining": "41"})
    src = source(fake_clock)
    run_batches(src)
    assert fake_clock.sleeps == [3.0]
    assert src.stats.rate_limit_remaining == 41


def test_malformed_second_page_keeps_first_page_and_its_cursor_only(mocked, fake_clock, caplog):
    caplog.set_level(logging.DEBUG)
    mock_project(mocked)
    items = all_mrs()[:3]
    mocked.add(responses.GET, MRS, body="<html>", match=reanchored(items[1]))
    mocked.add(responses.GET, MRS, json=items[:2], headers={"X-Next-Page": "2"})
    yielded, error = run_until_error(source(fake_clock, history_days=20000))
    assert isinstance(error, SourceError)
    assert error.page.startswith("2 ")
    assert error.resource == f"projects/{PATH}/merge_requests"
    assert [p.number for p in records_of(yielded, PullRequest)] == [items[0]["iid"], items[1]["iid"]]
    assert merged_cursors(yielded)[CursorKey("merge_requests", PATH)] == items[1]["updated_at"][:19] + "Z"
    assert TOKEN not in caplog.text
    assert TOKEN not in str(error)


def test_a_malformed_item_fails_the_source_naming_resource_page_and_field(mocked, fake_clock):
    # page 2 holds one merge request whose created_at is not a time: the shared listing turns the
    # mapping's ValueError into a SourceError; page 1 stays stored, page 2 yields nothing
    mock_project(mocked)
    items = all_mrs()[:3]
    broken = {**items[2], "created_at": "not a time"}
    mocked.add(responses.GET, MRS, json=[items[1], broken], match=reanchored(items[1]))
    mocked.add(responses.GET, MRS, json=items[:2], headers={"X-Next-Page": "2"})
    yielded, error = run_until_error(source(fake_clock, history_days=20000))
    assert isinstance(error, SourceError)
    assert error.resource == f"projects/{PATH}/merge_requests"
    assert error.page == "2"
    assert "malformed item" in str(error)
    assert "created_at" in str(error)
    assert [p.number for p in records_of(yielded, PullRequest)] == [items[0]["iid"], items[1]["iid"]]

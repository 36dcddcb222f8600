"""Bitbucket Cloud source over recorded (anonymised) page bodies, replayed with ``responses``.

Recorded: pullrequests, pullrequest commits, pipelines, pipeline steps (tests/fixtures/bitbucket).
Hand-built from the API documentation: activity, environments, deployments (see SOURCE.md there).
"""

from __future__ import annotations

import base64
import copy
import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
from pydantic import ValidationError
from responses import matchers

from connectors.base import SourceContext
from connectors.bitbucket import BitbucketSource, Settings
from connectors.bitbucket_rebuild import records_from_payloads
from connectors.errors import ErrorKind, SourceError
from connectors.records import Commit, CursorKey, Deployment, DeploymentStatus, PipelineRun, PullRequest, RawPayload

API = "https://api.bitbucket.org/2.0"
REPO = "TestWorkspace1/testrepository1"
BASE = f"{API}/repositories/{REPO}"
TOKEN = "ATATT3xFfGF0-SECRET-token"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FULL_MERGE_SHA = "1fbd047cd99a" + "0" * 28
OLD = 20000  # history_days reaching back before the 2020 recordings


def body(name: str) -> dict[str, Any]:
    return copy.deepcopy(load_fixture("bitbucket", name)[0]["body"])


def documented(part: str) -> dict[str, Any]:
    return copy.deepcopy(load_fixture("bitbucket", "documented_activity_deployments.json")[part])


def source(clock: FakeClock, **overrides: Any) -> BitbucketSource:
    data: dict[str, Any] = {
        "name": "bb",
        "kind": "bitbucket",
        "token": TOKEN,
        "repositories": [{"name": REPO, "branch": "master"}],
        "per_page": 10,
        "history_days": OLD,
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices({REPO: "shop"}))
    return BitbucketSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


EMPTY = {"pagelen": 10, "values": [], "page": 1}


def mock_repo(mocked: responses.RequestsMock, **pages: Any) -> None:
    """Every listing of the repository, empty unless given (keys: commits, pulls, pipelines, ...)."""
    defaults = {
        "commits": (f"{BASE}/commits/master", EMPTY),
        "pulls": (f"{BASE}/pullrequests", EMPTY),
        "pipelines": (f"{BASE}/pipelines", EMPTY),
        "environments": (f"{BASE}/environments", EMPTY),
        "deployments": (f"{BASE}/deployments", EMPTY),
    }
    for key, (url, default) in defaults.items():
        if key not in pages:
            mocked.add(responses.GET, url, json=default)


def with_next(page: dict[str, Any], url: str) -> dict[str, Any]:
    return {**page, "next": url}


def pipeline(uuid: str, result: str | None, created: str, *, pattern: str | None = None) -> dict[str, Any]:
    """A variant of the recorded pipeline (pipelines.json page 1) with another uuid, result and time."""
    item = body("pipelines.json")["values"][0]
    item["uuid"] = uuid
    item["created_on"] = created
    if result is None:
        item["state"] = {"name": "IN_PROGRESS", "type": "pipeline_state_in_progress"}
        item["completed_on"] = None
    else:
        item["state"]["result"]["name"] = result
    if pattern is not None:
        item["target"]["selector"] = {"type": "custom", "pattern": pattern}
    return item


# --- paging quirks --------------------------------------------------------------------------------


def test_two_pipeline_pages_follow_body_next_and_stop_on_an_empty_page_despite_its_next(mocked, fake_clock):
    page1 = body("pipelines.json")  # recorded: one STOPPED pipeline, build 25, 2020-11-03T22:14:50.671Z
    del page1["size"]  # recorded size 1 would (rightly) end the listing after page 1
    page2 = {"page": 2, "pagelen": 10, "values": [pipeline("{P0}", "SUCCESSFUL", "2020-11-02T10:00:00.000Z")]}
    # the third page is empty yet still advertises a next page: it must not be requested
    page3 = {"page": 3, "pagelen": 10, "values": [], "next": f"{BASE}/pipelines?page=4"}
    mock_repo(mocked, pipelines=True)
    for number, page, nxt in ((2, page2, 3), (3, page3, None)):
        served = with_next(page, f"{BASE}/pipelines?page={nxt}") if nxt else page
        mocked.add(
            responses.GET,
            f"{BASE}/pipelines",
            json=served,
            match=[matchers.query_param_matcher({"page": str(number)})],
        )
    mocked.add(responses.GET, f"{BASE}/pipelines", json=with_next(page1, f"{BASE}/pipelines?page=2"))
    batches = run_batches(source(fake_clock))
    runs = records_of(batches, PipelineRun)
    assert [r.external_id for r in runs] == [f"{REPO}/pipelines/{{PipelineUuid}}", f"{REPO}/pipelines/{{P0}}"]
    first = runs[0]
    # pipelines.json: state COMPLETED / result STOPPED, created 22:14:50.671Z, completed 22:14:53.173Z
    assert first.status == "stopped"
    assert first.created_at == datetime(2020, 11, 3, 22, 14, 50, 671000, tzinfo=UTC)
    assert first.finished_at == datetime(2020, 11, 3, 22, 14, 53, 173000, tzinfo=UTC)
    assert first.branch == "master"
    assert first.sha == "30c1b58a2341992fe6870756a8880d5006ddb18e"
    assert first.name == "default"  # target.selector.type, no pattern
    assert first.duration_seconds == 0.0
    pipeline_calls = [c.request.url for c in mocked.calls if "/pipelines" in c.request.url]
    assert len(pipeline_calls) == 3
    assert not any("page=4" in url for url in pipeline_calls)
    # watermark: newest created_on seen (page 1's 2020-11-03T22:14:50Z)
    assert merged_cursors(batches)[CursorKey("pipelines", REPO)] == "2020-11-03T22:14:50Z"
    raws = [r for r in records_of(batches, RawPayload) if r.kind == "bitbucket.pipeline"]
    assert [r.body["uuid"] for r in raws] == ["{PipelineUuid}", "{P0}"]


def test_the_recorded_empty_object_page_ends_the_listing(mocked, fake_clock):
    # pipelines.json holds page 1 and, for page 2, the empty object {} (upstream's end of paging)
    recorded = load_fixture("bitbucket", "pipelines.json")
    first = with_next(recorded[0]["body"], f"{BASE}/pipelines?page=2")
    del first["size"]  # so that page 2 is requested at all
    mock_repo(mocked, pipelines=True)
    page2 = [matchers.query_param_matcher({"page": "2"})]
    mocked.add(responses.GET, f"{BASE}/pipelines", json=recorded[1]["body"], match=page2)
    mocked.add(responses.GET, f"{BASE}/pipelines", json=first)
    runs = records_of(run_batches(source(fake_clock)), PipelineRun)
    assert len(runs) == 1
    assert sum("/pipelines" in c.request.url for c in mocked.calls) == 2


def test_a_repeated_next_ends_the_listing_with_a_warning_instead_of_failing(mocked, fake_clock, caplog):
    page = with_next(body("pipelines.json"), f"{BASE}/pipelines?page=2")
    del page["size"]  # recorded size 1 would end the listing after page 1
    # page 2 has items and points at itself again
    again = {"page": 2, "values": [pipeline("{P0}", "FAILED", "2020-11-02T10:00:00.000Z")]}
    again["next"] = f"{BASE}/pipelines?page=2"
    mock_repo(mocked, pipelines=True)
    mocked.add(responses.GET, f"{BASE}/pipelines", json=again, match=[matchers.query_param_matcher({"page": "2"})])
    mocked.add(responses.GET, f"{BASE}/pipelines", json=page)
    runs = records_of(run_batches(source(fake_clock)), PipelineRun)
    assert len(runs) == 2
    assert sum("/pipelines" in c.request.url for c in mocked.calls) == 2
    assert "already requested next page" in caplog.text


def test_reaching_size_ends_the_listing_even_with_a_next(mocked, fake_clock):
    # pipeline_steps.json: pagelen 1 but size 2 and 2 values; a next after it must not be followed
    steps = with_next(body("pipeline_steps.json"), f"{BASE}/pipelines/x/steps?page=2")
    mock_repo(mocked, pipelines=True)
    mocked.add(responses.GET, f"{BASE}/pipelines", json=body("pipelines.json"))
    mocked.add(responses.GET, f"{BASE}/pipelines/%7BPipelineUuid%7D/steps", json=steps)
    rules = [{"name": "make*", "environment": "production"}]
    src = source(fake_clock, environment_deployments=False, deployment_rules=rules, match_steps=True)
    run_batches(src)
    assert sum("/steps" in c.request.url for c in mocked.calls) == 1


# --- pull requests --------------------------------------------------------------------------------


def mock_pull_request_one(mocked: responses.RequestsMock, state: str = "MERGED") -> dict[str, Any]:
    page = body("pullrequests.json")
    pr = page["values"][0]  # id 1, created 2020-03-19T12:00:03.494356+00:00
    pr["state"] = state
    pr["merge_commit"] = {"hash": "1fbd047cd99a", "type": "commit"} if state == "MERGED" else None
    page["values"] = [pr]
    mocked.add(responses.GET, f"{BASE}/pullrequests", json=page)
    mocked.add(responses.GET, f"{BASE}/pullrequests/1/commits", json=body("pullrequest_commits.json"))
    mocked.add(responses.GET, f"{BASE}/pullrequests/1/activity", json=documented("activity"))
    mocked.add(responses.GET, f"{BASE}/commit/1fbd047cd99a", json={"hash": FULL_MERGE_SHA})
    return pr


def test_pull_request_fields_come_from_the_item_its_commits_and_its_activity(mocked, fake_clock):
    mock_repo(mocked, pulls=True)
    mock_pull_request_one(mocked)
    batches = run_batches(source(fake_clock))
    (pr,) = records_of(batches, PullRequest)
    assert pr.number == 1
    assert pr.repo == REPO
    assert pr.author == "User03Nickname"
    assert pr.created_at == datetime(2020, 3, 19, 12, 0, 3, 494356, tzinfo=UTC)
    assert (pr.head_branch, pr.base_branch) == ("feature/test-branch", "master")
    # activity: the MERGED update at 2020-03-21T09:30; first review is User04's comment at 03-20 08:15,
    # earlier than their approval (16:45); the author's own comment (03-19 13:00) does not count
    assert pr.merged_at == datetime(2020, 3, 21, 9, 30, tzinfo=UTC)
    assert pr.closed_at == pr.merged_at
    assert pr.first_review_at == datetime(2020, 3, 20, 8, 15, tzinfo=UTC)
    # merge_commit.hash is abbreviated (12 chars) and resolved through /commit/{hash}
    assert pr.merge_sha == FULL_MERGE_SHA
    # pullrequest_commits.json: one commit 3a8d6c79..., dated 2023-10-08T17:31:20+00:00
    assert pr.commits == ("3a8d6c7910f7bf68f7cf9cc1964998006fa8894b",)
    assert pr.first_commit_at == datetime(2023, 10, 8, 17, 31, 20, tzinfo=UTC)
    commit = next(r for b in batches for r in b.records if getattr(r, "sha", None) == pr.commits[0])
    assert (commit.author, commit.author_email) == ("user1Name", "user@mail.com")
    assert commit.parents == ("08b01c378b0c67999528bdb5d364d1960409cd99",)
    kinds = {r.kind for r in records_of(batches, RawPayload)}
    assert {"bitbucket.pullrequest", "bitbucket.commit", "bitbucket.pullrequest_activity"} <= kinds
    # watermark: updated_on 2020-12-27T14:09:32.769040+00:00, truncated to seconds
    assert merged_cursors(batches)[CursorKey("pull_requests", REPO)] == "2020-12-27T14:09:32Z"


def test_approvals_and_comments_by_app_users_do_not_set_first_review(mocked, fake_clock):
    """An ``app_user`` account (apps, repository/project/workspace access tokens) is not a reviewer."""
    mock_repo(mocked, pulls=True)
    mock_pull_request_one(mocked)
    activity = documented("activity")
    token = {"type": "app_user", "uuid": "{bot}", "display_name": "ci-token", "kind": "repository_access_token"}
    activity["values"][3:3] = [
        {"approval": {"date": "2020-03-19T14:00:00.000000+00:00", "user": token}, "pull_request": {"id": 1}},
        {
            "comment": {"id": 12, "created_on": "2020-03-19T14:05:00.000000+00:00", "user": token},
            "pull_request": {"id": 1},
        },
    ]
    mocked.replace(responses.GET, f"{BASE}/pullrequests/1/activity", json=activity)
    (pr,) = records_of(run_batches(source(fake_clock)), PullRequest)
    assert pr.first_review_at == datetime(2020, 3, 20, 8, 15, tzinfo=UTC)  # User04's comment, as without the bot


def test_without_activity_an_open_pull_request_has_no_merge_or_review_time(mocked, fake_clock):
    mock_repo(mocked, pulls=True)
    mock_pull_request_one(mocked, state="OPEN")
    (pr,) = records_of(run_batches(source(fake_clock, fetch_activity=False)), PullRequest)
    assert (pr.merged_at, pr.closed_at, pr.first_review_at, pr.merge_sha) == (None, None, None, None)
    assert not any("/activity" in c.request.url for c in mocked.calls)


def test_resume_asks_for_pull_requests_updated_since_watermark_minus_lookback(mocked, fake_clock):
    mock_repo(mocked)
    stored = {CursorKey("pull_requests", REPO): "2024-05-02T10:00:00Z"}
    batches = run_batches(source(fake_clock), stored)
    call = next(c for c in mocked.calls if "/pullrequests" in c.request.url)
    query = parse_qs(urlsplit(call.request.url).query)
    assert query["q"] == ["updated_on >= 2024-05-02T09:00:00+00:00"]  # lookback 1h
    assert sorted(query["state"]) == ["DECLINED", "MERGED", "OPEN", "SUPERSEDED"]
    assert query["sort"] == ["-updated_on"]
    assert merged_cursors(batches, stored)[CursorKey("pull_requests", REPO)] == "2024-05-02T10:00:00Z"


def test_a_newest_first_listing_stops_at_the_first_item_older_than_the_start(mocked, fake_clock):
    # commits listed newest first; start = watermark 2023-10-08T18:00Z - 1h = 17:00Z
    newer = body("pullrequest_commits.json")["values"][0]  # 2023-10-08T17:31:20Z: kept
    older = copy.deepcopy(newer)
    older["hash"] = "0" * 40
    older["date"] = "2023-10-08T16:59:59+00:00"  # below the start: listing stops here
    page = with_next({"values": [newer, older], "page": 1}, f"{BASE}/commits/master?page=2")
    mock_repo(mocked, commits=True)
    mocked.add(responses.GET, f"{BASE}/commits/master", json=page)
    stored = {CursorKey("commits", f"{REPO}@master"): "2023-10-08T18:00:00Z"}
    batches = run_batches(source(fake_clock), stored)
    assert [c.sha for c in records_of(batches, Commit)] == [newer["hash"]]
    assert not any("page=2" in c.request.url for c in mocked.calls)
    # the watermark never moves backwards: 17:31:20 seen < stored 18:00
    assert merged_cursors(batches, stored)[CursorKey("commits", f"{REPO}@master")] == "2023-10-08T18:00:00Z"


# --- errors and auth ------------------------------------------------------------------------------


def test_429_without_retry_after_backs_off_then_succeeds(mocked, fake_clock):
    mock_repo(mocked, pulls=True)
    mocked.add(responses.GET, f"{BASE}/pullrequests", status=429, json={"type": "error"})
    mocked.add(responses.GET, f"{BASE}/pullrequests", json=EMPTY)
    src = source(fake_clock)
    run_batches(src)
    assert len(fake_clock.sleeps) == 1 and fake_clock.sleeps[0] > 0
    assert src.stats.count(429) == 1 and src.stats.retries == 1


def test_401_is_fatal_names_the_resource_and_never_shows_the_token(mocked, fake_clock, caplog):
    caplog.set_level(logging.DEBUG)
    mock_repo(mocked, commits=True)
    mocked.add(
        responses.GET,
        f"{BASE}/commits/master",
        status=401,
        json={"type": "error", "error": {"message": "Token is invalid, expired, or not supported"}},
    )
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError)
    assert error.kind is ErrorKind.FATAL
    assert error.resource == f"repositories/{REPO}/commits"
    assert "token" in (error.hint or "")
    assert TOKEN not in str(error) and TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("dev@example.com", "Basic " + base64.b64encode(f"dev@example.com:{TOKEN}".encode()).decode()),
        (None, f"Bearer {TOKEN}"),
    ],
)
def test_api_token_uses_basic_email_auth_and_access_token_uses_bearer(mocked, fake_clock, email, expected):
    mock_repo(mocked)
    run_batches(source(fake_clock, email=email))
    assert {c.request.headers["Authorization"] for c in mocked.calls} == {expected}


def test_default_branch_is_read_from_the_repository_when_not_configured(mocked, fake_clock):
    mocked.add(responses.GET, BASE, json={"full_name": REPO, "mainbranch": {"name": "develop", "type": "branch"}})
    mocked.add(responses.GET, f"{BASE}/commits/develop", json=EMPTY)
    mock_repo(mocked, commits=True)
    run_batches(source(fake_clock, repositories=[REPO]))
    assert any(c.request.url.startswith(f"{BASE}/commits/develop") for c in mocked.calls)


def test_settings_refuse_both_deployment_sources_at_once():
    with pytest.raises(ValidationError, match="counted twice"):
        Settings.model_validate(
            {"name": "bb", "token": "t", "repositories": [REPO], "deployment_rules": [{"name": "deploy*"}]}
        )


# --- deployments ----------------------------------------------------------------------------------


def test_environment_deployments_map_states_and_skip_undeployed(mocked, fake_clock):
    mock_repo(mocked, environments=True, deployments=True)
    mocked.add(responses.GET, f"{BASE}/environments", json=documented("environments"))
    mocked.add(responses.GET, f"{BASE}/deployments", json=documented("deployments"))
    batches = run_batches(source(fake_clock))
    by_id = {d.external_id.rsplit("/", 1)[1]: d for d in records_of(batches, Deployment)}
    # documented deployments: 1 SUCCESSFUL to Production, 2 FAILED to Staging, 3 IN_PROGRESS, 4 UNDEPLOYED
    assert set(by_id) == {"{Deployment1Uuid}", "{Deployment2Uuid}", "{Deployment3Uuid}"}
    ok = by_id["{Deployment1Uuid}"]
    assert (ok.status, ok.environment, ok.service) == (DeploymentStatus.SUCCESS, "production", "shop")
    assert ok.sha == "30c1b58a2341992fe6870756a8880d5006ddb18e"
    assert ok.started_at == datetime(2020, 11, 3, 22, 20, tzinfo=UTC)
    assert ok.finished_at == datetime(2020, 11, 3, 22, 25, 30, 500000, tzinfo=UTC)
    assert (by_id["{Deployment2Uuid}"].status, by_id["{Deployment2Uuid}"].environment) == (
        DeploymentStatus.FAILURE,
        "staging",
    )
    running = by_id["{Deployment3Uuid}"]
    assert running.status is DeploymentStatus.IN_PROGRESS and running.finished_at is None
    # the in-progress deployment (started 2020-11-05T10:01Z) pins the watermark so it is re-read
    assert merged_cursors(batches)[CursorKey("deployments", REPO)] == "2020-11-05T10:01:00Z"
    assert len([r for r in records_of(batches, RawPayload) if r.kind == "bitbucket.deployment"]) == 4


def test_pipeline_rules_make_matching_pipelines_deployments_and_others_only_runs(mocked, fake_clock):
    page = body("pipelines.json")
    page["values"] = [
        pipeline("{Deploy}", "SUCCESSFUL", "2020-11-04T08:00:00.000Z", pattern="deploy-prod"),
        pipeline("{Build}", "FAILED", "2020-11-04T07:00:00.000Z", pattern="build"),
        pipeline("{Running}", None, "2020-11-04T06:00:00.000Z", pattern="deploy-prod"),
    ]
    mock_repo(mocked, pipelines=True)
    mocked.add(responses.GET, f"{BASE}/pipelines", json=page)
    rules = [{"name": "deploy-*", "branch": "master", "environment": "production", "service": "shop-api"}]
    batches = run_batches(source(fake_clock, environment_deployments=False, deployment_rules=rules))
    assert len(records_of(batches, PipelineRun)) == 3
    deployments = {d.external_id.rsplit("/", 1)[1]: d for d in records_of(batches, Deployment)}
    assert set(deployments) == {"{Deploy}", "{Running}"}  # "build" matches no rule: not a deployment
    done = deployments["{Deploy}"]
    assert (done.status, done.environment, done.service) == (DeploymentStatus.SUCCESS, "production", "shop-api")
    assert done.finished_at == datetime(2020, 11, 3, 22, 14, 53, 173000, tzinfo=UTC)  # recorded completed_on
    assert deployments["{Running}"].status is DeploymentStatus.IN_PROGRESS
    # the running pipeline (06:00) holds the watermark
    assert merged_cursors(batches)[CursorKey("pipelines", REPO)] == "2020-11-04T06:00:00Z"


def test_step_rules_match_step_names_and_map_stopped_to_cancelled(mocked, fake_clock):
    steps = body("pipeline_steps.json")
    steps["values"][0]["name"] = "Build"
    steps["values"][1]["name"] = "Deploy to production"
    mock_repo(mocked, pipelines=True)
    mocked.add(responses.GET, f"{BASE}/pipelines", json=body("pipelines.json"))
    mocked.add(responses.GET, f"{BASE}/pipelines/%7BPipelineUuid%7D/steps", json=steps)
    rules = [{"name": "Deploy*", "environment": "production"}]
    batches = run_batches(source(fake_clock, environment_deployments=False, deployment_rules=rules, match_steps=True))
    (deployment,) = records_of(batches, Deployment)
    assert deployment.external_id == f"{REPO}/pipelines/{{PipelineUuid}}/steps/{{PipelineStep2Uuid}}"
    # pipeline_steps.json: the step's result is STOPPED → cancelled; started/completed 20:22:55.969Z
    assert deployment.status is DeploymentStatus.CANCELLED
    assert deployment.finished_at == datetime(2020, 11, 10, 20, 22, 55, 969000, tzinfo=UTC)
    assert deployment.sha == "30c1b58a2341992fe6870756a8880d5006ddb18e"  # the pipeline's target commit


def test_not_run_pipelines_and_steps_are_no_deployments_and_the_rebuild_agrees(mocked, fake_clock):
    # NOT_RUN: the pipeline or step never ran (e.g. a manual step never triggered, a step after a failed
    # one): nothing was attempted, so it is neither a deployment nor a failed attempt.
    page = body("pipelines.json")
    page["values"] = [
        pipeline("{NotRun}", "NOT_RUN", "2020-11-04T08:00:00.000Z", pattern="deploy-prod"),
        pipeline("{Failed}", "FAILED", "2020-11-04T07:00:00.000Z", pattern="deploy-prod"),
    ]
    mock_repo(mocked, pipelines=True)
    mocked.add(responses.GET, f"{BASE}/pipelines", json=page)
    src = source(fake_clock, environment_deployments=False, deployment_rules=[{"name": "deploy-*"}])
    batches = run_batches(src)
    assert sorted(r.status for r in records_of(batches, PipelineRun)) == ["failed", "not_run"]  # both kept as runs
    (deployment,) = records_of(batches, Deployment)
    assert deployment.external_id.endswith("{Failed}") and deployment.status is DeploymentStatus.FAILURE
    rebuilt = records_from_payloads(src.settings, src.context, records_of(batches, RawPayload))
    assert [r for r in rebuilt if isinstance(r, Deployment)] == [deployment]


def test_a_not_run_deploy_step_is_no_deployment(mocked, fake_clock):
    steps = body("pipeline_steps.json")
    steps["values"][0]["name"] = "Deploy to staging"
    steps["values"][1]["name"] = "Deploy to production"
    steps["values"][1]["state"]["result"] = {"type": "pipeline_step_state_completed_not_run", "name": "NOT_RUN"}
    mock_repo(mocked, pipelines=True)
    mocked.add(responses.GET, f"{BASE}/pipelines", json=body("pipelines.json"))
    mocked.add(responses.GET, f"{BASE}/pipelines/%7BPipelineUuid%7D/steps", json=steps)
    rules = [{"name": "Deploy*"}]
    batches = run_batches(source(fake_clock, environment_deployments=False, deployment_rules=rules, match_steps=True))
    (deployment,) = records_of(batches, Deployment)  # the STOPPED staging step only
    assert deployment.external_id.endswith("/steps/{PipelineStep1Uuid}")
    assert deployment.status is DeploymentStatus.CANCELLED

"""GitHub Actions source over GitHub's documentation example run and the octokit webhook example run
(tests/fixtures/github_actions/), replayed with ``responses``. Neither is a recording: pages, ``Link``
headers, job objects and run variants are built here from the documented schemas."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
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
from connectors.errors import RateLimitedError
from connectors.github_actions import GitHubActionsSource, Settings, records_from_payloads
from connectors.records import CursorKey, Deployment, DeploymentStatus, PipelineRun, RawPayload

API = "https://api.github.com"
REPO = "octo-org/octo-repo"
RUNS = f"{API}/repos/{REPO}/actions/runs"
TOKEN = "ghp_SECRETSECRETSECRET0123456789"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
CURSOR = CursorKey("workflow_runs", REPO)


def source(clock: FakeClock, **overrides: Any) -> GitHubActionsSource:
    data: dict[str, Any] = {"name": "gha", "kind": "github_actions", "token": TOKEN, "repositories": [REPO]}
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices({REPO: "octo"}))
    return GitHubActionsSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def doc_run() -> dict[str, Any]:
    """The documentation example: run 30433642 "Build", queued, conclusion null, created 2020-01-22T19:33:08Z."""
    return load_fixture("github_actions", "openapi-examples", "workflow-run-paginated.json")["workflow_runs"][0]


def webhook_run() -> dict[str, Any]:
    """The webhook example: run 289782451, name "", path .github/workflows/test.yml, completed/success."""
    return load_fixture("github_actions", "webhooks", "workflow_run.completed.payload.json")["workflow_run"]


def variant(base: dict[str, Any], run_id: int, created: datetime, status: str, conclusion: str | None) -> dict:
    run = copy.deepcopy(base)
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    run.update(id=run_id, created_at=stamp, run_started_at=stamp, status=status, conclusion=conclusion)
    run["updated_at"] = (created + timedelta(minutes=4)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return run


def created_param(call: Any) -> str:
    return unquote(call.request.url).split("created=")[1].split("&")[0]


def test_two_pages_map_runs_and_rules(mocked, fake_clock):
    page2 = f"{API}/repositories/1296269/actions/runs?per_page=1&page=2"  # Link URLs are followed verbatim
    mocked.add(
        responses.GET,
        RUNS,
        json={"total_count": 2, "workflow_runs": [webhook_run()]},
        headers={"Link": f'<{page2}>; rel="next"'},
    )
    mocked.add(responses.GET, page2, json={"total_count": 2, "workflow_runs": [doc_run()]})
    rules = [{"name": "test.yml", "branch": "master", "environment": "production"}]
    batches = run_batches(source(fake_clock, history_days=20000, per_page=1, rules=rules))
    runs = {r.external_id: r for r in records_of(batches, PipelineRun)}
    done = runs[f"{REPO}/actions/runs/289782451"]
    # webhook example: name "" → file name of path; created 16:33:24, run_started_at = updated_at = 16:33:49
    assert done.name == "test.yml"
    assert done.status == "success"
    assert done.created_at == datetime(2020, 10, 5, 16, 33, 24, tzinfo=UTC)
    assert done.started_at == done.finished_at == datetime(2020, 10, 5, 16, 33, 49, tzinfo=UTC)
    assert done.duration_seconds == 0.0
    assert (done.branch, done.sha) == ("master", "3484a3fb816e0859fd6e1cea078d76385ff50625")
    queued = runs[f"{REPO}/actions/runs/30433642"]
    assert (queued.name, queued.status, queued.finished_at) == ("Build", "queued", None)
    (deployment,) = records_of(batches, Deployment)  # "Build" matches no rule: a run only
    assert deployment.external_id == done.external_id
    assert (deployment.status, deployment.environment, deployment.service) == (
        DeploymentStatus.SUCCESS,
        "production",
        "octo",
    )
    assert deployment.sha == done.sha and deployment.finished_at == done.finished_at
    assert len(records_of(batches, RawPayload)) == 2
    # first sync: created from run start - history_days to run start; the 2020 run is the newest seen
    assert created_param(mocked.calls[0]).endswith("..2024-06-01T12:00:00Z")
    assert merged_cursors(batches)[CURSOR] == "2020-10-05T16:33:24Z"


def test_unfinished_run_pins_the_cursor_and_is_reread(mocked, fake_clock):
    newer = variant(webhook_run(), 2, RUN_START - timedelta(minutes=10), "completed", "success")
    running = variant(doc_run(), 1, RUN_START - timedelta(minutes=30), "in_progress", None)
    mocked.add(responses.GET, RUNS, json={"total_count": 2, "workflow_runs": [newer, running]})
    batches = run_batches(source(fake_clock, rules=[{"name": "Build"}]))
    (pending,) = records_of(batches, Deployment)
    assert pending.status is DeploymentStatus.IN_PROGRESS and pending.finished_at is None
    cursors = merged_cursors(batches)
    assert cursors[CURSOR] == "2024-06-01T11:30:00Z"  # the running run's created_at, not 11:50

    mocked.reset()
    finished = variant(doc_run(), 1, RUN_START - timedelta(minutes=30), "completed", "failure")
    mocked.add(responses.GET, RUNS, json={"total_count": 2, "workflow_runs": [newer, finished]})
    second = run_batches(source(fake_clock, rules=[{"name": "Build"}]), cursors)
    assert created_param(mocked.calls[0]) == "2024-06-01T10:30:00Z..2024-06-01T12:00:00Z"  # 11:30 - 1 h lookback
    (failed,) = records_of(second, Deployment)
    assert failed.status is DeploymentStatus.FAILURE
    assert failed.finished_at == RUN_START - timedelta(minutes=26)  # updated_at = created + 4 min
    assert merged_cursors(second, cursors)[CURSOR] == "2024-06-01T11:50:00Z"


def test_result_cap_splits_the_created_range(mocked, fake_clock):
    older = variant(webhook_run(), 1, datetime(2024, 5, 31, 18, tzinfo=UTC), "completed", "success")
    newer = variant(webhook_run(), 2, datetime(2024, 6, 1, 6, tzinfo=UTC), "completed", "success")

    def answer(created: str, body: dict[str, Any]) -> None:
        mocked.add(
            responses.GET,
            RUNS,
            json=body,
            match=[matchers.query_param_matcher({"created": created}, strict_match=False)],
        )

    # history_days=1: 05-31T12:00..06-01T12:00 reports 1,500 runs, over the 1,000 cap, so it is halved at
    # 06-01T00:00:00; the newer half is read first.
    answer("2024-05-31T12:00:00Z..2024-06-01T12:00:00Z", {"total_count": 1500, "workflow_runs": [newer]})
    answer("2024-06-01T00:00:01Z..2024-06-01T12:00:00Z", {"total_count": 1, "workflow_runs": [newer]})
    answer("2024-05-31T12:00:00Z..2024-06-01T00:00:00Z", {"total_count": 1, "workflow_runs": [older]})
    batches = run_batches(source(fake_clock, history_days=1))
    assert [created_param(c) for c in mocked.calls] == [
        "2024-05-31T12:00:00Z..2024-06-01T12:00:00Z",
        "2024-06-01T00:00:01Z..2024-06-01T12:00:00Z",
        "2024-05-31T12:00:00Z..2024-06-01T00:00:00Z",
    ]
    ids = [r.external_id.rsplit("/", 1)[1] for r in records_of(batches, PipelineRun)]
    assert ids == ["2", "1"]  # the capped first page itself is not stored
    assert merged_cursors(batches)[CURSOR] == "2024-06-01T06:00:00Z"


def test_job_rules_make_deployments_of_jobs(mocked, fake_clock):
    run = variant(webhook_run(), 7, RUN_START - timedelta(hours=2), "completed", "failure")
    run["name"] = "CD"
    mocked.add(responses.GET, RUNS, json={"total_count": 1, "workflow_runs": [run]})

    def job(job_id: int, name: str, conclusion: str) -> dict[str, Any]:
        # hand-written from the documented job schema (no environment field exists on jobs)
        return {
            "id": job_id,
            "run_id": 7,
            "name": name,
            "head_sha": run["head_sha"],
            "status": "completed",
            "conclusion": conclusion,
            "created_at": "2024-06-01T10:00:05Z",
            "started_at": "2024-06-01T10:00:10Z",
            "completed_at": "2024-06-01T10:03:40Z",
        }

    jobs = [job(71, "test", "failure"), job(72, "deploy (production)", "success")]
    mocked.add(responses.GET, run["jobs_url"], json={"total_count": 2, "jobs": jobs})
    rules = [{"name": "CD / deploy (*)", "environment": "production", "service": "web"}]
    batches = run_batches(source(fake_clock, job_rules=rules))
    (deployment,) = records_of(batches, Deployment)  # the run itself matches no (run) rule; "test" no job rule
    assert deployment.external_id == f"{REPO}/actions/jobs/72"
    assert deployment.status is DeploymentStatus.SUCCESS
    assert deployment.finished_at == datetime(2024, 6, 1, 10, 3, 40, tzinfo=UTC)
    assert (deployment.service, deployment.sha) == ("web", run["head_sha"])
    assert "filter=latest" in mocked.calls[1].request.url


def test_primary_rate_limit_waits_until_reset(mocked, fake_clock):
    reset = int((RUN_START + timedelta(seconds=30)).timestamp())
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    mocked.add(responses.GET, RUNS, status=403, json={"message": "API rate limit exceeded"}, headers=headers)
    mocked.add(
        responses.GET, RUNS, json={"total_count": 0, "workflow_runs": []}, headers={"x-ratelimit-remaining": "4999"}
    )
    src = source(fake_clock)
    run_batches(src)
    assert fake_clock.sleeps == [30.0]
    assert src.stats.rate_limit_remaining == 4999


def test_rate_limit_longer_than_the_maximum_stops_without_a_cursor(mocked, fake_clock):
    reset = int((RUN_START + timedelta(hours=2)).timestamp())
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    mocked.add(responses.GET, RUNS, status=403, json={"message": "API rate limit exceeded"}, headers=headers)
    yielded, error = run_until_error(source(fake_clock))
    assert isinstance(error, RateLimitedError)
    assert error.until == RUN_START + timedelta(hours=2)
    assert fake_clock.sleeps == [] and merged_cursors(yielded) == {}
    assert TOKEN not in str(error)


# --- re-runs: one deployment per attempt -------------------------------------------------------

DEPLOY_RULES = [{"name": "Build", "environment": "production"}]
CREATED = RUN_START - timedelta(minutes=50)


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def attempt(number: int, started: datetime, status: str, conclusion: str | None) -> dict[str, Any]:
    """Run 9 ("Build", created 11:10) as ``.../attempts/{number}`` returns it: same id, created_at and
    head_sha, its own run_attempt, status, conclusion, run_started_at and updated_at (start + 4 min)."""
    run = variant(doc_run(), 9, CREATED, status, conclusion)
    run.update(run_attempt=number, run_started_at=stamp(started), updated_at=stamp(started + timedelta(minutes=4)))
    run["previous_attempt_url"] = f"{RUNS}/9/attempts/{number - 1}" if number > 1 else None
    return run


def mock_attempts(mocked: responses.RequestsMock, listed: dict[str, Any], *earlier: dict[str, Any]) -> None:
    mocked.add(responses.GET, RUNS, json={"total_count": 1, "workflow_runs": [listed]})
    for run in earlier:
        mocked.add(responses.GET, f"{RUNS}/9/attempts/{run['run_attempt']}", json=run)


def deployments_by_id(batches: list[Any]) -> dict[str, Deployment]:
    return {d.external_id: d for d in records_of(batches, Deployment)}


def test_rerun_of_a_successful_run_is_a_second_deployment_at_its_own_time(mocked, fake_clock):
    first = attempt(1, CREATED, "completed", "success")
    second = attempt(2, CREATED + timedelta(minutes=30), "completed", "success")  # "Re-run all jobs"
    mock_attempts(mocked, second, first)
    batches = run_batches(source(fake_clock, rules=DEPLOY_RULES))
    deployments = deployments_by_id(batches)
    assert sorted(deployments) == [f"{REPO}/actions/runs/9", f"{REPO}/actions/runs/9/attempts/2"]
    original, redeploy = deployments[f"{REPO}/actions/runs/9"], deployments[f"{REPO}/actions/runs/9/attempts/2"]
    assert (original.started_at, original.finished_at) == (CREATED, CREATED + timedelta(minutes=4))
    assert (redeploy.started_at, redeploy.finished_at) == (
        CREATED + timedelta(minutes=30),
        CREATED + timedelta(minutes=34),
    )
    assert original.status is redeploy.status is DeploymentStatus.SUCCESS
    assert original.sha == redeploy.sha == doc_run()["head_sha"]
    assert [c.request.url.split("?")[0] for c in mocked.calls] == [RUNS, f"{RUNS}/9/attempts/1"]
    (pipeline_run,) = records_of(batches, PipelineRun)  # one pipeline run per run: the latest attempt
    assert pipeline_run.external_id == f"{REPO}/actions/runs/9" and pipeline_run.started_at == redeploy.started_at


def test_failed_first_attempt_then_successful_rerun_is_a_failure_and_a_success(mocked, fake_clock):
    first = attempt(1, CREATED, "completed", "failure")
    second = attempt(2, CREATED + timedelta(minutes=20), "completed", "success")  # "Re-run failed jobs"
    mock_attempts(mocked, second, first)
    deployments = deployments_by_id(run_batches(source(fake_clock, rules=DEPLOY_RULES)))
    assert deployments[f"{REPO}/actions/runs/9"].status is DeploymentStatus.FAILURE
    assert deployments[f"{REPO}/actions/runs/9"].finished_at == CREATED + timedelta(minutes=4)
    assert deployments[f"{REPO}/actions/runs/9/attempts/2"].status is DeploymentStatus.SUCCESS
    assert deployments[f"{REPO}/actions/runs/9/attempts/2"].finished_at == CREATED + timedelta(minutes=24)


def test_attempt_one_row_keeps_attempt_one_data_and_the_rebuild_agrees(mocked, fake_clock):
    first = attempt(1, CREATED, "completed", "success")
    second = attempt(2, CREATED + timedelta(minutes=10), "completed", "failure")
    third = attempt(3, CREATED + timedelta(minutes=30), "in_progress", None)  # listed: the latest attempt
    mock_attempts(mocked, third, first, second)
    src = source(fake_clock, rules=DEPLOY_RULES)
    batches = run_batches(src)
    deployments = deployments_by_id(batches)
    base = deployments[f"{REPO}/actions/runs/9"]
    assert (base.status, base.started_at, base.finished_at) == (
        DeploymentStatus.SUCCESS,
        CREATED,
        CREATED + timedelta(minutes=4),
    )
    assert deployments[f"{REPO}/actions/runs/9/attempts/2"].status is DeploymentStatus.FAILURE
    running = deployments[f"{REPO}/actions/runs/9/attempts/3"]
    assert (running.status, running.finished_at) == (DeploymentStatus.IN_PROGRESS, None)
    assert merged_cursors(batches)[CURSOR] == stamp(CREATED)  # the unfinished re-run pins the cursor
    payloads = records_of(batches, RawPayload)
    assert sorted(p.external_id for p in payloads if p.kind == "github_actions.workflow_run_attempt") == [
        f"{REPO}/actions/runs/9/attempts/1",
        f"{REPO}/actions/runs/9/attempts/2",
    ]
    rebuilt = records_from_payloads(src.settings, src.context, payloads)
    assert {d.external_id: d for d in rebuilt if isinstance(d, Deployment)} == deployments


def test_first_attempt_run_is_one_deployment_without_an_extra_request(mocked, fake_clock):
    only = attempt(1, CREATED, "completed", "success")
    rerun_not_deployed = variant(webhook_run(), 8, CREATED, "completed", "success")  # "test.yml": no rule
    rerun_not_deployed["run_attempt"] = 2
    mocked.add(responses.GET, RUNS, json={"total_count": 2, "workflow_runs": [only, rerun_not_deployed]})
    batches = run_batches(source(fake_clock, rules=DEPLOY_RULES))
    (deployment,) = records_of(batches, Deployment)
    assert deployment.external_id == f"{REPO}/actions/runs/9"
    assert (deployment.status, deployment.finished_at) == (DeploymentStatus.SUCCESS, CREATED + timedelta(minutes=4))
    assert len(mocked.calls) == 1  # the listing only: no attempt is fetched


# --- runs that never ran: no deployment, no failed attempt ---------------------------------------


def test_action_required_and_stale_runs_are_no_deployments_and_the_rebuild_agrees(mocked, fake_clock):
    # action_required: the run waits for an approval and none of its jobs started; stale: GitHub gave up on
    # it before it completed. Neither attempted a deployment, so neither is a failed attempt.
    created = RUN_START - timedelta(minutes=40)
    conclusions = {1: "action_required", 2: "stale", 3: "cancelled", 4: "failure"}
    runs = [variant(doc_run(), i, created + timedelta(minutes=i), "completed", c) for i, c in conclusions.items()]
    mocked.add(responses.GET, RUNS, json={"total_count": 4, "workflow_runs": runs})
    src = source(fake_clock, rules=DEPLOY_RULES)
    batches = run_batches(src)
    statuses = {r.external_id.rsplit("/", 1)[1]: r.status for r in records_of(batches, PipelineRun)}
    assert statuses == {"1": "action_required", "2": "stale", "3": "cancelled", "4": "failure"}  # all kept as runs
    deployments = deployments_by_id(batches)
    assert {k: d.status for k, d in deployments.items()} == {
        f"{REPO}/actions/runs/3": DeploymentStatus.CANCELLED,
        f"{REPO}/actions/runs/4": DeploymentStatus.FAILURE,
    }
    rebuilt = records_from_payloads(src.settings, src.context, records_of(batches, RawPayload))
    assert {d.external_id: d for d in rebuilt if isinstance(d, Deployment)} == deployments


def test_action_required_and_stale_jobs_are_no_deployments(mocked, fake_clock):
    run = variant(webhook_run(), 7, RUN_START - timedelta(hours=2), "completed", "action_required")
    run["name"] = "CD"
    mocked.add(responses.GET, RUNS, json={"total_count": 1, "workflow_runs": [run]})
    jobs = [
        {"id": job_id, "run_id": 7, "name": name, "head_sha": run["head_sha"], "status": "completed"}
        | {"conclusion": conclusion, "started_at": None, "completed_at": "2024-06-01T10:03:40Z"}
        for job_id, name, conclusion in ((71, "deploy (eu)", "action_required"), (72, "deploy (us)", "stale"))
    ]
    mocked.add(responses.GET, run["jobs_url"], json={"total_count": 2, "jobs": jobs})
    batches = run_batches(source(fake_clock, job_rules=[{"name": "CD / deploy (*)"}]))
    assert records_of(batches, Deployment) == []
    assert len([p for p in records_of(batches, RawPayload) if p.kind == "github_actions.job"]) == 2

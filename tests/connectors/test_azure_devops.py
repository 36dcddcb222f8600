"""Azure DevOps source over hand-built REST payloads (see tests/fixtures/azure_devops/SOURCE.md)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
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
from responses import matchers

from connectors.azure_devops import AzureDevOpsSource, Settings, records_from_payloads
from connectors.base import SourceContext
from connectors.errors import ErrorKind, SourceError
from connectors.records import Commit, CursorKey, Deployment, DeploymentStatus, PipelineRun, PullRequest, RawPayload

API = "https://dev.azure.com/acme/Shop/_apis"
BUILDS = f"{API}/build/builds"
ENVIRONMENTS = f"{API}/distributedtask/environments"
RECORDS = f"{ENVIRONMENTS}/3/environmentdeploymentrecords"
PULLS = f"{API}/git/repositories/checkout/pullrequests"
PR_COMMITS = f"{API}/git/repositories/checkout/pullRequests/17/commits"
COMMITS = f"{API}/git/repositories/checkout/commits"
PAT = "ado-SECRET-pat-0123456789abcdef"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
S1 = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
S2 = "b2c3d4e5f60718293a4b5c6d7e8f901234567890"
DEPLOY_RULE = {"name": "checkout-*deploy", "ci_environment": "production"}


def fx(name: str):
    return load_fixture("azure_devops", name)


def source(clock: FakeClock, **overrides) -> AzureDevOpsSource:
    data = {
        "name": "ado",
        "kind": "azure_devops",
        "organization": "acme",
        "project": "Shop",
        "token": PAT,
        "per_page": 2,
        "history_days": 30,
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices({"Shop/checkout": "checkout"}))
    return AzureDevOpsSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def calls_to(mocked, url: str) -> list:
    return [c for c in mocked.calls if c.request.url.split("?")[0] == url]


def token(value: str | None) -> list:
    """Matches the request carrying ``continuationToken=value`` (``None``: carrying none)."""

    def match(request) -> tuple[bool, str]:
        sent = parse_qs(urlsplit(request.url).query).get("continuationToken", [None])[0]
        return sent == value, f"continuationToken {sent!r} is not {value!r}"

    return [match]


def mock_builds(mocked) -> None:
    mocked.add(responses.GET, BUILDS, json=fx("builds_page2.json"), match=token("tok-2"))
    first = [matchers.query_param_matcher({"queryOrder": "finishTimeAscending"}, strict_match=False)]
    mocked.add(
        responses.GET, BUILDS, json=fx("builds_page1.json"), headers={"x-ms-continuationtoken": "tok-2"}, match=first
    )


def mock_records(mocked) -> None:
    mocked.add(responses.GET, ENVIRONMENTS, json=fx("environments.json"))
    mocked.add(responses.GET, RECORDS, json=fx("records_page2.json"), match=token("rec-2"))
    mocked.add(
        responses.GET,
        RECORDS,
        json=fx("records_page1.json"),
        headers={"x-ms-continuationtoken": "rec-2"},
        match=token(None),
    )
    mocked.add(responses.GET, f"{BUILDS}/104", json=fx("build_104.json"))


def test_builds_two_continuation_pages_become_pipeline_runs_with_a_watermark(mocked, fake_clock):
    mock_builds(mocked)
    batches = run_batches(source(fake_clock))
    runs = {r.external_id: r for r in records_of(batches, PipelineRun)}
    assert list(runs) == ["Shop/builds/101", "Shop/builds/102", "Shop/builds/103"]
    calls = calls_to(mocked, BUILDS)
    assert [params_of(c).get("continuationToken") for c in calls] == [None, "tok-2"]
    first = params_of(calls[0])
    assert first["minTime"] == "2024-05-02T12:00:00Z" and first["statusFilter"] == "completed"
    assert first["api-version"] == "7.1"
    basic = base64.b64encode(f":{PAT}".encode()).decode()
    assert calls[0].request.headers["Authorization"] == f"Basic {basic}"
    ci = runs["Shop/builds/101"]
    assert ci.repo == "Shop/checkout" and ci.name == "checkout-ci" and ci.branch == "main" and ci.sha == S1
    assert ci.status == "succeeded"
    assert ci.duration_seconds == 360.0  # 09:00:05.5 → 09:06:05.5
    assert ci.created_at == datetime(2024, 5, 20, 9, 0, 0, 123456, tzinfo=UTC)  # 7 fraction digits truncated
    assert runs["Shop/builds/103"].status == "failed"
    assert [b.cursors[CursorKey("builds")] for b in batches] == ["2024-05-20T10:04:10Z", "2024-05-21T10:02:40Z"]
    assert not records_of(batches, Deployment)  # no rules: no deployments


def test_environment_records_matching_rules_are_deployments_with_the_builds_sha(mocked, fake_clock):
    mock_builds(mocked)
    mock_records(mocked)
    batches = run_batches(source(fake_clock, rules=[DEPLOY_RULE], environments=["production"]))
    deployments = {d.external_id: d for d in records_of(batches, Deployment)}
    # record 51 is the checkout-ci smoke stage: it matches no rule and is not a deployment
    assert sorted(deployments) == [
        "Shop/environments/3/runs/102",
        "Shop/environments/3/runs/103",
        "Shop/environments/3/runs/104",
    ]
    ok = deployments["Shop/environments/3/runs/102"]
    assert (ok.status, ok.sha, ok.service, ok.environment) == (DeploymentStatus.SUCCESS, S1, "checkout", "production")
    assert ok.finished_at == datetime(2024, 5, 20, 10, 4, tzinfo=UTC)
    assert ok.repo == "Shop/checkout"
    failed = deployments["Shop/environments/3/runs/103"]
    assert failed.status is DeploymentStatus.FAILURE and failed.sha == S2
    running = deployments["Shop/environments/3/runs/104"]
    assert running.status is DeploymentStatus.IN_PROGRESS and running.finished_at is None
    # builds 101-103 were listed already; only the running build 104 is read one by one
    assert [c.request.url.split("?")[0] for c in mocked.calls if "/builds/" in c.request.url] == [f"{BUILDS}/104"]
    assert [params_of(c).get("continuationToken") for c in calls_to(mocked, RECORDS)] == [None, "rec-2"]
    # staging (id 4) is not read: only the listed records URL of production was called
    assert not any("/environments/4/" in c.request.url for c in mocked.calls)
    # the watermark is held at the running record's queueTime so that it is re-read next run
    assert merged_cursors(batches)[CursorKey("environment_records", "production")] == "2024-05-22T10:01:00Z"
    kinds = {r.kind for r in records_of(batches, RawPayload)}
    assert kinds == {"azure_devops.build", "azure_devops.deployment_record"}


def test_resume_stops_the_newest_first_records_below_the_watermark(mocked, fake_clock):
    mocked.add(responses.GET, ENVIRONMENTS, json=fx("environments.json"))
    mocked.add(
        responses.GET,
        RECORDS,
        json=fx("records_page1.json"),
        headers={"x-ms-continuationtoken": "rec-2"},
        match=token(None),
    )
    mocked.add(responses.GET, f"{BUILDS}/104", json=fx("build_104.json"))
    mocked.add(responses.GET, f"{BUILDS}/103", json=fx("builds_page2.json")["value"][0])
    stored = {CursorKey("environment_records", "production"): "2024-05-22T10:01:00Z"}
    batches = run_batches(source(fake_clock, rules=[DEPLOY_RULE], environments=["production"], pipelines=False), stored)
    # lookback 1h: from 09:01 on the 22nd (run 104 was queued at 10:00); record 53 (queued on the 21st)
    # ends the listing, page 2 is not read
    assert [d.external_id for d in records_of(batches, Deployment)] == ["Shop/environments/3/runs/104"]
    assert len(calls_to(mocked, RECORDS)) == 1
    assert not calls_to(mocked, BUILDS)  # pipelines off and deployments from environments: no build listing


def test_deployments_from_builds_use_rules_on_the_pipeline_name(mocked, fake_clock):
    mock_builds(mocked)
    batches = run_batches(source(fake_clock, deployments_from="builds", rules=[{"name": "checkout-deploy"}]))
    deployments = {d.external_id: d for d in records_of(batches, Deployment)}
    assert sorted(deployments) == ["Shop/builds/102", "Shop/builds/103"]  # checkout-ci matches no rule
    assert deployments["Shop/builds/102"].environment == "production"
    assert deployments["Shop/builds/103"].status is DeploymentStatus.FAILURE
    assert not calls_to(mocked, ENVIRONMENTS)


def test_completed_pull_requests_with_commits_over_continuation_pages(mocked, fake_clock):
    skip2 = [matchers.query_param_matcher({"$skip": "2"}, strict_match=False)]
    mocked.add(responses.GET, PULLS, json={"count": 0, "value": []}, match=skip2)
    mocked.add(responses.GET, PULLS, json=fx("pullrequests.json"))
    mocked.add(responses.GET, PR_COMMITS, json=fx("pr17_commits_page2.json"), match=token("c-2"))
    mocked.add(
        responses.GET,
        PR_COMMITS,
        json=fx("pr17_commits_page1.json"),
        headers={"x-ms-continuationtoken": "c-2"},
        match=token(None),
    )
    commits_skip2 = [matchers.query_param_matcher({"searchCriteria.$skip": "2"}, strict_match=False)]
    mocked.add(responses.GET, COMMITS, json={"count": 0, "value": []}, match=commits_skip2)
    mocked.add(responses.GET, COMMITS, json=fx("commits.json"))
    batches = run_batches(source(fake_clock, repositories=["checkout"], pipelines=False))
    (pull,) = records_of(batches, PullRequest)  # PR 12 closed before the window: skipped
    assert pull.repo == "Shop/checkout" and pull.number == 17
    assert pull.merged_at == datetime(2024, 5, 20, 8, 50, 0, 456000, tzinfo=UTC)
    assert pull.merge_sha == S1
    assert (pull.head_branch, pull.base_branch, pull.labels) == ("feature/cache", "main", ("perf",))
    assert pull.commits == ("0718293a4b5c6d7e8f90123456789012345abcde", "d4e5f60718293a4b5c6d7e8f9012345678901234")
    assert pull.first_commit_at == datetime(2024, 5, 19, 14, 0, tzinfo=UTC)
    pr_params = params_of(calls_to(mocked, PULLS)[0])
    assert pr_params["searchCriteria.status"] == "completed"
    assert pr_params["searchCriteria.minTime"] == "2024-05-02T12:00:00Z"
    assert (pr_params["$top"], pr_params["$skip"]) == ("2", "0")
    commits = records_of(batches, Commit)
    assert [c.sha for c in commits] == [S1, "0718293a4b5c6d7e8f90123456789012345abcde"]
    assert commits[0].message == "Merged PR 17: Faster checkout"
    # a full page (2 = $top) asks for the next one; an empty page ends the listing
    assert [params_of(c)["searchCriteria.$skip"] for c in calls_to(mocked, COMMITS)] == ["0", "2"]
    cursors = merged_cursors(batches)
    assert cursors[CursorKey("pull_requests", "Shop/checkout")] == "2024-05-20T08:50:00Z"
    assert cursors[CursorKey("commits", "Shop/checkout")] == "2024-05-20T08:50:00Z"


def test_a_full_page_of_pull_requests_asks_for_the_next_skip(mocked, fake_clock):
    page1 = fx("pullrequests.json")
    page1["value"][1] = {**page1["value"][0], "pullRequestId": 18}
    skip = [matchers.query_param_matcher({"$skip": "2"}, strict_match=False)]
    mocked.add(responses.GET, PULLS, json={"count": 0, "value": []}, match=skip)
    mocked.add(
        responses.GET, PULLS, json=page1, match=[matchers.query_param_matcher({"$skip": "0"}, strict_match=False)]
    )
    mocked.add(
        responses.GET, f"{API}/git/repositories/checkout/pullRequests/18/commits", json={"count": 0, "value": []}
    )
    mocked.add(responses.GET, PR_COMMITS, json={"count": 0, "value": []})
    mocked.add(responses.GET, COMMITS, json={"count": 0, "value": []})
    batches = run_batches(source(fake_clock, repositories=["checkout"], pipelines=False))
    assert [p.number for p in records_of(batches, PullRequest)] == [17, 18]
    assert [params_of(c)["$skip"] for c in calls_to(mocked, PULLS)] == ["0", "2"]


def test_429_honours_retry_after_and_a_repeated_token_is_an_error(mocked, fake_clock):
    mocked.add(responses.GET, BUILDS, status=429, headers={"Retry-After": "7", "X-RateLimit-Remaining": "0"})
    mocked.add(responses.GET, BUILDS, json=fx("builds_page1.json"), headers={"x-ms-continuationtoken": "same"})
    mocked.add(responses.GET, BUILDS, json=fx("builds_page2.json"), headers={"x-ms-continuationtoken": "same"})
    batches, error = run_until_error(source(fake_clock))
    assert fake_clock.sleeps == [7.0]
    assert isinstance(error, SourceError) and error.kind is ErrorKind.RETRIABLE
    assert "continuation token" in str(error)
    assert len(records_of(batches, PipelineRun)) == 3  # both pages read before the loop was seen are kept


def test_a_server_ignoring_skip_is_an_error_not_an_endless_loop(mocked, fake_clock):
    mocked.add(responses.GET, PULLS, json={"count": 0, "value": []})
    mocked.add(responses.GET, COMMITS, json=fx("commits.json"))  # the same full page for every $skip
    _, error = run_until_error(source(fake_clock, repositories=["checkout"], pipelines=False))
    assert isinstance(error, SourceError) and "ignored searchCriteria.$skip" in str(error)
    assert len(calls_to(mocked, COMMITS)) == 2


def test_401_is_fatal_and_the_pat_is_not_leaked(mocked, fake_clock):
    mocked.add(responses.GET, BUILDS, status=401, body="")
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.FATAL
    assert PAT not in str(error)


# --- one deployment per (run, environment) ---------------------------------------------------------


def record(rid: int, run: int, job: str, queued: str, result: str | None = "succeeded", **extra) -> dict:
    """An environment deployment record of job ``job`` of run ``run``, queued at ``queued`` (HH:MM on
    2024-05-30), started a minute and (with a ``result``) finished four minutes later."""
    hour, minute = (int(part) for part in queued.split(":"))
    body = {
        "id": rid,
        "environmentId": 3,
        "planType": "Build",
        "stageName": "Deploy_Prod",
        "jobName": job,
        "stageAttempt": 1,
        "jobAttempt": 1,
        "definition": {"id": 9, "name": "checkout-deploy"},
        "owner": {"id": run, "name": f"20240530.{run}"},
        "queueTime": f"2024-05-30T{hour:02d}:{minute:02d}:00Z",
        "startTime": f"2024-05-30T{hour:02d}:{minute + 1:02d}:00Z",
    }
    if result is not None:
        body |= {"finishTime": f"2024-05-30T{hour:02d}:{minute + 4:02d}:00Z", "result": result}
    return body | extra


def owner_build(run: int, queued: str) -> dict:
    build = fx("build_104.json") | {"id": run, "status": "completed", "result": "succeeded"}
    return build | {"queueTime": f"2024-05-30T{queued}:00Z", "sourceVersion": S2}


def mock_env_pages(mocked, *pages: list[dict]) -> None:
    """The production environment's records over ``pages`` (newest first), chained by tokens p-1, p-2..."""
    mocked.add(responses.GET, ENVIRONMENTS, json=fx("environments.json"))
    for index, items in enumerate(pages):
        headers = {"x-ms-continuationtoken": f"p-{index + 1}"} if index + 1 < len(pages) else {}
        sent = f"p-{index}" if index else None
        mocked.add(
            responses.GET, RECORDS, json={"count": len(items), "value": items}, headers=headers, match=token(sent)
        )


def env_deployments(mocked, fake_clock, cursors=None, **overrides) -> tuple[list, dict[str, Deployment]]:
    settings = {"rules": [DEPLOY_RULE], "environments": ["production"], "pipelines": False} | overrides
    batches = run_batches(source(fake_clock, **settings), cursors)
    return batches, {d.external_id: d for d in records_of(batches, Deployment)}


def test_two_deployment_jobs_of_one_run_to_one_environment_are_one_deployment(mocked, fake_clock):
    mock_env_pages(mocked, [record(302, 201, "DeployWeb", "10:05"), record(301, 201, "DeployApi", "10:00")])
    mocked.add(responses.GET, f"{BUILDS}/201", json=owner_build(201, "09:58"))
    batches, deployments = env_deployments(mocked, fake_clock)
    assert list(deployments) == ["Shop/environments/3/runs/201"]
    (deployment,) = deployments.values()
    assert deployment.status is DeploymentStatus.SUCCESS and deployment.sha == S2
    assert deployment.started_at == datetime(2024, 5, 30, 10, 1, tzinfo=UTC)  # earliest job start
    assert deployment.finished_at == datetime(2024, 5, 30, 10, 9, tzinfo=UTC)  # latest job finish
    # both records are still stored as raw payloads, under their own ids
    assert sorted(p.external_id for p in records_of(batches, RawPayload)) == [
        "Shop/environments/3/records/301",
        "Shop/environments/3/records/302",
    ]
    assert len(calls_to(mocked, f"{BUILDS}/201")) == 1  # the owner build is read once per run


def test_a_retried_job_counts_its_latest_attempt_with_its_times(mocked, fake_clock):
    retried = record(402, 202, "DeployApi", "11:00", jobAttempt=2)
    first = record(401, 202, "DeployApi", "10:00", result="failed")
    mock_env_pages(mocked, [retried, first])
    mocked.add(responses.GET, f"{BUILDS}/202", json=owner_build(202, "09:58"))
    _, deployments = env_deployments(mocked, fake_clock)
    (deployment,) = deployments.values()
    assert deployment.external_id == "Shop/environments/3/runs/202"
    assert deployment.status is DeploymentStatus.SUCCESS
    assert deployment.started_at == datetime(2024, 5, 30, 11, 1, tzinfo=UTC)
    assert deployment.finished_at == datetime(2024, 5, 30, 11, 4, tzinfo=UTC)


def test_a_retried_stage_outranks_a_higher_job_attempt_of_the_earlier_stage_attempt(mocked, fake_clock):
    stage_retry = record(503, 203, "DeployApi", "12:00", result="failed", stageAttempt=2)
    job_retry = record(502, 203, "DeployApi", "11:00", jobAttempt=2)
    mock_env_pages(mocked, [stage_retry, job_retry, record(501, 203, "DeployApi", "10:00", result="failed")])
    mocked.add(responses.GET, f"{BUILDS}/203", json=owner_build(203, "09:58"))
    _, deployments = env_deployments(mocked, fake_clock)
    (deployment,) = deployments.values()
    assert deployment.status is DeploymentStatus.FAILURE
    assert deployment.finished_at == datetime(2024, 5, 30, 12, 4, tzinfo=UTC)


def test_one_failed_job_among_two_makes_the_run_a_failure(mocked, fake_clock):
    mock_env_pages(
        mocked, [record(602, 204, "DeployWeb", "10:05", result="failed"), record(601, 204, "DeployApi", "10:00")]
    )
    mocked.add(responses.GET, f"{BUILDS}/204", json=owner_build(204, "09:58"))
    _, deployments = env_deployments(mocked, fake_clock)
    (deployment,) = deployments.values()
    assert deployment.status is DeploymentStatus.FAILURE
    assert deployment.finished_at == datetime(2024, 5, 30, 10, 9, tzinfo=UTC)


def test_an_unfinished_job_keeps_the_run_in_progress_and_pins_the_watermark(mocked, fake_clock):
    mock_env_pages(
        mocked, [record(702, 205, "DeployWeb", "10:05", result=None), record(701, 205, "DeployApi", "10:00")]
    )
    mocked.add(responses.GET, f"{BUILDS}/205", json=owner_build(205, "09:58"))
    batches, deployments = env_deployments(mocked, fake_clock)
    (deployment,) = deployments.values()
    assert deployment.status is DeploymentStatus.IN_PROGRESS and deployment.finished_at is None
    assert merged_cursors(batches)[CursorKey("environment_records", "production")] == "2024-05-30T10:05:00Z"


def test_records_of_one_run_over_two_pages_are_one_deployment(mocked, fake_clock):
    page1 = [record(802, 206, "DeployWeb", "10:05", result="failed")]
    page2 = [record(801, 206, "DeployApi", "10:00"), record(800, 199, "DeployApi", "08:00")]
    mock_env_pages(mocked, page1, page2)
    mocked.add(responses.GET, f"{BUILDS}/206", json=owner_build(206, "09:58"))
    mocked.add(responses.GET, f"{BUILDS}/199", json=owner_build(199, "07:58"))
    batches, deployments = env_deployments(mocked, fake_clock)
    assert sorted(deployments) == ["Shop/environments/3/runs/199", "Shop/environments/3/runs/206"]
    assert deployments["Shop/environments/3/runs/206"].status is DeploymentStatus.FAILURE
    assert deployments["Shop/environments/3/runs/206"].started_at == datetime(2024, 5, 30, 10, 1, tzinfo=UTC)
    # the deployments and the cursor are stored together, once the environment's listing is complete
    assert [b.cursors for b in batches if records_of([b], Deployment)] == [
        {CursorKey("environment_records", "production"): "2024-05-30T10:05:00Z"}
    ]


def test_a_retry_seen_in_a_later_sync_rereads_the_whole_run_below_the_watermark(mocked, fake_clock):
    # the last sync stored run 207 as a failure (job DeployApi failed at 10:00) with the watermark at
    # 10:05; the job is retried at 14:00. Listing from 09:05 (1h look-back) would stop at the 10:00
    # record's page without seeing job DeployWeb (08:30): the run is read back to its queue time.
    retry = record(904, 207, "DeployApi", "14:00", jobAttempt=2)
    failed = record(903, 207, "DeployApi", "10:00", result="failed")
    web = record(902, 207, "DeployWeb", "08:30")
    older = record(901, 198, "DeployApi", "06:00", result="failed")  # an older run: not re-mapped
    mock_env_pages(mocked, [retry, failed], [web], [older], [record(900, 197, "DeployApi", "05:00")])
    mocked.add(responses.GET, f"{BUILDS}/207", json=owner_build(207, "08:20"))
    stored = {CursorKey("environment_records", "production"): "2024-05-30T10:05:00Z"}
    batches, deployments = env_deployments(mocked, fake_clock, stored)
    assert list(deployments) == ["Shop/environments/3/runs/207"]
    deployment = deployments["Shop/environments/3/runs/207"]
    assert deployment.status is DeploymentStatus.SUCCESS
    assert deployment.started_at == datetime(2024, 5, 30, 8, 31, tzinfo=UTC)  # DeployWeb's start
    assert deployment.finished_at == datetime(2024, 5, 30, 14, 4, tzinfo=UTC)  # the retry's finish
    # pages up to the one passing run 207's queue time (08:20 - 1h look-back) were read, not the last
    assert [params_of(c).get("continuationToken") for c in calls_to(mocked, RECORDS)] == [None, "p-1", "p-2"]
    assert not calls_to(mocked, f"{BUILDS}/198")
    payloads = sorted(p.external_id for p in records_of(batches, RawPayload))
    assert payloads == [f"Shop/environments/3/records/{rid}" for rid in (902, 903, 904)]
    assert merged_cursors(batches, stored)[CursorKey("environment_records", "production")] == "2024-05-30T14:00:00Z"


# --- completed with issues: deployed, a success unless succeeded_with_issues_is says failure ---------


@pytest.mark.parametrize(
    ("setting", "expected"),
    [({}, DeploymentStatus.SUCCESS), ({"succeeded_with_issues_is": "failure"}, DeploymentStatus.FAILURE)],
)
def test_a_job_succeeded_with_issues_is_a_success_unless_the_setting_says_failure(
    mocked, fake_clock, setting, expected
):
    # succeededWithIssues: the deployment job ran to its end, a step reported an error or warning
    # without stopping it (e.g. continueOnError): the deploy steps ran.
    warned = record(702, 205, "DeployWeb", "10:05", result="succeededWithIssues")
    mock_env_pages(mocked, [warned, record(701, 205, "DeployApi", "10:00")])
    mocked.add(responses.GET, f"{BUILDS}/205", json=owner_build(205, "09:58"))
    _, deployments = env_deployments(mocked, fake_clock, **setting)
    (deployment,) = deployments.values()
    assert deployment.status is expected
    assert deployment.finished_at == datetime(2024, 5, 30, 10, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("setting", "expected"),
    [({}, DeploymentStatus.SUCCESS), ({"succeeded_with_issues_is": "failure"}, DeploymentStatus.FAILURE)],
)
def test_a_partially_succeeded_build_is_a_success_unless_the_setting_says_failure_and_the_rebuild_agrees(
    mocked, fake_clock, setting, expected
):
    page = fx("builds_page2.json")
    page["value"][0]["result"] = "partiallySucceeded"  # build 103, checkout-deploy
    mocked.add(responses.GET, BUILDS, json=page)
    src = source(fake_clock, deployments_from="builds", rules=[{"name": "checkout-deploy"}], **setting)
    batches = run_batches(src)
    (deployment,) = records_of(batches, Deployment)
    assert deployment.external_id == "Shop/builds/103" and deployment.status is expected
    rebuilt = records_from_payloads(src.settings, src.context, records_of(batches, RawPayload))
    assert [r for r in rebuilt if isinstance(r, Deployment)] == [deployment]


def test_succeeded_with_issues_is_accepts_only_success_or_failure():
    data = {"name": "a", "kind": "azure_devops", "organization": "o", "project": "p", "token": PAT}
    with pytest.raises(ValueError, match="succeeded_with_issues_is"):
        Settings.model_validate(data | {"succeeded_with_issues_is": "ignore"})

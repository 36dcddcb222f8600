"""CircleCI source over payloads built from the API v2 reference (tests/fixtures/circleci, see its
SOURCE.md: no recording exists), replayed with ``responses``."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

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
from sqlalchemy import select

from collector.source_registry import source_kinds
from collector.store.models import DeploymentRow
from collector.store.writer import write_records
from connectors.base import SourceContext
from connectors.circleci import CircleCiSource, Settings
from connectors.circleci_mapping import PipelineFacts, job_deployment
from connectors.deployment_rules import DeploymentRule, RunFacts, match_rule
from connectors.errors import ErrorKind, SourceError
from connectors.records import CursorKey, Deployment, DeploymentStatus, PipelineRun, RawPayload

API = "https://circleci.com/api/v2"
SLUG = "gh/acme/checkout"
PIPELINES = f"{API}/project/{SLUG}/pipeline"
TOKEN = "CCIPAT_secret_0123456789abcdef"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PAGE2_TOKEN = "AARLwwV4XqVvnjBIQVAKfT3KU5sAM6GA6YbdBPjzPB6syJD3_lzQ"
CURSOR = CursorKey("pipelines", SLUG)
DEPLOY_RULE = {"name": "build-and-deploy", "branch": "main", "environment": "production"}


def fixture(name: str) -> Any:
    return load_fixture("circleci", name)


def pipeline_id(number: int) -> str:
    return f"a{number - 100}c1b6e2-0f3d-4c55-9f41-7d2a9c0e1b0{number - 100}"


def source(clock: FakeClock, **overrides: Any) -> CircleCiSource:
    data: dict[str, Any] = {
        "name": "circle",
        "kind": "circleci",
        "token": TOKEN,
        "projects": [SLUG],
        "rules": [DEPLOY_RULE],
        "history_days": 30,
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices({"acme/checkout": "checkout"}))
    return CircleCiSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def first_page_only() -> list:
    return [matchers.query_param_matcher({}, strict_match=True)]


def mock_pipelines(mocked: responses.RequestsMock, *, second: bool = True) -> None:
    mocked.add(responses.GET, PIPELINES, json=fixture("pipelines_page1.json"), match=first_page_only())
    if second:
        mocked.add(
            responses.GET,
            PIPELINES,
            json=fixture("pipelines_page2.json"),
            match=[matchers.query_param_matcher({"page-token": PAGE2_TOKEN})],
        )


def mock_workflows(mocked: responses.RequestsMock, number: int, name: str | None = None) -> None:
    body = fixture(name or f"workflows_{number}.json")
    mocked.add(responses.GET, f"{API}/pipeline/{pipeline_id(number)}/workflow", json=body)


def mock_all(mocked: responses.RequestsMock) -> None:
    mock_pipelines(mocked)
    for number in (104, 103, 102, 101):
        mock_workflows(mocked, number)


def pipeline_calls(mocked: responses.RequestsMock) -> list[str]:
    return [c.request.url for c in mocked.calls if c.request.url.split("?")[0] == PIPELINES]


def test_two_pages_give_a_run_per_workflow_and_deployments_for_matching_workflows(mocked, fake_clock):
    mock_all(mocked)
    batches = run_batches(source(fake_clock))
    runs = {r.external_id.rsplit("/", 1)[-1]: r for r in records_of(batches, PipelineRun)}
    assert len(runs) == 5  # 104: 1, 103: 2, 102: 1, 101: 1
    assert pipeline_calls(mocked) == [PIPELINES, f"{PIPELINES}?page-token={PAGE2_TOKEN}"]
    assert mocked.calls[0].request.headers["Circle-Token"] == TOKEN

    ok = runs["f3000000-0000-4000-8000-000000000103"]
    assert ok.external_id == f"{SLUG}/workflow/f3000000-0000-4000-8000-000000000103"
    assert (ok.name, ok.status, ok.repo, ok.branch) == ("build-and-deploy", "success", "acme/checkout", "main")
    assert ok.sha == "3" * 40  # the pipeline's vcs.revision
    assert ok.created_at == datetime(2024, 5, 31, 15, 0, 5, tzinfo=UTC)
    assert ok.finished_at == datetime(2024, 5, 31, 15, 12, 5, tzinfo=UTC)
    assert ok.duration_seconds == 720.0
    running = runs["f4000000-0000-4000-8000-000000000104"]
    assert running.status == "running" and running.finished_at is None and running.duration_seconds is None

    deployments = {d.external_id.rsplit("/", 1)[-1]: d for d in records_of(batches, Deployment)}
    # nightly-lint (name) and 102's test (branch feature/x, name) match no rule: runs only
    assert set(deployments) == {
        "f4000000-0000-4000-8000-000000000104",
        "f3000000-0000-4000-8000-000000000103",
        "f1000000-0000-4000-8000-000000000101",
    }
    success = deployments["f3000000-0000-4000-8000-000000000103"]
    assert success.status is DeploymentStatus.SUCCESS
    assert (success.service, success.environment, success.sha) == ("checkout", "production", "3" * 40)
    assert success.finished_at == datetime(2024, 5, 31, 15, 12, 5, tzinfo=UTC)
    assert deployments["f1000000-0000-4000-8000-000000000101"].status is DeploymentStatus.FAILURE
    assert deployments["f4000000-0000-4000-8000-000000000104"].status is DeploymentStatus.IN_PROGRESS

    kinds = sorted(r.kind for r in records_of(batches, RawPayload))
    assert kinds == ["circleci.pipeline"] * 4 + ["circleci.workflow"] * 5
    # the running workflow of #104 (created 2 h before the run) pins the cursor at its pipeline's creation
    assert merged_cursors(batches)[CURSOR] == "2024-06-01T10:00:00Z"
    assert batches[-1].records == () and set(batches[-1].cursors) == {CURSOR}


def test_resume_stops_below_watermark_minus_lookback_and_advances_once_finished(mocked, fake_clock):
    mock_pipelines(mocked)
    mock_workflows(mocked, 104, "workflows_104_finished.json")
    mock_workflows(mocked, 103)
    stored = {CURSOR: "2024-06-01T10:00:00Z"}
    batches = run_batches(source(fake_clock, lookback="20h"), stored)
    # start = 10:00 - 20 h = 2024-05-31 14:00: #104 and #103 are read; page 2 holds only older
    # pipelines, whose workflows are never read, and the listing stops there
    assert len(pipeline_calls(mocked)) == 2
    assert not any(pipeline_id(n) in c.request.url for n in (101, 102) for c in mocked.calls)
    assert {r.sha for r in records_of(batches, PipelineRun)} == {"4" * 40, "3" * 40}
    deployment = next(d for d in records_of(batches, Deployment) if d.sha == "4" * 40)
    assert deployment.status is DeploymentStatus.SUCCESS
    assert deployment.finished_at == datetime(2024, 6, 1, 10, 9, 34, tzinfo=UTC)
    assert merged_cursors(batches, stored)[CURSOR] == "2024-06-01T10:00:00Z"


def test_resume_with_short_lookback_reads_only_newer_pipelines(mocked, fake_clock):
    mock_pipelines(mocked, second=False)
    mock_workflows(mocked, 104, "workflows_104_finished.json")
    stored = {CURSOR: "2024-06-01T09:30:00Z"}
    batches = run_batches(source(fake_clock), stored)  # lookback 1 h: start 08:30, #103 (May 31) is older
    assert len(records_of(batches, PipelineRun)) == 1
    assert not any("a3c1b6e2" in c.request.url for c in mocked.calls)
    assert merged_cursors(batches, stored)[CURSOR] == "2024-06-01T10:00:00Z"


def test_job_rules_page_through_jobs_and_skip_approval_jobs(mocked, fake_clock):
    mock_pipelines(mocked)
    mock_workflows(mocked, 104, "workflows_104_finished.json")
    mock_workflows(mocked, 103)
    mocked.add(
        responses.GET,
        f"{API}/workflow/f3000000-0000-4000-8000-000000000103/job",
        json=fixture("jobs_103_page2.json"),
        match=[matchers.query_param_matcher({"page-token": "AARLwwUjobs2"})],
    )
    mocked.add(
        responses.GET,
        f"{API}/workflow/f3000000-0000-4000-8000-000000000103/job",
        json=fixture("jobs_103.json"),
        match=first_page_only(),
    )
    for wid in ("f4000000-0000-4000-8000-000000000104", "f3100000-0000-4000-8000-000000000103"):
        mocked.add(responses.GET, f"{API}/workflow/{wid}/job", json={"items": [], "next_page_token": None})
    job_rules = [
        {"name": "build-and-deploy / deploy-production", "environment": "production", "service": "checkout-api"},
        {"name": "* / deploy-staging", "environment": "staging"},
        {"name": "* / hold-*", "environment": "production"},  # an approval job: never a deployment
    ]
    stored = {CURSOR: "2024-06-01T10:00:00Z"}
    batches = run_batches(source(fake_clock, rules=[], job_rules=job_rules, lookback="20h"), stored)
    found = records_of(batches, Deployment)
    deployments = {d.environment: d for d in found}
    assert len(found) == 2 and set(deployments) == {"production", "staging"}
    prod = deployments["production"]
    assert prod.external_id == f"{SLUG}/job/b0000000-0000-4000-8000-000000001034"
    assert (prod.service, prod.status, prod.sha) == ("checkout-api", DeploymentStatus.SUCCESS, "3" * 40)
    assert prod.started_at == datetime(2024, 5, 31, 15, 10, tzinfo=UTC)
    assert prod.finished_at == datetime(2024, 5, 31, 15, 12, tzinfo=UTC)
    assert deployments["staging"].service == "checkout"  # repository mapping
    assert sum(r.kind == "circleci.job" for r in records_of(batches, RawPayload)) == 4


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("success", DeploymentStatus.SUCCESS),
        ("failed", DeploymentStatus.FAILURE),
        ("error", DeploymentStatus.ERROR),
        ("canceled", DeploymentStatus.CANCELLED),
        ("not_run", DeploymentStatus.CANCELLED),
        ("unauthorized", DeploymentStatus.CANCELLED),
        ("failing", DeploymentStatus.IN_PROGRESS),
        ("on_hold", DeploymentStatus.IN_PROGRESS),
    ],
)
def test_workflow_statuses_map_to_deployment_statuses(mocked, fake_clock, status, expected):
    page = fixture("pipelines_page1.json")
    page["items"], page["next_page_token"] = page["items"][1:], None
    mocked.add(responses.GET, PIPELINES, json=page)
    workflows = fixture("workflows_103.json")
    workflows["items"][0]["status"] = status
    mocked.add(responses.GET, f"{API}/pipeline/{pipeline_id(103)}/workflow", json=workflows)
    (deployment,) = records_of(run_batches(source(fake_clock)), Deployment)
    assert deployment.status is expected
    assert (deployment.finished_at is None) == (expected is DeploymentStatus.IN_PROGRESS)


def test_repository_of_an_app_project_comes_from_the_vcs_url(mocked, fake_clock):
    slug = "circleci/8e2f3a1b-org/4c5d6e7f-project"
    page = copy.deepcopy(fixture("pipelines_page1.json"))
    page["items"], page["next_page_token"] = page["items"][1:], None
    page["items"][0]["vcs"]["target_repository_url"] = "https://github.com/acme/payments.git"
    mocked.add(responses.GET, f"{API}/project/{slug}/pipeline", json=page)
    mock_workflows(mocked, 103)
    batches = run_batches(source(fake_clock, projects=[slug]))
    assert {r.repo for r in records_of(batches, PipelineRun)} == {"acme/payments"}
    (deployment,) = records_of(batches, Deployment)
    assert deployment.service == "acme/payments"  # unmapped repository: its own name
    assert deployment.external_id.startswith(f"{slug}/workflow/")


def test_429_waits_for_retry_after(mocked, fake_clock):
    page = {"items": [], "next_page_token": None}
    mocked.add(
        responses.GET, PIPELINES, status=429, json={"message": "Too many requests"}, headers={"Retry-After": "7"}
    )
    mocked.add(responses.GET, PIPELINES, json=page, headers={"X-RateLimit-Remaining": "2999"})
    src = source(fake_clock)
    assert run_batches(src) == []
    assert fake_clock.sleeps == [7.0]
    assert src.stats.rate_limit_remaining == 2999


def test_unauthorized_is_fatal_and_the_token_is_redacted(mocked, fake_clock):
    mocked.add(responses.GET, PIPELINES, status=401, json={"message": f"Invalid token provided {TOKEN}"})
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.FATAL
    assert TOKEN not in str(error)


def test_server_error_on_the_second_page_keeps_the_first_without_a_cursor(mocked, fake_clock):
    mocked.add(responses.GET, PIPELINES, json=fixture("pipelines_page1.json"), match=first_page_only())
    mocked.add(responses.GET, PIPELINES, status=500, json={"message": "boom"})
    mock_workflows(mocked, 104, "workflows_104_finished.json")
    mock_workflows(mocked, 103)
    batches, error = run_until_error(source(fake_clock, max_retries=1))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.RETRIABLE
    assert len(records_of(batches, PipelineRun)) == 3
    assert merged_cursors(batches) == {}  # the cursor only moves after a complete listing


def test_repeated_page_token_is_an_error_not_a_loop(mocked, fake_clock):
    looping = {"items": [], "next_page_token": "same"}
    mocked.add(responses.GET, PIPELINES, json=looping)
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError) and "requested" in str(error)
    assert len(pipeline_calls(mocked)) == 2


def test_kind_is_registered_and_settings_are_validated():
    assert source_kinds()["circleci"].settings_model is Settings
    with pytest.raises(ValidationError, match="slug"):
        Settings.model_validate({"name": "c", "token": "t", "projects": ["acme/checkout"]})
    with pytest.raises(ValidationError, match="once"):
        Settings.model_validate({"name": "c", "token": "t", "projects": [SLUG, SLUG]})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("success", DeploymentStatus.SUCCESS),
        ("failed", DeploymentStatus.FAILURE),
        ("timedout", DeploymentStatus.FAILURE),
        ("infrastructure_fail", DeploymentStatus.FAILURE),
        ("retried", DeploymentStatus.CANCELLED),
        ("canceled", DeploymentStatus.CANCELLED),
        ("queued", DeploymentStatus.IN_PROGRESS),
        ("not_running", DeploymentStatus.IN_PROGRESS),
        ("blocked", DeploymentStatus.IN_PROGRESS),
    ],
)
def test_job_statuses_map_to_deployment_statuses(status, expected):
    facts = PipelineFacts(slug=SLUG, repo="acme/checkout", sha="3" * 40, branch="main")
    job = dict(fixture("jobs_103_page2.json")["items"][0], status=status)
    match = match_rule((DeploymentRule(name="*"),), RunFacts(name="deploy-production"))
    assert match is not None
    deployment = job_deployment("circle", facts, job, match, "checkout")
    assert deployment.status is expected
    assert (deployment.finished_at is None) == (expected is DeploymentStatus.IN_PROGRESS)


def test_records_round_trip_through_the_store(mocked, fake_clock, engine):
    mock_all(mocked)
    batches = run_batches(source(fake_clock))
    with engine.begin() as connection:
        for batch in batches:
            write_records(connection, batch.records)
        write_records(connection, [r for b in batches for r in b.records])  # re-emitted: upserted, not doubled
    with engine.connect() as connection:
        rows = connection.execute(select(DeploymentRow.sha, DeploymentRow.status, DeploymentRow.finished_at)).all()
    assert sorted((sha[0], str(status)) for sha, status, _ in rows) == [
        ("1", "failure"),
        ("3", "success"),
        ("4", "in_progress"),
    ]
    finished = {sha[0]: at for sha, _, at in rows}
    assert finished["3"].replace(tzinfo=UTC) == datetime(2024, 5, 31, 15, 12, 5, tzinfo=UTC)

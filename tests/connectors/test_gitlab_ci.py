"""GitLab CI source over the recorded DevLake pipelines and deployments (tests/fixtures/gitlab_ci/),
wrapped into pages here and replayed with ``responses``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
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
from connectors.errors import SourceError
from connectors.gitlab_ci import GitLabCiSource, Settings
from connectors.records import CursorKey, Deployment, DeploymentStatus, PipelineRun, RawPayload

ROOT = "https://gitlab.example.com"
API = f"{ROOT}/api/v4"
PATH = "merico-dev/ee/charts"
PID = 12345678
TOKEN = "glpat-SECRET-abcdefghijklmnop"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PIPELINES = f"{API}/projects/{PID}/pipelines"
DEPLOYMENTS = f"{API}/projects/{PID}/deployments"


def source(clock: FakeClock, **overrides: Any) -> GitLabCiSource:
    data: dict[str, Any] = {
        "name": "glci",
        "kind": "gitlab_ci",
        "base_url": ROOT + "/api/v4",
        "token": TOKEN,
        "projects": [PATH],
        "history_days": 20000,
        "pipeline_details": False,
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices({PATH: "charts"}))
    return GitLabCiSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def mock_project(mocked: responses.RequestsMock) -> None:
    mocked.add(
        responses.GET, f"{API}/projects/{PATH.replace('/', '%2F')}", json={"id": PID, "path_with_namespace": PATH}
    )


def items(name: str) -> list[dict[str, Any]]:
    return [row["body"] for row in load_fixture("gitlab_ci", name)]


def two_pages(mocked: responses.RequestsMock, url: str, rows: list[dict[str, Any]], split: int) -> None:
    """``rows[:split]`` first; the rest answers the listing re-anchored at the last of them (``updated_after``
    is "at or after": that row comes back first)."""
    anchor = {"updated_after": rows[split - 1]["updated_at"]}
    mocked.add(
        responses.GET,
        url,
        json=rows[split - 1 :],
        headers={"X-Next-Page": ""},
        match=[matchers.query_param_matcher(anchor, strict_match=False)],
    )
    mocked.add(responses.GET, url, json=rows[:split], headers={"X-Next-Page": "2"})


def test_two_pages_of_pipelines_each_advance_the_cursor(mocked, fake_clock):
    mock_project(mocked)
    rows = items("pipelines.json")  # 29 pipelines, ids ascending as recorded
    two_pages(mocked, PIPELINES, rows, 10)
    batches = run_batches(source(fake_clock))
    runs = records_of(batches, PipelineRun)
    assert [r.external_id for r in runs] == [f"{PATH}/pipelines/{row['id']}" for row in rows]
    key = CursorKey("pipelines", PATH)
    # newest updated_at of page 1 is item 10 (485814516, 06:35:31.255Z); of everything, 09:41:36.267Z
    assert [b.cursors[key] for b in batches if key in b.cursors] == ["2022-03-07T06:35:31Z", "2022-03-07T09:41:36Z"]
    first = runs[0]  # 457474837: running, ref renovate/pin-dependencies, updated_at null
    assert (first.status, first.branch, first.sha) == ("running", "renovate/pin-dependencies", rows[0]["sha"])
    assert first.created_at == datetime(2022, 1, 27, 10, 7, 9, 429000, tzinfo=UTC)
    assert first.finished_at is None and first.duration_seconds is None  # short list form: no times
    assert len(records_of(batches, RawPayload)) == 29
    assert records_of(batches, Deployment) == []  # no rules: the deployments API is not read
    assert not any(c.request.url.startswith(DEPLOYMENTS) for c in mocked.calls)


def test_pipeline_details_give_times_and_duration(mocked, fake_clock):
    mock_project(mocked)
    row = next(r for r in items("pipelines.json") if r["id"] == 485932863)  # success
    mocked.add(responses.GET, PIPELINES, json=[row], headers={"X-Next-Page": ""})
    # the detail object: the list item plus the documented started_at, finished_at, duration (seconds)
    detail = {**row, "started_at": "2022-03-07T09:30:00.000Z", "finished_at": "2022-03-07T09:41:36.000Z"}
    detail["duration"] = 696  # 09:30:00 → 09:41:36
    mocked.add(responses.GET, f"{PIPELINES}/485932863", json=detail)
    (run,) = records_of(run_batches(source(fake_clock, pipeline_details=True)), PipelineRun)
    assert run.status == "success"
    assert run.started_at == datetime(2022, 3, 7, 9, 30, tzinfo=UTC)
    assert run.finished_at == datetime(2022, 3, 7, 9, 41, 36, tzinfo=UTC)
    assert run.duration_seconds == 696.0


def test_rules_pick_environment_jobs_as_deployments(mocked, fake_clock, caplog):
    mock_project(mocked)
    mocked.add(responses.GET, PIPELINES, json=[], headers={"X-Next-Page": ""})
    mocked.add(responses.GET, DEPLOYMENTS, json=items("deployments.json"), headers={"X-Next-Page": ""})
    rules = [
        {"ci_environment": "production", "branch": "deploy"},
        {"name": "test_deploy_*", "environment": "stage", "service": "vdev"},
    ]
    batches = run_batches(source(fake_clock, rules=rules))
    by_id = {int(d.external_id.rsplit("/", 1)[1]): d for d in records_of(batches, Deployment)}
    # deployments.json: production jobs deploy_vdev on ref "deploy": 13436532 canceled, 13436763 created,
    # 13436986 blocked. Staging jobs test_deploy_vdev on master: 13426753 success, 13432768 failed,
    # 13436778 running; 13432654 "completed" and 13436915 "undeployed" are not GitLab statuses.
    assert {i: d.status for i, d in by_id.items()} == {
        13436532: DeploymentStatus.CANCELLED,
        13436763: DeploymentStatus.IN_PROGRESS,
        13436986: DeploymentStatus.IN_PROGRESS,
        13426753: DeploymentStatus.SUCCESS,
        13432768: DeploymentStatus.FAILURE,
        13436778: DeploymentStatus.IN_PROGRESS,
    }
    assert (by_id[13436532].environment, by_id[13436532].service) == ("production", "charts")
    ok = by_id[13426753]
    assert (ok.environment, ok.service, ok.sha) == ("stage", "vdev", "add237f6852e6108ee8e0246780a54ce909c6087")
    assert ok.finished_at == datetime(2019, 3, 13, 14, 17, 47, 640000, tzinfo=UTC)  # deployable.finished_at
    # 13432768: its job was skipped (no finished_at), so the deployment's updated_at is its end
    assert by_id[13432768].finished_at == datetime(2019, 3, 13, 15, 2, 23, 332000, tzinfo=UTC)
    assert by_id[13436763].finished_at is None  # "created": not over, whatever the job says
    assert sum("not a GitLab deployment status" in r.message for r in caplog.records) == 2


def test_deployment_matching_no_rule_is_not_a_deployment(mocked, fake_clock):
    mock_project(mocked)
    mocked.add(responses.GET, PIPELINES, json=[], headers={"X-Next-Page": ""})
    mocked.add(responses.GET, DEPLOYMENTS, json=items("deployments.json"), headers={"X-Next-Page": ""})
    batches = run_batches(source(fake_clock, rules=[{"ci_environment": "prod*", "branch": "main"}]))
    assert records_of(batches, Deployment) == []
    assert len(records_of(batches, RawPayload)) == 8


def test_resume_sends_watermark_minus_lookback(mocked, fake_clock):
    mock_project(mocked)
    mocked.add(responses.GET, PIPELINES, json=[], headers={"X-Next-Page": ""})
    stored = {CursorKey("pipelines", PATH): "2024-05-02T10:00:00Z"}
    batches = run_batches(source(fake_clock), stored)
    call = next(c for c in mocked.calls if c.request.url.startswith(PIPELINES + "?"))
    assert "updated_after=2024-05-02T09:00:00+00:00" in unquote(call.request.url)
    assert "order_by=updated_at" in call.request.url and "sort=asc" in call.request.url
    assert merged_cursors(batches, stored)[CursorKey("pipelines", PATH)] == "2024-05-02T10:00:00Z"


def test_429_waits_for_retry_after(mocked, fake_clock):
    mock_project(mocked)
    mocked.add(responses.GET, PIPELINES, status=429, body="Retry later", headers={"Retry-After": "4"})
    mocked.add(responses.GET, PIPELINES, json=[], headers={"X-Next-Page": "", "RateLimit-Remaining": "99"})
    src = source(fake_clock)
    run_batches(src)
    assert fake_clock.sleeps == [4.0]
    assert src.stats.rate_limit_remaining == 99


def test_forbidden_project_is_fatal_and_redacted(mocked, fake_clock, caplog):
    caplog.set_level(logging.DEBUG)
    mocked.add(
        responses.GET, f"{API}/projects/{PATH.replace('/', '%2F')}", status=403, json={"message": "403 Forbidden"}
    )
    yielded, error = run_until_error(source(fake_clock))
    assert yielded == []
    assert isinstance(error, SourceError) and "check the token" in str(error)
    assert TOKEN not in caplog.text

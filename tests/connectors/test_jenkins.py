"""Jenkins source over the recorded DevLake builds (tests/fixtures/jenkins/builds.json), replayed with
``responses``. The recording holds single builds: the ``allBuilds`` page objects, folder listings and
running builds (``result: null``) are written here by hand from the Jenkins JSON API docs."""

from __future__ import annotations

import base64
import logging
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote

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
from connectors.errors import ErrorKind, SourceError
from connectors.jenkins import BUILD_FIELDS, JOB_TREE, JenkinsSource, Settings, records_from_payloads
from connectors.records import Batch, CursorKey, Deployment, DeploymentStatus, PipelineRun, RawPayload, Record

ROOT = "https://jenkins.example.com"
TOKEN = "11aa22bb33cc44dd55ee66ff77gg88hh"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
CHINESE = "这是一个改了名字的测试任务"
FREESTYLE = "hudson.model.FreeStyleProject"


def context() -> SourceContext:
    return SourceContext(run_started_at=RUN_START, services=FakeServices({"merico-dev/lake": "lake"}))


def source(clock: FakeClock, **overrides: Any) -> JenkinsSource:
    data: dict[str, Any] = {
        "name": "ci",
        "kind": "jenkins",
        "base_url": ROOT + "/",
        "username": "ci-bot",
        "token": TOKEN,
        "jobs": ["devlake"],
        "history_days": 20000,
    }
    data.update(overrides)
    return JenkinsSource(Settings.model_validate(data), context(), sleep=clock.sleep, clock=clock)


def recorded_builds() -> dict[str, list[dict[str, Any]]]:
    """Recorded builds by job path (``dir-test/pipeline-test``), newest first as Jenkins lists them."""
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in load_fixture("jenkins", "builds.json"):
        path = row["request_url"].split("/api/json")[0].removeprefix("https://test.nddtf.com/job/")
        by_job[unquote(path.replace("/job/", "/"))].append(row["body"])
    return {job: sorted(builds, key=lambda b: b["number"], reverse=True) for job, builds in by_job.items()}


def job_url(path: str) -> str:
    return ROOT + "".join(f"/job/{quote(segment, safe='')}" for segment in path.split("/"))


def mock_job(mocked: responses.RequestsMock, path: str, body: dict[str, Any] | None = None) -> None:
    """The job description request (``tree=JOB_TREE``) of a buildable job, or of a folder ``body``."""
    mocked.add(
        responses.GET,
        f"{job_url(path)}/api/json",
        json=body or {"_class": FREESTYLE, "fullName": path},
        match=[matchers.query_param_matcher({"tree": JOB_TREE})],
    )


def mock_builds(mocked: responses.RequestsMock, path: str, builds: list[dict[str, Any]], size: int) -> None:
    """``allBuilds`` range pages of ``size`` builds, plus the empty page after the last one."""
    for start in range(0, len(builds) + 1, size):
        mocked.add(
            responses.GET,
            f"{job_url(path)}/api/json",
            json={"_class": FREESTYLE, "allBuilds": builds[start : start + size]},
            match=[matchers.query_param_matcher({"tree": f"allBuilds[{BUILD_FIELDS}]{{{start},{start + size}}}"})],
        )


def build_calls(mocked: responses.RequestsMock) -> list[str]:
    return [unquote(c.request.url) for c in mocked.calls if "allBuilds" in unquote(c.request.url)]


def test_folder_walk_and_two_range_pages_emit_every_build(mocked, fake_clock):
    builds = recorded_builds()[CHINESE]  # 9 builds: 10005..10001, 47, 37, 27, 17
    folder = {
        "_class": "com.cloudbees.hudson.plugins.folder.Folder",
        "fullName": "team",
        "jobs": [{"_class": FREESTYLE, "name": CHINESE}],
    }
    mock_job(mocked, "team", folder)
    mock_job(mocked, f"team/{CHINESE}")
    mock_builds(mocked, f"team/{CHINESE}", builds, 5)
    batches = run_batches(source(fake_clock, jobs=["team"], per_page=5))
    runs = records_of(batches, PipelineRun)
    assert [r.external_id for r in runs] == [f"team/{CHINESE}#{b['number']}" for b in builds]
    # page 1 is {0,5} (full, so a next page is asked for), page 2 is {5,10} with 4 builds: the last
    assert [c.split("]]")[-1] for c in build_calls(mocked)] == ["{0,5}", "{5,10}"]
    assert all(f"/job/team/job/{quote(CHINESE, safe='')}/api/json" in c.request.url for c in mocked.calls[1:])
    raws = records_of(batches, RawPayload)
    assert [r.body for r in raws if r.kind == "jenkins.build"] == builds
    # every description walked is stored, keyed by its path, before the builds of its job
    described = [(r.external_id, r.body) for r in raws if r.kind == "jenkins.job"]
    assert described == [("team", folder), (f"team/{CHINESE}", {"_class": FREESTYLE, "fullName": f"team/{CHINESE}"})]
    assert [r.kind for r in raws][:2] == ["jenkins.job", "jenkins.job"]
    assert {r.kind for r in raws} == {"jenkins.job", "jenkins.build"}


def test_build_fields_map_to_run_and_deployment(mocked, fake_clock):
    mock_job(mocked, "devlake")
    mock_builds(mocked, "devlake", recorded_builds()["devlake"], 100)
    batches = run_batches(source(fake_clock, rules=[{"name": "devlake", "branch": "main"}]))
    runs = {r.external_id: r for r in records_of(batches, PipelineRun)}
    run = runs["devlake#31"]
    # builds.json #31: timestamp 1650024049161 ms = 1650000000 s (2022-04-15T05:20:00Z) + 24049.161 s
    started = datetime(2022, 4, 15, 12, 0, 49, 161000, tzinfo=UTC)
    assert run.started_at == run.created_at == started
    assert run.duration_seconds == 1.587  # duration 1587 ms
    assert run.finished_at == started + timedelta(milliseconds=1587)
    assert run.status == "success"
    assert run.sha == "0f886c74949c3ee7e489188911c7dc0c1d547418"  # BuildData lastBuiltRevision.SHA1
    assert run.branch == "main"  # refs/remotes/origin/main
    assert run.repo == "merico-dev/lake"  # remoteUrls https://github.com/merico-dev/lake.git
    assert run.name == "devlake"
    assert runs["devlake#11"].sha == "ceeffdfdd06bce232f9adb3a656265bad13a8473"
    deployments = {d.external_id: d for d in records_of(batches, Deployment)}
    assert set(deployments) == {"devlake#31", "devlake#21", "devlake#11"}
    deployment = deployments["devlake#31"]
    assert deployment.status is DeploymentStatus.SUCCESS
    assert deployment.environment == "production"  # the rule names none and Jenkins has no environment
    assert deployment.service == "lake"  # services mapping of merico-dev/lake
    assert (deployment.sha, deployment.finished_at) == (run.sha, run.finished_at)
    auth = mocked.calls[0].request.headers["Authorization"]
    assert auth == "Basic " + base64.b64encode(f"ci-bot:{TOKEN}".encode()).decode()


def test_builds_matching_no_rule_are_runs_only(mocked, fake_clock):
    mock_job(mocked, "devlake")
    mock_builds(mocked, "devlake", recorded_builds()["devlake"], 100)
    rules = [{"name": "deploy-*"}, {"name": "devlake", "branch": "release/*"}]
    batches = run_batches(source(fake_clock, rules=rules))
    assert len(records_of(batches, PipelineRun)) == 3
    assert records_of(batches, Deployment) == []


def test_results_map_to_deployment_statuses(mocked, fake_clock, caplog):
    builds = recorded_builds()[CHINESE]
    mock_job(mocked, CHINESE)
    mock_builds(mocked, CHINESE, builds, 100)
    rules = [{"name": "这是*", "environment": "staging", "success": ["success", "unstable"], "service": "demo"}]
    batches = run_batches(source(fake_clock, jobs=[CHINESE], rules=rules))
    by_number = {int(d.external_id.rsplit("#", 1)[1]): d.status for d in records_of(batches, Deployment)}
    # builds.json: 10001/10002 have building=true (result set early) → in progress whatever the result;
    # 10003 ABORTED → cancelled; 10005 UNSTABLE listed as success by this rule; 47/37/17 SUCCESS (27 is
    # building=true); 10004 "NOT_BUILD" is no Jenkins result → no deployment, one warning.
    assert by_number == {
        10005: DeploymentStatus.SUCCESS,
        10003: DeploymentStatus.CANCELLED,
        10002: DeploymentStatus.IN_PROGRESS,
        10001: DeploymentStatus.IN_PROGRESS,
        47: DeploymentStatus.SUCCESS,
        37: DeploymentStatus.SUCCESS,
        27: DeploymentStatus.IN_PROGRESS,
        17: DeploymentStatus.SUCCESS,
    }
    assert {d.environment for d in records_of(batches, Deployment)} == {"staging"}
    assert {d.service for d in records_of(batches, Deployment)} == {"demo"}
    runs = {int(r.external_id.rsplit("#", 1)[1]): r for r in records_of(batches, PipelineRun)}
    assert runs[10004].status == "not_build"
    assert runs[10001].status == "in_progress"
    assert runs[10001].finished_at is None and runs[10001].duration_seconds is None
    assert sum("not a Jenkins result" in r.message for r in caplog.records) == 1


def test_unstable_is_a_successful_deployment_by_default(mocked, fake_clock):
    # UNSTABLE: the build ran to its end and a publisher flagged it (e.g. failed tests): the deploy ran.
    builds = [b for b in recorded_builds()[CHINESE] if b["number"] == 10005]
    mock_job(mocked, CHINESE)
    mock_builds(mocked, CHINESE, builds, 100)
    src = source(fake_clock, jobs=[CHINESE], rules=[{}])
    batches = run_batches(src)
    (deployment,) = records_of(batches, Deployment)
    assert deployment.status is DeploymentStatus.SUCCESS
    rebuilt = records_from_payloads(src.settings, context(), records_of(batches, RawPayload))
    assert [r for r in rebuilt if isinstance(r, Deployment)] == [deployment]


@pytest.mark.parametrize(
    ("unstable_is", "rule", "expected"),
    [
        ("failure", {}, DeploymentStatus.FAILURE),  # a job whose deploy step marks a failed rollout UNSTABLE
        ("failure", {"success": ["success", "unstable"]}, DeploymentStatus.SUCCESS),  # the rule's list wins
        ("success", {"success": ["success"]}, DeploymentStatus.SUCCESS),
    ],
)
def test_unstable_is_setting_decides_unstable_builds(mocked, fake_clock, unstable_is, rule, expected):
    builds = [b for b in recorded_builds()[CHINESE] if b["number"] == 10005]
    mock_job(mocked, CHINESE)
    mock_builds(mocked, CHINESE, builds, 100)
    src = source(fake_clock, jobs=[CHINESE], rules=[rule], unstable_is=unstable_is)
    (deployment,) = records_of(run_batches(src), Deployment)
    assert deployment.status is expected


def test_unstable_is_accepts_only_success_or_failure():
    data = {"name": "ci", "kind": "jenkins", "username": "u", "token": TOKEN, "jobs": ["x"], "unstable_is": "error"}
    with pytest.raises(ValueError, match="unstable_is"):
        Settings.model_validate({**data, "base_url": ROOT})


def test_resume_stops_below_watermark_minus_lookback(mocked, fake_clock):
    mock_job(mocked, "devlake")
    mock_builds(mocked, "devlake", recorded_builds()["devlake"], 1)
    stored = {CursorKey("builds", "devlake"): "2022-04-15T12:00:00Z"}
    batches = run_batches(source(fake_clock, per_page=1), stored)
    # listing starts at 11:00:00 (watermark - 1 h lookback): #31 (12:00:49) and #21 (1650022548450 ms
    # = 11:35:48) are read; #11 (1650017416514 ms = 10:10:16) is older, so page 3 ends the listing.
    assert [r.external_id for r in records_of(batches, PipelineRun)] == ["devlake#31", "devlake#21"]
    assert [c.split("]]")[-1] for c in build_calls(mocked)] == ["{0,1}", "{1,2}", "{2,3}"]
    assert merged_cursors(batches, stored)[CursorKey("builds", "devlake")] == "2022-04-15T12:00:49Z"


def running_build(number: int, started: datetime, result: str | None = None) -> dict[str, Any]:
    """Hand-written: a build as the JSON API shows it while running (``building: true``, result null)."""
    return {
        "_class": "hudson.model.FreeStyleBuild",
        "actions": [],
        "building": result is None,
        "duration": 0 if result is None else 90000,
        "number": number,
        "result": result,
        "timestamp": int(started.timestamp() * 1000),
    }


def test_running_build_holds_the_watermark_until_it_finishes(mocked, fake_clock):
    started = RUN_START - timedelta(minutes=30)
    newer = running_build(8, RUN_START - timedelta(minutes=10), "SUCCESS")
    stale = running_build(6, RUN_START - timedelta(days=3))  # stuck for 3 days: beyond pending_recheck (1 d)
    mock_job(mocked, "devlake")
    mock_builds(mocked, "devlake", [newer, running_build(7, started), stale], 100)
    batches = run_batches(source(fake_clock, history_days=5, rules=[{}]))
    cursors = merged_cursors(batches)
    # the newest build started 11:50, but #7 (started 11:30) is running: the watermark stays at 11:30
    assert cursors[CursorKey("builds", "devlake")] == "2024-06-01T11:30:00Z"

    mocked.reset()
    mock_job(mocked, "devlake")
    mock_builds(mocked, "devlake", [newer, running_build(7, started, "FAILURE")], 100)
    second = run_batches(source(fake_clock, history_days=5, rules=[{}]), cursors)
    (redone,) = [d for d in records_of(second, Deployment) if d.external_id == "devlake#7"]
    assert redone.status is DeploymentStatus.FAILURE
    assert redone.finished_at == started + timedelta(seconds=90)
    assert merged_cursors(second, cursors)[CursorKey("builds", "devlake")] == "2024-06-01T11:50:00Z"


def test_multibranch_children_are_branches(mocked, fake_clock):
    template = recorded_builds()["devlake"][0]
    multibranch = {
        "_class": "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject",
        "fullName": "app",
        "jobs": [{"_class": "WorkflowJob", "name": "main"}, {"_class": "WorkflowJob", "name": "feature%2Flogin"}],
    }
    mock_job(mocked, "app", multibranch)
    mock_job(mocked, "app/main", {"_class": "WorkflowJob", "fullName": "app/main"})
    mock_job(mocked, "app/feature%2Flogin", {"_class": "WorkflowJob", "fullName": "app/feature%2Flogin"})
    mock_builds(mocked, "app/main", [template], 100)
    mock_builds(mocked, "app/feature%2Flogin", [template], 100)
    batches = run_batches(source(fake_clock, jobs=[{"path": "app", "service": "app-svc"}], rules=[{"branch": "main"}]))
    runs = {r.external_id: r for r in records_of(batches, PipelineRun)}
    # the multibranch child name decides the branch, not the git data's "main"
    assert {i: r.branch for i, r in runs.items()} == {"app/main#31": "main", "app/feature%2Flogin#31": "feature/login"}
    assert runs["app/feature%2Flogin#31"].name == "app/feature/login"
    # Jenkins URLs encode the %2F of branch job names once more
    assert any("/job/app/job/feature%252Flogin/api/json" in c.request.url for c in mocked.calls)
    (deployment,) = records_of(batches, Deployment)
    assert (deployment.external_id, deployment.service) == ("app/main#31", "app-svc")


def test_429_then_503_are_retried(mocked, fake_clock):
    mocked.add(responses.GET, f"{job_url('devlake')}/api/json", status=429, headers={"Retry-After": "7"})
    mocked.add(responses.GET, f"{job_url('devlake')}/api/json", status=503)
    mock_job(mocked, "devlake")
    mock_builds(mocked, "devlake", recorded_builds()["devlake"], 100)
    src = source(fake_clock)
    assert len(records_of(run_batches(src), PipelineRun)) == 3
    assert fake_clock.sleeps[0] == 7.0
    assert 2.0 <= fake_clock.sleeps[1] <= 2.5  # backoff 1 s * 2**(2-1) plus up to 25 % jitter
    assert src.stats.count(429) == 1 and src.stats.count(503) == 1 and src.stats.retries == 2


def test_unauthorized_is_fatal_and_redacted(mocked, fake_clock, caplog):
    caplog.set_level(logging.DEBUG)
    mocked.add(responses.GET, f"{job_url('devlake')}/api/json", status=401, body=f"bad token {TOKEN}")
    yielded, error = run_until_error(source(fake_clock))
    assert yielded == []
    assert isinstance(error, SourceError) and error.kind is ErrorKind.FATAL
    assert "check the token" in str(error)
    assert TOKEN not in str(error) and TOKEN not in caplog.text


def test_server_error_on_second_page_keeps_the_first_page_without_a_cursor(mocked, fake_clock):
    builds = recorded_builds()["devlake"]
    mock_job(mocked, "devlake")
    mocked.add(  # registered first, so it answers the {2,4} page before mock_builds' empty page would
        responses.GET,
        f"{job_url('devlake')}/api/json",
        status=500,
        match=[matchers.query_param_matcher({"tree": f"allBuilds[{BUILD_FIELDS}]{{2,4}}"})],
    )
    mock_builds(mocked, "devlake", builds[:2], 2)
    yielded, error = run_until_error(source(fake_clock, per_page=2))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.RETRIABLE
    assert error.page is not None and error.page.startswith("2 ")
    assert [r.external_id for r in records_of(yielded, PipelineRun)] == ["devlake#31", "devlake#21"]
    assert merged_cursors(yielded) == {}  # the watermark is stored only once the listing is complete


@pytest.mark.parametrize(
    ("jobs", "message"),
    [([], "at least 1"), (["a", "a/"], "listed once"), (["a//b"], "full name")],
)
def test_settings_reject_bad_jobs(jobs, message):
    with pytest.raises(ValueError, match=message):
        Settings.model_validate({"name": "ci", "base_url": ROOT, "username": "u", "token": TOKEN, "jobs": jobs})


# --- rebuild from stored payloads ---------------------------------------------------------------

ORG_JOBS: list[Any] = ["devlake", "team", {"path": "app", "service": "app-svc"}]
ORG_RULES: list[dict[str, Any]] = [
    {"name": "devlake", "branch": "main"},
    {"name": "app/*", "branch": "main"},
    {"name": "team/*", "environment": "staging", "success": ["success", "unstable"]},
]
TEAM_FOLDER = {
    "_class": "com.cloudbees.hudson.plugins.folder.Folder",
    "fullName": "team",
    "jobs": [{"_class": FREESTYLE, "name": CHINESE}],
}
MULTIBRANCH = "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject"


def app_multibranch(*branches: str) -> dict[str, Any]:
    jobs = [{"_class": "WorkflowJob", "name": name} for name in branches]
    return {"_class": MULTIBRANCH, "fullName": "app", "jobs": jobs}


def mock_organisation(mocked: responses.RequestsMock, branches: tuple[str, ...] = ("main", "feature%2Flogin")) -> None:
    """A plain job (devlake), a folder (team) holding the renamed job, a multibranch pipeline (app)."""
    recorded = recorded_builds()
    mock_job(mocked, "devlake")
    mock_builds(mocked, "devlake", recorded["devlake"], 100)
    mock_job(mocked, "team", TEAM_FOLDER)
    mock_job(mocked, f"team/{CHINESE}")
    mock_builds(mocked, f"team/{CHINESE}", recorded[CHINESE], 100)
    mock_job(mocked, "app", app_multibranch(*branches))
    for branch in branches:
        mock_job(mocked, f"app/{branch}", {"_class": "WorkflowJob", "fullName": f"app/{branch}"})
        mock_builds(mocked, f"app/{branch}", [recorded["devlake"][0]], 100)


def org_source(clock: FakeClock, **overrides: Any) -> JenkinsSource:
    return source(clock, **{"jobs": ORG_JOBS, "rules": ORG_RULES, **overrides})


def stored_payloads(*runs: list[Batch]) -> list[RawPayload]:
    """The raw payloads a store holds after these runs: one per kind and id, the last body, first order."""
    stored: dict[tuple[str, str], RawPayload] = {}
    for batches in runs:
        for raw in records_of(batches, RawPayload):
            stored[(raw.kind, raw.external_id)] = raw
    return list(stored.values())


def rows(records: list[Record] | list[Batch]) -> dict[tuple[str, str], Any]:
    """Runs and deployments by (type, external id), the last record of a key winning as in the store."""
    flat = [r for b in records for r in b.records] if records and isinstance(records[0], Batch) else records
    return {(type(r).__name__, r.external_id): r for r in flat if isinstance(r, PipelineRun | Deployment)}


def test_rebuild_from_stored_payloads_gives_what_the_sync_wrote(mocked, fake_clock):
    mock_organisation(mocked)
    src = org_source(fake_clock)
    synced = run_batches(src)
    rebuilt = records_from_payloads(src.settings, context(), stored_payloads(synced))
    assert rows(rebuilt) == rows(synced)
    deployments = {d.external_id: (d.service, d.environment) for d in records_of(synced, Deployment)}
    assert deployments["app/main#31"] == ("app-svc", "production")  # the multibranch child's branch is main
    assert deployments["devlake#31"] == ("lake", "production")
    # no git data in these builds: the service is the job name's, unmapped
    assert deployments[f"team/{CHINESE}#47"] == (f"team/{CHINESE}", "staging")
    assert "app/feature%2Flogin#31" not in deployments
    assert not any(isinstance(r, RawPayload) for r in rebuilt)


def test_rebuild_follows_changed_job_settings_and_rules(mocked, fake_clock):
    mock_organisation(mocked)
    src = org_source(fake_clock)
    stored = stored_payloads(run_batches(src))
    jobs = ["devlake", "team", {"path": "app", "service": "storefront"}]
    settings = Settings.model_validate({**src.settings.model_dump(), "jobs": jobs, "rules": [{"name": "app/*"}]})
    rebuilt = records_from_payloads(settings, context(), stored)
    deployments = {r.external_id: r for r in rebuilt if isinstance(r, Deployment)}
    # every branch of app now deploys, to the job's new service; devlake and team no longer deploy
    assert {i: d.service for i, d in deployments.items()} == {
        "app/main#31": "storefront",
        "app/feature%2Flogin#31": "storefront",
    }
    assert len([r for r in rebuilt if isinstance(r, PipelineRun)]) == 3 + 9 + 2


def test_rebuild_keeps_the_builds_of_a_branch_deleted_since(mocked, fake_clock):
    mock_organisation(mocked)
    first = run_batches(org_source(fake_clock))
    mocked.reset()
    mock_organisation(mocked, branches=("main",))  # feature/login merged, its branch job deleted
    second = run_batches(org_source(fake_clock), merged_cursors(first))
    stored = stored_payloads(first, second)
    assert next(r.body for r in stored if r.external_id == "app") == app_multibranch("main")
    rebuilt = rows(records_from_payloads(org_source(fake_clock).settings, context(), stored))
    assert rebuilt == rows(first)  # the second run read nothing new: the first run's rows are the store's
    assert rebuilt[("PipelineRun", "app/feature%2Flogin#31")].branch == "feature/login"


def test_rebuild_of_builds_stored_without_job_descriptions(mocked, fake_clock):
    mock_organisation(mocked)
    src = org_source(fake_clock)
    synced = run_batches(src)
    builds_only = [r for r in stored_payloads(synced) if r.kind == "jenkins.build"]
    plain = Settings.model_validate({**src.settings.model_dump(), "jobs": ["devlake"]})
    rebuilt = rows(records_from_payloads(plain, context(), builds_only))
    # a plain job needs no description: its builds are its own
    assert rebuilt == {key: r for key, r in rows(synced).items() if key[1].startswith("devlake#")}
    with pytest.raises(ValueError, match="job team: its builds were synced before its description was stored"):
        records_from_payloads(src.settings, context(), builds_only)


def test_rebuild_leaves_out_builds_of_jobs_no_longer_configured(mocked, fake_clock, caplog):
    mock_organisation(mocked)
    src = org_source(fake_clock)
    stored = stored_payloads(run_batches(src))
    settings = Settings.model_validate({**src.settings.model_dump(), "jobs": ["devlake"]})
    rebuilt = records_from_payloads(settings, context(), stored)
    assert {r.external_id for r in rebuilt if isinstance(r, PipelineRun)} == {"devlake#31", "devlake#21", "devlake#11"}
    assert "ci: 11 stored build(s) of 3 job(s) no configured job reaches" in caplog.text


LIB_SHA, APP_SHA = "1" * 40, "a" * 40


def _two_checkout_build(app_remote: str = "https://github.com/acme/api.git") -> dict[str, Any]:
    """A Pipeline build that loaded a shared library before ``checkout scm``: one ``BuildData`` per
    repository, the library's first (JENKINS-41996, JENKINS-53149: the library is loaded first)."""
    return {
        "_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun",
        "number": 7,
        "building": False,
        "result": "SUCCESS",
        "timestamp": 1717236000000,
        "duration": 60000,
        "actions": [
            {
                "_class": "hudson.plugins.git.util.BuildData",
                "lastBuiltRevision": {"SHA1": LIB_SHA, "branch": [{"name": "refs/remotes/origin/main"}]},
                "remoteUrls": ["https://github.com/acme/jenkins-library.git"],
            },
            {
                "_class": "hudson.plugins.git.util.BuildData",
                "lastBuiltRevision": {"SHA1": APP_SHA, "branch": [{"name": "refs/remotes/origin/main"}]},
                "remoteUrls": [app_remote],
            },
        ],
    }


def _deploy_of(mocked: responses.RequestsMock, clock: FakeClock, build: dict[str, Any], job: Any) -> Deployment:
    mock_job(mocked, "deploy-api")
    mock_builds(mocked, "deploy-api", [build], 100)
    batches = run_batches(source(clock, jobs=[job], rules=[{"name": "deploy-api", "branch": "main"}]))
    (deployment,) = records_of(batches, Deployment)
    return deployment


def test_shared_library_checkout_first_does_not_become_the_deployed_sha_without_a_configured_repo(
    mocked, fake_clock, caplog
):
    with caplog.at_level(logging.WARNING):
        deployment = _deploy_of(mocked, fake_clock, _two_checkout_build(), "deploy-api")
    # before: the first BuildData won, so the library's sha, repo and (mapped) service were reported
    assert (deployment.sha, deployment.repo) == (None, None)
    assert deployment.service == "deploy-api"  # the job name, not the library's repository
    assert deployment.status is DeploymentStatus.SUCCESS  # still a deployment (the branch both agree on matched)
    assert "acme/jenkins-library" in caplog.text and "set the job's `repo`" in caplog.text


def test_configured_repo_is_matched_case_insensitively_among_several_checkouts(mocked, fake_clock):
    build = _two_checkout_build("git@github.com:Acme/API.git")
    deployment = _deploy_of(mocked, fake_clock, build, {"path": "deploy-api", "repo": "acme/api"})
    # before: "Acme/API" != "acme/api", so the first checkout (the library) was taken
    assert (deployment.sha, deployment.repo) == (APP_SHA, "acme/api")


def test_configured_repo_no_checkout_names_gets_no_sha_rather_than_another_repos(mocked, fake_clock):
    build = _two_checkout_build("https://github.com/acme/web.git")
    deployment = _deploy_of(mocked, fake_clock, build, {"path": "deploy-api", "repo": "acme/api"})
    assert (deployment.sha, deployment.repo) == (None, "acme/api")  # before: the library's sha under acme/api


def test_single_repository_checkouts_keep_their_sha_without_a_configured_repo(mocked, fake_clock):
    build = _two_checkout_build()
    build["actions"] = build["actions"][1:]
    deployment = _deploy_of(mocked, fake_clock, build, "deploy-api")
    assert (deployment.sha, deployment.repo) == (APP_SHA, "acme/api")

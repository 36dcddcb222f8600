"""Syncs of each rebuildable source kind, replayed from the connector tests' recorded fixtures, for the
rebuild tests: each case registers the responses of one connector test's happy path and builds that
test's source (same settings, same service mapping), so a sync here stores what the connector test saw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import responses
import test_asana
import test_azure_devops
import test_bitbucket
import test_circleci
import test_gitea
import test_github_actions
import test_github_issues
import test_gitlab_ci
import test_gitlab_issues
import test_jenkins
import test_jira
import test_pagerduty
import test_servicenow
from connector_helpers import FakeClock, load_fixture
from sqlalchemy import Engine, text

from collector.config.loader import load_config_text
from collector.config.model import AppConfig
from collector.store.withdraw import write_batch
from collector.store.writer import write_cursors

SYNCED_AT = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
COLLECTED = ("commits", "pull_requests", "deployments", "incidents", "pipeline_runs")
#: per collected table, a column whose value the corruption overwrites
CORRUPTED_COLUMN = {
    "commits": "message",
    "pull_requests": "title",
    "deployments": "environment",
    "incidents": "title",
    "pipeline_runs": "status",
}


@dataclass(frozen=True)
class SyncCase:
    """One source kind: the responses of a happy-path sync, its source, the repo → service mapping."""

    kind: str
    mock: Callable[[responses.RequestsMock], None]
    source: Callable[[FakeClock], Any]
    services: dict[str, str] = field(default_factory=dict)


def _gitlab_ci_mock(mocked: responses.RequestsMock) -> None:
    test_gitlab_ci.mock_project(mocked)
    rows = test_gitlab_ci.items("pipelines.json")
    test_gitlab_ci.two_pages(mocked, test_gitlab_ci.PIPELINES, rows, 10)
    deployments = test_gitlab_ci.items("deployments.json")
    mocked.add(responses.GET, test_gitlab_ci.DEPLOYMENTS, json=deployments, headers={"X-Next-Page": ""})


def _github_actions_mock(mocked: responses.RequestsMock) -> None:
    runs = [test_github_actions.webhook_run(), test_github_actions.doc_run()]
    mocked.add(responses.GET, test_github_actions.RUNS, json={"total_count": 2, "workflow_runs": runs})


def _jira_mock(mocked: responses.RequestsMock) -> None:
    mocked.add(responses.GET, test_jira.SEARCH, json=load_fixture("jira", "incidents_search.json"))
    changelog = f"{test_jira.SITE}/rest/api/3/issue/OPS-4/changelog"
    second = [responses.matchers.query_param_matcher({"startAt": "2"}, strict_match=False)]
    mocked.add(responses.GET, changelog, json=load_fixture("jira", "changelog_OPS-4_page2.json"), match=second)
    mocked.add(responses.GET, changelog, json=load_fixture("jira", "changelog_OPS-4_page1.json"))


def _jira_source(clock: FakeClock) -> Any:
    return test_jira.source(
        clock,
        incidents=test_jira.INCIDENT_RULES,
        services=test_jira.SERVICE_RULES,
        cause={"fields": ["customfield_10050"]},
    )


def _pagerduty_mock(mocked: responses.RequestsMock) -> None:
    items = test_pagerduty.recorded()
    resolved, triggered, acked = (
        test_pagerduty.RESOLVED,
        test_pagerduty.TRIGGERED,
        test_pagerduty.ACKED,
    )
    page, at = test_pagerduty.page, test_pagerduty.at_offset
    mocked.add(responses.GET, test_pagerduty.LIST, json=page([items[resolved]], 2, False), match=at(2))
    mocked.add(responses.GET, test_pagerduty.LIST, json=page([items[triggered], items[acked]], 0, True), match=at(0))
    test_pagerduty.mock_log_entries(mocked, resolved)


def _gitlab_issues_mock(mocked: responses.RequestsMock) -> None:
    test_gitlab_issues.mock_project(mocked)
    issues = test_gitlab_issues.recorded()
    items = [
        test_gitlab_issues.as_incident(issues[1]),
        test_gitlab_issues.as_incident(issues[3], severity="CRITICAL"),
        test_gitlab_issues.as_incident(issues[4], state="opened"),
        test_gitlab_issues.as_incident(issues[5], description="Deployment: gitlab-data/snowflake_spend/deployments/1"),
    ]
    mocked.add(responses.GET, test_gitlab_issues.ISSUES, json=items, headers={"X-Next-Page": ""})


def _azure_devops_mock(mocked: responses.RequestsMock) -> None:
    test_azure_devops.mock_builds(mocked)
    fx, token = test_azure_devops.fx, test_azure_devops.token
    skip2 = [responses.matchers.query_param_matcher({"$skip": "2"}, strict_match=False)]
    mocked.add(responses.GET, test_azure_devops.PULLS, json={"count": 0, "value": []}, match=skip2)
    mocked.add(responses.GET, test_azure_devops.PULLS, json=fx("pullrequests.json"))
    commits_url = test_azure_devops.PR_COMMITS
    mocked.add(responses.GET, commits_url, json=fx("pr17_commits_page2.json"), match=token("c-2"))
    first = fx("pr17_commits_page1.json")
    mocked.add(responses.GET, commits_url, json=first, headers={"x-ms-continuationtoken": "c-2"}, match=token(None))
    skip = [responses.matchers.query_param_matcher({"searchCriteria.$skip": "2"}, strict_match=False)]
    mocked.add(responses.GET, test_azure_devops.COMMITS, json={"count": 0, "value": []}, match=skip)
    mocked.add(responses.GET, test_azure_devops.COMMITS, json=fx("commits.json"))


def _gitea_mock(mocked: responses.RequestsMock) -> None:
    test_gitea.mock_repo(mocked, skip=("pulls", "releases"))
    base, doc = test_gitea.BASE, test_gitea.doc
    mocked.add(responses.GET, f"{base}/pulls", json=doc("pulls"), headers={"X-Total-Count": "2"})
    releases = [r for r in doc("releases") if r["tag_name"] in ("v1.2.0", "v1.3.0-rc1")]  # rc1: a pre-release
    mocked.add(responses.GET, f"{base}/releases", json=releases, headers={"X-Total-Count": str(len(releases))})


def _bitbucket_mock(mocked: responses.RequestsMock) -> None:
    test_bitbucket.mock_repo(mocked, pulls=True, environments=True, deployments=True)
    test_bitbucket.mock_pull_request_one(mocked)
    base, documented = test_bitbucket.BASE, test_bitbucket.documented
    mocked.add(responses.GET, f"{base}/environments", json=documented("environments"))
    mocked.add(responses.GET, f"{base}/deployments", json=documented("deployments"))


def _bitbucket_steps_mock(mocked: responses.RequestsMock) -> None:
    steps = test_bitbucket.body("pipeline_steps.json")
    steps["values"][0]["name"] = "Build"
    steps["values"][1]["name"] = "Deploy to production"
    test_bitbucket.mock_repo(mocked, pipelines=True)
    base = test_bitbucket.BASE
    mocked.add(responses.GET, f"{base}/pipelines", json=test_bitbucket.body("pipelines.json"))
    mocked.add(responses.GET, f"{base}/pipelines/%7BPipelineUuid%7D/steps", json=steps)


def _bitbucket_steps_source(clock: FakeClock) -> Any:
    rules = [{"name": "Deploy*", "environment": "production"}]
    return test_bitbucket.source(clock, environment_deployments=False, deployment_rules=rules, match_steps=True)


def _azure_devops_source(clock: FakeClock) -> Any:
    rules = [{"name": "checkout-deploy"}]
    return test_azure_devops.source(clock, repositories=["checkout"], deployments_from="builds", rules=rules)


CASES = [
    SyncCase(
        "gitlab_ci",
        _gitlab_ci_mock,
        lambda clock: test_gitlab_ci.source(clock, rules=[{"name": "*", "environment": "production"}]),
        {test_gitlab_ci.PATH: "charts"},
    ),
    SyncCase(
        "github_actions",
        _github_actions_mock,
        lambda clock: test_github_actions.source(
            clock, history_days=20000, rules=[{"name": "test.yml", "branch": "master", "environment": "production"}]
        ),
        {test_github_actions.REPO: "octo"},
    ),
    SyncCase("jira", _jira_mock, _jira_source),
    SyncCase("pagerduty", _pagerduty_mock, lambda clock: test_pagerduty.source(clock)),
    SyncCase(
        "github_issues",
        lambda mocked: test_github_issues.mock_two_pages(mocked, test_github_issues.edited_issues()),
        lambda clock: test_github_issues.source(
            clock, {test_github_issues.REPO: "fixtures"}, services=[{"by": "label", "value": "svc:*", "service": "pay"}]
        ),
        {test_github_issues.REPO: "fixtures"},
    ),
    SyncCase(
        "gitlab_issues",
        _gitlab_issues_mock,
        lambda clock: test_gitlab_issues.source(clock, {test_gitlab_issues.PATH: "spend"}),
        {test_gitlab_issues.PATH: "spend"},
    ),
    SyncCase("servicenow", test_servicenow.two_pages, lambda clock: test_servicenow.source(clock)),
    SyncCase("asana", test_asana.mock_two_pages, lambda clock: test_asana.source(clock)),
    SyncCase(
        "circleci", test_circleci.mock_all, lambda clock: test_circleci.source(clock), {"acme/checkout": "checkout"}
    ),
    SyncCase("azure_devops", _azure_devops_mock, _azure_devops_source, {"Shop/checkout": "checkout"}),
    SyncCase("bitbucket", _bitbucket_mock, lambda clock: test_bitbucket.source(clock), {test_bitbucket.REPO: "shop"}),
    SyncCase("bitbucket-steps", _bitbucket_steps_mock, _bitbucket_steps_source, {test_bitbucket.REPO: "shop"}),
    SyncCase("gitea", _gitea_mock, lambda clock: test_gitea.source(clock), {test_gitea.REPO: "shop"}),
    SyncCase(
        "jenkins",
        test_jenkins.mock_organisation,
        lambda clock: test_jenkins.org_source(clock),
        {"merico-dev/lake": "lake"},
    ),
]


def sync_into(engine: Engine, source: Any) -> None:
    """Store every batch of one run of ``source`` with its cursors, one transaction each (as a sync does)."""
    for batch in source.batches({}):
        with engine.begin() as connection:
            write_batch(connection, batch.records)
            write_cursors(connection, source.name, batch.cursors, SYNCED_AT)


def config_for(services: dict[str, str], sources: tuple[Any, ...] = ()) -> AppConfig:
    """A config whose services claim ``services`` (repo → service), holding ``sources``' settings."""
    owned: dict[str, list[str]] = {}
    for repo, service in services.items():
        owned.setdefault(service, []).append(repo)
    lines = [f"  - {{name: {name}, team: core, repositories: [{', '.join(repos)}]}}" for name, repos in owned.items()]
    config = load_config_text("teams: [{name: core}]\nservices:\n" + "\n".join(lines) if lines else "teams: []")
    return config.model_copy(update={"sources": tuple(source.settings for source in sources)})


def corrupt(engine: Engine, source: str) -> None:
    """Damage ``source``'s collected rows: the first and every even-id row deleted, the rest changed, a stray
    deployment added."""
    with engine.begin() as connection:
        for table in COLLECTED:
            column = CORRUPTED_COLUMN[table]
            first = f"(SELECT MIN(id) FROM {table} WHERE source = :s)"
            connection.execute(
                text(f"DELETE FROM {table} WHERE source = :s AND (id % 2 = 0 OR id = {first})"), {"s": source}
            )
            connection.execute(text(f"UPDATE {table} SET {column} = 'corrupted' WHERE source = :s"), {"s": source})
        connection.execute(
            text(
                "INSERT INTO deployments (source, external_id, service, environment, status, is_rollback, commits) "
                "VALUES (:s, 'stray', 'nowhere', 'production', 'success', false, NULL)"
            ),
            {"s": source},
        )

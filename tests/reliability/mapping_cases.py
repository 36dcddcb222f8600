"""Every connector's pure record mappings, each with a valid payload read from ``tests/fixtures``.

A :class:`Case` calls one mapping function on one raw API object (or list of objects). ``required``
names the fields whose absence or wrong type must raise an error naming the field; ``typed`` those
that may be absent but, present with the wrong type, must be named.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors import (
    argocd,
    asana_mapping,
    azure_devops_mapping,
    bitbucket_mapping,
    circleci_mapping,
    gitea_mapping,
    github_actions,
    github_issues,
    github_mapping,
    gitlab_ci,
    gitlab_issues,
    gitlab_mapping,
    jenkins_mapping,
    jira,
    jira_mapping,
    pagerduty,
    servicenow,
)
from connectors.deployment_rules import DeploymentRule, RuleMatch
from connectors.incident_rules import CauseSettings, ServiceRule, adf_to_text, find_cause
from connectors.records import PipelineRun

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(*parts: str) -> Any:
    """A JSON fixture under ``tests/fixtures``."""
    return json.loads(FIXTURES.joinpath(*parts).read_text())


@dataclass(frozen=True)
class Case:
    """One mapping function applied to one raw payload."""

    call: Callable[[Any], object]
    payload: Any
    required: tuple[str, ...] = ()
    typed: tuple[str, ...] = ()  # may be absent, but of the wrong type must be named


CATCH_ALL = (DeploymentRule(),)  # a rule matching every run: the mapping always builds a deployment
MATCH = RuleMatch(DeploymentRule(), "production")
CAUSE = CauseSettings(fields=("cause",))
SERVICES = (ServiceRule(by="label", value="*", service="shop"),)
JIRA = jira.Settings.model_validate(
    {"name": "j", "base_url": "https://jira.example", "token": "t", "projects": ["OPS"]}
)
PAGERDUTY = pagerduty.Settings.model_validate(
    {"name": "p", "token": "t", "services": [s.model_dump() for s in SERVICES]}
)
SNOW = servicenow.Settings.model_validate({"name": "n", "base_url": "https://snow.example", "token": "t"})
GH_ISSUES = github_issues.Settings.model_validate({"name": "g", "token": "t", "repositories": ["acme/shop"]})
GL_ISSUES = gitlab_issues.Settings.model_validate({"name": "g", "token": "t", "projects": [1]})
JOB = jenkins_mapping.JobPlan("folder/deploy", "https://jenkins.example/job/folder/job/deploy/")
RUN = PipelineRun("s", "s/run/1", "acme/shop", "deploy", "success", datetime(2024, 1, 1, tzinfo=UTC))


def _rows(*parts: str) -> list[Any]:
    return [row["body"] for row in fixture(*parts)]


def _load() -> dict[str, Case]:
    jira_issue = fixture("jira", "issue.json")
    jira_histories = fixture("jira", "changelog_OPS-4_page1.json")["values"]
    pd_incident = _rows("pagerduty", "incidents.json")[0]
    pd_log = pd_incident.pop("log_entries")
    pd_incident.pop("alerts", None)
    snow = fixture("servicenow", "incidents_page1.json")["result"][0]
    task = fixture("asana", "tasks_page1.json")["data"][0]
    gh_issue = fixture("github_issues", "paginate-issues.raw-fixture.json")[14]["response"][0]
    gl_issue = _rows("gitlab_issues", "issues.json")[0]
    build = _rows("jenkins", "builds.json")[0]
    workflow_run = fixture("github_actions", "openapi-examples", "workflow-run-paginated.json")["workflow_runs"][0]
    job = {
        "id": 399444496,
        "head_sha": workflow_run["head_sha"],
        "status": "completed",
        "started_at": workflow_run["created_at"],
        "completed_at": workflow_run["updated_at"],
    }
    gl_pipeline = _rows("gitlab_ci", "pipelines.json")[0]
    gl_deployment = _rows("gitlab_ci", "deployments.json")[0]
    pipeline = fixture("circleci", "pipelines_page1.json")["items"][0]
    facts = circleci_mapping.pipeline_facts("gh/acme/shop", None, pipeline)
    workflow = fixture("circleci", "workflows_104_finished.json")["items"][0]
    circle_job = fixture("circleci", "jobs_103.json")["items"][0]
    app = fixture("argocd", "applications.json")["items"][0]
    az_commit = fixture("azure_devops", "commits.json")["value"][0]
    az_pr = fixture("azure_devops", "pullrequests.json")["value"][0]
    az_pr_commits = fixture("azure_devops", "pr17_commits_page1.json")["value"]
    az_build = fixture("azure_devops", "build_104.json")
    az_env = fixture("azure_devops", "environments.json")["value"][0]
    az_record = fixture("azure_devops", "records_page1.json")["value"][0]
    bb = fixture("bitbucket", "documented_activity_deployments.json")
    bb_pr = _rows("bitbucket", "pullrequests.json")[0]["values"][0]
    bb_pipeline = _rows("bitbucket", "pipelines.json")[0]["values"][0]
    gitea = fixture("gitea", "documented_payloads.json")
    gh_release = fixture("github", "openapi-examples", "release-items.json")[0]
    gh_statuses = fixture("github", "openapi-examples", "deployment-status-items.json")
    gl_mr = _rows("gitlab", "merge_requests.json")[0]

    return {
        "jira.incident_from_issue": Case(
            lambda raw: jira_mapping.incident_from_issue("s", raw, [], JIRA), jira_issue, ("key", "fields")
        ),
        "jira.issue_facts": Case(jira_mapping.issue_facts, jira_issue, typed=("fields",)),
        "jira.status_changes": Case(jira_mapping.status_changes, jira_histories),
        "jira.is_done": Case(lambda raw: jira_mapping.is_done(raw, ("Done",)), jira_issue["fields"], typed=("status",)),
        "jira.embedded_histories_complete": Case(
            jira_mapping.embedded_histories_complete, {"changelog": {"histories": jira_histories, "total": 2}}
        ),
        "jira.incident_with_history": Case(
            lambda raw: jira_mapping.incident_from_issue("s", jira_issue, raw, JIRA), jira_histories
        ),
        "pagerduty.incident_from_api": Case(
            lambda raw: pagerduty.incident_from_api("s", raw, pd_log, PAGERDUTY),
            pd_incident,
            ("id", "created_at"),
            ("service", "acknowledgements"),
        ),
        "pagerduty.log_entries": Case(
            lambda raw: pagerduty.incident_from_api("s", {**pd_incident, "resolved_at": None}, raw, PAGERDUTY), pd_log
        ),
        "servicenow.incident_from_record": Case(
            lambda raw: servicenow.incident_from_record("s", raw, SNOW), snow, typed=("opened_at",)
        ),
        "asana.incident_from_task": Case(
            lambda raw: asana_mapping.incident_from_task(
                "s", raw, services=SERVICES, cause_settings=CAUSE, severity_field="Severity", acknowledged_field="Ack"
            ),
            task,
            ("gid", "created_at"),
        ),
        "github_issues.incident_from_issue": Case(
            lambda raw: github_issues.incident_from_issue("s", "acme/shop", raw, GH_ISSUES, None),
            gh_issue,
            ("number", "created_at"),
        ),
        "gitlab_issues.incident_from_issue": Case(
            lambda raw: gitlab_issues.incident_from_issue("s", "acme/shop", raw, GL_ISSUES, None),
            gl_issue,
            ("iid", "created_at"),
        ),
        "jenkins.run_from_build": Case(
            lambda raw: jenkins_mapping.run_from_build("s", JOB, raw, jenkins_mapping.build_revision(raw, "acme/shop")),
            build,
            ("number", "timestamp"),
        ),
        "jenkins.deployment_status": Case(lambda raw: jenkins_mapping.deployment_status(MATCH, raw), build),
        "github_actions.run_from_api": Case(
            lambda raw: github_actions.run_from_api("s", "acme/shop", raw), workflow_run, ("id", "created_at")
        ),
        "github_actions.job_deployment": Case(
            lambda raw: github_actions.job_deployment("s", "acme/shop", raw, "production", "shop", "success"),
            job,
            ("id",),
        ),
        "gitlab_ci.pipeline_from_api": Case(
            lambda raw: gitlab_ci.pipeline_from_api("s", "acme/shop", raw, None), gl_pipeline, ("id", "created_at")
        ),
        "gitlab_ci.deployment_from_api": Case(
            lambda raw: gitlab_ci.deployment_from_api("s", "acme/shop", raw, CATCH_ALL, "shop"),
            gl_deployment,
            ("id",),
            ("deployable", "environment"),
        ),
        "circleci.pipeline_facts": Case(
            lambda raw: circleci_mapping.pipeline_facts("circleci/org/proj", None, raw), pipeline, typed=("vcs",)
        ),
        "circleci.run_from_workflow": Case(
            lambda raw: circleci_mapping.run_from_workflow("s", facts, raw), workflow, ("id", "created_at")
        ),
        "circleci.workflow_deployment": Case(
            lambda raw: circleci_mapping.workflow_deployment(RUN, MATCH, raw, "shop"), workflow
        ),
        "circleci.job_deployment": Case(
            lambda raw: circleci_mapping.job_deployment("s", facts, raw, MATCH, "shop"), circle_job
        ),
        "argocd.deployments_of_application": Case(
            lambda raw: argocd.deployments_of_application("s", raw, CATCH_ALL, "shop"), app, typed=("spec", "status")
        ),
        "azure_devops.commit_from_api": Case(
            lambda raw: azure_devops_mapping.commit_from_api("s", "p/r", raw),
            az_commit,
            ("commitId",),
            ("author", "committer"),
        ),
        "azure_devops.pull_request_from_api": Case(
            lambda raw: azure_devops_mapping.pull_request_from_api("s", "p/r", raw, az_pr_commits),
            az_pr,
            ("pullRequestId", "creationDate"),
        ),
        "azure_devops.pull_request_commits": Case(
            lambda raw: azure_devops_mapping.pull_request_from_api("s", "p/r", az_pr, raw), az_pr_commits
        ),
        "azure_devops.pipeline_run_from_build": Case(
            lambda raw: azure_devops_mapping.pipeline_run_from_build("s", "p", raw), az_build, ("id",), ("queueTime",)
        ),
        "azure_devops.deployment_from_build": Case(
            lambda raw: azure_devops_mapping.deployment_from_build("s", "p", raw, CATCH_ALL, "shop"), az_build, ("id",)
        ),
        "azure_devops.deployment_from_record": Case(
            lambda raw: azure_devops_mapping.deployment_from_run_records(
                "s", "p", az_env, [raw], az_build, CATCH_ALL, lambda repo: "shop"
            ),
            az_record,
            ("id",),
        ),
        "azure_devops.deployment_environment": Case(
            lambda raw: azure_devops_mapping.deployment_from_run_records(
                "s", "p", raw, [az_record], az_build, CATCH_ALL, lambda repo: "shop"
            ),
            az_env,
            ("id",),
        ),
        "bitbucket.pull_request_from_api": Case(
            lambda raw: bitbucket_mapping.pull_request_from_api("s", "w/r", raw), bb_pr, ("id", "created_on")
        ),
        "bitbucket.activity_times": Case(
            lambda raw: bitbucket_mapping.activity_times(raw, bb_pr.get("author")), bb["activity"]["values"]
        ),
        "bitbucket.environment_deployment_from_api": Case(
            lambda raw: bitbucket_mapping.environment_deployment_from_api("s", "w/r", "shop", "production", raw),
            bb["deployments"]["values"][0],
            ("uuid",),
        ),
        "bitbucket.deployment_time": Case(bitbucket_mapping.deployment_time, bb["deployments"]["values"][0]),
        "bitbucket.pipeline_run_from_api": Case(
            lambda raw: bitbucket_mapping.pipeline_run_from_api("s", "w/r", raw),
            bb_pipeline,
            ("uuid", "created_on"),
            ("state",),
        ),
        "gitea.pull_request_from_api": Case(
            lambda raw: gitea_mapping.pull_request_from_api("s", "o/r", raw),
            gitea["pulls"][0],
            ("number", "created_at"),
        ),
        "gitea.commit_from_api": Case(
            lambda raw: gitea_mapping.commit_from_api("s", "o/r", raw), gitea["pull_12_commits"][0], ("sha",)
        ),
        "gitea.first_review_at": Case(
            lambda raw: gitea_mapping.first_review_at(raw, "someone-else"), gitea["pull_12_reviews"]
        ),
        "gitea.release_deployment": Case(
            lambda raw: gitea_mapping.release_deployment("s", "o/r", "shop", "production", raw, None),
            gitea["releases"][0],
            ("id",),
        ),
        "gitea.tag_deployment": Case(
            lambda raw: gitea_mapping.tag_deployment("s", "o/r", "shop", "production", raw),
            gitea["tags"][0],
            ("name",),
        ),
        "github_deployments.release_deployment": Case(
            lambda raw: github_mapping.release_deployment("s", "o/r", "shop", "production", raw, None),
            gh_release,
            ("id",),
        ),
        "github_deployments.deployment_state": Case(github_mapping.deployment_state, gh_statuses),
        "github.first_review_at": Case(lambda raw: github_mapping.first_review_at(raw, "octocat"), gh_statuses),
        "gitlab.first_review_at": Case(lambda raw: gitlab_mapping.first_review_at(raw, 1), [gl_mr]),
        "incident_rules.find_cause": Case(
            lambda raw: find_cause(CAUSE, raw, adf_to_text(raw.get("description"))), jira_issue["fields"]
        ),
        "incident_rules.adf_to_text": Case(adf_to_text, jira_issue["fields"].get("description")),
    }


CASES: dict[str, Case] = _load()

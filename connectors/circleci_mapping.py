"""Pure mappings of CircleCI API v2 pipelines, workflows and jobs to domain records (no I/O).

Field mapping (CircleCI → record), documented in ``docs/sources/circleci.md``:

- a pipeline carries the code: ``vcs.revision`` is the sha, ``vcs.branch`` (or ``vcs.tag`` for a tag
  pipeline) the branch; its workflows inherit both.
- repository: the project's configured ``repo``; else ``org/repo`` of a ``gh/``, ``github/``,
  ``bb/`` or ``bitbucket/`` slug; else ``owner/name`` of ``vcs.target_repository_url`` (projects of
  the GitHub App / GitLab integrations have slugs ``circleci/<org id>/<project id>``); else the slug.
- a workflow is a :class:`PipelineRun`: ``created_at`` is its creation and start, ``stopped_at`` its
  end once it is finished, ``status`` as CircleCI says (``success``, ``failed``, ``error``,
  ``canceled``, ``unauthorized``, ``not_run``; ``running``, ``failing``, ``on_hold`` while unfinished).
- deployment status (workflows or jobs matching a rule): unfinished → ``in_progress`` (jobs:
  ``running``, ``queued``, ``not_running``, ``on_hold``, ``blocked``); ``not_run``,
  ``unauthorized``, ``retried`` (a job attempt superseded by its rerun) → cancelled
  (nothing was deployed by that attempt); ``infrastructure_fail``, ``timedout``,
  ``terminated-unknown`` → failure; the rest through ``RuleMatch.status_for`` (``success`` →
  success, ``failed`` → failure, ``error`` → error, ``canceled`` → cancelled).
- approval jobs (``type: approval``) are never deployments: their ``success`` means "approved".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.deployment_rules import RuleMatch
from connectors.mapping_support import identifier, obj, time_of
from connectors.records import Deployment, DeploymentStatus, PipelineRun

#: Workflow statuses of a workflow still going on.
UNFINISHED_WORKFLOW = frozenset({"running", "failing", "on_hold"})
#: Job statuses of a job not finished yet.
UNFINISHED_JOB = frozenset({"running", "queued", "not_running", "on_hold", "blocked"})
#: Results meaning the attempt deployed nothing (counted as cancelled).
NOT_ATTEMPTED = frozenset({"not_run", "unauthorized", "retried"})
#: Results meaning the attempt broke (counted as failure whatever the rule says).
BROKEN = frozenset({"infrastructure_fail", "timedout", "terminated-unknown"})

_VCS_SLUG = {"gh", "github", "bb", "bitbucket"}
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[^/]+/|[^@/\s]+@[^:/\s]+:)(?P<path>.+?)(?:\.git)?/?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PipelineFacts:
    """What a pipeline tells its workflows: repository, sha, branch and creation time."""

    slug: str
    repo: str
    sha: str | None
    branch: str | None


def repo_of(slug: str, configured: str | None, pipeline: Mapping[str, Any]) -> str:
    """The repository a pipeline of project ``slug`` built (see the module docstring)."""
    if configured:
        return configured
    vcs, org, name = slug.split("/", 2)
    if vcs.lower() in _VCS_SLUG:
        return f"{org}/{name}"
    info = obj(pipeline.get("vcs"), "vcs")
    for key in ("target_repository_url", "origin_repository_url"):
        match = _REMOTE.match(str(info.get(key) or "").strip())
        if match:
            return match.group("path").strip("/")
    return slug


def pipeline_facts(slug: str, configured_repo: str | None, pipeline: Mapping[str, Any]) -> PipelineFacts:
    """The :class:`PipelineFacts` of one pipeline item."""
    vcs = obj(pipeline.get("vcs"), "vcs")
    return PipelineFacts(
        slug=slug,
        repo=repo_of(slug, configured_repo, pipeline),
        sha=vcs.get("revision") or None,
        branch=vcs.get("branch") or vcs.get("tag") or None,
    )


def workflow_finished(workflow: Mapping[str, Any]) -> bool:
    """Whether a workflow is over: a known status other than the unfinished ones."""
    status = workflow.get("status")
    return status is not None and str(status) not in UNFINISHED_WORKFLOW


def job_finished(job: Mapping[str, Any]) -> bool:
    """Whether a job is over."""
    status = job.get("status")
    return status is not None and str(status) not in UNFINISHED_JOB


def run_from_workflow(source: str, facts: PipelineFacts, workflow: Mapping[str, Any]) -> PipelineRun:
    """A :class:`PipelineRun` of one workflow (see the module docstring)."""
    created = time_of(workflow.get("created_at"), "created_at")
    if created is None:
        raise ValueError(f"workflow {workflow.get('id')} has no created_at")
    finished = time_of(workflow.get("stopped_at"), "stopped_at") if workflow_finished(workflow) else None
    return PipelineRun(
        source=source,
        external_id=f"{facts.slug}/workflow/{identifier(workflow, 'id')}",
        repo=facts.repo,
        name=str(workflow.get("name") or workflow["id"]),
        status=str(workflow.get("status")),
        created_at=created,
        started_at=created,
        finished_at=finished,
        branch=facts.branch,
        sha=facts.sha,
        duration_seconds=(finished - created).total_seconds() if finished else None,
    )


def deployment_status(match: RuleMatch, status: str | None, *, finished: bool) -> DeploymentStatus:
    """The deployment status of a matched workflow or job (see the module docstring)."""
    if not finished or status is None:
        return DeploymentStatus.IN_PROGRESS
    normalised = str(status).strip().lower()
    if normalised in match.rule.success:
        return DeploymentStatus.SUCCESS
    if normalised in NOT_ATTEMPTED:
        return DeploymentStatus.CANCELLED
    if normalised in BROKEN:
        return DeploymentStatus.FAILURE
    return match.status_for(normalised, finished=True)


def workflow_deployment(run: PipelineRun, match: RuleMatch, workflow: Mapping[str, Any], service: str) -> Deployment:
    """The :class:`Deployment` a matched workflow stands for (same external id as its run)."""
    return Deployment(
        source=run.source,
        external_id=run.external_id,
        service=service,
        environment=match.environment,
        status=deployment_status(match, workflow.get("status"), finished=workflow_finished(workflow)),
        sha=run.sha,
        finished_at=run.finished_at,
        started_at=run.started_at,
        repo=run.repo,
    )


def job_deployment(
    source: str, facts: PipelineFacts, job: Mapping[str, Any], match: RuleMatch, service: str
) -> Deployment:
    """The :class:`Deployment` a matched job stands for: its own start and stop times."""
    finished = job_finished(job)
    return Deployment(
        source=source,
        external_id=f"{facts.slug}/job/{job.get('id') or job.get('job_number')}",
        service=service,
        environment=match.environment,
        status=deployment_status(match, job.get("status"), finished=finished),
        sha=facts.sha,
        finished_at=time_of(job.get("stopped_at"), "stopped_at") if finished else None,
        started_at=time_of(job.get("started_at"), "started_at"),
        repo=facts.repo,
    )

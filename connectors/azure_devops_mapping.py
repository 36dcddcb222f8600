"""Pure mapping of Azure DevOps REST objects to domain records (``kind: azure_devops``).

Definitions:

- a repository is named ``{project}/{repo}`` for Azure Repos Git (``TfsGit``); a build of another
  host's repository (GitHub, Bitbucket) keeps that host's own name (``owner/repo``);
- a pipeline run is a build (``_apis/build/builds``): status = its ``result`` when completed, else its
  ``status``; ``created_at`` = ``queueTime``, ``finished_at`` only when completed, duration =
  ``finishTime - startTime``;
- a deployment is one pipeline run (the ``owner`` of environment deployment records,
  ``environmentdeploymentrecords``) to one environment or, with ``deployments_from: builds``, a completed
  build, matching a :class:`DeploymentRule` (``name`` globs the pipeline (definition) name,
  ``ci_environment`` the environment name, ``branch`` the built branch). Its sha is the build's
  ``sourceVersion``. A run or build matching no rule is not a deployment;
- an environment has one deployment record per job of a run that targeted it, and per attempt of that
  job: a run's deployment keeps, per job (``stageName``, ``jobName``), the record of its latest attempt
  (``stageAttempt``, then ``jobAttempt``). Its status: in progress while a kept job is unfinished, else
  failure (or error) when one failed, success when all succeeded, else cancelled; ``started_at`` the
  earliest start (else queue time) and ``finished_at`` the latest finish of the kept jobs, once all
  finished. Its id is ``{project}/environments/{environment id}/runs/{owner id}``;
- a job result ``succeededWithIssues`` (a record) or a build result ``partiallySucceeded`` (``builds`` mode)
  means the job or build ran to its end and some step reported an error or a warning without stopping it
  (e.g. a task with ``continueOnError``): its deploy steps ran, so it counts as a success by default
  (``with_issues_is``, the source's ``succeeded_with_issues_is``); ``failure`` makes it a failed attempt,
  for pipelines whose deploy step reports a failed rollout that way. A rule listing the result in
  ``success`` counts it as a success either way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from connectors.deployment_rules import DeploymentRule, ResultIs, RunFacts, also_success, match_rule
from connectors.http.incremental import parse_time
from connectors.mapping_support import identifier, obj, objects, time_of
from connectors.records import Commit, Deployment, DeploymentStatus, PipelineRun, PullRequest

__all__ = [
    "build_repo",
    "commit_from_api",
    "deployment_from_build",
    "deployment_from_run_records",
    "job_finished",
    "latest_attempts",
    "pipeline_run_from_build",
    "pull_request_from_api",
    "run_key",
    "run_status",
]


def branch_name(ref: Any) -> str | None:
    """``refs/heads/main`` → ``main`` (other refs unchanged)."""
    return str(ref).removeprefix("refs/heads/") if ref else None


def build_repo(project: str, build: Mapping[str, Any]) -> str | None:
    """The repository a build built (see the module docstring)."""
    repository = obj(build.get("repository"), "repository")
    name = repository.get("name")
    if not name:
        return None
    return f"{project}/{name}" if repository.get("type", "TfsGit") == "TfsGit" else str(name)


def commit_from_api(source: str, repo: str, raw: Mapping[str, Any]) -> Commit:
    """A :class:`Commit` of a ``GitCommitRef``."""
    author = obj(raw.get("author"), "author")
    committer = obj(raw.get("committer"), "committer")
    authored = time_of(author.get("date"), "date") or time_of(committer.get("date"), "date")
    if authored is None:
        raise ValueError(f"commit {raw.get('commitId')} has no date")
    return Commit(
        source=source,
        repo=repo,
        sha=identifier(raw, "commitId"),
        authored_at=authored,
        committed_at=time_of(committer.get("date"), "date"),
        author=author.get("name"),
        author_email=author.get("email"),
        parents=tuple(str(p) for p in raw.get("parents") or ()),
        message=raw.get("comment"),
    )


def pull_request_from_api(
    source: str, repo: str, raw: Mapping[str, Any], commits: Sequence[Mapping[str, Any]]
) -> PullRequest:
    """A :class:`PullRequest` of a ``GitPullRequest`` and its commits (any order)."""
    created = time_of(raw.get("creationDate"), "creationDate")
    if created is None:
        raise ValueError(f"pull request {raw.get('pullRequestId')} has no creationDate")
    status = raw.get("status")
    closed = time_of(raw.get("closedDate"), "closedDate")
    dated = sorted(
        (
            (parse_time(obj(c.get("author"), "commits.author").get("date")), identifier(c, "commitId"))
            for c in objects(commits, "commits")
        ),
        key=lambda pair: (pair[0] is None, pair[0]),
    )
    return PullRequest(
        source=source,
        repo=repo,
        number=int(identifier(raw, "pullRequestId")),
        created_at=created,
        author=obj(raw.get("createdBy"), "createdBy").get("uniqueName"),
        title=raw.get("title"),
        labels=tuple(str(label["name"]) for label in objects(raw.get("labels"), "labels") if label.get("name")),
        head_branch=branch_name(raw.get("sourceRefName")),
        base_branch=branch_name(raw.get("targetRefName")),
        first_commit_at=dated[0][0] if dated else None,
        merged_at=closed if status == "completed" else None,
        closed_at=closed if status in ("completed", "abandoned") else None,
        merge_sha=obj(raw.get("lastMergeCommit"), "lastMergeCommit").get("commitId") if status == "completed" else None,
        commits=tuple(sha for _, sha in dated),
    )


def pipeline_run_from_build(source: str, project: str, build: Mapping[str, Any]) -> PipelineRun:
    """A :class:`PipelineRun` of a build (see the module docstring)."""
    created = time_of(build.get("queueTime"), "queueTime") or time_of(build.get("startTime"), "startTime")
    if created is None:
        raise ValueError(f"build {build.get('id')} has no queueTime")
    completed = build.get("status") == "completed"
    started, finished = time_of(build.get("startTime"), "startTime"), time_of(build.get("finishTime"), "finishTime")
    duration = (finished - started).total_seconds() if completed and started and finished else None
    return PipelineRun(
        source=source,
        external_id=f"{project}/builds/{identifier(build, 'id')}",
        repo=build_repo(project, build),
        name=str(obj(build.get("definition"), "definition").get("name") or build.get("buildNumber") or build["id"]),
        status=str(build.get("result") if completed else build.get("status")),
        created_at=created,
        started_at=started,
        finished_at=finished if completed else None,
        branch=branch_name(build.get("sourceBranch")),
        sha=build.get("sourceVersion"),
        duration_seconds=duration,
    )


#: Results of a job (``TaskResult``) or build (``BuildResult``) that ran to its end with issues.
WITH_ISSUES: tuple[str, ...] = ("succeededWithIssues", "partiallySucceeded")


def deployment_from_build(
    source: str,
    project: str,
    build: Mapping[str, Any],
    rules: Sequence[DeploymentRule],
    service: str,
    *,
    with_issues_is: ResultIs = "success",
) -> Deployment | None:
    """The :class:`Deployment` of a build matching a rule (``None`` when none matches); ``partiallySucceeded``
    is a success unless ``with_issues_is`` is ``failure`` (see the module docstring)."""
    facts = RunFacts(
        name=str(obj(build.get("definition"), "definition").get("name") or ""),
        branch=branch_name(build.get("sourceBranch")),
    )
    match = match_rule(rules, facts)
    if match is None:
        return None
    completed = build.get("status") == "completed"
    return Deployment(
        source=source,
        external_id=f"{project}/builds/{identifier(build, 'id')}",
        service=match.rule.service or service,
        environment=match.environment,
        status=match.status_for(
            build.get("result"), finished=completed, also_success=also_success(with_issues_is, *WITH_ISSUES)
        ),
        sha=build.get("sourceVersion"),
        finished_at=time_of(build.get("finishTime"), "finishTime") if completed else None,
        started_at=time_of(build.get("startTime"), "startTime"),
        repo=build_repo(project, build),
    )


def run_key(record: Mapping[str, Any]) -> str:
    """The run an environment deployment record belongs to: ``runs/{owner id}`` (``records/{id}`` without
    an owner, a record then standing alone)."""
    owner = obj(record.get("owner"), "owner")
    if owner.get("id") is not None:
        return f"runs/{identifier(owner, 'id')}"
    return f"records/{identifier(record, 'id')}"


def _attempt(record: Mapping[str, Any], key: str) -> int:
    value = record.get(key)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: expected an integer, got {type(value).__name__}")
    return value


def _record_number(record: Mapping[str, Any]) -> int:
    value = identifier(record, "id")
    return int(value) if value.isdigit() else 0


def latest_attempts(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Per job (``stageName``, ``jobName``) the record of its latest attempt (highest ``stageAttempt``,
    then ``jobAttempt``, then record ``id``), ordered by record id."""
    latest: dict[tuple[str, str], tuple[tuple[int, int, int], Mapping[str, Any]]] = {}
    for record in records:
        job = (str(record.get("stageName") or ""), str(record.get("jobName") or ""))
        rank = (_attempt(record, "stageAttempt"), _attempt(record, "jobAttempt"), _record_number(record))
        if job not in latest or rank > latest[job][0]:
            latest[job] = (rank, record)
    return [record for _, record in sorted(latest.values(), key=lambda pair: pair[0][2])]


def job_finished(record: Mapping[str, Any]) -> bool:
    """Whether a deployment record's job has finished (a ``finishTime`` and a ``result``)."""
    finished_at = time_of(record.get("finishTime"), "finishTime")
    return finished_at is not None and record.get("result") not in (None, "", "none")


def run_status(statuses: Sequence[DeploymentStatus]) -> DeploymentStatus:
    """The status of a run's deployment from its jobs' statuses (see the module docstring)."""
    for status in (DeploymentStatus.IN_PROGRESS, DeploymentStatus.FAILURE, DeploymentStatus.ERROR):
        if status in statuses:
            return status
    if statuses and all(s is DeploymentStatus.SUCCESS for s in statuses):
        return DeploymentStatus.SUCCESS
    return DeploymentStatus.CANCELLED


def deployment_from_run_records(
    source: str,
    project: str,
    environment: Mapping[str, Any],
    records: Sequence[Mapping[str, Any]],
    build: Mapping[str, Any] | None,
    rules: Sequence[DeploymentRule],
    service_of: Callable[[str], str],
    *,
    with_issues_is: ResultIs = "success",
) -> Deployment | None:
    """The :class:`Deployment` of one run to one environment: all the environment deployment records of
    that run (every job targeting the environment, every attempt; see the module docstring). A job
    ``succeededWithIssues`` is a success unless ``with_issues_is`` is ``failure``.

    ``build`` is the run's owner build (its sha, repository and branch); ``service_of(repo)`` names the
    service of a repository. ``None`` when no rule matches or ``records`` is empty.
    """
    kept = latest_attempts(records)
    if not kept:
        return None
    build = build or {}
    facts = RunFacts(
        name=str(obj(kept[0].get("definition"), "definition").get("name") or ""),
        ci_environment=environment.get("name"),
        branch=branch_name(build.get("sourceBranch")),
    )
    match = match_rule(rules, facts)
    if match is None:
        return None
    extra = also_success(with_issues_is, *WITH_ISSUES)
    statuses = [
        match.status_for(
            str(r.get("result")) if job_finished(r) else None, finished=job_finished(r), also_success=extra
        )
        for r in kept
    ]
    status = run_status(statuses)
    starts = [time_of(r.get("startTime"), "startTime") or time_of(r.get("queueTime"), "queueTime") for r in kept]
    finishes = [time_of(r.get("finishTime"), "finishTime") for r in kept]
    finished = status is not DeploymentStatus.IN_PROGRESS
    repo = build_repo(project, build)
    return Deployment(
        source=source,
        external_id=f"{project}/environments/{identifier(environment, 'id')}/{run_key(kept[0])}",
        service=match.rule.service or service_of(repo or project),
        environment=match.environment,
        status=status,
        sha=build.get("sourceVersion"),
        finished_at=max(filter(None, finishes), default=None) if finished else None,
        started_at=min(filter(None, starts), default=None),
        repo=repo,
    )

"""Pure mapping of Azure DevOps REST objects to domain records (``kind: azure_devops``).

Definitions:

- a repository is named ``{project}/{repo}`` for Azure Repos Git (``TfsGit``); a build of another
  host's repository (GitHub, Bitbucket) keeps that host's own name (``owner/repo``);
- a pipeline run is a build (``_apis/build/builds``): status = its ``result`` when completed, else its
  ``status``; ``created_at`` = ``queueTime``, ``finished_at`` only when completed, duration =
  ``finishTime - startTime``;
- a deployment is an environment deployment record (``environmentdeploymentrecords``) or, with
  ``deployments_from: builds``, a completed build, matching a :class:`DeploymentRule` (``name`` globs the
  pipeline (definition) name, ``ci_environment`` the environment name, ``branch`` the built branch).
  Its sha is the build's ``sourceVersion``. A record or build matching no rule is not a deployment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.deployment_rules import DeploymentRule, RunFacts, match_rule
from connectors.http.incremental import parse_time
from connectors.mapping_support import identifier, obj, objects, time_of
from connectors.records import Commit, Deployment, PipelineRun, PullRequest

__all__ = [
    "build_repo",
    "commit_from_api",
    "deployment_from_build",
    "deployment_from_record",
    "pipeline_run_from_build",
    "pull_request_from_api",
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


def deployment_from_build(
    source: str, project: str, build: Mapping[str, Any], rules: Sequence[DeploymentRule], service: str
) -> Deployment | None:
    """The :class:`Deployment` of a build matching a rule (``None`` when none matches)."""
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
        status=match.status_for(build.get("result"), finished=completed),
        sha=build.get("sourceVersion"),
        finished_at=time_of(build.get("finishTime"), "finishTime") if completed else None,
        started_at=time_of(build.get("startTime"), "startTime"),
        repo=build_repo(project, build),
    )


def deployment_from_record(
    source: str,
    project: str,
    environment: Mapping[str, Any],
    record: Mapping[str, Any],
    build: Mapping[str, Any] | None,
    rules: Sequence[DeploymentRule],
    service_of: Any,
) -> Deployment | None:
    """The :class:`Deployment` of an environment deployment record matching a rule.

    ``build`` is the record's owner build (its sha, repository and branch); ``service_of(repo)`` names
    the service of a repository. ``None`` when no rule matches.
    """
    build = build or {}
    facts = RunFacts(
        name=str(obj(record.get("definition"), "definition").get("name") or ""),
        ci_environment=environment.get("name"),
        branch=branch_name(build.get("sourceBranch")),
    )
    match = match_rule(rules, facts)
    if match is None:
        return None
    result = record.get("result")
    finished_at = time_of(record.get("finishTime"), "finishTime")
    finished = finished_at is not None and result not in (None, "", "none")
    repo = build_repo(project, build)
    return Deployment(
        source=source,
        external_id=f"{project}/environments/{identifier(environment, 'id')}/records/{identifier(record, 'id')}",
        service=match.rule.service or service_of(repo or project),
        environment=match.environment,
        status=match.status_for(str(result) if finished else None, finished=finished),
        sha=build.get("sourceVersion"),
        finished_at=finished_at if finished else None,
        started_at=time_of(record.get("startTime"), "startTime") or time_of(record.get("queueTime"), "queueTime"),
        repo=repo,
    )

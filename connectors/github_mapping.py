"""Pure mappings of GitHub REST objects to domain records (no I/O).

Field mapping (GitHub → record), documented in ``docs/sources/github.md``:

- commit: ``sha``; ``commit.author.date`` → ``authored_at``; ``commit.committer.date`` →
  ``committed_at``; ``author.login`` (else ``commit.author.name``) → ``author``;
  ``commit.author.email``; ``parents[].sha``; ``commit.message``.
- pull request: ``number``, ``created_at``, ``user.login``, ``title``, ``labels[].name``,
  ``head.ref``, ``base.ref``, ``merged_at``, ``closed_at``; ``merge_commit_sha`` only when
  ``merged_at`` is set (otherwise it is a test-merge commit); ``commits`` and ``first_commit_at``
  (earliest author date) from the PR commits; ``first_review_at`` = earliest ``submitted_at`` of a
  non-pending review by someone other than the author and not a bot (user ``type`` ``Bot`` or a
  ``[bot]`` login).
- deployment status: the newest status that is not ``inactive`` decides: success → success,
  failure → failure, error → error, queued/pending/in_progress → in_progress; ``finished_at`` is that
  status's ``created_at`` for final states. ``inactive`` only ever follows ``success`` when GitHub sets
  it (``auto_inactive`` marks the earlier *successful* deployments of an environment), so a deployment
  whose statuses are only ``inactive`` never reported success: it was deactivated by hand or a tool
  (e.g. before deleting it) → cancelled, at its oldest ``inactive`` status. Likewise an ``inactive``
  newer than an unfinished status (queued/pending/in_progress) → cancelled at that ``inactive``
  status. No status → in_progress.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from typing import Any

from connectors.http.incremental import parse_time
from connectors.mapping_support import time_of
from connectors.records import Commit, Deployment, DeploymentStatus, PullRequest

_STATE = {
    "success": DeploymentStatus.SUCCESS,
    "failure": DeploymentStatus.FAILURE,
    "error": DeploymentStatus.ERROR,
    "pending": DeploymentStatus.IN_PROGRESS,
    "queued": DeploymentStatus.IN_PROGRESS,
    "in_progress": DeploymentStatus.IN_PROGRESS,
}
FINAL_STATES = frozenset({DeploymentStatus.SUCCESS, DeploymentStatus.FAILURE, DeploymentStatus.ERROR})


def _required_time(value: Any, what: str) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError(f"missing {what}")
    return parsed


def _object(value: Any, what: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, ``{}`` when absent; ``ValueError`` naming ``what`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def _id(raw: Mapping[str, Any], key: str) -> str:
    """``raw[key]`` as text; ``ValueError`` naming ``key`` when it is not a string or number."""
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{key}: expected a string or number, got {type(value).__name__}")
    return str(value)


def commit_from_api(source: str, repo: str, raw: Mapping[str, Any]) -> Commit:
    """A :class:`Commit` from a ``/commits`` (or PR commits, compare) item."""
    git = _object(raw.get("commit"), "commit")
    author = _object(git.get("author"), "commit.author")
    committer = _object(git.get("committer"), "commit.committer")
    user = _object(raw.get("author"), "author")
    return Commit(
        source=source,
        repo=repo,
        sha=raw["sha"],
        authored_at=_required_time(author.get("date") or committer.get("date"), "commit date"),
        committed_at=time_of(committer.get("date"), "date"),
        author=user.get("login") or author.get("name"),
        author_email=author.get("email"),
        parents=tuple(p["sha"] for p in raw.get("parents") or ()),
        message=git.get("message"),
    )


def first_review_at(reviews: Iterable[Mapping[str, Any]], author: str | None) -> datetime | None:
    """Earliest ``submitted_at`` of a submitted review by a person other than ``author``.

    Reviews by bots (a user of ``type`` ``Bot``, or a ``[bot]`` login: GitHub Apps, review assistants)
    are not the human pickup the review time measures, and are skipped.
    """
    times = [
        t
        for r in map(_object, reviews, repeat("review"))
        if r.get("state") != "PENDING" and not _by_bot_or(_object(r.get("user"), "review.user"), author)
        if (t := time_of(r.get("submitted_at"), "submitted_at")) is not None
    ]
    return min(times, default=None)


def _by_bot_or(user: Mapping[str, Any], author: str | None) -> bool:
    login = user.get("login")
    return login == author or user.get("type") == "Bot" or (isinstance(login, str) and login.endswith("[bot]"))


def pull_request_from_api(
    source: str,
    repo: str,
    raw: Mapping[str, Any],
    commits: Sequence[Commit] = (),
    review_at: datetime | None = None,
) -> PullRequest:
    """A :class:`PullRequest` from a ``/pulls`` item plus its commits (oldest first) and reviews."""
    merged_at = time_of(raw.get("merged_at"), "merged_at")
    return PullRequest(
        source=source,
        repo=repo,
        number=int(raw["number"]),
        created_at=_required_time(raw.get("created_at"), "created_at"),
        author=_object(raw.get("user"), "user").get("login"),
        title=raw.get("title"),
        labels=tuple(label["name"] for label in raw.get("labels") or ()),
        head_branch=_object(raw.get("head"), "head").get("ref"),
        base_branch=_object(raw.get("base"), "base").get("ref"),
        first_commit_at=min((c.authored_at for c in commits), default=None),
        first_review_at=review_at,
        merged_at=merged_at,
        closed_at=time_of(raw.get("closed_at"), "closed_at"),
        merge_sha=raw.get("merge_commit_sha") if merged_at else None,
        commits=tuple(c.sha for c in commits),
    )


def pull_request_records(
    source: str,
    repo: str,
    raw: Mapping[str, Any],
    commit_items: Sequence[Mapping[str, Any]],
    reviews: Sequence[Mapping[str, Any]] | None,
) -> tuple[list[Commit], PullRequest]:
    """The commits and the :class:`PullRequest` of a ``/pulls`` item, its commit items (oldest first) and
    its reviews (``None`` when they were not read): the one mapping of the sync and the rebuild."""
    commits = [commit_from_api(source, repo, item) for item in commit_items]
    review_at = first_review_at(reviews, (raw.get("user") or {}).get("login")) if reviews is not None else None
    return commits, pull_request_from_api(source, repo, raw, commits, review_at)


def branch_merge_deployment(
    source: str,
    repo: str,
    service_of: Callable[[str], str],
    branch: str | None,
    environment: str,
    pr: PullRequest,
) -> Deployment | None:
    """The deployment of ``pr`` when it was merged (with a merge sha) into the deployment ``branch``."""
    if branch and pr.merged_at and pr.base_branch == branch and pr.merge_sha:
        return merge_deployment(source, repo, service_of(repo), environment, pr)
    return None


def release_is_deployment(raw: Mapping[str, Any], include_prereleases: bool) -> bool:
    """Whether a release counts as a deployment: published, not a draft, a pre-release only when included."""
    if raw.get("draft") or not raw.get("published_at"):
        return False
    return not raw.get("prerelease") or include_prereleases


def tag_is_deployment(name: str, tag_pattern: str) -> bool:
    """Whether a tag name fully matches the deployment tag pattern."""
    return re.fullmatch(tag_pattern, name) is not None


def sha_of_commit(body: Any) -> str | None:
    """The ``sha`` of a ``/commits/{ref}`` answer."""
    return body.get("sha") if isinstance(body, dict) else None


def deployment_state(statuses: Sequence[Mapping[str, Any]]) -> tuple[DeploymentStatus, datetime | None]:
    """The state and finish time from a deployment's statuses (newest first, as the API lists them).

    ``inactive`` never means success by itself (see the module docstring): without a final status
    before it, the deployment was deactivated unfinished and is cancelled at the ``inactive`` status
    that followed its last other status (the oldest ``inactive`` when it has no other status).
    """
    deactivated_at: datetime | None = None
    saw_inactive = False
    for status in statuses:
        state = str(_object(status, "deployment status").get("state", "")).lower()
        if state == "inactive":
            saw_inactive = True
            deactivated_at = time_of(status.get("created_at"), "created_at") or deactivated_at
            continue
        mapped = _STATE.get(state)
        if mapped is None:
            continue
        if mapped in FINAL_STATES:
            return mapped, time_of(status.get("created_at"), "created_at")
        if saw_inactive:
            return DeploymentStatus.CANCELLED, deactivated_at
        return mapped, None
    if saw_inactive:
        return DeploymentStatus.CANCELLED, deactivated_at
    return DeploymentStatus.IN_PROGRESS, None


def deployment_from_api(
    source: str,
    repo: str,
    service: str,
    raw: Mapping[str, Any],
    statuses: Sequence[Mapping[str, Any]],
) -> Deployment:
    """A :class:`Deployment` from a ``/deployments`` item and its statuses (newest first)."""
    status, finished_at = deployment_state(statuses)
    return Deployment(
        source=source,
        external_id=f"{repo}/deployments/{raw['id']}",
        service=service,
        environment=str(raw.get("environment") or ""),
        status=status,
        sha=raw.get("sha"),
        finished_at=finished_at,
        started_at=time_of(raw.get("created_at"), "created_at"),
        repo=repo,
    )


def release_deployment(
    source: str, repo: str, service: str, environment: str, raw: Mapping[str, Any], sha: str | None
) -> Deployment:
    """A successful deployment for a published release (time: ``published_at``)."""
    return Deployment(
        source=source,
        external_id=f"{repo}/releases/{_id(raw, 'id')}",
        service=service,
        environment=environment,
        status=DeploymentStatus.SUCCESS,
        sha=sha,
        finished_at=time_of(raw.get("published_at"), "published_at"),
        started_at=time_of(raw.get("created_at"), "created_at"),
        repo=repo,
    )


def tag_deployment(
    source: str, repo: str, service: str, environment: str, name: str, sha: str, at: datetime | None
) -> Deployment:
    """A successful deployment for a tag (time: its commit's committer date)."""
    return Deployment(
        source=source,
        external_id=f"{repo}/tags/{name}",
        service=service,
        environment=environment,
        status=DeploymentStatus.SUCCESS,
        sha=sha,
        finished_at=at,
        repo=repo,
    )


def merge_deployment(source: str, repo: str, service: str, environment: str, pr: PullRequest) -> Deployment:
    """A successful deployment for a pull request merged into the deployment branch."""
    return Deployment(
        source=source,
        external_id=f"{repo}/pulls/{pr.number}/merge",
        service=service,
        environment=environment,
        status=DeploymentStatus.SUCCESS,
        sha=pr.merge_sha,
        finished_at=pr.merged_at,
        started_at=pr.merged_at,
        repo=repo,
    )

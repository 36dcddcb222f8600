"""Pure mappings of GitLab REST v4 objects to domain records (no I/O).

Field mapping (GitLab → record), documented in ``docs/sources/gitlab.md``:

- commit: ``id`` → ``sha``; ``authored_date``, ``committed_date`` (offsets converted to UTC);
  ``author_name``, ``author_email``, ``parent_ids``, ``message``.
- merge request: ``iid`` → ``number``; ``created_at``, ``author.username``, ``title``, ``labels``
  (strings), ``source_branch`` → ``head_branch``, ``target_branch`` → ``base_branch``,
  ``merged_at``, ``closed_at``; ``merge_sha`` (only when merged) = ``merge_commit_sha``, else
  ``squash_commit_sha``, else ``sha`` (fast-forward merge); ``commits`` from the MR commits
  endpoint (listed newest first, stored oldest first); ``first_review_at`` = earliest note by
  someone other than the author and not a bot (:func:`connectors.review_bots.gitlab_user_is_bot`:
  access-token and service-account bots, GitLab's internal bots) that is a comment or an "approved"
  system note.
- deployment: ``status`` success → success, failed → failure, canceled → cancelled,
  created/running/blocked → in_progress; any other value is not mapped (raw payload kept, warning).
  ``finished_at`` = ``deployable.finished_at`` (else ``updated_at``) for final states;
  ``started_at`` = ``deployable.started_at`` (else ``created_at``); ``environment.name``; ``sha``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.mapping_support import time_of
from connectors.records import Commit, Deployment, DeploymentStatus, PullRequest
from connectors.review_bots import gitlab_user_is_bot

DEPLOYMENT_STATUS = {
    "success": DeploymentStatus.SUCCESS,
    "failed": DeploymentStatus.FAILURE,
    "canceled": DeploymentStatus.CANCELLED,
    "created": DeploymentStatus.IN_PROGRESS,
    "running": DeploymentStatus.IN_PROGRESS,
    "blocked": DeploymentStatus.IN_PROGRESS,
}
_FINAL = frozenset({DeploymentStatus.SUCCESS, DeploymentStatus.FAILURE, DeploymentStatus.CANCELLED})


def commit_from_api(source: str, repo: str, raw: Mapping[str, Any]) -> Commit:
    """A :class:`Commit` from a repository, MR or compare commit item."""
    authored = time_of(raw.get("authored_date"), "authored_date") or time_of(raw.get("created_at"), "created_at")
    if authored is None:
        raise ValueError(f"commit {raw.get('id')} has no date")
    return Commit(
        source=source,
        repo=repo,
        sha=raw["id"],
        authored_at=authored,
        committed_at=time_of(raw.get("committed_date"), "committed_date"),
        author=raw.get("author_name"),
        author_email=raw.get("author_email"),
        parents=tuple(raw.get("parent_ids") or ()),
        message=raw.get("message"),
    )


def first_review_at(notes: Iterable[Mapping[str, Any]], author_id: int | None) -> datetime | None:
    """Earliest note by someone else who is not a bot: a comment, or the system note of an approval."""
    times = []
    for note in notes:
        if not isinstance(note, Mapping) or not isinstance(note.get("author") or {}, Mapping):
            raise ValueError("notes: expected objects with an object author")
        author = note.get("author") or {}
        if author.get("id") == author_id or gitlab_user_is_bot(author):
            continue
        body = str(note.get("body") or "").lower()
        if note.get("system") and not body.startswith("approved this merge request"):
            continue
        when = time_of(note.get("created_at"), "created_at")
        if when is not None:
            times.append(when)
    return min(times, default=None)


def merge_request_from_api(
    source: str,
    repo: str,
    raw: Mapping[str, Any],
    commits: Sequence[Commit] = (),
    review_at: datetime | None = None,
) -> PullRequest:
    """A :class:`PullRequest` from an MR item plus its commits (oldest first)."""
    merged_at = time_of(raw.get("merged_at"), "merged_at")
    merge_sha = None
    if merged_at is not None:
        merge_sha = raw.get("merge_commit_sha") or raw.get("squash_commit_sha") or raw.get("sha")
    created = time_of(raw.get("created_at"), "created_at")
    if created is None:
        raise ValueError(f"merge request {raw.get('iid')} has no created_at")
    return PullRequest(
        source=source,
        repo=repo,
        number=int(raw["iid"]),
        created_at=created,
        author=(raw.get("author") or {}).get("username"),
        title=raw.get("title"),
        labels=tuple(str(label) for label in raw.get("labels") or ()),
        head_branch=raw.get("source_branch"),
        base_branch=raw.get("target_branch"),
        first_commit_at=min((c.authored_at for c in commits), default=None),
        first_review_at=review_at,
        merged_at=merged_at,
        closed_at=time_of(raw.get("closed_at"), "closed_at"),
        merge_sha=merge_sha,
        commits=tuple(c.sha for c in commits),
    )


def merge_request_records(
    source: str,
    repo: str,
    raw: Mapping[str, Any],
    raw_commits: Sequence[Mapping[str, Any]],
    notes: Sequence[Mapping[str, Any]] | None,
) -> tuple[list[Commit], PullRequest]:
    """The commits and the :class:`PullRequest` of an MR item, its commit items (oldest first) and its
    notes (``None`` when they were not read): the one mapping of the sync and the rebuild."""
    commits = [commit_from_api(source, repo, item) for item in raw_commits]
    review_at = first_review_at(notes, (raw.get("author") or {}).get("id")) if notes is not None else None
    return commits, merge_request_from_api(source, repo, raw, commits, review_at)


def deployment_from_api(source: str, repo: str, service: str, raw: Mapping[str, Any]) -> Deployment | None:
    """A :class:`Deployment`, or ``None`` when its ``status`` is not a known GitLab value."""
    status = DEPLOYMENT_STATUS.get(str(raw.get("status")))
    if status is None:
        return None
    job = raw.get("deployable") or {}
    finished = None
    if status in _FINAL:
        finished = time_of(job.get("finished_at"), "finished_at") or time_of(raw.get("updated_at"), "updated_at")
    return Deployment(
        source=source,
        external_id=f"{repo}/deployments/{raw['id']}",
        service=service,
        environment=str((raw.get("environment") or {}).get("name") or ""),
        status=status,
        sha=raw.get("sha"),
        finished_at=finished,
        started_at=time_of(job.get("started_at"), "started_at") or time_of(raw.get("created_at"), "created_at"),
        repo=repo,
    )

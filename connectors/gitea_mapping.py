"""Pure mappings of Gitea / Forgejo API v1 objects to domain records (no I/O).

Field mapping (Gitea → record), documented in ``docs/sources/gitea.md``:

- commit: ``sha``; ``commit.author.date`` → ``authored_at``; ``commit.committer.date`` →
  ``committed_at``; ``commit.author.name``/``email``; ``parents[].sha``; ``commit.message``.
- pull request: ``number``; ``created_at``; ``user.login``; ``title``; ``labels[].name``;
  ``head.ref``/``base.ref``; ``merged_at``; ``closed_at``; ``merge_commit_sha`` (only when merged);
  ``first_review_at`` = earliest submitted review (approved, changes requested or comment) by someone
  other than the author and not the built-in Actions bot (pending reviews do not count; see
  :func:`connectors.review_bots.gitea_user_is_bot`).
- release → deployment (``releases`` mode): ``{repo}/releases/{id}``, successful, at
  ``published_at`` (else ``created_at``), sha of the release's tag. Drafts are never deployments;
  pre-releases only with ``include_prereleases``.
- tag → deployment (``tags`` mode): ``{repo}/tags/{name}``, successful, at ``commit.created``,
  sha ``commit.sha``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.http.incremental import parse_time
from connectors.mapping_support import identifier, obj, objects, time_of
from connectors.records import Commit, Deployment, DeploymentStatus, PullRequest
from connectors.review_bots import gitea_user_is_bot

REVIEW_STATES = frozenset({"APPROVED", "REQUEST_CHANGES", "COMMENT"})


def _get(raw: Any, *path: str) -> Any:
    value = raw
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def commit_from_api(source: str, repo: str, raw: Mapping[str, Any]) -> Commit:
    """A :class:`Commit` from a repository or pull request commit item."""
    authored = parse_time(_get(raw, "commit", "author", "date")) or time_of(raw.get("created"), "created")
    if authored is None:
        raise ValueError(f"commit {raw.get('sha')} has no date")
    return Commit(
        source=source,
        repo=repo,
        sha=identifier(raw, "sha"),
        authored_at=authored,
        committed_at=parse_time(_get(raw, "commit", "committer", "date")),
        author=_get(raw, "commit", "author", "name"),
        author_email=_get(raw, "commit", "author", "email"),
        parents=tuple(str(p["sha"]) for p in raw.get("parents") or () if isinstance(p, Mapping)),
        message=_get(raw, "commit", "message"),
    )


def first_review_at(reviews: Iterable[Mapping[str, Any]], author: str | None) -> datetime | None:
    """Earliest submitted review by someone other than the pull request's author and not a bot."""
    times = []
    for review in objects(reviews, "reviews"):
        user = obj(review.get("user"), "review.user")
        if str(review.get("state")) not in REVIEW_STATES or user.get("login") == author or gitea_user_is_bot(user):
            continue
        when = time_of(review.get("submitted_at"), "submitted_at")
        if when is not None:
            times.append(when)
    return min(times, default=None)


def pull_request_from_api(
    source: str,
    repo: str,
    raw: Mapping[str, Any],
    commits: Sequence[Commit] = (),
    review_at: datetime | None = None,
) -> PullRequest:
    """A :class:`PullRequest` from a pull request item and its commits (oldest first)."""
    created = time_of(raw.get("created_at"), "created_at")
    if created is None:
        raise ValueError(f"pull request {raw.get('number')} has no created_at")
    merged_at = time_of(raw.get("merged_at"), "merged_at")
    return PullRequest(
        source=source,
        repo=repo,
        number=int(identifier(raw, "number")),
        created_at=created,
        author=_get(raw, "user", "login"),
        title=raw.get("title"),
        labels=tuple(str(label.get("name")) for label in raw.get("labels") or () if isinstance(label, Mapping)),
        head_branch=_get(raw, "head", "ref"),
        base_branch=_get(raw, "base", "ref"),
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
    raw_commits: Sequence[Mapping[str, Any]],
    reviews: Sequence[Mapping[str, Any]] | None,
) -> tuple[list[Commit], PullRequest]:
    """The commits (oldest first) and the :class:`PullRequest` of a pull item, its commit items and its
    reviews (``None`` when they were not read): the one mapping of the sync and the rebuild."""
    commits = [commit_from_api(source, repo, item) for item in raw_commits]
    commits.sort(key=lambda c: c.committed_at or c.authored_at)
    review_at = first_review_at(reviews, (raw.get("user") or {}).get("login")) if reviews is not None else None
    return commits, pull_request_from_api(source, repo, raw, commits, review_at)


def release_is_deployment(raw: Mapping[str, Any], include_prereleases: bool) -> bool:
    """Whether a release counts as a deployment: not a draft, a pre-release only when included."""
    return not (raw.get("draft") or (raw.get("prerelease") and not include_prereleases))


def sha_of_tag(tag: Mapping[str, Any]) -> str | None:
    """The commit sha of a ``/tags/{name}`` answer."""
    return (tag.get("commit") or {}).get("sha")


def release_deployment(
    source: str, repo: str, service: str, environment: str, raw: Mapping[str, Any], sha: str | None
) -> Deployment:
    """A successful :class:`Deployment` from a published release."""
    return Deployment(
        source=source,
        external_id=f"{repo}/releases/{identifier(raw, 'id')}",
        service=service,
        environment=environment,
        status=DeploymentStatus.SUCCESS,
        sha=sha,
        finished_at=time_of(raw.get("published_at"), "published_at") or time_of(raw.get("created_at"), "created_at"),
        repo=repo,
    )


def tag_deployment(source: str, repo: str, service: str, environment: str, raw: Mapping[str, Any]) -> Deployment:
    """A successful :class:`Deployment` from a tag (time: its commit's ``created``)."""
    return Deployment(
        source=source,
        external_id=f"{repo}/tags/{identifier(raw, 'name')}",
        service=service,
        environment=environment,
        status=DeploymentStatus.SUCCESS,
        sha=_get(raw, "commit", "sha"),
        finished_at=parse_time(_get(raw, "commit", "created")),
        repo=repo,
    )

"""Pure mappings of Bitbucket Cloud REST 2.0 objects to domain records (no I/O).

Field mapping (Bitbucket → record), documented in ``docs/sources/bitbucket.md``:

- commit: ``hash`` → ``sha``; ``date`` → ``authored_at`` (Bitbucket gives one date, the author
  date; ``committed_at`` stays ``None``); ``author.raw`` ``"Name <email>"`` → ``author`` and
  ``author_email``; ``parents[].hash``; ``message``.
- pull request: ``id`` → ``number``; ``created_on``; ``author.nickname`` (else ``display_name``);
  ``source.branch.name`` → ``head_branch``; ``destination.branch.name`` → ``base_branch``.
  Bitbucket has no merge or close time on the pull request: from the activity listing,
  ``merged_at`` = date of the ``update`` whose state is ``MERGED``, ``closed_at`` = date of the
  latest ``update`` with state ``MERGED``/``DECLINED``/``SUPERSEDED``; without activity both fall
  back to ``updated_on`` for a pull request in that state (an upper bound). ``first_review_at`` =
  earliest approval, change request or comment by someone other than the author and not an
  ``app_user`` (an app or access token: :func:`connectors.review_bots.bitbucket_account_is_bot`).
  ``merge_sha`` = ``merge_commit.hash`` (only when merged; the source expands abbreviated hashes).
- pipeline → :class:`PipelineRun`: ``{repo}/pipelines/{uuid}``; name = ``target.selector.pattern``
  (custom/branch pipelines), else ``target.selector.type``; status = ``state.result.name`` when
  completed, else ``state.name`` (lower-cased); ``created_on``, ``completed_on``,
  ``duration_in_seconds``, ``target.ref_name``, ``target.commit.hash``.
- environment deployment: ``state.name`` ``COMPLETED`` with ``state.status.name`` ``SUCCESSFUL`` →
  success, ``FAILED`` → failure, ``STOPPED`` → cancelled; ``IN_PROGRESS`` → in_progress;
  ``UNDEPLOYED`` (a release not deployed to that environment) → not a deployment. Environment =
  the environment's ``name`` lower-cased; sha = ``release.commit.hash`` (else
  ``deployable.commit.hash``); ``started_on``/``completed_on`` (older payloads: ``start_date``/
  ``completion_date``).
- rule deployment (a pipeline or step matching a rule): result lower-cased through
  ``RuleMatch.attempt_status``; ``NOT_RUN`` (the pipeline or step never ran) → not a deployment.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.deployment_rules import DeploymentRule, RunFacts, match_rule
from connectors.http.incremental import parse_time
from connectors.mapping_support import identifier, obj, objects, time_of
from connectors.records import Commit, Deployment, DeploymentStatus, DeploymentWithdrawal, PipelineRun, PullRequest
from connectors.review_bots import bitbucket_account_is_bot

_RAW_AUTHOR = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<email>[^>]*)>\s*$")
CLOSED_STATES = frozenset({"MERGED", "DECLINED", "SUPERSEDED"})
ENVIRONMENT_STATUS = {
    "SUCCESSFUL": DeploymentStatus.SUCCESS,
    "FAILED": DeploymentStatus.FAILURE,
    "STOPPED": DeploymentStatus.CANCELLED,
}


def _get(raw: Any, *path: str) -> Any:
    value = raw
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def commit_from_api(source: str, repo: str, raw: Mapping[str, Any]) -> Commit:
    """A :class:`Commit` from a commit item (repository, pull request or single commit)."""
    authored = time_of(raw.get("date"), "date")
    if authored is None:
        raise ValueError(f"commit {raw.get('hash')} has no date")
    author_raw = str(_get(raw, "author", "raw") or "")
    match = _RAW_AUTHOR.match(author_raw)
    name = match.group("name") if match else (author_raw or None)
    return Commit(
        source=source,
        repo=repo,
        sha=identifier(raw, "hash"),
        authored_at=authored,
        author=name or _get(raw, "author", "user", "display_name"),
        author_email=match.group("email") if match else None,
        parents=tuple(str(p["hash"]) for p in raw.get("parents") or () if isinstance(p, Mapping)),
        message=raw.get("message"),
    )


@dataclass(frozen=True, slots=True)
class ActivityTimes:
    """What a pull request's activity listing says: merge, close and first review times."""

    merged_at: datetime | None = None
    closed_at: datetime | None = None
    first_review_at: datetime | None = None


def _user_id(user: Any) -> str | None:
    if not isinstance(user, Mapping):
        return None
    return user.get("uuid") or user.get("account_id")


def activity_times(activity: Iterable[Mapping[str, Any]], author: Mapping[str, Any] | None) -> ActivityTimes:
    """Merge/close/first-review times from ``/pullrequests/{id}/activity`` items (see module doc)."""
    author_id = _user_id(author)
    merged: list[datetime] = []
    closed: list[datetime] = []
    reviews: list[datetime] = []
    for item in objects(activity, "activity"):
        update = item.get("update")
        if isinstance(update, Mapping):
            when = time_of(update.get("date"), "date")
            state = str(update.get("state") or "")
            if when is not None and state == "MERGED":
                merged.append(when)
            if when is not None and state in CLOSED_STATES:
                closed.append(when)
        for key, user_key, time_key in (
            ("approval", "user", "date"),
            ("changes_requested", "user", "date"),
            ("comment", "user", "created_on"),
        ):
            event = item.get(key)
            if not isinstance(event, Mapping):
                continue
            account = event.get(user_key)
            if isinstance(account, Mapping) and bitbucket_account_is_bot(account):
                continue
            user = _user_id(account)
            when = parse_time(event.get(time_key))
            if when is not None and (user is None or user != author_id):
                reviews.append(when)
    return ActivityTimes(
        merged_at=min(merged, default=None),
        closed_at=max(closed, default=None),
        first_review_at=min(reviews, default=None),
    )


def pull_request_from_api(
    source: str,
    repo: str,
    raw: Mapping[str, Any],
    commits: Sequence[Commit] = (),
    activity: ActivityTimes | None = None,
    merge_sha: str | None = None,
) -> PullRequest:
    """A :class:`PullRequest` from a pull request item, its commits (oldest first) and activity."""
    created = time_of(raw.get("created_on"), "created_on")
    if created is None:
        raise ValueError(f"pull request {raw.get('id')} has no created_on")
    state = str(raw.get("state") or "")
    updated = time_of(raw.get("updated_on"), "updated_on")
    if activity is not None:
        merged_at = activity.merged_at if state == "MERGED" else None
        closed_at = activity.closed_at if state in CLOSED_STATES else None
    else:
        merged_at = updated if state == "MERGED" else None
        closed_at = updated if state in CLOSED_STATES else None
    if state == "MERGED" and merged_at is None:
        merged_at = updated  # activity without the MERGED update (truncated history): upper bound
    if state in CLOSED_STATES and closed_at is None:
        closed_at = merged_at or updated
    author = obj(raw.get("author"), "author")
    return PullRequest(
        source=source,
        repo=repo,
        number=int(identifier(raw, "id")),
        created_at=created,
        author=author.get("nickname") or author.get("display_name"),
        title=raw.get("title"),
        head_branch=_get(raw, "source", "branch", "name"),
        base_branch=_get(raw, "destination", "branch", "name"),
        first_commit_at=min((c.authored_at for c in commits), default=None),
        first_review_at=activity.first_review_at if activity else None,
        merged_at=merged_at,
        closed_at=closed_at,
        merge_sha=(merge_sha or _get(raw, "merge_commit", "hash")) if state == "MERGED" else None,
        commits=tuple(c.sha for c in commits),
    )


def pull_request_records(
    source: str,
    repo: str,
    raw: Mapping[str, Any],
    raw_commits: Sequence[Mapping[str, Any]],
    raw_activity: Iterable[Mapping[str, Any]] | None,
    merge_sha: str | None,
) -> tuple[list[Commit], PullRequest]:
    """The commits and the :class:`PullRequest` of a pull request item, its commit items (oldest first),
    its activity (``None`` when not read) and its resolved merge sha: the one mapping of the sync and the
    rebuild."""
    commits = [commit_from_api(source, repo, item) for item in raw_commits]
    activity = activity_times(raw_activity, raw.get("author")) if raw_activity is not None else None
    return commits, pull_request_from_api(source, repo, raw, commits, activity, merge_sha)


def merge_hash_to_resolve(raw: Mapping[str, Any], resolve: bool) -> str | None:
    """The short merge commit hash of a merged pull request that must be looked up for its full sha."""
    short = (raw.get("merge_commit") or {}).get("hash")
    if raw.get("state") == "MERGED" and short and len(short) < 40 and resolve:
        return str(short)
    return None


def resolved_merge_sha(commit: Mapping[str, Any], short: str) -> str:
    """The full sha of a ``/commit/{short}`` answer."""
    return str(commit.get("hash") or short)


def pipeline_deployments(
    source: str,
    repo: str,
    pipeline: Mapping[str, Any],
    rules: Sequence[DeploymentRule],
    service_of: Callable[[str], str],
    steps: Sequence[Mapping[str, Any]] | None,
) -> list[Deployment | DeploymentWithdrawal]:
    """The deployments a pipeline stands for: the pipeline itself when a rule matches its name
    (``steps`` ``None``), else each step a rule matches by its name. A completed pipeline or step whose
    result is ``NOT_RUN`` (e.g. a manual step never triggered, a step after a failed one) never ran and is
    no deployment, neither a success nor a failed attempt (:meth:`RuleMatch.attempt_status`): its
    :class:`DeploymentWithdrawal` removes a copy an earlier read stored while it was pending."""
    target = pipeline.get("target") or {}
    branch = target.get("ref_name")
    sha = (target.get("commit") or {}).get("hash")
    pipeline_id = f"{repo}/pipelines/{pipeline['uuid']}"
    # (the run, its name, its external id, the field of its start time)
    runs = (
        [(pipeline, pipeline_name(pipeline), pipeline_id, "created_on")]
        if steps is None
        else [
            (step, str(step.get("name") or ""), f"{pipeline_id}/steps/{step['uuid']}", "started_on") for step in steps
        ]
    )
    deployments: list[Deployment | DeploymentWithdrawal] = []
    for run, name, external_id, started_field in runs:
        match = match_rule(rules, RunFacts(name, branch=branch))
        if match is None:
            continue
        result, finished = run_result(run)
        status = match.attempt_status(result, finished=finished)
        if status is None:  # NOT_RUN: the pipeline or step never ran (an earlier read may have stored it in progress)
            deployments.append(DeploymentWithdrawal(source, external_id))
            continue
        deployments.append(
            Deployment(
                source=source,
                external_id=external_id,
                service=match.rule.service or service_of(repo),
                environment=match.environment,
                status=status,
                sha=sha,
                finished_at=parse_time(run.get("completed_on")) if finished else None,
                started_at=parse_time(run.get(started_field)),
                repo=repo,
            )
        )
    return deployments


def environment_names(listed: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Environment uuid → lower-cased name, from an ``/environments`` listing."""
    return {str(e["uuid"]): str(e.get("name") or "").lower() for e in listed}


def pipeline_name(raw: Mapping[str, Any]) -> str:
    """The name rules match a pipeline on: its selector pattern, else the selector type."""
    selector = obj(_get(raw, "target", "selector"), "target.selector")
    return str(selector.get("pattern") or selector.get("type") or "default")


def run_result(raw: Mapping[str, Any]) -> tuple[str, bool]:
    """``(result or state name lower-cased, finished)`` of a pipeline or step ``state``."""
    state = obj(raw.get("state"), "state")
    finished = state.get("name") == "COMPLETED"
    result = _get(state, "result", "name") if finished else state.get("name")
    return str(result or state.get("name") or "unknown").lower(), finished


def pipeline_run_from_api(source: str, repo: str, raw: Mapping[str, Any]) -> PipelineRun:
    """A :class:`PipelineRun` from a pipeline item."""
    created = time_of(raw.get("created_on"), "created_on")
    if created is None:
        raise ValueError(f"pipeline {raw.get('uuid')} has no created_on")
    status, _ = run_result(raw)
    duration = raw.get("duration_in_seconds")
    return PipelineRun(
        source=source,
        external_id=f"{repo}/pipelines/{identifier(raw, 'uuid')}",
        repo=repo,
        name=pipeline_name(raw),
        status=status,
        created_at=created,
        finished_at=time_of(raw.get("completed_on"), "completed_on"),
        branch=_get(raw, "target", "ref_name"),
        sha=_get(raw, "target", "commit", "hash"),
        duration_seconds=float(duration) if isinstance(duration, int | float) else None,
    )


def environment_deployment_from_api(
    source: str, repo: str, service: str, environment: str, raw: Mapping[str, Any]
) -> Deployment | None:
    """A :class:`Deployment` from a deployments item; ``None`` for ``UNDEPLOYED`` or an unknown state/status."""
    state = obj(raw.get("state"), "state")
    name = state.get("name")
    if name == "COMPLETED":
        found = ENVIRONMENT_STATUS.get(str(_get(state, "status", "name")))
        if found is None:
            return None
        status = found
    elif name == "IN_PROGRESS":
        status = DeploymentStatus.IN_PROGRESS
    else:
        return None
    started = parse_time(state.get("started_on") or state.get("start_date"))
    finished = parse_time(state.get("completed_on") or state.get("completion_date"))
    return Deployment(
        source=source,
        external_id=f"{repo}/deployments/{identifier(raw, 'uuid')}",
        service=service,
        environment=environment,
        status=status,
        sha=_get(raw, "release", "commit", "hash") or _get(raw, "deployable", "commit", "hash"),
        finished_at=finished if status is not DeploymentStatus.IN_PROGRESS else None,
        started_at=started,
        repo=repo,
    )


def deployment_time(raw: Mapping[str, Any]) -> datetime | None:
    """The cursor time of a deployments item: completion, else start, else its last update."""
    state = obj(raw.get("state"), "state")
    return (
        parse_time(state.get("completed_on") or state.get("completion_date"))
        or parse_time(state.get("started_on") or state.get("start_date"))
        or time_of(raw.get("last_update_time"), "last_update_time")
    )

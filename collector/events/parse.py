"""Validating canonical events and turning them into domain records.

Every problem names the line (or item) number, the field and the reason; nothing is half-parsed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from collector.events.schema import (
    EVENT_TYPES,
    CommitEvent,
    DeploymentEvent,
    IncidentEvent,
    PullRequestEvent,
    event_adapter,
)
from connectors.records import Commit, Deployment, DeploymentStatus, Incident, PullRequest, Record

DEFAULT_EVENT_SOURCE = "events"


@dataclass(frozen=True, slots=True)
class EventProblem:
    """One invalid event: its 1-based line or item number, the field path and the reason."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field or '<event>'}: {self.message}"


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(part) for part in loc]
    # the discriminated union puts the tag first ("deployment", "finished_at")
    if parts and parts[0] in EVENT_TYPES:
        parts = parts[1:]
    return ".".join(parts)


def validate_event(
    data: Any, line: int, source: str = DEFAULT_EVENT_SOURCE
) -> tuple[Record | None, list[EventProblem]]:
    """Validate one decoded event; return its record (from ``source``) or the problems found."""
    if not isinstance(data, dict):
        return None, [EventProblem(line, "", "each event must be a JSON object")]
    kind = data.get("type")
    if kind not in EVENT_TYPES:
        allowed = ", ".join(EVENT_TYPES)
        return None, [EventProblem(line, "type", f"unknown or missing event type {kind!r}; expected one of {allowed}")]
    try:
        event = event_adapter.validate_python(data)
    except ValidationError as error:
        return None, [
            EventProblem(line, _field(item["loc"]), item["msg"])
            for item in error.errors(include_input=False, include_url=False)
        ]
    return to_record(event, source), []


def to_record(
    event: CommitEvent | PullRequestEvent | DeploymentEvent | IncidentEvent, source: str = DEFAULT_EVENT_SOURCE
) -> Record:
    """The domain record of a validated event."""
    if isinstance(event, CommitEvent):
        return Commit(
            source=source,
            repo=event.repo,
            sha=event.sha.lower(),
            authored_at=event.authored_at,
            committed_at=event.committed_at,
            author=event.author,
            author_email=event.author_email,
            parents=tuple(map(str.lower, event.parents)),
            message=event.message,
            paths=tuple(event.paths) if event.paths is not None else None,
        )
    if isinstance(event, PullRequestEvent):
        return PullRequest(
            source=source,
            repo=event.repo,
            number=event.number,
            created_at=event.created_at,
            author=event.author,
            title=event.title,
            labels=tuple(event.labels),
            head_branch=event.head_branch,
            base_branch=event.base_branch,
            first_commit_at=event.first_commit_at,
            first_review_at=event.first_review_at,
            merged_at=event.merged_at,
            closed_at=event.closed_at,
            merge_sha=event.merge_sha.lower() if event.merge_sha else None,
            commits=tuple(map(str.lower, event.commits)),
        )
    if isinstance(event, DeploymentEvent):
        return Deployment(
            source=source,
            external_id=event.id,
            service=event.service,
            environment=event.environment,
            status=DeploymentStatus(event.status.value),
            sha=event.sha.lower() if event.sha else None,
            finished_at=event.finished_at,
            started_at=event.started_at,
            repo=event.repo,
            commits=tuple(map(str.lower, event.commits)) if event.commits is not None else None,
            is_rollback=event.is_rollback,
        )
    return Incident(
        source=source,
        external_id=event.id,
        service=event.service,
        created_at=event.created_at,
        resolved_at=event.resolved_at,
        acknowledged_at=event.acknowledged_at,
        title=event.title,
        severity=event.severity,
        cause_deployment_id=event.deployment_id,
        cause_sha=event.sha.lower() if event.sha else None,
    )


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """The outcome of one input line: a record, or the problems that kept it out."""

    line: int
    record: Record | None
    problems: tuple[EventProblem, ...]


def parse_json_lines(
    lines: Iterable[str], *, start: int = 1, source: str = DEFAULT_EVENT_SOURCE
) -> Iterator[ParsedLine]:
    """Decode and validate JSON Lines, one by one; blank lines are skipped, the first line is number ``start``.

    The records carry ``source``. This is the reference path: :mod:`collector.events.bulk` validates
    whole chunks and falls back to it for a chunk with a problem.
    """
    for number, text in enumerate(lines, start=start):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            yield ParsedLine(
                number, None, (EventProblem(number, "", f"not valid JSON: {error.msg} at column {error.colno}"),)
            )
            continue
        record, problems = validate_event(data, number, source)
        yield ParsedLine(number, record, tuple(problems))

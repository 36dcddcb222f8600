"""The canonical event schema (published as ``docs/events.schema.json``).

One JSON object per event with a ``type`` of ``commit``, ``pull_request``, ``deployment`` or
``incident``. Timestamps are ISO 8601 strings that must carry a UTC offset (``Z`` or ``±HH:MM``);
a timestamp without one is an error, never silently read as local or UTC time. Unknown keys are
errors too, so a misspelt optional field cannot be lost silently.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
)
from pydantic import model_validator as _model_validator

_SHA_PATTERN = r"^[0-9a-fA-F]{4,64}$"


def _parse_timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 timestamp: {value!r}") from None
    else:
        raise ValueError("expected an ISO 8601 timestamp string with a UTC offset")
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"timestamp {value!r} has no UTC offset: add Z or ±HH:MM")
    return parsed


Timestamp = Annotated[
    datetime,
    BeforeValidator(_parse_timestamp),
    Field(json_schema_extra={"type": "string", "format": "date-time", "pattern": r"(Z|[+-]\d{2}:?\d{2})$"}),
]
Sha = Annotated[StrictStr, Field(pattern=_SHA_PATTERN)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=400)]


class EventStatus(StrEnum):
    """Deployment statuses accepted by the schema."""

    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in_progress"


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommitEvent(_Event):
    """A commit of a repository."""

    type: Literal["commit"]
    repo: Name
    sha: Sha
    authored_at: Timestamp
    committed_at: Timestamp | None = None
    author: StrictStr | None = None
    author_email: StrictStr | None = None
    parents: list[Sha] = []
    message: StrictStr | None = None
    paths: list[StrictStr] | None = None


class PullRequestEvent(_Event):
    """A pull or merge request; ``commits`` lists its commit shas."""

    type: Literal["pull_request"]
    repo: Name
    number: Annotated[StrictInt, Field(ge=1)]
    created_at: Timestamp
    merged_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    merge_sha: Sha | None = None
    commits: list[Sha] = []
    first_commit_at: Timestamp | None = None
    first_review_at: Timestamp | None = None
    author: StrictStr | None = None
    title: StrictStr | None = None
    labels: list[StrictStr] = []
    head_branch: StrictStr | None = None
    base_branch: StrictStr | None = None

    @_model_validator(mode="after")
    def _ordered(self) -> PullRequestEvent:
        if self.merged_at is not None and self.merged_at < self.created_at:
            raise ValueError("merged_at is before created_at")
        return self


class DeploymentEvent(_Event):
    """A deployment of a service to an environment. ``finished_at`` may be null only while in progress."""

    type: Literal["deployment"]
    id: Name
    service: Name
    environment: Name
    status: EventStatus
    sha: Sha | None
    finished_at: Timestamp | None
    started_at: Timestamp | None = None
    repo: Name | None = None
    commits: list[Sha] | None = None
    is_rollback: StrictBool = False

    @_model_validator(mode="after")
    def _times(self) -> DeploymentEvent:
        if self.finished_at is None and self.status is not EventStatus.IN_PROGRESS:
            raise ValueError("finished_at is required unless status is in_progress")
        if self.sha is None and self.status is EventStatus.SUCCESS:
            raise ValueError("sha is required for a successful deployment")
        if self.started_at and self.finished_at and self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        return self


class IncidentEvent(_Event):
    """An incident of a service; ``deployment_id`` or ``sha`` name its cause when known."""

    type: Literal["incident"]
    id: Name
    service: Name | None
    created_at: Timestamp
    resolved_at: Timestamp | None = None
    acknowledged_at: Timestamp | None = None
    severity: StrictStr | None = None
    title: StrictStr | None = None
    deployment_id: Name | None = None
    sha: Sha | None = None

    @_model_validator(mode="after")
    def _times(self) -> IncidentEvent:
        if self.resolved_at is not None and self.resolved_at < self.created_at:
            raise ValueError("resolved_at is before created_at")
        return self


Event = Annotated[CommitEvent | PullRequestEvent | DeploymentEvent | IncidentEvent, Field(discriminator="type")]
EVENT_TYPES = ("commit", "pull_request", "deployment", "incident")
event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def event_json_schema() -> dict[str, object]:
    """The JSON Schema of one canonical event, as published in ``docs/events.schema.json``."""
    schema = event_adapter.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "delivery-metrics canonical event"
    schema["description"] = (
        "One event per JSON object (JSON Lines for `delivery-metrics ingest`, a JSON array or JSON Lines "
        "for POST /api/v1/events). Timestamps are ISO 8601 with a UTC offset."
    )
    return schema

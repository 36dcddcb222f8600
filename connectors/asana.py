"""Asana source (``kind: asana``): tasks of configured projects that are incidents.

API: ``https://app.asana.com/api/1.0``, ``Authorization: Bearer <personal access token>`` (or an
OAuth token). Rate limits: 429 with ``Retry-After`` (seconds), honoured up to
``max_rate_limit_wait``; 5xx and connection errors back off and retry; 401/403/404 are fatal.

Listing: ``GET /tasks?project={gid}&modified_since={iso}&limit={per_page}&opt_fields=...`` (the
``/projects/{gid}/tasks`` endpoint has no ``modified_since``). Every response is ``{"data": [...],
"next_page": {"offset", "path", "uri"} | null}``; the ``offset`` token is sent back as ``offset``
(:class:`AsanaOffsetPaginator`). ``limit`` is always sent: without it Asana refuses large results.

Which tasks are incidents: the common selection rules (``incidents``): ``labels`` are tag names (or
gids), ``fields`` custom field gid or name → value, ``issue_types`` the ``resource_subtype``. With no
criterion every task of the projects is an incident. Not an incident either: a completed task whose
``resolution_field`` custom field holds one of ``excluded_resolutions``
(:func:`connectors.asana_mapping.resolved_as_not_an_incident`). A listed task that is no incident yields
an :class:`~connectors.records.IncidentWithdrawal`: a copy stored by an earlier sync is removed with its
``asana.task`` payload, so a rebuild agrees.

Incremental: one cursor per project, ``tasks/{project gid}``, holding the newest ``modified_at``
stored (capped at the run start); the listing is not ordered by time, so the cursor is stored once
the project's listing is complete. Completing a task or marking it incomplete modifies it, so open
incidents come back in the next listing exactly when their state changes. A task in several
configured projects is read once per project; the upsert keeps one incident.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from connectors.asana_mapping import incident_from_task, resolved_as_not_an_incident, task_facts
from connectors.base import SourceContext
from connectors.http.client import HttpClient
from connectors.http.incremental import format_time, listing_start, new_watermark, parse_time
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import RepeatedPageError
from connectors.http.ratelimit import HeaderRateLimitReader
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.incident_rules import NOT_AN_INCIDENT_RESOLUTIONS, IncidentSourceSettings, is_incident
from connectors.mapping_support import identifier
from connectors.rebuild_support import of_kind
from connectors.records import Batch, CursorKey, Incident, IncidentWithdrawal, RawPayload, Record

__all__ = ["AsanaOffsetPaginator", "AsanaSource", "Settings", "build_source", "records_from_payloads"]

logger = logging.getLogger(__name__)

#: Asana sends no quota headers; a 429 carries ``Retry-After``.
ASANA_RATE_LIMIT = HeaderRateLimitReader()
OPT_FIELDS: tuple[str, ...] = (
    "gid",
    "name",
    "notes",
    "completed",
    "completed_at",
    "created_at",
    "modified_at",
    "resource_subtype",
    "permalink_url",
    "tags.name",
    "projects.name",
    "memberships.project.name",
    "memberships.section.name",
    "custom_fields.name",
    "custom_fields.resource_subtype",
    "custom_fields.display_value",
    "custom_fields.enum_value.name",
    "custom_fields.multi_enum_values.name",
    "custom_fields.text_value",
    "custom_fields.number_value",
    "custom_fields.date_value",
)


class Settings(IncidentSourceSettings):
    """Asana projects whose tasks hold incidents; reference in ``docs/sources/asana.md``."""

    kind: Literal["asana"] = "asana"
    base_url: str = Field(default="https://app.asana.com/api/1.0")
    projects: tuple[str, ...] = Field(min_length=1, description="Project gids whose tasks are read.")
    severity_field: str | None = Field(default=None, description="Custom field (gid or name) giving the severity.")
    acknowledged_field: str | None = Field(
        default=None, description="Date custom field (gid or name) holding the acknowledgement time."
    )
    resolution_field: str | None = Field(
        default=None, description="Custom field (gid or name) saying why a completed task was closed."
    )
    excluded_resolutions: tuple[str, ...] = Field(
        default=NOT_AN_INCIDENT_RESOLUTIONS,
        description="Values of resolution_field that make a completed task no incident.",
    )

    @field_validator("projects", mode="before")
    @classmethod
    def _gids_to_text(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [str(v) if isinstance(v, int) else v for v in value]
        return value

    @field_validator("projects")
    @classmethod
    def _numeric_unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for gid in value:
            if not gid.isdigit():
                raise ValueError(f"expected a project gid (digits), got {gid!r}")
        if len(value) != len(set(value)):
            raise ValueError("each project may be listed once")
        return value


class AsanaOffsetPaginator:
    """Asana paging: ``next_page.offset`` of the body sent back as ``offset``; ``next_page: null`` ends it."""

    def __init__(self, url: str, params: Mapping[str, str]) -> None:
        self._first = PageRequest(url, dict(params))
        self._seen: set[str] = set()

    def first(self) -> PageRequest:
        """The first page (no ``offset``)."""
        self._seen = {self._first.identity}
        return self._first

    def next_request(self, page: Page) -> PageRequest | None:
        """The page after ``page``, or ``None`` when ``next_page`` is null or has no offset."""
        body = page.body if isinstance(page.body, dict) else {}
        next_page = body.get("next_page")
        token = next_page.get("offset") if isinstance(next_page, dict) else None
        if not token:
            return None
        request = PageRequest(self._first.url, {**(self._first.params or {}), "offset": str(token)})
        if request.identity in self._seen:
            raise RepeatedPageError(f"the server sent the already requested offset {token!r} again")
        self._seen.add(request.identity)
        return request


class AsanaSource:
    """Yields the incident tasks of the configured Asana projects (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        context: SourceContext,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.context = context
        self.client: HttpClient = client_for(
            settings,
            headers={"Authorization": f"Bearer {settings.token.get_secret_value()}", "Accept": "application/json"},
            rate_limits=ASANA_RATE_LIMIT,
            sleep=sleep,
            clock=clock,
        )

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per project: one batch per page, then the project's cursor."""
        for project in self.settings.projects:
            yield from self._tasks(project, cursors)

    def _tasks(self, project: str, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        cursor = CursorKey("tasks", project)
        run_start = self.context.run_started_at
        start = listing_start(
            cursors.get(cursor),
            run_started_at=run_start,
            lookback=self.settings.lookback,
            history_days=self.settings.history_days,
        )
        params = {
            "project": project,
            "modified_since": format_time(start),
            "limit": str(self.settings.per_page),
            "opt_fields": ",".join(OPT_FIELDS),
        }
        paginator = AsanaOffsetPaginator(f"{self.settings.base_url}/tasks", params)
        newest: datetime | None = None
        for page in self.client.pages(paginator, resource=f"projects/{project}/tasks"):
            records: list[Record] = []
            for task in page.items("data"):
                modified = parse_time(task.get("modified_at"))
                if modified is not None and (newest is None or modified > newest):
                    newest = modified
                records += self._records(task, page.url)
            if records:
                yield Batch(records=tuple(records))
        watermark = new_watermark(cursors.get(cursor), newest, run_start)
        if watermark:
            yield Batch(cursors={cursor: watermark})

    def _records(self, task: Mapping[str, Any], url: str) -> list[Record]:
        incident = incident_of(self.settings, task)
        if incident is None:
            return [IncidentWithdrawal(self.name, identifier(task, "gid"), ("asana.task",))]
        if incident.service is None:
            logger.info("%s: task %s maps to no service; stored as unmapped", self.name, incident.external_id)
        return [incident, raw_payload(self.client, "asana.task", incident.external_id, task, url)]


def incident_of(settings: Settings, task: Mapping[str, Any]) -> Incident | None:
    """The incident a task stands for; ``None`` when the incident rules reject it or it was completed with
    an excluded resolution (the one mapping of the sync and the rebuild)."""
    if resolved_as_not_an_incident(task, settings.resolution_field, settings.excluded_resolutions):
        return None
    if not is_incident(settings.incidents, task_facts(task)):
        return None
    return incident_from_task(
        settings.name,
        task,
        services=settings.services,
        cause_settings=settings.cause,
        severity_field=settings.severity_field,
        acknowledged_field=settings.acknowledged_field,
    )


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The incidents a sync would write for the stored tasks (see ``connectors.rebuild_support``).
    Tasks the rules rejected at sync time were not stored, and a stored one a later sync found to be no
    incident was withdrawn with its payload."""
    found = (incident_of(settings, payload.body) for payload in of_kind(payloads, "asana.task"))
    return [incident for incident in found if incident is not None]


def build_source(settings: Settings, context: SourceContext) -> AsanaSource:
    """The Asana source for ``settings`` in this run."""
    return AsanaSource(settings, context)

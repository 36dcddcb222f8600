"""GitLab issues source (``kind: gitlab_issues``): issues of type incident, and issues with incident labels.

API: ``{base_url}/api/v4``, ``Authorization: Bearer <token>``; offset paging with ``X-Next-Page``
(``Link rel="next"`` without it); rate limits ``RateLimit-Remaining`` / ``Retry-After`` /
``RateLimit-ResetTime`` / ``RateLimit-Reset`` (see :data:`~connectors.http.GITLAB_RATE_LIMIT`).
Listings, per project, oldest first (``order_by=updated_at&sort=asc&updated_after=<watermark-lookback>&scope=all``):

- ``issue_type=incident`` when ``incident_types`` holds ``incident`` (cursor ``issues/{path}|type:incident``);
- ``labels=<label>`` for each of ``incident_labels`` (cursor ``issues/{path}|label:<label>``).

Each page's batch carries the watermark reached; closing and reopening update ``updated_at``, so an
open incident is re-read whenever its state changes. Each next page is the listing re-anchored at the
last item's ``updated_at`` (``updated_after`` is "at or after"), the next offset page only after a page
of one update time (see :mod:`connectors.http.listings`).

Not an incident: a closed issue closed as a duplicate (``_links.closed_as_duplicate_of`` set) or moved
to another project (``moved_to_id`` set: the incident lives on as the issue it was moved to, counted
where that project is read); an issue the selection (``incidents``) rejects. Such a listed issue yields
an :class:`~connectors.records.IncidentWithdrawal`: a copy stored by an earlier sync is removed with its
payload. An issue whose incident label or type was removed drops out of that listing and is not seen
again (see ``docs/sources/gitlab-issues.md``).

Mapping: ``external_id`` = ``{path}/issues/{iid}`` (as the webhook receiver); ``created_at``;
``resolved_at`` = ``closed_at`` while ``state`` is ``closed`` (reopened: open again); ``title``;
``severity`` = ``severity`` unless ``UNKNOWN``. Service: the service rules (``label``, ``project`` = the
project path, ``repo``), then the project's ``service``, then the configured mapping of the path, else
``None``. Cause: the configured ``cause.fields`` and the ``description``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from connectors.base import SourceContext
from connectors.gitlab_settings import ProjectRef
from connectors.http.client import HttpClient
from connectors.http.etag import credential_identity
from connectors.http.incremental import parse_time
from connectors.http.listings import IncrementalListings, Listing
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import NextPageHeaderPaginator
from connectors.http.ratelimit import GITLAB_RATE_LIMIT
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.incident_rules import IncidentSourceSettings, ItemFacts, find_cause, is_incident, service_for
from connectors.mapping_support import identifier, time_of
from connectors.rebuild_support import of_kind, partition_of
from connectors.records import Batch, CursorKey, Incident, IncidentWithdrawal, RawPayload, Record

__all__ = ["GitLabIssuesSource", "Settings", "build_source", "incident_from_issue", "records_from_payloads"]

logger = logging.getLogger(__name__)


class Settings(IncidentSourceSettings):
    """Incident issues of GitLab projects; reference in ``docs/sources/gitlab-issues.md``."""

    kind: Literal["gitlab_issues"] = "gitlab_issues"
    api_root_suffix: ClassVar[str] = "/api/v4"
    base_url: str = Field(default="https://gitlab.com", description="Instance root; /api/v4 is added.")
    projects: tuple[ProjectRef, ...] = Field(min_length=1)
    incident_types: tuple[Literal["incident", "issue"], ...] = Field(default=("incident",))
    incident_labels: tuple[str, ...] = Field(default=())

    @field_validator("projects", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"id": v} if isinstance(v, str | int) else v for v in value]
        return value


def issue_facts(path: str, raw: Mapping[str, Any]) -> ItemFacts:
    """Selection and service facts of one issue."""
    return ItemFacts(
        issue_type=raw.get("issue_type") or str(raw.get("type") or "").lower() or None,
        labels=tuple(str(label) for label in raw.get("labels") or ()),
        priority=raw.get("severity"),
        fields=raw,
        facts={"project": (path,), "repo": (path,)},
    )


def incident_from_issue(
    source: str, path: str, raw: Mapping[str, Any], settings: Settings, fallback_service: str | None
) -> Incident:
    """The :class:`Incident` of one issue (see the module docstring)."""
    created = time_of(raw.get("created_at"), "created_at")
    if created is None:
        raise ValueError(f"issue {path}#{raw.get('iid')} has no created_at")
    severity = raw.get("severity")
    cause = find_cause(settings.cause, raw, raw.get("description"))
    return Incident(
        source=source,
        external_id=f"{path}/issues/{identifier(raw, 'iid')}",
        service=service_for(settings.services, issue_facts(path, raw)) or fallback_service,
        created_at=created,
        resolved_at=parse_time(raw.get("closed_at")) if raw.get("state") == "closed" else None,
        title=raw.get("title"),
        severity=str(severity) if severity and severity != "UNKNOWN" else None,
        cause_deployment_id=cause.deployment_id,
        cause_sha=cause.sha,
    )


class GitLabIssuesSource:
    """Yields the incident issues of the configured projects."""

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
        token = settings.token.get_secret_value()
        self.client: HttpClient = client_for(
            settings,
            headers={"Authorization": f"Bearer {token}"},
            rate_limits=GITLAB_RATE_LIMIT,
            sleep=sleep,
            clock=clock,
        )
        self._identity = credential_identity(token)

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def _url(self, path: str) -> str:
        return f"{self.settings.base_url}/api/v4{path}"

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per project: the incident-type listing, then one listing per incident label."""
        listings = IncrementalListings.for_run(
            self.client, cursors, self._identity, self.settings, self.context.run_started_at
        )
        for project in self.settings.projects:
            body = self.client.get(
                PageRequest(self._url(f"/projects/{quote(project.id, safe='')}")), resource=f"projects/{project.id}"
            ).body
            pid, path = int(body["id"]), str(body["path_with_namespace"])
            service = project.service or self.context.services.service_for_repo(path)
            for issue_type in self.settings.incident_types:
                yield from self._issues(listings, pid, path, service, f"type:{issue_type}", {"issue_type": issue_type})
            for label in self.settings.incident_labels:
                yield from self._issues(listings, pid, path, service, f"label:{label}", {"labels": label})

    def _issues(
        self,
        listings: IncrementalListings,
        pid: int,
        path: str,
        service: str | None,
        partition: str,
        selector: Mapping[str, str],
    ) -> Iterator[Batch]:
        cursor = CursorKey("issues", f"{path}|{partition}")
        params = {
            **selector,
            "scope": "all",
            "order_by": "updated_at",
            "sort": "asc",
            "updated_after": listings.start(cursor).isoformat(),
            "per_page": str(self.settings.per_page),
        }
        paginator = NextPageHeaderPaginator(self._url(f"/projects/{pid}/issues"), params)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for raw in items:
                listing.see(parse_time(raw.get("updated_at")))
                incident = incident_of(self.settings, path, raw, service)
                if incident is None:
                    records.append(withdrawal_of(self.settings, path, raw))
                    continue
                if incident.service is None:
                    logger.info("%s: incident %s maps to no service (unmapped)", self.name, incident.external_id)
                records += [incident, raw_payload(self.client, "gitlab.issue", incident.external_id, raw, page.url)]
            return records

        resource = f"projects/{path}/issues"
        yield from listings.ascending(
            cursor, paginator, resource, handle, self.settings.per_page, anchor="updated_after"
        )


def incident_of(settings: Settings, path: str, raw: Mapping[str, Any], service: str | None) -> Incident | None:
    """The incident an issue of project ``path`` stands for; ``None`` for an issue closed as a duplicate or
    moved away (:func:`closed_as_duplicate_or_moved`) or one the incident rules reject (the one mapping of
    the sync and the rebuild)."""
    if closed_as_duplicate_or_moved(raw) or not is_incident(settings.incidents, issue_facts(path, raw)):
        return None
    return incident_from_issue(settings.name, path, raw, settings, service)


def closed_as_duplicate_or_moved(raw: Mapping[str, Any]) -> bool:
    """Whether the issue is closed as a duplicate (``_links.closed_as_duplicate_of``: the API URL of the
    issue it duplicates, shown when the token can see that issue) or was moved to another project
    (``moved_to_id``: the id of the issue it became; its ``closed_at`` is the move, not a resolution).
    Only a closed issue: a reopened one is open again."""
    if raw.get("state") != "closed":
        return False
    links = raw.get("_links")
    duplicate_of = links.get("closed_as_duplicate_of") if isinstance(links, Mapping) else None
    return bool(duplicate_of) or raw.get("moved_to_id") is not None


def withdrawal_of(settings: Settings, path: str, raw: Mapping[str, Any]) -> IncidentWithdrawal:
    """For a listed issue that is no incident (see :func:`incident_of`), the withdrawal of any copy an earlier
    sync stored, with its ``gitlab.issue`` payload."""
    return IncidentWithdrawal(settings.name, f"{path}/issues/{identifier(raw, 'iid')}", ("gitlab.issue",))


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The incidents a sync would write for the stored issues (see ``connectors.rebuild_support``).
    A project configured by numeric id is recognised by its issues' ``project_id``. Issues the rules
    rejected at sync time were not stored, and a stored one a later sync found to be no incident was
    withdrawn with its payload."""
    by_project = {p.id: p.service for p in settings.projects if p.service}
    records: list[Record] = []
    for payload in of_kind(payloads, "gitlab.issue"):
        path = partition_of(payload.external_id, "/issues/")
        override = by_project.get(path) or by_project.get(str(payload.body.get("project_id")))
        service = override or context.services.service_for_repo(path)
        incident = incident_of(settings, path, payload.body, service)
        if incident is not None:
            records.append(incident)
    return records


def build_source(settings: Settings, context: SourceContext) -> GitLabIssuesSource:
    """The GitLab issues source for ``settings`` in this run."""
    return GitLabIssuesSource(settings, context)

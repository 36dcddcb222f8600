"""Jira source (``kind: jira``): Jira Cloud (REST v3) or Jira Server / Data Center (REST v2).

API and auth: Cloud ``{base_url}/rest/api/3``, Basic ``email:api_token`` (set ``email``); Server/DC
``{base_url}/rest/api/2``, ``Authorization: Bearer <personal access token>`` (or Basic with
``email`` holding the user name). Rate limits: 429 (and 503) with ``Retry-After``;
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (an ISO 8601 time) on Cloud.

Listing: Cloud ``GET /rest/api/3/search/jql`` (the old ``/search`` is gone there) paged with
``nextPageToken`` until ``isLast`` (an empty token also ends it); Server/DC ``GET /rest/api/2/search``
paged with ``startAt`` until ``startAt + len(issues) >= total``. Both ask for explicit ``fields`` and
``expand=changelog``, with a bounded JQL::

    (<project in (...)>) AND (<jql>) AND updated >= "yyyy/MM/dd HH:mm" AND updated <= "..." ORDER BY updated ASC

Quirk: JQL dates have minute precision and are read in the *account's* time zone (``time_zone``, else
``timeZone`` of ``GET /myself``); the lower bound is ``watermark - lookback`` converted to that zone and
floored to the minute, so the overlap always covers the truncation. The embedded changelog is cut short
on busy issues (``changelog.total`` > histories): the full history is then read from
``/rest/api/3/issue/{key}/changelog`` (Cloud, ``startAt`` paging) or ``/rest/api/2/issue/{key}?expand=changelog``.

Incremental: results are ordered by ``updated`` ascending; each page's batch carries the watermark (the
newest ``updated`` stored). Every transition (resolution, reopening) sets ``updated``, so an open
incident is re-read exactly when it changes.

Not an incident: an issue the selection (``incidents``) rejects, and a done issue resolved with one of
``excluded_resolutions`` (:func:`connectors.jira_mapping.resolved_as_not_an_incident`). Such a listed
issue yields an :class:`~connectors.records.IncidentWithdrawal`: a copy stored by an earlier sync is
removed with its ``jira.issue`` payload, so a rebuild agrees. An issue that leaves the JQL (moved out
of the projects, no longer matching ``jql``) is not listed again and stays stored as last read.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from connectors.base import SourceContext
from connectors.http.client import HttpClient
from connectors.http.incremental import listing_start, new_watermark, parse_time
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import Paginator, RepeatedPageError, TokenPaginator
from connectors.http.ratelimit import HeaderRateLimitReader, ResetMeaning
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.incident_rules import NOT_AN_INCIDENT_RESOLUTIONS, IncidentSourceSettings, is_incident
from connectors.jira_mapping import (
    BASE_FIELDS,
    embedded_histories_complete,
    incident_from_issue,
    issue_facts,
    resolved_as_not_an_incident,
)
from connectors.mapping_support import identifier, obj
from connectors.rebuild_support import of_kind
from connectors.records import Batch, CursorKey, Incident, IncidentWithdrawal, RawPayload, Record

__all__ = ["JiraSource", "Settings", "StartAtPaginator", "build_source", "records_from_payloads"]

logger = logging.getLogger(__name__)

JIRA_RATE_LIMIT = HeaderRateLimitReader(
    remaining_header="X-RateLimit-Remaining",
    reset_headers=(("X-RateLimit-Reset", ResetMeaning.ISO_TIME),),
)
ISSUES = CursorKey("issues")


class Settings(IncidentSourceSettings):
    """A Jira Cloud or Server/Data Center source; reference in ``docs/sources/jira.md``."""

    kind: Literal["jira"] = "jira"
    base_url: str = Field(description="Site root, e.g. https://acme.atlassian.net (no /rest/api).")
    flavour: Literal["cloud", "server"] = Field(default="cloud", description="cloud: v3 API; server: v2 (DC).")
    email: str | None = Field(default=None, description="Basic-auth user (Cloud: the account's e-mail).")
    projects: tuple[str, ...] = Field(default=(), description="Project keys; `project in (...)` in the JQL.")
    jql: str | None = Field(default=None, description="Extra JQL selecting incidents (no ORDER BY).")
    time_zone: str | None = Field(default=None, description="IANA zone of the account; None: GET /myself.")
    done_statuses: tuple[str, ...] = ("Done", "Resolved", "Closed")
    acknowledged_statuses: tuple[str, ...] = ("In Progress", "Investigating", "Acknowledged")
    excluded_resolutions: tuple[str, ...] = Field(
        default=NOT_AN_INCIDENT_RESOLUTIONS,
        description="Resolutions (fields.resolution.name) of a done issue that make it no incident.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (expected an IANA name)") from None
        return value

    @model_validator(mode="after")
    def _bounded(self) -> Settings:
        if not self.projects and not self.jql:
            raise ValueError("set `projects` or `jql`: the search must be bounded")
        if self.jql and "order by" in self.jql.lower():
            raise ValueError("`jql` must not contain ORDER BY (the source orders by updated)")
        return self


class StartAtPaginator:
    """Jira ``startAt`` paging: next ``startAt = startAt + len(items)`` until ``total`` is reached.

    Also ends on an empty page or ``isLast: true`` (the Cloud changelog endpoint sends it). A
    ``startAt`` already requested in this traversal raises :class:`RepeatedPageError`.
    """

    def __init__(self, url: str, params: Mapping[str, str], *, items_key: str) -> None:
        self._first = PageRequest(url, {**params, "startAt": "0"})
        self._items_key = items_key
        self._seen: set[str] = set()

    def first(self) -> PageRequest:
        self._seen = {self._first.identity}
        return self._first

    def _checked(self, request: PageRequest) -> PageRequest:
        if request.identity in self._seen:
            raise RepeatedPageError(f"the server sent the already requested page {request.url!r} again")
        self._seen.add(request.identity)
        return request

    def next_request(self, page: Page) -> PageRequest | None:
        body = page.body if isinstance(page.body, dict) else {}
        items = body.get(self._items_key) or []
        if not items or body.get("isLast") is True:
            return None
        following = int(body.get("startAt") or 0) + len(items)
        total = body.get("total")
        if total is not None and following >= int(total):
            return None
        return self._checked(PageRequest(self._first.url, {**(self._first.params or {}), "startAt": str(following)}))


def jql_time(value: datetime, zone: ZoneInfo, *, ceil: bool = False) -> str:
    """``value`` as a JQL date in ``zone``, floored (or ceiled) to the minute: ``yyyy/MM/dd HH:mm``."""
    local = value.astimezone(zone)
    floored = local.replace(second=0, microsecond=0)
    if ceil and floored != local:
        floored += timedelta(minutes=1)
    return floored.strftime("%Y/%m/%d %H:%M")


class JiraSource:
    """Yields the incidents of a Jira site (see the module docstring)."""

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
        if settings.email:
            basic = base64.b64encode(f"{settings.email}:{token}".encode()).decode()
            auth = f"Basic {basic}"
        else:
            auth = f"Bearer {token}"
        self.client: HttpClient = client_for(
            settings,
            headers={"Authorization": auth, "Accept": "application/json"},
            rate_limits=JIRA_RATE_LIMIT,
            sleep=sleep,
            clock=clock,
        )
        self._api = f"{settings.base_url}/rest/api/{'3' if settings.flavour == 'cloud' else '2'}"

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """One batch per search page, each carrying the watermark it reached."""
        previous = cursors.get(ISSUES)
        run_start = self.context.run_started_at
        start = listing_start(
            previous, run_started_at=run_start, lookback=self.settings.lookback, history_days=self.settings.history_days
        )
        jql = self.jql(start, run_start, self._zone())
        newest: datetime | None = None
        for page in self.client.pages(self._paginator(jql), resource="search"):
            records: list[Record] = []
            for issue in page.items("issues"):
                updated = parse_time((issue.get("fields") or {}).get("updated"))
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
                records += self._issue_records(issue, page.url)
            watermark = new_watermark(previous, newest, run_start)
            yield Batch(records=tuple(records), cursors={ISSUES: watermark} if watermark else {})

    def jql(self, start: datetime, end: datetime, zone: ZoneInfo) -> str:
        """The bounded JQL of one run (see the module docstring)."""
        parts = []
        if self.settings.projects:
            parts.append("project in (" + ", ".join(f'"{p}"' for p in self.settings.projects) + ")")
        if self.settings.jql:
            parts.append(f"({self.settings.jql})")
        parts.append(f'updated >= "{jql_time(start, zone)}"')
        parts.append(f'updated <= "{jql_time(end, zone, ceil=True)}"')
        return " AND ".join(parts) + " ORDER BY updated ASC"

    def _zone(self) -> ZoneInfo:
        if self.settings.time_zone:
            return ZoneInfo(self.settings.time_zone)
        body = self.client.get(PageRequest(f"{self._api}/myself"), resource="myself").body or {}
        name = str(body.get("timeZone") or "UTC")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            logger.warning("%s: account time zone %r is unknown; JQL dates are sent in UTC", self.name, name)
            return ZoneInfo("UTC")

    def _fields(self) -> str:
        extra = [*self.settings.incidents.fields, *self.settings.cause.fields]
        extra += [rule.field for rule in self.settings.services if rule.field]
        return ",".join(dict.fromkeys([*BASE_FIELDS, *extra]))

    def _paginator(self, jql: str) -> Paginator:
        params = {
            "jql": jql,
            "fields": self._fields(),
            "expand": "changelog",
            "maxResults": str(self.settings.per_page),
        }
        if self.settings.flavour == "cloud":
            return TokenPaginator(f"{self._api}/search/jql", params)
        return StartAtPaginator(f"{self._api}/search", params, items_key="issues")

    def _issue_records(self, issue: Mapping[str, Any], url: str) -> list[Record]:
        if not counts_as_incident(self.settings, issue):
            return [IncidentWithdrawal(self.name, identifier(issue, "key"), ("jira.issue",))]
        histories = self._histories(issue)
        incident = incident_of_issue(self.settings, issue, histories)
        if incident is None:
            return []
        if incident.service is None:
            logger.info("%s: incident %s maps to no service; stored as unmapped", self.name, incident.external_id)
        body = {**issue, "changelog": {"histories": list(histories), "total": len(histories)}}
        return [incident, raw_payload(self.client, "jira.issue", incident.external_id, body, url)]

    def _histories(self, issue: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        if embedded_histories_complete(issue):
            return list((issue.get("changelog") or {}).get("histories") or [])
        key = str(issue["key"])
        resource = f"issue/{key}/changelog"
        if self.settings.flavour == "cloud":
            url = f"{self._api}/issue/{key}/changelog"
            paginator = StartAtPaginator(url, {"maxResults": "100"}, items_key="values")
            return [h for page in self.client.pages(paginator, resource=resource) for h in page.items("values")]
        params = {"expand": "changelog", "fields": "status"}
        body = self.client.get(PageRequest(f"{self._api}/issue/{key}", params), resource=resource).body or {}
        return list((body.get("changelog") or {}).get("histories") or [])


def counts_as_incident(settings: Settings, issue: Mapping[str, Any]) -> bool:
    """Whether an issue is an incident here: selected by the incident rules and not done with one of
    ``excluded_resolutions`` (see :func:`connectors.jira_mapping.resolved_as_not_an_incident`)."""
    fields = obj(issue.get("fields"), "fields")
    if resolved_as_not_an_incident(fields, settings.done_statuses, settings.excluded_resolutions):
        return False
    return is_incident(settings.incidents, issue_facts(issue))


def incident_of_issue(
    settings: Settings, issue: Mapping[str, Any], histories: Sequence[Mapping[str, Any]]
) -> Incident | None:
    """The incident an issue with its full changelog ``histories`` stands for, ``None`` when it does not
    count as one (:func:`counts_as_incident`; the one mapping of the sync and the rebuild)."""
    if not counts_as_incident(settings, issue):
        return None
    return incident_from_issue(settings.name, issue, histories, settings)


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The incidents a sync would write for the stored issues (see ``connectors.rebuild_support``).

    Issues the incident rules rejected at sync time were not stored, and a stored one a later sync found
    to be no incident was withdrawn with its payload: a rule that now accepts more issues needs a
    re-sync for them.
    """
    records: list[Record] = []
    for payload in of_kind(payloads, "jira.issue"):
        histories = list((payload.body.get("changelog") or {}).get("histories") or [])
        incident = incident_of_issue(settings, payload.body, histories)
        if incident is not None:
            records.append(incident)
    return records


def build_source(settings: Settings, context: SourceContext) -> JiraSource:
    """The Jira source for ``settings`` in this run."""
    return JiraSource(settings, context)

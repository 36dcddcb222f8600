"""ServiceNow source (``kind: servicenow``): incidents from the Table API.

API: ``{base_url}/api/now/table/{table}`` (``table`` defaults to ``incident``). Auth: Basic
``username:password`` when ``username`` is set, else ``Authorization: Bearer <OAuth token>``. Rate
limits are instance rules (System Web Services > REST > rate limit rules): a refused request is a 429
with ``Retry-After`` (seconds) and ``X-RateLimit-Reset`` (epoch seconds); ``X-RateLimit-Remaining``
is not sent by every instance.

Listing: ``GET ...?sysparm_query=<query>^sys_updated_on>=<from>^sys_updated_on<=<to>^ORDERBYsys_updated_on``
with explicit ``sysparm_fields``, ``sysparm_display_value=all`` (every field is then an object
``{"value": ..., "display_value": ...}``: ``value`` is the stored value, times in UTC
``yyyy-MM-dd HH:mm:ss``; ``display_value`` the label, e.g. the configuration item's name) and
``sysparm_exclude_reference_link=true``. Offset paging: ``sysparm_limit`` / ``sysparm_offset``; the
response's ``Link`` header names the ``next`` page (:class:`ServiceNowOffsetPaginator` follows it and
falls back to ``offset + limit`` while pages are full when a proxy drops the header).

Quirks: date literals in ``sysparm_query`` are read in the *integration user's* time zone
(``time_zone``, default UTC; give that user UTC), to the second. Offset paging over a listing ordered by
``sys_updated_on`` can shift by one when an incident is updated during the traversal: the updated
incident moves to the end (read later in the same listing), and the incident that slid back one place
is re-read by the next run's look-back overlap (``lookback``, default one hour).

Incremental: each page's batch carries the watermark (the newest ``sys_updated_on`` stored, capped at
the run start). Every state change (resolution, reopening) sets ``sys_updated_on``, so an open incident
is re-read exactly when it changes: open incidents are re-polled by the listing itself.

Not an incident: a record in one of ``cancelled_states`` (default 8, Canceled: "triaged but found to be
a duplicate incident, an unnecessary incident, or not an incident at all"), and a record the selection
(``incidents``) rejects. Such a listed record yields an :class:`~connectors.records.IncidentWithdrawal`:
a copy stored by an earlier sync (while it was open) is removed with its payload.

Mapping (see :func:`incident_from_record`): ``external_id`` = ``number`` (else ``sys_id``);
``created_at`` = ``opened_at`` else ``sys_created_on``; ``resolved_at`` only while ``state`` is a done
state (``done_states``, default 6 Resolved, 7 Closed, 8 Canceled, the last only reached when
``cancelled_states`` leaves it out): the ``resolved_at`` field (it holds the latest resolution of a
reopened incident), else ``closed_at``, else ``sys_updated_on``. A reopened incident (state back to 1–3)
is open again even when the stale ``resolved_at`` is still filled. ``acknowledged_at`` = the ``acknowledged_field`` when
configured (ServiceNow has no standard one; ``work_start`` is common). ``severity`` = ``priority``'s
label. Service facts: ``configuration_item`` and ``assignment_group`` (each its name and its sys_id);
``issue_type`` = ``category``; ``urgencies``/``priorities`` compare the stored value (``"1"``).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from connectors.base import SourceContext
from connectors.http.client import HttpClient
from connectors.http.incremental import listing_start, new_watermark
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import RepeatedPageError, parse_link_header
from connectors.http.ratelimit import HeaderRateLimitReader, ResetMeaning
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.incident_rules import IncidentSourceSettings, ItemFacts, find_cause, is_incident, service_for
from connectors.mapping_support import time_of
from connectors.rebuild_support import of_kind
from connectors.records import Batch, CursorKey, Incident, IncidentWithdrawal, RawPayload, Record

__all__ = [
    "ServiceNowOffsetPaginator",
    "ServiceNowSource",
    "Settings",
    "build_source",
    "incident_from_record",
    "records_from_payloads",
]

logger = logging.getLogger(__name__)

SERVICENOW_RATE_LIMIT = HeaderRateLimitReader(
    remaining_header="X-RateLimit-Remaining",
    reset_headers=(("X-RateLimit-Reset", ResetMeaning.EPOCH_SECONDS),),
)
INCIDENTS = CursorKey("incidents")
BASE_FIELDS: tuple[str, ...] = (
    "sys_id",
    "number",
    "short_description",
    "description",
    "close_notes",
    "state",
    "category",
    "priority",
    "urgency",
    "impact",
    "cmdb_ci",
    "assignment_group",
    "opened_at",
    "resolved_at",
    "closed_at",
    "reopen_count",
    "sys_created_on",
    "sys_updated_on",
)


class Settings(IncidentSourceSettings):
    """A ServiceNow instance; reference in ``docs/sources/servicenow.md``."""

    kind: Literal["servicenow"] = "servicenow"
    api_root_suffix: ClassVar[str] = "/api/now"
    base_url: str = Field(description="Instance root, e.g. https://acme.service-now.com (no /api/now).")
    username: str | None = Field(default=None, description="Basic-auth user; None: the token is an OAuth bearer.")
    table: str = Field(default="incident", pattern=r"^[a-z0-9_]+$", description="Table read (incident).")
    query: str | None = Field(default=None, description="Extra encoded query selecting incidents (no ORDERBY).")
    time_zone: str = Field(default="UTC", description="IANA zone of the integration user (query date literals).")
    done_states: tuple[str, ...] = Field(
        default=("6", "7", "8"), description="State values meaning the incident is over (Resolved, Closed, Canceled)."
    )
    cancelled_states: tuple[str, ...] = Field(
        default=("8",), description="States of an item that was never an incident (Canceled): not counted."
    )
    acknowledged_field: str | None = Field(default=None, description="Field holding the acknowledgement time.")

    @field_validator("query")
    @classmethod
    def _no_order(cls, value: str | None) -> str | None:
        if value and "ORDERBY" in value.upper():
            raise ValueError("`query` must not contain ORDERBY (the source orders by sys_updated_on)")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (expected an IANA name)") from None
        return value


class ServiceNowOffsetPaginator:
    """``sysparm_offset`` paging: the ``Link rel="next"`` URL, else ``offset + limit`` after a full page.

    Done on an empty page, on a short page without a ``Link`` header, or when a ``Link`` header names no
    ``next``. A page already requested raises :class:`RepeatedPageError`.
    """

    def __init__(self, url: str, params: Mapping[str, str], *, limit: int) -> None:
        self._first = PageRequest(url, {**params, "sysparm_limit": str(limit), "sysparm_offset": "0"})
        self._limit = limit
        self._offset = 0
        self._seen: set[str] = set()

    def first(self) -> PageRequest:
        self._seen = {self._first.identity}
        self._offset = 0
        return self._first

    def next_request(self, page: Page) -> PageRequest | None:
        items = page.body.get("result") or [] if isinstance(page.body, dict) else []
        if not items:
            return None
        link = page.headers.get("Link")
        if link is not None:
            url = parse_link_header(link).get("next")
            request = PageRequest(url) if url else None
        elif len(items) >= self._limit:
            self._offset += self._limit
            request = PageRequest(self._first.url, {**(self._first.params or {}), "sysparm_offset": str(self._offset)})
        else:
            request = None
        if request is None:
            return None
        if request.identity in self._seen:
            raise RepeatedPageError(f"the server sent the already requested page {request.url!r} again")
        self._seen.add(request.identity)
        return request


# --- mapping (pure) ---------------------------------------------------------------------------


def value_of(field: Any) -> str | None:
    """The stored value of a field read with ``sysparm_display_value=all`` (or plain)."""
    if isinstance(field, Mapping):
        field = field.get("value")
    return None if field is None or field == "" else str(field)


def label_of(field: Any) -> str | None:
    """The display value of a field (its stored value when no label is given)."""
    if isinstance(field, Mapping):
        label = field.get("display_value")
        return str(label) if label not in (None, "") else value_of(field)
    return value_of(field)


def snow_time(field: Any, what: str = "date-time") -> datetime | None:
    """A stored ServiceNow date-time (``yyyy-MM-dd HH:mm:ss``, UTC) as an aware datetime."""
    return time_of(value_of(field), what)


def record_facts(record: Mapping[str, Any]) -> ItemFacts:
    """What selection and service rules see of one incident record."""

    def both(name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v for v in (label_of(record.get(name)), value_of(record.get(name))) if v))

    return ItemFacts(
        issue_type=label_of(record.get("category")),
        urgency=value_of(record.get("urgency")),
        priority=value_of(record.get("priority")),
        fields={k: value_of(v) for k, v in record.items()},
        facts={"configuration_item": both("cmdb_ci"), "assignment_group": both("assignment_group")},
    )


def external_id_of(record: Mapping[str, Any]) -> str:
    """The incident's ``number``, else its ``sys_id``."""
    return str(value_of(record.get("number")) or value_of(record.get("sys_id")))


def is_cancelled(settings: Settings, record: Mapping[str, Any]) -> bool:
    """Whether the record's ``state`` is one of ``cancelled_states`` (default 8, Canceled)."""
    return value_of(record.get("state")) in settings.cancelled_states


def incident_from_record(source: str, record: Mapping[str, Any], settings: Settings) -> Incident:
    """The :class:`Incident` of one incident record (see the module docstring)."""
    created = snow_time(record.get("opened_at"), "opened_at") or snow_time(
        record.get("sys_created_on"), "sys_created_on"
    )
    if created is None:
        raise ValueError(f"incident {value_of(record.get('number'))} has no opened_at / sys_created_on")
    resolved = None
    state = value_of(record.get("state"))
    if state in settings.done_states:
        resolved = (
            snow_time(record.get("resolved_at"))
            or snow_time(record.get("closed_at"))
            or snow_time(record.get("sys_updated_on"))
        )
    acknowledged = snow_time(record.get(settings.acknowledged_field)) if settings.acknowledged_field else None
    facts = record_facts(record)
    text = "\n".join(t for k in ("short_description", "description", "close_notes") if (t := label_of(record.get(k))))
    cause = find_cause(settings.cause, facts.fields, text)
    return Incident(
        source=source,
        external_id=external_id_of(record),
        service=service_for(settings.services, facts),
        created_at=created,
        resolved_at=resolved,
        acknowledged_at=acknowledged,
        title=label_of(record.get("short_description")),
        severity=label_of(record.get("priority")),
        cause_deployment_id=cause.deployment_id,
        cause_sha=cause.sha,
    )


# --- source -----------------------------------------------------------------------------------


class ServiceNowSource:
    """Yields the incidents of a ServiceNow instance (see the module docstring)."""

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
        if settings.username:
            auth = "Basic " + base64.b64encode(f"{settings.username}:{token}".encode()).decode()
        else:
            auth = f"Bearer {token}"
        self.client: HttpClient = client_for(
            settings,
            headers={"Authorization": auth, "Accept": "application/json"},
            rate_limits=SERVICENOW_RATE_LIMIT,
            sleep=sleep,
            clock=clock,
        )

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def query(self, start: datetime, end: datetime) -> str:
        """The bounded encoded query of one run, date literals in the integration user's zone."""
        zone = ZoneInfo(self.settings.time_zone)
        low = start.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        high = end.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        parts = [self.settings.query] if self.settings.query else []
        parts += [f"sys_updated_on>={low}", f"sys_updated_on<={high}", "ORDERBYsys_updated_on"]
        return "^".join(parts)

    def _fields(self) -> str:
        extra = [*self.settings.incidents.fields, *self.settings.cause.fields]
        extra += [rule.field for rule in self.settings.services if rule.field]
        if self.settings.acknowledged_field:
            extra.append(self.settings.acknowledged_field)
        return ",".join(dict.fromkeys([*BASE_FIELDS, *extra]))

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """One batch per listing page, each carrying the watermark it reached."""
        previous = cursors.get(INCIDENTS)
        run_start = self.context.run_started_at
        start = listing_start(
            previous, run_started_at=run_start, lookback=self.settings.lookback, history_days=self.settings.history_days
        )
        params = {
            "sysparm_query": self.query(start, run_start),
            "sysparm_fields": self._fields(),
            "sysparm_display_value": "all",
            "sysparm_exclude_reference_link": "true",
        }
        url = f"{self.settings.base_url}/api/now/table/{self.settings.table}"
        paginator = ServiceNowOffsetPaginator(url, params, limit=self.settings.per_page)
        newest: datetime | None = None
        for page in self.client.pages(paginator, resource=f"table/{self.settings.table}"):
            records: list[Record] = []
            for item in page.items("result"):
                updated = snow_time(item.get("sys_updated_on"))
                if updated is not None and (newest is None or updated > newest):
                    newest = updated
                records += self._records(item, page.url)
            watermark = new_watermark(previous, newest, run_start)
            yield Batch(records=tuple(records), cursors={INCIDENTS: watermark} if watermark else {})

    def _records(self, item: Mapping[str, Any], url: str) -> list[Record]:
        incident = incident_of(self.settings, item)
        if incident is None:
            return [IncidentWithdrawal(self.name, external_id_of(item), ("servicenow.incident",))]
        if incident.service is None:
            logger.info("%s: incident %s maps to no service; stored as unmapped", self.name, incident.external_id)
        return [incident, raw_payload(self.client, "servicenow.incident", incident.external_id, item, url)]


def incident_of(settings: Settings, item: Mapping[str, Any]) -> Incident | None:
    """The incident a table record stands for; ``None`` when it is cancelled (:func:`is_cancelled`) or the
    incident rules reject it (the one mapping of the sync and the rebuild)."""
    if is_cancelled(settings, item) or not is_incident(settings.incidents, record_facts(item)):
        return None
    return incident_from_record(settings.name, item, settings)


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The incidents a sync would write for the stored records (see ``connectors.rebuild_support``).
    Records the rules rejected at sync time were not stored, and a stored one a later sync found cancelled
    or rejected was withdrawn with its payload."""
    found = (incident_of(settings, payload.body) for payload in of_kind(payloads, "servicenow.incident"))
    return [incident for incident in found if incident is not None]


def build_source(settings: Settings, context: SourceContext) -> ServiceNowSource:
    """The ServiceNow source for ``settings`` in this run."""
    return ServiceNowSource(settings, context)

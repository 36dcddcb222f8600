"""PagerDuty source (``kind: pagerduty``): incidents over REST API v2.

API: ``https://api.pagerduty.com``, ``Authorization: Token token=<api key>``,
``Accept: application/vnd.pagerduty+json;version=2``. Rate limits: 429 with ``ratelimit-remaining``
and ``ratelimit-reset`` (seconds left to wait), or ``Retry-After``.

Listing: ``GET /incidents?service_ids[]=..&since=&until=&sort_by=created_at:asc&time_zone=UTC``, classic
offset paging (``limit``, ``offset``, ``more``). Quirks: ``since``/``until`` filter on the *creation*
time and may span at most six months, so the range is read in windows of at most ``window_days``
(default 179); ``offset + limit`` may not exceed 10,000, so when the next page would cross that cap
the window restarts at the newest ``created_at`` read so far (offset 0; items at that instant are read
twice and the upsert absorbs them).

Incremental: the watermark is the newest ``created_at`` stored (each page's batch carries it). Because
the listing filters on creation, a later resolution would never be listed again: the ids of incidents
still open are kept in the cursor ``open_incidents`` (a JSON list) and each run re-reads them first with
``GET /incidents/{id}``, dropping them once resolved. Open incidents the selection (``incidents``:
urgency, priority) rejects are kept there too, since urgency and priority can be changed until the
incident is resolved: one raised into the selection later is stored then, and one lowered out of it is
withdrawn. An open incident answering 404 or 410 (deleted, or now outside the token's reach) is dropped
from that list at once, with a warning naming it; its stored row is kept as it is. Once is enough:
PagerDuty answers 404 only for an id it cannot show this token, which no later re-read changes by
itself, while transient failures (429, 5xx, connection errors) are retried and still fail the run,
keeping the list. Every other error fails the run as before.

Not an incident: an incident merged into another (``resolve_reason.type`` ``merge_resolve_reason``:
PagerDuty resolves the merged-away incident at the merge, so counting it would add a duplicate restored
at the merge time), and one the selection rejects. Reading such an incident yields an
:class:`~connectors.records.IncidentWithdrawal`: a copy stored by an earlier sync is removed, with its raw
payloads.

Mapping: ``external_id`` = incident ``id`` (as the webhook receiver), ``title``, ``severity`` =
``priority.summary`` else ``urgency``, ``created_at``; ``acknowledged_at`` = earliest
``acknowledgements[].at``, else the earliest ``acknowledge_log_entry`` when log entries were read;
``resolved_at`` (only when ``status`` is ``resolved``) = the incident's ``resolved_at``, else the newest
``resolve_log_entry`` of ``GET /incidents/{id}/log_entries``, else ``last_status_change_at``. Service
facts: ``pagerduty_service`` = ``service.id`` and ``service.summary``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import Field

from connectors.base import SourceContext
from connectors.errors import ErrorKind, SourceError
from connectors.http.client import HttpClient
from connectors.http.incremental import format_time, listing_start, new_watermark, parse_time
from connectors.http.page import PageRequest
from connectors.http.ratelimit import HeaderRateLimitReader, ResetMeaning
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.incident_rules import IncidentSourceSettings, ItemFacts, find_cause, is_incident, service_for
from connectors.mapping_support import identifier, obj, objects, time_of
from connectors.rebuild_support import by_external_id, of_kind
from connectors.records import Batch, CursorKey, Incident, IncidentWithdrawal, RawPayload, Record

__all__ = ["PagerDutySource", "Settings", "build_source", "incident_from_api", "records_from_payloads"]

logger = logging.getLogger(__name__)

PAGERDUTY_RATE_LIMIT = HeaderRateLimitReader(
    remaining_header="ratelimit-remaining",
    reset_headers=(("ratelimit-reset", ResetMeaning.DELTA_SECONDS),),
)
INCIDENTS = CursorKey("incidents")
OPEN_INCIDENTS = CursorKey("open_incidents")
OFFSET_CAP = 10_000
#: HTTP statuses of an incident PagerDuty no longer shows (deleted, or outside the token's reach).
GONE_STATUSES = frozenset({404, 410})


class Settings(IncidentSourceSettings):
    """A PagerDuty account; reference in ``docs/sources/pagerduty.md``."""

    kind: Literal["pagerduty"] = "pagerduty"
    base_url: str = Field(default="https://api.pagerduty.com")
    service_ids: tuple[str, ...] = Field(default=(), description="Services whose incidents are read (empty: all).")
    team_ids: tuple[str, ...] = Field(default=(), description="Teams whose incidents are read (empty: all).")
    window_days: int = Field(default=179, ge=1, le=180, description="Longest since/until window (API: 6 months).")
    log_entries: Literal["when_needed", "never"] = Field(
        default="when_needed", description="Read log entries of resolved incidents lacking resolved_at."
    )


def incident_facts(raw: Mapping[str, Any]) -> ItemFacts:
    """Selection and service facts of one incident."""
    service = obj(raw.get("service"), "service")
    return ItemFacts(
        urgency=raw.get("urgency"),
        priority=obj(raw.get("priority"), "priority").get("summary"),
        fields=raw,
        facts={"pagerduty_service": tuple(str(v) for v in (service.get("id"), service.get("summary")) if v)},
    )


def _times_of(entries: Sequence[Mapping[str, Any]], entry_type: str) -> list[datetime]:
    return [
        t
        for e in objects(entries, "log_entries")
        if e.get("type") == entry_type and (t := time_of(e.get("created_at"), "log_entries.created_at"))
    ]


def incident_from_api(
    source: str, raw: Mapping[str, Any], log_entries: Sequence[Mapping[str, Any]], settings: Settings
) -> Incident:
    """The :class:`Incident` of one PagerDuty incident (see the module docstring)."""
    created = time_of(raw.get("created_at"), "created_at")
    if created is None:
        raise ValueError(f"incident {raw.get('id')} has no created_at")
    resolved = None
    if raw.get("status") == "resolved":
        resolved = (
            parse_time(raw.get("resolved_at"))
            or max(_times_of(log_entries, "resolve_log_entry"), default=None)
            or parse_time(raw.get("last_status_change_at"))
        )
    acks = [t for a in objects(raw.get("acknowledgements"), "acknowledgements") if (t := time_of(a.get("at"), "at"))]
    acknowledged = min(acks, default=None) or min(_times_of(log_entries, "acknowledge_log_entry"), default=None)
    facts = incident_facts(raw)
    text = "\n".join(str(raw.get(k)) for k in ("title", "description") if raw.get(k))
    cause = find_cause(settings.cause, raw, text)
    return Incident(
        source=source,
        external_id=identifier(raw, "id"),
        service=service_for(settings.services, facts),
        created_at=created,
        resolved_at=resolved,
        acknowledged_at=acknowledged,
        title=raw.get("title"),
        severity=facts.priority or facts.urgency,
        cause_deployment_id=cause.deployment_id,
        cause_sha=cause.sha,
    )


class PagerDutySource:
    """Yields the incidents of a PagerDuty account (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        context: SourceContext,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
        offset_cap: int = OFFSET_CAP,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.context = context
        self.client: HttpClient = client_for(
            settings,
            headers={
                "Authorization": f"Token token={settings.token.get_secret_value()}",
                "Accept": "application/vnd.pagerduty+json;version=2",
            },
            rate_limits=PAGERDUTY_RATE_LIMIT,
            sleep=sleep,
            clock=clock,
        )
        self._offset_cap = offset_cap

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """First the re-read of open incidents, then one batch per listing page."""
        open_ids = set(json.loads(cursors.get(OPEN_INCIDENTS) or "[]"))
        previous = cursors.get(INCIDENTS)
        if open_ids:
            records: list[Record] = []
            for incident_id in sorted(open_ids):
                url = f"{self.settings.base_url}/incidents/{incident_id}"
                raw = self._reread(incident_id, url)
                if raw is None:
                    open_ids.discard(incident_id)
                    continue
                records += self._records(raw, url, open_ids)
            yield Batch(records=tuple(records), cursors={OPEN_INCIDENTS: json.dumps(sorted(open_ids))})
        run_start = self.context.run_started_at
        since = listing_start(
            previous, run_started_at=run_start, lookback=self.settings.lookback, history_days=self.settings.history_days
        )
        newest: datetime | None = None
        while since < run_start:
            until = min(since + timedelta(days=self.settings.window_days), run_start)
            for number, (url, items) in enumerate(self._window(since, until), start=1):
                records = []
                try:
                    for raw in objects(items, "incidents"):
                        created = time_of(raw.get("created_at"), "created_at")
                        if created is not None and (newest is None or created > newest):
                            newest = created
                        records += self._records(raw, url, open_ids)
                except (KeyError, ValueError, TypeError) as error:
                    raise SourceError(
                        self.name,
                        f"malformed incident: {type(error).__name__}: {error}",
                        resource="incidents",
                        page=f"{number} of the window from {format_time(since)}",
                        hint="nothing of this page was stored; the next run retries it",
                    ) from error
                batch_cursors = {OPEN_INCIDENTS: json.dumps(sorted(open_ids))}
                watermark = new_watermark(previous, newest, run_start)
                if watermark:
                    batch_cursors[INCIDENTS] = watermark
                yield Batch(records=tuple(records), cursors=batch_cursors)
            since = until

    def _reread(self, incident_id: str, url: str) -> Mapping[str, Any] | None:
        """The incident object of an open incident; ``None`` when PagerDuty no longer shows it (404, 410)."""
        try:
            body = self.client.get(PageRequest(url), resource="incidents/{id}").body or {}
        except SourceError as error:
            status = error.http_status
            if status not in GONE_STATUSES:
                raise
            logger.warning(
                "%s: open incident %s now answers HTTP %s (deleted, or outside the token's reach): "
                "no longer re-read; its stored row is kept as it is",
                self.name,
                incident_id,
                status,
            )
            return None
        raw: Mapping[str, Any] = body.get("incident") or {}
        return raw

    def _window(self, since: datetime, until: datetime) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Every page of one ``since``/``until`` window, restarting before the offset cap."""
        limit = self.settings.per_page
        offset, number = 0, 1
        filters = [("service_ids[]", i) for i in self.settings.service_ids]
        filters += [("team_ids[]", i) for i in self.settings.team_ids]
        url = f"{self.settings.base_url}/incidents" + (f"?{urlencode(filters)}" if filters else "")
        while True:
            params = {
                "since": format_time(since),
                "until": format_time(until),
                "sort_by": "created_at:asc",
                "time_zone": "UTC",
                "limit": str(limit),
                "offset": str(offset),
            }
            page = self.client.get(PageRequest(url, params), resource="incidents", number=number)
            items = page.items("incidents")
            yield page.url, items
            if not (page.body or {}).get("more") or not items:
                return
            number += 1
            if offset + 2 * limit <= self._offset_cap:
                offset += limit
                continue
            restart = max((t for i in items if (t := parse_time(i.get("created_at")))), default=since)
            if restart <= since:
                raise SourceError(
                    self.name,
                    f"more than {self._offset_cap} incidents created at {format_time(since)}",
                    kind=ErrorKind.FATAL,
                    resource="incidents",
                    hint="narrow the listing with service_ids or team_ids",
                )
            logger.info("%s: offset cap reached; restarting the window at %s", self.name, format_time(restart))
            since, offset = restart, 0

    def _records(self, raw: Mapping[str, Any], url: str, open_ids: set[str]) -> list[Record]:
        incident_id = str(raw["id"])
        if not counts_as_incident(self.settings, raw):
            # urgency and priority can change while the incident is open, and the listing (by creation
            # time) will not show it again: keep re-reading it until it is resolved
            if raw.get("status") == "resolved":
                open_ids.discard(incident_id)
            else:
                open_ids.add(incident_id)
            return [withdrawal_of(self.settings.name, incident_id)]
        log_entries: list[dict[str, Any]] = []
        needs_log = raw.get("status") == "resolved" and not raw.get("resolved_at")
        if needs_log and self.settings.log_entries == "when_needed":
            log_entries = self._log_entries(incident_id)
        incident = incident_of(self.settings, raw, log_entries)
        if incident is None:  # pragma: no cover - the rules were checked above
            return []
        if incident.resolved_at is None:
            open_ids.add(incident_id)
        else:
            open_ids.discard(incident_id)
        if incident.service is None:
            logger.info("%s: incident %s maps to no service; stored as unmapped", self.name, incident_id)
        records: list[Record] = [incident, raw_payload(self.client, "pagerduty.incident", incident_id, raw, url)]
        if log_entries:
            records.append(raw_payload(self.client, "pagerduty.log_entries", incident_id, log_entries, None))
        return records

    def _log_entries(self, incident_id: str) -> list[dict[str, Any]]:
        url = f"{self.settings.base_url}/incidents/{incident_id}/log_entries"
        entries: list[dict[str, Any]] = []
        offset = 0
        while True:
            params = {"is_overview": "true", "time_zone": "UTC", "limit": "100", "offset": str(offset)}
            page = self.client.get(PageRequest(url, params), resource="incidents/{id}/log_entries")
            items = page.items("log_entries")
            entries += items
            if not (page.body or {}).get("more") or not items or offset + 200 > OFFSET_CAP:
                return entries
            offset += 100


def merged_away(raw: Mapping[str, Any]) -> bool:
    """Whether the incident was merged into another: PagerDuty resolves the merged-away incident with
    ``resolve_reason`` ``{"type": "merge_resolve_reason", "incident": <the one it was merged into>}``."""
    reason = raw.get("resolve_reason")
    return isinstance(reason, Mapping) and reason.get("type") == "merge_resolve_reason"


def counts_as_incident(settings: Settings, raw: Mapping[str, Any]) -> bool:
    """Whether a PagerDuty incident object is an incident here: selected by the incident rules and not
    merged into another incident (a duplicate of the one it was merged into, which carries on)."""
    return not merged_away(raw) and is_incident(settings.incidents, incident_facts(raw))


#: the payload kinds stored per incident, withdrawn with it (by a sync, or by the webhook receiver)
INCIDENT_PAYLOAD_KINDS: tuple[str, ...] = ("pagerduty.incident", "pagerduty.log_entries")


def withdrawal_of(source: str, incident_id: str) -> IncidentWithdrawal:
    """The withdrawal of a PagerDuty incident that is not an incident (any earlier stored copy of ``source``
    is removed, with its stored incident object and log entries)."""
    return IncidentWithdrawal(source, incident_id, INCIDENT_PAYLOAD_KINDS)


def incident_of(
    settings: Settings, raw: Mapping[str, Any], log_entries: Sequence[Mapping[str, Any]]
) -> Incident | None:
    """The incident a PagerDuty incident object (with the log entries read for it) stands for, ``None``
    when it does not count as one (:func:`counts_as_incident`; the one mapping of the sync and the rebuild)."""
    if not counts_as_incident(settings, raw):
        return None
    return incident_from_api(settings.name, raw, log_entries, settings)


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The incidents a sync would write for the stored incidents and log entries (see
    ``connectors.rebuild_support``). Incidents the rules rejected at sync time were not stored, and a
    stored one the sync later found not to count (merged, lowered out of the selection) was withdrawn
    with its payloads."""
    logs = by_external_id(payloads, "pagerduty.log_entries")
    records: list[Record] = []
    for payload in of_kind(payloads, "pagerduty.incident"):
        entries = logs.get(payload.external_id)
        incident = incident_of(settings, payload.body, entries.body if entries is not None else [])
        if incident is not None:
            records.append(incident)
    return records


def build_source(settings: Settings, context: SourceContext) -> PagerDutySource:
    """The PagerDuty source for ``settings`` in this run."""
    return PagerDutySource(settings, context)

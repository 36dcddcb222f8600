"""PagerDuty v3 webhooks: ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>[,v1=<hex>…]``.

PagerDuty may list several signatures (during a secret rotation); the delivery is authentic when
any ``v1`` one matches (each compared in constant time). The payload is
``{"event": {"id", "event_type", "occurred_at", "data": {...}}}``; incident events
(``incident.triggered``, ``.acknowledged``, ``.resolved``, ``.reopened``, …) become an
:class:`Incident` with external id = the incident's id: ``created_at`` from the incident,
``acknowledged_at``/``resolved_at`` = the event's ``occurred_at`` for those event types. The event id
is the delivery id. The service is ``services[<PagerDuty service id or name>]``, else the PagerDuty
service's name when it is a configured service, else none.

Not an incident, as in the ``pagerduty`` source (:func:`connectors.pagerduty.merged_away`): an incident
merged into another. PagerDuty resolves the merged-away incident with ``data.resolve_reason`` =
``{"type": "merge_resolve_reason", ...}`` (the v3 incident data carries ``resolve_reason``, ``null``
otherwise), so its ``incident.resolved`` delivery becomes an
:class:`~connectors.records.IncidentWithdrawal` of that id: a copy stored earlier (by this webhook or by
a ``pagerduty`` sync of the same source name, with that sync's payloads) is deleted. Limit: a delivery of
the same incident arriving after that one (out of order, or an event about the merged-away incident)
stores it again; the next sync of a ``pagerduty`` source withdraws it again.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from collector.serve.settings import PagerDutyWebhookSettings
from collector.serve.webhooks.base import Reopened, Translation, hmac_sha256_hex, required, required_time, same_secret
from connectors.pagerduty import merged_away, withdrawal_of
from connectors.records import Incident

SIGNATURE_HEADER = "x-pagerduty-signature"


@dataclass(frozen=True)
class PagerDutyReceiver:
    """The PagerDuty (v3) webhook receiver."""

    settings: PagerDutyWebhookSettings
    configured_services: Collection[str]
    provider: str = "pagerduty"

    @property
    def source(self) -> str:
        """Source name recorded on the records."""
        return self.settings.source

    @property
    def enabled(self) -> bool:
        """Whether a secret is configured."""
        return self.settings.secret is not None and bool(self.settings.secret.get_secret_value())

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Any ``v1=`` signature of the header matches the body's HMAC."""
        if self.settings.secret is None:
            return False
        expected = "v1=" + hmac_sha256_hex(self.settings.secret.get_secret_value(), body)
        given = [part.strip() for part in headers.get(SIGNATURE_HEADER, "").split(",") if part.strip()]
        matches = [same_secret(expected, signature) for signature in given]  # compare all: no early exit
        return any(matches)

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None:
        """The event id."""
        event = payload.get("event") if isinstance(payload, Mapping) else None
        return str(event["id"]) if isinstance(event, Mapping) and event.get("id") else None

    def to_records(self, headers: Mapping[str, str], payload: Any) -> Translation | None:
        """The incident of an ``incident.*`` event; ``None`` for other events."""
        event = payload.get("event") if isinstance(payload, Mapping) else None
        if not isinstance(event, Mapping):
            return None
        event_type = str(event.get("event_type") or "")
        data = event.get("data")
        if not event_type.startswith("incident.") or not isinstance(data, Mapping) or data.get("type") != "incident":
            return None
        if merged_away(data):
            withdrawal = withdrawal_of(self.source, str(required(data, "id")))
            return Translation.of(f"pagerduty.{event_type}", [withdrawal])
        occurred = required_time(event, "occurred_at")
        incident = self._incident(data, event_type, occurred)
        if event_type == "incident.reopened":
            return Translation.of(f"pagerduty.{event_type}", [Reopened(incident, "resolved_at", occurred)])
        return Translation.of(f"pagerduty.{event_type}", [incident])

    def _incident(self, data: Mapping[str, Any], event_type: str, occurred: Any) -> Incident:
        service = data.get("service") or {}
        priority = data.get("priority") or {}
        return Incident(
            source=self.source,
            external_id=str(required(data, "id")),
            service=self._service(service.get("id"), service.get("summary")),
            created_at=required_time(data, "created_at"),
            resolved_at=occurred if event_type == "incident.resolved" else None,
            acknowledged_at=occurred if event_type == "incident.acknowledged" else None,
            title=data.get("title"),
            severity=priority.get("summary") or data.get("urgency"),
        )

    def _service(self, service_id: Any, name: Any) -> str | None:
        mapping = self.settings.services
        for key in (service_id, name):
            if isinstance(key, str) and key in mapping:
                return mapping[key]
        return name if isinstance(name, str) and name in self.configured_services else None

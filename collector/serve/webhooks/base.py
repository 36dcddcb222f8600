"""What every webhook receiver provides, and the small helpers they share.

A receiver verifies a delivery's signature over the raw body (constant-time comparison), names the
delivery (its provider's delivery id, ``None`` when the provider sends none) and turns the decoded
payload into domain records. ``to_records`` returns ``None`` for an event kind it does not handle:
the delivery is then acknowledged and nothing is stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.http.incremental import parse_time
from connectors.records import Incident, PullRequest, Record


class PayloadError(ValueError):
    """A signed payload that cannot be turned into records (a missing or malformed field)."""


@dataclass(frozen=True, slots=True)
class Reopened:
    """A pushed event saying a stored item was reopened at ``at``.

    ``column`` (``resolved_at`` of an incident, ``closed_at`` of a pull request) no longer holds:
    the store writes ``record`` as usual, then sets that column to NULL unless the stored value is
    later than ``at`` (a delayed reopen never undoes a newer resolution).
    """

    record: Incident | PullRequest
    column: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Translation:
    """The records of one delivery, the reopenings it reports, and its event kind (``github.push``…)."""

    event: str
    records: tuple[Record, ...]
    reopened: tuple[Reopened, ...] = ()

    @classmethod
    def of(cls, event: str, items: Sequence[Record | Reopened]) -> Translation:
        """A translation of handler output: a :class:`Reopened` contributes its record and the reopening."""
        reopened = tuple(item for item in items if isinstance(item, Reopened))
        records = tuple(item.record if isinstance(item, Reopened) else item for item in items)
        return cls(event, records, reopened)


class WebhookReceiver(Protocol):
    """One provider's webhook: verification, delivery id and mapping."""

    @property
    def provider(self) -> str:
        """``github``, ``gitlab`` or ``pagerduty``."""
        ...

    @property
    def source(self) -> str:
        """The source name recorded on the records and the payload rows."""
        ...

    @property
    def enabled(self) -> bool:
        """Whether a secret is configured (a receiver without one refuses every delivery)."""
        ...

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """Whether the delivery is authentic."""
        ...

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None:
        """The provider's id of this delivery, when it sends one."""
        ...

    def to_records(self, headers: Mapping[str, str], payload: Any) -> Translation | None:
        """The records of the delivery, or ``None`` for an event kind that is not handled."""
        ...


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body`` keyed with ``secret``."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def same_secret(expected: str, given: str | None) -> bool:
    """Constant-time equality of two secrets (``False`` when ``given`` is missing)."""
    if given is None:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def required(mapping: Any, *path: str) -> Any:
    """``mapping[path[0]][path[1]]…``; :class:`PayloadError` naming the path when absent."""
    value = mapping
    for index, key in enumerate(path):
        if not isinstance(value, Mapping) or value.get(key) is None:
            raise PayloadError(f"missing field {'.'.join(path[: index + 1])}")
        value = value[key]
    return value


def timestamp(value: Any) -> datetime | None:
    """An ISO 8601 time (``Z``/offset; naive read as UTC), epoch seconds, or GitLab's
    ``2021-04-28 21:50:00 +0200`` / ``2013-12-03 17:23:34 UTC`` forms, as UTC."""
    if isinstance(value, str) and value.endswith(" UTC"):
        value = value[:-4]
    try:
        return parse_time(value)
    except ValueError:
        pass
    if isinstance(value, str):
        try:
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)
        except ValueError:
            pass
    raise PayloadError(f"not a timestamp: {value!r}")


def required_time(mapping: Any, *path: str) -> datetime:
    """A required timestamp field (see :func:`timestamp`)."""
    parsed = timestamp(required(mapping, *path))
    assert parsed is not None
    return parsed

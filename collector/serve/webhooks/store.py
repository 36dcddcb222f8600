"""Storing a webhook delivery: once, atomically, without erasing what the REST sync knows.

A delivery is recorded in ``raw_payloads`` (source = the receiver's source name, kind
``webhook.<provider>``, external id = the provider's delivery id, or ``sha256:<digest>`` of the body
when it sends none; ``url`` holds ``sha256:<digest>``). A delivery whose id or whose body digest is
already recorded is a replay: nothing is written. Otherwise the payload row and the records are
written in one transaction.

Records are upserted on their natural keys, updating only the fields the webhook actually carries
(not ``None``, not empty): a pull-request event has no commit list, a push has no parents, so those
columns keep what a REST or git sync stored. An ``in_progress`` deployment never overwrites the
status of a stored one (statuses can arrive out of order). A reopening (an incident or a pull
request reopened, see :class:`~collector.serve.webhooks.base.Reopened`) is the one case where a
delivery erases a value of a row it keeps: the resolution or close time is set to NULL, unless the stored one is
later than the reopening (a delayed delivery never undoes a newer resolution).

A delivery saying an item is not an incident (a PagerDuty incident merged into another, a GitHub issue
closed as a duplicate or not planned: an :class:`~connectors.records.IncidentWithdrawal`) deletes the
incident the webhook stored earlier under that key, in the same transaction, as a sync's withdrawal does
(:func:`collector.store.withdraw.withdraw_incidents`). The delivery rows themselves stay: they are the
replay record, keyed by delivery id, and no rebuild maps them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from collector.serve.webhooks.base import Reopened
from collector.store.models import RawPayloadRow, Repository
from collector.store.upsert import upsert
from collector.store.withdraw import final_withdrawals, withdraw_incidents
from collector.store.writer import RECORD_TABLES, record_row
from connectors.records import (
    Deployment,
    DeploymentStatus,
    Record,
)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """``duplicate`` when the delivery was a replay (nothing written); ``stored`` counts rows per table."""

    duplicate: bool
    stored: Counter[str]


def body_digest(body: bytes) -> str:
    """Hex SHA-256 of a raw request body."""
    return hashlib.sha256(body).hexdigest()


def _known_columns(record: Record, row: dict[str, Any], key: Sequence[str]) -> list[str]:
    columns = [c for c, v in row.items() if c not in key and v is not None and v != [] and v != ()]
    if isinstance(record, Deployment) and record.status is DeploymentStatus.IN_PROGRESS:
        columns = [c for c in columns if c != "status"]
    return columns


def write_known_fields(connection: Connection, records: Sequence[Record]) -> Counter[str]:
    """Upsert each record, updating on conflict only the columns it carries a value for."""
    counts: Counter[str] = Counter()
    repos = sorted({repo for r in records if (repo := getattr(r, "repo", None))})
    if repos:
        upsert(connection, Repository.__table__, [{"name": r} for r in repos], ("name",), ())  # type: ignore[arg-type]
    for record in records:
        table, key, label = RECORD_TABLES[type(record)]
        row = record_row(record)
        counts[label] += upsert(connection, table, [row], key, _known_columns(record, row, key))
    return counts


def apply_reopenings(connection: Connection, reopened: Sequence[Reopened]) -> Counter[str]:
    """Set each reopened item's column to NULL where the stored value is not later than the reopening."""
    counts: Counter[str] = Counter()
    for item in reopened:
        table, key, label = RECORD_TABLES[type(item.record)]
        row = record_row(item.record)
        column = table.c[item.column]
        statement = (
            update(table)
            .where(and_(*(table.c[name] == row[name] for name in key)), column.is_not(None), column <= item.at)
            .values({item.column: None})
        )
        counts[label] += connection.execute(statement).rowcount
    return counts


def _insert_if_absent(connection: Connection, table: Table, row: dict[str, Any], key: Sequence[str]) -> bool:
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(**row).on_conflict_do_nothing(index_elements=list(key)).returning(table.c.id)
    return connection.execute(statement).first() is not None  # no row returned: it was already there


def store_delivery(
    engine: Engine,
    *,
    source: str,
    provider: str,
    delivery_id: str | None,
    body: bytes,
    payload: Any,
    records: Sequence[Record],
    received_at: datetime,
    reopened: Sequence[Reopened] = (),
) -> DeliveryResult:
    """Record the delivery and write its records in one transaction, unless it is a replay."""
    digest = body_digest(body)
    kind = f"webhook.{provider}"
    table: Table = RawPayloadRow.__table__  # type: ignore[assignment]
    with engine.begin() as connection:
        seen = connection.execute(
            select(table.c.id).where(table.c.source == source, table.c.kind == kind, table.c.url == f"sha256:{digest}")
        ).first()
        if seen is not None:
            return DeliveryResult(True, Counter())
        row = {
            "source": source,
            "kind": kind,
            "external_id": delivery_id or f"sha256:{digest}",
            "fetched_at": received_at,
            "url": f"sha256:{digest}",
            "body": payload,
        }
        if not _insert_if_absent(connection, table, row, ("source", "kind", "external_id")):
            return DeliveryResult(True, Counter())
        kept, withdrawn = final_withdrawals(records)
        stored = write_known_fields(connection, kept)
        stored.update(apply_reopenings(connection, reopened))
        stored.update(withdraw_incidents(connection, withdrawn.values()))
    return DeliveryResult(False, stored)

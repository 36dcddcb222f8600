"""Writing a source's batch: its records upserted and its incident withdrawals applied, in one transaction.

Definitions:

- a **withdrawal** (:class:`~connectors.records.IncidentWithdrawal`) of ``(source, external_id)``: the
  source read that item and it is, as read now, not an incident. Applying it deletes the stored
  incident of that key — its derived ``incident_deployments`` rows go with it (``ON DELETE CASCADE``,
  see :mod:`collector.store.deletion`) and the next recompute derives links again — and the raw
  payloads of the withdrawal's ``payload_kinds`` stored under that ``external_id``, so that a rebuild
  from raw payloads (which maps only stored payloads) agrees with the sync;
- within one batch the **last word on a key wins**: of the incidents and withdrawals of one
  ``(source, external_id)``, the one listed last decides. An incident listed after a withdrawal of its
  key is upserted and the withdrawal dropped; a withdrawal listed last drops the incidents and the raw
  payloads of its kinds listed before it in the batch;
- counts: ``incidents withdrawn`` and ``raw payloads withdrawn`` are the rows actually deleted (a
  withdrawal of a key holding nothing counts nothing, so it alone does not make a run look productive).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Table, select

from collector.store.deletion import delete_rows
from collector.store.models import IncidentRow, RawPayloadRow
from collector.store.writer import write_records
from connectors.records import Incident, IncidentWithdrawal, RawPayload, Record

#: external ids per lookup statement
LOOKUP_CHUNK = 500

Key = tuple[str, str]


def final_withdrawals(records: Sequence[Record]) -> tuple[list[Record], dict[Key, IncidentWithdrawal]]:
    """Split a batch into the records to upsert and the withdrawals to apply (last word per key wins)."""
    last: dict[Key, int] = {}
    for position, record in enumerate(records):
        if isinstance(record, Incident | IncidentWithdrawal):
            last[(record.source, record.external_id)] = position
    withdrawn: dict[Key, IncidentWithdrawal] = {}
    for position, record in enumerate(records):
        if isinstance(record, IncidentWithdrawal) and last[(record.source, record.external_id)] == position:
            withdrawn[(record.source, record.external_id)] = record
    kept: list[Record] = []
    for record in records:
        if isinstance(record, IncidentWithdrawal):
            continue
        if isinstance(record, Incident) and (record.source, record.external_id) in withdrawn:
            continue
        if isinstance(record, RawPayload):
            withdrawal = withdrawn.get((record.source, record.external_id))
            if withdrawal is not None and record.kind in withdrawal.payload_kinds:
                continue
        kept.append(record)
    return kept, withdrawn


def withdraw_incidents(connection: Connection, withdrawals: Iterable[IncidentWithdrawal]) -> Counter[str]:
    """Apply ``withdrawals`` in the caller's transaction (see the module docstring); return the rows deleted."""
    counts: Counter[str] = Counter()
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for withdrawal in withdrawals:
        grouped.setdefault((withdrawal.source, withdrawal.payload_kinds), []).append(withdrawal.external_id)
    incidents: Table = IncidentRow.__table__  # type: ignore[assignment]
    payloads: Table = RawPayloadRow.__table__  # type: ignore[assignment]
    for (source, kinds), external_ids in grouped.items():
        for start in range(0, len(external_ids), LOOKUP_CHUNK):
            chunk = external_ids[start : start + LOOKUP_CHUNK]
            found = select(incidents.c.id).where(incidents.c.source == source, incidents.c.external_id.in_(chunk))
            deleted = delete_rows(connection, incidents, list(connection.execute(found).scalars()))
            if deleted:
                counts["incidents withdrawn"] += deleted
            if not kinds:
                continue
            stored = select(payloads.c.id).where(
                payloads.c.source == source,
                payloads.c.kind.in_(kinds),
                payloads.c.external_id.in_(chunk),
            )
            removed = delete_rows(connection, payloads, list(connection.execute(stored).scalars()))
            if removed:
                counts["raw payloads withdrawn"] += removed
    return counts


def write_batch(connection: Connection, records: Sequence[Record]) -> Counter[str]:
    """Store one batch of a source: upsert its records and apply its withdrawals; return what was written."""
    if not any(isinstance(record, IncidentWithdrawal) for record in records):
        return write_records(connection, records)  # most batches: no split needed
    kept, withdrawn = final_withdrawals(records)
    counts = write_records(connection, kept)
    if withdrawn:
        counts.update(withdraw_incidents(connection, withdrawn.values()))
    return counts

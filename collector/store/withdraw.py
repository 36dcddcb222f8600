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
- a **deployment withdrawal** (:class:`~connectors.records.DeploymentWithdrawal`): a run read as never
  run (stored earlier, perhaps, as a deployment in progress) deletes the stored deployment of its key,
  the last word on a key within a batch winning as above; counted as ``deployments withdrawn``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, select

from collector.store.deletion import delete_rows
from collector.store.models import DeploymentRow, IncidentRow, RawPayloadRow
from collector.store.writer import write_records
from connectors.records import Deployment, DeploymentWithdrawal, Incident, IncidentWithdrawal, RawPayload, Record

#: external ids per lookup statement
LOOKUP_CHUNK = 500

Key = tuple[str, str]


def _last_words(records: Sequence[Record], stored: type, withdrawal: type) -> dict[Key, Any]:
    """The withdrawals (of type ``withdrawal``) that are the last word on their key among the records of
    type ``stored`` and ``withdrawal`` in ``records``, by key."""
    last: dict[Key, int] = {}
    for position, record in enumerate(records):
        if isinstance(record, stored | withdrawal):
            last[(record.source, record.external_id)] = position  # type: ignore[union-attr]
    return {
        (record.source, record.external_id): record  # type: ignore[union-attr]
        for position, record in enumerate(records)
        if isinstance(record, withdrawal) and last[(record.source, record.external_id)] == position  # type: ignore[attr-defined]
    }


def final_withdrawals(records: Sequence[Record]) -> tuple[list[Record], dict[Key, IncidentWithdrawal]]:
    """Split a batch into the records to upsert and the withdrawals to apply (last word per key wins)."""
    withdrawn: dict[Key, IncidentWithdrawal] = _last_words(records, Incident, IncidentWithdrawal)
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


def _delete_keyed(
    connection: Connection, table: Table, source: str, external_ids: Sequence[str], *conditions: Any
) -> int:
    """Delete the rows of ``table`` of ``source`` whose ``external_id`` is one of ``external_ids`` (and that meet
    ``conditions``), in the caller's transaction; return how many."""
    deleted = 0
    for start in range(0, len(external_ids), LOOKUP_CHUNK):
        chunk = external_ids[start : start + LOOKUP_CHUNK]
        found = select(table.c.id).where(table.c.source == source, table.c.external_id.in_(chunk), *conditions)
        deleted += delete_rows(connection, table, list(connection.execute(found).scalars()))
    return deleted


def withdraw_incidents(connection: Connection, withdrawals: Iterable[IncidentWithdrawal]) -> Counter[str]:
    """Apply ``withdrawals`` in the caller's transaction (see the module docstring); return the rows deleted."""
    counts: Counter[str] = Counter()
    grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for withdrawal in withdrawals:
        grouped.setdefault((withdrawal.source, withdrawal.payload_kinds), []).append(withdrawal.external_id)
    incidents: Table = IncidentRow.__table__  # type: ignore[assignment]
    payloads: Table = RawPayloadRow.__table__  # type: ignore[assignment]
    for (source, kinds), external_ids in grouped.items():
        if deleted := _delete_keyed(connection, incidents, source, external_ids):
            counts["incidents withdrawn"] += deleted
        if kinds and (removed := _delete_keyed(connection, payloads, source, external_ids, payloads.c.kind.in_(kinds))):
            counts["raw payloads withdrawn"] += removed
    return counts


def final_deployment_withdrawals(records: Sequence[Record]) -> tuple[list[Record], list[DeploymentWithdrawal]]:
    """Split a batch into the records to keep and the deployment withdrawals to apply: of the deployments and
    :class:`~connectors.records.DeploymentWithdrawal` records of one key, the one listed last wins."""
    withdrawn: dict[Key, DeploymentWithdrawal] = _last_words(records, Deployment, DeploymentWithdrawal)
    kept: list[Record] = [
        record
        for record in records
        if not isinstance(record, DeploymentWithdrawal)
        and not (isinstance(record, Deployment) and (record.source, record.external_id) in withdrawn)
    ]
    return kept, list(withdrawn.values())


def withdraw_deployments(connection: Connection, withdrawals: Iterable[DeploymentWithdrawal]) -> Counter[str]:
    """Delete the stored deployments of ``withdrawals`` (their derived link rows go with them through
    ``ON DELETE CASCADE``), in the caller's transaction; return the rows deleted."""
    counts: Counter[str] = Counter()
    grouped: dict[str, list[str]] = {}
    for withdrawal in withdrawals:
        grouped.setdefault(withdrawal.source, []).append(withdrawal.external_id)
    deployments: Table = DeploymentRow.__table__  # type: ignore[assignment]
    for source, external_ids in grouped.items():
        if deleted := _delete_keyed(connection, deployments, source, external_ids):
            counts["deployments withdrawn"] += deleted
    return counts


def write_batch(connection: Connection, records: Sequence[Record]) -> Counter[str]:
    """Store one batch of a source: upsert its records and apply its withdrawals; return what was written."""
    if not any(isinstance(record, IncidentWithdrawal | DeploymentWithdrawal) for record in records):
        return write_records(connection, records)  # most batches: no split needed
    records, deployments_withdrawn = final_deployment_withdrawals(records)
    kept, withdrawn = final_withdrawals(records)
    counts = write_records(connection, kept)
    if withdrawn:
        counts.update(withdraw_incidents(connection, withdrawn.values()))
    if deployments_withdrawn:
        counts.update(withdraw_deployments(connection, deployments_withdrawn))
    return counts

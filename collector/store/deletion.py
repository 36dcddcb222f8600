"""Deleting stored rows by primary key, the one deletion path of the rebuild and of incident withdrawals.

Derived link rows go with a deleted row through their foreign keys' ``ON DELETE CASCADE``
(``incident_deployments`` with its incident, ``deployment_changes`` and ``deployment_failures`` with
their deployment; see :mod:`collector.store.models`); the next recompute derives links again.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Table, delete

#: ids per ``DELETE ... WHERE id IN (...)`` statement (well below every driver's parameter limit)
DELETE_CHUNK = 500


def delete_rows(connection: Connection, table: Table, ids: Sequence[int]) -> int:
    """Delete the rows of ``table`` whose ``id`` is in ``ids``, in the caller's transaction; return how many."""
    deleted = 0
    for start in range(0, len(ids), DELETE_CHUNK):
        result = connection.execute(delete(table).where(table.c.id.in_(ids[start : start + DELETE_CHUNK])))
        deleted += result.rowcount
    return deleted

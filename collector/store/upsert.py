"""One idempotent upsert for SQLite and PostgreSQL.

``INSERT … ON CONFLICT (natural key) DO UPDATE SET … WHERE <some column differs>``: a row that is
already stored with the same values is left untouched, so writing the same data twice changes
nothing (not even a PostgreSQL row version).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, or_
from sqlalchemy.dialects import postgresql, sqlite


def dedupe_rows(rows: Iterable[Mapping[str, Any]], key_columns: Sequence[str]) -> list[dict[str, Any]]:
    """Keep the last row of each natural key (later data in a batch wins), preserving order."""
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        by_key[tuple(row[column] for column in key_columns)] = dict(row)
    return list(by_key.values())


def upsert(
    connection: Connection,
    table: Table,
    rows: Iterable[Mapping[str, Any]],
    key_columns: Sequence[str],
    update_columns: Sequence[str] | None = None,
) -> int:
    """Insert ``rows`` or update the stored row with the same ``key_columns``; return rows sent.

    ``update_columns`` defaults to every column given in the rows except the key. With an empty
    ``update_columns`` a conflicting row is left as it is (insert-if-absent).
    """
    batch = dedupe_rows(rows, key_columns)
    if not batch:
        return 0
    columns = list(batch[0].keys())
    updates = [c for c in columns if c not in key_columns] if update_columns is None else list(update_columns)
    dialect = connection.dialect.name
    insert: Callable[[Table], Any]
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - guarded by config validation
        raise ValueError(f"unsupported database dialect {dialect!r}: use SQLite or PostgreSQL")
    statement = insert(table)
    if updates:
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=list(key_columns),
            set_={column: excluded[column] for column in updates},
            where=or_(*(table.c[column].is_distinct_from(excluded[column]) for column in updates)),
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(key_columns))
    connection.execute(statement, batch)
    return len(batch)

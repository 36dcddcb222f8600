"""One idempotent upsert for SQLite and PostgreSQL.

``INSERT … ON CONFLICT (natural key) DO UPDATE SET … WHERE <some column differs>``: a row that is
already stored with the same values is left untouched, so writing the same data twice changes
nothing (not even a PostgreSQL row version).

The statement is defined once (:func:`upsert_statement`) and sent two ways: :func:`upsert` through
SQLAlchemy with rows as mappings (SQLAlchemy converts each value), and :func:`upsert_driver_rows`
with rows already converted to what the DBAPI driver takes (see :mod:`collector.store.driver_values`),
the statement compiled once and run by the driver cursor's ``executemany``: the bulk path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table, or_
from sqlalchemy.dialects import postgresql, sqlite


def dedupe_rows(rows: Iterable[Mapping[str, Any]], key_columns: Sequence[str]) -> list[dict[str, Any]]:
    """Keep the last row of each natural key (later data in a batch wins), preserving order."""
    by_key: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        by_key[tuple(row[column] for column in key_columns)] = dict(row)
    return list(by_key.values())


def dedupe_value_rows(rows: Iterable[Sequence[Any]], key_positions: Sequence[int]) -> list[Sequence[Any]]:
    """:func:`dedupe_rows` for rows as tuples: the last row of each key wins, at its key's first position.

    Rows without a repeated key are returned as they came (the same list when given a list); that is
    checked first on the last key column alone (no repeated value there means no repeated key),
    which is cheaper than building the key tuples. Otherwise a dict built from (key, row) pairs keeps
    exactly the rows wanted: a repeated key keeps its first place and takes the later row.
    """
    rows = rows if isinstance(rows, list) else list(rows)
    # the last key column (a sha, a pull request number, an external id) is the likeliest to be unique alone
    if len(set(map(itemgetter(key_positions[-1]), rows))) == len(rows):
        return rows  # no repeated value in one key column, so no repeated key
    by_key = dict(zip(map(itemgetter(*key_positions), rows), rows, strict=True))
    return rows if len(by_key) == len(rows) else list(by_key.values())


def upsert_statement(dialect_name: str, table: Table, key_columns: Sequence[str], update_columns: Sequence[str]) -> Any:
    """The upsert of ``table`` on ``key_columns``, updating ``update_columns`` only when one of them differs.

    With no ``update_columns`` a conflicting row is left as it is (insert-if-absent).
    """
    insert: Callable[[Table], Any]
    if dialect_name == "postgresql":
        insert = postgresql.insert
    elif dialect_name == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - guarded by config validation
        raise ValueError(f"unsupported database dialect {dialect_name!r}: use SQLite or PostgreSQL")
    statement = insert(table)
    if not update_columns:
        return statement.on_conflict_do_nothing(index_elements=list(key_columns))
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=list(key_columns),
        set_={column: excluded[column] for column in update_columns},
        where=or_(*(table.c[column].is_distinct_from(excluded[column]) for column in update_columns)),
    )


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
    connection.execute(upsert_statement(connection.dialect.name, table, key_columns, updates), batch)
    return len(batch)


@dataclass(frozen=True, slots=True)
class CompiledUpsert:
    """An upsert compiled for one dialect: its SQL text and, per driver parameter, the row position it takes."""

    sql: str
    positions: tuple[int, ...]
    names: tuple[str, ...] | None  # parameter names when the driver's parameter style is named

    def parameters(self, rows: Sequence[Sequence[Any]]) -> list[Any]:
        """``rows`` (in the column order they were compiled for) as the driver's parameter sets."""
        if self.names is not None:
            names, positions = self.names, self.positions
            return [{name: row[position] for name, position in zip(names, positions, strict=True)} for row in rows]
        if self.positions == tuple(range(len(self.positions))):
            return list(rows)
        reorder = itemgetter(*self.positions)
        return [reorder(row) for row in rows]


@lru_cache(maxsize=256)
def compile_upsert(
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    key_columns: tuple[str, ...],
    update_columns: tuple[str, ...],
) -> CompiledUpsert:
    """:func:`upsert_statement` compiled once for ``dialect`` and rows of exactly ``columns``."""
    statement = upsert_statement(dialect.name, table, key_columns, update_columns)
    compiled = statement.compile(dialect=dialect, column_keys=list(columns), for_executemany=True)
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    if sorted(names) != sorted(columns):  # pragma: no cover - a column default or an extra bind slipped in
        raise ValueError(f"upsert of {table.name} binds {names}, expected exactly {list(columns)}")
    positions = tuple(columns.index(name) for name in names)
    return CompiledUpsert(str(compiled), positions, None if compiled.positional else tuple(names))


def upsert_driver_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    key_columns: Sequence[str],
    update_columns: Sequence[str],
) -> int:
    """Upsert ``rows`` whose values are already what the driver takes, in ``columns`` order; return rows sent.

    The same statement as :func:`upsert`, compiled once, run by the driver cursor's ``executemany`` in
    ``connection``'s transaction. Later rows of a natural key win, as in :func:`upsert`.
    """
    key_positions = [list(columns).index(column) for column in key_columns]
    batch = dedupe_value_rows(rows, key_positions)
    if not batch:
        return 0
    compiled = compile_upsert(connection.dialect, table, tuple(columns), tuple(key_columns), tuple(update_columns))
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(compiled.sql, compiled.parameters(batch))
    finally:
        cursor.close()
    return len(batch)

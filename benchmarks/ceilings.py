"""The raw driver ceilings the product is compared with: bare inserts and plain reads.

*Insert ceiling*: the same rows the import path stores (``record_row`` of each parsed event,
converted to what the DBAPI driver takes, untimed) inserted by ``cursor.executemany`` of a plain
``INSERT`` into a bare table (same columns and column types, no id, no key, no index), through the
same driver and connection settings as the product, in one transaction. Only the inserts and the
commit are timed. *Read ceiling*: ``SELECT`` of exactly the columns ``collector.store.frames``
loads (commit paths only where the loader reads them), fetched with the driver's cursor in the loader's
chunks (no type conversion, no DataFrame, no list of every row).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine, Table

from collector.events.parse import parse_json_lines
from collector.store.column_reader import CHUNK_ROWS, Column, ColumnKind, select_statement
from collector.store.frames import READ_COLUMNS as FRAME_COLUMNS
from collector.store.frames import PathSelection
from collector.store.models import CommitRow, DeploymentRow, IncidentRow, PullRequestRow
from collector.store.writer import record_row
from connectors.records import Commit, Deployment, Incident, PullRequest

RAW_CHUNK_LINES = 50_000

_TABLES: dict[type, Table] = {
    Commit: CommitRow.__table__,  # type: ignore[dict-item]
    PullRequest: PullRequestRow.__table__,  # type: ignore[dict-item]
    Deployment: DeploymentRow.__table__,  # type: ignore[dict-item]
    Incident: IncidentRow.__table__,  # type: ignore[dict-item]
}

#: The columns ``collector.store.frames`` selects from each table (the metrics' inputs).
READ_COLUMNS = FRAME_COLUMNS
_PATHS = ("commits", "paths")


@dataclass(slots=True)
class RawTiming:
    """Seconds spent in driver calls and the rows they moved."""

    seconds: float = 0.0
    rows: int = 0
    per_table: dict[str, int] = field(default_factory=dict)


def _driver_value(value: Any, dialect: str) -> Any:
    """A column value as the DBAPI driver takes it, stored the way the product stores it."""
    if isinstance(value, datetime):
        utc = value.astimezone(UTC)
        return utc if dialect == "postgresql" else utc.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, list):
        if dialect == "postgresql":
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return json.dumps(value)
    return value


def _bare_ddl(engine: Engine, table: Table, columns: list[str]) -> str:
    types = ", ".join(f"{c} {table.c[c].type.compile(dialect=engine.dialect)}" for c in columns)
    return f"CREATE TABLE bare_{table.name} ({types})"


def _chunks(lines: Iterable[str]) -> Iterator[list[str]]:
    iterator = iter(lines)
    while chunk := list(islice(iterator, RAW_CHUNK_LINES)):
        yield chunk


def raw_insert(engine: Engine, lines: Iterable[str]) -> RawTiming:
    """Insert the rows of ``lines`` (canonical events) with plain ``executemany`` into bare tables."""
    dialect = engine.dialect.name
    mark = "%s" if dialect == "postgresql" else "?"
    timing = RawTiming()
    created: dict[type, list[str]] = {}
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for chunk in _chunks(lines):
            grouped: dict[type, list[dict[str, Any]]] = {}
            for parsed in parse_json_lines(chunk):
                if parsed.record is not None:
                    grouped.setdefault(type(parsed.record), []).append(record_row(parsed.record))
            for record_type, rows in grouped.items():
                table = _TABLES[record_type]
                if record_type not in created:
                    created[record_type] = [c for c in rows[0] if c in table.c]
                    cursor.execute(_bare_ddl(engine, table, created[record_type]))
                columns = created[record_type]
                values = [tuple(_driver_value(row.get(c), dialect) for c in columns) for row in rows]
                statement = (
                    f"INSERT INTO bare_{table.name} ({', '.join(columns)}) "  # noqa: S608 - names from our own models
                    f"VALUES ({', '.join([mark] * len(columns))})"
                )
                started = time.perf_counter()
                cursor.executemany(statement, values)
                timing.seconds += time.perf_counter() - started
                timing.rows += len(values)
                timing.per_table[table.name] = timing.per_table.get(table.name, 0) + len(values)
        started = time.perf_counter()
        connection.commit()
        timing.seconds += time.perf_counter() - started
        for record_type in created:
            cursor.execute(f"DROP TABLE bare_{_TABLES[record_type].name}")
        connection.commit()
        cursor.close()
    finally:
        connection.close()
    return timing


def raw_read(engine: Engine, *, paths: PathSelection | bool = True) -> RawTiming:
    """Fetch every column the metrics read, from each table, with the bare driver cursor, in the loader's
    chunks of ``CHUNK_ROWS`` rows.

    ``paths`` selects the commit paths read as the product's loader does
    (``collector.store.frames.path_selection``): none, all, or those of the commits meeting its condition
    (the same SQL condition, the other rows read as NULL). Every other column is selected bare.
    """
    selection = paths if isinstance(paths, PathSelection) else PathSelection(read=paths)
    dialect = engine.dialect.name
    timing = RawTiming()
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for table, all_columns in READ_COLUMNS.items():
            columns = [
                Column(c, ColumnKind.VALUE, read_when=selection.condition if (table, c) == _PATHS else None)
                for c in all_columns
                if selection.read or (table, c) != _PATHS
            ]
            statement, params = select_statement(table, columns, dialect)
            started = time.perf_counter()
            cursor.execute(statement, params)
            count = 0
            while rows := cursor.fetchmany(CHUNK_ROWS):  # in chunks, as the loader reads: no list of every row
                count += len(rows)
            timing.seconds += time.perf_counter() - started
            timing.rows += count
            timing.per_table[table] = count
        cursor.close()
        connection.rollback()
    finally:
        connection.close()
    return timing

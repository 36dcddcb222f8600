"""A chunk of driver rows handed to SQLite as a database image, and upserted from it in one statement per table.

Why: importing into SQLite, the one writing process was the bottleneck, and half of its time went to
receiving a worker's rows as Python values, binding them one by one to ``executemany`` and
collecting the garbage, not to the upsert itself. Here a worker process puts the chunk's rows in an
in-memory SQLite database (:func:`chunk_image`) and sends its serialised image (one ``bytes``). The
writer loads that image into a schema attached to its own connection (:func:`attached_chunk_schema`,
``sqlite3.Connection.deserialize``) and runs, per table, the same upsert as the row path with the
rows of that schema (``INSERT … SELECT … ON CONFLICT … DO UPDATE … WHERE <some column differs>``):
SQLite copies the values inside its own code.

Why the stored rows are the same as those of :func:`collector.store.writer.write_driver_rows`:

- the image holds exactly the driver values the row path would bind, in columns declared without a
  type, so every value keeps its storage class (text, integer, real, null) on the way in; the insert
  into the real table then applies that column's affinity, as binding the value would;
- repeated natural keys are resolved in the worker as the row path resolves them (the last row of a
  key wins, at the key's first place, :func:`collector.store.upsert.dedupe_value_rows`), and the
  rows are read back in insertion order (``ORDER BY rowid``), so ids are given out in the same order;
- the counts are those of the row path: rows sent per table after that de-duplication.

Every image has the same schema, built by the same statements in the same order (every record table,
empty or not): SQLite keeps the attached schema's parsed definitions across a ``deserialize``, and an
image whose tables sat on other pages would be read through stale definitions.
"""

from __future__ import annotations

import logging
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Column, Connection, Dialect, MetaData, Table, select, text, true

from collector.store.upsert import dedupe_value_rows, upsert_statement
from collector.store.writer import RECORD_TABLES, DriverRows, compared_columns, record_columns, write_repositories

logger = logging.getLogger(__name__)

#: name of the schema the writer attaches to hold the current chunk's image
CHUNK_SCHEMA = "dm_chunk"

#: record types in the order their tables are created in every image (the schema must never vary)
_IMAGE_TYPES: tuple[type, ...] = tuple(RECORD_TABLES)


@dataclass(frozen=True, slots=True)
class ChunkImage:
    """A chunk's rows as a serialised SQLite database: the image, rows per record type, the repositories named."""

    image: bytes
    counts: tuple[tuple[type, int], ...]
    repos: frozenset[str]


def images_supported(dialect: Dialect) -> bool:
    """Whether chunks for ``dialect`` can travel as images: SQLite through the standard ``sqlite3`` module."""
    return dialect.name == "sqlite" and dialect.driver == "pysqlite" and hasattr(sqlite3.Connection, "deserialize")


def _table_name(record_type: type) -> str:
    return RECORD_TABLES[record_type][0].name


def chunk_image(prepared: DriverRows) -> ChunkImage:
    """``prepared``'s rows in a new in-memory SQLite database, serialised; repeated keys resolved as by the row path."""
    database = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for record_type in _IMAGE_TYPES:
            database.execute(f"CREATE TABLE {_table_name(record_type)} ({', '.join(record_columns(record_type))})")
        counts: list[tuple[type, int]] = []
        database.execute("BEGIN")
        for record_type, rows in prepared.rows.items():
            columns = record_columns(record_type)
            key = RECORD_TABLES[record_type][1]
            batch = dedupe_value_rows(rows, [columns.index(column) for column in key])
            if not batch:
                continue
            placeholders = ", ".join("?" * len(columns))
            insert = f"INSERT INTO {_table_name(record_type)} VALUES ({placeholders})"  # noqa: S608 - our table names
            database.executemany(insert, batch)
            counts.append((record_type, len(batch)))
        database.execute("COMMIT")
        return ChunkImage(database.serialize(), tuple(counts), frozenset(prepared.repos))
    finally:
        database.close()


@contextmanager
def attached_chunk_schema(connection: Connection) -> Iterator[None]:
    """Attach an empty in-memory schema :data:`CHUNK_SCHEMA` to ``connection`` meanwhile (SQLite only).

    Call outside a transaction: SQLite detaches only then. A connection that cannot detach it is
    invalidated (closed, not returned to the pool), so no later user sees the schema.
    """
    if not images_supported(connection.dialect):
        yield
        return
    database = connection.connection.dbapi_connection
    if database is None:  # pragma: no cover - a checked-out connection has its DBAPI connection
        raise RuntimeError("connection has no DBAPI connection")
    database.execute(f"ATTACH DATABASE ':memory:' AS {CHUNK_SCHEMA}")
    try:
        yield
    finally:
        try:
            database.execute(f"DETACH DATABASE {CHUNK_SCHEMA}")
        except sqlite3.Error as error:
            logger.warning("could not detach the import's chunk schema (%s); discarding the connection", error)
            connection.invalidate()


@lru_cache(maxsize=16)
def _upsert_sql(record_type: type, dialect: Dialect) -> str:
    """The upsert of ``record_type``'s table from the rows of its table in :data:`CHUNK_SCHEMA`, in their order."""
    table, key, _label = RECORD_TABLES[record_type]
    columns = record_columns(record_type)
    image_table = Table(table.name, MetaData(), *(Column(column) for column in columns), schema=CHUNK_SCHEMA)
    rows = select(*(image_table.c[column] for column in columns)).where(true()).order_by(text("rowid"))
    statement = upsert_statement(dialect.name, table, key, compared_columns(record_type), (columns, rows))
    return str(statement.compile(dialect=dialect))


def write_chunk_image(connection: Connection, chunk: ChunkImage) -> Counter[str]:
    """Upsert the rows of ``chunk`` (repositories first) in ``connection``'s transaction; return rows written per table.

    ``connection`` must be inside :func:`attached_chunk_schema`.
    """
    write_repositories(connection, chunk.repos)
    database = connection.connection.dbapi_connection
    if database is None:  # pragma: no cover - a checked-out connection has its DBAPI connection
        raise RuntimeError("connection has no DBAPI connection")
    database.deserialize(chunk.image, name=CHUNK_SCHEMA)
    counts: Counter[str] = Counter()
    cursor = connection.connection.cursor()
    try:
        for record_type, count in chunk.counts:
            cursor.execute(_upsert_sql(record_type, connection.dialect))
            counts[RECORD_TABLES[record_type][2]] += count
    finally:
        cursor.close()
    return counts

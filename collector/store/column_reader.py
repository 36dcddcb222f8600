"""Reading whole table columns with the bare DBAPI cursor: chunked, decoded per column, strings pooled.

The metrics' input frames hold millions of values; building them through SQLAlchemy's per-value result
processing (and a DataFrame of row tuples) costs several times the driver's own read, and holding every
row tuple while the frame is built doubles the memory. Here a ``SELECT`` runs on the connection's DBAPI
cursor, rows arrive ``CHUNK_ROWS`` at a time and are turned into per-column values at once, so no more
than one chunk of row tuples is alive, and each :class:`ColumnKind` is decoded in bulk:

- ``STRING``: text as read, every distinct value one shared ``str`` object (see :class:`StringPool`);
- ``TIMESTAMP``: UTC instants, ``datetime64[us, UTC]``, from the text of the UTC wall time (SQLite stores
  it so; PostgreSQL formats it in the query), parsed vectorised;
- ``STRING_LIST``: a JSON list of strings, read as its text and decoded in one ``json.loads`` per chunk,
  to a tuple of pooled strings (equal tuples pooled too where lists repeat); SQL NULL and JSON ``null``
  give ``None``;
- ``VALUE``: anything else (integers, booleans), as the driver returns it.
"""

from __future__ import annotations

import gc
import json
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection

#: rows fetched per ``fetchmany``: large enough to amortise the per-chunk work, small enough to bound the
#: row tuples alive at once
CHUNK_ROWS = 50_000


@contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """Suspend the cyclic garbage collector for the block (restored to its previous state after).

    A bulk read creates millions of tuples and no reference cycle; left on, the collector traverses the
    live tuples again and again as they accumulate (a quarter of the load time at 100,000 rows, more the
    larger the store). Reference counting frees everything as usual meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ColumnKind(StrEnum):
    """How a column's driver values become frame values (see the module docstring)."""

    STRING = "string"
    TIMESTAMP = "timestamp"
    STRING_LIST = "string_list"
    VALUE = "value"


class StringPool:
    """One ``str`` object per distinct value, per family of values, across every column read with it.

    Repository names, authors, services, statuses and paths repeat across millions of rows, and a parent
    sha is the sha of another commit: without the pool each occurrence is an object of its own. Values
    are pooled by family (e.g. shas apart from names) so that each lookup table stays small.
    """

    def __init__(self) -> None:
        self._families: dict[str, dict[Any, Any]] = {}

    def size(self, family: str) -> int:
        """How many distinct values ``family`` holds (``None`` counts once when it was read)."""
        return len(self._families.get(family, ()))

    def shared(self, values: Iterable[Any], family: str) -> list[Any]:
        """``values`` with each one replaced by the pool's equal value (added when new); ``None`` kept."""
        setdefault = self._families.setdefault(family, {}).setdefault
        return list(map(setdefault, values, values))

    def shared_tuples(
        self, lists: Sequence[Sequence[Any] | None], family: str, *, pool_tuples: bool = False
    ) -> list[tuple[Any, ...] | None]:
        """Each list as a tuple of pooled values (``None`` kept); an unhashable element is kept as is.

        With ``pool_tuples`` equal tuples are one object too (for lists that repeat, e.g. labels).
        """
        setdefault = self._families.setdefault(family, {}).setdefault
        try:
            # most lists hold one item (a commit's single parent): a tuple display is cheaper than tuple(map())
            tuples = [
                ((setdefault(items[0], items[0]),) if len(items) == 1 else tuple(map(setdefault, items, items)))
                if items is not None
                else None
                for items in lists
            ]
        except (TypeError, KeyError):  # an element that is not a string (a nested list), a JSON object: as they are
            return [
                tuple(setdefault(item, item) if isinstance(item, str) else item for item in items)
                if items is not None
                else None
                for items in lists
            ]
        return list(map(setdefault, tuples, tuples)) if pool_tuples else tuples


@dataclass(frozen=True, slots=True)
class RowCondition:
    """An SQL condition on a row, with ``?`` for each of its ``params`` (rendered in the driver's style)."""

    sql: str
    params: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Column:
    """One column to read: its name in the table and the frame, how it is decoded, its pool family.

    ``repeated_lists``: a ``STRING_LIST`` column whose lists often repeat whole (labels, the paths a
    series of commits touches): equal tuples are pooled as one object. ``read_when``: only rows
    meeting this condition carry the column's value; on the others it reads as SQL NULL (the
    database does not send it at all).
    """

    name: str
    kind: ColumnKind
    family: str = "text"
    repeated_lists: bool = False
    read_when: RowCondition | None = None


#: PostgreSQL timestamps are read as the text of their UTC wall time, in a fixed layout whatever the
#: session's ``DateStyle`` and time zone: parsing that text vectorised is several times cheaper than
#: converting the driver's timezone-aware datetime objects
_POSTGRES_UTC_TEXT = "to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"


def select_expression(column: Column, dialect: str) -> str:
    """The SQL that reads ``column`` in the form :func:`read_columns` decodes (``?`` marks the parameters
    of its ``read_when`` condition; :func:`select_statement` renders them for the driver)."""
    if column.kind is ColumnKind.STRING_LIST:
        # JSON as its text on both backends (psycopg would otherwise decode every JSONB value on its own),
        # SQL NULL as the JSON null, so a chunk's texts join into one JSON array as they are
        value = f"COALESCE(CAST({column.name} AS TEXT), 'null')"
        null = "'null'"
    elif column.kind is ColumnKind.TIMESTAMP and dialect == "postgresql":
        value, null = _POSTGRES_UTC_TEXT.format(column=column.name), "NULL"
    else:
        value, null = column.name, "NULL"
    if column.read_when is None:
        return value
    return f"CASE WHEN {column.read_when.sql} THEN {value} ELSE {null} END"


def select_statement(table: str, columns: Sequence[Column], dialect: str) -> tuple[str, tuple[Any, ...]]:
    """The ``SELECT`` of ``columns`` from ``table`` and its parameters, in the driver's parameter style
    (``?`` for sqlite3, ``%s`` for psycopg)."""
    expressions = ", ".join(select_expression(c, dialect) for c in columns)
    statement = f"SELECT {expressions} FROM {table}"  # noqa: S608 - names and conditions are the code's own
    params = tuple(p for c in columns if c.read_when is not None for p in c.read_when.params)
    if dialect == "postgresql":
        statement = statement.replace("%", "%%").replace("?", "%s")
    return statement, params


def utc_microseconds(texts: Sequence[str | None]) -> np.ndarray:
    """UTC timestamp texts as ``datetime64[us]`` UTC wall times (``None`` = NULL gives NaT).

    The store's texts (SQLite: ``YYYY-MM-DD HH:MM:SS.ffffff`` as SQLAlchemy writes the UTC wall time;
    PostgreSQL: see :func:`select_expression`) carry no offset and are parsed by numpy; any text numpy
    does not take as it is (an offset, another layout) is parsed by pandas as ISO 8601 and converted to UTC.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # numpy only warns on (and then shifts) an offset
            return np.array(texts, dtype="datetime64[us]")
    except (ValueError, TypeError, Warning):
        parsed = pd.to_datetime(pd.Series(list(texts), dtype=object), format="ISO8601", utc=True)
    return parsed.dt.as_unit("us").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")


def _string_lists(texts: Sequence[str], pool: StringPool, column: Column) -> list[tuple[Any, ...] | None]:
    """Decode JSON list texts (``null`` for none) in one ``json.loads``, each list as a tuple of pooled strings."""
    decoded = json.loads("[" + ",".join(texts) + "]")
    return pool.shared_tuples(decoded, column.family, pool_tuples=column.repeated_lists)


class _ColumnBuffer:
    """The decoded values of one column, appended chunk by chunk."""

    def __init__(self, column: Column, pool: StringPool) -> None:
        self.column = column
        self._pool = pool
        self._values: list[Any] = []
        self._times: list[np.ndarray] = []

    def append(self, values: Sequence[Any]) -> None:
        kind, family = self.column.kind, self.column.family
        if kind is ColumnKind.TIMESTAMP:
            self._times.append(utc_microseconds(values))
        elif kind is ColumnKind.STRING:
            self._values.extend(self._pool.shared(values, family))
        elif kind is ColumnKind.STRING_LIST:
            self._values.extend(_string_lists(values, self._pool, self.column))
        else:
            self._values.extend(values)

    def series(self) -> pd.Series:
        """The column: times as ``datetime64[us, UTC]``, lists as objects, the rest as pandas infers it."""
        kind = self.column.kind
        if kind is ColumnKind.TIMESTAMP:
            times = np.concatenate(self._times) if self._times else np.array([], dtype="datetime64[us]")
            self._times = []
            return pd.Series(times).dt.tz_localize("UTC")
        values, self._values = self._values, []
        if kind is ColumnKind.STRING_LIST:
            return pd.Series(values, dtype=object)
        return pd.Series(values)


def read_columns(connection: Connection, table: str, columns: Sequence[Column], pool: StringPool) -> pd.DataFrame:
    """Every row of ``table`` (in the order the database returns a plain ``SELECT``), one frame column each.

    Runs on ``connection``'s DBAPI connection, inside its transaction. On PostgreSQL the cursor is a
    server-side one, so the client holds one chunk of the result at a time, not all of it.
    """
    dialect = connection.dialect.name
    buffers = [_ColumnBuffer(column, pool) for column in columns]
    statement, params = select_statement(table, columns, dialect)
    dbapi = connection.connection
    cursor = dbapi.cursor(name=f"read_{table}") if dialect == "postgresql" else dbapi.cursor()
    try:
        cursor.execute(statement, params)
        while rows := cursor.fetchmany(CHUNK_ROWS):
            for buffer, values in zip(buffers, zip(*rows, strict=True), strict=True):
                buffer.append(values)
            del rows
    finally:
        cursor.close()
    return pd.DataFrame({buffer.column.name: buffer.series() for buffer in buffers})

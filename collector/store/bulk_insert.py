"""Plain ``INSERT`` of many rows of driver values through the DBAPI cursor's ``executemany``.

For tables whose columns need no conversion on the way to the driver (integers and text: the derived
link tables), SQLAlchemy's per-row work (a dict per row, bind processing per value) costs more than
the database's own insert. :func:`insert_driver_rows` compiles the ``INSERT`` once per dialect and
column list and hands the rows to the driver as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect, Table

#: rows per ``executemany`` (bounds the memory of the parameter list)
INSERT_CHUNK_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class CompiledInsert:
    """An ``INSERT`` compiled for one dialect: its SQL, per driver parameter the position in the given
    rows it takes, and the parameter names when the driver's parameter style is named."""

    sql: str
    positions: tuple[int, ...]
    names: tuple[str, ...] | None

    def parameters(self, rows: Sequence[Sequence[Any]]) -> Sequence[Any]:
        """``rows`` (values in the order of the columns compiled for) as the driver's parameter sets."""
        if self.names is not None:
            names, positions = self.names, self.positions
            return [{name: row[position] for name, position in zip(names, positions, strict=True)} for row in rows]
        if self.positions == tuple(range(len(self.positions))):
            return rows
        # not the identity, so at least two positions: itemgetter returns a tuple
        return list(map(itemgetter(*self.positions), rows))


@lru_cache(maxsize=64)
def compile_insert(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> CompiledInsert:
    """``INSERT INTO table (columns) VALUES (...)`` compiled once for ``dialect``; rows give ``columns``
    in this order. Raises ``ValueError`` when the statement would bind anything else."""
    unknown = [column for column in columns if column not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    compiled = table.insert().compile(dialect=dialect, column_keys=list(columns), for_executemany=True)
    names = list(compiled.positiontup or ()) if compiled.positional else list(compiled.binds)
    if sorted(names) != sorted(columns):
        raise ValueError(f"insert into {table.name} binds {names}, expected exactly {list(columns)}")
    positions = tuple(columns.index(name) for name in names)
    return CompiledInsert(str(compiled), positions, None if compiled.positional else tuple(names))


def insert_driver_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (tuples of driver values in ``columns`` order) into ``table``, ``INSERT_CHUNK_ROWS``
    at a time; the number of rows inserted. The values go to the driver unconverted: only for columns
    whose SQLAlchemy type has no bind processing on the connection's dialect (integers, text)."""
    compiled = compile_insert(connection.dialect, table, tuple(columns))
    iterator = iter(rows)
    count = 0
    while chunk := list(islice(iterator, INSERT_CHUNK_ROWS)):
        connection.exec_driver_sql(compiled.sql, compiled.parameters(chunk))  # type: ignore[arg-type]
        count += len(chunk)
    return count

"""`delivery-metrics ingest`: import JSON Lines of canonical events, all or nothing by default.

Lines are read in chunks of :data:`CHUNK_SIZE`. Each chunk is turned into rows of driver values: a
:class:`PreparedChunk`. A chunk of valid events takes the fast path (validated in one call into
plain column values, :func:`collector.events.bulk_values.chunk_columns`, converted column by column
with the writer's converters); any other chunk is validated in bulk or line by line with every
problem reported (:func:`collector.events.bulk.parse_json_chunk`) and its records converted by
:func:`collector.store.writer.driver_rows`. Both give the same rows. The rows are upserted in the
one transaction of the import (on SQLite with a larger page cache, :func:`sqlite_page_cache`).
When the input has more than one chunk, chunks are prepared in worker processes while this process
writes the ones before, in input order, so the stored result is the same as in one process. Workers
are forked when this process runs a single thread (the CLI) and spawned otherwise (``serve`` runs
threads; a spawned worker re-imports the main module, which must guard its entry point); a worker
that cannot start or dies leaves its chunk to this process. Workers rebuild the store's dialect from
its name and driver; a dialect a fresh one would not reproduce (a custom JSON serialiser) is
prepared here instead.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice

from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.engine import make_url

from collector.events.bulk import parse_json_chunk
from collector.events.bulk_values import ChunkColumns, chunk_columns
from collector.events.parse import DEFAULT_EVENT_SOURCE, EventProblem
from collector.store.writer import DriverRows, driver_plan, driver_rows, write_driver_rows

logger = logging.getLogger(__name__)

#: lines validated and written together (memory stays bounded by a few chunks)
CHUNK_SIZE = 5_000
#: most worker processes used when the caller does not say
MAX_DEFAULT_WORKERS = 2
#: chunks handed out ahead of the one being written, per worker
CHUNKS_AHEAD_PER_WORKER = 2
#: SQLite page cache of the importing connection, in KiB (see :func:`sqlite_page_cache`)
IMPORT_SQLITE_CACHE_KIB = 16 * 1024

Chunk = tuple[int, list[str]]  # the 1-based number of its first line, the lines


@dataclass(slots=True)
class IngestResult:
    """What an import did: rows written per table, the invalid lines, and whether anything was stored."""

    stored: Counter[str] = field(default_factory=Counter)
    problems: list[EventProblem] = field(default_factory=list)
    valid_events: int = 0
    committed: bool = False

    @property
    def invalid_lines(self) -> list[int]:
        """Numbers of the lines that had at least one problem."""
        return sorted({problem.line for problem in self.problems})


@dataclass(slots=True)
class PreparedChunk:
    """A chunk of lines made ready to write: how many lines were valid, the problems, the rows of driver values."""

    valid: int
    problems: list[EventProblem] = field(default_factory=list)
    rows: DriverRows = field(default_factory=DriverRows)


def ingest_lines(
    engine: Engine,
    lines: Iterable[str],
    *,
    skip_invalid: bool = False,
    source: str = DEFAULT_EVENT_SOURCE,
    workers: int | None = None,
) -> IngestResult:
    """Validate and store canonical events from ``lines`` in one transaction.

    Without ``skip_invalid`` a single invalid line stores nothing (the transaction is rolled back)
    and every problem is reported; with it the valid lines are stored and the rest reported. Writes
    are upserts, so importing the same file again is a no-op. ``workers``: processes preparing chunks
    beside this one when there is more than one chunk (``None``: one per CPU, at most
    :data:`MAX_DEFAULT_WORKERS`, none on one CPU; ``0``: none).
    """
    result = IngestResult()
    with engine.connect() as connection, sqlite_page_cache(connection, IMPORT_SQLITE_CACHE_KIB):
        transaction = connection.begin()
        try:
            for prepared in prepared_chunks(lines, source, connection.dialect, workers):
                result.valid_events += prepared.valid
                result.problems.extend(prepared.problems)
                if result.problems and not skip_invalid:
                    continue  # keep validating to report every bad line, but write nothing more
                result.stored.update(write_driver_rows(connection, prepared.rows))
            if result.problems and not skip_invalid:
                transaction.rollback()
                result.stored.clear()
                return result
            transaction.commit()
            result.committed = True
        except BaseException:
            transaction.rollback()
            raise
    logger.info("ingest stored %s; %d invalid line(s)", dict(result.stored), len(result.invalid_lines))
    return result


@contextmanager
def sqlite_page_cache(connection: Connection, kib: int) -> Iterator[None]:
    """On SQLite, let ``connection`` cache up to ``kib`` KiB of database pages meanwhile (at least its own setting).

    An import appends rows in input order, but each unique index places them by key (a commit's sha
    is random), so at size L the index pages an insert needs are mostly not among the default 2 MB
    of cached pages: evicted dirty pages go to the WAL and are read back. 16 MiB keeps far more of
    the indexes cached and cut the writing process's CPU by 10-15 % at size L (6.4 s -> 5.4 s for
    the same rows). The connection's own setting is restored afterwards, since it goes back to the
    pool. Other dialects are left as they are.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    cursor = connection.connection.cursor()  # the DBAPI connection: no SQLAlchemy transaction is begun
    try:
        cursor.execute("PRAGMA cache_size")
        previous = int(cursor.fetchall()[0][0])
        wanted = -kib
        # a positive setting counts pages, a negative one KiB; only ever enlarge it
        if previous < 0 and previous > wanted:
            cursor.execute(f"PRAGMA cache_size={wanted}")
        try:
            yield
        finally:
            cursor.execute(f"PRAGMA cache_size={previous}")
    finally:
        cursor.close()


def line_chunks(lines: Iterable[str], size: int | None = None) -> Iterator[Chunk]:
    """``lines`` in lists of ``size`` (default :data:`CHUNK_SIZE`), each with the 1-based number of its first line."""
    size = size or CHUNK_SIZE
    iterator = iter(lines)
    first = 1
    while chunk := list(islice(iterator, size)):
        yield first, chunk
        first += len(chunk)


def prepare_chunk(first_line: int, lines: list[str], source: str, dialect: Dialect) -> PreparedChunk:
    """Validate ``lines`` (numbered from ``first_line``) and convert the valid events' values for ``dialect``.

    A chunk of valid events goes the fast way (:func:`collector.events.bulk_values.chunk_columns`:
    column values straight from the validated JSON); any other chunk through records
    (:func:`collector.events.bulk.parse_json_chunk`), which reports each problem. Both give the same rows.
    """
    fast = chunk_columns(lines, source)
    if fast is not None:
        count, columns = fast
        return PreparedChunk(count, [], columns_driver_rows(columns, dialect))
    parsed = parse_json_chunk(lines, first_line, source)
    return PreparedChunk(len(parsed.records), parsed.problems, driver_rows(parsed.records, dialect))


def columns_driver_rows(columns: ChunkColumns, dialect: Dialect) -> DriverRows:
    """Column values per record type (columns in :func:`record_columns` order) as :func:`driver_rows` gives them.

    Each column is converted as a whole, by the writer's converter for it, then the columns are
    turned into rows; the repositories named (non-empty) are collected.

    The rows, and the sequence holding them, are tuples, not lists: the writer and the driver take
    any sequence, and tuples of plain values cost the receiving process's cyclic garbage collector
    next to nothing, where it scans lists again and again while a chunk waits to be written (about
    half the cost of loading a chunk's rows sent by a worker).
    """
    prepared = DriverRows()
    for record_type, values in columns.items():
        plan = driver_plan(record_type, dialect)  # bulk_values gives the store's column order (tested)
        for position, convert in plan.conversions:
            values[position] = list(map(convert, values[position]))
        if plan.repo_position is not None:
            prepared.repos.update(filter(None, values[plan.repo_position]))
        prepared.rows[record_type] = tuple(zip(*values, strict=True))
    return prepared


def prepared_chunks(
    lines: Iterable[str], source: str, dialect: Dialect, workers: int | None = None
) -> Iterator[PreparedChunk]:
    """Every chunk of ``lines`` prepared, in input order; in worker processes when there are two chunks or more."""
    chunks = line_chunks(lines)
    head = list(islice(chunks, 2))
    count = worker_count(workers, dialect) if len(head) == 2 else 0
    if count == 0:
        for first_line, chunk in chain(head, chunks):
            yield prepare_chunk(first_line, chunk, source, dialect)
        return
    yield from _prepared_in_workers(chain(head, chunks), source, _dialect_spec(dialect) or "", count)


def worker_count(requested: int | None, dialect: Dialect) -> int:
    """Worker processes to use for ``dialect``: ``requested``, or one per CPU up to the default most."""
    if _dialect_spec(dialect) is None:
        return 0
    if requested is not None:
        return max(requested, 0)
    cpus = os.cpu_count() or 1
    return min(cpus, MAX_DEFAULT_WORKERS) if cpus > 1 else 0


def _dialect_spec(dialect: Dialect) -> str | None:
    """``name+driver`` when a fresh dialect of that URL binds values as ``dialect`` does, else ``None``."""
    spec = f"{dialect.name}+{dialect.driver}"
    if type(dialect) is not make_url(f"{spec}://").get_dialect():
        return None
    if getattr(dialect, "_json_serializer", None) is not None:
        return None
    return spec


def _prepared_in_workers(chunks: Iterable[Chunk], source: str, spec: str, workers: int) -> Iterator[PreparedChunk]:
    ahead = workers * CHUNKS_AHEAD_PER_WORKER
    pool = ProcessPoolExecutor(workers, mp_context=_start_method(), initializer=_start_worker, initargs=(spec,))
    pending: deque[tuple[Chunk, Future[PreparedChunk]]] = deque()
    try:
        iterator = iter(chunks)
        for chunk in iterator:
            pending.append((chunk, pool.submit(_prepare_in_worker, *chunk, source)))
            if len(pending) > ahead:
                yield _result(pending.popleft(), source, spec)
        while pending:
            yield _result(pending.popleft(), source, spec)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(submitted: tuple[Chunk, Future[PreparedChunk]], source: str, spec: str) -> PreparedChunk:
    """The prepared chunk, or the chunk prepared here if the worker could not start or died."""
    (first_line, lines), future = submitted
    try:
        return future.result()
    except BrokenProcessPool:
        logger.warning("ingest worker process failed; preparing chunk at line %d in this process", first_line)
        return prepare_chunk(first_line, lines, source, make_url(f"{spec}://").get_dialect()())


def _start_method() -> multiprocessing.context.BaseContext:
    """``fork`` (no start-up cost) when this process runs one thread, else ``spawn`` (forking threads is unsafe)."""
    if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


_worker_dialect: Dialect | None = None


def _start_worker(spec: str) -> None:
    global _worker_dialect  # one dialect per worker process, set once when it starts
    _worker_dialect = make_url(f"{spec}://").get_dialect()()


def _prepare_in_worker(first_line: int, lines: list[str], source: str) -> PreparedChunk:
    if _worker_dialect is None:  # pragma: no cover - the pool's initializer sets it
        raise RuntimeError("ingest worker started without its dialect")
    # a chunk's objects die with it (no reference cycles): the cyclic collector would only rescan them
    gc.disable()
    try:
        return prepare_chunk(first_line, lines, source, _worker_dialect)
    finally:
        gc.enable()

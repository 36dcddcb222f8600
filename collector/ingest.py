"""`delivery-metrics ingest`: import JSON Lines of canonical events, all or nothing by default.

Lines are read in chunks of :data:`CHUNK_SIZE`. Each chunk is validated in bulk
(:func:`collector.events.bulk.parse_json_chunk`) and its records turned into rows of driver values
(:func:`collector.store.writer.driver_rows`): a :class:`PreparedChunk`. The rows are upserted in the
one transaction of the import. When the input has more than one chunk, chunks are prepared in worker
processes while this process writes the ones before, in input order, so the stored result is the
same as in one process. Workers are forked when this process runs a single thread (the CLI) and
spawned otherwise (``serve`` runs threads; a spawned worker re-imports the main module, which must
guard its entry point); a worker that cannot start or dies leaves its chunk to this process. Workers
rebuild the store's dialect from its name and driver; a dialect a fresh one would not reproduce (a
custom JSON serialiser) is prepared here instead.
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
from dataclasses import dataclass, field
from itertools import chain, islice

from sqlalchemy import Dialect, Engine
from sqlalchemy.engine import make_url

from collector.events.bulk import parse_json_chunk
from collector.events.parse import DEFAULT_EVENT_SOURCE, EventProblem
from collector.store.writer import DriverRows, driver_rows, write_driver_rows

logger = logging.getLogger(__name__)

#: lines validated and written together (memory stays bounded by a few chunks)
CHUNK_SIZE = 5_000
#: most worker processes used when the caller does not say
MAX_DEFAULT_WORKERS = 2
#: chunks handed out ahead of the one being written, per worker
CHUNKS_AHEAD_PER_WORKER = 2

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
    with engine.connect() as connection:
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


def line_chunks(lines: Iterable[str], size: int | None = None) -> Iterator[Chunk]:
    """``lines`` in lists of ``size`` (default :data:`CHUNK_SIZE`), each with the 1-based number of its first line."""
    size = size or CHUNK_SIZE
    iterator = iter(lines)
    first = 1
    while chunk := list(islice(iterator, size)):
        yield first, chunk
        first += len(chunk)


def prepare_chunk(first_line: int, lines: list[str], source: str, dialect: Dialect) -> PreparedChunk:
    """Validate ``lines`` (numbered from ``first_line``) and convert the valid events' records for ``dialect``."""
    parsed = parse_json_chunk(lines, first_line, source)
    return PreparedChunk(len(parsed.records), parsed.problems, driver_rows(parsed.records, dialect))


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

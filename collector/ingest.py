"""`delivery-metrics ingest`: import JSON Lines of canonical events, all or nothing by default."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy import Engine

from collector.events.parse import DEFAULT_EVENT_SOURCE, EventProblem, parse_json_lines
from collector.store.writer import write_records
from connectors.records import Record

logger = logging.getLogger(__name__)

CHUNK_SIZE = 5_000


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


def ingest_lines(
    engine: Engine,
    lines: Iterable[str],
    *,
    skip_invalid: bool = False,
    source: str = DEFAULT_EVENT_SOURCE,
) -> IngestResult:
    """Validate and store canonical events from ``lines`` in one transaction.

    Without ``skip_invalid`` a single invalid line stores nothing (the transaction is rolled back)
    and every problem is reported; with it the valid lines are stored and the rest reported. Writes
    are upserts, so importing the same file again is a no-op.
    """
    result = IngestResult()
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            buffer: list[Record] = []
            for parsed in parse_json_lines(lines):
                if parsed.problems:
                    result.problems.extend(parsed.problems)
                    continue
                assert parsed.record is not None
                result.valid_events += 1
                if result.problems and not skip_invalid:
                    continue  # keep validating to report every bad line, but write nothing more
                buffer.append(_with_source(parsed.record, source))
                if len(buffer) >= CHUNK_SIZE:
                    result.stored.update(write_records(connection, buffer))
                    buffer.clear()
            if result.problems and not skip_invalid:
                transaction.rollback()
                result.stored.clear()
                return result
            result.stored.update(write_records(connection, buffer))
            transaction.commit()
            result.committed = True
        except BaseException:
            transaction.rollback()
            raise
    logger.info("ingest stored %s; %d invalid line(s)", dict(result.stored), len(result.invalid_lines))
    return result


def _with_source(record: Record, source: str) -> Record:
    return record if source == DEFAULT_EVENT_SOURCE else replace(record, source=source)

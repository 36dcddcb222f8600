"""Helpers for the HTTP connector tests (conftest puts this folder on sys.path).

A fake clock whose sleep advances it, a service mapper,
fixture loading, and running a source to a list of batches."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.records import Batch, CursorKey

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load_fixture(*parts: str) -> Any:
    """A JSON fixture under tests/fixtures."""
    return json.loads(FIXTURES.joinpath(*parts).read_text())


@dataclass
class FakeClock:
    """A clock that only moves when ``sleep`` is called; records every sleep."""

    now: datetime = field(default_factory=lambda: datetime(2024, 6, 1, 12, 0, tzinfo=UTC))
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeServices:
    """Maps repositories to services from a plain dict."""

    mapping: Mapping[str, str] = field(default_factory=dict)

    def service_for_repo(self, repo: str) -> str | None:
        return self.mapping.get(repo)


def run_batches(source: Any, cursors: Mapping[CursorKey, str] | None = None) -> list[Batch]:
    """Every batch of one run."""
    return list(source.batches(dict(cursors or {})))


def merged_cursors(batches: list[Batch], start: Mapping[CursorKey, str] | None = None) -> dict[CursorKey, str]:
    """The cursors the collector would hold after storing ``batches`` (later batches win)."""
    cursors = dict(start or {})
    for batch in batches:
        cursors.update(batch.cursors)
    return cursors


def records_of(batches: list[Batch], kind: type) -> list[Any]:
    """Every record of class ``kind`` in ``batches``, in order."""
    return [r for b in batches for r in b.records if isinstance(r, kind)]


def run_until_error(source: Any, cursors: Mapping[CursorKey, str] | None = None) -> tuple[list[Batch], Exception]:
    """The batches yielded before the run failed, and the error (fails the test if none)."""
    yielded: list[Batch] = []
    try:
        for batch in source.batches(dict(cursors or {})):
            yielded.append(batch)
    except Exception as error:  # noqa: BLE001 - the caller asserts on the error's type
        return yielded, error
    raise AssertionError("the source did not fail")

"""SQLite imports through database images store exactly what the row-by-row path stores."""

from __future__ import annotations

import json
import pickle
import shutil
import sqlite3
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import collector.ingest
from collector.ingest import ingest_lines
from collector.store.engine import create_store_engine
from collector.store.sqlite_image import CHUNK_SCHEMA, ChunkImage, chunk_image, images_supported
from collector.store.writer import DriverRows, driver_rows
from collector.synthetic import generate_org
from connectors.records import Commit, Deployment, DeploymentStatus

TABLES = ("repositories", "commits", "pull_requests", "deployments", "incidents")


def _synthetic_lines() -> list[str]:
    """Events of the small synthetic organisation (every event type, reverts, bots), as JSON Lines."""
    org = generate_org("S", seed=11, end=datetime(2026, 1, 1, tzinfo=UTC))
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return [encode(event) for event in org.events()]


def _edited(lines: list[str]) -> list[str]:
    """A second import: every 7th event changed, every 5th repeated within its chunk, the rest unchanged."""
    edited: list[str] = []
    for index, line in enumerate(lines):
        event = json.loads(line)
        if index % 7 == 0:
            for key in ("message", "title"):
                if key in event:
                    event[key] = f"{event[key]} (edited)"
            if event["type"] == "deployment":
                event["status"] = "failure" if event["status"] == "success" else "success"
        edited.append(json.dumps(event))
        if index % 5 == 0:
            edited.append(line)  # the original again, later in the input: it wins over the edit
    return edited


def _dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every event table, with each value's SQLite storage class."""
    database = sqlite3.connect(path)
    try:
        dump: dict[str, list[tuple[Any, ...]]] = {}
        for table in TABLES:
            columns = [row[1] for row in database.execute(f"PRAGMA table_info({table})")]
            typed = ", ".join(f"{column}, typeof({column})" for column in columns)
            dump[table] = database.execute(f"SELECT {typed} FROM {table} ORDER BY id").fetchall()
        return dump
    finally:
        database.close()


def _import_twice(
    template: Path, path: Path, first: list[str], second: list[str], workers: int
) -> tuple[list[Counter[str]], dict[str, list[tuple[Any, ...]]]]:
    shutil.copyfile(template, path)
    engine = create_store_engine(f"sqlite:///{path}")
    stored = []
    for lines in (first, second):
        result = ingest_lines(engine, lines, workers=workers)
        assert result.committed and not result.problems
        stored.append(result.stored)
    engine.dispose()
    return stored, _dump(path)


@pytest.mark.parametrize("workers", [0, 2])
def test_image_path_stores_the_rows_of_the_row_path(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(collector.ingest, "CHUNK_SIZE", 400)  # many chunks, each with a different mix of types
    first = _synthetic_lines()
    second = _edited(first)
    assert len(first) > 5 * 400

    images = _import_twice(sqlite_template, tmp_path / "images.db", first, second, workers)
    monkeypatch.setattr(collector.ingest, "images_supported", lambda dialect: False)
    rows = _import_twice(sqlite_template, tmp_path / "rows.db", first, second, workers)

    assert images[0] == rows[0]  # rows written per table, both imports
    assert images[1] == rows[1]  # every row, column, value and storage class
    # the later line of a repeated key won: an edit survives only where the original did not follow it
    commits = [json.loads(line) for line in first if '"type":"commit"' in line]
    assert len(images[1]["commits"]) == len(commits) > 1000
    index_of = {json.loads(line)["sha"]: index for index, line in enumerate(first) if '"type":"commit"' in line}
    edited = {row[4] for row in images[1]["commits"] if str(row[18]).endswith("(edited)")}  # sha, message
    expected = {sha for sha, index in index_of.items() if index % 7 == 0 and index % 5 != 0}
    assert edited == {commit["sha"] for commit in commits if commit["sha"] in expected and commit.get("message")}


def test_an_image_resolves_repeated_keys_as_the_row_path_and_counts_rows_sent() -> None:
    when = datetime(2026, 1, 5, tzinfo=UTC)
    first = Deployment("ci", "d-1", "api", "production", DeploymentStatus.SUCCESS, "a" * 40, when, when)
    again = Deployment("ci", "d-1", "api", "production", DeploymentStatus.FAILURE, "a" * 40, when, when)
    commit = Commit("git", "org/api", "b" * 40, when, when)
    dialect = create_store_engine("sqlite://").dialect
    image = chunk_image(driver_rows([first, commit, again], dialect))

    database = sqlite3.connect(":memory:")
    database.deserialize(image.image)
    assert database.execute("SELECT external_id, status FROM deployments").fetchall() == [("d-1", "failure")]
    assert dict(image.counts) == {Deployment: 1, Commit: 1}
    assert image.repos == frozenset({"org/api"})
    # every image has the same tables in the same order, whatever the chunk holds
    empty = sqlite3.connect(":memory:")
    empty.deserialize(chunk_image(DriverRows()).image)
    schema = "SELECT name, rootpage FROM sqlite_schema ORDER BY rootpage"
    assert empty.execute(schema).fetchall() == database.execute(schema).fetchall()


def test_images_are_for_sqlite_only_and_the_chunk_schema_is_detached_after(
    sqlite_template: Path, tmp_path: Path
) -> None:
    assert images_supported(create_store_engine("sqlite://").dialect)
    assert not images_supported(create_store_engine("postgresql+psycopg://u@localhost/x").dialect)
    shutil.copyfile(sqlite_template, tmp_path / "store.db")
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}", pool_size=1)
    bad = ['{"type":"commit","repo":"org/api","sha":"not-a-sha"}']
    assert not ingest_lines(engine, bad).committed  # a rolled-back import detaches too
    with engine.connect() as connection:
        names = [row[1] for row in connection.exec_driver_sql("PRAGMA database_list")]
    assert CHUNK_SCHEMA not in names
    engine.dispose()


def test_a_chunk_image_survives_the_trip_to_a_worker() -> None:
    dialect = create_store_engine("sqlite://").dialect
    when = datetime(2026, 1, 5, tzinfo=UTC)
    image = chunk_image(driver_rows([Commit("git", "org/api", "c" * 40, when, when)], dialect))
    assert pickle.loads(pickle.dumps(image)) == image
    assert isinstance(image, ChunkImage)

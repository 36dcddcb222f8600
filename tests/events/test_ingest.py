"""`ingest`: canonical events validated line by line, stored all-or-nothing, idempotent."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

import collector.ingest
from collector.events.parse import parse_json_lines
from collector.ingest import ingest_lines
from collector.store.engine import create_store_engine
from collector.store.models import CommitRow, DeploymentRow, IncidentRow, PullRequestRow

SHA_A = "a" * 40
SHA_B = "b" * 40

GOOD = [
    {
        "type": "commit",
        "repo": "acme/shop",
        "sha": SHA_A,
        "authored_at": "2026-03-01T10:00:00+02:00",
        "author": "ann",
        "parents": [],
        "paths": ["src/a.py"],
    },
    {
        "type": "commit",
        "repo": "acme/shop",
        "sha": SHA_B,
        "authored_at": "2026-03-01T09:00:00Z",
        "parents": [SHA_A],
        "message": "Merge",
    },
    {
        "type": "pull_request",
        "repo": "acme/shop",
        "number": 3,
        "created_at": "2026-03-01T08:30:00Z",
        "merged_at": "2026-03-01T09:00:00Z",
        "merge_sha": SHA_B,
        "commits": [SHA_A],
        "labels": ["hotfix"],
    },
    {
        "type": "deployment",
        "id": "dep-1",
        "service": "shop",
        "environment": "production",
        "status": "success",
        "sha": SHA_B,
        "finished_at": "2026-03-01T11:00:00Z",
        "is_rollback": False,
    },
    {
        "type": "incident",
        "id": "inc-1",
        "service": "shop",
        "created_at": "2026-03-01T12:00:00Z",
        "resolved_at": "2026-03-01T13:00:00Z",
        "deployment_id": "dep-1",
    },
]


def lines(events: list[dict[str, object]]) -> list[str]:
    return [json.dumps(event) + "\n" for event in events]


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            model.__tablename__: connection.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (CommitRow, PullRequestRow, DeploymentRow, IncidentRow)
        }


def test_valid_file_is_stored_and_reimport_is_a_no_op(engine: Engine) -> None:
    result = ingest_lines(engine, lines(GOOD))
    assert result.committed and not result.problems
    assert counts(engine) == {"commits": 2, "pull_requests": 1, "deployments": 1, "incidents": 1}
    again = ingest_lines(engine, lines(GOOD))
    assert again.committed
    assert counts(engine) == {"commits": 2, "pull_requests": 1, "deployments": 1, "incidents": 1}
    with engine.connect() as connection:
        authored = connection.execute(select(CommitRow.authored_at).where(CommitRow.sha == SHA_A)).scalar_one()
    assert authored == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # 10:00+02:00


def test_one_bad_line_stores_nothing_and_is_named(engine: Engine) -> None:
    bad = dict(GOOD[3], finished_at="2026-03-01T11:00:00")  # no offset
    result = ingest_lines(engine, lines([*GOOD[:3], bad, GOOD[4]]))
    assert not result.committed
    assert [str(p) for p in result.problems] == [
        "line 4: finished_at: Value error, timestamp '2026-03-01T11:00:00' has no UTC offset: add Z or ±HH:MM"
    ]
    assert counts(engine) == {"commits": 0, "pull_requests": 0, "deployments": 0, "incidents": 0}


def test_every_bad_line_is_reported_and_skip_invalid_stores_the_rest(engine: Engine) -> None:
    text = lines(GOOD)
    text.insert(1, "{not json\n")
    text.insert(3, json.dumps({"type": "deploy", "id": "x"}) + "\n")
    text.append(json.dumps({"type": "incident", "id": "i2", "service": "shop", "created_at": 5}) + "\n")
    result = ingest_lines(engine, text, skip_invalid=True)
    assert result.invalid_lines == [2, 4, 8]
    fields = {(p.line, p.field) for p in result.problems}
    assert (4, "type") in fields and (8, "created_at") in fields
    assert result.committed
    assert counts(engine) == {"commits": 2, "pull_requests": 1, "deployments": 1, "incidents": 1}


def test_field_level_validation_messages() -> None:
    cases = [
        ({**GOOD[3], "status": "done"}, "status"),
        ({**GOOD[3], "sha": "not-a-sha"}, "sha"),
        ({**GOOD[2], "number": "3"}, "number"),
        ({**GOOD[3], "finsihed_at": "2026-03-01T11:00:00Z"}, "finsihed_at"),
        ({k: v for k, v in GOOD[4].items() if k != "created_at"}, "created_at"),
        ({**GOOD[4], "resolved_at": "2026-03-01T11:00:00Z"}, ""),  # resolved before created
        ({**GOOD[3], "status": "failure", "finished_at": None}, ""),
    ]
    for event, field in cases:
        parsed = list(parse_json_lines([json.dumps(event)]))
        assert parsed[0].record is None, event
        assert parsed[0].problems[0].field == field, (event, parsed[0].problems)


def test_in_progress_deployment_may_lack_finish_time() -> None:
    event = {**GOOD[3], "status": "in_progress", "finished_at": None}
    parsed = list(parse_json_lines([json.dumps(event)]))
    assert parsed[0].problems == ()


def many_lines() -> list[str]:
    """GOOD repeated with new keys, blank lines and a changed duplicate of an earlier key, for several chunks."""
    text = []
    for n in range(1, 8):
        commit = dict(GOOD[0], sha=f"{n:040x}")
        deployment = dict(GOOD[3], id=f"dep-{n}")
        text += [json.dumps(commit) + "\n", json.dumps(deployment) + "\n", "\n"]
    text.append(json.dumps(dict(GOOD[3], id="dep-1", status="failure")) + "\n")  # later data for dep-1 wins
    return text


def stored(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        deployments = connection.execute(select(DeploymentRow.id, DeploymentRow.external_id, DeploymentRow.status))
        commits = connection.execute(select(CommitRow.id, CommitRow.sha, CommitRow.authored_at))
        return sorted(tuple(row) for row in [*deployments, *commits])


def test_chunks_prepared_in_worker_processes_store_what_one_process_stores(
    engine: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("collector.ingest.CHUNK_SIZE", 4)
    pools = []
    in_pool = collector.ingest._prepared_in_workers
    monkeypatch.setattr("collector.ingest._prepared_in_workers", lambda *args: pools.append(args[-1]) or in_pool(*args))
    in_workers = ingest_lines(engine, many_lines(), workers=1, source="pushed")
    assert pools == [1]
    assert in_workers.committed and in_workers.valid_events == 15
    rows = stored(engine)
    assert ("dep-1", "failure") in {(row[1], row[2]) for row in rows}
    other = create_store_engine(store_url)
    with other.begin() as connection:  # empty the store, then the same import in this process only
        for model in (CommitRow, DeploymentRow):
            connection.execute(model.__table__.delete())
    in_process = ingest_lines(engine, many_lines(), workers=0, source="pushed")
    other.dispose()
    assert (in_process.stored, in_process.valid_events) == (in_workers.stored, in_workers.valid_events)
    assert sorted(row[1:] for row in stored(engine)) == sorted(row[1:] for row in rows)  # ids differ on PostgreSQL


def test_problems_in_several_chunks_keep_their_line_numbers_with_workers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("collector.ingest.CHUNK_SIZE", 4)
    text = many_lines()
    text[4] = "{not json\n"  # line 5, chunk 2
    text[12] = json.dumps(dict(GOOD[3], finished_at="2026-03-01T11:00:00")) + "\n"  # line 13, chunk 4
    result = ingest_lines(engine, text, workers=1)
    assert not result.committed and result.invalid_lines == [5, 13]
    assert [str(p) for p in result.problems][1] == (
        "line 13: finished_at: Value error, timestamp '2026-03-01T11:00:00' has no UTC offset: add Z or ±HH:MM"
    )
    assert counts(engine)["deployments"] == 0
    kept = ingest_lines(engine, text, workers=1, skip_invalid=True)
    assert kept.committed and kept.invalid_lines == [5, 13] and counts(engine)["deployments"] == 6


def test_sqlite_import_writes_with_a_larger_page_cache_and_gives_it_back(
    sqlite_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a SQLite setting (PostgreSQL has none such): on a copy of the migrated SQLite template only
    shutil.copyfile(sqlite_template, tmp_path / "store.db")
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")

    def cache_size(dbapi_connection: object) -> int:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA cache_size")
        return int(cursor.fetchone()[0])

    seen: list[int] = []
    write = collector.ingest.write_driver_rows
    monkeypatch.setattr(
        "collector.ingest.write_driver_rows",
        lambda connection, rows: seen.append(cache_size(connection.connection)) or write(connection, rows),
    )
    with engine.connect() as connection:
        before = cache_size(connection.connection.dbapi_connection)
        pooled = connection.connection.dbapi_connection
    assert before > -collector.ingest.IMPORT_SQLITE_CACHE_KIB
    assert ingest_lines(engine, lines(GOOD)).committed
    assert seen == [-collector.ingest.IMPORT_SQLITE_CACHE_KIB]
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection is pooled  # the same connection, back from the pool
        assert cache_size(pooled) == before
    engine.dispose()

"""Store writes: every record type upserts idempotently on its natural key, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select, text

from collector.store.models import Base, CommitRow, DeploymentRow, IncidentRow, RawPayloadRow, SyncState
from collector.store.writer import read_cursors, write_cursors, write_records
from connectors.records import (
    Commit,
    CursorKey,
    Deployment,
    DeploymentStatus,
    Incident,
    PipelineRun,
    PullRequest,
    RawPayload,
    Record,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))


def sample_records() -> list[Record]:
    return [
        Commit("git", "acme/shop", "a" * 40, T0, T0, "ann", "ann@x", (), "first", ("src/a.py",)),
        Commit("git", "acme/shop", "b" * 40, T0 + timedelta(hours=1), None, "bob", None, ("a" * 40,), "second", None),
        PullRequest(
            "gh",
            "acme/shop",
            7,
            T0,
            "ann",
            "Add a",
            ("feature",),
            "feat/a",
            "main",
            merge_sha="b" * 40,
            commits=("a" * 40,),
            merged_at=T0 + timedelta(hours=2),
        ),
        Deployment(
            "gh",
            "d-1",
            "shop",
            "production",
            DeploymentStatus.SUCCESS,
            "b" * 40,
            T0 + timedelta(hours=3),
            commits=("a" * 40, "b" * 40),
        ),
        Incident(
            "pd", "i-1", "shop", T0 + timedelta(hours=4), resolved_at=T0 + timedelta(hours=5), cause_deployment_id="d-1"
        ),
        PipelineRun("gh", "run-1", "acme/shop", "deploy", "success", T0, branch="main", sha="b" * 40),
        RawPayload("gh", "github.deployment", "d-1", T0, {"id": 1, "sha": "b" * 40}, url="https://x/d/1"),
    ]


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def test_writing_the_same_records_twice_changes_nothing(engine: Engine) -> None:
    with engine.begin() as connection:
        first = write_records(connection, sample_records())
    counts_after_first = row_counts(engine)
    with engine.begin() as connection:
        write_records(connection, sample_records())
    assert row_counts(engine) == counts_after_first
    assert first == {
        "commits": 2,
        "pull_requests": 1,
        "deployments": 1,
        "incidents": 1,
        "pipeline_runs": 1,
        "raw_payloads": 1,
    }
    assert counts_after_first["repositories"] == 1


def test_unchanged_rows_are_not_rewritten_on_postgres(postgres_engine: Engine) -> None:
    # row versions (xmin) exist on PostgreSQL only: an unchanged upsert must not create a new one
    engine = postgres_engine
    with engine.begin() as connection:
        write_records(connection, sample_records())
    query = text("SELECT xmin::text FROM deployments")
    with engine.connect() as connection:
        before = connection.execute(query).scalar_one()
    with engine.begin() as connection:
        write_records(connection, sample_records())
    with engine.connect() as connection:
        assert connection.execute(query).scalar_one() == before


def test_changed_record_updates_the_stored_row(engine: Engine) -> None:
    incident = Incident("pd", "i-1", "shop", T0)
    with engine.begin() as connection:
        write_records(connection, [incident])
        write_records(connection, [Incident("pd", "i-1", "shop", T0, resolved_at=T0 + timedelta(minutes=30))])
    with engine.connect() as connection:
        rows = connection.execute(select(IncidentRow.resolved_at)).scalars().all()
    assert rows == [T0 + timedelta(minutes=30)]


def test_timestamps_come_back_as_aware_utc_whatever_offset_went_in(engine: Engine) -> None:
    local = datetime(2026, 3, 1, 17, 30, tzinfo=IST)  # 12:00 UTC
    with engine.begin() as connection:
        write_records(connection, [Commit("git", "r", "c" * 40, local)])
    with engine.connect() as connection:
        stored = connection.execute(select(CommitRow.authored_at)).scalar_one()
    assert stored == T0
    assert stored.utcoffset() == timedelta(0)


def test_raw_payload_keeps_first_fetch_time_when_body_is_unchanged(engine: Engine) -> None:
    payload = RawPayload("gh", "k", "1", T0, {"a": [1, 2]})
    with engine.begin() as connection:
        write_records(connection, [payload])
        write_records(connection, [RawPayload("gh", "k", "1", T0 + timedelta(days=1), {"a": [1, 2]})])
    with engine.connect() as connection:
        assert connection.execute(select(RawPayloadRow.fetched_at)).scalar_one() == T0


def test_duplicate_keys_within_one_batch_keep_the_last(engine: Engine) -> None:
    first = Deployment("gh", "d", "shop", "production", "in_progress", "a" * 40, None)
    last = Deployment("gh", "d", "shop", "production", "success", "a" * 40, T0)
    with engine.begin() as connection:
        assert write_records(connection, [first, last])["deployments"] == 1
    with engine.connect() as connection:
        assert connection.execute(select(DeploymentRow.status)).scalars().all() == ["success"]


def test_cursors_round_trip_and_update_in_place(engine: Engine) -> None:
    with engine.begin() as connection:
        write_cursors(connection, "src", {CursorKey("commits", "main"): "abc", CursorKey("tags"): "x"}, T0)
        write_cursors(connection, "src", {CursorKey("commits", "main"): "def"}, T0)
        write_cursors(connection, "other", {CursorKey("commits", "main"): "zzz"}, T0)
    with engine.connect() as connection:
        assert read_cursors(connection, "src") == {CursorKey("commits", "main"): "def", CursorKey("tags"): "x"}
        assert connection.execute(select(func.count()).select_from(SyncState)).scalar_one() == 3


def test_naive_timestamps_are_refused_before_reaching_the_store() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Commit("git", "r", "d" * 40, datetime(2026, 1, 1))

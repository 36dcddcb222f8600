"""Frames read from the store: exact values and dtypes of every column, on SQLite and PostgreSQL.

The loader reads with the bare driver cursor in chunks, parses timestamps vectorised and pools strings;
these tests pin what the metrics layer receives, so a change in any value or dtype fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from collector.config.model import AppConfig, ServiceConfig, TeamConfig
from collector.recompute import load_inputs
from collector.store import column_reader
from collector.store.column_reader import StringPool, utc_microseconds
from collector.store.frames import load_commits, load_deployments, load_incidents, load_pull_requests
from collector.store.writer import write_records
from connectors.records import Commit, Deployment, DeploymentStatus, Incident, PullRequest, Record

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
IST = timezone(timedelta(hours=5, minutes=30))
A, B, C, D = "a" * 40, "b" * 40, "c" * 40, "d" * 40
UTC_US = "datetime64[us, UTC]"


def ts(value: str) -> pd.Timestamp:
    return pd.Timestamp(value).tz_convert("UTC")


def records() -> list[Record]:
    return [
        Commit("git", "acme/shop", A, T0, T0, "ann", "ann@x", (), "first", ("src/a.py", "README")),
        # authored in India: 17:31:02.250001 IST is 12:01:02.250001 UTC
        Commit(
            "git",
            "acme/shop",
            B,
            datetime(2026, 3, 1, 17, 31, 2, 250001, tzinfo=IST),
            None,
            None,
            None,
            (A,),
            "second\nline",
            None,
        ),
        Commit(
            "git", "acme/shop", C, T0 + timedelta(hours=2), T0 + timedelta(hours=2), "ann", "ann@x", (B, A), "m", ()
        ),
        PullRequest(
            "gh",
            "acme/shop",
            7,
            T0,
            "ann",
            "Add a",
            ("feature", 'é "quoted"'),
            "feat/a",
            "main",
            first_commit_at=T0 - timedelta(hours=1),
            merge_sha=C,
            commits=(A, B),
            merged_at=T0 + timedelta(hours=2),
            closed_at=T0 + timedelta(hours=2),
        ),
        PullRequest("gh", "acme/shop", 8, T0 + timedelta(days=1), None, None, (), None, None),
        Deployment(
            "gh",
            "d-1",
            "shop",
            "production",
            DeploymentStatus.SUCCESS,
            C,
            T0 + timedelta(hours=3),
            repo="acme/shop",
            started_at=T0 + timedelta(hours=2, minutes=50),
            commits=(A, B),
        ),
        Deployment("gh", "d-2", "shop", "staging", DeploymentStatus.FAILURE, None, None, is_rollback=True),
        Incident(
            "pd",
            "i-1",
            "shop",
            T0 + timedelta(hours=4),
            title="down",
            severity="sev1",
            resolved_at=T0 + timedelta(hours=5),
            cause_deployment_id="d-1",
            cause_sha=C,
        ),
        Incident("pd", "i-2", None, T0 + timedelta(hours=6)),
    ]


def stored(engine: Engine) -> None:
    with engine.begin() as connection:
        write_records(connection, records())


def by_key(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    return frame.set_index(key, drop=False).sort_index()


def test_commit_frame_holds_every_value_with_its_dtype(engine: Engine) -> None:
    stored(engine)
    with engine.connect() as connection:
        frame = by_key(load_commits(connection), "sha")
    assert list(frame.columns) == [
        "repo",
        "sha",
        "author",
        "authored_at",
        "parents",
        "message",
        "paths",
    ]
    assert {c: str(frame[c].dtype) for c in frame.columns} == {
        "repo": "str",
        "sha": "str",
        "author": "str",
        "authored_at": UTC_US,
        "parents": "object",
        "message": "str",
        "paths": "object",
    }
    assert frame["authored_at"].tolist() == [
        ts("2026-03-01T12:00Z"),
        ts("2026-03-01T12:01:02.250001Z"),
        ts("2026-03-01T14:00Z"),
    ]
    assert frame["parents"].tolist() == [(), (A,), (B, A)]
    assert frame["paths"].tolist() == [("src/a.py", "README"), None, ()]
    assert frame["message"].tolist() == ["first", "second\nline", "m"]
    assert frame["author"].isna().tolist() == [False, True, False]


def test_pull_request_frame_holds_every_value_with_its_dtype(engine: Engine) -> None:
    stored(engine)
    with engine.connect() as connection:
        frame = by_key(load_pull_requests(connection), "number")
    assert str(frame["number"].dtype) == "int64"
    assert frame["number"].tolist() == [7, 8]
    assert frame["labels"].tolist() == [("feature", 'é "quoted"'), ()]
    assert frame["commits"].tolist() == [(A, B), ()]
    assert frame["merge_sha"].iloc[0] == C and pd.isna(frame["merge_sha"].iloc[1])
    assert pd.isna(frame["author"].iloc[1]) and pd.isna(frame["title"].iloc[1])
    assert "closed_at" not in frame.columns and "base_branch" not in frame.columns  # no metric reads them
    for column in ("created_at", "first_commit_at", "first_review_at", "merged_at"):
        assert str(frame[column].dtype) == UTC_US, column
    assert frame["first_commit_at"].iloc[0] == ts("2026-03-01T11:00Z")
    assert frame["first_review_at"].isna().all()
    assert frame["created_at"].tolist() == [ts("2026-03-01T12:00Z"), ts("2026-03-02T12:00Z")]


def test_deployment_frame_holds_every_value_with_its_dtype(engine: Engine) -> None:
    stored(engine)
    with engine.connect() as connection:
        frame = by_key(load_deployments(connection), "external_id")
    assert frame["deployment_key"].tolist() == ["gh:d-1", "gh:d-2"]
    assert str(frame["deployment_key"].dtype) == "str"
    assert str(frame["is_rollback"].dtype) == "bool"
    assert frame["is_rollback"].tolist() == [False, True]
    assert frame["commits"].tolist() == [(A, B), None]
    assert frame["status"].tolist() == ["success", "failure"]
    assert frame["started_at"].iloc[0] == ts("2026-03-01T14:50Z") and pd.isna(frame["started_at"].iloc[1])
    assert frame["finished_at"].iloc[0] == ts("2026-03-01T15:00Z") and pd.isna(frame["finished_at"].iloc[1])
    assert str(frame["finished_at"].dtype) == UTC_US
    assert pd.isna(frame["sha"].iloc[1]) and pd.isna(frame["repo"].iloc[1])


def test_incident_frame_holds_every_value_with_its_dtype(engine: Engine) -> None:
    stored(engine)
    with engine.connect() as connection:
        frame = by_key(load_incidents(connection), "external_id")
    assert frame["incident_key"].tolist() == ["pd:i-1", "pd:i-2"]
    assert frame["created_at"].tolist() == [ts("2026-03-01T16:00Z"), ts("2026-03-01T18:00Z")]
    assert frame["resolved_at"].iloc[0] == ts("2026-03-01T17:00Z") and pd.isna(frame["resolved_at"].iloc[1])
    assert "acknowledged_at" not in frame.columns and "severity" not in frame.columns  # no metric reads them
    assert frame["cause_sha"].iloc[0] == C and pd.isna(frame["cause_sha"].iloc[1])
    assert pd.isna(frame["service"].iloc[1])


def test_equal_strings_are_one_object_across_rows_columns_and_frames(engine: Engine) -> None:
    stored(engine)
    pool = StringPool()
    with engine.connect() as connection:
        commits = by_key(load_commits(connection, pool), "sha")
        pulls = load_pull_requests(connection, pool)
        deployments = by_key(load_deployments(connection, pool), "external_id")
    shas = {sha: sha for sha in commits["sha"]}
    assert commits["parents"].iloc[2][0] is shas[B]  # a parent is the stored commit's sha object
    assert pulls["commits"].iloc[0][0] is shas[A]
    assert deployments["sha"].iloc[0] is shas[C]
    assert commits["repo"].iloc[0] is commits["repo"].iloc[2] is pulls["repo"].iloc[0]
    assert pool.size("sha") == 4  # the three shas and None


def test_rows_split_across_fetch_chunks_give_the_same_frame(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    stored(engine)
    with engine.connect() as connection:
        whole = load_commits(connection)
        monkeypatch.setattr(column_reader, "CHUNK_ROWS", 2)
        chunked = load_commits(connection)
    pd.testing.assert_frame_equal(chunked, whole, check_exact=True)


def test_commit_paths_are_read_only_when_a_service_has_path_prefixes(engine: Engine) -> None:
    stored(engine)
    plain = AppConfig(teams=(TeamConfig(name="t"),), services=(ServiceConfig(name="shop", team="t"),))
    sliced = AppConfig(
        teams=(TeamConfig(name="t"),),
        services=(ServiceConfig(name="shop", team="t", repositories=("acme/shop",), path_prefixes=("src/",)),),
    )
    unread = load_inputs(engine, plain).commits
    read = by_key(load_inputs(engine, sliced).commits, "sha")
    assert unread["paths"].tolist() == [None, None, None]
    assert str(unread["paths"].dtype) == "object"
    assert read["paths"].tolist() == [("src/a.py", "README"), None, ()]
    pd.testing.assert_frame_equal(unread.drop(columns="paths"), read.drop(columns="paths").reset_index(drop=True))


def test_an_empty_store_loads_frames_with_every_column(engine: Engine) -> None:
    inputs = load_inputs(engine, AppConfig())
    assert len(inputs.commits) == len(inputs.deployments) == 0
    assert "paths" in inputs.commits.columns and "deployment_key" in inputs.deployments.columns
    assert str(inputs.incidents["created_at"].dtype) == UTC_US
    assert str(inputs.deployments["is_rollback"].dtype) == "bool"


def test_timestamp_text_with_an_offset_or_without_fraction_is_read_as_utc() -> None:
    parsed = utc_microseconds(["2026-03-01 12:00:00.000001", None, "2026-03-01 12:00:00", "2026-03-01T14:00:00+02:00"])
    assert parsed.tolist() == [
        np.datetime64("2026-03-01T12:00:00.000001", "us").item(),
        None,
        np.datetime64("2026-03-01T12:00:00", "us").item(),
        np.datetime64("2026-03-01T12:00:00", "us").item(),
    ]

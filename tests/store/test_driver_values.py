"""The bulk write path stores what SQLAlchemy's bind processing stores, value by value and row by row."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text

from collector.store.driver_values import column_converter, json_text, sqlite_utc_text
from collector.store.models import Base, CommitRow, PullRequestRow, RawPayloadRow
from collector.store.upsert import upsert
from collector.store.writer import RECORD_TABLES, DriverRows, record_row, write_records
from connectors.records import Commit, Record
from tests.store.test_writer import IST, T0, sample_records

SQLITE = create_engine("sqlite://").dialect
aware = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, IST, timezone(timedelta(hours=-7, minutes=-15)), timezone(timedelta(0))]),
)


def sqlalchemy_bind(table: Any, column: str, value: Any) -> Any:
    processor = table.c[column].type.dialect_impl(SQLITE).bind_processor(SQLITE)
    return processor(value) if processor else value


@settings(max_examples=500, deadline=None)
@given(aware)
def test_sqlite_timestamp_text_is_what_sqlalchemy_binds(value: datetime) -> None:
    assert sqlite_utc_text(value) == sqlalchemy_bind(CommitRow.__table__, "authored_at", value)
    assert column_converter(CommitRow.__table__, "authored_at", SQLITE) is sqlite_utc_text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=500, deadline=None)
@given(json_values)
def test_sqlite_json_text_is_what_sqlalchemy_binds(value: Any) -> None:
    assert json_text(value) == json.dumps(value) == sqlalchemy_bind(RawPayloadRow.__table__, "body", value)
    assert json_text(None) == sqlalchemy_bind(PullRequestRow.__table__, "labels", None) == "null"


def test_naive_timestamps_are_refused_like_sqlalchemy_refuses_them() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        sqlite_utc_text(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        sqlalchemy_bind(CommitRow.__table__, "authored_at", datetime(2026, 1, 1))


def stored_rows(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every collected table, each column as the database renders it as text, without the id."""
    rows = {}
    with engine.connect() as connection:
        for table in {t for t, _, _ in RECORD_TABLES.values()} | {Base.metadata.tables["repositories"]}:
            columns = ", ".join(f"CAST({c.name} AS TEXT)" for c in table.columns if c.name != "id")
            result = connection.execute(text(f"SELECT {columns} FROM {table.name}"))
            rows[table.name] = sorted(tuple(row) for row in result)
    return rows


def records_with_offsets() -> list[Record]:
    local = datetime(2026, 3, 1, 17, 30, 0, 123456, tzinfo=IST)
    return [
        *sample_records(),
        Commit("git", "acme/other", "c" * 40, local, local, "zoë", None, ("a" * 40, "b" * 40), 'say "hi"', ()),
    ]


def test_driver_path_stores_what_the_sqlalchemy_path_stores(engine: Engine) -> None:
    records = records_with_offsets()
    with engine.begin() as connection:
        write_records(connection, records)
    by_driver = stored_rows(engine)
    with engine.begin() as connection:
        for table in {t for t, _, _ in RECORD_TABLES.values()} | {Base.metadata.tables["repositories"]}:
            connection.execute(table.delete())
        repos = sorted({r for record in records if (r := getattr(record, "repo", None))})
        upsert(connection, Base.metadata.tables["repositories"], [{"name": r} for r in repos], ("name",), ())
        for record in records:
            table, key, _ = RECORD_TABLES[type(record)]
            upsert(connection, table, [record_row(record)], key)
    assert stored_rows(engine) == by_driver
    assert by_driver["commits"] and by_driver["raw_payloads"] and by_driver["pipeline_runs"]


def test_driver_rows_survive_the_trip_to_another_process() -> None:
    plain = DriverRows({Commit: [["r", "a" * 40, None, 1, True]]}, {"r"})
    assert pickle.loads(pickle.dumps(plain)) == plain
    with_datetime = DriverRows({Commit: [["r", T0]]}, set())  # marshal cannot write it: pickled instead
    assert pickle.loads(pickle.dumps(with_datetime)) == with_datetime

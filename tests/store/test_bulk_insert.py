"""Plain inserts of driver rows (the derived link tables), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from collector.store import bulk_insert
from collector.store.bulk_insert import compile_insert, insert_driver_rows
from collector.store.models import DeploymentChange, DeploymentFailure, DeploymentRow
from collector.store.writer import write_records
from connectors.records import Deployment, DeploymentStatus

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _deployment_ids(engine: Engine) -> list[int]:
    with engine.begin() as connection:
        write_records(
            connection,
            [
                Deployment("ci", f"d-{n}", "shop", "production", DeploymentStatus.SUCCESS, "a" * 40, T0)
                for n in range(2)
            ],
        )
        return list(connection.scalars(select(DeploymentRow.id).order_by(DeploymentRow.external_id)))


def test_rows_are_stored_as_given_across_chunks(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = _deployment_ids(engine)
    monkeypatch.setattr(bulk_insert, "INSERT_CHUNK_ROWS", 2)  # five rows: three executemany calls
    rows = [
        (first if n % 2 else second, "acme/shop", f"{n:040x}", f"commit:acme/shop@{n}", "graph_walk") for n in range(5)
    ]
    columns = ("deployment_id", "repo", "sha", "change_key", "method")
    with engine.begin() as connection:
        assert insert_driver_rows(connection, DeploymentChange.__table__, columns, iter(rows)) == 5  # type: ignore[arg-type]
        stored = connection.execute(
            select(
                DeploymentChange.deployment_id,
                DeploymentChange.repo,
                DeploymentChange.sha,
                DeploymentChange.change_key,
                DeploymentChange.method,
            ).order_by(DeploymentChange.sha)
        ).all()
    assert [tuple(row) for row in stored] == rows


def test_null_values_and_a_column_order_other_than_the_tables(engine: Engine) -> None:
    first, second = _deployment_ids(engine)
    columns = ("reason", "remediated_by_deployment_id", "deployment_id")
    with engine.begin() as connection:
        insert_driver_rows(
            connection,
            DeploymentFailure.__table__,  # type: ignore[arg-type]
            columns,
            [("incident", None, first), ("rollback", first, second)],
        )
        stored = connection.execute(
            select(
                DeploymentFailure.deployment_id, DeploymentFailure.reason, DeploymentFailure.remediated_by_deployment_id
            ).order_by(DeploymentFailure.reason)
        ).all()
    assert [tuple(row) for row in stored] == [(first, "incident", None), (second, "rollback", first)]


def test_no_rows_insert_nothing(engine: Engine) -> None:
    with engine.begin() as connection:
        count = insert_driver_rows(connection, DeploymentChange.__table__, ("deployment_id",), [])  # type: ignore[arg-type]
        assert count == 0
        assert connection.execute(select(DeploymentChange.id)).first() is None


def test_an_unknown_column_is_refused_when_compiling(engine: Engine) -> None:
    with pytest.raises(Exception, match="no_such_column"):
        compile_insert(engine.dialect, DeploymentChange.__table__, ("deployment_id", "no_such_column"))  # type: ignore[arg-type]

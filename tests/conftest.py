"""Shared fixtures: a migrated store on SQLite and on PostgreSQL, fresh for each test.

PostgreSQL: each test run (each xdist worker) creates its own database ``dm_test_<random>`` on the
server at ``$DM_TEST_POSTGRES_ADMIN_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``),
builds the schema with the Alembic migrations, empties the tables before every test, and drops the
database at the end. If the server cannot be reached the PostgreSQL tests FAIL (they never skip
silently); set ``DM_SKIP_POSTGRES=1`` to deselect them knowingly on a machine without PostgreSQL.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from database_support import ADMIN_URL, BACKENDS, SKIP_POSTGRES, empty_postgres
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from collector.store.engine import create_store_engine
from collector.store.schema import upgrade


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run; tests get copies of it."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_store_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run (migrated to head), dropped afterwards."""
    name = f"dm_test_{secrets.token_hex(6)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001 - turned into a loud failure below
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is required by the test suite but {make_url(ADMIN_URL).render_as_string()} is not usable: "
            f"{error}. Start it, or set DM_SKIP_POSTGRES=1 to run the SQLite half only.",
            pytrace=False,
        )
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    engine = create_store_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated store: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "store.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    engine = create_store_engine(url)
    empty_postgres(engine)
    engine.dispose()
    yield url


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    """An engine on an empty, migrated store (both backends)."""
    engine = create_store_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """An engine on the run's empty, migrated PostgreSQL database, for PostgreSQL-only checks."""
    if SKIP_POSTGRES:
        pytest.skip("DM_SKIP_POSTGRES=1: PostgreSQL-only check deselected knowingly")
    url: str = request.getfixturevalue("postgres_url")
    engine = create_store_engine(url)
    empty_postgres(engine)
    yield engine
    engine.dispose()

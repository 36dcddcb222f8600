"""Throw-away benchmark databases: a SQLite file, or a PostgreSQL database created and dropped.

A PostgreSQL database is named ``dm_bench_<random>`` on the admin server (default
``postgresql://postgres@127.0.0.1:5432/postgres``, overridable with ``DM_BENCH_POSTGRES_ADMIN_URL``)
and dropped when the context ends, whatever happened inside.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")
DEFAULT_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    """The PostgreSQL server's maintenance database URL used to create and drop benchmark databases."""
    return os.environ.get("DM_BENCH_POSTGRES_ADMIN_URL", DEFAULT_ADMIN_URL)


@contextmanager
def benchmark_database(backend: Backend, directory: Path, label: str) -> Iterator[str]:
    """Yield the URL of a fresh, empty database for ``backend``; remove it afterwards."""
    if backend == "sqlite":
        path = directory / f"{label}.db"
        for leftover in directory.glob(f"{label}.db*"):
            leftover.unlink()
        try:
            yield f"sqlite:///{path}"
        finally:
            for leftover in directory.glob(f"{label}.db*"):
                leftover.unlink()
        return
    name = f"dm_bench_{secrets.token_hex(6)}"
    admin = create_engine(admin_url(), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        logger.info("created PostgreSQL database %s", name)
        yield make_url(admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        logger.info("dropped PostgreSQL database %s", name)

"""Which backends the suite runs on, and emptying a PostgreSQL store (shared by conftest and tests)."""

from __future__ import annotations

import os

from sqlalchemy import Engine, text

from collector.store.models import Base

ADMIN_URL = os.environ.get("DM_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SKIP_POSTGRES = os.environ.get("DM_SKIP_POSTGRES") == "1"
BACKENDS = ["sqlite"] if SKIP_POSTGRES else ["sqlite", "postgresql"]


def empty_postgres(engine: Engine) -> None:
    """Empty every table of the PostgreSQL store (identities restarted), keeping the schema."""
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))

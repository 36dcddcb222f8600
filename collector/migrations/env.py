"""Alembic environment: runs migrations on the connection handed over by ``collector.store.schema``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from collector.store.models import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    """Run the migrations in batch mode so SQLite can alter tables too."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if _connection is None:
    raise RuntimeError("run migrations through `delivery-metrics db upgrade`, not the alembic CLI")
run_migrations(_connection)

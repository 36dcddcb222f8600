"""Migrations build the schema the models describe, and an out-of-date schema is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from collector.store.engine import create_store_engine, normalise_url, redact_url
from collector.store.models import Base
from collector.store.schema import (
    SchemaOutOfDateError,
    current_revision,
    head_revision,
    require_current_schema,
    upgrade,
)


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert current_revision(engine) == head_revision()


def test_empty_database_is_refused_with_the_command_that_fixes_it(tmp_path: Path) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutOfDateError, match="delivery-metrics db upgrade"):
        require_current_schema(engine)
    assert upgrade(engine) == (None, head_revision())
    require_current_schema(engine)
    assert upgrade(engine) == (head_revision(), head_revision())


def test_postgres_urls_use_psycopg3_and_passwords_are_masked() -> None:
    assert normalise_url("postgresql://u:pw@h/db") == "postgresql+psycopg://u:pw@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert "pw" not in redact_url("postgresql://u:pw@h/db")

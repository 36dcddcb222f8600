"""Every PostgreSQL session is bounded: statement and lock timeouts, TCP keep-alives, overridable by URL.

A database that stops answering must never hang a sync, a recompute or a readiness probe forever
(issue 11, database faults). The defaults live in ``collector.store.engine``; these tests check
that a real PostgreSQL session carries them and that the server then cancels a statement that runs
or waits too long, with an error that says why.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from collector.store.engine import (
    PG_CONNECT_TIMEOUT_SECONDS,
    PG_TCP_ARGS,
    create_store_engine,
    postgres_connect_args,
)


def with_options(url: str, options: str) -> str:
    """``url`` with a libpq ``options`` query parameter."""
    return f"{url}{'&' if '?' in url else '?'}options={quote(options)}"


def test_defaults_bound_connect_statements_locks_and_dead_peers():
    args = postgres_connect_args("postgresql+psycopg://u@db/x", {})
    assert args["connect_timeout"] == PG_CONNECT_TIMEOUT_SECONDS
    assert "statement_timeout=600000" in args["options"] and "lock_timeout=60000" in args["options"]
    assert {name: args[name] for name in PG_TCP_ARGS} == PG_TCP_ARGS


def test_a_url_parameter_replaces_the_default_of_that_name_and_given_arguments_win():
    args = postgres_connect_args("postgresql+psycopg://u@db/x?options=-c%20statement_timeout%3D0&keepalives=0", {})
    assert "options" not in args and "keepalives" not in args  # the URL's own values reach libpq
    assert args["tcp_user_timeout"] == PG_TCP_ARGS["tcp_user_timeout"]
    assert postgres_connect_args("postgresql+psycopg://u@db/x", {"connect_timeout": 3})["connect_timeout"] == 3


def test_a_postgresql_session_carries_the_default_limits(postgres_engine: Engine):
    with postgres_engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "10min"
        assert connection.execute(text("SHOW lock_timeout")).scalar_one() == "1min"
        parameters = connection.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
    assert {name: parameters.get(name) for name in PG_TCP_ARGS} == {k: str(v) for k, v in PG_TCP_ARGS.items()}


def test_the_server_cancels_a_statement_running_past_the_timeout(postgres_engine: Engine):
    url = postgres_engine.url.render_as_string(hide_password=False)
    engine = create_store_engine(with_options(url, "-c statement_timeout=200"))
    try:
        with engine.connect() as connection, pytest.raises(OperationalError, match="statement timeout"):
            connection.execute(text("SELECT pg_sleep(30)"))
    finally:
        engine.dispose()


def test_a_statement_waiting_for_a_lock_fails_after_the_lock_timeout(postgres_engine: Engine):
    url = postgres_engine.url.render_as_string(hide_password=False)
    waiter = create_store_engine(with_options(url, "-c lock_timeout=200"))
    try:
        with postgres_engine.connect() as holder:
            holder.execute(text("LOCK TABLE commits IN ACCESS EXCLUSIVE MODE"))  # as a migration would
            with waiter.connect() as connection, pytest.raises(OperationalError, match="lock timeout"):
                connection.execute(text("SELECT count(*) FROM commits"))
            holder.rollback()
    finally:
        waiter.dispose()

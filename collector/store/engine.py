"""Engine construction for the two supported backends: SQLite (embedded) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

#: seconds to wait for a PostgreSQL connection to be established before giving up
PG_CONNECT_TIMEOUT_SECONDS = 10

#: Server-side limits set on every PostgreSQL session (libpq ``options``), so that no statement of a
#: sync, a recompute or a probe waits forever: a statement running longer than 10 minutes, or
#: waiting more than 1 minute for a lock (e.g. behind a migration), fails with a clear error and the
#: run is retried on the next schedule. The longest legitimate statement (reading a whole table of
#: a large organisation) takes seconds.
PG_SESSION_OPTIONS = "-c statement_timeout=600000 -c lock_timeout=60000"

#: TCP settings of every PostgreSQL connection: keep-alive probes after 30 s of silence, every 10 s,
#: 3 unanswered ones drop the connection; data unacknowledged for 60 s drops it too. A database host
#: that vanishes (network cut, host down) is thus noticed within about a minute instead of hanging a
#: sync until the kernel's default of about two hours.
PG_TCP_ARGS: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` / ``postgres://`` URLs."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def redact_url(url: str) -> str:
    """The URL with its password masked, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_store_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with foreign keys, WAL and a busy timeout on SQLite."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, connect_args=postgres_connect_args(url, kwargs.pop("connect_args", {})), **kwargs)


def postgres_connect_args(url: str, given: dict[str, Any]) -> dict[str, Any]:
    """libpq connection parameters: ``given``, then the URL's query, then the collector's defaults.

    The defaults (connect timeout, :data:`PG_SESSION_OPTIONS`, :data:`PG_TCP_ARGS`) bound every wait
    on a database that stops answering; a parameter in the URL's query string
    (e.g. ``?options=-c%20statement_timeout%3D0``) or in ``given`` replaces the default of that name.
    """
    in_url = set(make_url(url).query)
    defaults: dict[str, Any] = {
        "connect_timeout": PG_CONNECT_TIMEOUT_SECONDS,
        "options": PG_SESSION_OPTIONS,
        **PG_TCP_ARGS,
    }
    args = {name: value for name, value in defaults.items() if name not in in_url}
    args.update(given)
    return args

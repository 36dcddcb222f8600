"""Column values as the DBAPI driver takes them, converted by one function per column chosen once.

SQLAlchemy converts every bound value through its column type's bind processor, found and called
per value. The bulk write path (:func:`collector.store.upsert.upsert_driver_rows`) instead picks one
converter per column up front (:func:`column_converters`) and applies it to plain tuples. Each
converter returns exactly what SQLAlchemy's bind processing of that column type returns for the
same value (the tests compare them value by value), so both paths store identical rows:

- :class:`~collector.store.types.UTCDateTime` on SQLite: the UTC wall time as the text SQLAlchemy's
  SQLite ``DATETIME`` stores (``YYYY-MM-DD HH:MM:SS.ffffff``); a naive datetime is refused.
- JSON columns on SQLite: ``json.dumps`` of the value (``None`` is the JSON ``null``, as SQLAlchemy's
  ``JSON`` type with ``none_as_null=False`` stores it), produced by one reused C encoder.
- every other column type and dialect: SQLAlchemy's own bind processor of the type, or no conversion
  when the type has none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from sqlalchemy import JSON, Dialect, Table
from sqlalchemy.engine.interfaces import BindTyping

from collector.store.types import UTCDateTime

Converter = Callable[[Any], Any]

# json.dumps with its default arguments builds this C encoder on every call; built once here instead
# (markers=None: records hold no self-referencing containers; floats as json.dumps writes them)
_encode_json_chunks = c_make_encoder(
    None, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False, False, True
)
# pieces of the SQLite timestamp text: formatting a datetime in C (isoformat, strftime) costs several
# times more than joining cached pieces; the day's text is cached per ordinal (bounded)
_HOURS_MINUTES = tuple(f"{hour:02d}:{minute:02d}:" for hour in range(24) for minute in range(60))
_SECONDS = tuple(f"{second:02d}." for second in range(60))
_DAYS: dict[int, str] = {}
_MAX_CACHED_DAYS = 100_000


def sqlite_utc_text(value: datetime | None) -> str | None:
    """``value`` as SQLite stores a :class:`UTCDateTime`: its UTC wall time, ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
    ordinal = value.toordinal()
    day = _DAYS.get(ordinal)
    if day is None:
        if len(_DAYS) >= _MAX_CACHED_DAYS:
            _DAYS.clear()
        day = _DAYS[ordinal] = value.date().isoformat() + " "
    microsecond = value.microsecond
    return (
        day
        + _HOURS_MINUTES[value.hour * 60 + value.minute]
        + _SECONDS[value.second]
        + ("000000" if microsecond == 0 else f"{microsecond:06d}")
    )


def postgresql_utc_text(value: datetime | None) -> str | None:
    """``value`` as text PostgreSQL reads back as the same ``timestamptz``: the UTC wall time with ``+00:00``."""
    text = sqlite_utc_text(value)
    return None if text is None else text + "+00:00"


def _casts_binds(dialect: Dialect) -> bool:
    """Whether ``dialect`` writes each parameter's type into the SQL (``%(x)s::JSONB``): the server casts text binds."""

    return dialect.bind_typing is BindTyping.RENDER_CASTS


def json_text(value: Any) -> str:
    """``json.dumps(value)`` with its default arguments (``None`` gives ``"null"``)."""
    if type(value) is str:
        return encode_basestring_ascii(value)  # type: ignore[no-any-return]
    return "".join(_encode_json_chunks(value, 0))


def column_converter(table: Table, column: str, dialect: Dialect) -> Converter | None:
    """The function turning a value of ``table.column`` into what the driver takes (``None``: unchanged)."""
    column_type = table.c[column].type
    implementation = column_type.dialect_impl(dialect)
    default_serialiser = getattr(dialect, "_json_serializer", None) is None
    plain_json = isinstance(implementation, JSON) and not implementation.none_as_null and default_serialiser
    if dialect.name == "sqlite":
        if isinstance(column_type, UTCDateTime):
            return sqlite_utc_text
        if plain_json:
            return json_text
    if dialect.name == "postgresql" and _casts_binds(dialect):
        if isinstance(column_type, UTCDateTime):
            return postgresql_utc_text
        if plain_json:
            return json_text
    processor: Converter | None = implementation.bind_processor(dialect)
    return processor


def column_converters(table: Table, columns: Sequence[str], dialect: Dialect) -> tuple[Converter | None, ...]:
    """:func:`column_converter` of each of ``columns``."""
    return tuple(column_converter(table, column, dialect) for column in columns)

"""Comparable dumps of a store: every table as a sorted list of rows, surrogate ids resolved.

Definitions:

- a table's *content* is the multiset of its rows with the surrogate ``id`` column dropped and each
  foreign key replaced by the referenced row's content, so two stores filled in a different order
  (hence with different ids) compare equal when they hold the same data;
- columns that record *when* something was written, not what (``sync_state.updated_at``,
  ``raw_payloads.fetched_at``), and the ``sync_runs`` table (one row per run, by design) are left out;
- values that say where and when in a listing an object was read, not what it is, are normalised:
  the query string of a raw payload's URL (its ``since`` / ``updated_after`` derive from the run's
  clock, its ``page`` from where a resumed listing started), and the key of an ETag cache entry (a
  hash of such a URL): ETag entries compare as the set of ``(source, etag)`` pairs.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from collector.store.models import Base

VOLATILE_TABLES = frozenset({"sync_runs"})
VOLATILE_COLUMNS = {"sync_state": frozenset({"updated_at"}), "raw_payloads": frozenset({"fetched_at"})}


def _normalise(table: str, content: dict[str, Any]) -> dict[str, Any]:
    if table == "raw_payloads" and content.get("url"):
        content["url"] = content["url"].split("?", 1)[0]
    if table == "sync_state" and content.get("resource") == "etag":
        content["partition"] = "<url hash>"
    return content


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def dump_store(engine: Engine) -> dict[str, list[str]]:
    """Every table's content (see the module docstring), each row a canonical JSON string, sorted."""
    by_id: dict[str, dict[Any, str]] = {}
    dump: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:  # referenced tables come first
            if table.name in VOLATILE_TABLES:
                continue
            skip = VOLATILE_COLUMNS.get(table.name, frozenset())
            foreign = {fk.parent.name: fk.column.table.name for fk in table.foreign_keys}
            rows: list[str] = []
            ids: dict[Any, str] = {}
            for row in connection.execute(select(table)).mappings():
                content = {}
                for name, value in row.items():
                    if name == "id" or name in skip:
                        continue
                    if name in foreign and value is not None:
                        value = by_id[foreign[name]][value]
                    content[name] = value
                text = _canonical(_normalise(table.name, content))
                if table.name == "sync_state" and text in rows:
                    continue  # the same ETag under two clock-dependent keys
                rows.append(text)
                if "id" in row:
                    ids[row["id"]] = text
            by_id[table.name] = ids
            dump[table.name] = sorted(rows)
    return dump


def differences(expected: dict[str, list[str]], actual: dict[str, list[str]]) -> list[str]:
    """Human-readable differences between two dumps (empty when equal)."""
    problems: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name, []), actual.get(name, [])
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        if missing:
            problems.append(f"{name}: missing {missing[:3]}")
        if extra:
            problems.append(f"{name}: unexpected {extra[:3]}")
        if not missing and not extra and len(want) != len(got):
            problems.append(f"{name}: {len(got)} rows instead of {len(want)} (duplicates)")
    return problems

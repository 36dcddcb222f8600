"""Metric snapshots: a computed report kept whole, saved to the store and served from memory.

A snapshot holds the report rows (the JSON contract of ``report --format json``, see
``docs/report.schema.json``) for the windows ending at ``as_of`` (``current``) and for the windows
just before them (``previous``: each window shifted back by its own length), so alert rules can
compare the two without months of Prometheus history.

It also holds the configured goals evaluated at ``as_of`` (``goals``: plain JSON-able dicts, see
:func:`collector.pmo.goal_exporter.goal_record`), so every replica exports the same goal figures. A
body saved before goals were added has no ``goals`` key and loads with none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, delete, select

from collector.store.models import MetricSnapshot

#: How many snapshots the table keeps (older ones are deleted when a new one is saved).
KEEP_SNAPSHOTS = 20


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable computed report; replaced whole, never modified."""

    as_of: datetime
    computed_at: datetime
    config_hash: str
    band_table: str
    current: tuple[dict[str, Any], ...]
    previous: tuple[dict[str, Any], ...]
    goals: tuple[dict[str, Any], ...] = ()

    def body(self) -> dict[str, Any]:
        """The JSON body stored in ``metric_snapshots.body``."""
        return {"current": list(self.current), "previous": list(self.previous), "goals": list(self.goals)}


def save_snapshot(engine: Engine, snapshot: Snapshot) -> None:
    """Store ``snapshot`` as the newest one and prune old ones, in one transaction."""
    table = MetricSnapshot.__table__
    with engine.begin() as connection:
        connection.execute(
            table.insert(),  # type: ignore[attr-defined]
            {
                "as_of": snapshot.as_of,
                "computed_at": snapshot.computed_at,
                "config_hash": snapshot.config_hash,
                "band_table": snapshot.band_table,
                "body": snapshot.body(),
            },
        )
        keep = select(MetricSnapshot.id).order_by(MetricSnapshot.id.desc()).limit(KEEP_SNAPSHOTS)
        connection.execute(delete(MetricSnapshot).where(MetricSnapshot.id.not_in(keep.scalar_subquery())))


def latest_snapshot_stamp(engine: Engine) -> tuple[datetime, datetime] | None:
    """``(computed_at, as_of)`` of the newest saved snapshot (its body not read), ``None`` if none."""
    with engine.connect() as connection:
        query = select(MetricSnapshot.computed_at, MetricSnapshot.as_of).order_by(MetricSnapshot.id.desc()).limit(1)
        row = connection.execute(query).first()
    return None if row is None else (row.computed_at, row.as_of)


def load_latest_snapshot(engine: Engine) -> Snapshot | None:
    """The newest saved snapshot, or ``None`` when metrics were never computed."""
    with engine.connect() as connection:
        query = select(MetricSnapshot.__table__).order_by(MetricSnapshot.id.desc()).limit(1)
        row = connection.execute(query).first()
    if row is None:
        return None
    return Snapshot(
        as_of=row.as_of,
        computed_at=row.computed_at,
        config_hash=row.config_hash,
        band_table=row.band_table,
        current=tuple(row.body.get("current", [])),
        previous=tuple(row.body.get("previous", [])),
        goals=tuple(row.body.get("goals") or []),
    )

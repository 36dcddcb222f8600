"""Fixtures of the `serve` tests: hand-built report rows and snapshots in the issue-3 JSON contract."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from collector.snapshot import Snapshot

AS_OF = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
COMPUTED_AT = datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)

RowFactory = Callable[..., dict[str, Any]]


def _row(
    *,
    team: str | None = "payments",
    service: str | None = "checkout",
    environment: str | None = "production",
    window_days: int = 30,
    deployments: int = 30,
    lead: tuple[float | None, float | None, float | None] = (3600.0, 7200.0, 10800.0),
    lead_count: int = 12,
    cfr: float | None = 0.1,
    failed: int = 3,
    recovery: tuple[float | None, float | None] = (1800.0, 5400.0),
    unrecovered: int = 1,
    restore: tuple[float | None, float | None] = (600.0, 900.0),
    rework: float | None = 0.2,
    levels: dict[str, str | None] | None = None,
) -> dict[str, Any]:
    """One result row; deployment frequency = deployments / window days (computed here, by hand)."""
    return {
        "team": team,
        "service": service,
        "environment": environment,
        "window_days": window_days,
        "deployments": deployments,
        "deployment_frequency_per_day": deployments / window_days,
        "lead_time_seconds": {"count": lead_count, "p50": lead[0], "p75": lead[1], "p90": lead[2], "excluded": 0},
        "change_failure_rate": cfr,
        "failed_deployments": failed,
        "recovery_time_seconds": {"count": 2, "p50": recovery[0], "p90": recovery[1], "unrecovered": unrecovered},
        "time_to_restore_seconds": {"count": 4, "p50": restore[0], "p90": restore[1]},
        "rework_rate": rework,
        "levels": levels
        if levels is not None
        else {
            "deployment_frequency": "elite",
            "lead_time": "high",
            "change_failure_rate": "medium",
            "recovery_time": "low",
        },
    }


@pytest.fixture
def make_row() -> RowFactory:
    """Build a report row (keyword overrides of the defaults of :func:`_row`)."""
    return _row


def build_snapshot(current: list[dict[str, Any]], previous: list[dict[str, Any]] | None = None, **kw: Any) -> Snapshot:
    return Snapshot(
        as_of=kw.get("as_of", AS_OF),
        computed_at=kw.get("computed_at", COMPUTED_AT),
        config_hash="0" * 64,
        band_table="dora-2023",
        current=tuple(current),
        previous=tuple(previous or ()),
    )


@pytest.fixture
def make_snapshot() -> Callable[..., Snapshot]:
    """Build a snapshot from current (and previous) rows."""
    return build_snapshot


@pytest.fixture
def demo_snapshot() -> Snapshot:
    """A service row, its team row and the organisation row (30d), plus one previous-period service row."""
    current = [
        _row(),
        _row(
            service=None,
            environment=None,
            deployments=45,
            levels={
                "deployment_frequency": "elite",
                "lead_time": "elite",
                "change_failure_rate": "high",
                "recovery_time": None,
            },
        ),
        _row(team=None, service=None, environment=None, deployments=60, cfr=None, rework=None, lead=(None, None, None)),
    ]
    previous = [
        _row(
            deployments=15,
            cfr=0.2,
            levels={
                "deployment_frequency": "high",
                "lead_time": "medium",
                "change_failure_rate": "low",
                "recovery_time": "low",
            },
        )
    ]
    return build_snapshot(current, previous)

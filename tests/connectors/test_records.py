"""Domain records hold UTC timestamps whatever offset they were given, and refuse naive ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.records import Commit, Incident, ensure_utc

IST = timezone(timedelta(hours=5, minutes=30))


def test_a_utc_timestamp_is_kept_as_the_same_object() -> None:
    value = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    assert ensure_utc(value, "x") is value
    commit = Commit(source="s", repo="r", sha="a" * 40, authored_at=value)
    assert commit.authored_at is value


def test_an_offset_timestamp_becomes_the_same_instant_in_utc() -> None:
    value = datetime(2026, 3, 1, 10, 0, tzinfo=IST)
    converted = ensure_utc(value, "x")
    assert converted == value and converted is not None and converted.tzinfo is UTC
    assert converted.replace(tzinfo=None) == datetime(2026, 3, 1, 4, 30)
    # a zero offset that is not datetime.UTC itself is converted too
    zero = ensure_utc(datetime(2026, 3, 1, tzinfo=timezone(timedelta(0), "GMT")), "x")
    assert zero is not None and zero.tzinfo is UTC


def test_every_timestamp_field_of_a_record_is_converted() -> None:
    incident = Incident(
        source="s",
        external_id="i",
        service=None,
        created_at=datetime(2026, 3, 1, 10, 0, tzinfo=IST),
        resolved_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        acknowledged_at=None,
    )
    assert incident.created_at.tzinfo is UTC and incident.created_at.hour == 4
    assert incident.resolved_at is not None and incident.resolved_at.tzinfo is UTC
    assert incident.acknowledged_at is None


def test_naive_timestamps_are_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match=r"Commit.committed_at must be timezone-aware, got naive 2026-03-01T10:00:00"):
        Commit(
            source="s",
            repo="r",
            sha="a" * 40,
            authored_at=datetime(2026, 3, 1, tzinfo=UTC),
            committed_at=datetime(2026, 3, 1, 10, 0),
        )
    assert ensure_utc(None, "x") is None

"""Incremental state helpers: timestamps, watermarks, where a listing starts.

Definitions:

- a *watermark* cursor holds an ISO 8601 UTC time: the latest value of the listing's cursor field
  (``updated_at``, commit date, ...) among records already stored, never later than the start of
  the run that stored it;
- a listing *starts* at ``watermark - lookback`` (the overlap catches late updates; upserts absorb
  the duplicates), or at ``run_started_at - history_days`` on the first sync.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def parse_time(value: object) -> datetime | None:
    """An API timestamp (ISO 8601 with ``Z``/offset, or epoch seconds) as UTC; ``None`` if empty."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError) as error:  # a value no clock can hold
            raise ValueError(f"timestamp out of range: {value!r}") from error
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """A UTC ISO 8601 string with ``Z`` (the form cursors are stored in and most APIs accept)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def listing_start(
    watermark: str | None, *, run_started_at: datetime, lookback: timedelta, history_days: int
) -> datetime:
    """Where an incremental listing starts (see the module docstring)."""
    if watermark:
        stored = parse_time(watermark)
        if stored is not None:
            return stored - lookback
    return run_started_at - timedelta(days=history_days)


def new_watermark(previous: str | None, seen: datetime | None, run_started_at: datetime) -> str | None:
    """The watermark after a complete listing: the latest seen time, capped at the run start, never
    moving backwards. ``None`` when there is neither a previous value nor anything seen."""
    candidates = [t for t in (parse_time(previous) if previous else None, seen) if t is not None]
    if not candidates:
        return None
    return format_time(min(max(candidates), run_started_at))

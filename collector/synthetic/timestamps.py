"""Fast, deterministic formatting of synthetic times and shas.

Times inside the generator are integer seconds since the Unix epoch (UTC). They are written as
ISO 8601 strings with an explicit offset (``2024-03-01T09:30:00+00:00``), optionally shifted to
the author's offset, without building a ``datetime`` per event (the L organisation has millions).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY = 86400


def epoch_seconds(value: datetime) -> int:
    """Whole seconds since the epoch of an aware datetime; a naive one is an error."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"the end of a synthetic organisation must be timezone-aware, got {value!r}")
    return int(value.astimezone(UTC).timestamp())


def offset_suffix(minutes: int) -> str:
    """``+05:30`` for 330, ``-08:00`` for -480, ``+00:00`` for 0."""
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


class IsoFormatter:
    """Formats epoch seconds as ISO 8601 with an offset, caching the date part of each day."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._suffixes: dict[int, str] = {}

    def __call__(self, seconds: int, offset_minutes: int = 0) -> str:
        """The ISO 8601 text of the instant ``seconds`` as seen at ``offset_minutes`` east of UTC."""
        local = seconds + offset_minutes * 60
        day, rest = divmod(local, _DAY)
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = date.fromordinal(_EPOCH_ORDINAL + day).isoformat()
        suffix = self._suffixes.get(offset_minutes)
        if suffix is None:
            suffix = self._suffixes[offset_minutes] = offset_suffix(offset_minutes)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{text}T{hours:02d}:{minutes:02d}:{secs:02d}{suffix}"


def weekday(seconds: int) -> int:
    """Monday 0 … Sunday 6 of the UTC day holding ``seconds`` (1970-01-01 was a Thursday)."""
    return (seconds // _DAY + 3) % 7


def day_start(seconds: int) -> int:
    """Midnight UTC of the day holding ``seconds``."""
    return seconds - seconds % _DAY


def sha_for(namespace: str, counter: int) -> str:
    """A 40-hex-digit commit sha derived from a namespace and a counter."""
    return hashlib.sha1(f"{namespace}:{counter}".encode(), usedforsecurity=False).hexdigest()


def as_datetime(seconds: int) -> datetime:
    """Epoch seconds as an aware UTC datetime (for tests and callers, not the hot path)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)

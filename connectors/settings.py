"""Settings shared by every source: the base model each connector's own settings extend.

Each connector module declares ``class XSettings(SourceSettings)`` with ``kind: Literal["x"]`` and
its own fields; the collector's config builds the discriminated union of all of them. Secrets are
``SecretStr`` fields whose values come from ``${ENV_VAR}`` or ``${file:/path}`` interpolation in the
config file, so they never appear in ``repr`` or error messages.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: object) -> timedelta:
    """Parse ``90``, ``"90s"``, ``"15m"``, ``"24h"``, ``"7d"`` or ``"2w"`` into a ``timedelta``.

    A bare number is seconds. Raises ``ValueError`` naming the accepted forms otherwise.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 15m, 24h or 7d")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return timedelta(seconds=float(value))
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    raise ValueError(f"expected a duration such as 90s, 15m, 24h or 7d, got {value!r}")


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class SettingsModel(BaseModel):
    """Base for every config model: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceSettings(SettingsModel):
    """Settings every source has, whatever its kind."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$", description="Unique source name.")
    kind: str
    enabled: bool = True
    interval: Duration = Field(default=timedelta(minutes=15), description="How often `serve` syncs it.")
    history_days: int = Field(default=180, ge=1, description="How far back the first sync reaches.")

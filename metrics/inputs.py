"""The five input frames of the metrics engine and their column contract.

The collector builds these frames from the store; tests build them inline. :class:`MetricInputs`
checks the required columns on entry, converts every timestamp column to ``datetime64[us, UTC]``
(naive timestamps are refused) and drops duplicate rows of the same natural key, keeping the last
(unless the caller vouches that a frame's keys are unique, as the store's unique constraints make
them). List-valued cells are tuples or ``None``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

logger = logging.getLogger(__name__)

TIMESTAMP_DTYPE: Final = "datetime64[us, UTC]"

DEPLOYMENT_COLUMNS: tuple[str, ...] = (
    "deployment_key",
    "source",
    "external_id",
    "service",
    "environment",
    "status",
    "sha",
    "repo",
    "started_at",
    "finished_at",
    "commits",
    "is_rollback",
)
COMMIT_COLUMNS: tuple[str, ...] = (
    "repo",
    "sha",
    "author",
    "authored_at",
    "parents",
    "message",
    "paths",
)
PULL_REQUEST_COLUMNS: tuple[str, ...] = (
    "repo",
    "number",
    "author",
    "title",
    "labels",
    "head_branch",
    "created_at",
    "first_commit_at",
    "first_review_at",
    "merged_at",
    "merge_sha",
    "commits",
)
INCIDENT_COLUMNS: tuple[str, ...] = (
    "incident_key",
    "source",
    "external_id",
    "service",
    "title",
    "created_at",
    "resolved_at",
    "cause_deployment_id",
    "cause_sha",
)
SERVICE_COLUMNS: tuple[str, ...] = ("service", "team", "repositories", "path_prefixes", "production_environments")

_TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "deployments": ("started_at", "finished_at"),
    "commits": ("authored_at",),
    "pull_requests": ("created_at", "first_commit_at", "first_review_at", "merged_at"),
    "incidents": ("created_at", "resolved_at"),
    "services": (),
}
_COLUMNS: dict[str, tuple[str, ...]] = {
    "deployments": DEPLOYMENT_COLUMNS,
    "commits": COMMIT_COLUMNS,
    "pull_requests": PULL_REQUEST_COLUMNS,
    "incidents": INCIDENT_COLUMNS,
    "services": SERVICE_COLUMNS,
}
_KEYS: dict[str, tuple[str, ...]] = {
    "deployments": ("deployment_key",),
    "commits": ("repo", "sha"),
    "pull_requests": ("repo", "number"),
    "incidents": ("incident_key",),
    "services": ("service",),
}


def require_columns(frame: pd.DataFrame, required: tuple[str, ...], what: str) -> None:
    """Raise ``ValueError`` naming the missing columns when ``frame`` lacks any of ``required``."""
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} frame lacks required columns {missing}; it has {list(frame.columns)}")


def to_utc(series: pd.Series, what: str) -> pd.Series:
    """Return ``series`` as ``datetime64[us, UTC]``; refuse naive timestamps.

    Accepts any tz-aware datetime64 resolution, an all-null column, or an object column of
    tz-aware datetimes. A column already of that dtype is returned as it is (no copy).
    """
    if series.dtype == TIMESTAMP_DTYPE:
        return series
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)
    if pd.api.types.is_datetime64_dtype(series.dtype):
        raise ValueError(f"{what} holds naive timestamps; give timezone-aware UTC values")
    non_null = series.dropna()
    if non_null.empty:
        return pd.Series(pd.NaT, index=series.index, dtype=TIMESTAMP_DTYPE)
    if all(getattr(v, "tzinfo", None) is not None for v in non_null):
        return pd.to_datetime(series, utc=True).astype(TIMESTAMP_DTYPE)
    raise ValueError(f"{what} must hold timezone-aware timestamps, got dtype {series.dtype}")


def _normalise(frame: pd.DataFrame, name: str, *, unique_keys: bool = False) -> pd.DataFrame:
    require_columns(frame, _COLUMNS[name], name)
    out = frame.copy(deep=False)  # copy-on-write: the caller's frame is never changed
    for column in _TIMESTAMPS[name]:
        given = out[column]
        converted = to_utc(given, f"{name}.{column}")
        if converted is not given:
            out[column] = converted
    if not unique_keys:
        keys = list(_KEYS[name])
        duplicated = out.duplicated(keys, keep="last")
        if duplicated.any():
            logger.info("dropping %d duplicate %s rows (same %s)", int(duplicated.sum()), name, keys)
            out = out[~duplicated]
    if isinstance(out.index, pd.RangeIndex) and out.index.start == 0 and out.index.step == 1:
        return out
    return out.reset_index(drop=True)


def _empty(name: str) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for column in _COLUMNS[name]:
        if column in _TIMESTAMPS[name]:
            data[column] = pd.Series([], dtype=TIMESTAMP_DTYPE)
        elif column == "number":
            data[column] = pd.Series([], dtype="int64")
        elif column == "is_rollback":
            data[column] = pd.Series([], dtype="bool")
        else:
            data[column] = pd.Series([], dtype="object")
    return pd.DataFrame(data)


@dataclass(frozen=True, slots=True)
class MetricInputs:
    """The five frames the engine reads (see ``docs/metrics.md`` for every column).

    Build it with :meth:`of` (validates and normalises) or :meth:`empty`; constructing it directly
    skips the checks.
    """

    deployments: pd.DataFrame
    commits: pd.DataFrame
    pull_requests: pd.DataFrame
    incidents: pd.DataFrame
    services: pd.DataFrame

    @classmethod
    def of(
        cls,
        *,
        deployments: pd.DataFrame | None = None,
        commits: pd.DataFrame | None = None,
        pull_requests: pd.DataFrame | None = None,
        incidents: pd.DataFrame | None = None,
        services: pd.DataFrame | None = None,
        unique_keys: Collection[str] = (),
    ) -> MetricInputs:
        """Validated inputs; a frame left out is empty. Raises ``ValueError`` on a contract breach.

        ``unique_keys`` names the frames (``"commits"``, ``"pull_requests"``, …) whose natural keys the
        caller guarantees are unique, e.g. read from the store's uniquely keyed tables: their duplicate
        check (a hash of every key) is skipped. Any other frame keeps the last row of each key.
        """
        given = {
            "deployments": deployments,
            "commits": commits,
            "pull_requests": pull_requests,
            "incidents": incidents,
            "services": services,
        }
        unknown = set(unique_keys) - set(given)
        if unknown:
            raise ValueError(f"unique_keys names unknown frames {sorted(unknown)}")
        frames = {
            k: _normalise(_empty(k) if v is None else v, k, unique_keys=k in unique_keys) for k, v in given.items()
        }
        return cls(**frames)

    @classmethod
    def empty(cls) -> MetricInputs:
        """Inputs with no rows and every required column (an empty database)."""
        return cls.of()

    def with_services(self, services: pd.DataFrame) -> MetricInputs:
        """The same events under another service mapping (recomputation after a mapping change)."""
        return MetricInputs(
            self.deployments, self.commits, self.pull_requests, self.incidents, _normalise(services, "services")
        )

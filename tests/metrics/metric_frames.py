"""Builders of tiny input frames for the metric tests: a row is a dict of the columns that matter."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from metrics import MetricInputs

HOUR = 3600.0
DAY = 86400.0


def ts(text: str) -> pd.Timestamp:
    """A UTC timestamp from ISO text (an explicit offset is kept, then converted by the engine)."""
    stamp = pd.Timestamp(text)
    return stamp if stamp.tzinfo is not None else stamp.tz_localize("UTC")


def at(text: str) -> datetime:
    """An aware ``datetime`` for ``as_of``."""
    return ts(text).to_pydatetime()


def _frame(rows: list[dict[str, Any]], defaults: dict[str, Any]) -> pd.DataFrame:
    full = [{**defaults, **row} for row in rows]
    return pd.DataFrame(full, columns=list(defaults)) if full else pd.DataFrame(columns=list(defaults))


def commits(*rows: dict[str, Any]) -> pd.DataFrame:
    """Commit rows; ``parents``/``paths`` default to none/unknown."""
    return _frame(
        list(rows),
        {
            "repo": "org/app",
            "sha": None,
            "author": "alice",
            "author_email": None,
            "authored_at": None,
            "committed_at": None,
            "parents": (),
            "message": "work",
            "paths": None,
        },
    )


def chain(shas_and_times: list[tuple[str, str]], repo: str = "org/app", **extra: Any) -> list[dict[str, Any]]:
    """Rows of a linear history: each commit's parent is the previous one."""
    rows = []
    previous: tuple[str, ...] = ()
    for sha, when in shas_and_times:
        rows.append({"repo": repo, "sha": sha, "authored_at": ts(when), "parents": previous, **extra})
        previous = (sha,)
    return rows


def deployments(*rows: dict[str, Any]) -> pd.DataFrame:
    """Deployment rows; ``deployment_key`` defaults to ``ci:<external_id>``."""
    filled = []
    for row in rows:
        row = dict(row)
        row.setdefault("deployment_key", f"ci:{row['external_id']}")
        if isinstance(row.get("finished_at"), str):
            row["finished_at"] = ts(row["finished_at"])
        filled.append(row)
    return _frame(
        filled,
        {
            "deployment_key": None,
            "source": "ci",
            "external_id": None,
            "service": "app",
            "environment": "production",
            "status": "success",
            "sha": None,
            "repo": None,
            "started_at": None,
            "finished_at": None,
            "commits": None,
            "is_rollback": False,
        },
    )


def pull_requests(*rows: dict[str, Any]) -> pd.DataFrame:
    """Pull-request rows (merged when ``merged_at`` is given)."""
    return _frame(
        list(rows),
        {
            "repo": "org/app",
            "number": 0,
            "author": "alice",
            "title": "change",
            "labels": (),
            "head_branch": "feature/x",
            "base_branch": "main",
            "created_at": None,
            "first_commit_at": None,
            "first_review_at": None,
            "merged_at": None,
            "closed_at": None,
            "merge_sha": None,
            "commits": (),
        },
    )


def incidents(*rows: dict[str, Any]) -> pd.DataFrame:
    """Incident rows; ``incident_key`` defaults to ``pd:<external_id>``."""
    filled = []
    for row in rows:
        row = dict(row)
        row.setdefault("incident_key", f"pd:{row['external_id']}")
        for column in ("created_at", "resolved_at"):
            if isinstance(row.get(column), str):
                row[column] = ts(row[column])
        filled.append(row)
    return _frame(
        filled,
        {
            "incident_key": None,
            "source": "pd",
            "external_id": None,
            "service": "app",
            "title": "outage",
            "severity": "high",
            "created_at": None,
            "acknowledged_at": None,
            "resolved_at": None,
            "cause_deployment_id": None,
            "cause_sha": None,
        },
    )


def services(*rows: dict[str, Any]) -> pd.DataFrame:
    """Service rows; default: ``app`` of team ``core`` on ``org/app``, production ``production``."""
    return _frame(
        list(rows) or [{}],
        {
            "service": "app",
            "team": "core",
            "repositories": ("org/app",),
            "path_prefixes": (),
            "production_environments": ("production",),
        },
    )


def inputs(**frames: pd.DataFrame) -> MetricInputs:
    """Validated inputs; ``services`` defaults to the single ``app`` service."""
    frames.setdefault("services", services())
    return MetricInputs.of(**frames)


def row(
    results: list[dict[str, Any]],
    *,
    scope: str,
    window: int,
    service: str | None = None,
    team: str | None = None,
    environment: str | None = None,
) -> dict[str, Any]:
    """The one result row of a scope and window (fails the test when absent or ambiguous)."""
    found = [
        r
        for r in results
        if r["scope"] == scope
        and r["window_days"] == window
        and (service is None or r["service"] == service)
        and (team is None or r["team"] == team)
        and (environment is None or r["environment"] == environment)
    ]
    assert len(found) == 1, f"expected one {scope} row, found {len(found)}"
    return found[0]

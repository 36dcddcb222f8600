"""Data quality: what a report could not see in its period, so missing data is never read as good
performance.

* **Unmapped incidents** — incidents created in the period with no service, or naming a service
  that is not configured: they count for the organisation only, never for a team.
* **Deployments of unknown services** — production deployments in the period naming a service that
  is not configured (organisation figures only).
* **Services with no deployments** — configured services with no successful production deployment
  finished in the period: their team's figures do not reflect them.
* **Failed sources** — configured sources with at least one failed run started in the period.
* **Stale sources** — enabled configured sources whose last successful run finished more than
  ``max(3 × interval, 1 day)`` before the report was made (``now``), or that never succeeded.

The period is the report's: a bucket labelled ``[start, end)`` whose figures the engine computes
over ``start < t <= end`` (as-of = ``end``), so an event exactly at ``end`` is in the period and one
exactly at ``start`` is not, here as in the figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, select

from collector.store.models import SyncRun
from connectors.settings import SourceSettings
from metrics import Links, MetricInputs


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """A source that failed or went stale in the period."""

    source: str
    problem: str  # "failed" | "stale"
    detail: str


@dataclass(frozen=True, slots=True)
class DataQuality:
    """Every data-quality finding of one period (see the module docstring)."""

    start: datetime
    end: datetime
    unmapped_incidents: int
    unmapped_incident_services: tuple[str, ...]
    unknown_service_deployments: int
    services_without_deployments: tuple[str, ...]
    source_problems: tuple[SourceProblem, ...] = field(default=())

    @property
    def is_clean(self) -> bool:
        """Nothing to report."""
        return not (
            self.unmapped_incidents
            or self.unknown_service_deployments
            or self.services_without_deployments
            or self.source_problems
        )

    def lines(self) -> list[str]:
        """Each finding as one plain sentence (for the HTML report and the digest)."""
        out: list[str] = []
        if self.unmapped_incidents:
            named = ", ".join(self.unmapped_incident_services) or "none named"
            out.append(
                f"{self.unmapped_incidents} incident(s) not mapped to a configured service "
                f"(services: {named}); they count for the organisation only."
            )
        if self.unknown_service_deployments:
            out.append(
                f"{self.unknown_service_deployments} production deployment(s) of services that are not configured."
            )
        if self.services_without_deployments:
            out.append(
                f"{len(self.services_without_deployments)} service(s) with no production deployment in the period: "
                + ", ".join(self.services_without_deployments)
                + "."
            )
        for problem in self.source_problems:
            out.append(f"Source {problem.source} {problem.problem}: {problem.detail}")
        return out


def _in_period(t: pd.Series, start: datetime, end: datetime) -> pd.Series:
    """``start < t <= end``: the engine's window ending at ``end`` (the figures of the same period)."""
    return (t > pd.Timestamp(start)) & (t <= pd.Timestamp(end))


def load_sync_runs(connection: Connection) -> pd.DataFrame:
    """Every row of ``sync_runs``: ``source, started_at, finished_at, status, error``."""
    columns = ["source", "started_at", "finished_at", "status", "error"]
    rows = connection.execute(select(*(getattr(SyncRun, c) for c in columns))).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def source_problems(
    runs: pd.DataFrame, sources: Sequence[SourceSettings], start: datetime, end: datetime, now: datetime
) -> list[SourceProblem]:
    """Failed and stale configured sources (see the module docstring)."""
    problems: list[SourceProblem] = []
    for source in sources:
        own = runs[runs["source"] == source.name]
        failed = own[(own["status"] == "failed") & _in_period(own["started_at"], start, end)]
        if not failed.empty:
            last = failed.sort_values("started_at").iloc[-1]
            error = str(last["error"] or "no error recorded")[:200]
            problems.append(SourceProblem(source.name, "failed", f"{len(failed)} failed run(s); last: {error}"))
        if not source.enabled:
            continue
        limit = max(3 * source.interval, timedelta(days=1))
        ok = own[(own["status"] == "success") & own["finished_at"].notna() & (own["finished_at"] <= pd.Timestamp(now))]
        if ok.empty:
            problems.append(SourceProblem(source.name, "stale", "no successful sync yet"))
            continue
        last_ok = ok["finished_at"].max()
        if pd.Timestamp(now) - last_ok > pd.Timedelta(limit):
            problems.append(SourceProblem(source.name, "stale", f"last successful sync finished {last_ok.isoformat()}"))
    return problems


def assess(
    inputs: MetricInputs,
    links: Links,
    runs: pd.DataFrame,
    sources: Sequence[SourceSettings],
    start: datetime,
    end: datetime,
    now: datetime,
) -> DataQuality:
    """Every finding for the period ``[start, end)``, staleness judged at ``now``."""
    configured = set(inputs.services["service"])
    incidents = inputs.incidents[_in_period(inputs.incidents["created_at"], start, end)]
    unmapped = incidents[~incidents["service"].isin(configured) | incidents["service"].isna()]
    deployments = links.deployments
    done = deployments[deployments["is_deployment"] & _in_period(deployments["finished_at"], start, end)]
    return DataQuality(
        start=start,
        end=end,
        unmapped_incidents=len(unmapped),
        unmapped_incident_services=tuple(sorted(str(s) for s in unmapped["service"].dropna().unique())),
        unknown_service_deployments=int((~done["service"].isin(configured)).sum()),
        services_without_deployments=tuple(sorted(configured - set(done["service"]))),
        source_problems=tuple(source_problems(runs, sources, start, end, now)),
    )

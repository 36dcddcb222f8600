"""Store → :class:`PmoReport`: trends, transformation curve, movers, goals and data quality for a
period, computed from the stored history and the current config."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from collector.config.model import AppConfig
from collector.pmo.buckets import Bucket, Period, calendar_buckets
from collector.pmo.goals import GoalStatus, evaluate_goal, metric_value
from collector.pmo.portfolios import depth_of, portfolio_frame, portfolio_layers
from collector.pmo.quality import DataQuality, assess, load_sync_runs
from collector.pmo.settings import GoalConfig
from collector.pmo.trends import compute_trends, level_counts, movers
from collector.recompute import Computation, compute
from metrics import MetricInputs, compute_report

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PmoReport:
    """Everything the HTML report, the CSV/JSON exports and the digest show."""

    title: str
    period: Period
    buckets: tuple[Bucket, ...]
    generated_at: datetime
    band_table: str
    trends: pd.DataFrame
    level_counts: pd.DataFrame
    movers: pd.DataFrame
    goals: tuple[GoalStatus, ...]
    quality: DataQuality
    portfolios: pd.DataFrame

    @property
    def start(self) -> datetime:
        """Start of the first bucket."""
        return self.buckets[0].start

    @property
    def end(self) -> datetime:
        """End of the last bucket."""
        return self.buckets[-1].end


def _scope_value(
    goal: GoalConfig, computation: Computation, layers: list[MetricInputs], config: AppConfig, at: datetime
) -> float | None:
    days = int(goal.window.total_seconds() // 86400)
    inputs = computation.inputs if goal.team is not None else layers[depth_of(goal.scope_name, config.portfolios)]
    rows = compute_report(
        inputs, computation.settings, at, links=computation.links, teams=[goal.scope_name], windows=[days]
    )
    team_rows = [row for row in rows if row["scope"] == "team" and row["team"] == goal.scope_name]
    return metric_value(team_rows[0], goal.metric) if team_rows else None


def goal_statuses(
    computation: Computation,
    layers: list[MetricInputs],
    config: AppConfig,
    default_baseline: datetime,
    as_of: datetime,
) -> tuple[GoalStatus, ...]:
    """Every configured goal measured at its baseline and at ``as_of``."""
    out = []
    for goal in config.goals:
        if goal.baseline is not None:
            b = goal.baseline
            baseline_at = datetime(b.year, b.month, b.day, tzinfo=UTC) + timedelta(days=1)
        else:
            baseline_at = default_baseline
        out.append(
            evaluate_goal(
                goal,
                baseline_at=baseline_at,
                as_of=as_of,
                baseline_value=_scope_value(goal, computation, layers, config, baseline_at),
                current_value=_scope_value(goal, computation, layers, config, as_of),
                band_table=computation.settings.band_table,
            )
        )
    return tuple(out)


def build_report(
    engine: Engine,
    config: AppConfig,
    *,
    period: Period,
    first: date,
    until: datetime,
    now: datetime,
    title: str = "Delivery transformation report",
    quality_buckets: int | None = None,
) -> PmoReport:
    """Compute the report of the complete ``period`` buckets from ``first`` up to ``until``.

    Goals are measured at the report's end, the end of the last complete bucket (their current
    value; never ``until``, which may fall inside the running bucket), and at their baseline
    (default: the start of the first bucket). The data-quality findings cover the last
    ``quality_buckets`` buckets (default: all; the digest's are those of its last week).
    ``ValueError`` when no complete bucket fits.
    """
    buckets = calendar_buckets(period, first, until)
    if not buckets:
        raise ValueError(f"no complete {period} period between {first.isoformat()} and {until.isoformat()}")
    computation = compute(engine, config)
    layers = portfolio_layers(computation.inputs, config.portfolios)
    trends = compute_trends(computation.inputs, computation.settings, computation.links, buckets, layers)
    with engine.connect() as connection:
        runs = load_sync_runs(connection)
    quality_start = buckets[0 if quality_buckets is None else max(len(buckets) - quality_buckets, 0)].start

    report = PmoReport(
        title=title,
        period=period,
        buckets=buckets,
        generated_at=now,
        band_table=computation.settings.band_table,
        trends=trends,
        level_counts=level_counts(trends),
        movers=movers(trends, buckets[0].label, buckets[-1].label),
        goals=goal_statuses(computation, layers, config, buckets[0].start, buckets[-1].end),
        quality=assess(
            computation.inputs, computation.links, runs, config.sources, quality_start, buckets[-1].end, now
        ),
        portfolios=portfolio_frame(config.portfolios),
    )
    logger.info(
        "PMO report: %d %s buckets, %d trend rows, %d goals", len(buckets), period, len(trends), len(config.goals)
    )
    return report

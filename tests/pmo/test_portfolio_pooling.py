"""Portfolios pool their items (hand-made frames): never an average of team figures; nesting."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from collector.pmo.buckets import calendar_buckets
from collector.pmo.portfolios import portfolio_layers
from collector.pmo.settings import PortfolioConfig
from collector.pmo.trends import compute_trends, level_counts, movers
from metrics import MetricInputs, MetricSettings, derive_links

HOUR = 3600.0


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def inputs() -> MetricInputs:
    services = pd.DataFrame(
        [
            {
                "service": s,
                "team": t,
                "repositories": (),
                "path_prefixes": (),
                "production_environments": ("production",),
            }
            for s, t in (("a1", "alpha"), ("b1", "beta"), ("c1", "gamma"))
        ]
    )
    deployments = pd.DataFrame(
        [
            {"deployment_key": f"ci:{i}", "source": "ci", "external_id": str(i), "service": s,
             "environment": "production", "status": "success", "sha": None, "repo": None,
             "started_at": ts(t), "finished_at": ts(t), "commits": None, "is_rollback": False}
            for i, (s, t) in enumerate([("a1", "2026-01-05"), ("a1", "2026-01-06"), ("b1", "2026-01-07"),
                                        ("c1", "2026-01-08"), ("a1", "2026-02-03")])
        ]
    )  # fmt: skip
    incidents = pd.DataFrame(
        [
            {"incident_key": f"pd:{i}", "source": "pd", "external_id": str(i), "service": s, "title": "x",
             "severity": None, "created_at": ts(t), "acknowledged_at": None,
             "resolved_at": ts(t) + pd.Timedelta(hours=h), "cause_deployment_id": None, "cause_sha": None}
            for i, (s, t, h) in enumerate([("a1", "2026-01-10", 1), ("a1", "2026-01-11", 3), ("b1", "2026-01-12", 10),
                                           ("c1", "2026-01-13", 20)])
        ]
    )  # fmt: skip
    return MetricInputs.of(deployments=deployments, incidents=incidents, services=services)


PORTFOLIOS = (
    PortfolioConfig(name="root", teams=("gamma",)),
    PortfolioConfig(name="child", parent="root", teams=("alpha", "beta")),
)


@pytest.fixture
def trends() -> pd.DataFrame:
    data = inputs()
    settings = MetricSettings()
    buckets = calendar_buckets("monthly", date(2026, 1, 1), datetime(2026, 3, 1, tzinfo=UTC))
    return compute_trends(data, settings, derive_links(data, settings), buckets, portfolio_layers(data, PORTFOLIOS))


def _row(trends: pd.DataFrame, period: str, scope: str, name: str) -> pd.Series:
    part = trends[(trends["period"] == period) & (trends["scope"] == scope) & (trends["name"] == name)]
    assert len(part) == 1, part
    return part.iloc[0]


def test_portfolio_restore_time_is_the_median_of_pooled_incidents_not_a_mean_of_teams(trends: pd.DataFrame) -> None:
    child = _row(trends, "2026-01", "portfolio", "child")
    # alpha's incidents took 1h and 3h, beta's 10h: pooled median 3h (mean of team medians would be 6h)
    assert child["time_to_restore_p50_seconds"] == pytest.approx(3 * HOUR)
    assert child["deployments"] == 3
    assert child["deployment_frequency_per_day"] == pytest.approx(3 / 31)


def test_nested_portfolio_pools_its_children_and_its_own_teams(trends: pd.DataFrame) -> None:
    root = _row(trends, "2026-01", "portfolio", "root")
    assert root["deployments"] == 4
    assert root["time_to_restore_p50_seconds"] == pytest.approx(6.5 * HOUR)  # median of 1, 3, 10, 20 h


def test_buckets_cover_their_calendar_month_only(trends: pd.DataFrame) -> None:
    feb = _row(trends, "2026-02", "team", "alpha")
    assert feb["deployments"] == 1
    assert feb["deployment_frequency_per_day"] == pytest.approx(1 / 28)
    assert pd.isna(feb["time_to_restore_p50_seconds"])


def test_level_counts_count_every_team_once_per_period(trends: pd.DataFrame) -> None:
    counts = level_counts(trends)
    per_period = counts[counts["metric"] == "deployment_frequency"].groupby("period")["count"].sum()
    assert per_period.to_dict() == {"2026-01": 3, "2026-02": 3}
    jan = counts[(counts["period"] == "2026-01") & (counts["metric"] == "deployment_frequency")].set_index("level")
    # alpha 2/31 ≥ 1/month → medium; beta and gamma 1/31 ≥ 1/30? no → low
    assert (jan.at["medium", "count"], jan.at["low", "count"]) == (1, 2)


def test_movers_rank_a_frequency_drop_as_a_regression(trends: pd.DataFrame) -> None:
    moves = movers(trends, "2026-01", "2026-02")
    alpha = moves[(moves["name"] == "alpha") & (moves["metric"] == "deployment_frequency")].iloc[0]
    assert alpha["change"] == pytest.approx((1 / 28 - 2 / 31) / (2 / 31))
    assert alpha["change"] < 0

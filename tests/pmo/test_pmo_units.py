"""Calendar buckets, goal progress on hand-made cases, target parsing and config validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from collector.config import ConfigError
from collector.config.loader import load_config_text
from collector.pmo.buckets import calendar_buckets
from collector.pmo.goals import evaluate_goal
from collector.pmo.settings import GoalConfig, parse_target
from collector.pmo.trends import relative_change

DAY = 86400.0


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_monthly_buckets_are_calendar_months_and_skip_the_running_month() -> None:
    buckets = calendar_buckets("monthly", date(2026, 1, 15), utc(2026, 4, 10))
    assert [b.label for b in buckets] == ["2026-01", "2026-02", "2026-03"]
    assert [b.days for b in buckets] == [31, 28, 31]
    assert buckets[0].start == utc(2026, 1, 1) and buckets[-1].end == utc(2026, 4, 1)


def test_weekly_buckets_start_on_monday_with_iso_labels() -> None:
    buckets = calendar_buckets("weekly", date(2026, 1, 1), utc(2026, 1, 19))  # Thursday → Monday 2025-12-29
    assert [(b.label, b.start.date().isoformat()) for b in buckets] == [
        ("2026-W01", "2025-12-29"), ("2026-W02", "2026-01-05"), ("2026-W03", "2026-01-12"),
    ]  # fmt: skip


def test_quarterly_buckets_cross_the_year() -> None:
    buckets = calendar_buckets("quarterly", date(2025, 11, 1), utc(2026, 7, 1))
    assert [(b.label, b.days) for b in buckets] == [("2025-Q4", 92), ("2026-Q1", 90), ("2026-Q2", 91)]


def test_targets_are_parsed_in_the_metrics_units() -> None:
    assert parse_target("lead_time", "1d") == DAY
    assert parse_target("change_failure_rate", "15%") == pytest.approx(0.15)
    assert parse_target("deployment_frequency", "5/week") == pytest.approx(5 / 7)
    assert parse_target("rework_rate", 0.1) == pytest.approx(0.1)


def _goal(**kwargs: object) -> GoalConfig:
    return GoalConfig.model_validate({"team": "a", "due": "2026-12-31", **kwargs})


BASE = utc(2026, 1, 1)  # due instant 2027-01-01: a 365-day span


def test_lead_time_goal_half_way_and_ahead_of_schedule_is_on_track() -> None:
    status = evaluate_goal(
        _goal(metric="lead_time", target="1d"), baseline_at=BASE, as_of=BASE + timedelta(days=146),
        baseline_value=5 * DAY, current_value=3 * DAY, band_table="dora-2023",
    )  # fmt: skip
    assert status.progress == pytest.approx(0.5)  # (3d - 5d) / (1d - 5d)
    assert status.expected_progress == pytest.approx(146 / 365)
    assert status.status == "on_track"


def test_lead_time_goal_half_way_but_late_is_off_track() -> None:
    status = evaluate_goal(
        _goal(metric="lead_time", target="1d"), baseline_at=BASE, as_of=BASE + timedelta(days=219),
        baseline_value=5 * DAY, current_value=3 * DAY, band_table="dora-2023",
    )  # fmt: skip
    assert status.expected_progress == pytest.approx(0.6)
    assert status.status == "off_track"


def test_moving_away_from_the_target_is_negative_progress() -> None:
    status = evaluate_goal(
        _goal(metric="change_failure_rate", target="10%"), baseline_at=BASE, as_of=BASE + timedelta(days=10),
        baseline_value=0.30, current_value=0.40, band_table="dora-2023",
    )  # fmt: skip
    assert status.progress == pytest.approx(-0.5)
    assert status.status == "off_track"


def test_frequency_goal_is_higher_is_better_and_achieved_at_the_target() -> None:
    status = evaluate_goal(
        _goal(metric="deployment_frequency", target=1), baseline_at=BASE, as_of=BASE + timedelta(days=10),
        baseline_value=0.2, current_value=1.0, band_table="dora-2023",
    )  # fmt: skip
    assert (status.achieved, status.progress, status.status) == (True, 1.0, "achieved")


def test_level_goal_progress_counts_levels() -> None:
    # baseline 0.02/day = low (rank 0), now 0.5/day = high (2), target elite (3)
    status = evaluate_goal(
        _goal(metric="deployment_frequency", level="elite"), baseline_at=BASE, as_of=BASE + timedelta(days=300),
        baseline_value=0.02, current_value=0.5, band_table="dora-2023",
    )  # fmt: skip
    assert (status.baseline_level, status.current_level) == ("low", "high")
    assert status.progress == pytest.approx(2 / 3)
    assert status.status == "off_track"  # 300/365 elapsed > 2/3


def test_goal_not_reached_after_the_due_date_is_missed() -> None:
    status = evaluate_goal(
        _goal(metric="lead_time", target="1d"), baseline_at=BASE, as_of=utc(2027, 1, 2),
        baseline_value=5 * DAY, current_value=2 * DAY, band_table="dora-2023",
    )  # fmt: skip
    assert status.status == "missed" and status.expected_progress == 1.0


def test_goal_without_a_current_value_has_no_data() -> None:
    status = evaluate_goal(
        _goal(metric="time_to_restore", target="1h"), baseline_at=BASE, as_of=BASE + timedelta(days=1),
        baseline_value=7200.0, current_value=None, band_table="dora-2023",
    )  # fmt: skip
    assert (status.progress, status.status) == (None, "no_data")


def test_relative_change_is_positive_when_better() -> None:
    assert relative_change(10.0, 5.0, higher_is_better=False) == pytest.approx(0.5)
    assert relative_change(1.0, 3.0, higher_is_better=True) == pytest.approx(2.0)
    assert relative_change(0.0, 0.1, higher_is_better=False) == -1.0


CONFIG = """
teams: [{name: a}, {name: b}]
services: [{name: s, team: a}]
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("portfolios: [{name: p, parent: q}, {name: q, parent: p}]", "cycle"),
        ("portfolios: [{name: p, teams: [a]}, {name: q, teams: [a]}]", "pick one"),
        ("portfolios: [{name: p, teams: [zz]}]", "not declared"),
        ("goals: [{team: a, metric: lead_time, due: 2027-01-01}]", "exactly one of `target`"),
        ("goals: [{team: a, metric: rework_rate, level: high, due: 2027-01-01}]", "no benchmark levels"),
        (
            "goals: [{portfolio: nope, metric: lead_time, target: 1d, due: 2027-01-01}]",
            "not declared under `portfolios`",
        ),
        ("digest: {schedule: 'every monday'}", "cron"),
    ],
)
def test_bad_pmo_config_is_reported(extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config_text(CONFIG + extra)


def test_good_pmo_config_loads_with_secret_webhooks() -> None:
    config = load_config_text(
        CONFIG
        + "portfolios: [{name: p, teams: [a]}, {name: c, parent: p, teams: [b]}]\n"
        + "goals: [{portfolio: p, metric: lead_time, target: 12h, due: 2027-01-01}]\n"
        + "digest: {slack_webhook_url: '${HOOK}', schedule: '0 8 * * mon'}\n",
        env={"HOOK": "https://hooks.example/secret"},
    )
    assert config.goals[0].target == 12 * 3600
    assert "secret" not in repr(config.digest)

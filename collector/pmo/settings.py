"""Config models of the PMO reports: portfolios, goals and the digest.

* A **portfolio** (or business unit) groups teams and, through ``parent``, other portfolios: a tree.
  A portfolio's items are the items of every service of every team below it, pooled.
* A **goal** sets, for one team or portfolio, a target on one metric by a due date: either a value
  (``target``, in the metric's unit) or a benchmark level (``level``).
* The **digest** names the Slack and Microsoft Teams incoming-webhook URLs (secrets: write them as
  ``${ENV_VAR}`` references) and the cron expression on which ``serve`` may send it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.settings import Duration, SettingsModel, parse_duration

GoalMetric = Literal[
    "deployment_frequency", "lead_time", "change_failure_rate", "recovery_time", "time_to_restore", "rework_rate"
]
Level = Literal["low", "medium", "high", "elite"]
LEVEL_RANK: dict[str, int] = {"low": 0, "medium": 1, "high": 2, "elite": 3}
#: Metrics whose values are durations in seconds (targets may be written ``1d``, ``12h``…).
DURATION_METRICS = frozenset({"lead_time", "recovery_time", "time_to_restore"})
#: Metrics whose values are rates in 0–1 (targets may be written ``15%``).
RATE_METRICS = frozenset({"change_failure_rate", "rework_rate"})
#: Metrics with benchmark bands (``level`` goals are allowed only for these).
BANDED_METRICS = frozenset({"deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"})
_FREQUENCY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(day|week|month)\s*$")
_PER = {"day": 1.0, "week": 7.0, "month": 30.0}


def parse_target(metric: str, value: Any) -> float:
    """A goal target in the metric's unit: seconds for durations (``1d``), 0–1 for rates (``15%`` or
    ``0.15``; a rate outside 0–1, such as ``5`` meant as 5%, is refused), deployments per day for
    frequency (``2`` or ``5/week``, a month being 30 days)."""
    if isinstance(value, bool):
        raise ValueError("a target is a number or a duration, not a boolean")
    if metric in RATE_METRICS:
        rate = _parse_number(metric, value)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{value!r}: a rate target is 0–1 or a percentage (write 5% or 0.05, not 5)")
        return rate
    return _parse_number(metric, value)


def _parse_number(metric: str, value: Any) -> float:
    if metric in DURATION_METRICS:
        return parse_duration(value).total_seconds()
    if isinstance(value, str):
        text = value.strip()
        if metric in RATE_METRICS and text.endswith("%"):
            return float(text[:-1]) / 100
        match = _FREQUENCY.match(text)
        if metric == "deployment_frequency" and match:
            return float(match.group(1)) / _PER[match.group(2)]
        try:
            return float(text)
        except ValueError as error:
            raise ValueError(f"{value!r} is not a target for {metric}") from error
    if isinstance(value, int | float):
        return float(value)
    raise ValueError(f"{value!r} is not a target for {metric}")


class PortfolioConfig(SettingsModel):
    """A portfolio / business unit: its own teams, and an optional parent portfolio."""

    name: str = Field(min_length=1)
    teams: tuple[str, ...] = ()
    parent: str | None = None


def check_portfolios(portfolios: tuple[PortfolioConfig, ...]) -> tuple[PortfolioConfig, ...]:
    """Unique names, parents that exist, no cycle, a team directly in at most one portfolio."""
    names = [p.name for p in portfolios]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate portfolio names {duplicates}")
    parents = {p.name: p.parent for p in portfolios}
    for portfolio in portfolios:
        if portfolio.parent is not None and portfolio.parent not in parents:
            raise ValueError(f"portfolio {portfolio.name!r}: parent {portfolio.parent!r} is not a portfolio")
        seen = {portfolio.name}
        current = portfolio.parent
        while current is not None:
            if current in seen:
                raise ValueError(f"portfolio {portfolio.name!r}: its parents form a cycle")
            seen.add(current)
            current = parents[current]
    owner: dict[str, str] = {}
    for portfolio in portfolios:
        for team in portfolio.teams:
            if team in owner:
                raise ValueError(f"team {team!r} is in portfolios {owner[team]!r} and {portfolio.name!r}; pick one")
            owner[team] = portfolio.name
    return portfolios


class GoalConfig(SettingsModel):
    """A target on one metric of one team or portfolio, due on a date.

    Exactly one of ``team``/``portfolio`` and one of ``target``/``level``. ``baseline`` is the day
    the starting value is measured on (default: the first day of the report); values are measured
    over ``window`` ending at the end of that day (baseline) and at the report end (current).
    """

    name: str | None = None
    team: str | None = None
    portfolio: str | None = None
    metric: GoalMetric
    target: float | None = None
    level: Level | None = None
    due: date
    baseline: date | None = None
    window: Duration = timedelta(days=30)

    @model_validator(mode="before")
    @classmethod
    def _parse_target(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("target") is not None and isinstance(data.get("metric"), str):
            data = {**data, "target": parse_target(data["metric"], data["target"])}
        return data

    @model_validator(mode="after")
    def _one_of_each(self) -> GoalConfig:
        if (self.team is None) == (self.portfolio is None):
            raise ValueError("give exactly one of `team` and `portfolio`")
        if (self.target is None) == (self.level is None):
            raise ValueError("give exactly one of `target` (a value) and `level` (a benchmark level)")
        if self.level is not None and self.metric not in BANDED_METRICS:
            raise ValueError(f"{self.metric} has no benchmark levels; give a `target` value")
        days = self.window.total_seconds() / 86400
        if days <= 0 or days != int(days):
            raise ValueError("window is whole days (7d, 30d…)")
        if self.baseline is not None and self.baseline >= self.due:
            raise ValueError("baseline must be before due")
        return self

    @property
    def scope_kind(self) -> Literal["team", "portfolio"]:
        """``team`` or ``portfolio``."""
        return "team" if self.team is not None else "portfolio"

    @property
    def scope_name(self) -> str:
        """The team's or portfolio's name."""
        return self.team if self.team is not None else str(self.portfolio)

    @property
    def label(self) -> str:
        """``name``, or ``<scope> <metric>`` when unnamed."""
        return self.name or f"{self.scope_name} {self.metric}"


class DigestSettings(SettingsModel):
    """Where and when the digest goes; URLs are secrets (``${SLACK_WEBHOOK_URL}``)."""

    slack_webhook_url: SecretStr | None = None
    teams_webhook_url: SecretStr | None = None
    schedule: str | None = None
    title: str = "Delivery metrics digest"
    top: int = Field(default=5, ge=1, le=20)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as error:
            raise ValueError(f"not a cron expression (minute hour day month weekday): {error}") from error
        return value


def check_references(teams: set[str], portfolios: tuple[PortfolioConfig, ...], goals: tuple[GoalConfig, ...]) -> None:
    """Portfolio teams and goal scopes must be declared; ``ValueError`` naming the first that is not."""
    portfolio_names = {p.name for p in portfolios}
    for portfolio in portfolios:
        unknown = [t for t in portfolio.teams if t not in teams]
        if unknown:
            raise ValueError(f"portfolio {portfolio.name!r}: teams {unknown} are not declared under `teams`")
    labelled: dict[tuple[str, str, str, str], int] = {}
    for index, goal in enumerate(goals):
        # the goal families' labels (goal, scope, name, metric): equal labels would be one series,
        # and Prometheus keeps only one of the two goals' samples
        key = (goal.label, goal.scope_kind, goal.scope_name, goal.metric)
        if key in labelled:
            raise ValueError(
                f"goals[{index}]: {goal.label!r} is also goals[{labelled[key]}]'s label; give one of them a `name`"
            )
        labelled[key] = index
        if goal.team is not None and goal.team not in teams:
            raise ValueError(f"goals[{index}]: team {goal.team!r} is not declared under `teams`")
        if goal.portfolio is not None and goal.portfolio not in portfolio_names:
            raise ValueError(f"goals[{index}]: portfolio {goal.portfolio!r} is not declared under `portfolios`")

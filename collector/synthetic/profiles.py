"""Organisation sizes and team performance profiles of the synthetic generator.

A profile sets the rates and (log-normal) delays of one team so that the DORA report shows
different performance levels: an ``elite`` team merges small changes within hours and deploys
several times a day, a ``low`` team lets changes wait for days and deploys about monthly, fails
more often and restores slowly. Durations are medians in hours; the log-normal spread ``sigma``
gives the long tail real lead times have.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["elite", "high", "medium", "low"]


@dataclass(frozen=True, slots=True)
class OrgSize:
    """A preset size: how many teams and services, and how many days of history up to ``end``."""

    name: str
    teams: int
    services: int
    days: int

    @classmethod
    def named(cls, name: str) -> OrgSize:
        """The preset called ``name`` (``demo``, ``S``, ``M`` or ``L``; case-insensitive)."""
        for size in ORG_SIZES:
            if size.name.lower() == name.lower():
                return size
        raise ValueError(f"unknown organisation size {name!r}; choose one of {[s.name for s in ORG_SIZES]}")


DEMO = OrgSize("demo", teams=4, services=10, days=180)
S = OrgSize("S", teams=5, services=20, days=90)
M = OrgSize("M", teams=30, services=200, days=365)
L = OrgSize("L", teams=100, services=1000, days=730)
ORG_SIZES = (DEMO, S, M, L)


@dataclass(frozen=True, slots=True)
class Profile:
    """How one team works. Rates are per service; hours are log-normal medians."""

    level: Level
    prs_per_day: float  # pull requests opened per service per working day
    coding_hours: float  # first commit → pull request opened
    review_hours: float  # pull request opened → merged
    deploy_day_chance: float  # chance a working day has a production deployment burst
    burst_max: int  # at most this many production deployments in a burst
    staging_share: float  # share of production deployments preceded by a staging deployment
    attempt_failure: float  # chance a production deployment attempt fails (failure / error)
    change_failure: float  # chance a successful production deployment causes a failure
    restore_hours: float  # failure → service restored
    squash_share: float  # share of pull requests landed as squash commits


PROFILES: dict[Level, Profile] = {
    "elite": Profile("elite", 0.41, 1.5, 2.5, 0.7, 4, 0.0, 0.03, 0.04, 0.6, 0.8),
    "high": Profile("high", 0.30, 4.0, 10.0, 0.3, 2, 0.6, 0.06, 0.10, 3.0, 0.5),
    "medium": Profile("medium", 0.24, 10.0, 30.0, 0.1, 1, 0.8, 0.10, 0.18, 20.0, 0.3),
    "low": Profile("low", 0.165, 30.0, 90.0, 0.035, 1, 1.0, 0.15, 0.32, 110.0, 0.1),
}
LOG_SIGMA = 1.0  # spread of every log-normal delay: the 90th percentile is ~3.6 × the median

"""Portfolio roll-ups by pooling: a portfolio's figures are computed from the items of all its
services, exactly as a team's are — never as an average of its teams' figures.

The metrics engine pools per value of the ``services`` frame's ``team`` column. A portfolio layer is
therefore the same inputs with each service's ``team`` replaced by the portfolio it rolls up to.
Portfolios nest, so one service rolls up to a portfolio at each depth of the tree; portfolios of
the same depth never share a team (each team sits in one portfolio), so one engine run per depth
computes every portfolio of that depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from collector.pmo.settings import PortfolioConfig
from metrics import MetricInputs


def ancestors(name: str, portfolios: Sequence[PortfolioConfig]) -> list[str]:
    """``name`` and its parents up to the root, nearest first."""
    parents = {p.name: p.parent for p in portfolios}
    chain: list[str] = []
    current: str | None = name
    while current is not None:
        chain.append(current)
        current = parents[current]
    return chain


def portfolio_teams(portfolios: Sequence[PortfolioConfig]) -> dict[str, set[str]]:
    """Every team below each portfolio (its own teams and those of its descendants)."""
    members: dict[str, set[str]] = {p.name: set() for p in portfolios}
    for portfolio in portfolios:
        for owner in ancestors(portfolio.name, portfolios):
            members[owner] |= set(portfolio.teams)
    return members


def depth_of(name: str, portfolios: Sequence[PortfolioConfig]) -> int:
    """0 for a root portfolio, 1 for its children…"""
    return len(ancestors(name, portfolios)) - 1


def portfolio_layers(inputs: MetricInputs, portfolios: Sequence[PortfolioConfig]) -> list[MetricInputs]:
    """One input set per portfolio depth: ``services.team`` = the portfolio of that depth the team
    rolls up to (null when it rolls up to none, so such services are in no portfolio row)."""
    if not portfolios:
        return []
    depths = {p.name: depth_of(p.name, portfolios) for p in portfolios}
    layers: list[MetricInputs] = []
    for depth in range(max(depths.values()) + 1):
        team_to_portfolio: dict[str, str] = {}
        for portfolio in portfolios:
            chain = ancestors(portfolio.name, portfolios)  # nearest first; chain[-1 - depth] is at `depth`
            if len(chain) > depth:
                for team in portfolio.teams:
                    team_to_portfolio[team] = chain[len(chain) - 1 - depth]
        services = inputs.services.copy()
        services["team"] = services["team"].map(team_to_portfolio).astype(object)
        services.loc[services["team"].isna(), "team"] = None
        layers.append(inputs.with_services(services))
    return layers


def portfolio_frame(portfolios: Sequence[PortfolioConfig]) -> pd.DataFrame:
    """``portfolio, parent, depth, teams`` (every team below, sorted) for the report tables."""
    members = portfolio_teams(portfolios)
    return pd.DataFrame(
        [
            {
                "portfolio": p.name,
                "parent": p.parent,
                "depth": depth_of(p.name, portfolios),
                "teams": tuple(sorted(members[p.name])),
            }
            for p in portfolios
        ],
        columns=["portfolio", "parent", "depth", "teams"],
    )

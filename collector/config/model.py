"""The validated configuration model.

The file declares the database, teams, services (owner team, repositories, path prefixes, which
environments count as production), bot author patterns, metric settings and the sources. Sources are
validated separately, each by the settings model of its ``kind`` (see
:mod:`collector.source_registry`), so each source's problems are reported with its own key path.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from collector.pmo.settings import DigestSettings, GoalConfig, PortfolioConfig, check_portfolios, check_references
from collector.serve.exporter_settings import ExporterSettings, check_exported_windows
from collector.serve.settings import ServerSettings
from connectors.settings import Duration, SettingsModel, SourceSettings
from metrics.settings import DEFAULT_BOT_AUTHOR_PATTERNS

DEFAULT_DATABASE_URL = "sqlite:///delivery-metrics.db"
DEFAULT_PRODUCTION_ENVIRONMENTS = ("production", "prod")
DEFAULT_BOT_PATTERNS = DEFAULT_BOT_AUTHOR_PATTERNS


def _check_regexes(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"invalid regular expression {pattern!r}: {error}") from error
    return patterns


class DatabaseSettings(SettingsModel):
    """Where the store lives: ``sqlite:///path.db`` (default) or ``postgresql://user@host/db``."""

    url: str = DEFAULT_DATABASE_URL

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        return value


class TeamConfig(SettingsModel):
    """A team."""

    name: str = Field(min_length=1)


class ServiceConfig(SettingsModel):
    """A service, owned by one team, built from repositories (a monorepo slice by path prefixes)."""

    name: str = Field(min_length=1)
    team: str = Field(min_length=1)
    repositories: tuple[str, ...] = ()
    path_prefixes: tuple[str, ...] = ()
    production_environments: tuple[str, ...] | None = None


class MetricsSettings(SettingsModel):
    """Metric definitions' parameters; every one has the documented default of ``docs/metrics.md``."""

    windows: tuple[Duration, ...] = (timedelta(days=7), timedelta(days=30), timedelta(days=90))
    incident_link_window: Duration = timedelta(hours=24)
    band_table: str = "dora-2023"
    hotfix_branch_prefixes: tuple[str, ...] = ("hotfix/",)
    hotfix_labels: tuple[str, ...] = ("hotfix",)
    hotfix_title_patterns: tuple[str, ...] = ()
    revert_message_patterns: tuple[str, ...] = ()

    @field_validator("windows")
    @classmethod
    def _whole_days(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if not value:
            raise ValueError("at least one window is needed")
        for window in value:
            if window.total_seconds() <= 0 or window.total_seconds() % 86400:
                raise ValueError(f"windows are whole days (7d, 30d…), got {window}")
        return value

    @field_validator("hotfix_title_patterns", "revert_message_patterns")
    @classmethod
    def _regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_regexes(value)


class AppConfig(SettingsModel):
    """The whole configuration, immutable once built."""

    database: DatabaseSettings = DatabaseSettings()
    production_environments: tuple[str, ...] = DEFAULT_PRODUCTION_ENVIRONMENTS
    bot_authors: tuple[str, ...] = DEFAULT_BOT_PATTERNS
    teams: tuple[TeamConfig, ...] = ()
    services: tuple[ServiceConfig, ...] = ()
    metrics: MetricsSettings = MetricsSettings()
    server: ServerSettings = ServerSettings()
    exporter: ExporterSettings = ExporterSettings()
    sources: tuple[SourceSettings, ...] = ()
    portfolios: tuple[PortfolioConfig, ...] = ()
    goals: tuple[GoalConfig, ...] = ()
    digest: DigestSettings = DigestSettings()
    source_file: str = Field(default="<defaults>", exclude=True)

    @field_validator("bot_authors")
    @classmethod
    def _bot_regexes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_regexes(value)

    @field_validator("portfolios")
    @classmethod
    def _portfolio_tree(cls, value: tuple[PortfolioConfig, ...]) -> tuple[PortfolioConfig, ...]:
        return check_portfolios(value)

    @model_validator(mode="after")
    def _pmo_references(self) -> AppConfig:
        check_references({team.name for team in self.teams}, self.portfolios, self.goals)
        return self

    @model_validator(mode="after")
    def _exported_windows_are_computed(self) -> AppConfig:
        check_exported_windows(self.exporter, self.metrics.windows)
        return self

    def service_production_environments(self, service: ServiceConfig) -> tuple[str, ...]:
        """The environments counted as production for ``service`` (its own list or the default)."""
        return service.production_environments or self.production_environments

    def source(self, name: str) -> SourceSettings:
        """The source called ``name``; ``KeyError`` if there is none."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)

    def fingerprint(self) -> str:
        """A SHA-256 of everything that shapes the metrics (never secrets): saved with each snapshot."""
        shaping: dict[str, Any] = self.model_dump(
            mode="json", include={"production_environments", "bot_authors", "teams", "services", "metrics"}
        )
        return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()

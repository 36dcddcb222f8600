"""The ``exporter:`` section of the config: which DORA series ``/metrics`` exports for each scope.

Cardinality is what an exposition costs (bytes per scrape, Prometheus memory, scrape time), and
almost all of it is per service: every window × period × family × quantile × level of 1,000
services is about 100,000 series. So each scope (``organization``, ``team``, ``service``) chooses:

- ``windows``: the rolling windows exported (durations among ``metrics.windows``), or ``all``;
- ``previous``: whether the ``period="previous"`` series are exported beside ``current``;
- ``levels``: whether ``dora_performance_level`` is exported.

Defaults: the organisation and every team export everything (the dashboards and alert rules of
``deploy/`` read every window, both periods and the levels of teams); a service exports the 30-day
window of the current period without levels (the dashboards' per-service panels read exactly that).
``full: true`` exports everything for every scope, as `serve` did before this section existed. What
is not exported is still computed and kept in the snapshot: ``/api/v1/metrics`` and
``delivery-metrics report`` serve every scope, window and period (see ``docs/metrics-reference.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Literal

from pydantic import field_validator

from connectors.settings import Duration, SettingsModel

ALL_WINDOWS: Literal["all"] = "all"
SERVICE_DEFAULT_WINDOW = timedelta(days=30)


class ScopeExport(SettingsModel):
    """What one scope exports: its windows (``all`` or a list), the previous period, the levels."""

    windows: tuple[Duration, ...] | Literal["all"] = ALL_WINDOWS
    previous: bool = True
    levels: bool = True

    @field_validator("windows")
    @classmethod
    def _whole_days(cls, value: tuple[timedelta, ...] | str) -> tuple[timedelta, ...] | str:
        if isinstance(value, str):
            return value
        if not value:
            raise ValueError("at least one window is needed (or `all`)")
        for window in value:
            if window.total_seconds() <= 0 or window.total_seconds() % 86400:
                raise ValueError(f"windows are whole days (7d, 30d…), got {window}")
        return value

    def window_days(self) -> frozenset[int] | None:
        """The exported windows in days; ``None`` when every window is exported."""
        if isinstance(self.windows, str):
            return None
        return frozenset(int(w.total_seconds()) // 86400 for w in self.windows)


class ServiceScopeExport(ScopeExport):
    """The service scope's selection: a :class:`ScopeExport` whose unset keys take the service
    defaults (the 30-day window, no previous period, no levels), so ``service: {previous: true}``
    changes only that."""

    windows: tuple[Duration, ...] | Literal["all"] = (SERVICE_DEFAULT_WINDOW,)
    previous: bool = False
    levels: bool = False


#: A scope exporting every window, both periods and its levels.
EVERYTHING = ScopeExport()


class ExporterSettings(SettingsModel):
    """The ``exporter:`` section; see the module docstring for the defaults and their reasons."""

    full: bool = False
    organization: ScopeExport = EVERYTHING
    team: ScopeExport = EVERYTHING
    service: ServiceScopeExport = ServiceScopeExport()

    def for_scope(self, scope: str) -> ScopeExport:
        """The selection of ``scope`` (every series of it when ``full`` is set)."""
        if self.full:
            return EVERYTHING
        if scope == "service":
            return self.service
        if scope == "team":
            return self.team
        return self.organization


#: Every series of every scope (``exporter: {full: true}``).
FULL_EXPORT = ExporterSettings(full=True)


def check_exported_windows(exporter: ExporterSettings, computed: Iterable[timedelta]) -> None:
    """Every window the exporter names must be computed (``metrics.windows``); ``ValueError`` otherwise.

    A window that is never computed would silently export nothing for its scope.
    """
    if exporter.full:
        return
    available = sorted({int(w.total_seconds()) // 86400 for w in computed})
    for scope in ("organization", "team", "service"):
        wanted = exporter.for_scope(scope).window_days()
        missing = sorted(wanted - set(available)) if wanted is not None else []
        if missing:
            raise ValueError(
                f"exporter.{scope}.windows: {', '.join(f'{d}d' for d in missing)} not among metrics.windows "
                f"({', '.join(f'{d}d' for d in available)}); set exporter.{scope}.windows to computed windows or `all`"
            )

"""Mapping repositories to configured services, for sources that only know a repository."""

from __future__ import annotations

import logging
from collections import defaultdict

from collector.config.model import AppConfig

logger = logging.getLogger(__name__)


class ConfigServiceMapper:
    """``service_for_repo``: the one service declaring the repository.

    A repository claimed by several services (a monorepo split by path prefixes) maps to no single
    service: the source must name the service explicitly (documented tie-break: never guess).
    """

    def __init__(self, config: AppConfig) -> None:
        owners: dict[str, list[str]] = defaultdict(list)
        for service in config.services:
            for repo in service.repositories:
                owners[repo].append(service.name)
        self._owners = dict(owners)

    def service_for_repo(self, repo: str) -> str | None:
        """The service owning ``repo``, or ``None`` when none or several do."""
        owners = self._owners.get(repo, [])
        return owners[0] if len(owners) == 1 else None

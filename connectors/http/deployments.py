"""Helpers every Git-host source shares for deployments: the service of a repository, and the
commits a deployment shipped computed with the host's compare API.

Definitions:

- service of a deployment: the per-repository ``service`` override, else what the configured
  service mapping says for the repository, else the repository name itself (logged once as a
  warning; the metrics layer reports unknown services).
- commits of a successful deployment D to environment E (``compare`` mode): the commits in
  ``compare(previous successful deployment's sha to E, D.sha)``, oldest first. The previous sha comes
  from this run or from the cursor ``CursorKey("last_deployed_sha", "<repo>|<environment>")``. When
  the comparison says the head is *behind* the base, D is a rollback with no new commits. Without a
  previous sha the commits stay ``None`` (the metrics engine walks the commit graph).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from connectors.base import ServiceMapper
from connectors.records import CursorKey, Deployment, DeploymentStatus

logger = logging.getLogger(__name__)

LAST_DEPLOYED_SHA = "last_deployed_sha"


class _NamedRepository(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def service(self) -> str | None: ...


def repository_services(repositories: Iterable[_NamedRepository], prefix: str = "") -> dict[str, str]:
    """The per-repository ``service`` overrides of a source's settings, keyed ``prefix + name``."""
    return {prefix + repository.name: repository.service for repository in repositories if repository.service}


class ServiceResolver:
    """Repository → service name, warning once per repository that maps to no service."""

    def __init__(self, source: str, mapper: ServiceMapper, overrides: Mapping[str, str]) -> None:
        self._source = source
        self._mapper = mapper
        self._overrides = overrides  # not copied: a source may add overrides as it discovers repos
        self._warned: set[str] = set()

    def service(self, repo: str) -> str:
        """The service owning ``repo`` (see the module docstring)."""
        if repo in self._overrides:
            return self._overrides[repo]
        found = self._mapper.service_for_repo(repo)
        if found:
            return found
        if repo not in self._warned:
            self._warned.add(repo)
            logger.warning(
                "%s: repository %s maps to no configured service; its deployments use service=%r",
                self._source,
                repo,
                repo,
            )
        return repo


@dataclass(frozen=True, slots=True)
class Comparison:
    """The result of comparing two shas: the commits of ``head`` not in ``base`` (oldest first)."""

    commits: tuple[str, ...]
    behind: bool = False


def with_compared_commits(
    deployments: Iterable[Deployment],
    cursors: Mapping[CursorKey, str],
    compare: Callable[[str, str], Comparison],
) -> tuple[list[Deployment], dict[CursorKey, str]]:
    """Successful deployments (any order) with ``commits`` filled, and the advanced sha cursors.

    Deployments are chained per (repo, environment) in ``finished_at`` order.
    """
    ordered = sorted(
        (d for d in deployments if d.status is DeploymentStatus.SUCCESS and d.sha and d.finished_at),
        key=lambda d: (d.repo or "", d.environment, d.finished_at),
    )
    previous: dict[CursorKey, str] = {}
    result: list[Deployment] = []
    for deployment in ordered:
        key = CursorKey(LAST_DEPLOYED_SHA, f"{deployment.repo}|{deployment.environment}")
        base = previous.get(key, cursors.get(key))
        head = deployment.sha
        assert head is not None
        if base and base != head:
            comparison = compare(base, head)
            deployment = replace(deployment, commits=comparison.commits, is_rollback=comparison.behind)
        elif base == head:
            deployment = replace(deployment, commits=())
        result.append(deployment)
        previous[key] = head
    return result, previous

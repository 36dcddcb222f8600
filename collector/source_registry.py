"""Which source kinds exist: ``kind`` name → the connector module implementing it.

Every connector module listed here exposes two names:

- ``Settings``: its pydantic settings model (a subclass of ``connectors.settings.SourceSettings``
  with ``kind: Literal["<kind>"]``);
- ``build_source(settings, context) -> connectors.base.Source``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from connectors.base import Source, SourceContext
from connectors.settings import SourceSettings

CONNECTOR_MODULES: dict[str, str] = {
    "git": "connectors.git",
    "github": "connectors.github",
    "gitlab": "connectors.gitlab",
    "jira": "connectors.jira",
    "pagerduty": "connectors.pagerduty",
    "github_issues": "connectors.github_issues",
    "gitlab_issues": "connectors.gitlab_issues",
    "bitbucket": "connectors.bitbucket",
    "gitea": "connectors.gitea",
    "jenkins": "connectors.jenkins",
    "github_actions": "connectors.github_actions",
    "gitlab_ci": "connectors.gitlab_ci",
    "servicenow": "connectors.servicenow",
    "azure_devops": "connectors.azure_devops",
    "argocd": "connectors.argocd",
    "circleci": "connectors.circleci",
    "asana": "connectors.asana",
}


@dataclass(frozen=True, slots=True)
class SourceKind:
    """A source kind: its settings model and the factory building a source from settings."""

    kind: str
    settings_model: type[SourceSettings]
    build: Callable[[Any, SourceContext], Source]


@cache
def source_kinds() -> dict[str, SourceKind]:
    """Every registered source kind, keyed by ``kind``."""
    kinds: dict[str, SourceKind] = {}
    for kind, module_name in CONNECTOR_MODULES.items():
        module = importlib.import_module(module_name)
        kinds[kind] = SourceKind(kind=kind, settings_model=module.Settings, build=module.build_source)
    return kinds

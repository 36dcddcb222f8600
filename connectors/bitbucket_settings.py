"""Settings of the Bitbucket Cloud source (``kind: bitbucket``); reference in ``docs/sources/bitbucket.md``.

Authentication (app passwords are gone: creation stopped on 2025-09-09 and they stop working on
2026-06-09; do not configure one):

- an Atlassian **API token** (user-level, with Bitbucket scopes): set ``email`` to the account's
  e-mail address and ``token`` to the API token; sent as HTTP Basic ``email:token``;
- a repository, project or workspace **access token**: leave ``email`` unset; sent as
  ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.deployment_rules import DeploymentRule
from connectors.http.settings import HttpSourceSettings
from connectors.settings import SettingsModel

_FULL_NAME = re.compile(r"^[A-Za-z0-9_.{}-]+/[A-Za-z0-9_.-]+$")

#: Largest ``pagelen`` the pull request listing accepts (other listings accept 100).
PULL_REQUEST_MAX_PAGELEN = 50


class BitbucketRepository(SettingsModel):
    """One repository, ``workspace/repo_slug``, with optional overrides."""

    name: str = Field(description="workspace/repo_slug")
    service: str | None = Field(default=None, description="Service of its deployments (overrides the mapping).")
    branch: str | None = Field(default=None, description="Branch whose commits are collected (main branch).")

    @field_validator("name")
    @classmethod
    def _workspace_slug(cls, value: str) -> str:
        if not _FULL_NAME.match(value):
            raise ValueError(f"expected workspace/repo_slug, got {value!r}")
        return value


class Settings(HttpSourceSettings):
    """A Bitbucket Cloud source."""

    kind: Literal["bitbucket"] = "bitbucket"
    base_url: str = Field(default="https://api.bitbucket.org/2.0", description="API root, including /2.0.")
    email: str | None = Field(
        default=None, description="Atlassian account e-mail: makes `token` an API token sent with Basic auth."
    )
    repositories: tuple[BitbucketRepository, ...] = Field(min_length=1)
    fetch_activity: bool = Field(
        default=True, description="One extra listing per changed pull request: merge time and first review."
    )
    resolve_merge_sha: bool = Field(
        default=True, description="Expand the abbreviated merge commit hash of merged pull requests (one call each)."
    )
    environment_deployments: bool = Field(default=True, description="Read the deployments/environments API.")
    pipelines: bool = Field(default=True, description="Read pipelines as pipeline runs (and rule deployments).")
    deployment_rules: tuple[DeploymentRule, ...] = Field(
        default=(), description="Which pipelines (or steps) are deployments; empty: none."
    )
    match_steps: bool = Field(
        default=False, description="Match rules against pipeline steps (one extra listing per pipeline)."
    )

    @field_validator("repositories", mode="before")
    @classmethod
    def _names_to_repositories(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _one_deployment_source(self) -> Settings:
        if self.environment_deployments and self.deployment_rules:
            raise ValueError(
                "set either `environment_deployments: true` or `deployment_rules`, not both: the same "
                "deployment would be counted twice (Bitbucket deployments are pipeline steps)"
            )
        return self

"""Settings of the GitHub source (``kind: github``); reference in ``docs/sources/github.md``."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.http.settings import HttpSourceSettings
from connectors.settings import Duration, SettingsModel

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubDeploymentSettings(SettingsModel):
    """How deployments of a repository are recognised.

    - ``deployments``: the GitHub Deployments API (state from the latest deployment status);
      ``environments`` filters on the API side (empty: every environment).
    - ``releases``: each published release is a successful deployment to ``environment``
      at ``published_at`` (drafts skipped; pre-releases only with ``include_prereleases``).
    - ``tags``: each tag whose name fully matches ``tag_pattern`` is a successful deployment to
      ``environment`` at its commit's committer date.
    - ``branch``: each pull request merged into ``branch`` (default: the repository's default branch)
      is a successful deployment to ``environment`` at ``merged_at`` of its merge commit.
    - ``none``: the repository has no deployments here.
    """

    method: Literal["deployments", "releases", "tags", "branch", "none"] = "deployments"
    environments: tuple[str, ...] = ()
    environment: str = "production"
    tag_pattern: str = r"v?\d+(\.\d+)*"
    branch: str | None = None
    include_prereleases: bool = False

    @field_validator("tag_pattern")
    @classmethod
    def _valid_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class GitHubRepository(SettingsModel):
    """One repository with optional overrides."""

    name: str = Field(description="owner/name")
    service: str | None = Field(default=None, description="Service of its deployments (overrides the mapping).")
    branch: str | None = Field(default=None, description="Branch whose commits are collected (default branch).")
    deployments: GitHubDeploymentSettings | None = None

    @field_validator("name")
    @classmethod
    def _owner_name(cls, value: str) -> str:
        if not _REPO.match(value):
            raise ValueError(f"expected owner/name, got {value!r}")
        return value


class Settings(HttpSourceSettings):
    """A GitHub or GitHub Enterprise Server source."""

    kind: Literal["github"] = "github"
    base_url: str = Field(default="https://api.github.com", description="GHES: https://HOST/api/v3")
    repositories: tuple[GitHubRepository, ...] = ()
    organization: str | None = Field(default=None, description="Collect every non-archived repository of it.")
    topic: str | None = Field(default=None, description="With organization: only repositories with this topic.")
    deployments: GitHubDeploymentSettings = Field(default_factory=GitHubDeploymentSettings)
    fetch_reviews: bool = Field(default=True, description="One extra call per pull request for first review.")
    deployment_commits: Literal["graph", "compare"] = Field(
        default="graph", description="compare: list each deployment's commits with the compare API."
    )
    pending_recheck: Duration = Field(
        default=timedelta(days=1), description="Unfinished deployments younger than this are re-read next run."
    )
    api_version: str = "2022-11-28"

    @field_validator("repositories", mode="before")
    @classmethod
    def _names_to_repositories(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _something_to_collect(self) -> Settings:
        if not self.repositories and not self.organization:
            raise ValueError("set `repositories` (owner/name list) or `organization`")
        if self.topic and not self.organization:
            raise ValueError("`topic` filters an `organization`; set one")
        return self

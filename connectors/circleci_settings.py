"""Settings of the CircleCI source (``kind: circleci``); reference in ``docs/sources/circleci.md``."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.deployment_rules import DeploymentRule
from connectors.http.settings import HttpSourceSettings
from connectors.settings import Duration, SettingsModel

#: A project slug: ``vcs/org/repo`` (``gh``, ``bb``, ``github``, ``bitbucket``, ``circleci``...).
SLUG_PATTERN = r"^[A-Za-z0-9_-]+/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$"


class CircleProject(SettingsModel):
    """One project by its slug (``gh/org/repo``), with optional overrides."""

    slug: str = Field(pattern=SLUG_PATTERN, description="Project slug: gh/org/repo, bb/org/repo, circleci/org-id/id.")
    repo: str | None = Field(
        default=None, description="Repository built (default: org/repo of a gh/bb slug, else the VCS URL)."
    )
    service: str | None = Field(default=None, description="Service of its deployments (overrides the mapping).")
    branch: str | None = Field(default=None, description="Only pipelines of this branch (the API's `branch`).")


class Settings(HttpSourceSettings):
    """CircleCI cloud or server, read over API v2 (``token``: a personal API token)."""

    kind: Literal["circleci"] = "circleci"
    base_url: str = Field(default="https://circleci.com/api/v2", description="Server: https://HOST/api/v2")
    projects: tuple[CircleProject, ...] = Field(min_length=1)
    rules: tuple[DeploymentRule, ...] = Field(
        default=(), description="Workflows that are deployments; `name` globs the workflow name."
    )
    job_rules: tuple[DeploymentRule, ...] = Field(
        default=(), description="Jobs that are deployments; `name` globs `workflow / job`. Costs a call per workflow."
    )
    pending_recheck: Duration = Field(
        default=timedelta(days=1), description="Unfinished workflows created within this are re-read next run."
    )

    @field_validator("projects", mode="before")
    @classmethod
    def _slugs_to_projects(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"slug": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _unique_projects(self) -> Settings:
        slugs = [p.slug for p in self.projects]
        if len(slugs) != len(set(slugs)):
            raise ValueError("each project slug may be listed once")
        return self

"""Settings of the GitLab source (``kind: gitlab``); reference in ``docs/sources/gitlab.md``."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from connectors.http.settings import HttpSourceSettings
from connectors.settings import SettingsModel


class ProjectRef(SettingsModel):
    """One GitLab project (numeric id or full path ``group/sub/project``) and, optionally, the service
    its items belong to (overriding the services mapping). Shared by every GitLab-based source."""

    id: str = Field(description="Numeric id or full path.")
    service: str | None = Field(default=None, description="Service of its items (overrides the mapping).")

    @field_validator("id", mode="before")
    @classmethod
    def _to_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value


class GitLabProject(ProjectRef):
    """A project of the ``gitlab`` source, with its optional branch and environment overrides."""

    branch: str | None = Field(default=None, description="Branch whose commits are collected (default branch).")
    environments: tuple[str, ...] | None = Field(default=None, description="Deployment environments to read.")


class Settings(HttpSourceSettings):
    """A gitlab.com or self-managed GitLab source."""

    kind: Literal["gitlab"] = "gitlab"
    api_root_suffix: ClassVar[str] = "/api/v4"
    base_url: str = Field(default="https://gitlab.com", description="Instance root; /api/v4 is added.")
    projects: tuple[GitLabProject, ...] = ()
    group: str | None = Field(default=None, description="Collect every non-archived project of this group.")
    include_subgroups: bool = True
    environments: tuple[str, ...] = Field(default=(), description="Deployment environments (empty: all).")
    deployments: bool = Field(default=True, description="Read the deployments API.")
    fetch_reviews: bool = Field(default=True, description="One extra call per MR for the first review time.")
    deployment_commits: Literal["graph", "compare"] = "graph"

    @field_validator("projects", mode="before")
    @classmethod
    def _ids_to_projects(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"id": item} if isinstance(item, str | int) else item for item in value]
        return value

    @model_validator(mode="after")
    def _something_to_collect(self) -> Settings:
        if not self.projects and not self.group:
            raise ValueError("set `projects` (ids or full paths) or `group`")
        return self

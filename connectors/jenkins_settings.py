"""Settings of the Jenkins source (``kind: jenkins``); reference in ``docs/sources/jenkins.md``."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from connectors.deployment_rules import DeploymentRule, ResultIs
from connectors.http.settings import HttpSourceSettings
from connectors.settings import Duration, SettingsModel


class JenkinsJob(SettingsModel):
    """One job, folder or multibranch pipeline, by its full name (``folder/sub/job``)."""

    path: str = Field(min_length=1, description="Full name: folders separated by '/'.")
    repo: str | None = Field(
        default=None, description="Repository its builds build (default: read from the build's git remote URL)."
    )
    service: str | None = Field(default=None, description="Service of its deployments (overrides the mapping).")

    @field_validator("path")
    @classmethod
    def _no_outer_slashes(cls, value: str) -> str:
        stripped = value.strip("/")
        if not stripped or "//" in stripped:
            raise ValueError(f"expected a job full name such as folder/job, got {value!r}")
        return stripped


class Settings(HttpSourceSettings):
    """A Jenkins controller read over its JSON API (``token`` is the user's API token)."""

    kind: Literal["jenkins"] = "jenkins"
    username: str = Field(min_length=1, description="Jenkins user the API token belongs to (HTTP Basic).")
    jobs: tuple[JenkinsJob, ...] = Field(min_length=1, description="Jobs, folders or multibranch pipelines.")
    rules: tuple[DeploymentRule, ...] = Field(
        default=(), description="Which builds are deployments; `name` globs the job full name."
    )
    unstable_is: ResultIs = Field(
        default="success",
        description="UNSTABLE builds (deployed, then e.g. tests flagged): a successful deployment or a failed attempt.",
    )
    max_depth: int = Field(default=4, ge=0, le=10, description="How deep folders are walked below a listed job.")
    pending_recheck: Duration = Field(
        default=timedelta(days=1), description="Running builds started within this are re-read next run."
    )

    @field_validator("jobs", mode="before")
    @classmethod
    def _names_to_jobs(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"path": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _unique_jobs(self) -> Settings:
        paths = [job.path for job in self.jobs]
        if len(paths) != len(set(paths)):
            raise ValueError("each job may be listed once")
        return self

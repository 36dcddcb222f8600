"""Settings shared by every HTTP source (GitHub, GitLab, ...): transport, paging and incrementality."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator

from connectors.settings import Duration, SourceSettings


class HttpSourceSettings(SourceSettings):
    """Fields every HTTP source has. ``token`` arrives already interpolated from env/file."""

    base_url: str
    token: SecretStr = Field(description="API token (from ${ENV_VAR} or ${file:/path}).")
    per_page: int = Field(default=100, ge=1, le=100, description="Page size asked for.")
    connect_timeout: Duration = Field(default=timedelta(seconds=10), description="TCP/TLS connect timeout.")
    read_timeout: Duration = Field(default=timedelta(seconds=30), description="Per-read timeout.")
    ca_bundle: Path | None = Field(default=None, description="PEM bundle for a private CA (TLS stays on).")
    max_retries: int = Field(default=5, ge=0, le=20, description="Retries of one request before failing.")
    max_rate_limit_wait: Duration = Field(
        default=timedelta(minutes=15), description="Longest rate-limit wait slept through; longer stops the run."
    )
    lookback: Duration = Field(default=timedelta(hours=1), description="Overlap re-read before each watermark.")

    #: A path suffix some users paste with the instance root (``/api/v4``); removed from ``base_url``.
    api_root_suffix: ClassVar[str] = ""

    @field_validator("base_url")
    @classmethod
    def _normalise_base_url(cls, value: str) -> str:
        """No trailing slash, and no API root suffix: sources append their own paths."""
        value = value.rstrip("/")
        return value.removesuffix(cls.api_root_suffix) if cls.api_root_suffix else value

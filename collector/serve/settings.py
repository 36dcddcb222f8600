"""The ``server:`` section of the config: where `serve` listens, its secrets and its webhooks.

Every secret (API token, basic-auth password, webhook secrets) is a ``SecretStr`` whose value comes
from ``${ENV_VAR}`` or ``${file:/path}`` interpolation in the config file, so it never appears in a
``repr``, a log line or an error message. Everything is off by default: the app listens on loopback
without TLS nor basic auth, the push API is disabled until ``api_token`` is set, and a webhook is
disabled (404) until its secret is set.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, SecretStr, model_validator

from connectors.settings import Duration, SettingsModel

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9180
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024


class BasicAuthSettings(SettingsModel):
    """HTTP basic auth for the whole app (except probes, webhooks and the bearer-protected push API)."""

    username: str = Field(min_length=1)
    password: SecretStr


class TlsSettings(SettingsModel):
    """TLS for the whole app: a PEM certificate (chain) and its private key."""

    cert_file: str = Field(min_length=1)
    key_file: str = Field(min_length=1)


class GitHubWebhookSettings(SettingsModel):
    """``POST /webhooks/github``: enabled when ``secret`` is set (the webhook's secret in GitHub).

    ``source`` is the source name recorded on the records; give it the name of your ``github``
    source so that pushed and polled items share their natural keys and never count twice.
    Issues carrying one of ``incident_labels`` are recorded as incidents.
    """

    secret: SecretStr | None = None
    source: str = Field(default="github", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    incident_labels: tuple[str, ...] = ("incident",)


class GitLabWebhookSettings(SettingsModel):
    """``POST /webhooks/gitlab``: enabled when ``token`` is set (the webhook's secret token in GitLab).

    Issues of type ``incident`` or carrying one of ``incident_labels`` are recorded as incidents.
    """

    token: SecretStr | None = None
    source: str = Field(default="gitlab", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    incident_labels: tuple[str, ...] = ("incident",)


class PagerDutyWebhookSettings(SettingsModel):
    """``POST /webhooks/pagerduty`` (v3 webhook subscriptions): enabled when ``secret`` is set.

    ``services`` maps a PagerDuty service (its id or its name) to a configured service; an unmapped
    PagerDuty service whose name is not a configured service gives an incident without a service.
    """

    secret: SecretStr | None = None
    source: str = Field(default="pagerduty", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    services: dict[str, str] = Field(default_factory=dict)


class WebhookSettings(SettingsModel):
    """The three webhook receivers."""

    github: GitHubWebhookSettings = GitHubWebhookSettings()
    gitlab: GitLabWebhookSettings = GitLabWebhookSettings()
    pagerduty: PagerDutyWebhookSettings = PagerDutyWebhookSettings()


class ServerSettings(SettingsModel):
    """How `delivery-metrics serve` runs.

    - ``host``/``port``: where the one app (API, ``/metrics``, webhooks) listens.
    - ``api_token``: bearer token of ``POST /api/v1/events``; unset, the push API answers 403.
    - ``max_body_bytes``: larger request bodies are refused with 413 before being read whole.
    - ``jitter``: each source's runs start up to this much later than its interval says, so that
      replicas and sources do not all hit the APIs at the same instant.
    - ``snapshot_refresh``: how often a replica re-reads the newest snapshot saved by any replica,
      so every replica serves the same metrics.
    - ``shutdown_grace``: how long SIGTERM waits for the page in flight before the process exits
      (an unfinished transaction is rolled back by the database when the connection closes).
    """

    host: str = DEFAULT_HOST
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    api_token: SecretStr | None = None
    basic_auth: BasicAuthSettings | None = None
    tls: TlsSettings | None = None
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    jitter: Duration = timedelta(seconds=30)
    snapshot_refresh: Duration = timedelta(seconds=60)
    shutdown_grace: Duration = timedelta(seconds=5)
    webhooks: WebhookSettings = WebhookSettings()

    @model_validator(mode="after")
    def _positive_periods(self) -> ServerSettings:
        if self.snapshot_refresh.total_seconds() <= 0:
            raise ValueError("snapshot_refresh must be positive")
        return self


def server_settings(config: Any) -> ServerSettings:
    """The ``server`` section of ``config`` (an ``AppConfig``), or the defaults when it has none."""
    value = getattr(config, "server", None)
    return value if isinstance(value, ServerSettings) else ServerSettings()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or name (``127.0.0.0/8``, ``::1``, ``localhost``)."""
    return host == "localhost" or host == "::1" or host.startswith("127.")

"""Everything the HTTP app needs, built once at start and never changed afterwards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from collector.config.model import AppConfig
from collector.serve.settings import ServerSettings, server_settings
from collector.serve.state import StateHolder
from collector.serve.webhooks.base import WebhookReceiver
from collector.serve.webhooks.github import GitHubReceiver
from collector.serve.webhooks.gitlab import GitLabReceiver
from collector.serve.webhooks.pagerduty import PagerDutyReceiver
from collector.service_map import ConfigServiceMapper
from connectors.records import utc_now


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class ServeContext:
    """The store, the config, the state served, and what to call after the app stored events."""

    engine: Engine
    config: AppConfig
    server: ServerSettings
    holder: StateHolder
    receivers: dict[str, WebhookReceiver]
    on_stored: Callable[[], None] = _nothing
    clock: Callable[[], datetime] = field(default=utc_now)


def build_receivers(config: AppConfig, server: ServerSettings) -> dict[str, WebhookReceiver]:
    """The three webhook receivers, keyed by provider."""
    mapper = ConfigServiceMapper(config)
    hooks = server.webhooks
    return {
        "github": GitHubReceiver(hooks.github, mapper),
        "gitlab": GitLabReceiver(hooks.gitlab, mapper),
        "pagerduty": PagerDutyReceiver(hooks.pagerduty, frozenset(s.name for s in config.services)),
    }


def build_context(
    engine: Engine,
    config: AppConfig,
    *,
    server: ServerSettings | None = None,
    holder: StateHolder | None = None,
    on_stored: Callable[[], None] = _nothing,
    clock: Callable[[], datetime] = utc_now,
) -> ServeContext:
    """A context with the config's ``server`` section (or ``server``), and receivers."""
    chosen = server if server is not None else server_settings(config)
    holder = holder if holder is not None else StateHolder(s.name for s in config.sources if s.enabled)
    return ServeContext(
        engine=engine,
        config=config,
        server=chosen,
        holder=holder,
        receivers=build_receivers(config, chosen),
        on_stored=on_stored,
        clock=clock,
    )

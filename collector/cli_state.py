"""State shared by the CLI verbs: the global options, the config loaded once, the store engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import click
from pydantic import BaseModel, SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from collector.config import AppConfig, ConfigError, load_config
from collector.config.model import DatabaseSettings
from collector.logging_setup import configure_logging
from collector.store.engine import create_store_engine, redact_url
from collector.store.schema import SchemaOutOfDateError, require_current_schema


@dataclass
class CliState:
    """Options shared by every verb; the config is loaded on first use."""

    config_path: str | None
    database_url: str | None
    _config: AppConfig | None = field(default=None, repr=False)

    def config(self) -> AppConfig:
        """The validated config; on a problem, print every one and exit 2."""
        if self._config is None:
            try:
                config = load_config(self.config_path)
            except ConfigError as error:
                click.echo(str(error), err=True)
                raise SystemExit(2) from error
            if self.database_url:
                config = config.model_copy(update={"database": DatabaseSettings(url=self.database_url)})
            configure_logging(secrets=collect_secrets(config))
            self._config = config
        return self._config

    def engine(self, *, require_schema: bool = True) -> Engine:
        """An engine on the configured database; refuses an out-of-date schema unless told not to."""
        engine = create_store_engine(self.config().database.url)
        if require_schema:
            try:
                require_current_schema(engine)
            except SchemaOutOfDateError as error:
                click.echo(f"error: {redact_url(self.config().database.url)}: {error}", err=True)
                raise SystemExit(2) from error
        return engine


def collect_secrets(config: AppConfig) -> list[str]:
    """Every secret value in the config (sources, server, database password), for log redaction."""
    secrets: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, SecretStr):
            if value.get_secret_value():
                secrets.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, tuple | list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    walk(config.sources)
    walk(config.server)
    walk(config.digest)
    password = make_url(config.database.url).password
    if password:
        secrets.append(str(password))
    # a webhook URL's secret is its path (and query): HTTP libraries log them apart from the host
    for value in list(secrets):
        parts = urlsplit(value)
        if parts.scheme and parts.netloc and len(parts.path) > 1:
            secrets.extend([parts.path, f"{parts.path}?{parts.query}" if parts.query else parts.path])
    return secrets


pass_state = click.make_pass_decorator(CliState)

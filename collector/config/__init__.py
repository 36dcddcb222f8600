"""Configuration: one YAML file, interpolated from the environment, validated into an immutable model."""

from collector.config.errors import ConfigError, ConfigProblem
from collector.config.loader import DEFAULT_CONFIG_ENV, load_config, load_config_text
from collector.config.model import AppConfig, MetricsSettings, ServiceConfig, TeamConfig

__all__ = [
    "DEFAULT_CONFIG_ENV",
    "AppConfig",
    "ConfigError",
    "ConfigProblem",
    "MetricsSettings",
    "ServiceConfig",
    "TeamConfig",
    "load_config",
    "load_config_text",
]

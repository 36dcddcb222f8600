"""The one HTTP session factory every HTTP source uses.

A session sends a User-Agent naming the product and version, verifies TLS (optionally against a
configured CA bundle), takes proxies from the environment (``HTTPS_PROXY``, ``NO_PROXY``; requests'
``trust_env``), and carries the source's default headers (auth, Accept). Timeouts are not a session
property in ``requests``: :class:`~connectors.http.client.HttpClient` passes
:attr:`SessionConfig.timeout` on every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import requests


def product_version() -> str:
    """The installed version of delivery-metrics (``"0.0.0+unknown"`` when not installed)."""
    try:
        return version("delivery-metrics")
    except PackageNotFoundError:
        return "0.0.0+unknown"


USER_AGENT = f"delivery-metrics/{product_version()} (+https://github.com/delivery-metrics)"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Transport settings of one source: timeouts in seconds, TLS bundle, default headers."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    ca_bundle: Path | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    user_agent: str = USER_AGENT

    @property
    def timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout pair passed to every request."""
        return (self.connect_timeout, self.read_timeout)


def make_session(config: SessionConfig) -> requests.Session:
    """A new session: User-Agent, default headers, TLS verification on, proxies from the environment."""
    session = requests.Session()
    session.trust_env = True
    session.verify = str(config.ca_bundle) if config.ca_bundle else True
    session.headers["User-Agent"] = config.user_agent
    session.headers.update(config.headers)
    return session

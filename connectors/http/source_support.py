"""Pieces shared by the Git-host sources: building the client from settings, raw payload records."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from connectors.http.client import HttpClient
from connectors.http.ratelimit import RateLimitReader
from connectors.http.redaction import Redactor
from connectors.http.retry import RetryPolicy
from connectors.http.session import SessionConfig
from connectors.http.settings import HttpSourceSettings
from connectors.records import RawPayload, utc_now


def client_for(
    settings: HttpSourceSettings,
    *,
    headers: Mapping[str, str],
    rate_limits: RateLimitReader,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> HttpClient:
    """The HTTP client of one source, from its settings (``sleep``/``clock`` injectable for tests)."""
    token = settings.token.get_secret_value()
    retry = RetryPolicy(
        max_attempts=settings.max_retries + 1,
        max_wait=settings.max_rate_limit_wait,
        sleep=sleep or time.sleep,
        clock=clock or utc_now,
    )
    config = SessionConfig(
        connect_timeout=settings.connect_timeout.total_seconds(),
        read_timeout=settings.read_timeout.total_seconds(),
        ca_bundle=settings.ca_bundle,
        headers=dict(headers),
    )
    return HttpClient(
        settings.name,
        config,
        redactor=Redactor.for_secrets([token]),
        retry=retry,
        rate_limits=rate_limits,
    )


def raw_payload(client: HttpClient, kind: str, external_id: str, body: Any, url: str | None) -> RawPayload:
    """A :class:`RawPayload` of an API object, its URL redacted, fetched now."""
    return RawPayload(
        source=client.source,
        kind=kind,
        external_id=external_id,
        fetched_at=client.retry.clock(),
        body=body,
        url=client.redactor.url(url) if url else None,
    )

"""The shared HTTP layer of every HTTP source.

- :mod:`~connectors.http.session`: the session factory (User-Agent, TLS, proxies, timeouts);
- :mod:`~connectors.http.retry`: the retry/backoff policy (injectable sleep, clock, random);
- :mod:`~connectors.http.ratelimit`: rate-limit header readers, each API's reset meaning;
- :mod:`~connectors.http.pagination`: one paginator per mechanism behind one protocol;
- :mod:`~connectors.http.etag`: ETags persisted through cursors;
- :mod:`~connectors.http.redaction`: secrets removed from logs, errors and stored URLs;
- :mod:`~connectors.http.stats`: request statistics per source;
- :mod:`~connectors.http.client`: the client tying them together.
"""

from __future__ import annotations

from connectors.http.client import HttpClient
from connectors.http.etag import EtagStore, credential_identity
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import (
    BodyNextUrlPaginator,
    LinkHeaderPaginator,
    NextPageHeaderPaginator,
    OffsetPaginator,
    Paginator,
    RepeatedPageError,
    TokenPaginator,
    parse_link_header,
)
from connectors.http.ratelimit import (
    GITLAB_RATE_LIMIT,
    GitHubRateLimitReader,
    HeaderRateLimitReader,
    RateLimitReader,
    RateLimitState,
    ResetMeaning,
    parse_reset,
    parse_retry_after,
)
from connectors.http.redaction import Redactor
from connectors.http.retry import RetryPolicy
from connectors.http.session import SessionConfig, make_session
from connectors.http.settings import HttpSourceSettings
from connectors.http.stats import RequestStats, RequestStatsSnapshot

__all__ = [
    "GITLAB_RATE_LIMIT",
    "BodyNextUrlPaginator",
    "EtagStore",
    "GitHubRateLimitReader",
    "HeaderRateLimitReader",
    "HttpClient",
    "HttpSourceSettings",
    "LinkHeaderPaginator",
    "NextPageHeaderPaginator",
    "OffsetPaginator",
    "Page",
    "PageRequest",
    "Paginator",
    "RateLimitReader",
    "RateLimitState",
    "Redactor",
    "RepeatedPageError",
    "RequestStats",
    "RequestStatsSnapshot",
    "ResetMeaning",
    "RetryPolicy",
    "SessionConfig",
    "TokenPaginator",
    "credential_identity",
    "make_session",
    "parse_link_header",
    "parse_reset",
    "parse_retry_after",
]

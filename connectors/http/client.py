"""The HTTP client every HTTP source uses: retries, rate limits, redaction, statistics, JSON pages.

:meth:`HttpClient.get` performs one logical GET (with retries) and returns a
:class:`~connectors.http.page.Page`, or raises :class:`~connectors.errors.SourceError` whose message
names the source, the resource and the page, with every secret redacted.
:meth:`HttpClient.pages` walks a listing with a :class:`~connectors.http.pagination.Paginator`.

Status → action:

======================================  ==============================================================
2xx                                     decode JSON (malformed → ``SourceError``, retriable kind)
304                                     ``Page`` with ``not_modified`` and no body
rate limited (reader says so)           wait until the API's time (or back off) and retry; a wait
                                        longer than ``max_wait`` → ``RateLimitedError``
429, 502, 503, 504, connection errors   back off exponentially with jitter and retry
401, 403 (not rate limited)             fatal: check the token and its scopes
404, 410                                fatal: check the configured repository / project
other 4xx                               fatal; other 5xx: retriable (next run)
======================================  ==============================================================
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any

import requests

from connectors.errors import ErrorKind, RateLimitedError, SourceError
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import Paginator, RepeatedPageError, parse_link_header
from connectors.http.ratelimit import HeaderRateLimitReader, RateLimitReader, RateLimitState
from connectors.http.redaction import Redactor
from connectors.http.retry import RetryPolicy
from connectors.http.session import SessionConfig, make_session
from connectors.http.stats import RequestStats

logger = logging.getLogger(__name__)


class HttpClient:
    """GETs JSON for one source. Not thread-safe; build one per source and run."""

    def __init__(
        self,
        source: str,
        config: SessionConfig,
        *,
        redactor: Redactor,
        retry: RetryPolicy | None = None,
        rate_limits: RateLimitReader | None = None,
        stats: RequestStats | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.source = source
        self.config = config
        self.redactor = redactor
        self.retry = retry or RetryPolicy()
        self.rate_limits: RateLimitReader = rate_limits or HeaderRateLimitReader()
        self.stats = stats or RequestStats(source)
        self.session = session or make_session(config)

    def get(
        self,
        request: PageRequest,
        *,
        resource: str,
        number: int = 1,
        etag: str | None = None,
    ) -> Page:
        """One GET with retries. ``etag`` makes it conditional (``If-None-Match``)."""
        headers = {"If-None-Match": etag} if etag else {}
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.get(
                    request.url, params=request.params, headers=headers, timeout=self.config.timeout
                )
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                # ChunkedEncodingError: the connection broke in the middle of the body
                self.stats.count_error()
                reason = self.redactor.text(f"{type(exc).__name__}: {exc}")
                self._retry_or_fail(attempt, None, resource, request, number, reason)
                continue
            self.stats.count_response(response.status_code)
            now = self.retry.clock()
            state = self.rate_limits.read(response, now)
            self.stats.observe_rate_limit(state.remaining, state.reset_at)
            logger.debug(
                "%s GET %s -> %d (attempt %d, rate-limit remaining %s)",
                self.source,
                self.redactor.url(response.url or request.identity),
                response.status_code,
                attempt,
                state.remaining,
            )
            status = response.status_code
            if status == 304:
                return Page(response.url, status, response.headers, None, number, etag)
            if 200 <= status < 300:
                return self._page(response, resource, number)
            if state.limited or status in self.retry.retry_statuses:
                self._retry_or_fail(attempt, state, resource, request, number, f"HTTP {status}")
                continue
            raise self._status_error(response, resource, number)

    def pages(self, paginator: Paginator, *, resource: str, first_etag: str | None = None) -> Iterator[Page]:
        """Every page of a listing, in order. ``first_etag`` makes the first request conditional."""
        request: PageRequest | None = paginator.first()
        number = 1
        while request is not None:
            page = self.get(request, resource=resource, number=number, etag=first_etag if number == 1 else None)
            yield page
            if page.not_modified:
                return
            try:
                request = paginator.next_request(page)
            except RepeatedPageError as exc:
                raise SourceError(
                    self.source,
                    self.redactor.text(exc),
                    kind=ErrorKind.RETRIABLE,
                    resource=resource,
                    page=self._page_label(number, page.url),
                    hint="the API's pagination loops; report it to the API operator",
                ) from None
            number += 1

    def _page(self, response: requests.Response, resource: str, number: int) -> Page:
        try:
            body: Any = response.json() if response.content.strip() else None
        except ValueError as exc:
            raise SourceError(
                self.source,
                f"malformed JSON in the response ({self.redactor.text(exc)})",
                kind=ErrorKind.RETRIABLE,
                resource=resource,
                page=self._page_label(number, response.url),
                hint="earlier pages are saved; the next run retries from there",
            ) from None
        links = parse_link_header(response.headers.get("Link"))
        return Page(
            response.url, response.status_code, response.headers, body, number, response.headers.get("ETag"), links
        )

    def _retry_or_fail(
        self,
        attempt: int,
        state: RateLimitState | None,
        resource: str,
        request: PageRequest,
        number: int,
        reason: str,
    ) -> None:
        retry_at = state.retry_at if state else None
        wait = self.retry.wait_for(attempt, retry_at)
        if state is not None and state.limited and self.retry.too_long(wait):
            until = retry_at or (self.retry.clock())
            self.stats.rate_limited_until = until.astimezone(UTC)
            logger.warning("%s: rate limited until %s; stopping, progress is saved", self.source, until.isoformat())
            raise RateLimitedError(self.source, until.astimezone(UTC), resource=resource)
        if attempt >= self.retry.max_attempts:
            raise SourceError(
                self.source,
                f"gave up after {attempt} attempts: {reason}",
                kind=ErrorKind.RETRIABLE,
                resource=resource,
                page=self._page_label(number, request.identity),
                hint="the API is unavailable; the next run retries",
            )
        wait = min(wait, self.retry.max_wait.total_seconds())
        self.stats.count_retry()
        logger.info(
            "%s: %s on %s, retrying in %.1fs (attempt %d of %d)",
            self.source,
            reason,
            resource,
            wait,
            attempt,
            self.retry.max_attempts,
        )
        self.retry.sleep(wait)

    def _status_error(self, response: requests.Response, resource: str, number: int) -> SourceError:
        status = response.status_code
        detail = _api_message(response)
        message = f"HTTP {status}" + (f": {self.redactor.text(detail)}" if detail else "")
        kind, hint = ErrorKind.FATAL, None
        if status in (401, 403):
            hint = "check the token, its scopes and its expiry"
        elif status in (404, 410):
            hint = "check the configured repository or project and the token's access to it"
        elif status >= 500:
            kind, hint = ErrorKind.RETRIABLE, "server error; the next run retries"
        return SourceError(
            self.source,
            message,
            kind=kind,
            resource=resource,
            page=self._page_label(number, response.url),
            hint=hint,
            http_status=status,
        )

    def _page_label(self, number: int, url: str | None) -> str:
        return f"{number} ({self.redactor.url(url)})" if url else str(number)


def _api_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, Mapping):
        return str(body.get("message") or body.get("error") or "")[:300]
    return ""

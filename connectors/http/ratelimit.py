"""Rate-limit headers, read with each API's own meaning.

APIs disagree on what a "reset" header holds: GitHub and GitLab send epoch seconds, PagerDuty the
seconds left to wait, Jira an ISO 8601 time, GitLab's ``RateLimit-ResetTime`` an HTTP date. A
:class:`HeaderRateLimitReader` is configured with the header names and a :class:`ResetMeaning`;
:class:`GitHubRateLimitReader` adds GitHub's 403 rules. ``Retry-After`` (seconds or HTTP date)
always wins over a reset header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

import requests


class ResetMeaning(StrEnum):
    """What the value of a reset header means."""

    EPOCH_SECONDS = "epoch_seconds"  # 1658208999
    DELTA_SECONDS = "delta_seconds"  # 37 (seconds from now)
    ISO_TIME = "iso_time"  # 2024-05-01T10:00Z
    HTTP_DATE = "http_date"  # Tue, 05 Jan 2021 11:00:00 GMT


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """What one response says about the rate limit.

    ``limited``: the response is a refusal because of a rate limit (retry later, do not fail).
    ``retry_at``: when the API says a retry may succeed (``None``: it did not say; back off).
    ``remaining`` / ``reset_at``: the quota left and when it refills, when the API reports them.
    """

    limited: bool = False
    retry_at: datetime | None = None
    remaining: int | None = None
    reset_at: datetime | None = None


class RateLimitReader(Protocol):
    """Reads the rate-limit state of one response."""

    def read(self, response: requests.Response, now: datetime) -> RateLimitState:
        """The rate-limit state ``response`` reports, relative to ``now`` (UTC)."""
        ...


def parse_reset(value: str | None, meaning: ResetMeaning, now: datetime) -> datetime | None:
    """The UTC time a reset header value stands for, or ``None`` when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if meaning is ResetMeaning.EPOCH_SECONDS:
            return datetime.fromtimestamp(float(text), tz=UTC)
        if meaning is ResetMeaning.DELTA_SECONDS:
            return now + timedelta(seconds=max(0.0, float(text)))
        if meaning is ResetMeaning.ISO_TIME:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        parsed = parsedate_to_datetime(text)
    except (ValueError, TypeError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """``Retry-After`` as a UTC time: either delta seconds (``"120"``) or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.replace(".", "", 1).isdigit():
        return parse_reset(text, ResetMeaning.DELTA_SECONDS, now)
    return parse_reset(text, ResetMeaning.HTTP_DATE, now)


def _int_header(headers: Mapping[str, str], name: str | None) -> int | None:
    if not name:
        return None
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class HeaderRateLimitReader:
    """A reader configured by header names: the generic case (GitLab, PagerDuty, Jira ...).

    A response is ``limited`` when its status is in ``limited_statuses`` (429 by default, and 503
    when it carries ``Retry-After``). ``retry_at`` comes from ``Retry-After``, else from each
    ``reset_headers`` entry in order.
    """

    remaining_header: str | None = None
    reset_headers: tuple[tuple[str, ResetMeaning], ...] = ()
    limited_statuses: frozenset[int] = frozenset({429})

    def read(self, response: requests.Response, now: datetime) -> RateLimitState:
        """See :class:`RateLimitReader`."""
        headers = response.headers
        remaining = _int_header(headers, self.remaining_header)
        reset_at = None
        for name, meaning in self.reset_headers:
            reset_at = parse_reset(headers.get(name), meaning, now)
            if reset_at is not None:
                break
        retry_after = parse_retry_after(headers.get("Retry-After"), now)
        limited = response.status_code in self.limited_statuses or (
            response.status_code == 503 and retry_after is not None
        )
        retry_at = (retry_after or reset_at) if limited else None
        return RateLimitState(limited=limited, retry_at=retry_at, remaining=remaining, reset_at=reset_at)


#: GitLab: ``RateLimit-Remaining`` on every response; on 429 ``Retry-After`` (seconds), else
#: ``RateLimit-ResetTime`` (HTTP date), else ``RateLimit-Reset`` (epoch seconds).
GITLAB_RATE_LIMIT = HeaderRateLimitReader(
    remaining_header="RateLimit-Remaining",
    reset_headers=(
        ("RateLimit-ResetTime", ResetMeaning.HTTP_DATE),
        ("RateLimit-Reset", ResetMeaning.EPOCH_SECONDS),
    ),
)

#: Wait GitHub asks for on a secondary limit that carries no ``Retry-After`` ("at least one minute").
GITHUB_SECONDARY_WAIT = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class GitHubRateLimitReader:
    """GitHub: ``x-ratelimit-remaining``/``x-ratelimit-reset`` (epoch seconds), ``retry-after``.

    Limited when: 429; or 403 with ``x-ratelimit-remaining: 0`` (primary limit, retry at reset);
    or 403 whose body message mentions a secondary rate limit (retry after ``retry-after``, else
    one minute). Other 403s are permission errors.
    """

    def read(self, response: requests.Response, now: datetime) -> RateLimitState:
        """See :class:`RateLimitReader`."""
        headers = response.headers
        remaining = _int_header(headers, "x-ratelimit-remaining")
        reset_at = parse_reset(headers.get("x-ratelimit-reset"), ResetMeaning.EPOCH_SECONDS, now)
        retry_after = parse_retry_after(headers.get("retry-after"), now)
        status = response.status_code
        if status not in (403, 429):
            return RateLimitState(remaining=remaining, reset_at=reset_at)
        if retry_after is not None:
            return RateLimitState(True, retry_after, remaining, reset_at)
        if remaining == 0 and reset_at is not None:
            return RateLimitState(True, reset_at, remaining, reset_at)
        if _mentions_rate_limit(response):
            return RateLimitState(True, now + GITHUB_SECONDARY_WAIT, remaining, reset_at)
        if status == 429:
            return RateLimitState(True, None, remaining, reset_at)
        return RateLimitState(remaining=remaining, reset_at=reset_at)


def _mentions_rate_limit(response: requests.Response) -> bool:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return "rate limit" in response.text.lower()
    message = body.get("message", "") if isinstance(body, dict) else ""
    return "rate limit" in str(message).lower()

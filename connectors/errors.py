"""The error hierarchy shared by every source.

Messages name the source, the resource, the page when there is one, and what to do about it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class ErrorKind(StrEnum):
    """How the scheduler should treat a source error."""

    RETRIABLE = "retriable"  # transient: the next run may well succeed
    FATAL = "fatal"  # needs a human: bad credentials, missing repository, bad settings
    SKIPPABLE = "skippable"  # one item is bad; the rest of the source can go on


class SourceError(Exception):
    """A failure of one source; it never stops the other sources.

    ``http_status`` is the HTTP status of the API answer that caused it, when there was one.
    """

    def __init__(
        self,
        source: str,
        message: str,
        *,
        kind: ErrorKind = ErrorKind.FATAL,
        resource: str | None = None,
        page: str | None = None,
        hint: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.source = source
        self.http_status = http_status
        self.kind = kind
        self.resource = resource
        self.page = page
        self.hint = hint
        self.detail = message
        parts = [f"source {source!r}"]
        if resource:
            parts.append(f"resource {resource!r}")
        if page:
            parts.append(f"page {page}")
        text = f"{', '.join(parts)}: {message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class RateLimitedError(SourceError):
    """The API asked for a wait longer than the configured maximum; the next run resumes."""

    def __init__(self, source: str, until: datetime, *, resource: str | None = None) -> None:
        self.until = until
        super().__init__(
            source,
            f"rate limited until {until.isoformat()}",
            kind=ErrorKind.RETRIABLE,
            resource=resource,
            hint="progress is saved; the next run resumes",
        )

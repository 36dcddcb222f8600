"""Paginators: one small class per paging mechanism, all sharing :class:`Paginator`.

Protocol: :meth:`~Paginator.first` gives the first request; after each response the traversal calls
:meth:`~Paginator.next_request` with the page, which returns the next request or ``None`` when the
listing is done. Paginators are built fresh for every traversal. Server-given "next" URLs are followed
verbatim (never rebuilt). Asking for a page already requested in this traversal raises
:class:`RepeatedPageError`: a server loop is an error, never an endless loop.

Mechanisms: :class:`LinkHeaderPaginator` (RFC 8288 ``Link: <...>; rel="next"``: GitHub, GitLab
keyset), :class:`NextPageHeaderPaginator` (GitLab ``X-Next-Page``), :class:`BodyNextUrlPaginator`
(Bitbucket ``next``), :class:`TokenPaginator` (Jira ``nextPageToken``), :class:`OffsetPaginator`
(PagerDuty ``offset`` + ``more``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from connectors.http.page import Page, PageRequest


class RepeatedPageError(ValueError):
    """The server pointed at a page already requested in this traversal."""


class Paginator(Protocol):
    """First request, then the next request read from each response, ``None`` when done."""

    def first(self) -> PageRequest:
        """The request of the first page."""
        ...

    def next_request(self, page: Page) -> PageRequest | None:
        """The request after ``page``, or ``None`` when ``page`` was the last one."""
        ...


_LINK_PART = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL = re.compile(r'rel\s*=\s*"?([^";]+)"?', re.IGNORECASE)


def parse_link_header(value: str | None) -> dict[str, str]:
    """``{rel: url}`` from an RFC 8288 ``Link`` header (``{}`` when absent)."""
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK_PART.finditer(value):
        rel = _REL.search(match.group(2) or "")
        if rel:
            for name in rel.group(1).split():
                links.setdefault(name.lower(), match.group(1).strip())
    return links


class _Traversal:
    """Shared bookkeeping: the first request and the set of requests already made."""

    def __init__(self, url: str, params: Mapping[str, str] | None = None) -> None:
        self._first = PageRequest(url, dict(params) if params else None)
        self._seen: set[str] = set()

    def first(self) -> PageRequest:
        self._seen = {self._first.identity}
        return self._first

    def _checked(self, request: PageRequest) -> PageRequest:
        if request.identity in self._seen:
            raise RepeatedPageError(f"the server sent the already requested page {request.url!r} again")
        self._seen.add(request.identity)
        return request


class LinkHeaderPaginator(_Traversal):
    """Follows ``Link: <url>; rel="next"`` verbatim; done when there is no ``next``."""

    def next_request(self, page: Page) -> PageRequest | None:
        url = parse_link_header(page.headers.get("Link")).get("next")
        return self._checked(PageRequest(url)) if url else None


def _with_params(url: str, updates: Mapping[str, str]) -> str:
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in updates]
    pairs.extend(updates.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs), parts.fragment))


class NextPageHeaderPaginator(_Traversal):
    """GitLab offset paging: the next page number is in ``X-Next-Page`` (empty on the last page).

    When a response has no ``X-Next-Page`` header at all (keyset paging, or a proxy dropping it),
    the ``Link rel="next"`` URL is followed instead. Never relies on ``X-Total``/``X-Total-Pages``.
    """

    def next_request(self, page: Page) -> PageRequest | None:
        header = page.headers.get("X-Next-Page")
        if header is None:
            url = parse_link_header(page.headers.get("Link")).get("next")
            return self._checked(PageRequest(url)) if url else None
        if not header.strip():
            return None
        return self._checked(PageRequest(_with_params(page.url, {"page": header.strip()})))


def _dig(body: Any, path: tuple[str, ...]) -> Any:
    value = body
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class BodyNextUrlPaginator(_Traversal):
    """Follows a URL found in the body (``next`` by default); done when absent, null or empty."""

    def __init__(self, url: str, params: Mapping[str, str] | None = None, *, path: tuple[str, ...] = ("next",)) -> None:
        super().__init__(url, params)
        self._path = path

    def next_request(self, page: Page) -> PageRequest | None:
        url = _dig(page.body, self._path)
        return self._checked(PageRequest(str(url))) if url else None


class TokenPaginator(_Traversal):
    """An opaque token from the body sent back as a query parameter.

    Done when the token is absent, null or empty, or when ``last_flag`` (e.g. ``isLast``) is true.
    """

    def __init__(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        cursor_field: str = "nextPageToken",
        cursor_param: str = "nextPageToken",
        last_flag: str | None = "isLast",
    ) -> None:
        super().__init__(url, params)
        self._cursor_field = cursor_field
        self._cursor_param = cursor_param
        self._last_flag = last_flag

    def next_request(self, page: Page) -> PageRequest | None:
        body = page.body if isinstance(page.body, dict) else {}
        if self._last_flag and body.get(self._last_flag) is True:
            return None
        token = body.get(self._cursor_field)
        if not token:
            return None
        params = dict(self._first.params or {})
        params[self._cursor_param] = str(token)
        return self._checked(PageRequest(self._first.url, params))


class OffsetPaginator(_Traversal):
    """``offset`` advanced by ``limit`` while the body says ``more: true`` (PagerDuty)."""

    def __init__(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        limit: int = 100,
        more_field: str = "more",
    ) -> None:
        merged = {**(params or {}), "limit": str(limit), "offset": "0"}
        super().__init__(url, merged)
        self._limit = limit
        self._more_field = more_field
        self._offset = 0

    def next_request(self, page: Page) -> PageRequest | None:
        body = page.body if isinstance(page.body, dict) else {}
        if body.get(self._more_field) is not True:
            return None
        self._offset += self._limit
        params = {**(self._first.params or {}), "offset": str(self._offset)}
        return self._checked(PageRequest(self._first.url, params))

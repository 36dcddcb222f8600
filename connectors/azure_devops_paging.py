"""Paginators of the Azure DevOps REST API (``kind: azure_devops``): the ``x-ms-continuationtoken``
response header, and ``$top``/``$skip`` paging (see :mod:`connectors.azure_devops`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from connectors.http.page import Page, PageRequest
from connectors.http.pagination import RepeatedPageError

__all__ = ["CONTINUATION_HEADER", "ContinuationTokenPaginator", "TopSkipPaginator", "page_params"]

CONTINUATION_HEADER = "x-ms-continuationtoken"


class ContinuationTokenPaginator:
    """The ``x-ms-continuationtoken`` response header sent back as ``continuationToken``; done without it."""

    def __init__(self, url: str, params: Mapping[str, str], *, param: str = "continuationToken") -> None:
        self._first = PageRequest(url, dict(params))
        self._param = param
        self._seen: set[str] = set()

    def first(self) -> PageRequest:
        self._seen = {self._first.identity}
        return self._first

    def next_request(self, page: Page) -> PageRequest | None:
        token = (page.headers.get(CONTINUATION_HEADER) or "").strip()
        if not token:
            return None
        request = PageRequest(self._first.url, {**(self._first.params or {}), self._param: token})
        if request.identity in self._seen:
            raise RepeatedPageError(f"the server sent the continuation token {token!r} again")
        self._seen.add(request.identity)
        return request


class TopSkipPaginator:
    """``$top``/``$skip`` paging over ``{"value": [...]}``: a page shorter than ``$top`` is the last.

    A full page equal to the one before (a server ignoring ``$skip``) raises :class:`RepeatedPageError`.
    """

    def __init__(self, url: str, params: Mapping[str, str], *, top: int, prefix: str = "") -> None:
        self._top_param, self._skip_param = f"{prefix}$top", f"{prefix}$skip"
        self._first = PageRequest(url, {**params, self._top_param: str(top), self._skip_param: "0"})
        self._top = top

    def first(self) -> PageRequest:
        self._previous: list[Any] | None = None
        return self._first

    def next_request(self, page: Page) -> PageRequest | None:
        items = page.body.get("value") or [] if isinstance(page.body, dict) else []
        if len(items) < self._top:
            return None
        if items == getattr(self, "_previous", None):
            raise RepeatedPageError(
                f"the server ignored {self._skip_param}: page {page.url!r} repeats the previous one"
            )
        self._previous = items
        skip = int(dict(page_params(page)).get(self._skip_param, "0")) + self._top
        return PageRequest(self._first.url, {**(self._first.params or {}), self._skip_param: str(skip)})


def page_params(page: Page) -> list[tuple[str, str]]:
    """The query parameters of the URL a page was read from."""
    return parse_qsl(urlsplit(page.url).query, keep_blank_values=True)

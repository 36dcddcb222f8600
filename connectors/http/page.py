"""What a paginator asks for (:class:`PageRequest`) and what the client hands back (:class:`Page`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from requests.structures import CaseInsensitiveDict


@dataclass(frozen=True, slots=True)
class PageRequest:
    """One GET: an absolute URL and optional query parameters (``None`` when the URL has them all)."""

    url: str
    params: Mapping[str, str] | None = None

    @property
    def identity(self) -> str:
        """The URL with its parameters: what a repeated-page check compares."""
        if not self.params:
            return self.url
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}{urlencode(sorted(self.params.items()))}"


@dataclass(frozen=True, slots=True)
class Page:
    """One response. ``body`` is the decoded JSON (``None`` for 304 Not Modified).

    ``url`` is the final URL requested (with its query string, not redacted); ``number`` is the
    1-based position of the page in its listing.
    """

    url: str
    status: int
    headers: CaseInsensitiveDict[str]
    body: Any
    number: int = 1
    etag: str | None = None
    links: Mapping[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        """Whether the server answered 304 to a conditional request."""
        return self.status == 304

    def items(self, key: str | None = None) -> list[Any]:
        """The page's list of items: the body itself, or ``body[key]`` for wrapped pages."""
        if self.body is None:
            return []
        data = self.body[key] if key is not None else self.body
        if not isinstance(data, list):
            raise TypeError(f"expected a JSON list{f' under {key!r}' if key else ''}, got {type(data).__name__}")
        return data

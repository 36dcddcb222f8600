"""Incremental traversals of time-filtered listings, yielding batches with their cursors.

Two shapes, two commit rules (see :mod:`connectors.http.incremental` for watermark definitions):

- :meth:`IncrementalListings.newest_first` (GitHub pulls by ``updated`` desc, deployments,
  commits): walk pages until an item older than ``watermark - lookback``; each page's records are
  a batch; the new watermark and the first page's ETag go in one last batch, after every page is
  stored (a crash mid-listing re-reads it; nothing is skipped). A 304 on the first page ends the
  listing: any new item would have changed the first page.
- :meth:`IncrementalListings.ascending` (``updated_at`` oldest first: GitHub issues ``since``, GitLab
  ``order_by=updated_at&sort=asc&updated_after``): each page's batch carries the watermark reached so
  far (everything older is stored). The first page's ETag is stored only when that page was the
  whole listing and not full, so a 304 proves nothing was added.

Re-anchoring (ascending listings with an ``anchor`` parameter): offset pages of a listing ordered by
update time shift while it is read (an item of an earlier page updated, or leaving the filter, moves
every later item one place back, and the item at the next page boundary would never be returned).
So each next page is asked as the *first* page of the same listing filtered from the update time of
the last item read (both APIs filter "at or after"); items already returned in this walk (same
``id`` and ``updated_at``) are dropped. Everything before that time was read, whatever moved since,
so nothing is skipped. When the last item's time is not after the current anchor (a whole page of
one update time), the server's next offset page of the same anchor is read instead: the anchor or
the page number grows with every request, so the walk cannot loop. Cost: a page after the first
repeats the items of the previous page's last update time (usually one), nothing else. Left: inside
a run of more than a page of items sharing one update time, paging is by offset, so one of them
updated or removed mid-walk can still hide another of them (the look-back may re-read it).

``handle(items, page, listing)`` maps a page's items (in a re-anchored walk, those not returned
before) to records and reports times with :meth:`Listing.see`; unfinished items may call
:meth:`Listing.pin` to hold the watermark at their own time so the next run re-reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from connectors.errors import ErrorKind, SourceError
from connectors.http.client import HttpClient
from connectors.http.etag import EtagStore
from connectors.http.incremental import listing_start, new_watermark, parse_time
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import Paginator, parse_link_header
from connectors.http.settings import HttpSourceSettings
from connectors.records import Batch, CursorKey, Record


@dataclass(slots=True)
class Listing:
    """What one traversal has seen: the newest cursor time and the times of unfinished items."""

    start: datetime
    newest: datetime | None = None
    pinned: list[datetime] = field(default_factory=list)

    def see(self, when: datetime | None) -> None:
        """Record the cursor time of one item."""
        if when is not None and (self.newest is None or when > self.newest):
            self.newest = when

    def pin(self, when: datetime) -> None:
        """Hold the watermark at ``when`` (an item not finished yet)."""
        self.pinned.append(when)


Handler = Callable[[list[dict[str, Any]], Page, Listing], list[Record]]


def is_last_page(page: Page) -> bool:
    """Whether the response says there is no next page (``Link`` or GitLab ``X-Next-Page``)."""
    next_page = page.headers.get("X-Next-Page")
    if next_page is not None and next_page.strip():
        return False
    return "next" not in parse_link_header(page.headers.get("Link"))


class IncrementalListings:
    """Traversals for one source and run (see the module docstring)."""

    def __init__(
        self,
        client: HttpClient,
        cursors: Mapping[CursorKey, str],
        etags: EtagStore,
        *,
        run_started_at: datetime,
        lookback: timedelta,
        history_days: int,
    ) -> None:
        self.client = client
        self.cursors = cursors
        self.etags = etags
        self.run_started_at = run_started_at
        self.lookback = lookback
        self.history_days = history_days

    @classmethod
    def for_run(
        cls,
        client: HttpClient,
        cursors: Mapping[CursorKey, str],
        identity: str,
        settings: HttpSourceSettings,
        run_started_at: datetime,
    ) -> IncrementalListings:
        """The traversals of one run of an HTTP source: its stored cursors and ETags, its look-back
        and history settings, new watermarks capped at ``run_started_at``."""
        return cls(
            client,
            cursors,
            EtagStore(cursors, identity),
            run_started_at=run_started_at,
            lookback=settings.lookback,
            history_days=settings.history_days,
        )

    def _mapped(self, handle: Handler, items: list[Any], page: Page, listing: Listing, resource: str) -> list[Record]:
        """``handle``'s records for one page; a malformed item fails the source naming resource and page.

        Mapping functions raise ``KeyError``, ``ValueError`` or ``TypeError`` naming the field; nothing of
        the page is yielded and its cursor does not move, so the next run re-reads it.
        """
        try:
            return list(handle(items, page, listing))
        except (KeyError, ValueError, TypeError) as error:
            detail = f"missing field {error}" if isinstance(error, KeyError) else str(error)
            raise SourceError(
                self.client.source,
                f"malformed item: {detail}",
                kind=ErrorKind.FATAL,
                resource=resource,
                page=str(page.number),
                hint="the API answered an item this version cannot read; report it with the raw page",
            ) from error

    def start(self, cursor: CursorKey) -> datetime:
        """Where the listing of ``cursor`` starts this run."""
        return listing_start(
            self.cursors.get(cursor),
            run_started_at=self.run_started_at,
            lookback=self.lookback,
            history_days=self.history_days,
        )

    def _watermark(self, cursor: CursorKey, listing: Listing) -> str | None:
        if listing.pinned:
            return new_watermark(None, min(listing.pinned), self.run_started_at)
        return new_watermark(self.cursors.get(cursor), listing.newest, self.run_started_at)

    def newest_first(
        self,
        cursor: CursorKey,
        paginator: Paginator,
        resource: str,
        handle: Handler,
        time_of: Callable[[dict[str, Any]], datetime | None] | None = None,
    ) -> Iterator[Batch]:
        """A newest-first listing; ``time_of`` (when given) stops it below ``watermark - lookback``."""
        listing = Listing(self.start(cursor))
        first = paginator.first()
        etag_key = first.identity
        first_etag: str | None = None
        for page in self.client.pages(
            _Replay(paginator, first), resource=resource, first_etag=self.etags.get(etag_key)
        ):
            if page.not_modified:
                return
            if page.number == 1:
                first_etag = page.etag
            items = page.items()
            fresh = items
            if time_of is not None:
                fresh = [i for i in items if (t := time_of(i)) is None or t >= listing.start]
            records = self._mapped(handle, fresh, page, listing, resource)
            if records:
                yield Batch(records=tuple(records))
            if len(fresh) < len(items):
                break
        cursors: dict[CursorKey, str] = {}
        watermark = self._watermark(cursor, listing)
        if watermark:
            cursors[cursor] = watermark
        if first_etag:
            cursors.update(self.etags.cursor(etag_key, first_etag))
        if cursors:
            yield Batch(cursors=cursors)

    def ascending(
        self,
        cursor: CursorKey,
        paginator: Paginator,
        resource: str,
        handle: Handler,
        page_size: int,
        *,
        anchor: str | None,
    ) -> Iterator[Batch]:
        """An oldest-first listing: each batch advances the watermark to what it stored.

        ``anchor`` names the query parameter filtering on ``updated_at`` ("at or after"), by which the
        listing is re-anchored page after page (see the module docstring); ``None`` keeps plain offset
        paging (for a listing without such a filter)."""
        listing = Listing(self.start(cursor))
        first = paginator.first()
        etag_key = first.identity
        walk = _Reanchored(paginator, first, anchor, listing.start)
        for page in self.client.pages(walk, resource=resource, first_etag=self.etags.get(etag_key)):
            if page.not_modified:
                return
            items = page.items()
            records = self._mapped(handle, walk.unseen(items), page, listing, resource)
            cursors: dict[CursorKey, str] = {}
            watermark = self._watermark(cursor, listing)
            if watermark:
                cursors[cursor] = watermark
            if page.number == 1 and page.etag and len(items) < page_size and is_last_page(page):
                cursors.update(self.etags.cursor(etag_key, page.etag))
            if records or cursors:
                yield Batch(records=tuple(records), cursors=cursors)


class _Reanchored:
    """The pages of an oldest-first walk, re-anchored at the last item's ``updated_at`` (module docstring).

    Without an anchor parameter it is the plain paginator and drops nothing."""

    def __init__(self, inner: Paginator, first: PageRequest, param: str | None, start: datetime) -> None:
        self._inner = inner
        self._first = first
        self._param = param
        self._anchor = start
        self._seen: set[tuple[str, str]] = set()

    def first(self) -> PageRequest:
        return self._first

    def unseen(self, items: list[Any]) -> list[Any]:
        """``items`` not returned before in this walk with the same ``id`` and ``updated_at``."""
        if self._param is None:
            return items
        fresh: list[Any] = []
        for item in items:
            key = (str(_field(item, "id")), str(_field(item, "updated_at")))
            if _field(item, "id") is None or key not in self._seen:
                self._seen.add(key)
                fresh.append(item)
        return fresh

    def next_request(self, page: Page) -> PageRequest | None:
        """``None`` when the server has no next page; else the listing from the last item's time, or the
        next offset page when that time is not after the current anchor."""
        following = self._inner.next_request(page)
        items = page.items()
        if following is None or self._param is None or not items:
            return following
        last = _field(items[-1], "updated_at")
        when = parse_time(last) if isinstance(last, str) else None
        if when is None or when <= self._anchor:
            return following
        self._anchor = when
        return PageRequest(self._first.url, {**(self._first.params or {}), self._param: str(last)})


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else None


class _Replay:
    """A paginator whose first request was already taken (to compute the ETag key)."""

    def __init__(self, inner: Paginator, first: PageRequest) -> None:
        self._inner = inner
        self._first = first

    def first(self) -> PageRequest:
        return self._first

    def next_request(self, page: Page) -> PageRequest | None:
        return self._inner.next_request(page)

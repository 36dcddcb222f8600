"""Gitea / Forgejo source (``kind: gitea``), over API v1 (Forgejo keeps the same API).

API: ``{base_url}/api/v1``, ``Authorization: token <token>`` (an access token with read scopes
on repositories). Paging: ``page`` + ``limit``; the server silently clamps ``limit`` to its
``MAX_RESPONSE_ITEMS`` (50 by default), so **a page shorter than asked is not the last page**
(:class:`GiteaPagePaginator` follows ``Link rel="next"``, else ``X-Total-Count``, else stops only
on an empty page). Rate limits: none by default; a 429 is retried with backoff.

Incremental (watermark cursors, re-read with ``lookback``): pull requests newest updated first
(``state=all&sort=recentupdate``), default-branch commits newest first, releases newest first:
each listing stops at the first item older than ``watermark - lookback``; tags have no date in the
listing order, so every tag page is read and only tags at or after the start are emitted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from connectors.base import SourceContext
from connectors.errors import SourceError
from connectors.gitea_mapping import (
    commit_from_api,
    pull_request_records,
    release_deployment,
    release_is_deployment,
    sha_of_tag,
    tag_deployment,
)
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver, repository_services
from connectors.http.etag import credential_identity
from connectors.http.incremental import parse_time
from connectors.http.listings import Handler, IncrementalListings, Listing
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import parse_link_header
from connectors.http.ratelimit import HeaderRateLimitReader
from connectors.http.settings import HttpSourceSettings
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.rebuild_support import by_external_id, of_kind, partition_of, stored_companion
from connectors.records import Batch, CursorKey, RawPayload, Record
from connectors.settings import SettingsModel

__all__ = ["GiteaPagePaginator", "GiteaSource", "Settings", "build_source", "records_from_payloads"]


logger = logging.getLogger(__name__)


class GiteaRepository(SettingsModel):
    """One repository ``owner/name`` with optional overrides."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="owner/name")
    service: str | None = Field(default=None, description="Service of its deployments (overrides the mapping).")
    branch: str | None = Field(default=None, description="Branch whose commits are collected (default branch).")


class Settings(HttpSourceSettings):
    """A Gitea or Forgejo instance (including Codeberg)."""

    kind: Literal["gitea"] = "gitea"
    api_root_suffix: ClassVar[str] = "/api/v1"
    base_url: str = Field(description="Instance root, e.g. https://codeberg.org; /api/v1 is added.")
    repositories: tuple[GiteaRepository, ...] = Field(min_length=1)
    deployments: Literal["releases", "tags", "none"] = Field(default="releases", description="What a deployment is.")
    environment: str = Field(default="production", description="Environment of release/tag deployments.")
    include_prereleases: bool = False
    tag_pattern: str = Field(default=r"v?\d+(\.\d+)*", description="Tags (full match) that are deployments.")
    fetch_reviews: bool = Field(default=True, description="One extra listing per pull request for first review.")

    @field_validator("repositories", mode="before")
    @classmethod
    def _names_to_repositories(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("tag_pattern")
    @classmethod
    def _valid_pattern(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class GiteaPagePaginator:
    """``page``/``limit`` paging where a short page is not the last (see the module docstring)."""

    def __init__(self, url: str, params: Mapping[str, str], limit: int) -> None:
        self._url = url
        self._params = {**params, "limit": str(limit)}
        self._page = 1
        self._count = 0
        self._seen: set[str] = set()
        self._previous: Any = None

    def first(self) -> PageRequest:
        """Page 1 (resets the traversal)."""
        self._page, self._count, self._previous = 1, 0, None
        request = PageRequest(self._url, {**self._params, "page": "1"})
        self._seen = {request.identity}
        return request

    def next_request(self, page: Page) -> PageRequest | None:
        """``Link`` next, else the next page number while ``X-Total-Count`` is not reached / items come."""
        items = page.items()
        self._count += len(items)
        if not items:
            return None
        if items == self._previous:
            logger.warning("Gitea returned the same page twice at %s (page ignored?); listing done", page.url)
            return None
        self._previous = items
        links = parse_link_header(page.headers.get("Link"))
        if "next" in links:
            request = PageRequest(links["next"])
        else:
            total = page.headers.get("X-Total-Count")
            if total is not None and total.strip().isdigit():
                if self._count >= int(total):
                    return None
            elif page.headers.get("Link") is not None:
                return None  # a Link header without next: the server says this is the last page
            self._page += 1
            request = PageRequest(self._url, {**self._params, "page": str(self._page)})
        if request.identity in self._seen:
            logger.warning("Gitea sent an already requested page %s; treating the listing as done", request.url)
            return None
        self._seen.add(request.identity)
        return request


class GiteaSource:
    """Yields commits, pull requests and release/tag deployments of the configured repositories."""

    def __init__(
        self,
        settings: Settings,
        context: SourceContext,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.context = context
        token = settings.token.get_secret_value()
        self.client: HttpClient = client_for(
            settings,
            headers={"Authorization": f"token {token}"},
            rate_limits=HeaderRateLimitReader(),
            sleep=sleep,
            clock=clock,
        )
        self._identity = credential_identity(token)
        overrides = repository_services(settings.repositories)
        self._services = ServiceResolver(settings.name, context.services, overrides)
        self._listings: IncrementalListings

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per repository: default-branch commits, pull requests, then release or tag deployments."""
        self._listings = IncrementalListings.for_run(
            self.client, dict(cursors), self._identity, self.settings, self.context.run_started_at
        )
        for repo in self.settings.repositories:
            branch = repo.branch or self._default_branch(repo.name)
            yield from self._commits(repo.name, branch)
            yield from self._pulls(repo.name)
            if self.settings.deployments == "releases":
                yield from self._releases(repo.name)
            elif self.settings.deployments == "tags":
                yield from self._tags(repo.name)

    def _url(self, repo: str, path: str = "") -> str:
        return f"{self.settings.base_url}/api/v1/repos/{repo}{path}"

    def _pager(self, url: str, params: Mapping[str, str] | None = None) -> GiteaPagePaginator:
        return GiteaPagePaginator(url, params or {}, self.settings.per_page)

    def _default_branch(self, repo: str) -> str:
        body = self.client.get(PageRequest(self._url(repo)), resource=f"repos/{repo}").body
        return str(body.get("default_branch") or "main")

    def _all(self, url: str, resource: str) -> list[Any]:
        return [i for page in self.client.pages(self._pager(url), resource=resource) for i in page.items()]

    def _raw(self, kind: str, external_id: str, body: Any, url: str | None) -> Record:
        return raw_payload(self.client, kind, external_id, body, url)

    def _checked(self, resource: str, handle: Handler) -> Handler:
        """``handle`` with a malformed item (a mapping's ``KeyError``/``ValueError``/``TypeError``)
        failing the source, naming resource and page; nothing of that page is yielded."""

        def checked(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            try:
                return handle(items, page, listing)
            except (KeyError, ValueError, TypeError) as error:
                raise SourceError(
                    self.name,
                    f"malformed item: {type(error).__name__}: {error}",
                    resource=resource,
                    page=str(page.number),
                    hint="nothing of this page was stored; the next run retries it",
                ) from error

        return checked

    def _commits(self, repo: str, branch: str) -> Iterator[Batch]:
        cursor = CursorKey("commits", f"{repo}@{branch}")
        params = {"sha": branch, "stat": "false", "verification": "false", "files": "false"}

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                commit = commit_from_api(self.name, repo, item)
                listing.see(commit.committed_at or commit.authored_at)
                records += [commit, self._raw("gitea.commit", commit.external_id, item, page.url)]
            return records

        def committed(item: dict[str, Any]) -> datetime | None:
            commit = item.get("commit") or {}
            return parse_time((commit.get("committer") or {}).get("date") or (commit.get("author") or {}).get("date"))

        paginator = self._pager(self._url(repo, "/commits"), params)
        yield from self._listings.newest_first(
            cursor, paginator, f"repos/{repo}/commits", self._checked(f"repos/{repo}/commits", handle), committed
        )

    def _pulls(self, repo: str) -> Iterator[Batch]:
        cursor = CursorKey("pull_requests", repo)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                listing.see(parse_time(item.get("updated_at")))
                base = self._url(repo, f"/pulls/{item['number']}")
                raw_commits = self._all(f"{base}/commits", f"repos/{repo}/pulls/commits")
                reviews = None
                if self.settings.fetch_reviews:
                    reviews = self._all(f"{base}/reviews", f"repos/{repo}/pulls/reviews")
                    records.append(self._raw("gitea.pull_reviews", f"{repo}#{item['number']}", reviews, None))
                commits, pr = pull_request_records(self.name, repo, item, raw_commits, reviews)
                records += commits
                records += [self._raw("gitea.commit", f"{repo}@{c['sha']}", c, None) for c in raw_commits]
                records += [
                    pr,
                    self._raw("gitea.pull_request", pr.external_id, item, page.url),
                    self._raw("gitea.pull_request_commits", pr.external_id, raw_commits, None),
                ]
            return records

        paginator = self._pager(self._url(repo, "/pulls"), {"state": "all", "sort": "recentupdate"})
        yield from self._listings.newest_first(
            cursor,
            paginator,
            f"repos/{repo}/pulls",
            self._checked(f"repos/{repo}/pulls", handle),
            lambda i: parse_time(i.get("updated_at")),
        )

    def _releases(self, repo: str) -> Iterator[Batch]:
        cursor = CursorKey("releases", repo)
        service = self._services.service(repo)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                external_id = f"{repo}/releases/{item['id']}"
                records.append(self._raw("gitea.release", external_id, item, page.url))
                if not release_is_deployment(item, self.settings.include_prereleases):
                    continue
                listing.see(parse_time(item.get("published_at")) or parse_time(item.get("created_at")))
                tag = self.client.get(
                    PageRequest(self._url(repo, f"/tags/{quote(str(item['tag_name']), safe='')}")),
                    resource=f"repos/{repo}/tags",
                ).body
                records.append(self._raw("gitea.release_tag", external_id, tag, None))
                env = self.settings.environment
                records.append(release_deployment(self.name, repo, service, env, item, sha_of_tag(tag)))
            return records

        def released(item: dict[str, Any]) -> datetime | None:
            return parse_time(item.get("published_at")) or parse_time(item.get("created_at"))

        paginator = self._pager(self._url(repo, "/releases"), {"draft": "false"})
        yield from self._listings.newest_first(
            cursor, paginator, f"repos/{repo}/releases", self._checked(f"repos/{repo}/releases", handle), released
        )

    def _tags(self, repo: str) -> Iterator[Batch]:
        cursor = CursorKey("tags", repo)
        service = self._services.service(repo)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                if not tag_is_deployment(item, self.settings.tag_pattern):
                    continue
                deployment = tag_deployment(self.name, repo, service, self.settings.environment, item)
                if deployment.finished_at is None or deployment.finished_at < listing.start:
                    continue
                listing.see(deployment.finished_at)
                records += [deployment, self._raw("gitea.tag", deployment.external_id, item, page.url)]
            return records

        # no time_of: tags are not listed by date, so every page is read and filtered in ``handle``
        yield from self._listings.newest_first(
            cursor,
            self._pager(self._url(repo, "/tags")),
            f"repos/{repo}/tags",
            self._checked(f"repos/{repo}/tags", handle),
        )


def tag_is_deployment(item: Mapping[str, Any], tag_pattern: str) -> bool:
    """Whether a tag's name fully matches the deployment tag pattern."""
    return re.fullmatch(tag_pattern, str(item.get("name"))) is not None


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The commits, pull requests and deployments a sync would write for the stored payloads (see
    ``connectors.rebuild_support``): ``gitea.commit``, ``gitea.pull_request`` with
    ``gitea.pull_request_commits`` and ``gitea.pull_reviews``, ``gitea.release`` with ``gitea.release_tag``
    (only when ``deployments: releases``), ``gitea.tag`` (only when ``deployments: tags``)."""
    name = settings.name
    overrides = repository_services(settings.repositories)
    services = ServiceResolver(name, context.services, overrides)
    records: list[Record] = [
        commit_from_api(name, partition_of(p.external_id, "@"), p.body) for p in of_kind(payloads, "gitea.commit")
    ]
    lists = by_external_id(payloads, "gitea.pull_request_commits")
    reviews = by_external_id(payloads, "gitea.pull_reviews")
    for payload in of_kind(payloads, "gitea.pull_request"):
        repo = partition_of(payload.external_id, "#")
        listed = stored_companion(lists, payload.external_id, "its commit list")
        read = stored_companion(reviews, payload.external_id, "its reviews").body if settings.fetch_reviews else None
        records.append(pull_request_records(name, repo, payload.body, listed.body, read)[1])
    tags = by_external_id(payloads, "gitea.release_tag")
    for payload in of_kind(payloads, "gitea.release"):
        if settings.deployments != "releases" or not release_is_deployment(payload.body, settings.include_prereleases):
            continue
        repo = partition_of(payload.external_id, "/releases/")
        sha = sha_of_tag(stored_companion(tags, payload.external_id, "the tag of the release").body)
        records.append(release_deployment(name, repo, services.service(repo), settings.environment, payload.body, sha))
    for payload in of_kind(payloads, "gitea.tag"):
        if settings.deployments != "tags" or not tag_is_deployment(payload.body, settings.tag_pattern):
            continue
        repo = "/".join(payload.external_id.split("/", 2)[:2])  # owner/name: a tag name may hold "/"
        records.append(tag_deployment(name, repo, services.service(repo), settings.environment, payload.body))
    return records


def build_source(settings: Settings, context: SourceContext) -> GiteaSource:
    """The Gitea / Forgejo source for ``settings`` in this run."""
    return GiteaSource(settings, context)

"""Bitbucket Cloud source (``kind: bitbucket``), over REST 2.0.

API: ``https://api.bitbucket.org/2.0``. Auth: an Atlassian API token with Basic ``email:token``
(``email`` set), or a repository/project/workspace access token as ``Bearer`` (``email`` unset).
App passwords are gone (no new ones since 2025-09-09, none work after 2026-06-09).

Paging: every listing is an envelope ``{"values", "next", "page", "pagelen", "size"}``; the
``next`` URL is followed verbatim, but not trusted blindly (:class:`BitbucketNextPaginator`): a page
with no ``values`` ends the listing whatever its ``next`` says, so does reaching ``size`` items, and
a ``next`` already requested ends it with a warning instead of looping. ``pagelen`` is at most 50
for pull requests, 100 elsewhere. Rate limits: HTTP 429 (usually without ``Retry-After``): back off.

Incremental (watermark cursors, re-read with ``lookback``): pull requests by ``updated_on``
(``q=updated_on>=...&sort=-updated_on``), default-branch commits (newest first, stop below the
start), pipelines (``sort=-created_on``; an unfinished pipeline holds the watermark at its creation
so it is re-read), environment deployments (the API has no filter or documented order, so every page
is read; only items at or after the start are emitted; an in-progress one holds the watermark).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from connectors.base import SourceContext
from connectors.bitbucket_mapping import (
    commit_from_api,
    deployment_time,
    environment_deployment_from_api,
    environment_names,
    merge_hash_to_resolve,
    pipeline_deployments,
    pipeline_run_from_api,
    pull_request_records,
    resolved_merge_sha,
    run_result,
)
from connectors.bitbucket_rebuild import records_from_payloads
from connectors.bitbucket_settings import PULL_REQUEST_MAX_PAGELEN, BitbucketRepository, Settings
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver, repository_services
from connectors.http.incremental import listing_start, new_watermark, parse_time
from connectors.http.listings import Listing
from connectors.http.page import Page, PageRequest
from connectors.http.ratelimit import HeaderRateLimitReader
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.records import Batch, CursorKey, Record

__all__ = [
    "BitbucketNextPaginator",
    "BitbucketSource",
    "Settings",
    "build_source",
    "records_from_payloads",
    "values_of",
]


logger = logging.getLogger(__name__)

Handler = Callable[[list[dict[str, Any]], Page, Listing], list[Record]]


def values_of(page: Page) -> list[dict[str, Any]]:
    """The ``values`` of an envelope page (``[]`` for an empty body such as ``{}``)."""
    body = page.body if isinstance(page.body, Mapping) else {}
    values = body.get("values") or []
    if not isinstance(values, list):
        raise TypeError(f"expected a JSON list under 'values', got {type(values).__name__}")
    return values


class BitbucketNextPaginator:
    """Bitbucket body ``next`` paging that does not trust ``next`` blindly (see the module docstring)."""

    def __init__(self, url: str, params: Mapping[str, str] | None = None) -> None:
        self._first = PageRequest(url, dict(params) if params else None)
        self._seen: set[str] = set()
        self._count = 0

    def first(self) -> PageRequest:
        """The first request (resets the traversal)."""
        self._seen = {self._first.identity}
        self._count = 0
        return self._first

    def next_request(self, page: Page) -> PageRequest | None:
        """The ``next`` URL, or ``None`` on an empty page, after ``size`` items, or on a repeated URL."""
        values = values_of(page)
        self._count += len(values)
        body = page.body if isinstance(page.body, Mapping) else {}
        url = body.get("next")
        if not values or not url:
            return None
        size = body.get("size")
        if isinstance(size, int) and self._count >= size:
            return None
        request = PageRequest(str(url))
        if request.identity in self._seen:
            logger.warning("Bitbucket sent an already requested next page %s; treating the listing as done", url)
            return None
        self._seen.add(request.identity)
        return request


@dataclass(frozen=True, slots=True)
class RepoPlan:
    """What to collect for one repository in this run."""

    name: str
    branch: str


class BitbucketSource:
    """Yields commits, pull requests, pipeline runs and deployments of the configured repositories."""

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
        self.client: HttpClient = client_for(
            settings, headers=_auth_headers(settings), rate_limits=HeaderRateLimitReader(), sleep=sleep, clock=clock
        )
        overrides = repository_services(settings.repositories)
        self._services = ServiceResolver(settings.name, context.services, overrides)
        self._cursors: Mapping[CursorKey, str] = {}

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per repository: main-branch commits, pull requests, pipelines, environment deployments."""
        self._cursors = dict(cursors)
        for repo in self.settings.repositories:
            plan = self._plan(repo)
            yield from self._commits(plan)
            yield from self._pull_requests(plan)
            if self.settings.pipelines:
                yield from self._pipelines(plan)
            if self.settings.environment_deployments:
                yield from self._environment_deployments(plan)

    # --- plumbing -----------------------------------------------------------------------------

    def _url(self, repo: str, path: str = "") -> str:
        return f"{self.settings.base_url}/repositories/{repo}{path}"

    def _plan(self, repo: BitbucketRepository) -> RepoPlan:
        if repo.branch:
            return RepoPlan(repo.name, repo.branch)
        body = self.client.get(PageRequest(self._url(repo.name)), resource=f"repositories/{repo.name}").body
        return RepoPlan(repo.name, str((body.get("mainbranch") or {}).get("name") or "main"))

    def _all(self, url: str, resource: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        paginator = BitbucketNextPaginator(url, {"pagelen": "100", **(params or {})})
        return [item for page in self.client.pages(paginator, resource=resource) for item in values_of(page)]

    def _listing(
        self,
        cursor: CursorKey,
        paginator: BitbucketNextPaginator,
        resource: str,
        handle: Handler,
        time_of: Callable[[dict[str, Any]], datetime | None],
        *,
        ordered: bool = True,
    ) -> Iterator[Batch]:
        """A newest-first listing (``ordered``: stop at the first item below the start); each page's
        records are one batch; the new watermark is stored in a last batch after every page."""
        listing = Listing(
            listing_start(
                self._cursors.get(cursor),
                run_started_at=self.context.run_started_at,
                lookback=self.settings.lookback,
                history_days=self.settings.history_days,
            )
        )
        for page in self.client.pages(paginator, resource=resource):
            items = values_of(page)
            fresh = [i for i in items if (t := time_of(i)) is None or t >= listing.start]
            records = handle(fresh, page, listing)
            if records:
                yield Batch(records=tuple(records))
            if ordered and len(fresh) < len(items):
                break
        if listing.pinned:
            watermark = new_watermark(None, min(listing.pinned), self.context.run_started_at)
        else:
            watermark = new_watermark(self._cursors.get(cursor), listing.newest, self.context.run_started_at)
        if watermark:
            yield Batch(cursors={cursor: watermark})

    def _raw(self, kind: str, external_id: str, body: Any, url: str | None) -> Record:
        return raw_payload(self.client, kind, external_id, body, url)

    # --- commits ------------------------------------------------------------------------------

    def _commits(self, plan: RepoPlan) -> Iterator[Batch]:
        cursor = CursorKey("commits", f"{plan.name}@{plan.branch}")
        url = self._url(plan.name, f"/commits/{quote(plan.branch, safe='')}")
        paginator = BitbucketNextPaginator(url, {"pagelen": str(self.settings.per_page)})

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                commit = commit_from_api(self.name, plan.name, item)
                listing.see(commit.authored_at)
                records += [commit, self._raw("bitbucket.commit", commit.external_id, item, page.url)]
            return records

        resource = f"repositories/{plan.name}/commits"
        yield from self._listing(cursor, paginator, resource, handle, lambda i: parse_time(i.get("date")))

    # --- pull requests ------------------------------------------------------------------------

    def _pull_requests(self, plan: RepoPlan) -> Iterator[Batch]:
        cursor = CursorKey("pull_requests", plan.name)
        start = listing_start(
            self._cursors.get(cursor),
            run_started_at=self.context.run_started_at,
            lookback=self.settings.lookback,
            history_days=self.settings.history_days,
        )
        params = {
            "state": "OPEN",  # repeated below: requests sends a list as repeated parameters
            "sort": "-updated_on",
            "q": f"updated_on >= {start.isoformat()}",
            "pagelen": str(min(self.settings.per_page, PULL_REQUEST_MAX_PAGELEN)),
        }
        url = self._url(plan.name, "/pullrequests?state=MERGED&state=DECLINED&state=SUPERSEDED")
        paginator = BitbucketNextPaginator(url, params)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                listing.see(parse_time(item.get("updated_on")))
                records += self._pull_request(plan, item, page.url)
            return records

        resource = f"repositories/{plan.name}/pullrequests"
        yield from self._listing(cursor, paginator, resource, handle, lambda i: parse_time(i.get("updated_on")))

    def _pull_request(self, plan: RepoPlan, item: Mapping[str, Any], url: str) -> list[Record]:
        number = int(item["id"])
        base = self._url(plan.name, f"/pullrequests/{number}")
        external_id = f"{plan.name}#{number}"
        raw_commits = self._all(f"{base}/commits", f"repositories/{plan.name}/pullrequests/commits")
        raw_commits.reverse()  # listed newest first; stored oldest first
        records: list[Record] = [self._raw("bitbucket.pullrequest_commits", external_id, raw_commits, None)]
        raw_activity = None
        if self.settings.fetch_activity:
            raw_activity = self._all(f"{base}/activity", f"repositories/{plan.name}/pullrequests/activity")
            records.append(self._raw("bitbucket.pullrequest_activity", external_id, raw_activity, None))
        merge_sha = None
        short = merge_hash_to_resolve(item, self.settings.resolve_merge_sha)
        if short:
            body = self.client.get(
                PageRequest(self._url(plan.name, f"/commit/{short}")), resource=f"repositories/{plan.name}/commit"
            ).body
            records.append(self._raw("bitbucket.merge_commit", external_id, body, None))
            merge_sha = resolved_merge_sha(body, short)
        commits, pr = pull_request_records(self.name, plan.name, item, raw_commits, raw_activity, merge_sha)
        records += commits
        records += [
            self._raw("bitbucket.commit", c.external_id, r, None) for c, r in zip(commits, raw_commits, strict=True)
        ]
        return [*records, pr, self._raw("bitbucket.pullrequest", pr.external_id, item, url)]

    # --- pipelines ----------------------------------------------------------------------------

    def _pipelines(self, plan: RepoPlan) -> Iterator[Batch]:
        cursor = CursorKey("pipelines", plan.name)
        params = {"sort": "-created_on", "pagelen": str(self.settings.per_page)}
        paginator = BitbucketNextPaginator(self._url(plan.name, "/pipelines"), params)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                run = pipeline_run_from_api(self.name, plan.name, item)
                _, finished = run_result(item)
                listing.see(run.created_at)
                if not finished:
                    listing.pin(run.created_at)
                records += [run, self._raw("bitbucket.pipeline", run.external_id, item, page.url)]
                records += self._rule_deployments(plan, item)
            return records

        resource = f"repositories/{plan.name}/pipelines"
        yield from self._listing(cursor, paginator, resource, handle, lambda i: parse_time(i.get("created_on")))

    def _rule_deployments(self, plan: RepoPlan, pipeline: Mapping[str, Any]) -> list[Record]:
        rules = self.settings.deployment_rules
        if not rules:
            return []
        service_of = self._services.service
        if not self.settings.match_steps:
            return list(pipeline_deployments(self.name, plan.name, pipeline, rules, service_of, None))
        pipeline_id = f"{plan.name}/pipelines/{pipeline['uuid']}"
        url = self._url(plan.name, f"/pipelines/{quote(str(pipeline['uuid']), safe='')}/steps")
        steps = self._all(url, f"repositories/{plan.name}/pipelines/steps")
        records: list[Record] = [self._raw("bitbucket.pipeline_steps", pipeline_id, steps, None)]
        return [*records, *pipeline_deployments(self.name, plan.name, pipeline, rules, service_of, steps)]

    # --- environment deployments --------------------------------------------------------------

    def _environment_deployments(self, plan: RepoPlan) -> Iterator[Batch]:
        listed = self._all(self._url(plan.name, "/environments"), f"repositories/{plan.name}/environments")
        yield Batch(records=(self._raw("bitbucket.environments", plan.name, listed, None),))
        environments = environment_names(listed)
        cursor = CursorKey("deployments", plan.name)
        paginator = BitbucketNextPaginator(self._url(plan.name, "/deployments"), {"pagelen": "100"})
        service = self._services.service(plan.name)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                env_uuid = str((item.get("environment") or {}).get("uuid"))
                environment = environments.get(env_uuid)
                external_id = f"{plan.name}/deployments/{item['uuid']}"
                records.append(self._raw("bitbucket.deployment", external_id, item, page.url))
                if environment is None:
                    logger.warning("%s: deployment %s names unknown environment %s", self.name, external_id, env_uuid)
                    continue
                deployment = environment_deployment_from_api(self.name, plan.name, service, environment, item)
                if deployment is None:
                    continue
                when = deployment_time(item)
                listing.see(when)
                if deployment.finished_at is None and when is not None:
                    listing.pin(when)
                records.append(deployment)
            return records

        resource = f"repositories/{plan.name}/deployments"
        yield from self._listing(cursor, paginator, resource, handle, deployment_time, ordered=False)


def _auth_headers(settings: Settings) -> dict[str, str]:
    token = settings.token.get_secret_value()
    if settings.email:
        basic = base64.b64encode(f"{settings.email}:{token}".encode()).decode()
        return {"Authorization": f"Basic {basic}"}
    return {"Authorization": f"Bearer {token}"}


def build_source(settings: Settings, context: SourceContext) -> BitbucketSource:
    """The Bitbucket Cloud source for ``settings`` in this run."""
    return BitbucketSource(settings, context)

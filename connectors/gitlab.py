"""GitLab source (``kind: gitlab``): gitlab.com or self-managed, over REST v4.

API: ``{base_url}/api/v4``, ``Authorization: Bearer <token>`` (personal, project, group or OAuth
token). Offset paging with ``X-Next-Page`` (empty on the last page; ``X-Total*`` never relied on),
keyset paging through ``Link rel="next"`` when no ``X-Next-Page`` is sent. Rate limits:
``RateLimit-Remaining``; on 429 ``Retry-After`` (seconds), ``RateLimit-ResetTime`` (HTTP date),
``RateLimit-Reset`` (epoch seconds). Project ids may be paths (URL-encoded); dates in query strings
are sent with ``+`` encoded as ``%2B``.

Incremental: merge requests and deployments are read oldest first
(``updated_after=watermark-lookback&order_by=updated_at&sort=asc``), each page's batch carrying the
watermark reached, each next page the listing re-anchored at the last item's ``updated_at``
(``updated_after`` is "at or after"; see :mod:`connectors.http.listings`); default-branch commits
(``since``, newest first) store their watermark at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from connectors.base import SourceContext
from connectors.gitlab_mapping import commit_from_api, deployment_from_api, merge_request_records
from connectors.gitlab_rebuild import rebuild_blocker, records_from_payloads
from connectors.gitlab_settings import GitLabProject, Settings
from connectors.http.client import HttpClient
from connectors.http.deployments import Comparison, ServiceResolver, with_compared_commits
from connectors.http.etag import credential_identity
from connectors.http.incremental import parse_time
from connectors.http.listings import IncrementalListings, Listing
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import NextPageHeaderPaginator
from connectors.http.ratelimit import GITLAB_RATE_LIMIT
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.records import Batch, CursorKey, Deployment, Record

__all__ = ["GitLabSource", "Settings", "build_source", "rebuild_blocker", "records_from_payloads"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProjectPlan:
    """What to collect for one project in this run."""

    id: int
    path: str
    branch: str
    environments: tuple[str, ...]


class GitLabSource:
    """Yields commits, merge requests and deployments of the configured projects."""

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
            headers={"Authorization": f"Bearer {token}"},
            rate_limits=GITLAB_RATE_LIMIT,
            sleep=sleep,
            clock=clock,
        )
        self._identity = credential_identity(token)
        self._path_overrides: dict[str, str] = {}
        self._services = ServiceResolver(settings.name, context.services, self._path_overrides)
        self._cursors: Mapping[CursorKey, str] = {}
        self._listings: IncrementalListings
        self._warned_status: set[str] = set()

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per project: default-branch commits, merge requests, then deployments."""
        self._cursors = dict(cursors)
        self._listings = IncrementalListings.for_run(
            self.client, self._cursors, self._identity, self.settings, self.context.run_started_at
        )
        for plan, body in self._plans():
            yield Batch(records=(self._raw("gitlab.project", plan.path, body, None),))
            yield from self._commits(plan)
            yield from self._merge_requests(plan)
            if self.settings.deployments:
                for environment in plan.environments or (None,):
                    yield from self._deployments(plan, environment)

    # --- projects -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.settings.base_url}/api/v4{path}"

    def _pager(self, path: str, params: Mapping[str, str]) -> NextPageHeaderPaginator:
        return NextPageHeaderPaginator(self._url(path), {**params, "per_page": str(self.settings.per_page)})

    def _plans(self) -> Iterator[tuple[ProjectPlan, Mapping[str, Any]]]:
        seen: set[int] = set()
        for project in self.settings.projects:
            body = self.client.get(
                PageRequest(self._url(f"/projects/{quote(project.id, safe='')}")), resource=f"projects/{project.id}"
            ).body
            seen.add(int(body["id"]))
            yield self._plan(body, project), body
        if not self.settings.group:
            return
        group = self.settings.group
        params = {"include_subgroups": str(self.settings.include_subgroups).lower(), "archived": "false"}
        paginator = self._pager(f"/groups/{quote(group, safe='')}/projects", params)
        for page in self.client.pages(paginator, resource=f"groups/{group}/projects"):
            for body in page.items():
                if int(body["id"]) not in seen:
                    yield self._plan(body, None), body

    def _plan(self, body: Mapping[str, Any], project: GitLabProject | None) -> ProjectPlan:
        path = str(body["path_with_namespace"])
        if project and project.service:
            self._path_overrides[path] = project.service
        environments = (
            project.environments if project and project.environments is not None else self.settings.environments
        )
        branch = (project.branch if project else None) or body.get("default_branch") or "main"
        return ProjectPlan(int(body["id"]), path, str(branch), tuple(environments))

    # --- commits ------------------------------------------------------------------------------

    def _commits(self, plan: ProjectPlan) -> Iterator[Batch]:
        cursor = CursorKey("commits", f"{plan.path}@{plan.branch}")
        since = self._listings.start(cursor).isoformat()
        paginator = self._pager(f"/projects/{plan.id}/repository/commits", {"ref_name": plan.branch, "since": since})

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                commit = commit_from_api(self.name, plan.path, item)
                listing.see(commit.committed_at or commit.authored_at)
                records += [commit, self._raw("gitlab.commit", commit.external_id, item, page.url)]
            return records

        yield from self._listings.newest_first(cursor, paginator, f"projects/{plan.path}/repository/commits", handle)

    # --- merge requests -----------------------------------------------------------------------

    def _merge_requests(self, plan: ProjectPlan) -> Iterator[Batch]:
        cursor = CursorKey("merge_requests", plan.path)
        params = {
            "state": "all",
            "order_by": "updated_at",
            "sort": "asc",
            "updated_after": self._listings.start(cursor).isoformat(),
        }
        paginator = self._pager(f"/projects/{plan.id}/merge_requests", params)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                listing.see(parse_time(item.get("updated_at")))
                raw_commits = self._all(
                    f"/projects/{plan.id}/merge_requests/{item['iid']}/commits",
                    {},
                    f"projects/{plan.path}/merge_requests/commits",
                )
                raw_commits.reverse()  # the API lists them newest first
                notes = None
                if self.settings.fetch_reviews:
                    notes = self._all(
                        f"/projects/{plan.id}/merge_requests/{item['iid']}/notes",
                        {"sort": "asc", "order_by": "created_at"},
                        f"projects/{plan.path}/merge_requests/notes",
                    )
                    records.append(self._raw("gitlab.merge_request_notes", f"{plan.path}!{item['iid']}", notes, None))
                commits, pr = merge_request_records(self.name, plan.path, item, raw_commits, notes)
                records += [
                    self._raw("gitlab.commit", c.external_id, r, None)
                    for c, r in zip(commits, raw_commits, strict=True)
                ]
                records += [
                    *commits,
                    pr,
                    self._raw("gitlab.merge_request", pr.external_id, item, page.url),
                    self._raw("gitlab.merge_request_commits", pr.external_id, raw_commits, None),
                ]
            return records

        resource = f"projects/{plan.path}/merge_requests"
        yield from self._listings.ascending(
            cursor, paginator, resource, handle, self.settings.per_page, anchor="updated_after"
        )

    def _all(self, path: str, params: Mapping[str, str], resource: str) -> list[Any]:
        paginator = NextPageHeaderPaginator(self._url(path), {**params, "per_page": "100"})
        return [item for page in self.client.pages(paginator, resource=resource) for item in page.items()]

    # --- deployments --------------------------------------------------------------------------

    def _deployments(self, plan: ProjectPlan, environment: str | None) -> Iterator[Batch]:
        cursor = CursorKey("deployments", f"{plan.path}|{environment or '*'}")
        params = {"order_by": "updated_at", "sort": "asc", "updated_after": self._listings.start(cursor).isoformat()}
        if environment:
            params["environment"] = environment
        paginator = self._pager(f"/projects/{plan.id}/deployments", params)
        service = self._services.service(plan.path)
        sha_cursors: dict[CursorKey, str] = {}

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            found: list[Deployment] = []
            for item in items:
                listing.see(parse_time(item.get("updated_at")) or parse_time(item.get("created_at")))
                deployment = deployment_from_api(self.name, plan.path, service, item)
                external_id = deployment.external_id if deployment else f"{plan.path}/deployments/{item['id']}"
                records.append(self._raw("gitlab.deployment", external_id, item, page.url))
                if deployment is None:
                    self._warn_status(str(item.get("status")))
                    continue
                found.append(deployment)
            if self.settings.deployment_commits == "compare":
                extra: list[Record] = []
                found, advanced = with_compared_commits(
                    found, {**self._cursors, **sha_cursors}, lambda b, h: self._compare(plan, b, h, extra)
                )
                sha_cursors.update(advanced)
                records += extra
            return [*records, *found]

        resource = f"projects/{plan.path}/deployments"
        listing = self._listings.ascending(
            cursor, paginator, resource, handle, self.settings.per_page, anchor="updated_after"
        )
        for batch in listing:
            yield Batch(records=batch.records, cursors={**batch.cursors, **sha_cursors})

    def _compare(self, plan: ProjectPlan, base: str, head: str, extra: list[Record]) -> Comparison:
        body = self.client.get(
            PageRequest(self._url(f"/projects/{plan.id}/repository/compare"), {"from": base, "to": head}),
            resource=f"projects/{plan.path}/repository/compare",
        ).body
        commits = [commit_from_api(self.name, plan.path, c) for c in body.get("commits") or ()]
        extra.extend(commits)
        return Comparison(tuple(c.sha for c in commits), behind=not commits and not body.get("compare_same_ref"))

    def _warn_status(self, status: str) -> None:
        if status not in self._warned_status:
            self._warned_status.add(status)
            logger.warning("%s: deployment status %r is not a GitLab deployment status; skipped", self.name, status)

    def _raw(self, kind: str, external_id: str, body: Any, url: str | None) -> Record:
        return raw_payload(self.client, kind, external_id, body, url)


def build_source(settings: Settings, context: SourceContext) -> GitLabSource:
    """The GitLab source for ``settings`` in this run."""
    return GitLabSource(settings, context)

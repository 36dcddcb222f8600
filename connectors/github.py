"""GitHub and GitHub Enterprise Server source (``kind: github``), over the REST API.

API: ``https://api.github.com`` (GHES: ``https://HOST/api/v3``), ``Authorization: Bearer <token>``
(PAT or App installation token), ``Accept: application/vnd.github+json`` and a pinned
``X-GitHub-Api-Version``. Pages with ``Link`` headers, followed verbatim (they switch to
``/repositories/{id}`` URLs). Rate limits: ``x-ratelimit-*`` (reset in epoch seconds), secondary
limits as 403/429 with or without ``retry-after``.

Quirks handled: pull requests and deployments have no ``since`` filter, so they are read newest
first (PRs by ``updated`` desc, deployments by creation) and stopped at ``watermark - lookback``;
their watermark (and the first page's ETag) is stored only in the batch that ends the listing, so a
crash mid-listing re-reads it. An unchanged first page answers 304 and ends the listing at no quota
cost. PR commits are capped at 250 by the API (then the compare API lists them). Deployments not yet
finished pin the deployment watermark for ``pending_recheck`` so their final state is read later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors.base import SourceContext
from connectors.github_deployments import GitHubDeployments, RepoPlan
from connectors.github_mapping import branch_merge_deployment, commit_from_api, pull_request_records
from connectors.github_rebuild import rebuild_blocker, records_from_payloads
from connectors.github_settings import Settings
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver, repository_services
from connectors.http.etag import credential_identity
from connectors.http.incremental import format_time, parse_time
from connectors.http.listings import IncrementalListings, Listing
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import LinkHeaderPaginator
from connectors.http.ratelimit import GitHubRateLimitReader
from connectors.http.source_support import client_for
from connectors.http.stats import RequestStats
from connectors.records import Batch, CursorKey, Record

__all__ = ["GitHubSource", "Settings", "build_source", "rebuild_blocker", "records_from_payloads"]

PR_COMMIT_CAP = 250


class GitHubSource(GitHubDeployments):
    """Yields commits, pull requests and deployments of the configured repositories."""

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
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": settings.api_version,
            },
            rate_limits=GitHubRateLimitReader(),
            sleep=sleep,
            clock=clock,
        )
        self._identity = credential_identity(token)
        overrides = repository_services(settings.repositories)
        self._services = ServiceResolver(settings.name, context.services, overrides)
        self._cursors: Mapping[CursorKey, str] = {}
        self._listings: IncrementalListings

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per repository: default-branch commits, pull requests, then deployments."""
        self._cursors = dict(cursors)
        self._listings = IncrementalListings.for_run(
            self.client, self._cursors, self._identity, self.settings, self.context.run_started_at
        )
        for plan, body in self._plans():
            if body is not None:
                yield Batch(records=(self._raw("github.repository", plan.name, body, None),))
            yield from self._commits(plan)
            yield from self._pulls(plan)
            method = plan.deployments.method
            if method == "deployments":
                environments = plan.deployments.environments or (None,)
                for environment in environments:
                    yield from self._deployments(plan, environment)
            elif method == "releases":
                yield from self._releases(plan)
            elif method == "tags":
                yield from self._tags(plan)

    # --- repositories -------------------------------------------------------------------------

    def _plans(self) -> Iterator[tuple[RepoPlan, Mapping[str, Any] | None]]:
        """Each repository's plan, with the repository object when one was read (for its default branch)."""
        explicit = {r.name: r for r in self.settings.repositories}
        for repo in self.settings.repositories:
            body = None if repo.branch else self._repository(repo.name)
            branch = repo.branch or str((body or {}).get("default_branch") or "main")
            yield RepoPlan(repo.name, branch, repo.deployments or self.settings.deployments), body
        if not self.settings.organization:
            return
        org = self.settings.organization
        paginator = LinkHeaderPaginator(
            self._url(f"/orgs/{org}/repos"), {"type": "all", "per_page": str(self.settings.per_page)}
        )
        for page in self.client.pages(paginator, resource=f"orgs/{org}/repos"):
            for item in page.items():
                name = item["full_name"]
                if item.get("archived") or name in explicit:
                    continue
                if self.settings.topic and self.settings.topic not in (item.get("topics") or ()):
                    continue
                yield RepoPlan(name, item.get("default_branch") or "main", self.settings.deployments), item

    def _repository(self, repo: str) -> Mapping[str, Any]:
        page = self.client.get(PageRequest(self._url(f"/repos/{repo}")), resource=f"repos/{repo}")
        return page.body if isinstance(page.body, dict) else {}

    # --- listings -----------------------------------------------------------------------------

    def _list(self, url: str, params: Mapping[str, str], resource: str, key: str | None = None) -> list[Any]:
        """Every item of a (short) sub-listing, all pages."""
        paginator = LinkHeaderPaginator(url, params)
        return [item for page in self.client.pages(paginator, resource=resource) for item in page.items(key)]

    # --- commits ------------------------------------------------------------------------------

    def _commits(self, plan: RepoPlan) -> Iterator[Batch]:
        cursor = CursorKey("commits", f"{plan.name}@{plan.branch}")
        since = format_time(self._listings.start(cursor))
        params = {"sha": plan.branch, "since": since, "per_page": str(self.settings.per_page)}
        request = PageRequest(self._url(f"/repos/{plan.name}/commits"), params)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                commit = commit_from_api(self.name, plan.name, item)
                listing.see(commit.committed_at or commit.authored_at)
                records += [commit, self._raw("github.commit", commit.external_id, item, page.url)]
            return records

        yield from self._listings.newest_first(cursor, self._pager(request), f"repos/{plan.name}/commits", handle)

    # --- pull requests ------------------------------------------------------------------------

    def _pulls(self, plan: RepoPlan) -> Iterator[Batch]:
        params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": str(self.settings.per_page)}
        request = PageRequest(self._url(f"/repos/{plan.name}/pulls"), params)
        deploy = plan.deployments
        deploy_branch = (deploy.branch or plan.branch) if deploy.method == "branch" else None

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                listing.see(parse_time(item.get("updated_at")))
                commit_items = self._pull_commit_items(plan.name, item)
                reviews = None
                if self.settings.fetch_reviews:
                    reviews = self._list(
                        self._url(f"/repos/{plan.name}/pulls/{item['number']}/reviews"),
                        {"per_page": "100"},
                        f"repos/{plan.name}/pulls/reviews",
                    )
                    records.append(
                        self._raw("github.pull_request_reviews", f"{plan.name}#{item['number']}", reviews, None)
                    )
                commits, pr = pull_request_records(self.name, plan.name, item, commit_items, reviews)
                records += commits
                records += [
                    self._raw("github.commit", c.external_id, i, None)
                    for c, i in zip(commits, commit_items, strict=True)
                ]
                records += [
                    pr,
                    self._raw("github.pull_request", pr.external_id, item, page.url),
                    self._raw("github.pull_request_commits", pr.external_id, commit_items, None),
                ]
                merge = branch_merge_deployment(
                    self.name, plan.name, self._services.service, deploy_branch, deploy.environment, pr
                )
                if merge is not None:
                    records.append(merge)
            return records

        def updated(item: dict[str, Any]) -> datetime | None:
            return parse_time(item.get("updated_at"))

        yield from self._listings.newest_first(
            CursorKey("pulls", plan.name), self._pager(request), f"repos/{plan.name}/pulls", handle, updated
        )

    def _pull_commit_items(self, repo: str, pull: Mapping[str, Any]) -> list[Any]:
        """The commit items of a pull request, oldest first (through the compare API past the cap)."""
        number = pull["number"]
        url = self._url(f"/repos/{repo}/pulls/{number}/commits")
        items = self._list(url, {"per_page": "100"}, f"repos/{repo}/pulls/commits")
        if len(items) >= PR_COMMIT_CAP:
            base, head = pull["base"]["sha"], pull["head"]["sha"]
            items = self._list(
                self._url(f"/repos/{repo}/compare/{base}...{head}"),
                {"per_page": "100"},
                f"repos/{repo}/compare",
                "commits",
            )
        return items


def build_source(settings: Settings, context: SourceContext) -> GitHubSource:
    """The GitHub source for ``settings`` in this run."""
    return GitHubSource(settings, context)

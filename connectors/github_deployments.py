"""Deployment listings of the GitHub source: Deployments API, releases, tags, and compare.

Split out of :mod:`connectors.github` (a mixin of :class:`~connectors.github.GitHubSource`).
Recognition rules are stated on :class:`~connectors.github_settings.GitHubDeploymentSettings`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.base import SourceContext
from connectors.github_mapping import (
    commit_from_api,
    deployment_from_api,
    release_deployment,
    release_is_deployment,
    sha_of_commit,
    tag_deployment,
    tag_is_deployment,
)
from connectors.github_settings import GitHubDeploymentSettings, Settings
from connectors.http.client import HttpClient
from connectors.http.deployments import Comparison, ServiceResolver, with_compared_commits
from connectors.http.incremental import parse_time
from connectors.http.listings import IncrementalListings, Listing
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import LinkHeaderPaginator
from connectors.http.source_support import raw_payload
from connectors.records import Batch, CursorKey, Deployment, DeploymentStatus, Record


@dataclass(frozen=True, slots=True)
class RepoPlan:
    """What to collect for one repository in this run."""

    name: str
    branch: str
    deployments: GitHubDeploymentSettings


class GitHubDeployments:
    """Deployment listings; the host class provides the attributes declared here."""

    name: str
    settings: Settings
    context: SourceContext
    client: HttpClient
    _cursors: Mapping[CursorKey, str]
    _listings: IncrementalListings
    _services: ServiceResolver

    def _url(self, path: str) -> str:
        return f"{self.settings.base_url}{path}"

    @staticmethod
    def _pager(request: PageRequest) -> LinkHeaderPaginator:
        return LinkHeaderPaginator(request.url, request.params)

    def _deployments(self, plan: RepoPlan, environment: str | None) -> Iterator[Batch]:
        params = {"per_page": str(self.settings.per_page)}
        if environment:
            params["environment"] = environment
        request = PageRequest(self._url(f"/repos/{plan.name}/deployments"), params)
        cursor = CursorKey("deployments", f"{plan.name}|{environment or '*'}")
        found: list[Deployment] = []
        pin_after = self.context.run_started_at - self.settings.pending_recheck

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                statuses = self.client.get(
                    PageRequest(
                        self._url(f"/repos/{plan.name}/deployments/{item['id']}/statuses"), {"per_page": "100"}
                    ),
                    resource=f"repos/{plan.name}/deployments/statuses",
                ).items()
                deployment = deployment_from_api(
                    self.name, plan.name, self._services.service(plan.name), item, statuses
                )
                created = deployment.started_at
                listing.see(created)
                if deployment.status is DeploymentStatus.IN_PROGRESS and created and created >= pin_after:
                    listing.pin(created)
                found.append(deployment)
                records += [
                    deployment,
                    self._raw("github.deployment", deployment.external_id, item, page.url),
                    self._raw("github.deployment_statuses", deployment.external_id, statuses, None),
                ]
            return records

        def created(item: dict[str, Any]) -> datetime | None:
            return parse_time(item.get("created_at"))

        listing = self._listings.newest_first(
            cursor, self._pager(request), f"repos/{plan.name}/deployments", handle, created
        )
        yield from self._with_compare(listing, plan, found)

    def _releases(self, plan: RepoPlan) -> Iterator[Batch]:
        settings = plan.deployments
        request = PageRequest(self._url(f"/repos/{plan.name}/releases"), {"per_page": str(self.settings.per_page)})
        found: list[Deployment] = []
        pin_after = self.context.run_started_at - self.settings.pending_recheck

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                created = parse_time(item.get("created_at"))
                listing.see(created)
                if item.get("draft") or not item.get("published_at"):
                    if created and created >= pin_after:
                        listing.pin(created)
                    continue
                if not release_is_deployment(item, settings.include_prereleases):
                    continue
                commit = self._commit_of(plan.name, item["tag_name"])
                service = self._services.service(plan.name)
                deployment = release_deployment(
                    self.name, plan.name, service, settings.environment, item, sha_of_commit(commit)
                )
                found.append(deployment)
                records += [
                    deployment,
                    self._raw("github.release", deployment.external_id, item, page.url),
                    self._raw("github.release_commit", deployment.external_id, commit, None),
                ]
            return records

        def created(item: dict[str, Any]) -> datetime | None:
            return parse_time(item.get("created_at"))

        listing = self._listings.newest_first(
            CursorKey("releases", plan.name), self._pager(request), f"repos/{plan.name}/releases", handle, created
        )
        yield from self._with_compare(listing, plan, found)

    def _tags(self, plan: RepoPlan) -> Iterator[Batch]:
        """Tags are not listed in time order: every page is read; only unseen tags cost a commit call."""
        settings = plan.deployments
        cursor = CursorKey("tags", plan.name)
        known = set(filter(None, self._cursors.get(cursor, "").split("\n")))
        found: list[Deployment] = []
        paginator = LinkHeaderPaginator(
            self._url(f"/repos/{plan.name}/tags"), {"per_page": str(self.settings.per_page)}
        )
        batches: list[Batch] = []
        for page in self.client.pages(paginator, resource=f"repos/{plan.name}/tags"):
            records: list[Record] = []
            for item in page.items():
                name = item["name"]
                if name in known or not tag_is_deployment(name, settings.tag_pattern):
                    continue
                sha = item["commit"]["sha"]
                commit_page = self.client.get(
                    PageRequest(self._url(f"/repos/{plan.name}/commits/{sha}")), resource=f"repos/{plan.name}/commits"
                )
                commit = commit_from_api(self.name, plan.name, commit_page.body)
                service = self._services.service(plan.name)
                deployment = tag_deployment(
                    self.name, plan.name, service, settings.environment, name, sha, commit.committed_at
                )
                known.add(name)
                found.append(deployment)
                records += [
                    commit,
                    self._raw("github.commit", commit.external_id, commit_page.body, None),
                    deployment,
                    self._raw("github.tag", deployment.external_id, item, page.url),
                ]
            batches.append(Batch(records=tuple(records), cursors={cursor: "\n".join(sorted(known))}))
        if found:
            yield from self._with_compare(iter(batches), plan, found)
        else:
            yield from batches

    def _with_compare(self, batches: Iterator[Batch], plan: RepoPlan, found: list[Deployment]) -> Iterator[Batch]:
        """Pass the listing's batches through; in compare mode, add the deployments' commits at the end."""
        last: Batch | None = None
        for batch in batches:
            if last is not None:
                yield last
            last = batch
        if self.settings.deployment_commits != "compare" or not found:
            if last is not None:
                yield last
            return
        extra: list[Record] = []

        def compare(base: str, head: str) -> Comparison:
            paginator = LinkHeaderPaginator(
                self._url(f"/repos/{plan.name}/compare/{base}...{head}"), {"per_page": "100"}
            )
            shas: list[str] = []
            behind = False
            for page in self.client.pages(paginator, resource=f"repos/{plan.name}/compare"):
                behind = behind or page.body.get("status") == "behind"
                for item in page.items("commits"):
                    extra.append(commit_from_api(self.name, plan.name, item))
                    shas.append(item["sha"])
            return Comparison(tuple(shas), behind=behind)

        updated, sha_cursors = with_compared_commits(found, self._cursors, compare)
        records = (*(last.records if last else ()), *extra, *updated)
        cursors = {**(last.cursors if last else {}), **sha_cursors}
        yield Batch(records=records, cursors=cursors)

    def _commit_of(self, repo: str, ref: str) -> Any:
        """The ``/commits/{ref}`` answer (a commit object)."""
        return self.client.get(
            PageRequest(self._url(f"/repos/{repo}/commits/{ref}")), resource=f"repos/{repo}/commits"
        ).body

    def _raw(self, kind: str, external_id: str, body: Any, url: str | None) -> Record:
        return raw_payload(self.client, kind, external_id, body, url)

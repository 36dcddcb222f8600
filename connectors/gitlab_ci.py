"""GitLab CI source (``kind: gitlab_ci``): pipelines as pipeline runs, environment jobs as deployments.

API: REST v4 at ``{base_url}/api/v4``, ``Authorization: Bearer <token>`` (``read_api``). Paging and
rate limits as in the ``gitlab`` source (``X-Next-Page``, ``RateLimit-*``, ``Retry-After``).

- pipelines: ``GET /projects/{id}/pipelines?updated_after=&order_by=updated_at&sort=asc``. List
  items are the short form (no ``started_at``/``finished_at``/``duration``): with
  ``pipeline_details`` each pipeline is read once more (``GET /projects/{id}/pipelines/{pid}``).
- deployments: a job with an ``environment:`` creates a GitLab deployment, so the deployments API
  (``GET /projects/{id}/deployments?updated_after=&order_by=updated_at&sort=asc``) lists exactly
  the jobs with an environment, each with its job (``deployable``: name, stage, ref, pipeline).
  Rules decide which of them count (``name`` globs the job name, ``ci_environment`` the environment).

Incremental: both listings are read oldest ``updated_at`` first from ``watermark - lookback``; every
page's batch carries the watermark reached, and each next page is the listing re-anchored at the last
item's ``updated_at`` (``updated_after`` is "at or after"; see :mod:`connectors.http.listings`). A
pipeline or deployment still running is updated by GitLab when it finishes, so its new ``updated_at``
brings it back into the next listing: nothing needs pinning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from connectors.base import SourceContext
from connectors.deployment_rules import DeploymentRule, RunFacts, match_rule
from connectors.gitlab_settings import ProjectRef
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver
from connectors.http.etag import credential_identity
from connectors.http.incremental import parse_time
from connectors.http.listings import IncrementalListings, Listing
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import NextPageHeaderPaginator
from connectors.http.ratelimit import GITLAB_RATE_LIMIT
from connectors.http.settings import HttpSourceSettings
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.mapping_support import identifier, obj, time_of
from connectors.rebuild_support import of_kind, partition_of
from connectors.records import Batch, CursorKey, Deployment, PipelineRun, RawPayload, Record

__all__ = [
    "GitLabCiSource",
    "Settings",
    "build_source",
    "deployment_from_api",
    "pipeline_from_api",
    "records_from_payloads",
]

logger = logging.getLogger(__name__)

FINISHED_PIPELINE = frozenset({"success", "failed", "canceled", "skipped"})
#: GitLab deployment statuses → whether the deployment is over. Other values are not GitLab's (skipped).
DEPLOYMENT_RESULTS: dict[str, bool] = {
    "success": True,
    "failed": True,
    "canceled": True,
    "created": False,
    "running": False,
    "blocked": False,
}


class Settings(HttpSourceSettings):
    """GitLab CI pipelines and environment jobs of some projects."""

    kind: Literal["gitlab_ci"] = "gitlab_ci"
    api_root_suffix: ClassVar[str] = "/api/v4"
    base_url: str = Field(default="https://gitlab.com", description="Instance root; /api/v4 is added.")
    projects: tuple[ProjectRef, ...] = Field(min_length=1)
    rules: tuple[DeploymentRule, ...] = Field(
        default=(), description="Environment jobs that are deployments; `name` globs the job name."
    )
    pipeline_details: bool = Field(default=True, description="One call per pipeline for its start, end, duration.")

    @field_validator("projects", mode="before")
    @classmethod
    def _ids_to_projects(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"id": item} if isinstance(item, str | int) else item for item in value]
        return value


# --- mapping (pure) ---------------------------------------------------------------------------


def pipeline_from_api(source: str, repo: str, item: Mapping[str, Any], detail: Mapping[str, Any] | None) -> PipelineRun:
    """A :class:`PipelineRun`: ``status`` as GitLab says; times and duration from the detail when read."""
    full = detail or item
    created = time_of(full.get("created_at"), "created_at")
    if created is None:
        raise ValueError(f"pipeline {item.get('id')} has no created_at")
    duration = full.get("duration")
    return PipelineRun(
        source=source,
        external_id=f"{repo}/pipelines/{identifier(item, 'id')}",
        repo=repo,
        name=str(full.get("name") or full.get("ref") or item["id"]),
        status=str(full.get("status")),
        created_at=created,
        started_at=parse_time(full.get("started_at")),
        finished_at=parse_time(full.get("finished_at")) if full.get("status") in FINISHED_PIPELINE else None,
        branch=full.get("ref"),
        sha=full.get("sha"),
        duration_seconds=float(duration) if isinstance(duration, int | float) else None,
    )


def deployment_facts(item: Mapping[str, Any]) -> RunFacts:
    """What rules match for one GitLab deployment: its job's name, its environment, its ref."""
    job = obj(item.get("deployable"), "deployable")
    return RunFacts(
        name=str(job.get("name") or ""),
        ci_environment=obj(item.get("environment"), "environment").get("name"),
        branch=item.get("ref") or job.get("ref"),
    )


def deployment_from_api(
    source: str, repo: str, item: Mapping[str, Any], rules: tuple[DeploymentRule, ...], service: str
) -> Deployment | None:
    """The :class:`Deployment` of a GitLab deployment matching a rule; ``None`` when none matches or
    its ``status`` is not a GitLab deployment status."""
    match = match_rule(rules, deployment_facts(item))
    status = str(item.get("status"))
    if match is None or status not in DEPLOYMENT_RESULTS:
        return None
    finished = DEPLOYMENT_RESULTS[status]
    job = obj(item.get("deployable"), "deployable")
    return Deployment(
        source=source,
        external_id=f"{repo}/deployments/{identifier(item, 'id')}",
        service=match.rule.service or service,
        environment=match.environment,
        status=match.status_for(status, finished=finished),
        sha=item.get("sha"),
        finished_at=(parse_time(job.get("finished_at")) or parse_time(item.get("updated_at"))) if finished else None,
        started_at=parse_time(job.get("started_at")) or parse_time(item.get("created_at")),
        repo=repo,
    )


# --- source -----------------------------------------------------------------------------------


class GitLabCiSource:
    """Yields pipelines and rule-matched environment jobs of the configured projects."""

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
        self._overrides: dict[str, str] = {}
        self._services = ServiceResolver(settings.name, context.services, self._overrides)
        self._warned: set[str] = set()

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per project: pipelines, then deployments (environment jobs)."""
        listings = IncrementalListings.for_run(
            self.client, cursors, self._identity, self.settings, self.context.run_started_at
        )
        for project in self.settings.projects:
            body = self.client.get(
                PageRequest(self._url(f"/projects/{quote(project.id, safe='')}")), resource=f"projects/{project.id}"
            ).body
            pid, path = int(body["id"]), str(body["path_with_namespace"])
            if project.service:
                self._overrides[path] = project.service
            yield from self._pipelines(listings, pid, path)
            if self.settings.rules:
                yield from self._deployments(listings, pid, path)

    def _url(self, path: str) -> str:
        return f"{self.settings.base_url}/api/v4{path}"

    def _listing(self, listings: IncrementalListings, cursor: CursorKey, path: str) -> NextPageHeaderPaginator:
        params = {
            "order_by": "updated_at",
            "sort": "asc",
            "updated_after": listings.start(cursor).isoformat(),
            "per_page": str(self.settings.per_page),
        }
        return NextPageHeaderPaginator(self._url(path), params)

    def _pipelines(self, listings: IncrementalListings, pid: int, path: str) -> Iterator[Batch]:
        cursor = CursorKey("pipelines", path)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                listing.see(parse_time(item.get("updated_at")))
                detail = None
                if self.settings.pipeline_details:
                    detail = self.client.get(
                        PageRequest(self._url(f"/projects/{pid}/pipelines/{item['id']}")),
                        resource=f"projects/{path}/pipelines/{{id}}",
                    ).body
                run = pipeline_from_api(self.name, path, item, detail)
                records += [
                    run,
                    raw_payload(self.client, "gitlab_ci.pipeline", run.external_id, detail or item, page.url),
                ]
            return records

        paginator = self._listing(listings, cursor, f"/projects/{pid}/pipelines")
        resource = f"projects/{path}/pipelines"
        yield from listings.ascending(
            cursor, paginator, resource, handle, self.settings.per_page, anchor="updated_after"
        )

    def _deployments(self, listings: IncrementalListings, pid: int, path: str) -> Iterator[Batch]:
        cursor = CursorKey("deployments", path)
        service = self._services.service(path)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for item in items:
                listing.see(parse_time(item.get("updated_at")) or parse_time(item.get("created_at")))
                external_id = f"{path}/deployments/{item['id']}"
                records.append(raw_payload(self.client, "gitlab_ci.deployment", external_id, item, page.url))
                if str(item.get("status")) not in DEPLOYMENT_RESULTS:
                    self._warn(str(item.get("status")))
                    continue
                deployment = deployment_from_api(self.name, path, item, self.settings.rules, service)
                if deployment is not None:
                    records.append(deployment)
            return records

        paginator = self._listing(listings, cursor, f"/projects/{pid}/deployments")
        resource = f"projects/{path}/deployments"
        yield from listings.ascending(
            cursor, paginator, resource, handle, self.settings.per_page, anchor="updated_after"
        )

    def _warn(self, status: str) -> None:
        if status not in self._warned:
            self._warned.add(status)
            logger.warning("%s: deployment status %r is not a GitLab deployment status; skipped", self.name, status)


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The pipeline runs and deployments a sync would write for the stored pipelines and deployments (see
    ``connectors.rebuild_support``), through :func:`pipeline_from_api` and :func:`deployment_from_api`.

    A stored pipeline is the detail when one was read, else the list item: either maps alone. A project
    configured by numeric id is told apart by the ``project_id`` of its stored pipelines. Deployments are
    read only while ``rules`` are set: rules added later find none stored.
    """
    pipelines = list(of_kind(payloads, "gitlab_ci.pipeline"))
    paths = {str(p.body.get("project_id")): partition_of(p.external_id, "/pipelines/") for p in pipelines}
    overrides: dict[str, str] = {}
    for project in settings.projects:
        if project.service:
            path = paths.get(project.id) or (project.id if "/" in project.id else None)
            if path is None:
                raise ValueError(f"project {project.id} has no stored pipeline telling its path; re-sync it")
            overrides[path] = project.service
    services = ServiceResolver(settings.name, context.services, overrides)
    records: list[Record] = [
        pipeline_from_api(settings.name, partition_of(p.external_id, "/pipelines/"), p.body, None) for p in pipelines
    ]
    for payload in of_kind(payloads, "gitlab_ci.deployment"):
        path = partition_of(payload.external_id, "/deployments/")
        deployment = deployment_from_api(settings.name, path, payload.body, settings.rules, services.service(path))
        if deployment is not None:
            records.append(deployment)
    return records


def build_source(settings: Settings, context: SourceContext) -> GitLabCiSource:
    """The GitLab CI source for ``settings`` in this run."""
    return GitLabCiSource(settings, context)

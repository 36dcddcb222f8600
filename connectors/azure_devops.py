"""Azure DevOps source (``kind: azure_devops``): Azure Repos pull requests and commits, pipeline runs
(builds) and environment deployment records of one project.

API: ``{base_url}/{organization}/{project}/_apis/...`` with ``api-version`` (default ``7.1``) on every
call. Auth: a personal access token sent as HTTP Basic with an empty user (``:{PAT}``; ``username`` may
be set). Lists answer ``{"count": n, "value": [...]}``. Rate limits: 429 with ``Retry-After``;
``X-RateLimit-Remaining`` and ``X-RateLimit-Reset`` (epoch seconds) when the caller is being delayed.

Endpoints and paging:

- pull requests: ``git/repositories/{repo}/pullrequests?searchCriteria.status=completed&
  searchCriteria.queryTimeRangeType=closed&searchCriteria.minTime=..`` paged with ``$top``/``$skip``
  (:class:`TopSkipPaginator`: a short page is the last); commits of each one from
  ``pullRequests/{id}/commits`` paged by continuation token;
- commits: ``git/repositories/{repo}/commits?searchCriteria.fromDate=..&searchCriteria.itemVersion.version=
  <branch>`` paged with ``searchCriteria.$top``/``searchCriteria.$skip``;
- builds: ``build/builds?statusFilter=completed&queryOrder=finishTimeAscending&minTime=..`` paged by the
  ``x-ms-continuationtoken`` response header sent back as ``continuationToken``
  (:class:`ContinuationTokenPaginator`);
- environments: ``distributedtask/environments`` (by ``environments`` names), then each one's
  ``environments/{id}/environmentdeploymentrecords`` (newest first, continuation token header), each
  record's owner build read once (``build/builds/{id}``) for its sha, repository and branch.

Incremental: pull requests by ``closedDate`` and commits by author date (watermark stored after the
whole listing of a repository: the order of these listings is not documented); builds by
``finishTime`` ascending (each page's batch carries the watermark; a running build is listed once it
completes); environment records newest first until ``queueTime`` falls below ``watermark - lookback``,
the watermark held at the oldest unfinished record so it is re-read until it finishes.

Environment deployments are per run, not per record: an environment lists one record per job of a run
that targeted it, per attempt, and the list has no filter by run. Every run with a record queued since
``watermark - lookback`` is read whole: the listing goes on, newest first, until it passes that run's
owner build ``queueTime`` (less the look-back; no job of a run is queued before the run), so the run's
deployment is mapped from all of its records in one sync, whichever pages they are on, and a job
retried in a later sync re-reads the whole run and rewrites its deployment (same id). The deployments
and the cursor of an environment are yielded in one batch after its listing.
Mapping: :mod:`connectors.azure_devops_mapping`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import Field, field_validator

from connectors.azure_devops_mapping import (
    commit_from_api,
    deployment_from_build,
    deployment_from_run_records,
    job_finished,
    latest_attempts,
    pipeline_run_from_build,
    pull_request_from_api,
    run_key,
)
from connectors.azure_devops_paging import ContinuationTokenPaginator, TopSkipPaginator
from connectors.base import SourceContext
from connectors.deployment_rules import DeploymentRule, ResultIs
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver, repository_services
from connectors.http.incremental import format_time, listing_start, new_watermark, parse_time
from connectors.http.page import PageRequest
from connectors.http.ratelimit import HeaderRateLimitReader, ResetMeaning
from connectors.http.settings import HttpSourceSettings
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.rebuild_support import of_kind, partition_of
from connectors.records import Batch, CursorKey, PipelineRun, RawPayload, Record
from connectors.settings import SettingsModel

__all__ = [
    "AzureDevOpsSource",
    "ContinuationTokenPaginator",
    "Settings",
    "TopSkipPaginator",
    "build_records",
    "build_source",
    "rebuild_blocker",
    "records_from_payloads",
]

logger = logging.getLogger(__name__)

AZURE_DEVOPS_RATE_LIMIT = HeaderRateLimitReader(
    remaining_header="X-RateLimit-Remaining",
    reset_headers=(("X-RateLimit-Reset", ResetMeaning.EPOCH_SECONDS),),
)


class AzureRepository(SettingsModel):
    """One Azure Repos Git repository of the project, with optional overrides."""

    name: str = Field(min_length=1)
    service: str | None = Field(default=None, description="Service of its deployments (overrides the mapping).")
    branch: str | None = Field(default=None, description="Branch whose commits are read (default: the default).")


class Settings(HttpSourceSettings):
    """One Azure DevOps project; reference in ``docs/sources/azure-devops.md``."""

    kind: Literal["azure_devops"] = "azure_devops"
    base_url: str = Field(default="https://dev.azure.com", description="Services root or Server collection URL.")
    organization: str = Field(min_length=1)
    project: str = Field(min_length=1)
    username: str = Field(default="", description="Basic-auth user sent with the PAT (any value works).")
    api_version: str = Field(default="7.1", description="api-version of every call.")
    repositories: tuple[AzureRepository, ...] = Field(default=(), description="Repos for pull requests/commits.")
    pipelines: bool = Field(default=True, description="Read builds as pipeline runs.")
    environments: tuple[str, ...] = Field(default=(), description="Environment names read (empty: all).")
    deployments_from: Literal["environments", "builds"] = Field(
        default="environments", description="Deployments from environment records, or from rule-matched builds."
    )
    rules: tuple[DeploymentRule, ...] = Field(default=(), description="Which runs are deployments.")
    succeeded_with_issues_is: ResultIs = Field(
        default="success",
        description="Jobs `succeededWithIssues`, builds `partiallySucceeded` (ran, with warnings): success or failure.",
    )

    @field_validator("repositories", mode="before")
    @classmethod
    def _names_to_repositories(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value


class AzureDevOpsSource:
    """Yields pull requests, commits, pipeline runs and deployments of one project (see the module docstring)."""

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
        basic = base64.b64encode(f"{settings.username}:{settings.token.get_secret_value()}".encode()).decode()
        self.client: HttpClient = client_for(
            settings,
            headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
            rate_limits=AZURE_DEVOPS_RATE_LIMIT,
            sleep=sleep,
            clock=clock,
        )
        project = settings.project
        self._overrides = repository_services(settings.repositories, f"{project}/")
        self._services = ServiceResolver(settings.name, context.services, self._overrides)
        self._builds: dict[str, Mapping[str, Any]] = {}

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def _url(self, path: str) -> str:
        org, project = quote(self.settings.organization), quote(self.settings.project)
        return f"{self.settings.base_url}/{org}/{project}/_apis/{path}"

    def _params(self, **extra: str) -> dict[str, str]:
        return {"api-version": self.settings.api_version, **extra}

    def _start(self, cursors: Mapping[CursorKey, str], cursor: CursorKey) -> datetime:
        return listing_start(
            cursors.get(cursor),
            run_started_at=self.context.run_started_at,
            lookback=self.settings.lookback,
            history_days=self.settings.history_days,
        )

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per repository pull requests then commits; then builds; then environment records."""
        for repository in self.settings.repositories:
            yield from self._pull_requests(cursors, repository)
            yield from self._commits(cursors, repository)
        if self.settings.pipelines or (self.settings.rules and self.settings.deployments_from == "builds"):
            yield from self._build_runs(cursors)
        if self.settings.rules and self.settings.deployments_from == "environments":
            yield from self._environment_records(cursors)

    def _pull_requests(self, cursors: Mapping[CursorKey, str], repository: AzureRepository) -> Iterator[Batch]:
        repo = f"{self.settings.project}/{repository.name}"
        cursor = CursorKey("pull_requests", repo)
        start = self._start(cursors, cursor)
        base = f"git/repositories/{quote(repository.name)}"
        params = self._params(
            **{
                "searchCriteria.status": "completed",
                "searchCriteria.queryTimeRangeType": "closed",
                "searchCriteria.minTime": format_time(start),
            }
        )
        paginator = TopSkipPaginator(self._url(f"{base}/pullrequests"), params, top=self.settings.per_page)
        newest: datetime | None = None
        for page in self.client.pages(paginator, resource=f"{repo}/pullrequests"):
            records: list[Record] = []
            for raw in page.items("value"):
                closed = parse_time(raw.get("closedDate"))
                if closed is not None and closed < start:
                    continue
                newest = max(filter(None, (newest, closed)), default=None)
                commits_url = self._url(f"{base}/pullRequests/{raw['pullRequestId']}/commits")
                commits = self._all(ContinuationTokenPaginator(commits_url, self._params()), f"{repo}/pr commits")
                pull = pull_request_from_api(self.name, repo, raw, commits)
                body = {**raw, "commits": commits}
                records += [
                    pull,
                    raw_payload(self.client, "azure_devops.pull_request", pull.external_id, body, page.url),
                ]
            if records:
                yield Batch(records=tuple(records))
        watermark = new_watermark(cursors.get(cursor), newest, self.context.run_started_at)
        if watermark:
            yield Batch(cursors={cursor: watermark})

    def _commits(self, cursors: Mapping[CursorKey, str], repository: AzureRepository) -> Iterator[Batch]:
        repo = f"{self.settings.project}/{repository.name}"
        cursor = CursorKey("commits", repo)
        params = self._params(**{"searchCriteria.fromDate": format_time(self._start(cursors, cursor))})
        if repository.branch:
            params["searchCriteria.itemVersion.version"] = repository.branch
            params["searchCriteria.itemVersion.versionType"] = "branch"
        url = self._url(f"git/repositories/{quote(repository.name)}/commits")
        paginator = TopSkipPaginator(url, params, top=self.settings.per_page, prefix="searchCriteria.")
        newest: datetime | None = None
        for page in self.client.pages(paginator, resource=f"{repo}/commits"):
            records: list[Record] = []
            for raw in page.items("value"):
                commit = commit_from_api(self.name, repo, raw)
                newest = max(filter(None, (newest, commit.authored_at)), default=None)
                records += [commit, raw_payload(self.client, "azure_devops.commit", commit.external_id, raw, page.url)]
            if records:
                yield Batch(records=tuple(records))
        watermark = new_watermark(cursors.get(cursor), newest, self.context.run_started_at)
        if watermark:
            yield Batch(cursors={cursor: watermark})

    def _build_runs(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        cursor = CursorKey("builds")
        previous = cursors.get(cursor)
        params = self._params(
            statusFilter="completed",
            queryOrder="finishTimeAscending",
            minTime=format_time(self._start(cursors, cursor)),
            **{"$top": str(self.settings.per_page)},
        )
        paginator = ContinuationTokenPaginator(self._url("build/builds"), params)
        newest: datetime | None = None
        for page in self.client.pages(paginator, resource="builds"):
            records: list[Record] = []
            for build in page.items("value"):
                self._builds[str(build["id"])] = build
                newest = max(filter(None, (newest, parse_time(build.get("finishTime")))), default=None)
                run, mapped = build_records(self.settings, self._services, build)
                records += mapped
                records.append(raw_payload(self.client, "azure_devops.build", run.external_id, build, page.url))
            watermark = new_watermark(previous, newest, self.context.run_started_at)
            yield Batch(records=tuple(records), cursors={cursor: watermark} if watermark else {})

    def _environment_records(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        body = self.client.get(
            PageRequest(self._url("distributedtask/environments"), self._params()), resource="environments"
        ).body
        wanted = set(self.settings.environments)
        for environment in (body or {}).get("value") or []:
            if wanted and environment.get("name") not in wanted:
                continue
            yield from self._records_of(cursors, environment)

    def _records_of(self, cursors: Mapping[CursorKey, str], environment: Mapping[str, Any]) -> Iterator[Batch]:
        """One environment's deployments, one per run (see the module docstring: reading whole runs)."""
        cursor = CursorKey("environment_records", str(environment["name"]))
        start = self._start(cursors, cursor)
        url = self._url(f"distributedtask/environments/{environment['id']}/environmentdeploymentrecords")
        paginator = ContinuationTokenPaginator(url, self._params(top=str(self.settings.per_page)))
        runs: dict[str, list[tuple[Mapping[str, Any], str]]] = {}  # run key → its records and their pages
        touched: set[str] = set()  # runs with a record queued since ``start``
        floor, newest = start, None
        for page in self.client.pages(paginator, resource=f"environments/{environment['name']}/records"):
            items = page.items("value")
            for record in items:
                key = run_key(record)
                runs.setdefault(key, []).append((record, page.url))
                queued = parse_time(record.get("queueTime"))
                if queued is not None and queued < start:
                    continue
                if record.get("finishTime") and queued is not None:
                    newest = max(filter(None, (newest, queued)), default=None)
                if key not in touched:
                    touched.add(key)
                    floor = min(floor, self._run_floor(record, queued))
            if any((t := parse_time(r.get("queueTime"))) is not None and t < floor for r in items):
                break
        records: list[Record] = []
        pinned: list[datetime] = []
        for key in sorted(touched):
            group = [record for record, _ in runs[key]]
            for record, page_url in runs[key]:
                external = f"{self.settings.project}/environments/{environment['id']}/records/{record['id']}"
                records.append(raw_payload(self.client, "azure_devops.deployment_record", external, record, page_url))
            pinned += [
                queued
                for record in latest_attempts(group)
                if not job_finished(record) and (queued := parse_time(record.get("queueTime"))) is not None
            ]
            deployment = deployment_from_run_records(
                self.name,
                self.settings.project,
                environment,
                group,
                self._owner_build(group[0]),
                self.settings.rules,
                self._services.service,
                with_issues_is=self.settings.succeeded_with_issues_is,
            )
            if deployment is not None:
                records.append(deployment)
        run_start = self.context.run_started_at
        if pinned:
            watermark = new_watermark(None, min(pinned), run_start)
        else:
            watermark = new_watermark(cursors.get(cursor), newest, run_start)
        if records or watermark:
            yield Batch(records=tuple(records), cursors={cursor: watermark} if watermark else {})

    def _run_floor(self, record: Mapping[str, Any], queued: datetime | None) -> datetime:
        """How far back the newest-first listing must go to hold every record of ``record``'s run: the run's
        (owner build's) queue time, less the look-back; the record's own queue time without an owner build."""
        build = self._owner_build(record) or {}
        times = [t for t in (parse_time(build.get("queueTime")), queued) if t is not None]
        return min(times, default=self.context.run_started_at) - self.settings.lookback

    def _owner_build(self, record: Mapping[str, Any]) -> Mapping[str, Any] | None:
        owner = record.get("owner") or {}
        if record.get("planType", "Build") != "Build" or owner.get("id") is None:
            return None
        key = str(owner["id"])
        if key not in self._builds:
            url = self._url(f"build/builds/{key}")
            self._builds[key] = self.client.get(PageRequest(url, self._params()), resource="builds/{id}").body or {}
        return self._builds[key]

    def _all(self, paginator: ContinuationTokenPaginator, resource: str) -> list[dict[str, Any]]:
        return [item for page in self.client.pages(paginator, resource=resource) for item in page.items("value")]


def build_records(
    settings: Settings, services: ServiceResolver, build: Mapping[str, Any]
) -> tuple[PipelineRun, list[Record]]:
    """A build's pipeline run and the records it stands for (the run when ``pipelines``, its deployment
    when a rule matches in ``builds`` mode): the one mapping of the sync and the rebuild."""
    project = settings.project
    run = pipeline_run_from_build(settings.name, project, build)
    records: list[Record] = [run] if settings.pipelines else []
    if settings.rules and settings.deployments_from == "builds":
        service = services.service(run.repo or project)
        deployment = deployment_from_build(
            settings.name, project, build, settings.rules, service, with_issues_is=settings.succeeded_with_issues_is
        )
        if deployment is not None:
            records.append(deployment)
    return run, records


def rebuild_blocker(settings: Settings) -> str | None:
    """Why these settings cannot be rebuilt, or ``None``."""
    if settings.rules and settings.deployments_from == "environments":
        return "with deployments_from: environments, the environment objects and owner builds are not stored"
    return None


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The commits, pull requests, pipeline runs and deployments a sync would write for the stored
    payloads (see ``connectors.rebuild_support``); a stored pull request carries its ``commits``."""
    overrides = repository_services(settings.repositories, f"{settings.project}/")
    services = ServiceResolver(settings.name, context.services, overrides)
    records: list[Record] = []
    for payload in of_kind(payloads, "azure_devops.pull_request"):
        repo = partition_of(payload.external_id, "#")
        records.append(pull_request_from_api(settings.name, repo, payload.body, payload.body.get("commits") or []))
    for payload in of_kind(payloads, "azure_devops.commit"):
        records.append(commit_from_api(settings.name, partition_of(payload.external_id, "@"), payload.body))
    for payload in of_kind(payloads, "azure_devops.build"):
        records += build_records(settings, services, payload.body)[1]
    return records


def build_source(settings: Settings, context: SourceContext) -> AzureDevOpsSource:
    """The Azure DevOps source for ``settings`` in this run."""
    return AzureDevOpsSource(settings, context)

"""GitHub Actions source (``kind: github_actions``): workflow runs (and jobs) as pipeline runs and deployments.

API: ``https://api.github.com`` (GHES: ``https://HOST/api/v3``), ``Authorization: Bearer <token>``
(needs ``actions: read``), ``Accept: application/vnd.github+json``, pinned ``X-GitHub-Api-Version``.
``GET /repos/{repo}/actions/runs?created={from}..{to}`` lists runs newest first in an object
``{"total_count", "workflow_runs": [...]}``, paged by ``Link`` headers (followed verbatim).
Rate limits as for the ``github`` source (``x-ratelimit-*``, secondary limits on 403/429).

Quirks handled:

- a filtered listing returns at most 1,000 runs (``total_count`` may say more): when the first
  page of a ``created`` range reports more than 1,000, the range is halved (newer half first) until
  each part fits, down to one second.
- a workflow run has no completion time: ``updated_at`` of a completed run is taken as its end.
- a completed run (or job) with ``conclusion`` ``action_required`` (waiting for an approval, no job
  started) or ``stale`` (GitHub gave up on it before it completed) never ran: it is a pipeline run but no
  deployment, neither a success nor a failed attempt.
- ``name`` may be empty (webhook examples show it): the workflow file name from ``path`` is used.
- re-runs ("Re-run all jobs" / "Re-run failed jobs") keep the run's ``id`` and ``created_at`` and bump
  ``run_attempt``; the listing shows only the latest attempt. Each attempt of a run matching a rule is
  its own deployment: attempt 1 keeps the run's id ``{repo}/actions/runs/{id}``, attempt ``n >= 2`` is
  ``{repo}/actions/runs/{id}/attempts/{n}``, each with its own status, times and ``head_sha``. For a listed
  run with ``run_attempt = k > 1`` the attempts ``1..k-1`` are read one by one with
  ``GET /repos/{repo}/actions/runs/{id}/attempts/{n}`` (the run as it was for that attempt); the listed
  run is attempt ``k``. Runs matching no rule cost no extra request. The pipeline run keeps one row per
  run (the latest attempt).

Incremental: one cursor per repository, ``workflow_runs/{repo}``: the newest ``created_at`` stored.
Runs are read from ``watermark - lookback`` to the run's start, and the cursor is stored once every
range is read. A run not ``completed`` and created within ``pending_recheck`` pins the cursor at its
``created_at``, so the next run re-reads it until it finishes. Earlier attempts are re-read each time
a re-run run is listed (only while it lies in the look-back overlap): the connector reads no stored
state, and one request per earlier attempt keeps attempt 1's row holding attempt 1's data. A re-run of
a run created before ``watermark - lookback`` is not listed, so it is not seen (as before).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from connectors.base import SourceContext
from connectors.deployment_rules import DeploymentRule, RunFacts, match_rule
from connectors.errors import ErrorKind, SourceError
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver, repository_services
from connectors.http.incremental import format_time, listing_start, new_watermark, parse_time
from connectors.http.listings import Listing
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import LinkHeaderPaginator
from connectors.http.ratelimit import GitHubRateLimitReader
from connectors.http.settings import HttpSourceSettings
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.mapping_support import identifier, time_of
from connectors.rebuild_support import of_kind, partition_of
from connectors.records import Batch, CursorKey, Deployment, DeploymentWithdrawal, PipelineRun, RawPayload, Record
from connectors.settings import Duration, SettingsModel

__all__ = [
    "GitHubActionsSource",
    "Settings",
    "attempt_external_id",
    "attempt_of",
    "build_source",
    "records_from_payloads",
    "run_from_api",
]

logger = logging.getLogger(__name__)

#: Most results GitHub returns for one filtered listing.
RESULT_CAP = 1000
#: Raw kind of one earlier attempt of a run (``GET .../actions/runs/{id}/attempts/{n}``).
ATTEMPT_KIND = "github_actions.workflow_run_attempt"


class ActionsRepository(SettingsModel):
    """One repository (``owner/name``) with an optional service override."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="owner/name")
    service: str | None = Field(default=None, description="Service of its deployments (overrides the mapping).")


class Settings(HttpSourceSettings):
    """A GitHub or GHES source of Actions workflow runs."""

    kind: Literal["github_actions"] = "github_actions"
    base_url: str = Field(default="https://api.github.com", description="GHES: https://HOST/api/v3")
    repositories: tuple[ActionsRepository, ...] = Field(min_length=1)
    rules: tuple[DeploymentRule, ...] = Field(
        default=(), description="Workflow runs that are deployments; `name` globs the workflow name."
    )
    job_rules: tuple[DeploymentRule, ...] = Field(
        default=(), description="Jobs that are deployments; `name` globs `workflow / job`. Costs a call per run."
    )
    pending_recheck: Duration = Field(
        default=timedelta(days=1), description="Unfinished runs created within this are re-read next run."
    )
    api_version: str = "2022-11-28"

    @field_validator("repositories", mode="before")
    @classmethod
    def _names_to_repositories(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value


# --- mapping (pure) ---------------------------------------------------------------------------


def workflow_name(run: Mapping[str, Any]) -> str:
    """The run's ``name``, else the workflow file name from ``path`` (``.github/workflows/x.yml@ref``)."""
    name = str(run.get("name") or "").strip()
    if name:
        return name
    return str(run.get("path") or "").split("@", 1)[0].rsplit("/", 1)[-1] or str(run.get("workflow_id"))


def attempt_of(run: Mapping[str, Any]) -> int:
    """The run's ``run_attempt``: 1 when absent or not a positive integer (payloads without re-runs)."""
    value = run.get("run_attempt")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return 1


def attempt_external_id(repo: str, run_id: object, attempt: int) -> str:
    """``{repo}/actions/runs/{id}`` for attempt 1 (the id stored before re-runs were split), else
    ``{repo}/actions/runs/{id}/attempts/{attempt}``."""
    base = f"{repo}/actions/runs/{run_id}"
    return base if attempt == 1 else f"{base}/attempts/{attempt}"


def run_from_api(source: str, repo: str, run: Mapping[str, Any]) -> PipelineRun:
    """A :class:`PipelineRun`: ``conclusion`` once ``completed``, else ``status``; end = ``updated_at``."""
    created = time_of(run.get("created_at"), "created_at")
    if created is None:
        raise ValueError(f"workflow run {run.get('id')} has no created_at")
    completed = run.get("status") == "completed"
    started = parse_time(run.get("run_started_at")) or created
    finished = parse_time(run.get("updated_at")) if completed else None
    return PipelineRun(
        source=source,
        external_id=f"{repo}/actions/runs/{identifier(run, 'id')}",
        repo=repo,
        name=workflow_name(run),
        status=str(run.get("conclusion") if completed else run.get("status")),
        created_at=created,
        started_at=started,
        finished_at=finished,
        branch=run.get("head_branch"),
        sha=run.get("head_sha"),
        duration_seconds=(finished - started).total_seconds() if finished else None,
    )


def job_external_id(repo: str, job: Mapping[str, Any]) -> str:
    """``{repo}/actions/jobs/{id}``: the id of a job's deployment and of its stored payload."""
    return f"{repo}/actions/jobs/{identifier(job, 'id')}"


def job_deployment(
    source: str, repo: str, job: Mapping[str, Any], environment: str, service: str, status: Any
) -> Deployment:
    """The :class:`Deployment` a matched job stands for (``completed_at`` once completed)."""
    return Deployment(
        source=source,
        external_id=job_external_id(repo, job),
        service=service,
        environment=environment,
        status=status,
        sha=job.get("head_sha"),
        finished_at=parse_time(job.get("completed_at")) if job.get("status") == "completed" else None,
        started_at=parse_time(job.get("started_at")),
        repo=repo,
    )


# --- source -----------------------------------------------------------------------------------


class GitHubActionsSource:
    """Yields a pipeline run per workflow run, and deployments for runs and jobs matching a rule."""

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
            settings,
            headers={
                "Authorization": f"Bearer {settings.token.get_secret_value()}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": settings.api_version,
            },
            rate_limits=GitHubRateLimitReader(),
            sleep=sleep,
            clock=clock,
        )
        overrides = repository_services(settings.repositories)
        self._services = ServiceResolver(settings.name, context.services, overrides)

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per repository: workflow runs created since ``watermark - lookback``, one batch per page."""
        for repo in self.settings.repositories:
            yield from self._runs(repo.name, cursors)

    def _runs(self, repo: str, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        cursor = CursorKey("workflow_runs", repo)
        end = self.context.run_started_at
        start = listing_start(
            cursors.get(cursor),
            run_started_at=end,
            lookback=self.settings.lookback,
            history_days=self.settings.history_days,
        )
        listing = Listing(start)
        pin_after = end - self.settings.pending_recheck
        pending = [(start, end)]
        while pending:
            low, high = pending.pop()
            paginator = LinkHeaderPaginator(
                f"{self.settings.base_url}/repos/{repo}/actions/runs",
                {"created": f"{format_time(low)}..{format_time(high)}", "per_page": str(self.settings.per_page)},
            )
            for page in self.client.pages(paginator, resource=f"repos/{repo}/actions/runs"):
                halves = _split(low, high) if page.number == 1 and _over_cap(page) else None
                if halves:
                    logger.info("%s: %s has over %d runs in %s..%s; splitting", self.name, repo, RESULT_CAP, low, high)
                    pending.extend(halves)  # the newer half is popped first
                    break
                records = self._page_records(repo, page, listing, pin_after)
                if records:
                    yield Batch(records=tuple(records))
        if listing.pinned:
            watermark = new_watermark(None, min(listing.pinned), end)
        else:
            watermark = new_watermark(cursors.get(cursor), listing.newest, end)
        if watermark:
            yield Batch(cursors={cursor: watermark})

    def _page_records(self, repo: str, page: Page, listing: Listing, pin_after: datetime) -> list[Record]:
        records: list[Record] = []
        for item in page.items("workflow_runs"):
            run, mapped = run_records(self.name, self.settings, self._services, repo, item)
            listing.see(run.created_at)
            if item.get("status") != "completed" and run.created_at >= pin_after:
                listing.pin(run.created_at)
            records += [
                *mapped,
                raw_payload(self.client, "github_actions.workflow_run", run.external_id, item, page.url),
            ]
            records += self._earlier_attempt_records(repo, item, run)
            if self.settings.job_rules:
                records += self._job_records(repo, item, run)
        return records

    def _earlier_attempt_records(self, repo: str, item: Mapping[str, Any], run: PipelineRun) -> list[Record]:
        """Attempts ``1..k-1`` of a re-run run (``run_attempt = k``) that is a deployment: one GET each."""
        latest = attempt_of(item)
        if latest == 1 or match_rule(self.settings.rules, RunFacts(name=run.name, branch=run.branch)) is None:
            return []
        run_id = identifier(item, "id")
        resource = f"repos/{repo}/actions/runs/attempts"
        records: list[Record] = []
        for number in range(1, latest):
            url = f"{self.settings.base_url}/repos/{repo}/actions/runs/{run_id}/attempts/{number}"
            page = self.client.get(PageRequest(url, {"exclude_pull_requests": "true"}), resource=resource)
            if not isinstance(page.body, dict):
                raise SourceError(
                    self.name,
                    f"attempt {number} of workflow run {run_id} is not a JSON object",
                    kind=ErrorKind.RETRIABLE,
                    resource=resource,
                    hint="retry later; report it if it persists",
                )
            raw_id = f"{repo}/actions/runs/{run_id}/attempts/{number}"
            records.append(raw_payload(self.client, ATTEMPT_KIND, raw_id, page.body, page.url))
            records += attempt_records(self.name, self.settings, self._services, repo, page.body, number)
        return records

    def _job_records(self, repo: str, item: Mapping[str, Any], run: PipelineRun) -> list[Record]:
        paginator = LinkHeaderPaginator(
            str(item.get("jobs_url") or f"{self.settings.base_url}/repos/{repo}/actions/runs/{item['id']}/jobs"),
            {"filter": "latest", "per_page": "100"},
        )
        records: list[Record] = []
        for page in self.client.pages(paginator, resource=f"repos/{repo}/actions/runs/jobs"):
            for job in page.items("jobs"):
                records.append(
                    raw_payload(self.client, "github_actions.job", job_external_id(repo, job), job, page.url)
                )
                records += job_records(self.name, self.settings, self._services, repo, job, run)
        return records


# --- mapping shared by the sync and the rebuild -----------------------------------------------


def run_records(
    source: str,
    settings: Settings,
    services: ServiceResolver,
    repo: str,
    item: Mapping[str, Any],
    attempt: int | None = None,
) -> tuple[PipelineRun, list[Record]]:
    """The pipeline run of a workflow run, and the records it stands for (the run, its deployment if a rule
    matches and the run was attempted). The deployment is the run's attempt (``attempt``, else
    ``run_attempt``), its id from :func:`attempt_external_id`. A completed run whose ``conclusion`` says it
    never ran (``action_required``, ``stale``: :meth:`RuleMatch.attempt_status`) is no deployment."""
    run = run_from_api(source, repo, item)
    records: list[Record] = [run]
    match = match_rule(settings.rules, RunFacts(name=run.name, branch=run.branch))
    if match is None:
        return run, records
    status = match.attempt_status(item.get("conclusion"), finished=item.get("status") == "completed")
    external_id = attempt_external_id(repo, identifier(item, "id"), attempt or attempt_of(item))
    if status is None:  # never ran: remove a copy stored while it was in progress
        records.append(DeploymentWithdrawal(source, external_id))
    else:
        service = match.rule.service or services.service(repo)
        records.append(
            Deployment(
                source=source,
                external_id=external_id,
                service=service,
                environment=match.environment,
                status=status,
                sha=run.sha,
                finished_at=run.finished_at,
                started_at=run.started_at,
                repo=repo,
            )
        )
    return run, records


def attempt_records(
    source: str, settings: Settings, services: ServiceResolver, repo: str, item: Mapping[str, Any], attempt: int
) -> list[Record]:
    """The deployment of one earlier attempt (``item`` as returned by ``.../attempts/{attempt}``), if a rule
    matches; the pipeline run stays the latest attempt's."""
    _, mapped = run_records(source, settings, services, repo, item, attempt)
    return [record for record in mapped if isinstance(record, Deployment | DeploymentWithdrawal)]


def job_records(
    source: str, settings: Settings, services: ServiceResolver, repo: str, job: Mapping[str, Any], run: PipelineRun
) -> list[Record]:
    """The deployment a job of ``run`` stands for when a job rule matches it (else nothing); none for a job
    that never ran (``action_required``, ``stale``), as for runs."""
    facts = RunFacts(name=f"{run.name} / {job.get('name')}", branch=run.branch)
    match = match_rule(settings.job_rules, facts)
    if match is None:
        return []
    status = match.attempt_status(job.get("conclusion"), finished=job.get("status") == "completed")
    if status is None:  # never ran: remove a copy stored while it was in progress
        return [DeploymentWithdrawal(source, job_external_id(repo, job))]
    service = match.rule.service or services.service(repo)
    return [job_deployment(source, repo, job, match.environment, service, status)]


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The records a sync would write for the stored workflow runs and jobs (see ``connectors.rebuild_support``).

    Jobs exist only for runs synced while ``job_rules`` were set: job rules added later find no jobs.
    """
    overrides = repository_services(settings.repositories)
    services = ServiceResolver(settings.name, context.services, overrides)
    records: list[Record] = []
    runs: dict[tuple[str, str], PipelineRun] = {}
    latest: dict[str, int] = {}
    for payload in of_kind(payloads, "github_actions.workflow_run"):
        repo = partition_of(payload.external_id, "/actions/runs/")
        run, mapped = run_records(settings.name, settings, services, repo, payload.body)
        runs[repo, str(payload.body.get("id"))] = run
        latest[run.external_id] = attempt_of(payload.body)
        records += mapped
    for payload in of_kind(payloads, ATTEMPT_KIND):
        run_id, _, number = payload.external_id.rpartition("/attempts/")
        if int(number) < latest.get(run_id, 0):  # the stored run's latest attempt is mapped above
            repo = partition_of(run_id, "/actions/runs/")
            records += attempt_records(settings.name, settings, services, repo, payload.body, int(number))
    if settings.job_rules:
        for payload in of_kind(payloads, "github_actions.job"):
            repo = partition_of(payload.external_id, "/actions/jobs/")
            parent = runs.get((repo, str(payload.body.get("run_id"))))
            if parent is not None:
                records += job_records(settings.name, settings, services, repo, payload.body, parent)
    return records


def _over_cap(page: Page) -> bool:
    total = page.body.get("total_count") if isinstance(page.body, dict) else None
    return isinstance(total, int) and total > RESULT_CAP


def _split(low: datetime, high: datetime) -> list[tuple[datetime, datetime]] | None:
    """``[(older half), (newer half)]`` of a ``created`` range; ``None`` below two seconds."""
    if high - low < timedelta(seconds=2):
        return None
    middle = low + (high - low) / 2
    middle = middle.replace(microsecond=0)
    return [(low, middle), (middle + timedelta(seconds=1), high)]


def build_source(settings: Settings, context: SourceContext) -> GitHubActionsSource:
    """The GitHub Actions source for ``settings`` in this run."""
    return GitHubActionsSource(settings, context)

"""CircleCI source (``kind: circleci``): workflows as pipeline runs, rule-matched workflows and jobs as deployments.

API: v2 at ``https://circleci.com/api/v2`` (server: ``https://HOST/api/v2``), header
``Circle-Token: <personal API token>``. Every listing answers ``{"items": [...], "next_page_token"}``;
the token is sent back as the ``page-token`` query parameter and is null on the last page.

- pipelines: ``GET /project/{slug}/pipeline`` (optionally ``branch=``), newest first; a pipeline holds
  the trigger's ``vcs`` (revision, branch or tag).
- workflows: ``GET /pipeline/{id}/workflow``; each is a :class:`PipelineRun` and, when it matches a
  ``rules`` entry (``name`` globs the workflow name, ``branch`` the pipeline's branch), a deployment.
- jobs (only with ``job_rules``): ``GET /workflow/{id}/job``; ``name`` globs ``workflow / job``.

Rate limits: 429 with ``Retry-After`` (seconds), honoured up to ``max_rate_limit_wait``; 5xx and
connection errors back off and retry; 401/403/404 are fatal.

Incremental: one cursor per project, ``pipelines/{slug}``: the newest pipeline ``created_at`` stored.
Pipelines are read newest first down to ``watermark - lookback`` and the cursor is stored once the
project's listing is complete. A pipeline created within ``pending_recheck`` whose workflows are not
all finished (or that has none yet while its setup is pending) pins the cursor at its ``created_at``,
so the next run re-reads it until it finishes. Limitation: a workflow *rerun* joins its old pipeline;
a rerun of a pipeline older than ``watermark - lookback`` is not seen (raise ``lookback`` to cover
the reruns you care about).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from connectors.base import SourceContext
from connectors.circleci_mapping import (
    PipelineFacts,
    job_deployment,
    pipeline_facts,
    run_from_workflow,
    workflow_deployment,
    workflow_finished,
)
from connectors.circleci_settings import CircleProject, Settings
from connectors.deployment_rules import RunFacts, match_rule
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver
from connectors.http.incremental import listing_start, new_watermark, parse_time
from connectors.http.listings import Listing
from connectors.http.pagination import TokenPaginator
from connectors.http.ratelimit import HeaderRateLimitReader
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.rebuild_support import of_kind, partition_of
from connectors.records import Batch, CursorKey, PipelineRun, RawPayload, Record

__all__ = [
    "CircleCiSource",
    "Settings",
    "build_source",
    "rebuild_blocker",
    "records_from_payloads",
    "token_paginator",
    "workflow_records",
]

logger = logging.getLogger(__name__)

#: 429 + ``Retry-After``; ``X-RateLimit-Remaining`` is read when a response carries it.
CIRCLECI_RATE_LIMIT = HeaderRateLimitReader(remaining_header="X-RateLimit-Remaining")
#: Pipeline states before its workflows exist.
SETUP_STATES = frozenset({"setup-pending", "setup", "pending"})


def token_paginator(url: str, params: Mapping[str, str] | None = None) -> TokenPaginator:
    """CircleCI paging: ``next_page_token`` of the body sent back as ``page-token``; null ends it."""
    return TokenPaginator(url, params, cursor_field="next_page_token", cursor_param="page-token", last_flag=None)


class CircleCiSource:
    """Yields a pipeline run per workflow, and deployments for workflows and jobs matching a rule."""

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
            headers={"Circle-Token": settings.token.get_secret_value(), "Accept": "application/json"},
            rate_limits=CIRCLECI_RATE_LIMIT,
            sleep=sleep,
            clock=clock,
        )
        self._overrides: dict[str, str] = {}
        self._services = ServiceResolver(settings.name, context.services, self._overrides)

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per project: one batch per pipeline page, then the project's cursor."""
        for project in self.settings.projects:
            yield from self._pipelines(project, cursors)

    def _pipelines(self, project: CircleProject, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        cursor = CursorKey("pipelines", project.slug)
        run_started_at = self.context.run_started_at
        listing = Listing(
            listing_start(
                cursors.get(cursor),
                run_started_at=run_started_at,
                lookback=self.settings.lookback,
                history_days=self.settings.history_days,
            )
        )
        pin_after = run_started_at - self.settings.pending_recheck
        params = {"branch": project.branch} if project.branch else None
        url = f"{self.settings.base_url}/project/{quote(project.slug, safe='/')}/pipeline"
        resource = f"project/{project.slug}/pipeline"
        for page in self.client.pages(token_paginator(url, params), resource=resource):
            items = page.items("items")
            fresh = [p for p in items if (t := parse_time(p.get("created_at"))) is None or t >= listing.start]
            records: list[Record] = []
            for pipeline in fresh:
                created = parse_time(pipeline.get("created_at"))
                listing.see(created)
                facts = pipeline_facts(project.slug, project.repo, pipeline)
                if project.service:
                    self._overrides[facts.repo] = project.service
                records.append(
                    raw_payload(
                        self.client,
                        "circleci.pipeline",
                        f"{project.slug}/pipeline/{pipeline['id']}",
                        pipeline,
                        page.url,
                    )
                )
                done = self._workflows(pipeline, facts, records)
                if not done and created is not None and created >= pin_after:
                    listing.pin(created)
            if records:
                yield Batch(records=tuple(records))
            if len(fresh) < len(items):
                break
        if listing.pinned:
            watermark = new_watermark(None, min(listing.pinned), run_started_at)
        else:
            watermark = new_watermark(cursors.get(cursor), listing.newest, run_started_at)
        if watermark:
            yield Batch(cursors={cursor: watermark})

    def _workflows(self, pipeline: Mapping[str, Any], facts: PipelineFacts, records: list[Record]) -> bool:
        """Appends the records of the pipeline's workflows; whether every one of them is finished."""
        url = f"{self.settings.base_url}/pipeline/{pipeline['id']}/workflow"
        workflows: list[dict[str, Any]] = []
        for page in self.client.pages(token_paginator(url), resource="pipeline/{id}/workflow"):
            for workflow in page.items("items"):
                workflows.append(workflow)
                run, mapped = workflow_records(self.settings, self._services, facts, workflow)
                records += [*mapped, raw_payload(self.client, "circleci.workflow", run.external_id, workflow, page.url)]
                if self.settings.job_rules:
                    records += self._jobs(workflow, run.name, facts)
        if not workflows:
            return str(pipeline.get("state")) not in SETUP_STATES
        return all(workflow_finished(w) for w in workflows)

    def _jobs(self, workflow: Mapping[str, Any], workflow_name: str, facts: PipelineFacts) -> list[Record]:
        url = f"{self.settings.base_url}/workflow/{workflow['id']}/job"
        records: list[Record] = []
        for page in self.client.pages(token_paginator(url), resource="workflow/{id}/job"):
            for job in page.items("items"):
                external_id = f"{facts.slug}/job/{job.get('id') or job.get('job_number')}"
                records.append(raw_payload(self.client, "circleci.job", external_id, job, page.url))
                if job.get("type") == "approval":
                    continue
                job_facts = RunFacts(name=f"{workflow_name} / {job.get('name')}", branch=facts.branch)
                match = match_rule(self.settings.job_rules, job_facts)
                if match is None:
                    continue
                service = match.rule.service or self._services.service(facts.repo)
                records.append(job_deployment(self.name, facts, job, match, service))
        return records


def workflow_records(
    settings: Settings, services: ServiceResolver, facts: PipelineFacts, workflow: Mapping[str, Any]
) -> tuple[PipelineRun, list[Record]]:
    """The pipeline run of a workflow and the records it stands for (the run, its deployment if a rule
    matches): the one mapping of the sync and the rebuild."""
    run = run_from_workflow(settings.name, facts, workflow)
    records: list[Record] = [run]
    match = match_rule(settings.rules, RunFacts(name=run.name, branch=facts.branch))
    if match is not None:
        service = match.rule.service or services.service(facts.repo)
        records.append(workflow_deployment(run, match, workflow, service))
    return run, records


def rebuild_blocker(settings: Settings) -> str | None:
    """Why these settings cannot be rebuilt, or ``None``."""
    if settings.job_rules:
        return "with job_rules, a stored job does not name the workflow it belongs to"
    return None


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The pipeline runs and deployments a sync would write for the stored pipelines and workflows (see
    ``connectors.rebuild_support``); a workflow finds its pipeline by ``pipeline_id``."""
    projects = {p.slug: p for p in settings.projects}
    overrides: dict[str, str] = {}
    pipelines: dict[str, PipelineFacts] = {}
    for payload in of_kind(payloads, "circleci.pipeline"):
        slug = partition_of(payload.external_id, "/pipeline/")
        project = projects.get(slug)
        facts = pipeline_facts(slug, project.repo if project else None, payload.body)
        if project is not None and project.service:
            overrides[facts.repo] = project.service
        pipelines[str(payload.body["id"])] = facts
    services = ServiceResolver(settings.name, context.services, overrides)
    records: list[Record] = []
    for payload in of_kind(payloads, "circleci.workflow"):
        parent = pipelines.get(str(payload.body.get("pipeline_id")))
        if parent is None:
            raise ValueError(f"workflow {payload.external_id}: its pipeline is not stored; re-sync the source")
        records += workflow_records(settings, services, parent, payload.body)[1]
    return records


def build_source(settings: Settings, context: SourceContext) -> CircleCiSource:
    """The CircleCI source for ``settings`` in this run."""
    return CircleCiSource(settings, context)

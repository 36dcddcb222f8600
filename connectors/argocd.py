"""Argo CD source (``kind: argocd``): applications' sync history as deployments, health as failure signals.

API: ``GET {base_url}/api/v1/applications`` (optionally ``projects=`` repeated and ``selector=`` a label
selector), ``Authorization: Bearer <token>`` (a project or account token). The list is not paged: every
application comes in one response (``{"items": [...]}``). Argo CD has no rate-limit headers; 429/5xx are
retried with backoff and ``Retry-After`` is honoured by the shared client.

Definitions:

- a **deployment** is one entry of ``status.history`` (Argo CD appends one per *successful* sync; it keeps
  the last ``spec.revisionHistoryLimit`` entries, default 10, so a source polled less often than ten syncs
  loses the oldest): ``external_id`` ``{app}/history/{id}``, ``finished_at`` ``deployedAt``,
  ``started_at`` ``deployStartedAt``, status ``success``; repo and sha as :func:`deployed_revision` says.
  A rule must match (``name`` globs the application name, ``ci_environment`` its destination namespace,
  ``branch`` the ``targetRevision`` of its first source); an application matching no rule yields no
  deployment. Environment: the rule's, else the destination namespace.
- a **failed sync** (``status.operationState.phase`` ``Failed`` or ``Error``, finished) is a failed
  deployment attempt: ``{app}/operations/{startedAt}``, repo and sha by :func:`deployed_revision` of
  ``operation.sync`` (else of ``syncResult``), status ``failure`` / ``error``.
- a **Degraded application after a sync** is a failed-deployment candidate: with ``degraded_incidents``
  (default on) the source emits an :class:`Incident` ``{app}/degraded/{history id}`` whose explicit cause
  is the latest deployment, created at ``status.health.lastTransitionTime`` (Argo CD ≥ 2.11; else when this
  run saw it). Its id is kept in the cursor ``degraded`` (JSON list); once the application is no longer
  Degraded (or a newer sync replaced the deployment) the incident is emitted again, resolved at the health
  transition time (else this run's start). The metrics engine then counts the deployment as failed and
  its recovery time from the incident.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

from pydantic import Field

from connectors.base import SourceContext
from connectors.deployment_rules import DeploymentRule, RunFacts, match_rule
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver
from connectors.http.incremental import parse_time
from connectors.http.page import PageRequest
from connectors.http.ratelimit import HeaderRateLimitReader
from connectors.http.settings import HttpSourceSettings
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.mapping_support import identifier, obj, objects, repo_of_git_url, time_of
from connectors.records import Batch, CursorKey, Deployment, DeploymentStatus, Incident, Record

__all__ = [
    "ArgoCdSource",
    "DeployedRevision",
    "Settings",
    "build_source",
    "deployed_revision",
    "deployments_of_application",
]

#: Why ``delivery-metrics rebuild`` cannot re-derive this source (see ``connectors.rebuild_support``).
REBUILD_UNSUPPORTED = (
    "the stored application object holds only its latest state and bounded history (older deployments "
    "have left it), and degraded-health incidents come from health transitions seen run by run (a "
    "cursor), not from a payload"
)

logger = logging.getLogger(__name__)

DEGRADED = CursorKey("degraded")
FAILED_PHASES = {"Failed": DeploymentStatus.FAILURE, "Error": DeploymentStatus.ERROR}


class Settings(HttpSourceSettings):
    """An Argo CD server; reference in ``docs/sources/argocd.md``."""

    kind: Literal["argocd"] = "argocd"
    api_root_suffix: ClassVar[str] = "/api/v1"
    base_url: str = Field(description="Argo CD server root, e.g. https://argocd.acme.test (no /api/v1).")
    projects: tuple[str, ...] = Field(default=(), description="Argo CD projects read (empty: all).")
    selector: str | None = Field(default=None, description="Label selector of the applications read.")
    rules: tuple[DeploymentRule, ...] = Field(
        default=(DeploymentRule(),), description="Applications that deploy; default: every application."
    )
    services: dict[str, str] = Field(default_factory=dict, description="Application name → service override.")
    degraded_incidents: bool = Field(default=True, description="Emit an incident for a Degraded app after a sync.")


def _facts(app: Mapping[str, Any]) -> RunFacts:
    spec = obj(app.get("spec"), "spec")
    source = obj(spec.get("source") or (objects(spec.get("sources"), "spec.sources") or [{}])[0], "spec.source")
    return RunFacts(
        name=str(obj(app.get("metadata"), "metadata").get("name") or ""),
        ci_environment=obj(spec.get("destination"), "spec.destination").get("namespace"),
        branch=source.get("targetRevision"),
    )


@dataclass(frozen=True, slots=True)
class DeployedRevision:
    """The repository (``owner/name``) and revision a sync deployed."""

    repo: str | None
    sha: str | None


def _is_git(source: Mapping[str, Any]) -> bool:
    return not source.get("chart")


def deployed_revision(synced: Mapping[str, Any], spec: Mapping[str, Any]) -> DeployedRevision:
    """What one sync deployed: ``synced`` is a ``status.history[]`` entry, an ``operation.sync`` or a
    ``syncResult`` (they share ``revision``/``source`` and, for multi-source applications,
    ``revisions``/``sources``); ``spec`` is the application's spec, used when ``synced`` names no source.

    Rules:

    - single source: sha = ``revision``; repo = ``owner/name`` of ``source.repoURL`` (else of
      ``spec.source.repoURL``), so it matches the repositories the Git-host sources store;
    - multi-source (``revisions`` set; Argo CD then leaves ``revision`` empty): ``revisions[i]`` is the
      revision of ``sources[i]`` (else ``spec.sources[i]``). The deployed source is the first Git source
      (no ``chart``) that is not only a ``ref`` for another source's value files, else the first Git
      source, else the first source; its revision and ``owner/name`` are used;
    - a Helm chart repository (a source with ``chart``) has no repo (its revision is a chart version,
      kept as the sha so that redeploying an older chart version is still seen as a rollback).
    """
    revisions = [r if isinstance(r, str) and r else None for r in synced.get("revisions") or ()]
    if revisions:
        sources = objects(synced.get("sources") or spec.get("sources"), "sources")
        indexed = [(i, sources[i] if i < len(sources) else {}) for i in range(len(revisions))]
        chosen = next(
            (i for i, src in indexed if src and _is_git(src) and not src.get("ref")),
            next((i for i, src in indexed if src and _is_git(src)), 0),
        )
        source = indexed[chosen][1]
        sha = revisions[chosen]
    else:
        source = obj(synced.get("source"), "source") or obj(spec.get("source"), "spec.source")
        revision = synced.get("revision")
        sha = revision if isinstance(revision, str) and revision else None
    repo = repo_of_git_url(source.get("repoURL")) if _is_git(source) else None
    return DeployedRevision(repo=repo, sha=sha)


def deployments_of_application(
    source: str, app: Mapping[str, Any], rules: tuple[DeploymentRule, ...], service: str
) -> list[Deployment]:
    """The deployments of one application: its sync history and a finished failed sync (see the module docstring)."""
    facts = _facts(app)
    match = match_rule(rules, facts)
    if match is None:
        return []
    status = obj(app.get("status"), "status")
    spec = obj(app.get("spec"), "spec")
    result: list[Deployment] = []
    for entry in objects(status.get("history"), "status.history"):
        deployed = time_of(entry.get("deployedAt"), "status.history.deployedAt")
        if deployed is None:
            continue
        revision = deployed_revision(entry, spec)
        result.append(
            Deployment(
                source=source,
                external_id=f"{facts.name}/history/{identifier(entry, 'id')}",
                service=match.rule.service or service,
                environment=match.environment,
                status=DeploymentStatus.SUCCESS,
                sha=revision.sha,
                finished_at=deployed,
                started_at=parse_time(entry.get("deployStartedAt")),
                repo=revision.repo,
            )
        )
    operation = obj(status.get("operationState"), "status.operationState")
    phase = operation.get("phase")
    finished = time_of(operation.get("finishedAt"), "status.operationState.finishedAt")
    if isinstance(phase, str) and phase in FAILED_PHASES and finished is not None and operation.get("startedAt"):
        requested = deployed_revision(
            obj(obj(operation.get("operation"), "operation").get("sync"), "operation.sync"), spec
        )
        synced = deployed_revision(obj(operation.get("syncResult"), "syncResult"), spec)
        attempted = requested if requested.sha else synced
        result.append(
            Deployment(
                source=source,
                external_id=f"{facts.name}/operations/{operation['startedAt']}",
                service=match.rule.service or service,
                environment=match.environment,
                status=FAILED_PHASES[phase],
                sha=attempted.sha,
                finished_at=finished,
                started_at=parse_time(operation.get("startedAt")),
                repo=attempted.repo,
            )
        )
    return result


class ArgoCdSource:
    """Yields deployments (and degraded-health incidents) of Argo CD applications."""

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
            headers={"Authorization": f"Bearer {settings.token.get_secret_value()}"},
            rate_limits=HeaderRateLimitReader(),
            sleep=sleep,
            clock=clock,
        )
        self._services = ServiceResolver(settings.name, context.services, settings.services)

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """One batch: every application's deployments, degraded incidents and raw payloads."""
        params: list[tuple[str, str]] = [("projects", p) for p in self.settings.projects]
        if self.settings.selector:
            params.append(("selector", self.settings.selector))
        url = f"{self.settings.base_url}/api/v1/applications"
        request = PageRequest(url + (f"?{urlencode(params)}" if params else ""))
        page = self.client.get(request, resource="applications")
        open_degraded: dict[str, Any] = json.loads(cursors.get(DEGRADED) or "{}")
        still_open: dict[str, Any] = {}
        records: list[Record] = []
        for app in page.items("items") or []:
            name = str((app.get("metadata") or {}).get("name"))
            deployments = deployments_of_application(self.name, app, self.settings.rules, self._services.service(name))
            records += deployments
            records.append(raw_payload(self.client, "argocd.application", name, app, page.url))
            if self.settings.degraded_incidents:
                records += self._health(app, name, deployments, open_degraded, still_open)
        listed = {f"{(a.get('metadata') or {}).get('name')}/degraded/" for a in page.items("items") or []}
        for incident_id, known in open_degraded.items():  # applications gone from the listing
            if not any(incident_id.startswith(prefix) for prefix in listed):
                records.append(self._incident(incident_id, known, self.context.run_started_at))
        yield Batch(records=tuple(records), cursors={DEGRADED: json.dumps(still_open, sort_keys=True)})

    def _health(
        self,
        app: Mapping[str, Any],
        name: str,
        deployments: list[Deployment],
        open_degraded: dict[str, Any],
        still_open: dict[str, Any],
    ) -> list[Record]:
        health = (app.get("status") or {}).get("health") or {}
        changed_at = parse_time(health.get("lastTransitionTime"))
        latest = max(
            (d for d in deployments if d.status is DeploymentStatus.SUCCESS and d.finished_at),
            key=lambda d: d.finished_at or self.context.run_started_at,
            default=None,
        )
        records: list[Record] = []
        current = None
        if health.get("status") == "Degraded" and latest is not None:
            current = f"{latest.external_id.replace('/history/', '/degraded/')}"
            known = open_degraded.get(current) or {
                "service": latest.service,
                "deployment": latest.external_id,
                "created_at": (changed_at or self.context.run_started_at).isoformat(),
            }
            still_open[current] = known
            records.append(self._incident(current, known, None))
        for incident_id, known in open_degraded.items():
            if incident_id.startswith(f"{name}/degraded/") and incident_id != current:
                records.append(self._incident(incident_id, known, changed_at or self.context.run_started_at))
        return records

    def _incident(self, incident_id: str, known: Mapping[str, Any], resolved: datetime | None) -> Incident:
        created = parse_time(known["created_at"]) or self.context.run_started_at
        return Incident(
            source=self.name,
            external_id=incident_id,
            service=known.get("service"),
            created_at=created,
            resolved_at=max(resolved, created) if resolved else None,
            title=f"Argo CD application degraded after {known.get('deployment')}",
            severity="degraded",
            cause_deployment_id=known.get("deployment"),
        )


def build_source(settings: Settings, context: SourceContext) -> ArgoCdSource:
    """The Argo CD source for ``settings`` in this run."""
    return ArgoCdSource(settings, context)

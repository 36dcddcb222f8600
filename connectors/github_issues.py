"""GitHub issues source (``kind: github_issues``): issues carrying an incident label, over REST.

API: ``https://api.github.com`` (GHES: ``https://HOST/api/v3``), ``Authorization: Bearer <token>``,
``Accept: application/vnd.github+json``. Listing, one per repository and incident label::

    GET /repos/{owner}/{repo}/issues?labels=<label>&state=all&sort=updated&direction=asc&since=<watermark-lookback>

re-anchored page after page: the next page is the same listing with ``since`` = the last item's
``updated_at`` (``since`` is "at or after"; issues seen already are dropped), so an issue updated
mid-listing cannot push another past a page boundary; a page of one update time goes on with
``Link rel="next"`` (followed verbatim: it switches to ``/repositories/{id}`` URLs). See
:mod:`connectors.http.listings`.
Quirks: ``labels=a,b`` means *all* of them, so each incident label is its own listing; the issues
listing also returns pull requests (items with a ``pull_request`` key), which are skipped.
Rate limits: ``x-ratelimit-*`` and secondary limits (see :class:`~connectors.http.GitHubRateLimitReader`).

Incremental: ``since`` filters on ``updated_at`` and the listing is oldest first, so each page's batch
carries the watermark reached (cursor ``issues/{repo}|{label}``). Closing and reopening an issue
update it, so an open incident is re-read whenever its state changes.

Not an incident: a pull request; an issue closed with ``state_reason`` ``duplicate`` (a duplicate of
another issue) or ``not_planned`` (declared not an incident); an issue the selection (``incidents``)
rejects. Such a listed issue yields an :class:`~connectors.records.IncidentWithdrawal` (pull requests
excepted): a copy stored by an earlier sync is removed with its payload. An issue whose incident label
was removed drops out of the ``labels=`` listing, so it is not seen again and stays stored as last read
(see ``docs/sources/github-issues.md``).

Mapping: ``external_id`` = ``{repo}/issues/{number}`` (as the webhook receiver); ``created_at``;
``resolved_at`` = ``closed_at`` while ``state`` is ``closed`` (a reopened issue is open again);
``acknowledged_at`` = ``None`` (GitHub has no acknowledgement); ``title``; ``severity`` = the first
label matching ``severity_label_pattern``. Service: the service rules (``label``, ``repo``), then the
repository's ``service``, then the configured service mapping of the repository, else ``None``.
Cause: the configured ``cause.fields`` and the issue body.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from connectors.base import SourceContext
from connectors.http.client import HttpClient
from connectors.http.deployments import repository_services
from connectors.http.etag import credential_identity
from connectors.http.incremental import parse_time
from connectors.http.listings import IncrementalListings, Listing
from connectors.http.page import Page
from connectors.http.pagination import LinkHeaderPaginator
from connectors.http.ratelimit import GitHubRateLimitReader
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.incident_rules import IncidentSourceSettings, ItemFacts, find_cause, is_incident, service_for
from connectors.mapping_support import identifier, time_of
from connectors.rebuild_support import of_kind, partition_of
from connectors.records import Batch, CursorKey, Incident, IncidentWithdrawal, RawPayload, Record
from connectors.settings import SettingsModel

__all__ = ["GitHubIssuesSource", "Settings", "build_source", "incident_from_issue", "records_from_payloads"]

logger = logging.getLogger(__name__)


class IssueRepository(SettingsModel):
    """One repository (``owner/name``) and, optionally, the service its incidents belong to."""

    name: str
    service: str | None = None


class Settings(IncidentSourceSettings):
    """Incident issues of GitHub repositories; reference in ``docs/sources/github-issues.md``."""

    kind: Literal["github_issues"] = "github_issues"
    base_url: str = Field(default="https://api.github.com", description="GHES: https://HOST/api/v3")
    repositories: tuple[IssueRepository, ...] = Field(min_length=1)
    incident_labels: tuple[str, ...] = Field(default=("incident",), min_length=1)
    severity_label_pattern: str = Field(default=r"(?i)^(sev|severity)[:/ -]?\w+$")
    api_version: str = "2022-11-28"

    @field_validator("repositories", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


def issue_facts(repo: str, raw: Mapping[str, Any]) -> ItemFacts:
    """Selection and service facts of one issue."""
    labels = tuple(str(label.get("name")) for label in raw.get("labels") or () if isinstance(label, Mapping))
    issue_type = raw.get("type")
    return ItemFacts(
        issue_type=str(issue_type.get("name")) if isinstance(issue_type, Mapping) else None,
        labels=labels,
        fields=raw,
        facts={"repo": (repo,), "project": (repo,)},
    )


def incident_from_issue(
    source: str, repo: str, raw: Mapping[str, Any], settings: Settings, fallback_service: str | None
) -> Incident:
    """The :class:`Incident` of one issue (see the module docstring)."""
    created = time_of(raw.get("created_at"), "created_at")
    if created is None:
        raise ValueError(f"issue {repo}#{raw.get('number')} has no created_at")
    facts = issue_facts(repo, raw)
    severity = re.compile(settings.severity_label_pattern)
    cause = find_cause(settings.cause, raw, raw.get("body"))
    return Incident(
        source=source,
        external_id=f"{repo}/issues/{identifier(raw, 'number')}",
        service=service_for(settings.services, facts) or fallback_service,
        created_at=created,
        resolved_at=parse_time(raw.get("closed_at")) if raw.get("state") == "closed" else None,
        title=raw.get("title"),
        severity=next((label for label in facts.labels if severity.match(label)), None),
        cause_deployment_id=cause.deployment_id,
        cause_sha=cause.sha,
    )


class GitHubIssuesSource:
    """Yields the incident issues of the configured repositories."""

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

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per repository and incident label, one batch per page."""
        listings = IncrementalListings.for_run(
            self.client, cursors, self._identity, self.settings, self.context.run_started_at
        )
        for repository in self.settings.repositories:
            service = repository.service or self.context.services.service_for_repo(repository.name)
            for label in self.settings.incident_labels:
                yield from self._issues(listings, repository.name, label, service)

    def _issues(self, listings: IncrementalListings, repo: str, label: str, service: str | None) -> Iterator[Batch]:
        cursor = CursorKey("issues", f"{repo}|{label}")
        params = {
            "labels": label,
            "state": "all",
            "sort": "updated",
            "direction": "asc",
            "since": listings.start(cursor).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "per_page": str(self.settings.per_page),
        }
        paginator = LinkHeaderPaginator(f"{self.settings.base_url}/repos/{repo}/issues", params)

        def handle(items: list[dict[str, Any]], page: Page, listing: Listing) -> list[Record]:
            records: list[Record] = []
            for raw in items:
                listing.see(parse_time(raw.get("updated_at")))
                incident = incident_of(self.settings, repo, raw, service)
                if incident is None:
                    records += withdrawals_of(self.settings, repo, raw)
                    continue
                if incident.service is None:
                    logger.info("%s: incident %s maps to no service (unmapped)", self.name, incident.external_id)
                records += [incident, raw_payload(self.client, "github.issue", incident.external_id, raw, page.url)]
            return records

        yield from listings.ascending(
            cursor, paginator, f"repos/{repo}/issues", handle, self.settings.per_page, anchor="since"
        )


#: ``state_reason`` values of a closed issue that was no incident: a duplicate of another issue (which
#: carries on), or closed as not planned (declared not an incident)
NOT_AN_INCIDENT_REASONS = frozenset({"duplicate", "not_planned"})


def closed_as_not_an_incident(raw: Mapping[str, Any]) -> bool:
    """Whether the issue is closed with a ``state_reason`` in :data:`NOT_AN_INCIDENT_REASONS` (a reopened
    issue is open again, whatever it was closed as)."""
    return raw.get("state") == "closed" and raw.get("state_reason") in NOT_AN_INCIDENT_REASONS


def incident_of(settings: Settings, repo: str, raw: Mapping[str, Any], service: str | None) -> Incident | None:
    """The incident an issue of ``repo`` stands for; ``None`` for a pull request, an issue closed as a
    duplicate or as not planned, or an issue the incident rules reject (the one mapping of the sync and
    the rebuild)."""
    if "pull_request" in raw or closed_as_not_an_incident(raw):
        return None
    if not is_incident(settings.incidents, issue_facts(repo, raw)):
        return None
    return incident_from_issue(settings.name, repo, raw, settings, service)


def withdrawals_of(settings: Settings, repo: str, raw: Mapping[str, Any]) -> list[Record]:
    """For a listed issue that is no incident (see :func:`incident_of`), the withdrawal of any copy an earlier
    sync stored, with its ``github.issue`` payload; nothing for a pull request (never stored as one)."""
    if "pull_request" in raw:
        return []
    external_id = f"{repo}/issues/{identifier(raw, 'number')}"
    return [IncidentWithdrawal(settings.name, external_id, ("github.issue",))]


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The incidents a sync would write for the stored issues (see ``connectors.rebuild_support``).
    Issues the rules rejected at sync time were not stored, and a stored one a later sync found to be no
    incident was withdrawn with its payload."""
    overrides = repository_services(settings.repositories)
    records: list[Record] = []
    for payload in of_kind(payloads, "github.issue"):
        repo = partition_of(payload.external_id, "/issues/")
        service = overrides.get(repo) or context.services.service_for_repo(repo)
        incident = incident_of(settings, repo, payload.body, service)
        if incident is not None:
            records.append(incident)
    return records


def build_source(settings: Settings, context: SourceContext) -> GitHubIssuesSource:
    """The GitHub issues source for ``settings`` in this run."""
    return GitHubIssuesSource(settings, context)

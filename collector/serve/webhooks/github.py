"""GitHub webhooks: ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body, hex, ``sha256=`` prefix).

Events (``X-GitHub-Event``) and what they become; external ids match the ``github`` connector's so a
webhook and a REST sync of the same item upsert one row:

- ``deployment_status`` → a :class:`Deployment` ``<repo>/deployments/<id>`` (state mapped as the
  connector does; ``finished_at`` = the status's ``created_at`` for success/failure/error).
- ``workflow_run`` → a :class:`PipelineRun` ``<repo>/actions/runs/<id>`` (status = conclusion when
  completed; ``finished_at`` = ``updated_at`` when completed).
- ``pull_request`` → a :class:`PullRequest` (no commit list, first commit or review time: those are
  filled by the REST sync and never erased by a webhook).
- ``push`` → a :class:`Commit` per pushed commit (``paths`` = added + modified + removed; parents
  are not in the payload and are left to the git or REST sync).
- ``issues`` carrying one of ``incident_labels`` → an :class:`Incident` ``<repo>/issues/<number>``
  (``resolved_at`` = ``closed_at``); one closed as not an incident (``state_reason`` ``duplicate`` or
  ``not_planned``, the ``github_issues`` source's rule :func:`connectors.github_issues.closed_as_not_an_incident`)
  → an :class:`IncidentWithdrawal` of that key instead: a copy stored earlier (by this webhook or by a
  ``github_issues`` sync of the same source name, with its ``github.issue`` payload) is deleted. Limit: an
  older delivery of that issue arriving after it stores it again, until the next sync withdraws it.

``X-GitHub-Delivery`` is the delivery id. ``ping`` and every other event are acknowledged, not stored.
The service of a repository is the configured service declaring it, else the repository name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collector.serve.settings import GitHubWebhookSettings
from collector.serve.webhooks.base import (
    PayloadError,
    Reopened,
    Translation,
    hmac_sha256_hex,
    required,
    required_time,
    same_secret,
    timestamp,
)
from connectors.base import ServiceMapper
from connectors.github_issues import closed_as_not_an_incident
from connectors.github_mapping import deployment_from_api, pull_request_from_api
from connectors.records import Commit, Incident, IncidentWithdrawal, PipelineRun, Record

SIGNATURE_HEADER = "x-hub-signature-256"
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"


@dataclass(frozen=True)
class GitHubReceiver:
    """The GitHub webhook receiver."""

    settings: GitHubWebhookSettings
    services: ServiceMapper
    provider: str = "github"

    @property
    def source(self) -> str:
        """Source name recorded on the records."""
        return self.settings.source

    @property
    def enabled(self) -> bool:
        """Whether a secret is configured."""
        return self.settings.secret is not None and bool(self.settings.secret.get_secret_value())

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """``X-Hub-Signature-256`` equals ``sha256=`` + the hex HMAC of the body (constant time)."""
        if self.settings.secret is None:
            return False
        expected = "sha256=" + hmac_sha256_hex(self.settings.secret.get_secret_value(), body)
        return same_secret(expected, headers.get(SIGNATURE_HEADER))

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None:
        """The ``X-GitHub-Delivery`` GUID."""
        return headers.get(DELIVERY_HEADER) or None

    def to_records(self, headers: Mapping[str, str], payload: Any) -> Translation | None:
        """Records of a handled event; ``None`` for any other event."""
        event = headers.get(EVENT_HEADER, "")
        handler = _HANDLERS.get(event)
        if handler is None or not isinstance(payload, Mapping):
            return None
        records = handler(self, payload)
        return None if records is None else Translation.of(f"github.{event}", records)

    def _repo(self, payload: Mapping[str, Any]) -> str:
        return str(required(payload, "repository", "full_name"))

    def _service(self, repo: str) -> str:
        return self.services.service_for_repo(repo) or repo

    def _deployment_status(self, payload: Mapping[str, Any]) -> list[Record]:
        repo = self._repo(payload)
        deployment = required(payload, "deployment")
        status = required(payload, "deployment_status")
        required(deployment, "id")
        return [deployment_from_api(self.source, repo, self._service(repo), deployment, [status])]

    def _workflow_run(self, payload: Mapping[str, Any]) -> list[Record]:
        repo = self._repo(payload)
        run = required(payload, "workflow_run")
        completed = run.get("status") == "completed"
        started = timestamp(run.get("run_started_at"))
        finished = timestamp(run.get("updated_at")) if completed else None
        duration = (finished - started).total_seconds() if started and finished and finished >= started else None
        return [
            PipelineRun(
                source=self.source,
                external_id=f"{repo}/actions/runs/{required(run, 'id')}",
                repo=repo,
                name=str(run.get("name") or (payload.get("workflow") or {}).get("name") or "workflow"),
                status=str((run.get("conclusion") if completed else None) or run.get("status") or "unknown"),
                created_at=required_time(run, "created_at"),
                started_at=started,
                finished_at=finished,
                branch=run.get("head_branch"),
                sha=run.get("head_sha"),
                duration_seconds=duration,
            )
        ]

    def _pull_request(self, payload: Mapping[str, Any]) -> list[Record | Reopened]:
        repo = self._repo(payload)
        try:
            pull = required(payload, "pull_request")
            record = pull_request_from_api(self.source, repo, pull)
        except (KeyError, ValueError) as error:
            raise PayloadError(f"pull_request: {error}") from error
        if payload.get("action") == "reopened" and record.closed_at is None:
            return [Reopened(record, "closed_at", required_time(pull, "updated_at"))]
        return [record]

    def _push(self, payload: Mapping[str, Any]) -> list[Record]:
        repo = self._repo(payload)
        commits: list[Record] = []
        for item in payload.get("commits") or ():
            author = item.get("author") or {}
            paths = sorted({*(item.get("added") or ()), *(item.get("modified") or ()), *(item.get("removed") or ())})
            commits.append(
                Commit(
                    source=self.source,
                    repo=repo,
                    sha=str(required(item, "id")).lower(),
                    authored_at=required_time(item, "timestamp"),
                    author=author.get("username") or author.get("name"),
                    author_email=author.get("email"),
                    message=item.get("message"),
                    paths=tuple(paths),
                )
            )
        return commits

    def _issues(self, payload: Mapping[str, Any]) -> list[Record | Reopened] | None:
        repo = self._repo(payload)
        issue = required(payload, "issue")
        labels = {str(label.get("name")) for label in issue.get("labels") or () if isinstance(label, Mapping)}
        if not labels & set(self.settings.incident_labels):
            return None
        external_id = f"{repo}/issues/{required(issue, 'number')}"
        if closed_as_not_an_incident(issue):
            return [IncidentWithdrawal(self.source, external_id, ("github.issue",))]
        closed = timestamp(issue.get("closed_at")) if issue.get("state") == "closed" else None
        incident = Incident(
            source=self.source,
            external_id=external_id,
            service=self._service(repo),
            created_at=required_time(issue, "created_at"),
            resolved_at=closed,
            title=issue.get("title"),
        )
        if payload.get("action") == "reopened" and closed is None:
            return [Reopened(incident, "resolved_at", required_time(issue, "updated_at"))]
        return [incident]


_HANDLERS: dict[str, Callable[[GitHubReceiver, Mapping[str, Any]], Sequence[Record | Reopened] | None]] = {
    "deployment_status": GitHubReceiver._deployment_status,
    "workflow_run": GitHubReceiver._workflow_run,
    "pull_request": GitHubReceiver._pull_request,
    "push": GitHubReceiver._push,
    "issues": GitHubReceiver._issues,
}

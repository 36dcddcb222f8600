"""GitLab webhooks: the ``X-Gitlab-Token`` header equals the webhook's secret token (constant time).

Events (``object_kind`` of the payload) and what they become; external ids match the ``gitlab``
connector's so a webhook and a REST sync of the same item upsert one row:

- ``deployment`` → a :class:`Deployment` ``<project>/deployments/<deployment_id>``; statuses mapped
  as the connector does (``success``, ``failed`` → failure, ``canceled`` → cancelled, ``created``/
  ``running``/``blocked`` → in progress); ``finished_at`` = ``status_changed_at`` for final ones; the
  sha is the last path segment of ``commit_url`` (GitLab sends only ``short_sha`` otherwise).
- ``merge_request`` → a :class:`PullRequest` (``merged_at`` = ``updated_at`` of a merged request when
  the payload has no ``merged_at``; no commit list: the REST sync fills it).
- ``pipeline`` → a :class:`PipelineRun` ``<project>/pipelines/<id>``.
- ``push`` → a :class:`Commit` per pushed commit (``paths`` = added + modified + removed).
- ``issue`` of type ``incident`` or carrying one of ``incident_labels`` → an :class:`Incident`
  ``<project>/issues/<iid>`` (``resolved_at`` = ``closed_at`` when closed); one closed as a duplicate
  (``duplicated_to_id`` set: the webhook's form of the REST ``_links.closed_as_duplicate_of``) or moved to
  another project (``moved_to_id`` set), the ``gitlab_issues`` source's rule
  (:func:`connectors.gitlab_issues.closed_as_duplicate_or_moved`), → an :class:`IncidentWithdrawal` of
  that key instead: a copy stored earlier (by this webhook or a ``gitlab_issues`` sync of the same source
  name, with its ``gitlab.issue`` payload) is deleted. Limit: an older delivery of that issue arriving
  after it stores it again, until the next sync withdraws it.

The delivery id is ``Idempotency-Key`` when sent (GitLab 17.4+), else ``X-Gitlab-Event-UUID``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from collector.serve.settings import GitLabWebhookSettings
from collector.serve.webhooks.base import Reopened, Translation, required, required_time, same_secret, timestamp
from connectors.base import ServiceMapper
from connectors.gitlab_issues import closed_as_duplicate_or_moved
from connectors.gitlab_mapping import DEPLOYMENT_STATUS
from connectors.records import (
    Commit,
    Deployment,
    DeploymentStatus,
    Incident,
    IncidentWithdrawal,
    PipelineRun,
    PullRequest,
    Record,
)

TOKEN_HEADER = "x-gitlab-token"  # noqa: S105 - a header name, not a secret
_FINAL = frozenset({DeploymentStatus.SUCCESS, DeploymentStatus.FAILURE, DeploymentStatus.CANCELLED})
_SHA = re.compile(r"^[0-9a-f]{7,64}$")


@dataclass(frozen=True)
class GitLabReceiver:
    """The GitLab webhook receiver."""

    settings: GitLabWebhookSettings
    services: ServiceMapper
    provider: str = "gitlab"

    @property
    def source(self) -> str:
        """Source name recorded on the records."""
        return self.settings.source

    @property
    def enabled(self) -> bool:
        """Whether a token is configured."""
        return self.settings.token is not None and bool(self.settings.token.get_secret_value())

    def verify(self, headers: Mapping[str, str], body: bytes) -> bool:
        """``X-Gitlab-Token`` equals the configured token."""
        if self.settings.token is None:
            return False
        return same_secret(self.settings.token.get_secret_value(), headers.get(TOKEN_HEADER))

    def delivery_id(self, headers: Mapping[str, str], payload: Any) -> str | None:
        """``Idempotency-Key``, else ``X-Gitlab-Event-UUID``."""
        return headers.get("idempotency-key") or headers.get("x-gitlab-event-uuid") or None

    def to_records(self, headers: Mapping[str, str], payload: Any) -> Translation | None:
        """Records of a handled event; ``None`` for any other event."""
        if not isinstance(payload, Mapping):
            return None
        kind = str(payload.get("object_kind") or "")
        handler = _HANDLERS.get(kind)
        if handler is None:
            return None
        records = handler(self, payload)
        return None if records is None else Translation.of(f"gitlab.{kind}", records)

    def _repo(self, payload: Mapping[str, Any]) -> str:
        return str(required(payload, "project", "path_with_namespace"))

    def _service(self, repo: str) -> str:
        return self.services.service_for_repo(repo) or repo

    def _deployment(self, payload: Mapping[str, Any]) -> list[Record] | None:
        repo = self._repo(payload)
        status = DEPLOYMENT_STATUS.get(str(payload.get("status")))
        if status is None:
            return None
        commit_url = str(payload.get("commit_url") or "")
        tail = commit_url.rstrip("/").rsplit("/", 1)[-1].lower()
        sha = tail if _SHA.match(tail) else payload.get("short_sha")
        changed = timestamp(payload.get("status_changed_at"))
        return [
            Deployment(
                source=self.source,
                external_id=f"{repo}/deployments/{required(payload, 'deployment_id')}",
                service=self._service(repo),
                environment=str(required(payload, "environment")),
                status=status,
                sha=sha,
                finished_at=changed if status in _FINAL else None,
                repo=repo,
            )
        ]

    def _merge_request(self, payload: Mapping[str, Any]) -> list[Record | Reopened]:
        repo = self._repo(payload)
        mr = required(payload, "object_attributes")
        state = mr.get("state")
        updated = timestamp(mr.get("updated_at"))
        merged = timestamp(mr.get("merged_at")) or (updated if state == "merged" else None)
        closed = timestamp(mr.get("closed_at")) or (updated if state == "closed" else None)
        labels = tuple(str(label.get("title")) for label in mr.get("labels") or () if isinstance(label, Mapping))
        record = PullRequest(
            source=self.source,
            repo=repo,
            number=int(required(mr, "iid")),
            created_at=required_time(mr, "created_at"),
            title=mr.get("title"),
            labels=labels,
            head_branch=mr.get("source_branch"),
            base_branch=mr.get("target_branch"),
            merged_at=merged,
            closed_at=closed,
            merge_sha=(mr.get("merge_commit_sha") or mr.get("squash_commit_sha")) if merged else None,
        )
        if mr.get("action") == "reopen" and closed is None and updated is not None:
            return [Reopened(record, "closed_at", updated)]
        return [record]

    def _pipeline(self, payload: Mapping[str, Any]) -> list[Record]:
        repo = self._repo(payload)
        run = required(payload, "object_attributes")
        duration = run.get("duration")
        return [
            PipelineRun(
                source=self.source,
                external_id=f"{repo}/pipelines/{required(run, 'id')}",
                repo=repo,
                name=str(run.get("name") or "pipeline"),
                status=str(run.get("status") or "unknown"),
                created_at=required_time(run, "created_at"),
                finished_at=timestamp(run.get("finished_at")),
                branch=run.get("ref"),
                sha=run.get("sha"),
                duration_seconds=float(duration) if isinstance(duration, int | float) else None,
            )
        ]

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
                    author=author.get("name"),
                    author_email=author.get("email"),
                    message=item.get("message"),
                    paths=tuple(paths),
                )
            )
        return commits

    def _issue(self, payload: Mapping[str, Any]) -> list[Record | Reopened] | None:
        repo = self._repo(payload)
        issue = required(payload, "object_attributes")
        labels = {str(label.get("title")) for label in issue.get("labels") or () if isinstance(label, Mapping)}
        is_incident = issue.get("issue_type") == "incident" or issue.get("type") == "INCIDENT"
        if not is_incident and not labels & set(self.settings.incident_labels):
            return None
        external_id = f"{repo}/issues/{required(issue, 'iid')}"
        if closed_as_duplicate_or_moved(rest_view(issue)):
            return [IncidentWithdrawal(self.source, external_id, ("gitlab.issue",))]
        closed = timestamp(issue.get("closed_at")) if issue.get("state") == "closed" else None
        incident = Incident(
            source=self.source,
            external_id=external_id,
            service=self._service(repo),
            created_at=required_time(issue, "created_at"),
            resolved_at=closed,
            title=issue.get("title"),
            severity=issue.get("severity"),
        )
        reopened_at = timestamp(issue.get("updated_at"))
        if issue.get("action") == "reopen" and closed is None and reopened_at is not None:
            return [Reopened(incident, "resolved_at", reopened_at)]
        return [incident]


def rest_view(issue: Mapping[str, Any]) -> Mapping[str, Any]:
    """The webhook's issue attributes with ``duplicated_to_id`` also given as the REST API's
    ``_links.closed_as_duplicate_of``, so the ``gitlab_issues`` rule reads both the same way."""
    duplicated_to = issue.get("duplicated_to_id")
    if duplicated_to is None:
        return issue
    return {**issue, "_links": {"closed_as_duplicate_of": f"issues/{duplicated_to}"}}


_HANDLERS: dict[str, Callable[[GitLabReceiver, Mapping[str, Any]], Sequence[Record | Reopened] | None]] = {
    "deployment": GitLabReceiver._deployment,
    "merge_request": GitLabReceiver._merge_request,
    "pipeline": GitLabReceiver._pipeline,
    "push": GitLabReceiver._push,
    "issue": GitLabReceiver._issue,
}

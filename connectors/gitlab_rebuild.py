"""Rebuilding the GitLab source's records from its stored raw payloads (see ``connectors.rebuild_support``).

Raw kinds read: ``gitlab.project`` (project objects: path and id, for the per-project service),
``gitlab.commit``, ``gitlab.merge_request`` with ``gitlab.merge_request_commits`` (its commit items,
oldest first) and ``gitlab.merge_request_notes``, and ``gitlab.deployment``. Every one goes through the
mapping functions of :mod:`connectors.gitlab_mapping` that the sync calls.

Not rebuildable: ``deployment_commits: compare`` (a deployment's commits come from compare calls
against the previous deployment of the run, which are not stored). A merge request synced before its
commit list was stored, or one whose notes were not read while ``fetch_reviews`` is now on, makes the
rebuild fail (nothing is changed) with a message asking for a re-sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import SourceContext
from connectors.gitlab_mapping import commit_from_api, deployment_from_api, merge_request_records
from connectors.gitlab_settings import Settings
from connectors.http.deployments import ServiceResolver
from connectors.rebuild_support import by_external_id, of_kind, partition_of
from connectors.records import RawPayload, Record


def rebuild_blocker(settings: Settings) -> str | None:
    """Why these settings cannot be rebuilt, or ``None``."""
    if settings.deployment_commits == "compare":
        return "with deployment_commits: compare, a deployment's commits come from compare calls that are not stored"
    return None


def _path_overrides(settings: Settings, projects: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Project path → configured service, for the projects configured with a ``service``."""
    overrides: dict[str, str] = {}
    for project in settings.projects:
        if not project.service:
            continue
        body = next((b for b in projects if project.id in (str(b.get("id")), b.get("path_with_namespace"))), None)
        if body is not None:
            overrides[str(body["path_with_namespace"])] = project.service
        elif "/" in project.id:
            overrides[project.id] = project.service
        else:
            raise ValueError(f"project {project.id} has no stored project object telling its path; re-sync the source")
    return overrides


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The commits, merge requests and deployments a sync would write for the stored payloads."""
    projects = [payload.body for payload in of_kind(payloads, "gitlab.project")]
    services = ServiceResolver(settings.name, context.services, _path_overrides(settings, projects))
    records: list[Record] = [
        commit_from_api(settings.name, partition_of(p.external_id, "@"), p.body)
        for p in of_kind(payloads, "gitlab.commit")
    ]
    commit_lists = by_external_id(payloads, "gitlab.merge_request_commits")
    notes = by_external_id(payloads, "gitlab.merge_request_notes")
    for payload in of_kind(payloads, "gitlab.merge_request"):
        path = partition_of(payload.external_id, "#")
        listed = commit_lists.get(payload.external_id)
        if listed is None:
            raise ValueError(
                f"merge request {payload.external_id} was synced before its commit list was stored; re-sync"
            )
        read_notes = None
        if settings.fetch_reviews:
            stored = notes.get(f"{path}!{payload.body['iid']}")
            if stored is None:
                raise ValueError(
                    f"merge request {payload.external_id}: its notes were not read (fetch_reviews was off)"
                )
            read_notes = stored.body
        _, pull = merge_request_records(settings.name, path, payload.body, listed.body, read_notes)
        records.append(pull)
    for payload in of_kind(payloads, "gitlab.deployment"):
        path = partition_of(payload.external_id, "/deployments/")
        deployment = deployment_from_api(settings.name, path, services.service(path), payload.body)
        if deployment is not None:
            records.append(deployment)
    return records

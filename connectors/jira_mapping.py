"""Pure mappings of Jira issues (Cloud REST v3 and Server/Data Center REST v2) to incidents.

Field mapping (Jira → :class:`~connectors.records.Incident`), documented in ``docs/sources/jira.md``:

- ``external_id`` = issue ``key``; ``title`` = ``fields.summary``; ``severity`` = ``fields.priority.name``;
  ``created_at`` = ``fields.created`` (Jira's ``+0100`` offsets converted to UTC).
- ``resolved_at``: ``None`` while the current status is not done (its status category is ``done``
  or its name is in ``done_statuses``) — a reopened issue is open again; otherwise the start of the
  final done streak of the changelog (the first transition into a done status after the last
  transition out of one: ``Resolved`` then ``Closed`` is resolved at ``Resolved``; reopened and
  resolved again, at the final resolve), else ``fields.resolutiondate``, else
  ``fields.statuscategorychangedate``, else ``fields.updated`` (a done issue is never left open;
  its last update is the latest its resolution can be).
- ``acknowledged_at``: the first changelog transition into one of ``acknowledged_statuses``.
- service facts: ``component`` = ``fields.components[].name``, ``label`` = ``fields.labels``,
  ``project`` = ``fields.project.key`` and ``.name``; ``field`` rules read ``fields.<id>``.
- cause: the configured ``cause.fields`` and the description (ADF flattened to text on Cloud,
  wiki markup as is on Server).

Not an incident (:func:`resolved_as_not_an_incident`): an issue whose current status is done and whose
``fields.resolution.name`` is one of the source's ``excluded_resolutions`` (compared ignoring case;
default ``Duplicate``, ``Won't Do``, ``Cannot Reproduce``): it was closed as a duplicate of another
ticket or as no incident at all, so it has no time to restore. A reopened issue (status no longer done)
is an incident again, whatever resolution it still carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.incident_rules import (
    ItemFacts,
    StatusChange,
    adf_to_text,
    find_cause,
    first_transition_into,
    resolved_at_from_history,
    service_for,
)
from connectors.mapping_support import identifier, obj, objects, time_of
from connectors.records import Incident

#: The fields every search asks for (custom fields named in the settings are added).
BASE_FIELDS: tuple[str, ...] = (
    "summary",
    "status",
    "issuetype",
    "labels",
    "components",
    "priority",
    "project",
    "created",
    "updated",
    "resolutiondate",
    "statuscategorychangedate",
    "description",
    "resolution",
)


def _name(value: Any) -> str | None:
    return str(value["name"]) if isinstance(value, Mapping) and value.get("name") is not None else None


def issue_facts(issue: Mapping[str, Any]) -> ItemFacts:
    """Selection and service facts of one issue."""
    fields = obj(issue.get("fields"), "fields")
    project = obj(fields.get("project"), "fields.project")
    components = tuple(n for n in (_name(c) for c in fields.get("components") or ()) if n)
    return ItemFacts(
        issue_type=_name(fields.get("issuetype")),
        labels=tuple(str(label) for label in fields.get("labels") or ()),
        priority=_name(fields.get("priority")),
        fields=fields,
        facts={
            "component": components,
            "project": tuple(str(v) for v in (project.get("key"), project.get("name")) if v),
        },
    )


def status_changes(histories: Iterable[Mapping[str, Any]]) -> list[StatusChange]:
    """Every status transition of a changelog, oldest first."""
    changes: list[StatusChange] = []
    for history in objects(histories, "changelog"):
        at = time_of(history.get("created"), "changelog created")
        if at is None:
            continue
        for item in objects(history.get("items"), "changelog items"):
            if item.get("field") == "status" and item.get("toString"):
                changes.append(StatusChange(at, str(item["toString"])))
    return sorted(changes, key=lambda c: c.at)


def embedded_histories_complete(issue: Mapping[str, Any]) -> bool:
    """Whether the changelog embedded in a search result holds every history entry."""
    changelog = issue.get("changelog")
    if not isinstance(changelog, Mapping):
        return False
    histories = changelog.get("histories") or []
    total = changelog.get("total")
    return total is None or len(histories) >= int(total)


def is_done(fields: Mapping[str, Any], done_statuses: Sequence[str]) -> bool:
    """Whether the current status is a done status (category ``done`` or a configured name)."""
    status = obj(fields.get("status"), "status")
    category = obj(status.get("statusCategory"), "status.statusCategory").get("key")
    name = str(status.get("name") or "")
    return category == "done" or name.casefold() in {s.casefold() for s in done_statuses}


def resolved_as_not_an_incident(
    fields: Mapping[str, Any], done_statuses: Sequence[str], excluded_resolutions: Sequence[str]
) -> bool:
    """Whether the issue is done with a resolution named in ``excluded_resolutions`` (see the module
    docstring; ``fields.resolution`` is ``null`` on an unresolved issue)."""
    resolution = _name(fields.get("resolution"))
    if resolution is None or resolution.casefold() not in {r.casefold() for r in excluded_resolutions}:
        return False
    return is_done(fields, done_statuses)


def final_resolution(changes: Sequence[StatusChange], done_names: Sequence[str]) -> datetime | None:
    """The start of the final done streak of ``changes`` (oldest first): the first transition into a
    done status after the last transition into a status that is not done; ``None`` when the history
    does not end in a done status. A move between done statuses (``Resolved`` → ``Closed``) is not a
    new resolution."""
    done = {name.casefold() for name in done_names}
    start: datetime | None = None
    for change in changes:
        if change.to_status.casefold() not in done:
            start = None
        elif start is None:
            start = change.at
    return start


def incident_from_issue(
    source: str,
    issue: Mapping[str, Any],
    histories: Sequence[Mapping[str, Any]],
    settings: Any,
) -> Incident:
    """The :class:`Incident` of one issue (``settings``: the Jira source settings)."""
    fields = obj(issue.get("fields"), "fields")
    created = time_of(fields.get("created"), "fields.created")
    if created is None:
        raise ValueError(f"issue {issue.get('key')} has no fields.created")
    changes = status_changes(histories)
    done = is_done(fields, settings.done_statuses)
    done_names = [*settings.done_statuses, str(obj(fields.get("status"), "status").get("name") or "")] if done else []
    resolved = resolved_at_from_history(changes, done_names, currently_done=done)
    if resolved is not None:
        resolved = final_resolution(changes, done_names) or resolved
    if done and resolved is None:
        resolved = (
            time_of(fields.get("resolutiondate"), "resolutiondate")
            or time_of(fields.get("statuscategorychangedate"), "statuscategorychangedate")
            or time_of(fields.get("updated"), "updated")
        )
    facts = issue_facts(issue)
    cause = find_cause(settings.cause, fields, adf_to_text(fields.get("description")))
    return Incident(
        source=source,
        external_id=identifier(issue, "key"),
        service=service_for(settings.services, facts),
        created_at=created,
        resolved_at=resolved,
        acknowledged_at=first_transition_into(changes, settings.acknowledged_statuses),
        title=fields.get("summary"),
        severity=facts.priority,
        cause_deployment_id=cause.deployment_id,
        cause_sha=cause.sha,
    )

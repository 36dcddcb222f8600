"""Pure mappings of Asana tasks to incidents (no I/O).

Field mapping (Asana → record), documented in ``docs/sources/asana.md``:

- ``external_id`` = the task ``gid``; ``title`` = ``name``; ``created_at`` = ``created_at``.
- ``resolved_at``: only while ``completed`` is true: ``completed_at`` (Asana clears it when a task is
  marked incomplete and sets it anew on the next completion, so a reopened task is open again and a
  reopened-then-completed one is resolved at its last completion); ``modified_at`` when a completed
  task lacks ``completed_at``.
- ``acknowledged_at``: the date (``date_value.date_time``, else ``date_value.date`` at midnight UTC) of
  the custom field ``acknowledged_field`` when configured.
- ``severity``: the value of the custom field ``severity_field`` when configured.
- facts for selection and service rules: ``labels`` = tag names and gids; ``issue_type`` =
  ``resource_subtype``; ``fields`` = every custom field's value under both its gid and its name
  (enum: the option name; multi-enum: the option names; else ``display_value``, then the typed value);
  ``asana_project`` = names and gids of every project the task is in (``memberships`` and ``projects``).
- cause: ``cause.fields`` (custom field gids or names), then ``name`` + ``notes``.

Not an incident (:func:`resolved_as_not_an_incident`): a completed task whose ``resolution_field``
custom field holds one of ``excluded_resolutions`` (ignoring case; a multi-enum field: any of its
options). Asana has no resolution of its own: a task is completed or not (``resource_subtype`` tells a
task from a milestone or approval, not why it was closed), so the reason a ticket was closed is
whatever custom field a team keeps it in; without ``resolution_field`` no task is excluded this way.
A task marked incomplete again is an incident again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.http.incremental import parse_time
from connectors.incident_rules import CauseSettings, ItemFacts, ServiceRule, find_cause, service_for
from connectors.mapping_support import identifier, objects, time_of
from connectors.records import Incident


def custom_value(field: Mapping[str, Any]) -> Any:
    """The comparable value of one custom field on a task (see the module docstring)."""
    multi = field.get("multi_enum_values")
    if multi:
        return [str(v.get("name")) for v in multi if isinstance(v, Mapping) and v.get("name") is not None]
    enum = field.get("enum_value")
    if isinstance(enum, Mapping) and enum.get("name") is not None:
        return str(enum["name"])
    if field.get("display_value") not in (None, ""):
        return str(field["display_value"])
    for key in ("text_value", "number_value"):
        if field.get(key) not in (None, ""):
            return str(field[key])
    date = field.get("date_value")
    if isinstance(date, Mapping):
        return date.get("date_time") or date.get("date")
    return None


def custom_fields(task: Mapping[str, Any]) -> dict[str, Any]:
    """Custom field values of a task keyed by gid and by name (a gid never collides with a name)."""
    values: dict[str, Any] = {}
    for field in task.get("custom_fields") or ():
        if not isinstance(field, Mapping):
            continue
        value = custom_value(field)
        if value is None:
            continue
        for key in (field.get("gid"), field.get("name")):
            if key:
                values.setdefault(str(key), value)
    return values


def _named(items: Any) -> tuple[str, ...]:
    found: list[str] = []
    for item in items or ():
        if isinstance(item, Mapping):
            found += [str(item[k]) for k in ("name", "gid") if item.get(k)]
    return tuple(dict.fromkeys(found))


def task_facts(task: Mapping[str, Any]) -> ItemFacts:
    """Selection and service facts of one task."""
    projects = [m.get("project") for m in objects(task.get("memberships"), "memberships")]
    projects += list(task.get("projects") or ())
    return ItemFacts(
        issue_type=task.get("resource_subtype"),
        labels=_named(task.get("tags")),
        fields=custom_fields(task),
        facts={"asana_project": _named(projects)},
    )


def resolved_as_not_an_incident(
    task: Mapping[str, Any], resolution_field: str | None, excluded_resolutions: Sequence[str]
) -> bool:
    """Whether a completed task's ``resolution_field`` (gid or name) names an excluded resolution (see
    the module docstring)."""
    if resolution_field is None or task.get("completed") is not True:
        return False
    value = custom_fields(task).get(resolution_field)
    values = value if isinstance(value, list) else [value]
    excluded = {r.casefold() for r in excluded_resolutions}
    return any(isinstance(v, str) and v.casefold() in excluded for v in values)


def _date_of(task: Mapping[str, Any], key: str) -> datetime | None:
    for field in task.get("custom_fields") or ():
        if isinstance(field, Mapping) and key in (field.get("gid"), field.get("name")):
            date = field.get("date_value")
            if isinstance(date, Mapping):
                if date.get("date_time"):
                    return parse_time(date["date_time"])
                if date.get("date"):
                    day = datetime.fromisoformat(str(date["date"]))
                    return day.replace(tzinfo=UTC)
            return None
    return None


def incident_from_task(
    source: str,
    task: Mapping[str, Any],
    *,
    services: tuple[ServiceRule, ...],
    cause_settings: CauseSettings,
    severity_field: str | None = None,
    acknowledged_field: str | None = None,
) -> Incident:
    """The :class:`Incident` of one task (see the module docstring)."""
    created = time_of(task.get("created_at"), "created_at")
    if created is None:
        raise ValueError(f"task {task.get('gid')} has no created_at")
    resolved = None
    if task.get("completed") is True:
        resolved = time_of(task.get("completed_at"), "completed_at") or time_of(task.get("modified_at"), "modified_at")
    facts = task_facts(task)
    text = "\n".join(str(task[k]) for k in ("name", "notes") if task.get(k))
    cause = find_cause(cause_settings, facts.fields, text)
    severity = facts.fields.get(severity_field) if severity_field else None
    return Incident(
        source=source,
        external_id=identifier(task, "gid"),
        service=service_for(services, facts),
        created_at=created,
        resolved_at=resolved,
        acknowledged_at=_date_of(task, acknowledged_field) if acknowledged_field else None,
        title=task.get("name"),
        severity=", ".join(severity) if isinstance(severity, list) else severity,
        cause_deployment_id=cause.deployment_id,
        cause_sha=cause.sha,
    )

"""Rules every incident / work-tracker source shares: which items are incidents, which service an
incident belongs to, its explicit cause, and its resolution time from a status history.

Definitions:

- **is an incident** (:class:`IncidentSelection`): with no criterion configured, every item the
  source lists is an incident (the source's own query, e.g. Jira's JQL, already selected them).
  Otherwise each configured criterion is tested — issue type in ``issue_types``, a label in
  ``labels``, urgency in ``urgencies``, priority in ``priorities``, every ``fields`` entry equal
  (``field id → value``) — and the item is an incident when any of them holds (``match: any``,
  the default) or when all of them hold (``match: all``). Comparisons ignore case.
- **service** (:class:`ServiceRule`): rules are tried in order; a rule matches when one of the
  item's facts of kind ``by`` (its components, labels, project, PagerDuty service id or name,
  configuration item, assignment group, Asana project, repository or a custom field) matches the
  rule's glob ``value`` (``fnmatch``, case-insensitive). The first match names the service. An
  item no rule claims gets ``service=None``: the store keeps it and reports it as unmapped.
- **explicit cause** (:class:`CauseSettings`): first the configured ``fields`` (a bare 40-hex value
  is a sha, any other bare value a deployment id), then every ``patterns`` regex over the fields and
  the description (Atlassian Document Format flattened to text first, link targets included). A
  pattern names its capture with the group ``deployment`` (the id as is), ``repo`` +
  ``deployment_number`` (the id ``{repo}/deployments/{number}``, the form the GitHub and GitLab
  sources emit) or ``sha`` (lower-cased). The first deployment id and the first sha found win.
- **resolution from a status history** (:func:`resolved_at_from_history`): ``None`` while the item's
  current status is not a done status (a reopened item is open again); otherwise the time of the
  *last* transition into a done status (reopened and resolved again: the final resolution).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from connectors.http.settings import HttpSourceSettings
from connectors.settings import SettingsModel

FactKind = Literal[
    "component",
    "label",
    "project",
    "pagerduty_service",
    "configuration_item",
    "assignment_group",
    "asana_project",
    "repo",
    "field",
]

#: Resolutions saying a closed ticket was no incident to restore (the default ``excluded_resolutions`` of
#: the Jira and Asana sources): a duplicate of another ticket (``Duplicate``, in every Jira's default
#: set), declared not to be acted on (``Won't Do``, Jira Cloud's default; Server's ``Won't Fix`` is left
#: out: it may close a real outage nobody will fix further), or never confirmed (``Cannot Reproduce``).
NOT_AN_INCIDENT_RESOLUTIONS: tuple[str, ...] = ("Duplicate", "Won't Do", "Cannot Reproduce")

#: Default cause patterns: a link to a deployment (``.../{owner}/{repo}/deployments/{n}``, GitHub web
#: or API URL), a "deployment: <id>" statement, a link to a commit (``/commit/<sha>`` or
#: ``/commits/<sha>``: GitHub, GitLab ``/-/commit/``, Bitbucket), and a "caused by / sha / commit:
#: <40-hex>" statement.
DEFAULT_CAUSE_PATTERNS: tuple[str, ...] = (
    r"https?://[^\s/]+/(?:repos/)?(?P<repo>[\w.-]+/[\w.-]+)/deployments/(?P<deployment_number>\d+)",
    r"(?i)\bdeployment(?:[ _-]?id)?\s*[:=#]\s*(?P<deployment>[\w][\w./@|:#-]*[\w])",
    r"https?://\S+?/commits?/(?P<sha>[0-9a-fA-F]{40})\b",
    r"(?i)\b(?:caused[ _-]by|cause|sha|commit)\s*[:=#]?\s*(?P<sha>[0-9a-fA-F]{40})\b",
)
_CAUSE_GROUPS = ("deployment", "deployment_number", "sha")
_FULL_SHA = re.compile(r"^[0-9a-fA-F]{40}$")


class IncidentSelection(SettingsModel):
    """Which listed items are incidents (see the module docstring)."""

    issue_types: tuple[str, ...] = Field(default=(), description="Issue / task types that are incidents.")
    labels: tuple[str, ...] = Field(default=(), description="Labels (tags) that mark an incident.")
    urgencies: tuple[str, ...] = Field(default=(), description="Urgency values (PagerDuty, ServiceNow).")
    priorities: tuple[str, ...] = Field(default=(), description="Priority / severity names.")
    fields: dict[str, str] = Field(default_factory=dict, description="Custom field id → required value.")
    match: Literal["any", "all"] = Field(default="any", description="Any criterion suffices, or all must hold.")

    @property
    def configured(self) -> bool:
        """Whether any criterion is set (without one, every item is an incident)."""
        return bool(self.issue_types or self.labels or self.urgencies or self.priorities or self.fields)


class ServiceRule(SettingsModel):
    """One mapping rule: items whose ``by`` fact matches ``value`` belong to ``service``."""

    by: FactKind
    value: str = Field(description="Glob (fnmatch, case-insensitive) on the fact.")
    service: str = Field(min_length=1)
    field: str | None = Field(default=None, description="With by=field: the field id whose value is matched.")

    @model_validator(mode="after")
    def _field_given_for_field_rules(self) -> ServiceRule:
        if (self.by == "field") != (self.field is not None):
            raise ValueError("`field` is required with by: field, and only then")
        return self


class CauseSettings(SettingsModel):
    """Where an explicit cause is read (see the module docstring)."""

    fields: tuple[str, ...] = Field(default=(), description="Field ids holding a deployment id, sha or link.")
    patterns: tuple[str, ...] = Field(default=DEFAULT_CAUSE_PATTERNS, description="Regexes with named groups.")
    search_description: bool = Field(default=True, description="Also search the description / body.")

    @field_validator("patterns")
    @classmethod
    def _valid_patterns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in value:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
            if not set(compiled.groupindex) & set(_CAUSE_GROUPS):
                raise ValueError(f"pattern {pattern!r} needs a named group: deployment, repo+deployment_number or sha")
        return value


class IncidentSourceSettings(HttpSourceSettings):
    """Base settings of every incident source: selection, service rules and cause extraction."""

    incidents: IncidentSelection = IncidentSelection()
    services: tuple[ServiceRule, ...] = Field(default=(), description="Service rules, first match wins.")
    cause: CauseSettings = CauseSettings()


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What a source knows about one item, for selection and service mapping."""

    issue_type: str | None = None
    labels: tuple[str, ...] = ()
    urgency: str | None = None
    priority: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    facts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def _text(value: Any) -> str | None:
    """A custom field's comparable text: option ``value``/``name``, or the plain value."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        for key in ("value", "name", "display_value", "key", "id"):
            if value.get(key) is not None:
                return str(value[key])
        return None
    return str(value)


def _field_values(value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    return [t for t in (_text(v) for v in items) if t is not None]


def _in(value: str | None, allowed: Sequence[str]) -> bool:
    return value is not None and value.casefold() in {a.casefold() for a in allowed}


def is_incident(selection: IncidentSelection, item: ItemFacts) -> bool:
    """Whether ``item`` is an incident under ``selection`` (see the module docstring)."""
    if not selection.configured:
        return True
    results: list[bool] = []
    if selection.issue_types:
        results.append(_in(item.issue_type, selection.issue_types))
    if selection.labels:
        results.append(any(_in(label, selection.labels) for label in item.labels))
    if selection.urgencies:
        results.append(_in(item.urgency, selection.urgencies))
    if selection.priorities:
        results.append(_in(item.priority, selection.priorities))
    for field_id, wanted in selection.fields.items():
        results.append(any(v.casefold() == wanted.casefold() for v in _field_values(item.fields.get(field_id))))
    return any(results) if selection.match == "any" else all(results)


def service_for(rules: Sequence[ServiceRule], item: ItemFacts) -> str | None:
    """The service of ``item``: the first rule whose fact matches, else ``None`` (unmapped)."""
    for rule in rules:
        if rule.by == "field":
            candidates = _field_values(item.fields.get(rule.field or "")) if rule.field else []
        elif rule.by == "label":
            candidates = list(item.labels)
        else:
            candidates = list(item.facts.get(rule.by, ()))
        pattern = rule.value.casefold()
        if any(fnmatchcase(c.casefold(), pattern) for c in candidates):
            return rule.service
    return None


@dataclass(frozen=True, slots=True)
class Cause:
    """The explicit cause of an incident, when it names one."""

    deployment_id: str | None = None
    sha: str | None = None


def _from_match(match: re.Match[str]) -> Cause:
    groups = {k: v for k, v in match.groupdict().items() if v}
    if "sha" in groups:
        return Cause(sha=groups["sha"].lower())
    if "deployment_number" in groups and "repo" in groups:
        return Cause(deployment_id=f"{groups['repo']}/deployments/{groups['deployment_number']}")
    if "deployment" in groups:
        return Cause(deployment_id=groups["deployment"])
    return Cause()


def find_cause(settings: CauseSettings, fields: Mapping[str, Any], description: str | None) -> Cause:
    """The explicit cause read from ``fields`` (the configured ones) and ``description``."""
    deployment: str | None = None
    sha: str | None = None
    texts: list[str] = []
    for field_id in settings.fields:
        for value in _field_values(fields.get(field_id)):
            value = value.strip()
            if not value:
                continue
            if _FULL_SHA.match(value):
                sha = sha or value.lower()
            elif not re.search(r"\s", value) and "://" not in value:
                deployment = deployment or value
            else:
                texts.append(value)
    if settings.search_description and description:
        texts.append(description)
    compiled = [re.compile(p) for p in settings.patterns]
    for text in texts:
        for pattern in compiled:
            for match in pattern.finditer(text):
                found = _from_match(match)
                deployment = deployment or found.deployment_id
                sha = sha or found.sha
    return Cause(deployment, sha)


def adf_to_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (a Jira Cloud description or comment).

    Text nodes are concatenated, block nodes end with a newline, and link targets (``link`` marks,
    ``inlineCard``/``blockCard`` URLs) are appended in parentheses so that cause patterns see them.
    A plain string (Jira Server's wiki markup) is returned unchanged.
    """
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_to_text(child) for child in node)
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    if kind == "text":
        text = str(node.get("text") or "")
        hrefs = [
            str((m.get("attrs") or {}).get("href"))
            for m in node.get("marks") or ()
            if isinstance(m, Mapping) and m.get("type") == "link" and (m.get("attrs") or {}).get("href")
        ]
        return text + "".join(f" ({h})" for h in hrefs if h != text)
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return f" {attrs.get('url', '')} "
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        return str(attrs.get("text") or "")
    inner = adf_to_text(node.get("content") or [])
    if kind in ("paragraph", "heading", "listItem", "codeBlock", "blockquote", "rule", "tableRow"):
        return inner + "\n"
    return inner


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One status transition of an item's history."""

    at: datetime
    to_status: str


def resolved_at_from_history(
    changes: Iterable[StatusChange], done_statuses: Iterable[str], *, currently_done: bool
) -> datetime | None:
    """The resolution time: the last transition into a done status, ``None`` while not done.

    ``None`` too when the item is done but its history holds no transition into a done status
    (the caller then falls back to the tracker's own resolution date).
    """
    if not currently_done:
        return None
    done = {s.casefold() for s in done_statuses}
    times = [c.at for c in changes if c.to_status.casefold() in done]
    return max(times, default=None)


def first_transition_into(changes: Iterable[StatusChange], statuses: Iterable[str]) -> datetime | None:
    """The time of the first transition into one of ``statuses`` (``None`` if never)."""
    wanted = {s.casefold() for s in statuses}
    return min((c.at for c in changes if c.to_status.casefold() in wanted), default=None)

"""Column values of a chunk of event lines, validated in one call without building models or records.

:func:`chunk_columns` is the import's fast path. For a chunk of valid lines it gives, per record
type, exactly the column values :func:`collector.store.writer.record_values` gives for the records
of :func:`collector.events.bulk.parse_json_chunk` (same order, same Python values), as columns,
without the event models and record dataclasses in between (they were about half of the
preparation time). For any other chunk it gives ``None`` and the caller takes the reference path,
which reports every problem with its line number and message; so this path never has to explain a
rejection, only to accept nothing the reference path rejects and to give the same values for what
it accepts.

How it stays the same as the reference:

- the lines are joined and checked as :mod:`collector.events.bulk` does, and validated by
  pydantic-core in one call against typed dicts **derived from the event models**
  (:func:`_fast_typed_dict`): the same fields, required or not as in the models, with the same
  types and constraints, unknown keys forbidden, the same discriminator; only the timestamps are
  plain strings there;
- each timestamp string is then parsed as the models' validator parses it
  (:func:`collector.events.schema._parse_timestamp`: ``datetime.fromisoformat`` and an offset
  required) and converted to UTC as the records do; a string that validator refuses sends the chunk
  to the reference path;
- the models' own rules (``merged_at`` not before ``created_at`` and the like) are checked again by
  the builder of each event type's columns; an event that breaks one sends the chunk to the
  reference path;
- each value is mapped as :func:`collector.events.parse.to_record` maps it (shas lower-cased, lists
  as tuples, defaults of absent keys as in the models), in the order of :data:`RECORD_FIELDS`.

Columns rather than rows, because a whole column is read, checked and converted with ``map`` and C
functions (``itemgetter``, ``dict.get``, ``datetime.fromisoformat``) instead of Python code per
value. ``tests/events/test_bulk_values.py`` compares both paths on generated lines and checks that
the derived schema differs from the models only in its timestamps.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from itertools import repeat
from operator import attrgetter, itemgetter, methodcaller
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin

from pydantic import ConfigDict, Field, StrictStr, TypeAdapter, with_config
from pydantic.fields import FieldInfo
from typing_extensions import TypedDict  # pydantic reads typed dicts of typing_extensions before Python 3.12

from collector.events.bulk import joined_event_texts
from collector.events.schema import (
    CommitEvent,
    DeploymentEvent,
    EventStatus,
    IncidentEvent,
    PullRequestEvent,
    _parse_timestamp,
)
from connectors.records import Commit, Deployment, DeploymentStatus, Incident, PullRequest

#: record type → its fields in the order of its columns here (the store's, checked by collector.ingest)
RECORD_FIELDS: dict[type, tuple[str, ...]] = {
    Commit: (
        "repo",
        "sha",
        "source",
        "author",
        "author_email",
        "authored_at",
        "committed_at",
        "parents",
        "message",
        "paths",
    ),
    PullRequest: (
        "repo",
        "number",
        "source",
        "author",
        "title",
        "labels",
        "head_branch",
        "base_branch",
        "created_at",
        "first_commit_at",
        "first_review_at",
        "merged_at",
        "closed_at",
        "merge_sha",
        "commits",
    ),
    Deployment: (
        "source",
        "external_id",
        "service",
        "environment",
        "status",
        "sha",
        "repo",
        "started_at",
        "finished_at",
        "commits",
        "is_rollback",
    ),
    Incident: (
        "source",
        "external_id",
        "service",
        "title",
        "severity",
        "created_at",
        "acknowledged_at",
        "resolved_at",
        "cause_deployment_id",
        "cause_sha",
    ),
}

#: event model → the record type its events become
EVENT_RECORDS: dict[type, type] = {
    CommitEvent: Commit,
    PullRequestEvent: PullRequest,
    DeploymentEvent: Deployment,
    IncidentEvent: Incident,
}

# a deployment's status as its record stores it (DeploymentStatus(...) fails here, at import, if the sets part)
_STATUS_VALUES: dict[str, str] = {status: DeploymentStatus(status.value).value for status in EventStatus}

ChunkColumns = dict[type, list[list[Any]]]


class _NotFast(ValueError):
    """The chunk holds something the reference path must judge (it rejects it, or may)."""


def _is_timestamp(annotation: Any) -> bool:
    """Whether ``annotation`` is the schema's ``Timestamp`` (a datetime read by ``_parse_timestamp``)."""
    if get_origin(annotation) is not Annotated:
        return False
    return any(getattr(item, "func", None) is _parse_timestamp for item in annotation.__metadata__)


def _with_string_timestamps(annotation: Any) -> Any:
    """``annotation`` with every ``Timestamp`` in it (inside optionals and lists too) replaced by a strict string."""
    if _is_timestamp(annotation):
        return StrictStr
    origin = get_origin(annotation)
    if origin is Annotated:
        return Annotated[(_with_string_timestamps(annotation.__origin__), *annotation.__metadata__)]  # type: ignore[valid-type]
    if origin is Union or origin is types.UnionType:
        return Union[tuple(_with_string_timestamps(arg) for arg in get_args(annotation))]  # noqa: UP007 - built from a tuple
    if origin is list:
        (item,) = get_args(annotation)
        return list[_with_string_timestamps(item)]  # type: ignore[misc]
    return annotation


def _field_annotation(info: FieldInfo) -> Any:
    """The full annotation of a model field: its type with its constraints (``FieldInfo`` splits them)."""
    annotation = info.annotation
    return Annotated[(annotation, *info.metadata)] if info.metadata else annotation  # type: ignore[valid-type]


def _fast_typed_dict(model: type[Any]) -> type[Any]:
    """A typed dict with the fields of event ``model``: same types and constraints, timestamps as strings."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        annotation = _with_string_timestamps(_field_annotation(info))
        fields[name] = annotation if info.is_required() else NotRequired[annotation]
    extra = model.model_config.get("extra")
    typed_dict = TypedDict(f"{model.__name__}Fields", fields)  # type: ignore[misc]  # fields computed from the model
    return with_config(ConfigDict(extra=extra))(typed_dict)  # type: ignore[no-any-return]


def _fast_schema() -> TypeAdapter[list[Any]]:
    """The validator of a JSON array of events, as typed dicts derived from the event models."""
    members = tuple(_fast_typed_dict(model) for model in EVENT_RECORDS)
    event = Annotated[Union[members], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
    return TypeAdapter(list[event])  # type: ignore[valid-type]


#: the model validators the column builders check again (below), per event model
MIRRORED_MODEL_RULES: dict[type, frozenset[str]] = {
    CommitEvent: frozenset(),
    PullRequestEvent: frozenset({"_ordered"}),
    DeploymentEvent: frozenset({"_times"}),
    IncidentEvent: frozenset({"_times"}),
}


def unmirrored_validation(model: type[Any]) -> list[str]:
    """What event ``model`` validates that the derived typed dict and the column builders would not.

    Field and model validators other than those the builders repeat, and field aliases; must be
    empty (checked when this module is imported).
    """
    decorators = model.__pydantic_decorators__
    found = [
        f"model validator {name}" for name in decorators.model_validators if name not in MIRRORED_MODEL_RULES[model]
    ]
    found += [f"field validator {name}" for name in decorators.field_validators]
    found += [f"alias of {name}" for name, info in model.model_fields.items() if info.alias or info.validation_alias]
    return found


for _model in EVENT_RECORDS:  # a new rule in an event model must be repeated here, or the fast path would miss it
    if _unmirrored := unmirrored_validation(_model):
        raise RuntimeError(f"collector.events.bulk_values does not repeat {_model.__name__}'s {_unmirrored}")

_FAST_EVENT_LIST = _fast_schema()


def _utc_column(texts: Iterable[str]) -> list[datetime]:
    """Timestamp strings as the event schema reads them (``_parse_timestamp``), in UTC as the records hold them.

    ``datetime.fromisoformat`` gives a naive datetime or one with a fixed ``timezone`` (whose offset
    is never ``None``), so "has an offset" is "has a tzinfo" here.
    """
    try:
        parsed = list(map(datetime.fromisoformat, texts))
    except ValueError:
        raise _NotFast from None
    if None in map(_TZINFO, parsed):
        raise _NotFast
    return list(map(_TO_UTC, parsed))


def _optional_utc_column(texts: list[str | None]) -> list[datetime | None]:
    """:func:`_utc_column` of a column that may hold ``None`` (kept as ``None``)."""
    if None not in texts:
        return list(_utc_column(texts))  # type: ignore[arg-type]  # no None in it
    present = [text for text in texts if text is not None]
    converted = iter(_utc_column(present))
    return [None if text is None else next(converted) for text in texts]


def _required(events: list[dict[str, Any]], key: str) -> list[Any]:
    """The value of ``key`` in each of ``events`` (a key the schema requires)."""
    return list(map(itemgetter(key), events))


def _optional(events: list[dict[str, Any]], key: str, default: Any = None) -> list[Any]:
    """The value of ``key`` in each of ``events``, ``default`` where it is absent."""
    return list(map(dict.get, events, repeat(key), repeat(default)))


def _lowered(shas: Iterable[Iterable[str]]) -> list[tuple[str, ...]]:
    """Each list of shas as a tuple of lower-cased shas (``to_record``'s ``tuple(map(str.lower, ...))``)."""
    return list(map(tuple, map(_LOWER_ALL, shas)))


def _lowered_or_none(shas: list[list[str] | None]) -> list[tuple[str, ...] | None]:
    """:func:`_lowered`, keeping ``None`` for an absent list."""
    return [None if item is None else tuple(map(str.lower, item)) for item in shas]


def _lower_or_none(shas: list[str | None]) -> list[str | None]:
    """Each sha lower-cased, ``None`` (or an empty string, as ``to_record`` does) as ``None``."""
    return [sha.lower() if sha else None for sha in shas]


_TZINFO = attrgetter("tzinfo")
_TO_UTC = methodcaller("astimezone", UTC)
_LOWER_ALL = partial(map, str.lower)


def _commit_columns(events: list[dict[str, Any]], source: str) -> list[list[Any]]:
    paths = _optional(events, "paths")
    return [
        _required(events, "repo"),
        list(map(str.lower, _required(events, "sha"))),
        [source] * len(events),
        _optional(events, "author"),
        _optional(events, "author_email"),
        _utc_column(_required(events, "authored_at")),
        _optional_utc_column(_optional(events, "committed_at")),
        _lowered(_optional(events, "parents", ())),
        _optional(events, "message"),
        [None if item is None else tuple(item) for item in paths],
    ]


def _not_before(later: Sequence[datetime | None], earlier: Sequence[datetime], /) -> None:
    """Raise :class:`_NotFast` when a ``later`` value (``None``: absent) is before its ``earlier`` one: the
    model's own rule refuses that event, and the reporting path says so."""
    for after, before in zip(later, earlier, strict=True):
        if after is not None and after < before:
            raise _NotFast


def _pull_request_columns(events: list[dict[str, Any]], source: str) -> list[list[Any]]:
    created_at = _utc_column(_required(events, "created_at"))
    merged_at = _optional_utc_column(_optional(events, "merged_at"))
    _not_before(merged_at, created_at)  # PullRequestEvent._ordered
    return [
        _required(events, "repo"),
        _required(events, "number"),
        [source] * len(events),
        _optional(events, "author"),
        _optional(events, "title"),
        list(map(tuple, _optional(events, "labels", ()))),
        _optional(events, "head_branch"),
        _optional(events, "base_branch"),
        created_at,
        _optional_utc_column(_optional(events, "first_commit_at")),
        _optional_utc_column(_optional(events, "first_review_at")),
        merged_at,
        _optional_utc_column(_optional(events, "closed_at")),
        _lower_or_none(_optional(events, "merge_sha")),
        _lowered(_optional(events, "commits", ())),
    ]


def _deployment_columns(events: list[dict[str, Any]], source: str) -> list[list[Any]]:
    statuses = _required(events, "status")
    shas = _required(events, "sha")
    started_at = _optional_utc_column(_optional(events, "started_at"))
    finished_at = _optional_utc_column(_required(events, "finished_at"))
    for status, sha, started, finished in zip(statuses, shas, started_at, finished_at, strict=True):
        # DeploymentEvent._times
        if finished is None and status is not EventStatus.IN_PROGRESS:
            raise _NotFast
        if sha is None and status is EventStatus.SUCCESS:
            raise _NotFast
        if started and finished and finished < started:
            raise _NotFast
    return [
        [source] * len(events),
        _required(events, "id"),
        _required(events, "service"),
        _required(events, "environment"),
        list(map(_STATUS_VALUES.__getitem__, statuses)),
        _lower_or_none(shas),
        _optional(events, "repo"),
        started_at,
        finished_at,
        _lowered_or_none(_optional(events, "commits")),
        _optional(events, "is_rollback", False),
    ]


def _incident_columns(events: list[dict[str, Any]], source: str) -> list[list[Any]]:
    created_at = _utc_column(_required(events, "created_at"))
    resolved_at = _optional_utc_column(_optional(events, "resolved_at"))
    _not_before(resolved_at, created_at)  # IncidentEvent._times
    return [
        [source] * len(events),
        _required(events, "id"),
        _required(events, "service"),
        _optional(events, "title"),
        _optional(events, "severity"),
        created_at,
        _optional_utc_column(_optional(events, "acknowledged_at")),
        resolved_at,
        _optional(events, "deployment_id"),
        _lower_or_none(_optional(events, "sha")),
    ]


ColumnsBuilder = Callable[[list[dict[str, Any]], str], list[list[Any]]]
#: event type → (record type, the function giving the columns of its events)
_BUILDERS: dict[str, tuple[type, ColumnsBuilder]] = {
    "commit": (Commit, _commit_columns),
    "pull_request": (PullRequest, _pull_request_columns),
    "deployment": (Deployment, _deployment_columns),
    "incident": (Incident, _incident_columns),
}


def chunk_columns(lines: Sequence[str], source: str) -> tuple[int, ChunkColumns] | None:
    """The events of ``lines`` as column values per record type (in :data:`RECORD_FIELDS` order), and their count.

    Record types come in the order of their first event, rows in input order; blank lines are
    skipped; the values carry ``source``. ``None`` when some line is not a valid event (or might not
    be): the reference path (:func:`collector.events.bulk.parse_json_chunk`) then judges the chunk.
    """
    joined = joined_event_texts(lines)
    if joined is None:
        return None
    text, count = joined
    if count == 0:
        return 0, {}
    try:
        events = _FAST_EVENT_LIST.validate_json(text)
    except ValueError:  # a ValidationError (invalid JSON included), or text that is not UTF-8-encodable
        return None
    if len(events) != count:
        return None
    by_type: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        kind = event["type"]
        same = by_type.get(kind)
        if same is None:
            same = by_type[kind] = []
        same.append(event)
    columns: ChunkColumns = {}
    try:
        for kind, same in by_type.items():
            record_type, build = _BUILDERS[kind]
            columns[record_type] = build(same, source)
    except _NotFast:
        return None
    return count, columns

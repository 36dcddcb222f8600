"""The import's fast path gives exactly the rows of the reference path, and only for chunks it accepts."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, field_validator, model_validator
from sqlalchemy import Dialect
from sqlalchemy.engine import make_url

from collector.events.bulk import parse_json_chunk
from collector.events.bulk_values import (
    EVENT_RECORDS,
    MIRRORED_MODEL_RULES,
    RECORD_FIELDS,
    _fast_typed_dict,
    _field_annotation,
    _is_timestamp,
    chunk_columns,
    unmirrored_validation,
)
from collector.events.schema import CommitEvent, DeploymentEvent, IncidentEvent, PullRequestEvent
from collector.ingest import prepare_chunk
from collector.store.writer import driver_rows, record_columns, record_values

SHA = "a" * 40
EVENTS: list[dict[str, Any]] = [
    {
        "type": "commit",
        "repo": "Acme/Shop",
        "sha": SHA.upper(),
        "authored_at": "2026-03-01T10:00:00+02:00",
        "committed_at": "2026-03-01T10:05:00Z",
        "author": "Ann",
        "parents": ["B" * 40],
        "paths": ["src/a.py", "naïve ✓"],
        "message": "Fix ✓",
    },
    {"type": "commit", "repo": "Acme/Shop", "sha": "c" * 40, "authored_at": "2026-03-01T10:00:00+00:00"},
    {
        "type": "pull_request",
        "repo": "Acme/Shop",
        "number": 3,
        "created_at": "2026-03-01T08:30:00Z",
        "merged_at": "2026-03-01T09:00:00-01:00",
        "closed_at": "2026-03-01T09:00:00.250000Z",
        "first_commit_at": "2026-02-28T08:30:00+00:00",
        "first_review_at": "2026-03-01T08:45:00+05:30",
        "merge_sha": "C" * 40,
        "commits": [SHA, "D" * 40],
        "labels": ["HotFix"],
        "title": "T",
        "author": "bo",
        "head_branch": "Fix",
        "base_branch": "main",
    },
    {"type": "pull_request", "repo": "acme/web", "number": 3, "created_at": "2026-03-01T08:30:00Z"},
    {
        "type": "deployment",
        "id": "Dep-1",
        "service": "Shop",
        "environment": "Production",
        "status": "success",
        "sha": SHA.upper(),
        "started_at": "2026-03-01T10:50:00Z",
        "finished_at": "2026-03-01T11:00:00Z",
        "repo": "Acme/Shop",
        "commits": ["E" * 40],
        "is_rollback": True,
    },
    {
        "type": "deployment",
        "id": "dep-2",
        "service": "Shop",
        "environment": "staging",
        "status": "in_progress",
        "sha": None,
        "finished_at": None,
    },
    {
        "type": "incident",
        "id": "inc-1",
        "service": "Shop",
        "created_at": "2026-03-01T12:00:00Z",
        "acknowledged_at": "2026-03-01T12:01:00+01:00",
        "resolved_at": "2026-03-01T13:00:00Z",
        "deployment_id": "Dep-1",
        "sha": "F" * 40,
        "severity": "sev1",
        "title": "Down",
    },
    {"type": "incident", "id": "inc-2", "service": None, "created_at": "2026-03-01T12:00:00Z"},
]
TIMESTAMP_FIELDS = {
    name
    for model in EVENT_RECORDS
    for name, info in model.model_fields.items()
    if _is_timestamp(annotation := _field_annotation(info))
    or any(_is_timestamp(arg) for arg in getattr(annotation, "__args__", ()))
}
# strings datetime.fromisoformat reads differently, or refuses, or that break a model's ordering rules
ODD_TIMESTAMPS = [
    "2026-03-01T10:00:00",
    "2026-03-01 10:00:00+00:00",
    "20260301T100000Z",
    "2026-W09-7T10:00:00+00:00",
    "2026-03-01T10:00:00.123456789+00:00",
    "2026-03-01T10:00+00:00",
    "2026-02-30T10:00:00Z",
    "2026-03-01T24:00:00Z",
    "2026-03-01T10:00:00+24:00",
    "2026-03-01T10:00:00+23:59",
    "2026-03-01T10:00:00-00:00",
    "2020-01-01T00:00:00Z",
    "2030-01-01T00:00:00Z",
    "not a time",
    "",
    None,
    1,
]
ODD_VALUES = [None, 0, 1, -1, 1.0, True, "", "x", "ABCD", "in_progress", "failure", [], ["x"], [None], {}]


def exactly(value: Any) -> Any:
    """``value`` in a form equal only to the very same value: its type, and a datetime's offset too.

    (Aware datetimes compare equal across offsets; the records hold UTC ones.)
    """
    if isinstance(value, tuple):
        return ("tuple", tuple(map(exactly, value)))
    if isinstance(value, datetime):
        return ("datetime", value.isoformat(), value.tzinfo is UTC)
    return (type(value).__name__, value)


def exact_columns(columns: tuple[int, dict[type, list[list[Any]]]] | None) -> Any:
    """Fast-path output in the form of :func:`exactly` (record types in their order)."""
    if columns is None:
        return None
    count, by_type = columns
    return count, [(t, [list(map(exactly, column)) for column in values]) for t, values in by_type.items()]


def reference_columns(lines: list[str], source: str) -> Any:
    """What the fast path must give: the reference records' values, by type in order of first appearance, as columns."""
    parsed = parse_json_chunk(lines, 1, source)
    if parsed.problems:
        return None
    by_type: dict[type, list[tuple[Any, ...]]] = defaultdict(list)
    for record in parsed.records:
        by_type[type(record)].append(record_values(record))
    columns = {t: [list(column) for column in zip(*rows, strict=True)] for t, rows in by_type.items()}
    return exact_columns((len(parsed.records), columns))


@st.composite
def event_lines(draw: st.DrawFn) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        event = dict(draw(st.sampled_from(EVENTS)))
        action = draw(st.sampled_from(["keep", "keep", "timestamp", "timestamp", "change", "drop", "extra"]))
        if action == "timestamp":
            fields = sorted(TIMESTAMP_FIELDS & set(EVENT_FIELDS[event["type"]]))
            event[draw(st.sampled_from(fields))] = draw(st.sampled_from(ODD_TIMESTAMPS))
        elif action == "change":
            event[draw(st.sampled_from(sorted(event)))] = draw(st.sampled_from(ODD_VALUES))
        elif action == "drop":
            del event[draw(st.sampled_from(sorted(event)))]
        elif action == "extra":
            event["unexpected"] = 1
        lines.append(json.dumps(event, ensure_ascii=draw(st.booleans())) + draw(st.sampled_from(["\n", ""])))
        if draw(st.integers(0, 9)) == 0:
            lines.append("\n")
    return lines


EVENT_FIELDS = {model.model_fields["type"].annotation.__args__[0]: tuple(model.model_fields) for model in EVENT_RECORDS}


@settings(max_examples=400, deadline=None)
@given(event_lines(), st.sampled_from(["events", "pushed"]))
def test_fast_path_gives_the_reference_values_or_leaves_the_chunk_to_it(lines: list[str], source: str) -> None:
    fast = exact_columns(chunk_columns(lines, source))
    reference = reference_columns(lines, source)
    if reference is None:
        assert fast is None  # the reference path rejects a line: the fast path must not accept the chunk
    elif fast is not None:
        assert fast == reference


def test_valid_events_of_every_kind_and_shape_take_the_fast_path() -> None:
    lines = [json.dumps(event) + "\n" for event in EVENTS] + ["\n", "  \n"]
    fast = chunk_columns(lines, "events")
    assert fast is not None
    assert exact_columns(fast) == reference_columns(lines, "events")
    count, columns = fast
    assert count == len(EVENTS)
    commits = columns[EVENT_RECORDS[CommitEvent]]
    assert commits[RECORD_FIELDS[EVENT_RECORDS[CommitEvent]].index("sha")] == [SHA, "c" * 40]  # lower-cased


@pytest.mark.parametrize(
    "event",
    [
        {**EVENTS[2], "merged_at": "2026-03-01T08:00:00Z"},  # merged before created
        {**EVENTS[5], "status": "success", "sha": SHA, "finished_at": None},  # finished_at required
        {**EVENTS[4], "sha": None},  # a successful deployment needs its sha
        {**EVENTS[4], "started_at": "2026-03-01T11:00:01Z"},  # finished before started
        {**EVENTS[6], "resolved_at": "2026-03-01T11:59:59Z"},  # resolved before created
        {**EVENTS[1], "authored_at": "2026-03-01T10:00:00"},  # no offset
        {**EVENTS[1], "authored_at": "2026-02-30T10:00:00Z"},  # no such day
        {**EVENTS[3], "closed_at": "soon"},
    ],
)
def test_events_the_models_refuse_send_the_chunk_to_the_reference_path(event: dict[str, Any]) -> None:
    lines = [json.dumps(EVENTS[0]), json.dumps(event)]
    assert chunk_columns(lines, "events") is None
    assert [problem.line for problem in parse_json_chunk(lines).problems] == [2]


def test_an_offset_the_fast_schema_cannot_tell_apart_is_read_as_the_models_read_it() -> None:
    # accepted by datetime.fromisoformat, so by the models too: both paths give the same UTC instant
    lines = [json.dumps({**EVENTS[1], "authored_at": stamp}) for stamp in ("20260301T100000-0130", "2026-W09-7T10:00Z")]
    fast = chunk_columns(lines, "events")
    assert fast is not None and exact_columns(fast) == reference_columns(lines, "events")


@pytest.mark.parametrize("model", [CommitEvent, PullRequestEvent, DeploymentEvent, IncidentEvent])
def test_the_fast_schema_is_the_models_schema_with_timestamps_as_strings(model: type[Any]) -> None:
    derived = TypeAdapter(_fast_typed_dict(model)).json_schema()
    published = model.model_json_schema()
    assert derived["required"] == published["required"]
    assert derived["additionalProperties"] is False and published["additionalProperties"] is False
    assert derived["properties"].keys() == published["properties"].keys()
    for name, schema in published["properties"].items():
        expected = _without(schema, timestamp=name in TIMESTAMP_FIELDS)
        assert _without(derived["properties"][name], timestamp=False) == expected, name


def _without(schema: Any, *, timestamp: bool) -> Any:
    """``schema`` without defaults (a typed dict has none) and, for a timestamp, without its date-time format."""
    if isinstance(schema, dict):
        dropped = {"default"}
        if timestamp and schema.get("format") == "date-time":
            dropped |= {"format", "pattern"}
        return {key: _without(value, timestamp=timestamp) for key, value in schema.items() if key not in dropped}
    if isinstance(schema, list):
        return [_without(value, timestamp=timestamp) for value in schema]
    return schema


def test_timestamp_fields_are_found_in_every_model() -> None:
    expected = {
        "authored_at",
        "committed_at",
        "created_at",
        "merged_at",
        "closed_at",
        "first_commit_at",
        "first_review_at",
        "finished_at",
        "started_at",
        "resolved_at",
        "acknowledged_at",
    }
    assert set(TIMESTAMP_FIELDS) == expected


def test_values_come_in_the_stores_column_order() -> None:
    for record_type, fields in RECORD_FIELDS.items():
        assert fields == record_columns(record_type)


DIALECTS = ["sqlite+pysqlite", "postgresql+psycopg"]


@pytest.mark.parametrize("spec", DIALECTS)
@settings(max_examples=100, deadline=None)
@given(lines=event_lines())
def test_prepared_chunks_hold_the_driver_rows_of_the_reference_path(spec: str, lines: list[str]) -> None:
    dialect: Dialect = make_url(f"{spec}://").get_dialect()()
    prepared = prepare_chunk(1, lines, "events", dialect)
    parsed = parse_json_chunk(lines, 1, "events")
    reference = driver_rows(parsed.records, dialect)
    assert prepared.problems == parsed.problems and prepared.valid == len(parsed.records)
    assert list(prepared.rows.rows) == list(reference.rows)
    assert {t: [list(row) for row in rows] for t, rows in prepared.rows.rows.items()} == reference.rows
    assert prepared.rows.repos == reference.repos


def test_a_validator_the_fast_path_does_not_repeat_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    assert all(unmirrored_validation(model) == [] for model in EVENT_RECORDS)

    class Stricter(CommitEvent):
        repo_alias: str | None = Field(default=None, alias="repository")

        @field_validator("message")
        @classmethod
        def _short(cls, value: str | None) -> str | None:
            return value

        @model_validator(mode="after")
        def _ordered(self) -> Stricter:
            return self

    monkeypatch.setitem(MIRRORED_MODEL_RULES, Stricter, frozenset())
    assert unmirrored_validation(Stricter) == [
        "model validator _ordered",
        "field validator _short",
        "alias of repo_alias",
    ]

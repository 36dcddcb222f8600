"""Bulk validation of a chunk of lines gives exactly what line-by-line validation gives."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.events.bulk import _arrays_of_objects, objects_nested_in_arrays, parse_json_chunk
from collector.events.parse import parse_json_lines

SHA = "a" * 40
COMMIT = {"type": "commit", "repo": "acme/shop", "sha": SHA, "authored_at": "2026-03-01T10:00:00+02:00"}
EVENTS: list[dict[str, Any]] = [
    {**COMMIT, "parents": ["B" * 40], "paths": ["src/a.py"], "message": "Fix ✓"},
    {
        "type": "pull_request",
        "repo": "acme/shop",
        "number": 3,
        "created_at": "2026-03-01T08:30:00Z",
        "merged_at": "2026-03-01T09:00:00Z",
        "merge_sha": "C" * 40,
        "commits": [SHA],
        "labels": ["hotfix"],
    },
    {
        "type": "deployment",
        "id": "dep-1",
        "service": "shop",
        "environment": "production",
        "status": "success",
        "sha": SHA,
        "finished_at": "2026-03-01T11:00:00Z",
    },
    {"type": "incident", "id": "inc-1", "service": "shop", "created_at": "2026-03-01T12:00:00Z"},
]
# values that make a field invalid (or, for some fields, still valid): each is tried in place of a field
ODD_VALUES = [
    None,
    0,
    1.0,
    True,
    "",
    "x",
    "2026-03-01T11:00:00",
    "2026-03-01 11:00:00+00:00",
    [],
    ["x"],
    {},
    "in_progress",
]


def both_paths(lines: list[str], first_line: int = 1, source: str = "events") -> tuple[Any, Any]:
    line_by_line = list(parse_json_lines(lines, start=first_line, source=source))
    records = [parsed.record for parsed in line_by_line if parsed.record is not None]
    problems = [problem for parsed in line_by_line for problem in parsed.problems]
    chunk = parse_json_chunk(lines, first_line, source)
    return (chunk.records, chunk.problems), (records, problems)


@st.composite
def event_lines(draw: st.DrawFn) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        event = dict(draw(st.sampled_from(EVENTS)))
        action = draw(st.sampled_from(["keep", "keep", "change", "drop", "extra"]))
        field = draw(st.sampled_from(sorted(event)))
        if action == "change":
            event[field] = draw(st.sampled_from(ODD_VALUES))
        elif action == "drop":
            del event[field]
        elif action == "extra":
            event["unexpected"] = 1
        text = json.dumps(event, ensure_ascii=draw(st.booleans()))
        shape = draw(st.sampled_from(["plain", "plain", "newline", "blank", "indented", "cut", "two", "garbage"]))
        if shape == "newline":
            text += "\n"
        elif shape == "blank":
            lines.append(draw(st.sampled_from(["", "\n", "  \n", "\t"])))
        elif shape == "indented":
            text = " " + text
        elif shape == "cut":
            text = text[: draw(st.integers(0, len(text)))]
        elif shape == "two":
            text = text + "," + text
        elif shape == "garbage":
            text += draw(st.sampled_from(["]", ",", "x", "}", " ", "\x0c"]))
        lines.append(text)
    return lines


@settings(max_examples=300, deadline=None)
@given(event_lines(), st.integers(1, 10_000), st.sampled_from(["events", "pushed"]))
def test_chunk_gives_the_records_and_problems_of_the_line_by_line_path(
    lines: list[str], first_line: int, source: str
) -> None:
    bulk, reference = both_paths(lines, first_line, source)
    assert bulk == reference


def test_a_valid_chunk_is_validated_without_the_line_path() -> None:
    lines = [json.dumps(event) + "\n" for event in EVENTS] + ["\n"]
    chunk = parse_json_chunk(lines, 7)
    assert not chunk.invalid and len(chunk.records) == 4
    assert chunk.records[0].parents == ("b" * 40,)  # the same mapping to records: shas lower-cased


def test_lines_that_form_events_only_when_joined_are_each_invalid() -> None:
    first = json.dumps(COMMIT)
    cases = [
        # one event and the start of another, closed on the next line: two items for two lines
        [first + "," + first[:-1] + ', "parents": ["abcd"', '"ef01"]}'],
        # the same with the next line starting with "{": an array of objects, which no field accepts
        [first + "," + first[:-1] + ', "paths": [{}', "{}]}"],
        # a string continued on the next line (no newline at the end of the first)
        [first[:-1] + ', "message": "one', 'two"}'],
    ]
    for lines in cases:
        (records, problems), (reference_records, reference_problems) = both_paths(lines)
        assert records == reference_records == [], lines
        assert problems == reference_problems and {problem.line for problem in problems} == {1, 2}, lines


def test_no_event_field_accepts_an_object_inside_an_array() -> None:
    # the bulk path's proof relies on it (see collector.events.bulk); the check itself can see one
    assert objects_nested_in_arrays() == []
    crafted = {"properties": {"x": {"type": "array", "items": {"$ref": "#/$defs/X"}}}}
    assert _arrays_of_objects(crafted, "", {"X": {"type": "object"}}) == ["/properties/x/items"]

"""Validating a chunk of JSON Lines in one call, with the line-by-line path as the reference.

:func:`parse_json_chunk` gives the same records and the same problems as
:func:`collector.events.parse.parse_json_lines` over the same lines; it is only faster. The lines of
a chunk are joined into one JSON array (``"[" + "\\n,".join(lines) + "]"``) and validated by
pydantic-core in one ``validate_json`` call (JSON decoding and validation in Rust). Only when that
call fails does the chunk go through the line-by-line path, so every problem keeps its line number,
field path and message.

Why a successful call means every line is one valid event on its own:

- each non-blank line starts with ``{`` (checked; otherwise the chunk takes the line path);
- a separator ``\\n,`` cannot lie inside a JSON string (a raw newline is not allowed in one), so each
  separator comma is structural and, being followed by ``{``, is either between array items or
  invalid (in an object a comma must be followed by a key string);
- if it were between the items of an array nested inside an event, that array would hold an object,
  and no event field accepts one (:func:`objects_nested_in_arrays` is empty; a test keeps it so);
- so every separator is a top-level comma, the array holds exactly one item per line only if no line
  has a top-level comma of its own (the item count is checked), and each item is its line's text.

A text valid as a whole is decoded the same by ``json.loads`` (both follow RFC 8259; duplicate keys:
the last wins in both), and validating the decoded object or its JSON gives the same model for
these field types (strict strings, integers and booleans, enums, lists, the timestamp validator, which
receives the same string); ``tests/events/test_bulk.py`` compares both paths on generated lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import methodcaller
from typing import Any

from pydantic import TypeAdapter

from collector.events.parse import DEFAULT_EVENT_SOURCE, EventProblem, parse_json_lines, to_record
from collector.events.schema import Event, event_json_schema
from connectors.records import Record

_EVENT_LIST: TypeAdapter[list[Any]] = TypeAdapter(list[Event])
_STARTS_AN_OBJECT = methodcaller("startswith", "{")


@dataclass(slots=True)
class ParsedChunk:
    """The outcome of a chunk of lines: records of the valid lines, in order, and the problems of the others."""

    records: list[Record] = field(default_factory=list)
    problems: list[EventProblem] = field(default_factory=list)

    @property
    def invalid(self) -> bool:
        """Whether some line of the chunk had a problem."""
        return bool(self.problems)


def parse_json_chunk(lines: Sequence[str], first_line: int = 1, source: str = DEFAULT_EVENT_SOURCE) -> ParsedChunk:
    """Decode and validate ``lines`` (numbered from ``first_line``) as :func:`parse_json_lines` does.

    Blank lines are skipped; the records carry ``source``.
    """
    events = _validate_whole(lines)
    if events is not None:
        return ParsedChunk([to_record(event, source) for event in events])
    chunk = ParsedChunk()
    for parsed in parse_json_lines(lines, start=first_line, source=source):
        if parsed.record is None:
            chunk.problems.extend(parsed.problems)
        else:
            chunk.records.append(parsed.record)
    return chunk


def joined_event_texts(lines: Sequence[str]) -> tuple[str, int] | None:
    """The non-blank ``lines`` joined into one JSON array text, and how many they are.

    ``None`` when some non-blank line does not start with ``{`` (the joined text could then hold
    another number of items than lines; see the module's docstring). Validating the text must give
    exactly that many items for each to be its line's event.
    """
    if all(map(_STARTS_AN_OBJECT, lines)):  # the usual chunk: no blank line to skip, nothing to check further
        return "[" + "\n,".join(lines) + "]", len(lines)
    texts: list[str] = []
    for text in lines:
        if text[:1] != "{":
            if not text or text.isspace():
                continue  # blank, as parse_json_lines skips it
            if text.lstrip()[:1] != "{":
                return None
        texts.append(text)
    return "[" + "\n,".join(texts) + "]", len(texts)


def _validate_whole(lines: Sequence[str]) -> list[Any] | None:
    """The events of every non-blank line, validated in one call; ``None`` if that is not possible."""
    joined = joined_event_texts(lines)
    if joined is None:
        return None
    text, count = joined
    if not count:
        return []
    try:
        events = _EVENT_LIST.validate_json(text)
    except ValueError:  # a ValidationError (invalid JSON included), or text that is not UTF-8-encodable
        return None
    return events if len(events) == count else None


def objects_nested_in_arrays() -> list[str]:
    """Paths in the event JSON Schema where an array item may be an object (must stay empty, see above)."""
    schema = event_json_schema()
    definitions = schema.get("$defs")
    return _arrays_of_objects(schema, "", definitions if isinstance(definitions, dict) else {})


def _arrays_of_objects(schema: Any, path: str, definitions: dict[str, Any]) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        for key in ("items", "prefixItems"):
            items = schema.get(key)
            for item in items if isinstance(items, list) else [items] if items is not None else []:
                if _may_be_object(item, definitions, 0):
                    found.append(f"{path}/{key}")
        for key, value in schema.items():
            found.extend(_arrays_of_objects(value, f"{path}/{key}", definitions))
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            found.extend(_arrays_of_objects(value, f"{path}/{index}", definitions))
    return found


def _may_be_object(schema: Any, definitions: dict[str, Any], depth: int) -> bool:
    if not isinstance(schema, dict) or depth > 20:
        return schema is not False  # ``true`` (or an unresolvable depth) may be anything
    if "$ref" in schema:
        return _may_be_object(definitions.get(str(schema["$ref"]).rsplit("/", 1)[-1]), definitions, depth + 1)
    alternatives = [*schema.get("anyOf", []), *schema.get("oneOf", [])]
    if alternatives:
        return any(_may_be_object(alternative, definitions, depth + 1) for alternative in alternatives)
    kind = schema.get("type")
    return kind is None or kind == "object" or (isinstance(kind, list) and "object" in kind)

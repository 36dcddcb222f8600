"""The published JSON Schema of events is the one the code validates with."""

from __future__ import annotations

import json
from pathlib import Path

from collector.events.schema import event_json_schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.schema.json"


def test_published_schema_is_current() -> None:
    assert json.loads(DOC.read_text()) == event_json_schema(), "regenerate with: make schemas"

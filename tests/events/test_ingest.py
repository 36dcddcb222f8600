"""`ingest`: canonical events validated line by line, stored all-or-nothing, idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Engine, func, select

from collector.events.parse import parse_json_lines
from collector.ingest import ingest_lines
from collector.store.models import CommitRow, DeploymentRow, IncidentRow, PullRequestRow

SHA_A = "a" * 40
SHA_B = "b" * 40

GOOD = [
    {
        "type": "commit",
        "repo": "acme/shop",
        "sha": SHA_A,
        "authored_at": "2026-03-01T10:00:00+02:00",
        "author": "ann",
        "parents": [],
        "paths": ["src/a.py"],
    },
    {
        "type": "commit",
        "repo": "acme/shop",
        "sha": SHA_B,
        "authored_at": "2026-03-01T09:00:00Z",
        "parents": [SHA_A],
        "message": "Merge",
    },
    {
        "type": "pull_request",
        "repo": "acme/shop",
        "number": 3,
        "created_at": "2026-03-01T08:30:00Z",
        "merged_at": "2026-03-01T09:00:00Z",
        "merge_sha": SHA_B,
        "commits": [SHA_A],
        "labels": ["hotfix"],
    },
    {
        "type": "deployment",
        "id": "dep-1",
        "service": "shop",
        "environment": "production",
        "status": "success",
        "sha": SHA_B,
        "finished_at": "2026-03-01T11:00:00Z",
        "is_rollback": False,
    },
    {
        "type": "incident",
        "id": "inc-1",
        "service": "shop",
        "created_at": "2026-03-01T12:00:00Z",
        "resolved_at": "2026-03-01T13:00:00Z",
        "deployment_id": "dep-1",
    },
]


def lines(events: list[dict[str, object]]) -> list[str]:
    return [json.dumps(event) + "\n" for event in events]


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            model.__tablename__: connection.execute(select(func.count()).select_from(model)).scalar_one()
            for model in (CommitRow, PullRequestRow, DeploymentRow, IncidentRow)
        }


def test_valid_file_is_stored_and_reimport_is_a_no_op(engine: Engine) -> None:
    result = ingest_lines(engine, lines(GOOD))
    assert result.committed and not result.problems
    assert counts(engine) == {"commits": 2, "pull_requests": 1, "deployments": 1, "incidents": 1}
    again = ingest_lines(engine, lines(GOOD))
    assert again.committed
    assert counts(engine) == {"commits": 2, "pull_requests": 1, "deployments": 1, "incidents": 1}
    with engine.connect() as connection:
        authored = connection.execute(select(CommitRow.authored_at).where(CommitRow.sha == SHA_A)).scalar_one()
    assert authored == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)  # 10:00+02:00


def test_one_bad_line_stores_nothing_and_is_named(engine: Engine) -> None:
    bad = dict(GOOD[3], finished_at="2026-03-01T11:00:00")  # no offset
    result = ingest_lines(engine, lines([*GOOD[:3], bad, GOOD[4]]))
    assert not result.committed
    assert [str(p) for p in result.problems] == [
        "line 4: finished_at: Value error, timestamp '2026-03-01T11:00:00' has no UTC offset: add Z or ±HH:MM"
    ]
    assert counts(engine) == {"commits": 0, "pull_requests": 0, "deployments": 0, "incidents": 0}


def test_every_bad_line_is_reported_and_skip_invalid_stores_the_rest(engine: Engine) -> None:
    text = lines(GOOD)
    text.insert(1, "{not json\n")
    text.insert(3, json.dumps({"type": "deploy", "id": "x"}) + "\n")
    text.append(json.dumps({"type": "incident", "id": "i2", "service": "shop", "created_at": 5}) + "\n")
    result = ingest_lines(engine, text, skip_invalid=True)
    assert result.invalid_lines == [2, 4, 8]
    fields = {(p.line, p.field) for p in result.problems}
    assert (4, "type") in fields and (8, "created_at") in fields
    assert result.committed
    assert counts(engine) == {"commits": 2, "pull_requests": 1, "deployments": 1, "incidents": 1}


def test_field_level_validation_messages() -> None:
    cases = [
        ({**GOOD[3], "status": "done"}, "status"),
        ({**GOOD[3], "sha": "not-a-sha"}, "sha"),
        ({**GOOD[2], "number": "3"}, "number"),
        ({**GOOD[3], "finsihed_at": "2026-03-01T11:00:00Z"}, "finsihed_at"),
        ({k: v for k, v in GOOD[4].items() if k != "created_at"}, "created_at"),
        ({**GOOD[4], "resolved_at": "2026-03-01T11:00:00Z"}, ""),  # resolved before created
        ({**GOOD[3], "status": "failure", "finished_at": None}, ""),
    ]
    for event, field in cases:
        parsed = list(parse_json_lines([json.dumps(event)]))
        assert parsed[0].record is None, event
        assert parsed[0].problems[0].field == field, (event, parsed[0].problems)


def test_in_progress_deployment_may_lack_finish_time() -> None:
    event = {**GOOD[3], "status": "in_progress", "finished_at": None}
    parsed = list(parse_json_lines([json.dumps(event)]))
    assert parsed[0].problems == ()

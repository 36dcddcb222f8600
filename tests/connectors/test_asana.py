"""Asana source over pages built from the REST API reference (tests/fixtures/asana, see its SOURCE.md:
no recording exists), replayed with ``responses``."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from connector_helpers import (
    FakeClock,
    FakeServices,
    load_fixture,
    merged_cursors,
    records_of,
    run_batches,
    run_until_error,
)
from pydantic import ValidationError
from responses import matchers
from sqlalchemy import select

from collector.source_registry import source_kinds
from collector.store.models import IncidentRow
from collector.store.withdraw import write_batch
from connectors.asana import OPT_FIELDS, AsanaSource, Settings
from connectors.base import SourceContext
from connectors.errors import ErrorKind, SourceError
from connectors.records import CursorKey, Incident, RawPayload

API = "https://app.asana.com/api/1.0"
TASKS = f"{API}/tasks"
PROJECT = "1204010000000001"
TOKEN = "2/1204000000000000/1207000000000000:0123456789abcdefSECRET"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
CURSOR = CursorKey("tasks", PROJECT)
PAGE2 = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJib3JkZXJfcmFuayI6IjIifQ.pg2"
SERVICES = [
    {"by": "asana_project", "value": "Payments*", "service": "payments"},
    {"by": "field", "field": "Service", "value": "checkout", "service": "checkout"},
]
SELECTION = {"labels": ["Incident"], "fields": {"Incident": "yes"}}


def fixture(name: str) -> Any:
    return load_fixture("asana", name)


def source(clock: FakeClock, **overrides: Any) -> AsanaSource:
    data: dict[str, Any] = {
        "name": "asana",
        "kind": "asana",
        "token": TOKEN,
        "projects": [PROJECT],
        "per_page": 2,
        "history_days": 30,
        "incidents": SELECTION,
        "services": SERVICES,
        "cause": {"fields": ["Cause"]},
        "severity_field": "Severity",
        "acknowledged_field": "1204010000008005",
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices())
    return AsanaSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def first_page() -> list:
    return [matchers.query_param_matcher({"offset": PAGE2}, strict_match=False)]


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def mock_two_pages(mocked: responses.RequestsMock) -> None:
    mocked.add(responses.GET, TASKS, json=fixture("tasks_page2.json"), match=first_page())
    mocked.add(responses.GET, TASKS, json=fixture("tasks_page1.json"))


def test_two_pages_select_incidents_and_map_them(mocked, fake_clock):
    mock_two_pages(mocked)
    batches = run_batches(source(fake_clock))
    found = {i.external_id: i for i in records_of(batches, Incident)}
    assert set(found) == {"1204010000000101", "1204010000000103", "1204010000000104"}  # 102: no tag, no field

    first, second = (params_of(c) for c in mocked.calls)
    assert first == {
        "project": PROJECT,
        "modified_since": "2024-05-02T12:00:00Z",  # run start minus 30 history days
        "limit": "2",
        "opt_fields": ",".join(OPT_FIELDS),
    }
    assert second == {**first, "offset": PAGE2}
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"

    resolved = found["1204010000000101"]
    assert resolved.created_at == datetime(2024, 5, 20, 8, 0, tzinfo=UTC)
    assert resolved.resolved_at == datetime(2024, 5, 20, 9, 30, tzinfo=UTC)
    assert resolved.acknowledged_at == datetime(2024, 5, 20, 8, 10, tzinfo=UTC)
    assert (resolved.title, resolved.severity, resolved.service) == ("Checkout 500s after release", "SEV2", "checkout")
    assert resolved.cause_deployment_id == "acme/checkout/deployments/4242"  # link in the notes
    assert resolved.cause_sha is None

    by_field = found["1204010000000103"]  # selected by the Incident custom field, no tag
    assert by_field.resolved_at is None
    assert by_field.service == "payments"  # its second project, "Payments board"
    assert by_field.cause_sha == "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c0e2b4d6f"  # the Cause field
    assert by_field.severity == "SEV1"

    # newest modified_at of every listed task (104: 2024-05-27 16:45), in one last batch
    assert merged_cursors(batches)[CURSOR] == "2024-05-27T16:45:00Z"
    assert set(batches[-1].cursors) == {CURSOR} and batches[-1].records == ()
    assert all(not b.cursors for b in batches[:-1])
    assert sorted(r.external_id for r in records_of(batches, RawPayload)) == sorted(found)
    assert {r.kind for r in records_of(batches, RawPayload)} == {"asana.task"}


def test_unmapped_incident_is_kept_with_service_none(mocked, fake_clock):
    mock_two_pages(mocked)
    found = {i.external_id: i for i in records_of(run_batches(source(fake_clock)), Incident)}
    unmapped = found["1204010000000104"]  # tagged, only in the checkout incidents project, no Service field
    assert unmapped.service is None
    assert unmapped.cause_deployment_id is None and unmapped.cause_sha is None


def test_reopened_task_is_open_then_resolved_at_its_last_completion(mocked, fake_clock):
    first_time = copy.deepcopy(fixture("tasks_page2.json"))
    task = first_time["data"][1]
    task.update(completed=True, completed_at="2024-05-26T09:00:00.000Z", modified_at="2024-05-26T09:00:10.000Z")
    first_time["data"] = [task]
    mocked.add(responses.GET, TASKS, json=first_time)
    batches = run_batches(source(fake_clock))
    (incident,) = records_of(batches, Incident)
    assert incident.resolved_at == datetime(2024, 5, 26, 9, 0, tzinfo=UTC)
    cursors = merged_cursors(batches)

    mocked.replace(responses.GET, TASKS, json={"data": [fixture("tasks_page2.json")["data"][1]], "next_page": None})
    batches = run_batches(source(fake_clock), cursors)
    assert params_of(mocked.calls[-1])["modified_since"] == "2024-05-26T08:00:10Z"  # watermark minus 1 h
    (reopened,) = records_of(batches, Incident)
    assert reopened.resolved_at is None  # marked incomplete: open again
    cursors = merged_cursors(batches, cursors)
    assert cursors[CURSOR] == "2024-05-27T16:45:00Z"

    mocked.replace(responses.GET, TASKS, json=fixture("tasks_resume.json"))
    batches = run_batches(source(fake_clock), cursors)
    assert params_of(mocked.calls[-1])["modified_since"] == "2024-05-27T15:45:00Z"
    (done,) = records_of(batches, Incident)
    assert done.external_id == "1204010000000104"
    assert done.resolved_at == datetime(2024, 5, 28, 10, 0, tzinfo=UTC)
    assert done.created_at == datetime(2024, 5, 26, 7, 0, tzinfo=UTC)
    assert merged_cursors(batches, cursors)[CURSOR] == "2024-05-28T10:00:30Z"


def test_empty_resume_keeps_the_watermark(mocked, fake_clock):
    mocked.add(responses.GET, TASKS, json={"data": [], "next_page": None})
    stored = {CURSOR: "2024-05-27T16:45:00Z"}
    batches = run_batches(source(fake_clock), stored)
    assert merged_cursors(batches, stored) == stored


def test_without_selection_every_task_is_an_incident(mocked, fake_clock):
    mock_two_pages(mocked)
    batches = run_batches(source(fake_clock, incidents={}))
    assert len(records_of(batches, Incident)) == 4


def test_tag_only_selection_ignores_the_custom_field(mocked, fake_clock):
    mock_two_pages(mocked)
    batches = run_batches(source(fake_clock, incidents={"labels": ["incident"]}))
    assert sorted(i.external_id for i in records_of(batches, Incident)) == ["1204010000000101", "1204010000000104"]


def test_429_waits_for_retry_after_then_continues(mocked, fake_clock):
    mocked.add(
        responses.GET, TASKS, status=429, json={"errors": [{"message": "Rate limited"}]}, headers={"Retry-After": "30"}
    )
    mocked.add(responses.GET, TASKS, json={"data": [], "next_page": None})
    run_batches(source(fake_clock))
    assert fake_clock.sleeps == [30.0]


def test_rate_limit_wait_longer_than_allowed_stops_the_run(mocked, fake_clock):
    mocked.add(responses.GET, TASKS, status=429, json={}, headers={"Retry-After": "3600"})
    _, error = run_until_error(source(fake_clock, max_rate_limit_wait="10m"))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.RETRIABLE
    assert fake_clock.sleeps == []


def test_server_error_on_page_two_keeps_page_one_without_a_cursor(mocked, fake_clock):
    mocked.add(responses.GET, TASKS, status=500, json={"errors": [{"message": "Server Error"}]}, match=first_page())
    mocked.add(responses.GET, TASKS, json=fixture("tasks_page1.json"))
    batches, error = run_until_error(source(fake_clock, max_retries=1))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.RETRIABLE
    assert [i.external_id for i in records_of(batches, Incident)] == ["1204010000000101"]
    assert merged_cursors(batches) == {}  # the listing is unordered: no cursor before it is complete


def test_unauthorized_is_fatal_and_the_token_is_redacted(mocked, fake_clock):
    mocked.add(responses.GET, TASKS, status=401, json={"errors": [{"message": f"Not Authorized {TOKEN}"}]})
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.FATAL
    assert TOKEN not in str(error)


def test_repeated_offset_is_an_error_not_a_loop(mocked, fake_clock):
    body = {"data": [], "next_page": {"offset": "same", "path": "/tasks?offset=same", "uri": f"{TASKS}?offset=same"}}
    mocked.add(responses.GET, TASKS, json=body)
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError) and "again" in str(error)
    assert len(mocked.calls) == 2


def test_kind_is_registered_and_settings_are_validated():
    assert source_kinds()["asana"].settings_model is Settings
    assert Settings.model_validate({"name": "a", "token": "t", "projects": [1204]}).projects == ("1204",)
    with pytest.raises(ValidationError, match="gid"):
        Settings.model_validate({"name": "a", "token": "t", "projects": ["Incidents"]})
    with pytest.raises(ValidationError, match="asana_project"):
        Settings.model_validate({"name": "a", "token": "t", "projects": ["1"], "services": [{"by": "nope"}]})


def test_incidents_round_trip_through_the_store(mocked, fake_clock, engine):
    mock_two_pages(mocked)
    batches = run_batches(source(fake_clock))
    with engine.begin() as connection:
        for batch in batches:
            write_batch(connection, batch.records)  # the sync's write path (batches may hold withdrawals)
    with engine.connect() as connection:
        rows = connection.execute(
            select(IncidentRow.external_id, IncidentRow.service, IncidentRow.resolved_at, IncidentRow.cause_sha)
        ).all()
    by_id = {row[0]: row[1:] for row in rows}
    assert set(by_id) == {"1204010000000101", "1204010000000103", "1204010000000104"}
    assert by_id["1204010000000104"][0] is None  # unmapped, stored
    assert by_id["1204010000000101"][1].replace(tzinfo=UTC) == datetime(2024, 5, 20, 9, 30, tzinfo=UTC)
    assert by_id["1204010000000103"][2] == "9f2c4e6a8b0d1f3e5a7c9e1b3d5f7a9c0e2b4d6f"

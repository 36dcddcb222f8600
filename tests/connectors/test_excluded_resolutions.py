"""Jira and Asana tickets closed as no incident (a duplicate, won't do, cannot reproduce): not an incident,
a stored copy withdrawn with its raw payload, and a rebuild from the raw payloads agreeing. Jira issues are
written here in the search response's shape (``fields.resolution`` is ``{"name": ...}`` or ``null``); Asana
tasks are the recorded-shape fixture with a hand-added enum custom field."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import test_asana
import test_incident_withdrawal as withdrawal
import test_jira
from connector_helpers import FakeClock, run_batches
from sqlalchemy import Engine

from connectors.records import Incident, IncidentWithdrawal

DONE = {"name": "Done", "statusCategory": {"key": "done"}}
REOPENED = {"name": "Reopened", "statusCategory": {"key": "indeterminate"}}


def jira_issue(key: str, resolution: str | None, status: dict[str, Any] = DONE, updated: str = "10:30") -> dict:
    return {
        "key": key,
        "fields": {
            "summary": f"{key} outage",
            "issuetype": {"name": "Incident"},
            "project": {"key": "OPS"},
            "status": status,
            "resolution": {"name": resolution} if resolution else None,
            "created": "2024-05-10T10:00:00.000+0000",
            "updated": f"2024-05-10T{updated}:00.000+0000",
            "resolutiondate": "2024-05-10T10:20:00.000+0000" if resolution else None,
        },
        "changelog": {"histories": [], "total": 0},
    }


def jira_page(*issues: dict) -> dict:
    return {"issues": list(issues), "isLast": True}


def jira_records(mocked: responses.RequestsMock, *issues: dict, **overrides: Any) -> list:
    mocked.add(responses.GET, test_jira.SEARCH, json=jira_page(*issues))
    return [r for batch in run_batches(test_jira.source(FakeClock(), **overrides)) for r in batch.records]


@pytest.mark.parametrize("resolution", ["Duplicate", "Won't Do", "cannot reproduce"])
def test_jira_issue_resolved_as_no_incident_is_withdrawn_not_counted(mocked, resolution):
    records = jira_records(mocked, jira_issue("OPS-1", resolution), jira_issue("OPS-2", "Done"))
    assert [i.external_id for i in records if isinstance(i, Incident)] == ["OPS-2"]
    assert IncidentWithdrawal("jira", "OPS-1", ("jira.issue",)) in records
    fields = parse_qs(urlsplit(mocked.calls[0].request.url).query)["fields"][0].split(",")
    assert "resolution" in fields  # asked for, or the rule could never see it


def test_jira_reopened_issue_with_a_stale_resolution_is_an_incident_again(mocked):
    records = jira_records(mocked, jira_issue("OPS-1", "Duplicate", status=REOPENED))
    (incident,) = [r for r in records if isinstance(r, Incident)]
    assert incident.resolved_at is None


def test_jira_excluded_resolutions_can_be_emptied(mocked):
    records = jira_records(mocked, jira_issue("OPS-1", "Duplicate"), excluded_resolutions=[])
    assert [i.external_id for i in records if isinstance(i, Incident)] == ["OPS-1"]


def test_jira_issue_resolved_as_duplicate_after_a_sync_is_removed_and_the_rebuild_agrees(engine: Engine) -> None:
    settings = test_jira.source(FakeClock()).settings
    at = test_jira.RUN_START
    first = jira_page(jira_issue("OPS-1", None, status=REOPENED), jira_issue("OPS-2", "Done"))
    withdrawal._sync(engine, settings, at, lambda mocked: mocked.add(responses.GET, test_jira.SEARCH, json=first))
    assert withdrawal._stored(engine, "jira")[1] == ["OPS-1", "OPS-2"]

    later = jira_page(jira_issue("OPS-1", "Duplicate", updated="11:00"))
    outcome = withdrawal._sync(
        engine, settings, at, lambda mocked: mocked.add(responses.GET, test_jira.SEARCH, json=later)
    )
    assert outcome.counts["incidents withdrawn"] == 1
    incidents, payloads = withdrawal._stored(engine, "jira")
    assert [row[0] for row in incidents] == payloads == ["OPS-2"]
    withdrawal._rebuild_changes_nothing(engine, settings)


def asana_task(resolution: str | None, completed: bool = True) -> dict:
    task = copy.deepcopy(test_asana.fixture("tasks_page1.json")["data"][0])  # completed, tagged "incident"
    task["completed"] = completed
    task["custom_fields"].append(
        {
            "gid": "1204010000008009",
            "name": "Resolution",
            "resource_subtype": "enum",
            "display_value": resolution,
            "enum_value": {"gid": "1204010000008901", "name": resolution} if resolution else None,
        }
    )
    return task


def asana_records(mocked: responses.RequestsMock, task: dict, **overrides: Any) -> list:
    mocked.add(responses.GET, test_asana.TASKS, json={"data": [task], "next_page": None})
    batches = run_batches(test_asana.source(FakeClock(), **overrides))
    return [r for batch in batches for r in batch.records]


def test_asana_task_completed_as_duplicate_is_withdrawn_not_counted(mocked):
    records = asana_records(mocked, asana_task("Duplicate"), resolution_field="Resolution")
    assert not [r for r in records if isinstance(r, Incident)]
    assert records == [IncidentWithdrawal("asana", "1204010000000101", ("asana.task",))]


@pytest.mark.parametrize(
    ("task", "overrides"),
    [
        (asana_task("Fixed"), {"resolution_field": "Resolution"}),
        (asana_task("Duplicate", completed=False), {"resolution_field": "Resolution"}),  # open again
        (asana_task("Duplicate"), {}),  # no resolution_field: Asana itself has no resolution
    ],
)
def test_asana_task_stays_an_incident(mocked, task, overrides):
    records = asana_records(mocked, task, **overrides)
    assert len([r for r in records if isinstance(r, Incident)]) == 1


def test_asana_task_completed_as_duplicate_after_a_sync_is_removed_and_the_rebuild_agrees(engine: Engine) -> None:
    settings = test_asana.source(FakeClock(), resolution_field="1204010000008009").settings
    at: datetime = test_asana.RUN_START
    fixed = {"data": [asana_task("Fixed")], "next_page": None}
    withdrawal._sync(engine, settings, at, lambda mocked: mocked.add(responses.GET, test_asana.TASKS, json=fixed))
    assert withdrawal._stored(engine, "asana")[1] == ["1204010000000101"]

    duplicate = {"data": [asana_task("Duplicate")], "next_page": None}
    outcome = withdrawal._sync(engine, settings, at, lambda m: m.add(responses.GET, test_asana.TASKS, json=duplicate))
    assert outcome.counts["incidents withdrawn"] == 1
    assert withdrawal._stored(engine, "asana") == ([], [])
    withdrawal._rebuild_changes_nothing(engine, settings)

"""ServiceNow source over hand-built Table API pages (see tests/fixtures/servicenow/SOURCE.md)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
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
from responses import matchers

from connectors.base import SourceContext
from connectors.errors import ErrorKind, SourceError
from connectors.records import CursorKey, Incident, IncidentWithdrawal, RawPayload
from connectors.servicenow import ServiceNowSource, Settings

INSTANCE = "https://acme.service-now.com"
TABLE = f"{INSTANCE}/api/now/table/incident"
TOKEN = "snow-SECRET-password-42"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SHA = "9c1e5b7d2a4f6e8c0b1d3f5a7c9e2b4d6f8a0c1e"
SERVICES = [
    {"by": "configuration_item", "value": "checkout-*", "service": "checkout"},
    {"by": "assignment_group", "value": "Payments SRE", "service": "payments"},
    {"by": "configuration_item", "value": "search-api", "service": "search"},
]


def source(clock: FakeClock, **overrides) -> ServiceNowSource:
    data = {
        "name": "snow",
        "kind": "servicenow",
        "base_url": INSTANCE,
        "username": "dora.bot",
        "token": TOKEN,
        "per_page": 2,
        "history_days": 30,
        "services": SERVICES,
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices())
    return ServiceNowSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def at_offset(offset: int) -> list:
    return [matchers.query_param_matcher({"sysparm_offset": str(offset)}, strict_match=False)]


def link(offset: int | None) -> dict[str, str]:
    parts = [f'<{TABLE}?sysparm_limit=2&sysparm_offset=0>;rel="first"']
    if offset is not None:
        parts.append(f'<{TABLE}?sysparm_limit=2&sysparm_offset={offset}>;rel="next"')
    parts.append(f'<{TABLE}?sysparm_limit=2&sysparm_offset=2>;rel="last"')
    return {"Link": ",".join(parts)}


def two_pages(mocked) -> None:
    mocked.add(
        responses.GET,
        TABLE,
        json=load_fixture("servicenow", "incidents_page1.json"),
        headers=link(2),
        match=at_offset(0),
    )
    mocked.add(
        responses.GET,
        TABLE,
        json=load_fixture("servicenow", "incidents_page2.json"),
        headers=link(None),
        match=at_offset(2),
    )


def test_two_pages_follow_the_link_header_and_map_every_incident(mocked, fake_clock):
    two_pages(mocked)
    batches = run_batches(source(fake_clock))
    found = {i.external_id: i for i in records_of(batches, Incident)}
    assert list(found) == ["INC0010001", "INC0010002", "INC0010003", "INC0010004"]
    assert [params_of(c)["sysparm_offset"] for c in mocked.calls] == ["0", "2"]
    first = params_of(mocked.calls[0])
    # 30 history days before the run start, upper bound the run start, ordered by sys_updated_on
    assert first["sysparm_query"] == (
        "sys_updated_on>=2024-05-02 12:00:00^sys_updated_on<=2024-06-01 12:00:00^ORDERBYsys_updated_on"
    )
    assert first["sysparm_display_value"] == "all"
    assert {"cmdb_ci", "assignment_group", "resolved_at", "state"} <= set(first["sysparm_fields"].split(","))
    basic = base64.b64encode(f"dora.bot:{TOKEN}".encode()).decode()
    assert mocked.calls[0].request.headers["Authorization"] == f"Basic {basic}"
    # each page's batch carries the newest sys_updated_on stored so far
    assert [b.cursors[CursorKey("incidents")] for b in batches] == ["2024-05-21T08:30:00Z", "2024-05-23T09:10:00Z"]

    one = found["INC0010001"]
    assert one.created_at == datetime(2024, 5, 20, 10, 12, tzinfo=UTC)  # opened_at value (UTC), not the label
    assert one.resolved_at == datetime(2024, 5, 20, 11, 40, tzinfo=UTC)
    assert one.service == "checkout"  # configuration item checkout-api
    assert one.severity == "1 - Critical"
    assert one.title == "Checkout returns 500 after release"
    assert one.cause_deployment_id == "checkout-api/deployments/881"
    two = found["INC0010002"]
    assert two.service == "payments"  # no CI: the assignment group rule
    assert two.resolved_at is None
    kinds = [r.kind for r in records_of(batches, RawPayload)]
    assert kinds == ["servicenow.incident"] * 4
    assert next(r for r in records_of(batches, RawPayload) if r.external_id == "INC0010003").body["number"] == {
        "display_value": "INC0010003",
        "value": "INC0010003",
    }


def test_unmatched_item_is_kept_unmapped_and_sha_cause_is_read(mocked, fake_clock):
    two_pages(mocked)
    found = {i.external_id: i for i in records_of(run_batches(source(fake_clock)), Incident)}
    printer = found["INC0010003"]
    assert printer.service is None  # CI hp-floor3 and group Desk Support match no rule
    assert printer.cause_sha == SHA
    assert printer.cause_deployment_id is None


def test_reopened_incident_is_open_despite_a_stale_resolved_at_then_resolved_on_resume(mocked, fake_clock):
    two_pages(mocked)
    first = run_batches(source(fake_clock))
    reopened = next(i for i in records_of(first, Incident) if i.external_id == "INC0010004")
    assert reopened.resolved_at is None  # state 2 (In Progress) although resolved_at holds 07:45
    stored = merged_cursors(first)

    mocked.replace(responses.GET, TABLE, json=load_fixture("servicenow", "incidents_resume.json"))
    mocked.calls.reset()
    second = run_batches(source(fake_clock), stored)
    (again,) = records_of(second, Incident)
    assert again.resolved_at == datetime(2024, 5, 24, 12, 0, tzinfo=UTC)  # the final resolution
    # the resumed listing starts one hour (lookback) before the stored watermark 2024-05-23T09:10:00Z
    assert params_of(mocked.calls[0])["sysparm_query"].startswith("sys_updated_on>=2024-05-23 08:10:00^")
    assert merged_cursors(second, stored)[CursorKey("incidents")] == "2024-05-24T12:00:01Z"


def test_query_dates_are_written_in_the_integration_users_time_zone(mocked, fake_clock):
    mocked.add(responses.GET, TABLE, json={"result": []})
    run_batches(source(fake_clock, time_zone="America/New_York", query="active=true^priority<=2"))
    query = params_of(mocked.calls[0])["sysparm_query"]
    # 2024-05-02 12:00 UTC is 08:00 in New York (EDT, UTC-4)
    assert query == (
        "active=true^priority<=2^sys_updated_on>=2024-05-02 08:00:00^sys_updated_on<=2024-06-01 08:00:00"
        "^ORDERBYsys_updated_on"
    )


def test_without_link_header_full_pages_advance_the_offset_until_a_short_page(mocked, fake_clock):
    page1 = load_fixture("servicenow", "incidents_page1.json")
    page2 = load_fixture("servicenow", "incidents_page2.json")
    page2["result"] = page2["result"][:1]
    mocked.add(responses.GET, TABLE, json=page1, match=at_offset(0))
    mocked.add(responses.GET, TABLE, json=page2, match=at_offset(2))
    batches = run_batches(source(fake_clock))
    assert [params_of(c)["sysparm_offset"] for c in mocked.calls] == ["0", "2"]
    assert len(records_of(batches, Incident)) == 3


def test_priority_selection_keeps_only_matching_incidents(mocked, fake_clock):
    two_pages(mocked)
    batches = run_batches(source(fake_clock, incidents={"priorities": ["1", "2"]}))
    assert [i.external_id for i in records_of(batches, Incident)] == ["INC0010001", "INC0010002", "INC0010004"]
    assert len(records_of(batches, RawPayload)) == 3  # no raw payload for a non-incident


def test_429_waits_for_retry_after_then_succeeds(mocked, fake_clock):
    mocked.add(
        responses.GET,
        TABLE,
        status=429,
        json={"error": {"message": "Rate limit exceeded"}},
        headers={"Retry-After": "30", "X-RateLimit-Reset": "1717243290"},
    )
    mocked.add(responses.GET, TABLE, json={"result": []})
    src = source(fake_clock)
    run_batches(src)
    assert fake_clock.sleeps == [30.0]
    assert src.stats.retries == 1


def test_401_is_fatal_and_the_password_never_appears_in_the_error(mocked, fake_clock):
    mocked.add(responses.GET, TABLE, status=401, json={"error": {"message": "User Not Authenticated"}})
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.FATAL
    assert TOKEN not in str(error)


def test_a_query_with_orderby_is_refused():
    with pytest.raises(ValueError, match="ORDERBY"):
        Settings.model_validate(
            {
                "name": "s",
                "kind": "servicenow",
                "base_url": INSTANCE,
                "token": "t",
                "query": "active=true^ORDERBYnumber",
            }
        )


def cancelled(number: str, *, closed_at: str, updated: str) -> dict:
    """The resume page's incident renamed ``number`` and moved to state 8 (Canceled), keeping its
    ``resolved_at`` (a stale resolution: Canceled is never reached from Resolved)."""
    page = load_fixture("servicenow", "incidents_resume.json")
    (item,) = page["result"]
    item["number"] = {"display_value": number, "value": number}
    item["state"] = {"display_value": "Canceled", "value": "8"}
    item["resolved_at"] = {"display_value": "2024-05-23 07:45:00", "value": "2024-05-23 07:45:00"}
    item["closed_at"] = {"display_value": closed_at, "value": closed_at}
    item["sys_updated_on"] = {"display_value": updated, "value": updated}
    return page


def test_an_open_incident_cancelled_later_is_withdrawn_on_resume(mocked, fake_clock):
    """State 8 (Canceled: "a duplicate incident, an unnecessary incident, or not an incident at all") is
    no incident: the copy stored while it was open is withdrawn, never counted as restored."""
    two_pages(mocked)
    first = run_batches(source(fake_clock))
    assert next(i for i in records_of(first, Incident) if i.external_id == "INC0010004").resolved_at is None
    stored = merged_cursors(first)

    mocked.replace(responses.GET, TABLE, json=cancelled("INC0010004", closed_at="", updated="2024-05-24 10:00:00"))
    again = run_batches(source(fake_clock), stored)
    assert records_of(again, Incident) == []
    assert records_of(again, RawPayload) == []
    assert records_of(again, IncidentWithdrawal) == [IncidentWithdrawal("snow", "INC0010004", ("servicenow.incident",))]
    assert merged_cursors(again)[CursorKey("incidents")] == "2024-05-24T10:00:00Z"  # the watermark still moves


def test_a_cancelled_incident_is_not_an_incident_even_with_closed_at_and_a_stale_resolution(mocked, fake_clock):
    page = cancelled("INC0010009", closed_at="2024-05-24 09:58:00", updated="2024-05-24 10:30:00")
    mocked.add(responses.GET, TABLE, json=page)
    batches = run_batches(source(fake_clock))
    assert records_of(batches, Incident) == []
    assert [w.external_id for w in records_of(batches, IncidentWithdrawal)] == ["INC0010009"]


def test_without_cancelled_states_state_8_is_a_plain_state(mocked, fake_clock):
    page = cancelled("INC0010009", closed_at="2024-05-24 09:58:00", updated="2024-05-24 10:30:00")
    mocked.add(responses.GET, TABLE, json=page)
    (open_one,) = records_of(run_batches(source(fake_clock, cancelled_states=[], done_states=["6", "7"])), Incident)
    assert open_one.resolved_at is None  # 8 neither cancelled nor done: open
    mocked.replace(responses.GET, TABLE, json=page)
    (done,) = records_of(run_batches(source(fake_clock, cancelled_states=[])), Incident)
    assert done.resolved_at == datetime(2024, 5, 23, 7, 45, tzinfo=UTC)  # a done state like 6 and 7

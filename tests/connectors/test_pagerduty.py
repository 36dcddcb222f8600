"""PagerDuty source over the recorded DevLake incidents (wrapped into pages here), replayed with ``responses``."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
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
from connectors.pagerduty import PagerDutySource, Settings
from connectors.records import CursorKey, Incident, IncidentWithdrawal, RawPayload

API = "https://api.pagerduty.com"
LIST = f"{API}/incidents"
TOKEN = "pd-SECRET-token-0123456789"
RUN_START = datetime(2022, 12, 1, 0, 0, tzinfo=UTC)
TRIGGERED, ACKED, RESOLVED = "Q3YON8WNWTZMRQ", "Q3CZAU7Q4008QD", "Q1OHFWFP3GPXOG"
SERVICES = [{"by": "pagerduty_service", "value": "PIKL83L", "service": "dev"}]


def recorded() -> dict[str, dict]:
    """The three recorded incidents by id, as the list endpoint returns them (no log entries/alerts)."""
    items = {}
    for row in load_fixture("pagerduty", "incidents.json"):
        body = {k: v for k, v in row["body"].items() if k not in ("log_entries", "alerts")}
        items[body["id"]] = body
    return items


def log_entries_of(incident_id: str) -> list[dict]:
    row = next(r for r in load_fixture("pagerduty", "incidents.json") if r["body"]["id"] == incident_id)
    return row["body"]["log_entries"]


def source(clock: FakeClock, run_start: datetime = RUN_START, **overrides) -> PagerDutySource:
    offset_cap = overrides.pop("offset_cap", 10_000)
    data = {"name": "pd", "kind": "pagerduty", "token": TOKEN, "history_days": 30, "per_page": 2, "services": SERVICES}
    data.update(overrides)
    context = SourceContext(run_started_at=run_start, services=FakeServices())
    return PagerDutySource(
        Settings.model_validate(data), context, sleep=clock.sleep, clock=clock, offset_cap=offset_cap
    )


def page(items: list[dict], offset: int, more: bool, limit: int = 2) -> dict:
    return {"incidents": items, "limit": limit, "offset": offset, "more": more, "total": None}


def at_offset(offset: int) -> list:
    return [matchers.query_param_matcher({"offset": str(offset)}, strict_match=False)]


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def list_calls(mocked) -> list:
    return [c for c in mocked.calls if urlsplit(c.request.url).path == "/incidents"]


def mock_log_entries(mocked, incident_id: str) -> None:
    mocked.add(
        responses.GET,
        f"{LIST}/{incident_id}/log_entries",
        json={"log_entries": log_entries_of(incident_id), "limit": 100, "offset": 0, "more": False},
    )


def test_two_pages_map_the_recorded_incidents_and_advance_the_watermark(mocked, fake_clock):
    items = recorded()
    mocked.add(responses.GET, LIST, json=page([items[RESOLVED]], 2, False), match=at_offset(2))
    mocked.add(responses.GET, LIST, json=page([items[TRIGGERED], items[ACKED]], 0, True), match=at_offset(0))
    mock_log_entries(mocked, RESOLVED)
    batches = run_batches(source(fake_clock))
    found = {i.external_id: i for i in records_of(batches, Incident)}
    assert set(found) == {TRIGGERED, ACKED, RESOLVED}
    assert [params_of(c)["offset"] for c in list_calls(mocked)] == ["0", "2"]
    first = params_of(list_calls(mocked)[0])
    assert first["since"] == "2022-11-01T00:00:00Z"  # run start 2022-12-01 minus 30 history days
    assert first["until"] == "2022-12-01T00:00:00Z"
    assert first["sort_by"] == "created_at:asc"
    # watermark per page: newest created_at stored (#5 06:44:28, then #6 06:45:36)
    assert [b.cursors[CursorKey("incidents")] for b in batches] == ["2022-11-03T06:44:28Z", "2022-11-03T06:45:36Z"]
    assert json.loads(merged_cursors(batches)[CursorKey("open_incidents")]) == sorted([TRIGGERED, ACKED])

    resolved = found[RESOLVED]
    # no resolved_at field in the recording: resolve_log_entry at 06:51:44; ack from the log (06:45:46)
    assert resolved.resolved_at == datetime(2022, 11, 3, 6, 51, 44, tzinfo=UTC)
    assert resolved.acknowledged_at == datetime(2022, 11, 3, 6, 45, 46, tzinfo=UTC)
    assert resolved.severity == "low"  # no priority: the urgency
    assert found[ACKED].acknowledged_at == datetime(2022, 11, 3, 6, 44, 37, tzinfo=UTC)  # acknowledgements[].at
    assert found[ACKED].resolved_at is None
    trig = found[TRIGGERED]
    assert trig.created_at == datetime(2022, 11, 3, 6, 23, 6, tzinfo=UTC)
    assert trig.resolved_at is None and trig.acknowledged_at is None  # open: log entries not read
    assert trig.title == "Crash reported"
    assert {i.service for i in found.values()} == {"dev"}
    # log entries are read only for the resolved incident lacking resolved_at
    assert [c.request.url.split("?")[0] for c in mocked.calls if "log_entries" in c.request.url] == [
        f"{LIST}/{RESOLVED}/log_entries"
    ]
    kinds = sorted(r.kind for r in records_of(batches, RawPayload))
    assert kinds == ["pagerduty.incident"] * 3 + ["pagerduty.log_entries"]
    assert list_calls(mocked)[0].request.headers["Authorization"] == f"Token token={TOKEN}"


def test_resume_rereads_open_incidents_and_drops_them_once_resolved(mocked, fake_clock):
    now_resolved = copy.deepcopy(recorded()[TRIGGERED])
    now_resolved.update(status="resolved", resolved_at="2022-11-03T08:00:00Z")
    mocked.add(responses.GET, f"{LIST}/{TRIGGERED}", json={"incident": now_resolved})
    mocked.add(responses.GET, f"{LIST}/{ACKED}", json={"incident": recorded()[ACKED]})
    mocked.add(responses.GET, LIST, json=page([], 0, False))
    stored = {
        CursorKey("incidents"): "2022-11-03T06:45:36Z",
        CursorKey("open_incidents"): json.dumps([ACKED, TRIGGERED]),
    }
    batches = run_batches(source(fake_clock), stored)
    found = {i.external_id: i for i in records_of(batches, Incident)}
    assert found[TRIGGERED].resolved_at == datetime(2022, 11, 3, 8, 0, tzinfo=UTC)  # the resolved_at field wins
    assert found[ACKED].resolved_at is None
    cursors = merged_cursors(batches, stored)
    assert json.loads(cursors[CursorKey("open_incidents")]) == [ACKED]
    assert cursors[CursorKey("incidents")] == "2022-11-03T06:45:36Z"  # nothing newer listed
    # the listing starts one hour (lookback) before the watermark
    assert params_of(list_calls(mocked)[0])["since"] == "2022-11-03T05:45:36Z"
    assert not any("log_entries" in c.request.url for c in mocked.calls)


def test_long_ranges_are_read_in_windows_of_at_most_179_days(mocked, fake_clock):
    mocked.add(responses.GET, LIST, json=page([], 0, False))
    run_batches(source(fake_clock, history_days=400))
    windows = [(params_of(c)["since"], params_of(c)["until"]) for c in list_calls(mocked)]
    # 400 days = 179 + 179 + 42: three windows, contiguous, ending at the run start
    start = RUN_START - timedelta(days=400)
    bounds = [start, start + timedelta(days=179), start + timedelta(days=358), RUN_START]
    text = [b.strftime("%Y-%m-%dT%H:%M:%SZ") for b in bounds]
    expected = [(text[i], text[i + 1]) for i in range(3)]
    assert windows == expected


def test_offset_cap_restarts_the_window_at_the_newest_created_time(mocked, fake_clock):
    base = recorded()[TRIGGERED]

    def item(n: int, minute: int) -> dict:
        return {**base, "id": f"P{n}", "incident_number": n, "created_at": f"2022-11-05T10:{minute:02d}:00.000000Z"}

    a, b, c, d, e = item(1, 1), item(2, 2), item(3, 3), item(4, 4), item(5, 5)
    restarted = [matchers.query_param_matcher({"offset": "0", "since": "2022-11-05T10:04:00Z"}, strict_match=False)]
    mocked.add(responses.GET, LIST, json=page([d, e], 0, False), match=restarted)
    mocked.add(responses.GET, LIST, json=page([c, d], 2, True), match=at_offset(2))
    mocked.add(responses.GET, LIST, json=page([a, b], 0, True), match=at_offset(0))
    batches = run_batches(source(fake_clock, offset_cap=4))
    # offsets 0 and 2 fit (2 + 2 <= 4); offset 4 would make 6 > 4, so the window restarts at d's created_at
    calls = [params_of(c) for c in list_calls(mocked)]
    assert [(p["offset"], p["since"]) for p in calls] == [
        ("0", "2022-11-01T00:00:00Z"),
        ("2", "2022-11-01T00:00:00Z"),
        ("0", "2022-11-05T10:04:00Z"),
    ]
    assert sorted({i.external_id for i in records_of(batches, Incident)}) == ["P1", "P2", "P3", "P4", "P5"]
    assert merged_cursors(batches)[CursorKey("incidents")] == "2022-11-05T10:05:00Z"


def test_unmapped_service_is_kept_and_cause_is_read_from_the_description(mocked, fake_clock):
    item = copy.deepcopy(recorded()[ACKED])
    item["service"] = {"id": "PZZZZZZ", "summary": "Billing"}
    item["description"] = "Started with https://github.com/acme/billing/commit/" + "ab" * 20 + " in prod"
    mocked.add(responses.GET, LIST, json=page([item], 0, False))
    (incident,) = records_of(run_batches(source(fake_clock)), Incident)
    assert incident.service is None  # only PIKL83L is mapped
    assert incident.cause_sha == "ab" * 20
    assert incident.cause_deployment_id is None


def test_urgency_selection_skips_low_urgency_incidents(mocked, fake_clock):
    items = recorded()
    mocked.add(responses.GET, LIST, json=page([items[ACKED], items[RESOLVED]], 0, False))
    batches = run_batches(source(fake_clock, incidents={"urgencies": ["high"]}))
    assert [i.external_id for i in records_of(batches, Incident)] == [ACKED]  # RESOLVED is low urgency
    assert not any("log_entries" in c.request.url for c in mocked.calls)


def test_open_incident_raised_into_the_selection_later_is_stored(mocked, fake_clock):
    # Urgency (and priority) can be changed until an incident is resolved (PagerDuty's "Update an
    # incident": urgency, priority), but the listing selects by creation time, so an incident read once
    # while outside the selection is never listed again. It must stay among the re-read open incidents.
    low = copy.deepcopy(recorded()[TRIGGERED])
    low["urgency"] = "low"
    mocked.add(responses.GET, LIST, json=page([low], 0, False))
    selective = {"incidents": {"urgencies": ["high"]}}
    first = run_batches(source(fake_clock, **selective))
    assert records_of(first, Incident) == []
    cursors = merged_cursors(first)
    assert json.loads(cursors[CursorKey("open_incidents")]) == [TRIGGERED]

    mocked.reset()  # a day later: escalated to high urgency, then resolved; newer incidents moved the watermark
    raised = copy.deepcopy(recorded()[TRIGGERED])
    raised.update(status="resolved", resolved_at="2022-11-03T09:00:00Z")
    mocked.add(responses.GET, f"{LIST}/{TRIGGERED}", json={"incident": raised})
    mocked.add(responses.GET, LIST, json=page([], 0, False))
    later = run_batches(source(fake_clock, RUN_START + timedelta(days=1), **selective), cursors)
    (incident,) = records_of(later, Incident)
    assert incident.external_id == TRIGGERED
    assert incident.created_at == datetime(2022, 11, 3, 6, 23, 6, tzinfo=UTC)
    assert incident.resolved_at == datetime(2022, 11, 3, 9, 0, tzinfo=UTC)
    assert json.loads(merged_cursors(later, cursors)[CursorKey("open_incidents")]) == []


def test_resolved_incident_outside_the_selection_is_not_kept_open(mocked, fake_clock):
    mocked.add(responses.GET, LIST, json=page([recorded()[RESOLVED]], 0, False))  # low urgency, resolved
    batches = run_batches(source(fake_clock, incidents={"urgencies": ["high"]}))
    assert records_of(batches, Incident) == []
    assert json.loads(merged_cursors(batches)[CursorKey("open_incidents")]) == []


def merged(incident: dict, into: str = "Q2MERGETARGET") -> dict:
    """``incident`` merged into the incident ``into``: PagerDuty resolves it with a ``resolve_reason``."""
    body = copy.deepcopy(incident)
    body.update(status="resolved", resolved_at="2022-11-03T07:30:00Z", last_status_change_at="2022-11-03T07:30:00Z")
    body["resolve_reason"] = {
        "type": "merge_resolve_reason",
        "incident": {"id": into, "type": "incident_reference", "summary": "[#7] Crash reported"},
    }
    return body


WITHDRAWN_KINDS = ("pagerduty.incident", "pagerduty.log_entries")


def test_merged_incident_is_no_incident_and_withdraws_any_stored_copy(mocked, fake_clock):
    items = recorded()
    mocked.add(responses.GET, LIST, json=page([merged(items[RESOLVED]), items[ACKED]], 0, False))
    batches = run_batches(source(fake_clock))
    assert [i.external_id for i in records_of(batches, Incident)] == [ACKED]  # not restored at the merge
    assert records_of(batches, IncidentWithdrawal) == [IncidentWithdrawal("pd", RESOLVED, WITHDRAWN_KINDS)]
    assert [r.external_id for r in records_of(batches, RawPayload)] == [ACKED]
    assert not any("log_entries" in c.request.url for c in mocked.calls)
    assert json.loads(merged_cursors(batches)[CursorKey("open_incidents")]) == [ACKED]


def test_open_incident_merged_later_is_withdrawn_at_the_reread(mocked, fake_clock):
    mocked.add(responses.GET, f"{LIST}/{TRIGGERED}", json={"incident": merged(recorded()[TRIGGERED])})
    mocked.add(responses.GET, LIST, json=page([], 0, False))
    stored = {CursorKey("incidents"): "2022-11-03T06:45:36Z", CursorKey("open_incidents"): json.dumps([TRIGGERED])}
    batches = run_batches(source(fake_clock), stored)
    assert records_of(batches, Incident) == []
    assert records_of(batches, IncidentWithdrawal) == [IncidentWithdrawal("pd", TRIGGERED, WITHDRAWN_KINDS)]
    assert json.loads(merged_cursors(batches, stored)[CursorKey("open_incidents")]) == []


def test_open_incident_lowered_out_of_the_selection_is_withdrawn_and_still_reread(mocked, fake_clock):
    low = copy.deepcopy(recorded()[TRIGGERED])
    low["urgency"] = "low"
    mocked.add(responses.GET, f"{LIST}/{TRIGGERED}", json={"incident": low})
    mocked.add(responses.GET, LIST, json=page([], 0, False))
    stored = {CursorKey("incidents"): "2022-11-03T06:45:36Z", CursorKey("open_incidents"): json.dumps([TRIGGERED])}
    batches = run_batches(source(fake_clock, incidents={"urgencies": ["high"]}), stored)
    assert records_of(batches, Incident) == []
    assert records_of(batches, IncidentWithdrawal) == [IncidentWithdrawal("pd", TRIGGERED, WITHDRAWN_KINDS)]
    assert json.loads(merged_cursors(batches, stored)[CursorKey("open_incidents")]) == [TRIGGERED]  # may rise again


def test_429_waits_for_the_ratelimit_reset_seconds(mocked, fake_clock):
    mocked.add(
        responses.GET,
        LIST,
        status=429,
        json={"error": {"message": "Rate Limit Exceeded"}},
        headers={"ratelimit-reset": "12", "ratelimit-remaining": "0"},
    )
    mocked.add(responses.GET, LIST, json=page([], 0, False), headers={"ratelimit-remaining": "899"})
    src = source(fake_clock)
    run_batches(src)
    assert fake_clock.sleeps == [12.0]
    assert src.stats.rate_limit_remaining == 899


def test_service_ids_filter_is_sent_as_repeated_array_parameters(mocked, fake_clock):
    mocked.add(responses.GET, LIST, json=page([], 0, False))
    run_batches(source(fake_clock, service_ids=["PIKL83L", "PABCDEF"]))
    query = parse_qs(urlsplit(list_calls(mocked)[0].request.url).query)
    assert query["service_ids[]"] == ["PIKL83L", "PABCDEF"]


GONE = "PGONE42"  # an incident stored as open, since deleted in PagerDuty
NOT_FOUND = {"error": {"message": "Not Found", "code": 2100}}


def test_open_incident_answering_404_is_dropped_with_a_warning_and_the_run_succeeds(mocked, fake_clock, caplog):
    now_resolved = copy.deepcopy(recorded()[ACKED])
    now_resolved.update(status="resolved", resolved_at="2022-11-03T08:00:00Z")
    mocked.add(responses.GET, f"{LIST}/{ACKED}", json={"incident": now_resolved})
    mocked.add(responses.GET, f"{LIST}/{GONE}", status=404, json=NOT_FOUND)
    mocked.add(responses.GET, f"{LIST}/{TRIGGERED}", json={"incident": recorded()[TRIGGERED]})
    mocked.add(responses.GET, LIST, json=page([], 0, False))
    stored = {
        CursorKey("incidents"): "2022-11-03T06:45:36Z",
        CursorKey("open_incidents"): json.dumps([ACKED, GONE, TRIGGERED]),
    }
    src = source(fake_clock)
    batches = run_batches(src, stored)  # raises if the run fails
    found = {i.external_id: i for i in records_of(batches, Incident)}
    # the incidents on either side of the missing one are still re-read; nothing is written for it
    assert set(found) == {ACKED, TRIGGERED}
    assert found[ACKED].resolved_at == datetime(2022, 11, 3, 8, 0, tzinfo=UTC)
    cursors = merged_cursors(batches, stored)
    assert json.loads(cursors[CursorKey("open_incidents")]) == [TRIGGERED]
    (warning,) = [r for r in caplog.records if GONE in r.getMessage()]
    assert warning.levelname == "WARNING" and "HTTP 404" in warning.getMessage()
    assert TOKEN not in caplog.text
    assert src.stats.count(404) == 1  # counted in the run's request statistics (requests by status)

    mocked.reset()  # the next run: the deleted incident is not asked for again
    mocked.add(responses.GET, f"{LIST}/{TRIGGERED}", json={"incident": recorded()[TRIGGERED]})
    mocked.add(responses.GET, LIST, json=page([], 0, False))
    run_batches(source(fake_clock), cursors)
    reread = [urlsplit(c.request.url).path for c in mocked.calls if urlsplit(c.request.url).path != "/incidents"]
    assert reread == [f"/incidents/{TRIGGERED}"]


@pytest.mark.parametrize(("status", "kind"), [(401, ErrorKind.FATAL), (500, ErrorKind.RETRIABLE)])
def test_other_errors_on_reread_still_fail_the_run_and_keep_the_open_list(mocked, fake_clock, status, kind):
    mocked.add(responses.GET, f"{LIST}/{ACKED}", json={"incident": recorded()[ACKED]})
    mocked.add(responses.GET, f"{LIST}/{GONE}", status=status, json={"error": {"message": "nope"}})
    stored = {CursorKey("open_incidents"): json.dumps([ACKED, GONE])}
    yielded, error = run_until_error(source(fake_clock), stored)
    assert isinstance(error, SourceError) and error.kind is kind
    assert f"HTTP {status}" in str(error)
    assert yielded == []  # no batch: the open list stays as stored, GONE included

"""Jira source: recorded jira-cli search pages plus hand-built incident pages (see fixtures SOURCE.md)."""

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
from connectors.jira import JiraSource, Settings
from connectors.records import CursorKey, Incident, RawPayload

SITE = "https://acme.atlassian.net"
SEARCH = f"{SITE}/rest/api/3/search/jql"
TOKEN = "jira-SECRET-token-abcdefgh"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
SHA = "3f9a1c2b4d5e6f708192a3b4c5d6e7f809112233"
INCIDENT_RULES = {"issue_types": ["Incident"], "labels": ["incident"]}
SERVICE_RULES = [
    {"by": "component", "value": "checkout-*", "service": "checkout"},
    {"by": "label", "value": "payments", "service": "payments"},
]


def source(clock: FakeClock, **overrides) -> JiraSource:
    data = {
        "name": "jira",
        "kind": "jira",
        "base_url": SITE,
        "email": "bot@acme.test",
        "token": TOKEN,
        "projects": ["OPS"],
        "time_zone": "UTC",
        "history_days": 3650,
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices())
    return JiraSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def params_of(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def search_calls(mocked) -> list:
    return [c for c in mocked.calls if c.request.url.startswith(SEARCH)]


def mock_empty_changelogs(mocked, *keys: str) -> None:
    for key in keys:
        mocked.add(
            responses.GET,
            f"{SITE}/rest/api/3/issue/{key}/changelog",
            json={"startAt": 0, "maxResults": 100, "total": 0, "isLast": True, "values": []},
        )


def test_two_recorded_pages_follow_next_page_token_and_each_batch_advances_the_watermark(mocked, fake_clock):
    mocked.add(
        responses.GET,
        SEARCH,
        json=load_fixture("jira", "search_page2.json"),
        match=[matchers.query_param_matcher({"nextPageToken": "token-page-2"}, strict_match=False)],
    )
    mocked.add(responses.GET, SEARCH, json=load_fixture("jira", "search_page1.json"))
    # the recorded pages carry no changelog, so each issue's history is read from the changelog endpoint
    mock_empty_changelogs(mocked, "TEST-1", "TEST-2", "TEST-3")
    batches = run_batches(source(fake_clock))
    incidents = records_of(batches, Incident)
    assert [i.external_id for i in incidents] == ["TEST-1", "TEST-2", "TEST-3"]
    first, second = search_calls(mocked)
    assert "nextPageToken" not in params_of(first)
    assert params_of(second)["nextPageToken"] == "token-page-2"
    assert params_of(second)["jql"] == params_of(first)["jql"]
    assert params_of(first)["expand"] == "changelog"
    assert "summary" in params_of(first)["fields"].split(",")
    assert "*all" not in params_of(first)["fields"]
    # every issue was updated 2020-12-03T14:05:20.974+0100 = 13:05:20.974Z; the cursor drops the fraction
    assert [b.cursors[CursorKey("issues")] for b in batches] == ["2020-12-03T13:05:20Z"] * 2
    test1 = incidents[0]
    assert test1.created_at == datetime(2020, 12, 3, 13, 5, 20, 974000, tzinfo=UTC)
    assert test1.resolved_at is None  # status To Do
    assert test1.severity == "Medium"
    # TEST-3 is Done with no history and no resolutiondate: its last update is the resolution fallback
    assert incidents[2].resolved_at == datetime(2020, 12, 3, 13, 5, 20, 974000, tzinfo=UTC)
    assert {i.service for i in incidents} == {None}  # no service rules: all unmapped, none dropped
    auth = first.request.headers["Authorization"]
    assert auth == "Basic " + base64.b64encode(f"bot@acme.test:{TOKEN}".encode()).decode()


def incident_run(mocked, clock, **overrides) -> dict[str, Incident]:
    mocked.add(responses.GET, SEARCH, json=load_fixture("jira", "incidents_search.json"))
    changelog = f"{SITE}/rest/api/3/issue/OPS-4/changelog"
    mocked.add(
        responses.GET,
        changelog,
        json=load_fixture("jira", "changelog_OPS-4_page2.json"),
        match=[matchers.query_param_matcher({"startAt": "2"}, strict_match=False)],
    )
    mocked.add(responses.GET, changelog, json=load_fixture("jira", "changelog_OPS-4_page1.json"))
    settings = {
        "incidents": INCIDENT_RULES,
        "services": SERVICE_RULES,
        "cause": {"fields": ["customfield_10050"]},
        **overrides,
    }
    batches = run_batches(source(clock, **settings))
    return {i.external_id: i for i in records_of(batches, Incident)}


def test_selection_keeps_incident_types_and_labelled_items_only(mocked, fake_clock):
    found = incident_run(mocked, fake_clock)
    # OPS-3 is a Story without the label; OPS-4 is a Task labelled "incident"
    assert sorted(found) == ["OPS-1", "OPS-2", "OPS-4"]
    assert "customfield_10050" in params_of(search_calls(mocked)[0])["fields"].split(",")


def test_reopened_then_resolved_uses_the_last_transition_into_done(mocked, fake_clock):
    ops1 = incident_run(mocked, fake_clock)["OPS-1"]
    # history: In Progress 10:05, Done 10:30, Reopened 11:00, Done 12:15 (all +0200)
    assert ops1.created_at == datetime(2024, 5, 10, 8, 0, tzinfo=UTC)
    assert ops1.acknowledged_at == datetime(2024, 5, 10, 8, 5, tzinfo=UTC)
    assert ops1.resolved_at == datetime(2024, 5, 10, 10, 15, tzinfo=UTC)


def test_reopened_item_is_open_again(mocked, fake_clock):
    ops2 = incident_run(mocked, fake_clock)["OPS-2"]
    # Done at 09:00 then Reopened at 10:00: currently open, so no resolution
    assert ops2.resolved_at is None


def test_changelog_cut_short_is_read_from_the_changelog_endpoint(mocked, fake_clock):
    ops4 = incident_run(mocked, fake_clock)["OPS-4"]
    # embedded: 1 of 3 histories; full: Closed 06:10, Reopened 07:00, Closed 07:45 (+0200) -> 05:45Z,
    # not resolutiondate (08:00+0200)
    assert ops4.resolved_at == datetime(2024, 5, 12, 5, 45, tzinfo=UTC)
    changelog_calls = [c for c in mocked.calls if "/changelog" in c.request.url]
    assert [params_of(c)["startAt"] for c in changelog_calls] == ["0", "2"]


def test_service_rules_map_components_and_labels_and_unmapped_items_are_kept(mocked, fake_clock):
    found = incident_run(mocked, fake_clock)
    assert found["OPS-1"].service == "checkout"  # component checkout-api matches checkout-*
    assert found["OPS-4"].service == "payments"  # label payments
    assert found["OPS-2"].service is None  # component legacy-batch: no rule claims it


def test_explicit_cause_from_adf_link_and_custom_field(mocked, fake_clock):
    found = incident_run(mocked, fake_clock)
    assert found["OPS-1"].cause_sha == SHA  # link mark href .../commit/<sha> in the ADF description
    assert found["OPS-1"].cause_deployment_id is None
    assert found["OPS-2"].cause_deployment_id == "acme/checkout/deployments/42"  # customfield_10050
    assert found["OPS-4"].cause_sha is None and found["OPS-4"].cause_deployment_id is None


def test_raw_payloads_keep_each_incident_with_its_full_history(mocked, fake_clock):
    mocked.add(responses.GET, SEARCH, json=load_fixture("jira", "incidents_search.json"))
    mocked.add(
        responses.GET,
        f"{SITE}/rest/api/3/issue/OPS-4/changelog",
        json=load_fixture("jira", "changelog_OPS-4_page2.json"),
        match=[matchers.query_param_matcher({"startAt": "2"}, strict_match=False)],
    )
    first_changelog = load_fixture("jira", "changelog_OPS-4_page1.json")
    mocked.add(responses.GET, f"{SITE}/rest/api/3/issue/OPS-4/changelog", json=first_changelog)
    raws = {r.external_id: r for r in records_of(run_batches(source(fake_clock)), RawPayload)}
    assert set(raws) == {"OPS-1", "OPS-2", "OPS-3", "OPS-4"}  # no selection: every listed item
    assert len(raws["OPS-4"].body["changelog"]["histories"]) == 3
    assert raws["OPS-1"].kind == "jira.issue"
    assert TOKEN not in (raws["OPS-1"].url or "")


def test_resume_sends_minute_precision_bounds_in_the_account_time_zone(mocked, fake_clock):
    mocked.add(responses.GET, f"{SITE}/rest/api/3/myself", json={"timeZone": "Europe/Berlin"})
    mocked.add(responses.GET, SEARCH, json=load_fixture("jira", "search_empty.json"))
    stored = {CursorKey("issues"): "2024-05-02T10:00:30Z"}
    batches = run_batches(source(fake_clock, time_zone=None), stored)
    jql = params_of(search_calls(mocked)[0])["jql"]
    # 10:00:30Z - 1h lookback = 09:00:30Z = 11:00:30 CEST, floored to 11:00; run start 12:00Z = 14:00 CEST
    assert jql == (
        'project in ("OPS") AND updated >= "2024/05/02 11:00" AND updated <= "2024/06/01 14:00" ORDER BY updated ASC'
    )
    # nothing new: the stored watermark stays
    assert merged_cursors(batches, stored)[CursorKey("issues")] == "2024-05-02T10:00:30Z"


def test_extra_jql_is_parenthesised(mocked, fake_clock):
    mocked.add(responses.GET, SEARCH, json=load_fixture("jira", "search_empty.json"))
    run_batches(source(fake_clock, projects=[], jql="issuetype = Incident OR labels = sev1"))
    jql = params_of(search_calls(mocked)[0])["jql"]
    assert jql.startswith('(issuetype = Incident OR labels = sev1) AND updated >= "')


def test_429_waits_for_retry_after_then_continues(mocked, fake_clock):
    mocked.add(responses.GET, SEARCH, status=429, json={"errorMessages": ["Rate limit"]}, headers={"Retry-After": "7"})
    mocked.add(
        responses.GET, SEARCH, json=load_fixture("jira", "search_empty.json"), headers={"X-RateLimit-Remaining": "55"}
    )
    src = source(fake_clock)
    run_batches(src)
    assert fake_clock.sleeps == [7.0]
    assert src.stats.rate_limit_remaining == 55


def test_401_is_fatal_and_never_shows_the_token(mocked, fake_clock):
    mocked.add(responses.GET, SEARCH, status=401, json={"message": "Client must be authenticated"})
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError)
    assert error.kind is ErrorKind.FATAL
    assert error.resource == "search"
    assert TOKEN not in str(error)


def test_server_flavour_pages_with_start_at_and_bearer_token(mocked, fake_clock):
    api = f"{SITE}/rest/api/2"
    page1 = load_fixture("jira", "search_page1.json")
    page2 = load_fixture("jira", "search_page2.json")
    # Server/DC pages: {startAt, maxResults, total, issues}; changelog embedded in full
    for issue in page1["issues"] + page2["issues"]:
        issue["changelog"] = {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}
    mocked.add(
        responses.GET,
        f"{api}/search",
        json={"startAt": 2, "maxResults": 2, "total": 3, "issues": page2["issues"]},
        match=[matchers.query_param_matcher({"startAt": "2"}, strict_match=False)],
    )
    first = {"startAt": 0, "maxResults": 2, "total": 3, "issues": page1["issues"]}
    mocked.add(responses.GET, f"{api}/search", json=first)
    batches = run_batches(source(fake_clock, flavour="server", email=None, per_page=2))
    assert [i.external_id for i in records_of(batches, Incident)] == ["TEST-1", "TEST-2", "TEST-3"]
    calls = [c for c in mocked.calls if "/search" in c.request.url]
    assert [params_of(c)["startAt"] for c in calls] == ["0", "2"]
    assert calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_settings_refuse_an_unbounded_search():
    with pytest.raises(ValueError, match="bounded"):
        Settings.model_validate({"name": "j", "base_url": SITE, "token": "t"})
    with pytest.raises(ValueError, match="ORDER BY"):
        Settings.model_validate({"name": "j", "base_url": SITE, "token": "t", "jql": "a = b order by created"})

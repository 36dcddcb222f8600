"""GitLab issues source over recorded DevLake issues (wrapped into pages, edits in the test code)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import responses
from connector_helpers import FakeClock, FakeServices, load_fixture, merged_cursors, records_of, run_batches
from responses import matchers

from connectors.base import SourceContext
from connectors.gitlab_issues import GitLabIssuesSource, Settings
from connectors.records import CursorKey, Incident, IncidentWithdrawal, RawPayload

ROOT = "https://gitlab.example.com"
API = f"{ROOT}/api/v4"
PATH = "gitlab-data/snowflake_spend"
PID = 12345678
ISSUES = f"{API}/projects/{PID}/issues"
TOKEN = "glpat-SECRET-abcdefghijklmnop"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def recorded() -> dict[int, dict]:
    return {row["body"]["iid"]: row["body"] for row in load_fixture("gitlab_issues", "issues.json")}


def as_incident(issue: dict, **changes) -> dict:
    return {**issue, "type": "INCIDENT", "issue_type": "incident", **changes}


def source(clock: FakeClock, mapping: dict[str, str] | None = None, **overrides) -> GitLabIssuesSource:
    data = {
        "name": "gl-issues",
        "kind": "gitlab_issues",
        "base_url": ROOT,
        "token": TOKEN,
        "projects": [PATH],
        "per_page": 2,
        "history_days": 20000,
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices(mapping or {}))
    return GitLabIssuesSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def mock_project(mocked) -> None:
    mocked.add(
        responses.GET, f"{API}/projects/{PATH.replace('/', '%2F')}", json={"id": PID, "path_with_namespace": PATH}
    )


def selector(value: dict[str, str]) -> list:
    return [matchers.query_param_matcher(value, strict_match=False)]


def test_two_pages_of_incidents_with_reopened_closed_and_cause(mocked, fake_clock):
    mock_project(mocked)
    issues = recorded()
    items = [
        as_incident(issues[1]),  # closed 2019-06-28T14:32:05.376Z
        as_incident(issues[3], severity="CRITICAL"),  # opened, never closed
        as_incident(issues[4], state="opened"),  # reopened: closed_at 2019-08-26T15:37:49.678Z is stale
        as_incident(issues[5], description="Deployment: gitlab-data/snowflake_spend/deployments/13426753"),
    ]
    items.sort(key=lambda i: i["updated_at"])
    # page 2 answers the listing re-anchored at page 1's last updated_at ("at or after": that item again)
    again = selector({"updated_after": items[1]["updated_at"]})
    mocked.add(responses.GET, ISSUES, json=items[1:], headers={"X-Next-Page": ""}, match=again)
    mocked.add(responses.GET, ISSUES, json=items[:2], headers={"X-Next-Page": "2"})
    batches = run_batches(source(fake_clock, {PATH: "spend"}))
    found = {i.external_id.rsplit("/", 1)[1]: i for i in records_of(batches, Incident)}
    assert sorted(found) == ["1", "3", "4", "5"]
    assert found["1"].resolved_at == datetime(2019, 6, 28, 14, 32, 5, 376000, tzinfo=UTC)
    assert found["3"].resolved_at is None and found["3"].severity == "CRITICAL"
    assert found["4"].resolved_at is None  # state opened wins over the stale closed_at
    assert found["5"].cause_deployment_id == f"{PATH}/deployments/13426753"
    assert found["1"].severity is None  # UNKNOWN is no severity
    assert {i.service for i in found.values()} == {"spend"}
    assert found["1"].external_id == f"{PATH}/issues/1"
    # updated_at order (issues.json): 1 (2019-06-28T14:32:05.434Z), 5 (2019-08-26T14:15:32.854Z) | page 2:
    # 4 (2019-08-26T15:37:49.718Z), 3 (2020-04-08T20:53:43.146Z); cursors drop the milliseconds
    key = CursorKey("issues", f"{PATH}|type:incident")
    assert [b.cursors[key] for b in batches] == ["2019-08-26T14:15:32Z", "2020-04-08T20:53:43Z"]
    query = parse_qs(urlsplit(mocked.calls[1].request.url).query)
    assert query["issue_type"] == ["incident"] and query["sort"] == ["asc"] and query["order_by"] == ["updated_at"]
    assert len(records_of(batches, RawPayload)) == 4


def test_label_listing_and_unmapped_project(mocked, fake_clock):
    mock_project(mocked)
    issues = recorded()
    labelled = {**issues[2], "labels": [*issues[2]["labels"], "incident::active"]}
    mocked.add(responses.GET, ISSUES, json=[], headers={"X-Next-Page": ""}, match=selector({"issue_type": "incident"}))
    mocked.add(
        responses.GET,
        ISSUES,
        json=[labelled],
        headers={"X-Next-Page": ""},
        match=selector({"labels": "incident::active"}),
    )
    batches = run_batches(source(fake_clock, incident_labels=["incident::active"]))
    (incident,) = records_of(batches, Incident)
    assert incident.external_id == f"{PATH}/issues/2"
    assert incident.service is None  # no rule, no project service, path not in the mapping
    assert incident.resolved_at == datetime(2019, 8, 4, 22, 24, 40, 978000, tzinfo=UTC)
    assert CursorKey("issues", f"{PATH}|label:incident::active") in merged_cursors(batches)


def test_label_service_rule_wins_over_the_project_mapping(mocked, fake_clock):
    mock_project(mocked)
    item = as_incident(recorded()[16])  # labels include "Team::R&D"
    mocked.add(responses.GET, ISSUES, json=[item], headers={"X-Next-Page": ""})
    rules = [{"by": "label", "value": "team::r&d", "service": "research"}]
    (incident,) = records_of(run_batches(source(fake_clock, {PATH: "spend"}, services=rules)), Incident)
    assert incident.service == "research"


def test_resume_sends_updated_after_watermark_minus_lookback(mocked, fake_clock):
    mock_project(mocked)
    mocked.add(responses.GET, ISSUES, json=[], headers={"X-Next-Page": ""})
    stored = {CursorKey("issues", f"{PATH}|type:incident"): "2024-05-02T10:00:00Z"}
    batches = run_batches(source(fake_clock), stored)
    call = next(c for c in mocked.calls if c.request.url.startswith(ISSUES))
    assert "updated_after=2024-05-02T09:00:00+00:00" in unquote(call.request.url)
    assert merged_cursors(batches, stored)[CursorKey("issues", f"{PATH}|type:incident")] == "2024-05-02T10:00:00Z"


def test_429_retries_after_the_header(mocked, fake_clock):
    mock_project(mocked)
    mocked.add(responses.GET, ISSUES, status=429, body="Retry later", headers={"Retry-After": "4"})
    mocked.add(responses.GET, ISSUES, json=[], headers={"X-Next-Page": "", "RateLimit-Remaining": "9"})
    src = source(fake_clock)
    run_batches(src)
    assert fake_clock.sleeps == [4.0]
    assert src.stats.rate_limit_remaining == 9


def test_issues_closed_as_duplicate_or_moved_away_are_withdrawn_not_restored(mocked, fake_clock):
    mock_project(mocked)
    issues = recorded()
    duplicate = as_incident(issues[1])  # closed; here closed as a duplicate of issue 2
    duplicate["_links"] = {**duplicate["_links"], "closed_as_duplicate_of": f"{API}/projects/{PID}/issues/2"}
    moved = as_incident(issues[10])  # recorded: closed with moved_to_id 54114370 (moved to another project)
    reopened = as_incident(issues[4], state="opened")  # closed as a duplicate once, reopened since
    reopened["_links"] = {**reopened["_links"], "closed_as_duplicate_of": f"{API}/projects/{PID}/issues/2"}
    items = sorted([duplicate, moved, reopened, as_incident(issues[2])], key=lambda i: i["updated_at"])
    mocked.add(responses.GET, ISSUES, json=items, headers={"X-Next-Page": ""})
    batches = run_batches(source(fake_clock))
    found = {i.external_id: i for i in records_of(batches, Incident)}
    assert sorted(found) == [f"{PATH}/issues/2", f"{PATH}/issues/4"]
    assert found[f"{PATH}/issues/4"].resolved_at is None  # reopened: an open incident
    assert sorted(w.external_id for w in records_of(batches, IncidentWithdrawal)) == [
        f"{PATH}/issues/1",
        f"{PATH}/issues/10",
    ]
    assert {w.payload_kinds for w in records_of(batches, IncidentWithdrawal)} == {("gitlab.issue",)}
    assert sorted(r.external_id for r in records_of(batches, RawPayload)) == sorted(found)

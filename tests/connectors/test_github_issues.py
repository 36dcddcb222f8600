"""GitHub issues source over the recorded octokit paginate-issues scenario (edits listed in SOURCE.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

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
from connectors.errors import SourceError
from connectors.github_issues import GitHubIssuesSource, Settings
from connectors.records import CursorKey, Incident, IncidentWithdrawal, RawPayload

API = "https://api.github.com"
REPO = "octokit-fixture-org/tmp-scenario-paginate-issues-20220719043836917-izyoe"
LIST = f"{API}/repos/{REPO}/issues"
TOKEN = "ghp_SECRETsecretSECRETsecret0123"
RUN_START = datetime(2022, 8, 1, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"
DROP = {"content-length", "content-type", "connection", "content-encoding"}


def recorded() -> tuple[list[dict], dict[str, str], dict[str, str]]:
    """The 13 recorded issues oldest first, plus the first and last page's response headers."""
    gets = [x for x in load_fixture("github_issues", "paginate-issues.raw-fixture.json") if x["method"] == "get"]
    issues = sorted((i for x in gets for i in x["response"]), key=lambda i: i["updated_at"])

    def headers(exchange: dict) -> dict[str, str]:
        raw = exchange["rawHeaders"]
        return {k: v for k, v in zip(raw[::2], raw[1::2], strict=True) if k.lower() not in DROP}

    return issues, headers(gets[0]), headers(gets[-1])


def labelled(issue: dict, *names: str) -> dict:
    return {**issue, "labels": [{"id": n, "name": name} for n, name in enumerate(names)]}


def source(clock: FakeClock, mapping: dict[str, str] | None = None, **overrides) -> GitHubIssuesSource:
    data = {
        "name": "gh-issues",
        "kind": "github_issues",
        "token": TOKEN,
        "repositories": [REPO],
        "per_page": 3,
        "history_days": 30,
    }
    data.update(overrides)
    context = SourceContext(run_started_at=RUN_START, services=FakeServices(mapping or {}))
    return GitHubIssuesSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def edited_issues() -> list[dict]:
    issues, _, _ = recorded()
    items = [labelled(i, "incident") for i in issues[:6]]
    items[1] = {**items[1], "state": "closed", "closed_at": "2022-07-19T05:00:00Z"}  # issue 2 resolved
    items[2] = {**items[2], "pull_request": {"url": f"{API}/repos/{REPO}/pulls/3"}}  # issue 3 is a PR
    items[3] = {**items[3], "state": "open", "closed_at": "2022-07-19T04:50:00Z"}  # issue 4 reopened
    items[4] = {**items[4], "body": f"Broken by https://github.com/{REPO}/commit/{SHA}"}  # issue 5 cause
    items[5] = labelled(items[5], "incident", "sev1", "svc:payments")  # issue 6
    return items


def mock_two_pages(mocked, items: list[dict]) -> None:
    """Page 1 is ``items[:3]``; the rest answers the listing re-anchored at its last ``updated_at``
    (``since`` is "at or after", so the last item comes back first)."""
    _, first_headers, last_headers = recorded()
    since = matchers.query_param_matcher({"since": items[2]["updated_at"]}, strict_match=False)
    mocked.add(responses.GET, LIST, json=items[2:], headers=last_headers, match=[since])
    mocked.add(responses.GET, LIST, json=items[:3], headers=first_headers)


def test_two_pages_follow_link_skip_pull_requests_and_advance_the_watermark(mocked, fake_clock):
    mock_two_pages(mocked, edited_issues())
    rules = [{"by": "label", "value": "svc:*", "service": "payments"}]
    batches = run_batches(source(fake_clock, {REPO: "fixtures"}, services=rules))
    found = {i.external_id.rsplit("/", 1)[1]: i for i in records_of(batches, Incident)}
    assert sorted(found, key=int) == ["1", "2", "4", "5", "6"]  # 3 is a pull request
    key = CursorKey("issues", f"{REPO}|incident")
    # page 1 ends with issue 3 (updated 04:38:46, the PR still counts for the watermark), page 2 with issue 6
    assert [b.cursors[key] for b in batches] == ["2022-07-19T04:38:46Z", "2022-07-19T04:38:55Z"]
    # page 2: the listing from page 1's last updated_at (a page of one time follows Link: test_ascending_listings)
    assert parse_qs(urlsplit(mocked.calls[1].request.url).query)["since"] == ["2022-07-19T04:38:46Z"]
    assert len(mocked.calls) == 2
    params = parse_qs(urlsplit(mocked.calls[0].request.url).query)
    assert params["labels"] == ["incident"] and params["direction"] == ["asc"] and params["state"] == ["all"]
    assert params["since"] == ["2022-07-02T00:00:00Z"]  # run start minus 30 history days
    assert found["1"].created_at == datetime(2022, 7, 19, 4, 38, 40, tzinfo=UTC)
    assert found["1"].resolved_at is None
    assert found["2"].resolved_at == datetime(2022, 7, 19, 5, 0, tzinfo=UTC)
    assert found["4"].resolved_at is None  # reopened: open state wins over a stale closed_at
    assert found["5"].cause_sha == SHA
    assert found["6"].service == "payments" and found["6"].severity == "sev1"
    assert found["1"].service == "fixtures"  # the repository's service from the configured mapping
    assert found["1"].external_id == f"{REPO}/issues/1"
    assert len(records_of(batches, RawPayload)) == 5


def test_issue_of_an_unmapped_repository_is_kept_without_service(mocked, fake_clock):
    issue = labelled(recorded()[0][0], "incident")
    mocked.add(responses.GET, LIST, json=[issue])
    (incident,) = records_of(run_batches(source(fake_clock)), Incident)
    assert incident.service is None


def test_each_incident_label_is_its_own_listing_with_its_own_cursor(mocked, fake_clock):
    mocked.add(responses.GET, LIST, json=[])
    stored = {CursorKey("issues", f"{REPO}|sev1"): "2022-07-19T04:38:46Z"}
    batches = run_batches(source(fake_clock, incident_labels=["incident", "sev1"]), stored)
    calls = [parse_qs(urlsplit(c.request.url).query) for c in mocked.calls]
    assert [(c["labels"][0], c["since"][0]) for c in calls] == [
        ("incident", "2022-07-02T00:00:00Z"),
        ("sev1", "2022-07-19T03:38:46Z"),  # resume: watermark minus the 1h lookback
    ]
    assert merged_cursors(batches, stored)[CursorKey("issues", f"{REPO}|sev1")] == "2022-07-19T04:38:46Z"


def closed_as(issue: dict, reason: str) -> dict:
    return {**issue, "state": "closed", "closed_at": "2022-07-19T05:00:00Z", "state_reason": reason}


def test_issues_closed_as_duplicate_or_not_planned_are_withdrawn_not_restored(mocked, fake_clock):
    issues = [labelled(i, "incident") for i in recorded()[0][:4]]
    items = [
        closed_as(issues[0], "duplicate"),
        closed_as(issues[1], "not_planned"),
        closed_as(issues[2], "completed"),
        {**closed_as(issues[3], "duplicate"), "pull_request": {"url": f"{API}/repos/{REPO}/pulls/4"}},
    ]
    mocked.add(responses.GET, LIST, json=items)
    batches = run_batches(source(fake_clock))
    (incident,) = records_of(batches, Incident)
    assert incident.external_id == f"{REPO}/issues/3"
    assert incident.resolved_at == datetime(2022, 7, 19, 5, 0, tzinfo=UTC)  # completed: restored
    assert records_of(batches, IncidentWithdrawal) == [  # the pull request was never an incident: nothing
        IncidentWithdrawal("gh-issues", f"{REPO}/issues/1", ("github.issue",)),
        IncidentWithdrawal("gh-issues", f"{REPO}/issues/2", ("github.issue",)),
    ]
    assert [r.external_id for r in records_of(batches, RawPayload)] == [f"{REPO}/issues/3"]


def test_reopened_issue_once_closed_as_duplicate_is_an_open_incident_again(mocked, fake_clock):
    issue = labelled(recorded()[0][0], "incident")
    mocked.add(responses.GET, LIST, json=[{**issue, "state": "open", "state_reason": "reopened"}])
    (incident,) = records_of(run_batches(source(fake_clock)), Incident)
    assert incident.resolved_at is None


def test_primary_rate_limit_waits_until_reset(mocked, fake_clock):
    reset = int(fake_clock.now.timestamp()) + 30  # the client's clock, 30 s ahead
    mocked.add(
        responses.GET,
        LIST,
        status=403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    mocked.add(responses.GET, LIST, json=[], headers={"x-ratelimit-remaining": "4999"})
    src = source(fake_clock)
    run_batches(src)
    assert fake_clock.sleeps == [30.0]
    assert src.stats.rate_limit_remaining == 4999


def test_404_names_the_repository_and_hides_the_token(mocked, fake_clock):
    mocked.add(responses.GET, LIST, status=404, json={"message": "Not Found"})
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError)
    assert REPO in unquote(str(error))
    assert TOKEN not in str(error)

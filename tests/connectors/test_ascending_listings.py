"""Oldest-first listings re-anchored page after page (``IncrementalListings.ascending``): data that moves
while the listing is read hides no item, a page of one update time neither loops nor skips, and a
listing that does not move costs no extra request. Served by :class:`MovingListing`, a fake that filters,
sorts and pages like the GitHub issues and GitLab issues APIs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import responses
from connector_helpers import FakeClock, FakeServices, merged_cursors, records_of, run_batches

from connectors.base import SourceContext
from connectors.github_issues import GitHubIssuesSource
from connectors.github_issues import Settings as GitHubSettings
from connectors.gitlab_issues import GitLabIssuesSource
from connectors.gitlab_issues import Settings as GitLabSettings
from connectors.http.incremental import parse_time
from connectors.records import CursorKey, Incident

RUN_START = datetime(2024, 6, 1, tzinfo=UTC)
GH_API = "https://api.github.com"
REPO = "acme/shop"
GH_LIST = f"{GH_API}/repos/{REPO}/issues"
GH_NEXT = f"{GH_API}/repositories/42/issues"  # GitHub's next links point elsewhere: followed verbatim
GL_API = "https://gitlab.example.com/api/v4"
GL_ISSUES = f"{GL_API}/projects/7/issues"

Change = Callable[[dict[int, dict[str, Any]]], None]


class MovingListing:
    """Issues at or after the time filter ``param``, sorted by (``updated_at``, ``id``), in offset pages;
    next page by ``Link`` to ``link_to`` (GitHub) or ``X-Next-Page`` (GitLab, ``link_to`` ``None``).
    ``changes[n]`` edits the issues (by id) once the n-th request is answered."""

    def __init__(self, items: list[dict[str, Any]], param: str, link_to: str | None, changes: dict[int, Change]):
        self.items = {item["id"]: item for item in items}
        self.param = param
        self.link_to = link_to
        self.changes = changes
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        query = dict(parse_qsl(urlsplit(request.url).query))
        self.queries.append(query)
        since = parse_time(query[self.param])
        assert since is not None
        rows = sorted(
            (i for i in self.items.values() if (parse_time(i["updated_at"]) or since) >= since),
            key=lambda i: (i["updated_at"], i["id"]),
        )
        page, per_page = int(query.get("page", "1")), int(query["per_page"])
        more = page * per_page < len(rows)
        headers: dict[str, str] = {}
        if self.link_to is None:
            headers["X-Next-Page"] = str(page + 1) if more else ""
        elif more:
            headers["Link"] = f'<{self.link_to}?{urlencode({**query, "page": str(page + 1)})}>; rel="next"'
        body = json.dumps(rows[(page - 1) * per_page : page * per_page])
        if change := self.changes.get(len(self.queries)):
            change(self.items)
        return 200, headers, body


def at(minute: int) -> str:
    return f"2024-05-10T10:{minute:02d}:00Z"


def gh_issue(number: int, updated: str) -> dict[str, Any]:
    return {
        "id": 1000 + number,
        "number": number,
        "title": f"incident {number}",
        "state": "open",
        "created_at": at(0),
        "updated_at": updated,
        "closed_at": None,
        "labels": [{"name": "incident"}],
    }


def github(mocked: responses.RequestsMock, fake: MovingListing, clock: FakeClock) -> list[Incident]:
    for url in (GH_LIST, GH_NEXT):
        mocked.add_callback(responses.GET, url, callback=fake, content_type="application/json")
    settings = {
        "name": "gh",
        "kind": "github_issues",
        "token": "t",
        "repositories": [REPO],
        "per_page": 3,
        "history_days": 31,
    }
    context = SourceContext(run_started_at=RUN_START, services=FakeServices())
    src = GitHubIssuesSource(GitHubSettings.model_validate(settings), context, sleep=clock.sleep, clock=clock)
    batches = run_batches(src)
    assert merged_cursors(batches)[CursorKey("issues", f"{REPO}|incident")] == max(
        i["updated_at"] for i in fake.items.values()
    )
    return records_of(batches, Incident)


def numbers(incidents: list[Incident]) -> list[int]:
    return sorted({int(i.external_id.rsplit("/", 1)[1]) for i in incidents})


def resolve(number: int, when: str) -> Change:
    def change(items: dict[int, dict[str, Any]]) -> None:
        items[1000 + number] = {**items[1000 + number], "state": "closed", "closed_at": when, "updated_at": when}

    return change


def test_an_issue_updated_between_pages_hides_no_other_issue(mocked, fake_clock):
    # offset paging read page 2 of [1 3 4 5 6 7 2'] as [5 6 7]: issue 4 was never returned
    fake = MovingListing([gh_issue(n, at(n)) for n in range(1, 8)], "since", GH_NEXT, {1: resolve(2, at(30))})
    incidents = github(mocked, fake, fake_clock)
    assert numbers(incidents) == [1, 2, 3, 4, 5, 6, 7]
    assert [i.resolved_at for i in incidents if i.external_id.endswith("/2")][-1] == parse_time(at(30))
    assert [q["since"] for q in fake.queries] == ["2024-05-01T00:00:00Z", at(3), at(5), at(7)]


def test_an_issue_leaving_the_listing_between_pages_hides_no_other_issue(mocked, fake_clock):
    # issue 1 loses its incident label after page 1: offset page 2 of [2 .. 7] is [5 6 7], skipping 4
    fake = MovingListing([gh_issue(n, at(n)) for n in range(1, 8)], "since", GH_NEXT, {1: lambda i: i.pop(1001)})
    assert numbers(github(mocked, fake, fake_clock)) == [1, 2, 3, 4, 5, 6, 7]


def test_a_listing_that_does_not_move_costs_no_extra_request(mocked, fake_clock):
    fake = MovingListing([gh_issue(n, at(n)) for n in range(1, 8)], "since", GH_NEXT, {})
    incidents = github(mocked, fake, fake_clock)
    assert [int(i.external_id.rsplit("/", 1)[1]) for i in incidents] == [1, 2, 3, 4, 5, 6, 7]  # each once
    assert len(fake.queries) == 3  # as many as offset pages: [1 2 3] [3 4 5] [5 6 7]


def test_a_page_of_one_update_time_goes_on_to_the_next_offset_page_and_ends(mocked, fake_clock):
    # issues 2..8 share one updated_at: re-anchoring there gives the same first page again, so the
    # server's next offset pages of that anchor are read (Link verbatim) until the last one
    issues = [gh_issue(1, at(1)), *(gh_issue(n, at(5)) for n in range(2, 9)), gh_issue(9, at(9))]
    fake = MovingListing(issues, "since", GH_NEXT, {})
    incidents = github(mocked, fake, fake_clock)
    assert [int(i.external_id.rsplit("/", 1)[1]) for i in incidents] == list(range(1, 10))  # each once
    assert [(q["since"], q.get("page")) for q in fake.queries] == [
        ("2024-05-01T00:00:00Z", None),  # [1 2 3]
        (at(5), None),  # [2 3 4]
        (at(5), "2"),  # [5 6 7]
        (at(5), "3"),  # [8 9]: the last page
    ]
    assert [c.request.url.split("?")[0] for c in mocked.calls] == [GH_LIST, GH_LIST, GH_NEXT, GH_NEXT]


def gl_issue(iid: int, updated: str) -> dict[str, Any]:
    return {
        "id": 500 + iid,
        "iid": iid,
        "title": f"incident {iid}",
        "state": "opened",
        "issue_type": "incident",
        "created_at": "2024-05-10T10:00:00.000Z",
        "updated_at": updated,
        "closed_at": None,
        "labels": [],
    }


def test_gitlab_incident_updated_between_pages_hides_no_other_incident(mocked, fake_clock):
    def update(items: dict[int, dict[str, Any]]) -> None:
        items[501] = {**items[501], "updated_at": "2024-05-10T11:00:00.123Z"}

    fake = MovingListing(
        [gl_issue(n, f"2024-05-10T10:0{n}:00.250Z") for n in range(1, 6)], "updated_after", None, {1: update}
    )
    mocked.add(responses.GET, f"{GL_API}/projects/acme%2Fapi", json={"id": 7, "path_with_namespace": "acme/api"})
    mocked.add_callback(responses.GET, GL_ISSUES, callback=fake, content_type="application/json")
    settings = {
        "name": "gl",
        "kind": "gitlab_issues",
        "base_url": "https://gitlab.example.com",
        "token": "t",
        "projects": ["acme/api"],
        "per_page": 2,
    }
    context = SourceContext(run_started_at=RUN_START, services=FakeServices())
    src = GitLabIssuesSource(GitLabSettings.model_validate(settings), context, sleep=fake_clock.sleep, clock=fake_clock)
    incidents = records_of(run_batches(src), Incident)
    # offset paging read page 2 of [2 3 4 5 1'] as [4 5]: incident 3 was never returned
    assert numbers(incidents) == [1, 2, 3, 4, 5]
    # re-anchored at each page's last updated_at, sent as GitLab wrote it
    assert [q["updated_after"] for q in fake.queries][1:] == [f"2024-05-10T10:0{n}:00.250Z" for n in (2, 3, 4, 5)]

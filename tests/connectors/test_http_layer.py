"""The shared HTTP layer: paginators, rate-limit readers, retries, redaction, statistics, ETags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
from connector_helpers import FakeClock, load_fixture
from responses import matchers

from connectors.errors import RateLimitedError, SourceError
from connectors.http import (
    BodyNextUrlPaginator,
    EtagStore,
    GitHubRateLimitReader,
    HttpClient,
    LinkHeaderPaginator,
    NextPageHeaderPaginator,
    OffsetPaginator,
    PageRequest,
    Redactor,
    ResetMeaning,
    RetryPolicy,
    SessionConfig,
    TokenPaginator,
    parse_reset,
    parse_retry_after,
)
from connectors.http.ratelimit import GITLAB_RATE_LIMIT
from connectors.records import CursorKey

API = "https://api.example.test"
TOKEN = "tok_very_secret_value_42"


def make_client(clock: FakeClock, reader=None, max_attempts: int = 4) -> HttpClient:
    retry = RetryPolicy(max_attempts=max_attempts, sleep=clock.sleep, clock=clock, random=lambda: 0.0)
    return HttpClient(
        "test-src",
        SessionConfig(headers={"Authorization": f"Bearer {TOKEN}"}),
        redactor=Redactor.for_secrets([TOKEN]),
        retry=retry,
        rate_limits=reader or GitHubRateLimitReader(),
    )


# --- paginators ----------------------------------------------------------------------------------


def test_link_paginator_follows_recorded_github_pages_verbatim(mocked, fake_clock):
    """The octokit recording: 5 pages of 3,3,3,3,1 issues; page 2+ live under /repositories/{id}."""
    exchanges = [e for e in load_fixture("github", "octokit-fixtures", "paginate-issues.raw-fixture.json")]
    gets = [e for e in exchanges if e["method"] == "get"]
    for exchange in gets:
        headers = dict(zip(exchange["rawHeaders"][::2], exchange["rawHeaders"][1::2], strict=True))
        path, _, query = exchange["path"].partition("?")
        params = dict(p.split("=") for p in query.split("&"))
        mocked.add(
            responses.GET,
            "https://api.github.com" + path,
            json=exchange["response"],
            headers={
                "Link": headers["Link"],
                "ETag": headers["ETag"],
                "X-RateLimit-Remaining": headers["X-RateLimit-Remaining"],
            },
            match=[matchers.query_param_matcher(params)],
        )
    client = make_client(fake_clock)
    first = gets[0]["path"]
    paginator = LinkHeaderPaginator("https://api.github.com" + first.split("?")[0], {"per_page": "3"})
    pages = list(client.pages(paginator, resource="issues"))
    # counts read off the recording: 3,3,3,3,1 issues; issue numbers 13 down to 1
    assert [len(p.items()) for p in pages] == [3, 3, 3, 3, 1]
    assert [i["number"] for p in pages for i in p.items()] == list(range(13, 0, -1))
    assert pages[1].url.startswith("https://api.github.com/repositories/515435940/issues")
    # remaining in the last recorded response header
    assert client.stats.rate_limit_remaining == int(
        dict(zip(gets[-1]["rawHeaders"][::2], gets[-1]["rawHeaders"][1::2], strict=True))["X-RateLimit-Remaining"]
    )
    assert client.stats.count(200) == 5


def test_repeated_next_url_is_an_error_not_a_loop(mocked, fake_clock):
    url = f"{API}/items"
    mocked.add(responses.GET, url, json=[1], headers={"Link": f'<{url}?page=2>; rel="next"'})
    client = make_client(fake_clock)
    with pytest.raises(SourceError) as info:
        list(client.pages(LinkHeaderPaginator(f"{url}?page=2"), resource="items"))
    assert "already requested" in str(info.value)
    assert info.value.resource == "items"


def test_gitlab_next_page_header_then_empty_header_ends():
    from requests.structures import CaseInsensitiveDict

    from connectors.http.page import Page

    paginator = NextPageHeaderPaginator(f"{API}/mrs", {"per_page": "2", "updated_after": "2024-01-01T00:00:00+00:00"})
    first = paginator.first()
    page1 = Page(
        f"{API}/mrs?per_page=2&updated_after=2024-01-01T00%3A00%3A00%2B00%3A00",
        200,
        CaseInsensitiveDict({"X-Next-Page": "2"}),
        [1, 2],
    )
    second = paginator.next_request(page1)
    assert second is not None
    assert "page=2" in second.url
    assert "%2B00%3A00" in second.url
    page2 = Page(second.url, 200, CaseInsensitiveDict({"X-Next-Page": ""}), [3])
    assert paginator.next_request(page2) is None
    assert first.params == {"per_page": "2", "updated_after": "2024-01-01T00:00:00+00:00"}


def test_gitlab_paginator_falls_back_to_keyset_link():
    from requests.structures import CaseInsensitiveDict

    from connectors.http.page import Page

    paginator = NextPageHeaderPaginator(f"{API}/projects", {"pagination": "keyset"})
    paginator.first()
    nxt = f"{API}/projects?pagination=keyset&id_after=42"
    page = Page(f"{API}/projects", 200, CaseInsensitiveDict({"Link": f'<{nxt}>; rel="next"'}), [])
    assert paginator.next_request(page) == PageRequest(nxt)


def test_body_token_and_offset_paginators_stop_on_their_signals():
    from requests.structures import CaseInsensitiveDict

    from connectors.http.page import Page

    h = CaseInsensitiveDict()
    body_next = BodyNextUrlPaginator(f"{API}/b")
    body_next.first()
    assert body_next.next_request(Page("u", 200, h, {"next": f"{API}/b?page=2"})) == PageRequest(f"{API}/b?page=2")
    assert body_next.next_request(Page("u", 200, h, {"values": []})) is None

    token = TokenPaginator(f"{API}/search", {"jql": "x"})
    token.first()
    req = token.next_request(Page("u", 200, h, {"isLast": False, "nextPageToken": "t2"}))
    assert req == PageRequest(f"{API}/search", {"jql": "x", "nextPageToken": "t2"})
    assert token.next_request(Page("u", 200, h, {"isLast": False, "nextPageToken": ""})) is None
    assert token.next_request(Page("u", 200, h, {"isLast": True, "nextPageToken": "t3"})) is None
    with pytest.raises(ValueError, match="already requested"):
        token.next_request(Page("u", 200, h, {"nextPageToken": "t2"}))

    offset = OffsetPaginator(f"{API}/incidents", limit=25)
    assert offset.first().params == {"limit": "25", "offset": "0"}
    assert offset.next_request(Page("u", 200, h, {"more": True})).params["offset"] == "25"
    assert offset.next_request(Page("u", 200, h, {"more": False})) is None


# --- rate-limit headers --------------------------------------------------------------------------

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def test_reset_headers_are_read_with_their_own_meaning():
    # 1658208999 = 2022-07-19T05:36:39Z (the octokit recording's x-ratelimit-reset)
    assert parse_reset("1658208999", ResetMeaning.EPOCH_SECONDS, NOW) == datetime(2022, 7, 19, 5, 36, 39, tzinfo=UTC)
    assert parse_reset("37", ResetMeaning.DELTA_SECONDS, NOW) == NOW + timedelta(seconds=37)
    assert parse_reset("2024-06-01T13:30Z", ResetMeaning.ISO_TIME, NOW) == datetime(2024, 6, 1, 13, 30, tzinfo=UTC)
    assert parse_reset("Sat, 01 Jun 2024 12:05:00 GMT", ResetMeaning.HTTP_DATE, NOW) == NOW + timedelta(minutes=5)
    assert parse_reset("garbage", ResetMeaning.EPOCH_SECONDS, NOW) is None


def test_retry_after_accepts_seconds_and_http_date():
    assert parse_retry_after("120", NOW) == NOW + timedelta(seconds=120)
    assert parse_retry_after("Sat, 01 Jun 2024 12:01:30 GMT", NOW) == NOW + timedelta(seconds=90)
    assert parse_retry_after(None, NOW) is None


def _response(status: int, headers: dict[str, str], body: str = "{}") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response._content = body.encode()
    return response


def test_github_reader_distinguishes_rate_limits_from_permission_errors():
    reader = GitHubRateLimitReader()
    primary = reader.read(
        _response(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW.timestamp()) + 300)}), NOW
    )
    assert primary.limited
    assert primary.retry_at == NOW + timedelta(seconds=300)
    secondary = reader.read(
        _response(403, {"x-ratelimit-remaining": "12"}, '{"message": "You have exceeded a secondary rate limit."}'), NOW
    )
    assert secondary.limited
    assert secondary.retry_at == NOW + timedelta(minutes=1)
    forbidden = reader.read(
        _response(403, {"x-ratelimit-remaining": "4000"}, '{"message": "Resource not accessible"}'), NOW
    )
    assert not forbidden.limited
    assert forbidden.remaining == 4000


def test_gitlab_reader_prefers_retry_after_then_reset_time():
    with_retry = GITLAB_RATE_LIMIT.read(
        _response(429, {"Retry-After": "20", "RateLimit-Reset": "1"}, "Retry later"), NOW
    )
    assert with_retry.limited
    assert with_retry.retry_at == NOW + timedelta(seconds=20)
    reset_time = GITLAB_RATE_LIMIT.read(_response(429, {"RateLimit-ResetTime": "Sat, 01 Jun 2024 12:02:00 GMT"}), NOW)
    assert reset_time.retry_at == NOW + timedelta(minutes=2)
    ok = GITLAB_RATE_LIMIT.read(_response(200, {"RateLimit-Remaining": "599"}), NOW)
    assert not ok.limited
    assert ok.remaining == 599


# --- retries -------------------------------------------------------------------------------------


def test_429_with_retry_after_seconds_sleeps_exactly_that(mocked, fake_clock):
    url = f"{API}/x"
    mocked.add(responses.GET, url, status=429, headers={"Retry-After": "7"})
    mocked.add(responses.GET, url, json={"ok": True})
    client = make_client(fake_clock)
    page = client.get(PageRequest(url), resource="x")
    assert page.body == {"ok": True}
    assert fake_clock.sleeps == [7.0]
    assert client.stats.count(429) == 1
    assert client.stats.count(200) == 1
    assert client.stats.retries == 1


def test_429_with_retry_after_http_date_sleeps_until_that_date(mocked, fake_clock):
    url = f"{API}/x"
    when = fake_clock.now + timedelta(seconds=45)
    mocked.add(responses.GET, url, status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    mocked.add(responses.GET, url, json=[])
    make_client(fake_clock).get(PageRequest(url), resource="x")
    assert fake_clock.sleeps == [45.0]


def test_5xx_backs_off_exponentially_then_succeeds(mocked, fake_clock):
    url = f"{API}/x"
    mocked.add(responses.GET, url, status=502)
    mocked.add(responses.GET, url, status=503)
    mocked.add(responses.GET, url, status=504)
    mocked.add(responses.GET, url, json=[1])
    make_client(fake_clock).get(PageRequest(url), resource="x")
    # base 1s doubled per attempt, jitter drawn as 0: 1, 2, 4
    assert fake_clock.sleeps == [1.0, 2.0, 4.0]


def test_connection_errors_are_retried_then_reported(mocked, fake_clock):
    url = f"{API}/x"
    for _ in range(3):
        mocked.add(responses.GET, url, body=requests.ConnectionError(f"refused {url}?private_token={TOKEN}"))
    client = make_client(fake_clock, max_attempts=3)
    with pytest.raises(SourceError) as info:
        client.get(PageRequest(url), resource="x")
    assert "gave up after 3 attempts" in str(info.value)
    assert TOKEN not in str(info.value)
    assert client.stats.count("error") == 3
    assert fake_clock.sleeps == [1.0, 2.0]


def test_wait_beyond_maximum_stops_with_rate_limited_until(mocked, fake_clock):
    url = f"{API}/x"
    reset = int(fake_clock.now.timestamp()) + 3600  # one hour > 15 min default maximum
    mocked.add(responses.GET, url, status=403, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
    client = make_client(fake_clock)
    with pytest.raises(RateLimitedError) as info:
        client.get(PageRequest(url), resource="x")
    assert info.value.until == datetime.fromtimestamp(reset, tz=UTC)
    assert "rate limited until" in str(info.value)
    assert fake_clock.sleeps == []
    assert client.stats.snapshot().rate_limited_until == datetime.fromtimestamp(reset, tz=UTC)


def test_malformed_json_names_resource_and_page(mocked, fake_clock):
    url = f"{API}/x"
    mocked.add(responses.GET, url, body="{not json", content_type="application/json")
    with pytest.raises(SourceError) as info:
        make_client(fake_clock).get(PageRequest(url), resource="things", number=3)
    assert info.value.resource == "things"
    assert info.value.page.startswith("3 ")
    assert "malformed JSON" in str(info.value)


def test_unauthorized_is_fatal_and_redacted(mocked, fake_clock):
    url = f"{API}/x"
    mocked.add(responses.GET, url, status=401, json={"message": f"Bad credentials {TOKEN}"})
    with pytest.raises(SourceError) as info:
        make_client(fake_clock).get(PageRequest(url), resource="x")
    assert info.value.kind == "fatal"
    assert info.value.http_status == 401
    assert TOKEN not in str(info.value)
    assert "check the token" in str(info.value)


# --- redaction, ETags ----------------------------------------------------------------------------


def test_redactor_masks_tokens_params_and_passwords():
    redactor = Redactor.for_secrets([TOKEN])
    url = f"https://user:pw123@gitlab.example/api/v4/projects?private_token=abc&page=2&x={TOKEN}"
    cleaned = redactor.url(url)
    assert "pw123" not in cleaned
    assert "abc" not in cleaned
    assert TOKEN not in cleaned
    assert "page=2" in cleaned
    assert redactor.text(f"Authorization: Bearer {TOKEN}") == "Authorization: Bearer ***"


def test_etags_are_kept_per_url_and_credential():
    store_a = EtagStore({}, "identity-a")
    cursor = store_a.cursor(f"{API}/pulls?page=1", '"abc"')
    (key,) = cursor
    assert key.resource == "etag"
    assert len(key.partition) == 32
    assert EtagStore(cursor, "identity-a").get(f"{API}/pulls?page=1") == '"abc"'
    assert EtagStore(cursor, "identity-b").get(f"{API}/pulls?page=1") is None
    assert EtagStore({CursorKey("etag", "x"): "y"}, "identity-a").get(f"{API}/other") is None


def test_conditional_request_sends_if_none_match_and_reports_304(mocked, fake_clock):
    url = f"{API}/x"
    mocked.add(responses.GET, url, status=304, match=[matchers.header_matcher({"If-None-Match": 'W/"v1"'})])
    page = make_client(fake_clock).get(PageRequest(url), resource="x", etag='W/"v1"')
    assert page.not_modified
    assert page.body is None

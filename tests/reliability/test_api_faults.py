"""API faults from a local fake server: each ends in success or a clear per-source error, the other
source is unaffected, and the next run resumes to the same store as a sync that met no fault.

The faults hit the GitHub source (``gh``) on page 2 of its pull-request listing (or its first
request); the GitLab source (``gl``) on the same server must succeed every time. Retry sleeps are
recorded instead of slept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from fault_hosts import Fault, FaultyHosts
from store_dump import differences, dump_store

from collector.config.loader import load_config_text
from collector.store.engine import create_store_engine
from collector.store.schema import upgrade
from collector.sync import run_sources
from connectors.http import source_support

TOKEN = "fault-test-token-value"
PULLS = "/gh/api/v3/repos/acme/shop/pulls"
PULLS_RESOURCE = "repos/acme/shop/pulls"


def config_for(base: str) -> object:
    return load_config_text(
        f"""
teams: [{{name: core}}]
services:
  - {{name: shop, team: core, repositories: [acme/shop]}}
  - {{name: api, team: core, repositories: [acme/api]}}
sources:
  - {{name: gh, kind: github, token: {TOKEN}, base_url: "{base}/gh/api/v3", repositories: [acme/shop],
      per_page: 1, max_retries: 3, connect_timeout: 2s, read_timeout: 0.5s, history_days: 3650}}
  - {{name: gl, kind: gitlab, token: {TOKEN}, base_url: "{base}/gl", projects: [acme/api], per_page: 1,
      max_retries: 3, connect_timeout: 2s, read_timeout: 0.5s, history_days: 3650}}
"""
    )


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(source_support, "time", SimpleNamespace(sleep=recorded.append))
    return recorded


@pytest.fixture(scope="module")
def hosts() -> Iterator[FaultyHosts]:
    server = FaultyHosts().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def expected(hosts: FaultyHosts, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """The store after a sync that met no fault."""
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('faults') / 'baseline.db'}")
    upgrade(engine)
    outcomes = run_sources(engine, config_for(hosts.base))  # type: ignore[arg-type]
    assert [o.status for o in outcomes] == ["success", "success"], [o.error for o in outcomes]
    dump = dump_store(engine)
    engine.dispose()
    return dump


def _pr(number: int) -> dict[str, object]:
    from fake_git_hosts import GITHUB

    return next(p for p in GITHUB["/repos/acme/shop/pulls"] if p["number"] == number)


SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
HTML = b"<html><body><h1>Service temporarily unavailable</h1><p>maintenance</p></body></html>"

# fault id -> (faults, expected outcome of gh: "success" or the words its error must contain)
CASES: dict[str, tuple[list[Fault], str | tuple[str, ...]]] = {
    "429_retry_after": ([Fault(PULLS, "2", status=429, headers={"Retry-After": "2"}, json_body={})], "success"),
    "secondary_limit": ([Fault(PULLS, "2", status=403, json_body=SECONDARY)], "success"),
    "burst_of_5xx": (
        [Fault(PULLS, "2", times=1, status=502, json_body={}), Fault(PULLS, "2", times=2, status=503, raw=b"")],
        "success",
    ),
    "read_timeout": ([Fault(PULLS, "2", delay=1.0, json_body=[_pr(2)])], "success"),
    "reset_mid_body": ([Fault(PULLS, "2", reset_mid_body=True, json_body=[_pr(2)])], "success"),
    "oversize_page": ([Fault(PULLS, "2", json_body=[_pr(2)] * 500 + [_pr(1)])], "success"),
    "truncated_json": (
        [Fault(PULLS, "2", raw=json.dumps([_pr(2)]).encode()[:-40])],
        ("malformed JSON", PULLS_RESOURCE, "page 2", "next run"),
    ),
    "invalid_json": ([Fault(PULLS, "2", raw=b"[{'number': 2,}]")], ("malformed JSON", PULLS_RESOURCE, "page 2")),
    "html_with_200": (
        [Fault(PULLS, "2", raw=HTML, headers={"Content-Type": "text/html"})],
        ("malformed JSON", PULLS_RESOURCE, "page 2"),
    ),
    "pagination_loop": ([Fault(PULLS, "2", link_to_self=True)], ("pagination loops", PULLS_RESOURCE)),
    "expired_token": (
        [Fault(PULLS, "1", status=401, json_body={"message": "Bad credentials"})],
        ("HTTP 401", PULLS_RESOURCE, "page 1", "check the token"),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_api_fault_ends_in_success_or_clear_error_and_next_run_resumes(case, hosts, expected, sleeps, engine):
    faults, outcome = CASES[case]
    hosts.faults = [Fault(**vars(f)) for f in faults]
    hosts.served_faults = 0
    config = config_for(hosts.base)
    first = {o.source: o for o in run_sources(engine, config)}  # type: ignore[arg-type]
    assert hosts.served_faults >= 1, "the fault was never served"
    assert first["gl"].status == "success", first["gl"].error
    gh = first["gh"]
    if outcome == "success":
        assert gh.status == "success", gh.error
    else:
        assert gh.status == "failed"
        assert gh.error is not None
        for words in outcome:
            assert words in gh.error, gh.error
        assert TOKEN not in gh.error
        hosts.faults = []
        again = {o.source: o for o in run_sources(engine, config)}  # type: ignore[arg-type]
        assert again["gh"].status == "success", again["gh"].error
    assert all(s <= 120 for s in sleeps), sleeps
    if case == "429_retry_after":
        assert any(1.0 <= s <= 2.0 for s in sleeps), sleeps  # Retry-After honoured (2 s less elapsed time)
    problems = differences(expected, dump_store(engine))
    assert not problems, problems

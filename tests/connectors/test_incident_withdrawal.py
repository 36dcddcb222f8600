"""Withdrawal end to end: a sync stores an incident, a later sync reads the same item as no incident
(merged, closed as a duplicate, cancelled) and removes it with its raw payloads, and a rebuild from the
raw payloads then agrees with that sync. Real ``run_source`` and ``rebuild_source``, SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

import responses
import test_github_issues
import test_pagerduty
import test_servicenow
from connector_helpers import FakeClock
from sqlalchemy import Engine, select

from collector.config.loader import load_config_text
from collector.rebuild import rebuild_source
from collector.store.models import IncidentRow, RawPayloadRow
from collector.sync import SyncOutcome, run_source


def _sync(engine: Engine, settings: Any, at: datetime, mock: Callable[[responses.RequestsMock], None]) -> SyncOutcome:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mock(mocked)
        outcome = run_source(engine, load_config_text("teams: []"), settings, clock=lambda: at)
    assert outcome.status == "success", outcome.error
    return outcome


def _stored(engine: Engine, source: str) -> tuple[list[tuple[Any, ...]], list[str]]:
    with engine.connect() as connection:
        incidents = connection.execute(
            select(IncidentRow.external_id, IncidentRow.resolved_at).where(IncidentRow.source == source)
        ).all()
        payloads = connection.execute(select(RawPayloadRow.external_id).where(RawPayloadRow.source == source))
        return sorted(tuple(row) for row in incidents), sorted(payloads.scalars())


def _rebuild_changes_nothing(engine: Engine, settings: Any) -> None:
    before = _stored(engine, settings.name)
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # no request may be made
        outcome = rebuild_source(engine, load_config_text("teams: []"), settings)
    assert outcome.status == "rebuilt", outcome.error
    diff = outcome.tables["incidents"]
    assert (diff.added, diff.changed, diff.removed) == (0, 0, 0)
    assert _stored(engine, settings.name) == before


def test_pagerduty_incident_merged_after_a_sync_is_removed_and_the_rebuild_agrees(engine: Engine) -> None:
    pd = test_pagerduty
    settings = pd.source(FakeClock()).settings
    open_one = pd.recorded()[pd.TRIGGERED]

    def first(mocked: responses.RequestsMock) -> None:
        mocked.add(responses.GET, pd.LIST, json=pd.page([open_one, pd.recorded()[pd.ACKED]], 0, False))

    _sync(engine, settings, pd.RUN_START, first)
    assert [row[0] for row in _stored(engine, "pd")[0]] == sorted([pd.TRIGGERED, pd.ACKED])

    def later(mocked: responses.RequestsMock) -> None:
        mocked.add(responses.GET, f"{pd.LIST}/{pd.TRIGGERED}", json={"incident": pd.merged(open_one, pd.ACKED)})
        mocked.add(responses.GET, f"{pd.LIST}/{pd.ACKED}", json={"incident": pd.recorded()[pd.ACKED]})
        mocked.add(responses.GET, pd.LIST, json=pd.page([], 0, False))

    outcome = _sync(engine, settings, pd.RUN_START, later)
    assert outcome.counts["incidents withdrawn"] == 1
    assert _stored(engine, "pd") == ([(pd.ACKED, None)], [pd.ACKED])  # the merge target alone, still open
    _rebuild_changes_nothing(engine, settings)


def test_github_issue_closed_as_duplicate_after_a_sync_is_removed_and_the_rebuild_agrees(engine: Engine) -> None:
    gh = test_github_issues
    settings = gh.source(FakeClock()).settings
    issues = [gh.labelled(issue, "incident") for issue in gh.recorded()[0][:2]]
    _sync(engine, settings, gh.RUN_START, lambda mocked: mocked.add(responses.GET, gh.LIST, json=issues))
    assert len(_stored(engine, "gh-issues")[0]) == 2

    duplicate = {**gh.closed_as(issues[0], "duplicate"), "updated_at": "2022-07-20T00:00:00Z"}
    outcome = _sync(engine, settings, gh.RUN_START, lambda mocked: mocked.add(responses.GET, gh.LIST, json=[duplicate]))
    assert outcome.counts["incidents withdrawn"] == 1
    second = f"{gh.REPO}/issues/2"
    assert _stored(engine, "gh-issues") == ([(second, None)], [second])
    _rebuild_changes_nothing(engine, settings)


def test_servicenow_incident_cancelled_after_a_sync_is_removed_and_the_rebuild_agrees(engine: Engine) -> None:
    sn = test_servicenow
    settings = sn.source(FakeClock()).settings
    _sync(engine, settings, sn.RUN_START, sn.two_pages)
    assert "INC0010004" in [row[0] for row in _stored(engine, "snow")[0]]

    cancelled = sn.cancelled("INC0010004", closed_at="", updated="2024-05-24 10:00:00")
    outcome = _sync(engine, settings, sn.RUN_START, lambda mocked: mocked.add(responses.GET, sn.TABLE, json=cancelled))
    assert outcome.counts["incidents withdrawn"] == 1
    incidents, payloads = _stored(engine, "snow")
    assert [row[0] for row in incidents] == payloads == ["INC0010001", "INC0010002", "INC0010003"]
    _rebuild_changes_nothing(engine, settings)


def test_an_item_never_stored_withdraws_nothing_and_stores_nothing(engine: Engine) -> None:
    pd = test_pagerduty
    settings = pd.source(FakeClock()).settings
    merged = pd.merged(copy.deepcopy(pd.recorded()[pd.RESOLVED]))
    outcome = _sync(
        engine,
        settings,
        pd.RUN_START,
        lambda mocked: mocked.add(responses.GET, pd.LIST, json=pd.page([merged], 0, False)),
    )
    assert dict(outcome.counts) == {} and not outcome.stored_anything  # no recompute for nothing
    assert _stored(engine, "pd") == ([], [])

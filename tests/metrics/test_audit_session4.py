"""Audit (session 4): a revert shipped to several production environments, and the breakdown of a
pull request whose total lead time is negative.

docs/metrics.md, "Failed deployments", rule 3: a deployment is failed when "a later deployment of the
same service ships a change that reverts a change this deployment shipped"; "a revert shipped in the
same deployment as the change is not a failure". "Changes of a deployment": a commit *counts* once
per service (for lead time), at its first production deployment of the service; the walk itself is
per service/environment, so each production environment's first deployment reaching a commit
shipped it there.

docs/metrics.md, "Change lead time": a negative lead time is dropped (``excluded``); the breakdown
leaves out "a missing or negative part": each part is judged on its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from metric_frames import HOUR, at, chain, commits, deployments, inputs, pull_requests, row, services, ts

from metrics import MetricSettings, compute_report, derive_links

SETTINGS = MetricSettings()
AS_OF = at("2024-03-10T00:00:00Z")
TWO_REGIONS = services({"production_environments": ("prod-eu", "prod-us")})

# c0 (base) <- fea7 (the feature) <- 5e1f (its revert, message names fea7's full stored sha)
FEATURE = "fea70000"
REVERT = "5e1f0000"
HISTORY: list[dict[str, Any]] = [
    *chain([("c0000000", "2024-03-01T00:00Z"), (FEATURE, "2024-03-02T00:00Z")]),
    {
        "sha": REVERT,
        "authored_at": ts("2024-03-03T00:00Z"),
        "parents": (FEATURE,),
        "message": f'Revert "feature"\n\nThis reverts commit {FEATURE}.',
    },
]


def _deployment(external_id: str, environment: str, sha: str, finished_at: str, listed: bool) -> dict[str, Any]:
    # ``listed``: the same history told by explicit commit lists instead of the graph walk (the base
    # deployments list nothing, as the walk's baselines attribute nothing)
    commits_listed = {"c0000000": (), FEATURE: (FEATURE,), REVERT: (REVERT,)}[sha] if listed else None
    return {
        "external_id": external_id,
        "environment": environment,
        "sha": sha,
        "finished_at": finished_at,
        "commits": commits_listed,
    }


def _both_regions(listed: bool) -> Any:
    return inputs(
        services=TWO_REGIONS,
        commits=commits(*HISTORY),
        deployments=deployments(
            _deployment("eu1", "prod-eu", "c0000000", "2024-03-01T12:00Z", listed),
            _deployment("us1", "prod-us", "c0000000", "2024-03-01T13:00Z", listed),
            _deployment("eu2", "prod-eu", FEATURE, "2024-03-02T12:00Z", listed),
            _deployment("us2", "prod-us", FEATURE, "2024-03-02T14:00Z", listed),
            _deployment("us3", "prod-us", REVERT, "2024-03-03T10:00Z", listed),
            _deployment("eu3", "prod-eu", REVERT, "2024-03-03T12:00Z", listed),
        ),
    )


@pytest.mark.parametrize("listed", [False, True], ids=["graph_walk", "explicit_list"])
def test_a_reverted_change_shipped_in_two_production_environments_fails_both_deployments(listed: bool) -> None:
    # fea7 reached prod-eu with eu2 (03-02 12:00) and prod-us with us2 (03-02 14:00); its revert 5e1f is
    # shipped later by us3 (03-03 10:00) and eu3 (03-03 12:00), deployments of the same service.
    # Both eu2 and us2 shipped the reverted change: both failed. Each is remediated by the earliest
    # later deployment shipping the revert in its own environment: eu3 for eu2, us3 for us2.
    data = _both_regions(listed)
    links = derive_links(data, SETTINGS)
    assert sorted(links.failures[["deployment_key", "reason", "method", "remediated_by"]].values.tolist()) == [
        ["ci:eu2", "revert", "revert_message", "ci:eu3"],
        ["ci:us2", "revert", "revert_message", "ci:us3"],
    ]
    # the revert is rework in each environment it reaches, though it counts once for lead time
    rework = links.deployments.set_index("deployment_key")["rework"]
    assert sorted(rework[rework].index) == ["ci:eu3", "ci:us3"]
    results = compute_report(data, SETTINGS, AS_OF, windows=[30])
    eu = row(results, scope="service", window=30, environment="prod-eu")
    us = row(results, scope="service", window=30, environment="prod-us")
    # each region: 3 deployments, 1 failed -> 1/3
    assert (eu["deployments"], eu["failed_deployments"]) == (3, 1)
    assert (us["deployments"], us["failed_deployments"]) == (3, 1)
    assert us["change_failure_rate"] == pytest.approx(1 / 3)
    # recovery: eu2 03-02 12:00 -> eu3 03-03 12:00 = 24 h; us2 03-02 14:00 -> us3 03-03 10:00 = 20 h
    assert eu["recovery_time_seconds"]["p50"] == 24 * HOUR
    assert us["recovery_time_seconds"]["p50"] == 20 * HOUR
    team = row(results, scope="team", window=30, team="core")
    assert (team["deployments"], team["failed_deployments"]) == (6, 2)


@pytest.mark.parametrize("listed", [False, True], ids=["graph_walk", "explicit_list"])
def test_lead_time_still_counts_a_change_once_per_service_when_its_revert_fails_both_regions(listed: bool) -> None:
    # fea7 counts at eu2 (its first deployment of the service): 03-02 00:00 -> 12:00 = 12 h, prod-eu row;
    # 5e1f counts at us3: 03-03 00:00 -> 10:00 = 10 h, prod-us row. Nothing counts twice.
    results = compute_report(_both_regions(listed), SETTINGS, AS_OF, windows=[30])
    eu = row(results, scope="service", window=30, environment="prod-eu")["lead_time_seconds"]
    us = row(results, scope="service", window=30, environment="prod-us")["lead_time_seconds"]
    team = row(results, scope="team", window=30, team="core")["lead_time_seconds"]
    assert (eu["count"], eu["p50"]) == (1, 12 * HOUR)
    assert (us["count"], us["p50"]) == (1, 10 * HOUR)
    assert (team["count"], team["p50"]) == (2, 11 * HOUR)


def test_an_environment_that_got_the_change_together_with_its_revert_is_not_failed() -> None:
    # prod-eu: eu2 ships fea7 (03-02 12:00) -> failed, remediated by the revert reaching prod-eu: eu3
    # (03-03 12:00), though us2 shipped it earlier in prod-us (03-03 10:00).
    # prod-us: us2 is the first to reach either, shipping fea7 and 5e1f together: a revert shipped in
    # the same deployment as the change is not a failure, though eu3 ships the revert later.
    data = inputs(
        services=TWO_REGIONS,
        commits=commits(*HISTORY),
        deployments=deployments(
            _deployment("eu1", "prod-eu", "c0000000", "2024-03-01T12:00Z", listed=False),
            _deployment("us1", "prod-us", "c0000000", "2024-03-01T13:00Z", listed=False),
            _deployment("eu2", "prod-eu", FEATURE, "2024-03-02T12:00Z", listed=False),
            _deployment("us2", "prod-us", REVERT, "2024-03-03T10:00Z", listed=False),
            _deployment("eu3", "prod-eu", REVERT, "2024-03-03T12:00Z", listed=False),
        ),
    )
    failures = derive_links(data, SETTINGS).failures
    assert failures[["deployment_key", "method", "remediated_by"]].values.tolist() == [
        ["ci:eu2", "revert_message", "ci:eu3"]
    ]
    us = row(compute_report(data, SETTINGS, AS_OF, windows=[30]), scope="service", window=30, environment="prod-us")
    assert (us["deployments"], us["failed_deployments"]) == (2, 0)


def test_a_revert_never_shipped_after_the_second_region_got_the_change_does_not_fail_it() -> None:
    # prod-eu ships fea7 (eu2, 03-02 12:00) and its revert (eu3, 03-03 12:00); prod-us reaches fea7 only
    # at us2 (03-04 12:00), after every deployment shipping the revert: no later revert deployment
    # of the service, so us2 is not failed (and eu2 is, remediated by eu3).
    data = inputs(
        services=TWO_REGIONS,
        commits=commits(*HISTORY),
        deployments=deployments(
            _deployment("eu1", "prod-eu", "c0000000", "2024-03-01T12:00Z", listed=False),
            _deployment("us1", "prod-us", "c0000000", "2024-03-01T13:00Z", listed=False),
            _deployment("eu2", "prod-eu", FEATURE, "2024-03-02T12:00Z", listed=False),
            _deployment("eu3", "prod-eu", REVERT, "2024-03-03T12:00Z", listed=False),
            _deployment("us2", "prod-us", FEATURE, "2024-03-04T12:00Z", listed=False),
        ),
    )
    failures = derive_links(data, SETTINGS).failures
    assert failures[["deployment_key", "remediated_by"]].values.tolist() == [["ci:eu2", "ci:eu3"]]


def test_a_failure_the_revert_never_reached_in_its_own_environment_is_remediated_by_another() -> None:
    # eu2 and us2 ship fea7; only prod-us gets the revert (us3, 03-03 10:00). eu2 is failed (the
    # service shipped a revert of its change later) and, with no revert deployment in prod-eu, the
    # earliest one of the service remediates it: us3. Recovery eu2: 03-02 12:00 -> 03-03 10:00 = 22 h.
    data = inputs(
        services=TWO_REGIONS,
        commits=commits(*HISTORY),
        deployments=deployments(
            _deployment("eu1", "prod-eu", "c0000000", "2024-03-01T12:00Z", listed=False),
            _deployment("us1", "prod-us", "c0000000", "2024-03-01T13:00Z", listed=False),
            _deployment("eu2", "prod-eu", FEATURE, "2024-03-02T12:00Z", listed=False),
            _deployment("us2", "prod-us", FEATURE, "2024-03-02T14:00Z", listed=False),
            _deployment("us3", "prod-us", REVERT, "2024-03-03T10:00Z", listed=False),
        ),
    )
    failures = derive_links(data, SETTINGS).failures
    assert sorted(failures[["deployment_key", "remediated_by"]].values.tolist()) == [
        ["ci:eu2", "ci:us3"],
        ["ci:us2", "ci:us3"],
    ]
    eu = row(compute_report(data, SETTINGS, AS_OF, windows=[30]), scope="service", window=30, environment="prod-eu")
    assert eu["recovery_time_seconds"]["p50"] == 22 * HOUR


# --- finding 2: breakdown parts of a pull request whose total lead time is negative ----------------


def _two_pull_requests(author_of_skewed: str = "alice") -> Any:
    # PR 1 (skewed clock): its only commit p1 claims 03-05 20:00, after the deployment (03-05 12:00):
    # total 12:00 - 20:00 = -8 h (excluded). Its own parts: coding p1 20:00 -> created 09:00 = -11 h
    # (negative: left out); pickup 09:00 -> 10:00 = 1 h; review 10:00 -> 11:00 = 1 h; deploy
    # merged 11:00 -> deployed 12:00 = 1 h.
    # PR 2: first commit 03-05 01:00, created 03:00, first review 06:00, merged 09:00, deployed 14:00:
    # total 13 h; coding 2 h, pickup 3 h, review 3 h, deploy 5 h.
    history = [
        {"sha": "b0000000", "authored_at": ts("2024-03-01T00:00Z")},
        {"sha": "b0000002", "authored_at": ts("2024-03-05T01:00Z"), "parents": ("b0000000",)},
        {"sha": "b0000001", "authored_at": ts("2024-03-05T20:00Z"), "parents": ("b0000000",)},
        {"sha": "b00000f1", "authored_at": ts("2024-03-05T11:00Z"), "parents": ("b0000000", "b0000001")},
        {"sha": "b00000f2", "authored_at": ts("2024-03-05T09:00Z"), "parents": ("b00000f1", "b0000002")},
    ]
    prs = pull_requests(
        {
            "number": 1,
            "author": author_of_skewed,
            "created_at": ts("2024-03-05T09:00Z"),
            "first_review_at": ts("2024-03-05T10:00Z"),
            "merged_at": ts("2024-03-05T11:00Z"),
            "merge_sha": "b00000f1",
            "commits": ("b0000001",),
        },
        {
            "number": 2,
            "created_at": ts("2024-03-05T03:00Z"),
            "first_review_at": ts("2024-03-05T06:00Z"),
            "merged_at": ts("2024-03-05T09:00Z"),
            "merge_sha": "b00000f2",
            "commits": ("b0000002",),
        },
    )
    return inputs(
        commits=commits(*history),
        pull_requests=prs,
        deployments=deployments(
            {"external_id": "1", "sha": "b0000000", "finished_at": "2024-03-01T12:00Z"},
            {"external_id": "2", "sha": "b00000f1", "finished_at": "2024-03-05T12:00Z"},
            {"external_id": "3", "sha": "b00000f2", "finished_at": "2024-03-05T14:00Z"},
        ),
    )


def test_a_negative_total_lead_time_keeps_the_valid_breakdown_parts_of_its_pull_request() -> None:
    result = row(compute_report(_two_pull_requests(), SETTINGS, AS_OF, windows=[7]), scope="service", window=7)
    # lead time: PR 2 only (13 h); PR 1 excluded
    lead = result["lead_time_seconds"]
    assert (lead["count"], lead["excluded"], lead["p50"]) == (1, 1, 13 * HOUR)
    # medians: coding PR 2 only (PR 1's is negative) = 2 h; pickup (1 h, 3 h) -> 2 h;
    # review (1 h, 3 h) -> 2 h; deploy (1 h, 5 h) -> 3 h
    assert result["lead_time_breakdown_seconds"] == {
        "coding": 2 * HOUR,
        "pickup": 2 * HOUR,
        "review": 2 * HOUR,
        "deploy": 3 * HOUR,
    }


def test_a_bot_pull_request_with_a_negative_total_still_gives_no_breakdown_part() -> None:
    # the same history with PR 1 by a bot: bots are left out of lead time and its breakdown entirely
    data = _two_pull_requests(author_of_skewed="dependabot[bot]")
    result = row(compute_report(data, SETTINGS, AS_OF, windows=[7]), scope="service", window=7)
    lead = result["lead_time_seconds"]
    assert (lead["count"], lead["excluded"], lead["bots"]) == (1, 0, 1)
    assert result["lead_time_breakdown_seconds"] == {
        "coding": 2 * HOUR,
        "pickup": 3 * HOUR,
        "review": 3 * HOUR,
        "deploy": 5 * HOUR,
    }

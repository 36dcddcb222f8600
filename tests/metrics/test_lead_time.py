"""Lead time: change start, baseline, quantiles, bots, negatives, PR changes, monorepo, pooling."""

from __future__ import annotations

import pytest
from metric_frames import (
    DAY,
    HOUR,
    at,
    chain,
    commits,
    deployments,
    inputs,
    pull_requests,
    row,
    services,
    ts,
)

from metrics import MetricSettings, compute_report, derive_links

SETTINGS = MetricSettings()
AS_OF = at("2024-03-10T00:00:00Z")


def _linear() -> list[dict[str, object]]:
    return chain(
        [
            ("c0000001", "2024-03-01T00:00Z"),
            ("c0000002", "2024-03-02T00:00Z"),
            ("c0000003", "2024-03-03T00:00Z"),
            ("c0000004", "2024-03-04T00:00Z"),
        ]
    )


def test_graph_walk_attributes_commits_since_previous_deployment_and_baseline_gets_none() -> None:
    data = inputs(
        commits=commits(*_linear()),
        deployments=deployments(
            {"external_id": "1", "sha": "c0000001", "finished_at": "2024-03-01T12:00Z"},
            {"external_id": "2", "sha": "c0000003", "finished_at": "2024-03-03T12:00Z"},
            {"external_id": "3", "sha": "c0000004", "finished_at": "2024-03-05T00:00Z"},
        ),
    )
    result = row(compute_report(data, SETTINGS, AS_OF, windows=[30]), scope="service", window=30)
    # d1 is the baseline (nothing attributed); d2 ships c2 (+1.5 d) and c3 (+0.5 d); d3 ships c4 (+1 d).
    # sorted: 43200, 86400, 129600 -> p50 86400; p75 = 86400 + 0.5*43200; p90 = 86400 + 0.8*43200.
    assert result["deployments"] == 3
    assert result["deployment_frequency_per_day"] == pytest.approx(3 / 30)
    assert result["lead_time_seconds"] == {
        "count": 3,
        "p50": 86400.0,
        "p75": 108000.0,
        "p90": 120960.0,
        "excluded": 0,
        "bots": 0,
    }
    links = derive_links(data, SETTINGS)
    attribution = dict(zip(links.deployments["deployment_key"], links.deployments["attribution"], strict=True))
    assert attribution == {"ci:1": "baseline", "ci:2": "graph_walk", "ci:3": "graph_walk"}


def test_single_deployment_is_a_baseline_with_no_lead_time() -> None:
    data = inputs(
        commits=commits(*_linear()),
        deployments=deployments({"external_id": "1", "sha": "c0000004", "finished_at": "2024-03-05T00:00Z"}),
    )
    result = row(compute_report(data, SETTINGS, AS_OF, windows=[7]), scope="service", window=7)
    assert result["deployments"] == 1
    assert result["lead_time_seconds"]["count"] == 0
    assert result["lead_time_seconds"]["p50"] is None
    assert result["levels"]["lead_time"] is None
    assert result["change_failure_rate"] == 0.0


def test_bot_only_changes_leave_lead_time_empty_but_the_deployment_counts() -> None:
    history = [
        *chain([("b0000001", "2024-03-01T00:00Z")]),
        {
            "sha": "b0000002",
            "authored_at": ts("2024-03-02T00:00Z"),
            "parents": ("b0000001",),
            "author": "dependabot[bot]",
        },
        {"sha": "b0000003", "authored_at": ts("2024-03-02T01:00Z"), "parents": ("b0000002",), "author": "renovate-bot"},
    ]
    data = inputs(
        commits=commits(*history),
        deployments=deployments(
            {"external_id": "1", "sha": "b0000001", "finished_at": "2024-03-01T06:00Z"},
            {"external_id": "2", "sha": "b0000003", "finished_at": "2024-03-03T00:00Z"},
        ),
    )
    result = row(compute_report(data, SETTINGS, AS_OF, windows=[30]), scope="service", window=30)
    assert result["deployments"] == 2
    assert result["lead_time_seconds"]["count"] == 0
    assert result["lead_time_seconds"]["bots"] == 2
    assert result["lead_time_seconds"]["p50"] is None


def test_negative_lead_time_is_dropped_and_counted_as_excluded() -> None:
    # commit x authored (skewed clock) 2 h after the deployment that shipped it; y is +5 h.
    data = inputs(
        commits=commits(
            {"sha": "e0000001", "authored_at": ts("2024-03-05T14:00Z")},
            {"sha": "e0000002", "authored_at": ts("2024-03-05T07:00Z")},
        ),
        deployments=deployments(
            {
                "external_id": "1",
                "sha": "e0000001",
                "finished_at": "2024-03-05T12:00Z",
                "commits": ("e0000001", "e0000002"),
            }
        ),
    )
    lead = row(compute_report(data, SETTINGS, AS_OF, windows=[7]), scope="service", window=7)["lead_time_seconds"]
    assert lead["count"] == 1
    assert lead["excluded"] == 1
    assert lead["p50"] == 5 * HOUR


def test_pull_request_is_one_change_starting_at_its_first_commit_with_breakdown() -> None:
    history = [
        {"sha": "a0000000", "authored_at": ts("2024-03-01T00:00Z")},
        {"sha": "a0000001", "authored_at": ts("2024-03-01T08:00Z"), "parents": ("a0000000",)},
        {"sha": "a0000002", "authored_at": ts("2024-03-01T10:00Z"), "parents": ("a0000001",)},
        {"sha": "a00000ff", "authored_at": ts("2024-03-01T15:00Z"), "parents": ("a0000000", "a0000002")},
    ]
    pr = {
        "number": 7,
        "created_at": ts("2024-03-01T11:00Z"),
        "first_review_at": ts("2024-03-01T13:00Z"),
        "merged_at": ts("2024-03-01T15:00Z"),
        "merge_sha": "a00000ff",
        "commits": ("a0000001", "a0000002"),
    }
    data = inputs(
        commits=commits(*history),
        pull_requests=pull_requests(pr),
        deployments=deployments(
            {"external_id": "1", "sha": "a0000000", "finished_at": "2024-03-01T01:00Z"},
            {"external_id": "2", "sha": "a00000ff", "finished_at": "2024-03-01T18:00Z"},
        ),
    )
    result = row(compute_report(data, SETTINGS, AS_OF, windows=[30]), scope="service", window=30)
    # one change (3 commits), start 08:00, deployed 18:00 -> 10 h.
    assert result["lead_time_seconds"]["count"] == 1
    assert result["lead_time_seconds"]["p50"] == 10 * HOUR
    # coding 08:00->11:00, pickup 11:00->13:00, review 13:00->15:00, deploy 15:00->18:00
    assert result["lead_time_breakdown_seconds"] == {
        "coding": 3 * HOUR,
        "pickup": 2 * HOUR,
        "review": 2 * HOUR,
        "deploy": 3 * HOUR,
    }


def test_squash_pull_request_without_known_commits_starts_at_first_commit_at_else_created_at() -> None:
    data = inputs(
        commits=commits(
            {"sha": "5000000a", "authored_at": ts("2024-03-04T09:00Z")},
            {"sha": "5000000b", "authored_at": ts("2024-03-04T09:30Z")},
        ),
        pull_requests=pull_requests(
            {
                "number": 1,
                "created_at": ts("2024-03-03T12:00Z"),
                "first_commit_at": ts("2024-03-02T12:00Z"),
                "merged_at": ts("2024-03-04T09:00Z"),
                "merge_sha": "5000000a",
                "commits": ("gone1",),
            },
            {
                "number": 2,
                "created_at": ts("2024-03-04T06:00Z"),
                "merged_at": ts("2024-03-04T09:30Z"),
                "merge_sha": "5000000b",
                "commits": (),
            },
        ),
        deployments=deployments(
            {
                "external_id": "1",
                "sha": "5000000b",
                "finished_at": "2024-03-04T12:00Z",
                "commits": ("5000000a", "5000000b"),
            }
        ),
    )
    lead = row(compute_report(data, SETTINGS, AS_OF, windows=[7]), scope="service", window=7)["lead_time_seconds"]
    # PR 1 starts at first_commit_at (2 d before deploy); PR 2 at created_at (6 h before).
    assert lead["count"] == 2
    assert lead["p50"] == pytest.approx((2 * DAY + 6 * HOUR) / 2)


def test_team_median_pools_changes_and_even_count_median_is_mean_of_middle_two() -> None:
    svc = services(
        {"service": "s1", "team": "core", "repositories": ("org/s1",)},
        {"service": "s2", "team": "core", "repositories": ("org/s2",)},
    )
    data = inputs(
        services=svc,
        commits=commits(
            {"repo": "org/s1", "sha": "11111111", "authored_at": ts("2024-03-05T11:00Z")},
            {"repo": "org/s1", "sha": "11111112", "authored_at": ts("2024-03-05T10:00Z")},
            {"repo": "org/s1", "sha": "11111113", "authored_at": ts("2024-03-05T09:00Z")},
            {"repo": "org/s2", "sha": "22222221", "authored_at": ts("2024-03-05T02:00Z")},
        ),
        deployments=deployments(
            {
                "external_id": "1",
                "service": "s1",
                "sha": "11111111",
                "finished_at": "2024-03-05T12:00Z",
                "commits": ("11111111", "11111112", "11111113"),
            },
            {
                "external_id": "2",
                "service": "s2",
                "sha": "22222221",
                "finished_at": "2024-03-05T12:00Z",
                "commits": ("22222221",),
            },
        ),
    )
    results = compute_report(data, SETTINGS, AS_OF, windows=[7])
    # s1: 1 h, 2 h, 3 h (median 2 h); s2: 10 h. Pooled [1, 2, 3, 10] h -> (2 + 3) / 2 = 2.5 h,
    # not the mean of the service medians (6 h).
    assert row(results, scope="service", window=7, service="s1")["lead_time_seconds"]["p50"] == 2 * HOUR
    assert row(results, scope="service", window=7, service="s2")["lead_time_seconds"]["p50"] == 10 * HOUR
    team = row(results, scope="team", window=7, team="core")
    assert team["lead_time_seconds"]["count"] == 4
    assert team["lead_time_seconds"]["p50"] == 2.5 * HOUR


def test_monorepo_path_prefixes_split_the_commits_between_services() -> None:
    svc = services(
        {"service": "web", "team": "front", "repositories": ("org/mono",), "path_prefixes": ("web/",)},
        {"service": "api", "team": "back", "repositories": ("org/mono",), "path_prefixes": ("api/",)},
    )
    history = [
        {"repo": "org/mono", "sha": "00000000", "authored_at": ts("2024-03-01T00:00Z"), "paths": ("README",)},
        {
            "repo": "org/mono",
            "sha": "00000001",
            "authored_at": ts("2024-03-01T01:00Z"),
            "parents": ("00000000",),
            "paths": ("web/a.py",),
        },
        {
            "repo": "org/mono",
            "sha": "00000002",
            "authored_at": ts("2024-03-01T02:00Z"),
            "parents": ("00000001",),
            "paths": ("api/b.py",),
        },
        {
            "repo": "org/mono",
            "sha": "00000003",
            "authored_at": ts("2024-03-01T03:00Z"),
            "parents": ("00000002",),
            "paths": ("web/c.py", "api/d.py"),
        },
    ]
    data = inputs(
        services=svc,
        commits=commits(*history),
        deployments=deployments(
            {"external_id": "w0", "service": "web", "sha": "00000000", "finished_at": "2024-03-01T00:30Z"},
            {"external_id": "w1", "service": "web", "sha": "00000003", "finished_at": "2024-03-01T10:00Z"},
            {"external_id": "a0", "service": "api", "sha": "00000000", "finished_at": "2024-03-01T00:30Z"},
            {"external_id": "a1", "service": "api", "sha": "00000003", "finished_at": "2024-03-01T10:00Z"},
        ),
    )
    results = compute_report(data, SETTINGS, AS_OF, windows=[30])
    # web ships 01 (9 h) and 03 (7 h) -> median 8 h; api ships 02 (8 h) and 03 (7 h) -> 7.5 h.
    web = row(results, scope="service", window=30, service="web")["lead_time_seconds"]
    api = row(results, scope="service", window=30, service="api")["lead_time_seconds"]
    assert (web["count"], web["p50"]) == (2, 8 * HOUR)
    assert (api["count"], api["p50"]) == (2, 7.5 * HOUR)


def test_a_commit_counts_once_at_the_first_production_deployment_of_its_service() -> None:
    svc = services({"production_environments": ("prod-eu", "prod-us")})
    data = inputs(
        services=svc,
        commits=commits({"sha": "c1c1c1c1", "authored_at": ts("2024-03-05T08:00Z")}),
        deployments=deployments(
            {
                "external_id": "eu",
                "environment": "prod-eu",
                "sha": "c1c1c1c1",
                "finished_at": "2024-03-05T10:00Z",
                "commits": ("c1c1c1c1",),
            },
            {
                "external_id": "us",
                "environment": "prod-us",
                "sha": "c1c1c1c1",
                "finished_at": "2024-03-05T12:00Z",
                "commits": ("c1c1c1c1",),
            },
        ),
    )
    results = compute_report(data, SETTINGS, AS_OF, windows=[7])
    eu = row(results, scope="service", window=7, environment="prod-eu")
    us = row(results, scope="service", window=7, environment="prod-us")
    assert (eu["lead_time_seconds"]["count"], eu["lead_time_seconds"]["p50"]) == (1, 2 * HOUR)
    assert (us["deployments"], us["lead_time_seconds"]["count"]) == (1, 0)
    assert row(results, scope="team", window=7, team="core")["lead_time_seconds"]["count"] == 1


def test_redeploying_after_a_rollback_does_not_count_the_commit_again() -> None:
    data = inputs(
        commits=commits(*chain([("r0000001", "2024-03-01T00:00Z"), ("r0000002", "2024-03-02T00:00Z")])),
        deployments=deployments(
            {"external_id": "1", "sha": "r0000001", "finished_at": "2024-03-01T01:00Z"},
            {"external_id": "2", "sha": "r0000002", "finished_at": "2024-03-02T06:00Z"},
            {"external_id": "3", "sha": "r0000001", "finished_at": "2024-03-02T07:00Z"},
            {"external_id": "4", "sha": "r0000002", "finished_at": "2024-03-03T00:00Z"},
        ),
    )
    lead = row(compute_report(data, SETTINGS, AS_OF, windows=[30]), scope="service", window=30)["lead_time_seconds"]
    # r2 counts once, at deployment 2 (6 h), not again at deployment 4.
    assert (lead["count"], lead["p50"]) == (1, 6 * HOUR)


def test_unknown_sha_still_counts_and_its_changes_go_to_the_next_known_deployment() -> None:
    data = inputs(
        commits=commits(*_linear()),
        deployments=deployments(
            {"external_id": "1", "sha": "c0000001", "finished_at": "2024-03-01T12:00Z"},
            {"external_id": "2", "sha": "deadbeef", "finished_at": "2024-03-02T12:00Z"},
            {"external_id": "3", "sha": "c0000003", "finished_at": "2024-03-03T12:00Z"},
        ),
    )
    result = row(compute_report(data, SETTINGS, AS_OF, windows=[30]), scope="service", window=30)
    assert result["deployments"] == 3
    assert result["unknown_sha_deployments"] == 1
    # c2 (+1.5 d) and c3 (+0.5 d) both land at deployment 3.
    assert result["lead_time_seconds"]["count"] == 2
    assert result["lead_time_seconds"]["p50"] == DAY

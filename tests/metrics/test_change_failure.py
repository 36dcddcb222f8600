"""Failed deployments: incident links (explicit id, explicit sha, time window), rollbacks, reverts;
recovery time and rework."""

from __future__ import annotations

import pytest
from metric_frames import HOUR, at, chain, commits, deployments, incidents, inputs, pull_requests, row, services, ts

from metrics import MetricSettings, compute_report, derive_links

SETTINGS = MetricSettings()
AS_OF = at("2024-03-10T00:00:00Z")
HISTORY = chain(
    [
        ("a0000001", "2024-03-01T00:00Z"),
        ("a0000002", "2024-03-02T00:00Z"),
        ("a0000003", "2024-03-03T00:00Z"),
    ]
)
THREE = (
    {"external_id": "1", "sha": "a0000001", "finished_at": "2024-03-01T12:00Z"},
    {"external_id": "2", "sha": "a0000002", "finished_at": "2024-03-02T12:00Z"},
    {"external_id": "3", "sha": "a0000003", "finished_at": "2024-03-03T12:00Z"},
)


def _report(data: object, window: int = 30) -> dict[str, object]:
    return row(compute_report(data, SETTINGS, AS_OF, windows=[window]), scope="service", window=window)  # type: ignore[arg-type]


def _links_methods(data: object) -> dict[str, str]:
    links = derive_links(data, SETTINGS)  # type: ignore[arg-type]
    return dict(
        zip(
            links.incident_links["incident_key"],
            links.incident_links["deployment_key"] + "/" + links.incident_links["method"],
            strict=True,
        )
    )


def test_time_window_links_incident_to_latest_deployment_before_it_within_24h() -> None:
    data = inputs(
        commits=commits(*HISTORY),
        deployments=deployments(*THREE),
        incidents=incidents(
            {"external_id": "1", "created_at": "2024-03-02T13:00Z", "resolved_at": "2024-03-02T15:00Z"},
        ),
    )
    result = _report(data)
    # incident at 13:00 blames deployment 2 (12:00); 1 of 3 failed; recovery 15:00 - 12:00 = 3 h.
    assert result["failed_deployments"] == 1
    assert result["change_failure_rate"] == pytest.approx(1 / 3)
    assert result["recovery_time_seconds"]["p50"] == 3 * HOUR
    assert _links_methods(data) == {"pd:1": "ci:2/time_window"}


def test_incident_more_than_24h_after_the_last_deployment_is_not_linked() -> None:
    data = inputs(
        commits=commits(*HISTORY),
        deployments=deployments(*THREE),
        incidents=incidents(
            {"external_id": "1", "created_at": "2024-03-04T12:00:01Z", "resolved_at": "2024-03-04T13:00Z"},
        ),
    )
    result = _report(data)
    assert result["failed_deployments"] == 0
    assert result["change_failure_rate"] == 0.0
    # still a time-to-restore sample: 59 min 59 s
    assert result["time_to_restore_seconds"]["p50"] == HOUR - 1


def test_explicit_deployment_id_wins_over_the_time_window() -> None:
    data = inputs(
        commits=commits(*HISTORY),
        deployments=deployments(*THREE),
        incidents=incidents(
            {
                "external_id": "1",
                "created_at": "2024-03-03T13:00Z",
                "resolved_at": "2024-03-03T14:00Z",
                "cause_deployment_id": "1",
            },
        ),
    )
    assert _links_methods(data) == {"pd:1": "ci:1/explicit_deployment_id"}
    # recovery = 03-03 14:00 - 03-01 12:00 = 50 h
    assert _report(data)["recovery_time_seconds"]["p50"] == 50 * HOUR


def test_explicit_sha_links_the_deployment_that_shipped_the_commit() -> None:
    data = inputs(
        commits=commits(*HISTORY),
        deployments=deployments(*THREE),
        incidents=incidents(
            {
                "external_id": "1",
                "created_at": "2024-03-03T13:00Z",
                "resolved_at": "2024-03-03T14:00Z",
                "cause_sha": "A0000002",
            },
        ),
    )
    assert _links_methods(data) == {"pd:1": "ci:2/explicit_sha"}


def test_incident_of_another_service_is_never_linked() -> None:
    svc = services({}, {"service": "billing", "team": "money", "repositories": ("org/billing",)})
    data = inputs(
        services=svc,
        commits=commits(*HISTORY),
        deployments=deployments(*THREE),
        incidents=incidents(
            {
                "external_id": "1",
                "service": "billing",
                "created_at": "2024-03-02T13:00Z",
                "resolved_at": "2024-03-02T14:00Z",
                "cause_deployment_id": "2",
            },
            {
                "external_id": "2",
                "service": None,
                "created_at": "2024-03-02T13:00Z",
                "resolved_at": "2024-03-02T15:00Z",
            },
        ),
    )
    results = compute_report(data, SETTINGS, AS_OF, windows=[30])
    app = row(results, scope="service", window=30, service="app")
    assert app["failed_deployments"] == 0
    assert app["time_to_restore_seconds"]["count"] == 0
    billing = row(results, scope="service", window=30, service="billing")
    assert billing["time_to_restore_seconds"]["p50"] == HOUR
    org = row(results, scope="organisation", window=30)
    # org pools both incidents, the unmapped one included: 1 h and 2 h -> median 1.5 h
    assert org["time_to_restore_seconds"] == {"count": 2, "p50": 1.5 * HOUR, "p90": 1.9 * HOUR}
    assert org["failed_deployments"] == 0


def test_unresolved_incident_makes_the_failure_unrecovered() -> None:
    data = inputs(
        commits=commits(*HISTORY),
        deployments=deployments(*THREE),
        incidents=incidents(
            {"external_id": "1", "created_at": "2024-03-02T13:00Z"},
            {"external_id": "2", "created_at": "2024-03-02T14:00Z", "resolved_at": "2024-03-02T16:00Z"},
        ),
    )
    result = _report(data)
    assert result["failed_deployments"] == 1
    assert result["recovery_time_seconds"] == {"count": 0, "p50": None, "p90": None, "unrecovered": 1, "excluded": 0}
    assert result["time_to_restore_seconds"]["count"] == 1


def test_an_open_incident_leaves_failures_recovered_by_rollback_recovered() -> None:
    """Regression: a lookup turned "no linked incident" into "open incident" for every failure as soon as
    one failure had an open incident, so rollback failures lost their recovery time."""
    history = chain(
        [("b0000001", "2024-03-01T00:00Z"), ("b0000002", "2024-03-02T00:00Z"), ("b0000003", "2024-03-03T00:00Z")]
    )
    data = inputs(
        commits=commits(*history),
        deployments=deployments(
            {"external_id": "1", "sha": "b0000001", "finished_at": "2024-03-01T12:00Z"},
            {"external_id": "2", "sha": "b0000002", "finished_at": "2024-03-02T12:00Z"},
            {"external_id": "3", "sha": "b0000003", "finished_at": "2024-03-03T12:00Z"},
            {"external_id": "4", "sha": "b0000001", "finished_at": "2024-03-03T18:00Z"},
        ),
        incidents=incidents({"external_id": "1", "created_at": "2024-03-01T13:00Z"}),
    )
    result = _report(data)
    # 1 failed by the open incident (13:00, within 24 h of 1): unrecovered. 2 and 3 failed by the rollback 4
    # to version 1 and recovered by it: 30 h and 6 h -> p50 18 h, p90 6 + 0.9 * 24 = 27.6 h.
    assert result["failed_deployments"] == 3
    recovery = result["recovery_time_seconds"]
    assert (recovery["count"], recovery["unrecovered"]) == (2, 1)
    assert recovery["p50"] == 18 * HOUR
    assert recovery["p90"] == pytest.approx(27.6 * HOUR)


def test_recovery_takes_the_latest_resolution_of_the_linked_incidents() -> None:
    data = inputs(
        commits=commits(*HISTORY),
        deployments=deployments(*THREE),
        incidents=incidents(
            {"external_id": "1", "created_at": "2024-03-02T13:00Z", "resolved_at": "2024-03-02T14:00Z"},
            {"external_id": "2", "created_at": "2024-03-02T13:30Z", "resolved_at": "2024-03-02T17:00Z"},
        ),
    )
    assert _report(data)["recovery_time_seconds"]["p50"] == 5 * HOUR


def test_rollback_fails_every_deployment_between_restored_version_and_rollback() -> None:
    history = chain(
        [("b0000001", "2024-03-01T00:00Z"), ("b0000002", "2024-03-02T00:00Z"), ("b0000003", "2024-03-03T00:00Z")]
    )
    data = inputs(
        commits=commits(*history),
        deployments=deployments(
            {"external_id": "1", "sha": "b0000001", "finished_at": "2024-03-01T12:00Z"},
            {"external_id": "2", "sha": "b0000002", "finished_at": "2024-03-02T12:00Z"},
            {"external_id": "3", "sha": "b0000003", "finished_at": "2024-03-03T12:00Z"},
            {"external_id": "4", "sha": "b0000001", "finished_at": "2024-03-03T18:00Z"},
        ),
    )
    result = _report(data)
    # 2 and 3 failed (restored version 1, rollback 4): CFR 2/4. Recovery: 4 - 2 = 30 h, 4 - 3 = 6 h
    # -> p50 18 h, p90 6 + 0.9 * 24 = 27.6 h. Rework: 4 (rollback) and 3 (first after failed 2, before
    # its recovery at 4) -> 2/4.
    assert result["failed_deployments"] == 2
    assert result["change_failure_rate"] == 0.5
    assert result["recovery_time_seconds"]["p50"] == 18 * HOUR
    assert result["recovery_time_seconds"]["p90"] == pytest.approx(27.6 * HOUR)
    assert result["rework_deployments"] == 2
    assert result["rework_rate"] == 0.5


def test_marked_rollback_of_an_unknown_version_fails_the_previous_deployment() -> None:
    data = inputs(
        commits=commits(*HISTORY),
        deployments=deployments(
            *THREE[:2],
            {"external_id": "3", "sha": "ffff0000", "finished_at": "2024-03-02T14:00Z", "is_rollback": True},
        ),
    )
    links = derive_links(data, SETTINGS)
    assert set(links.failures["deployment_key"]) == {"ci:2"}
    assert _report(data)["recovery_time_seconds"]["p50"] == 2 * HOUR


def test_redeploying_the_same_sha_is_not_a_rollback() -> None:
    data = inputs(
        commits=commits(*HISTORY),
        deployments=deployments(
            *THREE[:2],
            {"external_id": "3", "sha": "a0000002", "finished_at": "2024-03-02T14:00Z"},
        ),
    )
    assert _report(data)["failed_deployments"] == 0


def test_revert_commit_fails_the_deployment_that_shipped_the_reverted_change() -> None:
    history = [
        *chain([("c0000001", "2024-03-01T00:00Z"), ("fea70001", "2024-03-02T00:00Z")]),
        {
            "sha": "c0000003",
            "authored_at": ts("2024-03-02T20:00Z"),
            "parents": ("fea70001",),
            "message": 'Revert "feature"\n\nThis reverts commit fea70001.',
        },
    ]
    data = inputs(
        commits=commits(*history),
        deployments=deployments(
            {"external_id": "1", "sha": "c0000001", "finished_at": "2024-03-01T12:00Z"},
            {"external_id": "2", "sha": "fea70001", "finished_at": "2024-03-02T12:00Z"},
            {"external_id": "3", "sha": "c0000003", "finished_at": "2024-03-02T22:00Z"},
        ),
    )
    result = _report(data)
    # deployment 2 failed (revert shipped by 3), recovery 22:00 - 12:00 = 10 h; rework: 3 (revert) -> 1/3
    assert result["failed_deployments"] == 1
    assert result["recovery_time_seconds"]["p50"] == 10 * HOUR
    assert result["rework_deployments"] == 1
    failures = derive_links(data, SETTINGS).failures
    assert failures[["deployment_key", "reason", "method", "remediated_by"]].values.tolist() == [
        ["ci:2", "revert", "revert_message", "ci:3"]
    ]


def test_revert_pull_request_by_title_fails_the_deployment_of_the_reverted_pull_request() -> None:
    history = chain(
        [("d0000001", "2024-03-01T00:00Z"), ("d0000002", "2024-03-02T00:00Z"), ("d0000003", "2024-03-03T00:00Z")]
    )
    prs = pull_requests(
        {
            "number": 1,
            "title": "Add search",
            "created_at": ts("2024-03-01T23:00Z"),
            "merged_at": ts("2024-03-02T01:00Z"),
            "merge_sha": "d0000002",
            "commits": ("d0000002",),
        },
        {
            "number": 2,
            "title": 'Revert "Add search"',
            "created_at": ts("2024-03-02T23:00Z"),
            "merged_at": ts("2024-03-03T01:00Z"),
            "merge_sha": "d0000003",
            "commits": ("d0000003",),
        },
    )
    data = inputs(
        commits=commits(*history),
        pull_requests=prs,
        deployments=deployments(
            *[
                {"external_id": "1", "sha": "d0000001", "finished_at": "2024-03-01T12:00Z"},
                {"external_id": "2", "sha": "d0000002", "finished_at": "2024-03-02T12:00Z"},
                {"external_id": "3", "sha": "d0000003", "finished_at": "2024-03-03T12:00Z"},
            ]
        ),
    )
    failures = derive_links(data, SETTINGS).failures
    assert failures[["deployment_key", "method", "remediated_by"]].values.tolist() == [["ci:2", "revert_title", "ci:3"]]


def test_hotfix_branch_or_label_makes_the_deployment_rework() -> None:
    history = chain(
        [
            ("e0000001", "2024-03-01T00:00Z"),
            ("e0000002", "2024-03-02T00:00Z"),
            ("e0000003", "2024-03-03T00:00Z"),
            ("e0000004", "2024-03-04T00:00Z"),
        ]
    )
    prs = pull_requests(
        {
            "number": 1,
            "head_branch": "hotfix/login",
            "created_at": ts("2024-03-02T00:00Z"),
            "merged_at": ts("2024-03-02T01:00Z"),
            "merge_sha": "e0000002",
        },
        {
            "number": 2,
            "labels": ("HotFix",),
            "created_at": ts("2024-03-03T00:00Z"),
            "merged_at": ts("2024-03-03T01:00Z"),
            "merge_sha": "e0000003",
        },
        {
            "number": 3,
            "title": "hotfix: typo",
            "created_at": ts("2024-03-04T00:00Z"),
            "merged_at": ts("2024-03-04T01:00Z"),
            "merge_sha": "e0000004",
        },
    )
    data = inputs(
        commits=commits(*history),
        pull_requests=prs,
        deployments=deployments(
            {"external_id": "1", "sha": "e0000001", "finished_at": "2024-03-01T12:00Z"},
            {"external_id": "2", "sha": "e0000002", "finished_at": "2024-03-02T12:00Z"},
            {"external_id": "3", "sha": "e0000003", "finished_at": "2024-03-03T12:00Z"},
            {"external_id": "4", "sha": "e0000004", "finished_at": "2024-03-04T12:00Z"},
        ),
    )
    # branch prefix (2) and label, case-insensitive (3) are hotfixes; a title is not by default (4).
    result = _report(data)
    assert result["rework_deployments"] == 2
    assert result["rework_rate"] == 0.5


def test_first_deployment_after_a_failure_and_before_its_recovery_is_rework() -> None:
    data = inputs(
        commits=commits(*HISTORY),
        deployments=deployments(*THREE),
        incidents=incidents(
            {"external_id": "1", "created_at": "2024-03-01T13:00Z", "resolved_at": "2024-03-02T20:00Z"},
        ),
    )
    # deployment 1 failed (incident 13:00), recovered 03-02 20:00; deployment 2 (03-02 12:00) is the first
    # after it and before recovery -> rework 1/3; deployment 3 is after the recovery.
    result = _report(data)
    assert result["rework_deployments"] == 1
    assert result["rework_rate"] == pytest.approx(1 / 3)

"""An incident's stated cause is kept even when it is not a DORA deployment; ties never depend on row order.

docs/metrics.md, "Failed deployments": an incident whose ``cause_deployment_id`` names a stored
deployment that is not a successful production deployment (a failed attempt, a staging deployment) is
linked to none, and no other deployment is blamed for it by sha or by time; it still counts in time to
restore. Among production deployments finishing in the same instant, the time-window rule blames the
latest in the documented order (``finished_at``, ``started_at``, key); among PRs merged in the same
instant with the title a revert names, the higher number is the one reverted.
"""

from __future__ import annotations

import pandas as pd
from metric_frames import at, chain, commits, deployments, incidents, inputs, pull_requests, row, services, ts

from metrics import MetricSettings, compute_report, derive_links

SETTINGS = MetricSettings()
HISTORY = commits(*chain([("c1", "2024-03-01T00:00Z"), ("c2", "2024-03-02T00:00Z")]))
GOOD = {"external_id": "1", "sha": "c1", "finished_at": "2024-03-05T12:00Z"}


def _failed(data: object) -> dict[str, bool]:
    table = derive_links(data, SETTINGS).deployments  # type: ignore[arg-type]
    return dict(zip(table["deployment_key"], table["failed"], strict=True))


def test_an_incident_caused_by_a_failed_attempt_blames_no_other_deployment() -> None:
    # ci:2 is a failed attempt at 12:30; the incident (13:00, within 24 h of the good ci:1) states
    # ci:2 as its cause. Without the stated cause the time window would blame ci:1.
    attempt = {"external_id": "2", "sha": "c2", "status": "failure", "finished_at": "2024-03-05T12:30Z"}
    incident = {
        "external_id": "1",
        "created_at": "2024-03-05T13:00Z",
        "resolved_at": "2024-03-05T14:00Z",
        "cause_deployment_id": "2",
    }
    data = inputs(commits=HISTORY, deployments=deployments(GOOD, attempt), incidents=incidents(incident))
    links = derive_links(data, SETTINGS)
    assert links.incident_links.empty
    assert _failed(data) == {"ci:1": False, "ci:2": False}
    result = row(compute_report(data, SETTINGS, at("2024-03-10T00:00Z"), windows=[7]), scope="service", window=7)
    assert (result["deployments"], result["failed_deployments"]) == (1, 0)
    assert result["time_to_restore_seconds"]["count"] == 1  # the incident still counts: 1 h
    assert result["time_to_restore_seconds"]["p50"] == 3600


def test_an_incident_caused_by_a_staging_deployment_blames_no_production_deployment() -> None:
    staging = {"external_id": "s1", "sha": "c2", "environment": "staging", "finished_at": "2024-03-05T12:30Z"}
    incident = {"external_id": "1", "created_at": "2024-03-05T13:00Z", "cause_deployment_id": "s1"}
    data = inputs(commits=HISTORY, deployments=deployments(GOOD, staging), incidents=incidents(incident))
    assert derive_links(data, SETTINGS).incident_links.empty
    assert _failed(data) == {"ci:1": False}


def test_a_stated_cause_of_another_service_is_not_this_incidents_cause() -> None:
    # The incident of app names b's deployment: never linked across services (documented), so the
    # statement is ignored and the time window blames app's ci:1, as without a stated cause.
    other = {"external_id": "b1", "service": "b", "finished_at": "2024-03-05T12:30Z"}
    incident = {"external_id": "1", "created_at": "2024-03-05T13:00Z", "cause_deployment_id": "b1"}
    data = inputs(
        commits=HISTORY,
        deployments=deployments(GOOD, other),
        incidents=incidents(incident),
        services=services({}, {"service": "b", "team": "bee", "repositories": ("org/b",)}),
    )
    links = derive_links(data, SETTINGS).incident_links
    assert links[["deployment_key", "method"]].values.tolist() == [["ci:1", "time_window"]]


def test_the_time_window_blames_the_latest_of_simultaneous_deployments_whatever_the_row_order() -> None:
    # ci:eu and ci:us (two production environments) both finish at 12:00; ci:us started later, so it
    # is the later one in the documented order and the one the 13:00 incident is linked to.
    eu = {"external_id": "eu", "sha": "c1", "environment": "prod-eu", "started_at": ts("2024-03-05T11:40Z")}
    us = {"external_id": "us", "sha": "c1", "environment": "prod-us", "started_at": ts("2024-03-05T11:50Z")}
    both = [{**d, "finished_at": "2024-03-05T12:00Z"} for d in (eu, us)]
    incident = incidents({"external_id": "1", "created_at": "2024-03-05T13:00Z"})
    two_regions = services({"production_environments": ("prod-eu", "prod-us")})
    for order in (both, both[::-1]):
        data = inputs(commits=HISTORY, deployments=deployments(*order), incidents=incident, services=two_regions)
        links = derive_links(data, SETTINGS).incident_links
        assert links[["deployment_key", "method"]].values.tolist() == [["ci:us", "time_window"]]


def test_a_title_revert_of_prs_merged_in_the_same_instant_reverts_the_higher_number() -> None:
    merged = "2024-03-02T10:00Z"
    twins = [
        {"number": n, "title": "Add cache", "created_at": ts("2024-03-01T00:00Z"), "merged_at": ts(merged)}
        for n in (7, 8)
    ]
    revert = {
        "number": 9,
        "title": 'Revert "Add cache"',
        "created_at": ts("2024-03-03T00:00Z"),
        "merged_at": ts("2024-03-03T10:00Z"),
        "merge_sha": "c3",
        "commits": ("c3",),
    }
    history = commits(*chain([("c1", "2024-03-01T00:00Z"), ("c2", "2024-03-02T00:00Z"), ("c3", "2024-03-03T00:00Z")]))
    shipped = deployments(GOOD, {"external_id": "2", "sha": "c3", "finished_at": "2024-03-06T12:00Z"})
    for order in (twins, twins[::-1]):
        data = inputs(commits=history, deployments=shipped, pull_requests=pull_requests(*order, revert))
        reverts = derive_links(data, SETTINGS).reverts
        titled = reverts[reverts["how"] == "title"]
        assert titled[["revert_change_key", "reverted_change_key"]].values.tolist() == [
            ["pr:org/app#9", "pr:org/app#8"]
        ], pd.DataFrame(order)

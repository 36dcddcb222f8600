"""Audit: the deployment-frequency level of a window without deployments.

docs/metrics.md, "Scopes, windows, quantiles": "a window without deployments has frequency 0 and,
**when the scope deployed before**, level `low`" and "no data is not 'low'". "Deployment" is defined
in "Deployments and deployment frequency": "a deployment with status `success` to a production
environment, with a `finished_at`"; failed attempts are "never DORA deployments".

So whether an empty window is `low` or has no level depends on what the scope had deployed by the
as-of instant, not on events after it (the previous-period rows are computed with the same links
and an earlier as-of) nor on failed attempts.
"""

from __future__ import annotations

from metric_frames import at, deployments, inputs, row, services, ts

from metrics import MetricSettings, compute_report

SETTINGS = MetricSettings()


def test_a_scope_whose_first_deployment_is_after_as_of_has_no_frequency_level() -> None:
    # The only deployment finished on 03-20; the report is for as-of 03-10 (e.g. the previous-period
    # row of a service that started deploying in the current period). At 03-10 the service had
    # never deployed: frequency 0.0 and no level, for the service, its team and the organisation.
    data = inputs(deployments=deployments({"external_id": "1", "finished_at": "2024-03-20T12:00Z"}))
    results = compute_report(data, SETTINGS, at("2024-03-10T00:00Z"), windows=[7])
    for scope in ("service", "team", "organisation"):
        result = row(results, scope=scope, window=7)
        assert result["deployments"] == 0
        assert result["deployment_frequency_per_day"] == 0.0
        assert result["levels"]["deployment_frequency"] is None, scope


def test_a_deployment_before_the_window_still_makes_an_empty_window_low() -> None:
    # Control: deployed on 03-01, window (03-03, 03-10] empty -> low (the documented case).
    data = inputs(
        deployments=deployments(
            {"external_id": "1", "finished_at": "2024-03-01T12:00Z"},
            {"external_id": "2", "finished_at": "2024-03-20T12:00Z"},
        )
    )
    results = compute_report(data, SETTINGS, at("2024-03-10T00:00Z"), windows=[7])
    for scope in ("service", "team", "organisation"):
        assert row(results, scope=scope, window=7)["levels"]["deployment_frequency"] == "low", scope


def test_a_scope_with_only_failed_attempts_has_no_frequency_level() -> None:
    # Service b only ever had a failed production attempt (03-01): its row exists (an environment
    # it tried to deploy to), but it never made a DORA deployment, so its empty window has no level.
    # Its team likewise; app's team and the organisation deployed (app, 03-09), so they keep levels.
    data = inputs(
        deployments=deployments(
            {"external_id": "1", "finished_at": "2024-03-09T00:00Z"},
            {"external_id": "2", "service": "b", "status": "failure", "finished_at": ts("2024-03-01T00:00Z")},
        ),
        services=services({}, {"service": "b", "team": "bee", "repositories": ("org/b",)}),
    )
    results = compute_report(data, SETTINGS, at("2024-03-10T00:00Z"), windows=[7])
    b = row(results, scope="service", window=7, service="b")
    assert (b["environment"], b["deployments"], b["failed_attempts"]) == ("production", 0, 0)
    assert b["levels"]["deployment_frequency"] is None
    assert row(results, scope="team", window=7, team="bee")["levels"]["deployment_frequency"] is None
    assert row(results, scope="team", window=7, team="core")["levels"]["deployment_frequency"] == "high"
    assert row(results, scope="organisation", window=7)["levels"]["deployment_frequency"] == "high"

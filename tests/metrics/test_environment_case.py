"""Production environments are matched case-insensitively (docs/metrics.md, "Production").

GitHub shows and sends environment names as the repository spells them (``Production``), while the
defaults and most configs say ``production``; a deployment must not drop out of every figure over the
case of one letter. The deployment keeps its own spelling in the scope rows.
"""

from __future__ import annotations

from metric_frames import at, deployments, inputs, row, services

from metrics import MetricSettings, compute_report, derive_links

SETTINGS = MetricSettings()


def test_an_unconfigured_service_deploying_to_Production_counts_under_the_default_names() -> None:
    data = inputs(
        deployments=deployments(
            {"external_id": "1", "service": "web", "environment": "Production", "finished_at": "2024-03-05T12:00Z"},
            {"external_id": "2", "service": "web", "environment": "PROD", "finished_at": "2024-03-06T12:00Z"},
            {"external_id": "3", "service": "web", "environment": "Staging", "finished_at": "2024-03-07T12:00Z"},
        )
    )
    table = derive_links(data, SETTINGS).deployments
    assert sorted(table["deployment_key"]) == ["ci:1", "ci:2"]
    results = compute_report(data, SETTINGS, at("2024-03-10T00:00Z"), windows=[7])
    assert row(results, scope="organisation", window=7)["deployments"] == 2
    assert row(results, scope="service", window=7, service="web", environment="Production")["deployments"] == 1


def test_a_configured_production_environment_matches_whatever_the_case() -> None:
    data = inputs(
        services=services({"production_environments": ("prod-eu",)}),
        deployments=deployments(
            {"external_id": "1", "environment": "PROD-EU", "finished_at": "2024-03-05T12:00Z"},
            {"external_id": "2", "environment": "production", "finished_at": "2024-03-06T12:00Z"},
        ),
    )
    # app is configured with prod-eu only: PROD-EU counts, "production" (a default name) does not
    assert derive_links(data, SETTINGS).deployments["deployment_key"].tolist() == ["ci:1"]

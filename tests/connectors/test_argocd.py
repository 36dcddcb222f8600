"""Argo CD source over hand-built application payloads (see tests/fixtures/argocd/SOURCE.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import responses
from connector_helpers import (
    FakeClock,
    FakeServices,
    load_fixture,
    merged_cursors,
    records_of,
    run_batches,
    run_until_error,
)

from connectors.argocd import ArgoCdSource, Settings
from connectors.base import SourceContext
from connectors.errors import ErrorKind, SourceError
from connectors.records import CursorKey, Deployment, DeploymentStatus, Incident, RawPayload

SERVER = "https://argocd.acme.test"
APPS = f"{SERVER}/api/v1/applications"
TOKEN = "argocd-SECRET-jwt-token"
RUN_START = datetime(2024, 5, 25, 12, 0, tzinfo=UTC)
R2, R3, R4 = "2" * 40, "3" * 40, "4" * 40
RULES = [{"name": "*-prod", "environment": "production"}]


def source(clock: FakeClock, run_start: datetime = RUN_START, **overrides) -> ArgoCdSource:
    data = {"name": "argo", "kind": "argocd", "base_url": SERVER, "token": TOKEN, "rules": RULES}
    data.update(overrides)
    services = FakeServices()
    context = SourceContext(run_started_at=run_start, services=services)
    return ArgoCdSource(Settings.model_validate(data), context, sleep=clock.sleep, clock=clock)


def test_sync_history_entries_matching_a_rule_are_successful_deployments(mocked, fake_clock):
    mocked.add(responses.GET, APPS, json=load_fixture("argocd", "applications.json"))
    batches = run_batches(source(fake_clock, services={"checkout-prod": "checkout"}))
    found = {d.external_id: d for d in records_of(batches, Deployment)}
    # grafana-tools matches no rule (*-prod): no deployment, though its payload is kept
    assert sorted(found) == [
        "checkout-prod/history/4",
        "checkout-prod/history/5",
        "payments-prod/history/11",
        "search-prod/history/2",
        "search-prod/operations/2024-05-25T11:00:00Z",
    ]
    latest = found["checkout-prod/history/5"]
    assert latest.status is DeploymentStatus.SUCCESS and latest.sha == R2
    assert latest.finished_at == datetime(2024, 5, 22, 9, 1, 10, tzinfo=UTC)
    assert latest.started_at == datetime(2024, 5, 22, 9, 0, tzinfo=UTC)
    assert (latest.service, latest.environment) == ("checkout", "production")
    assert found["payments-prod/history/11"].service == "payments-prod"  # no mapping: the application name
    failed = found["search-prod/operations/2024-05-25T11:00:00Z"]
    assert failed.status is DeploymentStatus.FAILURE and failed.sha == R4
    assert failed.finished_at == datetime(2024, 5, 25, 11, 2, tzinfo=UTC)
    assert sorted(r.external_id for r in records_of(batches, RawPayload)) == [
        "checkout-prod",
        "grafana-tools",
        "payments-prod",
        "search-prod",
    ]
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_environment_defaults_to_the_destination_namespace(mocked, fake_clock):
    mocked.add(responses.GET, APPS, json=load_fixture("argocd", "applications.json"))
    batches = run_batches(source(fake_clock, rules=[{"ci_environment": "checkout"}]))
    assert {(d.external_id, d.environment) for d in records_of(batches, Deployment)} == {
        ("checkout-prod/history/4", "checkout"),
        ("checkout-prod/history/5", "checkout"),
    }


def test_degraded_app_after_a_sync_opens_an_incident_caused_by_that_sync_then_resolves(mocked, fake_clock):
    mocked.add(responses.GET, APPS, json=load_fixture("argocd", "applications.json"))
    first = run_batches(source(fake_clock))
    (incident,) = records_of(first, Incident)
    assert incident.external_id == "payments-prod/degraded/11"
    assert incident.cause_deployment_id == "payments-prod/history/11"  # the external id of the deployment
    assert incident.created_at == datetime(2024, 5, 24, 14, 5, tzinfo=UTC)  # health lastTransitionTime
    assert incident.resolved_at is None
    assert incident.service == "payments-prod"
    stored = merged_cursors(first)
    assert list(json.loads(stored[CursorKey("degraded")])) == ["payments-prod/degraded/11"]

    mocked.replace(responses.GET, APPS, json=load_fixture("argocd", "applications_recovered.json"))
    second = run_batches(source(fake_clock, run_start=datetime(2024, 5, 25, 13, 0, tzinfo=UTC)), stored)
    (recovered,) = records_of(second, Incident)
    assert recovered.external_id == "payments-prod/degraded/11"
    assert recovered.created_at == datetime(2024, 5, 24, 14, 5, tzinfo=UTC)  # kept from the first sighting
    assert recovered.resolved_at == datetime(2024, 5, 24, 15, 20, tzinfo=UTC)  # healthy again
    assert json.loads(merged_cursors(second, stored)[CursorKey("degraded")]) == {}


def test_degraded_incidents_can_be_switched_off(mocked, fake_clock):
    mocked.add(responses.GET, APPS, json=load_fixture("argocd", "applications.json"))
    assert records_of(run_batches(source(fake_clock, degraded_incidents=False)), Incident) == []


def test_projects_and_selector_filter_the_listing(mocked, fake_clock):
    mocked.add(responses.GET, APPS, json={"items": []})
    run_batches(source(fake_clock, projects=["shop", "ops"], selector="team=shop"))
    assert mocked.calls[0].request.url == f"{APPS}?projects=shop&projects=ops&selector=team%3Dshop"


def test_503_is_retried_and_403_is_fatal_without_leaking_the_token(mocked, fake_clock):
    mocked.add(responses.GET, APPS, status=503)
    mocked.add(responses.GET, APPS, json={"items": []})
    run_batches(source(fake_clock))
    assert len(fake_clock.sleeps) == 1

    mocked.replace(responses.GET, APPS, status=403, json={"error": "permission denied", "code": 7})
    _, error = run_until_error(source(fake_clock))
    assert isinstance(error, SourceError) and error.kind is ErrorKind.FATAL
    assert TOKEN not in str(error)


def test_an_open_degraded_incident_of_a_deleted_application_is_resolved_at_the_run_start(mocked, fake_clock):
    stored = {
        CursorKey("degraded"): json.dumps(
            {
                "old-prod/degraded/3": {
                    "service": "old",
                    "deployment": "old-prod/history/3",
                    "created_at": "2024-05-01T00:00:00+00:00",
                }
            }
        )
    }
    mocked.add(responses.GET, APPS, json={"items": []})
    batches = run_batches(source(fake_clock), stored)
    (incident,) = records_of(batches, Incident)
    assert incident.resolved_at == RUN_START and incident.cause_deployment_id == "old-prod/history/3"
    assert json.loads(merged_cursors(batches)[CursorKey("degraded")]) == {}

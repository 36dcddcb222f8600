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


def _multi_source_app() -> dict:
    """A multi-source application as Argo CD >= 2.6 returns it (``v1alpha1.RevisionHistory``: ``revision``
    is empty, ``revisions[i]`` is the revision of ``sources[i]``): a Helm chart from a chart repository,
    its values from a Git repository (``ref: values``), and plain manifests from the service's repository."""
    sources = [
        {"repoURL": "https://charts.acme.test", "chart": "checkout", "targetRevision": "1.4.2"},
        {"repoURL": "git@github.com:acme/checkout-values.git", "targetRevision": "main", "ref": "values"},
        {"repoURL": "https://github.com/acme/checkout.git", "path": "deploy", "targetRevision": "main"},
    ]
    return {
        "metadata": {"name": "checkout-prod"},
        "spec": {"sources": sources, "destination": {"namespace": "checkout"}},
        "status": {
            "history": [
                {
                    "id": 7,
                    "deployStartedAt": "2024-05-22T09:00:00Z",
                    "deployedAt": "2024-05-22T09:01:10Z",
                    "sources": sources,
                    "revisions": ["1.4.2", R3, R2],
                }
            ],
            "operationState": {
                "operation": {"sync": {"revisions": ["1.4.3", R3, R4]}},
                "phase": "Failed",
                "startedAt": "2024-05-25T11:00:00Z",
                "finishedAt": "2024-05-25T11:02:00Z",
                "syncResult": {"revisions": ["1.4.3", R3, R4], "sources": sources},
            },
        },
    }


def test_multi_source_application_deploys_the_repo_and_sha_of_its_git_source(mocked, fake_clock):
    mocked.add(responses.GET, APPS, json={"items": [_multi_source_app()]})
    found = {d.external_id: d for d in records_of(run_batches(source(fake_clock)), Deployment)}
    synced = found["checkout-prod/history/7"]
    # before: spec.source and entry.revision are absent in a multi-source app, so repo and sha were None
    assert (synced.repo, synced.sha) == ("acme/checkout", R2)
    failed = found["checkout-prod/operations/2024-05-25T11:00:00Z"]
    assert (failed.status, failed.repo, failed.sha) == (DeploymentStatus.FAILURE, "acme/checkout", R4)


def test_multi_source_with_only_a_values_ref_git_source_uses_that_source(mocked, fake_clock):
    app = _multi_source_app()
    del app["spec"]["sources"][2]  # the same list as the history entry's and the sync result's sources
    app["status"]["history"][0]["revisions"] = ["1.4.2", R3]
    mocked.add(responses.GET, APPS, json={"items": [app]})
    (synced,) = [d for d in records_of(run_batches(source(fake_clock)), Deployment) if "/history/" in d.external_id]
    assert (synced.repo, synced.sha) == ("acme/checkout-values", R3)


def test_deployment_repo_is_owner_and_name_of_the_repo_url_as_git_hosts_name_it(mocked, fake_clock):
    mocked.add(responses.GET, APPS, json=load_fixture("argocd", "applications.json"))
    deployments = records_of(run_batches(source(fake_clock)), Deployment)
    # spec.source.repoURL is https://github.com/acme/gitops.git; commits of that repo are stored as acme/gitops,
    # so a full URL as repo made every Argo CD sha unknown to the metrics' commit graph
    assert {d.repo for d in deployments if d.external_id.startswith("checkout-prod/")} == {"acme/gitops"}


def test_helm_chart_source_has_no_repo_but_keeps_its_chart_version():
    from connectors.argocd import deployed_revision

    chart = {"repoURL": "https://charts.acme.test", "chart": "checkout", "targetRevision": "1.4.2"}
    revision = deployed_revision({"revision": "1.4.2", "source": chart}, {"source": chart})
    assert (revision.repo, revision.sha) == (None, "1.4.2")

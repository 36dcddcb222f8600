"""Webhooks: signed, unsigned, replayed and oversize deliveries, on both store backends.

GitHub payloads are the octokit examples in ``tests/fixtures/github_webhooks`` (see its SOURCE.md);
the expected field values below were read from those files by hand. GitLab and PagerDuty payloads
are written here, shaped as their documentation shows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from collector.config.model import AppConfig
from collector.serve.app import create_app
from collector.serve.context import build_context
from collector.serve.settings import (
    GitHubWebhookSettings,
    GitLabWebhookSettings,
    PagerDutyWebhookSettings,
    ServerSettings,
    WebhookSettings,
)
from collector.store.models import CommitRow, DeploymentRow, IncidentRow, PipelineRunRow, PullRequestRow, RawPayloadRow
from collector.store.writer import write_records
from connectors.records import PullRequest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github_webhooks"
GH_SECRET = "gh-webhook-secret"
GL_TOKEN = "gl-webhook-token"
PD_SECRET = "pd-webhook-secret"
RECEIVED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def context(engine):
    hooks = WebhookSettings(
        github=GitHubWebhookSettings(secret=SecretStr(GH_SECRET), incident_labels=("bug",)),
        gitlab=GitLabWebhookSettings(token=SecretStr(GL_TOKEN)),
        pagerduty=PagerDutyWebhookSettings(secret=SecretStr(PD_SECRET), services={"PSVC1": "checkout"}),
    )
    server = ServerSettings(max_body_bytes=64 * 1024, webhooks=hooks)
    return build_context(engine, AppConfig(), server=server, clock=lambda: RECEIVED)


@pytest.fixture
def client(context):
    return TestClient(create_app(context))


def fixture_body(name: str) -> bytes:
    return (FIXTURES / f"{name}.payload.json").read_bytes()


def github_headers(body: bytes, event: str, delivery: str, secret: str = GH_SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature,
        "Content-Type": "application/json",
    }


def rows(engine, model):
    with engine.connect() as connection:
        return connection.execute(select(model)).all()


def count(engine, model) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def test_signed_github_deployment_status_is_stored(client, engine):
    body = fixture_body("deployment_status")
    response = client.post("/webhooks/github", content=body, headers=github_headers(body, "deployment_status", "g-1"))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "stored"
    (row,) = rows(engine, DeploymentRow)
    assert row.source == "github"
    assert row.external_id == "Codertocat/Hello-World/deployments/145988746"
    assert row.service == "Codertocat/Hello-World"  # no configured service claims the repository
    assert row.environment == "production"
    assert row.status == "success"
    assert row.sha == "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    assert row.finished_at == datetime(2019, 5, 15, 15, 20, 55, tzinfo=UTC)  # deployment_status.created_at
    assert row.started_at == datetime(2019, 5, 15, 15, 20, 53, tzinfo=UTC)  # deployment.created_at
    (raw,) = rows(engine, RawPayloadRow)
    assert (raw.kind, raw.external_id) == ("webhook.github", "g-1")


@pytest.mark.parametrize("headers", [{}, {"X-Hub-Signature-256": "sha256=" + "0" * 64}, {"X-Hub-Signature-256": "x"}])
def test_unsigned_or_badly_signed_github_delivery_is_401_and_stores_nothing(client, engine, headers):
    body = fixture_body("deployment_status")
    response = client.post(
        "/webhooks/github",
        content=body,
        headers={"X-GitHub-Event": "deployment_status", "X-GitHub-Delivery": "g-1", **headers},
    )
    assert response.status_code == 401
    assert count(engine, DeploymentRow) == 0
    assert count(engine, RawPayloadRow) == 0


def test_github_delivery_signed_with_another_secret_is_refused(client, engine):
    body = fixture_body("deployment_status")
    headers = github_headers(body, "deployment_status", "g-1", secret="not-the-secret")
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 401
    assert count(engine, DeploymentRow) == 0


def test_replayed_github_delivery_is_a_no_op(client, engine):
    body = fixture_body("deployment_status")
    first = client.post("/webhooks/github", content=body, headers=github_headers(body, "deployment_status", "g-1"))
    assert first.json()["status"] == "stored"
    same_id = client.post("/webhooks/github", content=body, headers=github_headers(body, "deployment_status", "g-1"))
    assert same_id.json()["status"] == "duplicate"
    same_content = client.post(
        "/webhooks/github", content=body, headers=github_headers(body, "deployment_status", "g-2")
    )
    assert same_content.json()["status"] == "duplicate"
    assert count(engine, DeploymentRow) == 1
    assert count(engine, RawPayloadRow) == 1


def test_oversize_webhook_is_413_before_the_signature_and_stores_nothing(client, engine):
    body = json.dumps({"padding": "x" * 70_000}).encode()  # over the 64 KiB limit
    headers = github_headers(body, "push", "g-big")
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 413

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(100):
            yield b"x" * 1024

    streamed = {k: v for k, v in headers.items() if k != "Content-Length"}
    assert client.post("/webhooks/github", content=chunks(), headers=streamed).status_code == 413
    assert count(engine, RawPayloadRow) == 0


def test_github_push_pull_request_workflow_run_and_issue(client, engine):
    for name, event in [
        ("push.with-new-branch", "push"),
        ("pull_request.opened", "pull_request"),
        ("workflow_run.completed", "workflow_run"),
        ("issues.labeled", "issues"),
    ]:
        body = fixture_body(name)
        response = client.post("/webhooks/github", content=body, headers=github_headers(body, event, name))
        assert response.json()["status"] == "stored", (name, response.text)
    (commit,) = rows(engine, CommitRow)
    assert commit.sha == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert commit.authored_at == datetime(2019, 5, 15, 15, 19, 25, tzinfo=UTC)
    assert commit.paths == ["README.md"]
    (pr,) = rows(engine, PullRequestRow)
    assert (pr.repo, pr.number, pr.merged_at) == ("Codertocat/Hello-World", 2, None)
    (run,) = rows(engine, PipelineRunRow)
    assert run.status == "success"
    assert run.sha == "3484a3fb816e0859fd6e1cea078d76385ff50625"
    assert run.created_at == datetime(2020, 10, 5, 16, 33, 24, tzinfo=UTC)
    (incident,) = rows(engine, IncidentRow)  # labelled "bug", configured as an incident label
    assert incident.external_id == "Codertocat/Hello-World/issues/1"
    assert incident.created_at == datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC)
    assert incident.resolved_at is None  # still open


def test_pull_request_webhook_keeps_what_the_rest_sync_stored(client, engine):
    commits = ("a" * 40, "b" * 40)
    rest = PullRequest(
        source="github",
        repo="Codertocat/Hello-World",
        number=2,
        created_at=datetime(2019, 5, 15, 15, 20, 33, tzinfo=UTC),
        commits=commits,
        first_commit_at=datetime(2019, 5, 14, tzinfo=UTC),
    )
    with engine.begin() as connection:
        write_records(connection, [rest])
    body = fixture_body("pull_request.opened")
    client.post("/webhooks/github", content=body, headers=github_headers(body, "pull_request", "pr-1"))
    (pr,) = rows(engine, PullRequestRow)
    assert pr.commits == list(commits)
    assert pr.first_commit_at == datetime(2019, 5, 14, tzinfo=UTC)
    assert pr.title == "Update the README with new information."  # the webhook's own fields do update


def test_unhandled_github_event_is_acknowledged_and_not_stored(client, engine):
    body = fixture_body("release.published")
    response = client.post("/webhooks/github", content=body, headers=github_headers(body, "release", "r-1"))
    assert response.json() == {"status": "ignored"}
    assert count(engine, RawPayloadRow) == 0


def gitlab_deployment(status: str = "success") -> dict:
    return {
        "object_kind": "deployment",
        "status": status,
        "status_changed_at": "2021-04-28 21:50:00 +0200",
        "deployment_id": 15,
        "environment": "production",
        "short_sha": "279484c0",
        "commit_url": "https://gitlab.example/group/app/-/commit/279484c09fbe69ededfced8c1bb6e6d24616b468",
        "project": {"path_with_namespace": "group/app"},
    }


def test_gitlab_deployment_with_the_token_is_stored(client, engine):
    headers = {"X-Gitlab-Token": GL_TOKEN, "X-Gitlab-Event-UUID": "u-1"}
    response = client.post("/webhooks/gitlab", json=gitlab_deployment(), headers=headers)
    assert response.json()["status"] == "stored", response.text
    (row,) = rows(engine, DeploymentRow)
    assert (row.source, row.external_id) == ("gitlab", "group/app/deployments/15")
    assert row.sha == "279484c09fbe69ededfced8c1bb6e6d24616b468"
    assert row.finished_at == datetime(2021, 4, 28, 19, 50, tzinfo=UTC)  # 21:50 at +02:00
    replay = client.post("/webhooks/gitlab", json=gitlab_deployment(), headers=headers)
    assert replay.json()["status"] == "duplicate"


def test_gitlab_running_status_never_downgrades_a_finished_deployment(client, engine):
    client.post("/webhooks/gitlab", json=gitlab_deployment(), headers={"X-Gitlab-Token": GL_TOKEN})
    client.post("/webhooks/gitlab", json=gitlab_deployment("running"), headers={"X-Gitlab-Token": GL_TOKEN})
    (row,) = rows(engine, DeploymentRow)
    assert row.status == "success"


@pytest.mark.parametrize("headers", [{}, {"X-Gitlab-Token": "wrong"}])
def test_gitlab_without_the_token_is_401(client, engine, headers):
    assert client.post("/webhooks/gitlab", json=gitlab_deployment(), headers=headers).status_code == 401
    assert count(engine, DeploymentRow) == 0


def test_gitlab_incident_issue_is_an_incident(client, engine):
    payload = {
        "object_kind": "issue",
        "project": {"path_with_namespace": "group/app"},
        "object_attributes": {
            "iid": 7,
            "title": "Checkout down",
            "issue_type": "incident",
            "state": "closed",
            "created_at": "2024-01-02 10:00:00 UTC",
            "closed_at": "2024-01-02 11:30:00 UTC",
        },
    }
    client.post("/webhooks/gitlab", json=payload, headers={"X-Gitlab-Token": GL_TOKEN})
    (incident,) = rows(engine, IncidentRow)
    assert incident.external_id == "group/app/issues/7"
    assert incident.resolved_at == datetime(2024, 1, 2, 11, 30, tzinfo=UTC)


def pagerduty_event(event_type: str, event_id: str, occurred_at: str = "2024-02-01T10:45:00.000Z") -> bytes:
    payload = {
        "event": {
            "id": event_id,
            "event_type": event_type,
            "occurred_at": occurred_at,
            "data": {
                "id": "Q1ABC",
                "type": "incident",
                "title": "Checkout errors",
                "created_at": "2024-02-01T10:00:00Z",
                "status": "resolved",
                "service": {"id": "PSVC1", "summary": "Checkout API"},
                "urgency": "high",
            },
        }
    }
    return json.dumps(payload).encode()


def pd_signature(body: bytes, secret: str = PD_SECRET) -> str:
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_pagerduty_v3_signature_among_several_is_accepted(client, engine):
    body = pagerduty_event("incident.resolved", "E1")
    header = f"{pd_signature(body, 'old-secret')},{pd_signature(body)}"  # rotation: two signatures
    response = client.post("/webhooks/pagerduty", content=body, headers={"X-PagerDuty-Signature": header})
    assert response.json()["status"] == "stored", response.text
    (incident,) = rows(engine, IncidentRow)
    assert (incident.source, incident.external_id, incident.service) == ("pagerduty", "Q1ABC", "checkout")
    assert incident.created_at == datetime(2024, 2, 1, 10, 0, tzinfo=UTC)
    assert incident.resolved_at == datetime(2024, 2, 1, 10, 45, tzinfo=UTC)  # the event's occurred_at


@pytest.mark.parametrize("header", [None, "v1=deadbeef", "v0=whatever"])
def test_pagerduty_bad_signature_is_401(client, engine, header):
    body = pagerduty_event("incident.triggered", "E2")
    headers = {"X-PagerDuty-Signature": header} if header else {}
    assert client.post("/webhooks/pagerduty", content=body, headers=headers).status_code == 401
    assert count(engine, IncidentRow) == 0


def test_pagerduty_replay_is_a_no_op(client, engine):
    body = pagerduty_event("incident.triggered", "E3")
    headers = {"X-PagerDuty-Signature": pd_signature(body)}
    assert client.post("/webhooks/pagerduty", content=body, headers=headers).json()["status"] == "stored"
    assert client.post("/webhooks/pagerduty", content=body, headers=headers).json()["status"] == "duplicate"
    assert count(engine, RawPayloadRow) == 1


def test_webhook_without_a_configured_secret_is_404(engine):
    client = TestClient(create_app(build_context(engine, AppConfig(), server=ServerSettings())))
    body = fixture_body("deployment_status")
    response = client.post("/webhooks/github", content=body, headers=github_headers(body, "deployment_status", "x"))
    assert response.status_code == 404
    assert count(engine, DeploymentRow) == 0


def test_signed_payload_missing_a_required_field_is_422(client, engine):
    body = json.dumps({"deployment": {"id": 1}, "deployment_status": {"state": "success"}}).encode()
    response = client.post("/webhooks/github", content=body, headers=github_headers(body, "deployment_status", "m"))
    assert response.status_code == 422
    assert count(engine, RawPayloadRow) == 0


def send_pagerduty(client, event_type: str, event_id: str, occurred_at: str) -> dict:
    body = pagerduty_event(event_type, event_id, occurred_at)
    headers = {"X-PagerDuty-Signature": pd_signature(body)}
    return client.post("/webhooks/pagerduty", content=body, headers=headers).json()


def test_pagerduty_reopen_unresolves_the_incident_and_a_later_resolve_resolves_it_again(client, engine):
    send_pagerduty(client, "incident.resolved", "E10", "2024-02-01T10:45:00Z")
    (incident,) = rows(engine, IncidentRow)
    assert incident.resolved_at == datetime(2024, 2, 1, 10, 45, tzinfo=UTC)
    assert send_pagerduty(client, "incident.reopened", "E11", "2024-02-01T11:00:00Z")["stored"] == {"incidents": 2}
    (incident,) = rows(engine, IncidentRow)
    assert incident.resolved_at is None  # open again: time to restore keeps running
    send_pagerduty(client, "incident.resolved", "E12", "2024-02-01T12:30:00Z")
    (incident,) = rows(engine, IncidentRow)
    assert incident.resolved_at == datetime(2024, 2, 1, 12, 30, tzinfo=UTC)


def test_a_delayed_reopen_never_undoes_a_newer_resolution(client, engine):
    send_pagerduty(client, "incident.resolved", "E20", "2024-02-01T12:30:00Z")
    assert send_pagerduty(client, "incident.reopened", "E21", "2024-02-01T11:00:00Z")["status"] == "stored"
    (incident,) = rows(engine, IncidentRow)
    assert incident.resolved_at == datetime(2024, 2, 1, 12, 30, tzinfo=UTC)


def gitlab_issue(action: str, state: str, updated_at: str) -> dict:
    return {
        "object_kind": "issue",
        "project": {"path_with_namespace": "group/app"},
        "object_attributes": {
            "iid": 8,
            "title": "Payments down",
            "issue_type": "incident",
            "action": action,
            "state": state,
            "created_at": "2024-01-02 10:00:00 UTC",
            "updated_at": updated_at,
            "closed_at": "2024-01-02 11:30:00 UTC" if state == "closed" else None,
        },
    }


def test_gitlab_incident_reopened_is_unresolved(client, engine):
    headers = {"X-Gitlab-Token": GL_TOKEN}
    client.post("/webhooks/gitlab", json=gitlab_issue("close", "closed", "2024-01-02 11:30:00 UTC"), headers=headers)
    assert rows(engine, IncidentRow)[0].resolved_at == datetime(2024, 1, 2, 11, 30, tzinfo=UTC)
    client.post("/webhooks/gitlab", json=gitlab_issue("reopen", "opened", "2024-01-02 12:00:00 UTC"), headers=headers)
    assert rows(engine, IncidentRow)[0].resolved_at is None


def test_an_update_of_an_open_issue_that_is_not_a_reopen_keeps_the_stored_resolution(client, engine):
    headers = {"X-Gitlab-Token": GL_TOKEN}
    client.post("/webhooks/gitlab", json=gitlab_issue("close", "closed", "2024-01-02 11:30:00 UTC"), headers=headers)
    client.post("/webhooks/gitlab", json=gitlab_issue("update", "opened", "2024-01-02 11:00:00 UTC"), headers=headers)
    assert rows(engine, IncidentRow)[0].resolved_at == datetime(2024, 1, 2, 11, 30, tzinfo=UTC)


def test_github_pull_request_reopened_clears_its_close_time(client, engine):
    closed = PullRequest(
        source="github",
        repo="Codertocat/Hello-World",
        number=2,
        created_at=datetime(2019, 5, 15, 15, 20, 33, tzinfo=UTC),
        closed_at=datetime(2019, 5, 15, 15, 30, tzinfo=UTC),
    )
    with engine.begin() as connection:
        write_records(connection, [closed])
    payload = json.loads(fixture_body("pull_request.opened"))
    payload["action"] = "reopened"
    payload["pull_request"]["updated_at"] = "2019-05-16T09:00:00Z"
    body = json.dumps(payload).encode()
    response = client.post("/webhooks/github", content=body, headers=github_headers(body, "pull_request", "pr-r"))
    assert response.json()["status"] == "stored", response.text
    (pr,) = rows(engine, PullRequestRow)
    assert pr.closed_at is None


def test_pagerduty_incident_merged_into_another_withdraws_the_stored_copy(client, engine):
    send_pagerduty(client, "incident.triggered", "E30", "2024-02-01T10:05:00Z")
    assert count(engine, IncidentRow) == 1
    payload = json.loads(pagerduty_event("incident.resolved", "E31", "2024-02-01T10:20:00Z"))
    payload["event"]["data"]["resolve_reason"] = {
        "type": "merge_resolve_reason",
        "incident": {"id": "Q2XYZ", "type": "incident_reference"},
    }
    body = json.dumps(payload).encode()
    response = client.post("/webhooks/pagerduty", content=body, headers={"X-PagerDuty-Signature": pd_signature(body)})
    assert response.json()["stored"] == {"incidents withdrawn": 1}, response.text
    assert count(engine, IncidentRow) == 0  # a duplicate of Q2XYZ, not an incident restored at the merge
    assert count(engine, RawPayloadRow) == 2  # the deliveries stay: they are the replay record


def test_pagerduty_resolved_without_a_merge_reason_is_a_resolution(client, engine):
    payload = json.loads(pagerduty_event("incident.resolved", "E32"))
    payload["event"]["data"]["resolve_reason"] = None  # as PagerDuty sends it for an ordinary resolve
    body = json.dumps(payload).encode()
    client.post("/webhooks/pagerduty", content=body, headers={"X-PagerDuty-Signature": pd_signature(body)})
    (incident,) = rows(engine, IncidentRow)
    assert incident.resolved_at == datetime(2024, 2, 1, 10, 45, tzinfo=UTC)


def github_issue_closed(state_reason: str | None, delivery: str) -> tuple[bytes, dict[str, str]]:
    payload = {
        "action": "closed",
        "repository": {"full_name": "acme/shop"},
        "issue": {
            "number": 5,
            "title": "Checkout down",
            "labels": [{"name": "bug"}],
            "state": "closed",
            "state_reason": state_reason,
            "created_at": "2024-03-01T09:00:00Z",
            "closed_at": "2024-03-01T11:00:00Z",
            "updated_at": "2024-03-01T11:00:00Z",
        },
    }
    body = json.dumps(payload).encode()
    return body, github_headers(body, "issues", delivery)


@pytest.mark.parametrize("state_reason", ["duplicate", "not_planned"])
def test_github_issue_closed_as_not_an_incident_withdraws_the_stored_copy(client, engine, state_reason):
    body, headers = github_issue_closed("completed", "gi-1")
    client.post("/webhooks/github", content=body, headers=headers)
    assert rows(engine, IncidentRow)[0].external_id == "acme/shop/issues/5"
    body, headers = github_issue_closed(state_reason, "gi-2")
    response = client.post("/webhooks/github", content=body, headers=headers)
    assert response.json()["stored"] == {"incidents withdrawn": 1}, response.text
    assert count(engine, IncidentRow) == 0


def test_github_issue_closed_as_completed_is_a_resolved_incident(client, engine):
    body, headers = github_issue_closed("completed", "gi-3")
    client.post("/webhooks/github", content=body, headers=headers)
    (incident,) = rows(engine, IncidentRow)
    assert incident.resolved_at == datetime(2024, 3, 1, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("field", ["duplicated_to_id", "moved_to_id"])
def test_gitlab_issue_closed_as_duplicate_or_moved_withdraws_the_stored_copy(client, engine, field):
    headers = {"X-Gitlab-Token": GL_TOKEN}
    client.post("/webhooks/gitlab", json=gitlab_issue("close", "closed", "2024-01-02 11:30:00 UTC"), headers=headers)
    assert count(engine, IncidentRow) == 1
    payload = gitlab_issue("update", "closed", "2024-01-02 12:00:00 UTC")
    payload["object_attributes"][field] = 99
    response = client.post("/webhooks/gitlab", json=payload, headers=headers)
    assert response.json()["stored"] == {"incidents withdrawn": 1}, response.text
    assert count(engine, IncidentRow) == 0

"""The HTTP API through FastAPI's TestClient, on both store backends."""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from collector.config.model import AppConfig
from collector.serve.app import create_app
from collector.serve.context import build_context
from collector.serve.settings import BasicAuthSettings, ServerSettings
from collector.store.models import DeploymentRow

TOKEN = "push-token-123456"


def deployment(n: int, **over) -> dict:
    event = {
        "type": "deployment",
        "id": f"d{n}",
        "service": "checkout",
        "environment": "production",
        "status": "success",
        "sha": f"{n:040x}",
        "finished_at": f"2024-01-0{n}T10:00:00Z",
    }
    return {**event, **over}


@pytest.fixture
def calls() -> list[str]:
    return []


@pytest.fixture
def context(engine, calls):
    server = ServerSettings(api_token=SecretStr(TOKEN), max_body_bytes=4096)
    return build_context(engine, AppConfig(), server=server, on_stored=lambda: calls.append("stored"))


@pytest.fixture
def client(context):
    return TestClient(create_app(context))


def _count(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(DeploymentRow)).scalar_one()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_probes_and_metrics_json_follow_the_snapshot(client, context, demo_snapshot):
    assert client.get("/healthz").json() == {"status": "ok"}
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert "no metrics snapshot yet" in not_ready.json()["problems"]
    assert client.get("/api/v1/metrics").status_code == 503
    context.holder.replace_snapshot(demo_snapshot)
    assert client.get("/readyz").status_code == 200
    body = client.get("/api/v1/metrics").json()
    assert body["as_of"] == "2024-03-01T12:00:00+00:00"
    assert body["band_table"] == "dora-2023"
    assert len(body["results"]) == 3
    assert "dora_deployments{" in client.get("/metrics").text


def test_metrics_json_filters_like_report(client, context, make_row, make_snapshot):
    rows = [
        make_row(),  # payments / checkout
        make_row(service="ledger"),
        make_row(team="search", service="query"),
        make_row(service=None, environment=None),  # payments team row
        make_row(team="search", service=None, environment=None),
        make_row(team=None, service=None, environment=None),  # organisation
        make_row(window_days=7),
    ]
    context.holder.replace_snapshot(make_snapshot(rows, [make_row(deployments=3)]))

    def keys(**params):
        results = client.get("/api/v1/metrics", params=params).json()["results"]
        return sorted((r["team"] or "", r["service"] or "", r["window_days"]) for r in results)

    # team=payments: its team row and its service rows, not the organisation row
    assert keys(team="payments", window="30d") == [
        ("payments", "", 30),
        ("payments", "checkout", 30),
        ("payments", "ledger", 30),
    ]
    assert keys(service="query") == [("search", "query", 30)]
    assert keys(service=["query", "ledger"]) == [("payments", "ledger", 30), ("search", "query", 30)]
    assert keys(window="7d") == [("payments", "checkout", 7)]
    assert len(keys()) == 7
    previous = client.get("/api/v1/metrics", params={"period": "previous"}).json()["results"]
    assert [r["deployments"] for r in previous] == [3]
    assert client.get("/api/v1/metrics", params={"window": "thirty"}).status_code == 422


def test_push_requires_the_bearer_token(client, engine):
    body = [deployment(1)]
    assert client.post("/api/v1/events", json=body).status_code == 401
    assert client.post("/api/v1/events", json=body, headers=auth("wrong-token")).status_code == 401
    assert _count(engine) == 0


def test_push_is_disabled_without_a_configured_token(engine):
    app = create_app(build_context(engine, AppConfig(), server=ServerSettings()))
    response = TestClient(app).post("/api/v1/events", json=[deployment(1)], headers=auth())
    assert response.status_code == 403
    assert _count(engine) == 0


def test_push_stores_a_json_array_and_asks_for_a_recompute(client, engine, calls):
    response = client.post("/api/v1/events", json=[deployment(1), deployment(2)], headers=auth())
    assert response.status_code == 200, response.text
    assert response.json() == {"events": 2, "stored": {"deployments": 2}}
    assert _count(engine) == 2
    assert calls == ["stored"]


def test_push_accepts_json_lines(client, engine):
    text = "\n".join(json.dumps(deployment(n)) for n in (1, 2, 3)) + "\n"
    response = client.post("/api/v1/events", content=text, headers={**auth(), "Content-Type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert _count(engine) == 3


def test_push_with_bad_items_lists_each_and_stores_nothing(client, engine, calls):
    items = [
        deployment(1),
        deployment(2, finished_at="2024-01-02T10:00:00"),  # no UTC offset
        {"type": "nonsense"},
        deployment(3),
        deployment(4, status="success", sha=None),  # a successful deployment needs a sha
    ]
    response = client.post("/api/v1/events", json=items, headers=auth())
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert sorted({p["item"] for p in problems}) == [2, 3, 5]  # 1-based item numbers of the bad ones
    assert any(p["item"] == 2 and p["field"] == "finished_at" for p in problems)
    assert any(p["item"] == 3 and p["field"] == "type" for p in problems)
    assert _count(engine) == 0
    assert calls == []


def test_push_of_a_body_that_is_not_json_is_a_client_error(client, engine):
    response = client.post("/api/v1/events", content=b"[{not json", headers=auth())
    assert response.status_code == 400
    assert _count(engine) == 0


def test_push_over_the_size_limit_is_413_and_stores_nothing(client, engine):
    items = [deployment(1, id="x" * 300) for _ in range(20)]  # well over the 4096-byte limit
    response = client.post("/api/v1/events", json=items, headers=auth())
    assert response.status_code == 413
    assert _count(engine) == 0


def test_basic_auth_covers_the_app_but_not_probes_webhooks_or_push(engine, demo_snapshot):
    server = ServerSettings(
        api_token=SecretStr(TOKEN), basic_auth=BasicAuthSettings(username="ops", password=SecretStr("s3cret-pass"))
    )
    context = build_context(engine, AppConfig(), server=server)
    context.holder.replace_snapshot(demo_snapshot)
    client = TestClient(create_app(context))
    assert client.get("/metrics").status_code == 401
    assert client.get("/api/v1/metrics", auth=("ops", "wrong")).status_code == 401
    assert client.get("/metrics", auth=("ops", "s3cret-pass")).status_code == 200
    garbage = {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()}
    assert client.get("/openapi.json", headers=garbage).status_code == 401
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/v1/events", json=[deployment(1)], headers=auth()).status_code == 200
    assert client.post("/webhooks/github", json={}).status_code == 404  # not configured, but not basic-auth'd


def test_openapi_description_is_served_at_the_documented_path(client):
    spec = client.get("/openapi.json").json()
    for path in (
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/metrics",
        "/api/v1/events",
        "/webhooks/github",
        "/webhooks/gitlab",
        "/webhooks/pagerduty",
    ):
        assert path in spec["paths"], path

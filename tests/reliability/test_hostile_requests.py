"""Hostile requests against the app: secrets compared in constant time, the push API's token, body
size limits, no input echoed into HTML, and SQL only through bound parameters."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from collector.config.model import AppConfig
from collector.recompute import recompute
from collector.serve import auth
from collector.serve.app import create_app
from collector.serve.context import build_context
from collector.serve.settings import GitHubWebhookSettings, ServerSettings, WebhookSettings
from collector.serve.webhooks import base
from collector.store.models import Base, DeploymentRow
from connectors.records import utc_now

TOKEN = "hostile-push-token-123"
HOOK_SECRET = "hostile-webhook-secret"
EVIL = "shop'; DROP TABLE deployments; --"


@pytest.fixture
def client(engine):
    server = ServerSettings(
        api_token=SecretStr(TOKEN),
        max_body_bytes=4096,
        webhooks=WebhookSettings(github=GitHubWebhookSettings(secret=SecretStr(HOOK_SECRET))),
    )
    return TestClient(create_app(build_context(engine, AppConfig(), server=server)))


def _event(service: str = "shop", n: int = 1) -> dict[str, object]:
    return {
        "type": "deployment",
        "id": f"d{n}",
        "service": service,
        "environment": "production",
        "status": "success",
        "sha": f"{n:040x}",
        "finished_at": "2024-01-02T10:00:00Z",
    }


def test_webhook_signature_and_push_token_are_compared_with_compare_digest(client, monkeypatch):
    seen: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return original(a, b)

    monkeypatch.setattr(base.hmac, "compare_digest", recording)
    body = json.dumps({"zen": "hi", "hook_id": 1}).encode()
    signature = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": signature, "X-GitHub-Delivery": "1"}
    assert client.post("/webhooks/github", content=body, headers=headers).status_code == 200
    assert any(b == signature.encode() for _, b in seen), "the webhook signature bypassed compare_digest"
    bad = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert client.post("/webhooks/github", content=body, headers=bad).status_code == 401
    seen.clear()
    assert client.post("/api/v1/events", content=b"", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert any(b == b"nope" for _, b in seen), "the bearer token bypassed compare_digest"
    assert auth.hmac is base.hmac  # one module: the patch covered both checks


def test_push_api_requires_its_token_and_refuses_oversize_bodies(client, engine):
    line = json.dumps(_event()).encode()
    assert client.post("/api/v1/events", content=line).status_code == 401
    assert client.post("/api/v1/events", content=line, headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    big = b"\n".join([line] * 200)
    assert len(big) > 4096
    assert client.post("/api/v1/events", content=big, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 413
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(DeploymentRow)).scalar_one() == 0


def test_no_endpoint_echoes_input_into_html(client):
    probe = "<script>alert(1)</script>"
    for path in (f"/api/v1/metrics?service={probe}", f"/{probe}", f"/api/v1/{probe}", f"/webhooks/{probe}"):
        response = client.get(path)
        if probe in response.text:
            assert "html" not in response.headers.get("content-type", ""), (path, response.headers)


def test_quotes_and_sql_in_names_go_through_ingest_recompute_and_api_unharmed(client, engine):
    lines = "\n".join(json.dumps(_event(EVIL, n)) for n in (1, 2)).encode()
    response = client.post("/api/v1/events", content=lines, headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    with engine.connect() as connection:
        services = connection.execute(select(DeploymentRow.service)).scalars().all()
        assert services == [EVIL, EVIL]
        for table in Base.metadata.sorted_tables:  # every table still exists
            connection.execute(select(func.count()).select_from(table)).scalar_one()
    recompute(engine, AppConfig(), as_of=utc_now())
    assert client.get("/api/v1/metrics", params={"service": EVIL}).status_code in (200, 503)

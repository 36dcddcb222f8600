"""Secrets: a canary in every secret of the config never shows up anywhere the collector writes.

One config holds a distinct canary (see ``canary_setup``) in every secret field of every registered
source kind, the server's API token, basic-auth password and three webhook secrets, the two digest
webhook URLs and the database password (PostgreSQL, trust auth: the password is sent only if
asked, so the server accepts the URL). The demo organisation is ingested so the reports have
content, then the real CLI runs, at DEBUG log level where it logs: ``check-config``, ``ingest``,
``sync`` against the hostile API (401 and 500 echoing the credentials back), ``report --format
json``, the HTML trend report, ``digest`` (its webhooks answer 500), and ``serve`` with its startup
syncs, ``/metrics``, ``/api/v1/metrics``, ``/openapi.json`` and error answers (401, 404, 422). The
test first proves the canaries were really used (each reached the API), then that none of them —
nor the bare prefix, nor a base64 ``user:canary`` — is in any output, response, the HTML, or any
table of the database.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from canary_setup import CanaryPlan, HostileApi, every_table_text, find_leaks, source_entries
from serve_process import ServeProcess, run_cli, wait_until
from sqlalchemy.engine import make_url

from collector.store.engine import create_store_engine
from collector.synthetic import generate_org, services_config, write_jsonl

pytestmark = pytest.mark.slow

BACKEND = "sqlite" if os.environ.get("DM_SKIP_POSTGRES") == "1" else "postgresql"
PLACEHOLDER = "PASSWORDPLACEHOLDER"


@pytest.fixture
def hostile_api():
    api = HostileApi().start()
    yield api
    api.stop()


def _database_url(store_url: str, plan: CanaryPlan) -> str:
    url = make_url(store_url)
    if url.drivername.startswith("sqlite"):
        return store_url  # no password to protect
    rendered = url.set(password=PLACEHOLDER).render_as_string(hide_password=False)
    return rendered.replace(PLACEHOLDER, plan.secret("database_password"))


def _write_config(path: Path, store_url: str, plan: CanaryPlan, api: str) -> list[dict[str, object]]:
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    org = generate_org("demo", 11, end)
    write_jsonl(org, path.parent / "events.jsonl")
    services = services_config(org)
    sources = source_entries(plan, api)
    config = {
        "database": {"url": _database_url(store_url, plan)},
        "teams": [{"name": team} for team in sorted({s["team"] for s in services})],
        "services": services,
        "sources": sources,
        "server": {
            "jitter": "0s",
            "api_token": plan.secret("api_token"),
            "basic_auth": {"username": "admin", "password": plan.secret("basic_auth_password")},
            "webhooks": {
                "github": {"secret": plan.secret("github_webhook_secret")},
                "gitlab": {"token": plan.secret("gitlab_webhook_token")},
                "pagerduty": {"secret": plan.secret("pagerduty_webhook_secret")},
            },
        },
        "digest": {
            "slack_webhook_url": plan.secret("slack_webhook", api + "/hooks/slack/{}"),
            "teams_webhook_url": plan.secret("teams_webhook", api + "/hooks/teams/{}"),
        },
    }
    path.write_text(json.dumps(config, indent=1))  # JSON is YAML
    return sources


def _serve_answers(serve: ServeProcess, plan: CanaryPlan) -> dict[str, str]:
    """Every answer worth checking, keyed by request, as status + headers + body."""
    auth = ("admin", plan.env["DM_CANARY_BASIC_AUTH_PASSWORD"])
    bearer = {"Authorization": f"Bearer {plan.env['DM_CANARY_API_TOKEN']}"}
    event = {"type": "deployment", "id": "canary-d1", "service": "nope", "environment": "production"}
    body = json.dumps({"zen": "hi", "hook_id": 1}).encode()
    wrong = "sha256=" + hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
    github = {"X-GitHub-Event": "ping", "X-Hub-Signature-256": wrong}
    gitlab = {"X-Gitlab-Token": "wrong", "X-Gitlab-Event": "Push Hook"}
    calls: list[tuple[str, str, dict[str, object]]] = [
        ("GET", "/metrics", {"auth": auth}),
        ("GET", "/metrics", {}),
        ("GET", "/metrics", {"auth": ("admin", "wrong-password")}),
        ("GET", "/api/v1/metrics", {"auth": auth}),
        ("GET", "/api/v1/metrics?window=bad", {"auth": auth}),
        ("GET", "/openapi.json", {"auth": auth}),
        ("GET", "/does-not-exist", {"auth": auth}),
        ("GET", "/readyz", {}),
        ("GET", "/healthz", {}),
        ("POST", "/api/v1/events", {"content": json.dumps([event]), "headers": {"Authorization": "Bearer wrong"}}),
        ("POST", "/api/v1/events", {"content": json.dumps([event]), "headers": bearer}),
        ("POST", "/api/v1/events", {"content": b"[not json", "headers": bearer}),
        ("POST", "/webhooks/github", {"content": body, "headers": github}),
        ("POST", "/webhooks/gitlab", {"content": body, "headers": gitlab}),
        ("POST", "/webhooks/pagerduty", {"content": body, "headers": {"X-PagerDuty-Signature": "v1=00"}}),
    ]
    answers: dict[str, str] = {}
    with httpx.Client(base_url=serve.base, timeout=10) as client:
        for index, (method, path, options) in enumerate(calls):
            response = client.request(method, path, **options)  # type: ignore[arg-type]
            answers[f"{index} {method} {path} -> {response.status_code}"] = f"{response.headers}\n{response.text}"
    statuses = [key.rsplit(" ", 1)[1] for key in answers]
    assert (
        statuses == ["200", "401", "401", "200", "422", "200", "404", "200", "200", "401", "422", "400"] + ["401"] * 3
    ), list(answers)
    return answers


@pytest.mark.parametrize("store_url", [BACKEND], indirect=True)
def test_canary_in_every_secret_never_leaks_into_output_responses_html_or_any_table(store_url, hostile_api, tmp_path):
    plan = CanaryPlan()
    config = tmp_path / "delivery-metrics.yaml"
    sources = _write_config(config, store_url, plan, hostile_api.base)
    base = ["--config", str(config), "--log-level", "debug"]
    outputs: dict[str, str] = {}

    def run(name: str, args: list[str], expect: int) -> str:
        result = run_cli([*base, *args], env=plan.env)
        outputs[name] = result.stdout + result.stderr
        assert result.returncode == expect, f"{name} exited {result.returncode}:\n{outputs[name][-3000:]}"
        return result.stdout

    run("check-config", ["check-config"], 0)
    run("ingest", ["ingest", str(tmp_path / "events.jsonl")], 0)
    run("sync", ["sync"], 1)
    for source in sources:  # every source ran, failed, and really sent its canary
        assert f"{source['name']}: failed" in outputs["sync"] or f"{source['name']}: error" in outputs["sync"], source
    missing = [label for label in plan.source_labels if not hostile_api.received(plan.values[label])]
    assert not missing, f"these source secrets never reached the API, so the test proves nothing for them: {missing}"
    report = json.loads(run("report json", ["report", "--format", "json"], 0))
    assert report["results"], "the report is empty: the HTML and API checks would see no data"
    first = (datetime.now(UTC) - timedelta(days=90)).strftime("%Y-%m-01")
    html_path = tmp_path / "report.html"
    trend = ["report", "--trend", "monthly", "--from", first, "--format", "html", "--output", str(html_path)]
    run("report html", trend, 0)
    outputs["report.html"] = html_path.read_text(encoding="utf-8")
    assert "<html" in outputs["report.html"].lower()
    run("digest", ["digest"], 1)
    assert hostile_api.received(plan.values["slack_webhook"]), "the digest never posted: its URL was not exercised"

    with ServeProcess(config, tmp_path / "serve.log", env=plan.env, log_level="debug") as serve:
        serve.wait_ready(timeout=60)
        auth = ("admin", plan.env["DM_CANARY_BASIC_AUTH_PASSWORD"])
        names = [str(s["name"]) for s in sources]

        def every_source_ran() -> bool:
            text = httpx.get(f"{serve.base}/metrics", auth=auth, timeout=5).text
            return all(f'delivery_metrics_source_up{{source="{n}"}} 0.0' in text for n in names)

        wait_until("every source's first run in serve", every_source_ran, timeout=60)
        outputs.update(_serve_answers(serve, plan))
        assert serve.stop() == 0, serve.output()[-3000:]
        outputs["serve log"] = serve.output()
    assert "DEBUG" in outputs["serve log"] and "DEBUG" in outputs["sync"], "not at debug level"

    engine = create_store_engine(store_url)
    try:
        tables = every_table_text(engine)
    finally:
        engine.dispose()
    assert "sync_runs" in tables and "canary-github" in tables["sync_runs"], "the failed runs were not recorded"
    leaks: list[str] = []
    for name, text in {**outputs, **{f"table {t}": v for t, v in tables.items()}}.items():
        leaks.extend(find_leaks(plan.forbidden(), text, name))
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks[:20])

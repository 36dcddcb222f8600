"""A run stored as a deployment in progress, then read again as never run (Bitbucket step ``NOT_RUN``,
GitHub Actions run ``stale``), is withdrawn: the sync removes the stored ``in_progress`` row, as a rebuild
from the latest payload (which maps to no deployment) does. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from test_github_actions import FakeServices, doc_run

from collector.store.models import DeploymentRow
from collector.store.withdraw import write_batch
from connectors.bitbucket_mapping import pipeline_deployments
from connectors.deployment_rules import DeploymentRule
from connectors.github_actions import Settings as ActionsSettings
from connectors.github_actions import run_records
from connectors.http.deployments import ServiceResolver
from connectors.records import Deployment, DeploymentWithdrawal, Record

PIPELINE: dict[str, Any] = {
    "uuid": "{P}",
    "target": {"ref_name": "main", "commit": {"hash": "a" * 40}, "selector": {"type": "branches"}},
    "created_on": "2026-01-01T10:00:00Z",
    "state": {"name": "IN_PROGRESS"},
}


def step(state: dict[str, Any]) -> dict[str, Any]:
    return {"uuid": "{S}", "name": "Deploy to production", "started_on": None, "state": state}


def stored_after(engine: Engine, *batches: list[Record]) -> list[tuple[str, str]]:
    for batch in batches:
        with engine.begin() as connection:
            write_batch(connection, batch)
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(select(DeploymentRow.external_id, DeploymentRow.status)).all()]


def test_a_pending_bitbucket_step_later_not_run_leaves_no_in_progress_row(engine: Engine) -> None:
    rules = [DeploymentRule(name="Deploy*")]
    pending = pipeline_deployments("bb", "ws/repo", PIPELINE, rules, lambda _: "shop", [step({"name": "PENDING"})])
    assert [d.status.value for d in pending if isinstance(d, Deployment)] == ["in_progress"]
    not_run = {"name": "COMPLETED", "result": {"name": "NOT_RUN"}}
    done = {**PIPELINE, "state": {"name": "COMPLETED", "result": {"name": "FAILED"}}}
    later = pipeline_deployments("bb", "ws/repo", done, rules, lambda _: "shop", [step(not_run)])
    assert [d for d in later if isinstance(d, Deployment)] == []  # what a rebuild maps too
    assert stored_after(engine, list(pending), list(later)) == []


def test_a_github_actions_run_in_progress_then_stale_leaves_no_in_progress_row(engine: Engine) -> None:
    settings = ActionsSettings.model_validate(
        {"name": "gha", "kind": "github_actions", "token": "t", "repositories": ["o/r"], "rules": [{"name": "Deploy"}]}
    )
    services = ServiceResolver("gha", FakeServices({}), {"o/r": "shop"})
    run = {**doc_run(), "name": "Deploy", "status": "in_progress", "conclusion": None}
    _, first = run_records("gha", settings, services, "o/r", run)
    stale = {**run, "status": "completed", "conclusion": "stale", "updated_at": "2026-01-20T10:00:00Z"}
    _, later = run_records("gha", settings, services, "o/r", stale)
    assert [type(r) for r in later if isinstance(r, Deployment | DeploymentWithdrawal)] == [DeploymentWithdrawal]
    stored = stored_after(engine, [r for r in first if isinstance(r, Deployment)], later)
    assert stored == []

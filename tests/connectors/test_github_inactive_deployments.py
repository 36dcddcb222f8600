"""GitHub: ``inactive`` deployment statuses never make a deployment successful by themselves.

GitHub adds ``inactive`` (``auto_inactive``) only to earlier deployments that had a ``success`` status,
so a deployment with nothing but ``inactive`` statuses was deactivated by hand or by a tool without ever
reporting success. The deployments and their statuses are replayed with ``responses``, built from
GitHub's OpenAPI examples (``tests/fixtures/github/openapi-examples``).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
from connector_helpers import FakeClock, FakeServices, load_fixture, records_of, run_batches

from connectors.base import SourceContext
from connectors.github import GitHubSource, Settings
from connectors.github_mapping import deployment_state
from connectors.records import Deployment, DeploymentStatus

API = "https://api.github.com"
REPO = "octocat/Hello-World"
RUN_START = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def status(state: str, created_at: str) -> dict[str, Any]:
    item = copy.deepcopy(load_fixture("github", "openapi-examples", "deployment-status-items.json")[0])
    item.update(state=state, created_at=created_at, updated_at=created_at)
    return item


def deployment(deployment_id: int, created_at: str) -> dict[str, Any]:
    item = copy.deepcopy(load_fixture("github", "openapi-examples", "deployment-items.json")[0])
    item.update(id=deployment_id, created_at=created_at, updated_at=created_at)
    return item


def source(clock: FakeClock) -> GitHubSource:
    settings = Settings.model_validate(
        {
            "name": "gh",
            "token": "ghp_TESTTOKEN0123456789abcdef",
            "repositories": [{"name": REPO, "branch": "main", "deployments": {"method": "deployments"}}],
            "history_days": 60,
        }
    )
    context = SourceContext(run_started_at=RUN_START, services=FakeServices({REPO: "hello"}))
    return GitHubSource(settings, context, sleep=clock.sleep, clock=clock)


def test_deployment_with_only_inactive_statuses_is_cancelled_not_a_success(mocked, fake_clock):
    """Deployment 2 succeeded (``success`` then the ``inactive`` GitHub adds when 3 succeeds); deployment
    1 has only an ``inactive`` status: it never reported success and is no DORA deployment."""
    mocked.add(responses.GET, f"{API}/repos/{REPO}/commits", json=[])
    mocked.add(responses.GET, f"{API}/repos/{REPO}/pulls", json=[])
    listing = [
        deployment(3, "2024-05-20T12:00:00Z"),
        deployment(2, "2024-05-20T10:00:00Z"),
        deployment(1, "2024-05-20T09:00:00Z"),
    ]
    mocked.add(responses.GET, f"{API}/repos/{REPO}/deployments", json=listing)
    statuses = {
        3: [status("success", "2024-05-20T12:05:00Z")],
        2: [status("inactive", "2024-05-20T12:05:01Z"), status("success", "2024-05-20T10:05:00Z")],
        1: [status("inactive", "2024-05-20T09:30:00Z")],
    }
    for number, items in statuses.items():
        mocked.add(responses.GET, f"{API}/repos/{REPO}/deployments/{number}/statuses", json=items)

    found = {d.external_id: d for d in records_of(run_batches(source(fake_clock)), Deployment)}

    assert found[f"{REPO}/deployments/3"].status is DeploymentStatus.SUCCESS
    superseded = found[f"{REPO}/deployments/2"]
    assert superseded.status is DeploymentStatus.SUCCESS
    assert superseded.finished_at == datetime(2024, 5, 20, 10, 5, tzinfo=UTC)  # its success, not the inactive
    deactivated = found[f"{REPO}/deployments/1"]
    assert deactivated.status is DeploymentStatus.CANCELLED
    assert deactivated.finished_at == datetime(2024, 5, 20, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        pytest.param(
            [("inactive", "2024-05-20T09:40:00Z"), ("inactive", "2024-05-20T09:30:00Z")],
            (DeploymentStatus.CANCELLED, datetime(2024, 5, 20, 9, 30, tzinfo=UTC)),
            id="only-inactive-cancelled-at-the-oldest",
        ),
        pytest.param(
            [("inactive", "2024-05-20T09:30:00Z"), ("in_progress", "2024-05-20T09:10:00Z")],
            (DeploymentStatus.CANCELLED, datetime(2024, 5, 20, 9, 30, tzinfo=UTC)),
            id="deactivated-while-in-progress",
        ),
        pytest.param(
            [("inactive", "2024-05-20T09:30:00Z"), ("failure", "2024-05-20T09:20:00Z")],
            (DeploymentStatus.FAILURE, datetime(2024, 5, 20, 9, 20, tzinfo=UTC)),
            id="failed-then-inactive-stays-failed",
        ),
        pytest.param(
            [("inactive", "2024-05-20T11:00:00Z"), ("success", "2024-05-20T09:20:00Z")],
            (DeploymentStatus.SUCCESS, datetime(2024, 5, 20, 9, 20, tzinfo=UTC)),
            id="success-then-inactive-stays-success",
        ),
        pytest.param(
            [("in_progress", "2024-05-20T09:10:00Z")],
            (DeploymentStatus.IN_PROGRESS, None),
            id="still-in-progress",
        ),
    ],
)
def test_inactive_status_never_means_success_by_itself(
    statuses: list[tuple[str, str]], expected: tuple[DeploymentStatus, datetime | None]
) -> None:
    assert deployment_state([status(state, at) for state, at in statuses]) == expected

"""Bad input, property-based: malformed events, webhook payloads and API objects give a validation
error naming the field (or the documented exception types), never another exception, never a
partial write. Config errors are reported all at once, each with its location."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from collector.config import ConfigError, load_config
from collector.events.parse import validate_event
from collector.ingest import ingest_lines
from collector.serve.settings import GitHubWebhookSettings, GitLabWebhookSettings, PagerDutyWebhookSettings
from collector.serve.webhooks.base import PayloadError
from collector.serve.webhooks.github import GitHubReceiver
from collector.serve.webhooks.gitlab import GitLabReceiver
from collector.serve.webhooks.pagerduty import PagerDutyReceiver
from collector.store.engine import create_store_engine
from collector.store.models import Base
from collector.store.schema import upgrade
from connectors import bitbucket_mapping, gitea_mapping, github_mapping, gitlab_mapping

SHA = "a" * 40
VALID: dict[str, dict[str, Any]] = {
    "commit": {"type": "commit", "repo": "acme/shop", "sha": SHA, "authored_at": "2026-03-01T09:00:00Z"},
    "pull_request": {
        "type": "pull_request",
        "repo": "acme/shop",
        "number": 3,
        "created_at": "2026-03-01T08:30:00Z",
        "merged_at": "2026-03-01T09:00:00Z",
        "merge_sha": SHA,
    },
    "deployment": {
        "type": "deployment",
        "id": "dep-1",
        "service": "shop",
        "environment": "production",
        "status": "success",
        "sha": SHA,
        "finished_at": "2026-03-01T11:00:00Z",
    },
    "incident": {
        "type": "incident",
        "id": "inc-1",
        "service": "shop",
        "created_at": "2026-03-01T12:00:00Z",
        "resolved_at": "2026-03-01T13:00:00Z",
    },
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
# values that are wrong for every field of every event: containers, and strings no field accepts
wrong_values = st.lists(st.integers(), min_size=1, max_size=2) | st.dictionaries(
    st.text(max_size=4), st.integers(), min_size=1, max_size=2
)
fast = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(st.one_of(json_values, st.dictionaries(st.text(max_size=10), json_values, max_size=6)))
@fast
def test_validate_event_never_raises_on_any_json(value):
    record, problems = validate_event(value, 7)
    assert (record is None) == bool(problems)
    assert all(p.line == 7 and p.message for p in problems)


@given(st.sampled_from(sorted(VALID)), st.data(), wrong_values)
@fast
def test_an_event_with_one_wrong_field_is_rejected_naming_that_field(kind, data, wrong):
    event = dict(VALID[kind])
    field = data.draw(st.sampled_from(sorted(k for k in event if k != "type")))
    event[field] = wrong
    record, problems = validate_event(event, 1)
    assert record is None
    assert any(p.field == field or p.field.startswith(f"{field}.") for p in problems), problems


@pytest.fixture(scope="module")
def empty_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = create_store_engine(f"sqlite:///{tmp_path_factory.mktemp('bad') / 'store.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _row_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return sum(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        )


@given(
    st.lists(st.sampled_from(sorted(VALID)), min_size=1, max_size=6),
    st.data(),
    st.one_of(json_values, st.text(max_size=30)),
)
@fast
def test_a_file_with_one_bad_line_writes_nothing_and_names_the_line(empty_engine, kinds, data, bad):
    lines = [json.dumps(VALID[k]) for k in kinds]
    position = data.draw(st.integers(0, len(lines)))
    bad_line = bad if isinstance(bad, str) else json.dumps(bad)
    if not bad_line.strip():
        bad_line = "{"
    record = None
    with contextlib.suppress(ValueError):
        record, _ = validate_event(json.loads(bad_line), 1)
    if record is not None:
        return  # hypothesis built a valid event
    lines.insert(position, bad_line)
    result = ingest_lines(empty_engine, lines)
    assert not result.committed
    assert position + 1 in result.invalid_lines
    assert _row_count(empty_engine) == 0


SERVICES = type("Services", (), {"service_for_repo": lambda self, repo: "shop"})()
RECEIVERS = {
    "github": GitHubReceiver(GitHubWebhookSettings(), SERVICES),
    "gitlab": GitLabReceiver(GitLabWebhookSettings(), SERVICES),
    "pagerduty": PagerDutyReceiver(PagerDutyWebhookSettings(), ["shop"]),
}
GITHUB_EVENTS = ["push", "pull_request", "deployment_status", "workflow_run", "issues", "ping"]
GITLAB_EVENTS = ["Push Hook", "Merge Request Hook", "Pipeline Hook", "Deployment Hook", "Issue Hook"]
# the exceptions the webhook route turns into 422; anything else would be a 500
DOCUMENTED = (PayloadError, ValueError, TypeError, KeyError)
payloads = st.dictionaries(
    st.sampled_from(
        [
            "action",
            "repository",
            "pull_request",
            "deployment",
            "deployment_status",
            "workflow_run",
            "issue",
            "object_kind",
            "object_attributes",
            "project",
            "commits",
            "ref",
            "after",
            "event",
            "status",
            "sha",
            "environment",
            "merge_request",
            "labels",
            "builds",
        ]
    ),
    json_values,
    max_size=8,
)


@pytest.mark.parametrize("provider", sorted(RECEIVERS))
@given(event=st.sampled_from(GITHUB_EVENTS + GITLAB_EVENTS), payload=payloads)
@fast
def test_webhook_parsers_raise_only_the_documented_errors(provider, event, payload):
    headers = {"x-github-event": event, "x-gitlab-event": event}
    with contextlib.suppress(DOCUMENTED):
        RECEIVERS[provider].to_records(headers, payload)


MAPPINGS: dict[str, Callable[[dict[str, Any]], object]] = {
    "github.commit": lambda raw: github_mapping.commit_from_api("s", "r", raw),
    "github.pull_request": lambda raw: github_mapping.pull_request_from_api("s", "r", raw, [], None),
    "github.deployment": lambda raw: github_mapping.deployment_from_api("s", "r", "svc", raw, []),
    "gitlab.commit": lambda raw: gitlab_mapping.commit_from_api("s", "r", raw),
    "gitlab.merge_request": lambda raw: gitlab_mapping.merge_request_from_api("s", "r", raw, [], None),
    "gitlab.deployment": lambda raw: gitlab_mapping.deployment_from_api("s", "r", "svc", raw),
    "gitea.commit": lambda raw: gitea_mapping.commit_from_api("s", "r", raw),
    "gitea.pull_request": lambda raw: gitea_mapping.pull_request_from_api("s", "r", raw, [], None),
    "bitbucket.commit": lambda raw: bitbucket_mapping.commit_from_api("s", "r", raw),
    "bitbucket.pipeline": lambda raw: bitbucket_mapping.pipeline_run_from_api("s", "r", raw),
}
api_objects = st.dictionaries(
    st.sampled_from(
        [
            "sha",
            "id",
            "iid",
            "number",
            "commit",
            "author",
            "committer",
            "date",
            "created_at",
            "updated_at",
            "merged_at",
            "closed_at",
            "user",
            "labels",
            "head",
            "base",
            "status",
            "environment",
            "parents",
            "authored_date",
            "committed_date",
            "state",
            "uuid",
            "hash",
            "created_on",
            "completed_on",
            "target",
        ]
    ),
    json_values,
    max_size=10,
)


@pytest.mark.parametrize("mapping", sorted(MAPPINGS))
@given(raw=api_objects)
@fast
def test_connector_mappings_raise_only_lookup_value_or_type_errors(mapping, raw):
    with contextlib.suppress(KeyError, ValueError, TypeError):
        MAPPINGS[mapping](raw)


def test_config_errors_are_reported_all_at_once_with_locations(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "teams: [{name: core}]\n"
        "services:\n"
        "  - {name: shop, team: nobody}\n"
        "sources:\n"
        "  - {name: gh, kind: github, token: t, repositories: [acme/shop], per_page: 1000}\n"
        "  - {name: 'bad name', kind: git, path: .}\n"
        "  - {name: x, kind: no-such-kind}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    for line in (3, 5, 6, 7):
        assert f"{path.name}:{line}" in text or f"bad.yaml:{line}" in text, text
    assert "per_page" in text and "team" in text and "kind" in text, text

"""Digest payloads (Slack Block Kit, Teams Adaptive Card), --dry-run, posting, the cron job, goal gauges."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import responses
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from click.testing import CliRunner
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from collector.config.loader import load_config_text
from collector.entrypoint import main
from collector.pmo.digest import Digest, DigestError, post_digest, slack_payload, teams_payload
from collector.pmo.goal_exporter import GoalCollector, goal_record
from collector.pmo.goals import evaluate_goal
from collector.pmo.schedule import DIGEST_JOB_ID, register_digest_job
from collector.pmo.settings import DigestSettings, GoalConfig
from tests.pmo.conftest import DemoStore

DIGEST = Digest(
    title="Weekly delivery digest",
    week="2026-W26",
    previous_week="2026-W25",
    improvements=("quokka (team): Change lead time 2.0d → 1.0d (+50%)",),
    regressions=(),
    goals=("digital deployment_frequency: on track",),
    quality=("1 incident(s) not mapped to a configured service",),
)
SLACK_URL = "https://hooks.slack.test/services/T0/B0/secret-token"
TEAMS_URL = "https://teams.test/webhookb2/secret-token"


def assert_valid_slack(payload: dict[str, Any]) -> None:
    """Slack incoming webhook with Block Kit: fallback text, ≤ 50 blocks, typed text objects within limits."""
    assert isinstance(payload["text"], str) and payload["text"]
    blocks = payload["blocks"]
    assert 0 < len(blocks) <= 50
    for block in blocks:
        assert block["type"] in {"header", "section", "divider", "context"}
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert block["text"]["type"] in {"mrkdwn", "plain_text"} and 0 < len(block["text"]["text"]) <= 3000


def assert_valid_teams(payload: dict[str, Any]) -> None:
    """Teams incoming webhook: a message whose attachment is an Adaptive Card."""
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] in {"1.2", "1.3", "1.4", "1.5"}
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["body"]
    for element in card["body"]:
        assert element["type"] == "TextBlock" and isinstance(element["text"], str) and element["text"]


def test_payloads_carry_every_section_in_both_formats() -> None:
    slack, teams = slack_payload(DIGEST), teams_payload(DIGEST)
    assert_valid_slack(slack)
    assert_valid_teams(teams)
    slack_text = json.dumps(slack, ensure_ascii=False)
    teams_text = json.dumps(teams, ensure_ascii=False)
    for fragment in ("2026-W26", "quokka (team): Change lead time", "No regression.", "on track", "not mapped"):
        assert fragment in slack_text and fragment in teams_text


def test_a_very_long_section_is_clipped_to_slacks_limit() -> None:
    long = Digest("t", "w2", "w1", tuple(f"line {i} " + "x" * 100 for i in range(60)), (), (), ())
    assert_valid_slack(slack_payload(long))


def test_dry_run_prints_valid_payloads_for_the_demo(demo_store: DemoStore) -> None:
    result = CliRunner().invoke(main, ["--config", str(demo_store.config_path), "digest", "--dry-run"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert_valid_slack(printed["slack"])
    assert_valid_teams(printed["teams"])
    assert "secret" not in result.output


@responses.activate
def test_posting_sends_each_payload_to_its_webhook() -> None:
    responses.post(SLACK_URL, body="ok")
    responses.post(TEAMS_URL, status=202)
    settings = DigestSettings(slack_webhook_url=SecretStr(SLACK_URL), teams_webhook_url=SecretStr(TEAMS_URL))
    assert post_digest(DIGEST, settings) == ["slack", "teams"]
    bodies = {call.request.url: json.loads(call.request.body or b"") for call in responses.calls}
    assert bodies[SLACK_URL] == slack_payload(DIGEST)
    assert bodies[TEAMS_URL] == teams_payload(DIGEST)


@responses.activate
def test_a_refused_post_names_the_target_but_never_the_url() -> None:
    responses.post(SLACK_URL, status=404, body="no_service")
    responses.post(TEAMS_URL, status=200)
    settings = DigestSettings(slack_webhook_url=SecretStr(SLACK_URL), teams_webhook_url=SecretStr(TEAMS_URL))
    with pytest.raises(DigestError) as caught:
        post_digest(DIGEST, settings)
    assert "slack: HTTP 404" in str(caught.value)
    assert "secret-token" not in str(caught.value)
    assert len(responses.calls) == 2  # Teams still got it


def test_the_digest_job_runs_on_the_configured_cron() -> None:
    config = load_config_text("digest: {slack_webhook_url: 'https://x.test/hook', schedule: '30 7 * * mon'}\n", env={})
    scheduler = BackgroundScheduler(timezone=UTC)
    sent: list[datetime] = []
    job = register_digest_job(scheduler, engine=None, config=config, send=lambda e, c, now: sent.append(now))  # type: ignore[arg-type]
    assert job is not None and job.id == DIGEST_JOB_ID
    assert isinstance(job.trigger, CronTrigger)
    fire = job.trigger.get_next_fire_time(None, datetime(2026, 6, 24, 12, 0, tzinfo=UTC))  # a Wednesday
    assert fire == datetime(2026, 6, 29, 7, 30, tzinfo=UTC)
    job.func(*job.args)
    assert len(sent) == 1


def test_no_job_without_a_schedule() -> None:
    config = load_config_text("digest: {slack_webhook_url: 'https://x.test/hook'}\n", env={})
    assert register_digest_job(BackgroundScheduler(timezone=UTC), None, config) is None  # type: ignore[arg-type]


def test_goals_are_exported_as_gauges() -> None:
    goal = GoalConfig(team="koala", metric="lead_time", target=86400.0, due=date(2026, 12, 31))
    status = evaluate_goal(
        goal, baseline_at=datetime(2026, 1, 1, tzinfo=UTC), as_of=datetime(2026, 3, 1, tzinfo=UTC),
        baseline_value=5 * 86400.0, current_value=3 * 86400.0, band_table="dora-2023",
    )  # fmt: skip
    registry = CollectorRegistry()
    registry.register(GoalCollector(lambda: [goal_record(status)]))
    labels = {"goal": "koala lead_time", "scope": "team", "name": "koala", "metric": "lead_time"}
    assert registry.get_sample_value("delivery_metrics_goal_target", labels) == 86400.0
    assert registry.get_sample_value("delivery_metrics_goal_current", labels) == 3 * 86400.0
    assert registry.get_sample_value("delivery_metrics_goal_progress_ratio", labels) == pytest.approx(0.5)
    assert registry.get_sample_value("delivery_metrics_goal_on_track", labels) == 1.0
    assert registry.get_sample_value("delivery_metrics_goal_target_level_rank", labels) is None

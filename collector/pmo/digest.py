"""The digest: improvements, regressions, goal status and data gaps of the last complete week,
as Slack (Block Kit) and Microsoft Teams (Adaptive Card in a message attachment) webhook payloads,
and their posting with ``requests``.

The digest compares the last two complete ISO weeks (UTC). Webhook URLs are secrets: they are never
logged or put in an error message; a failure names the target (``slack`` / ``teams``) and the status.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import Engine

from collector.config.model import AppConfig
from collector.pmo.build import PmoReport, build_report
from collector.pmo.charts import TITLES
from collector.pmo.formatting import change_text, metric_text
from collector.pmo.settings import DigestSettings
from collector.pmo.trends import improvements_and_regressions, movers

logger = logging.getLogger(__name__)
SLACK_TEXT_LIMIT = 3000
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"


class DigestError(Exception):
    """A webhook refused the digest or could not be reached."""


@dataclass(frozen=True, slots=True)
class Digest:
    """The digest's content, independent of the chat format."""

    title: str
    week: str
    previous_week: str
    improvements: tuple[str, ...]
    regressions: tuple[str, ...]
    goals: tuple[str, ...]
    quality: tuple[str, ...]


def _move_line(record: dict[Any, Any]) -> str:
    metric = record["metric"]
    return (
        f"{record['name']} ({record['scope']}): {TITLES[metric]} {metric_text(metric, record['before'])} → "
        f"{metric_text(metric, record['after'])} ({change_text(record['change'])})"
    )


def digest_from_report(report: PmoReport, title: str, top: int) -> Digest:
    """The digest of ``report``'s last two buckets (``ValueError`` with fewer than two)."""
    if len(report.buckets) < 2:
        raise ValueError("the digest needs two complete periods")
    previous, last = report.buckets[-2].label, report.buckets[-1].label
    better, worse = improvements_and_regressions(movers(report.trends, previous, last), top)
    goals = tuple(
        f"{s.goal.label}: {s.status.replace('_', ' ')} — now {metric_text(s.goal.metric, s.current_value)}"
        f", target {s.goal.level or metric_text(s.goal.metric, s.goal.target)} by {s.goal.due.isoformat()}"
        for s in report.goals
    )
    return Digest(
        title=title,
        week=last,
        previous_week=previous,
        improvements=tuple(_move_line(r) for r in better.to_dict("records")),
        regressions=tuple(_move_line(r) for r in worse.to_dict("records")),
        goals=goals,
        quality=tuple(report.quality.lines()),
    )


def build_digest(engine: Engine, config: AppConfig, now: datetime) -> Digest:
    """Compute the digest of the last complete week against the week before, at ``now`` (data-quality
    findings: those of the last complete week)."""
    report = build_report(
        engine, config, period="weekly", first=(now - timedelta(days=14)).date(), until=now, now=now,
        title=config.digest.title, quality_buckets=1,
    )  # fmt: skip
    return digest_from_report(report, config.digest.title, config.digest.top)


def _sections(digest: Digest) -> list[tuple[str, tuple[str, ...], str]]:
    return [
        ("Improvements", digest.improvements, "No improvement."),
        ("Regressions", digest.regressions, "No regression."),
        ("Goals", digest.goals, "No goals configured."),
        ("Data quality", digest.quality, "No gaps found."),
    ]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(digest: Digest) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` (notification fallback) and Block Kit ``blocks``."""
    heading = f"{digest.title} — {digest.week} vs {digest.previous_week}"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": _clip(heading, 150)}}]
    for name, lines, empty in _sections(digest):
        body = "\n".join(f"• {line}" for line in lines) if lines else f"_{empty}_"
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*{name}*\n{body}", SLACK_TEXT_LIMIT)}}
        )
    return {"text": heading, "blocks": blocks}


def teams_payload(digest: Digest) -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook message carrying one Adaptive Card (schema 1.4)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": True, "text": digest.title},
        {"type": "TextBlock", "isSubtle": True, "wrap": True, "text": f"{digest.week} vs {digest.previous_week}"},
    ]
    for name, lines, empty in _sections(digest):
        body.append({"type": "TextBlock", "weight": "Bolder", "separator": True, "wrap": True, "text": name})
        for line in lines or (empty,):
            body.append({"type": "TextBlock", "wrap": True, "spacing": "Small", "text": f"- {line}"})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {"type": "message", "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": card}]}


def _excerpt(body: str, url: str) -> str:
    """The start of a refusal's body with the webhook URL and its path (the secret part) masked."""
    path = urlsplit(url).path
    for secret in (url, path) if len(path) > 1 else (url,):
        body = body.replace(secret, "***")
    return body[:200]


def post_digest(digest: Digest, settings: DigestSettings, session: requests.Session | None = None) -> list[str]:
    """Post to every configured webhook; return the targets posted to. ``DigestError`` after trying
    all of them if any failed (naming each failed target, never its URL)."""
    http = session or requests.Session()
    targets = [
        ("slack", settings.slack_webhook_url, slack_payload(digest)),
        ("teams", settings.teams_webhook_url, teams_payload(digest)),
    ]
    sent: list[str] = []
    failures: list[str] = []
    for name, url, payload in targets:
        if url is None or not url.get_secret_value():
            continue
        try:
            response = http.post(url.get_secret_value(), json=payload, timeout=settings.timeout_seconds)
        except requests.RequestException as error:
            failures.append(f"{name}: {type(error).__name__}")
            continue
        if response.status_code >= 300:
            failures.append(f"{name}: HTTP {response.status_code} {_excerpt(response.text, url.get_secret_value())}")
            continue
        sent.append(name)
        logger.info("digest %s posted to %s", digest.week, name)
    if failures:
        raise DigestError("digest not delivered to " + "; ".join(failures))
    return sent

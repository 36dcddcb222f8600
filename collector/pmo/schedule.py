"""The digest on a cron schedule: one APScheduler job per process running ``serve``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from apscheduler.job import Job
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from collector.config.model import AppConfig
from collector.pmo.digest import build_digest, post_digest
from connectors.records import utc_now

logger = logging.getLogger(__name__)
DIGEST_JOB_ID = "pmo-digest"


def send_digest(engine: Engine, config: AppConfig, now: datetime) -> list[str]:
    """Build the digest at ``now`` and post it to every configured webhook."""
    return post_digest(build_digest(engine, config, now), config.digest)


def _run(engine: Engine, config: AppConfig, clock: Callable[[], datetime], send: Callable[..., object]) -> None:
    try:
        send(engine, config, clock())
    except Exception:  # a scheduler job: log the traceback, never kill the scheduler
        logger.exception("the digest could not be sent")


def register_digest_job(
    scheduler: BaseScheduler,
    engine: Engine,
    config: AppConfig,
    *,
    clock: Callable[[], datetime] = utc_now,
    send: Callable[..., object] = send_digest,
) -> Job | None:
    """Add the digest job on ``config.digest.schedule`` (cron, UTC); ``None`` when no schedule or no
    webhook is configured."""
    digest = config.digest
    if digest.schedule is None or (digest.slack_webhook_url is None and digest.teams_webhook_url is None):
        return None
    trigger = CronTrigger.from_crontab(digest.schedule, timezone="UTC")
    job = scheduler.add_job(
        _run, trigger, args=(engine, config, clock, send), id=DIGEST_JOB_ID, replace_existing=True,
        max_instances=1, coalesce=True,
    )  # fmt: skip
    logger.info("digest scheduled on %r (UTC)", digest.schedule)
    return job

"""Killing a real ``delivery-metrics sync`` subprocess at chosen moments of its conversation with the
fake GitHub and GitLab hosts of ``tests/connectors/fake_git_hosts.py``.

A moment is "request number N, plus a delay": when the fake server receives its N-th request it
sends SIGKILL to the sync process, either at once (the process dies waiting for that response) or
after ``delay`` seconds from a timer (the process dies wherever it is by then: mapping a page,
inside a write transaction, committing).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fake_git_hosts import GITHUB, GITLAB, FakeGitHosts
from sqlalchemy import Engine, select

from collector.store.models import CommitRow, DeploymentRow, PullRequestRow, SyncState

CLI = Path(sys.executable).with_name("delivery-metrics")
TOKEN = "crash-test-token-value"
SYNC_TIMEOUT_S = 60


# The shared fake serves commits c3 and g1 with other dates in their pull/merge request listings than
# in the branch listing; a real host gives one commit one date, and with two versions of a row the
# stored one depends on the order of the writes, which a crash legitimately changes.
CONSISTENT: dict[str, Any] = {
    "/gh/api/v3/repos/acme/shop/pulls/3/commits": [c for c in GITHUB["/repos/acme/shop/commits"] if c["sha"] == "c3"],
    "/gl/api/v4/projects/7/merge_requests/1/commits": [
        c for c in GITLAB["/projects/7/repository/commits"] if c["id"] == "g1"
    ],
}


@dataclass
class KillPlan:
    """Kill the sync when the server receives request ``at_request`` (1-based), ``delay`` s later."""

    at_request: int
    delay: float = 0.0


class KillingHosts(FakeGitHosts):
    """The fake Git hosts, one item per page, able to SIGKILL the sync process mid-conversation."""

    def __init__(self) -> None:
        super().__init__(per_page=1)
        # no scripted 502: the subprocess's retry sleep would be real time
        self.failed_once.update({"/repos/acme/shop/deployments", "/projects/7/deployments"})
        self.count = 0
        self.victim: int | None = None
        self.plan: KillPlan | None = None
        self.killed = False
        self._lock = threading.Lock()

    def arm(self, pid: int, plan: KillPlan | None) -> None:
        with self._lock:
            self.count, self.victim, self.plan, self.killed = 0, pid, plan, False

    def respond(self, path: str, query: dict[str, str], if_none_match: str | None) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.count += 1
            plan = self.plan
            if plan is not None and self.count == plan.at_request and self.victim is not None:
                self._kill_later(self.victim, plan.delay)
        if path in CONSISTENT:
            return 200, {"Content-Type": "application/json"}, CONSISTENT[path]
        return super().respond(path, query, if_none_match)

    def _kill_later(self, pid: int, delay: float) -> None:
        def kill() -> None:
            try:
                os.kill(pid, signal.SIGKILL)
                self.killed = True
            except ProcessLookupError:  # it finished first: the trial is then an uninterrupted run
                pass

        if delay <= 0:
            kill()
        else:
            timer = threading.Timer(delay, kill)
            timer.daemon = True
            timer.start()


def write_config(path: Path, base: str, database: str) -> Path:
    """A config with one GitHub and one GitLab source on the fake hosts, one item per page."""
    path.write_text(
        f"""
database: {{url: "{database}"}}
teams: [{{name: core}}]
services:
  - {{name: shop, team: core, repositories: [acme/shop]}}
  - {{name: api, team: core, repositories: [acme/api]}}
sources:
  - {{name: gh, kind: github, token: {TOKEN}, base_url: "{base}/gh/api/v3", repositories: [acme/shop],
      per_page: 1, max_retries: 0, connect_timeout: 5s, read_timeout: 5s, history_days: 3650}}
  - {{name: gl, kind: gitlab, token: {TOKEN}, base_url: "{base}/gl", projects: [acme/api], per_page: 1,
      max_retries: 0, connect_timeout: 5s, read_timeout: 5s, history_days: 3650}}
"""
    )
    return path


def run_sync(config: Path, hosts: KillingHosts, plan: KillPlan | None) -> int:
    """Run ``delivery-metrics sync`` to its end or its death; its exit code (-9 when killed)."""
    process = subprocess.Popen(
        [str(CLI), "--config", str(config), "--log-level", "warning", "sync"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    hosts.arm(process.pid, plan)
    try:
        _, stderr = process.communicate(timeout=SYNC_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        hosts.arm(0, None)
    if process.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"sync exited {process.returncode}: {stderr.decode(errors='replace')[-2000:]}")
    return process.returncode


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value)


# (source, resource, partition) -> [(time of the item in the listing's cursor field, natural key)]
LISTINGS: dict[tuple[str, str, str], list[tuple[datetime, tuple[str, Any]]]] = {
    ("gh", "commits", "acme/shop@main"): [
        (_t(c["commit"]["committer"]["date"]), ("commit", c["sha"])) for c in GITHUB["/repos/acme/shop/commits"]
    ],
    ("gh", "pulls", "acme/shop"): [
        (_t(p["updated_at"]), ("pull", p["number"])) for p in GITHUB["/repos/acme/shop/pulls"]
    ],
    ("gh", "deployments", "acme/shop|*"): [
        (_t(d["created_at"]), ("deployment", f"acme/shop/deployments/{d['id']}"))
        for d in GITHUB["/repos/acme/shop/deployments"]
    ],
    ("gl", "commits", "acme/api@main"): [
        (_t(c["committed_date"]), ("commit", c["id"])) for c in GITLAB["/projects/7/repository/commits"]
    ],
    ("gl", "merge_requests", "acme/api"): [
        (_t(m["updated_at"]), ("pull", m["iid"])) for m in GITLAB["/projects/7/merge_requests"]
    ],
    ("gl", "deployments", "acme/api|*"): [
        (_t(d["updated_at"]), ("deployment", f"acme/api/deployments/{d['id']}"))
        for d in GITLAB["/projects/7/deployments"]
    ],
}


def cursors_ahead_of_data(engine: Engine) -> list[str]:
    """Watermarks claiming items that are not stored: for each stored watermark cursor, every item of
    its listing whose cursor-field time is at or before the watermark must be in the store."""
    problems: list[str] = []
    with engine.connect() as connection:
        state = {(r.source, r.resource, r.partition): r.cursor for r in connection.execute(select(SyncState))}
        commits = {(r.source, r.sha) for r in connection.execute(select(CommitRow.source, CommitRow.sha))}
        pulls = {(r.source, r.number) for r in connection.execute(select(PullRequestRow.source, PullRequestRow.number))}
        deployments = {
            (r.source, r.external_id)
            for r in connection.execute(select(DeploymentRow.source, DeploymentRow.external_id))
        }
    stored = {"commit": commits, "pull": pulls, "deployment": deployments}
    for key, watermark in state.items():
        if key[1] == "etag":
            continue
        if key not in LISTINGS:
            problems.append(f"unexpected cursor {key}={watermark}")
            continue
        mark = _t(watermark)
        for when, (kind, natural) in LISTINGS[key]:
            if when <= mark and (key[0], natural) not in stored[kind]:
                problems.append(f"cursor {key}={watermark} but {kind} {natural} ({when.isoformat()}) is not stored")
    return problems

"""Load: `serve` under 50 concurrent clients while a sync runs, and 100,000 pushed events.

1. ``serve`` on a SQLite store holding the demo organisation, with one GitHub source on the fake
   hosts of ``tests/connectors/fake_git_hosts.py`` answering every request 0.5 s late, one item per
   page, synced every second. After a warm-up, 50 concurrent clients alternate ``GET /metrics`` and
   ``GET /api/v1/metrics`` for ``LOAD_S`` seconds while the process's RSS is sampled twice a second.
   Pass: every answer is 200 with a complete body; the sync overlapped the load (the fake API got
   requests during it, and the snapshot served at the end was computed after the load began, by the
   recomputation that follows a sync storing something); and the RSS at the end (median of the last
   samples) exceeds the RSS after warm-up (median of the first samples) by no more than the larger
   of ``RSS_NOISE_BYTES`` (16 MiB) and ``RSS_NOISE_RATIO`` (10 %).
2. ``POST /api/v1/events``: 100,000 distinct events (50,000 commits, 50,000 deployments) in batches
   of 5,000, four batches in flight at a time; every batch must answer 200 with its count, and the
   store must then hold exactly 50,000 more commits and 50,000 more deployments.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_git_hosts import FakeGitHosts
from serve_process import ServeProcess, run_cli, wait_until
from sqlalchemy import func, select

from collector.store.engine import create_store_engine
from collector.store.models import CommitRow, DeploymentRow
from collector.synthetic import generate_org, services_config, write_jsonl

pytestmark = pytest.mark.slow

CLIENTS = 50
WARMUP_S = 4.0
LOAD_S = 60.0  # the issue asks for a minute
RSS_NOISE_BYTES = 16 * 1024 * 1024
RSS_NOISE_RATIO = 0.10
SYNC_DELAY_S = 0.5
PUSH_EVENTS = 100_000
BATCH = 5_000
PUSHERS = 4
TOKEN = "load-test-push-token"


class SlowHosts(FakeGitHosts):
    """The fake Git hosts, one item per page, each answer ``delay`` seconds late."""

    def __init__(self, delay: float) -> None:
        super().__init__(per_page=1)
        self.failed_once.update({"/repos/acme/shop/deployments", "/projects/7/deployments"})
        self.delay = delay
        self.times: list[float] = []

    def respond(self, path: str, query: dict[str, str], if_none_match: str | None) -> tuple[int, dict[str, str], Any]:
        self.times.append(time.monotonic())
        time.sleep(self.delay)
        return super().respond(path, query, if_none_match)


@pytest.fixture
def demo_store(tmp_path: Path, sqlite_template: Path) -> tuple[Path, dict[str, Any]]:
    """A SQLite store and a config (without sources) holding the demo organisation."""
    store = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, store)
    org = generate_org("demo", 5, datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0))
    write_jsonl(org, tmp_path / "events.jsonl")
    services = [*services_config(org), {"name": "shop", "team": "core", "repositories": ["acme/shop"]}]
    config: dict[str, Any] = {
        "database": {"url": f"sqlite:///{store}"},
        "teams": [{"name": team} for team in sorted({str(s["team"]) for s in services})],
        "services": services,
        "server": {"jitter": "0s", "api_token": TOKEN},
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = run_cli(["--config", str(path), "ingest", str(tmp_path / "events.jsonl")])
    assert result.returncode == 0, result.stderr
    return path, config


async def _hammer(base: str, seconds: float) -> tuple[int, list[str], list[float]]:
    """``CLIENTS`` workers alternating the two endpoints until ``seconds`` pass: (answers, errors, latencies)."""
    deadline = time.monotonic() + seconds
    errors: list[str] = []
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def worker(client: httpx.AsyncClient, index: int) -> None:
        paths = ("/metrics", "/api/v1/metrics") if index % 2 else ("/api/v1/metrics", "/metrics")
        turn = 0
        while time.monotonic() < deadline:
            path = paths[turn % 2]
            turn += 1
            started = time.monotonic()
            try:
                response = await client.get(path)
            except httpx.HTTPError as error:
                errors.append(f"{path}: {type(error).__name__}: {error}")
                continue
            latencies.append(time.monotonic() - started)
            complete = "dora_deployments{" in response.text if path == "/metrics" else '"results"' in response.text
            if response.status_code != 200 or not complete:
                errors.append(f"{path}: {response.status_code} {response.text[:200]}")

    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client, i) for i in range(CLIENTS)))
    return len(latencies), errors, latencies


def test_serve_answers_50_concurrent_clients_during_a_sync_without_errors_or_memory_growth(demo_store, tmp_path):
    path, config = demo_store
    hosts = SlowHosts(delay=SYNC_DELAY_S).start()
    try:
        config["sources"] = [
            {
                "name": "gh",
                "kind": "github",
                "token": "load-token",
                "base_url": f"{hosts.base}/gh/api/v3",
                "repositories": ["acme/shop"],
                "per_page": 1,
                "interval": "1s",
                "max_retries": 0,
                "history_days": 3650,
            }
        ]
        path.write_text(json.dumps(config))
        with ServeProcess(path, tmp_path / "serve.log") as serve:
            serve.wait_ready(timeout=60)
            asyncio.run(_hammer(serve.base, WARMUP_S))
            samples: list[int] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    samples.append(serve.rss_bytes())
                    stop.wait(0.5)

            sampler = threading.Thread(target=sample, daemon=True)
            load_started, load_started_wall = time.monotonic(), time.time()
            sampler.start()
            try:
                answers, errors, latencies = asyncio.run(_hammer(serve.base, LOAD_S))
            finally:
                stop.set()
                sampler.join(timeout=5)
            sync_requests = sum(0 <= t - load_started < LOAD_S for t in hosts.times)
            metrics = httpx.get(f"{serve.base}/metrics", timeout=10).text
            assert serve.stop() == 0, serve.output()[-3000:]
    finally:
        hosts.stop()
    assert not errors, f"{len(errors)} errors of {answers + len(errors)} requests: {errors[:5]}"
    assert answers >= CLIENTS * 4, f"only {answers} answers in {LOAD_S} s"
    assert sync_requests > 0, "no sync ran during the load"
    snapshot_computed = float(metrics.split("\ndelivery_metrics_snapshot_timestamp_seconds ", 1)[1].split()[0])
    assert snapshot_computed > load_started_wall, "the sync's recomputation did not overlap the load"
    assert 'delivery_metrics_source_up{source="gh"} 1.0' in metrics
    head, tail = statistics.median(samples[:6]), statistics.median(samples[-6:])
    allowed = max(RSS_NOISE_BYTES, RSS_NOISE_RATIO * head)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    figures = (
        f"{answers} answers in {LOAD_S:.0f} s ({answers / LOAD_S:.0f}/s), p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms; {sync_requests} sync requests during the load; "
        f"RSS {head / 2**20:.1f} MiB -> {tail / 2**20:.1f} MiB (max {max(samples) / 2**20:.1f})"
    )
    print(figures)  # the measured figures, shown with -s
    assert tail - head <= allowed, f"RSS grew beyond noise: {figures}"


def _push_events(start: int, count: int) -> list[dict[str, Any]]:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    events: list[dict[str, Any]] = []
    for n in range(start, start + count):
        sha = f"{n:040x}"
        at = (base + timedelta(minutes=n)).isoformat()
        if n % 2:
            events.append({"type": "commit", "repo": "acme/shop", "sha": sha, "authored_at": at, "committed_at": at})
        else:
            events.append(
                {
                    "type": "deployment",
                    "id": f"push-{n}",
                    "service": "shop",
                    "environment": "production",
                    "status": "success",
                    "sha": f"{n - 1:040x}" if n else sha,
                    "finished_at": at,
                }
            )
    return events


def _counts(url: str) -> tuple[int, int]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            commits = connection.execute(select(func.count()).select_from(CommitRow)).scalar_one()
            deployments = connection.execute(select(func.count()).select_from(DeploymentRow)).scalar_one()
    finally:
        engine.dispose()
    return int(commits), int(deployments)


def test_push_api_ingests_100000_events_in_concurrent_batches_and_loses_none(demo_store, tmp_path):
    path, config = demo_store
    url = str(config["database"]["url"])
    commits_before, deployments_before = _counts(url)
    with ServeProcess(path, tmp_path / "serve.log") as serve:
        serve.wait_ready(timeout=60)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}

        def push(start: int) -> tuple[int, int, str]:
            body = json.dumps(_push_events(start, BATCH))
            response = httpx.post(f"{serve.base}/api/v1/events", content=body, headers=headers, timeout=120)
            events = response.json().get("events", -1) if response.status_code == 200 else -1
            return response.status_code, events, response.text[:300]

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=PUSHERS) as pool:
            answers = list(pool.map(push, range(0, PUSH_EVENTS, BATCH)))
        elapsed = time.monotonic() - started
        wait_until("serve still ready", lambda: httpx.get(f"{serve.base}/readyz", timeout=5).status_code == 200, 60)
        assert serve.stop() == 0, serve.output()[-3000:]
    failed = [answer for answer in answers if answer[:2] != (200, BATCH)]
    assert not failed, f"{len(failed)} of {len(answers)} batches failed: {failed[:3]}"
    commits, deployments = _counts(url)
    assert (commits - commits_before, deployments - deployments_before) == (PUSH_EVENTS // 2, PUSH_EVENTS // 2)
    print(f"{PUSH_EVENTS} events in {len(answers)} batches in {elapsed:.1f} s ({PUSH_EVENTS / elapsed:.0f}/s)")

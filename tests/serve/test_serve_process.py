"""`delivery-metrics serve` as a real process on a free port with a SQLite store.

The store holds a hand-built snapshot (the recompute is another engineer's module), and the config
one git source whose path does not exist, so its first run fails and the health families show it.
The test waits for ``/readyz``, scrapes ``/metrics``, sends SIGTERM and expects exit 0 within 5 s.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.snapshot import save_snapshot
from collector.store.engine import create_store_engine

FAMILIES = {
    "dora_deployments",
    "dora_deployments_per_day",
    "dora_change_lead_time_seconds",
    "dora_change_failure_ratio",
    "dora_failed_deployment_recovery_time_seconds",
    "dora_time_to_restore_seconds",
    "dora_rework_ratio",
    "dora_performance_level",
    "delivery_metrics_source_up",
    "delivery_metrics_source_sync_duration_seconds",
    "delivery_metrics_source_errors",
    "delivery_metrics_snapshot_timestamp_seconds",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command() -> list[str]:
    """The console script's entry point, run by this interpreter (the same as `delivery-metrics`)."""
    return [sys.executable, "-m", "collector.entrypoint"]


@pytest.fixture
def store(tmp_path: Path, sqlite_template: Path, demo_snapshot) -> str:
    path = tmp_path / "store.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    engine = create_store_engine(url)
    save_snapshot(engine, demo_snapshot)
    engine.dispose()
    return url


def test_serve_answers_scrapes_and_stops_cleanly_on_sigterm(tmp_path: Path, store: str):
    config = tmp_path / "config.yaml"
    config.write_text(f"sources:\n  - name: repo\n    kind: git\n    path: {tmp_path / 'missing-repo'}\n")
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [*serve_command(), "--config", str(config), "--database", store, "serve", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, process.stdout.read().decode() if process.poll() else ""
        # the failing source's first run (at start) shows in the health families
        for _ in range(50):
            text = httpx.get(f"{base}/metrics", timeout=5).text
            if "delivery_metrics_source_up{" in text:
                break
            time.sleep(0.1)
        families = {family.name for family in text_string_to_metric_families(text) if family.samples}
        assert families >= FAMILIES, FAMILIES - families
        assert 'delivery_metrics_source_up{source="repo"} 0.0' in text
        assert 'dora_deployments{environment="production",period="current",scope="service"' in text
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = process.wait(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = process.stdout.read().decode()
    assert code == 0, output
    assert elapsed < 5, output

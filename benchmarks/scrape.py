"""``/metrics`` scrape latency against a running ``delivery-metrics serve`` (a real subprocess).

The server listens on a free loopback port; ``scrapers`` threads each scrape in a loop until
``seconds`` have passed or ``max_requests_each`` were sent, whichever comes first (a request in
flight then finishes, or fails after ``request_timeout``: failures are counted, not timed). Latency is the
wall time of one request on a kept-alive connection, response body read. The process is stopped
with SIGTERM (then killed after a grace period) in every case.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 15.0
WARM_UP_SCRAPES = 5


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command() -> list[str]:
    """The installed console script beside this interpreter, else the module entry point."""
    script = Path(sys.executable).with_name("delivery-metrics")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from collector.entrypoint import main; main()"]


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (``fraction`` in (0, 1])."""
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def _wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited early with status {process.returncode}")
            try:
                if client.get(f"{base}/readyz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"serve was not ready within {READY_TIMEOUT_S:.0f} s")


def _scraper(base: str, deadline: float, limit: int, timeout: float, latencies: list[float], errors: list[str]) -> None:
    with httpx.Client(timeout=timeout) as client:
        for _ in range(limit):
            if time.monotonic() >= deadline:
                return
            started = time.perf_counter()
            try:
                response = client.get(f"{base}/metrics")
                body = response.content
            except httpx.HTTPError as error:
                errors.append(type(error).__name__)
                continue
            elapsed = time.perf_counter() - started
            if response.status_code != 200 or b"dora_deployments" not in body:
                errors.append(f"status {response.status_code}")
                continue
            latencies.append(elapsed)


def measure_scrape(
    config: Path,
    url: str,
    *,
    scrapers: int = 10,
    seconds: float = 10.0,
    max_requests_each: int = 5000,
    request_timeout: float = 60.0,
) -> dict[str, Any]:
    """Start ``serve`` on ``url``'s store (a snapshot must be saved there) and measure scrapes."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [*serve_command(), "--config", str(config), "--database", url, "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(base, process)
        with httpx.Client(timeout=request_timeout) as client:
            sample = client.get(f"{base}/metrics").content
            for _ in range(WARM_UP_SCRAPES):  # warm-up, not measured
                client.get(f"{base}/metrics")
        latencies: list[float] = []
        errors: list[str] = []
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(
                target=_scraper,
                args=(base, deadline, max_requests_each, request_timeout, latencies, errors),
            )
            for _ in range(scrapers)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=seconds + request_timeout + 30)
        elapsed = time.perf_counter() - started
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_GRACE_S)
    result: dict[str, Any] = {
        "scrapers": scrapers,
        "seconds": elapsed,
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "request_timeout_s": request_timeout,
        "body_bytes": len(sample),
        "samples": sum(1 for line in sample.splitlines() if line and not line.startswith(b"#")),
        "exit_status": process.returncode,
    }
    if not latencies:  # every scrape failed or timed out: no percentile, the p99 target is missed
        return {**result, "requests_per_second": 0.0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        **result,
        "requests_per_second": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
    }

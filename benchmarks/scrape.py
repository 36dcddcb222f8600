"""``/metrics`` scrape latency against a running ``delivery-metrics serve`` (a real subprocess).

Method:

- ``serve`` runs as a subprocess on a free loopback port over a store where a snapshot is saved.
  The benchmark config has no sources, so nothing syncs or recomputes during the window; the one
  scheduled job, the snapshot refresh (re-reading the newest saved snapshot), first runs
  ``server.snapshot_refresh`` = 60 s after start, and the result's ``serve_uptime_at_end_s`` shows
  the window ended before it. What is measured is therefore the steady state: scrapes answered from
  the exposition rendered once. Once ``/readyz`` answers, five unmeasured scrapes warm it up (the
  first one renders and compresses the exposition).
- ``scrapers`` scraper **processes** (forked, not threads: no scraper ever waits for another's
  GIL) are started, then released together by a barrier. Each keeps **one** kept-alive HTTP/1.1
  connection (stdlib ``http.client``) and scrapes in a closed loop, the next request as soon as the
  previous one is done, until ``seconds`` have passed or it sent ``max_requests_each`` requests; a
  request in flight then finishes.
- Each request sends ``Accept-Encoding: gzip`` as Prometheus does (``encoding="identity"`` is
  there to measure the share of compression). Its **latency** is the wall time from sending the
  request to having the whole body received. With ``decode=False`` (what the scrape target is
  checked on) a scraper compares the received bytes with the body served at warm-up and does not
  decompress it in the loop (a body that differs is decompressed and checked for DORA samples):
  the scrapers stand in for Prometheus servers, which decompress and parse on their own machines,
  so the closed loop should not spend the measured machine's 2 cores on their work. With
  ``decode=True`` every scraper also decompresses every body inside the timed request, as a
  Prometheus scrape's own duration does: on a shared 2-core machine that mostly measures the
  scrapers (about 4 ms of CPU per request for 3.5 MB of text at L against 0.3 ms of ``serve``),
  and it is reported beside the target. Either way, the time to the end of the received body is
  reported too (``receive_p50_ms``, ``receive_p99_ms``).
- CPU per request, less sensitive to the machine's load than wall times: ``serve_cpu_ms_per_request``
  (the serve process's user + system time over the window, from ``/proc``) and
  ``scraper_cpu_ms_per_request`` (the scrapers' own, decompression included). On an otherwise idle
  machine with ``c`` cores the closed loop's latency is about ``scrapers × (both) / c``.
- A request that fails (connection error, a socket operation slower than ``request_timeout``, a
  status other than 200, a body without DORA samples) is counted as an error, not timed, and the
  scraper reconnects. p50/p99 are nearest-rank percentiles over every timed request of every scraper.
- ``serve`` is stopped with SIGTERM (then killed after a grace period) in every case.

The scrapers share the machine's cores with ``serve``: 10 clients in a closed loop on 2 cores keep
10 requests in flight, so a request waits for the others' share of CPU, mostly their decompression
(about 4 ms per MB of text): the latency falls with the exposition's size, which is what the
exporter's selection controls (``exporter:`` in the config, ``docs/metrics-reference.md``).
"""

from __future__ import annotations

import http.client
import logging
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import httpx

logger = logging.getLogger(__name__)

READY_TIMEOUT_S = 120.0
STOP_GRACE_S = 15.0
WARM_UP_SCRAPES = 5
BARRIER_TIMEOUT_S = 60.0
#: What one scraper process reports: its latencies (s), receive times (s), error kinds, CPU seconds.
ScraperResult = tuple[list[float], list[float], list[str], float]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``; 0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape_headers(encoding: str = "gzip") -> dict[str, str]:
    """The request headers of a scrape: ``Accept-Encoding: encoding`` (Prometheus sends gzip)."""
    return {
        "Accept-Encoding": encoding,
        "Accept": "text/plain;version=0.0.4;q=0.9,*/*;q=0.1",
        "User-Agent": "delivery-metrics-benchmark",
    }


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


def decoded(raw: bytes, content_encoding: str | None) -> bytes:
    """The body as text bytes: ``raw`` decompressed when its ``Content-Encoding`` is gzip."""
    return zlib.decompress(raw, wbits=31) if (content_encoding or "").lower() == "gzip" else raw


def scrape_once(
    connection: http.client.HTTPConnection, headers: dict[str, str], expected: bytes | None
) -> tuple[float, float, int, bool]:
    """One ``GET /metrics`` on ``connection``: (latency, seconds to the received body, status, whether
    the body is a DORA exposition).

    With ``expected`` (the raw body served at warm-up) the latency ends when the body is received
    and compared with it; only a body that differs is decompressed (untimed) and checked. Without
    it every body is decompressed inside the latency."""
    started = time.perf_counter()
    connection.request("GET", "/metrics", headers=headers)
    response = connection.getresponse()
    raw = response.read()
    received = time.perf_counter()
    if expected is not None:
        same = raw == expected
        finished = time.perf_counter()
        valid = same or b"dora_deployments" in decoded(raw, response.getheader("Content-Encoding"))
        return finished - started, received - started, response.status, valid
    body = decoded(raw, response.getheader("Content-Encoding"))
    finished = time.perf_counter()
    return finished - started, received - started, response.status, b"dora_deployments" in body


def scraper_process(
    port: int,
    seconds: float,
    limit: int,
    timeout: float,
    encoding: str,
    expected: bytes | None,
    barrier: Barrier,
    results: Queue[ScraperResult],
) -> None:
    """One scraper (the target of a process of its own); puts (latencies, receive times, error kinds).

    ``expected``: the raw body to compare with instead of decompressing each one (see :func:`scrape_once`)."""
    latencies: list[float] = []
    received: list[float] = []
    errors: list[str] = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = scrape_headers(encoding)
    cpu_started = time.process_time()
    try:
        connection.connect()
        barrier.wait(BARRIER_TIMEOUT_S)
        cpu_started = time.process_time()
        deadline = time.monotonic() + seconds
        for _ in range(limit):
            if time.monotonic() >= deadline:
                break
            try:
                latency, receive, status, valid = scrape_once(connection, headers, expected)
            except (OSError, http.client.HTTPException) as error:
                errors.append(type(error).__name__)
                connection.close()  # the next request opens a fresh connection
                continue
            if status != 200 or not valid:
                errors.append(f"status {status}")
                continue
            latencies.append(latency)
            received.append(receive)
    finally:
        connection.close()
        results.put((latencies, received, errors, time.process_time() - cpu_started))


def _run_scrapers(
    port: int, scrapers: int, seconds: float, limit: int, timeout: float, encoding: str, expected: bytes | None
) -> tuple[list[float], list[float], list[str], float, float]:
    """Start ``scrapers`` processes, release them together; (latencies, receive times, errors, the
    scrapers' CPU seconds, wall seconds)."""
    context = multiprocessing.get_context("fork")  # nothing to re-import; the parent runs no thread here
    barrier = context.Barrier(scrapers + 1)
    queue: Queue[ScraperResult] = context.Queue()
    processes = [
        context.Process(
            target=scraper_process,
            args=(port, seconds, limit, timeout, encoding, expected, barrier, queue),
            daemon=True,
        )
        for _ in range(scrapers)
    ]
    for process in processes:
        process.start()
    try:
        barrier.wait(BARRIER_TIMEOUT_S)
        started = time.perf_counter()
        results = [queue.get(timeout=seconds + timeout + 30) for _ in processes]
        elapsed = time.perf_counter() - started
    finally:
        for process in processes:
            process.join(timeout=STOP_GRACE_S)
            if process.is_alive():
                process.kill()
    latencies = [value for result in results for value in result[0]]
    received = [value for result in results for value in result[1]]
    errors = [kind for result in results for kind in result[2]]
    return latencies, received, errors, sum(result[3] for result in results), elapsed


def measure_scrape(
    config: Path,
    url: str,
    *,
    scrapers: int = 10,
    seconds: float = 10.0,
    max_requests_each: int = 5000,
    request_timeout: float = 60.0,
    encoding: str = "gzip",
    decode: bool = False,
) -> dict[str, Any]:
    """Start ``serve`` on ``url``'s store (a snapshot must be saved there) and measure scrapes
    (``encoding``: the scrapers' ``Accept-Encoding``, gzip as Prometheus, identity to see the share
    of compression; ``decode``: whether each scraper decompresses every body inside its latency, see
    the module docstring)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [*serve_command(), "--config", str(config), "--database", url, "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    try:
        _wait_ready(base, process)
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=request_timeout)
        for _ in range(WARM_UP_SCRAPES):  # warm-up, not measured; the first one renders the exposition
            warm.request("GET", "/metrics", headers=scrape_headers("gzip"))
            response = warm.getresponse()
            compressed_bytes = len(response.read())
        warm.request("GET", "/metrics", headers=scrape_headers(encoding))
        response = warm.getresponse()
        served = response.read()
        sample = decoded(served, response.getheader("Content-Encoding"))
        warm.close()
        if b"dora_deployments" not in sample:
            raise RuntimeError("the warm-up scrape has no DORA samples: nothing to measure")
        serve_cpu = process_cpu_seconds(process.pid)
        latencies, received, errors, client_cpu, elapsed = _run_scrapers(
            port, scrapers, seconds, max_requests_each, request_timeout, encoding, None if decode else served
        )
        serve_cpu = process_cpu_seconds(process.pid) - serve_cpu
        uptime = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_GRACE_S)
    result: dict[str, Any] = {
        "method": f"processes, one kept-alive connection each, Accept-Encoding {encoding}; latency = request sent "
        + ("to body received and decompressed" if decode else "to body received (compared, not decompressed)"),
        "encoding": encoding,
        "decode": decode,
        "serve_uptime_at_end_s": uptime,
        "scrapers": scrapers,
        "seconds": elapsed,
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "request_timeout_s": request_timeout,
        "body_bytes": len(sample),
        "gzip_bytes": compressed_bytes,
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
        "receive_p50_ms": percentile(received, 0.50) * 1000,
        "receive_p99_ms": percentile(received, 0.99) * 1000,
        "serve_cpu_ms_per_request": serve_cpu * 1000 / len(latencies),
        "scraper_cpu_ms_per_request": client_cpu * 1000 / len(latencies),
    }

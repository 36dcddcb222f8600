"""A real `serve` loaded with the demo data and a real Prometheus scraping it, for the dashboard test.

- ``delivery-metrics demo --no-serve --dir <tmp>`` fills a SQLite store and writes its config,
  which sets two goals on the demo's first team (a value goal and a level goal), so the PMO
  dashboard's goal panels have ``delivery_metrics_goal_*`` series to query;
- the config gets one more source, ``fake-github``: a ``github`` source whose API is a tiny
  GitHub-shaped server on 127.0.0.1 (empty lists, ``x-ratelimit-*`` headers), so the request and
  rate-limit health families have samples as they would in production;
- ``delivery-metrics serve`` runs on a free port, Prometheus (Debian's binary) on another, with the
  rules of ``deploy/prometheus/`` loaded and a 1 s scrape and evaluation interval.

Every wait is bounded; :meth:`LiveStack.stop` kills both processes and the fake API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml
from deploy_paths import REPO, RULE_FILES, free_port

CLI = [sys.executable, "-c", "from collector.entrypoint import main; main()"]
FAKE_REMAINING = 4321


class FakeGitHubApi:
    """``GET /repos/acme/fake`` → the repository; any other path → ``[]``; rate-limit headers on all."""

    def __init__(self) -> None:
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(handler) -> None:
                self.requests += 1
                path = handler.path.split("?", 1)[0]
                body: Any = {"full_name": "acme/fake", "default_branch": "main"} if path == "/repos/acme/fake" else []
                data = json.dumps(body).encode()
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("x-ratelimit-limit", "5000")
                handler.send_header("x-ratelimit-remaining", str(FAKE_REMAINING))
                handler.send_header("x-ratelimit-reset", str(int(time.time()) + 3600))
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_for(what: str, check: Callable[[], bool], timeout: float, process: subprocess.Popen[bytes] | None) -> None:
    """Poll ``check`` every 0.25 s until it holds; fail after ``timeout`` s or if ``process`` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"{what}: the process exited with {process.returncode}")
        try:
            if check():
                return
        except (httpx.HTTPError, ValueError):  # not listening yet, or "Service Unavailable" while starting
            pass
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def _exports(text: str, *families: str) -> bool:
    """Whether the exposition ``text`` has a sample of every family (given as ``name{``)."""
    return all(family in text for family in families)


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, then SIGKILL after 10 s; always reaped."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class LiveStack:
    """Start with :meth:`start`, always call :meth:`stop` (a ``finally`` or a fixture teardown)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.api: FakeGitHubApi | None = None
        self.serve: subprocess.Popen[bytes] | None = None
        self.prometheus: subprocess.Popen[bytes] | None = None
        self.serve_port = free_port()
        self.prometheus_port = free_port()
        self.prometheus_url = f"http://127.0.0.1:{self.prometheus_port}"

    def start(self, prometheus_binary: str) -> LiveStack:
        demo_dir = self.tmp / "demo"
        demo = subprocess.run(
            [*CLI, "demo", "--no-serve", "--dir", str(demo_dir)],
            cwd=self.tmp,  # not a git repository: the demo skips its git source
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        self.api = FakeGitHubApi()
        config_path = self._config(demo_dir / "delivery-metrics.yaml")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "DM_TEST_FAKE_GITHUB_TOKEN": "fake-token-value"}
        self.serve = subprocess.Popen(
            [*CLI, "--config", str(config_path), "serve"],
            cwd=REPO,
            env=env,
            stdout=(self.tmp / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        metrics = f"http://127.0.0.1:{self.serve_port}/metrics"
        wait_for(
            "serve exports the demo snapshot, its goals and the fake source's rate limit",
            lambda: _exports(
                httpx.get(metrics, timeout=2).text,
                "delivery_metrics_rate_limit_remaining{",
                "delivery_metrics_goal_progress_ratio{",
            ),
            60,
            self.serve,
        )
        self.prometheus = subprocess.Popen(
            [
                prometheus_binary,
                f"--config.file={self._prometheus_config()}",
                f"--storage.tsdb.path={self.tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.prometheus_port}",
                "--log.level=warn",
            ],
            stdout=(self.tmp / "prometheus.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        # five scrapes: enough samples for rate() over a few seconds, and the rules evaluated
        wait_for(
            "Prometheus scraped serve five times and evaluated the rules",
            lambda: (
                bool(self.query('count_over_time(up{job="delivery-metrics"}[1m]) >= 5'))
                and bool(self.query("dora:teams_at_level:count"))
            ),
            60,
            self.prometheus,
        )
        return self

    def _config(self, demo_config: Path) -> Path:
        config = yaml.safe_load(demo_config.read_text())
        config["sources"].append(
            {
                "name": "fake-github",
                "kind": "github",
                "base_url": self.api.base if self.api else "",
                "token": "${DM_TEST_FAKE_GITHUB_TOKEN}",
                "repositories": [{"name": "acme/fake", "deployments": {"method": "none"}}],
                "fetch_reviews": False,
            }
        )
        config["server"] = {"host": "127.0.0.1", "port": self.serve_port, "jitter": "0s"}
        path = self.tmp / "serve.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def _prometheus_config(self) -> Path:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [str(path) for path in RULE_FILES],
            "scrape_configs": [
                {"job_name": "delivery-metrics", "static_configs": [{"targets": [f"127.0.0.1:{self.serve_port}"]}]}
            ],
        }
        path = self.tmp / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        return path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query; its result list."""
        response = httpx.get(f"{self.prometheus_url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body.get("status") == "success", f"{expr}: {body}"
        return list(body["data"]["result"])

    def query_range(self, expr: str, seconds: int = 20) -> list[dict[str, Any]]:
        """A range query over the last ``seconds`` with a 1 s step, as a time-series panel asks."""
        end = time.time()
        params = {"query": expr, "start": end - seconds, "end": end, "step": 1}
        body = httpx.get(f"{self.prometheus_url}/api/v1/query_range", params=params, timeout=10).json()
        assert body.get("status") == "success", f"{expr}: {body}"
        return list(body["data"]["result"])

    def series_label_values(self, selector: str, label: str) -> list[str]:
        """Values of ``label`` over the series matching ``selector`` (Grafana's ``label_values``)."""
        response = httpx.get(f"{self.prometheus_url}/api/v1/series", params={"match[]": selector}, timeout=10)
        body = response.json()
        assert body.get("status") == "success", f"{selector}: {body}"
        return sorted({series[label] for series in body["data"] if series.get(label)})

    def logs(self) -> str:
        """The tail of both processes' output, for failure messages."""
        parts = []
        for name in ("serve.log", "prometheus.log"):
            path = self.tmp / name
            if path.exists():
                parts.append(f"--- {name}\n" + path.read_text(errors="replace")[-3000:])
        return "\n".join(parts)

    def stop(self) -> None:
        stop_process(self.prometheus)
        stop_process(self.serve)
        if self.api is not None:
            self.api.stop()

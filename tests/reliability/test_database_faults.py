"""Database faults: `serve` on PostgreSQL through a TCP proxy that the test cuts and restores.

The real server is never stopped: ``serve`` reaches it through :class:`tcp_proxy.TcpProxy`. One git
source (a local repository, synced every second) stores commits and a tagged deployment. Then:

- **cut** (every connection dropped, new ones refused): ``/metrics`` and ``/api/v1/metrics`` keep
  answering 200 with exactly the DORA samples and report of the last snapshot; ``/readyz`` answers
  503 naming the database; ``delivery_metrics_source_up`` turns 0 and
  ``delivery_metrics_source_errors_total`` counts the failed runs;
- **restore**: with no restart (same process), ``/readyz`` is 200 again, the source is up, the commit
  and the deployment tagged while the database was away are stored, and the snapshot is recomputed.

Every wait is bounded; the serve process and the proxy are always stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from serve_process import ServeProcess, wait_until
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from tcp_proxy import TcpProxy

from collector.store.engine import create_store_engine
from collector.store.models import CommitRow, DeploymentRow

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("DM_SKIP_POSTGRES") == "1", reason="needs PostgreSQL (DM_SKIP_POSTGRES=1)"),
]
WAIT_S = 45


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    done = subprocess.run(["git", "-C", str(repo), *args], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _commit_and_tag(repo: Path, name: str) -> str:
    (repo / f"{name}.txt").write_text(name)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", f"change {name}")
    _git(repo, "tag", f"v-{name}")
    return _git(repo, "rev-parse", "HEAD")


def _config(path: Path, url: str, repo: Path) -> Path:
    config = {
        "database": {"url": url},
        "teams": [{"name": "core"}],
        "services": [{"name": "app", "team": "core", "repositories": ["acme/app"]}],
        "server": {"jitter": "0s", "snapshot_refresh": "2s"},
        "sources": [
            {
                "name": "repo",
                "kind": "git",
                "path": str(repo),
                "repository": "acme/app",
                "interval": "1s",
                "history_days": 3650,
                "deployments": [{"tags": "v-*", "service": "app"}],
            }
        ],
    }
    path.write_text(json.dumps(config))
    return path


def _samples(text: str, prefix: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith(prefix))


def _sample(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def _settled(get: Callable[[str], httpx.Response]) -> bool:
    first = _samples(get("/metrics").text, "dora_")
    time.sleep(2.5)
    return first == _samples(get("/metrics").text, "dora_")


def _stored(url: str, sha: str) -> bool:
    engine = create_store_engine(url)
    try:
        with engine.connect() as connection:
            commits = connection.execute(select(func.count()).where(CommitRow.sha == sha)).scalar_one()
            deployments = connection.execute(select(func.count()).where(DeploymentRow.sha == sha)).scalar_one()
    finally:
        engine.dispose()
    return bool(commits and deployments)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_serve_survives_a_cut_database_and_resumes_syncing_without_restart(store_url, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    first = _commit_and_tag(repo, "one")
    real = make_url(store_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432).start()
    via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    config = _config(tmp_path / "config.yaml", via_proxy, repo)
    source = 'source="repo"'
    try:
        with ServeProcess(config, tmp_path / "serve.log") as serve:
            serve.wait_ready(timeout=WAIT_S)
            # ready means a snapshot is served: the start-up recompute may finish before the first sync
            wait_until("the first commit and deployment stored", lambda: _stored(store_url, first), WAIT_S)

            def get(path: str) -> httpx.Response:
                return httpx.get(serve.base + path, timeout=5)

            wait_until(
                "the source up", lambda: f"delivery_metrics_source_up{{{source}}} 1.0" in get("/metrics").text, WAIT_S
            )
            app_30d = (
                'dora_deployments{environment="production",period="current",scope="service",'
                'service="app",team="core",window="30d"}'
            )
            wait_until("a snapshot with the deployment", lambda: _sample(get("/metrics").text, app_30d) == 1.0, WAIT_S)
            # the sync that stored the tag triggers one more recompute: wait until the served figures
            # hold still across a snapshot refresh (2 s), so "before" is the snapshot the cut must keep
            wait_until("a settled snapshot", lambda: _settled(get), WAIT_S)
            before = get("/metrics").text
            dora_before = _samples(before, "dora_")
            report_before = get("/api/v1/metrics").json()
            assert dora_before and report_before["results"]
            errors_before = _sample(before, f"delivery_metrics_source_errors_total{{{source}}}") or 0.0

            proxy.cut()
            wait_until("readyz not ready", lambda: get("/readyz").status_code == 503, WAIT_S)
            readyz = get("/readyz").json()
            assert any("database" in problem for problem in readyz["problems"]), readyz
            wait_until(
                "the source down", lambda: f"delivery_metrics_source_up{{{source}}} 0.0" in get("/metrics").text, WAIT_S
            )
            second = _commit_and_tag(repo, "two")  # only reachable once the database is back
            for _ in range(5):  # still answering, always the last snapshot
                during = get("/metrics")
                assert during.status_code == 200
                assert _samples(during.text, "dora_") == dora_before
                assert get("/api/v1/metrics").json() == report_before
            errors_during = _sample(during.text, f"delivery_metrics_source_errors_total{{{source}}}") or 0.0
            assert errors_during > errors_before, during.text
            assert proxy.refused > 0, "the cut was never felt: nothing tried to connect"
            assert not _stored(store_url, second)

            proxy.restore()
            wait_until("readyz ready again", lambda: get("/readyz").status_code == 200, WAIT_S)
            wait_until("the new commit and deployment stored", lambda: _stored(store_url, second), WAIT_S)
            wait_until(
                "the source up again",
                lambda: f"delivery_metrics_source_up{{{source}}} 1.0" in get("/metrics").text,
                WAIT_S,
            )
            wait_until("a recomputed snapshot", lambda: _samples(get("/metrics").text, "dora_") != dora_before, WAIT_S)
            assert serve.process is not None and serve.process.poll() is None, "serve restarted or died"
            assert serve.stop() == 0, serve.output()[-3000:]
    finally:
        proxy.stop()

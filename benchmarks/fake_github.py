"""A GitHub-shaped REST server on 127.0.0.1 holding ``repositories`` synthetic repositories.

Serves what the ``github`` source reads (repository metadata, default-branch commits with
``since``, pull requests newest-updated first with their commits and reviews, deployments with their
statuses) under ``/api/v3``, pages with ``Link`` headers, an ``ETag`` on every answer and ``304`` to a
matching ``If-None-Match``, as GitHub does. Each request is logged as (resource, status).
:meth:`FakeGitHub.minimum_pages` is the least number of requests a complete first sync needs.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

PREFIX = "/api/v3"
OWNER = "bench"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pages(items: int, per_page: int) -> int:
    """Pages of a listing of ``items`` (an empty listing is still one page)."""
    return max(1, -(-items // per_page))


@dataclass(frozen=True, slots=True)
class RepoShape:
    """How much one synthetic repository holds."""

    name: str
    commits: int
    pulls: int
    deployments: int


def repo_shapes(repositories: int, per_page: int) -> list[RepoShape]:
    """Deterministic, varied sizes; the first repository's listings end exactly on a page boundary."""
    shapes = []
    for i in range(repositories):
        if i == 0:
            shapes.append(RepoShape(f"{OWNER}/repo0", 2 * per_page, per_page, per_page))
        else:
            shapes.append(RepoShape(f"{OWNER}/repo{i}", 10 + (i * 37) % 90, 3 + (i * 13) % 40, 1 + (i * 7) % 20))
    return shapes


class FakeGitHub:
    """Start with :meth:`start`, stop with :meth:`stop`; ``base_url`` is the API root to configure."""

    def __init__(self, repositories: int, per_page: int, now: datetime | None = None) -> None:
        self.per_page = per_page
        self.shapes = repo_shapes(repositories, per_page)
        self.newest = (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(days=1)
        self.log: list[tuple[str, int]] = []
        self._lock = threading.Lock()
        self._routes = self._build_routes()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}{PREFIX}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- data -------------------------------------------------------------------------------------

    def _build_routes(self) -> dict[str, tuple[str, Any]]:
        routes: dict[str, tuple[str, Any]] = {}
        for shape in self.shapes:
            repo = f"/repos/{shape.name}"
            routes[repo] = ("repository", {"full_name": shape.name, "default_branch": "main"})
            times = [self.newest - timedelta(hours=j) for j in range(shape.commits)]
            shas = [
                hashlib.sha1(f"{shape.name}:{j}".encode(), usedforsecurity=False).hexdigest()
                for j in range(shape.commits)
            ]
            routes[f"{repo}/commits"] = (
                "commits",
                [
                    _commit(sha, at, [shas[j + 1]] if j + 1 < len(shas) else [])
                    for j, (sha, at) in enumerate(zip(shas, times, strict=True))
                ],
            )
            pulls = []
            for j in range(shape.pulls):
                updated = self.newest - timedelta(hours=2 * j)
                created = updated - timedelta(hours=3)
                number = shape.pulls - j
                branch = [
                    hashlib.sha1(f"{shape.name}#{number}:{k}".encode(), usedforsecurity=False).hexdigest()
                    for k in range(2)
                ]
                pulls.append(_pull(number, created, updated, shas[j % len(shas)] if shas else None))
                routes[f"{repo}/pulls/{number}/commits"] = (
                    "pull_commits",
                    [_commit(sha, created - timedelta(hours=1), []) for sha in branch],
                )
                routes[f"{repo}/pulls/{number}/reviews"] = (
                    "pull_reviews",
                    [
                        {
                            "user": {"login": "reviewer"},
                            "state": "APPROVED",
                            "submitted_at": _iso(created + timedelta(minutes=30)),
                        }
                    ],
                )
            routes[f"{repo}/pulls"] = ("pulls", pulls)
            deployments = []
            for k in range(shape.deployments):
                deployment_id = 10_000 * (self.shapes.index(shape) + 1) + k
                created = self.newest - timedelta(hours=5 * k)
                deployments.append(
                    {
                        "id": deployment_id,
                        "sha": shas[(2 * k) % len(shas)],
                        "environment": "production",
                        "created_at": _iso(created),
                    }
                )
                routes[f"{repo}/deployments/{deployment_id}/statuses"] = (
                    "deployment_statuses",
                    [{"state": "success", "created_at": _iso(created + timedelta(minutes=5))}],
                )
            routes[f"{repo}/deployments"] = ("deployments", deployments)
        return routes

    def minimum_pages(self) -> Counter[str]:
        """Per resource, the fewest requests that read everything once (one page per listing page)."""
        need: Counter[str] = Counter()
        for shape in self.shapes:
            need["repository"] += 1
            need["commits"] += _pages(shape.commits, self.per_page)
            need["pulls"] += _pages(shape.pulls, self.per_page)
            need["pull_commits"] += shape.pulls  # two commits each: one page of 100
            need["pull_reviews"] += shape.pulls
            need["deployments"] += _pages(shape.deployments, self.per_page)
            need["deployment_statuses"] += shape.deployments
        return need

    def requests(self, since: int = 0, until: int | None = None) -> tuple[Counter[str], Counter[str]]:
        """Requests logged from index ``since`` up to ``until``: (per resource, per status)."""
        with self._lock:
            entries = self.log[since:until]
        return Counter(resource for resource, _ in entries), Counter(str(status) for _, status in entries)

    # --- HTTP -------------------------------------------------------------------------------------

    def respond(
        self, path: str, query: dict[str, str], if_none_match: str | None
    ) -> tuple[str, int, dict[str, str], Any]:
        """(resource, status, headers, body) of one GET."""
        route = path.removeprefix(PREFIX)
        if not path.startswith(PREFIX) or route not in self._routes:
            return "unknown", 404, {}, {"message": "Not Found"}
        resource, data = self._routes[route]
        headers = {"Content-Type": "application/json", "x-ratelimit-remaining": "4999", "x-ratelimit-limit": "5000"}
        if isinstance(data, list):
            if resource == "commits" and "since" in query:
                since = datetime.fromisoformat(query["since"].replace("Z", "+00:00"))
                data = [
                    c
                    for c in data
                    if datetime.fromisoformat(c["commit"]["committer"]["date"].replace("Z", "+00:00")) >= since
                ]
            per_page = min(int(query.get("per_page", "30")), 100)
            page = int(query.get("page", "1"))
            if page * per_page < len(data):
                following = urlencode({**query, "page": str(page + 1)})
                headers["Link"] = f'<{self.base_url}{route}?{following}>; rel="next"'
            data = data[(page - 1) * per_page : page * per_page]
        etag = '"' + hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:20] + '"'
        headers["ETag"] = etag
        if if_none_match == etag:
            return resource, 304, {"ETag": etag}, None
        return resource, 200, headers, data

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                resource, status, headers, body = fake.respond(
                    parts.path, dict(parse_qsl(parts.query)), self.headers.get("If-None-Match")
                )
                with fake._lock:
                    fake.log.append((resource, status))
                payload = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler


def _commit(sha: str, at: datetime, parents: list[str]) -> dict[str, Any]:
    return {
        "sha": sha,
        "commit": {
            "author": {"name": "Dev", "email": "dev@bench.test", "date": _iso(at)},
            "committer": {"date": _iso(at)},
            "message": f"change {sha[:7]}",
        },
        "author": {"login": "dev"},
        "parents": [{"sha": p} for p in parents],
    }


def _pull(number: int, created: datetime, updated: datetime, merge_sha: str | None) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"Change {number}",
        "user": {"login": "dev"},
        "labels": [],
        "created_at": _iso(created),
        "updated_at": _iso(updated),
        "closed_at": _iso(updated),
        "merged_at": _iso(updated),
        "merge_commit_sha": merge_sha,
        "head": {"ref": f"feature-{number}", "sha": "head"},
        "base": {"ref": "main", "sha": "base"},
    }

"""A real HTTP server on 127.0.0.1 serving small GitHub-shaped and GitLab-shaped APIs.

GitHub under ``/gh/api/v3`` (GHES layout, ``Link`` paging, ETags, ``x-ratelimit-*``); GitLab under
``/gl/api/v4`` (``X-Next-Page`` paging). The first deployments request of each host answers 502.
Every request is logged as (path, query dict, status).
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

H = "2024-05-0"


def gh_commit(sha: str, date: str, parents: list[str]) -> dict[str, Any]:
    return {
        "sha": sha,
        "commit": {
            "author": {"name": "Dev", "email": "dev@acme.test", "date": date},
            "committer": {"date": date},
            "message": sha,
        },
        "author": {"login": "dev"},
        "parents": [{"sha": p} for p in parents],
    }


def gh_pull(number: int, created: str, updated: str, merged: str | None, sha: str | None) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"PR {number}",
        "user": {"login": "dev"},
        "labels": [],
        "created_at": created,
        "updated_at": updated,
        "closed_at": merged,
        "merged_at": merged,
        "merge_commit_sha": sha,
        "head": {"ref": f"feature-{number}", "sha": "h"},
        "base": {"ref": "main", "sha": "b"},
    }


GITHUB: dict[str, Any] = {
    "/repos/acme/shop": {"default_branch": "main"},
    "/repos/acme/shop/commits": [
        gh_commit("c3", f"{H}3T10:00:00Z", ["c2"]),
        gh_commit("c2", f"{H}2T10:00:00Z", ["c1"]),
        gh_commit("c1", f"{H}1T10:00:00Z", []),
    ],
    "/repos/acme/shop/pulls": [
        gh_pull(3, f"{H}3T08:00:00Z", f"{H}3T10:00:00Z", f"{H}3T10:00:00Z", "c3"),
        gh_pull(2, f"{H}2T08:00:00Z", f"{H}2T10:00:00Z", f"{H}2T10:00:00Z", "c2"),
        gh_pull(1, f"{H}1T08:00:00Z", f"{H}1T10:00:00Z", None, None),
    ],
    "/repos/acme/shop/pulls/3/commits": [gh_commit("c3", f"{H}3T07:00:00Z", ["c2"])],
    "/repos/acme/shop/pulls/2/commits": [gh_commit("c2", f"{H}2T06:00:00Z", ["c1"])],
    "/repos/acme/shop/pulls/1/commits": [gh_commit("x1", f"{H}1T06:00:00Z", ["c1"])],
    "/repos/acme/shop/pulls/3/reviews": [
        {"user": {"login": "rev"}, "state": "APPROVED", "submitted_at": f"{H}3T09:00:00Z"}
    ],
    "/repos/acme/shop/pulls/2/reviews": [],
    "/repos/acme/shop/pulls/1/reviews": [],
    "/repos/acme/shop/deployments": [
        {"id": 12, "sha": "c3", "environment": "production", "created_at": f"{H}3T11:00:00Z"},
        {"id": 11, "sha": "c2", "environment": "production", "created_at": f"{H}2T11:00:00Z"},
    ],
    "/repos/acme/shop/deployments/12/statuses": [{"state": "failure", "created_at": f"{H}3T11:05:00Z"}],
    "/repos/acme/shop/deployments/11/statuses": [
        {"state": "inactive", "created_at": f"{H}3T11:06:00Z"},
        {"state": "success", "created_at": f"{H}2T11:10:00Z"},
    ],
}


def gl_commit(sha: str, date: str) -> dict[str, Any]:
    return {"id": sha, "authored_date": date, "committed_date": date, "author_name": "Dev", "parent_ids": []}


def gl_mr(iid: int, created: str, updated: str, merged: str | None, sha: str | None) -> dict[str, Any]:
    return {
        "iid": iid,
        "title": f"MR {iid}",
        "author": {"id": 1, "username": "dev"},
        "labels": ["backend"],
        "created_at": created,
        "updated_at": updated,
        "merged_at": merged,
        "closed_at": None,
        "merge_commit_sha": sha,
        "source_branch": f"f{iid}",
        "target_branch": "main",
    }


GITLAB: dict[str, Any] = {
    "/projects/acme%2Fapi": {"id": 7, "path_with_namespace": "acme/api", "default_branch": "main"},
    "/projects/7/repository/commits": [
        gl_commit("g2", f"{H}2T10:00:00.000+02:00"),
        gl_commit("g1", f"{H}1T10:00:00.000Z"),
    ],
    "/projects/7/merge_requests": [
        gl_mr(1, f"{H}1T07:00:00.000Z", f"{H}1T09:00:00.000Z", f"{H}1T09:00:00.000Z", "g1"),
        gl_mr(2, f"{H}2T05:00:00.000Z", f"{H}2T08:00:00.000Z", f"{H}2T08:00:00.000Z", "g2"),
        gl_mr(3, f"{H}3T05:00:00.000Z", f"{H}3T06:00:00.000Z", None, None),
    ],
    "/projects/7/merge_requests/1/commits": [gl_commit("g1", f"{H}1T06:00:00.000Z")],
    "/projects/7/merge_requests/2/commits": [gl_commit("g2", f"{H}2T10:00:00.000+02:00")],
    "/projects/7/merge_requests/3/commits": [],
    "/projects/7/merge_requests/1/notes": [
        {"author": {"id": 2}, "system": False, "body": "lgtm", "created_at": f"{H}1T08:00:00.000Z"}
    ],
    "/projects/7/merge_requests/2/notes": [],
    "/projects/7/merge_requests/3/notes": [],
    "/projects/7/deployments": [
        {
            "id": 501,
            "status": "success",
            "sha": "g1",
            "environment": {"name": "production"},
            "created_at": f"{H}1T10:00:00.000Z",
            "updated_at": f"{H}1T10:05:00.000Z",
            "deployable": {"started_at": f"{H}1T10:00:00.000Z", "finished_at": f"{H}1T10:04:00.000Z"},
        },
        {
            "id": 502,
            "status": "success",
            "sha": "g2",
            "environment": {"name": "production"},
            "created_at": f"{H}2T10:00:00.000Z",
            "updated_at": f"{H}2T10:05:00.000Z",
            "deployable": {"started_at": f"{H}2T10:00:00.000Z", "finished_at": f"{H}2T10:04:00.000Z"},
        },
    ],
}


class FakeGitHosts:
    """Start with :meth:`start`; ``base`` is ``http://127.0.0.1:<port>``; ``log`` lists requests."""

    def __init__(self, per_page: int = 2) -> None:
        self.per_page = per_page
        self.log: list[tuple[str, dict[str, str], int]] = []
        self.failed_once: set[str] = set()
        self.auth: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeGitHosts:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hosts = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                hosts.auth.append(self.headers.get("Authorization", ""))
                status, headers, body = hosts.respond(parts.path, query, self.headers.get("If-None-Match"))
                hosts.log.append((parts.path, query, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def respond(self, path: str, query: dict[str, str], if_none_match: str | None) -> tuple[int, dict[str, str], Any]:
        if path.startswith("/gh/api/v3"):
            table, route, github = GITHUB, path.removeprefix("/gh/api/v3"), True
        elif path.startswith("/gl/api/v4"):
            table, route, github = GITLAB, path.removeprefix("/gl/api/v4"), False
        else:
            return 404, {}, {"message": "Not Found"}
        if route not in table:
            return 404, {}, {"message": "Not Found"}
        if route.endswith("/deployments") and route not in self.failed_once:
            self.failed_once.add(route)
            return 502, {}, {"message": "bad gateway"}
        data = table[route]
        headers = {"Content-Type": "application/json", "x-ratelimit-remaining": "4000", "RateLimit-Remaining": "500"}
        if isinstance(data, list):
            per_page = min(int(query.get("per_page", self.per_page)), self.per_page)
            page = int(query.get("page", "1"))
            data = self._filter(route, data, query)
            chunk = data[(page - 1) * per_page : page * per_page]
            more = page * per_page < len(data)
            if github and more:
                nxt = urlencode({**query, "page": str(page + 1)})
                headers["Link"] = f'<{self.base}{"/gh/api/v3"}{route}?{nxt}>; rel="next"'
            if not github:
                headers["X-Next-Page"] = str(page + 1) if more else ""
            data = chunk
        etag = '"' + hashlib.sha256(json.dumps(data).encode()).hexdigest()[:16] + '"'
        headers["ETag"] = etag
        if github and if_none_match == etag:
            return 304, {"ETag": etag}, None
        return 200, headers, data

    @staticmethod
    def _filter(route: str, items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
        from datetime import datetime

        def at(value: str) -> datetime:
            return datetime.fromisoformat(value)

        if "since" in query and route.endswith("commits") and "/pulls/" not in route and "merge_requests" not in route:
            key = "committed_date" if "id" in items[0] else None
            since = at(query["since"])
            return [i for i in items if at(i[key] if key else i["commit"]["committer"]["date"]) >= since]
        if "updated_after" in query:
            after = at(query["updated_after"])
            return sorted((i for i in items if at(i["updated_at"]) >= after), key=lambda i: at(i["updated_at"]))
        return items

"""The fake GitHub/GitLab hosts of ``tests/connectors/fake_git_hosts.py`` with scripted faults.

A :class:`Fault` answers one request (path and ``page`` query value) in a broken way, ``times``
times, then the normal answer comes back: a status with headers and a JSON body, raw bytes sent
as they are (truncated JSON, an HTML page), a connection closed in the middle of the body, or an
answer sent later than the client's read timeout.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fake_git_hosts import FakeGitHosts


@dataclass
class Fault:
    """One scripted misbehaviour of the server (see the module docstring)."""

    path: str
    page: str = "1"
    times: int = 1
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    raw: bytes | None = None
    reset_mid_body: bool = False
    delay: float = 0.0
    link_to_self: bool = False


class FaultyHosts(FakeGitHosts):
    """Fake Git hosts, one item per page, misbehaving as scripted in :attr:`faults`."""

    def __init__(self) -> None:
        super().__init__(per_page=1)
        self.failed_once.update({"/repos/acme/shop/deployments", "/projects/7/deployments"})
        self.faults: list[Fault] = []
        self.served_faults = 0
        self._lock = threading.Lock()

    def take_fault(self, path: str, query: dict[str, str]) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.path == path and query.get("page", "1") == fault.page:
                    fault.times -= 1
                    self.served_faults += 1
                    return fault
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hosts = self
        normal = super()._handler()

        class Handler(normal):  # type: ignore[misc, valid-type]
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query))
                fault = hosts.take_fault(parts.path, query)
                if fault is None:
                    super().do_GET()
                    return
                hosts.log.append((parts.path, query, fault.status))
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.link_to_self:
                    _, headers, body = hosts.respond(parts.path, query, None)
                    headers["Link"] = f'<{hosts.base}{self.path}>; rel="next"'
                    self._send(200, headers, json.dumps(body).encode())
                    return
                data = fault.raw if fault.raw is not None else json.dumps(fault.json_body).encode()
                if fault.reset_mid_body:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data) + 5000))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._send(fault.status, {"Content-Type": "application/json", **fault.headers}, data)

            def _send(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

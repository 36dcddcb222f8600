"""The scrape benchmark's body check: a scraper that compares bodies still refuses a wrong one."""

from __future__ import annotations

import gzip
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks.scrape import scrape_headers, scrape_once

EXPOSITION = b'# TYPE dora_deployments gauge\ndora_deployments{scope="organization"} 3.0\n'


class _Exposition(BaseHTTPRequestHandler):
    """Serves ``server.body`` gzip-compressed (what ``serve`` does for Prometheus)."""

    def do_GET(self) -> None:
        body = gzip.compress(self.server.body)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Exposition)
    httpd.body = EXPOSITION  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def _scrape(httpd: ThreadingHTTPServer, expected: bytes | None) -> tuple[float, float, int, bool]:
    connection = http.client.HTTPConnection("127.0.0.1", httpd.server_address[1], timeout=5)
    try:
        return scrape_once(connection, scrape_headers("gzip"), expected)
    finally:
        connection.close()


def test_a_body_equal_to_the_warm_up_body_is_valid_without_decoding(server):
    latency, received, status, valid = _scrape(server, gzip.compress(EXPOSITION))
    assert (status, valid) == (200, True)
    assert 0 < received <= latency


def test_a_different_body_is_decoded_and_still_valid_when_it_has_dora_samples(server):
    _, _, status, valid = _scrape(server, b"some other bytes")
    assert (status, valid) == (200, True)


def test_a_different_body_without_dora_samples_is_refused(server):
    expected = gzip.compress(EXPOSITION)
    server.body = b"# nothing here\n"
    assert _scrape(server, expected)[3] is False
    assert _scrape(server, None)[3] is False  # decoding every body refuses it too


def test_decoding_every_body_accepts_the_exposition(server):
    latency, received, status, valid = _scrape(server, None)
    assert (status, valid) == (200, True)
    assert 0 < received <= latency

"""``delivery-metrics`` as real subprocesses: one-shot verbs, and ``serve`` on a free loopback port.

Output goes to a file (never a pipe nobody drains); every wait is bounded; :meth:`ServeProcess.stop`
sends SIGTERM, then SIGKILL after a grace period, and always reaps the process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import httpx

CLI = Path(sys.executable).with_name("delivery-metrics")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(
    args: list[str], env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one verb to its end (bounded by ``timeout``); stdout and stderr captured as text."""
    return subprocess.run(
        [str(CLI), *args],
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_until(what: str, check: Callable[[], bool], timeout: float, interval: float = 0.2) -> None:
    """Poll ``check`` until it holds (HTTP errors count as "not yet"); ``AssertionError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


class ServeProcess:
    """``delivery-metrics --config CONFIG serve --port PORT``; use as a context manager."""

    def __init__(self, config: Path, log: Path, env: Mapping[str, str] | None = None, log_level: str = "info") -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._args = [str(CLI), "--config", str(config), "--log-level", log_level, "serve", "--port", str(self.port)]
        self._env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServeProcess:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(self._args, env=self._env, stdout=out, stderr=subprocess.STDOUT)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait for ``/readyz`` to answer 200; fail with the output if the process exits first."""

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.output()[-3000:]}")
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200

        wait_until("serve ready", ready, timeout)

    def stop(self, grace: float = 10) -> int | None:
        """SIGTERM, SIGKILL after ``grace`` s; the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def rss_bytes(self) -> int:
        """The process's resident set size now (``VmRSS`` of ``/proc/PID/status``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS line")

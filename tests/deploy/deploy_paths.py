"""Shared helpers of the deploy/ tests: paths, the Debian binaries they need, free ports."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS_DIR = DEPLOY / "prometheus"
RULE_FILES = sorted(PROMETHEUS_DIR.glob("*.rules.yml"))
DASHBOARD_DIR = DEPLOY / "grafana" / "dashboards"
APT_LINE = "apt-get update && apt-get install -y prometheus"


def require_binary(name: str) -> str:
    """The path of ``name``; FAILS the test (never skips) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"`{name}` is not installed: the deploy/ tests need Debian's prometheus package ({APT_LINE}).",
            pytrace=False,
        )
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

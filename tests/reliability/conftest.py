"""Fixtures of the reliability tests: this folder and ``tests/connectors`` on ``sys.path`` (for the
shared fake Git hosts), and the ``slow`` marker (deselect with ``-m "not slow"``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "connectors"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: a reliability test taking several seconds (subprocesses, load)")

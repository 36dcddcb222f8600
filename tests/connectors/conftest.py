"""Fixtures of the HTTP connector tests; puts this folder on ``sys.path`` for ``connector_helpers``
(the suite runs with ``--import-mode=importlib``, which does not)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

sys.path.insert(0, str(Path(__file__).resolve().parent))

from connector_helpers import FakeClock


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    """``responses`` with unknown URLs failing (no network ever)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock

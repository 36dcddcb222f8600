"""Puts this folder on ``sys.path`` so the metric tests can import ``metric_frames`` (the suite runs
with ``--import-mode=importlib``, which does not)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

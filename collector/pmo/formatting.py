"""Human-readable values for the report and the digest: durations, rates, frequencies."""

from __future__ import annotations

import math
from typing import Any

from collector.pmo.settings import DURATION_METRICS, RATE_METRICS


def is_missing(value: Any) -> bool:
    """``None`` or NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def duration_text(seconds: Any) -> str:
    """``3.9d``, ``8.9h``, ``36m``, ``12s``; ``–`` when missing."""
    if is_missing(seconds):
        return "–"
    value = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if abs(value) >= size:
            return f"{value / size:.1f}{unit}"
    return f"{value:.0f}s"


def metric_text(metric: str, value: Any) -> str:
    """A metric value in its natural unit (``deployment_frequency`` per day)."""
    if is_missing(value):
        return "–"
    if metric in DURATION_METRICS:
        return duration_text(value)
    if metric in RATE_METRICS:
        return f"{100 * float(value):.1f}%"
    return f"{float(value):.2f}/day"


def change_text(change: float) -> str:
    """A relative change as a signed percentage (positive = better)."""
    return f"{100 * change:+.0f}%"

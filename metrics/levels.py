"""Benchmark bands: versioned JSON tables in ``metrics/bands/`` and the level of a value.

A table names, per metric, an ordered list of rules ``{"level", "op", "value"}`` (``op`` one of
``>=``, ``>``, ``<=``, ``<``) and an ``otherwise`` level. The first rule that holds gives the level;
when none holds the level is ``otherwise``. A metric the table does not list, or a value that is
``None``/NaN (no data), has no level. Inclusive comparisons tolerate floating-point noise (1e-9
relative), so one deployment in a 7-day window is exactly "1 per week".
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

BandMetric = Literal["deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"]
BAND_METRICS: tuple[BandMetric, ...] = ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time")
_OPS = (">=", ">", "<=", "<")


@dataclass(frozen=True, slots=True)
class BandRule:
    """``value <op> threshold`` gives ``level``."""

    level: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` satisfies this rule."""
        close = math.isclose(value, self.threshold, rel_tol=1e-9, abs_tol=1e-12)
        if self.op == ">=":
            return value >= self.threshold or close
        if self.op == "<=":
            return value <= self.threshold or close
        if self.op == ">":
            return value > self.threshold and not close
        return value < self.threshold and not close


@dataclass(frozen=True, slots=True)
class BandTable:
    """A named, versioned band table: per metric, ordered rules and a fallback level."""

    name: str
    version: int
    rules: dict[str, tuple[BandRule, ...]]
    otherwise: dict[str, str]

    def level(self, metric: str, value: float | None) -> str | None:
        """The level of ``value`` for ``metric``; ``None`` when there is no data or no band."""
        if value is None or (isinstance(value, float) and math.isnan(value)) or metric not in self.rules:
            return None
        for rule in self.rules[metric]:
            if rule.holds(float(value)):
                return rule.level
        return self.otherwise[metric]


def available_band_tables() -> tuple[str, ...]:
    """Names of the band tables shipped in ``metrics/bands``."""
    folder = resources.files("metrics").joinpath("bands")
    return tuple(sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json")))


@cache
def load_band_table(name: str) -> BandTable:
    """Load and validate ``metrics/bands/<name>.json``; ``ValueError`` for an unknown or broken table."""
    if name not in available_band_tables():
        raise ValueError(f"unknown band table {name!r}; available: {', '.join(available_band_tables())}")
    raw = json.loads(resources.files("metrics").joinpath("bands", f"{name}.json").read_text("utf-8"))
    rules: dict[str, tuple[BandRule, ...]] = {}
    otherwise: dict[str, str] = {}
    for metric, spec in raw.get("metrics", {}).items():
        if metric not in BAND_METRICS:
            raise ValueError(f"band table {name!r}: unknown metric {metric!r}")
        parsed = []
        for rule in spec["rules"]:
            if rule["op"] not in _OPS:
                raise ValueError(f"band table {name!r}, {metric}: unknown op {rule['op']!r}")
            parsed.append(BandRule(str(rule["level"]), str(rule["op"]), float(rule["value"])))
        rules[metric] = tuple(parsed)
        otherwise[metric] = str(spec["otherwise"])
    return BandTable(name=str(raw["name"]), version=int(raw["version"]), rules=rules, otherwise=otherwise)


def level_for(metric: str, value: float | None, band_table: str | BandTable) -> str | None:
    """The benchmark level (``elite``/``high``/``medium``/``low``) of ``value``, or ``None``.

    ``metric`` is one of ``deployment_frequency`` (per day), ``lead_time`` (p50 seconds),
    ``change_failure_rate`` (0–1) and ``recovery_time`` (p50 seconds).
    """
    table = load_band_table(band_table) if isinstance(band_table, str) else band_table
    return table.level(metric, value)

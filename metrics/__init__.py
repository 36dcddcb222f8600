"""The DORA metrics engine: pure pandas functions over event frames (no SQL, no network, no clock).

Entry points: :class:`MetricInputs` (the five frames), :class:`MetricSettings`, :func:`derive_links`
(links independent of the as-of instant), :func:`compute_report` (rows of the JSON contract),
:func:`explain` (the items behind one figure) and :func:`level_for` (benchmark bands).
"""

from __future__ import annotations

from metrics.explain import METRICS, Explanation, explain
from metrics.inputs import MetricInputs
from metrics.levels import BandTable, available_band_tables, level_for, load_band_table
from metrics.links import Links, derive_links
from metrics.report import compute_report, report_document
from metrics.settings import MetricSettings

__all__ = [
    "METRICS",
    "BandTable",
    "Explanation",
    "Links",
    "MetricInputs",
    "MetricSettings",
    "available_band_tables",
    "compute_report",
    "derive_links",
    "explain",
    "level_for",
    "load_band_table",
    "report_document",
]

"""Audit: the report's data-quality notes cover the same period as its figures.

docs/pmo.md: a bucket ``[start, end)`` "is computed by the engine with ``as_of = end`` … (the
engine's windows include an item at ``t`` when ``start < t <= end``)", and "Every report and digest
states, for its period: … configured services with no production deployment in the period". So a
deployment finishing exactly at midnight at the end of February is a February deployment in the
report's February figures, and its service must not be listed as having no deployment in February;
one finishing exactly at midnight on 1 February belongs to January.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from collector.pmo.buckets import calendar_buckets
from collector.pmo.quality import assess
from collector.pmo.trends import compute_trends
from metrics import MetricInputs, MetricSettings, derive_links
from tests.metrics.metric_frames import deployments, incidents, inputs, services

FEBRUARY = calendar_buckets("monthly", date(2024, 2, 1), datetime(2024, 3, 1, tzinfo=UTC))[0]
NO_RUNS = pd.DataFrame(columns=["source", "started_at", "finished_at", "status", "error"])


def boundary_inputs() -> MetricInputs:
    """``app`` deploys once, exactly at the end of February; ``web`` once, exactly at its start;
    ``ghost`` (not configured) deploys exactly at the end of February."""
    return inputs(
        services=services(
            {"service": "app", "team": "core"},
            {"service": "web", "team": "core"},
        ),
        deployments=deployments(
            {"external_id": "d1", "service": "app", "sha": "a1", "finished_at": "2024-03-01T00:00:00Z"},
            {"external_id": "d2", "service": "web", "sha": "b1", "finished_at": "2024-02-01T00:00:00Z"},
            {"external_id": "d3", "service": "ghost", "sha": "c1", "finished_at": "2024-03-01T00:00:00Z"},
        ),
        incidents=incidents(
            {
                "external_id": "i1",
                "service": None,
                "created_at": "2024-03-01T00:00:00Z",
                "resolved_at": "2024-03-01T01:00:00Z",
            },
        ),
    )


def test_the_engine_counts_deployments_at_the_end_instant_in_the_bucket() -> None:
    data = boundary_inputs()
    settings = MetricSettings()
    trends = compute_trends(data, settings, derive_links(data, settings), [FEBRUARY])
    organisation = trends[trends["scope"] == "organisation"].iloc[0]
    assert (FEBRUARY.start, FEBRUARY.end) == (
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    )
    assert organisation["deployments"] == 2  # d1 (app) and d3 (ghost); d2 is January's


def test_quality_notes_use_the_period_of_the_figures() -> None:
    data = boundary_inputs()
    quality = assess(
        data, derive_links(data, MetricSettings()), NO_RUNS, [], FEBRUARY.start, FEBRUARY.end, FEBRUARY.end
    )
    # app deployed in February (at its last instant); web did not (its deployment is January's)
    assert quality.services_without_deployments == ("web",)
    # ghost's deployment at the end instant is one of February's, counted by the organisation row
    assert quality.unknown_service_deployments == 1
    # the incident created at the end instant is February's too
    assert quality.unmapped_incidents == 1

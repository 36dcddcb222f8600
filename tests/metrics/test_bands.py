"""Benchmark band tables: thresholds and edges, the non-monotone 2024 table, no data, unknown tables."""

from __future__ import annotations

import pytest

from metrics import available_band_tables, level_for

HOUR, DAY = 3600.0, 86400.0


def test_shipped_tables() -> None:
    assert available_band_tables() == ("dora-2021", "dora-2023", "dora-2024", "none")


@pytest.mark.parametrize(
    ("metric", "value", "level"),
    [
        ("deployment_frequency", 1.0, "elite"),
        ("deployment_frequency", 1 / 7, "high"),  # one deployment in a week is exactly "1 per week"
        ("deployment_frequency", 1 / 30, "medium"),
        ("deployment_frequency", 1 / 31, "low"),
        ("deployment_frequency", 0.0, "low"),
        ("lead_time", DAY - 1, "elite"),
        ("lead_time", DAY, "high"),
        ("lead_time", 7 * DAY, "medium"),
        ("lead_time", 30 * DAY, "low"),
        ("change_failure_rate", 0.05, "elite"),
        ("change_failure_rate", 0.1, "high"),
        ("change_failure_rate", 0.15, "medium"),
        ("change_failure_rate", 0.1501, "low"),
        ("recovery_time", HOUR - 1, "elite"),
        ("recovery_time", HOUR, "high"),
        ("recovery_time", DAY, "medium"),
        ("recovery_time", 7 * DAY, "low"),
    ],
)
def test_dora_2023_thresholds(metric: str, value: float, level: str) -> None:
    assert level_for(metric, value, "dora-2023") == level


def test_dora_2024_change_failure_rate_uses_the_published_order_first_match() -> None:
    # elite <= 5 %, high <= 20 %, medium (<= 10 %) unreachable, else low
    assert level_for("change_failure_rate", 0.05, "dora-2024") == "elite"
    assert level_for("change_failure_rate", 0.08, "dora-2024") == "high"
    assert level_for("change_failure_rate", 0.2, "dora-2024") == "high"
    assert level_for("change_failure_rate", 0.21, "dora-2024") == "low"


def test_dora_2021_values() -> None:
    assert level_for("lead_time", HOUR - 1, "dora-2021") == "elite"
    assert level_for("lead_time", HOUR, "dora-2021") == "high"
    assert level_for("lead_time", 100 * DAY, "dora-2021") == "medium"
    assert level_for("deployment_frequency", 1 / 30, "dora-2021") == "high"
    assert level_for("deployment_frequency", 1 / 180, "dora-2021") == "medium"
    assert level_for("change_failure_rate", 0.3, "dora-2021") == "medium"


def test_no_data_and_no_table_have_no_level() -> None:
    assert level_for("lead_time", None, "dora-2023") is None
    assert level_for("lead_time", float("nan"), "dora-2023") is None
    assert level_for("lead_time", 10.0, "none") is None
    with pytest.raises(ValueError, match="unknown band table"):
        level_for("lead_time", 10.0, "dora-1999")

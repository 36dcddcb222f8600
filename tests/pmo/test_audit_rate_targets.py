"""Audit: a rate goal's target is a fraction 0–1 or a percentage, never a bare percent number.

docs/pmo.md: rate targets are written ``5%`` or ``0.05``. ``target: 5`` on change_failure_rate was
read as 5.0 (500%): every team's CFR (at most 1) is ≤ 5, so the goal read ``achieved`` at once.
It is refused, as is a percentage above 100%.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from collector.config import ConfigError
from collector.config.loader import load_config_text
from collector.pmo.goals import evaluate_goal
from collector.pmo.settings import GoalConfig, parse_target

CONFIG = """
teams: [{name: a}]
services: [{name: s, team: a}]
"""


@pytest.mark.parametrize("target", ["5", 5, "150%", -0.1, "-5%"])
@pytest.mark.parametrize("metric", ["change_failure_rate", "rework_rate"])
def test_a_rate_target_outside_0_to_1_is_refused(metric: str, target: object) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_target(metric, target)
    with pytest.raises(ConfigError, match="rate"):
        load_config_text(CONFIG + f"goals: [{{team: a, metric: {metric}, target: {target!r}, due: 2027-01-01}}]")


@pytest.mark.parametrize(("target", "value"), [("5%", 0.05), (0.05, 0.05), ("100%", 1.0), (0, 0.0), ("0.3", 0.3)])
def test_rate_targets_in_range_are_kept(target: object, value: float) -> None:
    assert parse_target("change_failure_rate", target) == pytest.approx(value)


def test_a_cfr_of_30_percent_does_not_achieve_a_5_percent_goal() -> None:
    goal = GoalConfig.model_validate(
        {"team": "a", "metric": "change_failure_rate", "target": "5%", "due": "2026-12-31"}
    )
    status = evaluate_goal(
        goal, baseline_at=datetime(2026, 1, 1, tzinfo=UTC), as_of=datetime(2026, 2, 1, tzinfo=UTC),
        baseline_value=0.4, current_value=0.3, band_table="dora-2024",
    )  # fmt: skip
    assert not status.achieved
    assert status.progress == pytest.approx((0.3 - 0.4) / (0.05 - 0.4))

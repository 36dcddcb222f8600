"""Goal progress: baseline, current value, target, progress and whether the goal is on track.

Definitions (``B`` baseline, ``C`` current, ``T`` target; for a ``level`` goal the three are level
ranks low 0 … elite 3):

* **achieved** — ``C`` is at least as good as ``T`` (``>=`` for deployment frequency and levels,
  ``<=`` for durations and rates).
* **progress** — ``(C − B) / (T − B)``: 0 at the baseline, 1 at the target, negative when the value
  moved away from it; when ``B`` already met ``T`` it is 1 if achieved, else 0. ``None`` without a
  baseline or current value.
* **expected** — the elapsed share of the time from the baseline instant to the due date (0–1).
* **status** — ``achieved``; else ``missed`` once the due date has passed; else ``on_track`` when
  progress ≥ expected; else ``off_track``; ``no_data`` when the current value is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from collector.pmo.settings import LEVEL_RANK, GoalConfig
from metrics.levels import level_for

GoalState = Literal["achieved", "on_track", "off_track", "missed", "no_data"]
_HIGHER_IS_BETTER = {"deployment_frequency"}


def metric_value(row: dict[str, Any], metric: str) -> float | None:
    """The value a goal on ``metric`` tracks, from one engine result row."""
    value: Any
    if metric == "deployment_frequency":
        value = row["deployment_frequency_per_day"]
    elif metric == "lead_time":
        value = row["lead_time_seconds"].get("p50")
    elif metric == "recovery_time":
        value = row["recovery_time_seconds"]["p50"]
    elif metric == "time_to_restore":
        value = row["time_to_restore_seconds"]["p50"]
    else:
        value = row[metric]
    return None if value is None else float(value)


def due_instant(goal: GoalConfig) -> datetime:
    """The end of the due date (midnight UTC after it)."""
    return datetime(goal.due.year, goal.due.month, goal.due.day, tzinfo=UTC) + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class GoalStatus:
    """A goal evaluated at ``as_of`` (see the module docstring for every definition)."""

    goal: GoalConfig
    baseline_at: datetime
    as_of: datetime
    baseline_value: float | None
    current_value: float | None
    baseline_level: str | None
    current_level: str | None
    achieved: bool
    progress: float | None
    expected_progress: float
    status: GoalState

    @property
    def target_text(self) -> str:
        """The target as written: a level name or the value in the metric's unit."""
        return str(self.goal.level) if self.goal.level is not None else f"{self.goal.target:g}"


def _better_or_equal(value: float, target: float, higher_is_better: bool) -> bool:
    return value >= target if higher_is_better else value <= target


def evaluate_goal(
    goal: GoalConfig,
    *,
    baseline_at: datetime,
    as_of: datetime,
    baseline_value: float | None,
    current_value: float | None,
    band_table: str,
) -> GoalStatus:
    """Evaluate ``goal`` from its measured baseline and current values (pure)."""
    due = due_instant(goal)
    span = (due - baseline_at).total_seconds()
    elapsed = (as_of - baseline_at).total_seconds()
    expected = 1.0 if span <= 0 else min(max(elapsed / span, 0.0), 1.0)
    levels: tuple[str | None, str | None] = (None, None)
    if goal.metric in {"deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"}:
        levels = (level_for(goal.metric, baseline_value, band_table), level_for(goal.metric, current_value, band_table))
    if goal.level is not None:
        b = None if levels[0] is None else float(LEVEL_RANK[levels[0]])
        c = None if levels[1] is None else float(LEVEL_RANK[levels[1]])
        t, higher = float(LEVEL_RANK[goal.level]), True
    else:
        b, c = baseline_value, current_value
        t, higher = float(goal.target or 0.0), goal.metric in _HIGHER_IS_BETTER
    achieved = c is not None and _better_or_equal(c, t, higher)
    progress: float | None = None
    if b is not None and c is not None:
        progress = (1.0 if achieved else 0.0) if _better_or_equal(b, t, higher) else (c - b) / (t - b)
    state: GoalState
    if achieved:
        state = "achieved"
    elif as_of >= due:
        state = "missed"
    elif c is None:
        state = "no_data"
    elif progress is not None and progress >= expected:
        state = "on_track"
    else:
        state = "off_track"
    return GoalStatus(
        goal=goal,
        baseline_at=baseline_at,
        as_of=as_of,
        baseline_value=baseline_value,
        current_value=current_value,
        baseline_level=levels[0],
        current_level=levels[1],
        achieved=achieved,
        progress=progress,
        expected_progress=expected,
        status=state,
    )

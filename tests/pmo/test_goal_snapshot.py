"""Goals evaluated by ``recompute()``, kept in the saved snapshot and exported by serve's registry.

Hand-made store (no commits, so only deployment frequency matters), as of 2026-03-31 00:00 UTC:

| service (team) | production deployments (all successful, 12:00 UTC) |
|---|---|
| shop (core) | 03-20, 03-22, 03-25, 03-26, 03-27, 03-28, 03-29 |
| web (edge)  | 03-08, 03-30 |

Portfolio ``all`` = core + edge. A window ``(start, end]`` counts deployments with start < t <= end.

* **A** core, frequency ≥ 1/day, 7-day window, due 2026-04-30, no baseline → the default baseline
  as-of − 7 d = 03-24 00:00. Baseline window (03-17, 03-24]: 2 → 2/7; current (03-24, 03-31]: 5 →
  5/7. Progress (5/7 − 2/7) / (1 − 2/7) = 0.6. Expected: 7 of the 38 days from 03-24 to 05-01 =
  7/38. On track.
* **B** portfolio all, frequency ≥ 1/day, 7-day window, baseline 2026-03-10 (→ 03-11 00:00), due
  2026-03-30 (→ 03-31 00:00 = as-of). Baseline (03-04, 03-11]: web 03-08 → 1/7; current: shop 5 +
  web 1 → 6/7. Progress (6/7 − 1/7) / (1 − 1/7) = 5/6; expected 1; not achieved and due → missed.
* **C** edge, frequency level elite, 30-day window, due 2026-12-31, default baseline 03-01 00:00.
  Baseline (01-30, 03-01]: 0 → 0/day, low (rank 0); current (03-01, 03-31]: 2 → 2/30 = 0.0667/day,
  ≥ 1/month → medium (rank 1). Progress (1 − 0) / (3 − 0) = 1/3; expected 30 of the 306 days from
  03-01 to 2027-01-01; on track.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from collector.config import load_config_text
from collector.ingest import ingest_lines
from collector.recompute import recompute
from collector.serve.exporter import build_registry
from collector.serve.state import StateHolder
from collector.snapshot import Snapshot, load_latest_snapshot
from collector.store.catalog import sync_catalog
from collector.store.models import MetricSnapshot

AS_OF = datetime(2026, 3, 31, tzinfo=UTC)
SHOP_DAYS = (20, 22, 25, 26, 27, 28, 29)
WEB_DAYS = (8, 30)

CONFIG = """
teams: [{name: core}, {name: edge}]
services:
  - {name: shop, team: core, repositories: [acme/shop]}
  - {name: web, team: edge, repositories: [acme/web]}
portfolios:
  - {name: all, teams: [core, edge]}
goals:
  - {name: core daily, team: core, metric: deployment_frequency, target: 1, due: 2026-04-30, window: 7d}
  - {portfolio: all, metric: deployment_frequency, target: 1/day, due: 2026-03-30, baseline: 2026-03-10, window: 7d}
  - {team: edge, metric: deployment_frequency, level: elite, due: 2026-12-31}
"""


def _deployment(service: str, day: int) -> str:
    event = {
        "type": "deployment",
        "id": f"{service}-{day}",
        "service": service,
        "environment": "production",
        "status": "success",
        "sha": f"{day:02d}" * 20,
        "finished_at": f"2026-03-{day:02d}T12:00:00Z",
    }
    return json.dumps(event) + "\n"


@pytest.fixture
def goal_snapshot(engine: Engine) -> Snapshot:
    config = load_config_text(CONFIG, env={})
    with engine.begin() as connection:
        sync_catalog(connection, config)
    lines = [_deployment("shop", day) for day in SHOP_DAYS] + [_deployment("web", day) for day in WEB_DAYS]
    assert ingest_lines(engine, lines).committed
    return recompute(engine, config, as_of=AS_OF)


def _by_goal(snapshot: Snapshot) -> dict[str, dict[str, object]]:
    return {str(record["goal"]): record for record in snapshot.goals}


def test_recompute_evaluates_each_goal_from_hand_counted_deployments(goal_snapshot: Snapshot) -> None:
    goals = _by_goal(goal_snapshot)
    assert list(goals) == ["core daily", "all deployment_frequency", "edge deployment_frequency"]  # config order

    a = goals["core daily"]
    assert (a["scope"], a["name"], a["metric"], a["window_days"]) == ("team", "core", "deployment_frequency", 7)
    assert a["baseline_at"] == "2026-03-24T00:00:00+00:00"  # default: as-of minus the 7-day window
    assert a["baseline_value"] == pytest.approx(2 / 7)
    assert a["current_value"] == pytest.approx(5 / 7)
    assert a["progress"] == pytest.approx(0.6)
    assert a["expected_progress"] == pytest.approx(7 / 38)
    assert (a["status"], a["achieved"], a["target"], a["level"]) == ("on_track", False, 1.0, None)
    assert a["due_at"] == "2026-05-01T00:00:00+00:00"

    b = goals["all deployment_frequency"]
    assert (b["scope"], b["name"]) == ("portfolio", "all")
    assert b["baseline_at"] == "2026-03-11T00:00:00+00:00"  # the end of the explicit baseline day
    assert b["baseline_value"] == pytest.approx(1 / 7)
    assert b["current_value"] == pytest.approx(6 / 7)  # pooled: shop 5 + web 1
    assert b["progress"] == pytest.approx(5 / 6)
    assert b["expected_progress"] == 1.0
    assert b["status"] == "missed"

    c = goals["edge deployment_frequency"]
    assert c["baseline_at"] == "2026-03-01T00:00:00+00:00"  # default window 30 days
    assert c["baseline_value"] == 0.0
    assert c["current_value"] == pytest.approx(2 / 30)
    assert (c["baseline_level"], c["current_level"]) == ("low", "medium")
    assert (c["target"], c["level"], c["target_level_rank"]) == (None, "elite", 3)
    assert c["progress"] == pytest.approx(1 / 3)
    assert c["expected_progress"] == pytest.approx(30 / 306)
    assert c["status"] == "on_track"


def test_goals_survive_saving_and_loading_the_snapshot(goal_snapshot: Snapshot, engine: Engine) -> None:
    loaded = load_latest_snapshot(engine)
    assert loaded is not None
    assert len(loaded.goals) == 3
    assert loaded.goals == goal_snapshot.goals
    assert json.loads(json.dumps(loaded.goals)) == list(loaded.goals)  # plain JSON values only


def test_a_snapshot_body_saved_before_goals_existed_loads_with_no_goals(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            MetricSnapshot.__table__.insert(),  # type: ignore[attr-defined]
            {
                "as_of": AS_OF,
                "computed_at": AS_OF,
                "config_hash": "0" * 64,
                "band_table": "dora-2023",
                "body": {"current": [{"window_days": 30, "deployments": 4}], "previous": []},
            },
        )
    loaded = load_latest_snapshot(engine)
    assert loaded is not None
    assert loaded.goals == ()
    assert loaded.current == ({"window_days": 30, "deployments": 4},)


def test_serve_registry_exports_the_recomputed_goals(goal_snapshot: Snapshot) -> None:
    registry = build_registry(StateHolder((), goal_snapshot))
    value = registry.get_sample_value
    a = {"goal": "core daily", "scope": "team", "name": "core", "metric": "deployment_frequency"}
    assert value("delivery_metrics_goal_progress_ratio", a) == pytest.approx(0.6)
    assert value("delivery_metrics_goal_baseline", a) == pytest.approx(2 / 7)
    assert value("delivery_metrics_goal_current", a) == pytest.approx(5 / 7)
    assert value("delivery_metrics_goal_target", a) == 1.0
    assert value("delivery_metrics_goal_on_track", a) == 1.0
    assert value("delivery_metrics_goal_due_timestamp_seconds", a) == datetime(2026, 5, 1, tzinfo=UTC).timestamp()
    b = {"goal": "all deployment_frequency", "scope": "portfolio", "name": "all", "metric": "deployment_frequency"}
    assert value("delivery_metrics_goal_on_track", b) == 0.0  # missed
    assert value("delivery_metrics_goal_expected_progress_ratio", b) == 1.0
    c = {"goal": "edge deployment_frequency", "scope": "team", "name": "edge", "metric": "deployment_frequency"}
    assert value("delivery_metrics_goal_target_level_rank", c) == 3.0
    assert value("delivery_metrics_goal_target", c) is None  # a level goal has no target value


def test_recompute_without_goals_keeps_an_empty_goal_list(engine: Engine) -> None:
    config = load_config_text("teams: [{name: core}]\nservices: [{name: shop, team: core}]\n", env={})
    snapshot = recompute(engine, config, as_of=AS_OF)
    assert snapshot.goals == ()
    loaded = load_latest_snapshot(engine)
    assert loaded is not None and loaded.goals == ()


def test_goal_values_equal_the_pmo_reports_goal_evaluation_on_the_demo_organisation(demo_store) -> None:
    """recompute() reads team goals of a configured window from the rows it already has and runs the
    engine once per other (layer, window, instant): the figures must be those of the PMO report's
    per-goal engine runs (``collector.pmo.build.goal_statuses``), with the same baseline instants."""
    from datetime import date

    from collector.pmo.build import goal_statuses
    from collector.pmo.goal_exporter import goal_record
    from collector.pmo.portfolios import portfolio_layers
    from collector.pmo.settings import GoalConfig
    from collector.recompute import compute, goal_records, previous_rows
    from metrics import compute_report

    first, third = demo_store.teams[0], demo_store.teams[2]
    goals = (
        GoalConfig(team=first, metric="lead_time", target=86400.0, due=date(2026, 12, 31)),  # 30d: from the rows
        GoalConfig(
            team=third,
            metric="change_failure_rate",
            target=0.05,
            due=date(2026, 12, 31),
            window="14d",
            baseline=date(2026, 3, 31),
        ),
        GoalConfig(portfolio="digital", metric="deployment_frequency", level="elite", due=date(2026, 12, 31)),
        GoalConfig(portfolio="core", metric="lead_time", target=3600.0, due=date(2026, 9, 30)),
    )
    config = demo_store.config.model_copy(update={"goals": goals})
    as_of = datetime(2026, 6, 15, tzinfo=UTC)
    computation = compute(demo_store.engine, config)
    current = compute_report(computation.inputs, computation.settings, as_of, links=computation.links)
    records = goal_records(computation, config, as_of, current, previous_rows(computation, as_of))

    layers = portfolio_layers(computation.inputs, config.portfolios)
    expected = [
        goal_record(status)
        for goal in goals
        for status in goal_statuses(
            computation, layers, config.model_copy(update={"goals": (goal,)}), as_of - goal.window, as_of
        )
    ]
    assert list(records) == expected
    assert all(record["current_value"] is not None for record in records)  # real comparisons, not None == None
    assert all(record["baseline_value"] is not None for record in records)

"""A hand-computed scenario through the user's path: `ingest` → `report --format json` → `explain`.

Service ``shop`` (team ``core``), repository ``acme/shop``, linear history c1 ← c2 ← c3 ← c4:

| deployment | env | status | sha | finished | changes attributed |
|---|---|---|---|---|---|
| d1 | production | success | c1 | 03-01 06:00 | baseline (first, no list): none |
| d2 | production | success | c3 | 03-03 12:00 | c2 (authored 03-02 00:00), c3 (03-03 00:00) |
| d-stg | staging | success | c4 | 03-04 00:00 | not production: ignored |
| d-fail | production | failure | c4 | 03-04 06:00 | failed attempt, not a DORA deployment |
| d3 | production | success | c4 | 03-05 00:00 | c4, authored by dependabot[bot]: no lead time |

Incident i1 (created 03-03 13:00, resolved 15:00, no explicit cause) links by time to d2 (finished
one hour earlier, inside the 24 h link window).

As of 03-06 00:00 UTC, 7-day window: 3 deployments → 3/7 per day. Lead times: c2 = 36 h = 129600 s,
c3 = 12 h = 43200 s → p50 = 86400, p75 = 43200 + 0.75 × 86400 = 108000, p90 = 43200 + 0.9 × 86400 =
120960. Change failure rate 1/3. Recovery of d2 = 15:00 − 12:00 = 10800 s. Time to restore of i1 =
7200 s. Rework: d3 comes after d2's recovery, so 0/3. Levels (dora-2023): frequency 0.43/day ≥ 1/week
→ high; lead p50 exactly 1 day is not < 1 day → high; 33% → low; 3 h < 1 day → high.
30-day window: 3/30 = 0.1 per day < 1/week → medium.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from collector.entrypoint import main

C1, C2, C3, C4 = ("1" * 40, "2" * 40, "3" * 40, "4" * 40)
AS_OF = "2026-03-06T00:00:00Z"

EVENTS = [
    {"type": "commit", "repo": "acme/shop", "sha": C1, "authored_at": "2026-03-01T00:00:00Z", "author": "ann"},
    {
        "type": "commit",
        "repo": "acme/shop",
        "sha": C2,
        "authored_at": "2026-03-02T01:00:00+01:00",
        "author": "bob",
        "parents": [C1],
    },
    {
        "type": "commit",
        "repo": "acme/shop",
        "sha": C3,
        "authored_at": "2026-03-03T00:00:00Z",
        "author": "ann",
        "parents": [C2],
    },
    {
        "type": "commit",
        "repo": "acme/shop",
        "sha": C4,
        "authored_at": "2026-03-04T12:00:00Z",
        "author": "dependabot[bot]",
        "parents": [C3],
    },
    {
        "type": "deployment",
        "id": "d1",
        "service": "shop",
        "environment": "production",
        "status": "success",
        "sha": C1,
        "finished_at": "2026-03-01T06:00:00Z",
    },
    {
        "type": "deployment",
        "id": "d2",
        "service": "shop",
        "environment": "production",
        "status": "success",
        "sha": C3,
        "finished_at": "2026-03-03T12:00:00Z",
    },
    {
        "type": "deployment",
        "id": "d-stg",
        "service": "shop",
        "environment": "staging",
        "status": "success",
        "sha": C4,
        "finished_at": "2026-03-04T00:00:00Z",
    },
    {
        "type": "deployment",
        "id": "d-fail",
        "service": "shop",
        "environment": "production",
        "status": "failure",
        "sha": C4,
        "finished_at": "2026-03-04T06:00:00Z",
    },
    {
        "type": "deployment",
        "id": "d3",
        "service": "shop",
        "environment": "production",
        "status": "success",
        "sha": C4,
        "finished_at": "2026-03-05T00:00:00Z",
    },
    {
        "type": "incident",
        "id": "i1",
        "service": "shop",
        "created_at": "2026-03-03T13:00:00Z",
        "resolved_at": "2026-03-03T15:00:00Z",
    },
]

CONFIG = """
teams: [{name: core}, {name: other}]
services:
  - {name: shop, team: %s, repositories: [acme/shop]}
"""


def invoke(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def scenario(store_url: str, tmp_path: Path) -> tuple[str, Path]:
    config = tmp_path / "c.yaml"
    config.write_text(CONFIG % "core")
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(event) + "\n" for event in EVENTS))
    invoke("--config", str(config), "--database", store_url, "ingest", str(events))
    return store_url, config


def report(store_url: str, config: Path, *extra: str) -> dict[str, object]:
    return json.loads(
        invoke("--config", str(config), "--database", store_url, "report", "--as-of", AS_OF, "--format", "json", *extra)
    )


def test_hand_computed_service_team_and_organisation_rows(scenario: tuple[str, Path]) -> None:
    store_url, config = scenario
    document = report(store_url, config, "--window", "7d")
    assert document["as_of"] == "2026-03-06T00:00:00Z"
    assert document["band_table"] == "dora-2023"
    rows = {(r["team"], r["service"]): r for r in document["results"]}  # type: ignore[union-attr]
    assert set(rows) == {("core", "shop"), ("core", None), (None, None)}
    for row in rows.values():
        assert row["window_days"] == 7
        assert row["deployments"] == 3
        assert row["deployment_frequency_per_day"] == pytest.approx(3 / 7)
        # c4 is a bot change: counted under "bots", not in the lead time
        assert row["lead_time_seconds"] == {
            "count": 2,
            "p50": 86400.0,
            "p75": 108000.0,
            "p90": 120960.0,
            "bots": 1,
            "excluded": 0,
        }
        assert row["change_failure_rate"] == pytest.approx(1 / 3)
        assert row["failed_deployments"] == 1
        assert row["recovery_time_seconds"] == {
            "count": 1,
            "p50": 10800.0,
            "p90": 10800.0,
            "unrecovered": 0,
            "excluded": 0,
        }
        assert row["time_to_restore_seconds"] == {"count": 1, "p50": 7200.0, "p90": 7200.0}
        assert row["rework_rate"] == 0.0
        assert row["levels"] == {
            "deployment_frequency": "high",
            "lead_time": "high",
            "change_failure_rate": "low",
            "recovery_time": "high",
        }
    assert rows[("core", "shop")]["environment"] == "production"


def test_thirty_day_window_changes_frequency_and_its_level(scenario: tuple[str, Path]) -> None:
    store_url, config = scenario
    row = next(
        r
        for r in report(store_url, config, "--window", "30d")["results"]  # type: ignore[union-attr]
        if r["service"] is None and r["team"] is None
    )
    assert row["deployment_frequency_per_day"] == pytest.approx(0.1)
    assert row["levels"]["deployment_frequency"] == "medium"


def test_reimporting_changes_no_figure(scenario: tuple[str, Path], tmp_path: Path) -> None:
    store_url, config = scenario
    before = report(store_url, config)
    invoke("--config", str(config), "--database", store_url, "ingest", str(tmp_path / "events.jsonl"))
    assert report(store_url, config) == before


def test_moving_the_service_to_another_team_recomputes_without_refetching(scenario: tuple[str, Path]) -> None:
    store_url, config = scenario
    config.write_text(CONFIG % "other")
    rows = report(store_url, config, "--window", "7d")["results"]
    teams = {r["team"] for r in rows if r["service"] is None and r["team"] is not None}  # type: ignore[union-attr]
    assert teams == {"other"}
    shop = next(r for r in rows if r["service"] == "shop")  # type: ignore[union-attr]
    assert shop["team"] == "other" and shop["deployments"] == 3


def test_explain_names_the_time_window_link_and_the_baseline(scenario: tuple[str, Path]) -> None:
    store_url, config = scenario
    base = [
        "--config",
        str(config),
        "--database",
        store_url,
        "explain",
        "--service",
        "shop",
        "--window",
        "7d",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    ]
    cfr = json.loads(invoke(*base, "--metric", "change_failure_rate"))
    assert cfr["value"] == pytest.approx(1 / 3)
    assert any("d1" in note and "baseline" in note for note in cfr["notes"])
    failed = [item for item in cfr["items"] if item.get("deployment_key") == "events:d2"]
    assert failed and "time_window" in json.dumps(failed)
    assert failed[0]["incidents"] == "events:i1"
    lead = json.loads(invoke(*base, "--metric", "lead_time"))
    assert lead["value"] == 86400.0
    by_change = {item["change_key"]: item for item in lead["items"]}
    assert by_change["commit:acme/shop@" + C2]["commits"] == [C2]
    assert by_change["commit:acme/shop@" + C2]["lead_time_seconds"] == 129600.0
    assert by_change["commit:acme/shop@" + C3]["method"] == "graph_walk"
    assert by_change["commit:acme/shop@" + C4]["contribution"] == "left out (bot)"


def test_csv_and_table_formats_carry_the_same_figures(scenario: tuple[str, Path]) -> None:
    store_url, config = scenario
    common = ["--config", str(config), "--database", store_url, "report", "--as-of", AS_OF, "--window", "7d"]
    csv_text = invoke(*common, "--format", "csv")
    header, *lines = csv_text.strip().splitlines()
    assert "lead_time_seconds_p50" in header.split(",")
    assert len(lines) == 3
    table = invoke(*common, "--format", "table")
    assert "organisation" in table and "33.3%" in table and "1.0d" in table


def test_explain_refuses_an_environment_without_its_service_as_a_usage_error(scenario: tuple[str, Path]) -> None:
    # an environment narrows a service's row; with a team it would name no report row
    store_url, config = scenario
    result = CliRunner().invoke(
        main,
        [
            *("--config", str(config), "--database", store_url, "explain", "--metric", "lead_time"),
            *("--team", "core", "--environment", "production", "--as-of", AS_OF),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "an environment narrows a service" in result.output

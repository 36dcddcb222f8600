"""The PMO report on the demo organisation: level counts against the engine, the CLI, the HTML."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import CliRunner

from collector.entrypoint import main
from collector.pmo.build import build_report
from collector.recompute import compute
from metrics import compute_report
from metrics.levels import BAND_METRICS
from tests.pmo.conftest import DEMO_END, DemoStore

MONTHS = [  # written out by hand, independent of collector.pmo.buckets
    ("2026-02", datetime(2026, 3, 1, tzinfo=UTC), 28),
    ("2026-03", datetime(2026, 4, 1, tzinfo=UTC), 31),
    ("2026-04", datetime(2026, 5, 1, tzinfo=UTC), 30),
    ("2026-05", datetime(2026, 6, 1, tzinfo=UTC), 31),
    ("2026-06", datetime(2026, 7, 1, tzinfo=UTC), 30),
]


def test_level_counts_per_month_match_the_engines_team_levels(demo_store: DemoStore) -> None:
    report = build_report(
        demo_store.engine, demo_store.config, period="monthly", first=date(2026, 2, 1), until=DEMO_END, now=DEMO_END
    )
    assert [b.label for b in report.buckets] == [m for m, _, _ in MONTHS]
    computation = compute(demo_store.engine, demo_store.config)
    counts = report.level_counts.set_index(["period", "metric", "level"])["count"]
    checked = 0
    for label, end, days in MONTHS:
        rows = compute_report(computation.inputs, computation.settings, end, links=computation.links, windows=[days])
        team_rows = [r for r in rows if r["scope"] == "team"]
        assert len(team_rows) == len(demo_store.teams)
        for metric in BAND_METRICS:
            expected: dict[str, int] = {}
            for row in team_rows:
                level = row["levels"][metric] or "no data"
                expected[level] = expected.get(level, 0) + 1
            for level in ("elite", "high", "medium", "low", "no data"):
                assert counts[(label, metric, level)] == expected.get(level, 0), (label, metric, level)
                checked += expected.get(level, 0)
    assert checked == len(MONTHS) * len(BAND_METRICS) * len(demo_store.teams)
    # the demo teams differ in level: the curve is not trivially all-one-level
    assert counts.xs("deployment_frequency", level="metric").gt(0).sum() > len(MONTHS)


def test_portfolio_rows_pool_their_teams_deployments(demo_store: DemoStore) -> None:
    report = build_report(
        demo_store.engine, demo_store.config, period="monthly", first=date(2026, 5, 1), until=DEMO_END, now=DEMO_END
    )
    may = report.trends[report.trends["period"] == "2026-05"].set_index(["scope", "name"])
    teams = demo_store.teams
    assert may.loc[("portfolio", "core"), "deployments"] == sum(may.loc[("team", t), "deployments"] for t in teams[1:3])
    assert may.loc[("portfolio", "digital"), "deployments"] == sum(
        may.loc[("team", t), "deployments"] for t in teams[:3]
    )


def test_report_trend_cli_writes_json_csv_and_html(demo_store: DemoStore, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--config", str(demo_store.config_path), "report", "--trend", "monthly", "--from", "2026-03-01"]
    base += ["--to", "2026-06-30"]
    result = runner.invoke(main, [*base, "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert sorted({row["period"] for row in document["trends"]}) == ["2026-03", "2026-04", "2026-05", "2026-06"]
    assert document["goals"][0]["status"] in {"achieved", "on_track", "off_track", "missed", "no_data"}
    csv_result = runner.invoke(main, [*base, "--format", "csv"])
    assert csv_result.exit_code == 0
    assert csv_result.stdout.splitlines()[0].startswith("period,start,end,window_days,scope,name")
    html_path = tmp_path / "report.html"
    html_result = runner.invoke(main, [*base, "--format", "html", "--output", str(html_path)])
    assert html_result.exit_code == 0, html_result.output
    html = html_path.read_text()
    assert html.count("<svg") == 7  # the transformation curve and six metric trends
    # self-contained: nothing is fetched (xmlns URIs are names, not requests)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)|<link|<script|@import|url\((?!#)""", html)
    assert "Data quality" in html and "Goals" in html


def test_report_html_without_trend_is_a_usage_error(demo_store: DemoStore) -> None:
    result = CliRunner().invoke(main, ["--config", str(demo_store.config_path), "report", "--format", "html"])
    assert result.exit_code == 2
    assert "--trend" in result.output

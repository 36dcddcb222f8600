"""Smoke test of the benchmark itself: size S on SQLite, once. Asserts structure and sanity, never timings.

Expected counts are derived by hand: size S has 5 teams and 20 services, so a report over 3 windows
has 3 organisation rows, 15 team rows and 60 service rows; the fake GitHub's 3 repositories at 25
per page need 80 + 45 + 81 = 206 pages (see the arithmetic in ``test_api_economy_minimum``).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.scrape import percentile

ROOT = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    directory = tmp_path_factory.mktemp("bench")
    out = directory / "results.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--sizes",
            "S",
            "--backends",
            "sqlite",
            "--out",
            str(out),
            "--workdir",
            str(directory / "work"),
            "--scrape-seconds",
            "1",
            "--api-repos",
            "3",
            "--child-timeout",
            "300",
            "--repeat",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SMOKE_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(out.read_text()), completed.stdout


def test_import_stores_every_generated_event_and_compares_with_the_same_raw_rows(smoke):
    results, _ = smoke
    (dataset,) = results["datasets"]
    (run,) = results["runs"]
    imported = run["import"]
    assert (dataset["size"], dataset["teams"], dataset["services"], dataset["days"]) == ("S", 5, 20, 90)
    assert imported["committed"] is True
    assert imported["invalid_lines"] == 0
    assert imported["records"] == dataset["events"] > 0
    assert (
        sum(imported["stored"].get(k, 0) for k in ("commits", "pull_requests", "deployments", "incidents"))
        == (dataset["events"])
    )
    assert imported["raw_records"] == dataset["events"]
    assert math.isclose(
        imported["ratio"], imported["records_per_second"] / imported["raw_records_per_second"], rel_tol=1e-9
    )
    assert 0 < imported["ratio"] < 100


def test_recompute_covers_every_scope_and_window_and_reads_every_stored_row(smoke):
    results, _ = smoke
    (run,) = results["runs"]
    recompute = run["recompute"]
    assert recompute["windows"] == [7, 30, 90]
    assert recompute["rows_by_scope"] == {"organisation": 3, "team": 15, "service": 60}
    assert recompute["raw_read_rows"] == results["datasets"][0]["events"]
    assert recompute["seconds"] == pytest.approx(recompute["compute_seconds"] + recompute["report_seconds"])
    assert recompute["ratio"] == pytest.approx(recompute["seconds"] / recompute["raw_read_seconds"])
    # --repeat 2: the fastest of two runs of each is reported, beside both runs' times
    assert len(recompute["runs_seconds"]) == len(recompute["raw_read_runs_seconds"]) == 2
    assert recompute["seconds"] == min(recompute["runs_seconds"])
    assert recompute["raw_read_seconds"] == min(recompute["raw_read_runs_seconds"])


def test_scrape_and_memory_figures_are_consistent(smoke):
    results, _ = smoke
    (run,) = results["runs"]
    for key, decode in (("scrape", False), ("scrape_decoded", True)):
        scrape = run[key]
        assert scrape["decode"] is decode
        assert scrape["scrapers"] == 10
        assert scrape["errors"] == 0
        assert scrape["requests"] > 0
        assert scrape["exit_status"] == 0  # serve stopped cleanly on SIGTERM
        assert 0 < scrape["p50_ms"] <= scrape["p99_ms"] <= scrape["max_ms"]
        assert scrape["receive_p99_ms"] <= scrape["max_ms"]
        assert scrape["samples"] > 0
    for peak in (run["import"]["peak_rss_bytes"], run["recompute"]["peak_rss_bytes"]):
        assert 20 * 2**20 < peak < 8 * 2**30
    assert set(run["targets"]) >= {"import_ratio", "recompute_ratio", "scrape_p99_ms", "recompute_peak_rss_bytes"}
    assert all(isinstance(check["met"], bool) for check in run["targets"].values())


def test_api_economy_minimum(smoke):
    results, stdout = smoke
    economy = results["api_economy"]
    first, second = economy["first_sync"], economy["second_sync"]
    # repo0: 50 commits (2 pages), 25 PRs (1 page + 25 commit + 25 review pages), 25 deployments
    # (1 page + 25 status pages), metadata 1 = 80; repo1: 47/16/8 -> 2+1+32+1+8+1 = 45;
    # repo2: 84/29/15 -> 4+2+58+1+15+1 = 81.
    assert first["minimum_pages"] == 206
    assert first["status"] == "success" and second["status"] == "success"
    assert first["requests"] == sum(r["requests"] for r in first["by_resource"].values())
    assert first["stored"]["pull_requests"] == 25 + 16 + 29
    assert second["requests"] == sum(second["by_resource"].values())
    assert second["by_status"].get("304", 0) == second["not_modified"]
    assert "pull_requests" not in second["stored"]  # nothing new upstream
    assert set(economy["targets"]) == {"first_sync_pages", "second_sync_per_repository_and_resource"}
    assert "API economy (3 repositories" in stdout


def test_percentile_uses_nearest_rank():
    values = [float(v) for v in range(1, 101)]  # 1 … 100
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([5.0, 1.0, 3.0], 0.5) == 3.0
    assert percentile([7.0], 0.99) == 7.0

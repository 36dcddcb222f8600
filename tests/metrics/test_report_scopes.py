"""Windows, time zones, empty inputs, duplicates, scopes (unmapped services, non-production), contract."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from metric_frames import HOUR, at, chain, commits, deployments, incidents, inputs, row, services, ts

from metrics import MetricInputs, MetricSettings, compute_report, explain, report_document

SETTINGS = MetricSettings()


def test_window_edges_in_another_time_zone() -> None:
    # as_of 2024-03-31T00:00+02:00 = 03-30 22:00 UTC; the 7-day window is (03-23 22:00, 03-30 22:00] UTC.
    berlin = pd.Timestamp("2024-03-24T00:00:00+02:00")  # exactly the lower edge -> out
    data = inputs(
        deployments=deployments(
            {"external_id": "1", "finished_at": berlin},
            {"external_id": "2", "finished_at": pd.Timestamp("2024-03-24T00:00:01+02:00")},  # in
            {"external_id": "3", "finished_at": pd.Timestamp("2024-03-31T00:00:00+02:00")},  # = as_of -> in
            {"external_id": "4", "finished_at": pd.Timestamp("2024-03-30T22:00:01Z")},  # after as_of -> out
        )
    )
    as_of = datetime.fromisoformat("2024-03-31T00:00:00+02:00")
    result = row(compute_report(data, SETTINGS, as_of, windows=[7]), scope="service", window=7)
    assert result["deployments"] == 2
    assert result["deployment_frequency_per_day"] == pytest.approx(2 / 7)
    assert result["levels"]["deployment_frequency"] == "high"


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_report(MetricInputs.empty(), SETTINGS, datetime(2024, 3, 1))


def test_empty_inputs_give_organisation_rows_with_nulls() -> None:
    results = compute_report(MetricInputs.empty(), SETTINGS, at("2024-03-01T00:00Z"))
    assert [r["window_days"] for r in results] == [7, 30, 90]
    first = results[0]
    assert (first["scope"], first["team"], first["service"]) == ("organisation", None, None)
    assert first["deployments"] == 0
    assert first["deployment_frequency_per_day"] == 0.0
    assert first["change_failure_rate"] is None
    assert first["rework_rate"] is None
    assert first["lead_time_seconds"]["p50"] is None
    assert first["levels"]["change_failure_rate"] is None
    assert first["levels"]["lead_time"] is None


def test_empty_window_of_a_configured_service() -> None:
    data = inputs(deployments=deployments({"external_id": "1", "finished_at": "2024-01-01T00:00Z"}))
    result = row(compute_report(data, SETTINGS, at("2024-03-01T00:00Z"), windows=[7]), scope="service", window=7)
    assert (result["deployments"], result["change_failure_rate"], result["team"]) == (0, None, "core")


def test_duplicate_events_count_once() -> None:
    data = inputs(
        deployments=deployments(
            {"external_id": "1", "finished_at": "2024-03-01T10:00Z"},
            {"external_id": "1", "finished_at": "2024-03-01T10:00Z"},
        ),
        incidents=incidents(
            {"external_id": "9", "created_at": "2024-03-01T12:00Z", "resolved_at": "2024-03-01T13:00Z"},
            {"external_id": "9", "created_at": "2024-03-01T12:00Z", "resolved_at": "2024-03-01T13:00Z"},
        ),
    )
    result = row(compute_report(data, SETTINGS, at("2024-03-02T00:00Z"), windows=[7]), scope="service", window=7)
    assert result["deployments"] == 1
    assert result["failed_deployments"] == 1
    assert result["time_to_restore_seconds"]["count"] == 1


def test_only_production_success_is_a_deployment_and_other_statuses_are_failed_attempts() -> None:
    data = inputs(
        deployments=deployments(
            {"external_id": "1", "finished_at": "2024-03-01T10:00Z"},
            {"external_id": "2", "finished_at": "2024-03-01T11:00Z", "environment": "staging"},
            {"external_id": "3", "finished_at": "2024-03-01T12:00Z", "status": "failure"},
            {"external_id": "4", "finished_at": "2024-03-01T13:00Z", "status": "cancelled"},
            {"external_id": "5", "finished_at": None, "status": "in_progress"},
        )
    )
    result = row(compute_report(data, SETTINGS, at("2024-03-02T00:00Z"), windows=[7]), scope="service", window=7)
    assert (result["deployments"], result["failed_attempts"]) == (1, 2)


def test_unmapped_service_gets_a_row_without_team_and_counts_for_the_organisation_only() -> None:
    data = inputs(
        deployments=deployments(
            {"external_id": "1", "finished_at": "2024-03-01T10:00Z"},
            {"external_id": "2", "service": "ghost", "finished_at": "2024-03-01T11:00Z"},
            {"external_id": "3", "service": "ghost", "environment": "qa", "finished_at": "2024-03-01T11:00Z"},
        )
    )
    results = compute_report(data, SETTINGS, at("2024-03-02T00:00Z"), windows=[7])
    ghost = row(results, scope="service", window=7, service="ghost")
    assert (ghost["team"], ghost["environment"], ghost["deployments"]) == (None, "production", 1)
    assert row(results, scope="team", window=7, team="core")["deployments"] == 1
    assert row(results, scope="organisation", window=7)["deployments"] == 2


def test_moving_a_service_to_another_team_moves_its_figures() -> None:
    data = inputs(
        services=services({}, {"service": "web", "team": "front", "repositories": ("org/web",)}),
        deployments=deployments({"external_id": "1", "finished_at": "2024-03-01T10:00Z"}),
    )
    before = compute_report(data, SETTINGS, at("2024-03-02T00:00Z"), windows=[7])
    moved = data.with_services(services({"team": "front"}, {"service": "web", "team": "front"}))
    after = compute_report(moved, SETTINGS, at("2024-03-02T00:00Z"), windows=[7])
    assert row(before, scope="team", window=7, team="front")["deployments"] == 0
    assert row(after, scope="team", window=7, team="front")["deployments"] == 1
    assert [r["team"] for r in after if r["scope"] == "team"] == ["front"]


def test_filters_keep_only_the_asked_rows() -> None:
    data = inputs(services=services({}, {"service": "web", "team": "front", "repositories": ("org/web",)}))
    results = compute_report(data, SETTINGS, at("2024-03-02T00:00Z"), windows=[7], teams=["front"])
    assert sorted((r["scope"], r["service"]) for r in results) == [("service", "web"), ("team", None)]


def test_report_document_and_explain_agree_with_the_report() -> None:
    history = chain([("a0000001", "2024-03-01T00:00Z"), ("a0000002", "2024-03-01T04:00Z")])
    data = inputs(
        commits=commits(*history),
        deployments=deployments(
            {"external_id": "1", "sha": "a0000001", "finished_at": "2024-03-01T01:00Z"},
            {"external_id": "2", "sha": "a0000002", "finished_at": "2024-03-01T07:00Z"},
        ),
    )
    as_of = at("2024-03-02T00:00Z")
    results = compute_report(data, SETTINGS, as_of, windows=[7])
    document = report_document(results, as_of, SETTINGS)
    assert document["as_of"] == "2024-03-02T00:00:00Z"
    assert document["band_table"] == "dora-2023"
    explanation = explain(data, SETTINGS, as_of, metric="lead_time", window_days=7, service="app")
    assert explanation.value == 3 * HOUR == row(results, scope="service", window=7)["lead_time_seconds"]["p50"]
    assert explanation.items["change_key"].tolist() == ["commit:org/app@a0000002"]
    assert explanation.items["method"].tolist() == ["graph_walk"]
    assert any("baseline" in note for note in explanation.notes)
    frequency = explain(data, SETTINGS, as_of, metric="deployment_frequency", window_days=7, team="core")
    assert frequency.value == pytest.approx(2 / 7)


def test_explain_recovery_marks_a_negative_recovery_excluded_like_the_report() -> None:
    # i1 names d2 as its cause but was resolved a day before d2 finished: -22 h, left out of the
    # figure (report: excluded 1). The explanation must not show it as a -79200 s contribution.
    data = inputs(
        deployments=deployments(
            {"external_id": "1", "sha": "a1", "finished_at": "2024-03-01T05:00Z"},
            {"external_id": "2", "sha": "a2", "finished_at": "2024-03-02T05:00Z"},
            {"external_id": "3", "sha": "a3", "finished_at": "2024-03-03T05:00Z"},
        ),
        incidents=incidents(
            {
                "external_id": "i1",
                "created_at": "2024-03-01T06:00Z",
                "resolved_at": "2024-03-01T07:00Z",
                "cause_deployment_id": "2",
            },
            {"external_id": "i2", "created_at": "2024-03-03T06:00Z", "resolved_at": "2024-03-03T08:00Z"},
            {"external_id": "i3", "created_at": "2024-03-03T07:00Z", "cause_deployment_id": "1"},
        ),
    )
    as_of = at("2024-03-06T00:00Z")
    recovery = row(compute_report(data, SETTINGS, as_of, windows=[7]), scope="service", window=7)[
        "recovery_time_seconds"
    ]
    assert (recovery["count"], recovery["excluded"], recovery["unrecovered"]) == (1, 1, 1)
    explanation = explain(data, SETTINGS, as_of, metric="recovery_time", window_days=7, service="app")
    assert explanation.value == recovery["p50"] == 3 * HOUR
    contributions = dict(zip(explanation.items["deployment_key"], explanation.items["contribution"], strict=True))
    assert contributions == {"ci:1": "unrecovered", "ci:2": "excluded (negative)", "ci:3": 3 * HOUR}
    counted = [c for c in contributions.values() if isinstance(c, float)]
    assert len(counted) == recovery["count"]


def test_explain_of_a_service_in_two_environments_needs_the_environment() -> None:
    # report rows: app/production 2 deployments, app/prod-eu 1; a pooled 3/7 matches no row
    data = inputs(
        deployments=deployments(
            {"external_id": "1", "finished_at": "2024-03-01T05:00Z"},
            {"external_id": "2", "finished_at": "2024-03-02T05:00Z"},
            {"external_id": "3", "finished_at": "2024-03-02T06:00Z", "environment": "prod-eu"},
        ),
        incidents=incidents(
            {"external_id": "i1", "created_at": "2024-03-03T06:00Z", "resolved_at": "2024-03-03T08:00Z"}
        ),
        services=services({"production_environments": ("production", "prod-eu")}),
    )
    as_of = at("2024-03-06T00:00Z")
    results = compute_report(data, SETTINGS, as_of, windows=[7])
    with pytest.raises(ValueError, match="prod-eu, production"):
        explain(data, SETTINGS, as_of, metric="deployment_frequency", window_days=7, service="app")
    for environment, count in (("production", 2), ("prod-eu", 1)):
        figure = row(results, scope="service", window=7, environment=environment)["deployment_frequency_per_day"]
        one = explain(
            data, SETTINGS, as_of, metric="deployment_frequency", window_days=7, service="app", environment=environment
        )
        assert one.value == figure == pytest.approx(count / 7)
    # time to restore is per service: the same incidents in each environment's row
    restore = explain(data, SETTINGS, as_of, metric="time_to_restore", window_days=7, service="app")
    assert (
        restore.value
        == row(results, scope="service", window=7, environment="prod-eu")["time_to_restore_seconds"]["p50"]
    )
    with pytest.raises(ValueError, match="give the service too"):
        explain(data, SETTINGS, as_of, metric="deployment_frequency", window_days=7, team="core", environment="prod-eu")


def test_inputs_check_columns_and_refuse_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="finished_at"):
        MetricInputs.of(deployments=deployments({"external_id": "1"}).drop(columns=["finished_at"]))
    naive = deployments({"external_id": "1", "finished_at": "2024-03-01T10:00Z"})
    naive["finished_at"] = naive["finished_at"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="naive"):
        MetricInputs.of(deployments=naive)


def test_timestamp_resolution_does_not_change_the_figures() -> None:
    frame = deployments(
        {"external_id": "1", "finished_at": "2024-03-01T10:00Z"},
        {"external_id": "2", "finished_at": "2024-03-01T12:00Z"},
    )
    as_of = at("2024-03-02T00:00Z")
    figures = []
    for unit in ("ns", "us", "s"):
        copy = frame.copy()
        copy["finished_at"] = copy["finished_at"].astype(f"datetime64[{unit}, UTC]")
        figures.append(compute_report(inputs(deployments=copy), SETTINGS, as_of, windows=[7]))
    assert figures[0] == figures[1] == figures[2]
    assert row(figures[0], scope="service", window=7)["deployments"] == 2


def test_commit_counts_in_two_time_zones_match_utc() -> None:
    # the same instant written with +05:30 and with Z gives the same lead time (4 h)
    data = inputs(
        commits=commits({"sha": "f0000001", "authored_at": ts("2024-03-01T13:30:00+05:30")}),
        deployments=deployments(
            {"external_id": "1", "finished_at": "2024-03-01T12:00Z", "sha": "f0000001", "commits": ("f0000001",)}
        ),
    )
    result = row(compute_report(data, SETTINGS, at("2024-03-02T00:00Z"), windows=[7]), scope="service", window=7)
    assert result["lead_time_seconds"]["p50"] == 4 * HOUR


def test_every_row_carries_the_fields_the_json_schema_requires() -> None:
    import json
    from pathlib import Path

    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "report.schema.json").read_text())
    result_schema = schema["$defs"]["result"]
    data = inputs(deployments=deployments({"external_id": "1", "finished_at": "2024-03-01T10:00Z"}))
    for result in compute_report(data, SETTINGS, at("2024-03-02T00:00Z")):
        assert set(result_schema["required"]) <= set(result)
        for name, spec in result_schema["properties"].items():
            if spec.get("type") == "object":
                assert set(spec.get("required", [])) <= set(result[name]), name
    explanation = explain(data, SETTINGS, at("2024-03-02T00:00Z"), metric="rework_rate", window_days=7)
    assert explanation.items["rework_reasons"].tolist() == [""]
    assert explanation.value == 0.0


def test_service_rows_exist_only_for_environments_deployed_to_and_no_data_has_no_level() -> None:
    # app may deploy to production or prod but only ever deployed to production: no invented prod row.
    # idle (team quiet) never deployed: one row, environment null, zero deployments, no level at all.
    data = inputs(
        deployments=deployments({"external_id": "1", "finished_at": "2024-02-28T00:00Z"}),
        services=services(
            {"service": "app", "production_environments": ("production", "prod")},
            {"service": "idle", "team": "quiet", "repositories": ("org/idle",)},
        ),
    )
    results = compute_report(data, SETTINGS, at("2024-03-01T00:00Z"), windows=[7])
    assert [(r["service"], r["environment"]) for r in results if r["scope"] == "service"] == [
        ("app", "production"),
        ("idle", None),
    ]
    app = row(results, scope="service", window=7, service="app")
    assert app["levels"]["deployment_frequency"] == "high"  # 1 deployment / 7 days = exactly 1 per week
    idle = row(results, scope="service", window=7, service="idle")
    assert idle["deployments"] == 0
    assert idle["levels"]["deployment_frequency"] is None
    quiet = next(r for r in results if r["scope"] == "team" and r["team"] == "quiet")
    assert quiet["levels"]["deployment_frequency"] is None
    core = next(r for r in results if r["scope"] == "team" and r["team"] == "core")
    assert core["levels"]["deployment_frequency"] == "high"


def test_a_scope_that_deployed_before_the_window_is_low_not_unknown() -> None:
    data = inputs(deployments=deployments({"external_id": "1", "finished_at": "2024-01-01T00:00Z"}))
    result = row(compute_report(data, SETTINGS, at("2024-03-01T00:00Z"), windows=[7]), scope="service", window=7)
    assert result["deployment_frequency_per_day"] == 0.0
    assert result["levels"]["deployment_frequency"] == "low"

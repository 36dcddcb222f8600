"""``MetricInputs.of``: timestamp conversion, the natural-key dedupe and the caller's uniqueness pledge."""

from __future__ import annotations

import pandas as pd
import pytest
from metric_frames import commits, deployments, ts

from metrics import MetricInputs


def test_duplicate_natural_keys_keep_the_last_row() -> None:
    frame = commits(
        {"sha": "a1", "authored_at": ts("2024-03-01T10:00Z"), "message": "first"},
        {"sha": "b2", "authored_at": ts("2024-03-01T11:00Z")},
        {"sha": "a1", "authored_at": ts("2024-03-01T12:00Z"), "message": "again"},
    )
    kept = MetricInputs.of(commits=frame).commits
    assert kept["sha"].tolist() == ["b2", "a1"]
    assert kept["message"].tolist() == ["work", "again"]
    assert kept.index.tolist() == [0, 1]


def test_frames_vouched_unique_are_not_deduplicated_and_others_still_are() -> None:
    frame = commits(
        {"sha": "a1", "authored_at": ts("2024-03-01T10:00Z")},
        {"sha": "a1", "authored_at": ts("2024-03-01T12:00Z")},
    )
    twice = deployments(
        {"external_id": "1", "finished_at": "2024-03-01T10:00Z"},
        {"external_id": "1", "finished_at": "2024-03-01T11:00Z"},
    )
    inputs = MetricInputs.of(commits=frame, deployments=twice, unique_keys=("commits",))
    assert len(inputs.commits) == 2  # the caller's pledge is taken as given
    assert inputs.deployments["finished_at"].tolist() == [ts("2024-03-01T11:00Z")]


def test_unique_keys_naming_an_unknown_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="commit"):
        MetricInputs.of(unique_keys=("commit",))


def test_timestamps_are_converted_to_utc_microseconds_without_touching_the_given_frame() -> None:
    frame = deployments({"external_id": "1", "finished_at": "2024-03-01T10:00Z"})
    frame["finished_at"] = frame["finished_at"].dt.tz_convert("Asia/Kolkata").astype("datetime64[ns, Asia/Kolkata]")
    before = frame.copy()
    normalised = MetricInputs.of(deployments=frame).deployments
    assert str(normalised["finished_at"].dtype) == "datetime64[us, UTC]"
    assert normalised["finished_at"].iloc[0] == ts("2024-03-01T10:00Z")
    pd.testing.assert_frame_equal(frame, before)


def test_a_frame_already_in_the_contract_keeps_its_timestamp_values() -> None:
    frame = deployments({"external_id": "1", "finished_at": "2024-03-01T10:00:00.000001Z"})
    frame["finished_at"] = frame["finished_at"].astype("datetime64[us, UTC]")
    normalised = MetricInputs.of(deployments=frame).deployments
    assert normalised["finished_at"].tolist() == frame["finished_at"].tolist()
    assert str(normalised["finished_at"].dtype) == "datetime64[us, UTC]"

"""Property tests: a failed deployment never lowers the change failure rate; pooled team medians."""

from __future__ import annotations

import statistics

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from metric_frames import at, commits, deployments, incidents, inputs, row, services, ts

from metrics import MetricSettings, compute_report

SETTINGS = MetricSettings()
AS_OF = at("2024-03-31T00:00Z")


def _cfr(failed_flags: list[bool]) -> float | None:
    deps = [
        {"external_id": str(i), "sha": None, "finished_at": ts(f"2024-03-{i + 1:02d}T12:00Z"), "commits": ()}
        for i in range(len(failed_flags))
    ]
    incs = [
        {"external_id": str(i), "created_at": ts(f"2024-03-{i + 1:02d}T13:00Z"), "cause_deployment_id": str(i)}
        for i, failed in enumerate(failed_flags)
        if failed
    ]
    data = inputs(deployments=deployments(*deps), incidents=incidents(*incs))
    return row(compute_report(data, SETTINGS, AS_OF, windows=[30]), scope="service", window=30)["change_failure_rate"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=12))
def test_adding_a_failed_deployment_never_lowers_the_change_failure_rate(flags: list[bool]) -> None:
    before = _cfr(flags)
    after = _cfr([*flags, True])
    assert after is not None
    assert before is None or after >= before
    assert after == (sum(flags) + 1) / (len(flags) + 1)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=6),
    st.lists(st.integers(min_value=0, max_value=500), min_size=1, max_size=6),
)
def test_team_lead_time_is_the_median_of_the_pooled_changes(first: list[int], second: list[int]) -> None:
    svc = services({"service": "s1", "repositories": ("org/s1",)}, {"service": "s2", "repositories": ("org/s2",)})
    rows, deps = [], []
    for name, minutes in (("s1", first), ("s2", second)):
        shas = tuple(f"{name}{i:06d}" for i in range(len(minutes)))
        rows += [
            {"repo": f"org/{name}", "sha": sha, "authored_at": ts("2024-03-10T12:00Z") - pd.Timedelta(minutes=m)}
            for sha, m in zip(shas, minutes, strict=True)
        ]
        deps.append({"external_id": name, "service": name, "finished_at": ts("2024-03-10T12:00Z"), "commits": shas})
    data = inputs(services=svc, commits=commits(*rows), deployments=deployments(*deps))
    team = row(compute_report(data, SETTINGS, AS_OF, windows=[30]), scope="team", window=30, team="core")
    assert team["lead_time_seconds"]["p50"] == statistics.median([m * 60.0 for m in first + second])

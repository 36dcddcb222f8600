"""Audit: "first deployment after a failed deployment" when both finished in the same second.

docs/metrics.md, "Rework rate": rework includes "the first deployment of the service and environment
after a failed deployment and no later than that failure's recovery". The order of deployments of a
service/environment is documented in "Changes of a deployment": "ordered by `finished_at`, then
`started_at`, then key" — the order the graph walk and rollback detection already use.
"""

from __future__ import annotations

import pytest
from metric_frames import at, chain, commits, deployments, incidents, inputs, row, ts

from metrics import MetricSettings, compute_report, derive_links

SETTINGS = MetricSettings()


def test_next_deployment_finishing_in_the_same_second_as_the_failure_is_rework() -> None:
    # ci:2 (started 12:30) and ci:3 (started 12:50) both finished at 13:00:00 (second-resolution
    # timestamps). Incident pd:1 names ci:2 as its cause and is resolved on 03-06 15:00.
    # In the documented order ci:3 is the first deployment after the failed ci:2, before its
    # recovery: rework. Rework deployments 1 of 3 (ci:3); failed 1 of 3 (ci:2).
    data = inputs(
        commits=commits(
            *chain([("c1", "2024-03-01T00:00Z"), ("c2", "2024-03-02T00:00Z"), ("c3", "2024-03-03T00:00Z")])
        ),
        deployments=deployments(
            {
                "external_id": "1",
                "sha": "c1",
                "started_at": ts("2024-03-05T11:50Z"),
                "finished_at": "2024-03-05T12:00Z",
            },
            {
                "external_id": "2",
                "sha": "c2",
                "started_at": ts("2024-03-05T12:30Z"),
                "finished_at": "2024-03-05T13:00Z",
            },
            {
                "external_id": "3",
                "sha": "c3",
                "started_at": ts("2024-03-05T12:50Z"),
                "finished_at": "2024-03-05T13:00Z",
            },
        ),
        incidents=incidents(
            {
                "external_id": "1",
                "created_at": "2024-03-05T14:00Z",
                "resolved_at": "2024-03-06T15:00Z",
                "cause_deployment_id": "2",
            }
        ),
    )
    table = derive_links(data, SETTINGS).deployments.set_index("deployment_key")
    assert table.loc["ci:3", "attribution"] == "graph_walk"  # the walk already puts ci:3 after ci:2
    assert table["rework"].to_dict() == {"ci:1": False, "ci:2": False, "ci:3": True}
    result = row(compute_report(data, SETTINGS, at("2024-03-10T00:00Z"), windows=[7]), scope="service", window=7)
    assert (result["deployments"], result["failed_deployments"], result["rework_deployments"]) == (3, 1, 1)
    assert result["rework_rate"] == pytest.approx(1 / 3)

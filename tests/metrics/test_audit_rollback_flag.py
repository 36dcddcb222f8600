"""Audit: a null ``is_rollback`` cell is "not marked", not a marked rollback.

docs/metrics.md, "Failed deployments and change failure rate", rule 2: "A deployment marked
`is_rollback` whose sha was never deployed before fails *k−1* (`rollback_flag`)." A null cell (a frame
built by concatenation, a source that does not know) marks nothing; ``links._deployment_table``
already reads it as false (``fillna(False)``), but rollback detection took ``bool(NaN)``, i.e. true.
"""

from __future__ import annotations

import numpy as np
from metric_frames import at, chain, commits, deployments, inputs, row

from metrics import MetricSettings, compute_report, derive_links

SETTINGS = MetricSettings()


def test_null_is_rollback_marks_no_rollback_and_fails_nothing() -> None:
    # c1 then c2, two ordinary deployments whose is_rollback is unknown (NaN, a float column).
    # Expected: 2 deployments, 0 failed (CFR 0.0), 0 rework (rework rate 0.0), no failure rows.
    data = inputs(
        commits=commits(*chain([("c1", "2024-03-01T00:00Z"), ("c2", "2024-03-02T00:00Z")])),
        deployments=deployments(
            {"external_id": "1", "sha": "c1", "finished_at": "2024-03-05T12:00Z", "is_rollback": np.nan},
            {"external_id": "2", "sha": "c2", "finished_at": "2024-03-06T12:00Z", "is_rollback": np.nan},
        ),
    )
    result = row(compute_report(data, SETTINGS, at("2024-03-10T00:00Z"), windows=[7]), scope="service", window=7)
    assert result["deployments"] == 2
    assert (result["failed_deployments"], result["change_failure_rate"]) == (0, 0.0)
    assert (result["rework_deployments"], result["rework_rate"]) == (0, 0.0)
    assert derive_links(data, SETTINGS).failures.empty

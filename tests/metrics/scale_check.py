"""Scale check (not a test): size L = 1M commits, 200k PRs, 100k deployments, 10k incidents, 1k services.

Run: ``.venv/bin/python tests/metrics/scale_check.py``; prints the time of derive_links and of the
full report (every service/team/org × 3 windows). Synthetic data: one repository of 1,000 commits
per service (a first-parent chain where every fifth commit merges a side commit), 200 merged PRs per
repository, 100 production deployments per service, 10 incidents per service.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from metrics import MetricInputs, MetricSettings, compute_report, derive_links

logger = logging.getLogger(__name__)
SERVICES, COMMITS_PER, PRS_PER, DEPLOYS_PER, INCIDENTS_PER = 1000, 1000, 200, 100, 10
START = pd.Timestamp("2024-01-01", tz="UTC")


def nat(n: int) -> pd.Series:
    """``n`` missing UTC timestamps."""
    return pd.Series(pd.NaT, index=range(n), dtype="datetime64[us, UTC]")


def build() -> MetricInputs:
    rng = np.random.default_rng(7)
    n = SERVICES * COMMITS_PER
    repo_ids = np.repeat(np.arange(SERVICES), COMMITS_PER)
    local = np.tile(np.arange(COMMITS_PER), SERVICES)
    repos = np.char.add("org/repo", repo_ids.astype(str))
    shas = np.char.add(np.char.add(repos, "-"), local.astype(str))
    shas = np.char.replace(shas, "org/repo", "c")
    parents: list[tuple[str, ...]] = []
    sha_list = shas.tolist()
    for i in range(n):
        k = local[i]
        if k == 0:
            parents.append(())
        elif k % 5 == 0 and k >= 2:
            parents.append((sha_list[i - 1], sha_list[i - 2]))
        else:
            parents.append((sha_list[i - 1],))
    authored = START + pd.to_timedelta(local * 2 * 3600 + rng.integers(0, 3600, n), unit="s")
    commits = pd.DataFrame(
        {
            "repo": repos,
            "sha": shas,
            "author": np.where(local % 50 == 0, "renovate[bot]", "dev"),
            "author_email": None,
            "authored_at": authored.astype("datetime64[us, UTC]"),
            "committed_at": nat(n),
            "parents": parents,
            "message": "change",
            "paths": None,
        }
    )
    pr_repo = np.repeat(np.arange(SERVICES), PRS_PER)
    pr_local = np.tile(np.arange(PRS_PER), SERVICES)
    merge_idx = pr_repo * COMMITS_PER + pr_local * 5 + 4
    authored_np = commits["authored_at"].dt.tz_localize(None).to_numpy()
    created = authored_np[merge_idx - 3]
    pull_requests = pd.DataFrame(
        {
            "repo": repos[merge_idx],
            "number": pr_local + 1,
            "author": "dev",
            "title": "feature",
            "labels": [("hotfix",) if k % 40 == 0 else () for k in pr_local],
            "head_branch": "feature/x",
            "base_branch": "main",
            "created_at": created,
            "first_commit_at": nat(len(merge_idx)),
            "first_review_at": created + np.timedelta64(1800, "s"),
            "merged_at": created + np.timedelta64(7200, "s"),
            "closed_at": created + np.timedelta64(7200, "s"),
            "merge_sha": shas[merge_idx],
            "commits": [tuple(sha_list[j - 3 : j]) for j in merge_idx],
        }
    )
    for column in ("created_at", "first_review_at", "merged_at", "closed_at"):
        pull_requests[column] = pd.to_datetime(pull_requests[column], utc=True).astype("datetime64[us, UTC]")
    d_service = np.repeat(np.arange(SERVICES), DEPLOYS_PER)
    d_local = np.tile(np.arange(DEPLOYS_PER), SERVICES)
    tip = d_service * COMMITS_PER + d_local * 10 + 9
    finished = authored_np[tip] + np.timedelta64(5400, "s")
    deployments = pd.DataFrame(
        {
            "deployment_key": np.char.add("ci:", np.arange(len(tip)).astype(str)),
            "source": "ci",
            "external_id": np.arange(len(tip)).astype(str),
            "service": np.char.add("svc", d_service.astype(str)),
            "environment": "production",
            "status": np.where(d_local % 17 == 3, "failure", "success"),
            "sha": shas[tip],
            "repo": None,
            "started_at": nat(len(tip)),
            "finished_at": finished,
            "commits": None,
            "is_rollback": False,
        }
    )
    deployments["finished_at"] = pd.to_datetime(deployments["finished_at"], utc=True).astype("datetime64[us, UTC]")
    i_service = np.repeat(np.arange(SERVICES), INCIDENTS_PER)
    i_local = np.tile(np.arange(INCIDENTS_PER), SERVICES)
    i_created = finished[i_service * DEPLOYS_PER + i_local * 10 + 5] + np.timedelta64(3600, "s")
    incidents = pd.DataFrame(
        {
            "incident_key": np.char.add("pd:", np.arange(len(i_service)).astype(str)),
            "source": "pd",
            "external_id": np.arange(len(i_service)).astype(str),
            "service": np.char.add("svc", i_service.astype(str)),
            "title": "down",
            "severity": "high",
            "created_at": i_created,
            "acknowledged_at": nat(len(i_service)),
            "resolved_at": i_created + np.timedelta64(5400, "s"),
            "cause_deployment_id": None,
            "cause_sha": None,
        }
    )
    for column in ("created_at", "resolved_at"):
        incidents[column] = pd.to_datetime(incidents[column], utc=True).astype("datetime64[us, UTC]")
    services = pd.DataFrame(
        {
            "service": [f"svc{i}" for i in range(SERVICES)],
            "team": [f"team{i % 50}" for i in range(SERVICES)],
            "repositories": [(f"org/repo{i}",) for i in range(SERVICES)],
            "path_prefixes": [()] * SERVICES,
            "production_environments": [("production",)] * SERVICES,
        }
    )
    return MetricInputs.of(
        deployments=deployments, commits=commits, pull_requests=pull_requests, incidents=incidents, services=services
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t0 = time.perf_counter()
    inputs = build()
    t1 = time.perf_counter()
    settings = MetricSettings()
    links = derive_links(inputs, settings)
    t2 = time.perf_counter()
    as_of = datetime(2024, 3, 25, tzinfo=UTC)
    rows = compute_report(inputs, settings, as_of, links=links)
    t3 = time.perf_counter()
    logger.info(
        "build %.1fs  derive_links %.1fs  compute_report %.1fs  (%d rows)", t1 - t0, t2 - t1, t3 - t2, len(rows)
    )
    org = [r for r in rows if r["scope"] == "organisation"]
    for row in org:
        logger.info(
            "org %sd: deployments=%s lead=%s cfr=%s",
            row["window_days"],
            row["deployments"],
            row["lead_time_seconds"],
            row["change_failure_rate"],
        )


if __name__ == "__main__":
    main()

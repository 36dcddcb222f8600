"""Edge cases of the vectorised commit lookups behind ``derive_links`` (empty or missing values)."""

from __future__ import annotations

from metric_frames import chain, commits, deployments, inputs, pull_requests, services, ts

from metrics import MetricSettings, derive_links

SETTINGS = MetricSettings()
HISTORY = chain(
    [("c0000001", "2024-03-01T00:00Z"), ("c0000002", "2024-03-02T00:00Z"), ("c0000003", "2024-03-03T00:00Z")],
    message=None,
)
TWO = (
    {"external_id": "1", "sha": "c0000001", "finished_at": "2024-03-01T12:00Z"},
    {"external_id": "2", "sha": "c0000003", "finished_at": "2024-03-03T12:00Z"},
)


def test_lone_commits_without_messages_are_changes_that_are_not_reverts() -> None:
    links = derive_links(inputs(commits=commits(*HISTORY), deployments=deployments(*TWO)), SETTINGS)
    assert sorted(links.changes["change_key"]) == ["commit:org/app@c0000002", "commit:org/app@c0000003"]
    assert not links.changes["is_revert"].any()
    assert links.changes["title"].isna().all()


def test_sha_of_a_service_without_repositories_and_no_commit_table_is_unknown() -> None:
    data = inputs(services=services({"repositories": ()}), deployments=deployments(*TWO))
    links = derive_links(data, SETTINGS)
    assert links.deployments.set_index("deployment_key")["attribution"].to_dict() == {
        "ci:1": "unknown_sha",
        "ci:2": "unknown_sha",
    }
    assert links.deployment_changes.empty


def test_service_without_repositories_finds_the_sha_in_any_repository() -> None:
    data = inputs(services=services({"repositories": ()}), commits=commits(*HISTORY), deployments=deployments(*TWO))
    shipped = derive_links(data, SETTINGS).deployment_changes
    assert list(zip(shipped["repo"], shipped["sha"], strict=True)) == [("org/app", "c0000003"), ("org/app", "c0000002")]


def test_merge_sha_missing_and_empty_listed_sha_claim_nothing() -> None:
    pr = {"number": 7, "merged_at": ts("2024-03-03T06:00Z"), "merge_sha": None, "commits": ("", "c0000002")}
    data = inputs(commits=commits(*HISTORY), deployments=deployments(*TWO), pull_requests=pull_requests(pr))
    links = derive_links(data, SETTINGS)
    by_sha = dict(zip(links.deployment_changes["sha"], links.deployment_changes["change_key"], strict=True))
    assert by_sha == {"c0000003": "commit:org/app@c0000003", "c0000002": "pr:org/app#7"}


def test_explicit_list_with_an_unknown_sha_keeps_it_unknown_in_the_only_repository() -> None:
    listed = {"external_id": "3", "sha": "c0000003", "finished_at": "2024-03-04T12:00Z", "commits": ("ffff0001",)}
    data = inputs(commits=commits(*HISTORY), deployments=deployments(*TWO, listed))
    links = derive_links(data, SETTINGS)
    row = links.deployment_changes[links.deployment_changes["deployment_key"] == "ci:3"]
    assert row[["repo", "sha", "method", "node"]].values.tolist() == [["org/app", "ffff0001", "explicit_list", -1]]
    assert row["change_key"].isna().all()
    assert links.deployments.set_index("deployment_key").loc["ci:3", "unknown_shas"] == 1

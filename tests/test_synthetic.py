"""The seeded synthetic organisation generator.

The schema check below is written from the canonical event schema (issue 2 / docs/events.md), not
from the generator's code. Realism checks assert properties the metrics engine relies on, each
derived from the generator's stated definitions (e.g. a rollback is a re-deployment of an earlier
sha), never counts copied from a run.
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from collector.synthetic import (
    DEMO,
    L,
    M,
    OrgSize,
    S,
    SyntheticOrg,
    generate_org,
    services_config,
    write_jsonl,
)

END = datetime(2021, 3, 15, 12, 0, tzinfo=UTC)  # far from today: proves the clock is not read
SHA = re.compile(r"^[0-9a-f]{40}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
STATUSES = {"success", "failure", "error", "cancelled", "in_progress"}
Event = dict[str, Any]

# type -> (required fields, optional fields), from the canonical schema.
SCHEMA: dict[str, tuple[set[str], set[str]]] = {
    "commit": (
        {"repo", "sha", "authored_at"},
        {"committed_at", "author", "author_email", "parents", "message", "paths"},
    ),
    "pull_request": (
        {"repo", "number", "created_at"},
        {
            "merged_at",
            "closed_at",
            "merge_sha",
            "commits",
            "first_commit_at",
            "first_review_at",
            "author",
            "title",
            "labels",
            "head_branch",
            "base_branch",
        },
    ),
    "deployment": (
        {"id", "service", "environment", "status", "sha", "finished_at"},
        {"started_at", "repo", "commits", "is_rollback"},
    ),
    "incident": (
        {"id", "service", "created_at"},
        {"resolved_at", "acknowledged_at", "severity", "title", "deployment_id", "sha"},
    ),
}
TIME_FIELDS = {
    "authored_at",
    "committed_at",
    "created_at",
    "merged_at",
    "closed_at",
    "first_commit_at",
    "first_review_at",
    "finished_at",
    "started_at",
    "resolved_at",
    "acknowledged_at",
}
STRING_FIELDS = {
    "repo",
    "author",
    "author_email",
    "message",
    "title",
    "head_branch",
    "base_branch",
    "id",
    "service",
    "environment",
    "severity",
    "deployment_id",
}
SHA_LIST_FIELDS = {"parents", "commits"}


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def schema_problems(event: Event) -> list[str]:
    """Every way ``event`` breaks the canonical schema (empty when it conforms)."""
    kind = event.get("type")
    if kind not in SCHEMA:
        return [f"unknown type {kind!r}"]
    required, optional = SCHEMA[kind]
    problems = [f"missing {name}" for name in required - event.keys()]
    problems += [f"unknown key {name}" for name in event.keys() - required - optional - {"type"}]
    for name, value in event.items():
        if name in TIME_FIELDS:
            if not isinstance(value, str) or not TIMESTAMP.match(value):
                problems.append(f"{name}: {value!r} is not ISO 8601 with an offset")
            elif parse_time(value).tzinfo is None:
                problems.append(f"{name}: no offset")
        elif name in STRING_FIELDS and not (isinstance(value, str) and value):
            problems.append(f"{name}: {value!r} is not a non-empty string")
        elif name in {"sha", "merge_sha"} and not (isinstance(value, str) and SHA.match(value)):
            problems.append(f"{name}: {value!r} is not a sha")
        elif name in SHA_LIST_FIELDS and not (
            isinstance(value, list) and all(isinstance(v, str) and SHA.match(v) for v in value)
        ):
            problems.append(f"{name}: {value!r} is not a list of shas")
        elif name in {"paths", "labels"} and not (
            isinstance(value, list) and all(isinstance(v, str) and v for v in value)
        ):
            problems.append(f"{name}: {value!r} is not a list of strings")
    if kind == "pull_request" and not (isinstance(event["number"], int) and event["number"] > 0):
        problems.append("number is not a positive integer")
    if kind == "deployment":
        if event["status"] not in STATUSES:
            problems.append(f"status {event['status']!r}")
        if not isinstance(event.get("is_rollback", False), bool):
            problems.append("is_rollback is not a bool")
    pairs = [("created_at", "merged_at"), ("started_at", "finished_at"), ("created_at", "resolved_at")]
    pairs += [("created_at", "acknowledged_at"), ("created_at", "first_review_at")]
    for earlier, later in pairs:
        if earlier in event and later in event and parse_time(event[later]) < parse_time(event[earlier]):
            problems.append(f"{later} before {earlier}")
    return problems


@pytest.fixture(scope="module")
def demo() -> SyntheticOrg:
    return generate_org(DEMO, seed=42, end=END)


@pytest.fixture(scope="module")
def demo_events(demo: SyntheticOrg) -> list[Event]:
    return list(demo.events())


def by_type(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e["type"] == kind]


def test_same_seed_gives_identical_events_and_another_seed_different_ones() -> None:
    first = list(generate_org(S, seed=1, end=END).events())
    assert first == list(generate_org("S", seed=1, end=END).events())
    assert first != list(generate_org(S, seed=2, end=END).events())
    assert first != list(generate_org(S, seed=1, end=END + timedelta(days=1)).events())


def test_events_are_repeatable_from_the_same_org_object(demo: SyntheticOrg, demo_events: list[Event]) -> None:
    assert list(demo.events()) == demo_events


def test_every_event_conforms_to_the_canonical_schema(demo_events: list[Event]) -> None:
    bad = [(i, problems) for i, e in enumerate(demo_events) if (problems := schema_problems(e))]
    assert bad == []
    assert {e["type"] for e in demo_events} == set(SCHEMA)


def test_schema_check_itself_rejects_broken_events() -> None:
    # Guards the guard: a naive timestamp, a bad sha, an unknown key and a bad status are caught.
    assert schema_problems({"type": "commit", "repo": "r", "sha": "a" * 40, "authored_at": "2021-01-01T00:00:00"})
    assert schema_problems({"type": "commit", "repo": "r", "sha": "xyz", "authored_at": "2021-01-01T00:00:00Z"})
    assert schema_problems(
        {"type": "incident", "id": "i", "service": "s", "created_at": "2021-01-01T00:00:00Z", "oops": 1}
    )
    deployment = {
        "type": "deployment",
        "id": "d",
        "service": "s",
        "environment": "production",
        "status": "ok",
        "sha": "a" * 40,
        "finished_at": "2021-01-01T00:00:00Z",
    }
    assert schema_problems(deployment) == ["status 'ok'"]


def test_timestamps_are_mostly_utc_with_some_other_offsets_and_none_after_end(demo_events: list[Event]) -> None:
    offsets: Counter[str] = Counter()
    latest = datetime.min.replace(tzinfo=UTC)
    for event in demo_events:
        for name in TIME_FIELDS & event.keys():
            offsets[event[name][-6:]] += 1
            latest = max(latest, parse_time(event[name]))
    assert latest <= END
    assert offsets["+00:00"] > sum(offsets.values()) / 2
    assert len(offsets) >= 3


def test_references_point_at_commits_of_the_same_repository(demo_events: list[Event]) -> None:
    seen: dict[str, set[str]] = defaultdict(set)  # repo -> shas emitted so far (stream order)
    deployment_ids: set[str] = set()
    service_repos: dict[str, str] = {}
    for event in demo_events:
        kind = event["type"]
        if kind == "commit":
            # Parents come before their children in the stream.
            assert set(event["parents"]) <= seen[event["repo"]], event["sha"]
            seen[event["repo"]].add(event["sha"])
        elif kind == "pull_request":
            assert set(event["commits"]) <= seen[event["repo"]]
            assert event.get("merge_sha", event["commits"][0]) in seen[event["repo"]]
            assert event["commits"], "a pull request has at least one commit"
        elif kind == "deployment":
            assert event["sha"] in seen[event["repo"]]
            assert set(event.get("commits", [])) <= seen[event["repo"]]
            deployment_ids.add(event["id"])
            service_repos[event["service"]] = event["repo"]
        else:
            if "deployment_id" in event:
                assert event["deployment_id"] in deployment_ids
            if "sha" in event:
                assert event["sha"] in seen[service_repos[event["service"]]]
    ids = [e["id"] for e in demo_events if e["type"] in {"deployment", "incident"}]
    assert len(ids) == len(set(ids))
    keys = [(e["repo"], e["sha"]) for e in by_type(demo_events, "commit")]
    assert len(keys) == len(set(keys))


def test_main_history_has_merge_and_squash_landings_on_one_first_parent_line(demo_events: list[Event]) -> None:
    commits = {(c["repo"], c["sha"]): c for c in by_type(demo_events, "commit")}
    merged = [p for p in by_type(demo_events, "pull_request") if "merge_sha" in p]
    landing_parents = Counter(len(commits[(p["repo"], p["merge_sha"])]["parents"]) for p in merged)
    assert landing_parents[2] > 0  # merge commits
    assert landing_parents[1] > 0  # squash commits
    for repo in {c["repo"] for c in commits.values()}:
        deployed = {
            d["sha"]
            for d in by_type(demo_events, "deployment")
            if d["repo"] == repo and d["environment"] == "production" and d["status"] == "success"
        }
        chains = []
        for sha in deployed:
            chain = []
            while sha:
                chain.append(sha)
                parents = commits[(repo, sha)]["parents"]
                sha = parents[0] if parents else ""
            chains.append(chain)
        longest = set(max(chains, key=len))
        assert deployed <= longest, repo  # every deployed sha is on one first-parent (main) line


def test_deployments_are_bursty_on_weekdays_and_include_staging_and_failed_attempts(
    demo_events: list[Event],
) -> None:
    deployments = by_type(demo_events, "deployment")
    production = [d for d in deployments if d["environment"] == "production" and d["status"] == "success"]
    weekend = sum(parse_time(d["finished_at"]).weekday() >= 5 for d in production)
    # Per day, weekends (2 of 7 days) carry far less than weekdays (5 of 7 days).
    assert weekend / 2 < (len(production) - weekend) / 5 / 4
    assert any(d["environment"] == "staging" for d in deployments)
    assert {"failure", "error"} <= {d["status"] for d in deployments}
    assert 0 < sum("commits" in d for d in production) < len(production) / 2


def test_rollbacks_are_redeployments_of_an_earlier_sha_some_flagged(demo_events: list[Event]) -> None:
    history: dict[str, list[str]] = defaultdict(list)
    flagged = redeployed = 0
    for d in sorted(by_type(demo_events, "deployment"), key=lambda d: parse_time(d["finished_at"])):
        if d["environment"] != "production" or d["status"] != "success":
            continue
        earlier = history[d["service"]]
        if d["is_rollback"]:
            flagged += 1
            assert d["sha"] in earlier[:-1]
        elif earlier and d["sha"] in earlier[:-1]:
            redeployed += 1  # a rollback the engine must detect from the sha alone
        earlier.append(d["sha"])
    assert flagged > 0
    assert redeployed > 0


def test_reverts_hotfixes_and_bot_changes_are_present(demo_events: list[Event]) -> None:
    prs = by_type(demo_events, "pull_request")
    commits = {(c["repo"], c["sha"]) for c in by_type(demo_events, "commit")}
    reverts = [c for c in by_type(demo_events, "commit") if "This reverts commit " in c["message"]]
    assert reverts
    for commit in reverts:
        reverted = re.search(r"This reverts commit ([0-9a-f]{40})\.", commit["message"])
        assert reverted is not None
        assert (commit["repo"], reverted.group(1)) in commits
    assert any(re.fullmatch(r'Revert ".+"', p["title"]) for p in prs)
    hotfixes = [p for p in prs if p["head_branch"].startswith("hotfix/")]
    assert hotfixes
    assert all("hotfix" in p["labels"] for p in hotfixes)
    assert {"dependabot[bot]", "renovate[bot]"} <= {p["author"] for p in prs}
    assert any("merged_at" not in p and "closed_at" in p for p in prs)  # abandoned
    assert any("closed_at" not in p for p in prs)  # still open at the end


def test_incidents_have_every_kind_of_cause_and_some_are_unresolved(demo_events: list[Event]) -> None:
    incidents = by_type(demo_events, "incident")
    assert any("deployment_id" in i for i in incidents)
    assert any("sha" in i for i in incidents)
    assert any("deployment_id" not in i and "sha" not in i for i in incidents)
    assert any("resolved_at" not in i for i in incidents)
    assert sum("acknowledged_at" in i for i in incidents) >= len(incidents) - 1


def test_monorepo_is_shared_by_two_services_split_by_path_prefix(demo: SyntheticOrg, demo_events: list[Event]) -> None:
    shared = [s for s in demo.services if s.path_prefixes]
    assert len(shared) == 2
    assert shared[0].repositories == shared[1].repositories
    repo = shared[0].repositories[0]
    paths = [p for c in by_type(demo_events, "commit") if c["repo"] == repo for p in c["paths"]]
    for service in shared:
        assert any(p.startswith(service.path_prefixes[0]) for p in paths)
    deployed = {d["service"] for d in by_type(demo_events, "deployment") if d["repo"] == repo}
    assert deployed == {s.name for s in shared}


def test_teams_perform_at_different_levels(demo: SyntheticOrg, demo_events: list[Event]) -> None:
    # By the profiles, the elite team merges faster and deploys more often per service than the low one.
    levels = demo.team_levels
    assert {"elite", "low"} <= set(levels.values())
    team_of_service = {s.name: s.team for s in demo.services}
    team_of_repo = {r: s.team for s in demo.services for r in s.repositories}
    services_per_team = Counter(team_of_service.values())
    deploys: Counter[str] = Counter()
    for d in by_type(demo_events, "deployment"):
        if d["environment"] == "production" and d["status"] == "success":
            deploys[team_of_service[d["service"]]] += 1
    review_hours: dict[str, list[float]] = defaultdict(list)
    for p in by_type(demo_events, "pull_request"):
        if "merged_at" in p and not p["author"].endswith("[bot]"):
            hours = (parse_time(p["merged_at"]) - parse_time(p["created_at"])).total_seconds() / 3600
            review_hours[team_of_repo[p["repo"]]].append(hours)
    elite = next(t for t, level in levels.items() if level == "elite")
    low = next(t for t, level in levels.items() if level == "low")
    assert deploys[elite] / services_per_team[elite] > 3 * deploys[low] / services_per_team[low]
    assert statistics.median(review_hours[elite]) * 5 < statistics.median(review_hours[low])
    # Long tail: with a log-normal spread the 90th percentile is several times the median.
    everything = sorted(h for hours in review_hours.values() for h in hours)
    assert everything[int(len(everything) * 0.9)] > 2.5 * statistics.median(everything)


def test_write_jsonl_round_trips_every_event(tmp_path: Path) -> None:
    org = generate_org(S, seed=3, end=END)
    path = tmp_path / "events.jsonl"
    count = write_jsonl(org, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert count == len(lines)
    assert [json.loads(line) for line in lines] == list(org.events())


def test_services_config_lists_name_team_repositories_and_prefixes(demo: SyntheticOrg) -> None:
    config = services_config(demo)
    assert len(config) == 10
    assert all(set(entry) == {"name", "team", "repositories", "path_prefixes"} for entry in config)
    assert {entry["team"] for entry in config} == set(demo.teams)
    assert sum(bool(entry["path_prefixes"]) for entry in config) == 2
    json.dumps(config)


@pytest.mark.parametrize(
    ("size", "teams", "services", "days"),
    [(DEMO, 4, 10, 180), (S, 5, 20, 90), (M, 30, 200, 365), (L, 100, 1000, 730)],
)
def test_presets_have_the_documented_shape(size: OrgSize, teams: int, services: int, days: int) -> None:
    org = generate_org(size, seed=5, end=END)
    assert (len(org.teams), len(org.services), org.size.days) == (teams, services, days)
    assert len({s.name for s in org.services}) == services
    assert len(set(org.teams)) == teams
    assert set(org.team_levels.values()) >= {"elite", "low"}


def test_size_names_are_case_insensitive_and_unknown_ones_rejected() -> None:
    assert OrgSize.named("m") is M
    with pytest.raises(ValueError, match="unknown organisation size"):
        OrgSize.named("XL")


def test_a_naive_end_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_org(DEMO, seed=1, end=datetime(2021, 1, 1))

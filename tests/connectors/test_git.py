"""The local git source, against real throwaway repositories built with the git CLI.

Every repository is built in ``tmp_path`` with fixed author and committer dates, so every expected
time below is computed by hand from the date given to git (the offset subtracted to get UTC).
Expected shas are asked from git itself (``rev-parse``), never from the code under test.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pydantic
import pytest

from connectors.base import SourceContext
from connectors.errors import ErrorKind, SourceError
from connectors.git import GitSource, Settings, build_source
from connectors.records import Batch, Commit, CursorKey, Deployment, DeploymentStatus

RUN_STARTED = datetime(2024, 6, 1, tzinfo=UTC)


class DictServices:
    """A ServiceMapper over a fixed dict."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self.mapping = dict(mapping or {})

    def service_for_repo(self, repo: str) -> str | None:
        return self.mapping.get(repo)


def context(services: Mapping[str, str] | None = None) -> SourceContext:
    return SourceContext(run_started_at=RUN_STARTED, services=DictServices(services))


class Repo:
    """Drives the git CLI in one directory with fixed dates and an isolated configuration."""

    def __init__(self, path: Path, *, bare: bool = False) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))

    def git(self, *args: str, date: str = "2024-01-01T00:00:00+00:00") -> str:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.path),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "Ada Lovelace",
            "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada Lovelace",
            "GIT_COMMITTER_EMAIL": "ada@example.com",
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_DATE": date,
        }
        done = subprocess.run(["git", *args], cwd=self.path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def commit(self, message: str, date: str, files: Mapping[str, str] | None = None) -> str:
        for name, text in (files or {f"f-{message[:20]}.txt": message}).items():
            (self.path / name).parent.mkdir(parents=True, exist_ok=True)
            (self.path / name).write_text(text, encoding="utf-8")
            self.git("add", "--", name)
        self.git("commit", "-q", "-m", message, date=date)
        return self.sha("HEAD")

    def sha(self, rev: str) -> str:
        return self.git("rev-parse", f"{rev}^{{commit}}")


def sync(source: GitSource, cursors: dict[CursorKey, str]) -> list[object]:
    """Run one sync as the collector would: store each batch's cursors after its records."""
    records: list[object] = []
    for batch in source.batches(dict(cursors)):
        records.extend(batch.records)
        cursors.update(batch.cursors)
    return records


def make_source(path: Path, services: Mapping[str, str] | None = None, **settings: object) -> GitSource:
    model = Settings.model_validate({"name": "local", "kind": "git", "path": str(path), **settings})
    source = build_source(model, context(services))
    assert isinstance(source, GitSource)
    return source


def commits_of(records: list[object]) -> dict[str, Commit]:
    return {r.sha: r for r in records if isinstance(r, Commit)}


def deployments_of(records: list[object]) -> dict[str, Deployment]:
    return {r.external_id: r for r in records if isinstance(r, Deployment)}


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "shop.git-work")


def test_commit_fields_parents_paths_and_times_converted_to_utc(repo: Repo) -> None:
    first = repo.commit("first", "2024-01-02T10:00:00+05:30", {"a.txt": "a"})
    second = repo.commit("second", "2024-01-03T08:15:00-02:00", {"src/b.py": "b", "src/c.py": "c"})
    found = commits_of(sync(make_source(repo.path, repository="shop"), {}))

    assert set(found) == {first, second}
    one, two = found[first], found[second]
    # 10:00 at +05:30 is 04:30 UTC; 08:15 at -02:00 is 10:15 UTC.
    assert one.authored_at == datetime(2024, 1, 2, 4, 30, tzinfo=UTC)
    assert one.committed_at == datetime(2024, 1, 2, 4, 30, tzinfo=UTC)
    assert two.authored_at == datetime(2024, 1, 3, 10, 15, tzinfo=UTC)
    assert one.parents == ()
    assert two.parents == (first,)
    assert one.paths == ("a.txt",)
    assert set(two.paths or ()) == {"src/b.py", "src/c.py"}
    assert (one.author, one.author_email, one.message) == ("Ada Lovelace", "ada@example.com", "first")
    assert (one.repo, one.source) == ("shop", "local")


def test_author_and_committer_times_are_distinct(repo: Repo) -> None:
    repo.commit("base", "2024-01-01T00:00:00+00:00")
    (repo.path / "x").write_text("x")
    repo.git("add", "x")
    env_date = "2024-01-05T12:00:00+00:00"
    repo.git("commit", "-q", "-m", "authored earlier", f"--date={'2024-01-04T09:00:00+01:00'}", date=env_date)
    head = commits_of(sync(make_source(repo.path), {}))[repo.sha("HEAD")]
    assert head.authored_at == datetime(2024, 1, 4, 8, 0, tzinfo=UTC)  # 09:00+01:00
    assert head.committed_at == datetime(2024, 1, 5, 12, 0, tzinfo=UTC)


def test_message_with_newlines_and_unicode_and_odd_paths_survive(repo: Repo) -> None:
    message = "Fix café ☕ rendering\n\nSecond paragraph\nwith\ttab and 日本語"
    sha = repo.commit(message, "2024-01-02T00:00:00+00:00", {"dir/é b.txt": "1", "new\nline.txt": "2"})
    commit = commits_of(sync(make_source(repo.path), {}))[sha]
    assert commit.message == message
    assert set(commit.paths or ()) == {"dir/é b.txt", "new\nline.txt"}


def test_default_repository_name_is_directory_without_git_suffix(tmp_path: Path) -> None:
    bare = Repo(tmp_path / "payments.git", bare=True)
    settings = Settings.model_validate({"name": "p", "kind": "git", "path": str(bare.path)})
    assert settings.repository_name == "payments"


def test_bare_clone_is_read(repo: Repo, tmp_path: Path) -> None:
    sha = repo.commit("only", "2024-01-02T00:00:00+00:00")
    clone = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(clone)], check=True)
    found = commits_of(sync(make_source(clone), {}))
    assert set(found) == {sha}
    assert found[sha].repo == "mirror"


def test_non_bare_clone_reads_remote_tracking_branch(repo: Repo, tmp_path: Path) -> None:
    repo.commit("base", "2024-01-02T00:00:00+00:00")
    repo.git("checkout", "-q", "-b", "release")
    release = repo.commit("on release", "2024-01-03T00:00:00+00:00")
    repo.git("checkout", "-q", "main")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)
    found = commits_of(sync(make_source(clone, branches=["release"]), {}))
    assert release in found


def test_annotated_tag_uses_tagger_date_and_lightweight_tag_commit_time(repo: Repo) -> None:
    one = repo.commit("one", "2024-01-02T10:00:00+05:30")
    repo.git("tag", "v1.0.0")  # lightweight: the commit's time, 04:30 UTC
    two = repo.commit("two", "2024-01-03T00:00:00+00:00")
    repo.git("tag", "-a", "v1.1.0", "-m", "release", date="2024-01-04T18:00:00-05:00")  # 23:00 UTC
    repo.git("tag", "other-tag")
    source = make_source(repo.path, repository="shop", deployments=[{"tags": "v*"}])
    found = deployments_of(sync(source, {}))

    assert set(found) == {"tag:v1.0.0", "tag:v1.1.0"}
    light, annotated = found["tag:v1.0.0"], found["tag:v1.1.0"]
    assert (light.sha, light.finished_at) == (one, datetime(2024, 1, 2, 4, 30, tzinfo=UTC))
    assert (annotated.sha, annotated.finished_at) == (two, datetime(2024, 1, 4, 23, 0, tzinfo=UTC))
    assert annotated.status is DeploymentStatus.SUCCESS
    assert annotated.started_at is None
    assert (annotated.environment, annotated.repo, annotated.service) == ("production", "shop", "shop")


def test_tag_cursor_emits_nothing_until_the_tag_list_changes(repo: Repo) -> None:
    repo.commit("one", "2024-01-02T00:00:00+00:00")
    repo.git("tag", "v1")
    source = make_source(repo.path, deployments=[{"tags": "v*"}])
    cursors: dict[CursorKey, str] = {}
    assert set(deployments_of(sync(source, cursors))) == {"tag:v1"}
    assert sync(source, cursors) == []
    repo.commit("two", "2024-01-03T00:00:00+00:00")
    repo.git("tag", "v2")
    # The list changed: every matching tag is emitted again (upserts absorb v1) and the new one too.
    second = deployments_of(sync(source, cursors))
    assert set(second) == {"tag:v1", "tag:v2"}
    assert [r for r in second.values() if isinstance(r, Commit)] == []


def test_first_parent_merges_into_deploy_branch_are_deployments(repo: Repo) -> None:
    repo.commit("base", "2024-01-01T00:00:00+00:00")
    repo.git("branch", "deploy")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("feature work", "2024-01-02T00:00:00+00:00")
    repo.git("checkout", "-q", "main")
    repo.commit("main work", "2024-01-02T06:00:00+00:00")
    # A merge on main: reachable from deploy later, but not on deploy's first-parent line.
    repo.git("merge", "-q", "--no-ff", "feature", "-m", "merge feature", date="2024-01-03T00:00:00+00:00")
    inner_merge = repo.sha("HEAD")
    repo.git("checkout", "-q", "deploy")
    repo.git("merge", "-q", "--no-ff", "main", "-m", "release 1", date="2024-01-04T09:00:00+02:00")
    release_1 = repo.sha("HEAD")
    repo.commit("hotfix directly on deploy", "2024-01-05T00:00:00+00:00")
    repo.git("checkout", "-q", "main")
    repo.commit("more", "2024-01-06T00:00:00+00:00")
    repo.git("checkout", "-q", "deploy")
    repo.git("merge", "-q", "--no-ff", "main", "-m", "release 2", date="2024-01-07T00:00:00+00:00")
    release_2 = repo.sha("HEAD")
    repo.git("checkout", "-q", "main")

    source = make_source(repo.path, {"shop": "checkout"}, repository="shop", deployments=[{"merges_into": "deploy"}])
    cursors: dict[CursorKey, str] = {}
    records = sync(source, cursors)
    found = deployments_of(records)
    assert set(found) == {f"merge:{release_1}", f"merge:{release_2}"}
    assert f"merge:{inner_merge}" not in found
    assert found[f"merge:{release_1}"].finished_at == datetime(2024, 1, 4, 7, 0, tzinfo=UTC)  # 09:00+02:00
    assert found[f"merge:{release_1}"].service == "checkout"  # from the context's service mapping
    # The deploy branch is read for commits too, so the deployed merge commits are in the graph.
    assert {release_1, release_2} <= set(commits_of(records))
    assert commits_of(records)[release_1].paths is None  # git lists no paths for a merge
    assert len(commits_of(records)[release_1].parents) == 2

    repo.commit("even more", "2024-01-07T12:00:00+00:00")
    repo.git("checkout", "-q", "deploy")
    repo.git("merge", "-q", "--no-ff", "main", "-m", "release 3", date="2024-01-08T00:00:00+00:00")
    release_3 = repo.sha("HEAD")
    repo.commit("after", "2024-01-09T00:00:00+00:00")
    second = deployments_of(sync(source, cursors))
    assert set(second) == {f"merge:{release_3}"}


def test_explicit_service_and_environment_of_a_rule(repo: Repo) -> None:
    repo.commit("one", "2024-01-02T00:00:00+00:00")
    repo.git("tag", "rc-1")
    source = make_source(
        repo.path,
        {"shop": "mapped"},
        repository="shop",
        deployments=[{"tags": "rc-*", "service": "web", "environment": "staging"}],
    )
    (deployment,) = deployments_of(sync(source, {})).values()
    assert (deployment.service, deployment.environment) == ("web", "staging")


def test_second_sync_emits_nothing_then_only_the_new_commit(repo: Repo) -> None:
    repo.commit("one", "2024-01-02T00:00:00+00:00")
    repo.commit("two", "2024-01-03T00:00:00+00:00")
    source = make_source(repo.path)
    cursors: dict[CursorKey, str] = {}
    assert len(sync(source, cursors)) == 2
    assert cursors == {CursorKey("commits", "main"): repo.sha("main")}
    assert sync(source, cursors) == []
    three = repo.commit("three", "2024-01-04T00:00:00+00:00")
    assert list(commits_of(sync(source, cursors))) == [three]
    assert cursors[CursorKey("commits", "main")] == three


def test_force_push_falls_back_to_a_full_read(repo: Repo) -> None:
    one = repo.commit("one", "2024-01-02T00:00:00+00:00")
    repo.commit("two", "2024-01-03T00:00:00+00:00")
    source = make_source(repo.path)
    cursors: dict[CursorKey, str] = {}
    sync(source, cursors)
    repo.git("reset", "-q", "--hard", one)
    rewritten = repo.commit("two rewritten", "2024-01-03T01:00:00+00:00")
    # The old head is no longer an ancestor: everything reachable is read again.
    assert set(commits_of(sync(source, cursors))) == {one, rewritten}
    assert cursors[CursorKey("commits", "main")] == rewritten


def test_branch_moved_back_to_an_ancestor_emits_nothing_and_moves_the_cursor(repo: Repo) -> None:
    one = repo.commit("one", "2024-01-02T00:00:00+00:00")
    repo.commit("two", "2024-01-03T00:00:00+00:00")
    source = make_source(repo.path)
    cursors: dict[CursorKey, str] = {}
    sync(source, cursors)
    repo.git("reset", "-q", "--hard", one)
    assert sync(source, cursors) == []
    assert cursors[CursorKey("commits", "main")] == one


def test_batches_are_bounded_and_only_the_last_of_a_branch_carries_its_cursor(repo: Repo) -> None:
    for day in range(1, 6):
        repo.commit(f"c{day}", f"2024-01-0{day}T00:00:00+00:00")
    model = Settings.model_validate({"name": "local", "kind": "git", "path": str(repo.path)})
    batches: list[Batch] = list(GitSource(model, context(), batch_size=2).batches({}))
    # 5 commits in batches of at most 2: 2 + 2 + 1.
    assert [len(b.records) for b in batches] == [2, 2, 1]
    assert [b.cursors for b in batches[:2]] == [{}, {}]
    assert batches[-1].cursors == {CursorKey("commits", "main"): repo.sha("main")}


def test_commits_shared_by_two_branches_are_emitted_once(repo: Repo) -> None:
    base = repo.commit("base", "2024-01-02T00:00:00+00:00")
    repo.git("checkout", "-q", "-b", "develop")
    extra = repo.commit("develop only", "2024-01-03T00:00:00+00:00")
    repo.git("checkout", "-q", "main")
    records = sync(make_source(repo.path, branches=["main", "develop"]), {})
    assert sorted(r.sha for r in records if isinstance(r, Commit)) == sorted([base, extra])


def test_history_days_limits_the_first_read(repo: Repo) -> None:
    repo.commit("ancient", "2023-01-01T00:00:00+00:00")
    recent = repo.commit("recent", "2024-05-01T00:00:00+00:00")
    # The run starts 2024-06-01; 60 days back is 2024-04-02, so only the May commit is read.
    assert set(commits_of(sync(make_source(repo.path, history_days=60), {}))) == {recent}


def test_missing_path_is_a_fatal_error_naming_source_and_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(SourceError) as raised:
        sync(make_source(missing), {})
    assert raised.value.kind is ErrorKind.FATAL
    assert "'local'" in str(raised.value)
    assert str(missing) in str(raised.value)
    assert raised.value.hint


def test_plain_directory_is_not_a_repository_even_inside_one(repo: Repo, tmp_path: Path) -> None:
    repo.commit("one", "2024-01-02T00:00:00+00:00")
    for plain in (tmp_path / "plain", repo.path / "sub"):
        plain.mkdir()
        with pytest.raises(SourceError, match="is not a git repository") as raised:
            sync(make_source(plain), {})
        assert str(plain) in str(raised.value)
        assert raised.value.kind is ErrorKind.FATAL


def test_unknown_branch_is_a_fatal_error_naming_it(repo: Repo) -> None:
    repo.commit("one", "2024-01-02T00:00:00+00:00")
    with pytest.raises(SourceError, match="'nope' not found"):
        sync(make_source(repo.path, branches=["nope"]), {})


def test_empty_repository_yields_nothing(tmp_path: Path) -> None:
    empty = Repo(tmp_path / "empty")
    assert sync(make_source(empty.path), {}) == []


@pytest.mark.parametrize("rule", [{}, {"tags": "v*", "merges_into": "deploy"}])
def test_a_deployment_rule_needs_exactly_one_trigger(rule: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one"):
        Settings.model_validate({"name": "x", "kind": "git", "path": str(tmp_path), "deployments": [rule]})


def test_inherited_git_dir_does_not_redirect_the_source(
    repo: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = repo.commit("mine", "2024-01-02T00:00:00+00:00")
    other = Repo(tmp_path / "other")
    other.commit("theirs", "2024-01-02T00:00:00+00:00")
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))  # as inside a git hook
    assert set(commits_of(sync(make_source(repo.path), {}))) == {mine}

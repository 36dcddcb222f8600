"""The CLI verbs end to end: check-config, db upgrade, the schema guard, ingest, sync of a git source."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from collector.entrypoint import main

SHA = "c" * 40


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_every_verb_has_help() -> None:
    for verb in (["check-config"], ["db", "upgrade"], ["sync"], ["ingest"]):
        code, out, _ = run(*verb, "--help")
        assert code == 0 and "Usage:" in out


def test_check_config_names_each_broken_key(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("teams: [{name: a}]\nservices:\n  - {name: s, team: b, repos: [x]}\n")
    code, _, err = run("--config", str(config), "check-config")
    assert code == 1
    assert f"{config}:3: services[0].team: team 'b' is not declared" in err
    assert f"{config}:3: services[0].repos: unknown key" in err


def test_sync_refuses_an_unmigrated_database_and_says_how_to_fix_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, _, err = run("--database", url, "sync")
    assert code == 2
    assert "run `delivery-metrics db upgrade` first" in err
    code, out, _ = run("--database", url, "db", "upgrade")
    assert code == 0 and "schema upgraded from empty" in out
    code, out, _ = run("--database", url, "sync")
    assert code == 0 and "no sources configured" in out


def test_ingest_reports_bad_lines_and_reimport_is_a_no_op(store_url: str, tmp_path: Path) -> None:
    good = {"type": "commit", "repo": "r", "sha": SHA, "authored_at": "2026-01-01T00:00:00Z"}
    bad = {"type": "commit", "repo": "r", "sha": SHA, "authored_at": "2026-01-01T00:00:00"}
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    code, _, err = run("--database", store_url, "ingest", str(events))
    assert code == 1
    assert "events.jsonl: line 2: authored_at:" in err and "nothing stored" in err
    events.write_text(json.dumps(good) + "\n")
    code, out, _ = run("--database", store_url, "ingest", str(events))
    assert code == 0 and "stored 1 commits" in out
    code, out, _ = run("--database", store_url, "ingest", "-", input=json.dumps(good) + "\n")
    assert code == 0


def test_sync_runs_every_source_and_fails_after_the_others_ran(store_url: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "f.txt").write_text("x")
    env = {
        "GIT_AUTHOR_NAME": "a",
        "GIT_AUTHOR_EMAIL": "a@x",
        "GIT_COMMITTER_NAME": "a",
        "GIT_COMMITTER_EMAIL": "a@x",
        "PATH": "/usr/bin:/bin",
    }  # dated now: within history_days
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", "one"], check=True, env=env)
    config = tmp_path / "c.yaml"
    config.write_text(
        "sources:\n"
        f"  - {{name: broken, kind: git, path: {tmp_path / 'missing'}}}\n"
        f"  - {{name: good, kind: git, path: {repo}}}\n"
    )
    code, out, err = run("--config", str(config), "--database", store_url, "sync")
    assert code == 1
    assert "good: success" in out and "1 commits" in out
    assert "broken: failed" in err

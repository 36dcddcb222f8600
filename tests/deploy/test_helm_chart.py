"""The Helm chart of deploy/helm/delivery-metrics, checked without helm (not installable here).

- the templates: balanced actions, every ``.Values`` path they read exists in values.yaml, every
  top-level value is documented in the chart's README;
- the hand-rendered manifests (helm_rendered.yaml, from helm_values.yaml): Kubernetes schema
  validation (kubernetes-validate, strict) of the core kinds, and the cross references a cluster
  would need (selectors, port names, probes, the ServiceMonitor's job label);
- the PrometheusRule: its spec rebuilt as the template builds it (thresholds from values, then the
  chart's copies of the recording and alert rules) passes ``promtool check rules`` and the
  repository's promtool unit tests.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from deploy_paths import DEPLOY, PROMETHEUS_DIR, require_binary

from collector.config.loader import load_config_text

CHART = DEPLOY / "helm" / "delivery-metrics"
HERE = Path(__file__).resolve().parent
KUBERNETES_VERSION = "1.30"


def values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def rendered() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((HERE / "helm_rendered.yaml").read_text()) if doc]


def by_kind(kind: str) -> dict[str, Any]:
    (document,) = [doc for doc in rendered() if doc["kind"] == kind]
    return document


def test_chart_metadata_and_templates_are_well_formed():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "delivery-metrics"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    for template in (CHART / "templates").iterdir():
        text = template.read_text()
        assert text.count("{{") == text.count("}}"), template.name
        actions = re.findall(r"{{-?\s*(if|with|range|define|end)\b", text)
        opened = sum(1 for action in actions if action != "end")
        assert opened == actions.count("end"), template.name


def test_every_values_path_read_by_a_template_exists_in_values_yaml():
    defaults = values()
    paths = set()
    for template in (CHART / "templates").iterdir():
        paths |= set(re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", template.read_text()))
    assert len(paths) > 10
    for path in sorted(paths):
        node: Any = defaults
        for key in path.strip(".").split("."):
            assert isinstance(node, dict) and key in node, f".Values{path} is not in values.yaml"
            node = node[key]


def test_every_top_level_value_is_documented_in_the_chart_readme():
    readme = (CHART / "README.md").read_text()
    for key in values():
        assert f"`{key}" in readme, key


def test_the_chart_ships_the_same_rules_and_thresholds_as_deploy_prometheus():
    for name in ("recording.rules.yml", "alerts.rules.yml"):
        assert (CHART / "files" / name).read_text() == (PROMETHEUS_DIR / name).read_text(), name
    thresholds = yaml.safe_load((PROMETHEUS_DIR / "thresholds.rules.yml").read_text())
    plain = {
        rule["record"].split(":", 1)[1]: float(rule["expr"].removeprefix("vector(").removesuffix(")"))
        for rule in thresholds["groups"][0]["rules"]
    }
    assert {k: float(v) for k, v in values()["prometheusRule"]["thresholds"].items()} == plain


@pytest.mark.parametrize("kind", ["ConfigMap", "Service", "Deployment"])
def test_hand_rendered_core_manifests_pass_the_kubernetes_schema(kind: str):
    kubernetes_validate.validate(by_kind(kind), KUBERNETES_VERSION, strict=True)


def test_hand_rendered_manifests_reference_each_other_correctly():
    deployment, service, monitor = by_kind("Deployment"), by_kind("Service"), by_kind("ServiceMonitor")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port_names = {port["name"] for port in container["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in port_names
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    # the database URL comes from the Secret through $(VAR), defined in the same container
    env = {item["name"]: item for item in container["env"]}
    assert container["args"][:2] == ["--database", "$(DELIVERY_METRICS_DATABASE_URL)"]
    assert env["DELIVERY_METRICS_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "dm-postgres"
    # ServiceMonitor: selects the Service, scrapes its named port, and job = "delivery-metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert service["metadata"]["labels"][monitor["spec"]["jobLabel"]] == "delivery-metrics"
    mounts = {m["name"] for m in container["volumeMounts"]}
    assert mounts <= {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}


def test_hand_rendered_configmap_holds_a_valid_delivery_metrics_config():
    text = by_kind("ConfigMap")["data"]["config.yaml"]
    config = load_config_text(text, file="configmap", env={"GITHUB_TOKEN": "t"})
    assert [s.name for s in config.services] == ["checkout"]
    example = yaml.safe_load((HERE / "helm_values.yaml").read_text())["config"]
    assert yaml.safe_load(text) == example


def prometheus_rule_spec() -> dict[str, Any]:
    """The spec the prometheusrule.yaml template builds from the default values."""
    template = (CHART / "templates" / "prometheusrule.yaml").read_text()
    assert 'Files.Get "files/recording.rules.yml"' in template
    assert 'Files.Get "files/alerts.rules.yml"' in template
    assert "range $name, $value := .Values.prometheusRule.thresholds" in template
    thresholds = values()["prometheusRule"]["thresholds"]
    groups = [
        {
            "name": "delivery-metrics-thresholds",
            "rules": [
                {"record": f"dora_alert_threshold:{name}", "expr": f"vector({thresholds[name]})"}
                for name in sorted(thresholds)  # helm's range over a map is in key order
            ],
        }
    ]
    for name in ("recording.rules.yml", "alerts.rules.yml"):
        groups += yaml.safe_load((CHART / "files" / name).read_text())["groups"]
    return {"groups": groups}


def test_prometheus_rule_spec_passes_promtool_check_and_the_unit_tests(tmp_path: Path):
    promtool = require_binary("promtool")
    rules = tmp_path / "chart.rules.yml"
    rules.write_text(yaml.safe_dump(prometheus_rule_spec(), sort_keys=True))
    check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 31 rules found" in check.stdout
    for test_file in sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml")):
        spec = yaml.safe_load(test_file.read_text())
        spec["rule_files"] = [str(rules)]
        local = tmp_path / test_file.name
        local.write_text(yaml.safe_dump(spec, sort_keys=False))
        result = subprocess.run(
            [promtool, "test", "rules", str(local)], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout + result.stderr

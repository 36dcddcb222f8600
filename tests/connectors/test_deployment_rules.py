"""CI/CD deployment rules: glob matching, first match wins, environment and status resolution."""

from __future__ import annotations

from connectors.deployment_rules import DeploymentRule, RunFacts, also_success, match_rule
from connectors.records import DeploymentStatus

RULES = [
    DeploymentRule(name="deploy-*", branch="main", service="shop", environment="production"),
    DeploymentRule(ci_environment="prod*"),
    DeploymentRule(name="release", success=("stable",)),
]


def test_first_matching_rule_wins_and_names_the_environment() -> None:
    match = match_rule(RULES, RunFacts("deploy-eu", ci_environment="prod-eu", branch="main"))
    assert match is not None and match.rule.service == "shop" and match.environment == "production"


def test_ci_environment_becomes_the_environment_when_the_rule_names_none() -> None:
    match = match_rule(RULES, RunFacts("ship", ci_environment="prod-us", branch="feature/x"))
    assert match is not None and match.environment == "prod-us" and match.rule.service is None


def test_a_run_matching_no_rule_is_not_a_deployment() -> None:
    assert match_rule(RULES, RunFacts("build", ci_environment="staging", branch="main")) is None
    assert match_rule(RULES, RunFacts("deploy-eu", branch="develop")) is None  # branch pattern fails
    assert match_rule(RULES, RunFacts("deploy-eu", branch=None)) is None  # unknown branch never matches


def test_results_map_to_statuses() -> None:
    match = match_rule(RULES, RunFacts("deploy-x", branch="main"))
    assert match is not None
    assert match.status_for("SUCCESS", finished=True) is DeploymentStatus.SUCCESS
    assert match.status_for("FAILURE", finished=True) is DeploymentStatus.FAILURE
    assert match.status_for("ABORTED", finished=True) is DeploymentStatus.CANCELLED
    assert match.status_for(None, finished=True) is DeploymentStatus.IN_PROGRESS
    assert match.status_for("success", finished=False) is DeploymentStatus.IN_PROGRESS
    custom = match_rule(RULES, RunFacts("release"))
    assert custom is not None
    assert custom.status_for("stable", finished=True) is DeploymentStatus.SUCCESS
    assert custom.status_for("success", finished=True) is DeploymentStatus.FAILURE


def test_results_of_runs_that_never_ran_are_no_deployment() -> None:
    match = match_rule(RULES, RunFacts("deploy-x", branch="main"))
    assert match is not None
    for result in ("action_required", "stale", "NOT_RUN"):
        assert match.attempt_status(result, finished=True) is None
        assert match.attempt_status(result, finished=False) is DeploymentStatus.IN_PROGRESS
    assert match.attempt_status("failure", finished=True) is DeploymentStatus.FAILURE
    assert match.attempt_status(None, finished=True) is DeploymentStatus.IN_PROGRESS
    listed = match_rule([DeploymentRule(success=("success", "stale"))], RunFacts("x"))
    assert listed is not None and listed.attempt_status("stale", finished=True) is DeploymentStatus.SUCCESS


def test_a_source_setting_adds_success_results() -> None:
    match = match_rule(RULES, RunFacts("deploy-x", branch="main"))
    assert match is not None
    assert also_success("success", "Unstable") == ("unstable",) and also_success("failure", "unstable") == ()
    assert match.status_for("UNSTABLE", finished=True, also_success=("unstable",)) is DeploymentStatus.SUCCESS
    assert match.status_for("UNSTABLE", finished=True) is DeploymentStatus.FAILURE

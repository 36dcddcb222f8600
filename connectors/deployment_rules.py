"""Rules that turn CI/CD runs into deployments, shared by every CI/CD source.

A rule matches a run (or a job or stage of it) by glob patterns (``fnmatch``, case-sensitive) on
its name, its CI environment and its branch; every pattern given must match, and the first rule that
matches wins. A run that matches no rule is not a deployment (it is still stored as a pipeline run).

The matched rule says which service and environment the deployment is of: ``service`` (default: the
service owning the repository, see the config's services) and ``environment`` (default: the CI
environment's own name when the run has one, else ``production``). ``success`` lists the results,
lower-cased, that count as a successful deployment; any other finished result is a failed attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from pydantic import Field

from connectors.records import DeploymentStatus
from connectors.settings import SettingsModel

DEFAULT_SUCCESS_RESULTS: tuple[str, ...] = ("success", "successful", "succeeded", "passed", "fixed", "healthy")
DEFAULT_CANCELLED_RESULTS: tuple[str, ...] = ("cancelled", "canceled", "aborted", "stopped", "skipped")


class DeploymentRule(SettingsModel):
    """One rule: which runs are deployments, of which service, to which environment."""

    name: str | None = Field(default=None, description="Glob on the workflow / pipeline / job / stage name.")
    ci_environment: str | None = Field(default=None, description="Glob on the CI system's environment name.")
    branch: str | None = Field(default=None, description="Glob on the branch the run built.")
    service: str | None = Field(default=None, description="Service deployed; default: the repository's owner.")
    environment: str | None = Field(
        default=None, description="Environment deployed to; default: the CI environment's name, else production."
    )
    success: tuple[str, ...] = Field(default=DEFAULT_SUCCESS_RESULTS, description="Results counted as success.")


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What a CI/CD source knows about one run, job or stage, for rule matching."""

    name: str
    ci_environment: str | None = None
    branch: str | None = None


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """The outcome of matching: the rule and the resolved target environment."""

    rule: DeploymentRule
    environment: str

    def status_for(self, result: str | None, *, finished: bool) -> DeploymentStatus:
        """The deployment status of a run result (``None`` or unfinished: in progress)."""
        if not finished or result is None:
            return DeploymentStatus.IN_PROGRESS
        normalised = str(result).strip().lower()
        if normalised in self.rule.success:
            return DeploymentStatus.SUCCESS
        if normalised in DEFAULT_CANCELLED_RESULTS:
            return DeploymentStatus.CANCELLED
        if normalised in ("error", "errored"):
            return DeploymentStatus.ERROR
        return DeploymentStatus.FAILURE


def _matches(pattern: str | None, value: str | None) -> bool:
    if pattern is None:
        return True
    return value is not None and fnmatchcase(value, pattern)


def match_rule(rules: Sequence[DeploymentRule], facts: RunFacts) -> RuleMatch | None:
    """The first rule matching ``facts``, with its environment resolved; ``None`` if none matches."""
    for rule in rules:
        if (
            _matches(rule.name, facts.name)
            and _matches(rule.ci_environment, facts.ci_environment)
            and _matches(rule.branch, facts.branch)
        ):
            return RuleMatch(rule, rule.environment or facts.ci_environment or "production")
    return None

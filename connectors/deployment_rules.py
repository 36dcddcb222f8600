"""Rules that turn CI/CD runs into deployments, shared by every CI/CD source.

A rule matches a run (or a job or stage of it) by glob patterns (``fnmatch``, case-sensitive) on
its name, its CI environment and its branch; every pattern given must match, and the first rule that
matches wins. A run that matches no rule is not a deployment (it is still stored as a pipeline run).

The matched rule says which service and environment the deployment is of: ``service`` (default: the
service owning the repository, see the config's services) and ``environment`` (default: the CI
environment's own name when the run has one, else ``production``). ``success`` lists the results,
lower-cased, that count as a successful deployment; a source setting may add results to it (Jenkins
``unstable_is``, Azure DevOps ``succeeded_with_issues_is``). A finished result in
``NOT_ATTEMPTED_RESULTS`` (and not in ``success``) means the run never ran: it is no deployment at all,
neither a success nor a failed attempt (:meth:`RuleMatch.attempt_status`). Cancelled results are
cancelled, ``error`` is an error, any other finished result is a failed attempt.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import Field

from connectors.records import DeploymentStatus
from connectors.settings import SettingsModel

DEFAULT_SUCCESS_RESULTS: tuple[str, ...] = ("success", "successful", "succeeded", "passed", "fixed", "healthy")
DEFAULT_CANCELLED_RESULTS: tuple[str, ...] = ("cancelled", "canceled", "aborted", "stopped", "skipped")
#: Finished results of a run (job, step) that never ran, so deployed nothing and attempted nothing:
#: GitHub Actions ``action_required`` (waiting for an approval; no job started) and ``stale`` (GitHub
#: gave up on it before it completed); Bitbucket Pipelines ``NOT_RUN``.
NOT_ATTEMPTED_RESULTS: tuple[str, ...] = ("action_required", "stale", "not_run")

#: How a source setting counts a "completed, with warnings" result (Jenkins ``UNSTABLE``, Azure DevOps
#: ``succeededWithIssues``): as a successful deployment or as a failed attempt.
ResultIs = Literal["success", "failure"]


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

    def status_for(self, result: str | None, *, finished: bool, also_success: Collection[str] = ()) -> DeploymentStatus:
        """The deployment status of a run result (``None`` or unfinished: in progress); a result in the
        rule's ``success`` or in ``also_success`` (lower-cased, from a source setting) is a success."""
        if not finished or result is None:
            return DeploymentStatus.IN_PROGRESS
        normalised = str(result).strip().lower()
        if normalised in self.rule.success or normalised in also_success:
            return DeploymentStatus.SUCCESS
        if normalised in DEFAULT_CANCELLED_RESULTS:
            return DeploymentStatus.CANCELLED
        if normalised in ("error", "errored"):
            return DeploymentStatus.ERROR
        return DeploymentStatus.FAILURE

    def attempt_status(self, result: str | None, *, finished: bool) -> DeploymentStatus | None:
        """:meth:`status_for`, except ``None`` (no deployment) for a finished result in
        ``NOT_ATTEMPTED_RESULTS`` that the rule does not list in ``success``."""
        normalised = str(result).strip().lower()
        if finished and normalised in NOT_ATTEMPTED_RESULTS and normalised not in self.rule.success:
            return None
        return self.status_for(result, finished=finished)


def also_success(setting: ResultIs, *results: str) -> tuple[str, ...]:
    """``results`` (lower-cased) when a source ``setting`` counts them as success, else none."""
    return tuple(r.lower() for r in results) if setting == "success" else ()


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

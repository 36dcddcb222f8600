"""Pure mappings of Jenkins JSON API builds to domain records (no I/O).

Field mapping (Jenkins → record), documented in ``docs/sources/jenkins.md``:

- times: ``timestamp`` (epoch **milliseconds**) is the start; ``duration`` (milliseconds) is only
  meaningful once the build has finished, so ``finished_at = timestamp + duration`` then.
- finished: ``building`` is not true **and** ``result`` is not null. Jenkins may set ``result``
  while a pipeline still runs (``currentBuild.result = ...``), so ``building: true`` wins.
- status (pipeline run): ``in_progress`` while unfinished, else ``result`` lower-cased
  (``success``, ``unstable``, ``failure``, ``not_built``, ``aborted``, or whatever the server sent).
- sha and branch: the ``hudson.plugins.git.util.BuildData`` action's ``lastBuiltRevision.SHA1`` and
  ``branch[0].name`` (``refs/remotes/origin/main`` → ``main``). A pipeline may check out several
  repositories (one ``BuildData`` each, Pipeline shared libraries included, in no reliable order):
  which one was deployed is decided by :func:`build_revision`. In a multibranch pipeline the branch
  is the branch job's own name.
- repository: the job's configured ``repo``, else ``owner/name`` read from the chosen ``BuildData``
  remote URL (``https://host/owner/name.git``, ``git@host:owner/name.git``).
- deployment status (builds matching a rule): ``RuleMatch.status_for`` on the lower-cased result;
  ``NOT_BUILT`` counts as cancelled unless the rule lists it as a success. ``UNSTABLE`` means the build
  ran to its end and a step or publisher flagged it (typically failed tests): the deploy steps ran, so it
  is a successful deployment by default; ``unstable_is: failure`` (for jobs whose deploy step marks a
  failed rollout UNSTABLE) makes it a failed attempt, and a rule listing ``unstable`` in ``success``
  counts it as a success either way. Results Jenkins does not define (``SUCCESS``, ``UNSTABLE``,
  ``FAILURE``, ``NOT_BUILT``, ``ABORTED``) give no deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

from connectors.deployment_rules import ResultIs, RuleMatch, RunFacts, also_success, match_rule
from connectors.http.deployments import ServiceResolver
from connectors.jenkins_settings import Settings
from connectors.mapping_support import identifier, obj, objects, repo_of_git_url
from connectors.records import Deployment, DeploymentStatus, PipelineRun

JENKINS_RESULTS = frozenset({"success", "unstable", "failure", "not_built", "aborted"})
GIT_BUILD_DATA = "hudson.plugins.git.util.BuildData"

_BRANCH_PREFIXES = ("refs/remotes/origin/", "refs/heads/", "origin/", "refs/remotes/")


@dataclass(frozen=True, slots=True)
class JobPlan:
    """One buildable job: its full name (``folder/job``), URL, multibranch branch and overrides."""

    full_name: str
    url: str
    branch: str | None = None
    repo: str | None = None
    service: str | None = None

    @property
    def name(self) -> str:
        """The full name with multibranch ``%2F`` decoded: what rules match and runs are named."""
        return unquote(self.full_name)


@dataclass(frozen=True, slots=True)
class Revision:
    """What a build's git data says it built."""

    sha: str | None
    branch: str | None
    repo: str | None


def epoch_ms(value: object) -> datetime | None:
    """An epoch-milliseconds integer as an aware UTC datetime (``None`` for null or 0)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:  # a value no clock can hold
        raise ValueError(f"epoch milliseconds out of range: {value!r}") from error


def short_branch(name: str | None) -> str | None:
    """A git plugin branch name without its remote prefix (``refs/remotes/origin/x`` → ``x``)."""
    if not name:
        return None
    for prefix in _BRANCH_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def is_finished(build: Mapping[str, Any]) -> bool:
    """Whether the build is over (see the module docstring)."""
    return build.get("building") is not True and build.get("result") is not None


def checkout_repos(action: Mapping[str, Any]) -> set[str]:
    """The repositories (``owner/name``, lower-cased) a ``BuildData`` action's ``remoteUrls`` name."""
    return {r.lower() for u in action.get("remoteUrls") or () if isinstance(u, str) and (r := repo_of_git_url(u))}


def git_checkouts(build: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The build's git checkouts: its ``BuildData`` actions that carry a ``lastBuiltRevision``."""
    return [a for a in build.get("actions") or () if isinstance(a, Mapping) and a.get("lastBuiltRevision") is not None]


def build_revision(build: Mapping[str, Any], repo: str | None) -> Revision:
    """The sha, branch and repository the build deployed, from its git checkouts (``BuildData``).

    A Pipeline adds one ``BuildData`` per repository it checks out, its shared libraries included, and
    the order is not reliable (a library loaded before ``checkout scm`` comes first; a heavyweight
    Jenkinsfile checkout comes before the library): the first checkout is not the deployed one.

    - job with a configured ``repo``: the checkout whose remote URL names it (compared
      case-insensitively, as Git hosts do); when no checkout names it, no sha (another repository's
      sha is never reported as this one's), unless the build has one single checkout without a readable
      remote URL.
    - job without ``repo``: when every checkout is of one repository (or names none), the first one;
      when they name several repositories, which one was deployed is unknown: no sha and no repository
      (configure the job's ``repo`` to choose). The branch is kept when every checkout agrees on it.
    """
    candidates = git_checkouts(build)
    if not candidates:
        return Revision(None, None, repo)
    if repo is not None:
        wanted = repo.lower()
        named = [a for a in candidates if wanted in checkout_repos(a)]
        if named:
            return _revision_of(named[0], repo)
        if len(candidates) == 1 and not checkout_repos(candidates[0]):
            return _revision_of(candidates[0], repo)
        return Revision(None, _common_branch(candidates), repo)
    if len(set().union(*(checkout_repos(a) for a in candidates))) <= 1:
        return _revision_of(candidates[0], None)
    return Revision(None, _common_branch(candidates), None)


def _branch_of(action: Mapping[str, Any]) -> str | None:
    revision = obj(action.get("lastBuiltRevision"), "lastBuiltRevision")
    branches: Sequence[Mapping[str, Any]] = objects(revision.get("branch"), "lastBuiltRevision.branch")
    return short_branch(branches[0].get("name")) if branches else None


def _common_branch(candidates: Sequence[Mapping[str, Any]]) -> str | None:
    branches = {_branch_of(a) for a in candidates}
    return branches.pop() if len(branches) == 1 else None


def _revision_of(action: Mapping[str, Any], repo: str | None) -> Revision:
    revision = obj(action.get("lastBuiltRevision"), "lastBuiltRevision")
    remotes = [u for u in action.get("remoteUrls") or () if isinstance(u, str)]
    return Revision(
        sha=revision.get("SHA1"),
        branch=_branch_of(action),
        repo=repo or (repo_of_git_url(remotes[0]) if remotes else None),
    )


def build_id(job: JobPlan, build: Mapping[str, Any]) -> str:
    """``{job full name}#{number}``: unique within one Jenkins controller."""
    return f"{job.full_name}#{identifier(build, 'number')}"


def run_from_build(source: str, job: JobPlan, build: Mapping[str, Any], revision: Revision) -> PipelineRun:
    """A :class:`PipelineRun` of one build."""
    started = epoch_ms(build.get("timestamp"))
    if started is None:
        raise ValueError(f"build {build_id(job, build)} has no timestamp")
    finished = is_finished(build)
    duration_ms = build.get("duration") if finished else None
    duration = float(duration_ms) / 1000 if isinstance(duration_ms, int | float) else None
    try:
        finished_at = started + timedelta(seconds=duration) if duration is not None else None
    except (OverflowError, ValueError) as error:
        raise ValueError(f"build {build_id(job, build)}: duration out of range: {duration_ms!r}") from error
    return PipelineRun(
        source=source,
        external_id=build_id(job, build),
        repo=revision.repo,
        name=job.name,
        status=str(build["result"]).lower() if finished else "in_progress",
        created_at=started,
        started_at=started,
        finished_at=finished_at,
        branch=job.branch or revision.branch,
        sha=revision.sha,
        duration_seconds=duration,
    )


def deployment_status(
    match: RuleMatch, build: Mapping[str, Any], unstable_is: ResultIs = "success"
) -> DeploymentStatus | None:
    """The deployment status of a matched build; ``None`` for a result Jenkins does not define.
    ``UNSTABLE`` is a success unless ``unstable_is`` is ``failure`` (and the rule does not list it)."""
    if not is_finished(build):
        return DeploymentStatus.IN_PROGRESS
    result = str(build["result"]).strip().lower()
    if result not in JENKINS_RESULTS:
        return None
    if result == "not_built" and result not in match.rule.success:
        return DeploymentStatus.CANCELLED
    return match.status_for(result, finished=True, also_success=also_success(unstable_is, "unstable"))


def deployment_from_run(run: PipelineRun, status: DeploymentStatus, environment: str, service: str) -> Deployment:
    """The :class:`Deployment` a matched build stands for (same external id as its run)."""
    return Deployment(
        source=run.source,
        external_id=run.external_id,
        service=service,
        environment=environment,
        status=status,
        sha=run.sha,
        finished_at=run.finished_at,
        started_at=run.started_at,
        repo=run.repo,
    )


def build_records(
    settings: Settings,
    services: ServiceResolver,
    plan: JobPlan,
    build: Mapping[str, Any],
    on_unknown_result: Callable[[str], None],
) -> tuple[PipelineRun, Deployment | None]:
    """The pipeline run of one build of ``plan``'s job and, when a rule matches, its deployment (the one
    mapping of the sync and the rebuild). A matched build whose result Jenkins does not define gives no
    deployment and is reported to ``on_unknown_result``.

    Service of a deployment: the rule's ``service``, else the configured job's, else the service mapping
    of the run's repository (or, without one, of the job name).
    """
    run = run_from_build(settings.name, plan, build, build_revision(build, plan.repo))
    match = match_rule(settings.rules, RunFacts(name=plan.name, branch=run.branch))
    if match is None:
        return run, None
    status = deployment_status(match, build, settings.unstable_is)
    if status is None:
        on_unknown_result(str(build.get("result")))
        return run, None
    service = match.rule.service or plan.service or services.service(run.repo or plan.name)
    return run, deployment_from_run(run, status, match.environment, service)

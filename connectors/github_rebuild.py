"""Rebuilding the GitHub source's records from its stored raw payloads (see ``connectors.rebuild_support``).

Raw kinds read: ``github.repository`` (default branch), ``github.commit``, ``github.pull_request`` with
``github.pull_request_commits`` (its commit items, oldest first) and ``github.pull_request_reviews``,
``github.deployment`` with ``github.deployment_statuses``, ``github.release`` with
``github.release_commit``, and ``github.tag``. Every one goes through the mapping functions of
:mod:`connectors.github_mapping` that the sync calls; each repository's deployment method is the one
its current settings name (payloads of another method map to nothing).

Not rebuildable: ``deployment_commits: compare`` (a deployment's commits come from compare calls
against the previous deployment of the run, which are not stored). A payload synced before its
companion payload was stored (a pull request without its commit list, a release without its commit),
or reviews not read while ``fetch_reviews`` is now on, make the rebuild fail (nothing is changed)
with a message asking for a re-sync.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import SourceContext
from connectors.github_mapping import (
    branch_merge_deployment,
    commit_from_api,
    deployment_from_api,
    pull_request_records,
    release_deployment,
    release_is_deployment,
    sha_of_commit,
    tag_deployment,
    tag_is_deployment,
)
from connectors.github_settings import GitHubDeploymentSettings, Settings
from connectors.http.deployments import ServiceResolver, repository_services
from connectors.rebuild_support import by_external_id, of_kind, partition_of, stored_companion
from connectors.records import RawPayload, Record


def rebuild_blocker(settings: Settings) -> str | None:
    """Why these settings cannot be rebuilt, or ``None``."""
    if settings.deployment_commits == "compare":
        return "with deployment_commits: compare, a deployment's commits come from compare calls that are not stored"
    return None


class _Repositories:
    """Per repository: the deployment settings and default branch the sync would use."""

    def __init__(self, settings: Settings, payloads: Sequence[RawPayload]) -> None:
        self._settings = settings
        self._explicit = {r.name: r for r in settings.repositories}
        self._stored = by_external_id(payloads, "github.repository")

    def deployments(self, repo: str) -> GitHubDeploymentSettings:
        """The deployment settings of ``repo``."""
        configured = self._explicit.get(repo)
        return (configured.deployments if configured else None) or self._settings.deployments

    def deployment_branch(self, repo: str) -> str:
        """The branch whose merges are deployments: the configured one, else the default branch."""
        configured = self._explicit.get(repo)
        branch = self.deployments(repo).branch or (configured.branch if configured else None)
        if branch:
            return branch
        body = stored_companion(self._stored, repo, "the repository object (its default branch)").body
        return str(body.get("default_branch") or "main")


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The commits, pull requests and deployments a sync would write for the stored payloads."""
    name = settings.name
    overrides = repository_services(settings.repositories)
    services = ServiceResolver(name, context.services, overrides)
    repos = _Repositories(settings, payloads)
    records: list[Record] = [
        commit_from_api(name, partition_of(p.external_id, "@"), p.body) for p in of_kind(payloads, "github.commit")
    ]
    commits = by_external_id(payloads, "github.commit")
    lists = by_external_id(payloads, "github.pull_request_commits")
    reviews = by_external_id(payloads, "github.pull_request_reviews")
    for payload in of_kind(payloads, "github.pull_request"):
        repo = partition_of(payload.external_id, "#")
        listed = stored_companion(lists, payload.external_id, "the commit list of the pull request").body
        read = stored_companion(reviews, payload.external_id, "the reviews").body if settings.fetch_reviews else None
        _, pull = pull_request_records(name, repo, payload.body, listed, read)
        records.append(pull)
        deploy = repos.deployments(repo)
        if deploy.method == "branch":
            branch = repos.deployment_branch(repo)
            merge = branch_merge_deployment(name, repo, services.service, branch, deploy.environment, pull)
            if merge is not None:
                records.append(merge)
    statuses = by_external_id(payloads, "github.deployment_statuses")
    for payload in of_kind(payloads, "github.deployment"):
        repo = partition_of(payload.external_id, "/deployments/")
        deploy = repos.deployments(repo)
        if deploy.method != "deployments":
            continue
        if deploy.environments and payload.body.get("environment") not in deploy.environments:
            continue
        listed = stored_companion(statuses, payload.external_id, "the statuses of the deployment").body
        records.append(deployment_from_api(name, repo, services.service(repo), payload.body, listed))
    release_commits = by_external_id(payloads, "github.release_commit")
    for payload in of_kind(payloads, "github.release"):
        repo = partition_of(payload.external_id, "/releases/")
        deploy = repos.deployments(repo)
        if deploy.method != "releases" or not release_is_deployment(payload.body, deploy.include_prereleases):
            continue
        commit = stored_companion(release_commits, payload.external_id, "the commit of the release").body
        service = services.service(repo)
        records.append(release_deployment(name, repo, service, deploy.environment, payload.body, sha_of_commit(commit)))
    for payload in of_kind(payloads, "github.tag"):
        repo = "/".join(payload.external_id.split("/", 2)[:2])  # owner/name: a tag name may hold "/"
        deploy = repos.deployments(repo)
        tag = str(payload.body["name"])
        if deploy.method != "tags" or not tag_is_deployment(tag, deploy.tag_pattern):
            continue
        sha = str(payload.body["commit"]["sha"])
        commit = commit_from_api(name, repo, stored_companion(commits, f"{repo}@{sha}", "the commit of the tag").body)
        service = services.service(repo)
        records.append(tag_deployment(name, repo, service, deploy.environment, tag, sha, commit.committed_at))
    return records

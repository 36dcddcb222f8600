"""Rebuilding the Bitbucket Cloud source's records from its stored raw payloads (see
``connectors.rebuild_support``).

Raw kinds read: ``bitbucket.commit``, ``bitbucket.pullrequest`` with ``bitbucket.pullrequest_commits``
(its commit items, oldest first), ``bitbucket.pullrequest_activity`` and ``bitbucket.merge_commit``
(the lookup of a short merge hash), ``bitbucket.pipeline`` with ``bitbucket.pipeline_steps``, and
``bitbucket.deployment`` with ``bitbucket.environments`` (a repository's environment listing). Every
one goes through the mapping functions of :mod:`connectors.bitbucket_mapping` that the sync calls;
pipelines and environment deployments map only while their settings are on, as in a sync.

A payload synced before its companion payload was stored, activity not read while ``fetch_activity``
is now on, or steps not read while ``match_steps`` is now on, make the rebuild fail (nothing is
changed) with a message asking for a re-sync.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import SourceContext
from connectors.bitbucket_mapping import (
    commit_from_api,
    environment_deployment_from_api,
    environment_names,
    merge_hash_to_resolve,
    pipeline_deployments,
    pipeline_run_from_api,
    pull_request_records,
    resolved_merge_sha,
)
from connectors.bitbucket_settings import Settings
from connectors.http.deployments import ServiceResolver, repository_services
from connectors.rebuild_support import by_external_id, of_kind, partition_of, stored_companion
from connectors.records import RawPayload, Record


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The commits, pull requests, pipeline runs and deployments a sync would write for the stored payloads."""
    name = settings.name
    overrides = repository_services(settings.repositories)
    services = ServiceResolver(name, context.services, overrides)
    records: list[Record] = [
        commit_from_api(name, partition_of(p.external_id, "@"), p.body) for p in of_kind(payloads, "bitbucket.commit")
    ]
    lists = by_external_id(payloads, "bitbucket.pullrequest_commits")
    activities = by_external_id(payloads, "bitbucket.pullrequest_activity")
    merges = by_external_id(payloads, "bitbucket.merge_commit")
    for payload in of_kind(payloads, "bitbucket.pullrequest"):
        repo, key = partition_of(payload.external_id, "#"), payload.external_id
        listed = stored_companion(lists, key, "its commit list").body
        activity = stored_companion(activities, key, "its activity").body if settings.fetch_activity else None
        short = merge_hash_to_resolve(payload.body, settings.resolve_merge_sha)
        merge_sha = resolved_merge_sha(stored_companion(merges, key, "its merge commit").body, short) if short else None
        records.append(pull_request_records(name, repo, payload.body, listed, activity, merge_sha)[1])
    if settings.pipelines:
        steps = by_external_id(payloads, "bitbucket.pipeline_steps")
        for payload in of_kind(payloads, "bitbucket.pipeline"):
            repo = partition_of(payload.external_id, "/pipelines/")
            records.append(pipeline_run_from_api(name, repo, payload.body))
            if not settings.deployment_rules:
                continue
            listed_steps = (
                stored_companion(steps, payload.external_id, "its steps").body if settings.match_steps else None
            )
            rules = settings.deployment_rules
            records += pipeline_deployments(name, repo, payload.body, rules, services.service, listed_steps)
    if settings.environment_deployments:
        environments = by_external_id(payloads, "bitbucket.environments")
        for payload in of_kind(payloads, "bitbucket.deployment"):
            repo = partition_of(payload.external_id, "/deployments/")
            listed = stored_companion(environments, repo, "the environment listing of the repository").body
            environment = environment_names(listed).get(str((payload.body.get("environment") or {}).get("uuid")))
            if environment is None:
                continue
            deployment = environment_deployment_from_api(name, repo, services.service(repo), environment, payload.body)
            if deployment is not None:
                records.append(deployment)
    return records

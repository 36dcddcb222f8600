"""Rebuilding the Jenkins source's records from its stored raw payloads (see ``connectors.rebuild_support``).

Raw kinds read: ``jenkins.job`` (job and folder descriptions, keyed by path) and ``jenkins.build``
(keyed ``{job full name}#{number}``). The rebuild walks each configured job with
:func:`connectors.jenkins_jobs.walk_jobs` over the *stored* tree and maps each stored build of every
buildable job reached with :func:`connectors.jenkins_mapping.build_records`, as the sync does.

The stored tree: a path's description is its stored ``jenkins.job`` payload; a job with stored builds
but no stored description (deleted before a sync stored its description) is a buildable job of that
name. A folder's children are those its description lists plus every stored path directly below it,
so the builds of a branch or job deleted from Jenkins since are still rebuilt.

Builds of jobs no walk reaches (a job removed from ``jobs``, a ``max_depth`` lowered, a folder deleted
before any sync stored its description) are not rebuilt: their rows are removed, and a warning counts
them. A configured folder with stored builds below it but no stored description (synced by a release
that did not store descriptions) makes the rebuild fail, changing nothing: re-sync the source once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import SourceContext
from connectors.http.deployments import ServiceResolver
from connectors.jenkins_jobs import JOB_KIND, listed_children, walk_jobs
from connectors.jenkins_mapping import build_records
from connectors.jenkins_settings import Settings
from connectors.rebuild_support import of_kind, partition_of
from connectors.records import RawPayload, Record

logger = logging.getLogger(__name__)


class StoredJobTree:
    """The job tree as the stored payloads describe it (see the module docstring)."""

    def __init__(self, payloads: Sequence[RawPayload]) -> None:
        self.builds: dict[str, list[Mapping[str, Any]]] = {}
        for payload in of_kind(payloads, "jenkins.build"):
            self.builds.setdefault(partition_of(payload.external_id, "#"), []).append(payload.body)
        self._descriptions: dict[str, Mapping[str, Any]] = {p.external_id: p.body for p in of_kind(payloads, JOB_KIND)}
        for full_name in self.builds:
            self._descriptions.setdefault(full_name, {"fullName": full_name})
        self._below: dict[str, list[str]] = {}
        for path in self._descriptions:
            parent, _, name = path.rpartition("/")
            if parent:
                self._below.setdefault(parent, []).append(name)

    def describe(self, segments: Sequence[str]) -> Mapping[str, Any] | None:
        """The stored description of the path, ``None`` when nothing is stored for it."""
        return self._descriptions.get("/".join(segments))

    def children(self, segments: Sequence[str], description: Mapping[str, Any]) -> list[str]:
        """The children the description lists, then the other stored paths directly below."""
        listed = listed_children(description)
        return listed + [name for name in self._below.get("/".join(segments), ()) if name not in listed]

    def builds_below(self, path: str) -> int:
        """How many stored builds belong to jobs strictly below ``path``."""
        return sum(len(builds) for name, builds in self.builds.items() if name.startswith(f"{path}/"))


def records_from_payloads(settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]) -> list[Record]:
    """The pipeline runs and deployments a sync would write for the stored builds (see the module docstring)."""
    tree = StoredJobTree(payloads)
    services = ServiceResolver(settings.name, context.services, {})
    records: list[Record] = []
    reached: set[str] = set()
    for job in settings.jobs:
        if tree.describe(job.path.split("/")) is None and tree.builds_below(job.path):
            raise ValueError(f"job {job.path}: its builds were synced before its description was stored; re-sync")
        for plan in walk_jobs(settings, job, tree):
            reached.add(plan.full_name)
            for build in tree.builds.get(plan.full_name, ()):
                run, deployment = build_records(settings, services, plan, build, _unknown_result)
                records += [run] if deployment is None else [run, deployment]
    unreached = {name: len(builds) for name, builds in tree.builds.items() if name not in reached}
    if unreached:
        logger.warning(
            "%s: %d stored build(s) of %d job(s) no configured job reaches (e.g. %s) are not rebuilt",
            settings.name,
            sum(unreached.values()),
            len(unreached),
            min(unreached),
        )
    return records


def _unknown_result(result: str) -> None:
    """A build result Jenkins does not define: the sync warned about it already."""
    logger.debug("build result %r is not a Jenkins result; no deployment", result)

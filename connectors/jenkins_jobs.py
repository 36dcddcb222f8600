"""The Jenkins job tree: which buildable jobs a configured job, folder or multibranch pipeline stands for.

Definitions:

- a job's *description* is its JSON API object ``{job url}/api/json?tree=JOB_TREE``
  (``_class``, ``fullName``, and ``jobs`` for a folder). A description with a ``jobs`` list is a
  *folder* (folder, organization folder or multibranch pipeline); one without is a *buildable job*.
- a job's *path* is its configured full name followed by the names of the children walked to it, as
  they appear in its URL (a multibranch branch keeps its ``%2F``); it is the ``external_id`` of the
  description's ``jenkins.job`` raw payload.
- the *walk* of a configured job visits its description and, below a folder, each child's, depth
  first, up to ``max_depth`` folder levels; it yields a :class:`JobPlan` per buildable job. A child
  of a multibranch pipeline is a branch: its branch is its name decoded (``feature%2Fx`` →
  ``feature/x``); below any other folder a child keeps the branch of its parent (none at the top).

The walk is one function for the sync and the rebuild: a :class:`JobTree` says what a path's
description and children are, read over the API by the sync, from stored payloads by the rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote, unquote

from connectors.jenkins_mapping import JobPlan
from connectors.jenkins_settings import JenkinsJob, Settings

logger = logging.getLogger(__name__)

#: Fields read of a job's description.
JOB_TREE = "_class,fullName,jobs[name,_class]"
MULTIBRANCH_MARKER = "MultiBranchProject"
JOB_KIND = "jenkins.job"


class JobTree(Protocol):
    """Where the walk reads descriptions and children from."""

    def describe(self, segments: Sequence[str]) -> Mapping[str, Any] | None:
        """The description of the job at ``segments``; ``None`` when it is not known (nothing to walk)."""
        ...

    def children(self, segments: Sequence[str], description: Mapping[str, Any]) -> list[str]:
        """The names of the children of the folder at ``segments`` to walk, in order."""
        ...


def job_url(base_url: str, segments: Sequence[str]) -> str:
    """``{base_url}/job/{a}/job/{b}`` for the path ``a/b``, each segment percent-encoded."""
    return base_url + "".join(f"/job/{quote(s, safe='')}" for s in segments)


def listed_children(description: Mapping[str, Any]) -> list[str]:
    """The child names a folder's description lists."""
    return [str(child["name"]) for child in description.get("jobs") or ()]


def walk_jobs(settings: Settings, job: JenkinsJob, tree: JobTree) -> Iterator[JobPlan]:
    """The buildable jobs of one configured job, in walk order (see the module docstring)."""
    yield from _walk(settings, job, tree, job.path.split("/"), 0, None)


def _walk(
    settings: Settings, job: JenkinsJob, tree: JobTree, segments: list[str], depth: int, branch: str | None
) -> Iterator[JobPlan]:
    description = tree.describe(segments)
    if description is None:
        return
    path = "/".join(segments)
    if description.get("jobs") is None:
        full_name = str(description.get("fullName") or path)
        yield JobPlan(full_name, job_url(settings.base_url, segments), branch, job.repo, job.service)
        return
    if depth >= settings.max_depth:
        logger.warning("%s: folder %s is deeper than max_depth=%d; skipped", settings.name, path, depth)
        return
    multibranch = MULTIBRANCH_MARKER in str(description.get("_class", ""))
    for name in tree.children(segments, description):
        yield from _walk(settings, job, tree, [*segments, name], depth + 1, unquote(name) if multibranch else branch)

"""Jenkins source (``kind: jenkins``): builds of jobs, folders and multibranch pipelines.

API: the JSON API, ``{job url}/api/json?tree=...``, HTTP Basic auth with a user name and that
user's API token. A job's URL is ``/job/{a}/job/{b}`` for the full name ``a/b`` (each segment
percent-encoded; multibranch branch jobs are named with ``%2F`` for ``/``, which is encoded again).

Quirks handled:

- the plain ``builds`` list stops at 100 builds; ``allBuilds`` with a range slice ``{M,N}``
  (``M`` inclusive, ``N`` exclusive) pages through all of them, newest first
  (:class:`RangeSlicePaginator`); a page shorter than the range is the last one.
- a configured job may be a folder, an organization folder or a multibranch pipeline: it is walked
  (``tree=_class,fullName,jobs[name]``) down to ``max_depth`` levels; the children of a multibranch
  pipeline are its branches.
- times are epoch milliseconds; no rate-limit headers (a 429/503 from a proxy is retried,
  ``Retry-After`` honoured).

Raw payloads: ``jenkins.job``, the description of every job and folder walked (keyed by its path),
and ``jenkins.build``, each build read (keyed like its run, ``{job full name}#{number}``). The stored
descriptions let ``delivery-metrics rebuild`` walk the jobs again (:mod:`connectors.jenkins_rebuild`).

Incremental: one cursor per buildable job, ``builds/{full name}``, holding the newest build start
time stored. Builds are read newest first down to ``watermark - lookback``; the watermark is stored
once the job's listing is complete. A running build (``building: true`` or ``result: null``)
started within ``pending_recheck`` holds the watermark at its start, so the next run re-reads it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.base import SourceContext
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver
from connectors.http.incremental import listing_start, new_watermark
from connectors.http.listings import Listing
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import RepeatedPageError
from connectors.http.ratelimit import HeaderRateLimitReader
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.jenkins_jobs import JOB_KIND, JOB_TREE, job_url, listed_children, walk_jobs
from connectors.jenkins_mapping import JobPlan, build_records, checkout_repos, epoch_ms, git_checkouts, is_finished
from connectors.jenkins_rebuild import records_from_payloads
from connectors.jenkins_settings import Settings
from connectors.records import Batch, CursorKey, RawPayload, Record

__all__ = [
    "BUILD_FIELDS",
    "JOB_TREE",
    "JenkinsSource",
    "RangeSlicePaginator",
    "Settings",
    "build_source",
    "records_from_payloads",
]

logger = logging.getLogger(__name__)

#: Fields read of each build (``_class`` always comes back).
BUILD_FIELDS = "number,url,building,result,timestamp,duration,actions[lastBuiltRevision[SHA1,branch[name]],remoteUrls]"


class RangeSlicePaginator:
    """Jenkins ``tree=list[fields]{M,N}`` range slices: ``{0,n}``, ``{n,2n}``, … until a short page."""

    def __init__(self, url: str, key: str, fields: str, page_size: int) -> None:
        self._url = url
        self._key = key
        self._fields = fields
        self._size = page_size
        self._offset = 0
        self._seen: set[int] = set()

    def _request(self, offset: int) -> PageRequest:
        if offset in self._seen:
            raise RepeatedPageError(f"range {{{offset},{offset + self._size}}} of {self._url!r} requested twice")
        self._seen.add(offset)
        self._offset = offset
        return PageRequest(self._url, {"tree": f"{self._key}[{self._fields}]{{{offset},{offset + self._size}}}"})

    def first(self) -> PageRequest:
        """The range ``{0, page_size}``."""
        self._seen = set()
        return self._request(0)

    def next_request(self, page: Page) -> PageRequest | None:
        """The next range, or ``None`` after a page shorter than the range."""
        if len(page.items(self._key)) < self._size:
            return None
        return self._request(self._offset + self._size)


class JenkinsSource:
    """Yields a pipeline run per build, and a deployment per build matching a rule."""

    def __init__(
        self,
        settings: Settings,
        context: SourceContext,
        *,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.context = context
        credentials = f"{settings.username}:{settings.token.get_secret_value()}".encode()
        self.client: HttpClient = client_for(
            settings,
            headers={"Authorization": f"Basic {base64.b64encode(credentials).decode()}"},
            rate_limits=HeaderRateLimitReader(),
            sleep=sleep,
            clock=clock,
        )
        self._services = ServiceResolver(settings.name, context.services, {})
        self._warned: set[str] = set()

    @property
    def stats(self) -> RequestStats:
        """Request statistics of this source (see :mod:`connectors.http.stats`)."""
        return self.client.stats

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Per buildable job (configured order, folders depth first): the descriptions walked to it, then
        its builds, newest first."""
        tree = FetchedJobTree(self.client, self.settings.base_url)
        for job in self.settings.jobs:
            for plan in walk_jobs(self.settings, job, tree):
                yield Batch(records=tuple(tree.take()))
                yield from self._builds(plan, cursors)
            if described := tree.take():  # folders below max_depth, empty folders
                yield Batch(records=tuple(described))

    # --- builds -------------------------------------------------------------------------------

    def _builds(self, plan: JobPlan, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        cursor = CursorKey("builds", plan.full_name)
        run_started_at = self.context.run_started_at
        listing = Listing(
            listing_start(
                cursors.get(cursor),
                run_started_at=run_started_at,
                lookback=self.settings.lookback,
                history_days=self.settings.history_days,
            )
        )
        pin_after = run_started_at - self.settings.pending_recheck
        paginator = RangeSlicePaginator(f"{plan.url}/api/json", "allBuilds", BUILD_FIELDS, self.settings.per_page)
        for page in self.client.pages(paginator, resource=f"job/{plan.full_name}/builds"):
            items = page.items("allBuilds")
            fresh = [b for b in items if (t := epoch_ms(b.get("timestamp"))) is None or t >= listing.start]
            records: list[Record] = []
            for build in fresh:
                started = epoch_ms(build.get("timestamp"))
                listing.see(started)
                if started is not None and not is_finished(build) and started >= pin_after:
                    listing.pin(started)
                records += self._records(plan, build, page.url)
            if records:
                yield Batch(records=tuple(records))
            if len(fresh) < len(items):
                break
        if listing.pinned:
            watermark = new_watermark(None, min(listing.pinned), run_started_at)
        else:
            watermark = new_watermark(cursors.get(cursor), listing.newest, run_started_at)
        if watermark:
            yield Batch(cursors={cursor: watermark})

    def _records(self, plan: JobPlan, build: Mapping[str, Any], url: str) -> list[Record]:
        run, deployment = build_records(self.settings, self._services, plan, build, self._warn_result)
        if deployment is not None and deployment.sha is None:
            self._warn_ambiguous_checkouts(plan, build)
        records: list[Record] = [run, raw_payload(self.client, "jenkins.build", run.external_id, build, url)]
        return records if deployment is None else [*records, deployment]

    def _warn_ambiguous_checkouts(self, plan: JobPlan, build: Mapping[str, Any]) -> None:
        checkouts = git_checkouts(build)
        if len(checkouts) < 2 or f"checkouts:{plan.full_name}" in self._warned:
            return
        self._warned.add(f"checkouts:{plan.full_name}")
        repos = sorted(set().union(*(checkout_repos(a) for a in checkouts)))
        logger.warning(
            "%s: builds of %s check out several repositories (%s) and none is the job's repo; their "
            "deployments get no sha: set the job's `repo` to the deployed one",
            self.name,
            plan.name,
            ", ".join(repos),
        )

    def _warn_result(self, result: str) -> None:
        if result not in self._warned:
            self._warned.add(result)
            logger.warning("%s: build result %r is not a Jenkins result; no deployment recorded", self.name, result)


class FetchedJobTree:
    """The job tree read over the API; each description read is kept as a ``jenkins.job`` raw payload
    until :meth:`take` hands it over."""

    def __init__(self, client: HttpClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url
        self._read: list[RawPayload] = []

    def describe(self, segments: Sequence[str]) -> Mapping[str, Any]:
        """The description read from ``{job url}/api/json?tree=JOB_TREE``."""
        path = "/".join(segments)
        request = PageRequest(f"{job_url(self._base_url, segments)}/api/json", {"tree": JOB_TREE})
        page = self._client.get(request, resource=f"job/{path}")
        body: Mapping[str, Any] = page.body or {}
        self._read.append(raw_payload(self._client, JOB_KIND, path, body, page.url))
        return body

    def children(self, segments: Sequence[str], description: Mapping[str, Any]) -> list[str]:
        """The children the folder's description lists."""
        return listed_children(description)

    def take(self) -> list[RawPayload]:
        """The raw payloads of the descriptions read since the last call."""
        taken, self._read = self._read, []
        return taken


def build_source(settings: Settings, context: SourceContext) -> JenkinsSource:
    """The Jenkins source for ``settings`` in this run."""
    return JenkinsSource(settings, context)

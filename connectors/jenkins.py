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

Incremental: one cursor per buildable job, ``builds/{full name}``, holding the newest build start
time stored. Builds are read newest first down to ``watermark - lookback``; the watermark is stored
once the job's listing is complete. A running build (``building: true`` or ``result: null``)
started within ``pending_recheck`` holds the watermark at its start, so the next run re-reads it.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote, unquote

from connectors.base import SourceContext
from connectors.deployment_rules import RunFacts, match_rule
from connectors.http.client import HttpClient
from connectors.http.deployments import ServiceResolver
from connectors.http.incremental import listing_start, new_watermark
from connectors.http.listings import Listing
from connectors.http.page import Page, PageRequest
from connectors.http.pagination import RepeatedPageError
from connectors.http.ratelimit import HeaderRateLimitReader
from connectors.http.source_support import client_for, raw_payload
from connectors.http.stats import RequestStats
from connectors.jenkins_mapping import (
    JobPlan,
    build_revision,
    deployment_from_run,
    deployment_status,
    epoch_ms,
    is_finished,
    run_from_build,
)
from connectors.jenkins_settings import JenkinsJob, Settings
from connectors.records import Batch, CursorKey, Record

__all__ = ["JenkinsSource", "RangeSlicePaginator", "Settings", "build_source"]

#: Why ``delivery-metrics rebuild`` cannot re-derive this source (see ``connectors.rebuild_support``).
REBUILD_UNSUPPORTED = (
    "a stored build does not say which configured job, folder or multibranch branch it was read under "
    "(the job walk is not stored)"
)

logger = logging.getLogger(__name__)

#: Fields read of each build (``_class`` always comes back).
BUILD_FIELDS = "number,url,building,result,timestamp,duration,actions[lastBuiltRevision[SHA1,branch[name]],remoteUrls]"
JOB_TREE = "_class,fullName,jobs[name,_class]"
MULTIBRANCH_MARKER = "MultiBranchProject"


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
        """Per buildable job (configured order, folders depth first): its builds, newest first."""
        for job in self.settings.jobs:
            for plan in self._walk(job, job.path.split("/"), 0, None):
                yield from self._builds(plan, cursors)

    # --- jobs ---------------------------------------------------------------------------------

    def _job_url(self, segments: list[str]) -> str:
        return self.settings.base_url + "".join(f"/job/{quote(s, safe='')}" for s in segments)

    def _walk(self, job: JenkinsJob, segments: list[str], depth: int, branch: str | None) -> Iterator[JobPlan]:
        url = self._job_url(segments)
        path = "/".join(segments)
        body = self.client.get(PageRequest(f"{url}/api/json", {"tree": JOB_TREE}), resource=f"job/{path}").body
        children = body.get("jobs")
        if children is None:
            yield JobPlan(str(body.get("fullName") or path), url, branch, job.repo, job.service)
            return
        if depth >= self.settings.max_depth:
            logger.warning("%s: folder %s is deeper than max_depth=%d; skipped", self.name, path, depth)
            return
        multibranch = MULTIBRANCH_MARKER in str(body.get("_class", ""))
        for child in children:
            name = str(child["name"])
            yield from self._walk(job, [*segments, name], depth + 1, unquote(name) if multibranch else branch)

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
        revision = build_revision(build, plan.repo)
        run = run_from_build(self.name, plan, build, revision)
        records: list[Record] = [run, raw_payload(self.client, "jenkins.build", run.external_id, build, url)]
        match = match_rule(self.settings.rules, RunFacts(name=plan.name, branch=run.branch))
        if match is None:
            return records
        status = deployment_status(match, build)
        if status is None:
            self._warn_result(str(build.get("result")))
            return records
        service = match.rule.service or plan.service or self._services.service(run.repo or plan.name)
        records.append(deployment_from_run(run, status, match.environment, service))
        return records

    def _warn_result(self, result: str) -> None:
        if result not in self._warned:
            self._warned.add(result)
            logger.warning("%s: build result %r is not a Jenkins result; no deployment recorded", self.name, result)


def build_source(settings: Settings, context: SourceContext) -> JenkinsSource:
    """The Jenkins source for ``settings`` in this run."""
    return JenkinsSource(settings, context)

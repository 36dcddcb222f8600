"""The life of one synthetic repository: changes, main history, deployments and failures.

A discrete-event simulation in time order (a heap of events) of one repository and the one or two
services deployed from it:

- a pull request's feature commits branch off the main head of the moment its first commit is
  written; it lands at ``merged_at`` as a two-parent merge commit or as a squash commit, so the
  main history is linear in its first parents;
- each service deploys the main head in weekday bursts (quiet weekends) at its team's cadence,
  to ``staging`` first and then to ``production``; some production attempts fail and are retried;
- a successful production deployment may cause a failure (the team's change failure rate): an
  incident, then a rollback (a re-deployment of the previous sha), a revert pull request, a
  hotfix pull request, or a fix-forward; the incident resolves when the remedy is deployed.

Events that would happen after ``end`` are cut: open pull requests stay open, incidents whose
remedy comes later stay unresolved. Output follows the canonical event schema; see
:mod:`collector.synthetic`.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Iterator
from typing import Any

from collector.synthetic import names
from collector.synthetic.model import (
    BOTS,
    BRANCH,
    CREATE,
    DAY,
    DEPLOY,
    HOUR,
    LAND,
    Change,
    Event,
    Landing,
    Person,
    ServiceState,
)
from collector.synthetic.profiles import LOG_SIGMA, Profile
from collector.synthetic.releases import ReleaseProcess
from collector.synthetic.timestamps import IsoFormatter, day_start, sha_for, weekday


class RepositoryHistory:
    """Simulates one repository from ``start`` to ``end`` (epoch seconds) and yields its events."""

    def __init__(
        self,
        *,
        repo: str,
        services: list[tuple[str, str]],
        profile: Profile,
        members: tuple[Person, ...],
        start: int,
        end: int,
        seed: int,
        fmt: IsoFormatter,
    ) -> None:
        self.repo = repo
        self.rng = random.Random(f"{seed}:{repo}")
        self.profile = profile
        self.members = members
        self.start, self.end = start, end
        self.fmt = fmt
        self.services = [ServiceState(name, prefix) for name, prefix in services]
        self.path_pools = [self._path_pool(prefix) for _, prefix in services]
        self.commits: list[Event] = []
        self.deployments: list[Event] = []
        self.incidents: list[Event] = []
        self.changes: list[Change] = []
        self.landings: list[Landing] = []
        self.heap: list[tuple[int, int, int, Any]] = []
        self.seq = 0
        self.sha_counter = 0
        self.next_number = 1 + self.rng.randrange(1, 400)
        self.releases = ReleaseProcess(self)

    # --- small helpers -------------------------------------------------------------------------
    def lognormal_seconds(self, median_hours: float) -> int:
        """A log-normal delay with the given median (hours), in whole seconds (at least 60)."""
        return max(60, int(self.rng.lognormvariate(math.log(median_hours * HOUR), LOG_SIGMA)))

    def push(self, at: int, kind: int, payload: Any) -> None:
        """Schedule an event; ``seq`` keeps simultaneous events in a stable order."""
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, payload))

    def new_sha(self) -> str:
        self.sha_counter += 1
        return sha_for(self.repo, self.sha_counter)

    def _path_pool(self, prefix: str) -> list[str]:
        pool = [f"{prefix}src/{m}/{f}.py" for m in names.MODULES for f in names.FILES]
        pool += [f"{prefix}tests/test_{f}.py" for f in names.FILES]
        return pool

    def poisson(self, mean: float) -> int:
        """A Poisson draw (Knuth's method; means here are small)."""
        limit, count, product = math.exp(-mean), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def add_commit(
        self, *, at: int, person: Person, email: str, parents: list[str], message: str, paths: list[str]
    ) -> str:
        sha = self.new_sha()
        if at <= self.end:
            stamp = self.fmt(at, person.offset)
            self.commits.append(
                {
                    "type": "commit",
                    "repo": self.repo,
                    "sha": sha,
                    "authored_at": stamp,
                    "committed_at": stamp,
                    "author": person.handle,
                    "author_email": email,
                    "parents": parents,
                    "message": message,
                    "paths": paths,
                }
            )
        return sha

    # --- set-up --------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        """Run the simulation, then yield commits, pull requests, deployments and incidents."""
        self._initial_commit()
        self._plan_changes()
        self.releases.plan_deployments()
        self.releases.plan_unrelated_incidents()
        while self.heap:
            at, _, kind, payload = heapq.heappop(self.heap)
            if at > self.end:
                break
            self._dispatch(at, kind, payload)
        yield from self.commits
        yield from (self._pull_request(c) for c in self.changes if c.number and c.created <= self.end)
        yield from self.deployments
        yield from self.incidents

    def _initial_commit(self) -> None:
        at = self.start - 30 * DAY
        person = self.members[0]
        pool = [p for pool in self.path_pools for p in pool[:5]]
        sha = self.add_commit(
            at=at,
            person=person,
            email=f"{person.handle}@example.com",
            parents=[],
            message="Initial commit",
            paths=pool,
        )
        self.landings.append(Landing(sha, [sha], None))
        for index in range(len(self.services)):
            self.releases.deploy_sha(index, 0, at + 2 * HOUR, rollback=False)

    def _plan_changes(self) -> None:
        p, rng = self.profile, self.rng
        bot_share, abandon_share = 0.08, 0.05
        for day in range(day_start(self.start), self.end, DAY):
            working = weekday(day) < 5
            for _ in range(self.poisson(p.prs_per_day * (1.3 if working else 0.25) * len(self.services))):
                created = day + 8 * HOUR + rng.randrange(10 * HOUR)
                service = rng.randrange(len(self.services))
                if rng.random() < bot_share:
                    self.changes.append(self._bot_change(created, service))
                    continue
                merge_at: int | None = created + self.lognormal_seconds(p.review_hours)
                close_at = None
                if rng.random() < abandon_share:  # abandoned: most closed, some left open (stale)
                    close_at = created + self.lognormal_seconds(p.review_hours * 3) if rng.random() < 0.6 else None
                    merge_at = None
                author = rng.choice(self.members)
                title = names.change_title(rng)
                label = rng.choice(names.LABELS)
                end_point = merge_at or close_at or created
                self.changes.append(
                    Change(
                        author=author,
                        email=f"{author.handle}@example.com",
                        title=title,
                        labels=[label],
                        head_branch=f"{author.handle.split('-')[0]}/{names.slug(title)}",
                        created=created,
                        first_commit=created - self.lognormal_seconds(p.coding_hours),
                        merge_at=merge_at,
                        close_at=close_at,
                        review_at=created + max(30, int((end_point - created) * rng.uniform(0.1, 0.7))),
                        service=service,
                        squash=rng.random() < p.squash_share,
                    )
                )
        for change in self.changes:
            self.schedule_change(change)

    def _bot_change(self, created: int, service: int) -> Change:
        rng = self.rng
        bot, email = rng.choice(BOTS)
        package = rng.choice(names.PACKAGES)
        old = f"{rng.randrange(1, 9)}.{rng.randrange(0, 30)}.{rng.randrange(0, 10)}"
        new = old.rsplit(".", 1)[0] + f".{int(old.rsplit('.', 1)[1]) + 1}"
        merged = rng.random() < 0.8
        delay = self.lognormal_seconds(20.0)
        prefix = "dependabot/pip" if bot.startswith("dependabot") else "renovate"
        return Change(
            author=Person(bot, 0),
            email=email,
            title=f"Bump {package} from {old} to {new}",
            labels=["dependencies"],
            head_branch=f"{prefix}/{package}-{new}",
            created=created,
            first_commit=created - 60,
            merge_at=created + delay if merged else None,
            close_at=None if merged else created + delay,
            review_at=created + delay // 2 if rng.random() < 0.5 else None,
            service=service,
            squash=True,
        )

    def schedule_change(self, change: Change) -> None:
        """Queue the events of a change: first commit (branch), opening, landing."""
        self.push(change.first_commit, BRANCH, change)
        self.push(change.created, CREATE, change)
        if change.merge_at is not None:
            self.push(change.merge_at, LAND, change)

    # --- simulation ----------------------------------------------------------------------------
    def _dispatch(self, at: int, kind: int, payload: Any) -> None:
        if kind == CREATE:
            payload.number = self.next_number
            self.next_number += 1
        elif kind == BRANCH:
            self._branch(payload)
        elif kind == LAND:
            self._land(payload)
        elif kind == DEPLOY:
            index, urgent = payload
            self.releases.deploy_head(index, at, urgent=urgent)
        else:
            self.releases.rollback(at, payload)

    def _branch(self, change: Change) -> None:
        rng = self.rng
        count = 1 if change.author.handle.endswith("[bot]") or change.reverts else 1 + int(rng.expovariate(1 / 4))
        last = (change.merge_at or change.close_at or change.created + DAY) - 120
        times = sorted(change.first_commit + int((last - change.first_commit) * rng.random()) for _ in range(count))
        times[0] = change.first_commit
        pool = self.path_pools[change.service]
        parent = self.landings[-1].sha
        for position, at in enumerate(times):
            paths = (
                [f"{self.services[change.service].prefix}requirements.txt"]
                if change.labels == ["dependencies"]
                else [rng.choice(pool) for _ in range(rng.randint(1, 3))]
            )
            if change.reverts:
                message = f'Revert "{change.title[8:-1]}"\n\nThis reverts commit {change.reverts}.'
            else:
                message = change.title if position == 0 else f"{rng.choice(names.VERBS)} {rng.choice(names.TOPICS)}"
            parent = self.add_commit(
                at=at,
                person=change.author,
                email=change.email,
                parents=[parent],
                message=message,
                paths=sorted(set(paths)),
            )
            if at <= self.end:
                change.commits.append(parent)
                change.paths.extend(paths)

    def _land(self, change: Change) -> None:
        assert change.merge_at is not None
        head = self.landings[-1].sha
        paths = sorted(set(change.paths))
        if change.squash:
            message = f"{change.title} (#{change.number})"
            if change.reverts:
                message += f"\n\nThis reverts commit {change.reverts}."
            sha = self.add_commit(
                at=change.merge_at,
                person=change.author,
                email=change.email,
                parents=[head],
                message=message,
                paths=paths,
            )
            shipped = [sha]
        else:
            merger = self.rng.choice(self.members)
            message = f"Merge pull request #{change.number} from example/{change.head_branch}\n\n{change.title}"
            sha = self.add_commit(
                at=change.merge_at,
                person=merger,
                email=f"{merger.handle}@example.com",
                parents=[head, change.commits[-1]],
                message=message,
                paths=paths,
            )
            shipped = [sha, *change.commits]
        change.merge_sha = sha
        self.landings.append(Landing(sha, shipped, change))
        if change.urgent:
            awaiting = self.services[change.service].awaiting
            awaiting.extend((len(self.landings) - 1, incident) for incident in change.resolves)
            self.push(change.merge_at + 300 + self.rng.randrange(900), DEPLOY, (change.service, True))

    def _pull_request(self, change: Change) -> Event:
        fmt, end = self.fmt, self.end
        event: Event = {
            "type": "pull_request",
            "repo": self.repo,
            "number": change.number,
            "created_at": fmt(change.created),
            "author": change.author.handle,
            "title": change.title,
            "labels": change.labels,
            "head_branch": change.head_branch,
            "base_branch": "main",
            "commits": change.commits,
            "first_commit_at": fmt(change.first_commit, change.author.offset),
        }
        if change.review_at is not None and change.review_at <= end:
            event["first_review_at"] = fmt(change.review_at)
        if change.merge_sha is not None and change.merge_at is not None:
            event["merged_at"] = event["closed_at"] = fmt(change.merge_at)
            event["merge_sha"] = change.merge_sha
        elif change.close_at is not None and change.close_at <= end:
            event["closed_at"] = fmt(change.close_at)
        return event

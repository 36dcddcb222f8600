"""Deployments, failures, incidents and remedies of a synthetic repository's services.

Definitions used by the generator (the metrics engine must rediscover them from the events):

- a production deployment ships the main head of the moment; a staging deployment of the same sha
  precedes it; a failed attempt (``failure`` or ``error``) is usually retried a little later;
- a *change failure* is a successful production deployment followed by an incident (linked to it
  by ``deployment_id``, by the culprit ``sha``, or only by time), a rollback (a re-deployment of the
  previously deployed sha, flagged ``is_rollback`` in most but not all cases), a revert pull request
  or a hotfix pull request;
- an incident is resolved shortly after its remedy reaches production (rollback, revert, hotfix)
  or after a log-normal restore time (fix forward); remedies after ``end`` leave it unresolved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from collector.synthetic import names
from collector.synthetic.model import DAY, DEPLOY, HOUR, ROLLBACK, Change, Event, ShuffleBag

if TYPE_CHECKING:
    from collector.synthetic.history import RepositoryHistory

SYMPTOMS = (
    "Elevated 5xx rate",
    "Latency above SLO",
    "Error budget burn",
    "Queue backlog growing",
    "Failed payments spike",
    "Login failures",
    "Memory leak after deploy",
    "Crash loop",
)
SEVERITIES = ("critical", "high", "high", "medium", "medium", "medium", "low")
UNRELATED_INCIDENTS_PER_DAY = 0.004


class ReleaseProcess:
    """The deployment side of one :class:`RepositoryHistory` (shares its state and random stream)."""

    def __init__(self, history: RepositoryHistory) -> None:
        self.h = history
        rng = history.rng
        self.incident_offset = rng.choice((0, 0, 0, 60))  # the tracker's time zone
        # Shares of outcomes: remedies of a change failure, causes an incident names, …
        remedies = ["rollback"] * 7 + ["revert"] * 5 + ["hotfix"] * 6 + ["forward"] * 2
        self.remedies = ShuffleBag(rng, remedies, first=["rollback", "hotfix", "revert"])
        causes = ["deployment_id"] * 7 + ["sha"] * 5 + ["time"] * 8
        self.causes = ShuffleBag(rng, causes, first=["deployment_id", "sha", "time"])
        self.rollback_flags = ShuffleBag(rng, [True, True, True, False, False], first=[True, False])
        self.attempt_statuses = ShuffleBag(rng, ["failure", "failure", "error"])

    # --- planning ------------------------------------------------------------------------------
    def plan_deployments(self) -> None:
        """Weekday bursts of production deployments at the team's cadence; weekends are quiet."""
        h, p, rng = self.h, self.h.profile, self.h.rng
        first_day = h.start - h.start % DAY
        for index in range(len(h.services)):
            for day in range(first_day, h.end, DAY):
                chance = p.deploy_day_chance if (day // DAY + 3) % 7 < 5 else p.deploy_day_chance * 0.05
                if rng.random() >= chance:
                    continue
                at = day + 9 * HOUR + rng.randrange(7 * HOUR)
                for _ in range(rng.randint(1, p.burst_max)):
                    h.push(at, DEPLOY, (index, False))
                    at += 20 * 60 + rng.randrange(90 * 60)

    def plan_unrelated_incidents(self) -> None:
        """Incidents no deployment caused (infrastructure, third parties); a few never resolved."""
        h, rng = self.h, self.h.rng
        for index in range(len(h.services)):
            for _ in range(h.poisson((h.end - h.start) / DAY * UNRELATED_INCIDENTS_PER_DAY)):
                created = h.start + rng.randrange(h.end - h.start)
                incident = self._incident(index, created)
                if rng.random() > 0.1:
                    self._resolve(incident, created + h.lognormal_seconds(h.profile.restore_hours))
            if h.profile.level == "low":  # a slow team always has one incident still open at the end
                self._incident(index, h.end - 60 - rng.randrange(72 * HOUR))

    # --- deployments ---------------------------------------------------------------------------
    def _attempt(self, index: int, sha: str, at: int, environment: str, status: str) -> Event:
        h = self.h
        service = h.services[index]
        service.counter += 1
        event: Event = {
            "type": "deployment",
            "id": f"{service.name}-deploy-{service.counter}",
            "service": service.name,
            "environment": environment,
            "status": status,
            "sha": sha,
            "started_at": h.fmt(at - 120 - h.rng.randrange(900)),
            "finished_at": h.fmt(at),
            "repo": h.repo,
            "is_rollback": False,
        }
        h.deployments.append(event)
        return event

    def deploy_sha(self, index: int, landing: int, at: int, *, rollback: bool, explicit: bool = False) -> Event:
        """A successful production deployment of ``landings[landing]``; resolves what it fixes."""
        h = self.h
        service = h.services[index]
        event = self._attempt(index, h.landings[landing].sha, at, "production", "success")
        event["is_rollback"] = rollback
        if explicit and landing > service.deployed >= 0:
            event["commits"] = [sha for item in h.landings[service.deployed + 1 : landing + 1] for sha in item.shipped]
        service.deployed = landing
        still_waiting = []
        for fix_landing, incident in service.awaiting:
            if fix_landing <= landing:
                self._resolve(incident, at + 300 + h.rng.randrange(1500))
            else:
                still_waiting.append((fix_landing, incident))
        service.awaiting = still_waiting
        return event

    def deploy_head(self, index: int, at: int, *, urgent: bool) -> None:
        """Ship the main head to staging then production, unless production already runs it."""
        h, p, rng = self.h, self.h.profile, self.h.rng
        head = len(h.landings) - 1
        if head == h.services[index].deployed:
            return
        sha = h.landings[head].sha
        if rng.random() < p.staging_share:
            self._attempt(index, sha, at, "staging", "success")
        prod = at + (300 + rng.randrange(600) if urgent else 600 + rng.randrange(1800))
        if prod > h.end:
            return
        draw = rng.random()
        if draw < 0.01:
            self._attempt(index, sha, prod, "production", "cancelled")
            return
        if draw < 0.01 + p.attempt_failure:
            self._attempt(index, sha, prod, "production", self.attempt_statuses.draw())
            if rng.random() > 0.85:
                return  # given up; the next planned deployment ships it
            prod += 900 + rng.randrange(2700)
            if prod > h.end:
                return
        previous = h.services[index].deployed
        event = self.deploy_sha(index, head, prod, rollback=False, explicit=rng.random() < 0.12)
        if rng.random() < p.change_failure:
            self._fail(index, event, prod, head, previous)

    def rollback(self, at: int, payload: tuple[int, int, Event | None]) -> None:
        """Re-deploy the sha production ran before the failed deployment."""
        index, landing, incident = payload
        self.deploy_sha(index, landing, at, rollback=self.rollback_flags.draw())
        if incident is not None:
            self._resolve(incident, at + 300 + self.h.rng.randrange(1200))

    # --- failures ------------------------------------------------------------------------------
    def _fail(self, index: int, deployment: Event, at: int, head: int, previous: int) -> None:
        h, p, rng = self.h, self.h.profile, self.h.rng
        culprit = h.landings[head]
        detected = at + h.lognormal_seconds(0.4)
        incident = None
        if rng.random() < 0.85:
            incident = self._incident(index, detected)
            cause = self.causes.draw()
            if cause == "deployment_id":
                incident["deployment_id"] = deployment["id"]
            elif cause == "sha":
                incident["sha"] = culprit.sha
        remedy_at = detected + h.lognormal_seconds(p.restore_hours * 0.4)
        remedy = self.remedies.draw()
        if remedy == "rollback" and previous >= 0:
            h.push(remedy_at, ROLLBACK, (index, previous, incident))
            if rng.random() < 0.5 and culprit.change is not None:
                self._revert(index, culprit.sha, culprit.change, remedy_at + HOUR, None)
        elif remedy == "revert" and culprit.change is not None:
            self._revert(index, culprit.sha, culprit.change, remedy_at, incident)
        elif remedy in ("hotfix", "revert", "rollback"):
            self._hotfix(index, remedy_at, incident, detected)
        elif incident is not None:
            self._resolve(incident, detected + h.lognormal_seconds(p.restore_hours))

    def _revert(self, index: int, sha: str, original: Change, created: int, incident: Event | None) -> None:
        h, rng = self.h, self.h.rng
        author = rng.choice(h.members)
        merge_at = created + h.lognormal_seconds(0.5)
        change = Change(
            author=author,
            email=f"{author.handle}@example.com",
            title=f'Revert "{original.title}"',
            labels=["revert"],
            head_branch=f"revert-{original.number}-{names.slug(original.title)}",
            created=created,
            first_commit=created - 120,
            merge_at=merge_at,
            close_at=None,
            review_at=created + (merge_at - created) // 2,
            service=index,
            squash=rng.random() < 0.5,
            reverts=sha,
            urgent=True,
            resolves=[incident] if incident is not None else [],
        )
        h.changes.append(change)
        h.schedule_change(change)

    def _hotfix(self, index: int, created: int, incident: Event | None, not_before: int) -> None:
        h, rng = self.h, self.h.rng
        author = rng.choice(h.members)
        topic = rng.choice(names.TOPICS)
        merge_at = created + h.lognormal_seconds(1.0)
        change = Change(
            author=author,
            email=f"{author.handle}@example.com",
            title=f"Hotfix: {topic}",
            labels=["hotfix", "bug"],
            head_branch=f"hotfix/{names.slug(topic)}",
            created=created,
            first_commit=max(not_before, created - h.lognormal_seconds(0.3)),
            merge_at=merge_at,
            close_at=None,
            review_at=created + (merge_at - created) // 3 if rng.random() < 0.7 else None,
            service=index,
            squash=rng.random() < 0.6,
            urgent=True,
            resolves=[incident] if incident is not None else [],
        )
        h.changes.append(change)
        h.schedule_change(change)

    # --- incidents -----------------------------------------------------------------------------
    def _incident(self, index: int, created: int) -> Event:
        h, rng = self.h, self.h.rng
        service = h.services[index]
        service.incidents += 1
        incident: Event = {
            "type": "incident",
            "id": f"{service.name}-inc-{service.incidents}",
            "service": service.name,
            "created_at": h.fmt(created, self.incident_offset),
            "severity": rng.choice(SEVERITIES),
            "title": f"{rng.choice(SYMPTOMS)} on {service.name}",
        }
        acknowledged = created + h.lognormal_seconds(0.15)
        if created <= h.end:
            h.incidents.append(incident)
        if acknowledged <= h.end:
            incident["acknowledged_at"] = h.fmt(acknowledged, self.incident_offset)
        return incident

    def _resolve(self, incident: Event, at: int) -> None:
        if at <= self.h.end and "resolved_at" not in incident:
            incident["resolved_at"] = self.h.fmt(at, self.incident_offset)

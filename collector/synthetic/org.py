"""The synthetic organisation: teams, their people and performance levels, services, repositories.

Everything is drawn from ``random.Random(seed)`` (the organisation) and ``random.Random(f"{seed}:{repo}")``
(each repository's history), and times are counted back from the given ``end``: the generator never
reads the clock, so ``(size, seed, end)`` determines every event.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from collector.synthetic import names
from collector.synthetic.history import RepositoryHistory
from collector.synthetic.model import DAY, Event, Person
from collector.synthetic.profiles import PROFILES, Level, OrgSize
from collector.synthetic.timestamps import IsoFormatter, epoch_seconds

MONOREPO_SUFFIX = "-monorepo"


@dataclass(frozen=True, slots=True)
class SyntheticService:
    """A service of the synthetic organisation, shaped like a service entry of the config."""

    name: str
    team: str
    repositories: tuple[str, ...]
    path_prefixes: tuple[str, ...] = ()
    production_environments: tuple[str, ...] = ("production",)


@dataclass(frozen=True, slots=True)
class SyntheticOrg:
    """A generated organisation; :meth:`events` streams its canonical events (same every call)."""

    size: OrgSize
    seed: int
    end: datetime
    teams: tuple[str, ...]
    services: tuple[SyntheticService, ...]
    team_levels: Mapping[str, Level]
    members: Mapping[str, tuple[Person, ...]]

    @property
    def repositories(self) -> tuple[str, ...]:
        """Every repository, in generation order."""
        return tuple(dict.fromkeys(repo for service in self.services for repo in service.repositories))

    def events(self) -> Iterator[Event]:
        """Stream every event, one repository at a time: its commits, pull requests, deployments
        and incidents. Only one repository's history is held in memory at once."""
        end = epoch_seconds(self.end)
        start = end - self.size.days * DAY
        fmt = IsoFormatter()
        for repo in self.repositories:
            hosted = [s for s in self.services if repo in s.repositories]
            team = hosted[0].team
            history = RepositoryHistory(
                repo=repo,
                services=[(s.name, s.path_prefixes[0] if s.path_prefixes else "") for s in hosted],
                profile=PROFILES[self.team_levels[team]],
                members=self.members[team],
                start=start,
                end=end,
                seed=self.seed,
                fmt=fmt,
            )
            yield from history.events()


def _levels(rng: random.Random, teams: list[str]) -> dict[str, Level]:
    """The first team is elite, the second low, the rest mostly high or medium."""
    fixed: list[Level] = ["elite", "low", "high", "medium"]
    levels: dict[str, Level] = {}
    for position, team in enumerate(teams):
        if position < len(fixed):
            levels[team] = fixed[position]
        else:
            levels[team] = rng.choices(("elite", "high", "medium", "low"), weights=(1, 4, 4, 1))[0]
    return levels


def generate_org(size: OrgSize | str, seed: int, end: datetime) -> SyntheticOrg:
    """Build the organisation of preset ``size`` for ``seed``, with history up to ``end`` (aware)."""
    size = OrgSize.named(size) if isinstance(size, str) else size
    epoch_seconds(end)  # rejects a naive end early
    rng = random.Random(seed)
    teams = names.team_names(rng, size.teams)
    service_names = names.service_names(rng, size.services)
    owners = [teams[i] if i < len(teams) else rng.choice(teams) for i in range(len(service_names))]
    taken: set[str] = set()
    members: dict[str, tuple[Person, ...]] = {}
    for position, team in enumerate(teams):
        # Most people commit at +00:00; each team has someone elsewhere (a team-specific offset).
        offsets = [rng.choice(names.AUTHOR_OFFSETS) for _ in range(3 + rng.randrange(6))]
        offsets[1] = names.REMOTE_OFFSETS[position % len(names.REMOTE_OFFSETS)]
        members[team] = tuple(Person(names.person_handle(rng, taken), offset) for offset in offsets)
    # One monorepo: the first two services of the first team owning at least two share it.
    shared: list[str] = []
    for team in teams:
        owned = [name for name, owner in zip(service_names, owners, strict=True) if owner == team]
        if len(owned) >= 2:
            shared = owned[:2]
            break
    services = []
    for name, team in zip(service_names, owners, strict=True):
        if name in shared:
            repo = f"{team}{MONOREPO_SUFFIX}"
            services.append(SyntheticService(name, team, (repo,), (f"services/{name}/",)))
        else:
            services.append(SyntheticService(name, team, (name,)))
    return SyntheticOrg(
        size=size,
        seed=seed,
        end=end,
        teams=tuple(teams),
        services=tuple(services),
        team_levels=_levels(rng, teams),
        members=members,
    )

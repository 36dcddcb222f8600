"""The moving parts of a synthetic repository simulation: people, changes, main-line landings."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

Event = dict[str, Any]
HOUR = 3600
DAY = 86400
BOTS = (
    ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
    ("renovate[bot]", "29139614+renovate[bot]@users.noreply.github.com"),
)
# Heap event kinds, in the order they run when simultaneous.
CREATE, BRANCH, LAND, DEPLOY, ROLLBACK = range(5)


@dataclass(frozen=True, slots=True)
class Person:
    """An engineer: handle and the UTC offset (minutes) their commits carry."""

    handle: str
    offset: int


@dataclass(slots=True)
class Change:
    """A pull request being simulated (mutable while the simulation runs)."""

    author: Person
    email: str
    title: str
    labels: list[str]
    head_branch: str
    created: int
    first_commit: int
    merge_at: int | None
    close_at: int | None
    review_at: int | None
    service: int
    squash: bool
    reverts: str | None = None
    urgent: bool = False
    resolves: list[Event] = field(default_factory=list)
    number: int = 0
    commits: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    merge_sha: str | None = None


@dataclass(slots=True)
class Landing:
    """A commit of the main line: the sha and every commit it brought to main."""

    sha: str
    shipped: list[str]
    change: Change | None


@dataclass(slots=True)
class ServiceState:
    """A service deployed from this repository and what it runs in production."""

    name: str
    prefix: str
    deployed: int = -1  # index into landings of the sha running in production
    counter: int = 0  # deployments so far (ids)
    incidents: int = 0  # incidents so far (ids)
    awaiting: list[tuple[int, Event]] = field(default_factory=list)  # (fix landing, incident it resolves)


class ShuffleBag(Generic[T]):
    """Draws ``items`` in shuffled rounds: every outcome keeps its share even over a few draws.

    Stratified rather than independent draws, so that a small organisation still shows each kind
    of event (a rollback flagged and one not, an incident caused by a sha …) for every seed. The
    first draws are ``first``, in that order, so that a repository's first few failures already
    show each kind.
    """

    def __init__(self, rng: random.Random, items: Sequence[T], first: Sequence[T] = ()) -> None:
        self.rng = rng
        self.items = list(items)
        self.pending: list[T] = list(reversed(first))

    def draw(self) -> T:
        """The next outcome."""
        if not self.pending:
            self.pending = self.items[:]
            self.rng.shuffle(self.pending)
        return self.pending.pop()

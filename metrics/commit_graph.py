"""Which commits a deployment shipped: explicit lists and the walk over the commit graph.

Definition: the changes of a successful production deployment are its explicit commit list when it
has one; otherwise the commits reachable from its sha and not reachable from the sha of the previous
successful deployment of the same service and environment (ordered by ``finished_at``), restricted
to the service's path prefixes if it has any. The first deployment of a service/environment with
neither an explicit list nor an earlier deployment whose sha is known is a **baseline**: nothing is
attributed to it. A deployment whose sha is not in the commit table still counts as a deployment;
it is marked ``unknown_sha`` and its changes are attributed to the next deployment whose sha is known.

The walk uses plain dicts and sets: each service/environment keeps the set of commits already
reachable from its earlier deployments and stops there, so every commit is visited at most once per
service/environment (linear in the size of the history). Commits outside the path prefixes are
walked through (they connect the graph) but not attributed; a commit whose ``paths`` are unknown
is attributed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

ATTRIBUTIONS = ("explicit_list", "graph_walk", "baseline", "unknown_sha")
_SEP = " "  # repository names never contain a space


@dataclass(frozen=True, slots=True)
class ServiceScope:
    """What the walk needs to know about a service: its repositories and path prefixes."""

    repositories: tuple[str, ...]
    path_prefixes: tuple[str, ...]


class CommitGraph:
    """The parent graph of every repository, indexed by ``repo`` + ``sha``, and the PR of each sha."""

    def __init__(self, commits: pd.DataFrame, pr_changes: dict[str, str]) -> None:
        repos = commits["repo"].astype(str).tolist()
        shas = commits["sha"].astype(str).tolist()
        self._index: dict[str, int] = {r + _SEP + s: i for i, (r, s) in enumerate(zip(repos, shas, strict=True))}
        self._parents: list[tuple[str, ...]] = [tuple(p) if p is not None else () for p in commits["parents"]]
        self._paths: list[tuple[str, ...] | None] = [
            tuple(p) if p is not None else None for p in commits["paths"]
        ]
        self._shas = shas
        self._repos = repos
        self._pr_changes = pr_changes
        self._sha_repos: dict[str, list[str]] | None = None

    def node(self, repo: str, sha: str) -> int:
        """Row position of ``repo@sha`` in the commit frame, ``-1`` when unknown."""
        return self._index.get(repo + _SEP + sha, -1)

    def change_key(self, repo: str | None, sha: str) -> str | None:
        """The change of ``repo@sha``: its merged PR, else the commit itself when known, else ``None``."""
        if repo is None:
            return None
        key = repo + _SEP + sha
        found = self._pr_changes.get(key)
        if found is not None:
            return found
        return f"commit:{repo}@{sha}" if key in self._index else None

    def repo_of(self, sha: str, candidates: tuple[str, ...], *, include_prs: bool = False) -> str | None:
        """The first candidate repository knowing ``sha`` (any repository when no candidates)."""
        if not candidates:
            if self._sha_repos is None:
                self._sha_repos = {}
                for repo, commit_sha in zip(self._repos, self._shas, strict=True):
                    self._sha_repos.setdefault(commit_sha, []).append(repo)
            found = self._sha_repos.get(sha)
            return found[0] if found else None
        for repo in candidates:
            key = repo + _SEP + sha
            if key in self._index or (include_prs and key in self._pr_changes):
                return repo
        return None

    def walk(self, repo: str, sha: str, seen: set[int]) -> list[int]:
        """Commits reachable from ``repo@sha`` not in ``seen``; adds them to ``seen``."""
        start = self._index.get(repo + _SEP + sha)
        if start is None or start in seen:
            return []
        found: list[int] = []
        stack = [start]
        index, parents, prefix = self._index, self._parents, repo + _SEP
        seen.add(start)
        while stack:
            node = stack.pop()
            found.append(node)
            for parent in parents[node]:
                pid = index.get(prefix + parent)
                if pid is not None and pid not in seen:
                    seen.add(pid)
                    stack.append(pid)
        return found

    def sha(self, node: int) -> str:
        """The sha of a commit row."""
        return self._shas[node]

    def touches(self, node: int, prefixes: tuple[str, ...]) -> bool:
        """Whether the commit touches a path under one of ``prefixes`` (unknown paths: yes)."""
        paths = self._paths[node]
        return paths is None or any(p.startswith(prefixes) for p in paths)


@dataclass(frozen=True, slots=True)
class Attribution:
    """Result of :func:`attribute_commits`.

    - ``links``: ``deployment_key, repo, sha, change_key, method, node`` — one row per commit a
      deployment shipped, already reduced to the first deployment of the service (``node`` is the
      commit's row in the commit frame, ``-1`` when unknown; ``change_key`` ``None`` when unknown);
    - ``change_deployments``: ``service, environment, change_key, deployment_key`` — where each
      change counts (its first production deployment per service);
    - ``attribution``: ``deployment_key, attribution`` (one of ``ATTRIBUTIONS``).
    """

    links: pd.DataFrame
    change_deployments: pd.DataFrame
    attribution: pd.DataFrame


def attribute_commits(
    deployments: pd.DataFrame, graph: CommitGraph, scopes: dict[str, ServiceScope]
) -> Attribution:
    """Link successful production deployments to the commits and changes they shipped.

    ``deployments`` must be sorted by service then ``finished_at``. The walk keeps one set of reached
    commits per service/environment (the boundary) and one set of counted commits and changes per
    service (a commit or change counts once, at its first production deployment of the service).
    """
    cols: dict[str, list[object]] = {k: [] for k in ("deployment_key", "repo", "sha", "change_key", "method", "node")}
    placed: dict[str, list[object]] = {k: [] for k in ("service", "environment", "change_key", "deployment_key")}
    attribution: dict[str, str] = {}
    reached: dict[tuple[str, str], set[int]] = {}
    counted: set[str] = set()
    counted_changes: set[str] = set()
    current_service: object = None
    empty = ServiceScope((), ())
    rows = deployments[["deployment_key", "service", "environment", "sha", "repo", "commits"]].itertuples(
        index=False
    )

    def emit(key: str, service: str, environment: str, repo: str | None, sha: str, method: str, node: int) -> None:
        ident = f"{repo}{_SEP}{sha}"
        if repo is not None and ident in counted:
            return
        counted.add(ident)
        change = graph.change_key(repo, sha)
        for name, value in zip(cols, (key, repo, sha, change, method, node), strict=True):
            cols[name].append(value)
        if change is not None and change not in counted_changes:
            counted_changes.add(change)
            for name, value in zip(placed, (service, environment, change, key), strict=True):
                placed[name].append(value)

    for key, service, environment, sha, repo, explicit in rows:
        if service != current_service:
            current_service, reached, counted, counted_changes = service, {}, set(), set()
        scope = scopes.get(service, empty)
        candidates = (repo,) if isinstance(repo, str) and repo else scope.repositories
        state = reached.setdefault((service, environment), set())
        had_boundary = bool(state)
        tip_repo = graph.repo_of(sha, candidates) if isinstance(sha, str) and sha else None
        walked = graph.walk(tip_repo, sha, state) if tip_repo is not None else []
        if explicit is not None:
            attribution[key] = "explicit_list"
            for listed in explicit:
                where = graph.repo_of(listed, candidates, include_prs=True)
                if where is None and len(candidates) == 1:
                    where = candidates[0]
                node = graph.node(where, listed) if where is not None else -1
                emit(key, service, environment, where, listed, "explicit_list", node)
        elif tip_repo is None:
            attribution[key] = "unknown_sha"
        elif not had_boundary:
            attribution[key] = "baseline"
        else:
            attribution[key] = "graph_walk"
            prefixes = scope.path_prefixes
            for node in walked:
                if not prefixes or graph.touches(node, prefixes):
                    emit(key, service, environment, tip_repo, graph.sha(node), "graph_walk", node)
    links = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in cols.items()})
    links["node"] = links["node"].astype("int64")
    table = pd.DataFrame(
        {"deployment_key": list(attribution), "attribution": list(attribution.values())}, dtype=object
    )
    change_deployments = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in placed.items()})
    return Attribution(links, change_deployments, table)

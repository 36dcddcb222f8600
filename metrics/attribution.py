"""Which commits a deployment shipped: explicit lists and the walk over the commit graph.

Definition: the changes of a successful production deployment are its explicit commit list when it
has one; otherwise the commits reachable from its sha and not reachable from the sha of the previous
successful deployment of the same service and environment (ordered by ``finished_at``), restricted
to the service's path prefixes if it has any. The first deployment of a service/environment with
neither an explicit list nor an earlier deployment whose sha is known is a **baseline**: nothing is
attributed to it. A deployment whose sha is not in the commit table still counts as a deployment;
it is marked ``unknown_sha`` and its changes are attributed to the next deployment whose sha is known.

Each service/environment keeps the set of commits already reachable from its earlier deployments
and the walk stops there, so every commit is visited at most once per service/environment (linear
in the size of the history). Commits outside the path prefixes are walked through (they connect the
graph) but not attributed; a commit whose ``paths`` are unknown is attributed.

Only the walk itself is a Python loop (its order is part of the result: rows come out depth first);
locating every tip and listed sha, naming changes and placing them are array operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.commit_graph import CommitGraph, as_objects

ATTRIBUTIONS = ("explicit_list", "graph_walk", "baseline", "unknown_sha")
LINK_COLUMNS: tuple[str, ...] = ("deployment_key", "repo", "sha", "change_key", "method", "node")
PLACEMENT_COLUMNS: tuple[str, ...] = ("service", "environment", "change_key", "deployment_key")


@dataclass(frozen=True, slots=True)
class ServiceScope:
    """What the walk needs to know about a service: its repositories and path prefixes."""

    repositories: tuple[str, ...]
    path_prefixes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Attribution:
    """Result of :func:`attribute_commits`.

    - ``links``: ``deployment_key, repo, sha, change_key, method, node`` — one row per commit a
      deployment shipped, already reduced to the first deployment of the service (``node`` is the
      commit's row in the commit frame, ``-1`` when unknown; ``change_key`` ``None`` when unknown);
    - ``change_deployments``: ``service, environment, change_key, deployment_key`` — where each
      change counts (its first production deployment per service);
    - ``attribution``: ``deployment_key, attribution`` (one of ``ATTRIBUTIONS``);
    - ``environment_shipments``: ``service, environment, change_key, deployment_key`` — where each
      change reached each production environment (its first deployment per service/environment
      shipping one of its commits, walked or listed). Not reduced to one per service: a change
      shipped to ``prod-eu`` then ``prod-us`` has a row for each. Failures by revert use it; lead
      time uses ``change_deployments``.
    """

    links: pd.DataFrame
    change_deployments: pd.DataFrame
    attribution: pd.DataFrame
    environment_shipments: pd.DataFrame


@dataclass(frozen=True, slots=True)
class _Listed:
    """The explicit commit lists, flattened: listed sha ``j`` belongs to deployment ``owner[j]``;
    deployment ``i`` lists ``sha[start[i]:start[i + 1]]``, placed in ``repo`` at ``node``."""

    start: list[int]
    sha: np.ndarray
    repo: np.ndarray
    node: list[int]


def _listed(explicit: np.ndarray, candidates: list[tuple[str, ...]], graph: CommitGraph) -> _Listed:
    """Place every listed sha: in the deployment's repo or the first of the service's repositories
    knowing it (commit or pull request), else the only candidate, else nowhere (``None``)."""
    lists = [listed if listed is not None else () for listed in explicit]
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    owner = np.repeat(np.arange(len(lists)), counts)
    shas = np.fromiter((sha for listed in lists for sha in listed), dtype=object, count=int(counts.sum()))
    owned = [candidates[i] for i in owner.tolist()]
    repos = graph.locate(shas, owned, include_prs=True)
    for j in np.flatnonzero(pd.isna(repos)).tolist():
        if len(owned[j]) == 1:
            repos[j] = owned[j][0]
    start = np.concatenate([[0], np.cumsum(counts)]).tolist()
    return _Listed(start, shas, repos, graph.nodes(repos, shas).tolist())


def attribute_commits(deployments: pd.DataFrame, graph: CommitGraph, scopes: dict[str, ServiceScope]) -> Attribution:
    """Link successful production deployments to the commits and changes they shipped.

    ``deployments`` must be sorted by service then ``finished_at``. The walk keeps one set of reached
    commits per service/environment (the boundary) and one set of counted commits per service (a
    commit counts once, at its first production deployment of the service; a change is placed at the
    first deployment of the service shipping one of its commits). A commit another environment of
    the service already counted is still shipped to this environment: it is left out of ``links``
    and ``change_deployments`` but placed in ``environment_shipments``.
    """
    keys = as_objects(deployments["deployment_key"])
    services = as_objects(deployments["service"]).tolist()
    environments = as_objects(deployments["environment"]).tolist()
    tips = as_objects(deployments["sha"])
    repos = as_objects(deployments["repo"])
    explicit = as_objects(deployments["commits"])
    empty = ServiceScope((), ())
    candidates = [
        (repo,) if isinstance(repo, str) and repo else scopes.get(service, empty).repositories
        for repo, service in zip(repos, services, strict=True)
    ]
    has_tip = np.fromiter((isinstance(sha, str) and bool(sha) for sha in tips), dtype=bool, count=len(tips))
    tip_repos = np.full(len(tips), None, dtype=object)
    tip_repos[has_tip] = graph.locate(tips[has_tip], [c for c, h in zip(candidates, has_tip, strict=True) if h])
    tip_nodes = graph.nodes(tip_repos, tips).tolist()
    listed = _listed(explicit, candidates, graph)

    shipped: list[int] = []  # node of each link row, in order (-1: an unknown listed sha)
    emitted: list[int] = []  # per deployment: how many link rows it has
    listed_rows: list[int] = []  # link rows of explicit lists ...
    listed_at: list[int] = []  # ... and their position in ``listed``
    segment_of: list[int] = []  # per deployment: which run of one service it belongs to
    # commits shipped to an environment but already counted by the service (another environment, or
    # an earlier list): node, position in ``listed`` (-1: walked) and deployment position of each
    again_nodes: list[int] = []
    again_listed_at: list[int] = []
    again_by: list[int] = []
    attribution: list[str] = []
    reached: dict[tuple[object, object], set[int]] = {}
    counted: set[object] = set()
    current_service: object = None
    segment = -1
    for i, service in enumerate(services):
        if service != current_service:
            current_service, reached, counted, segment = service, {}, set(), segment + 1
        segment_of.append(segment)
        state = reached.setdefault((service, environments[i]), set())
        had_boundary = bool(state)
        start = tip_nodes[i]
        walked = graph.walk(start, state)
        before = len(shipped)
        if explicit[i] is not None:
            attribution.append("explicit_list")
            for j in range(listed.start[i], listed.start[i + 1]):
                node = listed.node[j]
                # A known commit is its node (also what the walk counts); an unknown one its place.
                ident: object = node if node >= 0 else (listed.repo[j], listed.sha[j])
                if ident in counted and listed.repo[j] is not None:
                    again_nodes.append(node)
                    again_listed_at.append(j)
                    again_by.append(i)
                    continue
                counted.add(ident)
                listed_rows.append(len(shipped))
                listed_at.append(j)
                shipped.append(node)
        elif start < 0:
            attribution.append("unknown_sha")
        elif not had_boundary:
            attribution.append("baseline")
        else:
            attribution.append("graph_walk")
            prefixes = scopes.get(service, empty).path_prefixes
            # ``walked`` holds distinct nodes, so filtering before adding them to ``counted`` is exact.
            inside = [node for node in walked if graph.touches(node, prefixes)] if prefixes else walked
            new = [node for node in inside if node not in counted]
            if len(new) < len(inside):
                again = [node for node in inside if node in counted]
                again_nodes.extend(again)
                again_listed_at.extend([-1] * len(again))
                again_by.extend([i] * len(again))
            counted.update(new)
            shipped.extend(new)
        emitted.append(len(shipped) - before)
    by = np.repeat(np.arange(len(emitted), dtype=np.int64), emitted)
    rows_listed = np.full(len(shipped), -1, dtype=np.int64)
    rows_listed[listed_rows] = listed_at
    links = _links(keys, by, np.array(shipped, dtype=np.int64), rows_listed, listed, graph)
    placed = (
        links["change_key"].notna().to_numpy()
        & ~pd.DataFrame({"segment": np.asarray(segment_of, dtype=np.int64)[by], "change": links["change_key"]})
        .duplicated()
        .to_numpy()
    )
    change_deployments = pd.DataFrame(
        {
            "service": as_objects(deployments["service"])[by[placed]],
            "environment": as_objects(deployments["environment"])[by[placed]],
            "change_key": links["change_key"].to_numpy()[placed],
            "deployment_key": keys[by[placed]],
        },
        columns=list(PLACEMENT_COLUMNS),
        dtype=object,
    )
    table = pd.DataFrame({"deployment_key": keys, "attribution": attribution}, dtype=object)
    if table["deployment_key"].duplicated().any():
        # As a mapping keyed by deployment: first position, last value.
        last = table.groupby("deployment_key", sort=False)["attribution"].last()
        table = pd.DataFrame({"deployment_key": last.index, "attribution": last.to_numpy()}, dtype=object)
    again_at = np.asarray(again_listed_at, dtype=np.int64)
    again_changes = _change_keys(np.asarray(again_nodes, dtype=np.int64), again_at, listed, graph)
    shipments = _first_per_environment(
        deployments,
        np.asarray(segment_of, dtype=np.int64),
        np.concatenate([by, np.asarray(again_by, dtype=np.int64)]),
        np.concatenate([links["change_key"].to_numpy(dtype=object), again_changes]),
    )
    return Attribution(links, change_deployments, table, shipments)


def _first_per_environment(
    deployments: pd.DataFrame, segment_of: np.ndarray, by: np.ndarray, changes: np.ndarray
) -> pd.DataFrame:
    """``PLACEMENT_COLUMNS``: per service/environment and change, the first deployment shipping it.

    ``by`` is the deployment position of each shipped commit and ``changes`` its change key (``None``:
    unknown); positions follow the deployments' order (service, ``finished_at``, …), so the first
    row of a service run, environment and change is its first deployment there.
    """
    order = np.argsort(by, kind="stable")
    at = by[order]
    frame = pd.DataFrame(
        {
            "segment": segment_of[at],
            "service": as_objects(deployments["service"])[at],
            "environment": as_objects(deployments["environment"])[at],
            "change_key": changes[order],
            "deployment_key": as_objects(deployments["deployment_key"])[at],
        }
    )
    frame = frame[frame["change_key"].notna()].drop_duplicates(["segment", "environment", "change_key"])
    return frame[list(PLACEMENT_COLUMNS)].astype(object).reset_index(drop=True)


def _change_keys(nodes: np.ndarray, listed_at: np.ndarray, listed: _Listed, graph: CommitGraph) -> np.ndarray:
    """The change key of each shipped commit: a known commit's (``nodes >= 0``), else the change
    claiming the listed sha at ``listed_at`` (``None`` when none does)."""
    changes = np.full(len(nodes), None, dtype=object)
    known = nodes >= 0
    changes[known] = graph.node_changes(nodes[known])
    unknown = np.flatnonzero(~known)
    changes[unknown] = graph.claimed_changes(listed.repo[listed_at[unknown]], listed.sha[listed_at[unknown]])
    return changes


def _links(
    keys: np.ndarray,
    by: np.ndarray,
    nodes: np.ndarray,
    listed_at: np.ndarray,
    listed: _Listed,
    graph: CommitGraph,
) -> pd.DataFrame:
    """The link rows (``LINK_COLUMNS``) of the shipped commits; ``by``: the deployment position of each."""
    known = nodes >= 0
    repos = np.full(len(nodes), None, dtype=object)
    shas = np.full(len(nodes), None, dtype=object)
    changes = np.full(len(nodes), None, dtype=object)
    repos[known] = graph.repos[nodes[known]]
    shas[known] = graph.shas[nodes[known]]
    changes[known] = graph.node_changes(nodes[known])
    unknown = np.flatnonzero(~known)
    repos[unknown] = listed.repo[listed_at[unknown]]
    shas[unknown] = listed.sha[listed_at[unknown]]
    changes[unknown] = graph.claimed_changes(repos[unknown], shas[unknown])
    frame = pd.DataFrame(
        {
            "deployment_key": keys[by],
            "repo": repos,
            "sha": shas,
            "change_key": changes,
            "method": np.where(listed_at >= 0, "explicit_list", "graph_walk").astype(object),
        },
        columns=list(LINK_COLUMNS[:-1]),
        dtype=object,
    )
    frame["node"] = nodes
    return frame

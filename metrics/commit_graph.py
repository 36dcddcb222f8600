"""The commit graph: every commit indexed by ``repo`` + ``sha``, its parents, and the change of each sha.

A commit is a *node*: its row position in the commit frame. Lookups are vectorised: every sha the
engine meets (commit shas and the shas pull requests claim) is factorised once into an integer code,
and a ``(repo, sha)`` pair becomes one int64 key, so resolving a million parents or pull-request
commits is a few array operations instead of a Python dict probe per string. The parents of each
commit are resolved to nodes once, at construction; :meth:`CommitGraph.walk` then follows integers.

How a deployment's commits are chosen from this graph is :mod:`metrics.attribution`.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import pandas as pd


def as_objects(values: pd.Series | Sequence[object] | np.ndarray) -> np.ndarray:
    """``values`` as a NumPy object array (missing values as they are stored: ``None`` or NaN)."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object)


def factorize_runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of ``values`` (codes, uniques; missing → ``-1``), hashing only the first value
    of each run of equal neighbours: commit frames come grouped by repository, so this is one
    comparison per row instead of one hash probe."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)
    starts = np.ones(len(values), dtype=bool)
    starts[1:] = values[1:] != values[:-1]
    heads = np.flatnonzero(starts)
    codes, uniques = pd.factorize(values[heads])
    return np.repeat(codes, np.diff(np.append(heads, len(values)))), uniques


@dataclass(frozen=True, slots=True)
class PullRequestClaims:
    """The shas merged pull requests claim (see :func:`metrics.changes.pull_request_changes`).

    Per pull request: ``repos`` and ``change_keys`` (``pr:<repo>#<number>``). Per claim, in priority
    order: ``owner`` (the claiming PR's position), ``shas`` and ``listed`` (one of the PR's own
    commits, as opposed to its merge sha).
    """

    repos: np.ndarray
    change_keys: np.ndarray
    owner: np.ndarray
    shas: np.ndarray
    listed: np.ndarray


class CommitGraph:
    """The parent graph of every repository, indexed by ``repo`` + ``sha``, and the PR of each sha.

    A ``(repo, sha)`` claimed several times belongs to its first claim. When the commit frame holds
    one ``(repo, sha)`` twice, the last row is its node.
    """

    def __init__(self, commits: pd.DataFrame, claims: PullRequestClaims) -> None:
        self.repos = as_objects(commits["repo"])
        self.shas = as_objects(commits["sha"])
        self._paths = commits["paths"].to_numpy(dtype=object)
        n = len(self.repos)
        parent_lists = [p if p is not None else () for p in commits["parents"].to_numpy(dtype=object)]
        parent_counts = np.fromiter(map(len, parent_lists), dtype=np.int64, count=n)
        parent_shas = np.fromiter(chain.from_iterable(parent_lists), dtype=object, count=int(parent_counts.sum()))
        children = np.repeat(np.arange(n, dtype=np.int64), parent_counts)
        repo_codes, repo_uniques = factorize_runs(np.concatenate([self.repos, claims.repos]))
        commit_repo_codes = repo_codes[:n]
        claim_repo_codes = repo_codes[n:][claims.owner]
        # Commit frames usually list a commit right after its first parent: a parent equal to the
        # previous row's sha in the same repository gets that row's sha code by a comparison.
        previous = np.maximum(children - 1, 0)
        follows = (
            (children > 0)
            & (commit_repo_codes[previous] == commit_repo_codes[children])
            & (parent_shas == self.shas[previous])
        )
        rest = np.flatnonzero(~follows)
        # One factorisation of every other sha the graph holds (commits, the other parents, PR
        # claims): each string is hashed once. A ``(repo, sha)`` pair is then one int64 key
        # ``repo_code * len(sha_uniques) + sha_code``; later lookups probe ``_sha_index``.
        sha_codes, self._sha_uniques = pd.factorize(np.concatenate([self.shas, parent_shas[rest], claims.shas]))
        commit_sha_codes = sha_codes[:n]
        claim_sha_codes = sha_codes[n + len(rest) :]
        parent_sha_codes = np.empty(len(parent_shas), dtype=np.int64)
        parent_sha_codes[rest] = sha_codes[n : n + len(rest)]
        parent_sha_codes[follows] = commit_sha_codes[previous[follows]]
        self._sha_index_built: pd.Index | None = None
        self._repo_index = pd.Index(repo_uniques, dtype=object)
        self._width = max(len(self._sha_uniques), 1)
        self._commit_sha_codes = commit_sha_codes
        commit_keys = self._combine(commit_repo_codes, commit_sha_codes)
        self._commit_rows = _PairLookup(commit_keys, self._width, keep_first=False)
        claim_keys = self._combine(claim_repo_codes, claim_sha_codes)
        self._claim_rows = _PairLookup(claim_keys, self._width, keep_first=True)
        self._claim_changes = claims.change_keys[claims.owner]
        self._node_claims = self._claims_of(commit_keys)
        claim_nodes = self._nodes_of_keys(claim_keys)
        listed = claims.listed & (claim_nodes >= 0)
        self.pr_commits = pd.DataFrame({"change_key": self._claim_changes[listed], "node": claim_nodes[listed]})
        """``change_key, node``: every known commit each merged PR lists (claimed by it or not)."""
        parent_nodes = self._nodes_of_keys(self._combine(commit_repo_codes[children], parent_sha_codes))
        self._first_parent, self._more_parents = _parent_links(children, parent_nodes, n)
        self._first_by_sha: np.ndarray | None = None

    @property
    def _sha_index(self) -> pd.Index:
        if self._sha_index_built is None:
            self._sha_index_built = pd.Index(self._sha_uniques, dtype=object)
        return self._sha_index_built

    def _combine(self, repo_codes: np.ndarray, sha_codes: np.ndarray) -> np.ndarray:
        """int64 pair keys; ``-1`` where the repo or the sha is unknown."""
        keys = repo_codes.astype(np.int64) * self._width + sha_codes
        keys[(repo_codes < 0) | (sha_codes < 0)] = -1
        return keys

    def _keys(self, repos: np.ndarray, shas: np.ndarray) -> np.ndarray:
        return self._combine(
            self._repo_index.get_indexer(pd.Index(repos, dtype=object)),
            self._sha_index.get_indexer(pd.Index(shas, dtype=object)),
        )

    def _nodes_of_keys(self, keys: np.ndarray) -> np.ndarray:
        return self._commit_rows.get(keys)

    def _claims_of(self, keys: np.ndarray) -> np.ndarray:
        found = self._claim_rows.get(keys)
        out = np.full(len(keys), None, dtype=object)
        out[found >= 0] = self._claim_changes[found[found >= 0]]
        return out

    def nodes(self, repos: Sequence[object] | np.ndarray, shas: Sequence[object] | np.ndarray) -> np.ndarray:
        """Node of each ``repo@sha`` (exact match), ``-1`` when unknown or when the repo is missing."""
        return self._nodes_of_keys(self._keys(as_objects(repos), as_objects(shas)))

    def claimed_changes(self, repos: Sequence[object] | np.ndarray, shas: Sequence[object] | np.ndarray) -> np.ndarray:
        """The merged PR (``pr:<repo>#<number>``) claiming each ``repo@sha``, else ``None``."""
        return self._claims_of(self._keys(as_objects(repos), as_objects(shas)))

    def node_changes(self, nodes: np.ndarray) -> np.ndarray:
        """The change of each known node: its merged PR, else ``commit:<repo>@<sha>``."""
        out = self._node_claims[nodes]
        lone = np.flatnonzero(pd.isna(out))
        out[lone] = [f"commit:{r}@{s}" for r, s in zip(self.repos[nodes[lone]], self.shas[nodes[lone]], strict=True)]
        return out

    def lone_commits(self, nodes: np.ndarray) -> np.ndarray:
        """Whether each node is a known commit that no merged PR claims (a change of its own)."""
        known = nodes >= 0
        lone = np.zeros(len(nodes), dtype=bool)
        lone[known] = pd.isna(self._node_claims[nodes[known]])
        return lone

    def change_keys(self, repos: Sequence[object] | np.ndarray, shas: Sequence[object] | np.ndarray) -> np.ndarray:
        """The change of each ``repo@sha``: its merged PR, else the commit itself when known, else ``None``."""
        repos, shas = as_objects(repos), as_objects(shas)
        keys = self._keys(repos, shas)
        out = self._claims_of(keys)
        nodes = self._nodes_of_keys(keys)
        lone = np.flatnonzero(pd.isna(out) & (nodes >= 0))
        out[lone] = self.node_changes(nodes[lone])
        return out

    def locate(
        self, shas: np.ndarray, candidates: Sequence[tuple[str, ...]], *, include_prs: bool = False
    ) -> np.ndarray:
        """For each sha, the first of its candidate repositories knowing it (a commit, or with
        ``include_prs`` a pull-request claim); with no candidates, the repository of the first commit
        row with that sha. ``None`` when nothing knows it."""
        shas = as_objects(shas)
        out = np.full(len(shas), None, dtype=object)
        counts = np.fromiter(map(len, candidates), dtype=np.int64, count=len(candidates))
        query = np.repeat(np.arange(len(shas), dtype=np.int64), counts)
        repos = np.fromiter(chain.from_iterable(candidates), dtype=object, count=int(counts.sum()))
        keys = self._keys(repos, shas[query])
        known = self._nodes_of_keys(keys) >= 0
        if include_prs:
            known |= self._claim_rows.get(keys) >= 0
        hits = np.flatnonzero(known)
        hit_queries, first = np.unique(query[hits], return_index=True)
        out[hit_queries] = repos[hits[first]]
        bare = np.flatnonzero(counts == 0)
        if len(bare):
            codes = self._sha_index.get_indexer(pd.Index(shas[bare], dtype=object))
            rows = np.append(self._first_rows_by_sha(), -1)[codes]  # code -1 (unknown sha) → -1
            found = rows >= 0
            out[bare[found]] = self.repos[rows[found]]
        return out

    def _first_rows_by_sha(self) -> np.ndarray:
        if self._first_by_sha is None:
            firsts = np.full(len(self._sha_uniques), -1, dtype=np.int64)
            codes, rows = np.unique(self._commit_sha_codes, return_index=True)
            firsts[codes] = rows
            self._first_by_sha = firsts
        return self._first_by_sha

    def walk(self, start: int, seen: set[int]) -> list[int]:
        """Nodes reachable from node ``start`` (``-1``: none) not in ``seen``, depth first, parents in
        their listed order; adds them to ``seen``."""
        if start < 0 or start in seen:
            return []
        first, more = self._first_parent, self._more_parents
        found: list[int] = []
        stack = [start]
        seen.add(start)
        while stack:
            node = stack.pop()
            found.append(node)
            parent = first[node]
            if parent >= 0 and parent not in seen:
                seen.add(parent)
                stack.append(parent)
            rest = more.get(node)
            if rest is not None:
                for parent in rest:
                    if parent not in seen:
                        seen.add(parent)
                        stack.append(parent)
        return found

    def touches(self, node: int, prefixes: tuple[str, ...]) -> bool:
        """Whether the commit touches a path under one of ``prefixes`` (unknown paths: yes)."""
        paths = self._paths[node]
        return paths is None or any(p.startswith(prefixes) for p in paths)


class _PairLookup:
    """Row of each ``(repo, sha)`` pair key (``repo_code * width + sha_code``; ``-1``: invalid) among
    ``keys``, keeping its first or last row; ``get`` answers ``-1`` for an absent pair.

    Usually every sha occurs in one repository only, so the answer is a plain array indexed by sha
    code (no hash table: a lookup is two array reads and a repository check). Shas found in several
    repositories are answered by a hash index over their pairs only.
    """

    def __init__(self, keys: np.ndarray, width: int, *, keep_first: bool) -> None:
        rows = np.flatnonzero(keys >= 0)
        repos, codes = np.divmod(keys[rows], width)
        self._width = width
        chosen = np.full(width, np.iinfo(np.int64).max if keep_first else -1, dtype=np.int64)
        (np.minimum if keep_first else np.maximum).at(chosen, codes, rows)
        low = np.full(width, np.iinfo(np.int64).max, dtype=np.int64)
        high = np.full(width, -1, dtype=np.int64)
        np.minimum.at(low, codes, repos)
        np.maximum.at(high, codes, repos)
        self._repo = low
        self._shared = high > low  # shas in several repositories
        chosen[(high < 0) | self._shared] = -1
        self._row = chosen
        self._shared_keys: pd.Index | None = None
        self._shared_rows = np.zeros(0, dtype=np.int64)
        if self._shared.any():
            mine = rows[self._shared[codes]]
            keep = ~pd.Index(keys[mine]).duplicated(keep="first" if keep_first else "last")
            self._shared_keys = pd.Index(keys[mine][keep])
            self._shared_rows = mine[keep]

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The chosen row of each pair key, ``-1`` when absent or invalid."""
        valid = keys >= 0
        repos, codes = np.divmod(np.where(valid, keys, 0), self._width)
        rows = self._row[codes]
        rows = np.where(valid & (self._repo[codes] == repos), rows, -1)
        if self._shared_keys is not None:
            shared = np.flatnonzero(valid & self._shared[codes])
            found = self._shared_keys.get_indexer(pd.Index(keys[shared]))
            rows[shared] = np.where(found >= 0, self._shared_rows[np.maximum(found, 0)], -1)
        return rows


def _parent_links(children: np.ndarray, parents: np.ndarray, n: int) -> tuple[array[int], dict[int, tuple[int, ...]]]:
    """Each node's known parents (``parents >= 0``) in their listed order: the first in an int array
    (``-1``: none), the others (merge commits only) in a dict."""
    known = parents >= 0
    children, parents = children[known], parents[known]
    first = np.full(n, -1, dtype=np.int64)
    is_first = np.ones(len(children), dtype=bool)
    is_first[1:] = children[1:] != children[:-1]
    first[children[is_first]] = parents[is_first]
    more: dict[int, list[int]] = {}
    for child, parent in zip(children[~is_first].tolist(), parents[~is_first].tolist(), strict=True):
        more.setdefault(child, []).append(parent)
    # array('q') keeps one machine word per commit (a list would hold a Python int per commit).
    return array("q", first.tobytes()), {child: tuple(rest) for child, rest in more.items()}

"""Changes: which commits form one change, when a change started, and its flags.

Definitions (see ``docs/metrics.md``):

- A **change** is a merged pull request when the commit is that PR's ``merge_sha`` or one of its
  ``commits`` (all of them form one change, key ``pr:<repo>#<number>``); otherwise the commit alone
  (key ``commit:<repo>@<sha>``). A commit listed by several merged PRs belongs to the earliest merged.
- **Change start**: for a PR the earliest ``authored_at`` of its commits or its ``first_commit_at``,
  whichever is earlier, falling back to ``created_at``; for a lone commit its ``authored_at``.
- **Bot change**: the author (PR author, or commit author) matches a bot pattern.
- **Hotfix change**: a PR whose head branch starts with a hotfix prefix, carries a hotfix label, or
  whose title matches a hotfix title pattern (for a lone commit: the first line of its message).
- **Revert change**: it contains a commit whose message matches a revert message pattern, or it is
  a PR whose title matches a revert title pattern (``Revert "…"``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from itertools import chain
from typing import cast

import numpy as np
import pandas as pd

from metrics.commit_graph import CommitGraph, PullRequestClaims, as_objects
from metrics.settings import MetricSettings

CHANGE_COLUMNS: tuple[str, ...] = (
    "change_key",
    "kind",
    "repo",
    "number",
    "author",
    "start",
    "first_commit_at",
    "created_at",
    "first_review_at",
    "merged_at",
    "title",
    "is_bot",
    "is_hotfix",
    "is_revert",
)


def matches(values: pd.Series, patterns: tuple[str, ...]) -> pd.Series:
    """Boolean series: the value (a string; null never matches) matches any regex (``re.search``)."""
    compiled = [re.compile(p) for p in patterns]
    if not compiled or values.empty:
        return pd.Series(False, index=values.index, dtype=bool)
    return _per_distinct(values, lambda v: isinstance(v, str) and any(c.search(v) for c in compiled))


def _per_distinct(values: pd.Series, predicate: Callable[[object], bool]) -> pd.Series:
    """``predicate`` of each value (null: false), evaluated once per distinct value: authors, titles
    and branches repeat a lot, and one factorisation is cheaper than a Python call per row."""
    try:
        codes, uniques = pd.factorize(as_objects(values))
    except TypeError:  # unhashable cells (lists where tuples are expected): one call per row
        return values.map(lambda v: v is not None and bool(predicate(v))).astype(bool)
    hit = np.fromiter(map(predicate, uniques), dtype=bool, count=len(uniques))
    return pd.Series(np.append(hit, False)[codes], index=values.index, dtype=bool)  # code -1 (null) → False


def pull_request_changes(pull_requests: pd.DataFrame) -> PullRequestClaims:
    """Every commit and merge sha of a merged PR, claimed by that PR's change ``pr:<repo>#<number>``.

    Claims are in priority order: merged PRs by ``merged_at`` then number, each PR's listed commits
    then its merge sha (empty or missing shas claim nothing). A sha claimed by several merged PRs of
    the repository goes to the first claim (the earliest merged, then lowest number):
    :class:`metrics.commit_graph.CommitGraph` applies that.
    """
    merged = pull_requests[pull_requests["merged_at"].notna()].sort_values(["merged_at", "number"], kind="stable")
    repos = as_objects(merged["repo"])
    keys = np.fromiter(
        (f"pr:{repo}#{number}" for repo, number in zip(repos, merged["number"].tolist(), strict=True)),
        dtype=object,
        count=len(repos),
    )
    lists = [listed if listed is not None else () for listed in as_objects(merged["commits"])]
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    # Each PR's listed commits then its merge sha: the merge sha of PR p sits at ends[p].
    ends = np.cumsum(counts + 1) - 1
    listed = np.ones(int(counts.sum()) + len(lists), dtype=bool)
    listed[ends] = False
    shas = np.empty(len(listed), dtype=object)
    shas[ends] = as_objects(merged["merge_sha"])
    shas[listed] = np.fromiter(chain.from_iterable(lists), dtype=object, count=int(counts.sum()))
    owner = np.repeat(np.arange(len(lists), dtype=np.int64), counts + 1)
    # Missing shas (None/NaN) stay: the graph codes them as unknown, so they claim nothing.
    valid = shas != ""
    return PullRequestClaims(repos, keys, owner[valid], shas[valid], listed[valid])


def build_changes(
    links: pd.DataFrame,
    commits: pd.DataFrame,
    pull_requests: pd.DataFrame,
    graph: CommitGraph,
    settings: MetricSettings,
) -> pd.DataFrame:
    """One row per change shipped in ``links`` (``change_key``, ``node``) with start, author, flags."""
    known = links[links["change_key"].notna()]
    nodes = known["node"].to_numpy()
    # A shipped commit no merged PR claims is a lone-commit change (``commit:…``); the rest are PRs.
    lone = graph.lone_commits(nodes)
    pr_keys = set(known["change_key"].to_numpy()[~lone])
    lone_nodes = pd.unique(nodes[lone])
    prs = pull_requests[pull_requests["merged_at"].notna()]
    keys = "pr:" + prs["repo"].astype(str) + "#" + prs["number"].astype(str)
    prs = prs.assign(change_key=keys)[keys.isin(pr_keys)]
    pr_rows = _pull_request_changes(prs, commits, graph.pr_commits, settings)
    lone = commits.iloc[lone_nodes]
    missing = pd.Series(pd.NaT, index=lone.index, dtype="datetime64[us, UTC]")
    first_line = lone["message"].map(lambda m: m.splitlines()[0] if isinstance(m, str) and m else None)
    commit_rows = pd.DataFrame(
        {
            "change_key": "commit:" + lone["repo"].astype(str) + "@" + lone["sha"].astype(str),
            "kind": "commit",
            "repo": lone["repo"],
            "number": pd.NA,
            "author": lone["author"],
            "start": lone["authored_at"],
            "first_commit_at": lone["authored_at"],
            "created_at": missing,
            "first_review_at": missing,
            "merged_at": missing,
            "title": first_line,
            "is_bot": matches(lone["author"], settings.bot_author_patterns),
            "is_hotfix": matches(first_line, settings.hotfix_title_patterns),
            "is_revert": matches(lone["message"], settings.revert_message_patterns),
        }
    )
    frames = [f for f in (pr_rows, commit_rows) if not f.empty]
    if not frames:
        return _empty_changes()
    out = pd.concat(frames, ignore_index=True)
    for column in ("start", "first_commit_at", "created_at", "first_review_at", "merged_at"):
        out[column] = pd.to_datetime(out[column], utc=True).astype("datetime64[us, UTC]")
    return out[list(CHANGE_COLUMNS)].reset_index(drop=True)


def _empty_changes() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in CHANGE_COLUMNS})
    for column in ("start", "first_commit_at", "created_at", "first_review_at", "merged_at"):
        frame[column] = pd.Series([], dtype="datetime64[us, UTC]")
    for column in ("is_bot", "is_hotfix", "is_revert"):
        frame[column] = pd.Series([], dtype=bool)
    return frame


def _pull_request_changes(
    prs: pd.DataFrame, commits: pd.DataFrame, pr_commits: pd.DataFrame, settings: MetricSettings
) -> pd.DataFrame:
    if prs.empty:
        return pd.DataFrame()
    authored = commits["authored_at"].iloc[pr_commits["node"].to_numpy()].reset_index(drop=True)
    earliest = authored.groupby(pr_commits["change_key"].to_numpy(), sort=False).min()
    from_commits = earliest.reindex(prs["change_key"].to_numpy()).set_axis(prs.index)
    given = prs["first_commit_at"]
    first_commit = given.where(given.notna() & (from_commits.isna() | (given <= from_commits)), from_commits)
    hotfix_labels = {label.lower() for label in settings.hotfix_labels}
    by_label = _per_distinct(
        prs["labels"],
        lambda labels: bool(labels) and any(str(x).lower() in hotfix_labels for x in cast(Iterable[object], labels)),
    )
    prefixes = tuple(settings.hotfix_branch_prefixes)
    by_branch = _per_distinct(
        prs["head_branch"], lambda b: bool(prefixes) and isinstance(b, str) and b.startswith(prefixes)
    )
    by_title = matches(prs["title"], settings.hotfix_title_patterns)
    frame = pd.DataFrame(
        {
            "change_key": prs["change_key"],
            "kind": "pull_request",
            "repo": prs["repo"],
            "number": prs["number"],
            "author": prs["author"],
            "first_commit_at": first_commit,
            "created_at": prs["created_at"],
            "first_review_at": prs["first_review_at"],
            "merged_at": prs["merged_at"],
            "title": prs["title"],
            "is_bot": matches(prs["author"], settings.bot_author_patterns),
            "is_hotfix": (by_label.astype(bool) | by_branch.astype(bool) | by_title).astype(bool),
            "is_revert": matches(prs["title"], settings.revert_title_patterns),
        }
    )
    frame["start"] = frame["first_commit_at"].where(frame["first_commit_at"].notna(), frame["created_at"])
    return frame


def revert_targets(
    links: pd.DataFrame,
    commits: pd.DataFrame,
    pull_requests: pd.DataFrame,
    changes: pd.DataFrame,
    graph: CommitGraph,
    settings: MetricSettings,
) -> pd.DataFrame:
    """``revert_change_key, reverted_change_key, how`` for the deployed reverts.

    ``links`` holds the deployed commits (``repo, change_key, node``). A deployed commit whose message
    says ``This reverts commit <sha>`` reverts the change of that sha in the same repository
    (``how = message``; ``reverted_change_key`` is ``None`` when that sha is unknown: still a revert
    for the rework rate, but no deployment is marked failed by it). A deployed revert PR titled
    ``Revert "<title>"`` reverts the latest PR of the same repository merged before it with exactly
    that title (``how = title``).
    """
    by_message = _message_reverts(links, commits, graph, settings.revert_message_patterns)
    by_title = _title_reverts(pull_requests, changes, settings.revert_title_patterns)
    out = pd.concat([by_message, by_title], ignore_index=True)
    out = out[out["reverted_change_key"].isna() | (out["reverted_change_key"] != out["revert_change_key"])]
    return out.drop_duplicates(["revert_change_key", "reverted_change_key"]).reset_index(drop=True)


def _message_reverts(
    links: pd.DataFrame, commits: pd.DataFrame, graph: CommitGraph, patterns: tuple[str, ...]
) -> pd.DataFrame:
    """Revert rows (``how = message``) of the shipped commits, in shipped order, then pattern order,
    then match order."""
    compiled = [re.compile(p) for p in patterns]
    shipped = links[(links["node"] >= 0) & links["change_key"].notna()]
    messages = as_objects(commits["message"])[shipped["node"].to_numpy()]
    found = [
        (position, sha)
        for position, message in enumerate(messages)
        if isinstance(message, str)
        for pattern in compiled
        for sha in pattern.findall(message)
    ]
    positions = np.fromiter((position for position, _ in found), dtype=np.int64, count=len(found))
    shas = np.fromiter((sha for _, sha in found), dtype=object, count=len(found))
    repos = as_objects(shipped["repo"])[positions]
    targets = graph.change_keys(repos, shas)
    missing = np.flatnonzero(pd.isna(targets))
    lowered = np.fromiter((sha.lower() for sha in shas[missing]), dtype=object, count=len(missing))
    targets[missing] = graph.change_keys(repos[missing], lowered)
    return pd.DataFrame(
        {
            "revert_change_key": as_objects(shipped["change_key"])[positions],
            "reverted_change_key": targets,
            "how": "message",
        },
        columns=["revert_change_key", "reverted_change_key", "how"],
        dtype=object,
    )


def _title_reverts(pull_requests: pd.DataFrame, changes: pd.DataFrame, patterns: tuple[str, ...]) -> pd.DataFrame:
    """Revert rows (``how = title``) of the deployed revert PRs, in change order then pattern order:
    each reverts the latest PR of its repository merged strictly before it with the quoted title."""
    compiled = [re.compile(p) for p in patterns]
    revert_prs = changes[(changes["kind"] == "pull_request") & changes["is_revert"]]
    wanted = pd.DataFrame(
        [
            (change, repo, found.group(1), merged_at)
            for change, repo, title, merged_at in zip(
                revert_prs["change_key"],
                revert_prs["repo"],
                revert_prs["title"],
                revert_prs["merged_at"],
                strict=True,
            )
            for pattern in compiled
            if isinstance(title, str) and (found := pattern.search(title)) is not None
        ],
        columns=["revert_change_key", "repo", "title", "revert_merged_at"],
    )
    # The latest candidate is the last row in merge order; among PRs merged in the same instant the
    # higher number is the later one (numbers grow as PRs are opened), so the pick never depends on
    # the input's row order.
    merged = pull_requests[pull_requests["merged_at"].notna()].sort_values(["merged_at", "number"], kind="stable")
    merged = merged[["repo", "title", "merged_at", "number"]].assign(_order=np.arange(len(merged)))
    merged = merged[merged["repo"].notna() & merged["title"].notna()]
    wanted = wanted[wanted["repo"].notna() & wanted["title"].notna()].assign(_wanted=lambda f: np.arange(len(f)))
    pairs = wanted.merge(merged.astype({"repo": object, "title": object}), on=["repo", "title"])
    pairs = pairs[pairs["merged_at"] < pairs["revert_merged_at"]]
    latest = pairs.sort_values(["_wanted", "_order"]).drop_duplicates("_wanted", keep="last")
    return pd.DataFrame(
        {
            "revert_change_key": latest["revert_change_key"].to_numpy(dtype=object),
            "reverted_change_key": ("pr:" + latest["repo"].astype(str) + "#" + latest["number"].astype(str)).to_numpy(
                dtype=object
            ),
            "how": "title",
        },
        columns=["revert_change_key", "reverted_change_key", "how"],
        dtype=object,
    )

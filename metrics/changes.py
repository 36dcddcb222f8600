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

import pandas as pd

from metrics.commit_graph import CommitGraph
from metrics.settings import MetricSettings

CHANGE_COLUMNS: tuple[str, ...] = (
    "change_key", "kind", "repo", "number", "author", "start", "first_commit_at", "created_at",
    "first_review_at", "merged_at", "title", "is_bot", "is_hotfix", "is_revert",
)


def matches(values: pd.Series, patterns: tuple[str, ...]) -> pd.Series:
    """Boolean series: the value (a string; null never matches) matches any regex (``re.search``)."""
    compiled = [re.compile(p) for p in patterns]
    if not compiled or values.empty:
        return pd.Series(False, index=values.index, dtype=bool)
    unique = {
        v: any(c.search(v) for c in compiled) for v in values.dropna().unique() if isinstance(v, str)
    }
    return values.map(lambda v: unique.get(v, False)).astype(bool)


def pull_request_changes(pull_requests: pd.DataFrame) -> dict[str, str]:
    """``"<repo> <sha>" → "pr:<repo>#<number>"`` for every commit and merge sha of a merged PR.

    A sha claimed by several merged PRs of the repository goes to the earliest merged (then lowest
    number).
    """
    merged = pull_requests[pull_requests["merged_at"].notna()].sort_values(["merged_at", "number"], kind="stable")
    found: dict[str, str] = {}
    for repo, number, listed, merge_sha in merged[["repo", "number", "commits", "merge_sha"]].itertuples(
        index=False
    ):
        key = f"pr:{repo}#{number}"
        for sha in (*(listed or ()), merge_sha):
            if isinstance(sha, str) and sha:
                found.setdefault(f"{repo} {sha}", key)
    return found


def build_changes(
    links: pd.DataFrame, commits: pd.DataFrame, pull_requests: pd.DataFrame, graph: CommitGraph,
    settings: MetricSettings,
) -> pd.DataFrame:
    """One row per change shipped in ``links`` (``change_key``, ``node``) with start, author, flags."""
    known = links[links["change_key"].notna()]
    pr_keys = set(known.loc[known["change_key"].str.startswith("pr:"), "change_key"])
    lone_nodes = known.loc[known["change_key"].str.startswith("commit:"), "node"].unique()
    prs = pull_requests[pull_requests["merged_at"].notna()]
    keys = "pr:" + prs["repo"].astype(str) + "#" + prs["number"].astype(str)
    prs = prs.assign(change_key=keys)[keys.isin(pr_keys)]
    pr_rows = _pull_request_changes(prs, commits, graph, settings)
    lone = commits.iloc[lone_nodes]
    first_line = lone["message"].map(lambda m: m.splitlines()[0] if isinstance(m, str) and m else None)
    commit_rows = pd.DataFrame(
        {
            "change_key": "commit:" + lone["repo"].astype(str) + "@" + lone["sha"].astype(str), "kind": "commit",
            "repo": lone["repo"], "number": pd.NA, "author": lone["author"], "start": lone["authored_at"],
            "first_commit_at": lone["authored_at"], "created_at": pd.NaT, "first_review_at": pd.NaT,
            "merged_at": pd.NaT, "title": first_line,
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
    prs: pd.DataFrame, commits: pd.DataFrame, graph: CommitGraph, settings: MetricSettings
) -> pd.DataFrame:
    if prs.empty:
        return pd.DataFrame()
    positions: list[int] = []
    nodes: list[int] = []
    for position, (repo, listed) in enumerate(prs[["repo", "commits"]].itertuples(index=False)):
        for sha in listed or ():
            node = graph.node(repo, sha)
            if node >= 0:
                positions.append(position)
                nodes.append(node)
    authored = commits["authored_at"].iloc[nodes].reset_index(drop=True)
    earliest = authored.groupby(pd.Series(positions, dtype="int64")).min()
    from_commits = earliest.reindex(range(len(prs))).set_axis(prs.index)
    first_commit = pd.concat([prs["first_commit_at"], from_commits], axis=1).min(axis=1)
    hotfix_labels = {label.lower() for label in settings.hotfix_labels}
    by_label = prs["labels"].map(
        lambda labels: bool(labels) and any(str(x).lower() in hotfix_labels for x in labels)
    )
    prefixes = tuple(settings.hotfix_branch_prefixes)
    by_branch = prs["head_branch"].map(lambda b: bool(prefixes) and isinstance(b, str) and b.startswith(prefixes))
    by_title = matches(prs["title"], settings.hotfix_title_patterns)
    frame = pd.DataFrame(
        {
            "change_key": prs["change_key"], "kind": "pull_request", "repo": prs["repo"], "number": prs["number"],
            "author": prs["author"], "first_commit_at": first_commit, "created_at": prs["created_at"],
            "first_review_at": prs["first_review_at"], "merged_at": prs["merged_at"], "title": prs["title"],
            "is_bot": matches(prs["author"], settings.bot_author_patterns),
            "is_hotfix": (by_label.astype(bool) | by_branch.astype(bool) | by_title).astype(bool),
            "is_revert": matches(prs["title"], settings.revert_title_patterns),
        }
    )
    frame["start"] = frame["first_commit_at"].where(frame["first_commit_at"].notna(), frame["created_at"])
    return frame


def revert_targets(
    links: pd.DataFrame, commits: pd.DataFrame, pull_requests: pd.DataFrame, changes: pd.DataFrame,
    graph: CommitGraph, settings: MetricSettings,
) -> pd.DataFrame:
    """``revert_change_key, reverted_change_key, how`` for the deployed reverts.

    ``links`` holds the deployed commits (``repo, change_key, node``). A deployed commit whose message
    says ``This reverts commit <sha>`` reverts the change of that sha in the same repository
    (``how = message``; ``reverted_change_key`` is ``None`` when that sha is unknown: still a revert
    for the rework rate, but no deployment is marked failed by it). A deployed revert PR titled
    ``Revert "<title>"`` reverts the latest PR of the same repository merged before it with exactly
    that title (``how = title``).
    """
    reverting: list[str] = []
    reverted: list[str | None] = []
    how: list[str] = []
    patterns = [re.compile(p) for p in settings.revert_message_patterns]
    shipped = links[(links["node"] >= 0) & links["change_key"].notna()]
    messages = commits["message"].to_numpy()[shipped["node"].to_numpy()]
    for repo, change, message in zip(shipped["repo"], shipped["change_key"], messages, strict=True):
        if not isinstance(message, str):
            continue
        for pattern in patterns:
            for sha in pattern.findall(message):
                target = graph.change_key(repo, sha) or graph.change_key(repo, sha.lower())
                reverting.append(change)
                reverted.append(target)
                how.append("message")
    title_patterns = [re.compile(p) for p in settings.revert_title_patterns]
    revert_prs = changes[(changes["kind"] == "pull_request") & changes["is_revert"]]
    merged = pull_requests[pull_requests["merged_at"].notna()]
    by_title = merged.sort_values("merged_at").groupby(["repo", "title"])
    for change, repo, title, merged_at in revert_prs[["change_key", "repo", "title", "merged_at"]].itertuples(
        index=False
    ):
        for pattern in title_patterns:
            found = pattern.search(title) if isinstance(title, str) else None
            if found is None or (repo, found.group(1)) not in by_title.groups:
                continue
            group = by_title.get_group((repo, found.group(1)))
            earlier = group[group["merged_at"] < merged_at]
            if not earlier.empty:
                reverting.append(change)
                reverted.append(f"pr:{repo}#{earlier['number'].iloc[-1]}")
                how.append("title")
    out = pd.DataFrame({"revert_change_key": reverting, "reverted_change_key": reverted, "how": how}, dtype=object)
    out = out[out["reverted_change_key"].isna() | (out["reverted_change_key"] != out["revert_change_key"])]
    return out.drop_duplicates(["revert_change_key", "reverted_change_key"]).reset_index(drop=True)

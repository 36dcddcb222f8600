"""Local git source (``kind: git``): commits and deployments read from a local clone.

System: any local git repository, bare or not, read through the ``git`` command-line tool (no
library, no network, no credentials). Quirks handled here:

- ``git log`` output is streamed and parsed incrementally (a repository may hold a million
  commits); records are separated by ``\\x1e``, fields by ``\\x1f`` and paths by NUL (``-z``), so
  commit messages with newlines and file names with any character survive.
- Times are git's strict ISO 8601 with the author's offset, converted to UTC.
- ``--no-renames``: a rename is a deletion plus an addition, both paths are listed. Merge commits
  list no paths (git shows no diff for them): their ``paths`` is ``None``.
- git runs with ``GIT_TERMINAL_PROMPT=0``, ``LC_ALL=C``, ``core.quotepath=off`` and a ceiling
  directory so that a plain directory inside some other repository is not mistaken for a repository.

Definitions:

- Commits: every commit reachable from the configured ``branches`` (default: the branch ``HEAD``
  names) and from the deploy branch of every ``merges_into`` rule, at most ``history_days`` old on a
  full read (commit time).
- Tag deployment: each tag whose name matches the rule's pattern (``fnmatch``, case-sensitive) and
  points at a commit is one successful deployment of that commit, at the tagger date of an annotated
  tag or the commit's committer time for a lightweight tag. External id ``tag:<name>``.
- Merge deployment: each merge commit on the first-parent history of the deploy branch is one
  successful deployment of that merge commit at its committer time. External id ``merge:<sha>``.

Incremental cursors: ``commits/<branch>`` and ``merges/<branch>`` hold the last head sha read; the
next run reads ``last..head`` only, or everything again when ``last`` is no longer an ancestor of the
head (force push; upserts absorb the overlap). ``tags/<pattern>`` holds a digest of the matching
tags: unchanged, nothing is emitted. A cursor travels only with the last batch of its branch, so a
crash mid-branch re-reads and never skips.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import subprocess
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Literal, Self

from pydantic import Field, model_validator

from connectors.base import SourceContext
from connectors.errors import ErrorKind, SourceError
from connectors.records import Batch, Commit, CursorKey, Deployment, DeploymentStatus, Record
from connectors.settings import SettingsModel, SourceSettings

logger = logging.getLogger(__name__)

#: Why ``delivery-metrics rebuild`` cannot re-derive this source (see ``connectors.rebuild_support``).
REBUILD_UNSUPPORTED = "it reads a local repository and stores no raw payloads"

BATCH_SIZE = 2000
_RS, _US = "\x1e", "\x1f"
_LOG_FORMAT = "%x1e%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%cI%x1f%B%x1f"
_TAG_FORMAT = "%1f".join(
    (
        "%(refname:strip=2)",
        "%(objecttype)",
        "%(objectname)",
        "%(*objecttype)",
        "%(*objectname)",
        "%(taggerdate:iso-strict)",
        "%(committerdate:iso-strict)",
    )
)
# Variables that would point git at another repository than the configured one.
_REPO_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)


class DeploymentRule(SettingsModel):
    """How deployments are read from the repository: ``tags: "v*"`` or ``merges_into: "deploy"``."""

    tags: str | None = Field(default=None, min_length=1, description="fnmatch pattern of release tags.")
    merges_into: str | None = Field(default=None, min_length=1, description="Deploy branch.")
    service: str | None = Field(default=None, description="Default: the service owning the repository.")
    environment: str = Field(default="production", min_length=1)

    @model_validator(mode="after")
    def _exactly_one_trigger(self) -> Self:
        if (self.tags is None) == (self.merges_into is None):
            raise ValueError("give exactly one of `tags` (a pattern) or `merges_into` (a branch)")
        return self


class Settings(SourceSettings):
    """Settings of a local git source."""

    kind: Literal["git"]
    path: Path = Field(description="Local clone, bare or not.")
    repository: str | None = Field(
        default=None, min_length=1, description="Name commits are stored under; default: directory name."
    )
    branches: tuple[str, ...] = Field(default=(), description="Branches to read; default: HEAD's branch.")
    deployments: tuple[DeploymentRule, ...] = ()

    @property
    def repository_name(self) -> str:
        """The configured ``repository``, else the directory name without a ``.git`` suffix."""
        if self.repository:
            return self.repository
        name = self.path.expanduser().resolve().name
        return name.removesuffix(".git") or name


@dataclass(frozen=True, slots=True)
class TagRef:
    """A tag pointing (possibly through an annotated tag object) at a commit."""

    name: str
    sha: str
    at: datetime


def parse_commit_record(record: str, *, source: str, repo: str) -> Commit:
    """Map one ``\\x1e``-separated ``git log`` record (see ``_LOG_FORMAT``, ``-z --name-only``)."""
    sha, parents, author, email, authored, committed, rest = record.split(_US, 6)
    message, _, tail = rest.rpartition(_US)
    parent_shas = tuple(parents.split())
    paths = tuple(p for p in tail.lstrip("\0").lstrip("\n").split("\0") if p)
    return Commit(
        source=source,
        repo=repo,
        sha=sha,
        authored_at=datetime.fromisoformat(authored),
        committed_at=datetime.fromisoformat(committed),
        author=author or None,
        author_email=email or None,
        parents=parent_shas,
        message=message.rstrip("\n"),
        paths=None if len(parent_shas) > 1 and not paths else paths,
    )


def parse_tag_line(line: str) -> TagRef | None:
    """Map one ``for-each-ref`` line (``_TAG_FORMAT``); ``None`` for a tag of a tree or blob."""
    name, objtype, objname, peeled_type, peeled, tagger_date, committer_date = line.split(_US)
    if objtype == "commit":
        return TagRef(name=name, sha=objname, at=datetime.fromisoformat(committer_date))
    if objtype == "tag" and peeled_type == "commit" and tagger_date:
        return TagRef(name=name, sha=peeled, at=datetime.fromisoformat(tagger_date))
    return None


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    yield chunk


def batches_with_cursor(records: Iterable[Record], cursors: dict[CursorKey, str], size: int) -> Iterator[Batch]:
    """Cut ``records`` into batches of at most ``size``; only the last one carries ``cursors``.

    Always yields at least one batch, so the cursor advances even when there is nothing new.
    """
    pending: list[Record] = []
    for chunk in _chunks(records, size):
        if not chunk:  # only the final chunk can be empty
            break
        if pending:
            yield Batch(records=tuple(pending))
        pending = chunk
    yield Batch(records=tuple(pending), cursors=cursors)


class GitRepository:
    """Runs read-only git commands against one repository on behalf of one source."""

    def __init__(self, source: str, path: Path) -> None:
        self.source = source
        self.path = path.expanduser().resolve()
        env = {k: v for k, v in os.environ.items() if k not in _REPO_ENV}
        env.update(GIT_TERMINAL_PROMPT="0", LC_ALL="C", GIT_CEILING_DIRECTORIES=str(self.path.parent))
        self._env = env

    def _argv(self, args: Iterable[str]) -> list[str]:
        return ["git", "-C", str(self.path), "-c", "core.quotepath=off", *args]

    def _error(self, message: str, hint: str, *, resource: str | None = None) -> SourceError:
        return SourceError(self.source, message, kind=ErrorKind.FATAL, resource=resource, hint=hint)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run git and capture its output; raise ``SourceError`` on failure when ``check``."""
        try:
            done = subprocess.run(
                self._argv(args),
                env=self._env,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                check=False,
            )
        except FileNotFoundError as exc:
            raise self._error("the git executable was not found", "install git and put it on PATH") from exc
        if check and done.returncode != 0:
            raise self._error(
                f"`git {' '.join(args)}` failed in {self.path}: {done.stderr.strip()}",
                "check that the path is a readable git repository",
            )
        return done

    def check_repository(self) -> None:
        """Raise ``SourceError`` naming the path unless it is a git repository."""
        if not self.path.exists():
            raise self._error(
                f"path {self.path} does not exist",
                "set `path` to a local clone (git clone URL PATH)",
                resource="repository",
            )
        done = self.run("rev-parse", "--git-dir", check=False)
        if done.returncode != 0:
            raise self._error(
                f"path {self.path} is not a git repository: {done.stderr.strip()}",
                "set `path` to the top of a local clone or to a bare repository; "
                "for 'dubious ownership' add it to git's safe.directory",
                resource="repository",
            )

    def default_branch(self) -> str:
        """The branch ``HEAD`` names (even an unborn one), or ``HEAD`` when it is detached."""
        done = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "HEAD"

    def resolve(self, branch: str) -> str | None:
        """The commit sha of ``branch`` (a local branch, else ``origin/<branch>``), or ``None``."""
        for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}", branch):
            done = self.run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
            if done.returncode == 0:
                return done.stdout.strip()
        return None

    def has_commits(self) -> bool:
        """Whether the repository holds at least one commit (an empty clone has none)."""
        return bool(self.run("rev-list", "--all", "--max-count=1").stdout.strip())

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is reachable from ``descendant``; ``False`` when either is unknown."""
        done = self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        return done.returncode == 0

    def stream(self, args: list[str], separator: str) -> Iterator[str]:
        """Run git and yield its output split on ``separator``, without holding it all in memory."""
        with tempfile.TemporaryFile() as stderr:
            try:
                proc = subprocess.Popen(self._argv(args), env=self._env, stdout=subprocess.PIPE, stderr=stderr)
            except FileNotFoundError as exc:
                raise self._error("the git executable was not found", "install git and put it on PATH") from exc
            assert proc.stdout is not None
            try:
                yield from _split_stream(proc.stdout, separator)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.stdout.close()
                returncode = proc.wait()
            if returncode != 0:
                stderr.seek(0)
                raise self._error(
                    f"`git {' '.join(args[:3])} …` failed in {self.path}: "
                    f"{stderr.read().decode('utf-8', 'replace').strip()}",
                    "check that the configured branches exist",
                )

    def tags(self) -> list[TagRef]:
        """Every tag pointing at a commit, sorted by name."""
        out = self.run("for-each-ref", f"--format={_TAG_FORMAT}", "refs/tags").stdout
        refs = (parse_tag_line(line) for line in out.splitlines() if line)
        return sorted((ref for ref in refs if ref is not None), key=lambda ref: ref.name)


def _split_stream(stream: IO[bytes], separator: str, chunk_size: int = 1 << 16) -> Iterator[str]:
    sep = separator.encode()
    buffer = b""
    while block := stream.read(chunk_size):
        buffer += block
        *complete, buffer = buffer.split(sep)
        for part in complete:
            if part:
                yield part.decode("utf-8", "replace")
    if buffer:
        yield buffer.decode("utf-8", "replace")


class GitSource:
    """A :class:`connectors.base.Source` reading one local repository."""

    def __init__(self, settings: Settings, context: SourceContext, *, batch_size: int = BATCH_SIZE) -> None:
        self.name = settings.name
        self.settings = settings
        self.context = context
        self.repo_name = settings.repository_name
        self.git = GitRepository(settings.name, settings.path)
        self.batch_size = batch_size
        self.since = context.run_started_at - timedelta(days=settings.history_days)

    def _service(self, rule: DeploymentRule) -> str:
        return rule.service or self.context.services.service_for_repo(self.repo_name) or self.repo_name

    def _since_args(self) -> list[str]:
        """``--max-age`` (epoch seconds: ``--since`` misreads dates before 1970), none before 1970."""
        seconds = int(self.since.timestamp())
        return [f"--max-age={seconds}"] if seconds > 0 else []

    def _range(self, key: CursorKey, head: str, cursors: Mapping[CursorKey, str]) -> list[str] | None:
        """Revisions to read for ``head``: ``[head, ^last]``, a full read, or ``None`` (nothing new)."""
        last = cursors.get(key)
        if last == head or (last and self.git.is_ancestor(head, last)):
            return None
        if last and self.git.is_ancestor(last, head):
            return [head, f"^{last}"]
        if last:
            logger.info("%s: %s moved from %s to a non-descendant (force push): full read", self.name, key, last)
        return [head, *self._since_args()]

    def batches(self, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        """Commits per branch, then deployments per rule; see the module docstring."""
        self.git.check_repository()
        if not self.git.has_commits():
            logger.info("%s: repository %s has no commits yet", self.name, self.git.path)
            return
        branches = list(self.settings.branches) or [self.git.default_branch()]
        for rule in self.settings.deployments:
            if rule.merges_into and rule.merges_into not in branches:
                branches.append(rule.merges_into)
        read_heads: list[str] = []
        for branch in branches:
            head = self._head(branch)
            yield from self._commit_batches(branch, head, cursors, read_heads)
            read_heads.append(head)
        for rule in self.settings.deployments:
            if rule.tags:
                yield from self._tag_batches(rule, rule.tags, cursors)
            elif rule.merges_into:
                yield from self._merge_batches(rule, rule.merges_into, cursors)

    def _head(self, branch: str) -> str:
        head = self.git.resolve(branch)
        if head is None:
            raise SourceError(
                self.name,
                f"branch {branch!r} not found in {self.git.path}",
                resource="commits",
                hint="fix `branches` or `merges_into`, or fetch the branch into the clone",
            )
        return head

    def _commit_batches(
        self, branch: str, head: str, cursors: Mapping[CursorKey, str], exclude: list[str]
    ) -> Iterator[Batch]:
        key = CursorKey("commits", branch)
        revisions = self._range(key, head, cursors)
        if revisions is None:
            if cursors.get(key) != head:
                yield Batch(cursors={key: head})
            return
        args = ["log", "-z", "--no-renames", "--name-only", f"--format={_LOG_FORMAT}", *revisions]
        args += [f"^{sha}" for sha in exclude if sha != head] + ["--"]
        records = (
            parse_commit_record(part, source=self.name, repo=self.repo_name) for part in self.git.stream(args, _RS)
        )
        yield from batches_with_cursor(records, {key: head}, self.batch_size)

    def _tag_batches(self, rule: DeploymentRule, pattern: str, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        key = CursorKey("tags", pattern)
        tags = [tag for tag in self.git.tags() if fnmatch.fnmatchcase(tag.name, pattern)]
        listing = "\n".join(f"{tag.name} {tag.sha} {tag.at.isoformat()}" for tag in tags)
        digest = hashlib.sha256(listing.encode()).hexdigest()
        if cursors.get(key) == digest:
            return
        records = (self._deployment(rule, f"tag:{tag.name}", tag.sha, tag.at) for tag in tags if tag.at >= self.since)
        yield from batches_with_cursor(records, {key: digest}, self.batch_size)

    def _merge_batches(self, rule: DeploymentRule, branch: str, cursors: Mapping[CursorKey, str]) -> Iterator[Batch]:
        key = CursorKey("merges", branch)
        head = self._head(branch)
        revisions = self._range(key, head, cursors)
        if revisions is None:
            if cursors.get(key) != head:
                yield Batch(cursors={key: head})
            return
        args = ["log", "--first-parent", "--merges", "--format=%H%x1f%cI", *revisions, "--"]
        records = (
            self._deployment(rule, f"merge:{sha}", sha, datetime.fromisoformat(at.strip()))
            for sha, at in (line.split(_US) for line in self.git.stream(args, "\n"))
        )
        yield from batches_with_cursor(records, {key: head}, self.batch_size)

    def _deployment(self, rule: DeploymentRule, external_id: str, sha: str, at: datetime) -> Deployment:
        return Deployment(
            source=self.name,
            external_id=external_id,
            service=self._service(rule),
            environment=rule.environment,
            status=DeploymentStatus.SUCCESS,
            sha=sha,
            finished_at=at,
            started_at=None,
            repo=self.repo_name,
        )


def build_source(settings: Settings, context: SourceContext) -> GitSource:
    """Build the git source for one run."""
    return GitSource(settings, context)

"""Checked reads of raw API objects for the pure mappings: a wrong shape raises ``ValueError``
naming the field (never ``AttributeError``), so a source reports it as a per-source error."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.http.incremental import parse_time

_REMOTE_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://[^/]+/|[^@/\s]+@[^:/\s]+:)(?P<path>.+?)(?:\.git)?/?$", re.IGNORECASE)


def obj(value: Any, what: str) -> Mapping[str, Any]:
    """``value`` when it is a JSON object, ``{}`` when absent; ``ValueError`` naming ``what`` otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what}: expected an object, got {type(value).__name__}")
    return value


def objects(value: Any, what: str) -> list[Mapping[str, Any]]:
    """The objects of a JSON array (``[]`` when absent); ``ValueError`` naming ``what`` for anything else."""
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ValueError(f"{what}: expected an array, got {type(value).__name__}")
    return [obj(item, f"{what}[{i}]") for i, item in enumerate(value)]


def time_of(value: Any, what: str) -> datetime | None:
    """:func:`parse_time` of ``value``; an unreadable value raises ``ValueError`` naming ``what``."""
    if isinstance(value, Mapping | list | bool):
        raise ValueError(f"{what}: expected a timestamp, got {type(value).__name__}")
    try:
        return parse_time(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{what}: {error}") from error


def identifier(raw: Mapping[str, Any], key: str) -> str:
    """``raw[key]`` as text: ``KeyError(key)`` when absent, ``ValueError`` naming it when not a string or number."""
    value = raw[key]
    if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{key}: expected a string or number, got {type(value).__name__}")
    return str(value)


def repo_of_git_url(url: object) -> str | None:
    """The repository a git remote URL names, spelled as the Git-host sources name repositories.

    ``https://host/owner/name(.git)``, ``ssh://git@host:port/owner/name`` and ``git@host:owner/name``
    give ``owner/name`` (nested groups kept: ``group/sub/name``); an Azure Repos URL
    ``https://dev.azure.com/org/project/_git/repo`` gives ``project/repo`` (the ``azure_devops``
    source's naming). ``None`` for anything else (empty, not text, no path).
    """
    if not isinstance(url, str) or not url.strip():
        return None
    match = _REMOTE_URL.match(url.strip())
    if match is None:
        return None
    path = match.group("path").strip("/")
    if "/_git/" in f"/{path}/":
        before, _, name = path.partition("_git/")
        project = before.strip("/").rsplit("/", 1)[-1]
        return f"{project}/{name.strip('/')}" if project and name.strip("/") else None
    return path or None

"""Checked reads of raw API objects for the pure mappings: a wrong shape raises ``ValueError``
naming the field (never ``AttributeError``), so a source reports it as a per-source error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.http.incremental import parse_time


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

"""The contract of rebuilding a source's records from its stored raw payloads, and its small helpers.

A connector module supporting a rebuild exposes, next to ``Settings`` and ``build_source``::

    def records_from_payloads(
        settings: Settings, context: SourceContext, payloads: Sequence[RawPayload]
    ) -> list[Record]

returning the records (never raw payloads) its sync would have written for those API objects with the
current ``settings`` and ``context``, by calling the same mapping functions as its sync. It may also
expose ``rebuild_blocker(settings) -> str | None``: why these particular settings cannot be rebuilt.

A module that cannot be rebuilt at all exposes ``REBUILD_UNSUPPORTED: str`` saying why.

Definitions:

- *rebuildable*: every record the sync writes is a function of API objects the sync stores as raw
  payloads, of the settings and of the configured services;
- a raw payload's *partition* is the part of its ``external_id`` before a marker such as
  ``/pipelines/``: the repository or project the object belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Protocol

from connectors.base import SourceContext
from connectors.records import RawPayload, Record


class RecordsFromPayloads(Protocol):
    """A connector's rebuild entry point (see the module docstring)."""

    def __call__(self, settings: object, context: SourceContext, payloads: Sequence[RawPayload], /) -> list[Record]:
        """The records the sync would write for ``payloads`` under ``settings``."""
        ...


def of_kind(payloads: Iterable[RawPayload], kind: str) -> Iterator[RawPayload]:
    """The payloads of one raw kind, in the given order."""
    return (payload for payload in payloads if payload.kind == kind)


def by_external_id(payloads: Iterable[RawPayload], kind: str) -> dict[str, RawPayload]:
    """The payloads of one raw kind keyed by ``external_id``."""
    return {payload.external_id: payload for payload in of_kind(payloads, kind)}


def stored_companion(payloads: Mapping[str, RawPayload], external_id: str, what: str) -> RawPayload:
    """The payload stored beside ``external_id`` (e.g. a pull request's commit list), read with ``by_external_id``.

    Raises ``ValueError`` naming the item and ``what`` is missing when the sync that read the item did
    not store it (data synced before that payload kind existed): the source must be synced once more.
    """
    found = payloads.get(external_id)
    if found is None:
        raise ValueError(f"{external_id}: {what} was not stored by the sync that read it; re-sync the source")
    return found


def partition_of(external_id: str, marker: str) -> str:
    """The part of ``external_id`` before the last ``marker`` (``acme/shop/actions/runs/1`` → ``acme/shop``)."""
    head, found, _ = external_id.rpartition(marker)
    if not found:
        raise ValueError(f"raw payload id {external_id!r} has no {marker!r}")
    return head

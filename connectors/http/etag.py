"""Conditional-request cache: ETags kept per URL and credential, persisted through cursors.

An ETag is stored as the cursor ``CursorKey(resource="etag", partition=<key>)`` where ``<key>`` is
the SHA-256 (hex, 32 chars) of the credential identity and the URL, so the value travels in the
same transaction as the data of the page it describes and survives restarts. The credential
identity is itself a hash of the token (ETags differ per token on GitHub); no secret is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from connectors.records import CursorKey

ETAG_RESOURCE = "etag"


def credential_identity(secret: str) -> str:
    """A stable, non-reversible identity of a credential (16 hex chars of its SHA-256)."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class EtagStore:
    """ETags of one source for one run: read from the stored cursors, new ones returned as cursors."""

    def __init__(self, cursors: Mapping[CursorKey, str], identity: str) -> None:
        self._identity = identity
        self._known = {k.partition: v for k, v in cursors.items() if k.resource == ETAG_RESOURCE}

    def key(self, url: str) -> CursorKey:
        """The cursor key holding the ETag of ``url`` for this credential."""
        digest = hashlib.sha256(f"{self._identity}\n{url}".encode()).hexdigest()[:32]
        return CursorKey(resource=ETAG_RESOURCE, partition=digest)

    def get(self, url: str) -> str | None:
        """The stored ETag of ``url``, if any."""
        return self._known.get(self.key(url).partition)

    def cursor(self, url: str, etag: str) -> dict[CursorKey, str]:
        """The cursor entry storing ``etag`` for ``url`` (put it in the batch holding that page)."""
        key = self.key(url)
        self._known[key.partition] = etag
        return {key: etag}

"""Secret redaction for every log line, exception message and stored URL.

A :class:`Redactor` knows the literal secrets of one source (its token) and the query parameter
names that carry credentials. :meth:`Redactor.text` replaces both in any string, so callers pass
every URL, header dump or exception text through it before it leaves the HTTP layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"

#: Query parameters whose values are credentials in some API (GitLab ``private_token``, OAuth ...).
SENSITIVE_PARAMS: frozenset[str] = frozenset(
    {"private_token", "access_token", "job_token", "token", "client_secret", "api_key", "apikey", "key", "sig"}
)

_PARAM_PATTERN = re.compile(r"(?i)\b(" + "|".join(sorted(SENSITIVE_PARAMS, key=len, reverse=True)) + r")=([^&\s#\"']+)")
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)([^/@\s:]+):([^/@\s]+)@")


@dataclass(frozen=True, slots=True)
class Redactor:
    """Removes known secrets from text and URLs.

    ``secrets`` are literal values (tokens); empty strings and values shorter than 4 characters are
    ignored so that redaction never mangles ordinary text.
    """

    secrets: tuple[str, ...] = field(default=())

    @classmethod
    def for_secrets(cls, values: Iterable[str | None]) -> Redactor:
        """A redactor for the given secret values (``None`` and blanks are skipped)."""
        kept = sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)
        return cls(tuple(kept))

    def text(self, value: object) -> str:
        """``str(value)`` with every secret, credential query parameter and URL password masked."""
        result = str(value)
        for secret in self.secrets:
            result = result.replace(secret, REDACTED)
        result = _PARAM_PATTERN.sub(lambda m: f"{m.group(1)}={REDACTED}", result)
        return _USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{REDACTED}@", result)

    def url(self, url: str) -> str:
        """The URL with credential query parameters and any password masked; safe to store."""
        parts = urlsplit(url)
        query = parts.query
        if query:
            pairs = [
                (k, REDACTED if k.lower() in SENSITIVE_PARAMS else v)
                for k, v in parse_qsl(query, keep_blank_values=True)
            ]
            query = urlencode(pairs, safe="*:")
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{REDACTED}@{host}"
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

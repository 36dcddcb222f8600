"""Logging for the CLI and `serve`: plain lines on stderr, with every configured secret redacted."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "***"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SecretRedactingFilter(logging.Filter):
    """Replaces every known secret value in a record's message and arguments with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._pattern: re.Pattern[str] | None = None
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        """Replace the set of values to redact (values shorter than 4 characters are ignored)."""
        values = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        redacted = self._pattern.sub(REDACTED, message)
        if record.exc_text:
            record.exc_text = self._pattern.sub(REDACTED, record.exc_text)
        record.msg, record.args = redacted, None
        return True


_filter = SecretRedactingFilter()


def configure_logging(level: str | None = None, secrets: Iterable[str] | None = None) -> None:
    """Install one stderr handler with the redaction filter; later calls update level and secrets."""
    root = logging.getLogger()
    if not any(getattr(handler, "_delivery_metrics", False) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(_filter)
        handler._delivery_metrics = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    if level is not None:
        root.setLevel(level)
        # alembic's per-migration chatter is noise at info level
        logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    if secrets is not None:
        _filter.set_secrets(secrets)

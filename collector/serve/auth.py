"""Authentication: the push API's bearer token, and optional basic auth for the rest of the app.

Secrets are compared with ``hmac.compare_digest``. Basic auth (``server.basic_auth``) covers every
path except the probes (``/healthz``, ``/readyz``), the webhooks (signed by their provider) and the
push API (bearer token): each of those has its own check or needs none.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from collector.serve.settings import BasicAuthSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths that basic auth never covers (they have their own authentication or need none).
BASIC_AUTH_EXEMPT = ("/healthz", "/readyz", "/webhooks/", "/api/v1/events")

bearer_scheme = HTTPBearer(auto_error=False, description="The `server.api_token` of the config.")


def _equal(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def check_bearer(token: SecretStr | None, credentials: HTTPAuthorizationCredentials | None) -> None:
    """403 when no token is configured (push disabled), 401 unless the request carries it."""
    if token is None or not token.get_secret_value():
        raise HTTPException(status_code=403, detail="the push API is disabled: set server.api_token in the config")
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(status_code=401, detail="bearer token required", headers={"WWW-Authenticate": "Bearer"})
    if not _equal(token.get_secret_value(), credentials.credentials):
        raise HTTPException(status_code=401, detail="invalid bearer token", headers={"WWW-Authenticate": "Bearer"})


def basic_credentials_match(settings: BasicAuthSettings, header: str | None) -> bool:
    """Whether an ``Authorization: Basic …`` header carries the configured user and password."""
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user, _, password = decoded.partition(":")
    user_ok = _equal(settings.username, user)
    password_ok = _equal(settings.password.get_secret_value(), password)
    return user_ok and password_ok


class BasicAuthMiddleware:
    """ASGI middleware answering 401 to any non-exempt HTTP request without the right credentials."""

    def __init__(self, app: ASGIApp, settings: BasicAuthSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(BASIC_AUTH_EXEMPT):
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope.get("headers", [])}
        if basic_credentials_match(self.settings, headers.get("authorization")):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Basic realm="delivery-metrics"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b'{"detail":"authentication required"}'})

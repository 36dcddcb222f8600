"""``POST /webhooks/{github,gitlab,pagerduty}``: size limit, signature, replay check, records.

Order of checks: a body over ``server.max_body_bytes`` is 413 (never read whole); a receiver
without a configured secret is 404; a missing or bad signature is 401; a body that is not a JSON
object is 400; a payload missing a required field is 422. Nothing is stored in any of those cases.
A handled event is stored with its records (200 ``stored``), a replayed delivery changes nothing
(200 ``duplicate``), an event kind that is not handled is acknowledged (200 ``ignored``).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from collector.serve.body import read_limited_body
from collector.serve.context import ServeContext
from collector.serve.webhooks.base import PayloadError, WebhookReceiver
from collector.serve.webhooks.store import store_delivery

logger = logging.getLogger(__name__)

_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing or bad signature"},
    404: {"description": "webhook not configured"},
    413: {"description": "body too large"},
    422: {"description": "payload lacks a required field"},
}


async def receive_webhook(context: ServeContext, receiver: WebhookReceiver, request: Request) -> JSONResponse:
    """Check, translate and store one delivery (see the module docstring)."""
    body = await read_limited_body(request, context.server.max_body_bytes)
    if not receiver.enabled:
        raise HTTPException(status_code=404, detail=f"the {receiver.provider} webhook is not configured")
    headers = {key.lower(): value for key, value in request.headers.items()}
    if not receiver.verify(headers, body):
        logger.warning("%s webhook: rejected a delivery with a missing or bad signature", receiver.provider)
        raise HTTPException(status_code=401, detail="missing or invalid signature")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HTTPException(status_code=400, detail="the body is not JSON") from None
    if not isinstance(payload, dict):
        raise HTTPException(status_code=400, detail="the body is not a JSON object")
    try:
        translation = receiver.to_records(headers, payload)
    except (PayloadError, ValueError, TypeError, KeyError) as error:
        raise HTTPException(status_code=422, detail=f"cannot read the payload: {error}") from None
    if translation is None:
        return JSONResponse({"status": "ignored"})
    result = await run_in_threadpool(
        store_delivery,
        context.engine,
        source=receiver.source,
        provider=receiver.provider,
        delivery_id=receiver.delivery_id(headers, payload),
        body=body,
        payload=payload,
        records=translation.records,
        received_at=context.clock(),
        reopened=translation.reopened,
    )
    if result.duplicate:
        return JSONResponse({"status": "duplicate", "event": translation.event})
    if sum(result.stored.values()):
        context.on_stored()
    return JSONResponse({"status": "stored", "event": translation.event, "stored": dict(result.stored)})


def build_webhook_router(context: ServeContext) -> APIRouter:
    """The three webhook routes bound to ``context``."""
    router = APIRouter(prefix="/webhooks", tags=["webhooks"])
    receivers = context.receivers

    @router.post("/github", summary="GitHub webhook", openapi_extra=_BODY, responses=_RESPONSES)
    async def github(
        request: Request,
        x_hub_signature_256: Annotated[str | None, Header(description="sha256=<hex HMAC-SHA256>")] = None,
        x_github_event: Annotated[str | None, Header()] = None,
        x_github_delivery: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        return await receive_webhook(context, receivers["github"], request)

    @router.post("/gitlab", summary="GitLab webhook", openapi_extra=_BODY, responses=_RESPONSES)
    async def gitlab(
        request: Request,
        x_gitlab_token: Annotated[str | None, Header()] = None,
        x_gitlab_event_uuid: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        return await receive_webhook(context, receivers["gitlab"], request)

    @router.post("/pagerduty", summary="PagerDuty v3 webhook", openapi_extra=_BODY, responses=_RESPONSES)
    async def pagerduty(
        request: Request,
        x_pagerduty_signature: Annotated[str | None, Header(description="v1=<hex>[,v1=<hex>…]")] = None,
    ) -> JSONResponse:
        return await receive_webhook(context, receivers["pagerduty"], request)

    return router

"""``GET /api/v1/metrics`` (the report JSON from the snapshot) and ``POST /api/v1/events`` (push).

``GET /api/v1/metrics`` answers the body of ``report --format json`` — ``{"as_of", "band_table",
"results"}`` — from the snapshot in memory, with the same filters: ``team`` keeps the team rows and
the service rows of those teams, ``service`` the rows of those services (both may repeat; the
organisation row is kept only without a filter), ``window`` (``30d``) one window. ``period=previous``
gives the windows just before the current ones.

``POST /api/v1/events`` stores canonical events (a JSON array, or JSON Lines) exactly as ``ingest``
does: every item validated, all stored in one transaction or none; a 422 lists every bad item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials

from collector.events.parse import DEFAULT_EVENT_SOURCE
from collector.events.schema import event_json_schema
from collector.ingest import IngestResult, ingest_lines
from collector.serve.auth import bearer_scheme, check_bearer
from collector.serve.body import read_limited_body
from collector.serve.context import ServeContext

_WINDOW = re.compile(r"^(\d+)d$")


def filter_rows(
    rows: Sequence[Mapping[str, Any]],
    teams: Sequence[str] | None,
    services: Sequence[str] | None,
    window_days: int | None,
) -> list[dict[str, Any]]:
    """The rows ``report`` keeps for these filters (see the module docstring)."""
    kept: list[dict[str, Any]] = []
    for row in rows:
        if window_days is not None and int(row["window_days"]) != window_days:
            continue
        if teams or services:
            by_team = bool(teams) and row.get("team") in (teams or ()) and row.get("team") is not None
            by_service = bool(services) and row.get("service") is not None and row.get("service") in (services or ())
            if not (by_team or by_service):
                continue
        kept.append(dict(row))
    return kept


def _problem_body(result: IngestResult) -> dict[str, Any]:
    count = len(result.invalid_lines)
    return {
        "detail": f"{count} invalid item(s): nothing stored",
        "problems": [{"item": p.line, "field": p.field, "message": p.message} for p in result.problems],
    }


def _lines(body: bytes) -> list[str] | JSONResponse:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return JSONResponse({"detail": "the body is not UTF-8 text", "problems": []}, status_code=400)
    if not text.lstrip().startswith("["):
        return text.splitlines()
    try:
        items = json.loads(text)
    except json.JSONDecodeError as error:
        problem = {"item": None, "field": "", "message": f"not valid JSON: {error.msg} at line {error.lineno}"}
        return JSONResponse({"detail": "the body is not a JSON array", "problems": [problem]}, status_code=400)
    # one JSON line per array item, so items are numbered (1-based) exactly as ingest numbers lines
    return [json.dumps(item) for item in items]


def _events_openapi() -> dict[str, Any]:
    event = event_json_schema()
    event.pop("$schema", None)
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": event}},
                "application/x-ndjson": {"schema": {"type": "string", "description": "JSON Lines of events"}},
            },
        }
    }


def build_api_router(context: ServeContext) -> APIRouter:
    """The ``/api/v1`` routes bound to ``context``."""
    router = APIRouter(prefix="/api/v1", tags=["api"])

    @router.get("/metrics", summary="The metrics report (same JSON as `report --format json`)")
    def get_metrics(
        team: Annotated[list[str] | None, Query(description="Keep this team's rows (repeatable).")] = None,
        service: Annotated[list[str] | None, Query(description="Keep this service's rows (repeatable).")] = None,
        window: Annotated[str | None, Query(pattern=r"^\d+d$", description="One window, e.g. `30d`.")] = None,
        period: Annotated[Literal["current", "previous"], Query()] = "current",
    ) -> JSONResponse:
        snapshot = context.holder.current.snapshot
        if snapshot is None:
            raise HTTPException(status_code=503, detail="no metrics computed yet")
        match = _WINDOW.match(window) if window else None
        rows = snapshot.current if period == "current" else snapshot.previous
        results = filter_rows(rows, team, service, int(match.group(1)) if match else None)
        body = {"as_of": snapshot.as_of.isoformat(), "band_table": snapshot.band_table, "results": results}
        return JSONResponse(body)

    @router.post(
        "/events",
        summary="Push canonical events (JSON array or JSON Lines); all stored or none",
        openapi_extra=_events_openapi(),
        responses={
            401: {"description": "bearer token missing or wrong"},
            413: {"description": "body too large"},
            422: {"description": "invalid items, each listed; nothing stored"},
        },
    )
    async def post_events(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        source: Annotated[str, Query(pattern=r"^[A-Za-z0-9_.-]{1,200}$")] = DEFAULT_EVENT_SOURCE,
    ) -> JSONResponse:
        check_bearer(context.server.api_token, credentials)
        body = await read_limited_body(request, context.server.max_body_bytes)
        lines = _lines(body)
        if isinstance(lines, JSONResponse):
            return lines
        # no worker processes inside the server: a push is one request among many, on the threads it already has
        result = await run_in_threadpool(ingest_lines, context.engine, lines, source=source, workers=0)
        if result.problems:
            return JSONResponse(_problem_body(result), status_code=422)
        if sum(result.stored.values()):
            context.on_stored()
        return JSONResponse({"events": result.valid_events, "stored": dict(result.stored)})

    return router

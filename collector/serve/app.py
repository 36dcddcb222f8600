"""The one HTTP app of `serve`: probes, ``/metrics``, the JSON API, push ingestion and webhooks.

The OpenAPI description is served at ``/openapi.json`` (interactive docs at ``/docs``).

- ``GET /healthz``: 200 while the process runs.
- ``GET /readyz``: 200 when the database answers and a snapshot is served, else 503 with the reasons.
- ``GET /metrics``: the Prometheus exposition of the snapshot in memory (see ``docs/metrics-reference.md``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from collector import __version__
from collector.serve.auth import BasicAuthMiddleware
from collector.serve.context import ServeContext
from collector.serve.exporter import build_exposition_registries
from collector.serve.exposition import ExpositionCache, accepts_gzip
from collector.serve.routes_api import build_api_router
from collector.serve.routes_webhooks import build_webhook_router

OPENAPI_PATH = "/openapi.json"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _database_problem(context: ServeContext) -> str | None:
    try:
        with context.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        return f"database unreachable: {type(error).__name__}"
    return None


def create_app(context: ServeContext, lifespan: Lifespan | None = None) -> FastAPI:
    """The app bound to ``context``; ``lifespan`` starts and stops the scheduler when given."""
    app = FastAPI(
        title="delivery-metrics",
        version=__version__,
        description="DORA metrics per team, service and environment: report API, event push and webhooks.",
        openapi_url=OPENAPI_PATH,
        lifespan=lifespan,
    )
    exposition = ExpositionCache(context.holder, *build_exposition_registries(context.holder, context.config.exporter))
    # render (and gzip) each new state in the thread that produced it, so that no scrape pays for it
    context.holder.subscribe(exposition.render_gzip)

    @app.get("/healthz", tags=["probes"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["probes"],
        summary="The database answers and a snapshot is served",
        responses={503: {"description": "not ready, with the reasons"}},
    )
    async def readyz() -> JSONResponse:
        problems: list[str] = []
        database = await run_in_threadpool(_database_problem, context)
        if database:
            problems.append(database)
        snapshot = context.holder.current.snapshot
        if snapshot is None:
            problems.append("no metrics snapshot yet")
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, status_code=503)
        assert snapshot is not None
        return JSONResponse({"status": "ready", "snapshot_as_of": snapshot.as_of.isoformat()})

    @app.get(
        "/metrics",
        tags=["probes"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def metrics(request: Request) -> Response:
        gzipped = accepts_gzip(request.headers.get("accept-encoding"))
        body = exposition.ready(gzipped)
        if body is None:  # the state changed since the last scrape: render once, off the event loop
            body = await run_in_threadpool(exposition.render_gzip if gzipped else exposition.render)
        if gzipped:
            return Response(
                body, media_type=CONTENT_TYPE_LATEST, headers={"Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
            )
        return Response(body, media_type=CONTENT_TYPE_LATEST, headers={"Vary": "Accept-Encoding"})

    app.include_router(build_api_router(context))
    app.include_router(build_webhook_router(context))
    if context.server.basic_auth is not None:
        app.add_middleware(BasicAuthMiddleware, settings=context.server.basic_auth)  # type: ignore[arg-type]
    return app


def scheduler_lifespan(start: Callable[[], Any], stop: Callable[[], Any]) -> Lifespan:
    """A lifespan calling ``start`` when the app starts and ``stop`` when it shuts down (off the loop)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(start)
        try:
            yield
        finally:
            await run_in_threadpool(stop)

    return lifespan

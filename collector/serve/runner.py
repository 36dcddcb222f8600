"""Running `serve`: the app under uvicorn, the scheduler beside it, a clean stop on SIGTERM/SIGINT.

On SIGTERM or SIGINT uvicorn stops accepting connections and finishes the requests in flight, then
the scheduler stops: no new run starts, a run in flight stops after its current page is committed,
and the process waits at most ``server.shutdown_grace`` for that. If a page is still being written
then, the process exits anyway and the database rolls that transaction back (it never commits half
a page). Exit status 0 after a requested stop.
"""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType

import uvicorn
from sqlalchemy import Engine

from collector.config.model import AppConfig
from collector.serve.app import create_app, scheduler_lifespan
from collector.serve.context import build_context
from collector.serve.scheduler import SyncService
from collector.serve.settings import ServerSettings, is_loopback
from collector.serve.state import StateHolder
from collector.store.catalog import sync_catalog

logger = logging.getLogger(__name__)


#: seconds an idle keep-alive connection is kept open
KEEP_ALIVE_SECONDS = 65


def _note_signal(signum: int, _frame: FrameType | None) -> None:
    logger.info("received %s: stopping", signal.Signals(signum).name)


def run_server(engine: Engine, config: AppConfig, server: ServerSettings) -> int:
    """Serve until SIGTERM/SIGINT; return the exit status."""
    with engine.begin() as connection:
        sync_catalog(connection, config)
    holder = StateHolder(s.name for s in config.sources if s.enabled)
    service = SyncService(engine, config, server, holder)
    context = build_context(engine, config, server=server, holder=holder, on_stored=service.request_recompute)
    app = create_app(context, lifespan=scheduler_lifespan(service.start, service.stop))
    if not is_loopback(server.host) and (server.basic_auth is None or server.tls is None):
        logger.warning(
            "listening on %s without %s: put it behind a trusted proxy or configure server.basic_auth and server.tls",
            server.host,
            " and ".join(n for n, v in (("basic auth", server.basic_auth), ("TLS", server.tls)) if v is None),
        )
    uvicorn_config = uvicorn.Config(
        app,
        host=server.host,
        port=server.port,
        log_config=None,
        access_log=False,
        ssl_certfile=server.tls.cert_file if server.tls else None,
        ssl_keyfile=server.tls.key_file if server.tls else None,
        timeout_graceful_shutdown=max(1, int(server.shutdown_grace.total_seconds())),
        # idle keep-alive connections outlive a 60 s scrape interval, so a scraper reusing its
        # connection never races the server closing it
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    # uvicorn re-raises the signal that stopped it once it is done: answer it with a log line, not a kill
    signal.signal(signal.SIGTERM, _note_signal)
    signal.signal(signal.SIGINT, _note_signal)
    uvicorn.Server(uvicorn_config).run()
    engine.dispose()
    left = service.busy()
    if left:
        logger.warning("exiting with %s still syncing: the database rolls back the unfinished page", ", ".join(left))
        logging.shutdown()
        os._exit(0)
    logger.info("stopped")
    return 0

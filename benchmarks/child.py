"""One measurement in a process of its own, so its peak RSS (``ru_maxrss``) is its own.

``python -m benchmarks.child KIND --url URL [--events FILE] [--config FILE --as-of ISO]`` prints one
JSON object on stdout. Kinds: ``import`` (``ingest_lines`` over the file), ``raw-insert`` and
``raw-read`` (the driver ceilings of :mod:`benchmarks.ceilings`), ``recompute`` (``compute`` plus
``compute_report`` for every scope × window, then the links and snapshot saved as ``recompute`` does).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.ceilings import raw_insert, raw_read
from collector.config import load_config
from collector.ingest import ingest_lines
from collector.recompute import compute, previous_rows, save_links
from collector.snapshot import Snapshot, save_snapshot
from collector.store.engine import create_store_engine
from collector.store.frames import path_selection
from connectors.records import utc_now
from metrics import compute_report


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measure_import(url: str, events: Path) -> dict[str, Any]:
    """Time ``ingest_lines`` over ``events`` (one transaction, as the CLI does)."""
    engine = create_store_engine(url)
    cpu_before = _cpu_seconds(resource.RUSAGE_SELF), _cpu_seconds(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with events.open(encoding="utf-8") as lines:
        result = ingest_lines(engine, lines)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "seconds": seconds,
        # CPU of this (the writing) process and of its finished worker processes: steadier than wall
        # time on a shared machine
        "cpu_seconds_writer": _cpu_seconds(resource.RUSAGE_SELF) - cpu_before[0],
        "cpu_seconds_workers": _cpu_seconds(resource.RUSAGE_CHILDREN) - cpu_before[1],
        "records": result.valid_events,
        "stored": dict(result.stored),
        "committed": result.committed,
        "invalid_lines": len(result.invalid_lines),
        "peak_rss_bytes": peak_rss_bytes(),
    }


def measure_raw_insert(url: str, events: Path) -> dict[str, Any]:
    """Time the bare ``executemany`` ceiling for the rows of ``events``."""
    engine = create_store_engine(url)
    with events.open(encoding="utf-8") as lines:
        timing = raw_insert(engine, lines)
    engine.dispose()
    return {"seconds": timing.seconds, "records": timing.rows, "per_table": timing.per_table}


def measure_raw_read(url: str, config_path: Path | None = None) -> dict[str, Any]:
    """Time reading the metric input columns with the bare driver (the columns the product reads for
    the config at ``config_path``: commit paths only where a path-prefix service may read them)."""
    engine = create_store_engine(url)
    timing = raw_read(engine, paths=True if config_path is None else path_selection(load_config(config_path)))
    engine.dispose()
    return {"seconds": timing.seconds, "rows": timing.rows, "per_table": timing.per_table}


def measure_recompute(url: str, config_path: Path, as_of: datetime) -> dict[str, Any]:
    """Time ``compute`` and ``compute_report`` (every scope × window); then persist like ``recompute``."""
    config = load_config(config_path)
    engine = create_store_engine(url)
    started = time.perf_counter()
    computation = compute(engine, config)
    loaded = time.perf_counter()
    current = compute_report(computation.inputs, computation.settings, as_of, links=computation.links)
    reported = time.perf_counter()
    rss_compute = peak_rss_bytes()
    previous = previous_rows(computation, as_of)
    with engine.begin() as connection:
        save_links(connection, computation.links)
    save_snapshot(
        engine,
        Snapshot(
            as_of=as_of,
            computed_at=utc_now(),
            config_hash=config.fingerprint(),
            band_table=computation.settings.band_table,
            current=tuple(current),
            previous=tuple(previous),
        ),
    )
    persisted = time.perf_counter()
    engine.dispose()
    scopes: dict[str, int] = {}
    for row in current:
        scopes[str(row["scope"])] = scopes.get(str(row["scope"]), 0) + 1
    return {
        "seconds": reported - started,
        "compute_seconds": loaded - started,
        "report_seconds": reported - loaded,
        "persist_seconds": persisted - reported,
        "rows": len(current),
        "rows_by_scope": scopes,
        "windows": sorted({int(row["window_days"]) for row in current}),
        "peak_rss_bytes_compute": rss_compute,
        "peak_rss_bytes": peak_rss_bytes(),
    }


def main(argv: list[str] | None = None) -> int:
    """Run one measurement and print its JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.child")
    parser.add_argument("kind", choices=["import", "raw-insert", "raw-read", "recompute"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", type=Path)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--as-of", type=datetime.fromisoformat)
    args = parser.parse_args(argv)
    if args.kind == "import":
        result = measure_import(args.url, args.events)
    elif args.kind == "raw-insert":
        result = measure_raw_insert(args.url, args.events)
    elif args.kind == "raw-read":
        result = measure_raw_read(args.url, args.config)
    else:
        as_of = args.as_of
        if as_of is None or as_of.utcoffset() is None:
            parser.error("--as-of must be an ISO time with an offset")
        result = measure_recompute(args.url, args.config, as_of + timedelta(0))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Crash consistency: ``delivery-metrics sync`` killed with SIGKILL at seeded random moments, then rerun.

Each trial starts from an empty store, kills the sync subprocess at a moment spread over the whole
conversation with the fake GitHub and GitLab hosts (every source, every page; at once on a request
or a few milliseconds after it, so also inside write transactions), checks that no stored cursor
claims data that is not stored, reruns the sync to completion and compares every table with the
store of one uninterrupted sync (see ``store_dump`` for what "same content" means). It runs on both
backends: a fresh SQLite file per trial, and the run's PostgreSQL database emptied before each trial.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from crash_harness import KillingHosts, KillPlan, cursors_ahead_of_data, run_sync, write_config
from database_support import BACKENDS, empty_postgres
from store_dump import differences, dump_store

from collector.store.engine import create_store_engine
from collector.store.schema import upgrade

#: 42 sync subprocesses per backend: a few minutes on a busy 2-core machine
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

TRIALS = 20
SEED = 20240611


@pytest.fixture(scope="module")
def hosts() -> Iterator[KillingHosts]:
    server = KillingHosts().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "empty.db"
    engine = create_store_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


#: A fresh, empty store for one trial: ``(directory, hosts) -> (url, config path)``.
StoreFactory = Callable[[Path, KillingHosts], tuple[str, Path]]


@pytest.fixture(params=BACKENDS)
def fresh_store(request: pytest.FixtureRequest, empty_store: Path) -> StoreFactory:
    """A factory of empty stores: a copy of the migrated SQLite file, or the emptied PostgreSQL database."""

    def sqlite(directory: Path, hosts: KillingHosts) -> tuple[str, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        database = directory / "store.db"
        shutil.copyfile(empty_store, database)
        url = f"sqlite:///{database}"
        return url, write_config(directory / "config.yaml", hosts.base, url)

    def postgresql(directory: Path, hosts: KillingHosts) -> tuple[str, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        url: str = request.getfixturevalue("postgres_url")
        engine = create_store_engine(url)
        empty_postgres(engine)
        engine.dispose()
        return url, write_config(directory / "config.yaml", hosts.base, url)

    return sqlite if request.param == "sqlite" else postgresql


def test_sync_killed_at_random_moments_then_rerun_equals_an_uninterrupted_sync(hosts, fresh_store, tmp_path):
    url, config = fresh_store(tmp_path / "baseline", hosts)
    earlier = len(hosts.log)  # the hosts serve both backends' runs: count this baseline's requests only
    assert run_sync(config, hosts, None) == 0
    engine = create_store_engine(url)
    expected = dump_store(engine)
    engine.dispose()
    assert expected["commits"] and expected["pull_requests"] and expected["deployments"]
    assert {row for row in expected["sync_state"] if '"etag"' not in row}, "the baseline stored no watermark"
    total = len(hosts.log) - earlier
    assert total >= 20, f"the baseline made only {total} requests; the trials would not cover the pages"

    rng = random.Random(SEED)
    killed = 0
    failures: list[str] = []
    for trial in range(TRIALS):
        at = 1 + (trial * total) // TRIALS + rng.randrange(max(1, total // TRIALS))
        plan = KillPlan(at_request=min(at, total), delay=0.0 if trial % 2 == 0 else rng.uniform(0.001, 0.03))
        url, config = fresh_store(tmp_path / f"trial{trial}", hosts)
        code = run_sync(config, hosts, plan)
        killed += code != 0
        engine = create_store_engine(url)
        for problem in cursors_ahead_of_data(engine):
            failures.append(f"trial {trial} {plan} after the kill: {problem}")
        engine.dispose()
        assert run_sync(config, hosts, None) == 0
        engine = create_store_engine(url)
        for problem in differences(expected, dump_store(engine)):
            failures.append(f"trial {trial} {plan} after the rerun: {problem}")
        engine.dispose()
    assert not failures, f"{len(failures)} problems:\n" + "\n".join(failures[:12])
    assert killed >= TRIALS - 2, f"only {killed} of {TRIALS} syncs were actually killed"

"""The /metrics exposition is rendered once per served state, and again only after the state changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from collector.serve.exporter import build_exposition_registries, build_registry
from collector.serve.exposition import ExpositionCache
from collector.serve.state import StateHolder
from collector.snapshot import Snapshot


class CountingRegistry:
    """Wraps a registry and counts how often it is collected (i.e. how often the text is rendered)."""

    def __init__(self, registry) -> None:
        self.registry = registry
        self.collections = 0

    def collect(self):
        self.collections += 1
        return self.registry.collect()


def _counting_cache(holder: StateHolder) -> tuple[ExpositionCache, CountingRegistry, CountingRegistry]:
    per_snapshot, per_state = build_exposition_registries(holder)
    counted = CountingRegistry(per_snapshot), CountingRegistry(per_state)
    return ExpositionCache(holder, *counted), *counted


def test_scrapes_of_one_state_reuse_one_rendering_and_a_swap_renders_anew(demo_snapshot: Snapshot) -> None:
    holder = StateHolder(["git"], snapshot=demo_snapshot)
    cache, per_snapshot, per_state = _counting_cache(holder)

    first = cache.render()
    assert cache.render() is first
    assert (per_snapshot.collections, per_state.collections) == (1, 1)
    assert b"dora_deployments" in first

    newer = replace(
        demo_snapshot,
        as_of=demo_snapshot.as_of + timedelta(hours=1),
        current=tuple({**row, "deployments": 999} for row in demo_snapshot.current),
    )
    holder.replace_snapshot(newer)
    second = cache.render()
    assert (per_snapshot.collections, per_state.collections) == (2, 2)
    assert b" 999.0" in second and b" 999.0" not in first

    # a finished sync changes the health only: the DORA part is reused, not rendered again
    holder.record_run("git", succeeded=False, finished_at=newer.as_of, duration_seconds=1.0)
    third = cache.render()
    assert (per_snapshot.collections, per_state.collections) == (2, 3)
    assert b'delivery_metrics_source_up{source="git"} 0.0' in third
    assert b'delivery_metrics_source_up{source="git"}' not in second
    assert b" 999.0" in third


def test_the_two_parts_together_are_every_family_of_the_registry(demo_snapshot: Snapshot) -> None:
    holder = StateHolder(["git"], snapshot=demo_snapshot)
    holder.record_run("git", succeeded=True, finished_at=demo_snapshot.as_of, duration_seconds=1.0)
    cache = ExpositionCache(holder, *build_exposition_registries(holder))

    def samples(text: bytes) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
        families = text_string_to_metric_families(text.decode())
        return {(s.name, tuple(sorted(s.labels.items())), s.value) for f in families for s in f.samples}

    assert samples(cache.render()) == samples(generate_latest(build_registry(holder)))


def test_gzip_is_compressed_once_per_rendering_and_decompresses_to_the_plain_text(demo_snapshot: Snapshot) -> None:
    import gzip

    holder = StateHolder(["git"], snapshot=demo_snapshot)
    cache = ExpositionCache(holder, *build_exposition_registries(holder))
    packed = cache.render_gzip()
    assert cache.render_gzip() is packed
    assert gzip.decompress(packed) == cache.render()


def test_accept_encoding_parsing() -> None:
    from collector.serve.exposition import accepts_gzip

    assert accepts_gzip("gzip")
    assert accepts_gzip("deflate, gzip;q=0.5")
    assert accepts_gzip("*")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("identity")
    assert not accepts_gzip(None)


def test_metrics_endpoint_answers_gzip_only_to_clients_that_ask(demo_snapshot: Snapshot, engine) -> None:
    import gzip

    from fastapi.testclient import TestClient

    from collector.config import AppConfig
    from collector.serve.app import create_app
    from collector.serve.context import build_context

    holder = StateHolder(["git"], snapshot=demo_snapshot)
    app = create_app(build_context(engine, AppConfig(), holder=holder))
    client = TestClient(app)
    plain = client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert b"dora_deployments" in plain.content
    with client.stream("GET", "/metrics", headers={"Accept-Encoding": "gzip"}) as response:
        assert response.headers["content-encoding"] == "gzip"
        body = b"".join(response.iter_raw())
    assert gzip.decompress(body) == plain.content


def test_ready_gives_the_cached_bytes_of_the_current_state_only_and_never_renders(demo_snapshot: Snapshot) -> None:
    holder = StateHolder(["git"], snapshot=demo_snapshot)
    cache, per_snapshot, per_state = _counting_cache(holder)
    assert cache.ready(gzipped=False) is None and cache.ready(gzipped=True) is None
    assert per_snapshot.collections == per_state.collections == 0  # asking never renders

    plain = cache.render()
    assert cache.ready(gzipped=False) is plain
    assert cache.ready(gzipped=True) is None  # not compressed yet
    packed = cache.render_gzip()
    assert cache.ready(gzipped=True) is packed

    holder.record_run("git", succeeded=True, finished_at=demo_snapshot.as_of, duration_seconds=1.0)
    assert cache.ready(gzipped=False) is None and cache.ready(gzipped=True) is None  # a new state
    assert per_snapshot.collections == per_state.collections == 1


def test_metrics_endpoint_exports_the_configured_selection(demo_snapshot: Snapshot, engine) -> None:
    from fastapi.testclient import TestClient

    from collector.config import AppConfig
    from collector.serve.app import create_app
    from collector.serve.context import build_context
    from collector.serve.exporter_settings import ExporterSettings

    previous_service = b'period="previous",scope="service"'
    bodies = {}
    for name, exporter in (("default", ExporterSettings()), ("full", ExporterSettings(full=True))):
        holder = StateHolder(["git"], snapshot=demo_snapshot)
        client = TestClient(create_app(build_context(engine, AppConfig(exporter=exporter), holder=holder)))
        bodies[name] = client.get("/metrics").content
        assert client.get("/metrics").content == bodies[name]  # the second scrape: the cached bytes
    assert b'dora_deployments{environment="production",period="current",scope="service"' in bodies["default"]
    assert previous_service not in bodies["default"]
    assert previous_service in bodies["full"]


def test_a_new_state_is_rendered_by_its_writer_so_no_scrape_pays_for_it(
    demo_snapshot: Snapshot, engine, monkeypatch
) -> None:
    from fastapi.testclient import TestClient

    from collector.config import AppConfig
    from collector.serve.app import create_app
    from collector.serve.context import build_context

    holder = StateHolder(["git"], snapshot=None)
    client = TestClient(create_app(build_context(engine, AppConfig(), holder=holder)))
    holder.replace_snapshot(demo_snapshot)  # as the recompute thread does
    holder.record_run("git", succeeded=True, finished_at=demo_snapshot.as_of, duration_seconds=1.0)

    def refuse(self: ExpositionCache) -> bytes:
        raise AssertionError("a scrape rendered")

    monkeypatch.setattr(ExpositionCache, "render", refuse)
    monkeypatch.setattr(ExpositionCache, "render_gzip", refuse)
    gzipped = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    plain = client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert b"dora_deployments" in plain.content and gzipped.content == plain.content  # the writers' bytes


def test_a_failing_subscriber_never_breaks_the_writer(demo_snapshot: Snapshot, caplog) -> None:
    holder = StateHolder(["git"])
    calls: list[int] = []
    holder.subscribe(lambda: 1 / 0)
    holder.subscribe(lambda: calls.append(1))
    holder.replace_snapshot(demo_snapshot)
    holder.record_run("git", succeeded=True, finished_at=demo_snapshot.as_of, duration_seconds=1.0)
    assert holder.current.snapshot is demo_snapshot and holder.current.sources["git"].up is True
    assert calls == [1, 1] and "a state subscriber failed" in caplog.text

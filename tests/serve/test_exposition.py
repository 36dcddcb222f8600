"""The /metrics exposition is rendered once per served state, and again only after the state changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from collector.serve.exporter import build_registry
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


def test_scrapes_of_one_state_reuse_one_rendering_and_a_swap_renders_anew(demo_snapshot: Snapshot) -> None:
    holder = StateHolder(["git"], snapshot=demo_snapshot)
    counting = CountingRegistry(build_registry(holder))
    cache = ExpositionCache(counting, holder)  # type: ignore[arg-type]

    first = cache.render()
    assert cache.render() is first
    assert counting.collections == 1
    assert b"dora_deployments" in first

    newer = replace(
        demo_snapshot,
        as_of=demo_snapshot.as_of + timedelta(hours=1),
        current=tuple({**row, "deployments": 999} for row in demo_snapshot.current),
    )
    holder.replace_snapshot(newer)
    second = cache.render()
    assert counting.collections == 2
    assert b" 999.0" in second and b" 999.0" not in first

    holder.record_run("git", succeeded=False, finished_at=newer.as_of, duration_seconds=1.0)
    third = cache.render()
    assert counting.collections == 3
    assert b'delivery_metrics_source_up{source="git"} 0.0' in third


def test_gzip_is_compressed_once_per_rendering_and_decompresses_to_the_plain_text(demo_snapshot: Snapshot) -> None:
    import gzip

    holder = StateHolder(["git"], snapshot=demo_snapshot)
    cache = ExpositionCache(build_registry(holder), holder)
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

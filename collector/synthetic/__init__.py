"""A seeded generator of a realistic synthetic organisation, emitting canonical events.

``generate_org(size, seed, end)`` builds teams (one elite-ish, one low-ish, the others between),
services (one pair sharing a monorepo, split by path prefixes) and their repositories;
``SyntheticOrg.events()`` streams canonical events (plain JSON-serialisable dicts of the ingest
schema, ISO 8601 timestamps with offsets) deterministically for ``(size, seed, end)``: the clock is
never read. Presets: ``demo`` (4 teams, 10 services, 180 days), ``S`` (5, 20, 90 days), ``M``
(30, 200, 1 year), ``L`` (100, 1,000, 2 years).
"""

from __future__ import annotations

from collector.synthetic.model import Person
from collector.synthetic.org import SyntheticOrg, SyntheticService, generate_org
from collector.synthetic.output import services_config, write_jsonl
from collector.synthetic.profiles import DEMO, ORG_SIZES, PROFILES, L, M, OrgSize, Profile, S

__all__ = [
    "DEMO",
    "ORG_SIZES",
    "PROFILES",
    "L",
    "M",
    "OrgSize",
    "Person",
    "Profile",
    "S",
    "SyntheticOrg",
    "SyntheticService",
    "generate_org",
    "services_config",
    "write_jsonl",
]

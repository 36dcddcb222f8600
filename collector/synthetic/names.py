"""Word lists for the synthetic organisation: team, service, people, file and change names.

Names are drawn with the caller's seeded ``random.Random``, so they are deterministic.
"""

from __future__ import annotations

import random

TEAM_WORDS = (
    "falcon",
    "otter",
    "lynx",
    "heron",
    "badger",
    "orca",
    "panda",
    "raven",
    "tiger",
    "walrus",
    "bison",
    "cobra",
    "dingo",
    "eagle",
    "ferret",
    "gecko",
    "hyena",
    "ibis",
    "jackal",
    "koala",
    "lemur",
    "marten",
    "narwhal",
    "ocelot",
    "puffin",
    "quokka",
    "rhino",
    "stoat",
    "tapir",
    "urchin",
    "viper",
    "wombat",
    "yak",
    "zebra",
    "alpaca",
    "beaver",
    "condor",
    "dolphin",
    "egret",
    "fox",
    "gannet",
    "hornet",
    "impala",
    "jaguar",
    "kestrel",
    "llama",
    "moose",
    "newt",
    "osprey",
    "pelican",
)
SERVICE_DOMAINS = (
    "checkout",
    "payments",
    "search",
    "catalog",
    "inventory",
    "shipping",
    "billing",
    "accounts",
    "identity",
    "pricing",
    "orders",
    "cart",
    "reviews",
    "recommend",
    "notify",
    "email",
    "media",
    "ledger",
    "fraud",
    "tax",
    "returns",
    "loyalty",
    "gateway",
    "reporting",
    "analytics",
    "audit",
    "ads",
    "session",
    "profile",
    "support",
    "chat",
    "feeds",
    "geo",
    "maps",
    "quotes",
    "invoices",
    "refunds",
    "wallet",
    "coupons",
    "partners",
    "vendors",
    "content",
    "sitemap",
    "export",
    "import",
    "scheduler",
    "workflow",
    "storage",
    "thumbnails",
    "webhooks",
)
SERVICE_KINDS = (
    "api",
    "worker",
    "web",
    "service",
    "consumer",
    "gateway",
    "scheduler",
    "indexer",
    "sync",
    "admin",
    "batch",
    "proxy",
    "store",
    "events",
    "jobs",
    "backend",
    "frontend",
    "cron",
    "edge",
    "ingest",
    "stream",
    "router",
    "cache",
    "rules",
    "bridge",
)
FIRST_NAMES = (
    "alice",
    "bruno",
    "chen",
    "dana",
    "emeka",
    "fatima",
    "gus",
    "hana",
    "ivan",
    "jules",
    "kofi",
    "lena",
    "mateo",
    "nadia",
    "omar",
    "priya",
    "quinn",
    "rosa",
    "sven",
    "tara",
    "umar",
    "vera",
    "wei",
    "ximena",
    "yusuf",
    "zoe",
    "arjun",
    "bea",
    "carlos",
    "dmitri",
    "elif",
    "farah",
)
LAST_NAMES = (
    "nguyen",
    "smith",
    "garcia",
    "kowalski",
    "okafor",
    "tanaka",
    "silva",
    "muller",
    "rossi",
    "khan",
    "dubois",
    "ivanova",
    "larsen",
    "moreau",
    "patel",
    "santos",
    "yilmaz",
    "berg",
    "costa",
    "haddad",
)
# Minutes east of UTC; most people commit at +00:00, some elsewhere.
REMOTE_OFFSETS = (330, -300, 60, 540, -480, 120)
AUTHOR_OFFSETS = (0,) * 12 + REMOTE_OFFSETS
MODULES = ("core", "handlers", "models", "clients", "jobs", "views", "db", "auth", "config", "metrics")
FILES = ("service", "routes", "schema", "client", "retry", "cache", "queue", "mapper", "limits", "utils")
VERBS = ("Add", "Fix", "Refactor", "Improve", "Remove", "Update", "Speed up", "Simplify", "Handle", "Log")
TOPICS = (
    "retry on timeout",
    "pagination",
    "currency rounding",
    "cache invalidation",
    "input validation",
    "null handling",
    "rate limiting",
    "feature flag",
    "error messages",
    "logging",
    "batch size",
    "timezone bug",
    "connection pool",
    "metrics labels",
    "config loading",
    "health check",
    "idempotency key",
    "webhook signature",
    "sorting order",
    "empty results",
)
PACKAGES = ("requests", "urllib3", "django", "lodash", "react", "express", "pydantic", "boto3", "axios", "jest")
LABELS = ("feature", "bug", "chore", "refactor", "tests", "docs")


def team_names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct team names: single words, then ``word-word`` pairs when more are needed."""
    names = list(TEAM_WORDS)
    rng.shuffle(names)
    if count > len(names):
        pairs = [f"{a}-{b}" for a in TEAM_WORDS for b in TEAM_WORDS if a != b]
        rng.shuffle(pairs)
        names += pairs
    return names[:count]


def service_names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct service names ``domain-kind``; plain domains first while they last."""
    domains = list(SERVICE_DOMAINS)
    rng.shuffle(domains)
    combos = [f"{d}-{k}" for d in SERVICE_DOMAINS for k in SERVICE_KINDS]
    rng.shuffle(combos)
    if count <= len(domains):
        return [f"{d}-{rng.choice(SERVICE_KINDS[:4])}" for d in domains[:count]]
    if count > len(combos):
        raise ValueError(f"at most {len(combos)} synthetic services, asked for {count}")
    return combos[:count]


def person_handle(rng: random.Random, taken: set[str]) -> str:
    """A new ``first-last`` handle not in ``taken`` (a digit is appended after collisions)."""
    while True:
        handle = f"{rng.choice(FIRST_NAMES)}-{rng.choice(LAST_NAMES)}"
        if handle in taken:
            handle = f"{handle}{rng.randrange(2, 100)}"
        if handle not in taken:
            taken.add(handle)
            return handle


def change_title(rng: random.Random) -> str:
    """A human pull request or commit title, e.g. ``Fix pagination in routes``."""
    return f"{rng.choice(VERBS)} {rng.choice(TOPICS)} in {rng.choice(FILES)}"


def slug(text: str) -> str:
    """A branch-name slug of ``text``."""
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())[:40]

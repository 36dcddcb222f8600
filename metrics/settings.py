"""Settings of the metrics engine: windows, link rules, detection patterns and the band table.

Every threshold and pattern of the definitions in ``docs/metrics.md`` lives here, with the
documented default. The dataclass is frozen: build it once (the collector maps its validated
configuration onto it) and pass it to :func:`metrics.links.derive_links` and
:func:`metrics.report.compute_report`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import timedelta

DEFAULT_BOT_AUTHOR_PATTERNS: tuple[str, ...] = (r"(?i)\[bot\]$", r"(?i)dependabot", r"(?i)renovate")
DEFAULT_REVERT_MESSAGE_PATTERNS: tuple[str, ...] = (r"This reverts commit ([0-9a-fA-F]{7,40})",)
DEFAULT_REVERT_TITLE_PATTERNS: tuple[str, ...] = (r'^Revert "(.+)"\s*$',)


@dataclass(frozen=True, slots=True)
class MetricSettings:
    """How the DORA figures are computed.

    - ``windows_days``: rolling windows ending at the as-of instant; an item is in a window when
      ``as_of - window < t <= as_of``.
    - ``incident_link_window``: an incident without an explicit cause is linked to the latest
      successful production deployment of its service finished before it and at most this long before.
    - ``bot_author_patterns``: regexes (``re.search``) on the change author; matching changes are left
      out of lead time (their deployments still count).
    - ``hotfix_branch_prefixes`` / ``hotfix_labels`` / ``hotfix_title_patterns``: a pull request
      matching any of them is a hotfix change (rework). Labels compare case-insensitively.
    - ``revert_message_patterns``: regexes on commit messages whose first group is the reverted sha.
    - ``revert_title_patterns``: regexes on pull-request titles whose first group is the title of the
      reverted pull request.
    - ``default_production_environments``: production environments of a service absent from the
      ``services`` frame.
    - ``band_table``: name of the benchmark band table (``metrics/bands/<name>.json``).
    - ``quantiles``: the quantiles reported for lead time (p50, p75, p90).
    """

    windows_days: tuple[int, ...] = (7, 30, 90)
    incident_link_window: timedelta = timedelta(hours=24)
    bot_author_patterns: tuple[str, ...] = DEFAULT_BOT_AUTHOR_PATTERNS
    hotfix_branch_prefixes: tuple[str, ...] = ("hotfix/",)
    hotfix_labels: tuple[str, ...] = ("hotfix",)
    hotfix_title_patterns: tuple[str, ...] = ()
    revert_message_patterns: tuple[str, ...] = DEFAULT_REVERT_MESSAGE_PATTERNS
    revert_title_patterns: tuple[str, ...] = DEFAULT_REVERT_TITLE_PATTERNS
    default_production_environments: tuple[str, ...] = ("production", "prod")
    band_table: str = "dora-2023"
    quantiles: tuple[float, ...] = field(default=(0.5, 0.75, 0.9))

    def __post_init__(self) -> None:
        if not self.windows_days or any(int(d) <= 0 for d in self.windows_days):
            raise ValueError(f"windows_days must be positive whole days, got {self.windows_days!r}")
        if self.incident_link_window < timedelta(0):
            raise ValueError("incident_link_window must not be negative")
        if any(not 0.0 <= q <= 1.0 for q in self.quantiles):
            raise ValueError(f"quantiles must lie in [0, 1], got {self.quantiles!r}")

    def config_hash(self) -> str:
        """A stable SHA-256 of every setting, for the snapshot table (same settings → same hash)."""
        data = asdict(self)
        data["incident_link_window"] = self.incident_link_window.total_seconds()
        encoded = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()

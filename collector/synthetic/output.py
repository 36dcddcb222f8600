"""Writing a synthetic organisation out: JSON Lines of events and a config fragment of services."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from collector.synthetic.org import SyntheticOrg


def write_jsonl(org: SyntheticOrg, path: Path | str) -> int:
    """Write every event of ``org`` to ``path`` as JSON Lines (UTF-8); return the number written."""
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    count = 0
    with Path(path).open("w", encoding="utf-8") as out:
        lines: list[str] = []
        for event in org.events():
            lines.append(encode(event))
            count += 1
            if len(lines) >= 10_000:
                out.write("\n".join(lines) + "\n")
                lines.clear()
        if lines:
            out.write("\n".join(lines) + "\n")
    return count


def services_config(org: SyntheticOrg) -> list[dict[str, Any]]:
    """The organisation's services as config entries: name, team, repositories, path_prefixes."""
    return [
        {
            "name": service.name,
            "team": service.team,
            "repositories": list(service.repositories),
            "path_prefixes": list(service.path_prefixes),
        }
        for service in org.services
    ]

"""Audit of the Jira mapping: the resolution time an incident gets from its changelog.

external-apis.md §9: each changelog history has ``created`` and ``items[]`` with ``field`` and
``fromString``/``toString``; done / not done comes from the status category. docs/metrics.md: time to
restore service is ``resolved_at - created_at``. A common Jira workflow resolves an incident
(``Resolved``, the service is back) and closes it later (``Closed``, a bookkeeping step, often an
automatic one days later): both statuses are done, so the restore happened at ``Resolved``, not at
``Closed``. Jira's own ``resolutiondate`` agrees (it is set on the resolve and kept on the close).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.jira import Settings
from connectors.jira_mapping import incident_from_issue


def _settings() -> Settings:
    return Settings.model_validate(
        {"name": "jira", "kind": "jira", "base_url": "https://acme.atlassian.net", "token": "t", "projects": ["OPS"]}
    )


def _history(history_id: str, created: str, from_status: str, to_status: str) -> dict[str, Any]:
    return {
        "id": history_id,
        "created": created,
        "items": [{"field": "status", "fieldId": "status", "fromString": from_status, "toString": to_status}],
    }


def _closed_issue(histories: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An issue whose current status is ``Closed`` (category done), in Jira Cloud v3 search shape."""
    return {
        "key": "OPS-7",
        "fields": {
            "summary": "Checkout down",
            "created": "2024-05-10T10:00:00.000+0200",
            "updated": "2024-05-13T09:00:00.000+0200",
            "resolutiondate": "2024-05-10T11:30:00.000+0200",
            "status": {"name": "Closed", "statusCategory": {"key": "done"}},
            "issuetype": {"name": "Incident"},
        },
        "changelog": {"startAt": 0, "maxResults": len(histories), "total": len(histories), "histories": histories},
    }


def test_resolved_then_closed_is_restored_at_the_resolve_not_the_later_close() -> None:
    histories = [
        _history("1", "2024-05-10T10:05:00.000+0200", "To Do", "In Progress"),
        _history("2", "2024-05-10T11:30:00.000+0200", "In Progress", "Resolved"),
        _history("3", "2024-05-13T09:00:00.000+0200", "Resolved", "Closed"),
    ]
    incident = incident_from_issue("jira", _closed_issue(histories), histories, _settings())
    # Resolved at 11:30+0200 = 09:30Z; the close three days later is not a restore
    assert incident.resolved_at == datetime(2024, 5, 10, 9, 30, tzinfo=UTC)


def test_reopened_then_resolved_and_closed_is_restored_at_the_final_resolve() -> None:
    histories = [
        _history("1", "2024-05-10T10:30:00.000+0200", "To Do", "Resolved"),
        _history("2", "2024-05-10T11:00:00.000+0200", "Resolved", "Reopened"),
        _history("3", "2024-05-10T12:15:00.000+0200", "Reopened", "Resolved"),
        _history("4", "2024-05-12T08:00:00.000+0200", "Resolved", "Closed"),
    ]
    incident = incident_from_issue("jira", _closed_issue(histories), histories, _settings())
    # the final done streak starts at 12:15+0200 = 10:15Z (not the first resolve, not the close)
    assert incident.resolved_at == datetime(2024, 5, 10, 10, 15, tzinfo=UTC)

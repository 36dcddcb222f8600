"""Incident withdrawals in a source's batch: the incident, its derived links and its raw payloads are
deleted, nothing else; the last word on a key within a batch wins. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, insert, select

from collector.store.models import DeploymentRow, IncidentDeployment, IncidentRow, RawPayloadRow
from collector.store.withdraw import write_batch
from connectors.records import Deployment, DeploymentStatus, Incident, IncidentWithdrawal, RawPayload, Record

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KINDS = ("pd.incident", "pd.log_entries")


def incident(external_id: str, source: str = "pd") -> Incident:
    return Incident(source, external_id, "shop", T0, resolved_at=T0 + timedelta(hours=1))


def payload(external_id: str, kind: str = "pd.incident", source: str = "pd") -> RawPayload:
    return RawPayload(source, kind, external_id, T0, {"id": external_id})


def stored(engine: Engine) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]], int, int]:
    with engine.connect() as connection:
        incidents = connection.execute(select(IncidentRow.source, IncidentRow.external_id).order_by("id")).all()
        payloads = connection.execute(
            select(RawPayloadRow.source, RawPayloadRow.kind, RawPayloadRow.external_id).order_by("id")
        ).all()
        links = connection.execute(select(func.count()).select_from(IncidentDeployment)).scalar_one()
        deployments = connection.execute(select(func.count()).select_from(DeploymentRow)).scalar_one()
    return [tuple(r) for r in incidents], [tuple(r) for r in payloads], links, deployments


def write(engine: Engine, records: list[Record]) -> dict[str, int]:
    with engine.begin() as connection:
        return dict(write_batch(connection, records))


def test_withdrawal_deletes_the_incident_its_links_and_its_payloads_and_nothing_else(engine: Engine) -> None:
    deployment = Deployment("gh", "d-1", "shop", "production", DeploymentStatus.SUCCESS, "a" * 40, T0)
    first = [
        deployment,
        incident("i-1"),
        payload("i-1"),
        payload("i-1", "pd.log_entries"),
        payload("i-1", "other.kind"),
        incident("i-2"),
        payload("i-2"),
        incident("i-1", source="other"),
    ]
    write(engine, first)
    with engine.begin() as connection:
        query = select(IncidentRow.external_id, IncidentRow.id).where(IncidentRow.source == "pd")
        ids = {external_id: row_id for external_id, row_id in connection.execute(query)}
        deployment_id = connection.execute(select(DeploymentRow.id)).scalar_one()
        connection.execute(
            insert(IncidentDeployment),
            [{"incident_id": ids[i], "deployment_id": deployment_id, "method": "time_window"} for i in ("i-1", "i-2")],
        )

    counts = write(engine, [IncidentWithdrawal("pd", "i-1", KINDS)])

    assert counts == {"incidents withdrawn": 1, "raw payloads withdrawn": 2}
    incidents, payloads, links, deployments = stored(engine)
    assert incidents == [("pd", "i-2"), ("other", "i-1")]  # the same id of another source is kept
    assert payloads == [("pd", "other.kind", "i-1"), ("pd", "pd.incident", "i-2")]  # only the named kinds go
    assert links == 1  # i-1's link cascaded away, i-2's kept
    assert deployments == 1


def test_withdrawing_a_key_holding_nothing_changes_and_counts_nothing(engine: Engine) -> None:
    write(engine, [incident("i-2"), payload("i-2")])
    assert write(engine, [IncidentWithdrawal("pd", "never-stored", KINDS)]) == {}
    assert write(engine, [IncidentWithdrawal("pd", "never-stored", KINDS)]) == {}  # twice: still nothing
    assert stored(engine)[:2] == ([("pd", "i-2")], [("pd", "pd.incident", "i-2")])


def test_within_a_batch_the_last_word_on_a_key_wins(engine: Engine) -> None:
    write(engine, [incident("i-3"), payload("i-3")])
    counts = write(
        engine,
        [
            incident("i-1"),
            payload("i-1"),
            IncidentWithdrawal("pd", "i-1", KINDS),  # last word on i-1: withdrawn, never written
            IncidentWithdrawal("pd", "i-2", KINDS),
            incident("i-2"),  # last word on i-2: an incident again
            payload("i-2"),
            IncidentWithdrawal("pd", "i-3", KINDS),  # stored by an earlier batch: deleted
        ],
    )
    assert counts == {"incidents": 1, "raw_payloads": 1, "incidents withdrawn": 1, "raw payloads withdrawn": 1}
    assert stored(engine)[:2] == ([("pd", "i-2")], [("pd", "pd.incident", "i-2")])

"""The teams, services and repositories tables, kept equal to the config on every run."""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from collector.config.model import AppConfig
from collector.store.models import Repository, Service, ServiceRepository, Team
from collector.store.upsert import upsert


def sync_catalog(connection: Connection, config: AppConfig) -> None:
    """Make the catalog tables describe exactly the teams and services of ``config``."""
    teams = Team.__table__
    services = Service.__table__
    upsert(connection, teams, [{"name": team.name} for team in config.teams], ("name",), ())  # type: ignore[arg-type]
    team_ids = dict(connection.execute(select(Team.name, Team.id)).all())
    rows = [
        {
            "name": service.name,
            "team_id": team_ids.get(service.team),
            "path_prefixes": list(service.path_prefixes),
            "production_environments": list(config.service_production_environments(service)),
        }
        for service in config.services
    ]
    upsert(connection, services, rows, ("name",))  # type: ignore[arg-type]
    wanted_services = {service.name for service in config.services}
    connection.execute(delete(Service).where(Service.name.not_in(wanted_services)))
    wanted_teams = {team.name for team in config.teams}
    connection.execute(delete(Team).where(Team.name.not_in(wanted_teams)))
    repos = sorted({repo for service in config.services for repo in service.repositories})
    upsert(connection, Repository.__table__, [{"name": repo} for repo in repos], ("name",), ())  # type: ignore[arg-type]
    repo_ids = dict(connection.execute(select(Repository.name, Repository.id)).all())
    service_ids = dict(connection.execute(select(Service.name, Service.id)).all())
    connection.execute(delete(ServiceRepository))
    links = [
        {"service_id": service_ids[service.name], "repository_id": repo_ids[repo]}
        for service in config.services
        for repo in dict.fromkeys(service.repositories)
    ]
    if links:
        connection.execute(ServiceRepository.__table__.insert(), links)  # type: ignore[attr-defined]

"""The ``exporter:`` config section: defaults, parsing, and windows that must be computed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from collector.config import load_config_text
from collector.config.errors import ConfigError
from collector.serve.exporter_settings import EVERYTHING, ExporterSettings

BASE = """\
teams: [{name: payments}]
services: [{name: checkout, team: payments}]
"""


def test_defaults_keep_teams_and_organisation_whole_and_services_at_30d_current_without_levels():
    exporter = load_config_text(BASE).exporter
    assert exporter == ExporterSettings()
    assert exporter.for_scope("organization") == exporter.for_scope("team") == EVERYTHING
    service = exporter.for_scope("service")
    assert service.window_days() == frozenset({30})
    assert (service.previous, service.levels) == (False, False)
    assert EVERYTHING.window_days() is None  # every window


def test_the_section_is_read_from_yaml_and_full_overrides_every_scope():
    text = BASE + "exporter:\n  service: {windows: [7d, 90d], previous: true}\n  team: {levels: false}\n"
    exporter = load_config_text(text).exporter
    assert exporter.service.windows == (timedelta(days=7), timedelta(days=90))
    # keys left out keep the scope's own defaults: levels stay off for services, on for teams
    assert exporter.service.previous is True and exporter.service.levels is False
    assert exporter.team.levels is False and exporter.team.window_days() is None
    full = load_config_text(text + "  full: true\n").exporter
    assert all(full.for_scope(scope) == EVERYTHING for scope in ("organization", "team", "service"))


def test_windows_all_restores_every_window_of_a_scope():
    exporter = load_config_text(BASE + "exporter:\n  service: {windows: all}\n").exporter
    assert exporter.service.window_days() is None


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("exporter:\n  service: {windows: [14d]}\n", "exporter.service.windows: 14d not among metrics.windows"),
        ("exporter:\n  team: {windows: [36h]}\n", "exporter.team.windows: Value error, windows are whole days"),
        ("exporter:\n  service: {windows: []}\n", "exporter.service.windows: Value error, at least one window"),
        ("exporter:\n  service: {window: [30d]}\n", "exporter.service.window: unknown key"),
        # the default 30d of services must be computed too
        ("metrics: {windows: [7d, 90d]}\n", "exporter.service.windows: 30d not among metrics.windows (7d, 90d)"),
    ],
)
def test_a_wrong_section_is_a_config_error_naming_the_key(section, expected):
    with pytest.raises(ConfigError) as caught:
        load_config_text(BASE + section, "c.yaml")
    assert expected in str(caught.value)


def test_full_accepts_any_metric_windows():
    config = load_config_text(BASE + "metrics: {windows: [7d, 90d]}\nexporter: {full: true}\n")
    assert config.exporter.full is True

"""Loading the YAML config: parse, interpolate, validate, cross-check — reporting every problem at once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from collector.config.errors import ConfigError, ConfigProblem
from collector.config.interpolation import interpolate
from collector.config.model import AppConfig
from collector.source_registry import source_kinds
from connectors.settings import SourceSettings

DEFAULT_CONFIG_ENV = "DELIVERY_METRICS_CONFIG"

Path_ = tuple[Any, ...]


def format_path(path: Path_) -> str:
    """``("services", 0, "team")`` → ``services[0].team``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _line_index(text: str) -> dict[Path_, int]:
    """Map each key path of the document to its 1-based line number."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    lines: dict[Path_, int] = {}

    def walk(node: yaml.Node | None, path: Path_) -> None:
        if node is None:
            return
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                lines[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
                lines[(*path, key)] = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    walk(root, ())
    return lines


class _Problems:
    def __init__(self, file: str, lines: Mapping[Path_, int]) -> None:
        self.file = file
        self.lines = lines
        self.items: list[ConfigProblem] = []

    def add(self, path: Path_, message: str) -> None:
        line = None
        probe = path
        while probe and line is None:
            line = self.lines.get(probe)
            probe = probe[:-1]
        self.items.append(ConfigProblem(self.file, format_path(path), message, line))

    def add_validation(self, prefix: Path_, error: ValidationError) -> None:
        for item in error.errors(include_input=False, include_url=False):
            loc = tuple(part for part in item["loc"] if not (isinstance(part, str) and part.startswith("function-")))
            message = item["msg"]
            if item["type"] == "extra_forbidden":
                message = "unknown key (check its spelling and the configuration reference)"
            self.add((*prefix, *loc), message)


def _validate(model: type[BaseModel], data: Any, prefix: Path_, problems: _Problems) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems.add_validation(prefix, error)
        return None


def _validate_sources(raw: Any, problems: _Problems) -> list[SourceSettings]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.add(("sources",), "must be a list of sources")
        return []
    kinds = source_kinds()
    sources: list[SourceSettings] = []
    for index, item in enumerate(raw):
        path: Path_ = ("sources", index)
        if not isinstance(item, dict):
            problems.add(path, "each source must be a mapping with at least `name` and `kind`")
            continue
        kind = item.get("kind")
        if kind not in kinds:
            known = ", ".join(sorted(kinds))
            problems.add((*path, "kind"), f"unknown source kind {kind!r}; supported kinds: {known}")
            continue
        settings = _validate(kinds[kind].settings_model, item, path, problems)
        if settings is not None:
            sources.append(settings)
    return sources


def _cross_check(raw: Mapping[str, Any], problems: _Problems) -> None:
    """Checks across entries, run on the raw data so they are reported alongside field problems."""
    for collection, label in (("teams", "team"), ("services", "service"), ("sources", "source")):
        items = raw.get(collection)
        names = [item.get("name") for item in items if isinstance(item, dict)] if isinstance(items, list) else []
        seen: set[Any] = set()
        for index, name in enumerate(names):
            if name is not None and name in seen:
                problems.add((collection, index, "name"), f"duplicate {label} name {name!r}")
            seen.add(name)
    teams = raw.get("teams")
    services = raw.get("services")
    if not isinstance(teams, list) or not isinstance(services, list):
        return
    team_names = {team.get("name") for team in teams if isinstance(team, dict)}
    for index, service in enumerate(services):
        if isinstance(service, dict) and "team" in service and service["team"] not in team_names:
            problems.add(("services", index, "team"), f"team {service['team']!r} is not declared under `teams`")


def load_config_text(text: str, file: str = "<config>", env: Mapping[str, str] | None = None) -> AppConfig:
    """Build the config from YAML ``text``; raise :class:`ConfigError` listing every problem."""
    problems = _Problems(file, _line_index(text))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            [ConfigProblem(file, "", f"not valid YAML: {str(error).replace('<unicode string>', file)}", line)]
        ) from error
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(file, "", "the top level must be a mapping of keys")])
    data = interpolate(data, os.environ if env is None else env, problems.add)
    raw_sources = data.pop("sources", None)
    config = _validate(AppConfig, data, (), problems)
    sources = _validate_sources(raw_sources, problems)
    _cross_check({**data, "sources": raw_sources}, problems)
    if problems.items:
        raise ConfigError(problems.items)
    assert config is not None
    return config.model_copy(update={"sources": tuple(sources), "source_file": file})


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Load the config from ``path``, else ``$DELIVERY_METRICS_CONFIG``, else built-in defaults."""
    environment = os.environ if env is None else env
    if path is None:
        path = environment.get(DEFAULT_CONFIG_ENV) or None
    if path is None:
        return AppConfig()
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([ConfigProblem(str(file), "", f"cannot read the file: {error.strerror or error}")]) from error
    return load_config_text(text, str(file), environment)

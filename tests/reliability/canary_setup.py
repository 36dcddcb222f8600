"""A config with a distinctive canary value in every secret, a hostile fake API, and leak finders.

Definitions:

- a *canary* is ``zqcanary-<label>-7k2q``: one per secret (every ``SecretStr`` field of every source
  kind of :func:`collector.source_registry.source_kinds`, the server's API token, basic-auth password
  and webhook secrets, the digest webhook URLs, the database password), each given to the config
  through ``${ENV_VAR}`` interpolation as the documentation says secrets must be;
- a *leak* is any forbidden string in an output: a canary, the bare prefix ``zqcanary`` (a truncated
  or partly masked secret), or the base64 of ``user:canary`` as sent in a basic-auth header;
- the :class:`HostileApi` answers 401 under ``/s401/`` and 500 everywhere else, and its error bodies
  echo the request's URL and ``Authorization`` header back: an API (or proxy) that repeats the
  credentials it received, so that any error text built from a response body is tested too.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, MetaData, select

from collector.source_registry import source_kinds

PREFIX = "zqcanary"
BASIC_USERS = ("bot", "bot@example.com", "admin")

#: Per kind, realistic values of the non-secret fields its settings require (others: placeholders).
KIND_FIELDS: dict[str, dict[str, Any]] = {
    "github": {"repositories": ["acme/shop"]},
    "gitlab": {"projects": ["acme/api"]},
    "jira": {"email": "bot@example.com", "projects": ["OPS"]},
    "pagerduty": {},
    "github_issues": {"repositories": [{"name": "acme/shop"}]},
    "gitlab_issues": {"projects": [{"id": "acme/api"}]},
    "bitbucket": {"email": "bot@example.com", "repositories": [{"name": "acme/shop"}]},
    "gitea": {"repositories": [{"name": "acme/shop"}]},
    "jenkins": {"username": "bot", "jobs": [{"path": "deploy"}]},
    "github_actions": {"repositories": [{"name": "acme/shop"}]},
    "gitlab_ci": {"projects": [{"id": "acme/api"}]},
    "servicenow": {"username": "bot"},
    "azure_devops": {"organization": "acme", "project": "shop"},
    "argocd": {},
    "circleci": {"projects": [{"slug": "gh/acme/shop"}]},
    "asana": {"projects": ["1200000000000001"]},
}


def canary(label: str) -> str:
    """The canary of one secret (letters, digits and dashes only: safe in URLs and headers)."""
    return f"{PREFIX}-{label.replace('_', '')}-7k2q"


def secret_fields(model: type[Any]) -> list[str]:
    """The names of the ``SecretStr`` (or optional ``SecretStr``) fields of a settings model."""
    wanted = (SecretStr, SecretStr | None)
    return [name for name, info in model.model_fields.items() if info.annotation in wanted]


def _placeholder(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        return {name: _placeholder(target["properties"][name], defs) for name in target.get("required", [])}
    kind = schema.get("type")
    if kind == "array":
        return [_placeholder(schema.get("items", {"type": "string"}), defs)]
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    return "placeholder"


def required_placeholders(model: type[Any]) -> dict[str, Any]:
    """A value for every required field of ``model`` read from its JSON schema: ``"placeholder"``,
    ``1``, a one-item list, or an object of its own required fields."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    return {name: _placeholder(schema["properties"][name], defs) for name in schema.get("required", [])}


@dataclass
class CanaryPlan:
    """Every canary: the environment that carries them and the config entries that refer to them."""

    env: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    source_labels: list[str] = field(default_factory=list)

    def secret(self, label: str, template: str = "{}") -> str:
        """Register the canary of ``label`` (the variable's value is ``template`` around it); return
        the ``${ENV}`` reference to put in the config."""
        name = f"DM_CANARY_{label.upper()}"
        self.values[label] = canary(label)
        self.env[name] = template.format(self.values[label])
        return f"${{{name}}}"

    def canaries(self) -> list[str]:
        """Every canary value."""
        return sorted(self.values.values())

    def forbidden(self) -> list[str]:
        """Every string that must never be seen (see the module docstring)."""
        encoded = [
            base64.b64encode(f"{user}:{value}".encode()).decode() for value in self.canaries() for user in BASIC_USERS
        ]
        return [PREFIX, *self.canaries(), *encoded]


def source_entries(plan: CanaryPlan, api_base: str) -> list[dict[str, Any]]:
    """One source per registered kind with a secret, every secret field set to its own canary.

    Kinds alternate between the 401 and the 500 half of the :class:`HostileApi`. A kind missing from
    :data:`KIND_FIELDS` gets placeholders for its required fields (:func:`required_placeholders`).
    """
    entries: list[dict[str, Any]] = []
    for index, (kind, registered) in enumerate(sorted(source_kinds().items())):
        secrets = secret_fields(registered.settings_model)
        if not secrets:
            continue
        status = "s401" if index % 2 else "s500"
        entry: dict[str, Any] = {
            "name": f"canary-{kind}",
            "kind": kind,
            "base_url": f"{api_base}/{status}/{kind}",
            "max_retries": 0,
            "connect_timeout": "3s",
            "read_timeout": "3s",
            **KIND_FIELDS.get(kind, {}),
        }
        for name, value in required_placeholders(registered.settings_model).items():
            entry.setdefault(name, value)
        try:
            registered.settings_model.model_validate({**entry, **dict.fromkeys(secrets, "x" * 16)})
        except ValueError as error:
            raise AssertionError(f"add valid required fields of kind {kind!r} to KIND_FIELDS: {error}") from error
        for name in secrets:
            entry[name] = plan.secret(f"{kind}_{name}")
            plan.source_labels.append(f"{kind}_{name}")
        entries.append(entry)
    return entries


def find_leaks(forbidden: list[str], text: str, where: str) -> list[str]:
    """``where: <forbidden> in …context…`` for each forbidden string found in ``text``."""
    found = []
    for value in forbidden:
        at = text.find(value)
        if at >= 0:
            found.append(f"{where}: {value!r} in …{text[max(0, at - 120) : at + 80]!r}…")
    return found


def every_table_text(engine: Engine) -> dict[str, str]:
    """Every table of the database (reflected, so also tables no model declares), as text."""
    metadata = MetaData()
    metadata.reflect(engine)
    dump: dict[str, str] = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = connection.execute(select(table)).all()
            dump[table.name] = json.dumps([list(row) for row in rows], default=str)
    return dump


class HostileApi:
    """See the module docstring; :attr:`requests` holds ``(method, path, headers)`` of every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(min(length, 1_000_000))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with api._lock:
                    api.requests.append((self.command, self.path, headers))
                status = 401 if self.path.startswith("/s401/") else 500
                body = json.dumps(
                    {
                        "message": "Bad credentials" if status == 401 else "Internal error",
                        "echo": {"url": self.path, "authorization": headers.get("authorization", "")},
                        "headers": headers,
                    }
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer
            do_POST = _answer

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> HostileApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self, value: str) -> bool:
        """Whether ``value`` reached the API: in a URL, a header, or a basic-auth header's decoding."""
        with self._lock:
            seen = list(self.requests)
        for _, path, headers in seen:
            if value in path or any(value in v for v in headers.values()):
                return True
            authorization = headers.get("authorization", "")
            if authorization.lower().startswith("basic "):
                try:
                    if value in base64.b64decode(authorization[6:]).decode(errors="replace"):
                        return True
                except ValueError:
                    continue
        return False

"""``${ENV_VAR}`` and ``${file:/path}`` interpolation of config values.

``$${`` stands for a literal ``${``. An unset variable or unreadable file is a problem reported with
the key path of the value that referred to it; the secret's value never appears in a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Report = Callable[[tuple[Any, ...], str], None]


def _substitute(text: str, env: Mapping[str, str], path: tuple[Any, ...], report: Report) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        reference = match.group(1).strip()
        if reference.startswith("file:"):
            file_path = Path(reference[5:]).expanduser()
            try:
                return file_path.read_text(encoding="utf-8").strip()
            except OSError as error:
                report(path, f"cannot read secret file {str(file_path)!r}: {error.strerror or error}")
                return ""
        if not _NAME.match(reference):
            report(path, f"invalid reference ${{{reference}}}: use ${{ENV_VAR}} or ${{file:/path}}")
            return ""
        if reference not in env:
            report(path, f"environment variable {reference} is not set")
            return ""
        return env[reference]

    return _REFERENCE.sub(replace, text)


def interpolate(data: Any, env: Mapping[str, str], report: Report, path: tuple[Any, ...] = ()) -> Any:
    """Return ``data`` with every string's references replaced."""
    if isinstance(data, str):
        return _substitute(data, env, path, report)
    if isinstance(data, list):
        return [interpolate(item, env, report, (*path, index)) for index, item in enumerate(data)]
    if isinstance(data, dict):
        return {key: interpolate(value, env, report, (*path, key)) for key, value in data.items()}
    return data

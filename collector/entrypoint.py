"""The console script: the CLI group with every verb registered.

Verbs live in their own modules (``cli`` core verbs, ``cli_report``, ``cli_demo``); this module only
assembles them, so no verb module imports another's registration.
"""

from __future__ import annotations

from collector.cli import main
from collector.cli_demo import demo
from collector.cli_pmo import digest
from collector.cli_rebuild import rebuild
from collector.cli_report import explain_command, report
from collector.cli_serve import record_deployment, serve

main.add_command(report)
main.add_command(explain_command, name="explain")
main.add_command(demo)
main.add_command(serve)
main.add_command(record_deployment)
main.add_command(digest)
main.add_command(rebuild)

__all__ = ["main"]

if __name__ == "__main__":  # pragma: no cover - `python -m collector.entrypoint` is the console script
    main()

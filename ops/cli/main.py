"""Root of the `ops` CLI. Each command group lives in its own module and is registered here."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ops.exceptions import OpsError

app = typer.Typer(
    name="ops",
    help="Operate the PostgreSQL -> DynamoDB migration and the subscription notification pipeline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True)
# Unreachable databases and endpoints are configuration errors (see the exit codes in ops.cli.migrate).
UNREACHABLE_EXIT_CODE = 2


def _register() -> None:
    from ops.cli import sandbox

    app.add_typer(sandbox.app, name="sandbox")

    from ops.cli import flags as flags_cli

    app.add_typer(flags_cli.app, name="flags")

    from ops.cli import demo as demo_cli
    from ops.cli import repair as repair_cli

    app.add_typer(demo_cli.app, name="demo")
    from ops.cli import rehearsal as rehearsal_cli

    demo_cli.app.command("rehearsal")(rehearsal_cli.rehearsal)
    app.add_typer(repair_cli.app, name="repair")

    from ops.cli import migrate as migrate_cli

    app.add_typer(migrate_cli.app, name="migrate")

    from ops.cli import replica as replica_cli
    from ops.cli import reverse as reverse_cli

    replica_cli.app.add_typer(reverse_cli.app, name="reverse")
    app.add_typer(replica_cli.app, name="replica")

    from ops.cli import verify as verify_cli

    app.add_typer(verify_cli.app, name="verify")

    from ops.cli import backfill as backfill_cli

    app.add_typer(backfill_cli.app, name="backfill")

    from ops.cli import notifications as notifications_cli

    app.add_typer(notifications_cli.app, name="notifications")


_register()


def main() -> None:
    """Console-script entry point: expected failures print their message, not a traceback, and so
    does a database or AWS endpoint that cannot be reached (the commonest first mistake: the local
    stack is down, or the shell does not point at it)."""
    import psycopg
    from botocore.exceptions import EndpointConnectionError

    try:
        app()
    except OpsError as exc:
        err_console.print(f"[bold red]error:[/] {exc}")
        sys.exit(exc.exit_code)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        err_console.print(
            f"[bold red]error:[/] cannot reach PostgreSQL: {reason}\n"
            "Check PROD_DATABASE_URL / V2_DATABASE_URL; on the local stack: `ops sandbox status`, "
            '`ops sandbox up`, then `eval "$(ops sandbox env)"`.'
        )
        sys.exit(UNREACHABLE_EXIT_CODE)
    except EndpointConnectionError as exc:
        err_console.print(
            f"[bold red]error:[/] cannot reach an AWS endpoint: {exc}\n"
            "Check AWS_ENDPOINT_URL and your credentials; on the local stack: `ops sandbox status`, "
            '`ops sandbox up`, then `eval "$(ops sandbox env)"`.'
        )
        sys.exit(UNREACHABLE_EXIT_CODE)

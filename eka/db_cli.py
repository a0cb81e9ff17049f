"""``eka db``: the PostgreSQL database's schema (``EKA_DATABASE_URL``): apply the pending migrations, or say
which are applied, pending or wrong.

Exit status: 0 done (``status``: up to date), 1 something to do or a problem (``status``: pending
migrations or a schema this version does not match; ``upgrade``: the database refused), 2 no database
configured or reachable.
"""

from __future__ import annotations

from typing import NoReturn

import psycopg
import typer
from rich.console import Console

from assistant.config import Settings
from assistant.errors import ConfigError

app = typer.Typer(help="The PostgreSQL database's schema (EKA_DATABASE_URL).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _connect() -> psycopg.Connection:
    """A connection to the configured database; exits with status 2 when there is none."""
    from assistant.pg import db

    url = Settings().database_url
    if not url:
        _fail("EKA_DATABASE_URL is not set: set it to the PostgreSQL database to use (postgresql://…)", 2)
    try:
        return db.connect(url)
    except ConfigError as err:
        _fail(str(err), 2)


@app.command("upgrade")
def upgrade() -> None:
    """Apply the pending schema migrations, in order, and print each one applied."""
    from assistant.pg import migrate

    with _connect() as conn:
        try:
            applied = migrate.upgrade(conn)
        except ConfigError as err:
            _fail(str(err), 1)
        except psycopg.Error as err:
            _fail(f"a migration failed and was rolled back: {err}", 1)
    for migration in applied:
        console.print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        console.print("the schema is up to date; nothing applied")


@app.command("status")
def status() -> None:
    """List every migration as applied or pending, and any problem (exit 1 unless up to date)."""
    from assistant.pg import migrate

    with _connect() as conn:
        pending, problems = migrate.status(conn)
    waiting = {m.version for m in pending}
    for migration in migrate.migrations():
        state = "pending" if migration.version in waiting else "applied"
        console.print(f"{migration.version:04d}_{migration.name}  {state}")
    for problem in problems:
        err_console.print(f"[red]problem:[/red] {problem}")
    if pending:
        console.print(f"{len(pending)} pending: run `eka db upgrade`")
    if pending or problems:
        raise typer.Exit(1)
    console.print("the schema is up to date")

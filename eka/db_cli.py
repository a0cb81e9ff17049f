"""``eka db``: the PostgreSQL database's schema (``EKA_DATABASE_URL``): apply the pending migrations, or say
which are applied, pending or wrong.

``migrate-from-embedded`` copies an embedded installation into it (assistant/pg/migrate_embedded.py).

Exit status: 0 done (``status``: up to date), 1 something to do or a problem (``status``: pending
migrations or a schema this version does not match; ``upgrade``: the database refused), 2 no database
configured or reachable (``migrate-from-embedded``: also no embedded store, or a database that contradicts
it; 1: the database failed midway, run it again to resume).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

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


@app.command("migrate-from-embedded")
def migrate_from_embedded(
    from_home: Annotated[
        Path | None,
        typer.Option("--from-home", help="The embedded installation to copy (default: EKA_HOME)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as JSON (progress to stderr).")
    ] = False,
) -> None:
    """Copy an embedded installation (documents, chunks, vectors, keys, provenance, feedback) into the
    database, without re-embedding; safe to run again (copies only what is missing)."""
    from assistant.embedding import model_spec
    from assistant.pg import db
    from assistant.pg.migrate_embedded import MigrationRefused, migrate_embedded

    settings = Settings()
    home = from_home or settings.home
    with _connect():  # exits 2 with a clear message when there is no database
        pass
    out = err_console if as_json else console
    try:
        model_id = model_spec(settings.embedding_model).model_id
        report = migrate_embedded(
            home,
            db.shared(str(settings.database_url)),
            model_id,
            lambda line: out.print(line, markup=False, highlight=False),
        )
    except (MigrationRefused, ConfigError) as err:
        _fail(str(err), 2)
    except psycopg.Error as err:
        _fail(f"the copy stopped: {err}; what was copied stays, run the command again to resume", 1)
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
        return
    console.print(
        f"copied {report.documents} documents ({report.chunks} chunks), {report.vectors} vectors,"
        f" {report.keys} API keys, {report.records} provenance records and {report.feedback} feedback"
        f" in {report.seconds:.1f}s"
    )
    console.print(
        f"already there: {report.documents_present} documents, {report.vectors_present} vectors,"
        f" {report.keys_present} keys, {report.records_present} records, {report.feedback_present} feedback"
        + (
            f"; {report.documents_extra} documents only in the database (left alone)"
            if report.documents_extra
            else ""
        )
    )
    console.print("check it with `eka index verify` and `eka audit verify` (EKA_DATABASE_URL set)")

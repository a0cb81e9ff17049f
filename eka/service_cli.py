"""``eka serve``, ``eka keys``, ``eka audit`` and ``eka answer``: the answer service from the command line."""

from __future__ import annotations

import json
import socket
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from assistant.audit import AuditLog
from assistant.config import Settings
from assistant.errors import EkaError, NotFound
from assistant.keys import KeyStore
from assistant.services import open_audit, open_keys

console = Console()
err_console = Console(stderr=True)

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
audit_app = typer.Typer(help="Inspect and verify the provenance records of answers.", no_args_is_help=True)
answer_app = typer.Typer(help="Ask questions, and replay recorded answers.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", soft_wrap=True)  # one line, whatever the width
    return typer.Exit(code)


def _dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on [default: EKA_API_HOST or 127.0.0.1].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on [default: EKA_API_PORT or 8000].", min=1, max=65535)
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    workers: Annotated[
        int,
        typer.Option(
            help="Processes serving the API. They share EKA_HOME, or the database of EKA_DATABASE_URL "
            "(store, keys, audit log, rate limits); each loads the model and indexes and picks up every "
            "change the others make.",
            min=1,
            max=64,
        ),
    ] = 1,
) -> None:
    """Run the HTTP API (uvicorn). Models and indexes load once per process at start-up; /readyz says when."""
    import uvicorn

    from eka.ports import in_use, suggest
    from eka.server import create

    settings = Settings()
    host = host or settings.api_host
    port = port or settings.api_port
    if in_use(host, port):  # now, not after the model has loaded
        other = suggest(host, port)
        raise _fail(
            f"port {port} is in use by another program: start with --port {other} "
            f"(or set EKA_API_PORT={other}), or stop that program",
            code=1,
        )
    try:
        app = create(settings)  # also checks the settings now, before any worker starts
    except EkaError as err:
        raise _fail(str(err)) from err
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5)
        return
    # Each worker builds its own app from the same environment (uvicorn imports the factory by name).
    config = uvicorn.Config(
        "eka.server:create",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=5,
    )
    from uvicorn.supervisors import Multiprocess

    console.print(f"eka serving on http://{host}:{port} with {workers} workers")
    Multiprocess(config, sockets=[_tcp_socket(host, port)]).run()


def _tcp_socket(host: str, port: int) -> socket.socket:
    """The listening socket the workers share, made with ``IPPROTO_TCP``.

    uvicorn's own (``socket.socket(family)``) has protocol 0, so asyncio does not set ``TCP_NODELAY`` on
    the connections it accepts (it checks ``sock.proto == IPPROTO_TCP``). Nagle's algorithm then holds back
    a response's last packet until the client's delayed ACK: about 40 ms per request on a keep-alive
    connection (measured with two workers: 52 ms instead of 8 ms per search).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


# -- keys ---------------------------------------------------------------------------------------------------


def _keys() -> KeyStore:
    try:
        return open_keys(Settings())
    except EkaError as err:  # an unreachable or unmigrated EKA_DATABASE_URL
        raise _fail(str(err)) from err


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option(help="Who the key is for.")],
    groups: Annotated[
        str, typer.Option(help="Comma-separated groups whose documents the user may read.")
    ] = "",
    roles: Annotated[
        str,
        typer.Option(
            help="Comma-separated roles: ingest (upload into the key's groups, replace and delete what it "
            "may write), publish (also to public), admin (also documents ingested from the CLI), auditor "
            "(read others' provenance)."
        ),
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key. It is printed once; only its hash is stored.

    When the deployment lists its groups (EKA_KNOWN_GROUPS), a group it does not list is refused: a
    misspelt group would give a key that silently reads nothing of the group meant.
    """
    known = Settings().known_group_set
    unknown = sorted({g.lower() for g in _split(groups)} - known) if known else []
    if unknown:
        raise _fail(
            f"unknown group(s) {', '.join(unknown)}: EKA_KNOWN_GROUPS lists {', '.join(sorted(known))}"
        )
    try:
        record, secret = _keys().create(user, _split(groups), _split(roles))
    except ValueError as err:
        raise _fail(str(err)) from err
    data = {
        "user": record.user,
        "groups": list(record.groups),
        "roles": list(record.roles),
        "key_id": record.key_id,
        "key": secret,
    }
    if as_json:
        _dump(data)
        return
    console.print(
        f"key for [bold]{record.user}[/bold] ({record.key_id}); groups: {', '.join(record.groups) or '-'}"
        f"; roles: {', '.join(record.roles) or '-'}"
    )
    console.print(f"[bold green]{secret}[/bold green]")
    err_console.print("[dim]Store it now: it cannot be shown again.[/dim]")


@keys_app.command("list")
def keys_list(
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List keys (never their secrets)."""
    rows: list[dict[str, Any]] = [
        {
            "key_id": k.key_id,
            "user": k.user,
            "groups": list(k.groups),
            "roles": list(k.roles),
            "created_at": k.created_at,
            "revoked_at": k.revoked_at,
        }
        for k in _keys().keys(include_revoked=all_keys)
    ]
    if as_json:
        _dump(rows)
        return
    table = Table(title=f"{len(rows)} keys")
    for column in ("key_id", "user", "groups", "roles", "created_at", "revoked_at"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["key_id"],
            row["user"],
            ",".join(row["groups"]),
            ",".join(row["roles"]),
            row["created_at"],
            row["revoked_at"] or "",
        )
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    target: Annotated[str, typer.Argument(help="A key id, or a user (revokes all their keys).")],
) -> None:
    """Revoke keys; requests with them get 401 from then on."""
    try:
        ids = _keys().revoke(target)
    except NotFound as err:
        raise _fail(str(err), 1) from err
    console.print(f"revoked {', '.join(ids)}")


# -- audit --------------------------------------------------------------------------------------------------


def _audit() -> AuditLog:
    try:
        return open_audit(Settings())
    except EkaError as err:  # an unreachable or unmigrated EKA_DATABASE_URL
        raise _fail(str(err)) from err


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[
        str | None, typer.Option(help="A head hash printed by an earlier verify, kept elsewhere.")
    ] = None,
) -> None:
    """Walk the hash chain of provenance records (exit status 1 if anything was changed).

    Keep the printed head hash outside this machine; passing it back as --anchor later also catches a chain
    rewritten wholesale.
    """
    report = _audit().verify(anchor)
    if not report.ok:
        for problem in report.problems:
            err_console.print(f"[red]✗[/red] {problem}")
        raise typer.Exit(1)
    console.print(f"[green]✓[/green] {report.records} records, chain intact; head {report.head}")


@audit_app.command("show")
def audit_show(
    provenance_id: Annotated[str, typer.Argument(help="An answer's provenance id.")],
) -> None:
    """Print one provenance record (JSON)."""
    try:
        stored = _audit().get(provenance_id)
    except NotFound as err:
        raise _fail(str(err), 1) from err
    _dump({"seq": stored.seq, "hash": stored.hash, "prev_hash": stored.prev_hash, **stored.record})


@audit_app.command("list")
def audit_list(limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20) -> None:
    """The newest provenance records, one line each."""
    table = Table(title="answers")
    for column in ("provenance_id", "created_at", "user", "refused", "question"):
        table.add_column(column, overflow="fold")
    for stored in _audit().records(limit):
        record = stored.record
        table.add_row(
            stored.provenance_id,
            stored.created_at,
            stored.user_id,
            str(record.get("refused")),
            str(record.get("question", ""))[:80],
        )
    console.print(table)


# -- answer -------------------------------------------------------------------------------------------------


def _services(generator: str | None = None) -> Any:
    from assistant.api.app import build_services

    settings = Settings()
    if generator:
        settings = settings.model_copy(update={"generator": generator})
    try:
        return build_services(settings)
    except EkaError as err:
        raise _fail(str(err)) from err


@answer_app.command("ask")
def answer_ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    groups: Annotated[str | None, typer.Option(help="Comma-separated groups to answer as.")] = None,
    user: Annotated[str, typer.Option(help="Who is asking (recorded in provenance).")] = "cli",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Answer a question from the documents the given groups may read (records provenance)."""
    from assistant.answering import AnswerRequest
    from assistant.api.schemas import AnswerResponse
    from assistant.types import Principal

    svc = _services()
    principal = Principal.of(user, [*_split(groups or svc.assistant.settings.default_groups), "public"])
    try:
        result = svc.answerers[svc.default_generator].answer(AnswerRequest(question), principal)
    except EkaError as err:
        raise _fail(str(err), 1) from err
    finally:
        svc.close()  # stops a local model process
    if as_json:
        _dump(AnswerResponse.of(result).model_dump())
        return
    console.print(result.text, highlight=False)
    for hit in result.hits:
        where = f", page {hit.chunk.page}" if hit.chunk.page is not None else ""
        console.print(
            f"[dim][{hit.rank}] {hit.document.title}{where} ({hit.document.source})[/dim]", highlight=False
        )
    err_console.print(f"[dim]provenance {result.provenance_id}[/dim]")


@answer_app.command("replay")
def answer_replay(
    provenance_id: Annotated[str, typer.Argument(help="The provenance id of the answer to replay.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Re-run retrieval and generation from a record; exit status 1 if the sources differ."""
    from assistant.replay import replay

    try:
        stored = _audit().get(provenance_id)
    except NotFound as err:
        raise _fail(str(err), 1) from err
    recorded = stored.record["generator"]["name"]
    svc = _services(recorded)
    if recorded not in svc.answerers:
        raise _fail(f"the answer was made by the {recorded!r} generator, which is not configured here")
    try:
        report = replay(svc.answerers[recorded], stored.record)
    finally:
        svc.close()
    if as_json:
        _dump(report.to_json())
    else:
        mark = {True: "[green]match[/green]", False: "[red]differ[/red]"}
        console.print(
            f"sources {mark[report.sources_match]} · citations {mark[report.citations_match]} · "
            f"answer {mark[report.answer_match]}"
        )
        for key, (then, now) in report.changed.items():
            console.print(f"  changed since: {key}: {then} → {now}")
        if not report.sources_match:
            console.print("recorded: " + ", ".join(h["chunk_id"] for h in report.recorded_sources))
            console.print("now:      " + ", ".join(h["chunk_id"] for h in report.replayed_sources))
    if not report.sources_match:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add these commands to the ``eka`` app."""
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
    app.add_typer(answer_app, name="answer")

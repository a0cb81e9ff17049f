"""``eka``: ingest documents, search them, and look after the store and its indexes.

A thin layer: it parses options, calls the library through the composition root and turns library errors
into one-line messages with a non-zero exit status.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from assistant import relevance
from assistant.app import Assistant, build_assistant
from assistant.config import Settings
from assistant.errors import EkaError
from assistant.filters import parse_filters
from assistant.pg.search import PgSearcher
from assistant.rerank import store_heading_vectors
from assistant.types import Principal, SearchMode
from eka.db_cli import app as db_app
from eka.service_cli import register
from eka.ui_cli import register as register_ui
from eval.bench.cli import app as bench_app
from eval.cli import app as eval_app

app = typer.Typer(
    help="eka: the engineering knowledge assistant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
docs_app = typer.Typer(help="List and remove documents.", no_args_is_help=True)
index_app = typer.Typer(help="Inspect, verify and rebuild the derived indexes.", no_args_is_help=True)
app.add_typer(docs_app, name="docs")
app.add_typer(index_app, name="index")
app.add_typer(eval_app, name="eval")
app.add_typer(bench_app, name="bench")
app.add_typer(db_app, name="db")
register(app)
register_ui(app)

console = Console()
err_console = Console(stderr=True)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False)],
    )
    for noisy in ("pypdf", "bm25s", "sentence_transformers", "transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def _assistant() -> Assistant:
    try:
        return build_assistant(Settings())
    except EkaError as err:
        _fail(str(err))


def _fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _dump(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# -- ingest --------------------------------------------------------------------------------------------------


class _RateColumn(ProgressColumn):
    """Pages and chunks per second so far."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        pages, chunks = task.fields.get("pages", 0), task.fields.get("chunks", 0)
        if elapsed <= 0:
            return Text("")
        return Text(f"{pages / elapsed:.1f} pages/s {chunks / elapsed:.1f} chunks/s", style="cyan")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to ingest.")],
    acl: Annotated[
        str | None, typer.Option(help="Access groups for everything in this run, e.g. brakes,chassis.")
    ] = None,
    meta: Annotated[
        list[str] | None, typer.Option(help="KEY=VALUE metadata for everything in this run.")
    ] = None,
    prune: Annotated[
        bool, typer.Option(help="Remove documents whose files are gone from the given folders.")
    ] = False,
    report: Annotated[Path | None, typer.Option(help="Write a JSON report of every file here.")] = None,
) -> None:
    """Ingest documents: unchanged files are skipped, changed files replaced, bad files reported."""
    from ingest.pipeline import FileOutcome, Ingestor
    from ingest.pipeline import Progress as IngestProgress

    extra: dict[str, str] = {}
    for item in meta or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(f"--meta {item!r} is not KEY=VALUE")
        extra[key.strip()] = value.strip()
    groups = [g for g in acl.split(",")] if acl else None
    assistant = _assistant()
    bar = Progress(
        TextColumn("[bold]ingest"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        _RateColumn(),
        TextColumn("{task.description}"),
        console=err_console,
        transient=False,
    )

    class Bar(IngestProgress):
        task = bar.add_task("", total=None, pages=0, chunks=0)

        def start(self, files: int) -> None:
            bar.update(self.task, total=files)

        def advance(self, outcome: FileOutcome) -> None:
            fields = bar.tasks[self.task].fields
            if outcome.status == "ingested":
                fields["pages"] = fields.get("pages", 0) + (outcome.pages or 0)
                fields["chunks"] = fields.get("chunks", 0) + outcome.chunks
            bar.update(
                self.task, advance=0 if outcome.status == "removed" else 1, description=outcome.source[-28:]
            )

    with bar:
        result = Ingestor(assistant).run(paths, groups, extra, prune, Bar())
    _summary(result)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(json.dumps(result.to_json(), indent=2), encoding="utf-8")
    assistant.close()
    raise typer.Exit(0 if result.ok else 1)


def _summary(result: Any) -> None:
    counts = result.counts()
    notable = [
        f
        for f in sorted(result.files, key=lambda f: f.source)
        if f.status in ("failed", "removed", "metadata") or f.warnings
    ]
    if notable:
        table = Table(title="Files needing attention or changed", show_lines=False)
        table.add_column("file", overflow="fold")
        table.add_column("status")
        table.add_column("reason", overflow="fold")
        for f in notable:
            style = "red" if f.status == "failed" else "yellow"
            reason = "; ".join([*([f.reason] if f.reason else []), *(f"warning: {w}" for w in f.warnings)])
            table.add_row(f.source, f"[{style}]{f.status}[/{style}]", reason)
        err_console.print(table)
    public = result.public_by_default()
    if public:
        err_console.print(
            f"[yellow]Public by default:[/yellow] {len(public)} documents had no access list (acl), so every "
            "key may read them:"
        )
        table = Table(show_header=False)
        table.add_column("file", overflow="fold")
        for source in public:
            table.add_row(source)
        err_console.print(table)
    wall = max(result.wall_s, 1e-9)
    summary = Table(title="Ingest summary", show_header=False, title_justify="left")
    summary.add_column("what")
    summary.add_column("value", justify="right")
    for label, key in (
        ("ingested", "ingested"),
        ("unchanged (skipped)", "unchanged"),
        ("metadata updated", "metadata"),
        ("removed", "removed"),
        ("failed", "failed"),
        ("pages", "pages"),
        ("chunks", "chunks"),
        ("newly embedded", "embedded"),
    ):
        style = "red" if key == "failed" and counts[key] else ""
        summary.add_row(label, f"[{style}]{counts[key]}[/{style}]" if style else str(counts[key]))
    summary.add_row("wall time", f"{result.wall_s:.1f} s")
    summary.add_row(
        "throughput", f"{counts['pages'] / wall:.1f} pages/s · {counts['chunks'] / wall:.1f} chunks/s"
    )
    err_console.print(summary)


# -- search --------------------------------------------------------------------------------------------------


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="How many results.")] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, dense or lexical.")] = "hybrid",
    groups: Annotated[
        str | None, typer.Option(help="Search as a member of these groups (comma-separated).")
    ] = None,
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", help="KEY=VALUE metadata filter; repeatable.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search the documents readable by --groups (default: public)."""
    if mode not in ("hybrid", "dense", "lexical"):
        _fail(f"--mode must be hybrid, dense or lexical, not {mode!r}")
    assistant = _assistant()
    try:
        filters = parse_filters(filter_ or [])
        principal = Principal.of(
            "cli",
            [
                g.strip().lower()
                for g in (groups or assistant.settings.default_groups).split(",")
                if g.strip()
            ],
        )
        started = time.perf_counter()
        hits = assistant.retriever.search(query, principal, k=k, mode=_mode(mode), filters=filters)
        elapsed = time.perf_counter() - started
    except EkaError as err:
        _fail(str(err))
    rows: list[dict[str, Any]] = [
        {
            "rank": h.rank,
            "score": round(h.score, 6),
            "relevance": relevance.shown(h.relevance),
            "relevance_label": relevance.label(h.relevance),
            "doc_id": h.document.doc_id,
            "source": h.document.source,
            "title": h.document.title,
            "page": h.chunk.page,
            "section": h.chunk.section,
            "chunk_id": h.chunk.chunk_id,
            "retriever": h.retriever,
            "text": h.chunk.text,
        }
        for h in hits
    ]
    if as_json:
        _dump(rows)
        return
    if not rows:
        console.print("[yellow]No results[/yellow] (documents you may not read are never searched).")
    for row in rows:
        where = f"page {row['page']}" if row["page"] else ""
        if row["section"]:
            where = f"{where} · {row['section']}" if where else row["section"]
        console.print(
            f"[bold]{row['rank']:>2}.[/bold] [cyan]{row['source']}[/cyan] {where} "
            f"[dim](relevance {row['relevance']:.2f}, {row['relevance_label']})[/dim]"
        )
        snippet = " ".join(row["text"].split())
        console.print(f"    {snippet[:240]}{'…' if len(snippet) > 240 else ''}", highlight=False)
    err_console.print(f"[dim]{len(rows)} results in {elapsed * 1000:.0f} ms ({mode})[/dim]")


def _mode(mode: str) -> SearchMode:
    return "dense" if mode == "dense" else "lexical" if mode == "lexical" else "hybrid"


# -- docs ----------------------------------------------------------------------------------------------------


@docs_app.command("list")
def docs_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List every ingested document (an administrator's view: not filtered by group)."""
    assistant = _assistant()
    stored = assistant.store.documents()
    chunk_counts = assistant.store.chunk_counts()
    rows: list[dict[str, Any]] = [
        {
            "doc_id": s.document.doc_id,
            "source": s.document.source,
            "title": s.document.title,
            "mime": s.document.mime,
            "pages": s.document.pages,
            "chunks": chunk_counts.get(s.document.doc_id, 0),
            "acl": sorted(s.document.acl),
            "uploaded_by": s.document.owner,
            "metadata": s.document.metadata,
            "sha256": s.document.sha256,
            "ingested_at": s.document.ingested_at,
        }
        for s in stored
    ]
    if as_json:
        _dump(rows)
        return
    table = Table(title=f"{len(rows)} documents")
    for column in ("source", "title", "pages", "chunks", "acl"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["source"], row["title"], str(row["pages"] or ""), str(row["chunks"]), ",".join(row["acl"])
        )
    console.print(table)


@docs_app.command("remove")
def docs_remove(
    source: Annotated[str, typer.Argument(help="The document's source path (or doc id).")],
) -> None:
    """Remove a document and its chunks from the store and indexes."""
    assistant = _assistant()
    stored = assistant.store.document_by_source(source)
    doc_id = stored.document.doc_id if stored else source
    try:
        assistant.store.remove_document(doc_id)
    except EkaError:
        _fail(f"no document with source or id {source!r}", code=1)
    assistant.searcher.refresh()
    console.print(f"removed {source}")


# -- index ---------------------------------------------------------------------------------------------------


@index_app.command("stats")
def index_stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Counts, generations and sizes of the store and derived indexes."""
    assistant = _assistant()
    counts = assistant.store.counts()
    if isinstance(assistant.searcher, PgSearcher):  # no index files: the database's tables and indexes
        sizes = assistant.searcher.sizes()
        pg_data = {
            "backend": "postgres",
            "model_id": assistant.spec.model_id,
            **counts,
            "table_bytes": sum(t["table"] for t in sizes.values()),
            "index_bytes": sum(t["indexes"] for t in sizes.values()),
            "tables": sizes,
        }
        _show("eka index (PostgreSQL)", pg_data, as_json)
        return
    derived = {}
    for name in ("dense", "lexical"):
        record = assistant.store.derived(name)
        if record is not None:
            folder = assistant.settings.index_dir / record.path
            size = sum(f.stat().st_size for f in folder.iterdir()) if folder.is_dir() else 0
            derived[name] = {
                "generation": record.generation,
                "path": str(folder),
                "bytes": size,
                "model_id": record.model_id,
                "current": record.generation == counts["generation"],
            }
            if (folder / "base.json").is_file():  # a delta over a full version
                base = assistant.settings.index_dir / json.loads((folder / "base.json").read_text())["path"]
                derived[name]["base"] = str(base)
                derived[name]["base_bytes"] = (
                    sum(f.stat().st_size for f in base.iterdir()) if base.is_dir() else 0
                )
    data = {
        "home": str(assistant.settings.home.resolve()),
        "model_id": assistant.spec.model_id,
        **counts,
        "backend": "embedded",
        "store_bytes": assistant.settings.store_path.stat().st_size,
        "derived": derived,
    }
    _show("eka index", data, as_json)


def _show(title: str, data: dict[str, Any], as_json: bool) -> None:
    """Print ``data`` as JSON or as a two-column table."""
    if as_json:
        _dump(data)
        return
    table = Table(title=title)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for key, value in data.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict) else str(value))
    console.print(table)


@index_app.command("verify")
def index_verify() -> None:
    """Check that the derived indexes match the store exactly (exit status 1 if not)."""
    assistant = _assistant()
    problems = assistant.searcher.verify()
    if problems:
        for problem in problems:
            err_console.print(f"[red]✗[/red] {problem}")
        err_console.print("run [bold]eka index rebuild[/bold] to rebuild the derived indexes from the store")
        raise typer.Exit(1)
    counts = assistant.store.counts()
    console.print(
        f"[green]✓[/green] indexes match the store: {counts['documents']} documents, "
        f"{counts['chunks']} chunks, generation {counts['generation']}"
    )


@index_app.command("rebuild")
def index_rebuild() -> None:
    """Rebuild the dense and lexical indexes from the store (no re-embedding of cached vectors)."""
    assistant = _assistant()
    started = time.perf_counter()
    built = assistant.searcher.rebuild()
    # The heading reranker's vectors for this model (ingest makes them; a new model has none yet).
    headings = store_heading_vectors(
        assistant.store, assistant.embedder, assistant.store.index_rows().passages
    )
    console.print(
        f"rebuilt {built['dense']} vectors, {built['lexical']} lexical rows and {headings} heading vectors "
        f"for generation {assistant.store.generation()} in {time.perf_counter() - started:.1f}s"
    )


def main() -> None:
    """Entry point of the ``eka`` command."""
    app()

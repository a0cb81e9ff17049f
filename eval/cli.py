"""``eka eval``: retrieval evaluation on BEIR datasets and QA sets, several configurations side by side."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from assistant.config import Settings

app = typer.Typer(help="Evaluate retrieval quality on real data.", no_args_is_help=True)
console = Console(stderr=True)

ConfigsOpt = Annotated[
    str,
    typer.Option(
        help="Comma-separated: default, lexical, dense, hybrid, hybrid+rerank, "
        "langchain-naive; NAME@key=value overrides a setting."
    ),
]
OutOpt = Annotated[Path | None, typer.Option(help="Where report.json, report.md and plots go.")]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Rebuild indexes even if a cached build matches.")
]
CacheOpt = Annotated[Path | None, typer.Option(help="Index cache (default: EKA_HOME/eval-cache).")]


def _fail(message: object) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _finish(report: dict[str, object], out: Path, started: float) -> None:
    from eval.report import markdown, write

    files = write(report, out)
    console.print(markdown(report))
    console.print(f"wrote {', '.join(str(f) for f in files)} in {time.perf_counter() - started:.0f}s")


@app.command("beir")
def beir(
    folder: Annotated[
        Path, typer.Argument(help="A BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/).")
    ],
    split: Annotated[str, typer.Option(help="The qrels split to evaluate.")] = "test",
    configs: ConfigsOpt = "default",
    out: OutOpt = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheOpt = None,
) -> None:
    """Document-level nDCG@10, Recall@k, MRR@10 and MAP@100 on a BEIR dataset."""
    from eval.configs import resolve
    from eval.datasets import load_beir
    from eval.runner import evaluate_beir

    started = time.perf_counter()
    base = Settings()
    try:
        chosen = resolve(configs, base)
        dataset = load_beir(folder, split)
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    report = evaluate_beir(dataset, chosen, base, cache_dir or base.home / "eval-cache", no_cache)
    _finish(report, out or Path("eval-out") / f"{folder.name}-{split}", started)


@app.command("qa")
def qa(
    questions: Annotated[Path, typer.Argument(help="A QA set in the engdocs-dev format (JSON lines).")],
    corpus: Annotated[Path, typer.Option(help="The folder of documents the questions are about.")],
    configs: ConfigsOpt = "default",
    out: OutOpt = None,
    groups: Annotated[
        str | None, typer.Option(help="Evaluate as these groups (default: every group).")
    ] = None,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheOpt = None,
) -> None:
    """Page/section-level retrieval metrics on a QA set; the corpus is ingested with the normal pipeline."""
    from eval.configs import resolve
    from eval.datasets import load_qa
    from eval.runner import corpus_digest, evaluate_qa

    started = time.perf_counter()
    base = Settings()
    try:
        chosen = resolve(configs, base)
        items = load_qa(questions)
    except (ValueError, FileNotFoundError, KeyError) as err:
        _fail(err)
    if not corpus.is_dir():
        _fail(f"--corpus {corpus} is not a folder")
    name = questions.stem
    report = evaluate_qa(
        items,
        corpus,
        corpus_digest(corpus),
        chosen,
        base,
        cache_dir or base.home / "eval-cache",
        name,
        [g.strip().lower() for g in groups.split(",")] if groups else None,
        no_cache,
    )
    _finish(report, out or Path("eval-out") / name, started)

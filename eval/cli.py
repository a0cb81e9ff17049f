"""``eka eval``: retrieval quality on BEIR datasets and QA sets (configurations side by side), and answer
correctness by key facts (generators side by side)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from assistant.config import Settings

app = typer.Typer(help="Evaluate retrieval and answer quality on real data.", no_args_is_help=True)
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
    from eval.systems import IncompleteCorpus

    started = time.perf_counter()
    base = Settings()
    try:
        chosen = resolve(configs, base)
        dataset = load_beir(folder, split)
    except (ValueError, FileNotFoundError) as err:
        _fail(err)
    try:
        report = evaluate_beir(dataset, chosen, base, cache_dir or base.home / "eval-cache", no_cache)
    except IncompleteCorpus as err:
        _fail(err)
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
    from eval.systems import IncompleteCorpus

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
    try:
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
    except IncompleteCorpus as err:
        _fail(err)
    _finish(report, out or Path("eval-out") / name, started)


@app.command("answers")
def answers(
    questions: Annotated[Path, typer.Argument(help="A QA set in the engdocs-dev format (JSON lines).")],
    corpus: Annotated[Path, typer.Option(help="The folder of documents the questions are about.")],
    generators: Annotated[
        str, typer.Option(help="Comma-separated: extractive, local, openai (unavailable ones are skipped).")
    ] = "extractive",
    keyfacts: Annotated[
        Path | None,
        typer.Option(
            help="Key facts keyed by question id (default: eval/data/<set>.keyfacts.jsonl or inline)."
        ),
    ] = None,
    out: OutOpt = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Ask only the first N questions.")] = None,
    ids: Annotated[
        str | None, typer.Option(help="Ask only these question ids (comma-separated, e.g. s-014,s-022).")
    ] = None,
    verify_only: Annotated[
        bool, typer.Option("--verify-only", help="Only check that every key fact occurs in its source.")
    ] = False,
    cache_dir: CacheOpt = None,
) -> None:
    """Answer correctness by key facts: correct / partial / wrong / refused per kind and generator.

    Writes report.json, report.md and answers.png to --out (default eval-out/answers-<set>).
    """
    from eval.answers.harness import dataset_name, evaluate_answers, verify_set
    from eval.answers.report import markdown, write

    started = time.perf_counter()
    base = Settings()
    if not questions.is_file():
        _fail(f"{questions} is not a file")
    if not corpus.is_dir():
        _fail(f"--corpus {corpus} is not a folder")
    cache = cache_dir or base.home / "eval-cache"
    target = out or Path("eval-out") / f"answers-{dataset_name(questions)}"
    try:
        if verify_only:
            n, facts, problems = verify_set(questions, corpus, keyfacts, base, cache)
            for problem in problems:
                console.print(problem, style="red", markup=False)
            console.print(f"{n} questions, {facts} key facts: {len(problems) or 'no'} problems")
            raise typer.Exit(1 if problems else 0)
        names = [g.strip() for g in generators.split(",") if g.strip()]
        report = evaluate_answers(
            questions,
            corpus,
            names,
            keyfacts,
            base,
            cache,
            target,
            limit,
            lambda message: console.print(message, markup=False),
            [i.strip() for i in ids.split(",") if i.strip()] if ids else None,
        )
    except (ValueError, FileNotFoundError, KeyError) as err:
        _fail(err)
    files = write(report, target)
    console.print(markdown(report), markup=False)
    console.print(f"wrote {', '.join(str(f) for f in files)} in {time.perf_counter() - started:.0f}s")

"""Runs configurations over a dataset and collects metrics, latencies and build times."""

from __future__ import annotations

import hashlib
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder, model_spec
from eval.configs import EvalConfig
from eval.datasets import BeirDataset, QAItem
from eval.metrics import recall_curve, retrieval_metrics
from eval.qa import EvalHit, answered_at, judge, targets
from eval.systems import LangChainNaive, System, beir_records, build_eka
from ingest.pipeline import Ingestor, IngestReport

BEIR_DEPTH_CHUNKS = 300  # chunks retrieved per query so that ~100 distinct documents remain after grouping
QA_DEPTH = 100


def git_commit() -> str:
    """The current commit, or "unknown" outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _percentiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"p50": 0.0, "p95": 0.0}
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2),
    }


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )


def _summary(
    system: System,
    config: EvalConfig,
    settings: Settings,
    metrics: dict[str, float],
    queries: int,
    latencies: list[float],
    extra: dict[str, Any],
) -> dict[str, Any]:
    shown = {k: v for k, v in settings.model_dump(mode="json").items() if k not in ("home",)}
    return {
        "metrics": {k: round(v, 4) for k, v in metrics.items()},
        "queries": queries,
        "settings": {"kind": config.kind, "mode": config.mode, **(shown if config.kind == "eka" else {})},
        "model_ids": system.model_ids,
        "index_build_s": round(system.build_s, 2),
        "index_cached": system.cached,
        "latency_ms": _percentiles(latencies),
        **extra,
    }


def evaluate_beir(
    dataset: BeirDataset, configs: list[EvalConfig], base: Settings, cache_dir: Path, no_cache: bool = False
) -> dict[str, Any]:
    """Doc-level retrieval metrics over a BEIR split for every configuration."""
    embedder = SentenceTransformerEmbedder(model_spec(base.embedding_model), batch_size=base.embed_batch_size)
    queries = dataset.judged_queries()
    report: dict[str, Any] = {
        "dataset": f"{dataset.name}:{dataset.split}",
        "configs": {},
        "corpus_sha256": dataset.sha256,
        "git_commit": git_commit(),
    }
    for config in configs:
        system = _beir_system(config, dataset, base, cache_dir, embedder, no_cache)
        run: dict[str, dict[str, float]] = {}
        latencies: list[float] = []
        embedder.forget_queries()  # every config pays for encoding its questions: latencies compare
        with _progress() as bar:
            task = bar.add_task(f"{dataset.name} · {config.name}", total=len(queries))
            for qid, text in queries.items():
                started = time.perf_counter()
                hits = system.search(text, BEIR_DEPTH_CHUNKS)
                latencies.append((time.perf_counter() - started) * 1000)
                run[qid] = _by_document(hits)
                bar.advance(task)
        metrics = retrieval_metrics(dataset.qrels, run)
        curve = recall_curve(dataset.qrels, run)
        settings = config.settings(base)
        report["configs"][config.name] = _summary(
            system, config, settings, metrics, len(queries), latencies, {"recall_curve": curve}
        )
        system.close()
    return report


def _by_document(hits: list[EvalHit], depth: int = 100) -> dict[str, float]:
    """Chunk hits grouped by document (first occurrence = best rank), as a descending score list."""
    ranked: dict[str, float] = {}
    for hit in hits:
        if hit.doc not in ranked:
            ranked[hit.doc] = float(len(hits) - len(ranked))  # rank-preserving score
        if len(ranked) >= depth:
            break
    return ranked


def _beir_system(
    config: EvalConfig,
    dataset: BeirDataset,
    base: Settings,
    cache_dir: Path,
    embedder: SentenceTransformerEmbedder,
    no_cache: bool,
) -> System:
    if config.kind == "langchain":
        spec = model_spec(base.embedding_model)
        return LangChainNaive.from_corpus(dataset.corpus, str(spec.path()), spec.model_id)
    records = beir_records(dataset.corpus)

    def load(ingestor: Ingestor) -> IngestReport:
        return ingestor.run_records(records)

    return build_eka(config, base, cache_dir, dataset.name, dataset.sha256, load, embedder, None, no_cache)


def evaluate_qa(
    items: list[QAItem],
    corpus: Path,
    corpus_sha: str,
    configs: list[EvalConfig],
    base: Settings,
    cache_dir: Path,
    name: str,
    groups: list[str] | None = None,
    no_cache: bool = False,
) -> dict[str, Any]:
    """Page/section-level metrics over a QA set whose corpus is ingested with the normal pipeline."""
    embedder = SentenceTransformerEmbedder(model_spec(base.embedding_model), batch_size=base.embed_batch_size)
    answerable = [q for q in items if q.answerable and q.relevant]
    report: dict[str, Any] = {
        "dataset": name,
        "configs": {},
        "corpus_sha256": corpus_sha,
        "git_commit": git_commit(),
        "unanswerable": len(items) - len(answerable),
    }
    qrels = {q.qid: {t: 1 for t in targets(q)} for q in answerable}
    for config in configs:
        system = _qa_system(config, corpus, corpus_sha, base, cache_dir, embedder, groups, no_cache, name)
        run: dict[str, dict[str, float]] = {}
        latencies: list[float] = []
        embedder.forget_queries()  # every config pays for encoding its questions: latencies compare
        labels: dict[str, list[str]] = {}
        with _progress() as bar:
            task = bar.add_task(f"{name} · {config.name}", total=len(answerable))
            for item in answerable:
                started = time.perf_counter()
                hits = system.search(item.question, QA_DEPTH)
                latencies.append((time.perf_counter() - started) * 1000)
                labels[item.qid] = judge(item, hits)
                run[item.qid] = {label: float(QA_DEPTH - i) for i, label in enumerate(labels[item.qid])}
                bar.advance(task)
        metrics = retrieval_metrics(qrels, run)
        curve = {}
        for k in (1, 5, 10, 20, 50, 100):
            curve[k] = sum(answered_at(q, labels[q.qid], k) for q in answerable) / len(answerable)
        for k in (1, 5, 10, 100):
            metrics[f"recall@{k}"] = curve[k]  # QA recall: share of questions answered within the top k
        per_kind: dict[str, dict[str, float]] = {}
        for kind in sorted({q.kind for q in answerable}):
            members = [q for q in answerable if q.kind == kind]
            per_kind[kind] = {
                f"recall@{k}": round(sum(answered_at(q, labels[q.qid], k) for q in members) / len(members), 4)
                for k in (1, 5, 10)
            }
            per_kind[kind]["n"] = len(members)
        misses = [q.qid for q in answerable if not answered_at(q, labels[q.qid], 5)]
        settings = config.settings(base)
        report["configs"][config.name] = _summary(
            system,
            config,
            settings,
            metrics,
            len(answerable),
            latencies,
            {"recall_curve": curve, "per_kind": per_kind, "misses_at_5": misses},
        )
        system.close()
    return report


def _qa_system(
    config: EvalConfig,
    corpus: Path,
    corpus_sha: str,
    base: Settings,
    cache_dir: Path,
    embedder: SentenceTransformerEmbedder,
    groups: list[str] | None,
    no_cache: bool,
    name: str,
) -> System:
    if config.kind == "langchain":
        spec = model_spec(base.embedding_model)
        return LangChainNaive.from_folder(corpus, str(spec.path()), spec.model_id)

    def load(ingestor: Ingestor) -> IngestReport:
        return ingestor.run([corpus])

    return build_eka(config, base, cache_dir, name, corpus_sha, load, embedder, groups, no_cache)


def corpus_digest(root: Path) -> str:
    """sha256 over the relative paths and bytes of every file under a corpus folder."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()

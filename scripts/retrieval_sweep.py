"""Sweep cheap ranking variants over the cached eval stores (docs/retrieval-quality.md, issue 12 item 3).

The dense and BM25 first stage runs once per question; every variant is applied on top of it in memory, so a
sweep over dozens of variants takes seconds per dev set. ``default`` reproduces ``eka eval``'s numbers. Run
only on dev data (samples, engdocs, scifact-train), never on SciFact test:

    EKA_HOME=/tmp/x PYTHONPATH=. python scripts/retrieval_sweep.py samples engdocs scifact-train

The stores come from ``EKA_HOME/eval-cache`` (built by an earlier ``eka eval`` run; missing ones are built).
``--candidates`` changes the first-stage depth (default: as the harness, 100 for QA sets, 300 for BEIR).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ir_measures
import numpy as np
from ir_measures import nDCG

from assistant.citations import content_words
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder, model_spec
from assistant.passages import passage_text
from assistant.retrieval import fuse_minmax, fuse_rrf
from assistant.tokenize import tokenize
from assistant.types import Chunk, section_heading
from eval.configs import resolve
from eval.datasets import QAItem, load_beir, load_qa
from eval.metrics import retrieval_metrics
from eval.qa import EvalHit, answered_at, judge, targets
from eval.runner import _beir_system, _qa_system, corpus_digest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
Run = tuple[np.ndarray, np.ndarray]
Ranked = list[tuple[int, float]]


@dataclass
class Query:
    qid: str
    text: str
    vector: np.ndarray
    dense: Run
    lexical: Run
    item: QAItem | None
    filled: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


@dataclass
class Dataset:
    kind: str  # "qa" or "beir"
    depth: int
    queries: list[Query]
    qrels: dict[str, dict[str, int]]
    system: Any
    chunks: dict[int, Chunk] = field(default_factory=dict)
    docs: dict[str, Any] = field(default_factory=dict)
    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    memo: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def snapshot(self) -> Any:
        return self.system.assistant.embedded_indexes().current()

    def fetch(self, rows: set[int]) -> None:
        missing = sorted(rows - set(self.chunks))
        if missing:
            self.chunks.update(self.system.assistant.store.chunks_by_rowid(missing))
            self.vectors.update({r: self.snapshot.dense.vector(r) for r in missing})


def load(name: str, home: Path, candidates: int | None) -> Dataset:
    base = Settings(home=home)
    cache = home / "eval-cache"
    embedder = SentenceTransformerEmbedder(model_spec(base.embedding_model), batch_size=base.embed_batch_size)
    config = resolve("default", base)[0]
    items: list[tuple[str, str, QAItem | None]]
    if name in ("samples", "engdocs"):
        questions, corpus = (
            (ROOT / "samples" / "questions.jsonl", ROOT / "samples")
            if name == "samples"
            else (SHARED / "eval" / "engdocs-dev.jsonl", SHARED / "data" / "engineering-docs")
        )
        answerable = [q for q in load_qa(questions) if q.answerable and q.relevant]
        system = _qa_system(
            config, corpus, corpus_digest(corpus), base, cache, embedder, None, False, questions.stem
        )
        items = [(q.qid, q.question, q) for q in answerable]
        qrels = {q.qid: {t: 1 for t in targets(q)} for q in answerable}
        kind, depth = "qa", candidates or 100
    elif name == "scifact-train":
        dataset = load_beir(SHARED / "data" / "beir-scifact", "train")
        system = _beir_system(config, dataset, base, cache, embedder, False)
        items = [(qid, text, None) for qid, text in dataset.judged_queries().items()]
        qrels, kind, depth = dataset.qrels, "beir", candidates or 300
    else:
        raise SystemExit(f"unknown dev set {name!r} (samples, engdocs, scifact-train)")
    ds = Dataset(kind, depth, [], qrels, system)
    snapshot = ds.snapshot
    for (qid, text, item), vector in zip(
        items, embedder.embed_queries([t for _, t, _ in items]), strict=True
    ):
        dense = snapshot.dense.search(vector, depth, None)
        lexical = snapshot.lexical.search(text, depth, None, None)
        ds.queries.append(Query(qid, text, vector, dense, lexical, item))
    ds.fetch({int(r) for q in ds.queries for run in (q.dense, q.lexical) for r in run[0].tolist()})
    ds.docs = {s.document.doc_id: s.document for s in ds.system.assistant.store.documents()}
    return ds


def set_bm25(ds: Dataset, k1: float, b: float) -> None:
    """Re-run the lexical first stage with other BM25 parameters (search-time values of the loaded index)."""
    lexical = ds.snapshot.lexical
    lexical.k1, lexical.b = k1, b
    for q in ds.queries:
        q.lexical, q.filled = lexical.search(q.text, ds.depth, None, None), None
    ds.fetch({int(r) for q in ds.queries for r in q.lexical[0].tolist()})


def page_key(chunk: Chunk) -> tuple[str, object]:
    return (chunk.doc_id, chunk.page if chunk.page is not None else chunk.section)


def diversify(ds: Dataset, ranked: Ranked, limit: int = 1) -> Ranked:
    seen: dict[tuple[str, object], int] = {}
    head: Ranked = []
    tail: Ranked = []
    for row, score in ranked:
        key = page_key(ds.chunks[row])
        seen[key] = seen.get(key, 0) + 1
        (head if seen[key] <= limit else tail).append((row, score))
    return head + tail


def evaluate(
    ds: Dataset, ranker: Callable[[Dataset, Query], Ranked]
) -> tuple[dict[str, float], dict[str, float]]:
    """The harness's metrics (eval/runner.py) for one variant, and nDCG@10 per question."""
    run: dict[str, dict[str, float]] = {}
    labels: dict[str, list[str]] = {}
    for q in ds.queries:
        hits = []
        for row, score in ranker(ds, q)[: ds.depth]:
            chunk = ds.chunks[row]
            source = ds.docs[chunk.doc_id].source
            hits.append(EvalHit(source, chunk.page, section_heading(chunk.section), chunk.text, score))
        if q.item is not None:
            labels[q.qid] = judge(q.item, hits)
            run[q.qid] = {label: float(len(hits) - i) for i, label in enumerate(labels[q.qid])}
        else:
            ranked: dict[str, float] = {}
            for hit in hits:
                ranked.setdefault(hit.doc, float(len(hits) - len(ranked)))
            run[q.qid] = ranked
    metrics = retrieval_metrics(ds.qrels, run)
    if ds.kind == "qa":
        for k in (1, 5, 10):
            answered = sum(answered_at(q.item, labels[q.qid], k) for q in ds.queries if q.item is not None)
            metrics[f"recall@{k}"] = answered / len(ds.queries)
    judged = {q: dict(d) for q, d in ds.qrels.items() if any(v > 0 for v in d.values())}
    per_query = {r.query_id: float(r.value) for r in ir_measures.iter_calc([nDCG @ 10], judged, run)}
    return metrics, per_query


# -- first-stage variants -------------------------------------------------------------------------------------


def minmax(values: Any) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    span = float(x.max() - x.min()) if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.ones_like(x)


def fused(ds: Dataset, q: Query, dense_weight: float = 0.5, rrf: bool = False) -> Ranked:
    runs, weights = [q.dense, q.lexical], [dense_weight, 1 - dense_weight]
    scores = fuse_rrf(runs, weights) if rrf else fuse_minmax(runs, weights)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def filled(ds: Dataset, q: Query) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact dense and BM25 scores of every candidate of either run."""
    if q.filled is None:
        rows = np.union1d(q.dense[0], q.lexical[0]).astype(np.int64)
        dense = np.asarray([float(np.dot(ds.vectors[int(r)], q.vector)) for r in rows])
        ids, scores = ds.snapshot.lexical.search(q.text, len(rows), rows, None)
        exact = dict(zip(ids.tolist(), scores.tolist(), strict=True))
        q.filled = (rows, dense, np.asarray([exact.get(int(r), 0.0) for r in rows]))
    return q.filled


def fill_in(dense_weight: float = 0.5, lexical_exact: bool = False, zscore: bool = False) -> Any:
    def ranker(ds: Dataset, q: Query) -> Ranked:
        rows, dense, lexical = filled(ds, q)
        if not lexical_exact:
            listed = dict(zip(q.lexical[0].tolist(), q.lexical[1].tolist(), strict=True))
            lexical = np.asarray([listed.get(int(r), 0.0) for r in rows])

        def norm(x: np.ndarray) -> np.ndarray:
            return (x - x.mean()) / (x.std() or 1.0) if zscore else minmax(x)

        score = dense_weight * norm(dense) + (1 - dense_weight) * norm(lexical)
        return sorted(zip(rows.tolist(), score.tolist(), strict=True), key=lambda item: (-item[1], item[0]))

    return ranker


# -- second-stage features: f(ds, q, row, head) ----------------------------------------------------------------

Feature = Callable[[Dataset, Query, int, Ranked], float]


def memo(ds: Dataset, kind: str, text: str, make: Callable[[], Any]) -> Any:
    key = (kind, text)
    if key not in ds.memo:
        ds.memo[key] = make()
    return ds.memo[key]


def passage(ds: Dataset, row: int) -> str:
    chunk = ds.chunks[row]
    document = ds.docs.get(chunk.doc_id)
    return passage_text(document.title if document else None, chunk.section, chunk.text)


def title_and_section(ds: Dataset, row: int) -> str:
    chunk = ds.chunks[row]
    document = ds.docs.get(chunk.doc_id)
    return " ".join(p for p in ((document.title if document else None), chunk.section) if p)


def words(ds: Dataset, text: str) -> set[str]:
    found: set[str] = memo(ds, "words", text, lambda: content_words(text))
    return found


def bigrams(ds: Dataset, text: str) -> set[tuple[str, str]]:
    def make() -> set[tuple[str, str]]:
        tokens = list(tokenize(text))
        return set(itertools.pairwise(tokens))

    found: set[tuple[str, str]] = memo(ds, "bigrams", text, make)
    return found


def f_title_section_words(ds: Dataset, q: Query, row: int, head: Ranked) -> float:
    asked = words(ds, q.text)
    return len(asked & words(ds, title_and_section(ds, row))) / max(len(asked), 1)


def f_cosine(ds: Dataset, q: Query, row: int, head: Ranked) -> float:
    return float(np.dot(ds.vectors[row], q.vector))


def f_phrase(ds: Dataset, q: Query, row: int, head: Ranked) -> float:
    asked = bigrams(ds, q.text)
    return len(asked & bigrams(ds, passage(ds, row))) / max(len(asked), 1)


IDENTIFIER = re.compile(r"\b(?=\w*\d)(?=\w*[A-Za-z])[\w.-]{2,}\b|\b[A-Z]{2,}[\w-]*\b")


def f_identifier(ds: Dataset, q: Query, row: int, head: Ranked) -> float:
    asked = {m.group(0).lower() for m in IDENTIFIER.finditer(q.text)}
    text = passage(ds, row).lower()
    return sum(1 for i in asked if i in text) / len(asked) if asked else 0.0


def f_page_share(ds: Dataset, q: Query, row: int, head: Ranked) -> float:
    key = page_key(ds.chunks[row])
    return sum(1 for r, _ in head if page_key(ds.chunks[r]) == key) / len(head)


def f_page_best_cosine(ds: Dataset, q: Query, row: int, head: Ranked) -> float:
    key = page_key(ds.chunks[row])
    return max(float(np.dot(ds.vectors[r], q.vector)) for r, _ in head if page_key(ds.chunks[r]) == key)


def _static(ds: Dataset) -> tuple[np.ndarray, Any]:
    def make() -> tuple[np.ndarray, Any]:
        model = ds.system.assistant.embedder.model()
        table = model[0].auto_model.embeddings.word_embeddings.weight.detach().cpu().numpy()
        table = table / np.maximum(np.linalg.norm(table, axis=1, keepdims=True), 1e-9)
        return table.astype(np.float32), model.tokenizer

    found: tuple[np.ndarray, Any] = memo(ds, "static", "", make)
    return found


def static_ids(ds: Dataset, text: str) -> np.ndarray:
    def make() -> np.ndarray:
        _table, tokenizer = _static(ds)
        ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=256)["input_ids"]
        pieces = tokenizer.convert_ids_to_tokens(ids)
        return np.unique([i for i, p in zip(ids, pieces, strict=True) if any(c.isalnum() for c in p)])

    found: np.ndarray = memo(ds, "static_ids", text, make)
    return found


def f_static_maxsim(ds: Dataset, q: Query, row: int, head: Ranked) -> float:
    """MaxSim over the model's input (static) token embeddings: no encoder pass."""
    table, _ = _static(ds)
    asked, text = static_ids(ds, q.text), static_ids(ds, passage(ds, row))
    if not len(asked) or not len(text):
        return 0.0
    return float((table[asked] @ table[text].T).max(axis=1).mean())


def heading(ds: Dataset, row: int, title_fallback: bool) -> str:
    chunk = ds.chunks[row]
    found = section_heading(chunk.section)
    if not found and title_fallback:
        found = ds.docs[chunk.doc_id].title or ""
    return found or ""


def f_static_heading(ds: Dataset, q: Query, row: int, head: Ranked) -> float:
    table, _ = _static(ds)
    ids, asked = static_ids(ds, heading(ds, row, True)), static_ids(ds, q.text)
    if not len(ids) or not len(asked):
        return 0.0
    a, b = table[ids].mean(axis=0), table[asked].mean(axis=0)
    return float(np.dot(a, b) / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9))


def heading_vector(ds: Dataset, text: str) -> np.ndarray:
    def make() -> np.ndarray:
        vectors: np.ndarray = ds.system.assistant.embedder.embed_passages([text])
        return np.asarray(vectors[0], dtype=np.float32)

    found: np.ndarray = memo(ds, "heading_vector", text, make)
    return found


def f_heading(title_fallback: bool) -> Feature:
    def feature(ds: Dataset, q: Query, row: int, head: Ranked) -> float:
        text = heading(ds, row, title_fallback)
        return float(np.dot(heading_vector(ds, text), q.vector)) if text else 0.0

    return feature


def rerank(
    feature: Feature, weight: float, depth: int = 20, normalise: bool = False, first: Any = None
) -> Callable[[Dataset, Query], Ranked]:
    """minmax(first-stage score) + weight * feature over the top ``depth``; the rest keep their order."""

    def ranker(ds: Dataset, q: Query) -> Ranked:
        ranked = first(ds, q) if first else fused(ds, q)
        head = ranked[:depth]
        values = np.asarray([feature(ds, q, row, head) for row, _ in head], dtype=np.float64)
        score = minmax([s for _, s in head]) + weight * (minmax(values) if normalise else values)
        order = sorted(zip([r for r, _ in head], score.tolist(), strict=True), key=lambda item: -item[1])
        floor = float(score.min()) if len(score) else 0.0
        return diversify(ds, order + [(r, floor - 1 - i) for i, (r, _) in enumerate(ranked[depth:])])

    return ranker


def within_document(feature: Feature, weight: float, depth: int = 20) -> Callable[[Dataset, Query], Ranked]:
    """Like ``rerank`` (normalised), but a chunk only moves among the slots of its own document."""

    def ranker(ds: Dataset, q: Query) -> Ranked:
        ranked = fused(ds, q)
        head = ranked[:depth]
        values = minmax([feature(ds, q, row, head) for row, _ in head])
        score = minmax([s for _, s in head]) + weight * values
        slots: dict[str, list[int]] = {}
        for i, (row, _) in enumerate(head):
            slots.setdefault(ds.chunks[row].doc_id, []).append(i)
        out = list(head)
        for places in slots.values():
            for slot, i in zip(places, sorted(places, key=lambda i: -score[i]), strict=True):
                out[slot] = (head[i][0], head[slot][1])
        return diversify(ds, out + ranked[depth:])

    return ranker


def variants() -> dict[str, Callable[[Dataset, Query], Ranked]]:
    v: dict[str, Callable[[Dataset, Query], Ranked]] = {
        "default": lambda ds, q: diversify(ds, fused(ds, q)),
        "dense weight 0.55": lambda ds, q: diversify(ds, fused(ds, q, 0.55)),
        "dense weight 0.6": lambda ds, q: diversify(ds, fused(ds, q, 0.6)),
        "rrf": lambda ds, q: diversify(ds, fused(ds, q, rrf=True)),
        "exact dense fill-in": lambda ds, q: diversify(ds, fill_in()(ds, q)),
        "exact both, z-score, dense 0.6": lambda ds, q: diversify(ds, fill_in(0.6, True, True)(ds, q)),
        "phrase top30 w0.1": rerank(f_phrase, 0.1, 30),
        "phrase top30 w0.3": rerank(f_phrase, 0.3, 30),
        "fill-in + phrase top30 w0.1": rerank(f_phrase, 0.1, 30, first=fill_in()),
        "identifier top20 w0.1": rerank(f_identifier, 0.1),
        "title/section words top20 w0.1": rerank(f_title_section_words, 0.1),
        "title/section words top20 w0.2": rerank(f_title_section_words, 0.2),
        "cosine (mm) top20 w0.2": rerank(f_cosine, 0.2, 20, True),
        "cosine (mm) top30 w0.3": rerank(f_cosine, 0.3, 30, True),
        "page best cosine (mm) top20 w0.2": rerank(f_page_best_cosine, 0.2, 20, True),
        "page share top20 w0.2": rerank(f_page_share, 0.2),
        "static MaxSim (mm) top20 w0.5": rerank(f_static_maxsim, 0.5, 20, True),
        "static heading (mm) top20 w0.1": rerank(f_static_heading, 0.1, 20, True),
        "heading cosine (mm) top20 w0.2": rerank(f_heading(False), 0.2, 20, True),
        "heading or title cosine (mm) top20 w0.2": rerank(f_heading(True), 0.2, 20, True),
        "heading cosine within document w0.2": within_document(f_heading(False), 0.2),
        **{
            f"heading cosine within document w{w}": within_document(f_heading(False), w)
            for w in (0.1, 0.3, 0.5, 1.0)
        },
        **{
            f"heading cosine within document w{w} top{d}": within_document(f_heading(False), w, d)
            for w in (0.2, 0.3, 0.5)
            for d in (10, 30)
        },
    }
    return v


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sets", nargs="+", help="samples, engdocs, scifact-train")
    parser.add_argument("--home", type=Path, default=Path(Settings().home))
    parser.add_argument("--candidates", type=int, default=None)
    parser.add_argument("--bm25", default="1.2/0.75", help="comma-separated k1/b pairs for the default")
    parser.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    parser.add_argument("--per-query", action="store_true", help="list questions whose nDCG@10 changed")
    parser.add_argument("--dump", type=Path, help="write every variant's per-question nDCG@10 here (JSON)")
    args = parser.parse_args()
    dumped: dict[str, dict[str, float]] = {}
    chosen = variants()
    if args.only:
        chosen = {k: chosen[k] for k in args.only.split(",")}
    for name in args.sets:
        ds = load(name, args.home, args.candidates)
        baseline: dict[str, float] = {}
        for pair in args.bm25.split(","):
            k1, b = (float(x) for x in pair.split("/"))
            set_bm25(ds, k1, b)
            for label, ranker in chosen.items():
                if pair != "1.2/0.75" and label != "default":
                    continue
                m, per_query = evaluate(ds, ranker)
                dumped[f"{name} {pair} {label}"] = per_query
                print(
                    f"{name:14s} bm25 {pair:9s} {label:42s} ndcg@10 {m['ndcg@10']:.3f} r@1 {m['recall@1']:.3f}"
                    f" r@5 {m['recall@5']:.3f} r@10 {m['recall@10']:.3f} mrr@10 {m['mrr@10']:.3f}",
                    flush=True,
                )
                if label == "default" and pair == "1.2/0.75":
                    baseline = per_query
                elif args.per_query:
                    for qid, value in sorted(per_query.items()):
                        if abs(value - baseline.get(qid, 0.0)) > 1e-9:
                            print(f"    {qid}: {baseline.get(qid, 0.0):.3f} -> {value:.3f}")
    if args.dump:
        args.dump.write_text(json.dumps(dumped, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""Answer benchmark: the answering pipeline end to end on the dev question sets.

For every question of each set (default: ``samples/questions.jsonl`` on ``samples/`` and
``../shared/eval/engdocs-dev.jsonl`` on ``../shared/data/engineering-docs``), asked by a reader of every group
through :class:`~assistant.answering.AnswerService` with the chosen generator, it reports:

- answer latency p50/p95, total and to the first token;
- refusal accuracy (unanswerable questions refused) and false-refusal rate (answerable questions refused);
- citation support: the share of cited sentences whose cited source supports them;
- for answerable questions, whether a citation points to a relevant page (``eval.qa`` judging);
- the support check itself: support scores of each cited sentence against its own source and against a
  random source of another question, and the threshold that separates them best.

``--calibrate`` also scores each question's evidence features (dense cosine, lexical coverage, late
interaction), sweeps a refusal threshold per feature and reports the rule that maximises balanced accuracy on
the sets combined, plus how each set's best threshold transfers to the other and how the rule treats the
questions of one set asked against the other set's corpus (off-corpus questions that must all be refused).

Usage:
    python -m eval.bench.answer [--generator extractive|local|openai] [--calibrate] [--out DIR]
        [--dataset QUESTIONS CORPUS ...]
Indexes are built (or reused) under ``EKA_HOME/eval-cache`` exactly as ``eka eval qa`` builds them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from assistant.answering import AnswerRequest, AnswerResult, AnswerService
from assistant.audit import SQLiteAuditLog
from assistant.citations import check, content_words, support
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder, model_spec
from assistant.errors import GeneratorError
from assistant.generation.base import Generator
from assistant.passages import passage_text
from assistant.postcheck import NOT_COVERED
from assistant.refusal import EvidenceScorer
from assistant.rerank import LateInteractionReranker
from assistant.tokenize import tokenize
from assistant.types import Hit, Principal
from eval.configs import EvalConfig
from eval.datasets import QAItem, load_qa
from eval.qa import EvalHit, is_relevant
from eval.runner import corpus_digest, git_commit
from eval.systems import EkaSystem, build_eka
from ingest.pipeline import Ingestor, IngestReport

log = logging.getLogger(__name__)

DEFAULT_SETS = (
    (Path("samples/questions.jsonl"), Path("samples")),
    (Path("../shared/eval/engdocs-dev.jsonl"), Path("../shared/data/engineering-docs")),
)
# The features the calibration compares (each: higher = more evidence that the documents cover the question).
FEATURES = {
    "dense_max": "max cosine of the query and the hits' stored passage vectors (shipped before calibration)",
    "dense_top1": "cosine of the query and the top hit's passage vector",
    "lex_top1": "share of the question's content words found in the top hit's passage",
    "lex_max": "share of the question's content words found in the best-covering hit",
    "lex_idf_top1": "IDF-weighted share of the question's content words found in the top hit's passage",
    "lex_idf_max": "IDF-weighted share of the question's content words found in the best-covering hit",
    "maxsim_top1": "late-interaction MaxSim of the query and the top hit's passage (mean over query tokens)",
    "maxsim_max": "late-interaction MaxSim of the query and the best hit's passage",
    "mean_dense_maxsim": "mean of dense_max and maxsim_top1 (the rule in assistant/refusal.py)",
    "mean_dense_lex_idf": "mean of dense_max and lex_idf_max",
    "mean_maxsim_lex_idf": "mean of maxsim_max and lex_idf_max",
    "mean_dense_lex": "mean of dense_max and lex_max",
    "best_dense_lex": "best hit's mean of its dense cosine and lexical coverage (its relevance)",
    "best_dense_lex_idf": "best hit's mean of its dense cosine and IDF-weighted lexical coverage",
    "evidence": "the shipped rule as the answer service computes it (assistant/refusal.py): best_dense_lex "
    "over the hits about the question's entities, before neighbours are added",
}


# -- building ------------------------------------------------------------------------------------------------


def make_generator(settings: Settings, embedder: SentenceTransformerEmbedder) -> Generator:
    """The generator named by ``settings.generator`` (the factory when present, else extractive)."""
    try:
        from assistant.generation.factory import make_generator as factory
    except ImportError:  # pragma: no cover - older checkouts without LLM generators
        from assistant.generation.extractive import ExtractiveGenerator

        if settings.generator != "extractive":
            raise SystemExit(f"generator {settings.generator!r} needs assistant.generation.factory") from None
        return ExtractiveGenerator(embedder)
    return factory(settings, embedder)


@dataclass
class DevSet:
    """One question set with its corpus, indexed and ready to answer."""

    name: str
    questions: Path
    corpus: Path
    items: list[QAItem]
    system: EkaSystem


def open_set(
    questions: Path, corpus: Path, base: Settings, cache_dir: Path, embedder: SentenceTransformerEmbedder
) -> DevSet:
    """Load a QA set and build (or reuse) the eval index of its corpus (the same cache as ``eka eval qa``)."""
    items = load_qa(questions)

    def load(ingestor: Ingestor) -> IngestReport:
        return ingestor.run([corpus])

    name = questions.stem
    system = build_eka(
        EvalConfig("default", mode=base.search_mode),
        base,
        cache_dir,
        name,
        corpus_digest(corpus),
        load,
        embedder,
        None,  # every group found in the corpus: a reader who may see all of it
        False,
    )
    return DevSet(name, questions, corpus, items, system)


# -- evidence features ---------------------------------------------------------------------------------------


class FeatureScorer:
    """Every candidate evidence feature for one store (IDF from the store's own chunk passages)."""

    def __init__(self, system: EkaSystem) -> None:
        assistant = system.assistant
        self.store = assistant.store
        self.embedder = assistant.embedder
        self.model_id = assistant.spec.model_id
        self.late = LateInteractionReranker(assistant.embedder)
        self.shipped = EvidenceScorer(assistant.store, assistant.embedder, assistant.spec.model_id)
        rows = assistant.store.index_rows()
        frequencies: dict[str, int] = {}
        for passage in rows.passages:
            for token in set(tokenize(passage)):
                frequencies[token] = frequencies.get(token, 0) + 1
        n = max(len(rows.passages), 1)
        self.idf = {t: float(np.log(1 + (n - f + 0.5) / (f + 0.5))) for t, f in frequencies.items()}
        self.unseen_idf = float(np.log(1 + (n + 0.5) / 0.5))

    def _coverage(self, question: str, passage: str, weighted: bool) -> float:
        words = content_words(question)
        if not words:
            return 0.0
        found = words & content_words(passage)
        if not weighted:
            return len(found) / len(words)
        weight = {w: self.idf.get(w, self.unseen_idf) for w in words}
        return sum(weight[w] for w in found) / sum(weight.values())

    def score(self, query: str, hits: Sequence[Hit]) -> dict[str, float]:
        """All features of ``FEATURES`` for one query and its hits."""
        if not hits:
            return dict.fromkeys(FEATURES, 0.0)
        passages = [passage_text(h.document.title, h.chunk.section, h.chunk.text) for h in hits]
        vectors = self.store.chunk_vectors(self.model_id, [h.chunk.chunk_id for h in hits])
        query_vector = self.embedder.embed_queries([query])[0]
        cosines = [float(np.dot(vectors[h.chunk.chunk_id], query_vector)) for h in hits]
        maxsim = self.late.score(query, passages)
        lex = [self._coverage(query, p, weighted=False) for p in passages]
        lex_idf = [self._coverage(query, p, weighted=True) for p in passages]
        out = {
            "dense_max": max(cosines),
            "dense_top1": cosines[0],
            "lex_top1": lex[0],
            "lex_max": max(lex),
            "lex_idf_top1": lex_idf[0],
            "lex_idf_max": max(lex_idf),
            "maxsim_top1": maxsim[0],
            "maxsim_max": max(maxsim),
        }
        out["mean_dense_maxsim"] = (out["dense_max"] + out["maxsim_top1"]) / 2
        out["mean_dense_lex_idf"] = (out["dense_max"] + out["lex_idf_max"]) / 2
        out["mean_maxsim_lex_idf"] = (out["maxsim_max"] + out["lex_idf_max"]) / 2
        out["mean_dense_lex"] = (out["dense_max"] + out["lex_max"]) / 2
        out["best_dense_lex"] = max((c + x) / 2 for c, x in zip(cosines, lex, strict=True))
        out["best_dense_lex_idf"] = max((c + x) / 2 for c, x in zip(cosines, lex_idf, strict=True))
        out["evidence"] = self.shipped.evidence(query, hits)
        return {k: round(v, 6) for k, v in out.items()}


# -- answering -----------------------------------------------------------------------------------------------


def _cited_relevant(item: QAItem, result: AnswerResult) -> bool:
    by_marker = {h.rank: h for h in result.hits}
    cited = [by_marker[c.marker] for c in result.citations if c.marker in by_marker]
    return any(is_relevant(EvalHit.of(h), e) for h in cited for e in item.relevant)


def _retrieved_relevant(item: QAItem, hits: Sequence[Hit]) -> bool:
    return any(is_relevant(EvalHit.of(h), e) for h in hits for e in item.relevant)


def answer_set(
    dev: DevSet,
    service: AnswerService,
    principal: Principal,
    features: FeatureScorer | None,
    support_threshold: float,
    errors: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Answer every question of ``dev``; one row per answered question (failures go to ``errors``)."""
    rows = []
    for item in dev.items:
        try:
            result = service.answer(AnswerRequest(item.question), principal)
        except GeneratorError as err:  # a timeout or a failed LLM call: counted, never silently dropped
            log.warning("%s %s: %s", dev.name, item.qid, err)
            errors.append({"set": dev.name, "qid": item.qid, "error": str(err)})
            continue
        checked = check(result.text, result.hits, support_threshold) if not result.refused else None
        sentences = [
            {"text": s.text, "markers": list(s.markers), "support": round(s.support, 4)}
            for s in (checked.sentences if checked else ())
            if s.markers
        ]
        row: dict[str, Any] = {
            "set": dev.name,
            "qid": item.qid,
            "kind": item.kind,
            "answerable": item.answerable,
            "question": item.question,
            "answer": result.text,
            "refused": result.refused,
            "refused_early": result.refused and result.text.startswith(NOT_COVERED),
            "evidence": round(result.evidence, 6),
            "support_rate": result.support_rate,
            "cited_sentences": sentences,
            "sentences": len(checked.sentences) if checked else 0,
            "unsupported": list(result.unsupported),
            "citations": [
                {"marker": c.marker, "source": c.source, "page": c.page, "section": c.section}
                for c in result.citations
            ],
            "sources": [
                {"source": h.document.source, "page": h.chunk.page, "text": h.chunk.text} for h in result.hits
            ],
            "timings": result.timings,
        }
        if item.answerable and item.relevant:
            row["cited_relevant"] = _cited_relevant(item, result)
            row["retrieved_relevant"] = _retrieved_relevant(item, result.hits)
        if features is not None:
            row["features"] = features.score(result.query, result.hits)
            row["features"]["evidence"] = round(result.evidence, 6)  # on the hits the service judged
        rows.append(row)
        log.info("%s %s refused=%s %.0f ms", dev.name, item.qid, result.refused, result.timings["total_ms"])
    return rows


def off_corpus_rows(dev: DevSet, other: DevSet, features: FeatureScorer, k: int) -> list[dict[str, Any]]:
    """Features of ``other``'s questions asked against ``dev``'s corpus: none of them may be answered."""
    rows = []
    for item in other.items:
        hits = dev.system.assistant.retriever.search(item.question, dev.system.principal, k=k)
        rows.append(
            {
                "set": f"{other.name}@{dev.name}",
                "qid": item.qid,
                "answerable": False,
                "features": features.score(item.question, hits),
            }
        )
    return rows


# -- summaries -----------------------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def _rate(hits: int, n: int) -> float | None:
    return round(hits / n, 4) if n else None


def summarise(rows: Sequence[dict[str, Any]], support_threshold: float) -> dict[str, Any]:
    """The headline numbers over ``rows`` (one set or all)."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    judged = [r for r in answerable if "cited_relevant" in r]
    answered = [r for r in judged if not r["refused"]]
    cited = [s for r in rows if not r["refused"] for s in r["cited_sentences"]]
    total = [r["timings"]["total_ms"] for r in rows]
    # Time to first token of generated answers (an early refusal's first token is the refusal text).
    first = [
        r["timings"]["first_token_ms"]
        for r in rows
        if "first_token_ms" in r["timings"] and not r["refused_early"]
    ]
    refusal_accuracy = _rate(sum(r["refused"] for r in unanswerable), len(unanswerable))
    false_refusal = _rate(sum(r["refused"] for r in answerable), len(answerable))
    return {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "latency_ms": {
            "total_p50": round(statistics.median(total), 1) if total else None,
            "total_p95": round(_percentile(total, 0.95), 1) if total else None,
            "first_token_p50": round(statistics.median(first), 1) if first else None,
            "first_token_p95": round(_percentile(first, 0.95), 1) if first else None,
        },
        "refusal_accuracy": refusal_accuracy,
        "false_refusal_rate": false_refusal,
        "balanced_accuracy": (
            round((refusal_accuracy + 1 - false_refusal) / 2, 4)
            if refusal_accuracy is not None and false_refusal is not None
            else None
        ),
        "refused_by_evidence": sum(r["refused_early"] for r in rows),
        "refused_by_generator": sum(r["refused"] and not r["refused_early"] for r in rows),
        "cited_sentences": len(cited),
        "unsupported_sentence_rate": _rate(
            sum(len(r["unsupported"]) for r in rows if not r["refused"]),
            sum(r["sentences"] for r in rows if not r["refused"]),
        ),
        "citation_support_rate": _rate(sum(s["support"] >= support_threshold for s in cited), len(cited)),
        "citation_relevant_rate": _rate(sum(r["cited_relevant"] for r in judged), len(judged)),
        "citation_relevant_rate_answered": _rate(sum(r["cited_relevant"] for r in answered), len(answered)),
        "retrieved_relevant_rate": _rate(sum(r["retrieved_relevant"] for r in judged), len(judged)),
    }


# -- the support check ---------------------------------------------------------------------------------------


def best_threshold(
    positives: Sequence[float], negatives: Sequence[float], accept_at_or_above: bool = True
) -> tuple[float, float, float, float]:
    """The cut that best separates two score lists: (threshold, balanced accuracy, TPR, TNR).

    A score ``>= threshold`` counts as positive. Cuts are midpoints between neighbouring distinct scores; of
    equally good cuts the middle one of the widest run is taken (the most margin on either side).
    """
    values = sorted(set(positives) | set(negatives))
    cuts = [values[0] - 1e-6] + [(a + b) / 2 for a, b in itertools.pairwise(values)]
    cuts.append(values[-1] + 1e-6)
    scored = []
    for cut in cuts:
        tpr = sum(p >= cut for p in positives) / len(positives) if positives else 0.0
        tnr = sum(n < cut for n in negatives) / len(negatives) if negatives else 0.0
        scored.append((round((tpr + tnr) / 2, 6), cut, tpr, tnr))
    best = max(s[0] for s in scored)
    winners = [s for s in scored if s[0] == best]
    # Of the tied cuts, the middle one (the plateau's centre) leaves most margin to both classes.
    chosen = winners[len(winners) // 2]
    return chosen[1], chosen[0], chosen[2], chosen[3]


def support_study(rows: Sequence[dict[str, Any]], seed: int = 7) -> dict[str, Any]:
    """Support scores of cited sentences against their own source and against a wrong source.

    The wrong source is a random retrieved source of another question of the same set whose document and page
    differ from every source the sentence cites.
    """
    rng = random.Random(seed)
    true_scores: list[float] = []
    wrong_scores: list[float] = []
    for row in rows:
        if row["refused"]:
            continue
        others = [
            s
            for other in rows
            if other["set"] == row["set"] and other["qid"] != row["qid"]
            for s in other["sources"]
        ]
        own = {(row["sources"][m - 1]["source"], row["sources"][m - 1]["page"]) for m in _markers(row)}
        others = [s for s in others if (s["source"], s["page"]) not in own]
        for sentence in row["cited_sentences"]:
            true_scores.append(sentence["support"])
            if others:
                wrong_scores.append(support(sentence["text"], rng.choice(others)["text"]))
    if not true_scores or not wrong_scores:
        return {"sentences": len(true_scores)}
    threshold, balanced, tpr, tnr = best_threshold(true_scores, wrong_scores)

    def dist(values: list[float]) -> dict[str, float]:
        return {
            "n": len(values),
            "mean": round(statistics.fmean(values), 3),
            "p5": round(_percentile(values, 0.05), 3),
            "p25": round(_percentile(values, 0.25), 3),
            "p50": round(_percentile(values, 0.5), 3),
            "p75": round(_percentile(values, 0.75), 3),
            "p95": round(_percentile(values, 0.95), 3),
            "max": round(max(values), 3),
        }

    at = {
        f"{t:.2f}": {
            "true_supported": round(sum(v >= t for v in true_scores) / len(true_scores), 4),
            "wrong_supported": round(sum(v >= t for v in wrong_scores) / len(wrong_scores), 4),
        }
        for t in (0.3, 0.4, 0.5, 0.6, 0.7)
    }
    bins = np.linspace(0, 1, 11)
    return {
        "sentences": len(true_scores),
        "true": dist(true_scores),
        "wrong": dist(wrong_scores),
        "histogram_bins": [round(b, 1) for b in bins.tolist()],
        "true_histogram": np.histogram(true_scores, bins=bins)[0].tolist(),
        "wrong_histogram": np.histogram(wrong_scores, bins=bins)[0].tolist(),
        "best_threshold": round(threshold, 3),
        "best_balanced_accuracy": round(balanced, 4),
        "best_true_supported": round(tpr, 4),
        "best_wrong_rejected": round(tnr, 4),
        "at_threshold": at,
    }


def _markers(row: dict[str, Any]) -> set[int]:
    return {m for s in row["cited_sentences"] for m in s["markers"] if 1 <= m <= len(row["sources"])}


# -- calibration ---------------------------------------------------------------------------------------------


def _rule_stats(rows: Sequence[dict[str, Any]], feature: str, threshold: float) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    refused_u = sum(r["features"][feature] < threshold for r in unanswerable)
    refused_a = sum(r["features"][feature] < threshold for r in answerable)
    accuracy = refused_u / len(unanswerable) if unanswerable else None
    false_rate = refused_a / len(answerable) if answerable else None
    balanced = (accuracy + 1 - false_rate) / 2 if accuracy is not None and false_rate is not None else None
    return {
        "n_answerable": len(answerable),
        "n_unanswerable": len(unanswerable),
        "refusal_accuracy": None if accuracy is None else round(accuracy, 4),
        "false_refusal_rate": None if false_rate is None else round(false_rate, 4),
        "balanced_accuracy": None if balanced is None else round(balanced, 4),
    }


def _choose(rows: Sequence[dict[str, Any]], feature: str) -> tuple[float, float]:
    positives = [r["features"][feature] for r in rows if r["answerable"]]
    negatives = [r["features"][feature] for r in rows if not r["answerable"]]
    threshold, balanced, _, _ = best_threshold(positives, negatives)
    return threshold, balanced


FALSE_REFUSAL_CAPS = (0.0, 0.05, 0.10)


def operating_point(rows: Sequence[dict[str, Any]], feature: str, cap: float) -> dict[str, Any]:
    """The threshold refusing most unanswerable questions while refusing at most ``cap`` of the answerable
    ones (ties: fewest false refusals, then the middle of the tied run)."""
    values = sorted({float(r["features"][feature]) for r in rows})
    cuts = [values[0] - 1e-6] + [(a + b) / 2 for a, b in itertools.pairwise(values)]
    scored = []
    for cut in cuts:
        stats = _rule_stats(rows, feature, cut)
        if stats["false_refusal_rate"] <= cap + 1e-9:
            scored.append(((stats["refusal_accuracy"], -stats["false_refusal_rate"]), cut, stats))
    best = max(s[0] for s in scored)
    winners = [s for s in scored if s[0] == best]
    _, cut, stats = winners[len(winners) // 2]
    return {"cap": cap, "threshold": round(cut, 4), **stats}


def calibrate(
    rows: Sequence[dict[str, Any]], off_corpus: Sequence[dict[str, Any]], sets: Sequence[str]
) -> dict[str, Any]:
    """Per feature: the threshold that maximises balanced accuracy on all sets, and how it does per set."""
    table: dict[str, Any] = {}
    for feature in FEATURES:
        threshold, _ = _choose(rows, feature)
        entry: dict[str, Any] = {
            "threshold": round(threshold, 4),
            "combined": _rule_stats(rows, feature, threshold),
            "per_set": {s: _rule_stats([r for r in rows if r["set"] == s], feature, threshold) for s in sets},
            "off_corpus_refused": _rate(
                sum(r["features"][feature] < threshold for r in off_corpus), len(off_corpus)
            ),
            "margin": _margin(rows, feature, threshold),
        }
        # Transfer: the threshold chosen on one set alone, applied to the other sets.
        transfer = {}
        for s in sets:
            own = [r for r in rows if r["set"] == s]
            t, _ = _choose(own, feature)
            transfer[s] = {
                "threshold": round(t, 4),
                "others": _rule_stats([r for r in rows if r["set"] != s], feature, t),
            }
        entry["transfer"] = transfer
        entry["operating_points"] = []
        for cap in FALSE_REFUSAL_CAPS:
            point = operating_point(rows, feature, cap)
            point["off_corpus_refused"] = _rate(
                sum(r["features"][feature] < point["threshold"] for r in off_corpus), len(off_corpus)
            )
            entry["operating_points"].append(point)
        table[feature] = entry
    ranked = sorted(
        table,
        key=lambda f: (-table[f]["combined"]["balanced_accuracy"], -table[f]["margin"]),
    )
    return {"features": FEATURES, "table": table, "ranking": ranked}


def _margin(rows: Sequence[dict[str, Any]], feature: str, threshold: float) -> float:
    """Distance from the threshold to the nearest correctly classified question on either side, relative
    to the feature's spread (larger = the cut sits in a wider gap)."""
    values = [float(r["features"][feature]) for r in rows]
    spread = (max(values) - min(values)) or 1.0
    above = [v for r, v in zip(rows, values, strict=True) if r["answerable"] and v >= threshold]
    below = [v for r, v in zip(rows, values, strict=True) if not r["answerable"] and v < threshold]
    if not above or not below:
        return 0.0
    return round(min(min(above) - threshold, threshold - max(below)) / spread, 4)


# -- report --------------------------------------------------------------------------------------------------


def _fmt(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}"


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown tables."""
    out = [
        f"# Answer benchmark · generator `{report['generator']}`",
        "",
        f"commit `{report['git_commit'][:10]}` · {report['started']} · support threshold "
        f"{report['support_threshold']} · refusal threshold {report['refusal_threshold']} · k {report['k']}",
        "",
        "| set | questions | p50 / p95 total ms | p50 / p95 first token ms | refusal acc. (unanswerable) "
        "| false refusals (answerable) | refused by evidence / generator | citation support "
        "| unsupported sentences | cites a relevant page (of answered) | relevant page in sources |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, s in report["summary"].items():
        lat = s["latency_ms"]
        out.append(
            f"| {name} | {s['questions']} ({s['unanswerable']} unanswerable) "
            f"| {_ms(lat['total_p50'])} / {_ms(lat['total_p95'])} "
            f"| {_ms(lat['first_token_p50'])} / {_ms(lat['first_token_p95'])} "
            f"| {_fmt(s['refusal_accuracy'])} | {_fmt(s['false_refusal_rate'])} "
            f"| {s['refused_by_evidence']} / {s['refused_by_generator']} "
            f"| {_fmt(s['citation_support_rate'])} ({s['cited_sentences']} sentences) "
            f"| {_fmt(s['unsupported_sentence_rate'])} "
            f"| {_fmt(s['citation_relevant_rate'])} ({_fmt(s['citation_relevant_rate_answered'])}) "
            f"| {_fmt(s['retrieved_relevant_rate'])} |"
        )
    if report.get("errors"):
        failed = ", ".join(f"{e['set']}/{e['qid']}" for e in report["errors"])
        out += [
            "",
            f"Generator failures (left out of every number above): {failed}: {report['errors'][0]['error']}",
        ]
    study = report.get("support_study", {})
    if "true" in study:
        out += [
            "",
            "## Citation support check (cited sentence vs its own source / a random wrong source)",
            "",
            "| pairing | n | mean | p5 | p25 | p50 | p75 | p95 |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label in ("true", "wrong"):
            d = study[label]
            out.append(
                f"| {label} | {d['n']} | {d['mean']} | {d['p5']} | {d['p25']} | {d['p50']} | {d['p75']} "
                f"| {d['p95']} |"
            )
        out += [
            "",
            "| threshold | true pairs supported | wrong pairs supported |",
            "|---|---|---|",
        ]
        for t, v in study["at_threshold"].items():
            out.append(f"| {t} | {v['true_supported']:.3f} | {v['wrong_supported']:.3f} |")
        out += [
            "",
            f"Best separating threshold: {study['best_threshold']} (balanced accuracy "
            f"{study['best_balanced_accuracy']}: {study['best_true_supported']:.3f} of true pairs supported, "
            f"{study['best_wrong_rejected']:.3f} of wrong pairs rejected).",
        ]
    calibration = report.get("calibration")
    if calibration:
        sets = list(report["sets"])
        out += [
            "",
            "## Refusal calibration (refuse when feature < threshold; chosen on all sets combined)",
            "",
            "| feature | threshold | balanced acc. | "
            + " | ".join(f"{s} refusal acc. / false refusals" for s in sets)
            + " | combined refusal acc. / false refusals | off-corpus refused | margin |",
            "|---|---|---|" + "---|" * len(sets) + "---|---|---|",
        ]
        for feature in calibration["ranking"]:
            e = calibration["table"][feature]
            per = " | ".join(
                f"{_fmt(e['per_set'][s]['refusal_accuracy'])} / {_fmt(e['per_set'][s]['false_refusal_rate'])}"
                for s in sets
            )
            c = e["combined"]
            out.append(
                f"| {feature} | {e['threshold']:.3f} | {c['balanced_accuracy']:.3f} | {per} "
                f"| {_fmt(c['refusal_accuracy'])} / {_fmt(c['false_refusal_rate'])} "
                f"| {_fmt(e['off_corpus_refused'])} | {e['margin']:.3f} |"
            )
        out += [
            "",
            "Transfer (threshold chosen on one set alone → balanced accuracy on the other):",
            "",
            "| feature | " + " | ".join(f"from {s}: threshold → other sets" for s in sets) + " |",
            "|---|" + "---|" * len(sets),
        ]
        for feature in calibration["ranking"]:
            t = calibration["table"][feature]["transfer"]
            out.append(
                f"| {feature} | "
                + " | ".join(
                    f"{t[s]['threshold']:.3f} → {_fmt(t[s]['others']['balanced_accuracy'])}" for s in sets
                )
                + " |"
            )
        caps = FALSE_REFUSAL_CAPS
        out += [
            "",
            "Operating points (most unanswerable questions refused with at most this share of false refusals;"
            " threshold → refusal acc. / false refusals / off-corpus refused):",
            "",
            "| feature | " + " | ".join(f"false refusals ≤ {c:.0%}" for c in caps) + " |",
            "|---|" + "---|" * len(caps),
        ]
        for feature in calibration["ranking"]:
            points = calibration["table"][feature]["operating_points"]
            out.append(
                f"| {feature} | "
                + " | ".join(
                    f"{p['threshold']:.3f} → {_fmt(p['refusal_accuracy'])} / {_fmt(p['false_refusal_rate'])}"
                    f" / {_fmt(p['off_corpus_refused'])}"
                    for p in points
                )
                + " |"
            )
        out += ["", "Features:", ""] + [f"- `{k}`: {v}" for k, v in calibration["features"].items()]
    return "\n".join(out) + "\n"


# -- main ----------------------------------------------------------------------------------------------------


def run(
    datasets: Sequence[tuple[Path, Path]],
    generator_name: str,
    out: Path,
    calibrate_rules: bool,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Answer every set, summarise, and (with ``calibrate_rules``) calibrate the refusal rule."""
    base = Settings()
    settings = base.model_copy(update={"generator": generator_name})
    embedder = SentenceTransformerEmbedder(model_spec(base.embedding_model), batch_size=base.embed_batch_size)
    started = datetime.now().isoformat(timespec="seconds")
    out.mkdir(parents=True, exist_ok=True)
    generator = make_generator(settings, embedder)
    audit = SQLiteAuditLog(out / "audit.sqlite3")
    devs = []
    for questions, corpus in datasets:
        t = time.perf_counter()
        devs.append(open_set(questions, corpus, base, base.home / "eval-cache", embedder))
        progress(f"{questions.stem}: index ready in {time.perf_counter() - t:.0f} s")
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    scorers: dict[str, FeatureScorer] = {}
    for dev in devs:
        assistant = dev.system.assistant
        service = AnswerService(
            settings.model_copy(update={"home": assistant.settings.home}),
            assistant.store,
            assistant.retriever,
            generator,
            audit,
            assistant.spec.model_id,
        )
        service.answer(AnswerRequest("warm up: brake pad wear"), dev.system.principal)  # load models, indexes
        if calibrate_rules:
            scorers[dev.name] = FeatureScorer(dev.system)
        t = time.perf_counter()
        rows += answer_set(
            dev, service, dev.system.principal, scorers.get(dev.name), settings.support_threshold, errors
        )
        progress(f"{dev.name}: {len(dev.items)} questions answered in {time.perf_counter() - t:.0f} s")
    names = [d.name for d in devs]
    threshold = settings.support_threshold
    summary = {name: summarise([r for r in rows if r["set"] == name], threshold) for name in names}
    summary["all"] = summarise(rows, threshold)
    report: dict[str, Any] = {
        "generator": f"{generator.name} ({generator.model_id})",
        "git_commit": git_commit(),
        "started": started,
        "support_threshold": settings.support_threshold,
        "refusal_threshold": settings.refusal_threshold,
        "k": settings.answer_k,
        "sets": {d.name: {"questions": str(d.questions), "corpus": str(d.corpus)} for d in devs},
        "summary": summary,
        "support_study": support_study(rows),
        "errors": errors,
    }
    if calibrate_rules:
        off: list[dict[str, Any]] = []
        for dev in devs:
            for other in devs:
                if other is not dev:
                    off += off_corpus_rows(dev, other, scorers[dev.name], settings.answer_k)
        report["calibration"] = calibrate(rows, off, names)
        report["off_corpus"] = off
    report["questions"] = rows
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (out / "report.md").write_text(markdown(report))
    for dev in devs:
        dev.system.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="eka answer benchmark (latency, refusals, citations)")
    parser.add_argument(
        "--dataset",
        nargs=2,
        action="append",
        metavar=("QUESTIONS", "CORPUS"),
        type=Path,
        help="a QA set and its corpus folder (repeatable; default: the samples and engdocs-dev sets)",
    )
    parser.add_argument(
        "--generator",
        choices=("extractive", "local", "openai"),
        default=None,
        help="answer generator (default: EKA_GENERATOR, else extractive)",
    )
    parser.add_argument("--calibrate", action="store_true", help="also calibrate the refusal rule")
    parser.add_argument("--out", type=Path, help="output folder (default: runs/answer-<timestamp>)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = args.out or Path("runs") / f"answer-{datetime.now():%Y%m%d-%H%M%S}"
    datasets = [tuple(d) for d in args.dataset] if args.dataset else list(DEFAULT_SETS)
    started = time.perf_counter()
    report = run(datasets, args.generator or Settings().generator, out, args.calibrate)  # type: ignore[arg-type]
    print(markdown(report))
    print(f"wrote {out}/report.json and report.md in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

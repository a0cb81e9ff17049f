"""``eka eval answers``: ask every question of a QA set through the answer service and score the answers.

The corpus is indexed (or the cached index reused) exactly as ``eka eval qa`` and the answer benchmark do
(:func:`eval.bench.answer.open_set`); the key facts are verified against that index before anything is
asked; each generator then answers every question as a reader of every group, and each answer is scored by
:mod:`eval.answers.score`. A generator that cannot run here (llama.cpp not installed, no endpoint set, its
first answer fails) is reported as skipped with the reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from assistant.answering import AnswerRequest, AnswerResult, AnswerService
from assistant.audit import AuditLog, SQLiteAuditLog
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder, model_spec
from assistant.errors import ConfigError, GeneratorError
from assistant.generation.base import Generator
from assistant.generation.factory import make_generator
from assistant.types import Principal
from eval.answers.keyfacts import Annotation, default_side_file, document_labels, load_annotations, verify
from eval.answers.score import CitedSource, judge, summarise
from eval.bench.answer import DevSet, open_set
from eval.datasets import QAItem
from eval.qa import EvalHit, is_relevant
from eval.runner import corpus_digest, git_commit

log = logging.getLogger(__name__)

GENERATORS: tuple[str, ...] = get_args(Settings.model_fields["generator"].annotation)
WARM_UP = "warm up: brake pad wear"


def dataset_name(questions: Path) -> str:
    """A set's name for reports: the file's stem, or its folder's name for a generic ``questions.jsonl``."""
    return questions.parent.resolve().name if questions.stem == "questions" else questions.stem


def cited_sources(result: AnswerResult) -> list[CitedSource]:
    """The sources an answer cites, with the document labels and passage the entity check reads."""
    by_chunk = {h.chunk.chunk_id: h for h in result.hits}
    out = []
    for citation in result.citations:
        hit = by_chunk.get(citation.chunk_id)
        if hit is not None:
            out.append(
                CitedSource(document_labels(hit.document), f"{hit.chunk.section or ''}\n{hit.chunk.text}")
            )
    return out


def score_answer(item: QAItem, note: Annotation, result: AnswerResult) -> dict[str, Any]:
    """One scored row: the outcome, which facts were found, wrong entity, and where the answer came from."""
    verdict = judge(note, item.answerable, result.text, result.refused, cited_sources(result))
    by_chunk = {h.chunk.chunk_id: h for h in result.hits}
    cited_hits = [by_chunk[c.chunk_id] for c in result.citations if c.chunk_id in by_chunk]
    return {
        "qid": item.qid,
        "kind": item.kind,
        "answerable": item.answerable,
        "question": item.question,
        "outcome": verdict.outcome,
        "facts": [
            {"alternatives": list(f), "found": hit}
            for f, hit in zip(note.facts, verdict.facts_found, strict=True)
        ],
        "wrong_entity": verdict.wrong_entity,
        "refused": result.refused,
        "answer": result.text,
        "citations": [{"source": c.source, "page": c.page, "section": c.section} for c in result.citations],
        # Where a wrong answer went wrong: a relevant page cited, only retrieved, or not even retrieved.
        "cited_relevant": any(is_relevant(EvalHit.of(h), e) for h in cited_hits for e in item.relevant),
        "retrieved_relevant": any(is_relevant(EvalHit.of(h), e) for h in result.hits for e in item.relevant),
        "total_ms": result.timings.get("total_ms"),
    }


def answer_all(
    service: AnswerService,
    principal: Principal,
    items: Sequence[QAItem],
    annotations: dict[str, Annotation],
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Ask and score every question; a generator failure is an ``error`` row, never dropped."""
    rows = []
    for item in items:
        note = annotations.get(item.qid, Annotation(item.qid))
        try:
            result = service.answer(AnswerRequest(item.question), principal)
        except GeneratorError as err:
            log.warning("%s: %s", item.qid, err)
            rows.append(
                {
                    "qid": item.qid,
                    "kind": item.kind,
                    "answerable": item.answerable,
                    "question": item.question,
                    "outcome": "error",
                    "error": str(err),
                }
            )
            continue
        rows.append(score_answer(item, note, result))
        if progress:
            progress(f"{item.qid} {rows[-1]['outcome']}")
    return rows


def _generator(name: str, settings: Settings, embedder: SentenceTransformerEmbedder) -> Generator | str:
    """The generator, built and prepared (model loaded, endpoint reached), or why it cannot run here."""
    try:
        generator = make_generator(settings.model_copy(update={"generator": name}), embedder)
        generator.prepare()
    except (ConfigError, GeneratorError) as err:
        return str(err)
    return generator


def run_generator(
    name: str,
    base: Settings,
    dev: DevSet,
    embedder: SentenceTransformerEmbedder,
    items: Sequence[QAItem],
    annotations: dict[str, Annotation],
    audit: AuditLog,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """One generator's scored answers to ``items`` (or why it was skipped)."""
    assistant = dev.system.assistant
    settings = base.model_copy(update={"generator": name, "home": assistant.settings.home})
    generator = _generator(name, settings, embedder)
    if isinstance(generator, str):
        progress(f"{name}: skipped ({generator})")
        return {"status": "skipped", "reason": generator}
    try:
        service = AnswerService(
            settings, assistant.store, assistant.retriever, generator, audit, assistant.spec.model_id
        )
        try:
            service.answer(AnswerRequest(WARM_UP), dev.system.principal)  # load models and indexes
        except GeneratorError as err:
            progress(f"{name}: skipped (first answer failed: {err})")
            return {"status": "skipped", "reason": f"first answer failed: {err}"}
        t = time.perf_counter()
        rows = answer_all(service, dev.system.principal, items, annotations)
        progress(f"{name}: {len(rows)} questions answered in {time.perf_counter() - t:.0f} s")
    finally:
        generator.close()
    return {
        "status": "ok",
        "generator": f"{generator.name} ({generator.model_id})",
        "summary": summarise(rows),
        "questions": rows,
    }


def verify_set(
    questions: Path, corpus: Path, side_file: Path | None, base: Settings, cache_dir: Path
) -> tuple[int, int, list[str]]:
    """Check a set's key facts against its indexed corpus: (questions, facts, problems).

    Raises:
        ValueError: malformed annotations.
    """
    annotations = load_annotations(questions, side_file or default_side_file(questions))
    embedder = SentenceTransformerEmbedder(model_spec(base.embedding_model), batch_size=base.embed_batch_size)
    dev = open_set(questions, corpus, base, cache_dir, embedder)
    try:
        problems = verify(dev.system.assistant.store, dev.items, annotations)
    finally:
        dev.system.close()
    return len(dev.items), sum(len(a.facts) for a in annotations.values()), problems


def evaluate_answers(
    questions: Path,
    corpus: Path,
    generators: Sequence[str],
    side_file: Path | None,
    base: Settings,
    cache_dir: Path,
    out: Path,
    limit: int | None = None,
    progress: Callable[[str], None] = print,
    ids: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Verify the key facts, answer every question with each generator, and score the answers.

    ``ids`` asks only those questions (a subset for slow generators), ``limit`` only the first N.

    ``side_file`` defaults to the project's ``eval/data/<stem>.keyfacts.jsonl`` when there is one. The
    provenance of every answer goes to ``out/audit.sqlite3``.

    Raises:
        ValueError: an unknown generator, malformed annotations, or annotations the sources do not bear out.
    """
    unknown = [g for g in generators if g not in GENERATORS]
    if unknown:
        raise ValueError(f"unknown generator(s) {', '.join(unknown)}; choose from {', '.join(GENERATORS)}")
    side_file = side_file or default_side_file(questions)
    annotations = load_annotations(questions, side_file)
    embedder = SentenceTransformerEmbedder(model_spec(base.embedding_model), batch_size=base.embed_batch_size)
    report: dict[str, Any] = {
        "dataset": dataset_name(questions),
        "questions": str(questions),
        "keyfacts": str(side_file) if side_file else "inline",
        "corpus": str(corpus),
        "corpus_sha256": corpus_digest(corpus),
        "git_commit": git_commit(),
        "started": datetime.now().isoformat(timespec="seconds"),
        "limit": limit,
        "ids": list(ids) if ids else None,
        "generators": {},
    }
    t = time.perf_counter()
    dev = open_set(questions, corpus, base, cache_dir, embedder)
    progress(f"{dev.name}: index ready in {time.perf_counter() - t:.0f} s")
    try:
        problems = verify(dev.system.assistant.store, dev.items, annotations)
        if problems:
            raise ValueError("key facts disagree with the sources:\n  " + "\n  ".join(problems))
        items = [i for i in dev.items if not ids or i.qid in ids]
        unknown_ids = sorted(set(ids or ()) - {i.qid for i in dev.items})
        if unknown_ids:
            raise ValueError(f"no question(s) {', '.join(unknown_ids)} in {questions}")
        items = items[:limit] if limit else items
        out.mkdir(parents=True, exist_ok=True)
        audit = SQLiteAuditLog(out / "audit.sqlite3")
        try:
            for name in generators:
                report["generators"][name] = run_generator(
                    name, base, dev, embedder, items, annotations, audit, progress
                )
        finally:
            audit.close()
    finally:
        dev.system.close()
    return report

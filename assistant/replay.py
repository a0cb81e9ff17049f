"""Replaying an answer from its provenance record: same principal, query, filters and settings.

Retrieval is re-run with the recorded (rewritten) query, and the generator is re-run on the sources found;
the report says whether the sources (chunk ids and document versions) and the answer text match the record,
and what changed when they do not (index generation, models, prompt template, generator).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.answering import AnswerRequest, AnswerService, MarkerFilter, citation_record, hit_record
from assistant.postcheck import review
from assistant.types import Principal


@dataclass(frozen=True, slots=True)
class ReplayReport:
    provenance_id: str
    sources_match: bool
    answer_match: bool
    citations_match: bool
    recorded_sources: list[dict[str, Any]]
    replayed_sources: list[dict[str, Any]]
    recorded_answer: str
    replayed_answer: str
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "provenance_id": self.provenance_id,
            "sources_match": self.sources_match,
            "answer_match": self.answer_match,
            "citations_match": self.citations_match,
            "changed": {k: {"recorded": a, "now": b} for k, (a, b) in self.changed.items()},
            "recorded_sources": self.recorded_sources,
            "replayed_sources": self.replayed_sources,
            "recorded_answer": self.recorded_answer,
            "replayed_answer": self.replayed_answer,
        }


def _key(hit: dict[str, Any]) -> tuple[str, str]:
    return hit["chunk_id"], hit["doc_sha256"]


def replay(service: AnswerService, record: dict[str, Any]) -> ReplayReport:
    """Re-run the answer of ``record`` with ``service`` (which should use the recorded generator)."""
    who = record["principal"]
    principal = Principal(who["user_id"], frozenset(who["groups"]))
    filters = {k: tuple(v) for k, v in (record.get("filters") or {}).items()}
    query = record["rewritten_query"]
    found = tuple(
        service.retriever.search(query, principal, k=record["k"], mode=record["mode"], filters=filters)
    )
    request = AnswerRequest(record["question"], filters=filters, k=record["k"], mode=record["mode"])
    scoped, hits, evidence = service.sources(query, found, principal, request, record["k"])
    refusal = service.refusal(scoped, evidence, query)
    markers = MarkerFilter(len(hits))
    text = "".join(service.compose(record["question"], hits, refusal, markers))
    hits = markers.reorder(hits)  # the sources in the answer's numbering, as recorded
    recorded = [
        {k: h.get(k) for k in ("rank", "chunk_id", "doc_sha256", "source", "page", "score")}
        for h in record["hits"]
    ]
    replayed = [
        {k: h.get(k) for k in ("rank", "chunk_id", "doc_sha256", "source", "page", "score")}
        for h in (hit_record(x) for x in hits)
    ]
    sources_match = [_key(h) for h in recorded] == [_key(h) for h in replayed]

    now: dict[str, Any] = {
        "index_generation": service.store.generation(),
        "embedding_model": service.embedding_model_id,
        "reranker": service.retriever.model_ids(),
        "prompt_template": service.template.template_id,
        "generator": {"name": service.generator.name, "model_id": service.generator.model_id},
    }
    then: dict[str, Any] = {
        "index_generation": record["retrieval"]["index_generation"],
        "embedding_model": record["retrieval"]["embedding_model"],
        "reranker": record["retrieval"]["reranker"],
        "prompt_template": record["prompt_template"],
        "generator": {k: record["generator"][k] for k in ("name", "model_id")},
    }
    changed = {k: (then[k], now[k]) for k in now if then[k] != now[k]}

    refused, checked = service.finish(text, hits, refusal is not None)
    checked = review(
        query, refused, checked, hits, service.settings.support_threshold, service.generator.name
    ).checked
    answer, citations = checked.text, [citation_record(c) for c in checked.citations]
    return ReplayReport(
        provenance_id=record["provenance_id"],
        sources_match=sources_match,
        answer_match=answer.strip() == (record.get("answer") or "").strip(),
        citations_match=[c["chunk_id"] for c in citations]
        == [c["chunk_id"] for c in record.get("citations", [])],
        recorded_sources=recorded,
        replayed_sources=replayed,
        recorded_answer=record.get("answer") or "",
        replayed_answer=answer,
        changed=changed,
    )

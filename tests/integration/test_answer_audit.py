"""Every answer whose sources were sent leaves a provenance record: finished, failed or abandoned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.answering import ABORTED, AnswerRequest, AnswerService, DeltaEvent, SourcesEvent
from assistant.app import Assistant
from assistant.audit import AuditLog, SQLiteAuditLog
from assistant.embedding import SentenceTransformerEmbedder
from assistant.generation.base import Prompt
from assistant.generation.extractive import ExtractiveGenerator
from assistant.types import Principal

pytestmark = pytest.mark.integration

QUESTION = "What is the pad wear sensor warning threshold of the AU-E7 brake pads?"
READER = Principal.of("pat", ["public"])


class _Crashing(ExtractiveGenerator):
    """The extractive generator, failing with a programming error after its first piece."""

    def stream(self, prompt: Prompt) -> Iterator[str]:
        yield "The threshold"
        raise KeyError("a bug")


def _service(assistant: Assistant, generator: ExtractiveGenerator, audit: AuditLog) -> AnswerService:
    return AnswerService(
        assistant.settings, assistant.store, assistant.retriever, generator, audit, assistant.spec.model_id
    )


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    log = SQLiteAuditLog(tmp_path / "audit.sqlite3")
    yield log
    log.close()


def test_a_stream_closed_after_its_sources_is_recorded_as_aborted(
    ingested_samples: Assistant, embedder: SentenceTransformerEmbedder, audit: AuditLog
) -> None:
    service = _service(ingested_samples, ExtractiveGenerator(embedder, ingested_samples.settings), audit)
    events = service.stream(AnswerRequest(QUESTION), READER)
    sources = next(events)
    assert isinstance(sources, SourcesEvent) and sources.hits
    events.close()  # what the API does when the client disconnects

    [stored] = audit.records()
    assert stored.record["aborted"] is True
    assert stored.record["error"] == ABORTED
    assert stored.record["question"] == QUESTION
    assert [h["chunk_id"] for h in stored.record["hits"]] == [h.chunk.chunk_id for h in sources.hits]
    assert audit.verify().ok


def test_a_stream_closed_after_its_first_delta_records_the_text_sent(
    ingested_samples: Assistant, embedder: SentenceTransformerEmbedder, audit: AuditLog
) -> None:
    service = _service(ingested_samples, ExtractiveGenerator(embedder, ingested_samples.settings), audit)
    events = service.stream(AnswerRequest(QUESTION), READER)
    next(events)
    delta = next(events)
    assert isinstance(delta, DeltaEvent)
    events.close()

    [stored] = audit.records()
    assert stored.record["aborted"] is True
    assert stored.record["answer"] == delta.text


def test_an_answer_that_fails_with_any_error_is_recorded(
    ingested_samples: Assistant, embedder: SentenceTransformerEmbedder, audit: AuditLog
) -> None:
    service = _service(ingested_samples, _Crashing(embedder, ingested_samples.settings), audit)
    with pytest.raises(KeyError):
        service.answer(AnswerRequest(QUESTION), READER)

    [stored] = audit.records()
    assert stored.record["error"] == "internal error (KeyError)"
    assert stored.record["aborted"] is False


def test_a_finished_answer_is_recorded_once(
    ingested_samples: Assistant, embedder: SentenceTransformerEmbedder, audit: AuditLog
) -> None:
    service = _service(ingested_samples, ExtractiveGenerator(embedder, ingested_samples.settings), audit)
    result = service.answer(AnswerRequest(QUESTION), READER)  # leaves the stream unfinished after `done`

    [stored] = audit.records()
    assert stored.provenance_id == result.provenance_id
    assert stored.record["error"] is None and "aborted" not in stored.record

"""Answers name the right entity or none: a value of the KV-4 is never given for the TC-2."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answering import AnswerRequest, AnswerService
from assistant.app import Assistant
from assistant.audit import SQLiteAuditLog
from assistant.embedding import SentenceTransformerEmbedder
from assistant.generation.extractive import ExtractiveGenerator
from assistant.types import Principal
from tests.conftest import SAMPLE_GROUPS

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(
    ingested_samples: Assistant,
    embedder: SentenceTransformerEmbedder,
    tmp_path_factory: pytest.TempPathFactory,
) -> AnswerService:
    settings = ingested_samples.settings
    return AnswerService(
        settings,
        ingested_samples.store,
        ingested_samples.retriever,
        ExtractiveGenerator(embedder, settings),
        SQLiteAuditLog(Path(tmp_path_factory.mktemp("entities")) / "audit.sqlite3"),
        ingested_samples.spec.model_id,
    )


def test_a_torque_of_another_vehicle_is_not_given(service: AnswerService) -> None:
    reader = Principal.of("eva", SAMPLE_GROUPS)
    result = service.answer(
        AnswerRequest("What tightening torque is specified for the wheel nuts of the Tamsin TC-2?"), reader
    )
    assert result.refused
    assert "TC-2" in result.text
    assert "N·m" not in result.text and not result.citations


def test_an_identifier_no_document_mentions_is_refused_by_name(service: AnswerService) -> None:
    reader = Principal.of("eva", SAMPLE_GROUPS)
    result = service.answer(
        AnswerRequest("What were the findings of penetration test campaign PT-2024-07 on the TCU?"), reader
    )
    assert result.refused
    assert result.text.startswith("The documents available to you do not mention PT-2024-07.")


def test_answers_about_the_named_vehicle_cite_only_its_documents(service: AnswerService) -> None:
    reader = Principal.of("eva", SAMPLE_GROUPS)
    result = service.answer(
        AnswerRequest("How is the Kestrel KV-4 battery mounting checked for sealing after tightening?"),
        reader,
    )
    assert not result.refused
    assert result.citations
    assert all("kestrel" in c.source or "kv4" in c.source for c in result.citations)


def test_a_reader_without_access_is_told_only_about_what_they_can_read(service: AnswerService) -> None:
    # The TC-09 re-test is in the battery group's report: a public reader must not learn it exists.
    public = Principal.of("pat", ["public"])
    result = service.answer(
        AnswerRequest("What maximum cell temperature was reached in the TC-09 re-test?"), public
    )
    assert result.refused
    assert "battery-thermal-test-report" not in result.text
    assert all("battery" not in h.document.source for h in result.hits)

"""An answer of the real packaged 0.5B model through the answer service: every value it keeps is cited.

The model is free to paraphrase; the post-checks (assistant/postcheck.py) must leave no number or identifier
in the answer that the source it cites does not contain, and the provenance record says what they changed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from assistant.answering import AnswerRequest, AnswerService
from assistant.app import Assistant
from assistant.audit import AuditLog, SQLiteAuditLog
from assistant.citations import markers_in, split_sentences
from assistant.config import Settings
from assistant.generation.gguf import resolve_gguf
from assistant.generation.local import LocalGenerator
from assistant.postcheck import source_text, unsupported_values
from assistant.types import Principal
from tests.conftest import SAMPLE_GROUPS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs make install-llm"),
]

MODEL = "qwen2.5-coder-0.5b"


@pytest.fixture(scope="module")
def llm_service(
    ingested_samples: Assistant, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AnswerService, AuditLog]]:
    home = tmp_path_factory.mktemp("llm-answers")
    path = resolve_gguf(MODEL, home)
    settings = Settings(  # type: ignore[call-arg]
        home=ingested_samples.settings.home,
        generator="local",
        local_model=str(path),
        local_context=4096,
        llm_max_tokens=96,
        llm_timeout_s=600,
        local_start_timeout_s=300,
        prompt_template="answer-v2",
        _env_file=None,
    )
    generator = LocalGenerator(settings)
    audit = SQLiteAuditLog(home / "audit.sqlite3")
    service = AnswerService(
        settings,
        ingested_samples.store,
        ingested_samples.retriever,
        generator,
        audit,
        ingested_samples.spec.model_id,
    )
    yield service, audit
    generator.close()
    audit.close()
    path.unlink(missing_ok=True)


def test_values_in_a_local_model_answer_occur_in_the_sources_it_cites(
    llm_service: tuple[AnswerService, AuditLog],
) -> None:
    service, audit = llm_service
    question = "What torque and thread-locker are specified for the front caliper carrier bolts of the KV-4?"
    result = service.answer(AnswerRequest(question), Principal.of("eva", SAMPLE_GROUPS))
    record = audit.get(result.provenance_id).record
    assert isinstance(record["postcheck"]["notes"], list)
    if result.refused:
        assert not result.citations
        return
    for sentence in split_sentences(result.text):
        cited = markers_in(sentence)
        if cited:
            evidence = "\n".join([question, *(source_text(result.hits[n - 1]) for n in cited)])
            assert unsupported_values(sentence, evidence) == [], sentence

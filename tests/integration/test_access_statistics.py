"""Nothing a caller cannot read changes what the caller sees: scores, ranking, relevance, evidence, answers.

The samples are ingested once; a public reader's results are recorded for several queries in every mode, then
a security-only document full of the query words is added, and then removed again. The public reader's
results must be identical at every stage, down to the last bit of every score.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistant.answering import AnswerRequest, AnswerService
from assistant.app import Assistant, build_assistant
from assistant.audit import SQLiteAuditLog
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder
from assistant.generation.extractive import ExtractiveGenerator
from assistant.types import Principal
from ingest.pipeline import Ingestor
from tests.conftest import SAMPLES
from tests.pg import PgServer

pytestmark = pytest.mark.integration

MODES = ("lexical", "dense", "hybrid")
QUERIES = (
    "pad wear sensor warning threshold",
    "brake fluid replacement interval",
    "battery coolant pump thermal runaway",
    "clear fault memory diagnostic trouble code",
    "wheel nut torque",
    "firmware signing key rotation",
)
QUESTIONS = (
    "What is the pad wear sensor warning threshold of the AU-E7 brake pads?",
    "How often is the brake fluid replaced?",
)
PUBLIC = Principal.of("pat", ["public"])
INSIDER = Principal.of("sam", ["public", "security"])

# Every query word, many times over, plus words no sample holds: it would move IDFs, document counts and the
# average length of any statistics that counted it.
SECRET = "\n\n".join(
    f"## Restricted note {i}\n\n" + " ".join(QUERIES) + " " + " ".join(QUERIES[i % len(QUERIES)].split() * 5)
    for i in range(12)
)


def _search(assistant: Assistant, principal: Principal) -> dict[str, Any]:
    return {
        (mode, query): [
            (h.chunk.chunk_id, h.rank, h.score, h.relevance, h.retriever)
            for h in assistant.retriever.search(query, principal, k=10, mode=mode)
        ]
        for mode in MODES
        for query in QUERIES
    }


def _answers(service: AnswerService) -> dict[str, Any]:
    out = {}
    for question in QUESTIONS:
        result = service.answer(AnswerRequest(question), PUBLIC)
        out[question] = (
            result.text,
            result.refused,
            result.evidence,
            [(c.marker, c.chunk_id) for c in result.citations],
            [(h.chunk.chunk_id, h.score, h.relevance) for h in result.hits],
        )
    return out


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def stages(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    embedder: SentenceTransformerEmbedder,
) -> dict[str, dict[str, Any]]:
    """The public reader's results before, with and after the restricted document (and the insider's), on
    each backend."""
    home = tmp_path_factory.mktemp("statistics")
    url = None
    if request.param == "postgres":
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.fresh()
        request.addfinalizer(lambda: server.drop(url))
    settings = Settings(home=home / "eka", database_url=url, _env_file=None)  # type: ignore[call-arg]
    assistant = build_assistant(settings, embedder=embedder)
    audit = SQLiteAuditLog(home / "audit.sqlite3")
    service = AnswerService(
        settings,
        assistant.store,
        assistant.retriever,
        ExtractiveGenerator(embedder, settings),
        audit,
        assistant.spec.model_id,
    )
    secret = home / "restricted"
    secret.mkdir()
    (secret / "restricted-note.md").write_text(SECRET, encoding="utf-8")
    try:
        assert Ingestor(assistant).run([SAMPLES]).ok
        before = {"search": _search(assistant, PUBLIC), "answers": _answers(service)}
        report = Ingestor(assistant).run([secret], acl=["security"])
        assert report.ok, report.to_json()
        added = {"search": _search(assistant, PUBLIC), "answers": _answers(service)}
        insider = {
            (mode, query): assistant.retriever.search(query, INSIDER, k=1, mode=mode)[0].document.source
            for mode in MODES
            for query in QUERIES
        }
        [stored] = [s for s in assistant.store.documents() if s.document.source == "restricted-note.md"]
        assistant.store.remove_document(stored.document.doc_id)
        removed = {"search": _search(assistant, PUBLIC), "answers": _answers(service)}
        return {"before": before, "added": added, "removed": removed, "insider": insider}
    finally:
        audit.close()
        assistant.close()


def test_the_restricted_document_is_what_an_insider_finds_first(stages: dict[str, Any]) -> None:
    for query in QUERIES:
        assert stages["insider"][("lexical", query)] == "restricted-note.md", query


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("stage", ["added", "removed"])
def test_public_results_ignore_a_restricted_document(stages: dict[str, Any], mode: str, stage: str) -> None:
    for query in QUERIES:
        before = stages["before"]["search"][(mode, query)]
        assert before, query
        assert stages[stage]["search"][(mode, query)] == before, query


@pytest.mark.parametrize("stage", ["added", "removed"])
def test_public_answers_and_evidence_ignore_a_restricted_document(stages: dict[str, Any], stage: str) -> None:
    assert stages[stage]["answers"] == stages["before"]["answers"]

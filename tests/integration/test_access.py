"""Access control inside retrieval: a restricted document never reaches an outsider, in any mode, on either
backend."""

from __future__ import annotations

import pytest

from assistant.app import Assistant
from assistant.types import Principal

pytestmark = pytest.mark.integration

QUERIES = [
    "CSR-TEL-014 remote command nonce",  # verbatim identifier from the restricted security spec
    "cybersecurity requirements for the telematics control unit",
    "battery thermal test report cell temperature results",
]
MODES = ("hybrid", "dense", "lexical")


@pytest.mark.parametrize("mode", MODES)
def test_outsider_never_sees_restricted_documents(samples_on: Assistant, mode: str) -> None:
    outsider = Principal.of("pat", ["public"])
    restricted = {s.document.doc_id for s in samples_on.store.documents() if "public" not in s.document.acl}
    assert restricted, "the sample corpus must contain restricted documents"
    for query in QUERIES:
        hits = samples_on.retriever.search(query, outsider, k=50, mode=mode)  # type: ignore[arg-type]
        assert hits, query
        assert {h.document.doc_id for h in hits}.isdisjoint(restricted)
        assert all("public" in h.document.acl for h in hits)


@pytest.mark.parametrize("mode", MODES)
def test_insider_finds_the_restricted_document(samples_on: Assistant, mode: str) -> None:
    insider = Principal.of("sam", ["security"])
    hits = samples_on.retriever.search(QUERIES[0], insider, k=5, mode=mode)  # type: ignore[arg-type]
    assert any(h.document.source == "security/tcu-cybersecurity-requirements.pdf" for h in hits)


def test_a_group_with_no_documents_gets_nothing(samples_on: Assistant) -> None:
    nobody = Principal("eve", frozenset({"contractors"}))
    for mode in MODES:
        assert samples_on.retriever.search("brake", nobody, k=10, mode=mode) == []  # type: ignore[arg-type]


def test_filters_apply_inside_retrieval(samples_on: Assistant) -> None:
    kestrel = Principal.of("kai", ["public", "brand-kestrel"])
    hits = samples_on.retriever.search("torque", kestrel, k=20, filters={"brand": ("Kestrel",)})
    assert hits and {h.document.metadata["brand"] for h in hits} == {"Kestrel"}
    none = samples_on.retriever.search("torque", Principal.of("pat"), k=20, filters={"brand": ("Kestrel",)})
    assert none == []  # Kestrel documents are brand-restricted


def test_hits_are_ranked_and_cite_pages(samples_on: Assistant) -> None:
    hits = samples_on.retriever.search("pad wear sensor", Principal.of("pat"), k=5)
    assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].document.source == "brakes/brake-system-design-spec.pdf" and hits[0].chunk.page is not None

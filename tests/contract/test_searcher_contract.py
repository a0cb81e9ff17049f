"""The ``Searcher`` contract (assistant/searcher.py): both backends search only what the caller may read,
score BM25 over the caller's readable chunks and cosine over the stored vectors, and see every committed
write.

A backend joins with one entry in ``BACKENDS``: a function that opens a fresh store and its searcher. The
reference scores come from first principles (BM25 over the readable passages, cosines of the stored vectors).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from assistant.index.derived import DerivedIndexes
from assistant.index.searcher import EmbeddedSearcher
from assistant.passages import passage_text, text_hash
from assistant.pg.db import shared
from assistant.pg.search import PgSearcher, PgSearchParams
from assistant.pg.store import PgStore
from assistant.searcher import Searcher
from assistant.sqlite_store import SQLiteStore
from assistant.store import Store, StoredDocument
from assistant.tokenize import tokenize
from assistant.types import Chunk, Document
from tests.pg import PgServer

MODEL = "contract-model"
DIM = 8
K1, B = 1.2, 0.75


def _vector(text: str) -> np.ndarray:
    vector = np.random.default_rng(int(text_hash(text)[:8], 16)).standard_normal(DIM).astype(np.float32)
    return vector / np.linalg.norm(vector)


def _embed(passages: Sequence[str]) -> np.ndarray:
    return np.vstack([_vector(p) for p in passages]) if passages else np.zeros((0, DIM), np.float32)


class Backend(NamedTuple):
    store: Store
    searcher: Searcher


def _embedded(folder: Path, _request: pytest.FixtureRequest, exact_rows: int) -> Backend:
    store = SQLiteStore(folder / "eka.sqlite3")
    return Backend(store, EmbeddedSearcher(store, DerivedIndexes(store, folder / "index", MODEL, _embed)))


def _postgres(
    _folder: Path, request: pytest.FixtureRequest, exact_rows: int, fresh_rows: int = 20_000
) -> Backend:
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.fresh()
    request.addfinalizer(lambda: server.drop(url))
    db = shared(url)
    store = PgStore(db, embed=_embed, embed_model=MODEL)
    # parallel_rows=0: every hybrid search runs its lexical half on a second connection (PgView.hybrid)
    params = PgSearchParams(k1=K1, b=B, exact_rows=exact_rows, fresh_rows=fresh_rows, parallel_rows=0)
    return Backend(store, PgSearcher(db, DIM, MODEL, _embed, params))


BACKENDS: dict[str, Callable[[Path, pytest.FixtureRequest, int], Backend]] = {
    "embedded": _embedded,
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    opened = BACKENDS[request.param](tmp_path, request, 20_000)
    request.addfinalizer(opened.store.close)
    return opened


def _doc(
    name: str, texts: list[str], acl: set[str], doc_type: str = "spec", title: str | None = None
) -> tuple[StoredDocument, list[Chunk]]:
    title = title or f"{name.title()} specification"
    document = Document(
        doc_id=f"doc-{name}",
        source=f"specs/{name}.md",
        sha256=text_hash(name + " ".join(texts)),
        title=title,
        mime="text/markdown",
        metadata={"doc_type": doc_type},
        acl=frozenset(acl),
        ingested_at="2026-01-02T03:04:05+00:00",
    )
    chunks = [Chunk(f"{name}-{i}", document.doc_id, i, t, None, "1 Scope", {}) for i, t in enumerate(texts)]
    return StoredDocument(document, "/corpus", f"meta-{name}", 100, "recipe"), chunks


def _put(store: Store, stored: StoredDocument, chunks: list[Chunk]) -> None:
    passages = [passage_text(stored.document.title, c.section, c.text) for c in chunks]
    hashes = [text_hash(p) for p in passages]
    store.replace_document(
        stored, chunks, hashes, MODEL, {h: _vector(p) for h, p in zip(hashes, passages, strict=True)}
    )


BRAKES = _doc(
    "brakes",
    [
        "Pad wear limit is 2 mm at the caliper.",
        "Caliper bolt torque is 120 Nm.",
        "Disc runout below 0.05 mm.",
    ],
    {"brakes"},
)
SHARED = _doc("shared", ["Caliper paint colour is red.", "Wheel nut torque is 140 Nm."], {"brakes", "body"})
BODY = _doc(
    "body", ["Door seal wear limit is 3 mm.", "Caliper cover torque 8 Nm for body panels."], {"body"}, "memo"
)
SECRET = _doc("secret", ["Caliper caliper caliper torque secret 999 Nm."], {"security"})


def _load(store: Store) -> None:
    for stored, chunks in (BRAKES, SHARED, BODY, SECRET):
        _put(store, stored, chunks)


def _passages(store: Store, groups: set[str]) -> dict[int, tuple[str, str]]:
    """Row id -> (doc id, passage) of every chunk ``groups`` may read."""
    readable = {s.document.doc_id for s in store.documents() if s.document.acl & groups}
    rows = store.index_rows()
    return {
        int(r): (d, p)
        for r, d, p in zip(rows.rowids, rows.doc_ids, rows.passages, strict=True)
        if d in readable
    }


def _bm25(query: str, passages: dict[int, str]) -> dict[int, float]:
    """Lucene BM25 from first principles over ``passages`` (the reader's population)."""
    tokens = {r: tokenize(p) for r, p in passages.items()}
    size = len(tokens)
    average = sum(len(t) for t in tokens.values()) / size
    frequency = Counter(term for t in tokens.values() for term in set(t))
    scores: dict[int, float] = {}
    for term, weight in Counter(tokenize(query)).items():
        if not frequency[term]:
            continue
        idf = math.log(1 + (size - frequency[term] + 0.5) / (frequency[term] + 0.5))
        for row, words in tokens.items():
            tf = words.count(term)
            if tf:
                norm = K1 * (1 - B + B * len(words) / average)
                scores[row] = scores.get(row, 0.0) + weight * idf * tf / (tf + norm)
    return scores


class TestSearcherContract:
    def test_lexical_scores_are_bm25_over_the_chunks_the_caller_may_read(self, backend: Backend) -> None:
        _load(backend.store)
        backend.searcher.refresh()
        passages = _passages(backend.store, {"brakes"})
        expected = _bm25("caliper torque", {r: p for r, (_, p) in passages.items()})
        with backend.searcher.view(frozenset({"brakes"}), {}) as view:
            ids, scores = view.lexical("caliper torque", 20)
        assert set(ids.tolist()) == set(expected)  # every matching readable row, nothing else
        for row, score in zip(ids.tolist(), scores.tolist(), strict=True):
            assert score == pytest.approx(expected[row], rel=1e-5)
        assert list(scores) == sorted(scores, reverse=True)

    def test_dense_scores_are_cosines_of_the_stored_vectors_best_first(self, backend: Backend) -> None:
        _load(backend.store)
        backend.searcher.refresh()
        passages = _passages(backend.store, {"body"})
        query = _vector("how tight is the caliper cover?")
        expected = sorted(passages, key=lambda r: -float(np.dot(_vector(passages[r][1]), query)))
        with backend.searcher.view(frozenset({"body"}), {}) as view:
            ids, scores = view.dense(query, 3)
            stored = view.vectors(ids.tolist())
        assert ids.tolist() == expected[:3]
        for row, score in zip(ids.tolist(), scores.tolist(), strict=True):
            assert score == pytest.approx(float(np.dot(_vector(passages[row][1]), query)), abs=1e-5)
            assert np.allclose(stored[row], _vector(passages[row][1]), atol=1e-6)

    def test_nothing_outside_the_callers_groups_is_returned_or_read(self, backend: Backend) -> None:
        _load(backend.store)
        backend.searcher.refresh()
        secret_rows = [r for r, (d, _) in _passages(backend.store, {"security"}).items() if d == "doc-secret"]
        with backend.searcher.view(frozenset({"brakes"}), {}) as view:
            found = set(view.lexical("caliper secret 999", 50)[0].tolist())
            found |= set(view.dense(_vector(SECRET[1][0].text), 50)[0].tolist())
            assert not found & set(secret_rows)
            assert view.chunks(secret_rows) == {}
            assert view.vectors(secret_rows) == {}
            assert view.documents(["doc-secret", "doc-body"]) == {}
            assert set(view.documents(["doc-brakes", "doc-shared"])) == {"doc-brakes", "doc-shared"}

    def test_a_caller_with_no_readable_document_gets_an_empty_view(self, backend: Backend) -> None:
        _load(backend.store)
        backend.searcher.refresh()
        with backend.searcher.view(frozenset({"nobody"}), {}) as view:
            assert view.empty()
            assert len(view.lexical("caliper", 10)[0]) == 0
            assert len(view.dense(_vector("caliper"), 10)[0]) == 0

    def test_documents_the_caller_cannot_read_change_nothing_the_caller_sees(self, backend: Backend) -> None:
        _load(backend.store)
        backend.searcher.refresh()
        query = "caliper torque wear"

        def seen() -> tuple[list[int], list[float], list[int]]:
            with backend.searcher.view(frozenset({"brakes"}), {}) as view:
                ids, scores = view.lexical(query, 10)
                dense = view.dense(_vector(query), 10)[0]
            return ids.tolist(), scores.tolist(), dense.tolist()

        before = seen()
        many = [f"Caliper torque wear note {i}." for i in range(30)]
        _put(backend.store, *_doc("flood", many, {"security"}, title="Caliper torque wear"))
        backend.searcher.refresh()
        assert seen() == before

    def test_filters_restrict_results_but_not_the_statistics(self, backend: Backend) -> None:
        _load(backend.store)
        backend.searcher.refresh()
        groups = frozenset({"brakes", "body"})
        with backend.searcher.view(groups, {}) as view:
            everything = dict(zip(*(a.tolist() for a in view.lexical("torque wear limit", 20)), strict=True))
        with backend.searcher.view(groups, {"doc_type": ("memo",)}) as view:
            ids, scores = view.lexical("torque wear limit", 20)
            dense_ids = view.dense(_vector("torque"), 20)[0]
        body_rows = {r for r, (d, _) in _passages(backend.store, {"body"}).items() if d == "doc-body"}
        assert set(ids.tolist()) and set(ids.tolist()) <= body_rows
        assert set(dense_ids.tolist()) == body_rows
        for row, score in zip(ids.tolist(), scores.tolist(), strict=True):
            assert score == pytest.approx(everything[row], rel=1e-6)

    def test_a_filter_matching_most_documents_keeps_exactly_those(self, backend: Backend) -> None:
        """The PostgreSQL view sends such a filter as the few documents it drops: same rows either way."""
        _load(backend.store)
        backend.searcher.refresh()
        groups = frozenset({"brakes", "body"})
        kept = {r for r, (d, _) in _passages(backend.store, set(groups)).items() if d != "doc-body"}
        with backend.searcher.view(groups, {"doc_type": ("spec",)}) as view:
            lexical = set(view.lexical("torque wear limit caliper", 50)[0].tolist())
            dense = set(view.dense(_vector("torque"), 50)[0].tolist())
            chunks = view.chunks(sorted(kept | {r for r, _ in _passages(backend.store, {"body"}).items()}))
        assert lexical and lexical <= kept
        assert dense == kept
        assert set(chunks) == kept

    def test_every_committed_write_is_searchable_after_refresh(self, backend: Backend) -> None:
        _load(backend.store)
        backend.searcher.refresh()
        _put(backend.store, *_doc("hub", ["Hub bearing preload 42 Nm."], {"brakes"}))
        backend.store.remove_document("doc-shared")
        backend.searcher.refresh()
        with backend.searcher.view(frozenset({"brakes"}), {}) as view:
            assert view.generation == backend.store.generation()
            found = view.chunks(view.lexical("hub bearing preload", 5)[0].tolist())
            assert [c.doc_id for c in found.values()][:1] == ["doc-hub"]
            nuts = view.chunks(view.lexical("wheel nut", 10)[0].tolist())
            assert "doc-shared" not in {c.doc_id for c in nuts.values()}
            assert view.documents(["doc-shared"]) == {}

    def test_hybrid_gives_the_dense_and_the_lexical_run_and_encodes_the_query_once(
        self, backend: Backend
    ) -> None:
        _load(backend.store)
        backend.searcher.refresh()
        query = "caliper torque wear"
        encoded: list[str] = []

        def vector() -> np.ndarray:
            encoded.append(query)
            return _vector(query)

        for groups in ({"brakes"}, {"brakes", "body"}, {"brakes", "body", "security"}):
            with backend.searcher.view(frozenset(groups), {"doc_type": ("spec",)}) as view:
                dense, lexical = view.hybrid(query, vector, 4)
                assert dense[0].tolist() == view.dense(_vector(query), 4)[0].tolist()
                assert lexical[0].tolist() == view.lexical(query, 4)[0].tolist()
                assert np.allclose(lexical[1], view.lexical(query, 4)[1])
                assert len(lexical[0]) == 4
            readable = {r for r, (d, _) in _passages(backend.store, groups).items() if d != "doc-body"}
            assert set(dense[0].tolist()) | set(lexical[0].tolist()) <= readable
        assert len(encoded) == 3

    def test_hybrid_reads_the_state_the_view_opened_on(self, backend: Backend) -> None:
        """A write committed while a view is open is not in either half of its hybrid search (the second
        connection of the PostgreSQL view imports the view's snapshot)."""
        _load(backend.store)
        backend.searcher.refresh()
        with backend.searcher.view(frozenset({"brakes"}), {}) as view:
            before = view.lexical("hub bearing preload", 10)[0].tolist()
            _put(backend.store, *_doc("hub", ["Hub bearing preload 42 Nm."] * 3, {"brakes"}))
            backend.searcher.refresh()
            dense, lexical = view.hybrid(
                "hub bearing preload", lambda: _vector("Hub bearing preload 42 Nm."), 10
            )
        assert lexical[0].tolist() == before
        hub = {r for r, (d, _) in _passages(backend.store, {"brakes"}).items() if d == "doc-hub"}
        assert len(hub) == 3 and not hub & set(dense[0].tolist()) | set(lexical[0].tolist())
        with backend.searcher.view(frozenset({"brakes"}), {}) as view:  # a new view sees the write
            assert set(view.lexical("hub bearing preload", 10)[0].tolist()) == hub
            assert hub <= set(view.hybrid("hub", lambda: _vector("hub"), 10)[0][0].tolist())

    def test_expansion_keeps_the_query_and_adds_terms_of_the_feedback(self, backend: Backend) -> None:
        _load(backend.store)
        backend.searcher.refresh()
        with backend.searcher.view(frozenset({"brakes"}), {}) as view:
            weights = view.expand("caliper", ["Caliper bolt torque is 120 Nm."], 2, 0.5)
        (term,) = tokenize("caliper")
        assert weights[term] == 1.0
        added = set(weights) - {term}
        assert 0 < len(added) <= 2 and added <= set(tokenize("Caliper bolt torque is 120 Nm."))


def test_postgres_dense_through_the_hnsw_index_finds_the_exact_neighbours(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Above ``exact_rows`` the PostgreSQL searcher goes through the HNSW index, with the access filter
    inside the scan: on a small store its results equal the exact ones, for a narrow and a broad reader."""
    backend = _postgres(tmp_path, request, exact_rows=0, fresh_rows=0)
    _load(backend.store)
    for groups in ({"security"}, {"brakes", "body"}):
        passages = _passages(backend.store, groups)
        query = _vector("caliper")
        expected = sorted(passages, key=lambda r: -float(np.dot(_vector(passages[r][1]), query)))
        with backend.searcher.view(frozenset(groups), {}) as view:
            assert view.dense(query, 3)[0].tolist() == expected[:3]

"""The ``Store`` contract (assistant/store.py): every backend passes the same tests, via public methods only.

A backend joins by adding one entry to ``BACKENDS``: a function that opens a fresh, empty store in a folder
and keeps ``log_keep`` generations of changes in its log. A backend that needs a server takes it from the
test's fixtures (``request``) and registers its own clean-up there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import NotFound
from assistant.passages import passage_text, text_hash
from assistant.pg.db import shared
from assistant.pg.store import PgStore
from assistant.sqlite_store import LOG_KEEP, SQLiteStore
from assistant.store import DerivedRecord, IndexRows, Store, StoreChanges, StoredDocument
from assistant.types import Chunk, Document
from tests.pg import PgServer

MODEL = "test-model"
DIM = 4


def _postgres(folder: Path, log_keep: int, request: pytest.FixtureRequest) -> Store:
    """A PgStore on a fresh migrated database of the session's server (dropped after the test)."""
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.fresh()
    request.addfinalizer(lambda: server.drop(url))
    return PgStore(shared(url), log_keep=log_keep)


BACKENDS: dict[str, Callable[[Path, int, pytest.FixtureRequest], Store]] = {
    "sqlite": lambda folder, log_keep, _request: SQLiteStore(folder / "eka.sqlite3", log_keep=log_keep),
    "postgres": _postgres,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Store]:
    """Opens fresh stores of one backend (closed after the test)."""
    opened: list[Store] = []

    def open_(log_keep: int = LOG_KEEP) -> Store:
        store = BACKENDS[request.param](tmp_path / f"store{len(opened)}", log_keep, request)
        opened.append(store)
        return store

    request.addfinalizer(lambda: [s.close() for s in opened])
    return open_


@pytest.fixture
def store(backend: Callable[..., Store]) -> Store:
    """A fresh store of the backend under test."""
    return backend()


def _vector(text: str) -> np.ndarray:
    seed = int(text_hash(text)[:8], 16)
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


class _Doc:
    """A document with its chunks, passage hashes and vectors, as ingest hands them to the store."""

    def __init__(
        self,
        name: str,
        texts: list[str],
        acl: frozenset[str] = frozenset({"public"}),
        source: str | None = None,
        title: str | None = None,
    ) -> None:
        title = title or f"{name.title()} specification"
        self.document = Document(
            doc_id=f"doc-{name}",
            source=source or f"specs/{name}.md",
            sha256=text_hash(" ".join(texts)),
            title=title,
            mime="text/markdown",
            metadata={"brand": "kestrel", "revision": 3, "tags": ["brake", "spec"]},
            acl=acl,
            ingested_at="2026-01-02T03:04:05+00:00",
            pages=len(texts),
            owner="alice",
        )
        self.stored = StoredDocument(self.document, "/corpus", f"meta-{name}", 1234, "recipe-1")
        self.chunks = [
            Chunk(f"{name}-{i}", self.document.doc_id, i, t, i + 1, f"{i + 1} Section", {"kind": "text"})
            for i, t in enumerate(texts)
        ]
        self.passages = [passage_text(title, c.section, c.text) for c in self.chunks]
        self.hashes = [text_hash(p) for p in self.passages]
        self.vectors = {h: _vector(p) for h, p in zip(self.hashes, self.passages, strict=True)}

    def put(self, store: Store) -> None:
        store.replace_document(self.stored, self.chunks, self.hashes, MODEL, self.vectors)


BRAKE = _Doc("brake", ["Pad wear limit is 2 mm.", "Caliper torque is 120 Nm.", "Disc runout 0.05 mm."])
BATTERY = _Doc("battery", ["Cell voltage 4.2 V.", "Thermal runaway alarm."], acl=frozenset({"battery"}))


def _apply(rows: IndexRows, changes: StoreChanges) -> IndexRows:
    """What a derived index does with a change: drop the removed rows, add the touched documents' rows."""
    table = {
        int(r): (d, h, p)
        for r, d, h, p in zip(rows.rowids, rows.doc_ids, rows.embed_hashes, rows.passages, strict=True)
        if int(r) not in set(changes.removed.tolist())
    }
    new = changes.rows
    for r, d, h, p in zip(new.rowids, new.doc_ids, new.embed_hashes, new.passages, strict=True):
        table[int(r)] = (d, h, p)
    order = sorted(table)
    return IndexRows(
        np.asarray(order, dtype=np.int64),
        [table[r][0] for r in order],
        [table[r][1] for r in order],
        [table[r][2] for r in order],
    )


def _same_rows(a: IndexRows, b: IndexRows) -> bool:
    return (
        np.array_equal(a.rowids, b.rowids)
        and a.doc_ids == b.doc_ids
        and a.embed_hashes == b.embed_hashes
        and a.passages == b.passages
    )


class StoreContract:
    """What every ``Store`` backend must do; run against each backend through the ``store`` fixture."""

    # -- an empty store ------------------------------------------------------------------------------------

    def test_new_store_is_empty_at_generation_zero_and_healthy(self, store: Store) -> None:
        assert store.generation() == 0
        assert store.counts() == {"documents": 0, "chunks": 0, "embeddings": 0, "generation": 0}
        assert store.documents() == []
        assert len(store.index_rows().rowids) == 0
        rowids, doc_ids = store.row_documents()
        assert len(rowids) == 0 and doc_ids == []
        assert store.check() == []

    # -- documents and chunks ------------------------------------------------------------------------------

    def test_replaced_document_reads_back_as_given(self, store: Store) -> None:
        BRAKE.put(store)
        assert store.document(BRAKE.document.doc_id) == BRAKE.document
        assert store.document_by_source(BRAKE.document.source) == BRAKE.stored
        assert store.chunks_of(BRAKE.document.doc_id) == BRAKE.chunks

    def test_access_list_and_metadata_are_stored_as_given(self, store: Store) -> None:
        BATTERY.put(store)
        document = store.document(BATTERY.document.doc_id)
        assert document.acl == frozenset({"battery"})
        assert document.metadata == {"brand": "kestrel", "revision": 3, "tags": ["brake", "spec"]}
        assert document.owner == "alice"

    def test_an_empty_access_list_and_nested_metadata_round_trip(self, store: Store) -> None:
        doc = _Doc("odd", ["Ümlaut text — ±0.05 mm."], acl=frozenset())
        metadata = {"nested": {"a": [1, 2.5, None, True]}, "ünicode": "ñ", "empty": {}, "zero": 0.0}
        odd = replace(doc.stored, document=replace(doc.document, metadata=metadata))
        store.replace_document(odd, doc.chunks, doc.hashes, MODEL, doc.vectors)
        document = store.document(doc.document.doc_id)
        assert document.acl == frozenset()
        assert document.metadata == metadata and isinstance(document.metadata["zero"], float)
        assert store.chunks_of(doc.document.doc_id) == doc.chunks

    def test_unknown_ids_and_sources(self, store: Store) -> None:
        BRAKE.put(store)
        with pytest.raises(NotFound):
            store.document("doc-nothing")
        assert store.document_by_source("specs/nothing.md") is None
        assert store.chunks_of("doc-nothing") == []

    def test_empty_ingested_at_is_set_to_now(self, store: Store) -> None:
        doc = _Doc("undated", ["Some text."])
        undated = replace(doc.stored, document=replace(doc.document, ingested_at=""))
        store.replace_document(undated, doc.chunks, doc.hashes, MODEL, doc.vectors)
        assert store.document(doc.document.doc_id).ingested_at.startswith("20")

    def test_documents_are_ordered_by_source_and_counted(self, store: Store) -> None:
        BRAKE.put(store)
        BATTERY.put(store)
        assert [s.document.source for s in store.documents()] == ["specs/battery.md", "specs/brake.md"]
        assert store.chunk_counts() == {"doc-brake": 3, "doc-battery": 2}
        assert store.counts() == {"documents": 2, "chunks": 5, "embeddings": 5, "generation": 2}

    def test_chunks_around_an_ordinal_in_reading_order(self, store: Store) -> None:
        BRAKE.put(store)
        assert store.chunks_around("doc-brake", 1) == BRAKE.chunks
        assert store.chunks_around("doc-brake", 0) == BRAKE.chunks[:2]
        assert store.chunks_around("doc-brake", 2, span=0) == BRAKE.chunks[2:]

    def test_replacing_a_document_replaces_all_its_chunks(self, store: Store) -> None:
        BRAKE.put(store)
        shorter = _Doc("brake", ["Pad wear limit is 3 mm."])
        shorter.put(store)
        assert store.chunks_of("doc-brake") == shorter.chunks
        assert store.counts()["chunks"] == 1

    def test_a_new_document_id_under_a_known_source_replaces_the_old_document(self, store: Store) -> None:
        BRAKE.put(store)
        renamed = _Doc("brake2", ["New text."], source=BRAKE.document.source)
        renamed.put(store)
        assert [s.document.doc_id for s in store.documents()] == ["doc-brake2"]
        assert store.chunks_of("doc-brake") == []

    def test_removing_a_document_removes_its_chunks_but_keeps_cached_vectors(self, store: Store) -> None:
        BRAKE.put(store)
        BATTERY.put(store)
        store.remove_document("doc-brake")
        assert [s.document.doc_id for s in store.documents()] == ["doc-battery"]
        assert store.chunks_of("doc-brake") == []
        assert set(store.cached_vectors(MODEL, BRAKE.hashes)) == set(BRAKE.hashes)

    def test_removing_an_unknown_document_raises_and_changes_nothing(self, store: Store) -> None:
        BRAKE.put(store)
        with pytest.raises(NotFound):
            store.remove_document("doc-nothing")
        assert store.generation() == 1
        assert store.counts()["documents"] == 1

    def test_metadata_update_changes_the_document_not_its_chunks(self, store: Store) -> None:
        BRAKE.put(store)
        store.update_metadata("doc-brake", "Brakes", {"brand": "tamsin"}, frozenset({"quality"}), "m2")
        document = store.document("doc-brake")
        assert (document.title, document.metadata, document.acl) == (
            "Brakes",
            {"brand": "tamsin"},
            frozenset({"quality"}),
        )
        assert store.document_by_source(BRAKE.document.source).meta_hash == "m2"  # type: ignore[union-attr]
        assert store.chunks_of("doc-brake") == BRAKE.chunks

    # -- rows, vectors -------------------------------------------------------------------------------------

    def test_index_rows_are_every_chunk_in_ascending_row_order_with_its_passage(self, store: Store) -> None:
        BRAKE.put(store)
        BATTERY.put(store)
        rows = store.index_rows()
        assert list(rows.rowids) == sorted(set(rows.rowids.tolist())) and rows.rowids.dtype == np.int64
        by_row = store.chunks_by_rowid(rows.rowids.tolist())
        assert [by_row[int(r)].doc_id for r in rows.rowids] == rows.doc_ids
        assert sorted(rows.passages) == sorted(BRAKE.passages + BATTERY.passages)
        passage_of = dict(zip(BRAKE.hashes + BATTERY.hashes, BRAKE.passages + BATTERY.passages, strict=True))
        assert [passage_of[h] for h in rows.embed_hashes] == rows.passages
        rowids, doc_ids = store.row_documents()
        assert np.array_equal(rowids, rows.rowids) and doc_ids == rows.doc_ids

    def test_chunks_by_rowid_leaves_out_unknown_rows(self, store: Store) -> None:
        BRAKE.put(store)
        first = int(store.index_rows().rowids[0])
        found = store.chunks_by_rowid([first, 10**9])
        assert list(found) == [first]
        assert found[first] in BRAKE.chunks

    def test_chunk_vectors_are_the_stored_vectors_for_that_model(self, store: Store) -> None:
        BRAKE.put(store)
        vectors = store.chunk_vectors(MODEL, [c.chunk_id for c in BRAKE.chunks])
        for chunk, h in zip(BRAKE.chunks, BRAKE.hashes, strict=True):
            assert vectors[chunk.chunk_id].dtype == np.float32
            assert np.array_equal(vectors[chunk.chunk_id], BRAKE.vectors[h])
        assert store.chunk_vectors("other-model", [BRAKE.chunks[0].chunk_id]) == {}

    def test_cached_vectors_by_text_hash_leave_out_unknown_hashes(self, store: Store) -> None:
        BRAKE.put(store)
        h = BRAKE.hashes[0]
        cached = store.cached_vectors(MODEL, [h, "0" * 64, h])
        assert list(cached) == [h]
        assert np.array_equal(cached[h], BRAKE.vectors[h])
        assert store.cached_vectors("other-model", [h]) == {}

    def test_put_vectors_adds_to_the_cache_and_keeps_a_cached_vector(self, store: Store) -> None:
        BRAKE.put(store)
        h = BRAKE.hashes[0]
        fresh = np.ones(DIM, dtype=np.float32)
        store.put_vectors("other-model", {h: fresh})
        store.put_vectors(MODEL, {h: fresh})  # already cached for MODEL: kept as it was
        assert np.array_equal(store.cached_vectors("other-model", [h])[h], fresh)
        assert np.array_equal(store.cached_vectors(MODEL, [h])[h], BRAKE.vectors[h])
        assert store.counts()["embeddings"] == 4

    # -- generation and the change log ---------------------------------------------------------------------

    def test_generation_advances_by_one_per_document_change_only(self, store: Store) -> None:
        BRAKE.put(store)
        assert store.generation() == 1
        store.update_metadata("doc-brake", "Brakes", {}, frozenset({"public"}), "m2")
        assert store.generation() == 2
        store.put_vectors(MODEL, {"f" * 64: np.ones(DIM, dtype=np.float32)})
        assert store.record_derived(DerivedRecord("dense", 2, "dense-g2", "abc", MODEL))
        assert store.generation() == 2
        store.remove_document("doc-brake")
        assert store.generation() == 3

    def test_changes_since_an_add(self, store: Store) -> None:
        BRAKE.put(store)
        changes = store.changes_since(0)
        assert changes is not None
        assert (changes.since, changes.generation, changes.total) == (0, 1, 3)
        assert len(changes.removed) == 0
        assert _same_rows(changes.rows, store.index_rows())
        assert changes.documents == {"doc-brake": BRAKE.stored}

    def test_changes_since_a_replace_list_the_lost_rows_and_the_new_ones(self, store: Store) -> None:
        BRAKE.put(store)
        BATTERY.put(store)
        before = store.index_rows()
        old_rows = {int(r) for r, d in zip(*store.row_documents(), strict=True) if d == "doc-brake"}
        shorter = _Doc("brake", ["Pad wear limit is 3 mm."])
        shorter.put(store)
        changes = store.changes_since(2)
        assert changes is not None
        assert set(changes.removed.tolist()) == old_rows
        assert changes.rows.doc_ids == ["doc-brake"] and changes.rows.passages == shorter.passages
        assert changes.documents == {"doc-brake": shorter.stored}
        assert changes.total == 3
        assert _same_rows(_apply(before, changes), store.index_rows())

    def test_changes_since_a_remove(self, store: Store) -> None:
        BRAKE.put(store)
        BATTERY.put(store)
        before = store.index_rows()
        store.remove_document("doc-battery")
        changes = store.changes_since(2)
        assert changes is not None
        assert len(changes.removed) == 2 and len(changes.rows.rowids) == 0
        assert changes.documents == {"doc-battery": None}
        assert changes.total == 3
        assert _same_rows(_apply(before, changes), store.index_rows())

    def test_changes_since_a_metadata_update_give_the_same_rows_with_the_new_title(
        self, store: Store
    ) -> None:
        BRAKE.put(store)
        before = store.index_rows()
        store.update_metadata("doc-brake", "Brakes", {}, frozenset({"quality"}), "m2")
        changes = store.changes_since(1)
        assert changes is not None
        assert np.array_equal(np.sort(changes.removed), before.rowids)
        assert np.array_equal(changes.rows.rowids, before.rowids)
        assert all(p.startswith("Brakes | ") for p in changes.rows.passages)
        stored = changes.documents["doc-brake"]
        assert stored is not None and stored.document.acl == frozenset({"quality"})

    def test_changes_over_many_generations_bring_an_old_index_up_to_date(self, store: Store) -> None:
        BRAKE.put(store)
        before = store.index_rows()
        BATTERY.put(store)
        _Doc("brake", ["Only one chunk now."]).put(store)
        store.update_metadata("doc-battery", "Cells", {}, frozenset({"battery"}), "m3")
        _Doc("coolant", ["Pump flow 12 l/min.", "Hose clamp 3 Nm."]).put(store)
        store.remove_document("doc-coolant")
        changes = store.changes_since(1)
        assert changes is not None and changes.generation == store.generation() == 6
        assert set(changes.documents) == {"doc-brake", "doc-battery", "doc-coolant"}
        assert changes.documents["doc-coolant"] is None
        assert _same_rows(_apply(before, changes), store.index_rows())

    def test_changes_since_now_are_empty(self, store: Store) -> None:
        BRAKE.put(store)
        changes = store.changes_since(1)
        assert changes is not None
        assert len(changes.removed) == 0 and len(changes.rows.rowids) == 0 and changes.documents == {}
        assert changes.total == 3

    def test_changes_since_a_future_generation_is_none(self, store: Store) -> None:
        BRAKE.put(store)
        assert store.changes_since(2) is None

    def test_changes_since_is_none_when_the_log_does_not_reach_back(
        self, backend: Callable[..., Store]
    ) -> None:
        store = backend(log_keep=10)
        doc = _Doc("brake", ["Pad wear limit is 2 mm."])
        doc.put(store)
        for n in range(99):  # generation 100: the log keeps the last 10 generations (or more), not all
            store.update_metadata("doc-brake", f"Title {n}", {}, frozenset({"public"}), f"m{n}")
        assert store.generation() == 100
        assert store.changes_since(0) is None
        assert store.changes_since(1) is None
        recent = store.changes_since(95)
        assert recent is not None and recent.documents.keys() == {"doc-brake"}

    # -- derived records -----------------------------------------------------------------------------------

    def test_derived_records_are_kept_by_name_while_the_generation_matches(self, store: Store) -> None:
        assert store.derived("dense") is None
        first = DerivedRecord("dense", 0, "dense-g0-full", "d1", "recipe")
        assert store.record_derived(first)
        assert store.derived("dense") == first
        assert store.derived("lexical") is None
        BRAKE.put(store)
        assert not store.record_derived(DerivedRecord("dense", 0, "dense-g0-late", "d2", "recipe"))
        assert store.derived("dense") == first
        second = DerivedRecord("dense", 1, "dense-g1-full", "d3", "recipe")
        assert store.record_derived(second)
        assert store.derived("dense") == second

    def test_check_finds_a_store_with_documents_healthy(self, store: Store) -> None:
        BRAKE.put(store)
        BATTERY.put(store)
        store.remove_document("doc-brake")
        assert store.check() == []


class TestStoreBackends(StoreContract):
    """The contract, run once per backend in ``BACKENDS``."""

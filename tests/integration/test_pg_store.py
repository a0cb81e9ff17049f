"""What the PostgreSQL store keeps beyond the shared contract (tests/contract/test_store_contract.py): BM25
postings and statistics in step with the chunks, passage vectors in ``chunks.embedding``, writers from
several processes serialised into consecutive generations, and a schema check at open.

Everything runs against the session's real PostgreSQL server (``pg_server``), one fresh database per test.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest

from assistant.app import Assistant
from assistant.errors import ConfigError, IngestError
from assistant.passages import passage_text, text_hash
from assistant.pg import db, migrate
from assistant.pg.db import Database, shared
from assistant.pg.store import PgStore
from assistant.store import StoredDocument
from assistant.tokenize import tokenize
from assistant.types import Chunk, Document, Principal
from ingest.pipeline import Ingestor
from tests.integration.test_ingest import corpus
from tests.pg import PgServer

pytestmark = pytest.mark.integration

MODEL = "test-model"
OTHER = "other-model"
DIM = 4


def _vector(text: str, model: str = MODEL) -> np.ndarray:
    seed = int(text_hash(f"{model}:{text}")[:8], 16)
    return np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)


@dataclass
class _Doc:
    """A document with its chunks, passage hashes and vectors, as ingest hands them to the store."""

    stored: StoredDocument
    chunks: list[Chunk]
    hashes: list[str]
    vectors: dict[str, np.ndarray]

    def put(self, store: PgStore, model: str = MODEL) -> None:
        store.replace_document(self.stored, self.chunks, self.hashes, model, self.vectors)


def _doc(
    name: str, texts: list[str], acl: frozenset[str] = frozenset({"public"}), model: str = MODEL
) -> _Doc:
    title = f"{name.title()} specification"
    document = Document(
        doc_id=f"doc-{name}",
        source=f"specs/{name}.md",
        sha256=text_hash(" ".join(texts)),
        title=title,
        mime="text/markdown",
        metadata={"revision": 1},
        acl=acl,
        ingested_at="2026-01-02T03:04:05+00:00",
        pages=1,
        owner=None,
    )
    chunks = [
        Chunk(f"{name}-{i}", document.doc_id, i, t, 1, f"{i + 1} Part", {}) for i, t in enumerate(texts)
    ]
    passages = [passage_text(title, c.section, c.text) for c in chunks]
    hashes = [text_hash(p) for p in passages]
    return _Doc(
        StoredDocument(document, "/corpus", f"meta-{name}", 100, "recipe-1"),
        chunks,
        hashes,
        {h: _vector(p, model) for h, p in zip(hashes, passages, strict=True)},
    )


def _embed(passages: list[str]) -> np.ndarray:
    """The test model: a deterministic vector per passage text."""
    return np.vstack([_vector(p) for p in passages])


def _bm25_tables(url: str) -> tuple[dict[object, object], dict[object, object], dict[object, object]]:
    """postings, term_stats and acl_stats as stored, access lists spelled as their groups."""
    with db.connect(url) as conn:
        postings = {
            (term, row_id): (tf, length, tuple(groups), doc_key)
            for term, row_id, tf, length, groups, doc_key in conn.execute(
                "SELECT p.term, p.row_id, p.tf, p.length, a.groups, p.doc_key FROM postings p JOIN acls a"
                " USING (acl_id)"
            )
        }
        term_stats = {
            (term, tuple(groups)): df
            for term, groups, df in conn.execute(
                "SELECT t.term, a.groups, t.df FROM term_stats t JOIN acls a USING (acl_id)"
            )
        }
        acl_stats = {
            tuple(groups): (chunks, tokens)
            for groups, chunks, tokens in conn.execute(
                "SELECT a.groups, s.chunks, s.tokens FROM acl_stats s JOIN acls a USING (acl_id)"
            )
        }
    return postings, term_stats, acl_stats


def _bm25_from_scratch(store: PgStore, url: str) -> tuple[dict[object, object], ...]:
    """The same three tables counted afresh from the store's current chunks and documents."""
    with db.connect(url) as conn:
        doc_key = dict(conn.execute("SELECT doc_id, doc_key FROM documents").fetchall())
    rows = store.index_rows()
    postings: dict[object, object] = {}
    term_stats: Counter[object] = Counter()
    acl_stats: dict[object, tuple[int, int]] = {}
    for row_id, doc_id, passage in zip(rows.rowids.tolist(), rows.doc_ids, rows.passages, strict=True):
        groups = tuple(sorted(store.document(doc_id).acl))
        tokens = tokenize(passage)
        for term, tf in Counter(tokens).items():
            postings[(term, row_id)] = (tf, len(tokens), groups, doc_key[doc_id])
            term_stats[(term, groups)] += 1
        chunks, total = acl_stats.get(groups, (0, 0))
        acl_stats[groups] = (chunks + 1, total + len(tokens))
    return postings, dict(term_stats), dict(acl_stats)


def _embedding(url: str, chunk_id: str) -> np.ndarray | None:
    with db.connect(url) as conn:
        row = conn.execute("SELECT embedding FROM chunks WHERE chunk_id = %s", (chunk_id,)).fetchone()
    assert row is not None
    return None if row[0] is None else np.asarray(row[0].to_numpy(), dtype=np.float32)


@pytest.fixture
def store(pg_url: str) -> PgStore:
    return PgStore(shared(pg_url), embed=_embed, embed_model=MODEL)


# -- BM25 ------------------------------------------------------------------------------------------------


def test_bm25_postings_and_statistics_equal_a_count_from_scratch_after_every_kind_of_write(
    store: PgStore, pg_url: str
) -> None:
    brake = _doc("brake", ["Pad wear limit is 2 mm.", "Caliper torque 120 Nm; pad wear sensor."])
    battery = _doc("battery", ["Cell voltage 4.2 V.", "Thermal runaway alarm."], frozenset({"battery"}))
    coolant = _doc("coolant", ["Pump flow 12 l/min.", "Hose clamp torque 3 Nm."])
    steps = [
        lambda: brake.put(store),
        lambda: battery.put(store),
        lambda: coolant.put(store),
        lambda: _doc("brake", ["Pad wear limit is 3 mm."]).put(store),  # replaced, fewer chunks
        lambda: store.update_metadata("doc-battery", "Cells", {}, frozenset({"battery", "quality"}), "m2"),
        lambda: store.update_metadata(
            "doc-coolant", "Coolant specification", {"x": 1}, frozenset({"public"}), "m3"
        ),
        lambda: store.remove_document("doc-coolant"),
        lambda: store.update_metadata("doc-brake", "Brakes", {}, frozenset({"battery"}), "m4"),
    ]
    for step in steps:
        step()
        assert _bm25_tables(pg_url) == _bm25_from_scratch(store, pg_url)
    _postings, term_stats, acl_stats = _bm25_tables(pg_url)
    assert {groups: chunks for groups, (chunks, _tokens) in acl_stats.items()} == {  # type: ignore[misc]
        ("battery",): 1,
        ("battery", "quality"): 2,
    }
    assert ("brake", ("battery",)) in term_stats  # the new title is indexed under the new access list
    assert store.check() == []


def test_removing_every_document_leaves_no_postings_or_statistics(store: PgStore, pg_url: str) -> None:
    _doc("brake", ["Pad wear limit is 2 mm."]).put(store)
    _doc("battery", ["Cell voltage 4.2 V."], frozenset({"battery"})).put(store)
    store.remove_document("doc-brake")
    store.remove_document("doc-battery")
    assert _bm25_tables(pg_url) == ({}, {}, {})


def test_check_reports_statistics_that_drifted_from_the_chunks(store: PgStore, pg_url: str) -> None:
    _doc("brake", ["Pad wear limit is 2 mm.", "Caliper torque 120 Nm."]).put(store)
    assert store.check() == []
    with db.connect(pg_url) as conn:
        conn.execute("UPDATE acl_stats SET chunks = chunks + 1")
        conn.execute("UPDATE term_stats SET df = df + 1")
        conn.execute("DELETE FROM postings WHERE term = 'pad'")
        conn.commit()
    problems = store.check()
    assert any("acl_stats disagree" in p for p in problems)
    assert any("term_stats disagree" in p for p in problems)
    assert any("postings disagree with the text" in p for p in problems)


# -- vectors ---------------------------------------------------------------------------------------------


def test_chunks_hold_their_passage_vector_for_the_store_model(store: PgStore, pg_url: str) -> None:
    brake = _doc("brake", ["Pad wear limit is 2 mm.", "Caliper torque 120 Nm."])
    brake.put(store)
    for chunk, h in zip(brake.chunks, brake.hashes, strict=True):
        assert np.array_equal(_embedding(pg_url, chunk.chunk_id), brake.vectors[h])  # type: ignore[arg-type]
    with db.connect(pg_url) as conn:
        assert conn.execute("SELECT model_id FROM store_state").fetchone() == (MODEL,)


def test_a_write_that_brings_no_vectors_takes_the_chunk_vectors_from_the_cache(
    store: PgStore, pg_url: str
) -> None:
    brake = _doc("brake", ["Pad wear limit is 2 mm."])
    store.put_vectors(MODEL, brake.vectors)
    store.replace_document(brake.stored, brake.chunks, brake.hashes, MODEL, {})
    assert np.array_equal(_embedding(pg_url, "brake-0"), brake.vectors[brake.hashes[0]])  # type: ignore[arg-type]
    assert store.check() == []


def test_a_title_change_embeds_the_new_passages_and_keeps_the_embed_hash(store: PgStore, pg_url: str) -> None:
    brake = _doc("brake", ["Pad wear limit is 2 mm."])
    brake.put(store)
    store.update_metadata("doc-brake", "Brakes", {}, frozenset({"public"}), "m2")
    new_passage = passage_text("Brakes", "1 Part", "Pad wear limit is 2 mm.")
    assert np.array_equal(_embedding(pg_url, "brake-0"), _vector(new_passage))  # type: ignore[arg-type]
    assert store.cached_vectors(MODEL, [text_hash(new_passage)]).keys() == {text_hash(new_passage)}
    # As the embedded backend: the chunk keeps the hash (and the cached vector) it was written with.
    assert store.index_rows().embed_hashes == brake.hashes
    assert np.array_equal(store.chunk_vectors(MODEL, ["brake-0"])["brake-0"], brake.vectors[brake.hashes[0]])
    assert store.check() == []


def test_a_title_change_without_an_embedder_leaves_the_vector_empty_and_check_says_so(pg_url: str) -> None:
    store = PgStore(shared(pg_url))
    _doc("brake", ["Pad wear limit is 2 mm."]).put(store)
    store.update_metadata("doc-brake", "Brakes", {}, frozenset({"public"}), "m2")
    assert _embedding(pg_url, "brake-0") is None
    assert store.check() == [f"1 chunks have no vector for {MODEL}: re-embed them"]


def test_an_embedder_of_another_model_is_not_used_for_the_store_model(pg_url: str) -> None:
    store = PgStore(shared(pg_url), embed=_embed, embed_model=OTHER)
    _doc("brake", ["Pad wear limit is 2 mm."]).put(store)
    store.update_metadata("doc-brake", "Brakes", {}, frozenset({"public"}), "m2")
    assert _embedding(pg_url, "brake-0") is None


def test_writes_with_another_model_keep_chunk_vectors_of_the_recorded_model(
    store: PgStore, pg_url: str
) -> None:
    _doc("brake", ["Pad wear limit is 2 mm."]).put(store)
    other = _doc("battery", ["Cell voltage 4.2 V."], model=OTHER)
    other.put(store, model=OTHER)
    passage = passage_text("Battery specification", "1 Part", "Cell voltage 4.2 V.")
    assert np.array_equal(_embedding(pg_url, "battery-0"), _vector(passage, MODEL))  # type: ignore[arg-type]
    assert np.array_equal(
        store.cached_vectors(OTHER, other.hashes)[other.hashes[0]], other.vectors[other.hashes[0]]
    )
    with db.connect(pg_url) as conn:
        assert conn.execute("SELECT model_id FROM store_state").fetchone() == (MODEL,)


def test_set_model_moves_every_chunk_vector_to_the_new_model(store: PgStore, pg_url: str) -> None:
    _doc("brake", ["Pad wear limit is 2 mm.", "Caliper torque 120 Nm."]).put(store)
    store.update_metadata("doc-brake", "Brakes", {}, frozenset({"public"}), "m2")  # passages now "Brakes | …"
    generation = store.generation()

    def embed_other(passages: list[str]) -> np.ndarray:
        return np.vstack([_vector(p, OTHER) for p in passages])

    assert store.set_model(OTHER) == 2  # nothing cached for OTHER and nothing to embed with
    assert store.check() == [f"2 chunks have no vector for {OTHER}: re-embed them"]
    assert store.set_model(OTHER, embed_other, batch=1) == 0
    for chunk_id, section, text in (
        ("brake-0", "1 Part", "Pad wear limit is 2 mm."),
        ("brake-1", "2 Part", "Caliper torque 120 Nm."),
    ):
        expected = _vector(passage_text("Brakes", section, text), OTHER)
        assert np.array_equal(_embedding(pg_url, chunk_id), expected)  # type: ignore[arg-type]
    assert store.generation() == generation and store.check() == []
    with db.connect(pg_url) as conn:
        assert conn.execute("SELECT model_id FROM store_state").fetchone() == (OTHER,)


# -- several writers ---------------------------------------------------------------------------------------


def _write_many(url: str, name: str, count: int, start: Any) -> None:
    """One process's writes: ``count`` replacements of its own document (run in a spawned process)."""
    store = PgStore(Database(url, max_size=2))
    start.wait(timeout=60)  # both processes are ready: their writes overlap
    for n in range(count):
        _doc(name, [f"{name} revision {n} text.", f"{name} second chunk {n}."]).put(store)
    store.db.close()


def test_two_processes_writing_at_once_get_consecutive_generations_and_a_complete_log(
    pg_url: str,
) -> None:
    count = 15
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    workers = [
        context.Process(target=_write_many, args=(pg_url, name, count, start)) for name in ("alpha", "beta")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    store = PgStore(shared(pg_url))
    assert store.generation() == 2 * count
    with db.connect(pg_url) as conn:
        logged = conn.execute("SELECT generation, doc_id FROM changes ORDER BY generation").fetchall()
    assert [g for g, _doc_id in logged] == list(range(1, 2 * count + 1))
    assert Counter(d for _g, d in logged) == {"doc-alpha": count, "doc-beta": count}
    changes = store.changes_since(0)
    assert changes is not None and set(changes.documents) == {"doc-alpha", "doc-beta"}
    assert changes.total == 4 and len(changes.rows.rowids) == 4
    assert store.check() == []


def test_threads_sharing_one_store_write_and_read_consistently(store: PgStore) -> None:
    import threading

    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            for n in range(5):
                _doc(name, [f"{name} text {n}."]).put(store)
                assert store.chunks_of(f"doc-{name}")[0].text == f"{name} text {n}."
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.generation() == 20
    assert store.counts()["documents"] == 4


# -- schema ------------------------------------------------------------------------------------------------


def test_a_database_with_pending_migrations_is_refused_at_open(pg_server: PgServer) -> None:
    url = pg_server.empty()
    try:
        with pytest.raises(ConfigError, match="eka db upgrade"):
            PgStore(Database(url, max_size=1))
        with db.connect(url) as conn:
            migrate.upgrade(conn)
        assert PgStore(shared(url)).generation() == 0
    finally:
        pg_server.drop(url)


def test_a_failed_write_changes_nothing(store: PgStore, pg_url: str) -> None:
    brake = _doc("brake", ["Pad wear limit is 2 mm."])
    brake.put(store)
    before = _bm25_tables(pg_url)
    broken = _doc("brake", ["Pad wear limit is 3 mm.", "Second chunk."])
    with pytest.raises(psycopg.errors.UniqueViolation):  # two chunks with one id
        store.replace_document(
            broken.stored, [broken.chunks[0], broken.chunks[0]], broken.hashes, MODEL, broken.vectors
        )
    assert store.generation() == 1
    assert store.chunks_of("doc-brake") == brake.chunks
    assert _bm25_tables(pg_url) == before


def test_text_with_nul_characters_fails_that_document_cleanly(store: PgStore) -> None:
    broken = _doc("binary", ["Pad wear\x00 limit."])
    with pytest.raises(IngestError, match="NUL characters"):
        broken.put(store)
    assert store.generation() == 0 and store.documents() == []


# -- through the composition root ----------------------------------------------------------------------------


def test_ingest_reingest_and_search_on_a_postgresql_store(
    make_assistant: Callable[..., Assistant], tmp_path: Path, pg_url: str
) -> None:
    assistant = make_assistant(database_url=pg_url)
    store = assistant.store
    assert isinstance(store, PgStore)
    root = corpus(tmp_path / "docs")
    report = Ingestor(assistant).run([root])
    assert report.counts()["ingested"] == 4 and report.counts()["failed"] == 0
    assert store.check() == []
    assert _bm25_tables(pg_url) == _bm25_from_scratch(store, pg_url)
    outsider = Principal.of("pat", ["public"])
    assert assistant.retriever.search("wheel nuts torque", outsider)[0].document.source == "notes.md"

    (root / "notes.md.meta.yaml").write_text("acl: [chassis]\nbrand: Kestrel\n")
    again = Ingestor(assistant).run([root])
    assert again.counts()["metadata"] == 1 and again.counts()["embedded"] == 0
    assert store.check() == []
    assert _bm25_tables(pg_url) == _bm25_from_scratch(store, pg_url)
    assert all(
        h.document.source != "notes.md" for h in assistant.retriever.search("wheel nuts torque", outsider)
    )
    insider = Principal.of("kim", ["chassis"])
    assert assistant.retriever.search("wheel nuts torque", insider)[0].document.source == "notes.md"

"""The PostgreSQL ``Store`` backend: documents, chunks, vectors and BM25 postings in one database shared by
every process on every host (schema: migrations/0001_store.sql).

It keeps the embedded backend's contract (assistant/sqlite_store.py): every change to documents or chunks is
one transaction that bumps the generation and logs what changed. Taking ``store_state``'s row lock first
(``UPDATE … RETURNING generation``) serialises writers across processes and hosts, so generations are
consecutive and the log complete. Reads that must agree (:meth:`PgStore.changes_since`,
:meth:`PgStore.index_rows`) run in one ``REPEATABLE READ`` snapshot.

Beyond the embedded backend, each write keeps what PostgreSQL searches read in step: the BM25 postings and
per-access-list statistics (assistant/pg/lexical.py) and each chunk's passage vector (``chunks.embedding``).

Vectors and models: ``chunks.embedding`` holds the vectors of one model, ``store_state.model_id`` (set by the
first :meth:`PgStore.replace_document`): each chunk's is the vector of its passage as it is now (title,
section, text), from the embedding cache or computed by ``embed``. When that is impossible (a write brings
vectors of another model, or a title change with no ``embed`` for the store's model) the chunk's vector is
NULL, never a stale one: :meth:`PgStore.check` reports those chunks. Moving to another model is an explicit
step, :meth:`PgStore.set_model` (it re-embeds what the cache lacks).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from pgvector import Vector
from psycopg.types.json import Jsonb

from assistant.errors import ConfigError, IngestError, NotFound
from assistant.passages import passage_text, text_hash
from assistant.pg import lexical, migrate
from assistant.pg.db import Database
from assistant.store import DerivedRecord, IndexRows, Store, StoreChanges, StoredDocument
from assistant.tokenize import tokenize
from assistant.types import Chunk, Document

log = logging.getLogger(__name__)

# Generations of changes kept in the log: an index further behind than this is rebuilt.
LOG_KEEP = 10_000
# The key of the session advisory lock that ingests hold (any fixed bigint: b'eka:inge' as a big-endian int).
INGEST_LOCK_KEY = 0x656B_613A_696E_6765
# Chunks whose postings check() recounts from their text.
CHECK_SAMPLE = 50

Embed = Callable[[list[str]], np.ndarray]

_DOCUMENT = (
    "doc_id, source, root, sha256, meta_hash, recipe, title, mime, metadata, acl, pages, size, ingested_at,"
    " owner"
)
_CHUNK = "chunk_id, doc_id, ordinal, text, page, section, metadata"
_ROWS = (
    "SELECT c.row_id, c.doc_id, c.embed_hash, c.text, c.section, d.title"
    " FROM chunks c JOIN documents d USING (doc_id)"
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class PgStore:
    """The store in PostgreSQL. One instance may be shared by threads (one pooled connection per call).

    Args:
        db: the process's pool for the database (:func:`assistant.pg.db.shared`).
        embed: passages to float32 vectors, used when a metadata update changes a title (the passages
            change) and their vectors for the recorded model are not cached.
        embed_model: the model ``embed`` computes; ``embed`` is only used for that model (``None``: it is
            the store's recorded model).
        log_keep: generations of changes kept in the log (smaller in tests).

    Raises:
        ConfigError: the database cannot be reached or its schema is not this version's.

    Example:
        >>> store = PgStore(shared("postgresql://eka@db/eka"))  # doctest: +SKIP
        >>> store.generation()  # doctest: +SKIP
        0
    """

    def __init__(
        self,
        db: Database,
        embed: Embed | None = None,
        embed_model: str | None = None,
        log_keep: int = LOG_KEEP,
    ) -> None:
        self.db = db
        self.embed = embed
        self.embed_model = embed_model
        self.log_keep = log_keep
        with db.connection() as conn:
            migrate.check(conn)
        recorded = self._model()
        if embed_model and recorded and embed_model != recorded:
            log.warning(
                "the store's chunk vectors are for %s, not %s: writes leave chunk vectors empty until"
                " PgStore.set_model(%r) re-embeds them",
                recorded,
                embed_model,
                embed_model,
            )

    def close(self) -> None:
        """Nothing to release: the pool belongs to the process (:func:`assistant.pg.db.shared`)."""

    @contextmanager
    def ingest_lock(self) -> Iterator[None]:
        """Hold the database's ingest lock for the block: one ingest at a time per database, whichever host
        runs it (the ingest's file lock under EKA_HOME only covers one host).

        Each write is already atomic and serialised (:meth:`_lock`), so concurrent ingests could not corrupt
        the store; without this lock, two hosts ingesting the same files would both parse and embed them and
        the later write would replace the earlier. With it, the second ingest finds them unchanged. A session
        advisory lock on one pooled connection: it goes away with the connection if the process dies.
        """
        with self.db.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (INGEST_LOCK_KEY,))
            conn.commit()
            try:
                yield
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (INGEST_LOCK_KEY,))
                    conn.commit()
                except psycopg.Error as err:  # the connection broke: the server released the lock with it
                    log.warning("could not release the ingest lock: %s", err)

    # -- helpers -------------------------------------------------------------------------------------------

    def _bump(self, conn: psycopg.Connection, generation: int, touched: dict[str, list[int]]) -> None:
        """Log which documents changed in ``generation`` (:meth:`_lock`'s) and which chunk rows they lost."""
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO changes (generation, doc_id, removed) VALUES (%s, %s, %s)",
                [(generation, d, sorted(r)) for d, r in touched.items()],
            )
        if generation % 100 == 0 and generation > self.log_keep:
            floor = generation - self.log_keep
            conn.execute("DELETE FROM changes WHERE generation <= %s", (floor,))
            conn.execute("UPDATE store_state SET log_floor = greatest(log_floor, %s)", (floor,))

    @staticmethod
    def _lock(conn: psycopg.Connection) -> tuple[int, str | None]:
        """Advance the generation (the row lock serialises writers); returns it and the store's model."""
        row = conn.execute(
            "UPDATE store_state SET generation = generation + 1 RETURNING generation, model_id"
        ).fetchone()
        assert row is not None
        return int(row[0]), row[1]

    @staticmethod
    def _rows_of(conn: psycopg.Connection, doc_id: str) -> list[int]:
        return [r[0] for r in conn.execute("SELECT row_id FROM chunks WHERE doc_id = %s", (doc_id,))]

    def _model(self) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT model_id FROM store_state").fetchone()
        return row[0] if row else None

    def _vectors_for(self, model: str | None, passages: dict[str, str]) -> dict[str, np.ndarray]:
        """Vectors of ``model`` for these passages (hash to text) that the cache lacks, computed by ``embed``
        when it computes that model; empty when it cannot."""
        if model is None or self.embed is None or self.embed_model not in (None, model) or not passages:
            return {}
        missing = [h for h in passages if h not in self.cached_vectors(model, passages)]
        if not missing:
            return {}
        vectors = np.asarray(self.embed([passages[h] for h in missing]), dtype=np.float32)
        return dict(zip(missing, vectors, strict=True))

    @staticmethod
    def _cache(conn: psycopg.Connection, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        """Add vectors to the cache, keeping any already there (in hash order: concurrent writers never
        deadlock)."""
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO embeddings (model_id, text_hash, vector) VALUES (%s, %s, %s)"
                " ON CONFLICT (model_id, text_hash) DO NOTHING",
                [(model_id, h, np.asarray(vectors[h], dtype=np.float32)) for h in sorted(vectors)],
            )

    @staticmethod
    def _chunk_vectors(conn: psycopg.Connection, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vector of ``model`` for each passage hash (the write's own vectors are cached first, and
        a vector cached earlier wins, as the contract says); hashes with none are left out: their chunks get
        no vector, which :meth:`check` reports."""
        found: dict[str, np.ndarray] = {}
        for h, vector in conn.execute(
            "SELECT text_hash, vector FROM embeddings WHERE model_id = %s AND text_hash = ANY(%s)",
            (model, sorted(set(hashes))),
        ):
            found[h] = _array(vector)
        return found

    @staticmethod
    def _index(conn: psycopg.Connection, doc_id: str) -> None:
        """Index a document's chunk rows for BM25 (their passages: title, section, text)."""
        rows = conn.execute(
            "SELECT c.row_id, c.text, c.section, d.title, d.acl_id, d.doc_key FROM chunks c"
            " JOIN documents d USING (doc_id) WHERE c.doc_id = %s ORDER BY c.row_id",
            (doc_id,),
        ).fetchall()
        if rows:
            passages = [(r[0], passage_text(r[3], r[2], r[1])) for r in rows]
            lexical.index_chunks(conn, passages, rows[0][4], rows[0][5])

    # -- reads ---------------------------------------------------------------------------------------------

    def generation(self) -> int:
        """The number of committed changes to documents and chunks so far."""
        with self.db.connection() as conn:
            row = conn.execute("SELECT generation FROM store_state").fetchone()
        assert row is not None
        return int(row[0])

    def document_by_source(self, source: str) -> StoredDocument | None:
        """The stored document with this source path, if any."""
        with self.db.connection() as conn:
            row = conn.execute(f"SELECT {_DOCUMENT} FROM documents WHERE source = %s", (source,)).fetchone()  # noqa: S608
        return _stored(row) if row else None

    def document(self, doc_id: str) -> Document:
        """A document by id.

        Raises:
            NotFound: no document has this id.
        """
        with self.db.connection() as conn:
            row = conn.execute(f"SELECT {_DOCUMENT} FROM documents WHERE doc_id = %s", (doc_id,)).fetchone()  # noqa: S608
        if row is None:
            raise NotFound(f"no document {doc_id!r}")
        return _stored(row).document

    def documents(self) -> list[StoredDocument]:
        """All documents, ordered by source."""
        with self.db.connection() as conn:
            rows = conn.execute(f'SELECT {_DOCUMENT} FROM documents ORDER BY source COLLATE "C"').fetchall()  # noqa: S608
        return [_stored(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Numbers of documents, chunks and cached embeddings, and the generation (one snapshot)."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM chunks),"
                " (SELECT count(*) FROM embeddings), (SELECT generation FROM store_state)"
            ).fetchone()
        assert row is not None
        return {"documents": row[0], "chunks": row[1], "embeddings": row[2], "generation": row[3]}

    def chunk_counts(self) -> dict[str, int]:
        """Number of chunks per document id."""
        with self.db.connection() as conn:
            rows = conn.execute("SELECT doc_id, count(*) FROM chunks GROUP BY doc_id").fetchall()
        return {doc_id: n for doc_id, n in rows}

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in reading order."""
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_CHUNK} FROM chunks WHERE doc_id = %s ORDER BY ordinal",  # noqa: S608
                (doc_id,),
            ).fetchall()
        return [_chunk(r) for r in rows]

    def chunks_around(self, doc_id: str, ordinal: int, span: int = 1) -> list[Chunk]:
        """A document's chunks within ``span`` places of ``ordinal`` (itself included), in reading order."""
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT {_CHUNK} FROM chunks WHERE doc_id = %s AND ordinal BETWEEN %s AND %s"  # noqa: S608
                " ORDER BY ordinal",
                (doc_id, ordinal - span, ordinal + span),
            ).fetchall()
        return [_chunk(r) for r in rows]

    def chunks_by_rowid(self, rowids: Sequence[int]) -> dict[int, Chunk]:
        """Chunks keyed by their row id (the id the derived indexes use)."""
        ids = [int(r) for r in rowids]
        if not ids:
            return {}
        with self.db.connection() as conn:
            rows = conn.execute(
                f"SELECT row_id, {_CHUNK} FROM chunks WHERE row_id = ANY(%s)",  # noqa: S608
                (ids,),
            ).fetchall()
        return {int(r[0]): _chunk(r[1:]) for r in rows}

    def chunk_vectors(self, model_id: str, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored passage embeddings of these chunks (keyed by chunk id) for ``model_id``: the cached
        vector of each chunk's ``embed_hash``, as in the embedded backend."""
        ids = list(chunk_ids)
        if not ids:
            return {}
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT c.chunk_id, e.vector FROM chunks c JOIN embeddings e"
                " ON e.text_hash = c.embed_hash AND e.model_id = %s WHERE c.chunk_id = ANY(%s)",
                (model_id, ids),
            ).fetchall()
        return {chunk_id: _array(vector) for chunk_id, vector in rows}

    def cached_vectors(self, model_id: str, text_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Embeddings already computed for these passage hashes with this model."""
        hashes = list(dict.fromkeys(text_hashes))
        if not hashes:
            return {}
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT text_hash, vector FROM embeddings WHERE model_id = %s AND text_hash = ANY(%s)",
                (model_id, hashes),
            ).fetchall()
        return {h: _array(vector) for h, vector in rows}

    def cached_models(self) -> dict[str, int]:
        """The number of cached vectors per model id."""
        with self.db.connection() as conn:
            rows = conn.execute("SELECT model_id, count(*) FROM embeddings GROUP BY model_id").fetchall()
        return {model_id: int(n) for model_id, n in rows}

    def cached_hashes(self, model_id: str) -> list[str]:
        """Every passage hash with a cached vector for ``model_id``, sorted."""
        with self.db.connection() as conn:
            rows = conn.execute(
                'SELECT text_hash FROM embeddings WHERE model_id = %s ORDER BY text_hash COLLATE "C"',
                (model_id,),
            ).fetchall()
        return [r[0] for r in rows]

    def index_rows(self) -> IndexRows:
        """All chunks in row order with the passage text the indexes are built from (one snapshot)."""
        with self.db.connection() as conn:
            _snapshot(conn)
            return IndexRows.of(conn.execute(f"{_ROWS} ORDER BY c.row_id").fetchall())

    def changes_since(self, generation: int) -> StoreChanges | None:
        """What changed after ``generation``, up to now; ``None`` when the log does not reach back that far.

        Example:
            >>> changes = store.changes_since(record.generation)  # doctest: +SKIP
            >>> changes.removed, changes.rows.rowids  # doctest: +SKIP
            (array([17, 18]), array([42, 43, 44]))
        """
        with self.db.connection() as conn:
            _snapshot(conn)  # the log, the documents and the chunks agree
            state = conn.execute("SELECT generation, log_floor FROM store_state").fetchone()
            assert state is not None
            now, floor = int(state[0]), int(state[1])
            if generation < floor or generation > now:
                return None
            logged = conn.execute(
                "SELECT doc_id, removed FROM changes WHERE generation > %s", (generation,)
            ).fetchall()
            ordered = sorted({doc_id for doc_id, _removed in logged})
            removed = [r for _doc_id, removed in logged for r in removed]
            documents: dict[str, StoredDocument | None] = dict.fromkeys(ordered)
            for row in conn.execute(
                f"SELECT {_DOCUMENT} FROM documents WHERE doc_id = ANY(%s)",  # noqa: S608
                (ordered,),
            ):
                documents[row[0]] = _stored(row)
            rows = IndexRows.of(
                conn.execute(f"{_ROWS} WHERE c.doc_id = ANY(%s) ORDER BY c.row_id", (ordered,)).fetchall()
            )
            total_row = conn.execute("SELECT count(*) FROM chunks").fetchone()
            assert total_row is not None
        return StoreChanges(
            generation,
            now,
            np.unique(np.asarray(removed, dtype=np.int64)),
            rows,
            documents,
            int(total_row[0]),
        )

    def row_documents(self) -> tuple[np.ndarray, list[str]]:
        """Every chunk row id (ascending) with its document id."""
        with self.db.connection() as conn:
            rows = conn.execute("SELECT row_id, doc_id FROM chunks ORDER BY row_id").fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]

    def derived(self, name: str) -> DerivedRecord | None:
        """The record of a derived index, if one was ever built."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT name, generation, path, sha256, model_id FROM derived WHERE name = %s", (name,)
            ).fetchone()
        return DerivedRecord(row[0], int(row[1]), row[2], row[3], row[4]) if row else None

    # -- writes --------------------------------------------------------------------------------------------

    def replace_document(
        self,
        stored: StoredDocument,
        chunks: Sequence[Chunk],
        embed_hashes: Sequence[str],
        model_id: str,
        vectors: dict[str, np.ndarray],
    ) -> None:
        """Insert or replace a document and all its chunks and new vectors, atomically, with its postings
        and its chunks' vectors for the store's model.

        Raises:
            IngestError: the text holds NUL characters (nothing changes).
        """
        doc = stored.document
        hashes = list(embed_hashes)
        if len(hashes) != len(chunks):
            raise ValueError("one passage hash per chunk")
        if any("\x00" in c.text or "\x00" in (c.section or "") for c in chunks) or "\x00" in doc.title:
            # PostgreSQL text cannot hold NUL: fail this document cleanly (ingest reports it and goes on).
            raise IngestError(doc.source, "its text holds NUL characters, which PostgreSQL cannot store")
        recorded = self._model()
        extra: dict[str, np.ndarray] = {}
        if recorded is not None and recorded != model_id:  # the recorded model's vectors, when we can
            passages = {
                h: passage_text(doc.title, c.section, c.text) for c, h in zip(chunks, hashes, strict=True)
            }
            extra = self._vectors_for(recorded, passages)
        # Tokenised before the write lock is taken: other writers wait only for the database work.
        tokens = [tokenize(passage_text(doc.title, c.section, c.text)) for c in chunks]
        with self.db.connection() as conn:
            generation, model = self._lock(conn)
            if model is None:
                model = model_id
                conn.execute("UPDATE store_state SET model_id = %s", (model_id,))
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT doc_id FROM documents WHERE doc_id = %s OR source = %s", (doc.doc_id, doc.source)
                )
            ]
            touched = {d: self._rows_of(conn, d) for d in old}
            touched.setdefault(doc.doc_id, [])
            lexical.unindex_chunks(conn, [r for rows in touched.values() for r in rows])
            conn.execute("DELETE FROM documents WHERE doc_id = %s OR source = %s", (doc.doc_id, doc.source))
            acl = lexical.acl_id(conn, doc.acl)
            row = conn.execute(
                f"INSERT INTO documents ({_DOCUMENT}, acl_id)"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING doc_key",
                (
                    doc.doc_id,
                    doc.source,
                    stored.root,
                    doc.sha256,
                    stored.meta_hash,
                    stored.recipe,
                    doc.title,
                    doc.mime,
                    _json(doc.metadata),
                    sorted(doc.acl),
                    doc.pages,
                    stored.size,
                    doc.ingested_at or _now(),
                    doc.owner,
                    acl,
                ),
            ).fetchone()
            assert row is not None
            doc_key = int(row[0])
            self._cache(conn, model_id, vectors)
            if extra:
                self._cache(conn, model, extra)
            chunk_vectors = self._chunk_vectors(conn, model, hashes)
            with conn.cursor() as cur:  # one at a time, in order: row ids ascend in reading order
                cur.executemany(
                    "INSERT INTO chunks (chunk_id, doc_id, doc_key, acl_id, ordinal, text, page, section,"
                    " metadata, embed_hash, length, embedding)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING row_id",
                    [
                        (
                            c.chunk_id,
                            c.doc_id,
                            doc_key,
                            acl,
                            c.ordinal,
                            c.text,
                            c.page,
                            c.section,
                            _json(c.metadata),
                            h,
                            len(t),
                            chunk_vectors.get(h),
                        )
                        for c, h, t in zip(chunks, hashes, tokens, strict=True)
                    ],
                    returning=True,
                )
                row_ids: list[int] = []
                while chunks:
                    found = cur.fetchone()
                    if found is not None:
                        row_ids.append(int(found[0]))
                    if not cur.nextset():
                        break
            # Each chunk row is written once, with its length and vector; the postings follow.
            lexical.index_tokens(conn, list(zip(row_ids, tokens, strict=True)), acl, doc_key)
            self._bump(conn, generation, touched)

    def update_metadata(
        self, doc_id: str, title: str, metadata: dict[str, Any], acl: frozenset[str], meta_hash: str
    ) -> None:
        """Change a document's title, metadata and access list; its chunks stay, their postings and (when the
        title changes) their vectors follow.

        As in the embedded backend, the chunks keep their ``embed_hash`` (the passage they were embedded
        from). ``chunks.embedding`` takes the vector of the new passage (title, section, text) for the
        store's model from the cache or from ``embed``; when neither has it, it becomes NULL (reported by
        :meth:`check`) rather than keep a vector of the old title.
        """
        recorded = self._model()
        fresh: dict[str, np.ndarray] = {}
        passages: dict[int, str] = {}
        with self.db.connection() as conn:
            current = conn.execute("SELECT title FROM documents WHERE doc_id = %s", (doc_id,)).fetchone()
            if current is not None and current[0] != title and recorded is not None:
                for row_id, text, section in conn.execute(
                    "SELECT row_id, text, section FROM chunks WHERE doc_id = %s", (doc_id,)
                ):
                    passages[row_id] = passage_text(title, section, text)
        if passages:
            by_hash = {text_hash(p): p for p in passages.values()}
            fresh = self._vectors_for(recorded, by_hash)
        with self.db.connection() as conn:
            generation, model = self._lock(conn)
            rows = self._rows_of(conn, doc_id)
            lexical.unindex_chunks(conn, rows)
            new_acl = lexical.acl_id(conn, acl)
            was = conn.execute(
                "SELECT title FROM documents WHERE doc_id = %s FOR UPDATE", (doc_id,)
            ).fetchone()
            conn.execute(
                "UPDATE documents SET title = %s, metadata = %s, acl = %s, acl_id = %s, meta_hash = %s"
                " WHERE doc_id = %s",
                (title, _json(metadata), sorted(acl), new_acl, meta_hash, doc_id),
            )
            conn.execute("UPDATE chunks SET acl_id = %s WHERE doc_id = %s", (new_acl, doc_id))
            if was is not None and was[0] != title and model is not None:
                if fresh:
                    self._cache(conn, model, fresh)
                with conn.cursor() as cur:
                    cur.executemany(
                        "UPDATE chunks SET embedding = (SELECT vector FROM embeddings"
                        " WHERE model_id = %s AND text_hash = %s) WHERE row_id = %s",
                        [
                            (model, text_hash(passage_text(title, section, text)), row_id)
                            for row_id, text, section in conn.execute(
                                "SELECT row_id, text, section FROM chunks WHERE doc_id = %s", (doc_id,)
                            ).fetchall()
                        ],
                    )
            self._index(conn, doc_id)
            # The title is part of every passage: the document's rows are indexed again.
            self._bump(conn, generation, {doc_id: rows})

    def remove_document(self, doc_id: str) -> None:
        """Delete a document and its chunks and postings (cached embeddings stay for reuse).

        Raises:
            NotFound: no document has this id.
        """
        with self.db.connection() as conn:
            generation, _model = self._lock(conn)
            rows = self._rows_of(conn, doc_id)
            lexical.unindex_chunks(conn, rows)
            if conn.execute("DELETE FROM documents WHERE doc_id = %s", (doc_id,)).rowcount == 0:
                raise NotFound(f"no document {doc_id!r}")  # rolls the transaction back: nothing changed
            self._bump(conn, generation, {doc_id: rows})

    def put_vectors(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        """Add embeddings to the cache (used when the indexes are rebuilt for a new model)."""
        with self.db.connection() as conn:
            self._cache(conn, model_id, vectors)

    def record_derived(self, record: DerivedRecord) -> bool:
        """Record a freshly built derived index, unless the store moved on meanwhile.

        Returns:
            True when recorded; False when the store's generation changed since the build started.
        """
        with self.db.connection() as conn:
            row = conn.execute("SELECT generation FROM store_state FOR SHARE").fetchone()
            if row is None or int(row[0]) != record.generation:
                return False
            conn.execute(
                "INSERT INTO derived (name, generation, path, sha256, model_id, built_at)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET generation ="
                " EXCLUDED.generation, path = EXCLUDED.path, sha256 = EXCLUDED.sha256,"
                " model_id = EXCLUDED.model_id, built_at = EXCLUDED.built_at",
                (record.name, record.generation, record.path, record.sha256, record.model_id, _now()),
            )
        return True

    def set_model(self, model_id: str, embed: Embed | None = None, batch: int = 1024) -> int:
        """Make ``model_id`` the model of every chunk's vector (``chunks.embedding``).

        Each chunk's passage vector for ``model_id`` comes from the cache, or from ``embed`` (``batch``
        passages at a time, each batch cached as it is done, so an interrupted run resumes). Does not change
        the generation: no row or passage changes.

        Returns:
            The number of chunks left without a vector (no ``embed``, or written meanwhile); 0 when done.

        Example:
            >>> store.set_model(embedder.model_id, embedder.embed_passages)  # doctest: +SKIP
            0
        """
        rows = self.index_rows()
        passages = {text_hash(p): p for p in rows.passages}
        missing = [h for h in passages if h not in self.cached_vectors(model_id, passages)]
        if embed is not None:
            for start in range(0, len(missing), batch):
                part = missing[start : start + batch]
                vectors = np.asarray(embed([passages[h] for h in part]), dtype=np.float32)
                self.put_vectors(model_id, dict(zip(part, vectors, strict=True)))
        with self.db.connection() as conn:
            conn.execute("SELECT 1 FROM store_state FOR UPDATE")  # no write meanwhile; generation unchanged
            conn.execute("UPDATE store_state SET model_id = %s", (model_id,))
            current = conn.execute(
                "SELECT c.row_id, c.text, c.section, d.title FROM chunks c JOIN documents d USING (doc_id)"
            ).fetchall()
            conn.execute(
                "UPDATE chunks c SET embedding = (SELECT e.vector FROM embeddings e"
                " WHERE e.model_id = %s AND e.text_hash = u.h)"
                " FROM unnest(%s::bigint[], %s::text[]) AS u(r, h) WHERE c.row_id = u.r",
                (
                    model_id,
                    [r[0] for r in current],
                    [text_hash(passage_text(r[3], r[2], r[1])) for r in current],
                ),
            )
            row = conn.execute("SELECT count(*) FROM chunks WHERE embedding IS NULL").fetchone()
        left = int(row[0]) if row else 0
        log.info("chunk vectors are now for %s (%s chunks without one)", model_id, left)
        return left

    def check(self) -> list[str]:
        """The schema's version, denormalised columns, vectors, BM25 statistics (whole) and postings (a
        sample of chunks, recounted from their text); an empty list means healthy."""
        problems: list[str] = []
        with self.db.connection() as conn:
            _snapshot(conn)
            try:
                migrate.check(conn)
            except ConfigError as err:
                problems.append(str(err))
                return problems
            _snapshot(conn)  # migrate.status ends its transaction
            problems += _check_rows(conn)
            problems += _check_statistics(conn)
            problems += _check_postings(conn)
        return problems


def _check_rows(conn: psycopg.Connection) -> list[str]:
    problems: list[str] = []
    (stale,) = conn.execute(
        "SELECT count(*) FROM chunks c JOIN documents d USING (doc_id)"
        " WHERE c.doc_key <> d.doc_key OR c.acl_id <> d.acl_id"
    ).fetchone() or (0,)
    if stale:
        problems.append(f"{stale} chunks disagree with their document's doc_key or acl_id")
    (wrong_acl,) = conn.execute(
        "SELECT count(*) FROM documents d JOIN acls a USING (acl_id) WHERE a.groups <> d.acl"
    ).fetchone() or (0,)
    if wrong_acl:
        problems.append(f"{wrong_acl} documents whose acl_id is not their access list")
    row = conn.execute(
        "SELECT s.model_id, count(c.row_id) FROM store_state s"
        " LEFT JOIN chunks c ON c.embedding IS NULL GROUP BY s.model_id"
    ).fetchone()
    if row is not None and row[1]:
        problems.append(f"{row[1]} chunks have no vector for {row[0] or 'any model'}: re-embed them")
    (ahead,) = conn.execute(
        "SELECT count(*) FROM changes WHERE generation > (SELECT generation FROM store_state)"
    ).fetchone() or (0,)
    if ahead:
        problems.append(f"{ahead} change-log entries are ahead of the generation")
    return problems


def _check_statistics(conn: psycopg.Connection) -> list[str]:
    """``acl_stats`` against a count over the chunks; ``term_stats`` of a sample of terms against their
    postings."""
    problems: list[str] = []
    (acl_wrong,) = conn.execute(
        "SELECT count(*) FROM (SELECT acl_id, count(*) AS chunks, sum(length) AS tokens FROM chunks"
        " GROUP BY acl_id) c FULL JOIN acl_stats s USING (acl_id)"
        " WHERE c.chunks IS DISTINCT FROM s.chunks OR c.tokens IS DISTINCT FROM s.tokens"
    ).fetchone() or (0,)
    if acl_wrong:
        problems.append(f"acl_stats disagree with the chunks for {acl_wrong} access lists")
    terms = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT term FROM (SELECT term FROM term_stats ORDER BY random() LIMIT %s) t",
            (CHECK_SAMPLE * 4,),
        )
    ]
    (df_wrong,) = conn.execute(
        "SELECT count(*) FROM (SELECT term, acl_id, count(*) AS df FROM postings WHERE term = ANY(%s)"
        " GROUP BY term, acl_id) p FULL JOIN (SELECT * FROM term_stats WHERE term = ANY(%s)) s"
        " USING (term, acl_id) WHERE p.df IS DISTINCT FROM s.df",
        (terms, terms),
    ).fetchone() or (0,)
    if df_wrong:
        problems.append(f"term_stats disagree with the postings for {df_wrong} sampled terms")
    (orphans,) = conn.execute(
        "SELECT count(*) FROM postings p WHERE term = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.row_id = p.row_id)",
        (terms,),
    ).fetchone() or (0,)
    if orphans:
        problems.append(f"{orphans} postings of sampled terms belong to chunks that are gone")
    return problems


def _check_postings(conn: psycopg.Connection) -> list[str]:
    """A sample of chunks' postings and lengths against their passage's tokens."""
    wrong: list[int] = []
    sample = conn.execute(
        "SELECT c.row_id, c.text, c.section, d.title, c.length, c.acl_id, c.doc_key FROM chunks c"
        " JOIN documents d USING (doc_id) ORDER BY random() LIMIT %s",
        (CHECK_SAMPLE,),
    ).fetchall()
    for row_id, text, section, title, length, acl, doc_key in sample:
        tokens = tokenize(passage_text(title, section, text))
        expected = {(t, tokens.count(t), len(tokens), acl, doc_key) for t in set(tokens)}
        found = set(
            conn.execute(
                "SELECT term, tf, length, acl_id, doc_key FROM postings WHERE row_id = %s", (row_id,)
            ).fetchall()
        )
        if found != expected or length != len(tokens):
            wrong.append(int(row_id))
    return [f"postings disagree with the text of chunk rows {sorted(wrong)}"] if wrong else []


def _snapshot(conn: psycopg.Connection) -> None:
    """Make the connection's next transaction one read-only snapshot (ends any transaction open)."""
    conn.rollback()
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def _json(value: Any) -> Jsonb:
    """A jsonb parameter, written as the embedded backend writes JSON (values JSON lacks become strings)."""
    return Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _array(vector: Vector) -> np.ndarray:
    return np.asarray(vector.to_numpy(), dtype=np.float32)


def _stored(row: Sequence[Any]) -> StoredDocument:
    (
        doc_id,
        source,
        root,
        sha256,
        meta_hash,
        recipe,
        title,
        mime,
        metadata,
        acl,
        pages,
        size,
        ingested_at,
        owner,
    ) = row
    doc = Document(
        doc_id=doc_id,
        source=source,
        sha256=sha256,
        title=title,
        mime=mime,
        metadata=metadata,
        acl=frozenset(acl),
        ingested_at=ingested_at,
        pages=pages,
        owner=owner,
    )
    return StoredDocument(doc, root, meta_hash, int(size), recipe)


def _chunk(row: Sequence[Any]) -> Chunk:
    chunk_id, doc_id, ordinal, text, page, section, metadata = row
    return Chunk(
        chunk_id=chunk_id,
        doc_id=doc_id,
        ordinal=ordinal,
        text=text,
        page=page,
        section=section,
        metadata=metadata,
    )


# mypy proves here that the PostgreSQL backend keeps the seam.
_: type[Store] = PgStore

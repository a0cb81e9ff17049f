"""The embedded ``Store`` backend: SQLite (WAL) holding documents, chunks, access lists and embedding vectors.

Every change to documents or chunks happens in one transaction that also bumps the store's *generation* and
writes what changed into the change log (the documents touched and the chunk row ids they lost). Derived
indexes (FAISS, BM25) record the generation they were built from and catch up by applying the logged changes
since (:meth:`SQLiteStore.changes_since`); when the log does not reach back that far they are rebuilt.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import NotFound
from assistant.fsutil import immediate, open_sqlite
from assistant.store import DerivedRecord, IndexRows, Store, StoreChanges, StoredDocument
from assistant.types import Chunk, Document

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# Generations of changes kept in the log: an index further behind than this is rebuilt.
LOG_KEEP = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    root TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    meta_hash TEXT NOT NULL,
    recipe TEXT NOT NULL,
    title TEXT NOT NULL,
    mime TEXT NOT NULL,
    metadata TEXT NOT NULL,
    acl TEXT NOT NULL,
    pages INTEGER,
    size INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    owner TEXT
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    text TEXT NOT NULL,
    page INTEGER,
    section TEXT,
    metadata TEXT NOT NULL,
    embed_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id, ordinal);
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model_id, text_hash)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    generation INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    removed BLOB NOT NULL,
    PRIMARY KEY (generation, doc_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS derived (
    name TEXT PRIMARY KEY,
    generation INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    model_id TEXT NOT NULL,
    built_at TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SQLiteStore:
    """SQLite store. Thread-safe for use from one process; concurrent processes are serialised by SQLite.

    Example:
        >>> store = SQLiteStore(Path(".eka/eka.sqlite3"))  # doctest: +SKIP
        >>> store.generation()  # doctest: +SKIP
        0
    """

    def __init__(self, path: Path, log_keep: int = LOG_KEEP) -> None:
        self.path = path
        self.log_keep = log_keep  # generations of changes kept in the log (smaller in tests)
        self._lock = threading.RLock()
        self._db = open_sqlite(path)
        with self._write():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(documents)")}
            if "owner" not in columns:  # a store from before owners: its documents count as the CLI's
                self._db.execute("ALTER TABLE documents ADD COLUMN owner TEXT")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', '0')")
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            # Changes are logged from here on (a store from before the log has none for older generations).
            self._db.execute(
                "INSERT OR IGNORE INTO meta SELECT 'log_floor', value FROM meta WHERE key = 'generation'"
            )

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate write transaction (serialises writers across processes too)."""
        with immediate(self._db, self._lock) as db:
            yield db

    def _bump(self, db: sqlite3.Connection, touched: dict[str, list[int]]) -> None:
        """Advance the generation and log which documents changed and which chunk rows they lost."""
        db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        generation = int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
        db.executemany(
            "INSERT INTO changes VALUES (?,?,?)",
            [(generation, d, np.asarray(r, dtype=np.int64).tobytes()) for d, r in touched.items()],
        )
        if generation % 100 == 0 and generation > self.log_keep:
            db.execute("DELETE FROM changes WHERE generation <= ?", (generation - self.log_keep,))
            db.execute(
                "UPDATE meta SET value = max(CAST(value AS INTEGER), ?) WHERE key = 'log_floor'",
                (generation - self.log_keep,),
            )

    @staticmethod
    def _rows_of(db: sqlite3.Connection, doc_id: str) -> list[int]:
        return [r[0] for r in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]

    # -- reads ---------------------------------------------------------------------------------------------

    def generation(self) -> int:
        """The number of committed changes to documents and chunks so far."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0])

    def document_by_source(self, source: str) -> StoredDocument | None:
        """The stored document with this source path, if any."""
        with self._lock:
            row = self._db.execute("SELECT * FROM documents WHERE source = ?", (source,)).fetchone()
        return _stored(row) if row else None

    def document(self, doc_id: str) -> Document:
        """A document by id.

        Raises:
            NotFound: no document has this id.
        """
        with self._lock:
            row = self._db.execute("SELECT * FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            raise NotFound(f"no document {doc_id!r}")
        return _stored(row).document

    def documents(self) -> list[StoredDocument]:
        """All documents, ordered by source."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM documents ORDER BY source").fetchall()
        return [_stored(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Numbers of documents, chunks and cached embeddings."""
        with self._lock:
            one = self._db.execute
            return {
                "documents": one("SELECT count(*) FROM documents").fetchone()[0],
                "chunks": one("SELECT count(*) FROM chunks").fetchone()[0],
                "embeddings": one("SELECT count(*) FROM embeddings").fetchone()[0],
                "generation": self.generation(),
            }

    def chunk_counts(self) -> dict[str, int]:
        """Number of chunks per document id."""
        with self._lock:
            rows = self._db.execute("SELECT doc_id, count(*) FROM chunks GROUP BY doc_id").fetchall()
        return {doc_id: n for doc_id, n in rows}

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in reading order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc_id,)
            ).fetchall()
        return [_chunk(r) for r in rows]

    def chunks_around(self, doc_id: str, ordinal: int, span: int = 1) -> list[Chunk]:
        """A document's chunks within ``span`` places of ``ordinal`` (itself included), in reading order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM chunks WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal",
                (doc_id, ordinal - span, ordinal + span),
            ).fetchall()
        return [_chunk(r) for r in rows]

    def chunks_by_rowid(self, rowids: Sequence[int]) -> dict[int, Chunk]:
        """Chunks keyed by their row id (the id the derived indexes use)."""
        out: dict[int, Chunk] = {}
        ids = [int(r) for r in rowids]
        with self._lock:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                for row in self._db.execute(f"SELECT * FROM chunks WHERE id IN ({marks})", part):  # noqa: S608
                    out[int(row["id"])] = _chunk(row)
        return out

    def chunk_vectors(self, model_id: str, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored passage embeddings of these chunks (keyed by chunk id) for ``model_id``."""
        out: dict[str, np.ndarray] = {}
        ids = list(chunk_ids)
        with self._lock:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    "SELECT c.chunk_id, e.vector FROM chunks c JOIN embeddings e"  # noqa: S608
                    f" ON e.text_hash = c.embed_hash AND e.model_id = ? WHERE c.chunk_id IN ({marks})",
                    [model_id, *part],
                ).fetchall()
                for chunk_id, blob in rows:
                    out[chunk_id] = np.frombuffer(blob, dtype=np.float32)
        return out

    def cached_vectors(self, model_id: str, text_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Embeddings already computed for these passage hashes with this model."""
        hashes = list(dict.fromkeys(text_hashes))
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(hashes), 500):
                part = hashes[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model_id = ? AND text_hash IN ({marks})",  # noqa: S608
                    [model_id, *part],
                )
                for text_hash, blob in rows:
                    out[text_hash] = np.frombuffer(blob, dtype=np.float32)
        return out

    def cached_models(self) -> dict[str, int]:
        """The number of cached vectors per model id (for copying the whole cache elsewhere)."""
        with self._lock:
            rows = self._db.execute("SELECT model_id, count(*) FROM embeddings GROUP BY model_id").fetchall()
        return {model_id: n for model_id, n in rows}

    def cached_hashes(self, model_id: str) -> list[str]:
        """Every passage hash with a cached vector for ``model_id``, sorted."""
        with self._lock:
            rows = self._db.execute(
                "SELECT text_hash FROM embeddings WHERE model_id = ? ORDER BY text_hash", (model_id,)
            ).fetchall()
        return [r[0] for r in rows]

    def index_rows(self) -> IndexRows:
        """All chunks in row order with the passage text the indexes are built from."""
        with self._lock:
            return IndexRows.of(
                self._db.execute(
                    "SELECT c.id, c.doc_id, c.embed_hash, c.text, c.section, d.title "
                    "FROM chunks c JOIN documents d USING (doc_id) ORDER BY c.id"
                )
            )

    def changes_since(self, generation: int) -> StoreChanges | None:
        """What changed after ``generation``, up to now; ``None`` when the log does not reach back that far.

        Example:
            >>> changes = store.changes_since(record.generation)  # doctest: +SKIP
            >>> changes.removed, changes.rows.rowids  # doctest: +SKIP
            (array([17, 18]), array([42, 43, 44]))
        """
        with self._lock:
            db = self._db
            db.execute("BEGIN")  # one read snapshot: the log, the documents and the chunks agree
            try:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                now, floor = int(meta["generation"]), int(meta["log_floor"])
                if generation < floor or generation > now:
                    return None
                removed: list[np.ndarray] = []
                doc_ids: set[str] = set()
                for doc_id, blob in db.execute(
                    "SELECT doc_id, removed FROM changes WHERE generation > ?", (generation,)
                ):
                    doc_ids.add(doc_id)
                    removed.append(np.frombuffer(blob, dtype=np.int64))
                ordered = sorted(doc_ids)
                documents: dict[str, StoredDocument | None] = dict.fromkeys(ordered)
                parts: list[IndexRows] = []
                for start in range(0, len(ordered), 500):
                    part = ordered[start : start + 500]
                    marks = ",".join("?" * len(part))
                    for row in db.execute(f"SELECT * FROM documents WHERE doc_id IN ({marks})", part):  # noqa: S608
                        documents[row["doc_id"]] = _stored(row)
                    parts.append(
                        IndexRows.of(
                            db.execute(
                                "SELECT c.id, c.doc_id, c.embed_hash, c.text, c.section, d.title "  # noqa: S608
                                f"FROM chunks c JOIN documents d USING (doc_id) WHERE c.doc_id IN ({marks})",
                                part,
                            )
                        )
                    )
                total = int(db.execute("SELECT count(*) FROM chunks").fetchone()[0])
            finally:
                db.execute("COMMIT")
        rows = _concat_rows(parts)
        return StoreChanges(
            generation,
            now,
            np.unique(np.concatenate(removed)) if removed else np.zeros(0, dtype=np.int64),
            rows,
            documents,
            total,
        )

    def row_documents(self) -> tuple[np.ndarray, list[str]]:
        """Every chunk row id (ascending) with its document id."""
        with self._lock:
            rows = self._db.execute("SELECT id, doc_id FROM chunks ORDER BY id").fetchall()
        return np.asarray([r[0] for r in rows], dtype=np.int64), [r[1] for r in rows]

    def derived(self, name: str) -> DerivedRecord | None:
        """The record of a derived index, if one was ever built."""
        with self._lock:
            row = self._db.execute("SELECT * FROM derived WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        return DerivedRecord(row["name"], row["generation"], row["path"], row["sha256"], row["model_id"])

    # -- writes --------------------------------------------------------------------------------------------

    def replace_document(
        self,
        stored: StoredDocument,
        chunks: Sequence[Chunk],
        embed_hashes: Sequence[str],
        model_id: str,
        vectors: dict[str, np.ndarray],
    ) -> None:
        """Insert or replace a document and all its chunks and new vectors, atomically."""
        doc = stored.document
        with self._write() as db:
            old = db.execute(
                "SELECT doc_id FROM documents WHERE doc_id = ? OR source = ?", (doc.doc_id, doc.source)
            ).fetchall()
            touched = {r[0]: self._rows_of(db, r[0]) for r in old}
            touched.setdefault(doc.doc_id, [])
            db.execute("DELETE FROM documents WHERE doc_id = ? OR source = ?", (doc.doc_id, doc.source))
            db.execute(
                "INSERT INTO documents (doc_id, source, root, sha256, meta_hash, recipe, title, mime,"
                " metadata, acl, pages, size, ingested_at, owner) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc.doc_id,
                    doc.source,
                    stored.root,
                    doc.sha256,
                    stored.meta_hash,
                    stored.recipe,
                    doc.title,
                    doc.mime,
                    json.dumps(doc.metadata, sort_keys=True, default=str),
                    json.dumps(sorted(doc.acl)),
                    doc.pages,
                    stored.size,
                    doc.ingested_at or _now(),
                    doc.owner,
                ),
            )
            db.executemany(
                "INSERT INTO chunks (chunk_id, doc_id, ordinal, text, page, section, metadata, embed_hash) "
                "VALUES (?,?,?,?,?,?,?,?)",
                [
                    (
                        c.chunk_id,
                        c.doc_id,
                        c.ordinal,
                        c.text,
                        c.page,
                        c.section,
                        json.dumps(c.metadata, sort_keys=True),
                        h,
                    )
                    for c, h in zip(chunks, embed_hashes, strict=True)
                ],
            )
            db.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?,?,?)",
                [(model_id, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
            )
            self._bump(db, touched)

    def update_metadata(
        self, doc_id: str, title: str, metadata: dict[str, Any], acl: frozenset[str], meta_hash: str
    ) -> None:
        """Change a document's title, metadata and access list without touching its chunks."""
        with self._write() as db:
            db.execute(
                "UPDATE documents SET title = ?, metadata = ?, acl = ?, meta_hash = ? WHERE doc_id = ?",
                (
                    title,
                    json.dumps(metadata, sort_keys=True, default=str),
                    json.dumps(sorted(acl)),
                    meta_hash,
                    doc_id,
                ),
            )
            # The title is part of every passage: the document's rows are indexed again.
            self._bump(db, {doc_id: self._rows_of(db, doc_id)})

    def remove_document(self, doc_id: str) -> None:
        """Delete a document and its chunks (cached embeddings stay for reuse).

        Raises:
            NotFound: no document has this id.
        """
        with self._write() as db:
            rows = self._rows_of(db, doc_id)
            if db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount == 0:
                raise NotFound(f"no document {doc_id!r}")
            self._bump(db, {doc_id: rows})

    def put_vectors(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        """Add embeddings to the cache (used when the indexes are rebuilt for a new model)."""
        with self._write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?,?,?)",
                [(model_id, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
            )

    def record_derived(self, record: DerivedRecord) -> bool:
        """Record a freshly built derived index, unless the store moved on meanwhile.

        Returns:
            True when recorded; False when the store's generation changed since the build started.
        """
        with self._write() as db:
            now = int(db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])
            if now != record.generation:
                return False
            db.execute(
                "INSERT OR REPLACE INTO derived VALUES (?,?,?,?,?,?)",
                (record.name, record.generation, record.path, record.sha256, record.model_id, _now()),
            )
        return True

    def check(self) -> list[str]:
        """SQLite's own integrity and foreign-key checks; an empty list means healthy."""
        with self._lock:
            problems = [r[0] for r in self._db.execute("PRAGMA integrity_check") if r[0] != "ok"]
            problems += [f"dangling row in {r[0]}" for r in self._db.execute("PRAGMA foreign_key_check")]
        return problems


def _concat_rows(parts: Sequence[IndexRows]) -> IndexRows:
    """Several row sets as one, in row order."""
    rowids = np.concatenate([p.rowids for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    order = np.argsort(rowids, kind="stable").tolist()
    doc_ids = [d for p in parts for d in p.doc_ids]
    hashes = [h for p in parts for h in p.embed_hashes]
    passages = [t for p in parts for t in p.passages]
    return IndexRows(
        rowids[order] if len(order) else rowids,
        [doc_ids[i] for i in order],
        [hashes[i] for i in order],
        [passages[i] for i in order],
    )


def _stored(row: sqlite3.Row) -> StoredDocument:
    doc = Document(
        doc_id=row["doc_id"],
        source=row["source"],
        sha256=row["sha256"],
        title=row["title"],
        mime=row["mime"],
        metadata=json.loads(row["metadata"]),
        acl=frozenset(json.loads(row["acl"])),
        ingested_at=row["ingested_at"],
        pages=row["pages"],
        owner=row["owner"],
    )
    return StoredDocument(doc, row["root"], row["meta_hash"], row["size"], row["recipe"])


def _chunk(row: sqlite3.Row) -> Chunk:
    return Chunk(
        chunk_id=row["chunk_id"],
        doc_id=row["doc_id"],
        ordinal=row["ordinal"],
        text=row["text"],
        page=row["page"],
        section=row["section"],
        metadata=json.loads(row["metadata"]),
    )


# mypy proves here that the embedded backend keeps the seam.
_: type[Store] = SQLiteStore

"""The ``Store`` seam: the source of truth every backend implements, and the values it trades in.

A store holds documents, their chunks, access lists and metadata, and the embedding vectors (cached by model
id and passage-text hash). Every change to documents or chunks is one atomic transaction that also advances
the store's *generation* and logs what changed, so derived indexes can catch up by applying the changes since
the generation they were built from (:meth:`Store.changes_since`) instead of rebuilding.

Backends: :class:`assistant.sqlite_store.SQLiteStore` (the embedded default) and
:class:`assistant.pg.store.PgStore` (PostgreSQL, ``EKA_DATABASE_URL``). :func:`assistant.app.open_store` picks
one from the settings; ``tests/contract/test_store_contract.py`` holds every backend to this contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from assistant.passages import passage_text
from assistant.types import Chunk, Document


@dataclass(frozen=True, slots=True)
class StoredDocument:
    """A document row plus the bookkeeping ingest needs (root, metadata hash, size)."""

    document: Document
    root: str
    meta_hash: str
    size: int
    recipe: str = ""  # how the chunks were made (parser version and chunk settings)


@dataclass(frozen=True, slots=True)
class DerivedRecord:
    """Which file holds a derived index and which store generation it was built from."""

    name: str
    generation: int
    path: str
    sha256: str
    model_id: str


@dataclass(frozen=True, slots=True)
class IndexRows:
    """Everything a derived index is built from, in chunk row order."""

    rowids: np.ndarray  # int64, ascending
    doc_ids: list[str]
    embed_hashes: list[str]
    passages: list[str]

    @classmethod
    def of(cls, rows: Iterable[Sequence[Any]]) -> IndexRows:
        """Rows from query results ``(row id, doc id, embed hash, text, section, title)``, in their order."""
        rowids: list[int] = []
        doc_ids: list[str] = []
        hashes: list[str] = []
        passages: list[str] = []
        for rowid, doc_id, embed_hash, text, section, title in rows:
            rowids.append(rowid)
            doc_ids.append(doc_id)
            hashes.append(embed_hash)
            passages.append(passage_text(title, section, text))
        return cls(np.asarray(rowids, dtype=np.int64), doc_ids, hashes, passages)


@dataclass(frozen=True, slots=True)
class StoreChanges:
    """What changed in the store after some generation, read in one transaction.

    ``removed`` are the chunk row ids the touched documents lost (some may have been added again);
    ``rows`` are the touched documents' chunks as they are now; ``documents`` maps every touched document
    id to its current row (``None``: removed). ``total`` is the store's chunk count at ``generation``.
    """

    since: int
    generation: int
    removed: np.ndarray
    rows: IndexRows
    documents: dict[str, StoredDocument | None]
    total: int


class Store(Protocol):
    """The source of truth: documents, chunks, access lists, vectors, the change log and derived records.

    What every backend keeps:

    - **Row ids.** Each chunk has an int64 *row id*, the key of the derived indexes. It is unique among the
      chunks present and stays the same until its document is replaced or removed; a freed id may be used
      again later (the change log then lists it as removed, and ``rows`` holds it again).
    - **Generation.** Starts at 0 and increases by exactly one with each committed
      :meth:`replace_document`, :meth:`update_metadata` and :meth:`remove_document`; nothing else changes it
      (not :meth:`put_vectors`, not :meth:`record_derived`). A failed write changes nothing.
    - **Atomic, consistent reads.** A write is seen whole or not at all; :meth:`changes_since` reads the log,
      the documents and the chunks in one snapshot.
    - **Values round-trip.** Documents come back as given: access lists as the same set of groups, metadata
      as the same JSON values, ``owner`` and ``pages`` included; chunks with their text, page, section and
      metadata; vectors as float32 arrays equal to what was stored.
    - **Thread safety.** One instance may be shared by the threads of one process; several processes may
      open the same store.

    Example:
        >>> store = open_store(settings)  # doctest: +SKIP
        >>> changes = store.changes_since(0)  # doctest: +SKIP
        >>> changes.generation == store.generation()  # doctest: +SKIP
        True
    """

    # -- reads ---------------------------------------------------------------------------------------------

    def generation(self) -> int:
        """The number of committed changes to documents and chunks so far."""
        ...

    def document_by_source(self, source: str) -> StoredDocument | None:
        """The stored document with this source path, if any (a source names at most one document)."""
        ...

    def document(self, doc_id: str) -> Document:
        """A document by id.

        Raises:
            NotFound: no document has this id.
        """
        ...

    def documents(self) -> list[StoredDocument]:
        """All documents, ordered by source."""
        ...

    def counts(self) -> dict[str, int]:
        """Numbers of ``documents``, ``chunks`` and cached ``embeddings``, and the ``generation``."""
        ...

    def chunk_counts(self) -> dict[str, int]:
        """Number of chunks per document id (documents without chunks left out)."""
        ...

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """A document's chunks in reading order (by ordinal); empty for an unknown document."""
        ...

    def chunks_around(self, doc_id: str, ordinal: int, span: int = 1) -> list[Chunk]:
        """A document's chunks within ``span`` places of ``ordinal`` (itself included), in reading order."""
        ...

    def chunks_by_rowid(self, rowids: Sequence[int]) -> dict[int, Chunk]:
        """Chunks keyed by their row id; ids of no chunk are left out."""
        ...

    def chunk_vectors(self, model_id: str, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored passage vectors of these chunks for ``model_id``, keyed by chunk id (none: left out)."""
        ...

    def cached_vectors(self, model_id: str, text_hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors cached for these passage hashes with this model (hashes with none are left out)."""
        ...

    def index_rows(self) -> IndexRows:
        """All chunks in ascending row id order, with their passage text (title, section, text)."""
        ...

    def changes_since(self, generation: int) -> StoreChanges | None:
        """What changed after ``generation``, up to now, read in one snapshot.

        Returns:
            ``None`` when the log does not reach back that far (``generation`` is older than the oldest
            change kept) or ``generation`` is ahead of the store: the caller then rebuilds from
            :meth:`index_rows`. Otherwise every document touched since (replaced, removed or its metadata
            updated), the row ids they lost and their rows as they are now; applying it to an index built
            at ``generation`` yields the index of the current rows.
        """
        ...

    def row_documents(self) -> tuple[np.ndarray, list[str]]:
        """Every chunk row id (ascending, int64) with its document id."""
        ...

    def derived(self, name: str) -> DerivedRecord | None:
        """The record of a derived index, if one was ever recorded."""
        ...

    def check(self) -> list[str]:
        """The backend's own integrity checks; an empty list means healthy."""
        ...

    # -- writes --------------------------------------------------------------------------------------------

    def replace_document(
        self,
        stored: StoredDocument,
        chunks: Sequence[Chunk],
        embed_hashes: Sequence[str],
        model_id: str,
        vectors: dict[str, np.ndarray],
    ) -> None:
        """Insert or replace a document (same id or same source) with all its chunks, atomically.

        ``embed_hashes`` are the chunks' passage hashes, one per chunk; ``vectors`` (hash to vector) join
        the cache for ``model_id``, where a vector already cached is kept. An ``ingested_at`` left empty is
        set to now.
        """
        ...

    def update_metadata(
        self, doc_id: str, title: str, metadata: dict[str, Any], acl: frozenset[str], meta_hash: str
    ) -> None:
        """Change a document's title, metadata and access list; its chunks stay but count as touched (the
        title is part of every passage), so the change log lists their rows as removed and added again."""
        ...

    def remove_document(self, doc_id: str) -> None:
        """Delete a document and its chunks; cached vectors stay for reuse.

        Raises:
            NotFound: no document has this id (nothing changes, the generation included).
        """
        ...

    def put_vectors(self, model_id: str, vectors: dict[str, np.ndarray]) -> None:
        """Add vectors (by passage hash) to the cache for ``model_id``; a vector already cached is kept."""
        ...

    def record_derived(self, record: DerivedRecord) -> bool:
        """Record a freshly built derived index, unless the store moved on meanwhile.

        Returns:
            True when recorded (replacing any earlier record of that name); False when the store's
            generation is no longer ``record.generation``.
        """
        ...

    def close(self) -> None:
        """Release the backend's connections; the store is not used afterwards."""
        ...

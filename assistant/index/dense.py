"""Dense vector search with FAISS: exact inner product over unit vectors (cosine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

FILE = "dense.faiss"


class FaissIndex:
    """A flat (exact) FAISS index keyed by chunk row id; filtered search via an ``IDSelector``."""

    kind = "faiss-flat-ip"

    def __init__(self, index: Any) -> None:
        self._index = index  # a faiss.IndexIDMap2 over an exact inner-product index

    @classmethod
    def build(cls, row_ids: np.ndarray, vectors: np.ndarray) -> FaissIndex:
        """Index unit-normalised ``vectors`` under ``row_ids``."""
        dim = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[0] else 1
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        if len(row_ids):
            index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(row_ids, dtype=np.int64)
            )
        return cls(index)

    @classmethod
    def load(cls, folder: Path) -> FaissIndex:
        """Read an index written by :meth:`save`."""
        return cls(faiss.read_index(str(folder / FILE)))

    def save(self, folder: Path) -> None:
        """Write the index into ``folder``."""
        faiss.write_index(self._index, str(folder / FILE))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def row_ids(self) -> np.ndarray:
        """The indexed row ids, ascending."""
        return np.sort(faiss.vector_to_array(self._index.id_map).astype(np.int64))

    def search(
        self, query: np.ndarray | str, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows by cosine similarity, restricted to ``allowed`` row ids."""
        if isinstance(query, str):
            raise TypeError("FaissIndex.search takes a query vector")
        if self._index.ntotal == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        params = None
        if allowed is not None:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            params = faiss.SearchParameters()
            params.sel = selector
            k = min(k, len(allowed))
        k = min(k, int(self._index.ntotal))
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, ids = self._index.search(query, k, params=params)
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)

    def vector(self, row_id: int) -> np.ndarray:
        """The stored vector of one row (for verification)."""
        return np.asarray(self._index.reconstruct(int(row_id)), dtype=np.float32)

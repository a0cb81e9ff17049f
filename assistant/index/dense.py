"""Dense vector search with FAISS: inner product over unit vectors (cosine), exact or, for a large base,
approximate (an inverted file, see :mod:`assistant.index.ann`).

The index is a *base* FAISS index plus a small *delta* index of the rows added since the base was built and
the base's deleted row ids, so a document is added or removed without copying or rewriting the base
(:meth:`FaissIndex.apply`); :meth:`FaissIndex.compacted` folds the delta into a new base. Scores are inner
products of one query and one row, so they do not depend on which part holds a row. The delta is always
exact; the base is exact below ``AnnParams.min_rows`` rows and approximate above (decided when it is built or
compacted), and an access filter is a selector inside the search of either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faiss
import numpy as np

from assistant.index.ann import (
    ANN_KIND,
    AnnParams,
    all_vectors,
    build_ivf,
    is_ivf,
    ivf_ids,
    remove,
    search_params,
    selector,
)

FLAT_KIND = "faiss-flat-ip"
FILE = "dense.faiss"
DELTA_FILE = "delta.npz"

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


def _flat(dim: int, row_ids: np.ndarray, vectors: np.ndarray) -> Any:
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if len(row_ids):
        index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(row_ids, dtype=np.int64)
        )
    return index


def _holds(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Which of ``ids`` are in ``sorted_ids`` (a mask over ``ids``)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool)
    positions = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return np.asarray(sorted_ids[positions] == ids)


def _search(index: Any, query: np.ndarray, k: int, params: Any) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, int(index.ntotal))
    if k <= 0:
        return _EMPTY
    scores, ids = index.search(query, k, params=params)
    keep = ids[0] >= 0
    return ids[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)


class FaissIndex:
    """A FAISS index keyed by chunk row id (exact, or approximate above ``ann.min_rows``); filtered search
    via an ``IDSelector``.

    ``ann`` = ``None`` keeps the base exact (and an approximate base approximate) whatever its size.
    """

    kind = FLAT_KIND

    def __init__(
        self,
        index: Any,
        delta_ids: np.ndarray | None = None,
        delta_vectors: np.ndarray | None = None,
        dead: np.ndarray | None = None,
        base_ids: np.ndarray | None = None,
        ann: AnnParams | None = None,
    ) -> None:
        self._index = index  # the base: a faiss.IndexIDMap2 over an exact index, or an IndexIVFFlat
        self._ann = ann
        self.kind = ANN_KIND if is_ivf(index) else FLAT_KIND
        if base_ids is None:
            base_ids = (
                ivf_ids(index)
                if is_ivf(index)
                else np.sort(faiss.vector_to_array(index.id_map).astype(np.int64))
            )
        self._base_ids = base_ids
        self._dead = dead if dead is not None else np.zeros(0, dtype=np.int64)  # sorted base ids deleted
        dim = int(index.d)
        self._delta_ids = delta_ids if delta_ids is not None else np.zeros(0, dtype=np.int64)
        self._delta_vectors = (
            delta_vectors if delta_vectors is not None else np.zeros((0, dim), dtype=np.float32)
        )
        self._delta = _flat(dim, self._delta_ids, self._delta_vectors) if len(self._delta_ids) else None
        self._delta_at = {int(r): i for i, r in enumerate(self._delta_ids.tolist())}

    @classmethod
    def build(cls, row_ids: np.ndarray, vectors: np.ndarray, ann: AnnParams | None = None) -> FaissIndex:
        """Index unit-normalised ``vectors`` under ``row_ids`` (approximately when ``ann`` says so)."""
        row_ids = np.asarray(row_ids, dtype=np.int64)
        if ann is not None and ann.wants_ann(len(row_ids)):
            return cls(build_ivf(row_ids, vectors, ann), ann=ann)
        dim = vectors.shape[1] if vectors.ndim == 2 and vectors.shape[0] else 1
        return cls(_flat(dim, row_ids, vectors), ann=ann)

    # -- updates -------------------------------------------------------------------------------------------

    def apply(self, removed: np.ndarray, rows: np.ndarray, vectors: np.ndarray) -> FaissIndex:
        """A new index without the ``removed`` row ids and with ``vectors`` added under ``rows``.

        The base is shared, not copied: its removed rows are only listed as deleted. A row id may be removed
        and added again (SQLite reuses the highest ids).
        """
        rows = np.asarray(rows, dtype=np.int64)
        removed = np.union1d(np.asarray(removed, dtype=np.int64), rows)
        dead = np.union1d(self._dead, removed[_holds(self._base_ids, removed)])
        keep = ~np.isin(self._delta_ids, removed)
        dim = int(self._index.d)
        if len(rows) and (self._base_ids.size == 0 and not len(self._delta_ids)) and vectors.shape[1] != dim:
            # An empty index learns its dimension from the first rows.
            return FaissIndex.build(rows, vectors, self._ann)
        delta_ids = np.concatenate([self._delta_ids[keep], rows])
        delta_vectors = np.vstack(
            [self._delta_vectors[keep], np.asarray(vectors, dtype=np.float32).reshape(len(rows), dim)]
        )
        return FaissIndex(self._index, delta_ids, delta_vectors, dead, self._base_ids, self._ann)

    def shares_base(self, other: FaissIndex) -> bool:
        """Whether both are deltas over the same base (so only the delta needs writing)."""
        return self._index is other._index

    def delta_size(self) -> int:
        """Rows in the delta plus deleted rows of the base: what a compaction would fold in."""
        return len(self._delta_ids) + len(self._dead)

    def main_size(self) -> int:
        """Rows in the base (deleted ones included)."""
        return len(self._base_ids)

    def kind_due(self) -> bool:
        """Whether the base is of the wrong kind for the live row count (compaction rebuilds it)."""
        ivf = is_ivf(self._index)
        return self._ann is not None and self._ann.wants_ann(len(self), now_ann=ivf) != ivf

    def compacted(self) -> FaissIndex:
        """One base holding the live rows (a copy of the base: done rarely).

        An approximate base is updated without retraining its clusters. A base whose size crossed the
        threshold is rebuilt as the other kind (an exact one becomes approximate at ``ann.min_rows`` rows,
        an approximate one exact below half of that).
        """
        if self.kind_due():
            ids, vectors = self.live_vectors()
            return FaissIndex.build(ids, vectors, self._ann)
        if not self.delta_size():
            return self
        index = faiss.clone_index(self._index)
        if len(self._dead):
            remove(index, self._dead)
        if len(self._delta_ids):
            index.add_with_ids(
                np.ascontiguousarray(self._delta_vectors), np.ascontiguousarray(self._delta_ids)
            )
        return FaissIndex(index, ann=self._ann)

    def live_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, vectors) of every live row, base and delta (for rebuilding the base as another kind)."""
        if is_ivf(self._index):
            ids = self.row_ids()
            return ids, np.vstack([self.vector(int(r)) for r in ids]).reshape(len(ids), int(self._index.d))
        ids, vectors = all_vectors(self._index)
        live = ~_holds(self._dead, ids)
        return (
            np.concatenate([ids[live], self._delta_ids]),
            np.vstack([vectors[live], self._delta_vectors]),
        )

    # -- files ---------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, folder: Path, ann: AnnParams | None = None) -> FaissIndex:
        """Read an index written by :meth:`save`."""
        return cls(faiss.read_index(str(folder / FILE)), ann=ann)

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (compacted: one base)."""
        faiss.write_index(self.compacted()._index, str(folder / FILE))

    def save_delta(self, folder: Path) -> None:
        """Write what this index adds to its base: the delta rows and vectors and the base's deleted rows."""
        with (folder / DELTA_FILE).open("wb") as fh:
            np.savez(fh, ids=self._delta_ids, vectors=self._delta_vectors, dead=self._dead)

    def with_delta(self, folder: Path) -> FaissIndex:
        """This (base) index with the delta written by :meth:`save_delta` into ``folder`` applied."""
        try:
            with np.load(folder / DELTA_FILE, allow_pickle=False) as data:
                ids, vectors, dead = data["ids"], data["vectors"], data["dead"]
        except (OSError, KeyError, ValueError) as err:
            raise ValueError(f"dense delta at {folder} is unreadable: {err}") from err
        if (
            vectors.ndim != 2
            or vectors.shape[0] != len(ids)
            or (len(ids) and vectors.shape[1] != self._index.d)
        ):
            raise ValueError(f"dense delta at {folder} does not fit its base")
        return FaissIndex(
            self._index, ids.astype(np.int64), vectors.astype(np.float32), dead, self._base_ids, self._ann
        )

    # -- search --------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._base_ids) - len(self._dead) + len(self._delta_ids)

    def row_ids(self) -> np.ndarray:
        """The indexed row ids, ascending."""
        base = self._base_ids[~_holds(self._dead, self._base_ids)] if len(self._dead) else self._base_ids
        return np.sort(np.concatenate([base, self._delta_ids])) if len(self._delta_ids) else base

    def search(
        self, query: np.ndarray | str, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows by cosine similarity, restricted to ``allowed`` row ids (equal scores by row id)."""
        if isinstance(query, str):
            raise TypeError("FaissIndex.search takes a query vector")
        if not len(self) or k <= 0 or (allowed is not None and len(allowed) == 0):
            return _EMPTY
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        runs = []
        ann = self._ann or AnnParams()
        if allowed is not None:
            allowed = np.ascontiguousarray(allowed, dtype=np.int64)
            base_allowed = allowed[~_holds(self._dead, allowed)] if len(self._dead) else allowed
            if len(base_allowed):
                share = len(base_allowed) / len(self)  # delta rows count too: an estimate is enough
                params = search_params(self._index, selector(base_allowed), share, ann)
                runs.append(_search(self._index, query, min(k, len(base_allowed)), params))
        elif len(self._dead):
            dead = faiss.IDSelectorNot(faiss.IDSelectorBatch(np.ascontiguousarray(self._dead)))
            runs.append(_search(self._index, query, k, search_params(self._index, dead, 1.0, ann)))
        else:
            runs.append(_search(self._index, query, k, search_params(self._index, None, 1.0, ann)))
        if self._delta is not None:
            delta_allowed = (
                self._delta_ids if allowed is None else allowed[_holds(np.sort(self._delta_ids), allowed)]
            )
            if len(delta_allowed):
                sel = None if allowed is None else faiss.IDSelectorBatch(np.ascontiguousarray(delta_allowed))
                params = search_params(self._delta, sel, 1.0, ann)  # a small set of ids: a hash set
                runs.append(_search(self._delta, query, min(k, len(delta_allowed)), params))
        if not runs:
            return _EMPTY
        ids = np.concatenate([r[0] for r in runs])
        scores = np.concatenate([r[1] for r in runs])
        order = np.lexsort((ids, -scores))[:k]
        return ids[order], scores[order]

    def vector(self, row_id: int) -> np.ndarray:
        """The stored vector of one row (for verification and relevance)."""
        at = self._delta_at.get(int(row_id))
        if at is not None:
            return np.asarray(self._delta_vectors[at], dtype=np.float32)
        return np.asarray(self._index.reconstruct(int(row_id)), dtype=np.float32)

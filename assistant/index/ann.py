"""The approximate base of a large dense index: an inverted file (IVF) of exact vectors, and filtered search.

Above ``AnnParams.min_rows`` rows an exact scan costs too much per query (~130 ms at 1M 384-d rows), so the
base becomes an ``IndexIVFFlat``: the rows are split into ``nlist`` clusters and a query scans the rows of its
``nprobe`` nearest clusters. IVF rather than HNSW, by measurement (``eval/bench/ann.py``, the table in
``docs/architecture.md``): on 2 cores it builds in a fraction of the time, rows are removed and added without
retraining (so compaction stays a copy plus an update), and it keeps every vector exactly (``reconstruct``
through a direct map), while HNSW lost recall badly under access filters.

Filtered search loses recall in any ANN index: the best rows a caller may read lie further from the query
than the best rows overall, so fewer of them sit in the nearest clusters. The number of clusters scanned
therefore grows as the allowed share shrinks (``nprobe / share``); below ``nprobe / nlist`` it reaches every
cluster, which is exact search over the allowed rows. The access filter is an ``IDSelector`` inside the scan:
a row outside it is never scored, let alone returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

ANN_KIND = "faiss-ivf-flat-ip"
# A bitmap selector is one bit per row id up to the largest allowed one; beyond this many bits per allowed id
# (very sparse, very large ids) a hash set of the ids is smaller.
_BITMAP_BITS_PER_ID = 512
_HASHTABLE = 2  # faiss.DirectMap.Hashtable (absent from faiss's type stubs)


@dataclass(frozen=True, slots=True)
class AnnParams:
    """When the dense base becomes approximate, and how hard a query searches it.

    Args:
        min_rows: a base of at least this many rows is an IVF index; below it the base is exact. A base that
            is already approximate stays so until it shrinks below half of this (no flapping at the edge).
        nprobe: clusters scanned for a caller who may read every row; a caller who may read a share ``s``
            of the rows gets ``nprobe / s`` (at most all of them).
        rows_per_list: the number of clusters is the row count over this (at least 1, at most 65,536).
    """

    min_rows: int = 100_000
    nprobe: int = 32
    rows_per_list: int = 500

    def recipe(self) -> str:
        """What a rebuild must match: a change of any of these rebuilds the dense index."""
        return f"ivf>={self.min_rows}:nprobe={self.nprobe}:rows/list={self.rows_per_list}"

    def wants_ann(self, rows: int, now_ann: bool = False) -> bool:
        """Whether a base of ``rows`` rows should be approximate (``now_ann``: it is so now)."""
        return rows >= (self.min_rows // 2 if now_ann else self.min_rows) and rows > 0

    def nlist(self, rows: int) -> int:
        """Clusters for a base of ``rows`` rows."""
        return int(min(65_536, max(1, rows // max(1, self.rows_per_list))))


def build_ivf(row_ids: np.ndarray, vectors: np.ndarray, params: AnnParams) -> Any:
    """An ``IndexIVFFlat`` over unit ``vectors`` keyed by ``row_ids``, its clusters trained on a sample."""
    dim = vectors.shape[1]
    nlist = params.nlist(len(row_ids))
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = min(len(row_ids), 40 * nlist)  # faiss wants >= 39 rows per cluster
    pick = np.random.default_rng(0).choice(len(row_ids), size=sample, replace=False)
    index.train(np.ascontiguousarray(vectors[np.sort(pick)], dtype=np.float32))
    # A hashtable direct map: reconstruct(row id) and remove_ids with arbitrary row ids.
    index.set_direct_map_type(_HASHTABLE)
    index.add_with_ids(
        np.ascontiguousarray(vectors, dtype=np.float32), np.ascontiguousarray(row_ids, dtype=np.int64)
    )
    return index


def is_ivf(index: Any) -> bool:
    """Whether ``index`` is an IVF base (rather than an exact ``IndexIDMap2``)."""
    return isinstance(index, faiss.IndexIVF)


def ivf_ids(index: Any) -> np.ndarray:
    """The row ids held by an IVF index, ascending."""
    lists = index.invlists
    parts = [
        faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
        for i in range(index.nlist)
        if lists.list_size(i)
    ]
    return np.sort(np.concatenate(parts).astype(np.int64)) if parts else np.zeros(0, dtype=np.int64)


def remove(index: Any, ids: np.ndarray) -> None:
    """Remove row ids from a base, in place (an IVF with a hashtable direct map takes an id array)."""
    ids = np.ascontiguousarray(ids, dtype=np.int64)
    if is_ivf(index):
        index.remove_ids(faiss.IDSelectorArray(ids))
    else:
        index.remove_ids(faiss.IDSelectorBatch(ids))


def all_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(row ids, vectors) of an exact ``IndexIDMap2`` base, in storage order."""
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    vectors = index.index.reconstruct_n(0, index.ntotal) if len(ids) else np.zeros((0, index.d), np.float32)
    return ids, np.asarray(vectors, dtype=np.float32)


def selector(allowed: np.ndarray) -> Any:
    """An ``IDSelector`` for the ``allowed`` row ids: a bitmap over ids (about 1 ms for a million ids,
    against ~40 ms for a hash set of them), or a hash set when the ids are too sparse for a bitmap."""
    allowed = np.ascontiguousarray(allowed, dtype=np.int64)
    top = int(allowed.max())
    if int(allowed.min()) < 0 or top + 1 > _BITMAP_BITS_PER_ID * len(allowed) + 8_000_000:
        return faiss.IDSelectorBatch(allowed)
    mask = np.zeros(top + 1, dtype=bool)
    mask[allowed] = True
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(bits)  # type: ignore[call-arg,arg-type]  # the wrapper keeps bits alive


def search_params(index: Any, sel: Any, share: float, params: AnnParams) -> Any:
    """Search parameters for ``index`` (``None`` when there is nothing to set): the access filter, and for
    an IVF base the clusters to scan for a caller who may read ``share`` of its rows."""
    if is_ivf(index):
        nprobe = int(index.nlist) if share <= 0 else min(int(index.nlist), math.ceil(params.nprobe / share))
        ivf = faiss.SearchParametersIVF()
        ivf.sel, ivf.nprobe = sel, nprobe
        return ivf
    if sel is None:
        return None
    plain = faiss.SearchParameters()
    plain.sel = sel
    return plain

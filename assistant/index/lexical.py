"""Lexical search with BM25 over identifier-aware tokens, its statistics taken from the caller's documents.

The index keeps raw postings (term frequencies per chunk) and chunk lengths, not precomputed BM25 scores, and
computes a query's scores at search time over a *population*: the rows whose documents the caller may read.
Document count, average length and each term's document frequency (its IDF) are those of that population, so
a caller's scores are exactly those of a BM25 index built over the documents the caller may read: adding or
removing a document the caller cannot read changes nothing the caller sees, and a score reveals nothing about
the words of such a document. The scoring is Lucene's BM25 (the variant bm25s uses by default).

The index is a *main* segment plus an optional small *delta* segment (the rows added since main was built)
and a mask of main's deleted rows, so a document is added or removed without touching main's postings
(:meth:`Bm25Index.apply`); :meth:`Bm25Index.compacted` merges the two. Deleted rows count in no statistic,
and every statistic is an exact sum (lengths are whole numbers summed in float64), so scores do not depend
on how the rows are split between segments: an updated index scores exactly like one built from scratch.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from assistant.tokenize import tokenize

POSTINGS_FILE = "postings.npz"
VOCAB_FILE = "vocab.json"
DEAD_FILE = "dead.npy"

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


class _Segment:
    """CSR postings over positions; position ``i`` is chunk row id ``rows[i]`` (ascending).

    ``live`` masks deleted positions (``None``: all live).
    """

    __slots__ = ("docs", "indptr", "lengths", "live", "rows", "tf", "vocab")

    def __init__(
        self,
        vocab: dict[str, int],
        indptr: np.ndarray,
        docs: np.ndarray,
        tf: np.ndarray,
        lengths: np.ndarray,
        rows: np.ndarray,
        live: np.ndarray | None = None,
    ) -> None:
        self.vocab = vocab
        self.indptr = indptr  # postings of term j: docs[indptr[j]:indptr[j + 1]] (ascending positions)
        self.docs = docs
        self.tf = tf
        self.lengths = lengths
        self.rows = rows
        self.live = live

    @classmethod
    def build(cls, row_ids: np.ndarray, passages: Sequence[str]) -> _Segment:
        vocab: dict[str, int] = {}
        term_ids: list[int] = []
        positions: list[int] = []
        lengths = np.zeros(len(passages), dtype=np.float32)
        for position, passage in enumerate(passages):
            tokens = tokenize(passage)
            lengths[position] = len(tokens)
            term_ids.extend(vocab.setdefault(t, len(vocab)) for t in tokens)
            positions.extend([position] * len(tokens))
        n = max(len(passages), 1)
        pairs, counts = np.unique(
            np.asarray(term_ids, dtype=np.int64) * n + np.asarray(positions, dtype=np.int64),
            return_counts=True,
        )  # sorted by term, then by position
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(pairs // n, minlength=len(vocab)), out=indptr[1:])
        rows = np.asarray(row_ids, dtype=np.int64)
        return cls(vocab, indptr, (pairs % n).astype(np.int32), counts.astype(np.float32), lengths, rows)

    @classmethod
    def empty(cls) -> _Segment:
        return cls.build(np.zeros(0, dtype=np.int64), [])

    def __len__(self) -> int:
        return len(self.rows) if self.live is None else int(self.live.sum())

    def live_rows(self) -> np.ndarray:
        return self.rows if self.live is None else self.rows[self.live]

    def positions_of(self, rows: np.ndarray) -> np.ndarray:
        """Positions of those of ``rows`` (sorted) that this segment holds."""
        positions = np.searchsorted(self.rows, rows)
        inside = positions < len(self.rows)
        positions, rows = positions[inside], rows[inside]
        found: np.ndarray = positions[self.rows[positions] == rows]
        return found

    def without(self, rows: np.ndarray) -> _Segment:
        """The same postings with ``rows`` marked deleted (the arrays are shared, the mask is new)."""
        positions = self.positions_of(rows)
        if not len(positions):
            return self
        live = np.ones(len(self.rows), dtype=bool) if self.live is None else self.live.copy()
        live[positions] = False
        return _Segment(self.vocab, self.indptr, self.docs, self.tf, self.lengths, self.rows, live)

    def postings(self, term: str, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Positions and term frequencies of the rows under ``mask`` that hold ``term``."""
        j = self.vocab.get(term)
        if j is None:
            return _EMPTY
        start, end = int(self.indptr[j]), int(self.indptr[j + 1])
        docs, tf = self.docs[start:end], self.tf[start:end]
        if mask is not None:
            keep = mask[docs]
            docs, tf = docs[keep], tf[keep]
        return docs, tf

    def mask(self, population: np.ndarray | None) -> np.ndarray | None:
        """Live positions whose rows are in ``population`` (``None``: every position)."""
        if population is None:
            return self.live
        mask = np.zeros(len(self.rows), dtype=bool)
        mask[self.positions_of(population)] = True
        if self.live is not None:
            mask &= self.live
        return mask

    def keys(self, vocab: dict[str, int], position_of: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Live postings as sorted ``global term * n + new position`` keys, with their term frequencies."""
        term_map = np.zeros(len(self.vocab), dtype=np.int64)
        for term, j in self.vocab.items():
            term_map[j] = vocab[term]
        terms = np.repeat(term_map, np.diff(self.indptr))
        keep = self.live[self.docs] if self.live is not None else np.ones(len(self.docs), dtype=bool)
        keys = terms[keep] * n + position_of[self.docs[keep]]
        tf = self.tf[keep]
        if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):
            order = np.argsort(keys, kind="stable")
            keys, tf = keys[order], tf[order]
        return keys, tf


def _merge(first: _Segment, second: _Segment) -> _Segment:
    """One segment holding the live rows of both (which must not share a live row id).

    ``first``'s term ids are kept and its postings stay in order, so merging a small segment into a large one
    costs one pass over the large one's arrays (no sort of them).
    """
    vocab = dict(first.vocab)
    for term in second.vocab:
        vocab.setdefault(term, len(vocab))
    rows_a, rows_b = first.live_rows(), second.live_rows()
    rows = np.concatenate([rows_a, rows_b])
    order = np.argsort(rows, kind="stable")
    rank = np.empty(len(rows), dtype=np.int64)
    rank[order] = np.arange(len(rows), dtype=np.int64)
    n = max(len(rows), 1)
    position_maps = []
    for segment, new in ((first, rank[: len(rows_a)]), (second, rank[len(rows_a) :])):
        position_of = np.full(len(segment.rows), -1, dtype=np.int64)
        position_of[segment.live if segment.live is not None else slice(None)] = new
        position_maps.append(position_of)
    keys_b, tf_b = second.keys(vocab, position_maps[1], n)
    indptr, docs, tf = _merged_postings(first, position_maps[0], keys_b, tf_b, len(vocab), n)
    lengths = np.concatenate(
        [
            first.lengths[first.live] if first.live is not None else first.lengths,
            second.lengths[second.live] if second.live is not None else second.lengths,
        ]
    )[order]
    return _Segment(vocab, indptr, docs, tf, lengths, rows[order])


MERGE_BLOCK = 2_000_000  # postings of the first segment merged at a time (bounds the temporary arrays)


def _merged_postings(
    first: _Segment, position_of: np.ndarray, keys_b: np.ndarray, tf_b: np.ndarray, terms: int, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR (indptr, positions, tf) of ``first``'s live postings (remapped by ``position_of``) merged with the
    sorted ``term * n + position`` keys of the second segment.

    ``first``'s term ids are the merged vocabulary's first ids, so its postings are taken a block of terms
    at a time (about ``MERGE_BLOCK`` postings) and written into preallocated arrays: the temporaries stay the
    size of a block, not of the whole index (a 1M-chunk main segment holds some 60M postings, 480 MB per
    int64 copy).
    """
    live_a = int(np.count_nonzero(first.live[first.docs])) if first.live is not None else len(first.docs)
    total = live_a + len(keys_b)
    docs = np.empty(total, dtype=np.int32)
    tf = np.empty(total, dtype=first.tf.dtype)  # as np.insert into first's array gave before
    counts = np.zeros(terms, dtype=np.int64)
    written = 0

    def put(keys: np.ndarray, freqs: np.ndarray, base: int) -> None:
        nonlocal written
        if not len(keys):
            return
        end = written + len(keys)
        docs[written:end] = keys % n
        tf[written:end] = freqs
        per_term = np.bincount(keys // n - base)
        counts[base : base + len(per_term)] += per_term
        written = end

    indptr_a = first.indptr
    terms_a = len(indptr_a) - 1
    t0 = 0
    while t0 < terms_a:
        t1 = int(np.searchsorted(indptr_a, indptr_a[t0] + MERGE_BLOCK, side="right")) - 1
        t1 = min(max(t1, t0 + 1), terms_a)
        lo, hi = int(indptr_a[t0]), int(indptr_a[t1])
        block_docs = first.docs[lo:hi]
        block_terms = np.repeat(np.arange(t0, t1, dtype=np.int64), np.diff(indptr_a[t0 : t1 + 1]))
        if first.live is not None:
            keep = first.live[block_docs]
            block_terms, block_docs, block_tf = block_terms[keep], block_docs[keep], first.tf[lo:hi][keep]
        else:
            block_tf = first.tf[lo:hi]
        keys_a = block_terms * n + position_of[block_docs]
        if len(keys_a) > 1 and not bool(np.all(keys_a[1:] > keys_a[:-1])):
            order = np.argsort(keys_a, kind="stable")
            keys_a, block_tf = keys_a[order], block_tf[order]
        b0, b1 = np.searchsorted(keys_b, [t0 * n, t1 * n])
        at = np.searchsorted(keys_a, keys_b[b0:b1])
        put(np.insert(keys_a, at, keys_b[b0:b1]), np.insert(block_tf, at, tf_b[b0:b1]), t0)
        t0 = t1
    b0 = int(np.searchsorted(keys_b, terms_a * n))
    put(keys_b[b0:], tf_b[b0:], terms_a)
    assert written == total, (written, total)
    indptr = np.zeros(terms + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, docs, tf


class _Population:
    """The rows whose statistics count: one mask per segment, their number and mean length."""

    __slots__ = ("avg_length", "masks", "size")

    def __init__(self, masks: list[np.ndarray | None], size: int, avg_length: float) -> None:
        self.masks = masks  # None: every position of that segment
        self.size = size
        self.avg_length = avg_length


class Bm25Index:
    """BM25 over chunk passages: a main segment, an optional delta segment and main's deleted rows.

    Example:
        >>> index = Bm25Index.build(np.array([1, 2]), ["brake pad wear", "battery cell"])
        >>> readable = np.array([1], dtype=np.int64)
        >>> index.search("pad", k=5, allowed=readable, population=readable)[0]
        array([1])
    """

    kind = "bm25-postings"

    def __init__(
        self, main: _Segment, delta: _Segment | None = None, k1: float = 1.2, b: float = 0.75
    ) -> None:
        self._main = main
        self._delta = delta if delta is not None and len(delta.rows) else None
        self.k1 = k1
        self.b = b
        self._everyone = self._statistics([s.live for s in self._segments])
        self._size = self._everyone.size

    @property
    def _segments(self) -> list[_Segment]:
        return [self._main] if self._delta is None else [self._main, self._delta]

    @classmethod
    def build(
        cls, row_ids: np.ndarray, passages: Sequence[str], k1: float = 1.2, b: float = 0.75
    ) -> Bm25Index:
        """Tokenise and index ``passages`` (one per row id, ascending)."""
        return cls(_Segment.build(row_ids, passages), None, k1, b)

    # -- updates -------------------------------------------------------------------------------------------

    def apply(self, removed: np.ndarray, rows: np.ndarray, passages: Sequence[str]) -> Bm25Index:
        """A new index without the ``removed`` row ids and with ``passages`` added under ``rows``.

        Main's postings are shared with this index (only its deleted-rows mask is new); the delta segment is
        merged with the new rows. A row id may be removed and added again (SQLite reuses the highest ids).
        """
        rows = np.asarray(rows, dtype=np.int64)
        # A row added is first removed, so applying a change twice cannot index a row twice.
        removed = np.union1d(np.asarray(removed, dtype=np.int64), rows)
        main = self._main.without(removed)
        delta = self._delta.without(removed) if self._delta is not None else None
        if len(rows):
            order = np.argsort(rows, kind="stable")
            fresh = _Segment.build(rows[order], [passages[i] for i in order.tolist()])
            delta = _merge(delta, fresh) if delta is not None else fresh
        elif delta is not None and delta.live is not None:
            delta = _merge(delta, _Segment.empty())
        return Bm25Index(main, delta, self.k1, self.b)

    def shares_base(self, other: Bm25Index) -> bool:
        """Whether both are deltas over the same main segment (so only the delta needs writing)."""
        return self._main.indptr is other._main.indptr

    def delta_size(self) -> int:
        """Rows in the delta segment plus deleted rows of main: what a compaction would fold in."""
        dead = 0 if self._main.live is None else len(self._main.rows) - int(self._main.live.sum())
        return dead + (len(self._delta.rows) if self._delta is not None else 0)

    def main_size(self) -> int:
        """Rows in the main segment (deleted ones included)."""
        return len(self._main.rows)

    def compacted(self) -> Bm25Index:
        """One segment holding the live rows (a full copy of the postings: done rarely)."""
        if not self.delta_size():
            return self
        return Bm25Index(_merge(self._main, self._delta or _Segment.empty()), None, self.k1, self.b)

    # -- files ---------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        """Read an index written by :meth:`save`."""
        segment, k1, b = _load_segment(folder)
        return cls(segment, None, k1, b)

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (compacted: one segment)."""
        _save_segment(self.compacted()._main, folder, self.k1, self.b)

    def save_delta(self, folder: Path) -> None:
        """Write what this index adds to its main segment: the delta segment and main's deleted rows."""
        _save_segment(self._delta or _Segment.empty(), folder, self.k1, self.b)
        main = self._main
        dead = main.rows[~main.live] if main.live is not None else np.zeros(0, dtype=np.int64)
        with (folder / DEAD_FILE).open("wb") as fh:
            np.save(fh, dead, allow_pickle=False)

    def with_delta(self, folder: Path) -> Bm25Index:
        """This (main) index with the delta written by :meth:`save_delta` into ``folder`` applied."""
        delta, _k1, _b = _load_segment(folder)
        try:
            dead = np.load(folder / DEAD_FILE, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise ValueError(f"lexical delta at {folder} is unreadable: {err}") from err
        return Bm25Index(self._main.without(np.asarray(dead, dtype=np.int64)), delta, self.k1, self.b)

    # -- search --------------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    def row_ids(self) -> np.ndarray:
        """The indexed row ids, ascending."""
        if self._delta is None:
            return self._main.live_rows()
        return np.sort(np.concatenate([s.live_rows() for s in self._segments]))

    def search(
        self,
        query: np.ndarray | str,
        k: int,
        allowed: np.ndarray | None,
        population: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows by BM25 score (> 0), restricted to ``allowed`` row ids.

        Args:
            query: the query text.
            k: how many rows at most.
            allowed: sorted row ids that may be returned; ``None`` for every row.
            population: sorted row ids whose statistics (count, lengths, document frequencies) score the
                query: the rows the caller may read. ``None`` for every row. Rows outside it score 0.
        """
        if not isinstance(query, str):
            raise TypeError("Bm25Index.search takes query text")
        weights: dict[str, float] = {}
        for token in tokenize(query):
            weights[token] = weights.get(token, 0.0) + 1.0  # a repeated query word counts again
        return self.search_weighted(weights, k, allowed, population)

    def search_weighted(
        self,
        terms: dict[str, float],
        k: int,
        allowed: np.ndarray | None,
        population: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`search`, for a query given as weighted tokens (already tokenised)."""
        segments = self._segments
        terms = {t: w for t, w in terms.items() if w > 0 and any(t in s.vocab for s in segments)}
        if not terms or k <= 0 or not len(self):
            return _EMPTY
        stats = self._population(population)
        if not stats.size:
            return _EMPTY
        scores = [np.zeros(len(s.rows), dtype=np.float64) for s in segments]
        for term, weight in terms.items():
            postings = [s.postings(term, m) for s, m in zip(segments, stats.masks, strict=True)]
            frequency = sum(len(docs) for docs, _ in postings)
            if not frequency:
                continue
            idf = self._idf(frequency, stats.size)
            for segment, out, (docs, tf) in zip(segments, scores, postings, strict=True):
                norm = self.k1 * ((1 - self.b) + self.b * segment.lengths[docs] / stats.avg_length)
                out[docs] += weight * idf * tf / (norm + tf)
        return self._top([s.astype(np.float32) for s in scores], k, allowed)

    def expand(
        self,
        query: str,
        passages: Sequence[str],
        terms: int,
        weight: float,
        population: np.ndarray | None = None,
    ) -> dict[str, float]:
        """RM3-style query expansion: the query tokens (weight 1 each) plus the ``terms`` tokens most
        frequent in the feedback passages relative to the ``population`` (IDF-weighted), scaled to
        ``weight``."""
        original = tokenize(query)
        weights: dict[str, float] = {}
        for token in original:
            weights[token] = weights.get(token, 0.0) + 1.0
        counts: dict[str, float] = {}
        for passage in passages:
            tokens = tokenize(passage)
            for token in tokens:
                counts[token] = counts.get(token, 0.0) + 1.0 / max(len(tokens), 1)
        stats = self._population(population)
        ranked = sorted(
            ((c * self._term_idf(t, stats), t) for t, c in counts.items() if t not in weights), reverse=True
        )
        chosen = [(score, t) for score, t in ranked[:terms] if score > 0]
        total = sum(score for score, _ in chosen)
        for score, token in chosen:
            weights[token] = weight * len(original) * score / total
        return weights

    def _statistics(self, masks: list[np.ndarray | None]) -> _Population:
        size = 0
        total = 0.0  # lengths are whole numbers: a float64 sum is exact, so independent of segment order
        for segment, mask in zip(self._segments, masks, strict=True):
            lengths = segment.lengths if mask is None else segment.lengths[mask]
            size += len(lengths)
            total += float(lengths.sum(dtype=np.float64))
        return _Population(masks, size, total / size if size else 0.0)

    def _population(self, population: np.ndarray | None) -> _Population:
        if population is None:
            return self._everyone
        return self._statistics([s.mask(population) for s in self._segments])

    def _term_idf(self, term: str, stats: _Population) -> float:
        frequency = sum(len(s.postings(term, m)[0]) for s, m in zip(self._segments, stats.masks, strict=True))
        return self._idf(frequency, stats.size) if frequency else 0.0

    @staticmethod
    def _idf(frequency: int, size: int) -> float:
        return float(np.log(1 + (size - frequency + 0.5) / (frequency + 0.5)))

    def _top(
        self, scores: list[np.ndarray], k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        found_rows: list[np.ndarray] = []
        found_scores: list[np.ndarray] = []
        for segment, segment_scores in zip(self._segments, scores, strict=True):
            keep = segment_scores > 0
            if segment.live is not None:
                keep &= segment.live
            if allowed is not None:
                permitted = np.zeros(len(segment.rows), dtype=bool)
                permitted[segment.positions_of(allowed)] = True
                keep &= permitted
            candidates = np.flatnonzero(keep)
            if len(candidates) > k:
                candidates = candidates[np.argpartition(-segment_scores[candidates], k - 1)[:k]]
            found_rows.append(segment.rows[candidates])
            found_scores.append(segment_scores[candidates])
        rows, values = np.concatenate(found_rows), np.concatenate(found_scores)
        order = np.lexsort((rows, -values))[:k]  # best first; equal scores by row id
        return rows[order], values[order]


def _save_segment(segment: _Segment, folder: Path, k1: float, b: float) -> None:
    if segment.live is not None:
        segment = _merge(segment, _Segment.empty())
    terms = sorted(segment.vocab, key=segment.vocab.__getitem__)
    meta = {"k1": k1, "b": b, "terms": terms}
    (folder / VOCAB_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    with (folder / POSTINGS_FILE).open("wb") as fh:
        np.savez(
            fh,
            indptr=segment.indptr,
            docs=segment.docs,
            tf=segment.tf,
            lengths=segment.lengths,
            rows=segment.rows,
        )


def _load_segment(folder: Path) -> tuple[_Segment, float, float]:
    try:
        meta = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
        with np.load(folder / POSTINGS_FILE, allow_pickle=False) as data:
            arrays = {name: data[name] for name in ("indptr", "docs", "tf", "lengths", "rows")}
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"lexical index at {folder} is unreadable: {err}") from err
    vocab = {term: i for i, term in enumerate(meta["terms"])}
    return _Segment(vocab, **arrays), float(meta["k1"]), float(meta["b"])

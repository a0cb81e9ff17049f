"""Lexical search with BM25 over identifier-aware tokens, its statistics taken from the caller's documents.

The index keeps raw postings (term frequencies per chunk) and chunk lengths, not precomputed BM25 scores, and
computes a query's scores at search time over a *population*: the rows whose documents the caller may read.
Document count, average length and each term's document frequency (its IDF) are those of that population, so
a caller's scores are exactly those of a BM25 index built over the documents the caller may read: adding or
removing a document the caller cannot read changes nothing the caller sees, and a score reveals nothing about
the words of such a document. The scoring is Lucene's BM25 (the variant bm25s uses by default).
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

_EMPTY = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))


class _Population:
    """The rows whose statistics count: a mask over index positions, their number and mean length."""

    __slots__ = ("avg_length", "mask", "size")

    def __init__(self, mask: np.ndarray | None, size: int, avg_length: float) -> None:
        self.mask = mask  # None: every row
        self.size = size
        self.avg_length = avg_length


class Bm25Index:
    """BM25 over chunk passages; position ``i`` of the postings is chunk row id ``rows[i]``.

    Example:
        >>> index = Bm25Index.build(np.array([1, 2]), ["brake pad wear", "battery cell"])
        >>> readable = np.array([1], dtype=np.int64)
        >>> index.search("pad", k=5, allowed=readable, population=readable)[0]
        array([1])
    """

    kind = "bm25-postings"

    def __init__(
        self,
        vocab: dict[str, int],
        indptr: np.ndarray,
        docs: np.ndarray,
        tf: np.ndarray,
        lengths: np.ndarray,
        rows: np.ndarray,
        k1: float = 1.2,
        b: float = 0.75,
    ) -> None:
        self._vocab = vocab
        self._indptr = indptr  # postings of term j: docs[indptr[j]:indptr[j + 1]] (ascending positions)
        self._docs = docs
        self._tf = tf
        self._lengths = lengths
        self._rows = rows
        self.k1 = k1
        self.b = b
        self._everyone = _Population(None, len(rows), float(lengths.mean()) if len(rows) else 0.0)

    @classmethod
    def build(
        cls, row_ids: np.ndarray, passages: Sequence[str], k1: float = 1.2, b: float = 0.75
    ) -> Bm25Index:
        """Tokenise and index ``passages`` (one per row id, ascending)."""
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
        return cls(
            vocab,
            indptr,
            (pairs % n).astype(np.int32),
            counts.astype(np.float32),
            lengths,
            np.asarray(row_ids, dtype=np.int64),
            k1,
            b,
        )

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        """Read an index written by :meth:`save`."""
        try:
            meta = json.loads((folder / VOCAB_FILE).read_text(encoding="utf-8"))
            with np.load(folder / POSTINGS_FILE, allow_pickle=False) as data:
                arrays = {name: data[name] for name in ("indptr", "docs", "tf", "lengths", "rows")}
        except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as err:
            raise ValueError(f"lexical index at {folder} is unreadable: {err}") from err
        vocab = {term: i for i, term in enumerate(meta["terms"])}
        return cls(vocab, **arrays, k1=float(meta["k1"]), b=float(meta["b"]))

    def save(self, folder: Path) -> None:
        """Write the index into ``folder``."""
        terms = sorted(self._vocab, key=self._vocab.__getitem__)
        meta = {"k1": self.k1, "b": self.b, "terms": terms}
        (folder / VOCAB_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        with (folder / POSTINGS_FILE).open("wb") as fh:
            np.savez(
                fh,
                indptr=self._indptr,
                docs=self._docs,
                tf=self._tf,
                lengths=self._lengths,
                rows=self._rows,
            )

    def __len__(self) -> int:
        return len(self._rows)

    def row_ids(self) -> np.ndarray:
        """The indexed row ids, ascending."""
        return self._rows

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
        terms = {t: w for t, w in terms.items() if t in self._vocab and w > 0}
        if not terms or k <= 0 or not len(self._rows):
            return _EMPTY
        stats = self._population(population)
        if not stats.size:
            return _EMPTY
        scores = np.zeros(len(self._rows), dtype=np.float64)
        for term, weight in terms.items():
            docs, tf = self._postings(term, stats)
            if not len(docs):
                continue
            norm = self.k1 * ((1 - self.b) + self.b * self._lengths[docs] / stats.avg_length)
            scores[docs] += weight * self._idf(len(docs), stats.size) * tf / (norm + tf)
        return self._top(scores.astype(np.float32), k, allowed)

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

    def _population(self, population: np.ndarray | None) -> _Population:
        if population is None:
            return self._everyone
        positions = np.searchsorted(self._rows, population)
        positions = positions[positions < len(self._rows)]
        positions = positions[self._rows[positions] == population[: len(positions)]]
        mask = np.zeros(len(self._rows), dtype=bool)
        mask[positions] = True
        size = int(mask.sum())
        return _Population(mask, size, float(self._lengths[mask].mean()) if size else 0.0)

    def _postings(self, term: str, stats: _Population) -> tuple[np.ndarray, np.ndarray]:
        """Positions and term frequencies of the population's rows that hold ``term``."""
        j = self._vocab.get(term)
        if j is None:
            return _EMPTY
        start, end = int(self._indptr[j]), int(self._indptr[j + 1])
        docs, tf = self._docs[start:end], self._tf[start:end]
        if stats.mask is not None:
            keep = stats.mask[docs]
            docs, tf = docs[keep], tf[keep]
        return docs, tf

    def _term_idf(self, term: str, stats: _Population) -> float:
        frequency = len(self._postings(term, stats)[0])
        return self._idf(frequency, stats.size) if frequency else 0.0

    @staticmethod
    def _idf(frequency: int, size: int) -> float:
        return float(np.log(1 + (size - frequency + 0.5) / (frequency + 0.5)))

    def _top(self, scores: np.ndarray, k: int, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if allowed is not None:
            mask = np.zeros(len(scores), dtype=bool)
            mask[np.searchsorted(self._rows, allowed[np.isin(allowed, self._rows)])] = True
            scores = np.where(mask, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        order = candidates[np.argsort(-scores[candidates], kind="stable")]
        return self._rows[order], scores[order]

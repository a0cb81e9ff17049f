"""Lexical search with BM25 (bm25s) over identifier-aware tokens."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from assistant.tokenize import tokenize

ROWS_FILE = "rows.npy"


class Bm25Index:
    """BM25 over chunk passages; row ``i`` of the BM25 matrix is chunk row id ``rows[i]``."""

    kind = "bm25s"

    def __init__(self, model: bm25s.BM25 | None, rows: np.ndarray) -> None:
        self._model = model
        self._rows = rows
        self._idf_cache: dict[str, float] | None = None

    @classmethod
    def build(
        cls, row_ids: np.ndarray, passages: Sequence[str], k1: float = 1.2, b: float = 0.75
    ) -> Bm25Index:
        """Tokenise and index ``passages`` (one per row id)."""
        if not len(row_ids):
            return cls(None, np.zeros(0, dtype=np.int64))
        model = bm25s.BM25(k1=k1, b=b)
        model.index([tokenize(p) for p in passages], show_progress=False)
        return cls(model, np.asarray(row_ids, dtype=np.int64))

    @classmethod
    def load(cls, folder: Path) -> Bm25Index:
        """Read an index written by :meth:`save`."""
        rows = np.load(folder / ROWS_FILE)
        if not len(rows):
            return cls(None, rows)
        return cls(bm25s.BM25.load(str(folder), show_progress=False), rows)

    def save(self, folder: Path) -> None:
        """Write the index into ``folder``."""
        with (folder / ROWS_FILE).open("wb") as fh:
            np.save(fh, self._rows)
        if self._model is not None:
            self._model.save(str(folder), show_progress=False)

    def __len__(self) -> int:
        return len(self._rows)

    def row_ids(self) -> np.ndarray:
        """The indexed row ids, ascending."""
        return self._rows

    def search(
        self, query: np.ndarray | str, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` rows by BM25 score (> 0), restricted to ``allowed`` row ids."""
        if not isinstance(query, str):
            raise TypeError("Bm25Index.search takes query text")
        tokens = [t for t in tokenize(query) if t in self._vocab()]
        if self._model is None or not tokens or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = np.asarray(self._model.get_scores(tokens), dtype=np.float32)
        return self._top(scores, k, allowed)

    def search_weighted(
        self, terms: dict[str, float], k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`search`, for a query given as weighted tokens (already tokenised)."""
        vocab = self._vocab()
        terms = {t: w for t, w in terms.items() if t in vocab and w > 0}
        if self._model is None or not terms or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = np.zeros(len(self._rows), dtype=np.float32)
        for term, weight in terms.items():
            scores += weight * np.asarray(self._model.get_scores([term]), dtype=np.float32)
        return self._top(scores, k, allowed)

    def expand(self, query: str, passages: Sequence[str], terms: int, weight: float) -> dict[str, float]:
        """RM3-style query expansion: the query tokens (weight 1 each) plus the ``terms`` tokens most
        frequent in the feedback passages relative to the corpus (IDF-weighted), scaled to ``weight``."""
        original = tokenize(query)
        weights: dict[str, float] = {}
        for token in original:
            weights[token] = weights.get(token, 0.0) + 1.0
        counts: dict[str, float] = {}
        for passage in passages:
            tokens = tokenize(passage)
            for token in tokens:
                counts[token] = counts.get(token, 0.0) + 1.0 / max(len(tokens), 1)
        idf = self._idf()
        ranked = sorted(
            ((c * idf.get(t, 0.0), t) for t, c in counts.items() if t not in weights), reverse=True
        )
        chosen = [(score, t) for score, t in ranked[:terms] if score > 0]
        total = sum(score for score, _ in chosen)
        for score, token in chosen:
            weights[token] = weight * len(original) * score / total
        return weights

    def _idf(self) -> dict[str, float]:
        if self._idf_cache is None:
            model = self._model
            if model is None:
                return {}
            indptr = np.asarray(model.scores["indptr"])
            frequencies = np.diff(indptr)  # documents per vocabulary id (CSC columns)
            n = len(self._rows)
            self._idf_cache = {
                t: float(np.log(1 + (n - frequencies[i] + 0.5) / (frequencies[i] + 0.5)))
                for t, i in model.vocab_dict.items()
                if i < len(frequencies)
            }
        return self._idf_cache

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

    def _vocab(self) -> dict[str, int]:
        return self._model.vocab_dict if self._model is not None else {}

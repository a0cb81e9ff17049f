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

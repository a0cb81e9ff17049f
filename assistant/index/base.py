"""The ``Index`` seam: a search structure over chunk row ids, filtered to an allowed set of ids."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np


class Index(Protocol):
    """Nearest-neighbour (or lexical) search over chunk row ids.

    ``allowed`` (sorted int64 row ids) restricts the search *inside* the index, so a result set is never
    filled with rows the caller may not see and then trimmed. ``None`` means every row.

    Example:
        >>> allowed = np.array([3, 7], dtype=np.int64)
        >>> ids, scores = index.search(query, k=10, allowed=allowed)  # doctest: +SKIP
    """

    kind: str

    def __len__(self) -> int:
        """Number of indexed rows."""
        ...

    def row_ids(self) -> np.ndarray:
        """The indexed row ids, ascending."""
        ...

    def search(
        self, query: np.ndarray | str, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best ``k`` row ids and their scores, best first."""
        ...

    def save(self, folder: Path) -> None:
        """Write the index into an empty folder."""
        ...

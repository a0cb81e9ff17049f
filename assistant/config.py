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
    database_url: str | None = Field(
        None,
        description="A PostgreSQL URL selects the PostgreSQL store (apply its schema with `eka db "
        "upgrade`); unset: the embedded SQLite store under home.",
    )
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
    parse_memory_mb: int = Field(
        2048,
        ge=0,
        description="Address-space limit (RLIMIT_AS) of each parser process, in MB; a file that needs more "
        "fails with a reason (0 = no limit).",
    )
    max_unzipped_mb: float = Field(
        100.0,
        gt=0,
        description="A DOCX (a ZIP) whose parts add up to more than this when decompressed is rejected "
        "before it is parsed.",
    )
    known_groups: str = Field(
        "",
        description="Comma-separated access groups this deployment uses; when set, an access list naming any "
        "other group (a misspelling) is a per-file ingest error. Empty: no check. 'public' is always known.",
    )
    acl_mistakes: Literal["error", "warn"] = Field(
        "error",
        description="What an access-list mistake in ingest metadata is (an empty, null or blank list, a key "
        "like ACL/acls/access, an unknown group): a per-file error (default), or a warning in the report "
        "(the file is ingested with the access list as read; a dropped list means public).",
    )
    ingest_batch_chunks: int = Field(
        256, ge=1, le=100_000, description="Chunks of several files embedded together before they are stored."
    )

    search_k: int = Field(10, ge=1, le=1000)
    search_mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    candidates: int = Field(100, ge=1, le=10000, description="Candidates per retriever before fusion.")
    ann_min_rows: int = Field(
        100_000,
        ge=1,
        description="From this many chunks the dense index's base is approximate (an IVF index; exact "
        "below). Measured in docs/architecture.md; a change rebuilds the dense index.",
    )
    ann_nprobe: int = Field(
        32,
        ge=1,
        le=65_536,
        description="IVF clusters scanned for a reader of everything; a reader of a share s of the chunks "
        "gets nprobe/s (all clusters, i.e. exact, for a narrow reader). A change rebuilds the dense index.",
    )
    fusion: Literal["minmax", "rrf"] = "minmax"
    dense_weight: float = Field(0.5, ge=0.0, le=1.0, description="Weight of dense scores in min-max fusion.")
    rrf_k: int = Field(60, ge=1)
    reranker: str = Field(
        "heading",
        description="Reranker of the fused candidates: heading (default: cosine of the query and each "
        "passage's section heading, heading vectors computed at ingest; docs/retrieval-quality.md), none, "
        "late-interaction (MaxSim over the model's token vectors, one encoder pass over rerank_depth "
        "candidates per query) or coverage (share of the query's content words).",
    )
    rerank_depth: int = Field(20, ge=1, le=1000, description="Fused candidates the reranker sees.")
    rerank_weight: float = Field(
        1 / 3, ge=0.0, le=1.0, description="Reranker share of the final score (the rest: the fused score)."
    )
    rerank_scope: Literal["results", "document"] = Field(
        "document",
        description="document: a passage moves only among its own document's places in the reranked head; "
        "results: the head is sorted by the blended score.",
    )
    prf_docs: int = Field(0, ge=0, le=100, description="Pseudo-relevance feedback depth (0 = off).")
    prf_dense_weight: float = Field(0.5, ge=0.0, le=10.0, description="Rocchio feedback weight.")
    prf_terms: int = Field(0, ge=0, le=100, description="Expansion terms added to the BM25 query (0 = off).")
    prf_lexical_weight: float = Field(0.3, ge=0.0, le=10.0, description="Weight of the expansion terms.")
    max_per_page: int = Field(1, ge=0, le=100, description="Chunks per page/section before others (0 = off).")
    bm25_k1: float = Field(1.2, gt=0.0, le=10.0, description="BM25 term-frequency saturation.")
    bm25_b: float = Field(0.75, ge=0.0, le=1.0, description="BM25 length normalisation.")
    pg_hnsw_m: int = Field(
        32,
        ge=4,
        le=100,
        description="PostgreSQL: links per node of the HNSW index (a new value takes effect when the index "
        "is built again: `eka index rebuild`).",
    )
    pg_hnsw_ef_construction: int = Field(
        200, ge=16, le=1000, description="PostgreSQL: the HNSW index's candidate list while it is built."
    )
    pg_build_memory: str = Field(
        "2GB",
        pattern=r"^[0-9]+(kB|MB|GB)$",
        description="PostgreSQL: maintenance_work_mem while the HNSW index is built (the graph must fit: "
        "about 1.5 GB per million 384-dimensional chunks at m = 32, 2 GB at m = 48).",
    )
    pg_ef_search: int = Field(
        1000, ge=10, le=1000, description="PostgreSQL: the HNSW candidate list of a search (at least k)."
    )
    pg_parallel_rows: int = Field(
        20_000,
        ge=0,
        description="PostgreSQL: a caller who may read at least this many chunks gets the lexical half of a "
        "hybrid search on a second connection, beside the dense half (in the same snapshot).",
    )
    default_groups: str = Field("public", description="Groups used by the CLI when --groups is not given.")

    # Answering (assistant.answering) and its generators (assistant.generation)
    generator: Literal["extractive", "local", "openai"] = Field(
        "extractive", description="Answer generator: extractive (no LLM), local (llama.cpp GGUF) or openai."
    )
    answer_k: int = Field(6, ge=1, le=50, description="Sources shown to the generator.")
    refusal_threshold: float = Field(
        0.39,
        ge=-10.0,
        le=10.0,
        description="Below this evidence (the best relevance of the hits: mean of dense cosine and lexical "
        "coverage, assistant/refusal.py) the answer is a refusal; calibrated in docs/answering.md.",
    )
    support_threshold: float = Field(
        0.5, ge=0.0, le=1.0, description="Share of a sentence's content words its cited source must contain."
    )
    prompt_template: str = Field("answer-v1", description="Prompt template id (assistant/prompts/ID.txt).")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0)
    llm_max_tokens: int = Field(384, ge=16, le=8192, description="Most tokens an LLM answer may use.")
    llm_timeout_s: float = Field(120.0, gt=0, description="Generator time limit; past it the API gives 504.")
    local_model: str = Field(
        "qwen2.5-coder-1.5b",
        description="Packaged GGUF model name (see assistant.generation.gguf) or a path to a .gguf file.",
    )
    local_context: int = Field(4096, ge=512, le=32768, description="llama.cpp context window (tokens).")
    local_threads: int = Field(2, ge=1, le=256)
    local_start_timeout_s: float = Field(
        120.0,
        gt=0,
        description="How long the local model process may take to load before it counts as failed.",
    )
    openai_base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://host/v1.")
    openai_api_key: str | None = Field(None, description="Key for the endpoint (or OPENAI_API_KEY).")
    openai_model: str = Field("gpt-4o-mini", description="Model (or Azure deployment) name.")
    azure_endpoint: str | None = Field(None, description="Azure OpenAI endpoint; selects the Azure client.")
    azure_api_version: str = Field("2024-10-21")

    # The service (assistant.api)
    api_max_body_mb: float = Field(50.0, gt=0, description="Largest request body or upload.")
    rate_limit_per_minute: int = Field(120, ge=1, description="Requests per API key per minute.")

    # Where `eka serve`, `eka ui` and `make demo` listen
    api_host: str = Field("127.0.0.1", description="Interface of the API (`eka serve`, `make demo`).")
    api_port: int = Field(8000, ge=1, le=65535, description="Port of the API (`eka serve`, `make demo`).")
    ui_port: int = Field(8501, ge=1, le=65535, description="Port of the chat (`eka ui`, `make demo`).")

    @property
    def known_group_set(self) -> frozenset[str]:
        """The groups of ``known_groups``, lower-cased, with ``public``; empty when none are listed."""
        listed = {g.strip().lower() for g in self.known_groups.split(",") if g.strip()}
        return frozenset(listed | {"public"}) if listed else frozenset()

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

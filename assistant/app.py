"""The composition root: one place that turns ``Settings`` into wired components.

The CLI, the API, the UI's server side, eval and tests all call :func:`build_assistant`.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.config import Settings
from assistant.embedding import ModelSpec, SentenceTransformerEmbedder, TokenCounter, model_spec
from assistant.errors import ConfigError
from assistant.index.ann import AnnParams
from assistant.index.derived import DerivedIndexes
from assistant.index.searcher import EmbeddedSearcher
from assistant.pg.db import shared
from assistant.pg.search import PgSearcher, PgSearchParams
from assistant.pg.store import PgStore
from assistant.rerank import make_reranker, stored_vectors
from assistant.retrieval import RetrievalParams, Retriever
from assistant.searcher import Searcher
from assistant.sqlite_store import SQLiteStore
from assistant.store import Store


@dataclass
class Assistant:
    """The wired library: store, embedder, searcher and retriever (``indexes``: the embedded backend's
    derived index files; ``None`` on PostgreSQL, which searches in the database)."""

    settings: Settings
    spec: ModelSpec
    store: Store
    embedder: SentenceTransformerEmbedder
    searcher: Searcher
    retriever: Retriever
    indexes: DerivedIndexes | None = None

    def embedded_indexes(self) -> DerivedIndexes:
        """The embedded backend's derived index files (for the tools that work on them directly).

        Raises:
            ConfigError: this assistant runs on PostgreSQL, which has no derived index files.
        """
        if self.indexes is None:
            raise ConfigError("this store is in PostgreSQL: it has no derived index files")
        return self.indexes

    def close(self) -> None:
        """Release the store."""
        self.store.close()

    def token_counter(self) -> TokenCounter:
        """Counts tokens the way the embedding model does (for sizing chunks)."""
        return TokenCounter(self.spec.tokenizer_file())


def open_store(settings: Settings, embedder: SentenceTransformerEmbedder | None = None) -> Store:
    """The store the settings select: the embedded SQLite store under ``settings.home``, or the PostgreSQL
    store when ``settings.database_url`` names a database (the process's shared pool).

    Args:
        settings: the settings.
        embedder: embeds passages whose vectors the PostgreSQL store needs and has not cached (a title
            change); unused by the embedded store.

    Raises:
        ConfigError: the database cannot be reached or its schema is not this version's (``eka db
            upgrade``).

    Example:
        >>> store = open_store(Settings(home=Path("/tmp/eka")))  # doctest: +SKIP
        >>> store.generation()  # doctest: +SKIP
        0
    """
    if settings.database_url is not None:
        embed = embedder.embed_passages if embedder is not None else None
        model = embedder.model_id if embedder is not None else None
        return PgStore(shared(settings.database_url), embed=embed, embed_model=model)
    return SQLiteStore(settings.store_path)


def build_assistant(settings: Settings, embedder: SentenceTransformerEmbedder | None = None) -> Assistant:
    """Open (or create) the store the settings select (:func:`open_store`) and wire every component.

    Nothing heavy happens here: the embedding model loads on first use and the derived indexes load (or
    rebuild) on the first search. Pass ``embedder`` to share one loaded model between several stores.

    Example:
        >>> assistant = build_assistant(Settings(home=Path("/tmp/eka")))  # doctest: +SKIP
        >>> assistant.retriever.search("brake pad wear", Principal.of("me"))  # doctest: +SKIP
    """
    spec = model_spec(settings.embedding_model)
    if embedder is None or embedder.model_id != spec.model_id:
        embedder = SentenceTransformerEmbedder(
            spec, device=settings.device, batch_size=settings.embed_batch_size
        )
    store = open_store(settings, embedder)
    indexes: DerivedIndexes | None = None
    searcher: Searcher
    if settings.database_url is not None:
        searcher = PgSearcher(
            shared(settings.database_url),
            spec.dim,
            spec.model_id,
            embedder.embed_passages,
            PgSearchParams(
                k1=settings.bm25_k1,
                b=settings.bm25_b,
                ef_search=settings.pg_ef_search,
                hnsw_m=settings.pg_hnsw_m,
                ef_construction=settings.pg_hnsw_ef_construction,
                build_memory=settings.pg_build_memory,
                parallel_rows=settings.pg_parallel_rows,
            ),
            store,
        )
    else:
        indexes = DerivedIndexes(
            store,
            settings.index_dir,
            spec.model_id,
            embedder.embed_passages,
            bm25_k1=settings.bm25_k1,
            bm25_b=settings.bm25_b,
            ann=AnnParams(settings.ann_min_rows, settings.ann_nprobe),
        )
        searcher = EmbeddedSearcher(store, indexes)
    params = RetrievalParams(
        candidates=settings.candidates,
        fusion=settings.fusion,
        dense_weight=settings.dense_weight,
        rrf_k=settings.rrf_k,
        prf_docs=settings.prf_docs,
        prf_dense_weight=settings.prf_dense_weight,
        prf_terms=settings.prf_terms,
        prf_lexical_weight=settings.prf_lexical_weight,
        rerank_depth=settings.rerank_depth,
        rerank_weight=settings.rerank_weight,
        rerank_scope=settings.rerank_scope,
        max_per_page=settings.max_per_page,
    )
    try:
        reranker = make_reranker(settings.reranker, embedder, stored_vectors(store, embedder.model_id))
    except ValueError as err:
        raise ConfigError(str(err)) from err
    retriever = Retriever(searcher, embedder, params, reranker)
    return Assistant(settings, spec, store, embedder, searcher, retriever, indexes)

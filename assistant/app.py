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
from assistant.rerank import make_reranker
from assistant.retrieval import RetrievalParams, Retriever
from assistant.sqlite_store import SQLiteStore
from assistant.store import Store


@dataclass
class Assistant:
    """The wired library: store, embedder, derived indexes and retriever."""

    settings: Settings
    spec: ModelSpec
    store: Store
    embedder: SentenceTransformerEmbedder
    indexes: DerivedIndexes
    retriever: Retriever

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
        from assistant.pg.db import shared  # psycopg loads only when PostgreSQL is selected
        from assistant.pg.store import PgStore

        if embedder is None:
            return PgStore(shared(settings.database_url))
        return PgStore(shared(settings.database_url), embedder.embed_passages, embedder.model_id)
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
    indexes = DerivedIndexes(
        store,
        settings.index_dir,
        spec.model_id,
        embedder.embed_passages,
        bm25_k1=settings.bm25_k1,
        bm25_b=settings.bm25_b,
        ann=AnnParams(settings.ann_min_rows, settings.ann_nprobe),
    )
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
        max_per_page=settings.max_per_page,
    )
    try:
        reranker = make_reranker(settings.reranker, embedder)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    retriever = Retriever(store, indexes, embedder, params, reranker)
    return Assistant(settings, spec, store, embedder, indexes, retriever)

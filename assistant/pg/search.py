"""The PostgreSQL backend's :class:`~assistant.searcher.Searcher`: pgvector and BM25 postings, in SQL.

A view is one pooled connection in one ``REPEATABLE READ READ ONLY`` transaction, switched to the role
``eka_reader`` with the caller's groups in ``eka.groups``: every sub-query filters by the caller's access
lists in its own WHERE clause (never after fusion), and row-level security
(assistant/pg/migrations/0001_store.sql)
hides every other row from that role as a second guard.

- **Dense.** Cosine over ``chunks.embedding``. A caller who may read a small part of the store (below
  :attr:`PgSearchParams.exact_rows` rows) gets an exact scan of those rows; otherwise an HNSW index over the
  vectors as ``halfvec`` with ``hnsw.iterative_scan`` (the scan goes on until enough allowed rows are found),
  whose candidates are re-scored with the full-precision vectors.
- **Lexical.** Lucene's BM25 over the embedded backend's tokens (assistant/tokenize.py), from the
  ``postings`` table (an index-only scan per query term). The statistics (chunk count, average length,
  document frequencies) are sums over the access lists the caller may read (``acl_stats``, ``term_stats``):
  exactly the statistics of the chunks the caller may read, as in the embedded backend.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg_pool import PoolTimeout

from assistant.errors import ConfigError
from assistant.filters import Filters, matches
from assistant.lru import SizedLRU
from assistant.pg import pack
from assistant.pg.db import READER_ROLE, Database
from assistant.searcher import Run
from assistant.store import Store
from assistant.tokenize import tokenize
from assistant.types import Chunk, Document

log = logging.getLogger(__name__)

# BM25 summed per row over the query terms' postings (joined after it), and the best k rows: the SQL path and
# the rows a pack does not hold (pack.score computes the same share in numpy).
_BM25 = sql.SQL(
    "SELECT row_id, sum(q.w * tf / (tf + %(norm0)s + %(norm1)s * length)) AS score"
    " FROM unnest(%(terms)s::text[], %(w)s::float8[]) AS q(term, w)"
)
_BEST = sql.SQL("GROUP BY row_id ORDER BY score DESC, row_id LIMIT %(k)s")
# How long a search waits for a second pooled connection before it runs its lexical search itself.
BESIDE_WAIT_S = 0.02
_EMPTY: Run = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
_DOCUMENT_COLUMNS = sql.SQL("doc_id, source, sha256, title, mime, metadata, acl, ingested_at, pages, owner")


@dataclass(frozen=True, slots=True)
class PgSearchParams:
    """How the SQL searches run (from ``Settings``)."""

    k1: float = 1.2
    b: float = 0.75
    # HNSW candidate list (at least k; pgvector's maximum is 1000). Measured with m=32, ef_construction=200
    # (eka bench scale, 78 questions): recall@10 at 100k 0.93-0.94 at 400, 1.0 at 800; at 1M for readers of
    # 10 % and 100 % 0.947 at 800, 0.96 at 1000 (dense half +8 ms p50).
    ef_search: int = 1000
    hnsw_m: int = 32  # links per node when the index is built (a denser graph: better recall, longer build)
    ef_construction: int = 200
    exact_rows: int = 20_000  # a caller who may read fewer rows gets an exact vector scan of them
    # Rows inserted since the HNSW index was built are also scanned exactly while there are at most this
    # many of them (beyond that, rebuild the index: `eka index rebuild`).
    fresh_rows: int = 20_000
    # A process that finds no HNSW index builds it as it starts only for a store of at most this many rows
    # (seconds); a larger store's index (dropped for a bulk load) is built by `eka index rebuild`, which at
    # 1M chunks takes about half an hour: no worker waits for that to start.
    build_rows: int = 20_000
    max_scan_tuples: int = 50_000  # how far an iterative HNSW scan goes looking for allowed rows
    # maintenance_work_mem while the HNSW index is built: a graph that does not fit is built far slower
    # (about 1.5 GB at 1M chunks of 384 dimensions with m = 32).
    build_memory: str = "2GB"
    # Packed postings (assistant/pg/pack.py): a caller who may read at least ``pack_rows`` rows sums BM25
    # from the pack; a narrower one reads its own postings in SQL. A store of fewer rows gets no pack.
    # ``refresh`` rebuilds the pack when more than ``repack_rows`` rows are above its watermark or dead.
    pack_rows: int = 50_000
    repack_rows: int = 20_000
    # A caller who may read at least this many rows gets the lexical search of a hybrid search on a second
    # connection, in the view's snapshot, while the query is encoded and the dense search runs (below it,
    # both are a few milliseconds and the second transaction costs more than it saves).
    parallel_rows: int = 20_000


@dataclass(frozen=True, slots=True)
class DocFilter:
    """The documents a metadata filter keeps, as the shorter list: those kept, or (``excluded``) the readable
    ones it drops. A filter matching 99 % of 10,000 documents is then a test against 100 keys per row, not
    against 9,900."""

    keys: list[int]
    excluded: bool = False

    def keeps_nothing(self) -> bool:
        return not self.excluded and not self.keys


def index_name(dim: int) -> str:
    """The HNSW index over the passage vectors of one dimension."""
    return f"chunks_embedding_hnsw_{dim}"


def document_of(row: Sequence[Any]) -> Document:
    """A :class:`Document` from a row of ``_DOCUMENT_COLUMNS``."""
    doc_id, source, sha256, title, mime, metadata, acl, ingested_at, pages, owner = row
    return Document(doc_id, source, sha256, title, mime, metadata, frozenset(acl), ingested_at, pages, owner)


def _run(rows: list[tuple[Any, ...]]) -> Run:
    if not rows:
        return _EMPTY
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    scores = np.asarray([r[1] for r in rows], dtype=np.float32)
    return ids, scores


class PgView:
    """One caller's view: the readable access lists, the filtered documents, the BM25 population."""

    def __init__(
        self,
        conn: psycopg.Connection,
        searcher: PgSearcher,
        groups: frozenset[str],
        generation: int,
        acls: list[int],
        doc_keys: DocFilter | None,
        population: tuple[int, int],
        fresh_above: int | None = None,
        lexical_pack: tuple[int, int, int, bool] | None = None,
    ) -> None:
        self._conn = conn
        self._searcher = searcher
        self.groups = groups
        self._generation = generation
        self._acls = acls
        self._doc_keys = doc_keys  # None: no metadata filter
        self._fresh_above = fresh_above  # rows above this id are scanned exactly beside HNSW (None: no scan)
        # (pack, watermark, slots, rows above the watermark) of the packed postings, None: no pack
        self._pack = lexical_pack
        self._population = population
        self._size, tokens = population
        self._avg_length = tokens / self._size if self._size else 0.0

    @property
    def generation(self) -> int:
        return self._generation

    def empty(self) -> bool:
        return (
            not self._acls
            or not self._size
            or (self._doc_keys is not None and self._doc_keys.keeps_nothing())
        )

    def _where(self) -> tuple[sql.Composable, dict[str, Any]]:
        """The access (and filter) condition every sub-query carries, and its parameters."""
        params: dict[str, Any] = {"acls": self._acls}
        kept = self._doc_keys
        if kept is None or (kept.excluded and not kept.keys):
            return sql.SQL("acl_id = ANY(%(acls)s)"), params
        params["docs"] = kept.keys
        if kept.excluded:
            return sql.SQL("acl_id = ANY(%(acls)s) AND NOT doc_key = ANY(%(docs)s)"), params
        return sql.SQL("acl_id = ANY(%(acls)s) AND doc_key = ANY(%(docs)s)"), params

    # -- dense ---------------------------------------------------------------------------------------------

    def dense(self, vector: np.ndarray, k: int) -> Run:
        if self.empty() or k <= 0:
            return _EMPTY
        query = np.asarray(vector, dtype=np.float32)
        where, params = self._where()
        params.update(q=query, k=k)
        settings = self._searcher.params
        if self._size <= settings.exact_rows or not self._searcher.has_index:
            exact = sql.SQL(
                "SELECT row_id, 1 - (embedding <=> %(q)s) AS score FROM chunks WHERE {} "
                "AND embedding IS NOT NULL ORDER BY embedding <=> %(q)s, row_id LIMIT %(k)s"
            ).format(where)
            return _run(self._conn.execute(exact, params).fetchall())
        self._conn.execute(
            "SELECT set_config('hnsw.ef_search', %s, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true),"
            " set_config('hnsw.max_scan_tuples', %s, true)",
            (str(max(k, settings.ef_search)), str(settings.max_scan_tuples)),
        )
        # The index orders by the halfvec distance (approximate, relaxed); the outer query re-scores exactly.
        near = sql.SQL(
            "WITH near AS MATERIALIZED (SELECT row_id, embedding FROM chunks WHERE {where}"
            " ORDER BY embedding::halfvec({dim}) <=> %(q)s::halfvec({dim}) LIMIT %(k)s)"
            " SELECT row_id, 1 - (embedding <=> %(q)s) AS score FROM near ORDER BY score DESC, row_id"
        ).format(where=where, dim=sql.Literal(self._searcher.dim))
        found = self._conn.execute(near, params).fetchall()
        if self._fresh_above is not None:  # rows added since the graph was built, exactly (see 0004)
            params["fresh"] = self._fresh_above
            fresh = sql.SQL(
                "SELECT row_id, 1 - (embedding <=> %(q)s) AS score FROM chunks WHERE row_id > %(fresh)s"
                " AND {} AND embedding IS NOT NULL ORDER BY embedding <=> %(q)s, row_id LIMIT %(k)s"
            ).format(where)
            best: dict[int, float] = {int(r): float(score) for r, score in found}
            best.update((int(r), float(score)) for r, score in self._conn.execute(fresh, params).fetchall())
            found = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]
        return _run(found)

    # -- lexical -------------------------------------------------------------------------------------------

    def _frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Document frequencies of terms among the chunks the caller may read."""
        wanted = sorted(set(terms))
        if not wanted:
            return {}
        rows = self._conn.execute(
            "SELECT term, sum(df) FROM term_stats WHERE term = ANY(%s) AND acl_id = ANY(%s) GROUP BY term",
            (wanted, self._acls),
        ).fetchall()
        return {term: int(df) for term, df in rows if df > 0}

    def _idf(self, frequency: int) -> float:
        return float(np.log(1 + (self._size - frequency + 0.5) / (frequency + 0.5)))

    def lexical(self, query: str | dict[str, float], k: int) -> Run:
        if isinstance(query, str):
            weights: dict[str, float] = {}
            for token in tokenize(query):
                weights[token] = weights.get(token, 0.0) + 1.0  # a repeated query word counts again
        else:
            weights = {t: w for t, w in query.items() if w > 0}
        if self.empty() or k <= 0 or not weights:
            return _EMPTY
        frequencies = self._frequencies(weights)
        terms = sorted(frequencies)
        if not terms:
            return _EMPTY
        where, params = self._where()
        k1, b = self._searcher.params.k1, self._searcher.params.b
        params.update(
            terms=terms,
            w=[weights[t] * self._idf(frequencies[t]) for t in terms],
            k=k,
            k1=k1,
            norm0=k1 * (1 - b),
            norm1=k1 * b / self._avg_length,
        )
        if self._pack is not None and self._size >= self._searcher.params.pack_rows:
            return self._lexical_packed(self._pack, where, params)
        scored = sql.SQL("{bm25} JOIN postings USING (term) WHERE {where} {best}").format(
            bm25=_BM25, where=where, best=_BEST
        )
        return _run(self._conn.execute(scored, params).fetchall())

    def _lexical_packed(
        self, packed: tuple[int, int, int, bool], where: sql.Composable, params: dict[str, Any]
    ) -> Run:
        """BM25 summed in numpy over the pack's blocks of the readable access lists, with the rows above its
        watermark and its dead rows scored in SQL from ``postings``: the same scores as the SQL aggregate."""
        number, watermark, size, added = packed
        k: int = params["k"]
        weight_of = dict(zip(params["terms"], params["w"], strict=True))
        with self._conn.cursor(binary=True) as cur:
            blocks = cur.execute(
                "SELECT term, postings FROM lexical_blocks WHERE pack = %s AND term = ANY(%s)"
                " AND acl_id = ANY(%s)",
                (number, params["terms"], self._acls),
            ).fetchall()
        blocks.sort(key=lambda block: block[0])  # a fixed order of the sum
        scores = pack.score(((weight_of[t], b) for t, b in blocks), size, params["norm0"], params["norm1"])
        dead = self._conn.execute(
            "SELECT slot, row_id FROM lexical_dead WHERE pack = %s AND acl_id = ANY(%s)", (number, self._acls)
        ).fetchall()
        if dead:
            scores[np.asarray([d[0] for d in dead], dtype=np.int64)] = 0.0
        kept = self._doc_keys
        if kept is not None and (kept.keys or not kept.excluded):
            listed = np.asarray(
                [
                    r[0]
                    for r in self._conn.execute(
                        "SELECT slot FROM lexical_slots WHERE pack = %s AND doc_key = ANY(%s)",
                        (number, kept.keys),
                    )
                ],
                dtype=np.int64,
            )
            if kept.excluded:
                scores[listed] = 0.0
            else:
                allowed = np.zeros(size, dtype=bool)
                allowed[listed] = True
                scores[~allowed] = 0.0
        best = pack.top(scores, k)
        found: dict[int, float] = {}
        if len(best):
            rows: dict[int, int] = dict(
                self._conn.execute(
                    "SELECT slot, row_id FROM lexical_slots WHERE pack = %s AND slot = ANY(%s)",
                    (number, best.tolist()),
                ).fetchall()
            )
            found = {int(rows[int(s)]): float(scores[s]) for s in best}
        if not added and not dead:  # nothing of the reader's outside the pack
            return _run(sorted(found.items(), key=lambda item: pack.tie_key(*item)))
        params.update(mark=watermark, dead=sorted({int(d[1]) for d in dead}))
        fresh = sql.SQL(
            "{bm25} CROSS JOIN LATERAL ("
            " SELECT row_id, tf, length FROM postings WHERE term = q.term AND {where} AND row_id > %(mark)s"
            " UNION ALL"
            " SELECT row_id, tf, length FROM postings WHERE term = q.term AND {where}"
            " AND row_id = ANY(%(dead)s)) AS p {best}"
        ).format(bm25=_BM25, where=where, best=_BEST)
        found.update((int(r), float(v)) for r, v in self._conn.execute(fresh, params).fetchall())
        return _run(sorted(found.items(), key=lambda item: pack.tie_key(*item))[:k])

    # -- both at once --------------------------------------------------------------------------------------

    def hybrid(
        self, query: str | dict[str, float], vector: Callable[[], np.ndarray], k: int
    ) -> tuple[Run, Run]:
        """The lexical search runs on a second connection that imports this transaction's snapshot (so it
        reads exactly what the dense search reads, as the same reader) while ``vector`` encodes the query and
        the dense search runs here; a small reader, or a busy pool, gets both here, one after the other."""
        beside: Future[Run | None] | None = None
        if not self.empty() and k > 0 and self._size >= self._searcher.params.parallel_rows:
            snapshot = self._conn.execute("SELECT pg_export_snapshot()").fetchone()
            if snapshot is not None:
                beside = self._searcher.beside(str(snapshot[0]), self, lambda view: view.lexical(query, k))
        try:
            dense = self.dense(vector(), k)
            lexical = beside.result() if beside is not None else None
        except BaseException:
            if beside is not None:  # the second connection must be done with this snapshot before it ends
                wait([beside])
            raise
        return dense, lexical if lexical is not None else self.lexical(query, k)

    def twin(self, conn: psycopg.Connection) -> PgView:
        """This view on another connection (already in this view's snapshot, as the reader)."""
        return PgView(
            conn,
            self._searcher,
            self.groups,
            self._generation,
            self._acls,
            self._doc_keys,
            self._population,
            self._fresh_above,
            self._pack,
        )

    def expand(self, query: str, passages: Sequence[str], terms: int, weight: float) -> dict[str, float]:
        original = tokenize(query)
        weights: dict[str, float] = {}
        for token in original:
            weights[token] = weights.get(token, 0.0) + 1.0
        counts: dict[str, float] = {}
        for passage in passages:
            tokens = tokenize(passage)
            for token in tokens:
                counts[token] = counts.get(token, 0.0) + 1.0 / max(len(tokens), 1)
        frequencies = self._frequencies(t for t in counts if t not in weights)
        ranked = sorted(
            ((c * self._idf(frequencies[t]), t) for t, c in counts.items() if t in frequencies),
            reverse=True,
        )
        chosen = [(score, t) for score, t in ranked[:terms] if score > 0]
        total = sum(score for score, _ in chosen)
        for score, token in chosen:
            weights[token] = weight * len(original) * score / total
        return weights

    # -- reads ---------------------------------------------------------------------------------------------

    def vectors(self, rows: Sequence[int]) -> dict[int, np.ndarray]:
        if not rows or self.empty():
            return {}
        where, params = self._where()
        params["rows"] = list(rows)
        query = sql.SQL("SELECT row_id, embedding FROM chunks WHERE row_id = ANY(%(rows)s) AND {}").format(
            where
        )
        return {
            int(r): np.asarray(v.to_numpy(), dtype=np.float32)
            for r, v in self._conn.execute(query, params).fetchall()
            if v is not None
        }

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        if not rows or self.empty():
            return {}
        where, params = self._where()
        params["rows"] = list(rows)
        query = sql.SQL(
            "SELECT row_id, chunk_id, doc_id, ordinal, text, page, section, metadata FROM chunks"
            " WHERE row_id = ANY(%(rows)s) AND {}"
        ).format(where)
        return {
            int(r[0]): Chunk(r[1], r[2], r[3], r[4], r[5], r[6], r[7])
            for r in self._conn.execute(query, params).fetchall()
        }

    def documents(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        wanted = list(doc_ids)
        if not wanted or not self._acls:
            return {}
        query = sql.SQL("SELECT {} FROM documents WHERE doc_id = ANY(%s) AND acl_id = ANY(%s)")
        found = self._conn.execute(query.format(_DOCUMENT_COLUMNS), (wanted, self._acls)).fetchall()
        return {row[0]: document_of(row) for row in found}


def _doc_keys_size(key: tuple[object, ...], kept: DocFilter) -> int:
    return 256 + len(repr(key)) + 8 * len(kept.keys)


class PgSearcher:
    """Searches the PostgreSQL store in SQL; holds no state but a cache of filter results per generation.

    Example:
        >>> searcher = PgSearcher(shared(url), 384, "all-MiniLM-L6-v2", embed)  # doctest: +SKIP
        >>> with searcher.view(frozenset({"public"}), {}) as view:  # doctest: +SKIP
        ...     view.lexical("pad wear", 5)
    """

    kind = "postgres"

    def __init__(
        self,
        db: Database,
        dim: int,
        model_id: str,
        embed: Callable[[Sequence[str]], np.ndarray],
        params: PgSearchParams | None = None,
        store: Store | None = None,
    ) -> None:
        self.db = db
        self.store = store  # its own checks join verify()
        self.dim = dim
        self.model_id = model_id
        self.embed = embed
        self.params = params or PgSearchParams()
        self._lock = threading.Lock()
        self._filtered = SizedLRU[tuple[object, ...], DocFilter](256, 32 * 1024 * 1024, _doc_keys_size)
        self._packing: threading.Thread | None = None  # a background rebuild of the packed postings
        self._beside: ThreadPoolExecutor | None = None  # lexical searches beside dense ones (PgView.hybrid)
        self.has_index = self._ensure_index()
        stored = self._stored_model()
        if stored is not None and stored != model_id:
            raise ConfigError(
                f"the PostgreSQL store's passages are embedded with {stored}, the configured model is "
                f"{model_id}: set EKA_EMBEDDING_MODEL back, or run `eka index rebuild` to re-embed"
            )

    def _stored_model(self) -> str | None:
        with self.db.connection() as conn:
            row = conn.execute("SELECT model_id FROM store_state").fetchone()
        return row[0] if row else None

    def _ensure_index(self) -> bool:
        """Create the HNSW index for this dimension if it is missing and the store is small (as the tables'
        owner, when the login role is); returns whether it exists."""
        name = index_name(self.dim)
        with self.db.connection() as conn:
            if _index_exists(conn, name):
                return True
            limit = self.params.build_rows
            rows = conn.execute(
                "SELECT count(*) FROM (SELECT FROM chunks LIMIT %s) AS c", (limit + 1,)
            ).fetchone()
            if rows is not None and rows[0] > limit:
                log.warning(
                    "no HNSW index %s over more than %d chunks: dense search scans exactly until"
                    " `eka index rebuild` builds it",
                    name,
                    limit,
                )
                return False
            try:
                conn.execute("RESET ROLE")
                # Tried, not waited for: waiting here while another process builds the index concurrently
                # (`eka index rebuild`) is a deadlock, since that build waits for this transaction to end.
                locked = conn.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s))", (name,)).fetchone()
                if not locked or not locked[0]:
                    conn.rollback()
                    log.info("another process is building %s: dense search scans exactly meanwhile", name)
                    return False
                memory = self.params.build_memory
                conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (memory,))
                create = sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON chunks USING hnsw"
                    " ((embedding::halfvec({})) halfvec_cosine_ops) WITH (m = {}, ef_construction = {})"
                )
                conn.execute(create.format(sql.Identifier(name), sql.Literal(self.dim), *self._graph()))
                conn.execute(
                    "UPDATE store_state SET dense_watermark = coalesce((SELECT max(row_id) FROM chunks), 0)"
                )
                conn.commit()
                return True
            except psycopg.Error as err:
                conn.rollback()
                log.warning("no HNSW index %s (%s): dense search scans exactly", name, err)
                return False
            finally:
                _set_service_role(conn)

    def _graph(self) -> tuple[sql.Literal, sql.Literal]:
        """The HNSW build parameters, as SQL literals."""
        return sql.Literal(int(self.params.hnsw_m)), sql.Literal(int(self.params.ef_construction))

    def drop_index(self) -> None:
        """Drop the HNSW index (before a bulk load: building it once afterwards, by `rebuild`, is far faster
        than inserting every row into the graph; searches meanwhile scan exactly)."""
        with self.db.connection() as conn:
            conn.execute("RESET ROLE")
            conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(index_name(self.dim))))
            conn.commit()
            _set_service_role(conn)
        self.has_index = False

    def _replace_index(self) -> None:
        """Build the HNSW index afresh beside the one searches use (``CREATE INDEX CONCURRENTLY``: searches
        and writes go on meanwhile), then swap it in, in one short transaction. A second rebuild at the same
        time is refused."""
        name = index_name(self.dim)
        building = f"{name}_new"
        create = sql.SQL(
            "CREATE INDEX CONCURRENTLY {} ON chunks USING hnsw"
            " ((embedding::halfvec({})) halfvec_cosine_ops) WITH (m = {}, ef_construction = {})"
        ).format(sql.Identifier(building), sql.Literal(self.dim), *self._graph())
        with self.db.connection() as conn:
            conn.commit()
            conn.autocommit = True
            try:
                conn.execute("RESET ROLE")
                # Session-level and tried, not waited for: a session waiting here would hold a snapshot that
                # the concurrent build in the session holding the lock waits for.
                locked = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (name,)).fetchone()
                if not locked or not locked[0]:
                    raise ConfigError(f"another process is building the HNSW index {name}: try again later")
                try:
                    mark = conn.execute("SELECT coalesce(max(row_id), 0) FROM chunks").fetchone()
                    memory = self.params.build_memory
                    conn.execute("SELECT set_config('maintenance_work_mem', %s, false)", (memory,))
                    # An invalid leftover of an interrupted rebuild.
                    conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(building)))
                    conn.execute(create)
                    with conn.transaction():
                        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(name)))
                        conn.execute(
                            sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                                sql.Identifier(building), sql.Identifier(name)
                            )
                        )
                        conn.execute("UPDATE store_state SET dense_watermark = %s", (mark[0] if mark else 0,))
                finally:
                    conn.execute("RESET maintenance_work_mem")
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
            finally:
                conn.autocommit = False
                _set_service_role(conn)
        self.has_index = True

    def beside(self, snapshot: str, view: PgView, work: Callable[[PgView], Run]) -> Future[Run | None]:
        """Run ``work`` on ``view``'s twin on another pooled connection, in the exported ``snapshot``, in a
        thread; the future's result is None when no connection was free at once (the caller does the work
        itself: waiting for a second connection while holding one could exhaust the pool)."""
        with self._lock:
            if self._beside is None:
                self._beside = ThreadPoolExecutor(self.db.pool.max_size, thread_name_prefix="eka-beside")
            executor = self._beside

        def run() -> Run | None:
            pool = self.db.pool
            try:
                conn = pool.getconn(timeout=BESIDE_WAIT_S)
            except PoolTimeout:
                return None
            try:
                with conn.transaction():
                    conn.execute(_joining(snapshot, view.groups))
                    return work(view.twin(conn))
            finally:
                pool.putconn(conn)

        return executor.submit(run)

    @contextmanager
    def view(self, groups: frozenset[str], filters: Filters) -> Iterator[PgView]:
        with self.db.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            # Still as the service role: the highest row id of all chunks is one step down the primary key.
            # Under the reader's row-level security, max() walks back until a readable row, which for a
            # caller who reads nothing is the whole table. (The row id only decides whether rows added since
            # the HNSW build are also scanned exactly; the results stay the caller's own.)
            row = conn.execute(
                "SELECT generation, dense_watermark, (SELECT max(row_id) FROM chunks), lexical_pack,"
                " lexical_watermark, lexical_slots FROM store_state"
            ).fetchone()
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(READER_ROLE)))
            # No JIT: the planner estimates a posting list from unnest() at a few hundred rows, so a query's
            # cost says nothing about a common term's 100,000 postings; compiling costs tens of ms when it
            # triggers, and these statements run in milliseconds.
            conn.execute(
                "SELECT set_config('eka.groups', %s::text[]::text, true), set_config('jit', 'off', true)",
                (sorted(groups),),
            )
            generation = int(row[0]) if row else 0
            fresh_above = None
            if row is not None and row[2] is not None and 0 < row[2] - row[1] <= self.params.fresh_rows:
                fresh_above = int(row[1])
            acls = [
                int(r[0])
                for r in conn.execute(
                    "SELECT acl_id FROM acls WHERE groups && %s::text[] ORDER BY acl_id",
                    (sorted(groups),),
                ).fetchall()
            ]
            stats = conn.execute(
                "SELECT coalesce(sum(chunks), 0), coalesce(sum(tokens), 0) FROM acl_stats"
                " WHERE acl_id = ANY(%s)",
                (acls,),
            ).fetchone()
            population = (int(stats[0]), int(stats[1])) if stats else (0, 0)
            doc_keys = self._doc_keys(conn, generation, groups, acls, filters) if filters else None
            packed = None
            if row is not None and row[3]:
                # (pack, watermark, slots, whether rows were added above the watermark)
                packed = (int(row[3]), int(row[4]), int(row[5]), row[2] is not None and row[2] > row[4])
            yield PgView(conn, self, groups, generation, acls, doc_keys, population, fresh_above, packed)

    def _doc_keys(
        self,
        conn: psycopg.Connection,
        generation: int,
        groups: frozenset[str],
        acls: list[int],
        filters: Filters,
    ) -> DocFilter:
        """The readable documents matching ``filters`` (the embedded backend's matching rules, exactly)."""
        key = (generation, groups, tuple(sorted(filters.items())))
        with self._lock:
            cached = self._filtered.get(key) if key in self._filtered else None
        if cached is not None:
            return cached
        query = sql.SQL("SELECT doc_key, {} FROM documents WHERE acl_id = ANY(%s)").format(_DOCUMENT_COLUMNS)
        rows = conn.execute(query, (acls,)).fetchall()
        kept: list[int] = []
        dropped: list[int] = []
        for row in rows:
            (kept if matches(document_of(row[1:]), filters) else dropped).append(int(row[0]))
        result = DocFilter(sorted(kept)) if len(kept) <= len(dropped) else DocFilter(sorted(dropped), True)
        with self._lock:
            self._filtered.put(key, result)
        return result

    def refresh(self) -> None:
        """Every query reads the committed state; this only starts a rebuild of the packed postings in the
        background when too many rows have changed since the pack was built (:meth:`stale_rows`)."""
        try:
            if not self.has_index:  # built by another process since (see _ensure_index)?
                with self.db.connection() as conn:
                    self.has_index = _index_exists(conn, index_name(self.dim))
            stale = self.stale_rows()
        except psycopg.Error as err:  # searches report the outage themselves; the pack can wait
            log.warning("could not check the lexical pack: %s", err)
            return
        if stale > self.params.repack_rows:
            with self._lock:
                if self._packing is not None and self._packing.is_alive():
                    return
                self._packing = threading.Thread(target=self._repack_quietly, name="eka-lexical-pack")
                self._packing.start()

    def stale_rows(self) -> int:
        """Rows a search reads from ``postings`` rather than the pack (0 when the store is too small for a
        pack): rows above the pack's watermark (at most) and its dead rows."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT lexical_pack, (SELECT coalesce(sum(chunks), 0) FROM acl_stats),"
                " (SELECT coalesce(max(row_id), 0) FROM chunks) - lexical_watermark,"
                " (SELECT count(DISTINCT slot) FROM lexical_dead WHERE pack = lexical_pack) FROM store_state"
            ).fetchone()
        if row is None or row[1] < self.params.pack_rows:
            return 0
        return int(row[1]) if not row[0] else int(row[2]) + int(row[3])

    def repack(self) -> pack.Built | None:
        """Build the packed postings afresh and switch searches to them (None: another process is building,
        or the store is too small for a pack)."""
        with self.db.connection() as conn:
            chunks = conn.execute("SELECT coalesce(sum(chunks), 0) FROM acl_stats").fetchone()
            if not chunks or chunks[0] < self.params.pack_rows:
                return None
            locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (pack.PACK_LOCK_KEY,)).fetchone()
            conn.commit()
            if not locked or not locked[0]:
                return None
            try:
                started = time.perf_counter()
                built = pack.build(conn)
                conn.commit()
                if not pack.switch(conn, built):
                    return None
                log.info(
                    "lexical pack %d: %d rows up to row %d in %.1f s",
                    built.pack,
                    built.slots,
                    built.watermark,
                    time.perf_counter() - started,
                )
                return built
            finally:
                conn.rollback()
                conn.execute("SELECT pg_advisory_unlock(%s)", (pack.PACK_LOCK_KEY,))
                conn.commit()

    def _repack_quietly(self) -> None:
        try:
            self.repack()
        except psycopg.Error as err:  # the searches stay right without it; the next refresh tries again
            log.warning("rebuilding the lexical pack failed: %s", err)

    def maintain(self) -> None:
        """``VACUUM ANALYZE`` the tables searches read and rebuild the packed postings: after a bulk load,
        so the planner knows their sizes and the postings' visibility map lets every term lookup be an
        index-only scan (autovacuum does the same on its own schedule)."""
        if self._packing is not None:
            self._packing.join()
        if self.stale_rows():  # a rebuild that just finished in the background is enough
            self.repack()
        with self.db.connection() as conn:
            conn.commit()
            conn.autocommit = True
            try:
                for table in (
                    "chunks",
                    "postings",
                    "term_stats",
                    "acl_stats",
                    "documents",
                    "lexical_slots",
                    "lexical_blocks",
                    "lexical_dead",
                ):
                    conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))
            finally:
                conn.autocommit = False

    def sizes(self) -> dict[str, dict[str, int]]:
        """Bytes on disk of every table of the schema: the table with its TOAST data, and its indexes."""
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY c.relname"
            ).fetchall()
        return {name: {"table": int(table), "indexes": int(indexes)} for name, table, indexes in rows}

    def verify(self) -> list[str]:
        """The store's own checks (postings and statistics against the chunks, among others) and the dense
        side's: every chunk has a vector of the configured model and dimension, and the HNSW index exists."""
        problems: list[str] = self.store.check() if self.store is not None else []
        with self.db.connection() as conn:
            stored = conn.execute("SELECT model_id FROM store_state").fetchone()
            if stored and stored[0] is not None and stored[0] != self.model_id:
                problems.append(f"dense: passages embedded with {stored[0]}, configured is {self.model_id}")
            missing = conn.execute("SELECT count(*) FROM chunks WHERE embedding IS NULL").fetchone()
            if missing and missing[0]:
                problems.append(f"dense: {missing[0]} chunks have no vector")
            wrong = conn.execute(
                "SELECT count(*) FROM chunks WHERE embedding IS NOT NULL AND vector_dims(embedding) <> %s",
                (self.dim,),
            ).fetchone()
            if wrong and wrong[0]:
                problems.append(f"dense: {wrong[0]} vectors are not {self.dim}-dimensional")
            if not _index_exists(conn, index_name(self.dim)):
                problems.append(f"dense: no HNSW index {index_name(self.dim)} (searches scan exactly)")
            problems.extend(_check_pack(conn))
        return problems

    def rebuild(self) -> dict[str, int]:
        """Re-embed chunks whose vector is missing or of another model (from the cache when it has them),
        rebuild the HNSW index and refresh the planner's statistics."""
        with self.db.connection() as conn:
            stored = conn.execute("SELECT model_id FROM store_state").fetchone()
            everything = not stored or stored[0] != self.model_id
            rows = conn.execute(
                "SELECT c.row_id, c.embed_hash, d.title, c.section, c.text FROM chunks c"
                " JOIN documents d USING (doc_id) WHERE %s OR c.embedding IS NULL ORDER BY c.row_id",
                (everything,),
            ).fetchall()
        from assistant.passages import passage_text  # local: only the rebuild needs it

        done = 0
        for start in range(0, len(rows), 512):
            batch = rows[start : start + 512]
            hashes = [r[1] for r in batch]
            with self.db.connection() as conn:
                cached = {
                    h: np.asarray(v.to_numpy(), dtype=np.float32)
                    for h, v in conn.execute(
                        "SELECT text_hash, vector FROM embeddings"
                        " WHERE model_id = %s AND text_hash = ANY(%s)",
                        (self.model_id, hashes),
                    ).fetchall()
                }
            todo = [r for r in batch if r[1] not in cached]
            if todo:
                vectors = self.embed([passage_text(r[2], r[3], r[4]) for r in todo])
                for r, v in zip(todo, vectors, strict=True):
                    cached[r[1]] = np.asarray(v, dtype=np.float32)
            with self.db.connection() as conn, conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO embeddings (model_id, text_hash, vector) VALUES (%s, %s, %s)"
                    " ON CONFLICT DO NOTHING",
                    [(self.model_id, r[1], np.asarray(cached[r[1]], dtype=np.float32)) for r in todo],
                )
                cur.executemany(
                    "UPDATE chunks SET embedding = %s WHERE row_id = %s",
                    [(np.asarray(cached[r[1]], dtype=np.float32), r[0]) for r in batch],
                )
            done += len(batch)
        with self.db.connection() as conn:
            conn.execute("UPDATE store_state SET model_id = %s", (self.model_id,))
            counts = conn.execute("SELECT count(*), count(embedding) FROM chunks").fetchone()
        self._replace_index()
        self.maintain()
        log.info("re-embedded %d chunks", done)
        total, dense = counts if counts else (0, 0)
        return {"dense": int(dense), "lexical": int(total)}


def _joining(snapshot: str, groups: frozenset[str]) -> sql.Composed:
    """The statements that put a connection's new transaction into an exported snapshot as the reader with
    ``groups`` (as PgSearcher.view does for its own), in one round trip."""
    return sql.SQL(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET TRANSACTION SNAPSHOT {};"
        " SET LOCAL ROLE {}; SELECT set_config('eka.groups', {}::text[]::text, true),"
        " set_config('jit', 'off', true)"
    ).format(sql.Literal(snapshot), sql.Identifier(READER_ROLE), sql.Literal(sorted(groups)))


def _index_exists(conn: psycopg.Connection, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
    return row is not None and row[0] is not None


def _check_pack(conn: psycopg.Connection) -> list[str]:
    """The pack searches use against the store: its slot count, its blocks' sizes, and its postings (those
    of live rows) against ``postings``."""
    state = conn.execute("SELECT lexical_pack, lexical_watermark, lexical_slots FROM store_state").fetchone()
    if state is None or not state[0]:
        return []
    number, watermark, size = (int(v) for v in state)
    problems = []
    found = conn.execute("SELECT count(*) FROM lexical_slots WHERE pack = %s", (number,)).fetchone()
    if not found or found[0] != size:
        problems.append(f"lexical pack {number}: {found[0] if found else 0} slots, store_state says {size}")
    counts = conn.execute(
        "SELECT count(*) FILTER (WHERE mod(length(postings), %s) <> 0), coalesce(sum(length(postings)), 0)"
        " FROM lexical_blocks WHERE pack = %s",
        (pack.POSTING_BYTES, number),
    ).fetchone()
    if counts and counts[0]:
        problems.append(f"lexical pack {number}: {counts[0]} blocks of a size that is not whole postings")
    # Postings of rows that are neither dead nor gone: the pack holds exactly these (and those of the
    # dead and deleted rows, which searches skip).
    live = conn.execute(
        "SELECT count(*) FROM postings p JOIN lexical_slots s ON s.pack = %s AND s.row_id = p.row_id"
        " WHERE p.row_id <= %s AND NOT EXISTS (SELECT 1 FROM lexical_dead d WHERE d.pack = %s"
        " AND d.slot = s.slot)",
        (number, watermark, number),
    ).fetchone()
    missing = conn.execute(
        "SELECT count(*) FROM chunks c WHERE c.row_id <= %s AND NOT EXISTS (SELECT 1 FROM lexical_slots s"
        " WHERE s.pack = %s AND s.row_id = c.row_id)",
        (watermark, number),
    ).fetchone()
    if missing and missing[0]:
        problems.append(f"lexical pack {number}: {missing[0]} chunk rows below its watermark are not in it")
    packed = int(counts[1]) // pack.POSTING_BYTES if counts else 0
    if live and live[0] > packed:
        problems.append(
            f"lexical pack {number}: {packed} postings, fewer than the {live[0]} of its live rows"
        )
    return problems


def _set_service_role(conn: psycopg.Connection) -> None:
    """Back to the service role after an owner-only statement (see assistant/pg/db.py)."""
    from assistant.pg.db import SERVICE_ROLE

    member = conn.execute(
        "SELECT pg_has_role(session_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s", (SERVICE_ROLE,)
    ).fetchone()
    if member and member[0]:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(SERVICE_ROLE)))
    conn.commit()

"""``eka bench scale``: how eka behaves with 10k, 100k or 1M chunks on one machine.

For each size it writes a synthetic corpus of Markdown files, ingests it through the public ingest path
(``Ingestor.run``: discovery, sidecars, parser processes, chunking, the store, the derived indexes) and then
measures what a user and an operator see:

- **build**: time to write the corpus, to ingest it, to build the indexes; disk size of the corpus, the store
  and the index files; peak resident memory during the build;
- **steady state**: resident memory with the indexes loaded and the model warm; on PostgreSQL the server's
  settings (``shared_buffers`` is sized by eval, see ``eval/pg.py``) and the relations searches read loaded
  into its buffer pool (``pg_prewarm``), as in a server that has been running;
- **search latency** p50/p95 per mode (hybrid is the shipped default) and per reader: one who reads 1 %,
  10 % and 100 % of the documents, and the 100 % reader with a metadata filter that matches 99 %. Every
  timed search embeds its question afresh (the recent-query cache is emptied first), as a new question does;
- **dense recall@10** of the index against exact search, per reader (1.0 by construction while the index is
  exact);
- **upload to searchable**: a 10-chunk document uploaded (``Ingestor.run_file``, what ``POST /v1/documents``
  does, real embedding included), then the time from the upload's return until a search finds it, and the
  peak resident memory during that update against the steady state;
- **QPS** through ``eka serve --workers N`` at concurrency 1 and 8 (``--qps``).

**The corpus.** Text and vectors are realistic without hours of encoding. A *pool* of real passages (the
chunks of ``--pool``, by default the bundled samples) is ingested once with the real model; its texts and
vectors are the raw material. Document ``ENG-000123`` has 100 sections; section ``s`` takes the pool passage
chosen by a hash of ``(123, s)``, with every number in it rolled afresh, and the document gets an invented
brand, model code and document type. Each chunk's vector is its pool passage's real vector plus Gaussian
noise (cosine ≈ 0.89 to it) seeded by the chunk's text: the vectors cluster the way real ones do and no
two are equal. :class:`PoolEmbedder` supplies them through the ``embedder`` seam of the composition root;
every other text (questions, uploads) is embedded by the real model. Access lists: every document is
readable by ``staff``, every 10th also by ``tenth``, every 100th also by ``hundredth``; 99 % of the
documents have ``brand: Kestrel``.

Stores are kept under ``--work`` and reused by the next run (``--rebuild`` builds afresh); the build numbers
are those of the run that built it. Results go to ``--out``: ``report.json``, ``report.md`` and
``scale.png`` (latency against size).

Usage:
    eka bench scale --chunks 10000 100000 1000000 --out eval-out/scale --work /tmp/eka-scale [--qps]
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import math
import os
import re
import shutil
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np

from assistant.app import Assistant, build_assistant
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder, model_spec
from assistant.index.dense import FLAT_KIND, FaissIndex
from assistant.pg.search import PgSearcher
from assistant.types import SECTION_SEPARATOR, Principal
from eval.bench import cpu, throughput
from eval.pg import eval_database, prewarm, server_settings
from ingest.pipeline import Ingestor

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = 100  # sections (and so chunks) per document
NOISE = 0.5  # norm of the noise added to a unit pool vector: cosine to it ≈ 1 / sqrt(1 + 0.25) = 0.89
DOC_NUMBER = re.compile(r"ENG-(\d{6})")
SECTION_NUMBER = re.compile(r"^(\d{1,3})\. ")
BRANDS = ("Kestrel", "Aurelis")
MODELS = ("KX", "TR", "VL", "MB", "QS", "RN")
DOC_TYPES = (
    "design specification",
    "test report",
    "service manual",
    "validation plan",
    "supplier standard",
    "failure analysis",
)
READERS = {
    "1%": Principal.of("bench-1", ["hundredth"]),
    "10%": Principal.of("bench-10", ["tenth"]),
    "100%": Principal.of("bench-100", ["staff"]),
}
FILTER_99: dict[str, tuple[str, ...]] = {"brand": ("Kestrel",)}
MODES = ("hybrid", "dense", "lexical")


# -- the pool of real passages ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """Real passages (one paragraph each, short enough for one chunk with a heading) and their vectors."""

    headings: list[str]
    texts: list[str]
    vectors: np.ndarray

    @cached_property
    def by_heading(self) -> dict[str, int]:
        """The index of a pool passage by its heading (the last passage of those that share one)."""
        return {h: i for i, h in enumerate(self.headings)}

    def pick(self, doc_no: int, section: int) -> int:
        """The pool passage of a document's section (a stable hash: writer and embedder agree)."""
        digest = hashlib.blake2b(f"{doc_no}:{section}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "little") % len(self.texts)


def default_pool() -> list[Path]:
    """The bundled samples and, when this checkout sits beside it, the engineering-docs corpus."""
    shared = ROOT.parent / "shared" / "data" / "engineering-docs"
    return [ROOT / "samples", *([shared] if shared.is_dir() else [])]


def load_pool(corpus: Sequence[Path], work: Path, embedder: SentenceTransformerEmbedder) -> Pool:
    """Ingest ``corpus`` (once; the store under ``work/pool`` is reused) and read its chunks and vectors."""
    settings = Settings(home=work / "pool", _env_file=None)  # type: ignore[call-arg]
    assistant = build_assistant(settings, embedder)
    try:
        Ingestor(assistant).run(list(corpus))
        if not assistant.store.counts()["chunks"]:
            raise RuntimeError(f"the pool corpus {corpus} gave no chunks")
        counter = assistant.token_counter()
        budget = settings.chunk_tokens - 24  # room for a heading and numbers that tokenise longer
        headings, texts, vectors = [], [], []
        for stored in assistant.store.documents():
            chunks = assistant.store.chunks_of(stored.document.doc_id)
            found = assistant.store.chunk_vectors(embedder.model_id, [c.chunk_id for c in chunks])
            for chunk in chunks:
                words = _MARKUP.sub(" ", _printable(chunk.text)).split()
                if len(words) < 12 or chunk.chunk_id not in found:
                    continue
                while counter(" ".join(words)) > budget:
                    words = words[: int(len(words) * 0.85)]
                heading = _MARKUP.sub(" ", (chunk.section or "").split(SECTION_SEPARATOR)[-1]).split()
                headings.append(" ".join(heading[:8] or words[:5]))
                texts.append(" ".join(words))
                vectors.append(found[chunk.chunk_id])
        return Pool(headings, texts, np.vstack(vectors).astype(np.float32))
    finally:
        assistant.close()


def _printable(text: str) -> str:
    """Without control characters and replacement marks (PDF text has some; a text file must not)."""
    return "".join(c if c.isprintable() and c != "\ufffd" else " " for c in text)


def _noisy(base: np.ndarray, seed: int) -> np.ndarray:
    """``base`` plus Gaussian noise of norm ``NOISE`` seeded by ``seed``, normalised."""
    noise = np.asarray(np.random.default_rng(seed).standard_normal(base.shape[0]), dtype=np.float32)
    vector = base + NOISE * noise / np.linalg.norm(noise)
    return np.asarray(vector / np.linalg.norm(vector), dtype=np.float32)


class PoolEmbedder(SentenceTransformerEmbedder):
    """The real model for queries and for any other text; pool vectors plus noise for synthetic passages.

    A synthetic passage is recognised by its document number (``ENG-000123`` in the title) and its section
    number (``17. ...``, the innermost heading); anything else goes to the model.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__(model_spec(settings.embedding_model), settings.device, settings.embed_batch_size)
        self.pool: Pool | None = None  # until it is set, every passage goes to the model
        self.synthetic = 0  # synthetic passages given pool vectors
        self.headings = 0  # synthetic section headings given pool vectors

    def _pool_vector(self, passage: str) -> np.ndarray | None:
        if self.pool is None:
            return None
        seed = int.from_bytes(hashlib.blake2b(passage.encode(), digest_size=8).digest(), "little")
        if "\n" not in passage and (numbered := SECTION_NUMBER.match(passage)):
            # A synthetic section heading ("17. <a pool passage's heading>"), which ingest embeds for the
            # heading reranker: the vector of the pool passage with that heading, plus noise.
            index = self.pool.by_heading.get(passage[numbered.end() :])
            if index is None:
                return None
            self.headings += 1
            return _noisy(self.pool.vectors[index], seed)
        head = passage.split("\n", 1)[0]
        doc = DOC_NUMBER.search(head)
        section = SECTION_NUMBER.match(head.rsplit(SECTION_SEPARATOR, 1)[-1].rsplit(" | ", 1)[-1])
        if doc is None:
            return None
        # A chunk without its section number (a parser's choice) still gets a pool vector, by its text.
        number = int(section.group(1)) if section is not None else SECTIONS + 1 + seed % 997
        self.synthetic += 1
        return _noisy(self.pool.vectors[self.pool.pick(int(doc.group(1)), number)], seed)

    def embed_passages(
        self, texts: Sequence[str], progress: Callable[[int], Any] | None = None
    ) -> np.ndarray:
        """Pool vectors for synthetic passages, the model for the rest (in the order given)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        real: list[int] = []
        for i, text in enumerate(texts):
            vector = self._pool_vector(text)
            if vector is None:
                real.append(i)
            else:
                out[i] = vector
        if real:
            out[real] = super().embed_passages([texts[i] for i in real])
        if progress is not None:
            progress(len(texts))
        return out


# -- the synthetic corpus -----------------------------------------------------------------------------------


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_MARKUP = re.compile(r"[#|*_`>]+")  # Markdown that would turn a pool passage into headings or tables


def _reroll(text: str, rng: np.random.Generator) -> str:
    """Every number replaced by a random one of the same shape (digits before and after the point)."""

    def one(match: re.Match[str]) -> str:
        whole, _, frac = match.group(0).partition(".")
        lead = str(rng.integers(1, 10)) if len(whole) > 1 else ""
        rest = "".join(str(d) for d in rng.integers(0, 10, len(whole) - len(lead)))
        tail = "." + "".join(str(d) for d in rng.integers(0, 10, len(frac))) if frac else ""
        return lead + rest + tail

    return _NUMBER.sub(one, text)


def document_text(pool: Pool, doc_no: int) -> tuple[str, dict[str, str]]:
    """The Markdown of document ``doc_no`` and its sidecar fields."""
    rng = np.random.default_rng(doc_no)
    brand = BRANDS[1] if doc_no % 100 == 1 else BRANDS[0]
    title = (
        f"{brand} {MODELS[doc_no % len(MODELS)]}-{rng.integers(1000, 9999)} "
        f"{DOC_TYPES[doc_no % len(DOC_TYPES)]} ENG-{doc_no:06d}"
    )
    parts = [f"# {title}\n"]
    for s in range(1, SECTIONS + 1):
        p = pool.pick(doc_no, s)
        parts.append(f"## {s}. {pool.headings[p]}\n\n{_reroll(pool.texts[p], rng)}\n")
    acl = ["staff"] + (["tenth"] if doc_no % 10 == 0 else []) + (["hundredth"] if doc_no % 100 == 0 else [])
    fields = {
        "acl": "[" + ", ".join(acl) + "]",
        "brand": brand,
        "doc_type": DOC_TYPES[doc_no % len(DOC_TYPES)],
    }
    return "\n".join(parts), fields


def write_document(folder: Path, pool: Pool, doc_no: int) -> int:
    """Write document ``doc_no`` and its sidecar into ``folder``; the bytes written."""
    text, fields = document_text(pool, doc_no)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"eng-{doc_no:06d}.md"
    path.write_text(text, encoding="utf-8")
    sidecar = "".join(f"{k}: {v}\n" for k, v in fields.items())
    path.with_name(path.name + ".meta.yaml").write_text(sidecar, encoding="utf-8")
    return len(text.encode()) + len(sidecar)


def write_corpus(folder: Path, documents: int, pool: Pool) -> int:
    """Write ``documents`` Markdown files with sidecars (1,000 per folder); the bytes written."""
    return sum(write_document(folder / f"{d // 1000:04d}", pool, d) for d in range(documents))


# -- measuring ----------------------------------------------------------------------------------------------


def rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@contextmanager
def peak_rss(every: float = 0.005) -> Iterator[dict[str, float]]:
    """Sample resident memory on a thread while the block runs; ``["peak_mb"]`` afterwards."""
    out = {"peak_mb": rss_mb()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            out["peak_mb"] = max(out["peak_mb"], rss_mb())
            stop.wait(every)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()
        out["peak_mb"] = max(out["peak_mb"], rss_mb())


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20 if path.exists() else 0.0


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[math.ceil(0.95 * len(ordered)) - 1] * 1000, 1),
        "n": len(ordered),
    }


def questions(limit: int) -> list[str]:
    """Real engineering questions: the samples' and, when present, engdocs-dev's (interleaved)."""
    lists = []
    for path in (ROOT / "samples" / "questions.jsonl", ROOT.parent / "shared" / "eval" / "engdocs-dev.jsonl"):
        if path.exists():
            lines = path.read_text(encoding="utf-8").splitlines()
            lists.append([json.loads(line)["question"] for line in lines if line.strip()])
    mixed = [q for group in zip(*lists, strict=False) for q in group] if len(lists) > 1 else lists[0]
    return mixed[:limit]


def search_latency(assistant: Assistant, asked: list[str]) -> list[dict[str, Any]]:
    """p50/p95 of ``Retriever.search`` (k=10) per mode and reader, each question embedded afresh."""
    cases: list[tuple[str, str, dict[str, tuple[str, ...]] | None]] = [
        (mode, reader, None) for mode in MODES for reader in READERS
    ]
    cases.append(("hybrid", "100%", FILTER_99))
    for question in asked[:3]:  # warm-up: code paths, allowed-row masks
        for mode, reader, filters in cases:
            assistant.retriever.search(question, READERS[reader], 10, mode, filters)  # type: ignore[arg-type]
    rows = []
    for mode, reader, filters in cases:
        took = []
        for question in asked:
            assistant.embedder.forget_queries()
            started = time.perf_counter()
            assistant.retriever.search(question, READERS[reader], 10, mode, filters)  # type: ignore[arg-type]
            took.append(time.perf_counter() - started)
        label = f"{reader} + filter 99%" if filters else reader
        rows.append({"mode": mode, "reader": label, **_percentiles(took)})
    return rows


def _allowed(assistant: Assistant) -> dict[str, np.ndarray]:
    rowids, doc_ids = assistant.store.row_documents()
    acls = {s.document.doc_id: s.document.acl for s in assistant.store.documents()}
    out = {}
    for label, reader in READERS.items():
        readable = {d for d, acl in acls.items() if acl & reader.groups}
        out[label] = np.sort(rowids[np.fromiter((d in readable for d in doc_ids), bool, len(doc_ids))])
    return out


def dense_recall(assistant: Assistant, asked: list[str]) -> dict[str, float]:
    """Recall@10 of the dense index against an exact scan of the same vectors, per reader."""
    if isinstance(assistant.searcher, PgSearcher):
        return _pg_dense_recall(assistant.searcher, asked, assistant.embedder)
    dense = assistant.embedded_indexes().current().dense
    if dense.kind == FLAT_KIND:
        return dict.fromkeys(READERS, 1.0)
    exact = FaissIndex.build(*dense.live_vectors())
    vectors = assistant.embedder.embed_queries(asked)
    out = {}
    for label, allowed in _allowed(assistant).items():
        found = [
            len(set(dense.search(v, 10, allowed)[0].tolist()) & set(exact.search(v, 10, allowed)[0].tolist()))
            / max(1, min(10, len(allowed)))
            for v in vectors
        ]
        out[label] = round(float(np.mean(found)), 4)
    return out


def _pg_dense_recall(
    searcher: PgSearcher, asked: list[str], embedder: SentenceTransformerEmbedder
) -> dict[str, float]:
    """Recall@10 of PostgreSQL's dense search (HNSW above ``exact_rows``) against its exact scan."""
    exact = PgSearcher(searcher.db, searcher.dim, searcher.model_id, searcher.embed, searcher.params)
    exact.has_index = False  # the same queries, scanning every allowed row
    vectors = embedder.embed_queries(asked)
    out = {}
    for label, reader in READERS.items():
        found = []
        for vector in vectors:
            with searcher.view(reader.groups, {}) as view:
                approximate = set(view.dense(vector, 10)[0].tolist())
            with exact.view(reader.groups, {}) as view:
                truth = set(view.dense(vector, 10)[0].tolist())
            found.append(len(approximate & truth) / max(1, len(truth)))
        out[label] = round(float(np.mean(found)), 4)
    return out


def upload_to_searchable(assistant: Assistant, folder: Path, uploads: int) -> dict[str, Any]:
    """Upload 10-chunk documents one by one; time each until a search finds it, and the memory it took."""
    folder.mkdir(parents=True, exist_ok=True)
    ingestor = Ingestor(assistant)
    calls, after, peaks = [], [], []
    steady = rss_mb()
    for u in range(uploads):
        marker = f"zqupload{time.time_ns() % 10**9}x{u}"
        path = folder / f"upload-{marker}.md"
        body = "\n".join(
            f"## {s}. Bench upload step {s}\n\nThe {marker} fixture torque for step {s} is {20 + s} Nm "
            f"on the left and right mounts, checked after a {s * 5} km road test.\n"
            for s in range(1, 11)
        )
        path.write_text(f"# Uploaded note {marker}\n\n{body}", encoding="utf-8")
        with peak_rss() as memory:
            started = time.perf_counter()
            report = ingestor.run_file(path, f"uploads/bench/{path.name}", acl=["staff"], owner="bench")
            returned = time.perf_counter()
            if not report.ok:
                raise RuntimeError(f"upload failed: {report.to_json()}")
            deadline = returned + 60
            # Found: among the five hits a reader sees. Earlier runs' uploads in the same store are near
            # copies, so the first place can be a tie between one of them (dense) and this one (lexical).
            while not any(
                marker in hit.document.title for hit in assistant.retriever.search(marker, READERS["100%"], 5)
            ):
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"an upload was not searchable 60 s after it returned: {marker}")
            found = time.perf_counter()
        calls.append(returned - started)
        after.append(found - returned)
        peaks.append(memory["peak_mb"])
    return {
        "uploads": uploads,
        "upload_call_seconds": [round(t, 3) for t in calls],
        "returned_to_searchable_seconds": [round(t, 3) for t in after],
        "steady_rss_mb": round(steady),
        "peak_rss_during_update_mb": round(max(peaks)),
        "peak_over_steady": round(max(peaks) / steady, 3),
    }


def qps(
    home: Path, asked: list[str], workers: Sequence[int], seconds: float, database_url: str | None = None
) -> list[dict[str, Any]]:
    """Searches per second through ``eka serve --workers N`` at concurrency 1 and 8."""
    create = ("keys", "create", "--user", "bench", "--groups", "staff", "--json")
    key = json.loads(throughput.eka(home, *create, database_url=database_url))
    rows = []
    for n in workers:
        process, url = throughput.serve(home, n, database_url)
        try:
            throughput.warm(url, key["key"], "search", asked, connections=2 * n)
            groups = cpu.api_and_database(process.pid)
            for concurrency in (1, 8):
                before = cpu.snapshot(groups)
                result = throughput.run_clients(url, key["key"], "search", asked, concurrency, seconds)
                spent = cpu.used(before, cpu.snapshot(groups))
                served = max(1, result["requests"])
                # CPU milliseconds per search in the API workers, the database and the load generator, and
                # how many of the machine's cores were busy with the three.
                result["cpu_ms_per_search"] = {
                    part: round(1000 * spent[part] / served, 2) for part in ("api", "database", "client")
                }
                result["cores_busy"] = round(
                    (spent["api"] + spent["database"] + spent["client"]) / spent["wall"], 2
                )
                rows.append({"workers": n, "concurrency": concurrency, **result})
                log.info("qps %s", rows[-1])
        finally:
            process.terminate()
            process.wait(timeout=60)
    return rows


def _dense_kind(assistant: Assistant) -> str:
    if isinstance(assistant.searcher, PgSearcher):
        searcher = assistant.searcher
        return f"pgvector hnsw halfvec (exact below {searcher.params.exact_rows} readable rows)"
    return assistant.embedded_indexes().current().dense.kind


# -- one size -----------------------------------------------------------------------------------------------


def _settings(home: Path, database_url: str | None, **overrides: Any) -> Settings:
    return Settings(home=home / "eka", database_url=database_url, _env_file=None, **overrides)  # type: ignore[call-arg]


def _database(work: Path, size: int, backend: str, fresh: bool) -> str | None:
    """The PostgreSQL database of this size (``None`` on the embedded backend)."""
    return eval_database(work, f"scale-{size}", fresh=fresh) if backend == "postgres" else None


def _pg_sizes(searcher: PgSearcher) -> tuple[float, float]:
    """MB of the tables (with TOAST) and of their indexes in the PostgreSQL database."""
    sizes = searcher.sizes().values()
    return (
        round(sum(t["table"] for t in sizes) / 2**20, 1),
        round(sum(t["indexes"] for t in sizes) / 2**20, 1),
    )


def build(
    size: int, work: Path, pool: Pool, embedder: PoolEmbedder, rebuild: bool, backend: str = "embedded"
) -> tuple[Path, dict[str, Any]]:
    """The store of ``size`` chunks under ``work`` (built now, or reused) and its build numbers."""
    home = work / (str(size) if backend == "embedded" else f"{size}-{backend}")
    record = home / "build.json"
    if record.exists() and not rebuild:
        return home, json.loads(record.read_text(encoding="utf-8"))
    shutil.rmtree(home, ignore_errors=True)
    database_url = _database(work, size, backend, fresh=True)
    documents = max(1, math.ceil(size / SECTIONS))
    started = time.perf_counter()
    corpus_bytes = write_corpus(home / "corpus", documents, pool)
    written = time.perf_counter() - started
    # Two parser processes: the main process spends its time on the store, the parsers on chunking.
    settings = _settings(home, database_url, parse_workers=2)
    assistant = build_assistant(settings, embedder)
    if isinstance(assistant.searcher, PgSearcher):  # a bulk load: the HNSW index is built once, after it
        assistant.searcher.drop_index()
    try:
        before, before_headings = embedder.synthetic, embedder.headings
        with peak_rss() as memory:
            report = Ingestor(assistant).run([home / "corpus"])
        counts = report.counts()
        numbers = {
            "chunks": assistant.store.counts()["chunks"],
            "documents": documents,
            "failed_files": counts.get("failed", 0),
            "corpus_mb": round(corpus_bytes / 2**20, 1),
            "write_corpus_seconds": round(written, 1),
            "ingest_seconds": round(report.wall_s, 1),
            "of_which_index_build_seconds": round(report.index_s, 1),
            "vectors_from_pool": embedder.synthetic - before,
            "heading_vectors_from_pool": embedder.headings - before_headings,
            "peak_rss_during_build_mb": round(memory["peak_mb"]),
            "store_mb": round(sum(_size_mb(p) for p in settings.home.glob("eka.sqlite3*")), 1),
            "index_mb": round(_size_mb(settings.index_dir), 1),
        }
        if isinstance(assistant.searcher, PgSearcher):  # the tables (the store) and their indexes (search)
            started = time.perf_counter()
            # What docs/deploy.md tells an operator to do for a bulk load: the HNSW index, dropped above, is
            # built in one pass, then VACUUM ANALYZE.
            assistant.searcher.rebuild()
            index_build = time.perf_counter() - started
            numbers["ingest_seconds"] = round(report.wall_s + index_build, 1)
            numbers["of_which_index_build_seconds"] = round(index_build, 1)
            numbers["store_mb"], numbers["index_mb"] = _pg_sizes(assistant.searcher)
    finally:
        assistant.close()
    record.write_text(json.dumps(numbers, indent=2), encoding="utf-8")
    return home, numbers


def measure(
    size: int, work: Path, pool: Pool, embedder: PoolEmbedder, options: dict[str, Any]
) -> dict[str, Any]:
    """Build (or reuse) the store of ``size`` chunks and measure it."""
    backend = options.get("backend", "embedded")
    home, built = build(size, work, pool, embedder, options["rebuild"], backend)
    database_url = _database(work, size, backend, fresh=False)
    asked = questions(options["queries"])
    settings = _settings(home, database_url)
    gc.collect()
    baseline = rss_mb()
    assistant = build_assistant(settings, embedder)
    try:
        started = time.perf_counter()
        assistant.searcher.refresh()
        assistant.retriever.search(asked[0], READERS["100%"], 10)
        ready = time.perf_counter() - started
        warmed = prewarm(database_url, embedder.dim) if database_url else {}
        result: dict[str, Any] = {
            "size": size,
            "backend": backend,
            "build": built,
            "open_seconds": round(ready, 2),
            "dense_index": _dense_kind(assistant),
            "database": server_settings(database_url) if database_url else {},
            "prewarmed": warmed,
            "search": search_latency(assistant, asked),
            "steady_rss_mb": round(rss_mb()),
            "steady_rss_over_process_start_mb": round(rss_mb() - baseline),
            "dense_recall_at_10": dense_recall(assistant, asked),
            "upload": upload_to_searchable(assistant, home / "uploads", options["uploads"]),
        }
        if assistant.indexes is not None:
            assistant.indexes.settle()
    finally:
        assistant.close()
        del assistant
        gc.collect()
    if options["qps"]:
        result["qps"] = qps(settings.home, asked, options["workers"], options["seconds"], database_url)
    return result


# -- the report ---------------------------------------------------------------------------------------------


def _prewarmed(result: dict[str, Any]) -> str:
    warmed = result.get("prewarmed") or {}
    return f"{warmed['mb']:,} in {warmed['seconds']}" if warmed else "-"


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables: one column per size."""
    sizes = report["sizes"]
    head = "| | " + " | ".join(f"{r['size']:,} chunks" for r in sizes) + " |"
    rule = "|---" * (len(sizes) + 1) + "|"
    lines = [f"# eka bench scale ({report['cpus']} CPUs, load {report['load']})", "", head, rule]

    def row(label: str, cell: Callable[[dict[str, Any]], object]) -> None:
        lines.append(f"| {label} | " + " | ".join(str(cell(r)) for r in sizes) + " |")

    row("backend", lambda r: r.get("backend", "embedded"))
    row("chunks stored", lambda r: f"{r['build']['chunks']:,}")
    row("dense index", lambda r: r["dense_index"])
    if any(r.get("database") for r in sizes):
        row("database", lambda r: ", ".join(f"{k} {v}" for k, v in r.get("database", {}).items()) or "-")
        row("prewarmed before timing (pg_prewarm), MB in s", _prewarmed)
    row("ingest (vectors from the pool), s", lambda r: r["build"]["ingest_seconds"])
    row("of which index build, s", lambda r: r["build"]["of_which_index_build_seconds"])
    row("peak RSS during build, MB", lambda r: r["build"]["peak_rss_during_build_mb"])
    row("store / indexes on disk, MB", lambda r: f"{r['build']['store_mb']} / {r['build']['index_mb']}")
    row("open + first search (model load included), s", lambda r: r["open_seconds"])
    row("steady RSS, MB", lambda r: r["steady_rss_mb"])
    for i, case in enumerate(sizes[0]["search"]):
        default = " (default)" if case["mode"] == "hybrid" else ""
        label = f"{case['mode']}{default}, {case['reader']}: p50 / p95 ms"
        row(label, partial(_cell, "search", i, "{p50_ms} / {p95_ms}"))
    for reader in READERS:
        row(f"dense recall@10 vs exact, {reader}", partial(_cell, "dense_recall_at_10", reader, "{}"))
    row("upload call, s (each)", lambda r: ", ".join(map(str, r["upload"]["upload_call_seconds"])))
    row(
        "upload returned → searchable, s (each)",
        lambda r: ", ".join(map(str, r["upload"]["returned_to_searchable_seconds"])),
    )
    row("peak RSS during an update / steady", lambda r: r["upload"]["peak_over_steady"])
    if all("qps" in r for r in sizes):
        for i, case in enumerate(sizes[0]["qps"]):
            label = f"searches/s, {case['workers']} worker(s), concurrency {case['concurrency']} (p95 ms)"
            row(label, partial(_cell, "qps", i, "{per_second} ({p95_ms})"))
        for i, case in enumerate(sizes[0]["qps"]):
            label = f"CPU ms per search api / database / client, {case['workers']} w, c {case['concurrency']}"
            row(label, partial(_cpu_cell, i))
    return "\n".join(lines) + "\n"


def _cpu_cell(i: int, result: dict[str, Any]) -> str:
    case = result["qps"][i]
    if "cpu_ms_per_search" not in case:  # a report from before the CPU accounting
        return ""
    used = case["cpu_ms_per_search"]
    return f"{used['api']} / {used['database']} / {used['client']} ({case['cores_busy']} cores busy)"


def _cell(part: str, key: int | str, form: str, result: dict[str, Any]) -> str:
    value = result[part][key]
    return form.format(**value) if isinstance(value, dict) else form.format(value)


def plot(report: dict[str, Any], path: Path) -> None:
    """Search p95 against the number of chunks: one line per mode and reader."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = report["sizes"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, case in enumerate(sizes[0]["search"]):
        ax.plot(
            [r["build"]["chunks"] for r in sizes],
            [r["search"][i]["p95_ms"] for r in sizes],
            marker="o",
            linestyle="-" if case["mode"] == "hybrid" else ":",
            label=f"{case['mode']}, {case['reader']}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("chunks")
    ax.set_ylabel("search p95, ms (question embedded afresh)")
    ax.set_title("eka search latency by store size")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(
    sizes: Sequence[int],
    work: Path,
    out: Path,
    pool_corpus: Sequence[Path],
    **options: Any,
) -> dict[str, Any]:
    """Measure every size and write ``report.json``, ``report.md`` and ``scale.png`` into ``out`` (after
    each size, so a long run that is cut short keeps what it measured)."""
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=work / "pool", _env_file=None)  # type: ignore[call-arg]
    embedder = PoolEmbedder(settings)
    pool = embedder.pool = load_pool(pool_corpus, work, embedder)
    report: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load": ", ".join(f"{x:.1f}" for x in os.getloadavg()),
        "pool": {"corpus": [str(p) for p in pool_corpus], "passages": len(pool.texts)},
        "options": options,
        "sizes": [],
    }
    for size in sizes:
        log.info("measuring %s chunks", size)
        report["sizes"].append(measure(size, work, pool, embedder, options))
        (out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
        (out / "report.md").write_text(markdown(report), encoding="utf-8")
        plot(report, out / "scale.png")
    return report

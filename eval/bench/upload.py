"""Upload-to-searchable benchmark: how long after a document is stored does a search see it?

A store of ``N`` synthetic chunks (documents of 100 chunks, Zipf-distributed words, random unit 384-d vectors
put straight into the embedding cache, so nothing is encoded) is indexed once; then, ``--uploads`` times, one
10-chunk document carrying a word no other chunk holds is written to the store (as an upload's transaction
does) and a lexical search for that word is timed until it returns the new document. The time includes
bringing the derived indexes up to date (``index_update_seconds``: a full rebuild in earlier versions,
applying the change in this one), the retrieval catalog (the same) and the search itself (mostly the query's
embedding, for the relevance score: ``search_without_change_seconds``).

The script only uses APIs older versions have too, so it runs on an earlier checkout for a before/after
comparison (``PYTHONPATH`` pointing there; each run uses its own ``--home``).

Usage:
    python eval/bench/upload.py --chunks 10000 100000 --home /tmp/eka-upload --out eval-out/upload.json
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.app import build_assistant
from assistant.config import Settings
from assistant.passages import passage_text
from assistant.store import StoredDocument
from assistant.types import Chunk, Document, Principal
from eval.bench import emit

DIM = 384
VOCABULARY = 30_000
READER = Principal.of("bench")


def _document(store: Any, model_id: str, name: str, texts: list[str], rng: np.random.Generator) -> None:
    doc_id = hashlib.sha256(name.encode()).hexdigest()[:16]
    document = Document(doc_id, f"{name}.txt", doc_id, name, "text/plain", {}, frozenset({"public"}), "2026")
    chunks = [
        Chunk(hashlib.sha256(f"{doc_id}:{i}".encode()).hexdigest()[:20], doc_id, i, text, None, None)
        for i, text in enumerate(texts)
    ]
    hashes = [hashlib.sha256(passage_text(name, None, t).encode()).hexdigest() for t in texts]
    vectors = rng.standard_normal((len(texts), DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store.replace_document(
        StoredDocument(document, "bench", doc_id, len(texts)),
        chunks,
        hashes,
        model_id,
        dict(zip(hashes, vectors, strict=True)),
    )


def _texts(rng: np.random.Generator, n: int, extra: str = "") -> list[str]:
    words = np.minimum(rng.zipf(1.2, size=(n, 80)), VOCABULARY)
    return [" ".join(f"w{w}" for w in row) + extra for row in words]


def run(chunks: int, home: Path, uploads: int, delta_rows: int = 0) -> dict[str, Any]:
    """Build a store of ``chunks`` synthetic chunks and time ``uploads`` uploads until searchable.

    With ``delta_rows``, that many more chunks are stored and indexed (untimed) after the first build, so the
    timed uploads land on an index with a delta of that size (and may cross the compaction threshold).
    """
    shutil.rmtree(home, ignore_errors=True)
    settings = Settings(home=home, reranker="none", _env_file=None)  # type: ignore[call-arg]
    assistant = build_assistant(settings)
    rng = np.random.default_rng(0)
    model_id = assistant.spec.model_id
    started = time.perf_counter()
    for d in range(chunks // 100):
        _document(assistant.store, model_id, f"doc{d:06d}", _texts(rng, 100), rng)
    stored = time.perf_counter() - started
    started = time.perf_counter()
    assistant.retriever.search("w1 w2", READER, k=5, mode="lexical")  # the first build, and the model
    first = time.perf_counter() - started
    for d in range(delta_rows // 100):
        _document(assistant.store, model_id, f"late{d:06d}", _texts(rng, 100), rng)
    assistant.embedded_indexes().current()
    times, writes, updates = [], [], []
    for u in range(uploads):
        marker = f"zqmarker{u}"
        started = time.perf_counter()
        _document(assistant.store, model_id, f"upload{u}", _texts(rng, 10, f" {marker}"), rng)
        writes.append(time.perf_counter() - started)
        started = time.perf_counter()
        assistant.embedded_indexes().current()  # what the end of an upload does (and else the next search)
        updates.append(time.perf_counter() - started)
        hits = assistant.retriever.search(marker, READER, k=5, mode="lexical")
        times.append(time.perf_counter() - started)
        assert hits and hits[0].document.title == f"upload{u}", hits
    started = time.perf_counter()
    for _ in range(5):
        assistant.retriever.search("zqmarker0", READER, k=5, mode="lexical")
    idle = (time.perf_counter() - started) / 5
    assistant.close()
    return {
        "chunks": chunks,
        "delta_rows": delta_rows,
        "store_seconds": round(stored, 1),
        "first_search_seconds": round(first, 2),
        "upload_write_seconds": [round(t, 3) for t in writes],
        "index_update_seconds": [round(t, 3) for t in updates],
        "upload_to_searchable_seconds": [round(t, 3) for t in times],
        "median_upload_to_searchable_seconds": round(statistics.median(times), 3),
        "search_without_change_seconds": round(idle, 4),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    """Run the benchmark for each store size and print (and optionally write) the results as JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, nargs="+", default=[10_000])
    parser.add_argument("--home", type=Path, required=True, help="a scratch folder (emptied)")
    parser.add_argument("--uploads", type=int, default=3)
    parser.add_argument("--delta-rows", type=int, default=0, help="chunks added after the first build")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    results = [run(n, args.home / str(n), args.uploads, args.delta_rows) for n in args.chunks]
    emit(results, args.out)


if __name__ == "__main__":
    main()

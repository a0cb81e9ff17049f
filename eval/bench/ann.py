"""Approximate dense index benchmark: recall@10 against exact search, latency, build time and size at 1M rows.

Which approximate index should replace the exact scan above some size, and with which parameters? The answer
depends on filtered search as much as on plain search: a caller who may read 1 % of the corpus asks for the
best 10 of *those* rows, and an approximate index that only looks near the query finds few of them.

The vectors are realistic without a million real chunks: a pool of real MiniLM passage embeddings (text
windows of ``--corpus`` files, at most ``--pool`` of them, cached as ``pool-<model>.npy`` under
``--scratch``), and each row is a pool vector plus Gaussian noise (``--sigma``, by default a cosine of about
0.87 to its pool vector), normalised. A document is 100 consecutive row ids whose rows draw from 8 pool
passages (a document has a topic), and an access filter allows whole documents, so an allowed set is runs of
row ids, as in the store. Queries are real question embeddings (``samples/questions.jsonl`` and the shared
engineering-docs dev set).

For each index and allowed share (1 %, 10 %, 100 %; a fresh random set of documents per query) it reports
recall@10 against exact search over the allowed rows, and the p50/p95 latency of one query (filter included:
the selector is built inside the timing). The filter is an ``IDSelectorBitmap`` over row ids (what
``assistant.index.dense`` uses); the cost of the old ``IDSelectorBatch`` is measured beside it.

Usage:
    python -m eval.bench.ann --rows 1000000 --scratch /tmp/eka-ann --out eval-out/ann.json
    python -m eval.bench.ann --rows 1000000 --only ivf --nlist 2048     # one family, one setting
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from assistant.app import build_assistant
from assistant.config import Settings
from assistant.index.ann import AnnParams
from assistant.index.dense import FaissIndex
from eval.bench import emit
from ingest.loaders import LoadError, load, supported

ROOT = Path(__file__).resolve().parents[2]
DOC_ROWS = 100
SHARES = (0.01, 0.1, 1.0)
DEFAULT_CORPORA = (ROOT / "samples", ROOT.parent / "shared" / "data" / "engineering-docs")
DEFAULT_QUESTIONS = (
    ROOT / "samples" / "questions.jsonl",
    ROOT.parent / "shared" / "eval" / "engdocs-dev.jsonl",
)

Search = Callable[[np.ndarray, np.ndarray | None], np.ndarray]


# -- data --------------------------------------------------------------------------------------------------


def _passages(corpora: Sequence[Path], limit: int, width: int = 500) -> list[str]:
    """Windows of about ``width`` characters (whole blocks) of the corpora's files, parsed as in ingest."""
    out: list[str] = []
    for corpus in corpora:
        for path in sorted(p for p in corpus.rglob("*") if p.is_file() and supported(p)):
            try:
                blocks = load(path).blocks
            except LoadError:
                continue
            window = ""
            for block in blocks:
                window = f"{window}\n{block.text}".strip()
                if len(window) >= width:
                    out.append(window[: 2 * width])
                    window = ""
    return out[:limit]


def _questions(paths: Sequence[Path]) -> list[str]:
    out: list[str] = []
    for path in paths:
        if path.exists():
            out.extend(json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip())
    return out


def _embeddings(corpora: Sequence[Path], scratch: Path, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """(pool passage vectors, query vectors), the pool cached in ``scratch``."""
    assistant = build_assistant(Settings(home=scratch / "home"))
    model = assistant.spec.model_id.replace("/", "_")
    cache = scratch / f"pool-{model}-{limit}.npy"
    if cache.exists():
        pool = np.load(cache)
    else:
        passages = _passages(corpora, limit)
        pool = assistant.embedder.embed_passages(passages).astype(np.float32)
        np.save(cache, pool)
    queries = assistant.embedder.embed_queries(_questions(DEFAULT_QUESTIONS)).astype(np.float32)
    assistant.close()
    return pool, queries


def _rows(pool: np.ndarray, n: int, sigma: float, seed: int) -> np.ndarray:
    """``n`` unit rows: per document of 100 rows, noisy copies of 8 pool vectors."""
    rng = np.random.default_rng(seed)
    docs = -(-n // DOC_ROWS)
    topics = rng.integers(0, len(pool), size=(docs, 8))
    pick = topics[np.arange(n) // DOC_ROWS, rng.integers(0, 8, size=n)]
    out = np.empty((n, pool.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        part = pool[pick[start : start + 100_000]]
        part = part + rng.standard_normal(part.shape, dtype=np.float32) * np.float32(sigma)
        out[start : start + 100_000] = part / np.linalg.norm(part, axis=1, keepdims=True)
    return out


def _allowed(n: int, share: float, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted row ids of a random ``share`` of the documents (``None``: everything)."""
    if share >= 1.0:
        return None
    docs = -(-n // DOC_ROWS)
    chosen = np.sort(rng.choice(docs, size=max(1, round(docs * share)), replace=False))
    rows = (chosen[:, None] * DOC_ROWS + np.arange(DOC_ROWS)[None, :]).ravel()
    return rows[rows < n].astype(np.int64)


def _exact(rows: np.ndarray, query: np.ndarray, allowed: np.ndarray | None, k: int) -> np.ndarray:
    ids = allowed if allowed is not None else np.arange(len(rows))
    scores = rows[ids] @ query if allowed is not None else rows @ query
    top = np.argpartition(-scores, k)[:k]
    return ids[top]


# -- selectors ---------------------------------------------------------------------------------------------


def bitmap(n: int, allowed: np.ndarray) -> Any:
    """An ``IDSelectorBitmap`` over row ids 0..n-1 (a bit per id: cheap to build and to test)."""
    mask = np.zeros(n, dtype=bool)
    mask[allowed] = True
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(bits)  # type: ignore[call-arg,arg-type]  # the wrapper keeps bits alive


def _params(kind: str, knob: int, selector: Any) -> Any:
    f: Any = faiss  # SearchParametersHNSW and the keyword constructors are missing from faiss's stubs
    if kind == "ivf":
        return f.SearchParametersIVF(sel=selector, nprobe=knob)
    if kind == "hnsw":
        return f.SearchParametersHNSW(sel=selector, efSearch=knob)
    return f.SearchParameters(sel=selector) if selector is not None else None


def _fixed(value: int, share: float) -> int:
    return value


def _scaled(base: int, cap: int, share: float) -> int:
    """What ``assistant.index.ann.search_params`` does: ``base / share`` lists, at most all of them."""
    return min(cap, math.ceil(base / share))


def _shipped(index: FaissIndex, k: int, query: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    return index.search(query, k, allowed)[0]


def _searcher(index: Any, kind: str, n: int, knob: Callable[[float], int], k: int) -> Search:
    def search(query: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
        share = 1.0 if allowed is None else len(allowed) / n
        selector = bitmap(n, allowed) if allowed is not None else None
        _, ids = index.search(query.reshape(1, -1), k, params=_params(kind, knob(share), selector))
        return np.asarray(ids[0][ids[0] >= 0])

    return search


# -- measuring ---------------------------------------------------------------------------------------------


def _measure(
    search: Search,
    queries: np.ndarray,
    filters: dict[float, list[np.ndarray | None]],
    truth: dict[float, list[np.ndarray]],
) -> dict[str, dict[str, float]]:
    out = {}
    for share, allowed_sets in filters.items():
        recalls, times = [], []
        for q, allowed, exact in zip(queries, allowed_sets, truth[share], strict=True):
            started = time.perf_counter()
            got = search(q, allowed)
            times.append(1000 * (time.perf_counter() - started))
            recalls.append(len(np.intersect1d(got[:10], exact[:10])) / 10)
            if allowed is not None and not np.isin(got, allowed).all():
                raise AssertionError("a result outside the allowed rows")
        times.sort()
        out[f"{share:.0%}"] = {
            "recall@10": round(float(np.mean(recalls)), 4),
            "min_recall@10": min(recalls),
            "p50_ms": round(statistics.median(times), 2),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
        }
    return out


def _size(index: Any) -> int:
    with tempfile.NamedTemporaryFile() as fh:
        faiss.write_index(index, fh.name)
        return Path(fh.name).stat().st_size


def _selector_costs(n: int, rng: np.random.Generator) -> dict[str, float]:
    """Milliseconds to build a selector for 99 % of the rows: id batch, bitmap, and Not(batch of the rest)."""
    allowed = _allowed(n, 0.99, rng)
    assert allowed is not None
    excluded = np.setdiff1d(np.arange(n), allowed)
    out = {}
    for name, make in (
        ("batch_99pct", lambda: faiss.IDSelectorBatch(allowed)),
        ("bitmap_99pct", lambda: bitmap(n, allowed)),
        ("not_batch_1pct", lambda: faiss.IDSelectorNot(faiss.IDSelectorBatch(excluded))),
    ):
        started = time.perf_counter()
        for _ in range(5):
            make()
        out[name] = round(1000 * (time.perf_counter() - started) / 5, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--corpus", type=Path, nargs="*", default=list(DEFAULT_CORPORA))
    parser.add_argument("--pool", type=int, default=3000, help="At most this many passages are embedded.")
    parser.add_argument("--sigma", type=float, default=0.029, help="Noise per dimension (cosine ~0.87).")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()) / "eka-ann")
    parser.add_argument(
        "--only", choices=["flat", "ivf", "hnsw", "eka"], nargs="*", default=["flat", "ivf", "hnsw", "eka"]
    )
    parser.add_argument("--nlist", type=int, nargs="*", default=[1024, 2048, 4096])
    parser.add_argument("--nprobe", type=int, nargs="*", default=[8, 16, 32, 64, 128])
    parser.add_argument("--hnsw", nargs="*", default=["16:40"], help="M:efConstruction pairs.")
    parser.add_argument("--ef", type=int, nargs="*", default=[64, 128, 256, 512])
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.scratch.mkdir(parents=True, exist_ok=True)
    k = 10

    pool, queries = _embeddings(args.corpus, args.scratch, args.pool)
    started = time.perf_counter()
    rows = _rows(pool, args.rows, args.sigma, seed=0)
    nearest = np.mean(np.max(rows[:2000] @ pool.T, axis=1))
    print(
        f"{len(pool)} pool passages, {len(queries)} queries, {args.rows} rows "
        f"in {time.perf_counter() - started:.1f}s"
    )
    rng = np.random.default_rng(1)
    filters = {s: [_allowed(args.rows, s, rng) for _ in queries] for s in SHARES}
    truth = {s: [_exact(rows, q, a, k) for q, a in zip(queries, filters[s], strict=True)] for s in SHARES}
    results: dict[str, Any] = {
        "rows": args.rows,
        "dim": rows.shape[1],
        "pool": len(pool),
        "queries": len(queries),
        "row_to_pool_cosine": round(float(nearest), 3),
        "threads": faiss.omp_get_max_threads(),
        "selector_build_ms": _selector_costs(args.rows, rng),
        "indexes": [],
    }
    ids = np.arange(args.rows, dtype=np.int64)

    def record(
        name: str, index: Any, kind: str, build_s: float, knobs: dict[str, Callable[[float], int]]
    ) -> None:
        entry: dict[str, Any] = {
            "index": name,
            "build_s": round(build_s, 1),
            "bytes": _size(index),
            "runs": {},
        }
        for label, knob in knobs.items():
            entry["runs"][label] = _measure(
                _searcher(index, kind, args.rows, knob, k), queries, filters, truth
            )
            print(name, label, json.dumps(entry["runs"][label]), flush=True)
        results["indexes"].append(entry)

    if "flat" in args.only:
        started = time.perf_counter()
        flat = faiss.IndexIDMap2(faiss.IndexFlatIP(rows.shape[1]))
        flat.add_with_ids(rows, ids)
        record("IDMap2,FlatIP", flat, "flat", time.perf_counter() - started, {"exact": partial(_fixed, 0)})
        del flat
    if "ivf" in args.only:
        for nlist in args.nlist:
            started = time.perf_counter()
            quantizer = faiss.IndexFlatIP(rows.shape[1])
            ivf = faiss.IndexIVFFlat(quantizer, rows.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
            train = rows[
                np.random.default_rng(2).choice(args.rows, min(args.rows, 40 * nlist), replace=False)
            ]
            ivf.train(train)
            ivf.set_direct_map_type(2)  # faiss.DirectMap.Hashtable: reconstruct and remove by row id
            ivf.add_with_ids(rows, ids)
            build = time.perf_counter() - started
            knobs: dict[str, Callable[[float], int]] = {
                f"nprobe={p}": partial(_fixed, p) for p in args.nprobe
            }
            # Compensation: more lists for a narrower filter (all of them, i.e. exact, below ~1/scale).
            for p in args.nprobe[1:3]:
                knobs[f"nprobe={p}/share"] = partial(_scaled, p, nlist)
            record(f"IVF{nlist},Flat", ivf, "ivf", build, knobs)
            quantizer_ref = quantizer  # the IVF borrows its quantizer
            del ivf, quantizer_ref
    if "eka" in args.only:  # what ships: FaissIndex with the default AnnParams, filter and probe scaling
        ann = AnnParams(min_rows=1)
        started = time.perf_counter()
        shipped = FaissIndex.build(ids, rows, ann)
        build = time.perf_counter() - started
        entry: dict[str, Any] = {"index": f"eka {shipped.kind} {ann.recipe()}", "build_s": round(build, 1)}
        entry["runs"] = {"shipped": _measure(partial(_shipped, shipped, k), queries, filters, truth)}
        print(entry["index"], json.dumps(entry["runs"]), flush=True)
        # An update of 100 documents out, 100 in, then the compaction that folds them in.
        gone = ids[: 100 * DOC_ROWS]
        updated = shipped.apply(gone, gone + args.rows, rows[: 100 * DOC_ROWS])
        started = time.perf_counter()
        updated.compacted()
        entry["compact_10k_rows_s"] = round(time.perf_counter() - started, 1)
        results["indexes"].append(entry)
    if "hnsw" in args.only:
        for pair in args.hnsw:
            m, ef_construction = (int(x) for x in pair.split(":"))
            started = time.perf_counter()
            hnsw = faiss.IndexHNSWFlat(rows.shape[1], m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = ef_construction
            hnsw.add(rows)  # HNSW has no ids of its own: row ids here are positions
            build = time.perf_counter() - started
            knobs = {f"efSearch={e}": partial(_fixed, e) for e in args.ef}
            record(f"HNSW{m},Flat efC={ef_construction}", hnsw, "hnsw", build, knobs)
            del hnsw
    emit(results, args.out)


if __name__ == "__main__":
    main()

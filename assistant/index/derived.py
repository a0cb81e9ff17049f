"""Keeps the derived indexes in step with the store: load when they match it, rebuild when they don't.

Each build is written to a temporary folder, fsynced, renamed into place and then recorded in the store
together with the store generation it reflects and a digest of its files. On open, an index whose record is
missing, stale, unreadable or whose digest differs is rebuilt from the store — never trusted, never a crash.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from assistant.fsutil import dir_digest, publish_dir
from assistant.index.dense import FaissIndex
from assistant.index.lexical import Bm25Index
from assistant.store import DerivedRecord, IndexRows, Store
from assistant.tokenize import TOKENIZER_VERSION

log = logging.getLogger(__name__)

EmbedFn = Callable[[Sequence[str]], np.ndarray]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Both derived indexes, built from one store generation."""

    generation: int
    dense: FaissIndex
    lexical: Bm25Index


class DerivedIndexes:
    """Loads, rebuilds and verifies the dense and lexical indexes of one store.

    Args:
        store: the source of truth.
        folder: where index folders are written.
        model_id: the embedding model whose vectors the dense index holds.
        embed: embeds passages whose vectors are not cached yet (only needed after a model change).
    """

    def __init__(
        self,
        store: Store,
        folder: Path,
        model_id: str,
        embed: EmbedFn,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
    ) -> None:
        self.store = store
        self.folder = folder
        self.model_id = model_id
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        # What each index was built with; a different recipe on open means a rebuild.
        self.recipes = {
            "dense": model_id,
            "lexical": f"{Bm25Index.kind}:k1={bm25_k1}:b={bm25_b}:{TOKENIZER_VERSION}",
        }
        self._embed = embed
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self.rebuilds = 0

    def current(self) -> Snapshot:
        """A snapshot matching the store's current generation (loading or rebuilding as needed)."""
        generation = self.store.generation()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.generation == generation:
            return snapshot
        with self._lock:
            if self._snapshot is None or self._snapshot.generation != self.store.generation():
                self._snapshot = self._load() or self._rebuild()
            return self._snapshot

    def rebuild(self) -> Snapshot:
        """Rebuild both indexes from the store, unconditionally."""
        with self._lock:
            self._snapshot = self._rebuild()
            return self._snapshot

    # -- loading -------------------------------------------------------------------------------------------

    def _load(self) -> Snapshot | None:
        generation = self.store.generation()
        dense = self._load_one("dense", generation, FaissIndex.load)
        lexical = self._load_one("lexical", generation, Bm25Index.load)
        if dense is None or lexical is None:
            return None
        return Snapshot(generation, dense, lexical)

    def _load_one(self, name: str, generation: int, loader: Callable[[Path], _T]) -> _T | None:
        record = self.store.derived(name)
        if record is None:
            log.info("no %s index yet; building it", name)
            return None
        if record.generation != generation or record.model_id != self.recipes[name]:
            log.info(
                "%s index is from generation %s, store is at %s; rebuilding",
                name,
                record.generation,
                generation,
            )
            return None
        path = self.folder / record.path
        try:
            if dir_digest(path) != record.sha256:
                log.warning("%s index at %s does not match its recorded digest; rebuilding", name, path)
                return None
            return loader(path)
        except (OSError, RuntimeError, ValueError) as err:
            log.warning("%s index at %s is unreadable (%s); rebuilding", name, path, err)
            return None

    # -- building ------------------------------------------------------------------------------------------

    def _rebuild(self) -> Snapshot:
        for _attempt in range(5):
            generation = self.store.generation()
            rows = self.store.index_rows()
            started = time.perf_counter()
            dense = FaissIndex.build(rows.rowids, self._vectors(rows))
            lexical = Bm25Index.build(rows.rowids, rows.passages, k1=self.bm25_k1, b=self.bm25_b)
            recorded = [
                self._publish(name, index, generation)
                for name, index in (("dense", dense), ("lexical", lexical))
            ]
            self.rebuilds += 1
            log.info(
                "rebuilt indexes for generation %s: %s rows in %.2fs",
                generation,
                len(rows.rowids),
                time.perf_counter() - started,
            )
            if all(recorded):
                self._collect_garbage()
                return Snapshot(generation, dense, lexical)
            log.info("store changed during the rebuild; rebuilding again")
        return Snapshot(generation, dense, lexical)

    def _vectors(self, rows: IndexRows) -> np.ndarray:
        cached = self.store.cached_vectors(self.model_id, rows.embed_hashes)
        missing = list(dict.fromkeys(h for h in rows.embed_hashes if h not in cached))
        if missing:
            log.info("embedding %s passages with no cached vector for %s", len(missing), self.model_id)
            text_of = dict(zip(rows.embed_hashes, rows.passages, strict=True))
            vectors = self._embed([text_of[h] for h in missing])
            fresh = dict(zip(missing, vectors, strict=True))
            self.store.put_vectors(self.model_id, fresh)
            cached.update(fresh)
        if not rows.embed_hashes:
            return np.zeros((0, 1), dtype=np.float32)
        return np.vstack([cached[h] for h in rows.embed_hashes]).astype(np.float32)

    def _publish(self, name: str, index: FaissIndex | Bm25Index, generation: int) -> bool:
        self.folder.mkdir(parents=True, exist_ok=True)
        final_name = f"{name}-g{generation}-{uuid.uuid4().hex[:8]}"
        tmp = self.folder / f".tmp-{os.getpid()}-{final_name}"
        tmp.mkdir()
        try:
            index.save(tmp)
            publish_dir(tmp, self.folder / final_name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        digest = dir_digest(self.folder / final_name)
        return self.store.record_derived(
            DerivedRecord(name, generation, final_name, digest, self.recipes[name])
        )

    def _collect_garbage(self) -> None:
        """Remove index folders no record points to, and temp folders of processes that are gone."""
        keep = {r.path for r in (self.store.derived("dense"), self.store.derived("lexical")) if r}
        for item in self.folder.iterdir():
            if item.name in keep:
                continue
            if item.name.startswith(".tmp-"):
                pid = int(item.name.split("-")[1]) if item.name.split("-")[1].isdigit() else 0
                if pid and _alive(pid):
                    continue
            shutil.rmtree(item, ignore_errors=True)

    # -- checking ------------------------------------------------------------------------------------------

    def verify(self) -> list[str]:
        """Check that both derived indexes exist, are intact and hold exactly the store's rows and vectors.

        Returns:
            A list of problems; empty when everything matches.
        """
        problems = self.store.check()
        generation = self.store.generation()
        rows = self.store.index_rows()
        loaded: dict[str, FaissIndex | Bm25Index] = {}
        for name, loader in (("dense", FaissIndex.load), ("lexical", Bm25Index.load)):
            record = self.store.derived(name)
            if record is None:
                problems.append(f"{name}: never built")
                continue
            if record.generation != generation:
                problems.append(
                    f"{name}: built from generation {record.generation}, store is at {generation}"
                )
            if record.model_id != self.recipes[name]:
                problems.append(f"{name}: built with {record.model_id}, configured is {self.recipes[name]}")
            path = self.folder / record.path
            try:
                if dir_digest(path) != record.sha256:
                    problems.append(f"{name}: files at {path} do not match the recorded digest")
                    continue
                loaded[name] = loader(path)
            except (OSError, RuntimeError, ValueError) as err:
                problems.append(f"{name}: unreadable ({err})")
                continue
            if not np.array_equal(loaded[name].row_ids(), rows.rowids):
                problems.append(
                    f"{name}: holds {len(loaded[name])} rows, store has {len(rows.rowids)} chunks"
                )
        dense = loaded.get("dense")
        if isinstance(dense, FaissIndex) and len(dense) and np.array_equal(dense.row_ids(), rows.rowids):
            cached = self.store.cached_vectors(self.model_id, rows.embed_hashes)
            absent = sum(1 for h in rows.embed_hashes if h not in cached)
            if absent:
                problems.append(f"store: {absent} chunks have no vector for {self.model_id}")
            else:
                stored = np.vstack([cached[h] for h in rows.embed_hashes])
                indexed = np.vstack([dense.vector(int(r)) for r in rows.rowids])
                if not np.allclose(stored, indexed, atol=1e-6):
                    problems.append("dense: vectors differ from the store's")
        return problems


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

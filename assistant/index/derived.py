"""Keeps the derived indexes in step with the store: load, catch up on what changed, or rebuild.

Each index version is written to a temporary folder, fsynced, renamed into place and then recorded in the
store together with the store generation it reflects and a digest of its files. A version is either *full*
(the whole index) or a *delta* over a full one: the rows added since, the rows deleted since and the base's
folder and digest (``base.json``), so persisting an update writes the delta, never the whole index again.

When the store moves on, the index applies only the changes logged since its generation
(:meth:`Store.changes_since`): the touched documents' old rows are removed and their current rows added.
Applying a change twice is harmless, which makes catch-up from any logged generation safe. When the delta
grows past a size it is folded into a new full version (compaction). On open, an index whose record is
missing, unreadable, whose digest differs, whose change log does not reach back, or whose row count does not
match the store after catching up is rebuilt from the store — never trusted, never a crash.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from assistant.fsutil import dir_digest, publish_dir
from assistant.index.ann import AnnParams
from assistant.index.base import Index
from assistant.index.dense import FaissIndex
from assistant.index.lexical import Bm25Index
from assistant.store import DerivedRecord, IndexRows, Store
from assistant.tokenize import TOKENIZER_VERSION

log = logging.getLogger(__name__)

EmbedFn = Callable[[Sequence[str]], np.ndarray]
_D = TypeVar("_D", FaissIndex, Bm25Index)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Both derived indexes, built from one store generation."""

    generation: int
    dense: FaissIndex
    lexical: Bm25Index


# Loading, persisting and compacting need only the ``Index`` seam; a snapshot keeps the concrete classes
# because retrieval also uses what only one of them has (stored vectors, weighted and expanded queries).
Derived = Index[Any, Any]
DenseIndex = Index[np.ndarray, np.ndarray]
LexicalIndex = Index[str, Sequence[str]]
_dense: type[DenseIndex] = FaissIndex  # mypy proves both keep the seam
_lexical: type[LexicalIndex] = Bm25Index
BASE_FILE = "base.json"
# A delta is folded into a new full version when it holds more rows than both of these. Every update rewrites
# the whole delta (0.6-1.2 s for 20k rows at 100k chunks), so the fraction is small enough that a 1M-chunk
# store compacts at 20k rows too (a tenth would let it grow to 100k rows, several seconds per update); a 10M
# store compacts every 200k rows instead of copying its base every 20k.
COMPACT_ROWS = 20_000
COMPACT_FRACTION = 0.02


@dataclass(frozen=True, slots=True)
class _Base:
    """The full version an in-memory index's main part was read from or written to."""

    path: str
    sha256: str
    index: Derived


class DerivedIndexes:
    """Loads, updates, rebuilds and verifies the dense and lexical indexes of one store.

    Args:
        store: the source of truth.
        folder: where index folders are written.
        model_id: the embedding model whose vectors the dense index holds.
        embed: embeds passages whose vectors are not cached yet (only needed after a model change).
        compact_rows: a delta is compacted once it holds more rows than this and than ``compact_fraction``
            of the full index.
        background: compact on a background thread (the snapshot is swapped when done); ``False`` compacts
            on the updating thread (tests).
        ann: when the dense base becomes approximate (an IVF index) and how hard it is searched; part of
            the dense recipe, so changing it rebuilds the dense index.
    """

    def __init__(
        self,
        store: Store,
        folder: Path,
        model_id: str,
        embed: EmbedFn,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        compact_rows: int = COMPACT_ROWS,
        compact_fraction: float = COMPACT_FRACTION,
        background: bool = True,
        ann: AnnParams | None = None,
    ) -> None:
        self.store = store
        self.folder = folder
        self.model_id = model_id
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.compact_rows = compact_rows
        self.compact_fraction = compact_fraction
        self.background = background
        self.ann = ann or AnnParams()
        self._compactor: threading.Thread | None = None
        # What each index was built with; a different recipe on open means a rebuild.
        self.recipes = {
            "dense": f"{model_id}|{self.ann.recipe()}",
            "lexical": f"{Bm25Index.kind}:k1={bm25_k1}:b={bm25_b}:{TOKENIZER_VERSION}",
        }
        self._embed = embed
        self._snapshot: Snapshot | None = None
        self._bases: dict[str, _Base] = {}
        self._lock = threading.Lock()
        self.rebuilds = 0
        self.updates = 0
        self.compactions = 0

    def current(self) -> Snapshot:
        """A snapshot matching the store's current generation (loading, catching up or rebuilding)."""
        generation = self.store.generation()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.generation == generation:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is None:
                snapshot = self._load()
            if snapshot is not None and snapshot.generation != self.store.generation():
                snapshot = self._catch_up(snapshot)
            self._snapshot = snapshot or self._rebuild()
            self._maybe_compact()
            return self._snapshot

    def settle(self) -> None:
        """Wait for a background compaction, if one is running."""
        compactor = self._compactor
        if compactor is not None:
            compactor.join()

    def rebuild(self) -> Snapshot:
        """Rebuild both indexes from the store, unconditionally."""
        with self._lock:
            self._snapshot = self._rebuild()
            return self._snapshot

    # -- loading -------------------------------------------------------------------------------------------

    def _load(self) -> Snapshot | None:
        """The recorded versions, at the older of their two generations (catch-up brings both forward)."""
        loaded = {name: self._load_one(name) for name in ("dense", "lexical")}
        dense, lexical = loaded["dense"], loaded["lexical"]
        if dense is None or lexical is None:
            return None
        assert isinstance(dense[0], FaissIndex) and isinstance(lexical[0], Bm25Index)
        return Snapshot(min(dense[1], lexical[1]), dense[0], lexical[0])

    def _load_one(self, name: str) -> tuple[Derived, int] | None:
        record = self.store.derived(name)
        if record is None:
            log.info("no %s index yet; building it", name)
            return None
        if record.model_id != self.recipes[name]:
            log.info("%s index was built with %s; rebuilding", name, record.model_id)
            return None
        try:
            index, base = self._open(name, record)
        except (OSError, RuntimeError, ValueError, KeyError) as err:
            log.warning("%s index at %s is unusable (%s); rebuilding", name, record.path, err)
            return None
        self._bases[name] = base
        return index, record.generation

    def _open(self, name: str, record: DerivedRecord) -> tuple[Derived, _Base]:
        """Read a recorded version (a full one, or a delta and its base), checking every digest.

        Raises:
            ValueError: a digest differs or a file is unreadable.
        """
        path = self.folder / record.path
        if dir_digest(path) != record.sha256:
            raise ValueError(f"files at {path} do not match the recorded digest")
        loader = partial(FaissIndex.load, ann=self.ann) if name == "dense" else Bm25Index.load
        if not (path / BASE_FILE).exists():
            index: Derived = loader(path)
            return index, _Base(record.path, record.sha256, index)
        pointer = json.loads((path / BASE_FILE).read_text(encoding="utf-8"))
        base_path = self.folder / str(pointer["path"])
        if dir_digest(base_path) != pointer["sha256"]:
            raise ValueError(f"files at {base_path} do not match the digest its delta recorded")
        base = loader(base_path)
        return base.with_delta(path), _Base(str(pointer["path"]), str(pointer["sha256"]), base)

    # -- catching up ---------------------------------------------------------------------------------------

    def _catch_up(self, snapshot: Snapshot) -> Snapshot | None:
        """Apply the store's changes since the snapshot's generation; ``None`` when a rebuild is needed."""
        started = time.perf_counter()
        changes = self.store.changes_since(snapshot.generation)
        if changes is None:
            log.info("the change log does not reach back to generation %s; rebuilding", snapshot.generation)
            return None
        rows = changes.rows
        if len(rows.rowids) > max(self.compact_rows, len(snapshot.dense)):
            log.info("%s rows changed since generation %s; rebuilding", len(rows.rowids), snapshot.generation)
            return None
        dense = snapshot.dense.apply(changes.removed, rows.rowids, self._vectors(rows))
        lexical = snapshot.lexical.apply(changes.removed, rows.rowids, rows.passages)
        if len(dense) != changes.total or len(lexical) != changes.total:
            log.warning(
                "after catching up, the indexes hold %s and %s rows but the store has %s; rebuilding",
                len(dense),
                len(lexical),
                changes.total,
            )
            return None
        dense = self._persist("dense", dense, changes.generation)
        lexical = self._persist("lexical", lexical, changes.generation)
        self.updates += 1
        log.info(
            "indexes caught up from generation %s to %s: %s rows removed, %s added in %.3fs",
            snapshot.generation,
            changes.generation,
            len(changes.removed),
            len(rows.rowids),
            time.perf_counter() - started,
        )
        self._collect_garbage()
        return Snapshot(changes.generation, dense, lexical)

    def _persist(self, name: str, index: _D, generation: int) -> _D:
        """Record an updated index: its delta over the known base, or a full version when there is none."""
        base = self._bases.get(name)
        shares = base is not None and type(base.index) is type(index) and index.shares_base(base.index)  # type: ignore[arg-type]
        if base is None or not shares or not (self.folder / base.path).is_dir():
            compact = index.compacted()
            self._publish(name, compact, generation)
            return compact
        self._publish(name, index, generation, base)
        return index

    # -- compacting ----------------------------------------------------------------------------------------

    def _oversized(self, index: Derived) -> bool:
        """Whether ``index`` is due for compaction: a large delta, or a dense base of the wrong kind for its
        size (the store grew past ``ann.min_rows`` or shrank below half of it)."""
        if isinstance(index, FaissIndex) and index.kind_due():
            return True
        return index.delta_size() > max(self.compact_rows, self.compact_fraction * index.main_size())

    def _maybe_compact(self) -> None:
        """Fold a delta that grew past its size into a new full version (called holding the lock)."""
        snapshot = self._snapshot
        if snapshot is None or not (self._oversized(snapshot.dense) or self._oversized(snapshot.lexical)):
            return
        if not self.background:
            self._compact(snapshot, locked=True)
        elif self._compactor is None or not self._compactor.is_alive():
            self._compactor = threading.Thread(
                target=self._compact, args=(snapshot,), name="eka-compact", daemon=True
            )
            self._compactor.start()

    def _compact(self, snapshot: Snapshot, locked: bool = False) -> None:
        """Merge and write outside the lock (searches and updates go on), then swap in under it, applying
        again any update that came meanwhile.

        Holds a second copy of the index being compacted until the swap (the old one serves meanwhile).
        """
        started = time.perf_counter()
        done: dict[str, Derived] = {}
        written: dict[str, tuple[Path, str]] = {}
        try:
            for name, index in (("dense", snapshot.dense), ("lexical", snapshot.lexical)):
                if self._oversized(index):
                    log.info("compacting the %s index (%s delta rows)", name, index.delta_size())
                    done[name] = index.compacted()
                    written[name] = self._write(name, done[name], snapshot.generation)
            with contextlib.nullcontext() if locked else self._lock:
                for name, (tmp, final_name) in list(written.items()):
                    self._commit(name, done[name], snapshot.generation, tmp, final_name)
                    written.pop(name)  # committed: no temp folder left to remove
                dense, lexical = done.get("dense", snapshot.dense), done.get("lexical", snapshot.lexical)
                assert isinstance(dense, FaissIndex) and isinstance(lexical, Bm25Index)
                compacted: Snapshot | None = Snapshot(snapshot.generation, dense, lexical)
                if self._snapshot is not snapshot:  # updates came meanwhile: apply them again on top
                    assert compacted is not None
                    compacted = self._catch_up(compacted)
                if compacted is None:
                    log.info("a compaction could not catch up with the store; the next update compacts again")
                    return
                self._snapshot = compacted
                self.compactions += len(done)
                self._collect_garbage()
            log.info("compacted %s in %.2fs", ", ".join(done), time.perf_counter() - started)
        except Exception:  # the delta stays valid: a failed compaction costs nothing but a retry
            log.exception("compacting the indexes failed")
        finally:
            for tmp, _final_name in written.values():
                shutil.rmtree(tmp, ignore_errors=True)

    # -- building ------------------------------------------------------------------------------------------

    def _rebuild(self) -> Snapshot:
        for _attempt in range(5):
            generation = self.store.generation()
            rows = self.store.index_rows()
            started = time.perf_counter()
            dense = FaissIndex.build(rows.rowids, self._vectors(rows), self.ann)
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

    def _publish(self, name: str, index: Derived, generation: int, base: _Base | None = None) -> bool:
        """Write ``index`` (its delta over ``base`` when given) as a new version and record it.

        Returns:
            False when the store moved past ``generation`` meanwhile (the version is then not recorded).
        """
        tmp, final_name = self._write(name, index, generation, base)
        return self._commit(name, index if base is None else None, generation, tmp, final_name)

    def _write(
        self, name: str, index: Derived, generation: int, base: _Base | None = None
    ) -> tuple[Path, str]:
        """Write a version into a temporary folder (which garbage collection leaves alone while we live)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        kind = "delta" if base is not None else "full"
        final_name = f"{name}-g{generation}-{kind}-{uuid.uuid4().hex[:8]}"
        tmp = self.folder / f".tmp-{os.getpid()}-{final_name}"
        tmp.mkdir()
        try:
            if base is None:
                index.save(tmp)
            else:
                index.save_delta(tmp)
                pointer = {"path": base.path, "sha256": base.sha256}
                (tmp / BASE_FILE).write_text(json.dumps(pointer), encoding="utf-8")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return tmp, final_name

    def _commit(self, name: str, full: Derived | None, generation: int, tmp: Path, final_name: str) -> bool:
        """Fsync and rename a written version into place and record it; a full one becomes the base."""
        try:
            publish_dir(tmp, self.folder / final_name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        digest = dir_digest(self.folder / final_name)
        if full is not None:
            self._bases[name] = _Base(final_name, digest, full)
        return self.store.record_derived(
            DerivedRecord(name, generation, final_name, digest, self.recipes[name])
        )

    def _collect_garbage(self) -> None:
        """Remove index folders no record (or its base) points to, and temp folders of dead processes."""
        keep = {b.path for b in self._bases.values()}
        for record in (self.store.derived("dense"), self.store.derived("lexical")):
            if record is None:
                continue
            keep.add(record.path)
            # A full version has no base file; an unreadable one is rebuilt on the next open.
            with contextlib.suppress(OSError, ValueError, KeyError):
                keep.add(
                    json.loads((self.folder / record.path / BASE_FILE).read_text(encoding="utf-8"))["path"]
                )
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
        loaded: dict[str, Derived] = {}
        for name in ("dense", "lexical"):
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
            try:
                loaded[name] = self._open(name, record)[0]
            except (OSError, RuntimeError, ValueError, KeyError) as err:
                problems.append(f"{name}: {err}" if "digest" in str(err) else f"{name}: unreadable ({err})")
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

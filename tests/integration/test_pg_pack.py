"""Packed postings in PostgreSQL (assistant/pg/pack.py): a search through the pack returns exactly what BM25
over the caller's readable chunks gives (first principles, tests/contract), before and after every kind of
change, including a change made while the pack was being built; the pack is rebuilt when enough has
changed, and the reader role sees only its own access lists' blocks (real PostgreSQL)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.pg import pack
from assistant.pg.search import PgSearcher, PgSearchParams
from assistant.store import Store
from tests.contract.test_searcher_contract import (
    DIM,
    K1,
    MODEL,
    B,
    Backend,
    _bm25,
    _doc,
    _embed,
    _passages,
    _postgres,
    _put,
)

pytestmark = pytest.mark.integration

WORDS = [
    "caliper",
    "torque",
    "pad",
    "wear",
    "disc",
    "runout",
    "seal",
    "door",
    "bolt",
    "nut",
    "coolant",
    "pump",
    "hose",
    "clamp",
    "sensor",
    "relay",
    "fuse",
]
GROUPS = ("brakes", "body", "thermal")
QUERIES = [
    "caliper torque",
    "pad wear limit",
    "coolant pump hose",
    "door seal",
    "relay fuse sensor nut",
    "Nm",
]


def _corpus(store: Store, documents: int = 24, seed: int = 7) -> None:
    """Documents of random sentences over a small vocabulary (many shared terms, varied lengths), each
    readable by one or two groups."""
    rng = random.Random(seed)
    for d in range(documents):
        texts = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) + f" {rng.randint(1, 300)} Nm."
            for _ in range(rng.randint(1, 5))
        ]
        acl = set(rng.sample(GROUPS, rng.randint(1, 2)))
        _put(store, *_doc(f"d{d:02d}", texts, acl, rng.choice(["spec", "memo"])))


def _backend(tmp_path: Path, request: pytest.FixtureRequest, **params: Any) -> tuple[Backend, PgSearcher]:
    """A store, and a searcher that uses the pack for every reader (``pack_rows=1``)."""
    backend = _postgres(tmp_path, request, exact_rows=0)
    searcher = backend.searcher
    assert isinstance(searcher, PgSearcher)
    packed = PgSearcher(searcher.db, DIM, MODEL, _embed, PgSearchParams(k1=K1, b=B, pack_rows=1, **params))
    return backend, packed


class _Spy:
    """Counts blocks summed through the pack (proves a search took the packed path)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.blocks = 0
        real = pack.score

        def score(blocks: Any, *args: Any) -> np.ndarray:
            listed = list(blocks)
            self.blocks += len(listed)
            return real(listed, *args)

        monkeypatch.setattr(pack, "score", score)


def _assert_bm25(
    store: Store, searcher: PgSearcher, groups: set[str], filters: dict[str, Any] | None = None
) -> None:
    """Every query's top 10 through ``searcher`` are BM25's over the readable (and filtered) chunks, with
    BM25's scores, ties in row order."""
    passages = _passages(store, groups)
    population = {r: p for r, (_d, p) in passages.items()}  # BM25's statistics: every readable chunk
    kept = {s.document.doc_id for s in store.documents() if _matches(s.document.metadata, filters)}
    expected_rows = {r for r, (d, _p) in passages.items() if d in kept}
    for query in QUERIES:
        scores = {r: s for r, s in _bm25(query, population).items() if r in expected_rows}
        expected = sorted(scores, key=lambda r: pack.tie_key(r, scores[r]))[:10]
        with searcher.view(frozenset(groups), filters or {}) as view:
            rows, found = view.lexical(query, 10)
        assert rows.tolist() == expected, (query, groups, filters)
        assert found.tolist() == pytest.approx([scores[r] for r in expected], rel=1e-5)


def _matches(metadata: dict[str, Any], filters: dict[str, Any] | None) -> bool:
    return not filters or metadata["doc_type"] in filters["doc_type"]


def _state(searcher: PgSearcher) -> tuple[int, int, int]:
    with searcher.db.connection() as conn:
        row = conn.execute(
            "SELECT lexical_pack, lexical_watermark, lexical_slots FROM store_state"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_searches_through_the_pack_score_bm25_over_the_readable_chunks(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, searcher = _backend(tmp_path, request)
    _corpus(backend.store)
    built = searcher.repack()
    assert built is not None and _state(searcher) == (built.pack, built.watermark, built.slots)
    assert built.slots == backend.store.counts()["chunks"]
    spy = _Spy(monkeypatch)
    for groups in ({"brakes"}, {"body", "thermal"}, set(GROUPS)):
        _assert_bm25(backend.store, searcher, groups)
        _assert_bm25(backend.store, searcher, groups, {"doc_type": ("memo",)})
    assert spy.blocks > 0
    with searcher.view(frozenset({"nobody"}), {}) as view:
        assert view.lexical("caliper torque", 10)[0].tolist() == []


def test_every_change_after_the_pack_is_seen_at_once(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New documents (above the watermark), a removed one, a replaced one (new rows), and one whose access
    list and title change (the same rows, re-indexed): readers of the old and the new access list both get
    BM25 over what they may read now."""
    backend, searcher = _backend(tmp_path, request)
    store = backend.store
    _corpus(store)
    assert searcher.repack() is not None
    spy = _Spy(monkeypatch)
    _corpus(store, documents=4, seed=99)  # d00..d03 replaced: new rows, the old ones dead in the pack
    _put(store, *_doc("late", ["caliper torque caliper 7 Nm.", "pad wear seal"], {"brakes"}))
    store.remove_document("doc-d10")
    moved = next(s.document.doc_id for s in store.documents() if "thermal" not in s.document.acl)
    store.update_metadata(
        moved, "Moved caliper torque memo", {"doc_type": "memo"}, frozenset({"thermal"}), "meta-moved"
    )
    for groups in ({"brakes"}, {"body"}, {"thermal"}, set(GROUPS)):
        _assert_bm25(store, searcher, groups)
        _assert_bm25(store, searcher, groups, {"doc_type": ("spec",)})
    assert spy.blocks > 0
    with searcher.view(frozenset({"thermal"}), {}) as view:
        rows = view.lexical("moved caliper torque memo", 50)[0].tolist()
    chunks = store.chunks_by_rowid(rows)
    assert any(c.doc_id == moved for c in chunks.values())


def test_a_change_made_while_the_pack_is_built_is_caught_up_by_the_switch(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    backend, searcher = _backend(tmp_path, request)
    store = backend.store
    _corpus(store)
    with searcher.db.connection() as conn:
        built = pack.build(conn)
        # Written after the pack's snapshot, before it is committed: only the change log tells the switch.
        store.remove_document("doc-d05")
        store.update_metadata("doc-d06", "Renamed pad wear", {"doc_type": "spec"}, frozenset({"body"}), "m6")
        _corpus(store, documents=2, seed=3)
        conn.commit()
        assert pack.switch(conn, built)
    assert _state(searcher)[0] == built.pack
    for groups in ({"brakes"}, {"body"}, set(GROUPS)):
        _assert_bm25(store, searcher, groups)


def test_refresh_rebuilds_the_pack_when_enough_rows_changed_and_drops_the_old_one(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    backend, searcher = _backend(tmp_path, request, repack_rows=5)
    store = backend.store
    _corpus(store)
    assert searcher.stale_rows() > 5  # no pack yet: every row
    searcher.refresh()
    assert searcher._packing is not None
    searcher._packing.join()
    first = _state(searcher)[0]
    assert first > 0 and searcher.stale_rows() == 0
    _put(store, *_doc("late", ["caliper torque"] * 3, {"brakes"}))
    searcher.refresh()  # 3 rows changed: no rebuild
    assert searcher._packing is not None
    searcher._packing.join()
    assert _state(searcher)[0] == first and searcher.stale_rows() == 3
    _corpus(store, documents=6, seed=5)  # rewrites d00..d05: their rows are dead in the pack
    assert searcher.stale_rows() > 5
    searcher.refresh()
    searcher._packing.join()
    second = _state(searcher)[0]
    assert second > first and searcher.stale_rows() == 0
    with searcher.db.connection() as conn:
        packs = {int(r[0]) for r in conn.execute("SELECT DISTINCT pack FROM lexical_slots")}
    assert packs == {second}
    _assert_bm25(store, searcher, set(GROUPS))


def test_the_reader_role_sees_only_its_own_access_lists_blocks(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Row-level security on the pack, the second guard behind the access filter in every query."""
    backend, searcher = _backend(tmp_path, request)
    _corpus(backend.store)
    assert searcher.repack() is not None
    with searcher.db.connection() as conn:
        all_acls = {int(r[0]) for r in conn.execute("SELECT DISTINCT acl_id FROM lexical_blocks")}
        brakes = {int(r[0]) for r in conn.execute("SELECT acl_id FROM acls WHERE groups && ARRAY['brakes']")}
    assert brakes < all_acls
    with searcher.view(frozenset({"brakes"}), {}) as view:
        seen = {int(r[0]) for r in view._conn.execute("SELECT DISTINCT acl_id FROM lexical_blocks")}
        slots = {int(r[0]) for r in view._conn.execute("SELECT DISTINCT acl_id FROM lexical_slots")}
    assert seen == brakes and slots <= brakes


def test_verify_checks_the_pack_against_the_store(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    backend, searcher = _backend(tmp_path, request)
    _corpus(backend.store)
    assert searcher.repack() is not None
    backend.store.remove_document("doc-d02")  # dead rows are no problem
    assert not [p for p in searcher.verify() if "lexical pack" in p]
    with searcher.db.connection() as conn:
        conn.execute("DELETE FROM lexical_slots WHERE slot IN (SELECT min(slot) FROM lexical_slots)")
        conn.execute("UPDATE lexical_blocks SET postings = postings || '\\x00'::bytea WHERE block = 0")
    problems = [p for p in searcher.verify() if "lexical pack" in p]
    assert any("slots, store_state says" in p for p in problems), problems
    assert any("not whole postings" in p for p in problems), problems
    assert any("are not in it" in p for p in problems), problems

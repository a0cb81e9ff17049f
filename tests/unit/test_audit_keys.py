"""The hash-chained provenance log and the API key store, on real SQLite files."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from assistant.audit import GENESIS, AuditLog, canonical, chain_hash
from assistant.errors import NotFound
from assistant.keys import KeyStore


@pytest.fixture
def log(tmp_path: Path) -> Iterator[AuditLog]:
    audit = AuditLog(tmp_path / "audit.sqlite3")
    yield audit
    audit.close()


def filled(log: AuditLog, n: int = 4) -> list[str]:
    return [
        log.append(f"user{i}", {"question": f"question {i}", "answer": f"answer {i} [1]"}) for i in range(n)
    ]


def attacker(log: AuditLog) -> sqlite3.Connection:
    """A second connection to the log's file, as someone with file access would open it."""
    return sqlite3.connect(log.path, isolation_level=None)


def test_appended_records_chain_from_genesis_and_verify(log: AuditLog) -> None:
    ids = filled(log)
    first = log.get(ids[0])
    assert first.prev_hash == GENESIS
    assert first.hash == chain_hash(GENESIS, canonical(first.record))
    assert first.record["provenance_id"] == ids[0] and first.record["user_id"] == "user0"
    assert log.get(ids[1]).prev_hash == first.hash
    report = log.verify()
    assert report.ok and report.records == 4 and report.problems == ()
    assert report.head == log.get(ids[-1]).hash


def test_records_come_back_newest_first(log: AuditLog) -> None:
    ids = filled(log)
    assert [r.provenance_id for r in log.records()] == ids[::-1]
    assert [r.provenance_id for r in log.records(2)] == ids[:1:-1]


def test_unknown_record_is_not_found(log: AuditLog) -> None:
    with pytest.raises(NotFound):
        log.get("ans_missing")


def test_the_database_refuses_updates_and_deletes(log: AuditLog) -> None:
    ids = filled(log, 2)
    with closing(attacker(log)) as db:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE provenance SET user_id = 'mallory' WHERE id = ?", (ids[0],))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM provenance WHERE id = ?", (ids[0],))
    assert log.verify().ok


def test_verify_detects_an_edited_record(log: AuditLog) -> None:
    ids = filled(log)
    with closing(attacker(log)) as db:
        db.execute("DROP TRIGGER provenance_no_update")
        text = db.execute("SELECT record FROM provenance WHERE id = ?", (ids[1],)).fetchone()[0]
        db.execute(
            "UPDATE provenance SET record = ? WHERE id = ?", (text.replace("answer 1", "answer 999"), ids[1])
        )
    report = log.verify()
    assert not report.ok
    assert report.problems == (f"record 2 ({ids[1]}): content does not match its hash",)


def test_verify_detects_an_edit_that_recomputes_the_records_own_hash(log: AuditLog) -> None:
    ids = filled(log)
    with closing(attacker(log)) as db:
        db.execute("DROP TRIGGER provenance_no_update")
        prev, text = db.execute("SELECT prev_hash, record FROM provenance WHERE id = ?", (ids[1],)).fetchone()
        forged = text.replace("answer 1", "answer 999")
        db.execute(
            "UPDATE provenance SET record = ?, hash = ? WHERE id = ?",
            (forged, chain_hash(prev, forged), ids[1]),
        )
    report = log.verify()
    assert not report.ok
    assert report.problems == (f"record 3 ({ids[2]}): link to the previous record is broken",)


def test_verify_detects_a_deleted_record(log: AuditLog) -> None:
    ids = filled(log)
    with closing(attacker(log)) as db:
        db.execute("DROP TRIGGER provenance_no_delete")
        db.execute("DELETE FROM provenance WHERE id = ?", (ids[1],))
    report = log.verify()
    assert not report.ok and report.records == 3
    assert report.problems == (f"record 3 ({ids[2]}): link to the previous record is broken",)


def test_verify_detects_reordered_records(log: AuditLog) -> None:
    ids = filled(log)
    with closing(attacker(log)) as db:
        db.execute("DROP TRIGGER provenance_no_update")
        db.execute("UPDATE provenance SET seq = 100 WHERE seq = 2")
        db.execute("UPDATE provenance SET seq = 2 WHERE seq = 3")
        db.execute("UPDATE provenance SET seq = 3 WHERE seq = 100")
    report = log.verify()
    assert not report.ok
    assert any(ids[2] in p and "link" in p for p in report.problems)


def test_verify_detects_a_record_whose_id_was_swapped(log: AuditLog) -> None:
    ids = filled(log, 2)
    with closing(attacker(log)) as db:
        db.execute("DROP TRIGGER provenance_no_update")
        db.execute("UPDATE provenance SET id = 'ans_forged' WHERE id = ?", (ids[0],))
    report = log.verify()
    assert report.problems == ("record 1: id does not match its content",)


def test_feedback_is_kept_per_answer_in_order(log: AuditLog) -> None:
    ids = filled(log, 2)
    log.add_feedback(ids[0], "user0", "up", "right page")
    log.add_feedback(ids[0], "user0", "down", None)
    assert [(f["rating"], f["comment"]) for f in log.feedback(ids[0])] == [
        ("up", "right page"),
        ("down", None),
    ]
    assert log.feedback(ids[1]) == []
    with pytest.raises(NotFound):
        log.add_feedback("ans_missing", "user0", "up", None)
    with pytest.raises(sqlite3.IntegrityError):
        log.add_feedback(ids[0], "user0", "meh", None)
    assert log.verify().ok  # feedback is not part of the chain


# -- API keys -----------------------------------------------------------------------------------------------


@pytest.fixture
def key_store(tmp_path: Path) -> Iterator[KeyStore]:
    store = KeyStore(tmp_path / "keys.sqlite3")
    yield store
    store.close()


def test_a_created_key_authenticates_as_its_user_groups_and_roles(key_store: KeyStore) -> None:
    record, secret = key_store.create(" ann ", ["battery", "software", "battery"], ["ingest"])
    assert secret.startswith("eka_") and len(secret) > 40
    found = key_store.authenticate(secret)
    assert found == record
    assert found.user == "ann" and found.groups == ("battery", "software") and found.roles == ("ingest",)
    assert found.principal.groups == frozenset({"battery", "software", "public"})


def test_only_the_hash_of_a_key_is_stored(key_store: KeyStore, tmp_path: Path) -> None:
    _, secret = key_store.create("ann", ["battery"])
    with closing(sqlite3.connect(tmp_path / "keys.sqlite3")) as db:
        rows = db.execute("SELECT * FROM keys").fetchall()
        dump = "\n".join(db.iterdump())
    assert secret not in dump and secret[len("eka_") :] not in dump
    assert hashlib.sha256(secret.encode()).hexdigest() in {v for row in rows for v in row}


@pytest.mark.parametrize("attempt", ["", "eka_", "eka_wrong", "Bearer eka_x", "x" * 300, "eka_" + "a" * 300])
def test_unknown_keys_do_not_authenticate(key_store: KeyStore, attempt: str) -> None:
    key_store.create("ann", [])
    assert key_store.authenticate(attempt) is None


def test_a_key_without_its_prefix_does_not_authenticate(key_store: KeyStore) -> None:
    _, secret = key_store.create("ann", [])
    assert key_store.authenticate(secret.removeprefix("eka_")) is None


def test_revoking_a_key_by_id_stops_only_that_key(key_store: KeyStore) -> None:
    first, secret1 = key_store.create("ann", [])
    _, secret2 = key_store.create("ann", [])
    assert key_store.revoke(first.key_id) == [first.key_id]
    assert key_store.authenticate(secret1) is None and key_store.authenticate(secret2) is not None
    assert first.key_id not in [k.key_id for k in key_store.keys(include_revoked=False)]
    revoked = next(k for k in key_store.keys(include_revoked=True) if k.key_id == first.key_id)
    assert revoked.revoked_at is not None
    with pytest.raises(NotFound):
        key_store.revoke(first.key_id)  # already revoked


def test_revoking_a_user_stops_all_their_keys(key_store: KeyStore) -> None:
    secrets = [key_store.create("ann", [])[1] for _ in range(2)]
    _, other = key_store.create("bob", [])
    assert len(key_store.revoke("ann")) == 2
    assert all(key_store.authenticate(s) is None for s in secrets)
    assert key_store.authenticate(other) is not None
    with pytest.raises(NotFound):
        key_store.revoke("nobody")


def test_keys_need_a_user_and_known_roles(key_store: KeyStore) -> None:
    with pytest.raises(ValueError, match="user"):
        key_store.create("  ", [])
    with pytest.raises(ValueError, match="root"):
        key_store.create("ann", [], ["root"])


def test_keys_survive_reopening_the_store(tmp_path: Path) -> None:
    first = KeyStore(tmp_path / "keys.sqlite3")
    record, secret = first.create("ann", ["battery"], ["auditor"])
    first.close()
    second = KeyStore(tmp_path / "keys.sqlite3")
    try:
        assert second.authenticate(secret) == record
    finally:
        second.close()


def test_key_groups_are_case_insensitive_like_document_groups(key_store: KeyStore) -> None:
    record, _ = key_store.create("ann", ["Battery"])
    assert "battery" in record.principal.groups


def test_an_anchor_catches_a_chain_rewritten_from_the_start(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3")
    for i in range(3):
        log.append("ann", {"question": f"q{i}"})
    anchor = log.verify().head
    assert log.verify(anchor).ok
    log.close()
    # An attacker rebuilds the whole chain with recomputed hashes: it is consistent, the anchor is gone.
    db = sqlite3.connect(tmp_path / "audit.sqlite3")
    db.execute("DROP TRIGGER provenance_no_update")
    prev = GENESIS
    for seq, text in db.execute("SELECT seq, record FROM provenance ORDER BY seq").fetchall():
        forged = text.replace('"q1"', '"forged"')
        digest = chain_hash(prev, forged)
        db.execute(
            "UPDATE provenance SET record = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (forged, prev, digest, seq),
        )
        prev = digest
    db.commit()
    db.close()
    log = AuditLog(tmp_path / "audit.sqlite3")
    assert log.verify().ok
    report = log.verify(anchor)
    assert not report.ok and "anchor" in report.problems[0]
    log.close()

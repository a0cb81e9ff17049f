"""The ``AuditLog`` contract (assistant/audit.py): the SQLite and PostgreSQL provenance logs pass the same
tests, including an attacker who bypasses the log and edits its rows as their owner."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from assistant.audit import GENESIS, AuditLog, SQLiteAuditLog, canonical, chain_hash
from assistant.errors import InvalidInput, NotFound
from assistant.pg.audit import PgAuditLog
from assistant.pg.db import Database
from tests.contract.services import BACKENDS, Backend, open_backend, run_together


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield from open_backend(request, tmp_path)


@pytest.fixture
def open_log(backend: Backend) -> Callable[[], AuditLog]:
    """Opens provenance logs on the test's backend, each as another process would."""

    def sqlite(folder: Path) -> AuditLog:
        return SQLiteAuditLog(folder / "audit.sqlite3")

    def open_() -> AuditLog:
        return backend.open(sqlite, PgAuditLog)

    return open_


@pytest.fixture
def log(open_log: Callable[[], AuditLog]) -> AuditLog:
    return open_log()


def filled(log: AuditLog, n: int = 4) -> list[str]:
    return [
        log.append(f"user{i}", {"question": f"question {i}", "answer": f"answer {i} [1]"}) for i in range(n)
    ]


def tamper(backend: Backend, sql: str, params: tuple[object, ...] = ()) -> None:
    """Change the provenance rows as their owner would, with the append-only triggers switched off."""
    if backend.name == "sqlite":
        backend.raw("audit", "DROP TRIGGER IF EXISTS provenance_no_update")
        backend.raw("audit", "DROP TRIGGER IF EXISTS provenance_no_delete")
    else:
        backend.raw("audit", "ALTER TABLE provenance DISABLE TRIGGER USER")
    backend.raw("audit", sql, params)


def test_appended_records_chain_from_genesis_and_verify(log: AuditLog) -> None:
    ids = filled(log)
    first = log.get(ids[0])
    assert first.seq == 1 and first.prev_hash == GENESIS
    assert first.hash == chain_hash(GENESIS, canonical(first.record))
    assert first.record["provenance_id"] == ids[0] and first.record["user_id"] == "user0"
    assert first.created_at == first.record["created_at"] and first.user_id == "user0"
    assert log.get(ids[1]).prev_hash == first.hash
    report = log.verify()
    assert report.ok and report.records == 4 and report.problems == ()
    assert report.head == log.get(ids[-1]).hash


def test_an_empty_log_verifies_with_the_genesis_head(log: AuditLog) -> None:
    report = log.verify()
    assert report.ok and report.records == 0 and report.head == GENESIS


def test_records_keep_their_exact_text(log: AuditLog) -> None:
    record = {
        "question": 'Ünïcödé \x00 \u2028 "quotes"',
        "scores": [0.1, 1e-9],
        "nested": {"b": 1, "a": None},
    }
    stored = log.get(log.append("ann", record))
    assert {k: stored.record[k] for k in record} == record
    assert stored.hash == chain_hash(GENESIS, canonical(stored.record))
    assert log.verify().ok


def test_records_come_back_newest_first(log: AuditLog) -> None:
    ids = filled(log)
    assert [r.provenance_id for r in log.records()] == ids[::-1]
    assert [r.provenance_id for r in log.records(2)] == ids[:1:-1]
    assert [r.provenance_id for r in log.records(0)] == ids[::-1]
    assert [r.provenance_id for r in log.records(-3)] == ids[::-1]


@pytest.mark.parametrize("provenance_id", ["ans_missing", "", "ans_\x00", "x" * 5000])
def test_unknown_record_is_not_found(log: AuditLog, provenance_id: str) -> None:
    filled(log, 1)
    with pytest.raises(NotFound):
        log.get(provenance_id)
    assert log.feedback(provenance_id) == []


def test_the_database_refuses_updates_and_deletes(log: AuditLog, backend: Backend) -> None:
    ids = filled(log, 2)
    with pytest.raises(Exception, match="append-only"):
        backend.raw("audit", "UPDATE provenance SET user_id = 'mallory' WHERE id = ?", (ids[0],))
    with pytest.raises(Exception, match="append-only"):
        backend.raw("audit", "DELETE FROM provenance WHERE id = ?", (ids[0],))
    assert log.verify().ok and log.get(ids[0]).user_id == "user0"


def test_verify_detects_an_edited_record(log: AuditLog, backend: Backend) -> None:
    ids = filled(log)
    text = backend.raw("audit", "SELECT record FROM provenance WHERE id = ?", (ids[1],))[0][0]
    tamper(
        backend,
        "UPDATE provenance SET record = ? WHERE id = ?",
        (text.replace("answer 1", "answer 9"), ids[1]),
    )
    report = log.verify()
    assert not report.ok
    assert report.problems == (f"record 2 ({ids[1]}): content does not match its hash",)


def test_verify_detects_an_edit_that_recomputes_the_records_own_hash(log: AuditLog, backend: Backend) -> None:
    ids = filled(log)
    prev, text = backend.raw("audit", "SELECT prev_hash, record FROM provenance WHERE id = ?", (ids[1],))[0]
    forged = text.replace("answer 1", "answer 999")
    tamper(
        backend,
        "UPDATE provenance SET record = ?, hash = ? WHERE id = ?",
        (forged, chain_hash(prev, forged), ids[1]),
    )
    report = log.verify()
    assert not report.ok
    assert report.problems == (f"record 3 ({ids[2]}): link to the previous record is broken",)


def test_verify_detects_a_deleted_record(log: AuditLog, backend: Backend) -> None:
    ids = filled(log)
    tamper(backend, "DELETE FROM provenance WHERE id = ?", (ids[1],))
    report = log.verify()
    assert not report.ok and report.records == 3
    assert report.problems == (f"record 3 ({ids[2]}): link to the previous record is broken",)


def test_verify_detects_reordered_records(log: AuditLog, backend: Backend) -> None:
    ids = filled(log)
    tamper(backend, "UPDATE provenance SET seq = 100 WHERE seq = 2")
    backend.raw("audit", "UPDATE provenance SET seq = 2 WHERE seq = 3")
    backend.raw("audit", "UPDATE provenance SET seq = 3 WHERE seq = 100")
    report = log.verify()
    assert not report.ok
    assert any(ids[2] in p and "link" in p for p in report.problems)


def test_verify_detects_a_record_whose_id_was_swapped(log: AuditLog, backend: Backend) -> None:
    ids = filled(log, 2)
    tamper(backend, "UPDATE provenance SET id = 'ans_forged' WHERE id = ?", (ids[0],))
    report = log.verify()
    assert report.problems == ("record 1: id does not match its content",)


def test_an_anchor_catches_a_chain_rewritten_from_the_start(log: AuditLog, backend: Backend) -> None:
    for i in range(3):
        log.append("ann", {"question": f"q{i}"})
    anchor = log.verify().head
    assert log.verify(anchor).ok
    # An attacker rebuilds the whole chain with recomputed hashes: it is consistent, the anchor is gone.
    tamper(backend, "SELECT 1")
    prev = GENESIS
    for seq, text in backend.raw("audit", "SELECT seq, record FROM provenance ORDER BY seq"):
        forged = text.replace('"q1"', '"forged"')
        digest = chain_hash(prev, forged)
        backend.raw(
            "audit",
            "UPDATE provenance SET record = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (forged, prev, digest, seq),
        )
        prev = digest
    assert log.verify().ok
    report = log.verify(anchor)
    assert not report.ok and "anchor" in report.problems[0]


def test_feedback_is_kept_per_answer_in_order(log: AuditLog) -> None:
    ids = filled(log, 2)
    log.add_feedback(ids[0], "user0", "up", "right page")
    log.add_feedback(ids[0], "user0", "down", None)
    given = log.feedback(ids[0])
    assert [(f["user_id"], f["rating"], f["comment"]) for f in given] == [
        ("user0", "up", "right page"),
        ("user0", "down", None),
    ]
    assert all(f["created_at"].endswith("+00:00") for f in given)
    assert log.feedback(ids[1]) == []
    assert log.verify().ok  # feedback is not part of the chain


@pytest.mark.parametrize("provenance_id", ["ans_missing", "ans_\x00"])
def test_feedback_on_an_unknown_answer_is_not_found(log: AuditLog, provenance_id: str) -> None:
    filled(log, 1)
    with pytest.raises(NotFound):
        log.add_feedback(provenance_id, "user0", "up", None)


@pytest.mark.parametrize(("rating", "comment"), [("meh", None), ("", None), ("UP", None), ("up", "a\x00b")])
def test_bad_feedback_is_refused_with_a_clear_error(log: AuditLog, rating: str, comment: str | None) -> None:
    ids = filled(log, 1)
    with pytest.raises(InvalidInput):
        log.add_feedback(ids[0], "user0", rating, comment)
    assert log.feedback(ids[0]) == []


def test_a_second_instance_continues_the_same_chain(open_log: Callable[[], AuditLog]) -> None:
    first, second = open_log(), open_log()
    a = first.append("ann", {"question": "one"})
    b = second.append("bob", {"question": "two"})
    assert second.get(b).prev_hash == first.get(a).hash
    assert [r.provenance_id for r in first.records()] == [b, a]
    assert first.verify().ok and second.verify().head == first.get(b).hash


def test_the_chain_stays_valid_when_many_writers_append_at_once(open_log: Callable[[], AuditLog]) -> None:
    writers, each = 6, 15
    logs = [open_log() for _ in range(writers)]  # one instance per writer, as separate processes
    appended: list[list[str]] = [[] for _ in range(writers)]

    def write(n: int) -> None:
        for i in range(each):
            appended[n].append(logs[n].append(f"user{n}", {"question": f"{n}/{i}"}))

    run_together(writers, write)
    report = logs[0].verify()
    assert report.ok, report.problems
    assert report.records == writers * each
    stored = logs[0].records()
    assert sorted(r.seq for r in stored) == list(range(1, writers * each + 1))
    assert {r.provenance_id for r in stored} == {p for ids in appended for p in ids}
    for ids in appended:  # each writer's records keep its order
        seqs = [logs[0].get(p).seq for p in ids]
        assert seqs == sorted(seqs)


def _append_in_a_process(backend: str, where: str, writer: int, count: int, start: Barrier) -> None:
    """One writer process: its own log (and pool), appending ``count`` records once every writer is ready."""
    log: AuditLog = SQLiteAuditLog(Path(where)) if backend == "sqlite" else PgAuditLog(Database(where, 2))
    start.wait()
    for i in range(count):
        log.append(f"process{writer}", {"question": f"{writer}/{i}"})
    log.close()


def test_the_chain_stays_valid_when_several_processes_append_at_once(log: AuditLog, backend: Backend) -> None:
    writers, each = 3, 20
    where = str(backend.sqlite_file("audit")) if backend.name == "sqlite" else backend.url
    assert where is not None
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(writers)
    processes = [
        spawn.Process(target=_append_in_a_process, args=(backend.name, where, n, each, start))
        for n in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
    assert [process.exitcode for process in processes] == [0] * writers
    report = log.verify()
    assert report.ok, report.problems
    assert report.records == writers * each
    assert sorted(r.seq for r in log.records()) == list(range(1, writers * each + 1))

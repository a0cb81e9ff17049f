"""Packed postings: BM25 over a large store without one SQL row per posting (migration 0007).

A *pack* copies the ``postings`` of every chunk row up to a watermark into a few arrays per (term, access
list): each chunk row gets a ``slot`` (0 .. n-1 in row id order) and each array holds slots, passage lengths
and term frequencies. A search reads a query term's arrays (a few rows of ``lexical_blocks``) and sums BM25 in
numpy (:func:`score`), about twenty times cheaper per posting than SQL's aggregate. Rows above the watermark,
and rows deleted or re-indexed since the pack's snapshot (``lexical_dead``), are read from ``postings`` as
before, so a search sees every committed change at once and a pack is never wrong, only more or less
complete. ``postings`` stays the truth.

Building (:func:`build`) reads one snapshot and writes the new pack beside the one searches use, without
blocking writers; :func:`switch` then takes the writers' lock for a moment: it marks dead what changed since
the snapshot (from the change log) and points ``store_state`` at the new pack. Writers mark the rows they
delete or re-index as dead in every pack that holds them (:func:`mark_dead`), in their own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import psycopg

log = logging.getLogger(__name__)

BLOCK_BITS = 18  # a block holds the postings of one term and access list for 2**18 consecutive slots
PACK_LOCK_KEY = 0x656B_613A_7061_636B  # one pack build at a time per database ("eka:pack")
# A posting's bytes in a block: slot (uint32), passage length (int16), term frequency (int16), big-endian
# (PostgreSQL's int4send/int2send). Lengths and frequencies above 32,767 are stored as 32,767.
POSTING_BYTES = 8
_CAP = 32_767
TIE_DIGITS = 9


@dataclass(frozen=True, slots=True)
class Built:
    """A pack written (committed) but not yet used by searches."""

    pack: int
    generation: int  # the store generation of the pack's snapshot
    watermark: int  # the highest chunk row id in it
    slots: int


def build(conn: psycopg.Connection, work_mem: str = "256MB") -> Built:
    """Write a new pack of every chunk row in one snapshot (searches do not use it yet); the caller commits.

    Writers are not blocked: they go on and are caught up by :func:`switch`. The caller holds
    :data:`PACK_LOCK_KEY` (two builds at once would both be correct, and each would waste the other's work).
    """
    conn.commit()
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    row = conn.execute(
        "SELECT generation, (SELECT coalesce(max(row_id), 0) FROM chunks), nextval('lexical_pack_seq')"
        " FROM store_state"
    ).fetchone()
    assert row is not None
    generation, watermark, pack = int(row[0]), int(row[1]), int(row[2])
    conn.execute("SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)", (work_mem,))
    # Writers serialise on store_state and take row ids after that lock, so every row id up to the highest
    # one committed in this snapshot belongs to a committed row of this snapshot.
    slots = conn.execute(
        "INSERT INTO lexical_slots (pack, slot, row_id, acl_id, doc_key)"
        " SELECT %s, (row_number() OVER (ORDER BY row_id) - 1)::integer, row_id, acl_id, doc_key"
        " FROM chunks WHERE row_id <= %s",
        (pack, watermark),
    ).rowcount
    conn.execute(
        "INSERT INTO lexical_blocks (pack, term, acl_id, block, postings)"
        " SELECT %(pack)s, p.term, p.acl_id, s.slot >> %(bits)s,"
        " string_agg(int4send(s.slot), ''::bytea ORDER BY s.slot)"
        " || string_agg(int2send(least(p.length, %(cap)s)::smallint), ''::bytea ORDER BY s.slot)"
        " || string_agg(int2send(least(p.tf, %(cap)s)::smallint), ''::bytea ORDER BY s.slot)"
        " FROM postings p JOIN lexical_slots s ON s.pack = %(pack)s AND s.row_id = p.row_id"
        " WHERE p.row_id <= %(watermark)s GROUP BY p.term, p.acl_id, s.slot >> %(bits)s",
        {"pack": pack, "bits": BLOCK_BITS, "cap": _CAP, "watermark": watermark},
    )
    return Built(pack, generation, watermark, max(slots, 0))


def switch(conn: psycopg.Connection, built: Built) -> bool:
    """Make ``built`` (committed) the pack searches use, caught up on every change since its snapshot; drop
    the others.

    Returns False (and drops ``built``) when the change log no longer reaches back to the snapshot.
    """
    conn.commit()
    state = conn.execute(  # the writers' lock, held until the commit below: a moment
        "UPDATE store_state SET generation = generation RETURNING log_floor, lexical_pack"
    ).fetchone()
    assert state is not None
    floor, old = int(state[0]), int(state[1])
    if floor > built.generation:
        conn.rollback()
        drop(conn, [built.pack])
        log.warning("lexical pack %d dropped: the change log no longer reaches its snapshot", built.pack)
        return False
    changed = [
        int(r[0])
        for r in conn.execute(
            "SELECT DISTINCT unnest(removed) FROM changes WHERE generation > %s", (built.generation,)
        )
    ]
    mark_dead(conn, changed, packs=[built.pack])
    conn.execute(
        "UPDATE store_state SET lexical_pack = %s, lexical_watermark = %s, lexical_slots = %s",
        (built.pack, built.watermark, built.slots),
    )
    conn.commit()
    # Searches that began before the switch keep reading the old pack in their snapshot; deleting its rows
    # does not take them away from those.
    stale = [
        int(r[0])
        for r in conn.execute("SELECT DISTINCT pack FROM lexical_slots WHERE pack <> %s", (built.pack,))
    ]
    conn.commit()
    drop(conn, sorted(set(stale) | ({old} - {0, built.pack})))
    return True


def drop(conn: psycopg.Connection, packs: Sequence[int]) -> None:
    """Delete packs' rows (never the one searches use)."""
    if not packs:
        return
    for table in ("lexical_blocks", "lexical_dead", "lexical_slots"):
        conn.execute(
            f"DELETE FROM {table} WHERE pack = ANY(%s)"  # noqa: S608 - a fixed table name
            " AND pack <> (SELECT lexical_pack FROM store_state)",
            (list(packs),),
        )
    conn.commit()


def mark_dead(conn: psycopg.Connection, rows: Iterable[int], packs: Sequence[int] | None = None) -> None:
    """Mark chunk rows as changed in every pack that holds them (or only in ``packs``), in the caller's
    transaction: searches then read them from ``postings`` (if they still exist) instead of the pack.

    Each row is marked under its access list in the pack, and, when the row still exists, under its
    current one: a reader who may read only the new access list still finds the re-indexed row.
    """
    ids = sorted(set(rows))
    if not ids:
        return
    conn.execute(
        "INSERT INTO lexical_dead (pack, slot, row_id, acl_id)"
        " SELECT s.pack, s.slot, s.row_id, a.acl_id FROM lexical_slots s"
        " LEFT JOIN chunks c ON c.row_id = s.row_id"
        " CROSS JOIN LATERAL (VALUES (s.acl_id), (c.acl_id)) AS a(acl_id)"
        " WHERE s.row_id = ANY(%s) AND a.acl_id IS NOT NULL AND (%s::integer[] IS NULL OR s.pack = ANY(%s))"
        " ON CONFLICT DO NOTHING",
        (ids, None if packs is None else list(packs), None if packs is None else list(packs)),
    )


def decode(block: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A block's slots, passage lengths and term frequencies."""
    n = len(block) // POSTING_BYTES
    if n * POSTING_BYTES != len(block):
        raise ValueError(f"a postings block of {len(block)} bytes")
    slots = np.frombuffer(block, dtype=">u4", count=n, offset=0)
    lengths = np.frombuffer(block, dtype=">i2", count=n, offset=4 * n)
    tfs = np.frombuffer(block, dtype=">i2", count=n, offset=6 * n)
    return slots, lengths, tfs


def score(blocks: Iterable[tuple[float, bytes]], size: int, norm0: float, norm1: float) -> np.ndarray:
    """BM25 of every slot from (query term weight, block) pairs: ``sum w * tf / (tf + norm0 + norm1 * len)``,
    the SQL aggregate's formula, in float64 as SQL sums it."""
    scores = np.zeros(size, dtype=np.float64)
    for weight, block in blocks:
        slots, lengths, tfs = decode(block)
        tf = tfs.astype(np.float64)
        # SQL's order of operations, so a posting's share is the same double on both sides; in place from
        # here (the temporaries of a 100,000-posting block cost).
        part = tf + norm0
        part += lengths * norm1
        np.multiply(tf, weight, out=tf)
        np.divide(tf, part, out=tf)
        # A slot occurs once per (term, access list) and a row has one access list: no repeated index here.
        scores[slots] += tf
    return scores


def tie_key(row: int, score: float) -> tuple[float, int]:
    """The sort key of a result: best score first, and scores equal up to summation order (which differs
    between SQL's aggregate and numpy, about 1e-15) are ties, taken in row id order."""
    return (-round(score, TIE_DIGITS), row)


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best slots with a positive score, best first, ties (:func:`tie_key`) by slot: row id
    order."""
    found = np.flatnonzero(scores > 0)
    if len(found) > k:
        values = scores[found]
        kth = values[np.argpartition(-values, k - 1)[k - 1]]
        found = found[values >= kth - 10.0**-TIE_DIGITS]  # with every row that ties the k-th
    order = np.lexsort((found, -np.round(scores[found], TIE_DIGITS)))
    return found[order[:k]]

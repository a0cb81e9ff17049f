"""The write side of BM25 in PostgreSQL: postings and per-access-list statistics, kept in the store's
transaction (assistant/pg/store.py calls these; assistant/pg/search.py reads them).

Tokens are the embedded backend's (assistant/tokenize.py), so both backends index the same terms. Statistics
are kept per access list (``term_stats``: document frequency; ``acl_stats``: chunk count and token total), so
a reader's BM25 statistics are sums over the access lists the reader may read: exactly the statistics of the
chunks the reader may read, as in the embedded backend, and nothing about the others.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import psycopg

from assistant.pg import pack
from assistant.tokenize import tokenize

SEPARATOR = "\x1f"  # between the terms of one postings insert


def acl_id(conn: psycopg.Connection, acl: frozenset[str]) -> int:
    """The id of this access list, created on first use."""
    groups = sorted(acl)
    row = conn.execute("SELECT acl_id FROM acls WHERE groups = %s", (groups,)).fetchone()
    if row is None:
        row = conn.execute(
            "INSERT INTO acls (groups) VALUES (%s)"
            " ON CONFLICT (groups) DO UPDATE SET groups = EXCLUDED.groups RETURNING acl_id",
            (groups,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def index_chunks(conn: psycopg.Connection, rows: Sequence[tuple[int, str]], acl: int, doc_key: int) -> None:
    """Index chunk rows (row id, passage text) of one document: their lengths, postings and statistics.

    The chunk rows must exist; call once per row (after :func:`unindex_chunks` when re-indexing).
    """
    tokenized = [(row_id, tokenize(passage)) for row_id, passage in rows]
    with conn.cursor() as cur:
        cur.executemany(
            "UPDATE chunks SET length = %s WHERE row_id = %s", [(len(t), r) for r, t in tokenized]
        )
    index_tokens(conn, tokenized, acl, doc_key)


def index_tokens(
    conn: psycopg.Connection, rows: Sequence[tuple[int, list[str]]], acl: int, doc_key: int
) -> None:
    """Add postings and statistics for chunk rows (row id, their passage's tokens) of one document whose
    ``length`` is already stored (the store writes it with the chunk, so the row is written once)."""
    if not rows:
        return
    frequency: Counter[str] = Counter()
    tokens_total = 0
    terms: list[str] = []
    row_ids: list[int] = []
    tfs: list[int] = []
    sizes: list[int] = []
    for row_id, tokens in rows:
        counts = Counter(tokens)
        tokens_total += len(tokens)
        frequency.update(counts.keys())
        for term, tf in counts.items():
            terms.append(term)
            row_ids.append(row_id)
            tfs.append(tf)
            sizes.append(len(tokens))
    # One INSERT from arrays, not COPY: PostgreSQL refuses COPY FROM into a table with row-level security.
    # The arrays travel as delimited strings split by the server: psycopg's dumper of a list of thousands
    # of values costs more than the insert itself. No token holds the unit separator (tokens are words,
    # numbers and their joiners), nor a comma in a number list.
    if any(SEPARATOR in t for t in terms):
        raise ValueError("a token holds the unit separator")
    conn.execute(
        "INSERT INTO postings (term, row_id, tf, length, acl_id, doc_key)"
        " SELECT t, r, f, n, %s, %s FROM unnest(string_to_array(%s, %s),"
        " string_to_array(%s, ',')::bigint[], string_to_array(%s, ',')::integer[],"
        " string_to_array(%s, ',')::integer[]) AS u(t, r, f, n)",
        (
            acl,
            doc_key,
            SEPARATOR.join(terms),
            SEPARATOR,
            ",".join(map(str, row_ids)),
            ",".join(map(str, tfs)),
            ",".join(map(str, sizes)),
        ),
    )
    _add_term_stats(conn, acl, frequency)
    pack.mark_dead(conn, row_ids)  # a re-indexed row of a pack is read from here now
    conn.execute(
        "INSERT INTO acl_stats (acl_id, chunks, tokens) VALUES (%s, %s, %s) ON CONFLICT (acl_id) DO UPDATE"
        " SET chunks = acl_stats.chunks + EXCLUDED.chunks, tokens = acl_stats.tokens + EXCLUDED.tokens",
        (acl, len(rows), tokens_total),
    )


def unindex_chunks(conn: psycopg.Connection, row_ids: Sequence[int]) -> None:
    """Remove chunk rows from the postings and the statistics; call *before* the chunk rows are deleted."""
    if not row_ids:
        return
    ids = list(row_ids)
    pack.mark_dead(conn, ids)  # before the rows go: a pack's readers skip them from now on
    for acl, count, tokens in conn.execute(
        "SELECT acl_id, count(*), coalesce(sum(length), 0) FROM chunks"
        " WHERE row_id = ANY(%s) GROUP BY acl_id",
        (ids,),
    ).fetchall():
        conn.execute(
            "UPDATE acl_stats SET chunks = chunks - %s, tokens = tokens - %s WHERE acl_id = %s",
            (count, tokens, acl),
        )
    gone = conn.execute(
        "DELETE FROM postings WHERE row_id = ANY(%s) RETURNING term, acl_id", (ids,)
    ).fetchall()
    per_acl: dict[int, Counter[str]] = {}
    for term, acl in gone:
        per_acl.setdefault(acl, Counter())[term] += 1
    for acl, counts in per_acl.items():
        _add_term_stats(conn, acl, Counter({t: -c for t, c in counts.items()}))
    conn.execute("DELETE FROM acl_stats WHERE chunks <= 0")


def _add_term_stats(conn: psycopg.Connection, acl: int, delta: Counter[str]) -> None:
    """Add ``delta`` to the document frequencies of one access list (terms in sorted order: no deadlocks)."""
    if not delta:
        return
    terms = sorted(delta)
    conn.execute(
        "INSERT INTO term_stats (term, acl_id, df)"
        " SELECT t, %s, d FROM unnest(%s::text[], %s::bigint[]) AS u(t, d)"
        " ON CONFLICT (term, acl_id) DO UPDATE SET df = term_stats.df + EXCLUDED.df",
        (acl, terms, [delta[t] for t in terms]),
    )
    conn.execute("DELETE FROM term_stats WHERE acl_id = %s AND term = ANY(%s) AND df <= 0", (acl, terms))

"""A client that reads the start of a streamed answer and hangs up still leaves a provenance record."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from typing import Any

import pytest

from tests.server import Server, create_key

pytestmark = pytest.mark.e2e

QUESTION = "What is the pad wear sensor warning threshold of the AU-E7 brake pads?"
WAIT_S = 60.0  # how long the server may take to notice the hang-up (a deadline, not a measured speed)


def _records(server: Server, user: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(server.home / "audit.sqlite3")) as db:
        rows = db.execute("SELECT record FROM provenance WHERE user_id = ? ORDER BY seq", (user,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def _wait_for_record(server: Server, user: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while not (records := _records(server, user)):
        assert time.monotonic() < deadline, f"no provenance record for {user} after {WAIT_S:.0f} s"
        time.sleep(0.2)
    [record] = records
    return record


def _hang_up_after(server: Server, user: str, path: str, body: dict[str, Any], wanted: str) -> str:
    """POST a streaming request, read lines until one contains ``wanted``, then close the connection."""
    persona = create_key(server.home, user, user, "public")
    with (
        server.client() as client,
        client.stream("POST", path, json=body, headers=persona.headers) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if wanted in line:
                return line
    raise AssertionError(f"the stream ended without a line containing {wanted!r}")


@pytest.mark.parametrize("attempt", range(3))
def test_answer_stream_abandoned_after_its_sources_is_recorded(api: Server, attempt: int) -> None:
    user = f"hangup-answer-{attempt}"
    first = _hang_up_after(api, user, "/v1/answer", {"question": QUESTION, "stream": True}, '"sources"')
    sent = [s["chunk_id"] for s in json.loads(first)["sources"]]

    record = _wait_for_record(api, user)
    assert record["question"] == QUESTION
    assert sorted(h["chunk_id"] for h in record["hits"]) == sorted(sent)
    # The extractive answer is quick: the server may finish it before it notices the hang-up.
    assert record["error"] is None or (record["aborted"] and record["error"] == "client disconnected")


@pytest.mark.parametrize("attempt", range(2))
def test_chat_stream_abandoned_after_its_first_text_is_recorded(api: Server, attempt: int) -> None:
    user = f"hangup-chat-{attempt}"
    body = {"model": "eka", "messages": [{"role": "user", "content": QUESTION}], "stream": True}
    _hang_up_after(api, user, "/v1/chat/completions", body, '"delta": {"content": "')

    record = _wait_for_record(api, user)
    assert record["question"] == QUESTION and record["hits"]
    assert record["error"] is None or (record["aborted"] and record["error"] == "client disconnected")

"""Issue 11's findings, replayed against the running service. Where each finding's regression test lives:

1. Uploads overwrote other users' documents: ``test_rights.py`` (look-alike users, a key without the groups of
   an earlier upload) and ``tests/integration/test_access_lists.py`` (CLI and upload owners).
2. Delete checked only read access: ``test_rights.py`` (administrator's documents, shared documents, own
   uploads, the admin role).
3. Filters exhausted memory and CPU: ``test_bounds.py`` (limits over the API, globs at the limits) and
   ``tests/unit/test_bounds.py`` (bounded caches, fnmatch's cache).
4. One malformed DOCX broke ingest: ``test_bounds.py`` (hostile uploads, CLI folder with one) and
   ``tests/integration/test_hostile_files.py`` (memory limit, any parser exception).
5. Access-list mistakes published silently: ``test_rights.py`` (CLI) and
   ``tests/integration/test_access_lists.py``.
6. Lexical scores leaked words of unreadable documents: below, and
   ``tests/integration/test_access_statistics.py`` (every mode, answers and refusal evidence).
7. Anyone with ``ingest`` could publish: ``test_rights.py`` (the publish role),
   ``tests/e2e/test_api.py::test_planted_instruction_is_not_obeyed_and_is_flagged`` and
   ``tests/unit/test_injection.py`` (normalisation, chat-template markers, the labelled set).
8. Client input that gave a 500: ``test_bounds.py`` (surrogates in every JSON operation, long and oddly
   encoded upload names) and the schemathesis run with surrogates (``tests/e2e/test_api_schema.py``).
9. ``/readyz`` told counts: ``test_bounds.py`` (status only; ``/v1/stats`` per caller).
10. Aborted streams left no audit record: ``test_stream_audit.py`` and
    ``tests/integration/test_answer_audit.py``.
11. Unbounded upload metadata: ``test_bounds.py``.

And every output, as several personas: ``test_probes.py``.
"""

from __future__ import annotations

import pytest

from tests.server import Server

pytestmark = pytest.mark.e2e

# Words an uploader wants to know about: do documents he cannot read contain them?
QUERY = "brake fluid boiling point wet"
PLANTED = (
    "# Brake fluid notes\n\nBrake fluid boiling point wet and dry: the wet boiling point of brake fluid is "
    "the boiling point after the fluid has absorbed water. Wet brake fluid boils sooner; check the boiling "
    "point of the brake fluid at every service. Brake fluid, boiling point, wet, wet, wet.\n"
)


def _ranking(api: Server, persona: str, mode: str) -> list[tuple[str, float]]:
    with api.client(persona) as client:
        response = client.post("/v1/search", json={"query": QUERY, "k": 10, "mode": mode})
    assert response.status_code == 200, response.text
    return [(hit["chunk_id"], hit["score"]) for hit in response.json()["hits"]]


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
def test_finding_6_a_restricted_upload_changes_no_public_score(api: Server, mode: str) -> None:
    """A battery uploader adds a document full of the query's words; the public persona's hits and scores
    stay exactly the same, so they say nothing about that document (the battery reader finds it)."""
    before = _ranking(api, "public", mode)
    assert before, "the public persona finds nothing to compare"
    with api.client("battery-ingester") as uploader:
        uploaded = uploader.post(
            "/v1/documents",
            files={"files": (f"brake-fluid-notes-{mode}.md", PLANTED.encode(), "text/markdown")},
            data={"groups": "battery"},
        )
        assert uploaded.status_code == 200, uploaded.text
        doc_id = uploaded.json()["files"][0]["doc_id"]
        try:
            with api.client("battery") as insider:
                hits = insider.post("/v1/search", json={"query": QUERY, "mode": mode}).json()["hits"]
            assert hits[0]["doc_id"] == doc_id
            assert _ranking(api, "public", mode) == before
        finally:
            assert uploader.delete(f"/v1/documents/{doc_id}").status_code == 200
    assert _ranking(api, "public", mode) == before

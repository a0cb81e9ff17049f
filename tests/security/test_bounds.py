"""Bounded input over HTTP and the CLI (issue 11: findings 3, 4, 8, 9, 11), against the real `eka serve`.

Hostile DOCX files are built by tests/factories.py with zipfile; none is committed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_api_schema import OPENAPI
from tests.factories import billion_laughs_docx, cut_off_docx, huge_text_node_docx, zip_bomb_docx
from tests.server import Server, eka

pytestmark = pytest.mark.e2e

NOTE = b"# Gizmo\n\nThe gizmo clamp of the bounds test is torqued to 7 Nm.\n"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def remove_uploads(client: httpx.Client, *names: str) -> None:
    """Delete the caller's uploads of these names (so the shared server stays as it was)."""
    for document in client.get("/v1/documents").json()["documents"]:
        if document["source"].rsplit("/", 1)[-1] in names:
            client.delete(f"/v1/documents/{document['doc_id']}")


# -- finding 4: hostile DOCX uploads ------------------------------------------------------------------------

HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "cut-off": (cut_off_docx, "corrupt DOCX (XML:"),
    "billion-laughs": (billion_laughs_docx, "amplification"),
    "20-mb-text-node": (huge_text_node_docx, "Text node too long"),
    "zip-bomb": (zip_bomb_docx, "EKA_MAX_UNZIPPED_MB"),
}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_docx_upload_is_422_with_the_reason(api: Server, tmp_path: Path, kind: str) -> None:
    build, reason = HOSTILE[kind]
    content = build(tmp_path / f"{kind}.docx").read_bytes()
    with api.client("ingester") as client:
        response = client.post("/v1/documents", files=[("files", (f"{kind}.docx", content, DOCX))])
        listed = {d["source"] for d in client.get("/v1/documents").json()["documents"]}
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "ingest_failed" and body["detail"].startswith(f"{kind}.docx: ")
    assert reason in body["detail"]
    assert not any(source.endswith(f"/{kind}.docx") for source in listed)


def test_good_files_of_an_upload_are_ingested_beside_a_hostile_one(api: Server, tmp_path: Path) -> None:
    bomb = zip_bomb_docx(tmp_path / "bomb.docx").read_bytes()
    files = [("files", ("gizmo-bounds.md", NOTE, "text/markdown")), ("files", ("bomb.docx", bomb, DOCX))]
    with api.client("ingester") as client:
        response = client.post("/v1/documents", files=files)
        remove_uploads(client, "gizmo-bounds.md")
    assert response.status_code == 200, response.text
    statuses = {f["source"].rsplit("/", 1)[-1]: f["status"] for f in response.json()["files"]}
    assert statuses == {"gizmo-bounds.md": "ingested", "bomb.docx": "failed"}
    assert response.json()["ok"] is False


def test_cli_ingest_reports_hostile_docx_files_and_ingests_the_rest(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "ok.md").write_bytes(NOTE)
    (root / ("n" * 247 + ".md")).write_bytes(NOTE)  # NAME.meta.yaml would be too long for the file system
    for kind, (build, _reason) in HOSTILE.items():
        build(root / f"{kind}.docx")
    home = tmp_path / "home"
    home.mkdir()
    report = tmp_path / "r.json"
    result = eka(home, "ingest", str(root), "--report", str(report))
    assert result.returncode == 1, result.stderr[-3000:]
    files = {f["source"]: f for f in json.loads(report.read_text())["files"]}
    assert files["ok.md"]["status"] == "ingested"
    assert files["n" * 247 + ".md"]["status"] == "ingested"
    for kind, (_build, reason) in HOSTILE.items():
        assert files[f"{kind}.docx"]["status"] == "failed"
        assert reason in files[f"{kind}.docx"]["reason"]


# -- finding 8: every client input gets a 4xx ---------------------------------------------------------------

SURROGATE = "\ud800"


def raw_json(value: Any) -> bytes:
    """JSON as a client that sends lone surrogates writes it (``\\ud800`` escapes)."""
    return json.dumps(value, ensure_ascii=True).encode()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", raw_json({"messages": [{"role": "user", "content": f"pad {SURROGATE}"}]})),
        (
            "/v1/chat/completions",
            raw_json({"messages": [{"role": "user", "content": "pad wear?"}], "user": SURROGATE}),
        ),
        (
            "/v1/chat/completions",
            raw_json({"messages": [{"role": "user", "content": "pad wear?", SURROGATE: 1}], "stream": True}),
        ),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "pad \xed\xa0\x80"}]}'),
        ("/v1/search", raw_json({"query": f"pad {SURROGATE}"})),
        ("/v1/search", raw_json({"query": "pad", "filters": {"brand": SURROGATE}})),
        (
            "/v1/answer",
            raw_json({"question": "pad wear?", "history": [{"role": "user", "content": SURROGATE}]}),
        ),
        ("/v1/answer", raw_json({"question": f"pad wear? {SURROGATE}", "stream": True})),
        ("/v1/feedback", raw_json({"provenance_id": "ans_x", "rating": "up", "comment": SURROGATE})),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_json_request_is_422(api: Server, path: str, body: bytes) -> None:
    with api.client("public") as client:
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        after = client.get("/v1/me")  # the keep-alive connection is still good
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request" and "surrogate" in response.json()["detail"]
    assert after.status_code == 200


JSON_OPERATIONS = sorted(
    (path, method)
    for path, operations in OPENAPI["paths"].items()
    for method, operation in operations.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
)


@pytest.mark.parametrize(("path", "method"), JSON_OPERATIONS)
def test_every_json_operation_answers_a_lone_surrogate_with_422(api: Server, path: str, method: str) -> None:
    message = [{"role": "user", "content": "x"}]
    body = raw_json({"query": SURROGATE, "question": SURROGATE, "messages": message})
    with api.client("schema") as client:
        response = client.request(
            method.upper(), path, content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422, response.text
    assert set(response.json()) == {"error", "detail"}


def test_a_proper_surrogate_pair_is_ordinary_text(api: Server) -> None:
    with api.client("public") as client:
        response = client.post(
            "/v1/search",
            content=raw_json({"query": "pad wear \U0001f600"}),  # sent as "\ud83d\ude00"
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 200, response.text


def test_an_upload_name_over_the_limit_is_422(api: Server) -> None:
    name = "n" * 246 + ".md"  # the file system refused this with "File name too long" (a 500)
    with api.client("ingester") as client:
        response = client.post("/v1/documents", files=[("files", (name, NOTE, "text/markdown"))])
    assert response.status_code == 422, response.text
    assert "at most 200" in response.json()["detail"]


def test_upload_form_fields_in_odd_encodings_get_a_4xx(api: Server) -> None:
    boundary = "bOuNdArY"
    part = f'--{boundary}\r\nContent-Disposition: form-data; name="{{}}"{{}}\r\n\r\n'
    body = (
        part.format("groups", "").encode()
        + b"\xff\xfe\xed\xa0\x80\r\n"  # not UTF-8
        + part.format("metadata", "").encode()
        + b'{"brand": "\xed\xa0\x80"}\r\n'
        + part.format("files", '; filename="odd-\xff\xed.md"').encode("latin-1")
        + NOTE
        + b"\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    with api.client("ingester") as client:
        response = client.post(
            "/v1/documents",
            content=body,
            headers={"content-type": f"multipart/form-data; boundary={boundary}"},
        )
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) == {"error", "detail"}


def test_an_upload_name_at_the_limit_is_ingested(api: Server) -> None:
    name = "n" * 197 + ".md"  # with ".meta.yaml" the sidecar name it looks for is 210 bytes
    with api.client("ingester") as client:
        response = client.post("/v1/documents", files=[("files", (name, NOTE, "text/markdown"))])
        remove_uploads(client, name)
    assert response.status_code == 200, response.text
    assert [f["status"] for f in response.json()["files"]] == ["ingested"]


# -- finding 3: filters are bounded -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"brand": "x" * 201}, "at most 200"),
        ({"source": "x" * 1_000_000}, "at most 200"),
        ({"source": "*a" * 11}, "wildcards; at most 10"),
        ({"brand": [f"b{i}" for i in range(101)]}, "at most 100"),
    ],
)
def test_filters_over_a_limit_are_422_with_the_limit(
    api: Server, filters: dict[str, Any], message: str
) -> None:
    with api.client("public") as client:
        search = client.post("/v1/search", json={"query": "pad wear", "filters": filters})
        answer = client.post("/v1/answer", json={"question": "pad wear?", "filters": filters})
    for response in (search, answer):
        assert response.status_code == 422, response.text
        assert message in response.json()["detail"]


def test_a_glob_at_the_limits_still_filters(api: Server) -> None:
    with api.client("public") as client:
        response = client.post(
            "/v1/search", json={"query": "pad wear", "filters": {"source": "brakes/*-??????-*.pdf"}}
        )
    assert response.status_code == 200, response.text
    assert response.json()["hits"] and all(h["source"].startswith("brakes/") for h in response.json()["hits"])


# -- finding 11: upload metadata is bounded -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        (json.dumps({f"k{i}": "v" for i in range(51)}), "51 keys; at most 50"),
        (json.dumps({"brand": "x" * 201}), "at most 200"),
        (json.dumps({"title": "x" * 1001}), "at most 1000"),
        (json.dumps({"k" * 101: "x"}), "1 to 100 characters"),
        (json.dumps({"brand": SURROGATE}), "surrogate"),
    ],
)
def test_upload_metadata_over_a_limit_is_422(api: Server, metadata: str, message: str) -> None:
    with api.client("ingester") as client:
        response = client.post(
            "/v1/documents",
            files=[("files", ("meta-bounds.md", NOTE, "text/markdown"))],
            data={"metadata": metadata},
        )
        listed = {d["source"].rsplit("/", 1)[-1] for d in client.get("/v1/documents").json()["documents"]}
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]
    assert "meta-bounds.md" not in listed


# -- finding 9: health without data -------------------------------------------------------------------------


def test_readyz_without_a_key_is_status_only(api: Server) -> None:
    response = httpx.get(f"{api.url}/readyz")
    assert response.status_code == 200 and response.json() == {"status": "ready", "backend": "embedded"}


def test_stats_count_only_what_the_caller_may_read(api: Server) -> None:
    counts = {}
    for persona in ("public", "security"):
        with api.client(persona) as client:
            stats = client.get("/v1/stats")
            documents = client.get("/v1/documents").json()["documents"]
        assert stats.status_code == 200, stats.text
        assert stats.json() == {"documents": len(documents), "chunks": sum(d["chunks"] for d in documents)}
        counts[persona] = stats.json()["documents"]
    assert counts["public"] < counts["security"]
    assert httpx.get(f"{api.url}/v1/stats").status_code == 401

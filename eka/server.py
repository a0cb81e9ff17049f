"""The service as ``eka serve`` runs it: the library's app plus uploads through the ingest pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from assistant.api.app import create_app
from assistant.app import Assistant
from assistant.config import Settings


def ingest_upload(
    assistant: Assistant, path: Path, source: str, acl: list[str], meta: dict[str, str], owner: str
) -> list[dict[str, Any]]:
    """Ingest one file uploaded by ``owner``; a bad file is a 'failed' result with its reason."""
    from ingest.pipeline import Ingestor

    report = Ingestor(assistant).run_file(path, source, acl=acl, meta=meta, owner=owner)
    stored = assistant.store.document_by_source(source)
    return [
        {
            "source": f.source,
            "status": f.status,
            "reason": f.reason,
            "doc_id": stored.document.doc_id if stored and f.status != "failed" else None,
            "chunks": f.chunks,
        }
        for f in report.files
    ]


def create(settings: Settings | None = None) -> FastAPI:
    """The app ``eka serve`` runs (also importable for ``uvicorn eka.server:create --factory``)."""
    return create_app(settings or Settings(), uploader=ingest_upload)

"""Documents: list and show what the caller may read, page text for citation previews, upload, delete.

A document the caller may not read answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from assistant.api.deps import Caller, CallerDep, Services, ServicesDep
from assistant.api.schemas import (
    DeleteResponse,
    DocumentList,
    DocumentOut,
    ErrorOut,
    PageOut,
    UploadFileResult,
    UploadResponse,
)
from assistant.api.unicode import is_valid_text
from assistant.errors import AccessDenied, NotFound
from assistant.filters import MAX_VALUE_CHARS, can_read
from assistant.pages import page_text
from assistant.pg.store import PgStore
from assistant.render import original_pdf, render_pdf_page
from assistant.rights import PUBLISH_ROLE, upload_source, write_refusal
from assistant.types import PUBLIC_GROUP, Document

router = APIRouter(prefix="/v1/documents")

UPLOAD_TYPES = {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt", ".text"}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
# Upload limits. A name leaves room for "NAME.meta.yaml" and the file system's 255-byte limit on names.
MAX_NAME_CHARS = 200
MAX_META_KEYS = 50
MAX_META_KEY_CHARS = 100
MAX_META_VALUE_CHARS = MAX_VALUE_CHARS  # every value is a facet, and a facet must be usable as a filter
MAX_TITLE_CHARS = 1000


def readable(svc: Services, doc_id: str, groups: frozenset[str]) -> Document:
    """The document if the caller may read it; NotFound otherwise (without saying which)."""
    try:
        document = svc.assistant.store.document(doc_id)
    except NotFound:
        document = None
    if document is None or not can_read(document, groups):
        raise NotFound(f"no document {doc_id!r}")
    return document


@router.get("", response_model=DocumentList, summary="Documents the caller may read, with metadata facets")
def list_documents(svc: ServicesDep, caller: CallerDep) -> DocumentList:
    groups = caller.principal.groups
    counts = svc.assistant.store.chunk_counts()
    docs = [s.document for s in svc.assistant.store.documents() if can_read(s.document, groups)]
    facets: dict[str, set[str]] = {}
    for doc in docs:
        for key, value in doc.metadata.items():
            values = value if isinstance(value, list) else [value]
            facets.setdefault(key, set()).update(str(v) for v in values if isinstance(v, str | int | float))
    return DocumentList(
        documents=[DocumentOut.of(d, counts.get(d.doc_id, 0)) for d in sorted(docs, key=lambda d: d.source)],
        facets={k: sorted(v) for k, v in sorted(facets.items()) if v},
    )


@router.get(
    "/{doc_id}", response_model=DocumentOut, responses={404: {"description": "Unknown or not readable"}}
)
def get_document(doc_id: str, svc: ServicesDep, caller: CallerDep) -> DocumentOut:
    document = readable(svc, doc_id, caller.principal.groups)
    return DocumentOut.of(document, svc.assistant.store.chunk_counts().get(doc_id, 0))


@router.get(
    "/{doc_id}/pages/{page}",
    response_model=PageOut,
    summary="One page's text (documents without pages have one page, 1)",
    responses={404: {"description": "Unknown document or page"}},
)
def get_page(doc_id: str, page: int, svc: ServicesDep, caller: CallerDep) -> PageOut:
    document = readable(svc, doc_id, caller.principal.groups)
    text = page_text(svc.assistant.store.chunks_of(doc_id), page)
    if text is None:
        raise NotFound(f"document {doc_id!r} has no page {page}")
    return PageOut(
        doc_id=doc_id,
        title=document.title,
        source=document.source,
        page=page,
        pages=document.pages,
        text=text.text,
        sections=list(text.sections),
    )


@router.get(
    "/{doc_id}/pages/{page}/image",
    summary="A PDF page rendered as PNG (while the original file is still available)",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "The rendered page"},
        404: {"description": "Unknown, not readable, not a PDF, or the original file is gone or changed"},
    },
)
def get_page_image(
    doc_id: str,
    page: int,
    svc: ServicesDep,
    caller: CallerDep,
    scale: Annotated[float, Query(ge=0.5, le=3.0, description="Zoom; 1.0 is 72 dpi.")] = 1.5,
) -> Response:
    document = readable(svc, doc_id, caller.principal.groups)
    if document.mime != "application/pdf":
        raise NotFound(f"document {doc_id!r} is not a PDF")
    stored = svc.assistant.store.document_by_source(document.source)
    if stored is None:
        raise NotFound(f"no document {doc_id!r}")
    pdf = original_pdf(svc.assistant.store, stored, svc.assistant.settings.home)
    png = render_pdf_page(pdf, page, scale)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


def _metadata(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as err:
        raise HTTPException(422, f"metadata is not JSON: {err}") from err
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in value.items()
    ):
        raise HTTPException(422, 'metadata must be a JSON object of strings, e.g. {"brand": "Aurelis"}')
    meta = {k: str(v) for k, v in value.items()}
    if len(meta) > MAX_META_KEYS:
        raise HTTPException(422, f"metadata has {len(meta)} keys; at most {MAX_META_KEYS}")
    for key, text in meta.items():
        if not key.strip() or len(key) > MAX_META_KEY_CHARS:
            raise HTTPException(422, f"metadata keys must be 1 to {MAX_META_KEY_CHARS} characters")
        most = MAX_TITLE_CHARS if key == "title" else MAX_META_VALUE_CHARS
        if len(text) > most:
            raise HTTPException(
                422, f"metadata value of {key[:40]!r} is {len(text)} characters; at most {most}"
            )
        if not (is_valid_text(key) and is_valid_text(text)):
            raise HTTPException(422, "metadata holds a lone UTF-16 surrogate, which is not valid Unicode")
    return meta


@router.post(
    "",
    response_model=UploadResponse,
    summary="Upload and ingest documents (needs the 'ingest' role; only into the caller's own groups; "
    "'public' needs the 'publish' role)",
    responses={
        403: {
            "description": "No ingest role, a group the caller is not in, 'public' without the publish role, "
            "or a document of the same name the caller may not replace"
        },
        413: {"description": "Too large"},
        415: {"description": "Unsupported type"},
        422: {
            "model": ErrorOut,
            "description": "Invalid groups, metadata or file name, or no file could be ingested "
            "(`ingest_failed`: the detail gives each file's reason)",
        },
    },
)
def upload(
    svc: ServicesDep,
    caller: CallerDep,
    files: Annotated[list[UploadFile], File(description="PDF, DOCX, HTML, Markdown or text files.")],
    groups: Annotated[
        str | None,
        Form(
            description="Comma-separated access groups, among the key's own (default: all of the key's "
            "groups but public; public for a key with no other group). 'public' needs the publish role."
        ),
    ] = None,
    metadata: Annotated[str | None, Form(description='JSON object, e.g. {"brand": "Aurelis"}.')] = None,
) -> UploadResponse | JSONResponse:
    caller.require("ingest")
    if svc.uploader is None:
        raise HTTPException(501, "this server does not accept uploads")
    meta = _metadata(metadata)
    acl = _upload_acl(groups, caller.principal.groups, caller.roles)
    if not files or len(files) > 50:
        raise HTTPException(422, "send between 1 and 50 files")
    limit = int(svc.assistant.settings.max_file_mb * 1024 * 1024)
    user = caller.key.user
    results: list[UploadFileResult] = []
    with tempfile.TemporaryDirectory(prefix="eka-upload-") as tmp:
        # Every file is received and checked before any is ingested: a refused request changes nothing.
        received: list[tuple[str, Path]] = []
        for index, upload_file in enumerate(files):
            name = _SAFE_NAME.sub("_", Path(upload_file.filename or "upload").name).strip("._ ") or "upload"
            if len(name) > MAX_NAME_CHARS:
                raise HTTPException(
                    422, f"file name {name[:40]}… is {len(name)} characters long; at most {MAX_NAME_CHARS}"
                )
            suffix = Path(name).suffix.lower()
            if suffix not in UPLOAD_TYPES:
                raise HTTPException(
                    415,
                    f"{name}: unsupported type {suffix or '(none)'}; "
                    f"send one of {', '.join(sorted(UPLOAD_TYPES))}",
                )
            _check_replaceable(svc, upload_source(user, name), caller)
            path = Path(tmp) / str(index) / name
            path.parent.mkdir()
            size = 0
            with path.open("wb") as out:
                while block := upload_file.file.read(1 << 20):
                    size += len(block)
                    if size > limit:
                        raise HTTPException(
                            413, f"{name} is larger than {svc.assistant.settings.max_file_mb} MB"
                        )
                    out.write(block)
            received.append((name, path))
        for name, path in received:
            source = upload_source(user, name)
            rows = svc.uploader(svc.assistant, path, source, acl, meta, user)
            if any(row["status"] != "failed" for row in rows):  # keep the bytes of what was ingested
                _keep_original(svc, source, path, rows)
            results.extend(UploadFileResult(**row) for row in rows)
    if results and all(r.status == "failed" for r in results):  # nothing was ingested: the client's files
        reasons = "; ".join(f"{r.source.rsplit('/', 1)[-1]}: {r.reason}" for r in results)
        return JSONResponse({"error": "ingest_failed", "detail": reasons}, status_code=422)
    return UploadResponse(files=results, ok=all(r.status != "failed" for r in results))


def _keep_original(svc: Services, source: str, path: Path, rows: list[dict[str, Any]]) -> None:
    """Keep an ingested upload's file for page images: in the database on PostgreSQL (any host renders it),
    else under ``EKA_HOME``."""
    store = svc.assistant.store
    if isinstance(store, PgStore):
        content = path.read_bytes()
        sha256 = hashlib.sha256(content).hexdigest()
        for doc_id in {row["doc_id"] for row in rows if row["status"] != "failed" and row.get("doc_id")}:
            store.put_original(doc_id, sha256, content)
        return
    kept = svc.assistant.settings.home / source
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, kept)


def _upload_acl(groups: str | None, own: frozenset[str], roles: frozenset[str]) -> list[str]:
    """The access list of an upload: chosen among the caller's groups; ``public`` only with ``publish``."""
    acl = [g.strip().lower() for g in (groups or "").split(",") if g.strip()]
    if not acl:  # default: readable by the caller's own teams, never silently by everyone
        acl = sorted(own - {PUBLIC_GROUP}) or [PUBLIC_GROUP]
    if any(not re.fullmatch(r"[\w.-]{1,100}", g) for g in acl):
        raise HTTPException(422, "groups must be comma-separated names of letters, digits, '.', '_' or '-'")
    foreign = sorted(set(acl) - own)
    if foreign:  # else an uploader could plant documents in other teams' answers, and never remove them
        raise AccessDenied(f"you may only upload into your own groups; not a member of {', '.join(foreign)}")
    if PUBLIC_GROUP in acl and PUBLISH_ROLE not in roles:  # public reaches every key: its own role
        raise AccessDenied(
            "uploading to 'public' needs the 'publish' role; choose groups of your own (form field 'groups')"
        )
    return acl


def _check_replaceable(svc: Services, source: str, caller: Caller) -> None:
    """403 when a document already at ``source`` is one the caller may not replace."""
    existing = svc.assistant.store.document_by_source(source)
    if existing is None:
        return
    document = existing.document
    reason = (
        "it belongs to another user"
        if document.owner != caller.key.user
        else write_refusal(document, caller.principal.groups, caller.roles)
    )
    if reason is not None:
        name = source.rsplit("/", 1)[-1]
        raise AccessDenied(f"you may not replace your earlier upload {name}: {reason}")


@router.delete(
    "/{doc_id}",
    response_model=DeleteResponse,
    summary="Remove a document (needs the 'ingest' role and the right to write it)",
    responses={
        403: {
            "description": "No ingest role, or a document the caller may read but not write: shared with a "
            "group the key is not in, public without the publish role, or ingested from the CLI without "
            "the admin role"
        },
        404: {"description": "Unknown or not readable"},
    },
)
def delete_document(doc_id: str, svc: ServicesDep, caller: CallerDep) -> DeleteResponse:
    caller.require("ingest")
    document = readable(svc, doc_id, caller.principal.groups)
    reason = write_refusal(document, caller.principal.groups, caller.roles)
    if reason is not None:
        raise AccessDenied(f"you may not delete this document: {reason}")
    svc.assistant.store.remove_document(doc_id)
    if document.source.startswith("uploads/"):  # the kept original (sources are unique: never another's)
        kept = svc.assistant.settings.home / document.source
        kept.unlink(missing_ok=True)
    svc.assistant.searcher.refresh()  # apply the removal now, so no later request pays for it
    return DeleteResponse(doc_id=doc_id, deleted=True)

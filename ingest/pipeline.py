"""The ingest run: discover -> skip unchanged -> parse and chunk (worker processes) -> embed -> store.

Each document is written in one store transaction, so a crash leaves every document either fully old or
fully new. Derived indexes are brought up to date once at the end of the run.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import psycopg

from assistant.app import Assistant
from assistant.errors import EkaError
from assistant.passages import passage_text, text_hash
from assistant.pg.store import PgStore
from assistant.rerank import passage_heading
from assistant.store import StoredDocument
from assistant.types import PUBLIC_GROUP, Chunk, Document
from ingest.acl import read_access_list
from ingest.chunking import chunk_blocks
from ingest.discover import Candidate, SidecarError, discover, read_sidecar
from ingest.loaders import MIME_BY_SUFFIX, Block, supported
from ingest.worker import ParseJob, ParseResult, ParserPool

log = logging.getLogger(__name__)

Status = Literal["ingested", "unchanged", "metadata", "failed", "removed"]

# Bump when loaders or chunking change in a way that should re-chunk documents already ingested.
# 3: PDF tables as whole rows, one "| cell |" row form; 4: numbered lists are not headings;
# 5: the passage carries the innermost heading only, and each heading's vector is cached for the reranker
PIPELINE_VERSION = "5"


@dataclass
class FileOutcome:
    """What happened to one file."""

    source: str
    status: Status
    reason: str | None = None
    pages: int | None = None
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    public_by_default: bool = False  # no access list was given, so everyone may read it


@dataclass
class IngestReport:
    """The outcome of a run: one entry per file plus totals and timings."""

    files: list[FileOutcome] = field(default_factory=list)
    wall_s: float = 0.0
    parse_s: float = 0.0
    embed_s: float = 0.0
    index_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not any(f.status == "failed" for f in self.files)

    def counts(self) -> dict[str, int]:
        """Files per status, plus pages, chunks and newly embedded passages."""
        out = {s: 0 for s in ("ingested", "unchanged", "metadata", "failed", "removed")}
        for f in self.files:
            out[f.status] += 1
        out["pages"] = sum(f.pages or 0 for f in self.files if f.status == "ingested")
        out["chunks"] = sum(f.chunks for f in self.files if f.status == "ingested")
        out["embedded"] = sum(f.embedded for f in self.files)
        return out

    def public_by_default(self) -> list[str]:
        """Sources this run ingested or updated as ``public`` because no access list was given."""
        return sorted(
            f.source for f in self.files if f.public_by_default and f.status in ("ingested", "metadata")
        )

    def to_json(self) -> dict[str, Any]:
        """The report as written by ``--report``."""
        return {
            "ok": self.ok,
            "counts": self.counts(),
            "public_by_default": self.public_by_default(),
            "timings_s": {
                "wall": round(self.wall_s, 3),
                "parse": round(self.parse_s, 3),
                "embed": round(self.embed_s, 3),
                "index": round(self.index_s, 3),
            },
            "files": [asdict(f) for f in sorted(self.files, key=lambda f: f.source)],
        }


class Progress:
    """Receives progress events; the CLI shows them as a progress bar. The default ignores them."""

    def start(self, files: int) -> None:
        """The run found ``files`` files."""

    def advance(self, outcome: FileOutcome) -> None:
        """One file is finished."""

    def chunks_embedded(self, n: int) -> None:
        """``n`` more passages were embedded."""


@dataclass(frozen=True, slots=True)
class _Plan:
    candidate: Candidate
    sha256: str
    size: int
    title: str | None
    metadata: dict[str, Any]
    acl: frozenset[str]
    meta_hash: str
    owner: str | None = None
    public_by_default: bool = False
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Parsed:
    plan: _Plan
    result: ParseResult
    document: Document
    chunks: list[Chunk]
    passages: list[str]
    hashes: list[str]


@dataclass(frozen=True, slots=True)
class Record:
    """A document given as text rather than a file (a BEIR corpus entry, an API upload of plain text)."""

    source: str
    title: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    acl: tuple[str, ...] = ()


def _meta_hash(title: Any, metadata: dict[str, Any], acl: frozenset[str]) -> str:
    payload = {"title": title, "metadata": metadata, "acl": sorted(acl)}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _note(report: IngestReport, progress: Progress, outcome: FileOutcome) -> None:
    report.files.append(outcome)
    progress.advance(outcome)


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def doc_id_for(source: str) -> str:
    """A document's id: stable for its source path."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def chunk_id_for(doc_id: str, sha256: str, ordinal: int) -> str:
    """A chunk's id: stable for (document, version, position), so re-ingesting gives the same ids."""
    return hashlib.sha256(f"{doc_id}:{sha256}:{ordinal}".encode()).hexdigest()[:20]


def normalise_groups(groups: Any) -> frozenset[str]:
    """Access groups from a list or a comma-separated string, lower-cased; empty means public."""
    if groups is None:
        return frozenset({PUBLIC_GROUP})
    items = groups.split(",") if isinstance(groups, str) else list(groups)
    cleaned = frozenset(str(g).strip().lower() for g in items if str(g).strip())
    return cleaned or frozenset({PUBLIC_GROUP})


def _not_owner(existing: StoredDocument, owner: str | None) -> str:
    """Why a file may not replace the document already at its source."""
    if existing.document.owner is None:
        return "a document ingested from the command line already has this source; it is not replaced"
    if owner is None:
        return (
            f"an upload by {existing.document.owner!r} already has this source; it is not replaced "
            "(remove it with `eka docs remove` first)"
        )
    return "a document of another user already has this source; it is not replaced"


class Ingestor:
    """Runs ingests against one assistant's store and indexes.

    Example:
        >>> report = Ingestor(build_assistant(settings)).run([Path("samples")])  # doctest: +SKIP
        >>> report.counts()["failed"]  # doctest: +SKIP
        0
    """

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self.store = assistant.store
        settings = assistant.settings
        self.recipe = f"v{PIPELINE_VERSION}:{settings.chunk_tokens}:{settings.chunk_overlap_tokens}"
        self.known_groups = settings.known_group_set

    def run(
        self,
        paths: list[Path],
        acl: list[str] | None = None,
        meta: dict[str, str] | None = None,
        prune: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Ingest files and folders; never raises for a bad file (it is reported instead)."""
        progress = progress or Progress()
        report = IngestReport()
        with self._session(report):
            candidates: list[Candidate] = []
            roots: set[str] = set()
            for path in paths:
                try:
                    found = discover(path, skip=self.settings.home)
                except FileNotFoundError as err:
                    report.files.append(FileOutcome(str(path), "failed", str(err)))
                    continue
                if path.is_dir():
                    roots.add(str(path.resolve()))
                candidates.extend(found)
            progress.start(len(candidates))
            plans: list[_Plan] = []
            for candidate in candidates:
                outcome, plan = self._plan(candidate, acl, meta or {})
                if outcome is not None:
                    _note(report, progress, outcome)
                if plan is not None:
                    plans.append(plan)
            self._store_in_batches(self._parse(plans, report, progress), report, progress)
            if prune:
                seen = {c.source for c in candidates}
                for stored in self.store.documents():
                    if (
                        stored.root in roots
                        and stored.document.source not in seen
                        and stored.document.owner is None
                    ):
                        self.store.remove_document(stored.document.doc_id)
                        _note(
                            report,
                            progress,
                            FileOutcome(stored.document.source, "removed", "file no longer exists"),
                        )
        return report

    def run_file(
        self,
        path: Path,
        source: str,
        acl: list[str] | None = None,
        meta: dict[str, str] | None = None,
        owner: str | None = None,
    ) -> IngestReport:
        """Ingest one file under an explicit ``source`` name (uploads: ``uploads/<namespace>/<file name>``).

        ``owner`` is the uploader recorded on the document; a document at ``source`` with another owner (or
        none: ingested from the CLI) is never replaced, the file fails instead.
        """
        progress = Progress()
        report = IngestReport()
        with self._session(report):
            progress.start(1)
            outcome, plan = self._plan(Candidate(path, path.parent, source), acl, meta or {}, owner)
            if outcome is not None:
                _note(report, progress, outcome)
            if plan is not None:
                self._store_in_batches(self._parse([plan], report, progress), report, progress)
        return report

    def run_records(self, records: Iterable[Record], progress: Progress | None = None) -> IngestReport:
        """Ingest in-memory text records (e.g. a BEIR corpus) through the same chunking, embedding and store.

        A record's version is the sha256 of its title and text; unchanged records are skipped.
        """
        progress = progress or Progress()
        report = IngestReport()
        records = list(records)
        progress.start(len(records))
        with self._session(report):
            self._store_in_batches(self._record_drafts(records, report, progress), report, progress)
        return report

    def _record_drafts(
        self, records: list[Record], report: IngestReport, progress: Progress
    ) -> Iterator[_Parsed]:
        """Chunk the records that are new or changed (in-process: they are plain text)."""
        count = self.assistant.token_counter()
        for record in records:
            sha = hashlib.sha256(f"{record.title}\n{record.text}".encode()).hexdigest()
            acl = normalise_groups(record.acl)
            meta_hash = _meta_hash(record.title, record.metadata, acl)
            existing = self.store.document_by_source(record.source)
            if existing is not None and existing.document.owner is not None:
                _note(report, progress, FileOutcome(record.source, "failed", _not_owner(existing, None)))
                continue
            if (
                existing is not None
                and existing.document.sha256 == sha
                and existing.recipe == self.recipe
                and existing.meta_hash == meta_hash
            ):
                _note(report, progress, FileOutcome(record.source, "unchanged"))
                continue
            blocks = [Block(p.strip(), None, ()) for p in record.text.split("\n\n") if p.strip()]
            if not blocks:
                _note(report, progress, FileOutcome(record.source, "failed", "no text"))
                continue
            drafts = chunk_blocks(
                blocks, count, self.settings.chunk_tokens, self.settings.chunk_overlap_tokens
            )
            candidate = Candidate(Path(record.source), Path(), record.source)
            plan = _Plan(
                candidate,
                sha,
                len(record.text.encode()),
                record.title or None,
                dict(record.metadata),
                acl,
                meta_hash,
            )
            yield self._prepare(
                plan, ParseResult(candidate.path, "text/plain", record.title, None, tuple(drafts))
            )

    @contextmanager
    def _session(self, report: IngestReport) -> Iterator[None]:
        """Hold the ingest lock, bring the derived indexes up to date at the end, and time it all."""
        started = time.perf_counter()
        with self._lock():
            yield
            index_started = time.perf_counter()
            self.assistant.searcher.refresh()
            report.index_s = time.perf_counter() - index_started
        report.wall_s = time.perf_counter() - started

    @contextmanager
    def _lock(self) -> Iterator[None]:
        """One ingest at a time per store (searches are not blocked): a file lock under EKA_HOME, and on
        PostgreSQL the database's ingest lock too (hosts with other homes share the database)."""
        self.settings.home.mkdir(parents=True, exist_ok=True)
        with (self.settings.home / "ingest.lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                if isinstance(self.store, PgStore):
                    with self.store.ingest_lock():
                        yield
                else:
                    yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _plan(
        self, candidate: Candidate, acl: list[str] | None, meta: dict[str, str], owner: str | None = None
    ) -> tuple[FileOutcome | None, _Plan | None]:
        """Decide what to do with a file without parsing it: fail, skip, update metadata, or (re)ingest."""
        source = candidate.source
        try:
            size = candidate.path.stat().st_size
        except OSError as err:
            return FileOutcome(source, "failed", f"unreadable ({err.strerror})"), None
        if not supported(candidate.path):
            kinds = ", ".join(sorted({s.lstrip(".") for s in MIME_BY_SUFFIX}))
            return FileOutcome(
                source,
                "failed",
                f"unsupported file type {candidate.path.suffix or '(no extension)'} (supported: {kinds})",
            ), None
        if size == 0:
            return FileOutcome(source, "failed", "empty file"), None
        limit = self.settings.max_file_mb * 1024 * 1024
        if size > limit:
            return FileOutcome(
                source,
                "failed",
                f"file is {size / 1048576:.1f} MB, over the {self.settings.max_file_mb:g} MB limit",
            ), None
        try:
            sidecar = read_sidecar(candidate.path)
        except SidecarError as err:
            return FileOutcome(source, "failed", str(err)), None
        metadata = {**sidecar, **meta}
        title = metadata.pop("title", None)
        access = read_access_list(metadata, acl, self.known_groups)
        if access.problems and self.settings.acl_mistakes == "error":
            return FileOutcome(source, "failed", "access list: " + "; ".join(access.problems)), None
        groups = access.groups
        meta_hash = _meta_hash(title, metadata, groups)
        existing = self.store.document_by_source(source)
        if existing is not None and existing.document.owner != owner:  # never replace what is not ours
            return FileOutcome(source, "failed", _not_owner(existing, owner)), None
        try:
            sha = file_sha256(candidate.path)
        except OSError as err:
            return FileOutcome(source, "failed", f"unreadable ({err.strerror})"), None
        plan = _Plan(
            candidate,
            sha,
            size,
            str(title) if title else None,
            metadata,
            groups,
            meta_hash,
            owner,
            access.by_default,
            access.problems,
        )
        if existing is not None and existing.document.sha256 == sha and existing.recipe == self.recipe:
            if existing.meta_hash == meta_hash:
                return FileOutcome(
                    source, "unchanged", pages=existing.document.pages, warnings=list(access.problems)
                ), None
            if plan.title is None or plan.title == existing.document.title:
                # Only metadata or access changed: no parsing, no embedding (titles are part of passages).
                self.store.update_metadata(
                    existing.document.doc_id, existing.document.title, metadata, groups, meta_hash
                )
                return FileOutcome(
                    source,
                    "metadata",
                    "metadata or access list updated",
                    pages=existing.document.pages,
                    warnings=list(access.problems),
                    public_by_default=access.by_default,
                ), None
        return None, plan

    def _parse(self, plans: list[_Plan], report: IngestReport, progress: Progress) -> Iterator[_Parsed]:
        """Parse and chunk files in worker processes; failures are reported, the rest yielded in order."""
        settings = self.settings
        tokenizer = self.assistant.spec.tokenizer_file()
        jobs = [
            ParseJob(
                p.candidate.path,
                tokenizer,
                settings.chunk_tokens,
                settings.chunk_overlap_tokens,
                settings.parse_timeout_s,
                int(settings.max_unzipped_mb * 1024 * 1024),
            )
            for p in plans
        ]
        with ParserPool(settings.parse_workers, memory_mb=settings.parse_memory_mb) as pool:
            for plan, result in zip(plans, pool.run(jobs), strict=True):
                report.parse_s += result.seconds
                if result.error is not None:
                    _note(
                        report,
                        progress,
                        FileOutcome(plan.candidate.source, "failed", result.error, seconds=result.seconds),
                    )
                else:
                    yield self._prepare(plan, result)

    def _store_in_batches(self, parsed: Iterable[_Parsed], report: IngestReport, progress: Progress) -> None:
        """Embedding several small files together pads less and keeps the model busy."""
        pending: list[_Parsed] = []
        for item in parsed:
            pending.append(item)
            if sum(len(p.chunks) for p in pending) >= self.settings.ingest_batch_chunks:
                self._flush(pending, report, progress)
                pending = []
        self._flush(pending, report, progress)

    def _prepare(self, plan: _Plan, result: ParseResult) -> _Parsed:
        doc_id = doc_id_for(plan.candidate.source)
        title = plan.title or result.title or plan.candidate.path.stem
        document = Document(
            doc_id,
            plan.candidate.source,
            plan.sha256,
            title,
            result.mime,
            plan.metadata,
            plan.acl,
            datetime.now(UTC).isoformat(timespec="seconds"),
            result.pages,
            plan.owner,
        )
        chunks = [
            Chunk(chunk_id_for(doc_id, plan.sha256, d.ordinal), doc_id, d.ordinal, d.text, d.page, d.section)
            for d in result.drafts
        ]
        passages = [passage_text(title, c.section, c.text) for c in chunks]
        return _Parsed(plan, result, document, chunks, passages, [text_hash(p) for p in passages])

    def _flush(self, batch: list[_Parsed], report: IngestReport, progress: Progress) -> None:
        if not batch:
            return
        embedder = self.assistant.embedder
        vectors: dict[str, np.ndarray] = {}
        failed: str | None = None
        try:
            # Each distinct section heading gets a vector too, for the heading reranker (assistant/rerank.py):
            # a short input per section, cached like a passage, so a search never encodes one.
            headings = {text_hash(t): t for p in batch for t in map(passage_heading, p.passages) if t}
            hashes = [h for p in batch for h in p.hashes]
            cached = self.store.cached_vectors(embedder.model_id, [*hashes, *headings])
            todo = {h: t for p in batch for h, t in zip(p.hashes, p.passages, strict=True) if h not in cached}
            heading_todo = {h: t for h, t in headings.items() if h not in cached and h not in todo}
            started = time.perf_counter()
            embedded = embedder.embed_passages(list(todo.values()), progress=progress.chunks_embedded)
            if heading_todo:
                heading_vectors = embedder.embed_passages(list(heading_todo.values()))
                self.store.put_vectors(
                    embedder.model_id, dict(zip(heading_todo, heading_vectors, strict=True))
                )
            report.embed_s += time.perf_counter() - started
            vectors = dict(zip(todo, embedded, strict=True))
        except (EkaError, ValueError, RuntimeError, MemoryError) as err:
            log.exception("embedding failed")
            failed = f"could not embed ({type(err).__name__}: {err})"
        claimed: set[str] = set()
        for parsed in batch:
            source = parsed.plan.candidate.source
            if failed is not None:
                outcome = FileOutcome(source, "failed", failed)
            else:
                fresh = {h: vectors[h] for h in parsed.hashes if h in vectors and h not in claimed}
                try:
                    stored = StoredDocument(
                        parsed.document,
                        str(parsed.plan.candidate.root.resolve()),
                        parsed.plan.meta_hash,
                        parsed.plan.size,
                        self.recipe,
                    )
                    self.store.replace_document(
                        stored, parsed.chunks, parsed.hashes, embedder.model_id, fresh
                    )
                    claimed.update(fresh)
                    outcome = FileOutcome(
                        source,
                        "ingested",
                        pages=parsed.result.pages,
                        chunks=len(parsed.chunks),
                        embedded=len(fresh),
                        seconds=parsed.result.seconds,
                        warnings=list(parsed.plan.warnings),
                        public_by_default=parsed.plan.public_by_default,
                    )
                except (EkaError, sqlite3.Error, psycopg.Error, OSError, ValueError) as err:
                    log.exception("could not store %s", source)
                    outcome = FileOutcome(source, "failed", f"could not store ({type(err).__name__}: {err})")
            _note(report, progress, outcome)

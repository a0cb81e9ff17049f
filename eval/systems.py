"""The systems under evaluation: eka itself (any configuration) and the naive LangChain pipeline."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from assistant.app import Assistant, build_assistant
from assistant.config import Settings
from assistant.embedding import SentenceTransformerEmbedder
from assistant.types import Principal, SearchMode
from eval.configs import INDEX_SETTINGS, EvalConfig
from eval.datasets import CorpusDoc
from eval.pg import eval_database
from eval.qa import EvalHit
from ingest.loaders import supported
from ingest.pipeline import Ingestor, IngestReport, Record


class System(Protocol):
    """Anything that can be searched by the harness."""

    build_s: float
    cached: bool

    @property
    def model_ids(self) -> list[str]:
        """The models behind the ranking."""
        ...

    def search(self, query: str, k: int) -> list[EvalHit]:
        """The top ``k`` passages for ``query``."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class IncompleteCorpus(ValueError):
    """Files of an evaluation corpus failed to ingest: scores over the rest would not be comparable with any
    other run (and a gate could pass on them), so the evaluation stops instead."""

    def __init__(self, dataset: str, failures: list[str]) -> None:
        super().__init__(
            f"{dataset}: {len(failures)} corpus file(s) failed to ingest, so its scores would not be "
            f"comparable: {'; '.join(failures)}. Run again (only the failed files are retried) or raise "
            "EKA_PARSE_TIMEOUT_S on a busy machine."
        )
        self.failures = failures


def index_key(settings: Settings, corpus_sha: str) -> str:
    """Identifies an index build: the corpus and every setting that changes what is stored.

    The ingest pipeline's own version is not part of the key: a store built by an older pipeline is brought up
    to date by the (incremental) ingest, reusing its cached embeddings.
    """
    parts = [corpus_sha, *(f"{k}={getattr(settings, k)}" for k in INDEX_SETTINGS)]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


@dataclass
class EkaSystem:
    """eka's retriever over a (cached) store built from the corpus with the normal ingest pipeline."""

    assistant: Assistant
    mode: SearchMode
    principal: Principal
    build_s: float
    cached: bool

    @property
    def model_ids(self) -> list[str]:
        return [self.assistant.spec.model_id, *self.assistant.retriever.model_ids()]

    def search(self, query: str, k: int) -> list[EvalHit]:
        hits = self.assistant.retriever.search(query, self.principal, k=k, mode=self.mode)
        return [EvalHit.of(h) for h in hits]

    def close(self) -> None:
        self.assistant.close()


def build_eka(
    config: EvalConfig,
    base: Settings,
    cache_dir: Path,
    dataset: str,
    corpus_sha: str,
    load: Callable[[Ingestor], IngestReport],
    embedder: SentenceTransformerEmbedder | None,
    groups: Iterable[str] | None,
    no_cache: bool,
) -> EkaSystem:
    """Build (or reuse) the store for ``config`` and wrap it as a system."""
    settings = config.settings(base)
    key = index_key(settings, corpus_sha)
    home = cache_dir / dataset / (key if config.backend == "embedded" else f"{key}-{config.backend}")
    marker = home / "build.json"
    if no_cache and home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    update: dict[str, object] = {"home": home, "database_url": None}
    if config.backend == "postgres":
        update["database_url"] = eval_database(cache_dir, f"{dataset}-{key}", fresh=no_cache)
    settings = settings.model_copy(update=update)
    assistant = build_assistant(settings, embedder=embedder)
    started = time.perf_counter()
    report = load(Ingestor(assistant))  # incremental: a cached, current build is only checked
    elapsed = time.perf_counter() - started
    # A corpus's manifest is not a document eka reads; any other failure leaves the corpus short.
    failed = [f for f in report.files if f.status == "failed" and supported(Path(f.source))]
    if failed:
        assistant.close()
        raise IncompleteCorpus(dataset, [f"{f.source}: {f.reason}" for f in failed])
    cached = marker.exists() and report.counts()["ingested"] == 0 and report.counts()["metadata"] == 0
    if cached:
        build_s = float(json.loads(marker.read_text())["index_build_s"])
    else:
        build_s = elapsed
        marker.write_text(json.dumps({"index_build_s": build_s}))
    everyone = {g for s in assistant.store.documents() for g in s.document.acl}
    principal = Principal.of("eval", sorted(groups) if groups else sorted(everyone))
    return EkaSystem(assistant, config.mode, principal, build_s, cached)


def beir_records(corpus: list[CorpusDoc]) -> list[Record]:
    """BEIR corpus entries as ingest records (the source is the corpus id)."""
    return [Record(d.doc_id, d.title, d.text) for d in corpus]


class LangChainNaive:
    """The pipeline a user would build from LangChain's docs: its loaders, RecursiveCharacterTextSplitter
    (chunk_size=1000, chunk_overlap=200, as in the RAG tutorial), HuggingFaceEmbeddings with the same model,
    LangChain's FAISS vector store and plain similarity search."""

    def __init__(self, documents: list[object], model_path: str, model_id: str) -> None:
        from langchain_community.vectorstores import FAISS
        from langchain_huggingface import HuggingFaceEmbeddings
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        started = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
        chunks = splitter.split_documents(documents)  # type: ignore[arg-type]
        embeddings = HuggingFaceEmbeddings(
            model_name=model_path,
            model_kwargs={"device": "cpu"},
            encode_kwargs={"normalize_embeddings": True},
        )
        self.store = FAISS.from_documents(chunks, embeddings)
        self.build_s = time.perf_counter() - started
        self.cached = False
        self._model_ids = [model_id]

    @property
    def model_ids(self) -> list[str]:
        return self._model_ids

    @classmethod
    def from_folder(cls, root: Path, model_path: str, model_id: str) -> LangChainNaive:
        """Load a folder with LangChain's document loaders (PDF pages, DOCX, HTML, Markdown/text)."""
        from langchain_community.document_loaders import BSHTMLLoader, Docx2txtLoader, PyPDFLoader, TextLoader

        documents: list[object] = []
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            suffix = path.suffix.lower()
            if suffix == ".pdf":
                loader: object = PyPDFLoader(str(path))
            elif suffix == ".docx":
                loader = Docx2txtLoader(str(path))
            elif suffix in (".html", ".htm"):
                loader = BSHTMLLoader(str(path), open_encoding="utf-8")
            elif suffix in (".md", ".txt"):
                loader = TextLoader(str(path), encoding="utf-8")
            else:
                continue
            for doc in loader.load():  # type: ignore[attr-defined]
                doc.metadata["eka_source"] = path.relative_to(root).as_posix()
                documents.append(doc)
        return cls(documents, model_path, model_id)

    @classmethod
    def from_corpus(cls, corpus: list[CorpusDoc], model_path: str, model_id: str) -> LangChainNaive:
        """Load BEIR corpus entries as LangChain documents (title and text)."""
        from langchain_core.documents import Document

        documents: list[object] = [
            Document(page_content=f"{d.title}\n{d.text}".strip(), metadata={"eka_source": d.doc_id})
            for d in corpus
        ]
        return cls(documents, model_path, model_id)

    def search(self, query: str, k: int) -> list[EvalHit]:
        results = self.store.similarity_search_with_score(query, k=k)
        hits = []
        for doc, distance in results:
            page = doc.metadata.get("page")
            hits.append(
                EvalHit(
                    doc.metadata["eka_source"],
                    int(page) + 1 if page is not None else None,
                    None,
                    doc.page_content,
                    -float(distance),
                )
            )
        return hits

    def close(self) -> None:
        return None
